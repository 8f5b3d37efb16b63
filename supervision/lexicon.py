"""Supervision lexicons compiled once and matched against every message, with positions.

A lexicon term of kind ``query`` is written in the archive's query language
(:func:`search.query_parser.parse_query`, its cost limits included) and matches a message when,
and only when, the same query would find that message in the full-text index: words are the
index's words (:mod:`supervision.analysis`), phrases and ``NEAR/n`` count positions as Tantivy
does (a token too long to index still takes its position), prefixes match words that start with
them, ``current:`` looks at the text (and a file's name), ``attachment:`` at the attached file's
extracted text, ``file:`` at its name. Filters are judged on the :class:`Message`: ``from:``,
``in:``, ``@mention``, ``#hashtag``, ``has:file``, ``filetype:``, ``type:``. What one message
cannot tell is refused when the lexicon is compiled (:class:`LexiconError`): ``sent:`` (a
policy has effective dates), ``participant:`` (the policy's scope says who is supervised),
``is:edited``/``is:deleted`` (what happens to a message after it is sent) and ``tag:`` (a
review set's coding).

A term of kind ``regex`` is a regular expression run by RE2 (linear time, memory bounded by
:data:`REGEX_MAX_MEM`) over the text and the attachment text composed (NFC: an accent typed as a
combining character is found as the accented letter, as the query terms find it; offsets are
those of the text as said), **case-insensitive**
(write ``(?-i)`` at its start to make it case-sensitive); a pattern that matches empty text is
refused, since it would match every message. The expressions of one lexicon may take at most
:data:`LEXICON_MAX_PROGRAM` RE2 instructions together, those of every lexicon compiled together
:data:`SET_MAX_PROGRAM` (memory grows with them).

Speed: :meth:`LexiconSet.verdicts` analyses a message once for every policy. All the words of
all the terms are indexed in one dictionary (and prefixes by their characters), each distinct
word of the traffic is looked up once (then cached), and only the terms one of whose words
occurs are evaluated; terms with no word to look for (a filter alone, ``NOT x``) are evaluated
on every message, the regular expressions are screened by one RE2 set first.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Final, Literal, cast

import re2

from adapters.index_adapter import entities
from ingest.events import EditEvent, FileUploadEvent, PostEvent
from search.query_ast import (
    And,
    Current,
    Filter,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Prefix,
    SentRange,
    Term,
    Within,
    searches_words,
)
from search.query_parser import QuerySyntaxError, parse_query
from search.tantivy_schema import (
    file_type,
    filetype_key,
    filter_keys,
    fold_keyword,
    person_keys,
    room_keys,
    text_terms,
)
from supervision.analysis import Analysed, analyse, nfc_spans
from supervision.model import MAX_EXPRESSION_LENGTH, LexiconTerm, PolicySpec, TermMatch

REGEX_MAX_MEM: Final = 8 << 20
"""Bytes RE2 may use for one compiled expression (a pattern needing more is refused)."""
REGEX_SET_MAX_MEM: Final = 256 << 20
"""Bytes for the set of every expression that screens messages (past it, each runs alone)."""
LEXICON_MAX_PROGRAM: Final = 2_000_000
"""RE2 instructions (``programsize``) all the regular expressions of one lexicon may take
together: memory grows with them (a program of about 480,000 instructions, the most
:data:`REGEX_MAX_MEM` lets one expression have, takes about 5.5 MB with its caches), so a
lexicon is refused past this, however many terms it spreads them over."""
SET_MAX_PROGRAM: Final = 8_000_000
"""RE2 instructions all the lexicons compiled together (:meth:`LexiconSet.compile`) may take."""
MAX_MATCHES_PER_TERM: Final = 100
"""Matches reported per term and field (a term found more often than that in a long attachment
still matches; only its first positions are listed)."""
FILE_EVENT_TYPES: Final = frozenset({"file", "file_upload", "file_text"})

FieldName = Literal["text", "attachment", "file_name"]
EVERY_FIELD: Final[tuple[FieldName, ...]] = ("text", "attachment", "file_name")
"""Where words are looked for, as the index looks in a message's text, its attachment's text and
(for an uploaded file, whose indexed text is its name) the file name."""
CURRENT_FIELDS: Final[tuple[FieldName, ...]] = ("text", "file_name")
WITHIN_FIELDS: Final[dict[str, tuple[FieldName, ...]]] = {"attachment": ("attachment",), "file": ("file_name",)}


class LexiconError(ValueError):
    """A lexicon that cannot be compiled: the message names the policy (when known) and the term
    (or exclusion) and says what is wrong."""


@dataclass(frozen=True)
class Message:
    """What a term is matched against. Keys are compared folded (:func:`fold_keyword`), so
    values may be given folded or as said."""

    text: str
    """The message text (a post's or an edit's new text) as said; "" for a file."""
    attachment: str = ""
    """The extracted text of an attached file (a ``file_text`` event)."""
    sender_keys: frozenset[str] = frozenset()
    """``search.tantivy_schema.person_keys(actor_id, name)``: what ``from:`` matches."""
    room_keys: frozenset[str] = frozenset()
    """The room id and name (``room_keys(room_id, name)``): what ``in:`` matches."""
    mentions: frozenset[str] = frozenset()
    hashtags: frozenset[str] = frozenset()
    file_types: frozenset[str] = frozenset()
    """``search.tantivy_schema.file_type(name, content_type)`` of the attached files."""
    event_type: str = "post"
    """What ``type:`` matches (``post``, ``file_upload``, ...)."""
    file_name: str = ""
    """An uploaded file's name: ``file:`` searches it, and plain words too (the index's text of
    an uploaded file is its name). Matches in it are reported without a position."""

    @property
    def has_file(self) -> bool:
        """What ``has:file`` matches: an uploaded file, or a message carrying one."""
        return bool(self.event_type in FILE_EVENT_TYPES or self.file_types or self.attachment or self.file_name)


def message_of(event: PostEvent | EditEvent, attachment: str = "") -> Message:
    """The :class:`Message` of a post (or of an edit's new text), with the sender's and room's
    keys, mentions and hashtags as the index derives them (declared ones and those written)."""
    _, mentions, hashtags = entities(event.message.text)
    if isinstance(event, PostEvent):
        mentions = (*(event.message.mentions or ()), *mentions)
        hashtags = (*(event.message.hashtags or ()), *hashtags)
    return Message(
        text=event.message.text,
        attachment=attachment,
        sender_keys=frozenset(person_keys(event.actor.id, event.actor.name)),
        room_keys=frozenset(room_keys(event.room.id, event.room.name)),
        mentions=frozenset(map(fold_keyword, mentions)),
        hashtags=frozenset(map(fold_keyword, hashtags)),
    )


def message_of_file(upload: FileUploadEvent, attachment: str = "") -> Message:
    """The :class:`Message` of an uploaded file: no text, its name, its type, and the text
    extracted from it (a ``file_text`` event's) when known."""
    return Message(
        text="",
        attachment=attachment,
        file_name=upload.file.name,
        file_types=frozenset({file_type(upload.file.name, upload.file.content_type)} - {""}),
        sender_keys=frozenset(person_keys(upload.actor.id, upload.actor.name)),
        room_keys=frozenset(room_keys(upload.room.id, upload.room.name)),
        event_type="file_upload",
    )


@dataclass(frozen=True)
class PolicyLexicon:
    terms: tuple[LexiconTerm, ...]
    exclusions: tuple[str, ...] = ()
    """Queries: a message matching one is never an item (and never sampled)."""
    languages: tuple[str, ...] = ()
    """The terms used: those without a language and those in one of these (empty: all)."""

    @classmethod
    def of(cls, spec: PolicySpec) -> PolicyLexicon:
        return cls(terms=spec.lexicon, exclusions=spec.exclusions, languages=spec.languages)


@dataclass(frozen=True)
class Verdict:
    matches: tuple[TermMatch, ...]
    """Every match of every term (offsets into ``text`` or ``attachment``), in lexicon order;
    empty: no term matched. A term that matched without a position to show (a filter alone,
    words only in a file's name) has one match ``[0, 0)`` with nothing ``matched``."""
    excluded: bool
    """An exclusion matched: never an item (and never sampled)."""


# --- compiled terms --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Words:
    words: tuple[str, ...]
    fields: tuple[FieldName, ...]


@dataclass(frozen=True)
class _Prefix:
    exact: tuple[str, ...]
    last: str
    fields: tuple[FieldName, ...]


@dataclass(frozen=True)
class _Near:
    left: tuple[str, ...]
    right: tuple[str, ...]
    distance: int
    fields: tuple[FieldName, ...]


@dataclass(frozen=True)
class _Check:
    field: str
    keys: frozenset[str]


@dataclass(frozen=True)
class _Not:
    item: _Node


@dataclass(frozen=True)
class _All:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Any:
    items: tuple[_Node, ...]


@dataclass(frozen=True)
class _Regex:
    pattern: re2._Regexp[str]


_Node = _Words | _Prefix | _Near | _Check | _Not | _All | _Any | _Regex
Hit = tuple[FieldName, int, int]
"""Where a word condition matched: the field, and the first and last positions (for a regex:
character offsets, start and end)."""
Anchor = tuple[Literal["word", "prefix"], str]

_UNJUDGED: Final = {
    "participant": "participant: depends on room memberships: the policy's scope says who is supervised",
    "tag": "tag: is a review set's coding, which a message being archived does not have",
    "is": "is:edited and is:deleted depend on what happens to a message after it is sent",
}


class _Refusal(Exception):
    pass


def _words(text: str) -> tuple[str, ...]:
    words = tuple(text_terms(text))
    if not words:
        raise _Refusal(f"{text!r} holds no word the index keeps (letters, digits, CJK characters or emoji)")
    return words


def _compile_node(node: Node, fields: tuple[FieldName, ...] = EVERY_FIELD) -> _Node:
    match node:
        case Term(text) | Phrase(text):
            return _Words(_words(text), fields)
        case Prefix(text):
            *exact, last = _words(text)
            return _Prefix(tuple(exact), last, fields)
        case Near(left, right, distance):
            return _Near(_words(left), _words(right), distance, fields)
        case Current(item):
            return _compile_node(item, CURRENT_FIELDS)
        case Within(within, item):
            return _compile_node(item, WITHIN_FIELDS[within])
        case Filter(name, value) if name in _UNJUDGED:
            raise _Refusal(_UNJUDGED[name])
        case Filter(name, value):
            return _Check(name, _filter_keys(name, value))
        case SentRange():
            raise _Refusal("sent: cannot be judged on a message: a policy has effective dates instead")
        case Not(item):
            return _Not(_compile_node(item, fields))
        case And(items):
            return _All(tuple(_compile_node(item, fields) for item in items))
        case Or(items):
            return _Any(tuple(_compile_node(item, fields) for item in items))
    raise _Refusal(f"cannot evaluate {node!r}")


def _filter_keys(name: str, value: str) -> frozenset[str]:
    match name:
        case "from" | "in":
            return frozenset(filter_keys(name, value))
        case "mentions" | "hashtag":
            return frozenset({fold_keyword(value)})
        case "filetype":
            return frozenset({filetype_key(value)})
    return frozenset({value})


def _regex(expression: str) -> re2._Regexp[str]:
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise _Refusal(f"the regular expression is too long: at most {MAX_EXPRESSION_LENGTH} characters")
    try:
        compiled = re2.compile(expression, _regex_options(REGEX_MAX_MEM))
    except re2.error as error:
        reason = error.args[0].decode("utf-8", "replace") if error.args and isinstance(error.args[0], bytes) else error
        raise _Refusal(f"RE2 refuses the regular expression: {reason}") from None
    if compiled.search("") is not None:
        raise _Refusal("the regular expression matches empty text, so it would match every message")
    return compiled


def _regex_options(max_mem: int) -> re2.Options:
    options = re2.Options()
    options.max_mem = max_mem
    options.case_sensitive = False
    options.log_errors = False
    return options


def _anchors(node: _Node) -> frozenset[Anchor] | None:
    """Words one of which a message must hold for ``node`` to match it (``None``: no such words;
    evaluate it on every message)."""
    match node:
        case _Words(words, _) | _Near(words, _, _, _):
            return frozenset({("word", max(words, key=len))})
        case _Prefix(exact, last, _):
            return frozenset({("word", max(exact, key=len))}) if exact else frozenset({("prefix", last)})
        case _All(items):
            known = [anchors for anchors in map(_anchors, items) if anchors is not None]
            return min(known, key=len) if known else None
        case _Any(items):
            every: set[Anchor] = set()
            for anchors in map(_anchors, items):
                if anchors is None:
                    return None
                every |= anchors
            return frozenset(every)
    return None


# --- evaluation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Subject:
    """A text as the regular expressions read it: composed (NFC, as the query terms' words are),
    lone surrogates replaced; ``first``/``last`` map each of its characters back onto the text
    as said (``None``: the same offsets)."""

    text: str
    first: list[int] | None = None
    last: list[int] | None = None

    def span(self, start: int, end: int) -> tuple[int, int]:
        if self.first is None or self.last is None:
            return start, end
        return self.first[start], self.last[end - 1]


def _subject(said: str) -> _Subject:
    encodable = _encodable(said)
    mapped = nfc_spans(encodable)
    return _Subject(encodable) if mapped is None else _Subject(*mapped)


def _subjects(message: Message) -> dict[Literal["text", "attachment"], _Subject]:
    found: dict[Literal["text", "attachment"], _Subject] = {}
    if message.text:
        found["text"] = _subject(message.text)
    if message.attachment:
        found["attachment"] = _subject(message.attachment)
    return found


class _Context:
    """One message being judged: its fields analysed once, and every word they hold (so that a
    word condition whose first word is absent is rejected without looking at positions)."""

    __slots__ = ("analysed", "message", "subjects", "words")

    def __init__(
        self,
        message: Message,
        analysed: dict[FieldName, Analysed],
        subjects: dict[Literal["text", "attachment"], _Subject],
    ) -> None:
        self.message = message
        self.analysed = analysed
        self.subjects = subjects
        self.words: set[str | None] = set().union(*(fields.terms for fields in analysed.values()))


def _occurrences(analysed: Analysed, words: tuple[str, ...]) -> list[tuple[int, int]]:
    starts = analysed.positions.get(words[0])
    if not starts:
        return []
    if len(words) == 1:
        return [(position, position) for position in starts]
    terms, width = analysed.terms, len(words)
    return [(p, p + width - 1) for p in starts if tuple(terms[p : p + width]) == words]


def _prefixed(analysed: Analysed, exact: tuple[str, ...], last: str) -> list[tuple[int, int]]:
    terms = analysed.terms
    if not exact:
        return [(p, p) for p, term in enumerate(terms) if term is not None and term.startswith(last)]
    found = []
    for first, end in _occurrences(analysed, exact):
        following = terms[end + 1] if end + 1 < len(terms) else None
        if following is not None and following.startswith(last):
            found.append((first, end + 1))
    return found


def _near(analysed: Analysed, node: _Near) -> list[tuple[int, int]]:
    """Each pair of a left and a right occurrence at most ``distance`` positions apart, either
    order (the first :data:`MAX_MATCHES_PER_TERM`): for each left occurrence, the right ones in
    reach are found by bisection, so a long attachment full of both words costs no more than
    the listed matches."""
    lefts = _occurrences(analysed, node.left)
    rights = _occurrences(analysed, node.right) if lefts else []
    if not rights:
        return []
    right_firsts = [first for first, _ in rights]
    right_lasts = [last for _, last in rights]  # ascending too: occurrences have one width
    found: list[tuple[int, int]] = []
    for left_first, left_last in lefts:
        if len(found) >= MAX_MATCHES_PER_TERM:
            break
        # Right after left: right_first in (left_last, left_last + distance].
        begin = bisect_right(right_firsts, left_last)
        end = bisect_right(right_firsts, left_last + node.distance)
        found += [(left_first, right_lasts[index]) for index in range(begin, end)]
        if node.left == node.right:
            continue  # the same words on both sides: "before" is "after" seen from the other one
        # Right before left: right_last in [left_first - distance, left_first).
        begin = bisect_left(right_lasts, left_first - node.distance)
        end = bisect_left(right_lasts, left_first)
        found += [(right_firsts[index], left_last) for index in range(begin, end)]
    return sorted(set(found))[:MAX_MATCHES_PER_TERM]


def _in_fields(context: _Context, fields: tuple[FieldName, ...], node: _Words | _Prefix | _Near) -> list[Hit]:
    hits: list[Hit] = []
    for name in fields:
        analysed = context.analysed.get(name)
        if analysed is None:
            continue
        match node:
            case _Words(words, _):
                found = _occurrences(analysed, words)
            case _Prefix(exact, last, _):
                found = _prefixed(analysed, exact, last)
            case _Near():
                found = _near(analysed, node)
        hits += [(name, first, last) for first, last in found[:MAX_MATCHES_PER_TERM]]
    return hits


def _check(message: Message, node: _Check) -> bool:
    match node.field:
        case "from":
            return any(fold_keyword(key) in node.keys for key in message.sender_keys)
        case "in":
            return any(fold_keyword(key) in node.keys for key in message.room_keys)
        case "mentions":
            return any(fold_keyword(key) in node.keys for key in message.mentions)
        case "hashtag":
            return any(fold_keyword(key) in node.keys for key in message.hashtags)
        case "filetype":
            return any(filetype_key(key) in node.keys for key in message.file_types)
        case "has":
            return message.has_file
        case "type":
            return message.event_type in node.keys
    return False


def _evaluate(node: _Node, context: _Context) -> list[Hit] | None:
    """The hits of ``node`` in the message, or ``None`` when it does not match (a match without
    hits, such as a filter's, is an empty list)."""
    match node:
        case _Words(words, fields):
            return _in_fields(context, fields, node) or None if words[0] in context.words else None
        case _Near(left, right, _, fields):
            if left[0] not in context.words or right[0] not in context.words:
                return None
            return _in_fields(context, fields, node) or None
        case _Prefix(exact, _, fields):
            if exact and exact[0] not in context.words:
                return None
            return _in_fields(context, fields, node) or None
        case _Check():
            return [] if _check(context.message, node) else None
        case _Not(item):
            return None if _evaluate(item, context) is not None else []
        case _All(items):
            hits: list[Hit] = []
            for item in items:
                found = _evaluate(item, context)
                if found is None:
                    return None
                hits += found
            return hits
        case _Any(items):
            matched = False
            hits = []
            for item in items:
                found = _evaluate(item, context)
                if found is not None:
                    matched = True
                    hits += found
            return hits if matched else None
        case _Regex(pattern):
            hits = []
            for name, subject in context.subjects.items():
                listed = 0
                for match in pattern.finditer(subject.text):
                    if match.end() > match.start():  # empty matches are not listed, nor counted
                        hits.append((name, *subject.span(match.start(), match.end())))
                        listed += 1
                        if listed >= MAX_MATCHES_PER_TERM:
                            break
            return hits or None
    return None


@dataclass(frozen=True)
class _Compiled:
    policy: str
    term_id: str | None
    """``None``: an exclusion."""
    node: _Node
    regex: bool = False
    posts_only: bool = False
    """A term of filters alone (no word, no ``type:``/``has:``): as in search, it finds posts
    only. Never an exclusion: ``in:newsletters`` excludes the files posted there too."""


def _query(policy: str, term_id: str | None, expression: str) -> _Compiled:
    tree = parse_query(expression)
    posts_only = term_id is not None and not searches_words(tree) and not _names_a_type(tree)
    return _Compiled(policy, term_id, _compile_node(tree), posts_only=posts_only)


def _names_a_type(node: Node) -> bool:
    match node:
        case Filter("type", _) | Filter("has", _):
            return True
        case Not(item) | Current(item) | Within(_, item):
            return _names_a_type(item)
        case And(items) | Or(items):
            return any(_names_a_type(item) for item in items)
    return False


@dataclass
class _Index:
    words: dict[str, list[int]] = field(default_factory=dict)
    prefixes: dict[str, list[int]] = field(default_factory=dict)
    prefix_steps: set[str] = field(default_factory=set)
    """Every leading part of every prefix: a word's walk stops at the first part not in it."""
    always: list[int] = field(default_factory=list)


class LexiconSet:
    """Every active policy's lexicon, compiled into one structure."""

    _WORD_CACHE_LIMIT: Final = 200_000

    def __init__(self, compiled: list[_Compiled], index: _Index, regex_set: re2.Set | None, regexes: list[int]) -> None:
        self._compiled = compiled
        self._index = index
        self._regex_set = regex_set
        self._regexes = regexes
        self._by_word: dict[str | None, tuple[int, ...]] = {None: ()}
        """The terms each word of the traffic may match (``None``: a token too long to index)."""

    @classmethod
    def compile(cls, lexicons: Mapping[str, PolicyLexicon]) -> LexiconSet:
        """Compile every policy's lexicon (keys: policy ids); :class:`LexiconError` names the
        first term that cannot be."""
        compiled: list[_Compiled] = []
        for policy, lexicon in lexicons.items():
            compiled += _compile_policy(lexicon, policy)
        program = sum(entry.node.pattern.programsize for entry in compiled if isinstance(entry.node, _Regex))
        if program > SET_MAX_PROGRAM:
            raise LexiconError(
                f"the regular expressions of all {len(lexicons)} lexicons take {program:,} RE2 instructions "
                f"together, more than the {SET_MAX_PROGRAM:,} they may: disable a policy or simplify its "
                "regular expressions"
            )
        index = _Index()
        regexes: list[int] = []
        for number, entry in enumerate(compiled):
            if entry.regex:
                regexes.append(number)
                continue
            anchors = _anchors(entry.node)
            if anchors is None:
                index.always.append(number)
            for kind, word in anchors or ():
                if kind == "word":
                    index.words.setdefault(word, []).append(number)
                else:
                    index.prefixes.setdefault(word, []).append(number)
                    index.prefix_steps.update(word[:length] for length in range(1, len(word) + 1))
        return cls(compiled, index, _regex_set([compiled[n] for n in regexes]), regexes)

    def _candidates_of(self, word: str | None) -> tuple[int, ...]:
        if word is None:
            return ()
        if len(self._by_word) >= self._WORD_CACHE_LIMIT:
            self._by_word.clear()
            self._by_word[None] = ()
        found = list(self._index.words.get(word, ()))
        steps, prefixes = self._index.prefix_steps, self._index.prefixes
        for length in range(1, len(word) + 1):
            part = word[:length]
            if part not in steps:
                break
            found += prefixes.get(part, ())
        candidates = tuple(sorted(set(found)))
        self._by_word[word] = candidates
        return candidates

    def verdicts(self, message: Message) -> dict[str, Verdict]:
        """The verdict of every policy with a match or an exclusion (keys: policy ids)."""
        analysed: dict[FieldName, Analysed] = {}
        if message.text:
            analysed["text"] = analyse(message.text)
        if message.attachment:
            analysed["attachment"] = analyse(message.attachment)
        if message.file_name:
            analysed["file_name"] = analyse(message.file_name)
        candidates: set[int] = set(self._index.always)
        by_word = self._by_word
        for fields in analysed.values():
            found: list[tuple[int, ...] | None] = list(map(by_word.get, fields.terms))
            if None in found:  # words not seen before
                found = [
                    known if known is not None else self._candidates_of(word)
                    for word, known in zip(fields.terms, found, strict=True)
                ]
            candidates.update(chain.from_iterable(cast("list[tuple[int, ...]]", found)))
        subjects = _subjects(message) if self._regexes else {}
        if self._regexes:
            candidates.update(self._screened(subjects))
        if not candidates:
            return {}
        context = _Context(message, analysed, subjects)
        matches: dict[str, list[TermMatch]] = {}
        excluded: set[str] = set()
        for number in sorted(candidates):
            entry = self._compiled[number]
            if entry.posts_only and message.event_type != "post":
                continue
            hits = _evaluate(entry.node, context)
            if hits is None:
                continue
            if entry.term_id is None:
                excluded.add(entry.policy)
            else:
                matches.setdefault(entry.policy, []).extend(_term_matches(entry, hits, context))
        return {
            policy: Verdict(matches=tuple(matches.get(policy, ())), excluded=policy in excluded)
            for policy in dict.fromkeys([*matches, *excluded])
        }

    def _screened(self, subjects: Mapping[Literal["text", "attachment"], _Subject]) -> Iterable[int]:
        if self._regex_set is None:
            return self._regexes
        found: set[int] = set()
        for subject in subjects.values():
            # The stubs say bool; RE2 gives the indices of the expressions found, or None.
            found.update(cast("list[int] | None", self._regex_set.Match(subject.text)) or ())
        return [self._regexes[index] for index in found]


_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def _encodable(text: str) -> str:
    """``text`` with lone surrogates (which the event contract lets through and UTF-8 cannot
    encode) as U+FFFD, for RE2; the same length, so offsets are unchanged."""
    return text if text.isascii() or _SURROGATE.search(text) is None else _SURROGATE.sub("\ufffd", text)


def _term_matches(entry: _Compiled, hits: list[Hit], context: _Context) -> list[TermMatch]:
    term_id = entry.term_id or ""
    spans: dict[tuple[Literal["text", "attachment"], int, int], None] = {}
    for name, first, last in hits:
        if name == "file_name":
            continue
        if entry.regex:
            spans[(name, first, last)] = None
        else:
            start, end = context.analysed[name].span(first, last)
            spans[(name, start, end)] = None
    if not spans:
        return [TermMatch(term_id=term_id, field="text", start=0, end=0, matched="")]
    found = []
    for name, start, end in sorted(spans, key=lambda span: (span[0] != "text", span[1], span[2])):
        said = context.message.text if name == "text" else context.message.attachment
        found.append(TermMatch(term_id=term_id, field=name, start=start, end=end, matched=said[start:end][:1_000]))
    return found


def _regex_set(entries: list[_Compiled]) -> re2.Set | None:
    if not entries:
        return None
    screen = re2.Set.SearchSet(_regex_options(REGEX_SET_MAX_MEM))
    for entry in entries:
        assert isinstance(entry.node, _Regex)
        screen.Add(entry.node.pattern.pattern)
    try:
        screen.Compile()
    except re2.error:
        return None
    return screen


def _where(policy: str | None, what: str) -> str:
    return f"policy {policy!r}, {what}" if policy is not None else what


def _compile_policy(lexicon: PolicyLexicon, policy: str | None) -> list[_Compiled]:
    compiled: list[_Compiled] = []
    seen: set[str] = set()
    key = policy or ""
    program = 0
    for term in lexicon.terms:
        if term.id in seen:
            raise LexiconError(_where(policy, f"term {term.id!r}: the id is used by another term of the lexicon"))
        seen.add(term.id)
        if lexicon.languages and term.language is not None and term.language not in lexicon.languages:
            continue
        try:
            if term.kind == "regex":
                pattern = _regex(term.expression)
                program += pattern.programsize
                if program > LEXICON_MAX_PROGRAM:
                    raise _Refusal(
                        f"the lexicon's regular expressions take {program:,} RE2 instructions with this one "
                        f"({pattern.programsize:,} for it), more than the {LEXICON_MAX_PROGRAM:,} one lexicon "
                        "may take together: remove some, or make them simpler (fewer or shorter repetitions "
                        "such as {400}, fewer character classes)"
                    )
                compiled.append(_Compiled(key, term.id, _Regex(pattern), regex=True))
            else:
                compiled.append(_query(key, term.id, term.expression))
        except (QuerySyntaxError, _Refusal) as error:
            raise LexiconError(_where(policy, f"term {term.id!r}: {error}")) from None
    for number, exclusion in enumerate(lexicon.exclusions, start=1):
        try:
            compiled.append(_query(key, None, exclusion))
        except (QuerySyntaxError, _Refusal) as error:
            raise LexiconError(_where(policy, f"exclusion {number} ({exclusion!r}): {error}")) from None
    return compiled


def check_lexicon(lexicon: PolicyLexicon) -> None:
    """Raise :class:`LexiconError` when a term or an exclusion of ``lexicon`` cannot be compiled
    (the policy editor calls it on save); every term is checked, whatever its language."""
    _compile_policy(PolicyLexicon(lexicon.terms, lexicon.exclusions), None)
