from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest

from policies.disclaimers import CompiledRule, TextVariables, select_locale, validate_templates
from policies.model import DisclaimerRule, DisclaimerSpec

VARIABLES = TextVariables(("Alice", "Bob", "Carol"), "Alice", "Deals", "2026-03-01")


def spec(texts: dict[str, str], default_locale: str = "en") -> DisclaimerSpec:
    return DisclaimerSpec(name="notice", trigger="conversation_start", texts=texts, default_locale=default_locale)


def rule(texts: dict[str, str], default_locale: str = "en") -> DisclaimerRule:
    return DisclaimerRule(
        id="d1", version=3, name="notice", trigger="conversation_start", texts=texts, default_locale=default_locale
    )


# --- validation ---------------------------------------------------------------------------------------


def test_valid_templates_have_no_errors() -> None:
    texts = {
        "en": "{{ actor }} with {{ participants|join(', ') }} in {{ room }} on {{ date }}",
        "fr": "{% for p in participants %}{{ loop.index }}. {{ p|upper }}{% endfor %}",
    }
    assert validate_templates(spec(texts)) == []
    assert validate_templates(spec({"en": "{{ participants|length * 2 }} {{ actor ~ '!' }}"})) == []


def test_a_syntax_error_names_the_locale_and_line() -> None:
    assert validate_templates(spec({"en": "fine", "fr": "Bonjour {{ actor }"})) == ["fr: unexpected '}' at line 1"]


def test_a_misspelt_variable_is_an_error() -> None:
    assert validate_templates(spec({"en": "Hello {{ actr }}"})) == ["en: 'actr' is undefined"]


@pytest.mark.parametrize(
    "source",
    [
        "{{ actor.upper() }}",
        "{{ participants.__class__ }}",
        "{{ participants.append('x') }}",
        "{{ range(3) }}",
        "{{ actor * 1000000000 }}",
        "{{ participants * 3 }}",
        "{{ 10 ** 100000 }}",
    ],
)
def test_attributes_and_globals_are_refused(source: str) -> None:
    errors = validate_templates(spec({"en": source}))
    assert len(errors) == 1
    assert errors[0].startswith("en: ")


def test_every_broken_locale_is_reported_in_locale_order() -> None:
    errors = validate_templates(spec({"en": "ok", "fr": "{{ x }}", "de": "{% if %}"}))
    assert [error.split(":", 1)[0] for error in errors] == ["de", "fr"]


# --- locale selection ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ("fr-CA", "fr-CA"),
        ("FR_ca", "fr-CA"),
        ("fr-BE", "fr"),
        ("fr", "fr"),
        ("de-DE", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_locale_selection(requested: str | None, expected: str) -> None:
    assert select_locale(["en", "fr", "fr-CA"], requested, "en") == expected


# --- rendering ---------------------------------------------------------------------------------------------


def test_renders_the_selected_locale_and_records_it() -> None:
    compiled = CompiledRule.of(rule({"en": "Hi {{ actor }}", "fr": "Salut {{ actor }}, {{ room }}"}))
    disclaimer = compiled.render("fr_FR", VARIABLES)
    assert (disclaimer.rule_id, disclaimer.version, disclaimer.locale) == ("d1", 3, "fr")
    assert disclaimer.text == "Salut Alice, Deals"


def test_plain_text_is_not_html_escaped() -> None:
    compiled = CompiledRule.of(rule({"en": "<b>{{ actor }}</b> & {{ room }}"}))
    variables = TextVariables(("A<B",), "A<B", "R&D", "2026-03-01")
    assert compiled.render("en", variables).text == "<b>A<B</b> & R&D"


def test_a_text_failing_at_render_time_falls_back_to_the_default_locale(caplog: pytest.LogCaptureFixture) -> None:
    compiled = CompiledRule.of(rule({"en": "Hello {{ actor }}", "fr": "Bonjour {{ acteur }}"}))
    with caplog.at_level(logging.WARNING):
        disclaimer = compiled.render("fr", VARIABLES)
    assert (disclaimer.locale, disclaimer.text) == ("en", "Hello Alice")
    assert "failed to render" in caplog.text


def test_a_text_that_does_not_compile_falls_back_to_the_default_locale() -> None:
    compiled = CompiledRule.of(rule({"en": "Hello {{ actor }}", "fr": "Bonjour {{ actor }"}))
    assert compiled.render("fr", VARIABLES).text == "Hello Alice"


def test_when_the_default_fails_too_the_requested_raw_source_is_shown() -> None:
    compiled = CompiledRule.of(rule({"en": "Hello {{ nobody }}", "fr": "Bonjour {{ acteur }}"}))
    disclaimer = compiled.render("fr", VARIABLES)
    assert (disclaimer.locale, disclaimer.text) == ("fr", "Bonjour {{ acteur }}")


def test_the_date_is_the_utc_day() -> None:
    late_evening_in_new_york = datetime(2026, 3, 1, 22, 30, tzinfo=timezone(timedelta(hours=-5)))
    variables = TextVariables.of(["Alice", "Bob"], None, late_evening_in_new_york)
    assert variables == TextVariables(("Alice", "Bob"), "Alice", "", "2026-03-02")
    assert TextVariables.of(["Alice"], "Deals", datetime(2026, 3, 1, tzinfo=UTC)).date == "2026-03-01"
