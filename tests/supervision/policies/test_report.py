"""The report: per policy and term, items, hits, dispositions, false-positive rate, open items
and those older than their policy version's SLA; reviewers' actions; the sampling ledger; the
CSV with the same numbers. Items made by hand so every count is known; SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, update

from archive.principals import Principal
from ingest.staging import StagingStore
from supervision import policy_service, queue
from supervision.items import NewItem, add_items, item_id_for
from supervision.model import LexiconTerm, PolicySpec, TermMatch
from supervision.report import report_csv, supervision_report
from supervision.schema import supervision_item_actions, supervision_items, supervision_scope_days

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 10, 12, 0, tzinfo=UTC)
OFFICER = Principal(token_id="t1", label="Olga", role="compliance_officer")


def _match(term_id: str, start: int = 0) -> TermMatch:
    return TermMatch(term_id=term_id, start=start, end=start + 3, matched="abc")


def _item(policy_id: str, version: int, event: str, matches: tuple[TermMatch, ...], reason: str = "lexicon") -> NewItem:
    return NewItem(
        policy_id=policy_id,
        policy_version=version,
        event_id=event,
        message_id=f"msg:{event}",
        room_id="room:a",
        sender="alice",
        sent_at=T0,
        reason=reason,  # type: ignore[arg-type]
        matches=matches,
    )


def _close(engine: Engine, policy_id: str, event: str, disposition: str, actor: str) -> None:
    item_id = item_id_for(policy_id, event)
    with engine.begin() as connection:
        connection.execute(
            update(supervision_items)
            .where(supervision_items.c.id == item_id)
            .values(state="closed", disposition=disposition, closed_at=NOW - timedelta(hours=1))
        )
        connection.execute(
            insert(supervision_item_actions).values(
                item_id=item_id,
                action="close",
                actor=actor,
                role="supervisor",
                at=NOW - timedelta(hours=1),
                before={"state": "pending"},
                after={"state": "closed", "disposition": disposition},
                comment=None,
            )
        )


def _corpus(engine: Engine) -> tuple[str, str]:
    guarantees = policy_service.create(
        engine,
        OFFICER,
        PolicySpec(
            name="Guarantees",
            lexicon=(
                LexiconTerm(id="g1", expression="guarantee*", label="guarantee"),
                LexiconTerm(id="g2", expression="sure"),
            ),
            sla_hours=24,
            sampling_percent=1.0,
        ),
        now=T0,
    )
    gifts = policy_service.create(
        engine, OFFICER, PolicySpec(name="gifts", lexicon=(LexiconTerm(id="x1", expression="tickets"),)), now=T0
    )
    with engine.begin() as connection:
        # Version 1 (SLA 24 h): e1 g1 twice + g2, e2 g1, e3 g2, e4 sampled; made on day one.
        add_items(
            connection,
            [
                _item(guarantees.id, 1, "e1", (_match("g1"), _match("g1", 10), _match("g2", 20))),
                _item(guarantees.id, 1, "e2", (_match("g1"),)),
                _item(guarantees.id, 1, "e3", (_match("g2"),)),
                _item(guarantees.id, 1, "e4", (), reason="sample"),
            ],
            T0,
        )
        add_items(connection, [_item(gifts.id, 1, "e9", (_match("x1"),))], T0 + timedelta(days=1))
        # Outside the period: not counted.
        add_items(connection, [_item(guarantees.id, 1, "e0", (_match("g1"),))], T0 - timedelta(days=5))
    # Version 2 keeps a longer SLA: its open items made 3 days before now are not overdue.
    policy_service.change(
        engine,
        OFFICER,
        guarantees.id,
        PolicySpec(
            name="Guarantees",
            lexicon=(LexiconTerm(id="g1", expression="guarantee* OR promise*"),),
            sla_hours=24 * 5,
            sampling_percent=1.0,
        ),
        1,
        now=T0,
    )
    with engine.begin() as connection:
        add_items(connection, [_item(guarantees.id, 2, "e5", (_match("g1"),))], NOW - timedelta(days=3))
        add_items(connection, [_item(guarantees.id, 2, "e6", (_match("g1"),))], NOW - timedelta(hours=1))
        connection.execute(
            insert(supervision_scope_days),
            [
                {
                    "policy_id": guarantees.id,
                    "policy_version": 1,
                    "day": date(2026, 11, 2),
                    "in_scope": 400,
                    "matched": 3,
                    "sampled": 4,
                },
                {
                    "policy_id": guarantees.id,
                    "policy_version": 2,
                    "day": date(2026, 11, 7),
                    "in_scope": 101,
                    "matched": 1,
                    "sampled": 1,
                },
                {
                    "policy_id": guarantees.id,
                    "policy_version": 1,
                    "day": date(2026, 10, 20),
                    "in_scope": 999,
                    "matched": 9,
                    "sampled": 9,
                },
                {
                    "policy_id": gifts.id,
                    "policy_version": 1,
                    "day": date(2026, 11, 3),
                    "in_scope": 50,
                    "matched": 1,
                    "sampled": 0,
                },
            ],
        )
    _close(engine, guarantees.id, "e1", "breach", "Sam (t5)")
    _close(engine, guarantees.id, "e2", "false_positive", "Sam (t5)")
    _close(engine, guarantees.id, "e3", "false_positive", "Rita (t6)")
    _close(engine, gifts.id, "e9", "no_issue", "Rita (t6)")
    return guarantees.id, gifts.id


def test_per_policy_and_term_counts_rates_and_overdue_items(store: StagingStore) -> None:
    _corpus(store.engine)
    with store.engine.connect() as connection:
        report = supervision_report(connection, T0 - timedelta(hours=1), NOW, NOW)
    by_policy = {row.name: row for row in report.policies}
    assert list(by_policy) == ["gifts", "Guarantees"]
    g = by_policy["Guarantees"]
    assert (g.items, g.lexicon_items, g.sampled_items, g.hits) == (6, 5, 1, 7)
    assert g.dispositions == {"no_issue": 0, "false_positive": 2, "breach": 1, "reported": 0}
    assert (g.closed, g.open, g.sla_hours) == (3, 3, 120)
    assert g.false_positive_rate == 2 / 3
    # Open: e4 (v1, 8 days old, SLA 24 h: overdue), e5 (v2, 3 days, SLA 5 days), e6 (v2, 1 hour).
    assert g.overdue == 1
    assert (by_policy["gifts"].items, by_policy["gifts"].false_positive_rate, by_policy["gifts"].overdue) == (1, 0.0, 0)

    by_term = {(row.policy_name, row.term_id): row for row in report.terms}
    assert list(by_term) == [("gifts", "x1"), ("Guarantees", "g1"), ("Guarantees", "g2")]
    g1, g2 = by_term[("Guarantees", "g1")], by_term[("Guarantees", "g2")]
    assert (g1.items, g1.hits, g1.closed, g1.open, g1.overdue) == (4, 5, 2, 2, 0)
    assert g1.false_positive_rate == 0.5
    assert g1.expression == "guarantee* OR promise*"
    assert (g2.items, g2.hits, g2.closed, g2.open) == (2, 2, 2, 0)
    assert g2.false_positive_rate == 0.5
    assert g2.expression is None, "g2 is not in the current version's lexicon"

    assert [(r.actor, r.actions, r.closed, r.total) for r in report.reviewers] == [
        ("Rita (t6)", {"close": 2}, {"false_positive": 1, "no_issue": 1}, 2),
        ("Sam (t5)", {"close": 2}, {"breach": 1, "false_positive": 1}, 2),
    ]
    ledger = {line.name: line for line in report.ledger}
    assert (ledger["Guarantees"].in_scope, ledger["Guarantees"].matched, ledger["Guarantees"].sampled) == (501, 4, 5)
    assert ledger["Guarantees"].drawn_percent == 100 * 5 / 497
    assert ledger["Guarantees"].sampling_percent == 1.0
    assert (ledger["gifts"].in_scope, ledger["gifts"].sampled) == (50, 0)


def test_one_policy_and_an_empty_period(store: StagingStore) -> None:
    guarantees, gifts = _corpus(store.engine)
    with store.engine.connect() as connection:
        only = supervision_report(connection, T0 - timedelta(hours=1), NOW, NOW, gifts)
        empty = supervision_report(connection, NOW + timedelta(days=1), NOW + timedelta(days=2), NOW, guarantees)
    assert [row.name for row in only.policies] == ["gifts"]
    assert [row.term_id for row in only.terms] == ["x1"]
    assert [(r.actor, r.actions) for r in only.reviewers] == [("Rita (t6)", {"close": 1})]
    assert [line.name for line in only.ledger] == ["gifts"]
    assert [(row.name, row.items, row.false_positive_rate) for row in empty.policies] == [("Guarantees", 0, None)]
    assert (empty.terms, empty.reviewers, empty.ledger) == ([], [], [])


def test_the_csv_has_every_row_with_exact_numbers(store: StagingStore) -> None:
    _corpus(store.engine)
    with store.engine.connect() as connection:
        report = supervision_report(connection, T0 - timedelta(hours=1), NOW, NOW)
    rows = list(csv.reader(io.StringIO(report_csv(report))))
    policy_head = rows[1]
    guarantees = dict(zip(policy_head, next(r for r in rows if r[0] == "policy" and r[2] == "Guarantees"), strict=True))
    assert [guarantees[k] for k in ("items", "hits", "overdue", "false_positive", "false_positive_rate")] == [
        "6",
        "7",
        "1",
        "2",
        "0.666667",
    ]
    terms = [r for r in rows if r[0] == "term"]
    assert [(r[2], r[3]) for r in terms] == [("gifts", "x1"), ("Guarantees", "g1"), ("Guarantees", "g2")]
    assert sorted((r[1], r[2], r[3]) for r in rows if r[0] == "reviewer") == [
        ("Rita (t6)", "close", "2"),
        ("Rita (t6)", "close as false_positive", "1"),
        ("Rita (t6)", "close as no_issue", "1"),
        ("Sam (t5)", "close", "2"),
        ("Sam (t5)", "close as breach", "1"),
        ("Sam (t5)", "close as false_positive", "1"),
    ]
    ledger = [r for r in rows if r[0] == "ledger"]
    assert sorted((r[2], r[3], r[4], r[5]) for r in ledger) == [
        ("Guarantees", "501", "4", "5"),
        ("gifts", "50", "1", "0"),
    ]


def test_the_report_reads_what_the_review_queue_did(store: StagingStore) -> None:
    """The queue's own changes (close, bulk close, escalate, reopen) are what the report counts."""
    policy = policy_service.create(
        store.engine, OFFICER, PolicySpec(name="Queue", lexicon=(LexiconTerm(id="q1", expression="w"),)), now=T0
    )
    with store.engine.begin() as connection:
        made = add_items(connection, [_item(policy.id, 1, f"q{n}", (_match("q1"),)) for n in range(5)], T0)
    sam = Principal(token_id="t5", label="Sam", role="supervisor")
    rita = Principal(token_id="t6", label="Rita", role="compliance_officer")
    moment = T0 + timedelta(hours=1)
    queue.close(store.engine, sam, made[0], "breach", "guaranteed 20%", now=moment)
    queue.bulk_close_false_positives(store.engine, sam, made[1:3], now=moment)
    queue.escalate(store.engine, rita, made[3], "needs a second look", now=moment)
    queue.reopen(store.engine, rita, made[2], "not a false positive", now=moment)
    with store.engine.connect() as connection:
        report = supervision_report(connection, T0, NOW, NOW)
    (row,) = report.policies
    assert row.dispositions == {"no_issue": 0, "false_positive": 1, "breach": 1, "reported": 0}
    assert (row.items, row.closed, row.open, row.false_positive_rate) == (5, 2, 3, 0.5)
    assert row.overdue == 3, "open for more than the default 72 hours at NOW"
    assert {(r.actor.split(" (")[0], tuple(r.actions.items()), tuple(r.closed.items())) for r in report.reviewers} == {
        ("Sam", (("close", 3),), (("breach", 1), ("false_positive", 2))),
        ("Rita", (("escalate", 1), ("reopen", 1)), ()),
    }
