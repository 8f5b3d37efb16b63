"""Disclaimer texts: sandboxed jinja2 templates, validated when a rule is saved, compiled once per
snapshot and rendered in the check path.

Templates see exactly four variables: ``participants`` (display names, actor first), ``actor``
(display name), ``room`` (room name, or ``""``) and ``date`` (``YYYY-MM-DD`` of the check, UTC).
They get no globals and no attribute access on those values (``{{ actor.upper() }}`` is refused;
filters such as ``{{ actor|upper }}`` or ``{{ participants|join(", ") }}`` are the way), and an
undefined name is an error (``StrictUndefined``), so a typo is reported when the rule is saved
(:func:`validate_templates`) rather than shown to a chat user.

Rendering never raises (:meth:`CompiledRule.render`): a template that fails at render time, which
validation should have prevented, falls back to the default locale's text, and if that fails too
to the requested locale's raw template source, so a legal notice is still shown in the reader's
language, placeholders and all. Each failure is logged as a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from policies.model import Disclaimer, DisclaimerRule, DisclaimerSpec

log = logging.getLogger(__name__)

SAMPLE_VARIABLES: Mapping[str, object] = {
    "participants": ["Alice Example", "Bob Example"],
    "actor": "Alice Example",
    "room": "Example room",
    "date": "2026-01-01",
}
"""What :func:`validate_templates` renders every locale with."""


class _DisclaimerEnvironment(ImmutableSandboxedEnvironment):
    """No attributes on the given values (only the ``loop`` variable of for-loops keeps its own),
    and no ``**`` or repeated text and lists (``{{ actor * 10**9 }}`` would stall every check)."""

    intercepted_binops = frozenset({"*", "**"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, LoopContext):
            return super().is_safe_attribute(obj, attr, value)
        return False

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" or isinstance(left, str | list | tuple) or isinstance(right, str | list | tuple):
            raise SecurityError(f"the {operator} operator is not allowed here")
        return super().call_binop(context, operator, left, right)


def _environment() -> _DisclaimerEnvironment:
    # Plain text shown by a chat client, so no HTML escaping.
    environment = _DisclaimerEnvironment(autoescape=False, undefined=StrictUndefined)
    environment.globals.clear()  # no range, lipsum, dict, cycler, joiner, namespace
    return environment


ENVIRONMENT = _environment()


@dataclass(frozen=True, slots=True)
class TextVariables:
    """The values a disclaimer template is rendered with."""

    participants: tuple[str, ...]
    actor: str
    room: str
    date: str

    @classmethod
    def of(cls, participants: Sequence[str], room: str | None, at: datetime) -> TextVariables:
        """``participants`` are display names, the actor's first."""
        return cls(tuple(participants), participants[0] if participants else "", room or "", utc_date(at))

    def as_context(self) -> dict[str, object]:
        return {"participants": list(self.participants), "actor": self.actor, "room": self.room, "date": self.date}


def utc_date(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def normalize_locale(locale: str) -> str:
    """``fr_CA``, ``FR-ca`` and ``fr-CA`` are the same locale."""
    return locale.strip().replace("_", "-").lower()


def select_locale(available: Sequence[str], requested: str | None, default: str) -> str:
    """The key of ``available`` to use: the exact locale (case-insensitive, ``-`` and ``_``
    equivalent), then its language part (``fr-CA`` -> ``fr``), then ``default``."""
    return _select(_by_normalized(available), requested, default)


def _by_normalized(available: Iterable[str]) -> dict[str, str]:
    return {normalize_locale(locale): locale for locale in available}


def _select(by_normalized: Mapping[str, str], requested: str | None, default: str) -> str:
    if requested:
        wanted = normalize_locale(requested)
        for candidate in (wanted, wanted.split("-", 1)[0]):
            if candidate in by_normalized:
                return by_normalized[candidate]
    return default


def _syntax_error(locale: str, error: TemplateSyntaxError) -> str:
    return f"{locale}: {error.message} at line {error.lineno}"


def validate_templates(spec: DisclaimerSpec) -> list[str]:
    """Human-readable errors (``"fr: unexpected '}' at line 1"``), one per locale whose template
    does not compile or fails to render with sample variables; empty when every locale is fine."""
    errors: list[str] = []
    for locale, source in sorted(spec.texts.items()):
        try:
            template = ENVIRONMENT.from_string(source)
        except TemplateSyntaxError as error:
            errors.append(_syntax_error(locale, error))
            continue
        try:
            template.render(SAMPLE_VARIABLES)
        except Exception as error:  # any render failure (undefined, security, filter misuse) is the admin's to fix
            errors.append(f"{locale}: {error}")
    return errors


def _compile(source: str) -> Template | None:
    try:
        return ENVIRONMENT.from_string(source)
    except TemplateSyntaxError:
        return None


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A disclaimer rule with its templates compiled (``None`` where a text does not compile)."""

    rule: DisclaimerRule
    templates: Mapping[str, Template | None]
    locales: Mapping[str, str]
    """Normalized locale -> the key of ``rule.texts``."""

    @classmethod
    def of(cls, rule: DisclaimerRule) -> CompiledRule:
        templates = {locale: _compile(source) for locale, source in rule.texts.items()}
        return cls(rule, templates, _by_normalized(rule.texts))

    def render(self, requested_locale: str | None, variables: TextVariables) -> Disclaimer:
        """This rule's disclaimer in the best locale for ``requested_locale``; never raises."""
        rule = self.rule
        locale = _select(self.locales, requested_locale, rule.default_locale)
        context = variables.as_context()
        for candidate in dict.fromkeys((locale, rule.default_locale)):
            text = self._try_render(candidate, context)
            if text is not None:
                return Disclaimer(rule_id=rule.id, version=rule.version, locale=candidate, text=text)
        return Disclaimer(rule_id=rule.id, version=rule.version, locale=locale, text=rule.texts[locale])

    def _try_render(self, locale: str, context: Mapping[str, object]) -> str | None:
        template = self.templates[locale]
        if template is None:
            log.warning("disclaimer %s v%d: the %s text does not compile", self.rule.id, self.rule.version, locale)
            return None
        try:
            return template.render(context)
        except Exception:
            log.warning(
                "disclaimer %s v%d: the %s text failed to render",
                self.rule.id,
                self.rule.version,
                locale,
                exc_info=True,
            )
            return None
