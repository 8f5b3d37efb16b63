"""A slow, obviously-correct evaluator of query trees over messages: the oracle the search
backends' exact hit sets are checked against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from ingest.events import PostEvent
from search import tantivy_schema as fields
from search.memberships import Interval
from search.query_ast import And, Filter, Near, Node, Not, Or, Phrase, Prefix, SentRange, Term


@dataclass(frozen=True)
class Message:
    message_id: str
    tokens: tuple[str, ...]
    mentions: frozenset[str]
    hashtags: frozenset[str]
    sender_id: str
    sender_name: str
    room_id: str
    room_name: str
    sent: datetime


def message_of(post: PostEvent) -> Message:
    text = post.message.text
    return Message(
        message_id=post.message.id,
        tokens=tuple(fields.text_terms(text)),
        mentions=frozenset(fields.fold_keyword(m) for m in post.message.mentions or ()),
        hashtags=frozenset(fields.fold_keyword(h) for h in post.message.hashtags or ()),
        sender_id=post.actor.id,
        sender_name=post.actor.name or "",
        room_id=post.room.id,
        room_name=post.room.name or "",
        sent=post.occurred_at,
    )


def _contains(tokens: tuple[str, ...], words: list[str]) -> bool:
    if not words:
        return False
    width = len(words)
    return any(list(tokens[i : i + width]) == words for i in range(len(tokens) - width + 1))


def _near(tokens: tuple[str, ...], left: list[str], right: list[str], distance: int) -> bool:
    starts_left = [i for i in range(len(tokens)) if _contains(tokens[i : i + len(left)], left)]
    starts_right = [i for i in range(len(tokens)) if _contains(tokens[i : i + len(right)], right)]
    for i in starts_left:
        for j in starts_right:
            left_end, right_end = i + len(left) - 1, j + len(right) - 1
            if left_end < j and j - left_end <= distance:
                return True
            if right_end < i and i - right_end <= distance:
                return True
    return False


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


Memberships = Callable[[str], list[Interval]]


def _participated(value: str, message: Message, memberships: Memberships) -> bool:
    actor = value if value.startswith("user:") else f"user:{value}"
    return any(
        interval.room_id == message.room_id
        and (interval.joined_at is None or interval.joined_at <= message.sent)
        and (interval.left_at is None or message.sent < interval.left_at)
        for interval in memberships(actor)
    )


def matches(node: Node, message: Message, memberships: Memberships = lambda _actor: []) -> bool:
    match node:
        case Filter("participant", value):
            return _participated(value, message, memberships)
        case Term(text) | Phrase(text):
            return _contains(message.tokens, fields.text_terms(text))
        case Prefix(text):
            terms = fields.text_terms(text)
            if not terms:
                return False
            *exact, last = terms
            return any(
                _contains(message.tokens[i : i + len(exact)], exact) if exact else True
                for i in range(len(message.tokens) - len(exact))
                if message.tokens[i + len(exact)].startswith(last)
            )
        case Near(left, right, distance):
            return _near(message.tokens, fields.text_terms(left), fields.text_terms(right), distance)
        case Filter("from", value):
            wanted = {value.casefold(), value.removeprefix("@").casefold()}
            person = {message.sender_id, message.sender_id.removeprefix("user:"), message.sender_name}
            return bool(wanted & {p.casefold() for p in person if p})
        case Filter("in", value):
            wanted = {value.removeprefix("#").casefold(), value.casefold()}
            room = {message.room_id, message.room_id.removeprefix("room:"), message.room_name.removeprefix("#")}
            return bool(wanted & {r.casefold() for r in room if r})
        case Filter("mentions", value):
            return fields.fold_keyword(value) in message.mentions
        case Filter("hashtag", value):
            return fields.fold_keyword(value) in message.hashtags
        case SentRange(start, end):
            after = start is None or message.sent >= _day_start(start)
            before = end is None or message.sent < _day_start(end)
            return after and before
        case Not(item):
            return not matches(item, message, memberships)
        case And(items):
            return all(matches(item, message, memberships) for item in items)
        case Or(items):
            return any(matches(item, message, memberships) for item in items)
    raise ValueError(f"the reference does not evaluate {node!r}")
