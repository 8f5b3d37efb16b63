"""The detector's fast loop (verdicts of the named policies only, in-scope posts counted per set
of policies, covers cached per room and sender) against a plain reference: every policy, every
message, one by one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.events import Room
from supervision.detect import Candidate, Detector, ledger_key, ledger_rows
from supervision.lexicon import Message
from supervision.model import LexiconTerm, Policy, PolicySpec, Scope
from supervision.sampling import drawn
from supervision.scope import Participants, ScopedMessage, in_scope
from tests.supervision.detect.fake_lexicon import fake_compiler

WORDS = ["alpha", "beta", "gamma", "delta", "omega"]
PEOPLE = ["user:a", "user:b", "user:c"]
ROOMS = ["room:1", "room:2", "im:1"]
T0 = datetime(2026, 11, 2, tzinfo=UTC)


@st.composite
def policies(draw: st.DrawFn) -> list[Policy]:
    found = []
    for n in range(draw(st.integers(1, 5))):
        start = draw(st.none() | st.integers(0, 3).map(lambda d: T0 + timedelta(days=d)))
        spec = PolicySpec(
            name=f"p{n}",
            lexicon=tuple(
                LexiconTerm(id=f"t{i}", expression=word)
                for i, word in enumerate(draw(st.lists(st.sampled_from(WORDS), max_size=2, unique=True)))
            ),
            exclusions=tuple(draw(st.lists(st.sampled_from(WORDS), max_size=1))),
            scope=Scope(
                people=tuple(draw(st.lists(st.sampled_from(PEOPLE), max_size=2, unique=True))),
                rooms=tuple(draw(st.lists(st.sampled_from(ROOMS), max_size=1))),
                directions=tuple(draw(st.sets(st.sampled_from(["internal", "external", "im"]), min_size=1))),
            ),
            sampling_percent=draw(st.sampled_from([0.0, 30.0, 100.0])),
            sampling_seed="s",
            effective_from=start,
        )
        found.append(Policy(id=f"policy-{n}", version=n + 1, spec=spec, changed_by="x", changed_at=T0))
    return found


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    found = []
    for n in range(draw(st.integers(0, 30))):
        room = draw(st.sampled_from(ROOMS))
        kind = "im" if room.startswith("im:") else "room"
        sender = draw(st.sampled_from(PEOPLE))
        at = T0 + timedelta(hours=draw(st.integers(0, 24 * 5)))
        text = " ".join(draw(st.lists(st.sampled_from([*WORDS, "x", "y"]), max_size=4)))
        found.append(
            Candidate(
                event_id=str(uuid.UUID(int=n + 1)),
                event_type=draw(st.sampled_from(["post", "post", "edit"])),
                message_id=f"m{n}",
                room=Room(id=room, kind=kind),
                scoped=ScopedMessage(room, kind, sender, at, sender_internal=sender != "user:c"),
                text=Message(text=text),
                counted=False,
            )
        )
    return [
        Candidate(c.event_id, c.event_type, c.message_id, c.room, c.scoped, c.text, c.event_type == "post")
        for c in found
    ]


@settings(max_examples=80, deadline=None)
@given(policies(), candidates())
def test_the_detector_agrees_with_the_plain_reference(chosen: list[Policy], batch: list[Candidate]) -> None:
    detector = Detector.compile(chosen, None, fake_compiler)
    directions = Participants({}, lambda actor: False).directions
    evaluation = detector.evaluate(batch, directions)
    got = sorted((d.policy.id, d.candidate.event_id, d.reason, d.matches) for d in evaluation.decisions)
    got_ledger = ledger_rows(evaluation, evaluation.decisions)

    lexicon = fake_compiler({p.id: p.spec for p in chosen})
    expected = []
    expected_ledger: dict[tuple[str, int, object], list[int]] = {}
    for candidate in batch:
        verdicts = lexicon.verdicts(candidate.text)
        for compiled in detector.policies:
            policy = compiled.policy
            if not in_scope(compiled.scope, candidate.scoped, directions):
                continue
            verdict = verdicts.get(policy.id)
            if verdict is not None and verdict.excluded:
                continue
            row = expected_ledger.setdefault(ledger_key(policy, candidate.scoped.sent_at), [0, 0, 0])
            row[0] += candidate.counted
            if verdict is not None and verdict.matches:
                expected.append((policy.id, candidate.event_id, "lexicon", tuple(verdict.matches)))
                row[1] += candidate.counted
            elif candidate.counted and drawn("s", policy.id, candidate.event_id, policy.spec.sampling_percent):
                expected.append((policy.id, candidate.event_id, "sample", ()))
                row[2] += 1
    assert got == sorted(expected)
    assert got_ledger == {key: tuple(row) for key, row in expected_ledger.items() if any(row)}
