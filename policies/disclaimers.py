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
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg
from jinja2.visitor import NodeTransformer

from policies.model import Disclaimer, DisclaimerRule, DisclaimerSpec

log = logging.getLogger(__name__)

MAX_TEMPLATE_CHARS = 20_000
"""Characters of one locale's template source (checked when a rule is saved)."""
MAX_TEXT_CHARS = 100_000
"""Characters of a rendered disclaimer, and of any one value a template builds on the way (a
filter's result, a ``~`` or ``+``, a ``%`` format): checked before or as the value is made."""
MAX_ARGUMENT = 100_000
"""The largest number a filter takes as an argument (``center``, ``indent``, ``wordwrap``,
``truncate`` widths, ``batch`` and ``slice`` counts) or a ``%`` format as a width or precision."""
MAX_INTEGER_BITS = 64
"""The largest integer a ``*`` may produce."""
RENDER_SECONDS = 0.25
"""Time budget of one render: checked at every loop step, filter, operator and piece of output."""

SAMPLE_VARIABLES: Mapping[str, object] = {
    "participants": ["Alice Example", "Bob Example"],
    "actor": "Alice Example",
    "room": "Example room",
    "date": "2026-01-01",
}
"""What :func:`validate_templates` renders every locale with."""
LARGE_VARIABLES: Mapping[str, object] = {
    "participants": [f"Participant {n:03d} " + "x" * 80 for n in range(100)],
    "actor": "Participant 000 " + "x" * 80,
    "room": "A room with a long name " + "x" * 176,
    "date": "2026-01-01",
}
"""A large room (100 people with 96-character names): a template must render within the limits
for it too when it is saved, so one that grows with the room is refused then, not at a check."""


class DisclaimerTooLarge(SecurityError):
    """A render that would exceed a size limit (refused before the value is built)."""


class DisclaimerTooSlow(SecurityError):
    """A render that ran past :data:`RENDER_SECONDS`."""


_DEADLINE: ContextVar[float | None] = ContextVar("disclaimer_deadline", default=None)


def _check_time() -> None:
    deadline = _DEADLINE.get()
    if deadline is not None and time.monotonic() > deadline:
        raise DisclaimerTooSlow(f"rendering took longer than the limit of {RENDER_SECONDS} s")


def _too_large(what: str) -> DisclaimerTooLarge:
    return DisclaimerTooLarge(f"{what} would be longer than the limit of {MAX_TEXT_CHARS:,} characters")


