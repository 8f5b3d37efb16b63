"""Disclaimer templates cannot make a check slow or its answer and archive events huge: every
filter, operator, loop step and ``~`` is size-checked and timed, statements that build text out of
sight (macros, filter and set blocks, recursive loops) are refused, a template that exceeds the
limits is refused when saved, and one that exceeds them at a check is refused with a clear log
line (the rule falls back as for any render failure)."""

from __future__ import annotations

import logging

import pytest

from policies.disclaimers import (
    ENVIRONMENT,
    MAX_ARGUMENT,
    MAX_TEMPLATE_CHARS,
    MAX_TEXT_CHARS,
    CompiledRule,
    DisclaimerTooLarge,
    DisclaimerTooSlow,
    TextVariables,
    render_bounded,
    validate_templates,
)
from policies.model import DisclaimerRule, DisclaimerSpec

VARIABLES = TextVariables(("Alice", "Bob", "Carol"), "Alice", "Deals", "2026-03-01")
DOUBLING = "".join(f"{{% set a{n + 1} = a{n} ~ a{n} %}}" for n in range(40))
"""Forty doublings of a text: 2**40 times its length, if nothing stopped it."""

EXPLOSIVE = [
    "{{ actor|center(20000000) }}",
    "{{ '%020000000d' % 1 }}",
    "{{ actor|indent(20000000, true) }}",
    "{{ 'x'|indent(20000000, true) }}",
    "{{ '%-*d' % (20000000, 1) }}",
    "{{ '%.20000000f' % 1 }}",
    "{{ '%020000000d'|format(1) }}",
    "{{ actor|wordwrap(20000000) }}",
    "{{ actor|truncate(20000000) }}",
    "{{ participants|batch(20000000, 'x')|list }}",
    "{{ actor|replace('', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')|replace('', 'yyyyyyyyyyyyyyyyyyyyyy')"
    "|replace('', 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz') }}",
    "{% set a0 = actor %}" + DOUBLING + "{{ a40|length }}",
    "{% set a0 = actor %}" + DOUBLING.replace("~", "+") + "{{ a40|length }}",
    "{% set a0 = [actor] %}" + DOUBLING.replace("~", "+") + "{{ a40|length }}",
    "{% set a0 = actor|center(99999) %}{{ [a0, a0, a0]|join }}",
    "{% set a0 = actor|center(99999) %}{{ a0 ~ a0 }}",
    "{% for p in participants %}{{ actor|center(50000) }}{% endfor %}",
    "{{ participants|map('center', 90000)|list|length }}",
    "{{ participants|map('center', 90000)|sort|length }}",
    "{{ participants|map('center', 90000)|join|length }}",
    "{{ 99999999999 * 99999999999 * 99999999999 * 99999999999 * 99999999999 * 99999999999 }}",
]


def spec(text: str) -> DisclaimerSpec:
    return DisclaimerSpec(name="notice", trigger="conversation_start", texts={"en": text})


def rule(texts: dict[str, str]) -> DisclaimerRule:
    return DisclaimerRule(id="d1", version=1, name="notice", trigger="conversation_start", texts=texts)


@pytest.mark.parametrize("source", EXPLOSIVE)
def test_templates_that_would_build_huge_text_are_refused_when_saved(source: str) -> None:
    errors = validate_templates(spec(source))
    assert len(errors) == 1
    assert errors[0].startswith("en: ")
    assert any(str(limit) in errors[0] for limit in (f"{MAX_TEXT_CHARS:,}", f"{MAX_ARGUMENT:,}", "64 bits"))


