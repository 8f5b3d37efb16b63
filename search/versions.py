"""The versions of a message, and which of them a query matched.

A message has the text it was posted with (the *original*) and one version per edit, in the
order they were made: by time, the post before an edit at the same instant, then by event id,
so the order (and the *current* text, the last version) does not depend on the order the
events arrived in. A version is current from its own time until the next version's, and the
last one until the message was deleted (its *deleted text*) or still now.

Both search backends index every version (the current text in ``text``, the others in
``history``) and keep the versions with the hit, so this module, shared by both, says which of
them a query matched: the versions in which the query's words hold (words, phrases, prefixes,
NEARs; filters concern the whole message), or failing that the versions holding any of its
words.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple

from search.query_ast import And, Current, Filter, Near, Node, Not, Or, Phrase, Prefix, SentRange, Term, Within
from search.tantivy_schema import text_terms

VersionKind = Literal["post", "edit"]


class Entry(NamedTuple):
    """One version as an index keeps it: the event that wrote it, when, and the exact text."""

    kind: VersionKind
    event_id: str
    at: int
    """Microseconds since the Unix epoch."""
    text: str


def order_key(entry: Entry) -> tuple[int, int, str]:
    return entry.at, 0 if entry.kind == "post" else 1, entry.event_id


def with_entry(entries: Iterable[Entry], new: Entry) -> tuple[Entry, ...]:
    """``entries`` with ``new`` (once: an event id already there is not added again), in order."""
    known = tuple(entries)
    if any(entry.event_id == new.event_id for entry in known):
        return known
    return tuple(sorted((*known, new), key=order_key))


@dataclass(frozen=True)
class Version:
    """One version of a message, as a hit reports it."""

    number: int
    """0 for the original, N for the N-th edit (in time order)."""
    label: str
    """``original`` or ``edit N``."""
    event_id: str
    text: str
    valid_from: int
    """When it became the message's text (microseconds since the Unix epoch)."""
    valid_until: int | None
    """When the next version replaced it or the message was deleted; None while it is current."""
    current: bool
    deleted: bool
    """The text the message had when it was deleted."""


def timeline(entries: Sequence[Entry], deleted_at: int | None) -> tuple[Version, ...]:
    """The versions of ``entries`` (in order), each with the interval it was current."""
    ordered = sorted(entries, key=order_key)
    has_original = bool(ordered) and ordered[0].kind == "post"
    versions = []
    for position, entry in enumerate(ordered):
        number = position if has_original else position + 1
        last = position == len(ordered) - 1
        until = deleted_at if last else ordered[position + 1].at
        versions.append(
            Version(
                number=number,
                label="original" if entry.kind == "post" else f"edit {number}",
                event_id=entry.event_id,
                text=entry.text,
                valid_from=entry.at,
                valid_until=until,
                current=last,
                deleted=last and deleted_at is not None,
            )
        )
    return tuple(versions)


def only_version(event_id: str, at: int, text: str) -> Version:
    """The one version of a message never edited nor deleted: its post, current since ``at``."""
    return Version(0, "original", event_id, text, at, None, current=True, deleted=False)


def _contains(tokens: Sequence[str], words: Sequence[str]) -> bool:
    width = len(words)
    return bool(words) and any(list(tokens[i : i + width]) == list(words) for i in range(len(tokens) - width + 1))


def _starts(tokens: Sequence[str], words: Sequence[str]) -> list[int]:
    width = len(words)
    return [i for i in range(len(tokens) - width + 1) if list(tokens[i : i + width]) == list(words)]


def _near(tokens: Sequence[str], node: Near) -> bool:
    left, right = text_terms(node.left), text_terms(node.right)
    if not left or not right:
        return False
    for i in _starts(tokens, left):
        for j in _starts(tokens, right):
            if (i + len(left) - 1 < j <= i + len(left) - 1 + node.distance) or (
                j + len(right) - 1 < i <= j + len(right) - 1 + node.distance
            ):
                return True
    return False


def _prefix(tokens: Sequence[str], text: str) -> bool:
    terms = text_terms(text)
    if not terms:
        return False
    *exact, last = terms
    return any(
        list(tokens[i : i + len(exact)]) == exact and tokens[i + len(exact)].startswith(last)
        for i in range(len(tokens) - len(exact))
    )


def _holds(node: Node, tokens: Sequence[str], current: bool, *, only_current: bool = False) -> bool | None:
    """Whether the words of ``node`` hold in one version (None: ``node`` says nothing of words)."""
    if only_current and not current and isinstance(node, Term | Phrase | Prefix | Near):
        return False
    match node:
        case Term(text) | Phrase(text):
            return _contains(tokens, text_terms(text))
        case Prefix(text):
            return _prefix(tokens, text)
        case Near():
            return _near(tokens, node)
        case Current(item):
            return _holds(item, tokens, current, only_current=True)
        case Filter() | SentRange() | Not() | Within():
            return None  # Within: words of files, not of a message's versions
        case And(items):
            results = [_holds(item, tokens, current, only_current=only_current) for item in items]
            if False in results:
                return False
            return True if True in results else None
        case Or(items):
            results = [_holds(item, tokens, current, only_current=only_current) for item in items]
            if True in results:
                return True
            return False if False in results else None
    return None


def _any_word(node: Node, tokens: Sequence[str], current: bool, only_current: bool = False) -> bool:
    """Whether any word condition of ``node`` outside a NOT holds in one version."""
    match node:
        case Term() | Phrase() | Prefix() | Near():
            return bool(_holds(node, tokens, current, only_current=only_current))
        case Current(item):
            return _any_word(item, tokens, current, True)
        case And(items) | Or(items):
            return any(_any_word(item, tokens, current, only_current) for item in items)
    return False


def matched_versions(node: Node, versions: Sequence[Version]) -> tuple[Version, ...]:
    """The versions of a hit that ``node`` matched. A message with one version matched with it."""
    if len(versions) <= 1:
        return tuple(versions)
    tokens = [text_terms(version.text) for version in versions]
    whole = tuple(v for v, t in zip(versions, tokens, strict=True) if _holds(node, t, v.current) is True)
    if whole:
        return whole
    return tuple(v for v, t in zip(versions, tokens, strict=True) if _any_word(node, t, v.current))
