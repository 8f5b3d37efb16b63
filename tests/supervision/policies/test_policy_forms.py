"""The editor's form: a policy written into it reads back exactly (the lexicon's one line per
term included), what a line cannot hold is named, and each problem lands next to its field."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from search_api.web.policy_forms import FormProblems
from search_api.web.supervision_policy_forms import PolicyForm, lexicon_text, parse_lexicon, unfaithful_terms
from supervision.model import LexiconTerm, PolicySpec, Scope

FULL = PolicySpec(
    name="Guarantees (EN/DE)",
    description="Promises of returns.\nSecond line.",
    scope=Scope(
        people=("alice", "bob"), groups=("traders",), rooms=("!desk:example.org",), directions=("external", "im")
    ),
    lexicon=(
        LexiconTerm(
            id="g1", expression='"guaranteed return" OR guarantee* NEAR/3 profit', label="guarantee", language="en"
        ),
        LexiconTerm(id="g2", kind="regex", expression=r"\b(100|hundred) ?(%|percent) (safe|sicher)\b|risk-?free"),
        LexiconTerm(id="de1", expression="garantiert", language="de"),
    ),
    exclusions=('"This message is confidential"', "from:newsletter@example.com"),
    languages=("en", "de"),
    sampling_percent=2.5,
    sampling_seed="2026-Q4",
    effective_from=datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
    effective_until=datetime(2027, 1, 1, tzinfo=UTC),
    reviewers=("Sam Supervisor", "rita, the reviewer"),
    escalation_reviewers=("Head of Compliance",),
    sla_hours=36,
    enabled=False,
)


def _posted(form: PolicyForm) -> PolicyForm:
    """``form`` as the browser would post it (urlencoded, textareas with CRLF)."""
    fields: list[tuple[str, str]] = [
        (name, str(getattr(form, name)).replace("\n", "\r\n"))
        for name in (
            "name",
            "description",
            "people",
            "groups",
            "rooms",
            "lexicon",
            "exclusions",
            "languages",
            "sampling_percent",
            "sampling_seed",
            "effective_from",
            "effective_until",
            "reviewers",
            "escalation_reviewers",
            "sla_hours",
        )
    ]
    fields += [("directions", d) for d in form.directions]
    fields.append(("state", "enabled" if form.enabled else "disabled"))
    return PolicyForm.of_fields(parse_qs(urlencode(fields), keep_blank_values=True))


def test_a_policy_reads_back_exactly_from_its_form() -> None:
    assert unfaithful_terms(FULL.lexicon) == []
    assert _posted(PolicyForm.of_spec(FULL, 3)).spec() == FULL
    assert _posted(PolicyForm.of_spec(PolicySpec(name="Bare"))).spec() == PolicySpec(name="Bare")


ids = st.from_regex(r"[A-Za-z0-9_.:-]{1,12}", fullmatch=True)
texts = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@given(
    st.lists(
        st.builds(
            LexiconTerm,
            id=ids,
            kind=st.sampled_from(["query", "regex"]),
            expression=texts,
            label=st.none() | texts,
            language=st.none() | st.sampled_from(["en", "de", "fra"]),
        ),
        max_size=6,
        unique_by=lambda term: term.id,
    )
)
def test_any_lexicon_reads_back_or_is_named_as_unfaithful(terms: list[LexiconTerm]) -> None:
    lexicon = tuple(terms)
    parsed = parse_lexicon(lexicon_text(lexicon))
    try:
        read = tuple(LexiconTerm.model_validate(values) for values in parsed.terms) if not parsed.problems else None
    except ValidationError:
        read = None
    unfaithful = unfaithful_terms(lexicon)
    if not unfaithful:
        assert read == lexicon
    else:
        assert read != lexicon


def test_problems_are_placed_next_to_their_fields() -> None:
    form = PolicyForm(
        name="",
        lexicon="g1 | query | | | guarantee*\n\nbad line without parts\ng1 | query | | | again",
        sampling_percent="lots",
        sla_hours="1.5",
        directions=[],
        effective_from="tomorrow",
    )
    with pytest.raises(FormProblems) as refused:
        form.spec()
    assert refused.value.problems == {
        "lexicon": "Line 3 has 1 part(s); write it as id | kind | language | label | expression.",
        "name": "Give the policy a name.",
        "directions": "Tick at least one direction.",
        "sampling_percent": "Write the sampling rate as a number of per cent, such as 2.5.",
        "sla_hours": "Write the SLA as a whole number of hours.",
        "effective_from": "“From” is not a date and time: write it as YYYY-MM-DD HH:MM (UTC).",
    }
    with pytest.raises(FormProblems) as repeated:
        PolicyForm(name="x", lexicon="g1 | query | | | a\ng1 | query | | | b").spec()
    assert repeated.value.problems == {"lexicon": "Lexicon term ids must be unique; repeated: g1."}
    with pytest.raises(FormProblems) as bad_term:
        PolicyForm(name="x", lexicon="g1 | query | | | a\n\ng2 | glob | English | | b", sla_hours="0").spec()
    problems = bad_term.value.problems
    assert problems["lexicon"].startswith("Line 3, term g2 (kind): Input should be 'query' or 'regex'.")
    assert "Line 3, term g2 (language)" in problems["lexicon"]
    assert problems["sla_hours"] == "Input should be greater than or equal to 1."
    with pytest.raises(FormProblems) as order:
        PolicyForm(name="x", effective_from="2026-02-01 00:00", effective_until="2026-01-01").spec()
    assert order.value.problems == {"effective_until": "“Until” must be later than “From”."}


def test_terms_a_line_cannot_hold_are_named() -> None:
    terms = (
        LexiconTerm(id="a|b", expression="x"),
        LexiconTerm(id="c", expression=" padded "),
        LexiconTerm(id="d", expression="x", label="one | two"),
        LexiconTerm(id="e", expression="line\nbreak"),
        LexiconTerm(id="f", expression="a | b | c"),
    )
    assert unfaithful_terms(terms) == ["a|b", "c", "d", "e"]