@pytest.mark.parametrize("source", EXPLOSIVE)
def test_and_refused_at_a_check_with_a_clear_log_line(source: str, caplog: pytest.LogCaptureFixture) -> None:
    """A rule stored before these limits (or written to the database directly) is refused when a
    check renders it: the fallback text is shown, bounded, and the log says which limit."""
    compiled = CompiledRule.of(rule({"en": source, "fr": "Bonjour {{ actor }}"}))
    with caplog.at_level(logging.WARNING):
        shown = compiled.render("en", VARIABLES)
    assert (shown.locale, shown.text) == ("en", source)  # the default fails too: its raw source
    assert "the en text was refused:" in caplog.text
    assert "Traceback" not in caplog.text
    with caplog.at_level(logging.WARNING):
        assert compiled.render("fr", VARIABLES).text == "Bonjour Alice"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% macro m() %}x{% endmacro %}{{ m() }}", "{% macro %} is not allowed"),
        ("{% filter upper %}{{ actor }}{% endfilter %}", "{% filter %} is not allowed"),
        ("{% set x %}{{ actor }}{% endset %}{{ x }}", "{% set ... endset %} is not allowed"),
        ("{% for p in participants recursive %}{{ loop(participants) }}{% endfor %}", "recursive loops"),
        ("{% include 'other' %}", "{% include %} is not allowed"),
        ("{% extends 'base' %}", "{% extends %} is not allowed"),
    ],
)
def test_statements_that_build_text_out_of_sight_are_refused(source: str, message: str) -> None:
    (error,) = validate_templates(spec(source))
    assert error.startswith("en: ")
    assert message in error


def test_a_template_longer_than_the_limit_is_refused_when_saved() -> None:
    (error,) = validate_templates(spec("x" * (MAX_TEMPLATE_CHARS + 1)))
    assert error == f"en: the template is longer than the limit of {MAX_TEMPLATE_CHARS:,} characters"
    assert validate_templates(spec("x" * MAX_TEMPLATE_CHARS)) == []


def test_loops_that_run_long_without_output_stop_at_the_time_budget() -> None:
    """Nested loops over a large room: refused once the budget is spent, not after 10**12 steps."""
    template = ENVIRONMENT.from_string(
        "{% for a in participants %}{% for b in participants %}{% for c in participants %}"
        "{% endfor %}{% endfor %}{% endfor %}done"
    )
    crowd = {"participants": [f"p{n}" for n in range(10_000)], "actor": "a", "room": "r", "date": "d"}
    with pytest.raises(DisclaimerTooSlow, match=r"longer than the limit of 0\.25 s"):
        render_bounded(template, crowd)
    # The same template for a small room renders (and so is not refused when saved).
    assert render_bounded(template, {**crowd, "participants": ["a", "b"]}) == "done"


def test_a_template_that_grows_with_the_room_is_refused_when_saved() -> None:
    (error,) = validate_templates(
        spec("{% for a in participants %}{% for b in participants %}{{ a }} meets {{ b }}. {% endfor %}{% endfor %}")
    )
    assert f"longer than the limit of {MAX_TEXT_CHARS:,} characters" in error


def test_output_past_the_limit_is_refused_before_it_is_all_built() -> None:
    template = ENVIRONMENT.from_string("{% for p in participants %}{{ actor|center(90000) }}{% endfor %}")
    with pytest.raises(DisclaimerTooLarge, match="the rendered text would be longer"):
        render_bounded(template, {"participants": ["x"] * 1_000_000, "actor": "a", "room": "", "date": ""})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ actor|center(11) }}", "   Alice   "),
        ("{{ '%05d' % 42 }} {{ '%s and %s'|format(actor, room) }}", "00042 Alice and Deals"),
        ("{{ participants|join(', ') }} {{ actor ~ '!' }} {{ actor + '?' }}", "Alice, Bob, Carol Alice! Alice?"),
        ("{{ participants|map('upper')|join('/') }} {{ participants|list|length * 2 }}", "ALICE/BOB/CAROL 6"),
        ("{{ actor|replace('l', 'L')|indent(2, true)|wordwrap(40)|truncate(30) }}", "  ALice"),
        ("{% for p in participants %}{{ loop.index }}.{{ p }} {% endfor %}", "1.Alice 2.Bob 3.Carol "),
        (
            "{% set greeting = 'Hi ' ~ actor %}{% with r = room %}{{ greeting }} in {{ r }}{% endwith %}",
            "Hi Alice in Deals",
        ),
    ],
)
def test_ordinary_templates_render_as_before(source: str, expected: str) -> None:
    assert validate_templates(spec(source)) == []
    assert CompiledRule.of(rule({"en": source})).render("en", VARIABLES).text == expected