def _length(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 0


def _checked(value: Any, what: str) -> Any:
    if _length(value) > MAX_TEXT_CHARS:
        raise _too_large(what)
    return value


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?.")


def _check_percent_format(template: str) -> None:
    """Refuse a ``%`` format whose width or precision exceeds :data:`MAX_ARGUMENT` (or is ``*``)."""
    for width, precision in _PERCENT_SPEC.findall(template):
        for number in (width, precision):
            if number == "*" or (number and int(number) > MAX_ARGUMENT):
                raise DisclaimerTooLarge(f"a % format width or precision above {MAX_ARGUMENT:,} is not allowed")


def _check_arguments(arguments: Iterable[Any]) -> None:
    for argument in arguments:
        if isinstance(argument, int | float) and not isinstance(argument, bool) and abs(argument) > MAX_ARGUMENT:
            raise DisclaimerTooLarge(f"a filter argument above {MAX_ARGUMENT:,} is not allowed ({argument:.0f})")


def _bounded_items(values: Iterable[Any], separator: str, what: str) -> list[str]:
    """``values`` as strings, refused as soon as joining them with ``separator`` would be too long."""
    items: list[str] = []
    total = 0
    for value in values:
        _check_time()
        item = str(value)
        total += len(item) + (len(separator) if items else 0)
        if total > MAX_TEXT_CHARS:
            raise _too_large(what)
        items.append(item)
    return items


def _counted(values: Iterable[Any], what: str) -> Iterator[Any]:
    """``values``, refused once their texts (or items) add up to more than :data:`MAX_TEXT_CHARS`."""
    total = 0
    for value in values:
        _check_time()
        total += len(value) if isinstance(value, str) else 1
        if total > MAX_TEXT_CHARS:
            raise _too_large(what)
        yield value


def _bounded_list(values: Iterable[Any]) -> list[Any]:
    return list(_counted(values, "a list"))


def _estimate(name: str, value: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """An upper bound of the result's length for the filters that can multiply their input."""
    text = str(value) if isinstance(value, str) else ""
    if name == "replace" and text:
        old, new = (
            str(kwargs.get("old", args[0] if args else "")),
            str(kwargs.get("new", args[1] if len(args) > 1 else "")),
        )
        count = text.count(old) if old else len(text) + 1
        return len(text) + count * max(len(new) - len(old), 0)
    if name == "indent":
        width = kwargs.get("width", args[0] if args else 4)
        per_line = len(width) if isinstance(width, str) else int(width) if isinstance(width, int) else 0
        return len(text) + (text.count("\n") + 1) * per_line
    if name == "wordwrap":
        width = kwargs.get("width", args[0] if args else 79)
        wrap = kwargs.get("wrapstring", args[2] if len(args) > 2 else None) or "\n"
        lines = len(text) // max(int(width) if isinstance(width, int) else 1, 1) + 1
        return len(text) + lines * len(str(wrap))
    return 0


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` (a jinja2 filter) refusing numeric arguments above :data:`MAX_ARGUMENT`, inputs
    whose result would be too long, and results that are; and checking the time budget."""
    passes = _PassArg.from_obj(function) is not None

    @wraps(function)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        _check_time()
        at = 1 if passes else 0  # the filtered value comes after the context or environment
        value, rest = args[at], args[at + 1 :]
        _check_arguments((*rest, *kwargs.values()))
        if _estimate(name, value, rest, kwargs) > MAX_TEXT_CHARS:
            raise _too_large(f"the result of {name}")
        if name == "format" and isinstance(value, str):
            _check_percent_format(value)
        if name == "join" and not isinstance(value, str) and len(rest) < 2 and "attribute" not in kwargs:
            separator = str(kwargs.get("d", rest[0] if rest else ""))
            args = (*args[:at], _bounded_items(value, separator, "the result of join"), *rest)
        elif name == "list" and not isinstance(value, str):
            args = (*args[:at], _bounded_list(value), *rest)
        result = function(*args, **kwargs)
        if isinstance(result, Iterator):  # map, select, ...: bounded as whoever consumes them reads them
            return _counted(result, f"the result of {name}")
        return _checked(result, f"the result of {name}")

    return bounded


_ITERATE = "archivist.iterate"
_CONCAT = "archivist.concat"
"""Filters the compiler inserts (names a template cannot spell): every loop step and every ``~``."""


def _iterate(values: Iterable[Any]) -> Iterator[Any]:
    for value in values:
        _check_time()
        yield value


def _concat(parts: tuple[Any, ...]) -> str:
    _check_time()
    return "".join(_bounded_items(parts, "", "a ~ concatenation"))


_NOT_ALLOWED: dict[type[nodes.Node], str] = {
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.FilterBlock: "filter",
    nodes.AssignBlock: "set ... endset",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
    nodes.Extends: "extends",
    nodes.Block: "block",
}
"""Statements that build text out of sight of the output limit, or reach other templates."""


class _Bounds(NodeTransformer):
    """Routes every loop and every ``~`` through the budgeted helpers; refuses recursive loops."""

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 (named for jinja2's visitor)
        if node.recursive:
            raise TemplateSyntaxError("recursive loops are not allowed in a disclaimer", node.lineno)
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _ITERATE, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802 (named for jinja2's visitor)
        self.generic_visit(node)
        parts = nodes.Tuple(node.nodes, "load", lineno=node.lineno)
        return nodes.Filter(parts, _CONCAT, [], [], None, None, lineno=node.lineno)


class _DisclaimerEnvironment(ImmutableSandboxedEnvironment):
    """No attributes on the given values (only the ``loop`` variable of for-loops keeps its own);
    no ``**``, no repeated text or lists; every filter, operator, loop step and ``~`` size-checked
    and timed (see :func:`render_bounded`); no macros, blocks or other statements that build text
    out of sight of the output limit."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(name, function) for name, function in self.filters.items()}
        self.filters[_ITERATE] = _iterate
        self.filters[_CONCAT] = _concat

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for node in tree.find_all(tuple(_NOT_ALLOWED)):
            keyword = _NOT_ALLOWED[type(node)]
            raise TemplateSyntaxError(f"{{% {keyword} %}} is not allowed in a disclaimer", node.lineno, name, filename)
        bounded = _Bounds().visit(tree)
        assert isinstance(bounded, nodes.Template)
        return bounded

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if isinstance(obj, LoopContext):
            return super().is_safe_attribute(obj, attr, value)
        return False

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_time()
        texts = (str, list, tuple)
        if operator == "**" or (operator == "*" and (isinstance(left, texts) or isinstance(right, texts))):
            raise SecurityError(f"the {operator} operator is not allowed here")
        integers = isinstance(left, int) and isinstance(right, int)
        if operator == "*" and integers and left.bit_length() + right.bit_length() > MAX_INTEGER_BITS:
            raise DisclaimerTooLarge(f"a product above {MAX_INTEGER_BITS} bits is not allowed")
        if operator == "+" and _length(left) + _length(right) > MAX_TEXT_CHARS:
            raise _too_large("a + concatenation")
        if operator == "%" and isinstance(left, str):
            _check_percent_format(left)
        return _checked(super().call_binop(context, operator, left, right), f"the result of {operator}")

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _check_time()
        return super().call(__context, __obj, *args, **kwargs)


def render_bounded(template: Template, variables: Mapping[str, object]) -> str:
    """``template`` rendered within the limits: at most :data:`MAX_TEXT_CHARS` characters, in at
    most :data:`RENDER_SECONDS`; raises :class:`DisclaimerTooLarge` or :class:`DisclaimerTooSlow`
    (or the template's own error) instead."""
    token = _DEADLINE.set(time.monotonic() + RENDER_SECONDS)
    try:
        pieces: list[str] = []
        total = 0
        for piece in template.generate(variables):
            total += len(piece)
            if total > MAX_TEXT_CHARS:
                raise _too_large("the rendered text")
            _check_time()
            pieces.append(piece)
        return "".join(pieces)
    finally:
        _DEADLINE.reset(token)


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
    is longer than :data:`MAX_TEMPLATE_CHARS`, does not compile, or fails to render within the
    limits with the sample variables or those of a large room; empty when every locale is fine."""
    errors: list[str] = []
    for locale, source in sorted(spec.texts.items()):
        if len(source) > MAX_TEMPLATE_CHARS:
            errors.append(f"{locale}: the template is longer than the limit of {MAX_TEMPLATE_CHARS:,} characters")
            continue
        try:
            template = ENVIRONMENT.from_string(source)
        except TemplateSyntaxError as error:
            errors.append(_syntax_error(locale, error))
            continue
        try:
            render_bounded(template, SAMPLE_VARIABLES)
            render_bounded(template, LARGE_VARIABLES)
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
            return render_bounded(template, context)
        except SecurityError as error:  # a limit: said plainly, without a traceback
            log.warning(
                "disclaimer %s v%d: the %s text was refused: %s", self.rule.id, self.rule.version, locale, error
            )
            return None
        except Exception:
            log.warning(
                "disclaimer %s v%d: the %s text failed to render",
                self.rule.id,
                self.rule.version,
                locale,
                exc_info=True,
            )
            return None
