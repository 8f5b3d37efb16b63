"""Seeded synthetic chat traffic: realistic enough for demos, tests and benchmarks.

People join rooms before they speak, read earlier messages, edit and delete their own posts,
share files that others download, mention each other and tag topics; some conversations
are instant messages between two people, and a few participants are external. The same seed
always gives the same events, event ids included, and memory stays flat for any count.
"""

from __future__ import annotations

import hashlib
import random
import unicodedata
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.events import Event, parse_event

DEFAULT_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
_NAMESPACE = uuid.UUID("4b8e2f7a-9c1d-4e5f-8a2b-3c4d5e6f7a8b")

FIRST_NAMES = (
    "Alice",
    "Bob",
    "Carol",
    "Dmitri",
    "Erin",
    "Farah",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Oscar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sven",
    "Tariq",
    "José",
    "Zoë",
    "Søren",
    "Łukasz",
    "Yūki",
    "Chloé",
    "Björn",
    "Ayşe",
    "محمد",
    "דוד",
)
LAST_NAMES = (
    "Smith",
    "Chen",
    "Okafor",
    "Müller",
    "Rossi",
    "Kowalski",
    "Núñez",
    "Tanaka",
    "Haddad",
    "Larsen",
    "Dubois",
    "Ivanova",
    "Patel",
    "García",
    "O'Brien",
    "Nguyen",
    "Fischer",
    "Andersson",
    "Cohen",
    "Silva",
)
ROOM_NAMES = (
    "trading-desk",
    "research",
    "ops",
    "compliance",
    "fx-rates",
    "credit",
    "equities",
    "risk",
    "deal-team",
    "it-support",
    "general",
    "legal",
    "treasury",
    "sales",
    "onboarding",
    "market-data",
)
SUBJECTS = (
    "the EUR/USD position",
    "the Q3 numbers",
    "the bond auction",
    "the client call",
    "the risk report",
    "the settlement break",
    "the new hire onboarding",
    "the audit request",
    "the pricing model",
    "the margin call",
    "the earnings preview",
    "the KYC file",
    "the trade confirmation",
    "the deploy",
)
PHRASES = (
    "can you take a look at {s}?",
    "I'll send over {s} after lunch",
    "did anyone update {s}?",
    "{s} looks off to me, checking",
    "thanks, {s} is sorted",
    "let's discuss {s} at 3pm",
    "moving {s} to tomorrow",
    "who owns {s} this week?",
    "flagging {s} for review",
    "approved {s}",
    "need sign-off on {s} before close",
    "FYI {s} changed overnight",
    "ping me when {s} is ready",
    "re {s}: see the shared drive",
    "great job on {s} 👍",
)
HASHTAGS = ("fx", "q3", "risk", "urgent", "audit", "deploy", "earnings", "kyc", "rates", "ops")
URLS = (
    "https://intranet.example.com/wiki/{n}",
    "https://docs.example.com/d/{n}",
    "http://jira.example.com/browse/OPS-{n}",
)
FILE_TYPES = (
    ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("csv", "text/csv"),
    ("docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
)
# Cumulative weights of what happens next, by kind of step.
_STEPS = (
    ("post", 60),
    ("read", 15),
    ("membership", 10),
    ("edit", 4),
    ("delete", 2),
    ("upload", 3),
    ("download", 2),
    ("disclaimer", 2),
    ("rename", 2),
)
_RECENT = 50


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str
    internal: bool

    def actor(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "email": self.email, "internal": self.internal}


@dataclass
class Conversation:
    id: str
    name: str
    kind: str
    members: set[int] = field(default_factory=set)
    announced: bool = False
    recent_messages: deque[tuple[str, int]] = field(default_factory=lambda: deque(maxlen=_RECENT))
    """(message id, author) of recent live messages."""
    recent_files: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=_RECENT))


def _validate(events: int, rooms: int, users: int) -> None:
    if events < 0:
        raise ValueError(f"events must be 0 or more, got {events}")
    if rooms < 1:
        raise ValueError(f"rooms must be 1 or more, got {rooms}")
    if users < 2:
        raise ValueError(f"users must be 2 or more (conversations need two people), got {users}")


def _people(rng: random.Random, count: int) -> list[Person]:
    people = []
    for index in range(count):
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[(index // len(FIRST_NAMES) + index) % len(LAST_NAMES)]
        handle = f"{_ascii(first, index)}.{_ascii(last, index)}{index // (len(FIRST_NAMES) * len(LAST_NAMES)) or ''}"
        handle = handle.lower()
        internal = rng.random() >= 0.05
        domain = "example.com" if internal else "partner.example.org"
        people.append(Person(f"user:{handle}", f"{first} {last}", f"{handle}@{domain}", internal))
    return people


def _ascii(name: str, index: int) -> str:
    """An e-mail-safe handle: accents dropped (José -> jose); other scripts get a numbered one."""
    decomposed = unicodedata.normalize("NFKD", name)
    cleaned = "".join(ch for ch in decomposed if ch.isascii() and ch.isalnum())
    return cleaned or f"p{index}"


def _conversations(rng: random.Random, rooms: int, users: int) -> list[Conversation]:
    conversations = []
    for index in range(rooms):
        base = ROOM_NAMES[index % len(ROOM_NAMES)]
        slug = base if index < len(ROOM_NAMES) else f"{base}-{index // len(ROOM_NAMES) + 1}"
        conversations.append(Conversation(f"room:{slug}", f"#{slug}", "room"))
    for _ in range(max(1, rooms // 3)):
        a, b = rng.sample(range(users), 2)
        conversations.append(Conversation(f"im:{min(a, b)}:{max(a, b)}", "", "im", members={a, b}, announced=True))
    return conversations


class _Simulator:
    def __init__(self, *, rooms: int, users: int, seed: int, start: datetime) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.people = _people(self.rng, users)
        self.conversations = _conversations(self.rng, rooms, users)
        self.now = start
        self.serial = 0
        self.messages = 0
        self.nicknames: dict[int, str] = {}

    def events(self, count: int) -> Iterator[Event]:
        produced = 0
        while produced < count:
            for payload in self._step():
                yield parse_event(payload)
                produced += 1
                if produced == count:
                    return

    def _step(self) -> list[dict[str, Any]]:
        self._advance_clock()
        room = self.rng.choice(self.conversations)
        if not room.announced:
            room.announced = True
            return [
                self._event(
                    room,
                    self.rng.randrange(len(self.people)),
                    "room_update",
                    room_update={"name": room.name, "description": f"{room.name[1:]} discussions", "created": True},
                )
            ]
        if len(room.members) < 2:
            return [self._join(room)]
        kind = self._choose_step()
        return getattr(self, f"_{kind}")(room)  # type: ignore[no-any-return]

    def _choose_step(self) -> str:
        roll = self.rng.randrange(sum(weight for _, weight in _STEPS))
        for kind, weight in _STEPS:
            if roll < weight:
                return kind
            roll -= weight
        return "post"

    def _advance_clock(self) -> None:
        hour = self.now.hour
        busy = 8 <= hour < 18 and self.now.weekday() < 5
        self.now += timedelta(milliseconds=self.rng.randint(200, 20_000 if busy else 240_000))

    def _actor(self, person: int) -> dict[str, Any]:
        actor = self.people[person].actor()
        if person in self.nicknames:
            actor["name"] = self.nicknames[person]
        return actor

    def _recipients(self, room: Conversation, author: int) -> dict[str, Any]:
        """A direct message names who it is sent to (the other members); a room's posts do not."""
        if room.kind != "im":
            return {}
        return {"recipients": [self._actor(m) for m in sorted(room.members) if m != author]}

    def _event(self, room: Conversation, person: int, kind: str, **fields: Any) -> dict[str, Any]:
        self.serial += 1
        actor = self._actor(person)
        return {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(_NAMESPACE, f"{self.seed}:{self.serial}")),
            "type": kind,
            "occurred_at": self.now.isoformat(),
            "room": {"id": room.id, "name": room.name or None, "kind": room.kind},
            "actor": actor,
            "source": {"server": "pchat01.example.com"},
            **fields,
        }

    def _member(self, room: Conversation) -> int:
        return self.rng.choice(sorted(room.members))

    def _join(self, room: Conversation) -> dict[str, Any]:
        outsiders = [p for p in range(len(self.people)) if p not in room.members]
        person = self.rng.choice(outsiders)
        room.members.add(person)
        return self._event(room, person, "join")

    def _membership(self, room: Conversation) -> list[dict[str, Any]]:
        if room.kind == "im":
            return self._post(room)
        if len(room.members) > 3 and self.rng.random() < 0.4:
            person = self._member(room)
            room.members.discard(person)
            return [self._event(room, person, "leave")]
        if len(room.members) < len(self.people):
            return [self._join(room)]
        return self._post(room)

    def _post(self, room: Conversation) -> list[dict[str, Any]]:
        author = self._member(room)
        text = self.rng.choice(PHRASES).format(s=self.rng.choice(SUBJECTS))
        others = [m for m in room.members if m != author]
        if others and self.rng.random() < 0.2:
            mentioned = self.people[self.rng.choice(others)].email.split("@")[0]
            text = f"@{mentioned} {text}"
        if self.rng.random() < 0.15:
            text += f" #{self.rng.choice(HASHTAGS)}"
        if self.rng.random() < 0.08:
            text += " " + self.rng.choice(URLS).format(n=self.rng.randint(100, 9999))
        self.messages += 1
        message_id = f"msg:sim:{self.seed}:{self.messages}"
        room.recent_messages.append((message_id, author))
        recipients = self._recipients(room, author)
        return [self._event(room, author, "post", message={"id": message_id, "text": text}, **recipients)]

    def _read(self, room: Conversation) -> list[dict[str, Any]]:
        if not room.recent_messages:
            return self._post(room)
        message_id, author = self.rng.choice(room.recent_messages)
        readers = [m for m in room.members if m != author] or [author]
        return [self._event(room, self.rng.choice(readers), "read", read={"message_id": message_id})]

    def _own_recent(self, room: Conversation) -> tuple[str, int] | None:
        if not room.recent_messages:
            return None
        message_id, author = self.rng.choice(room.recent_messages)
        return (message_id, author) if author in room.members else None

    def _edit(self, room: Conversation) -> list[dict[str, Any]]:
        target = self._own_recent(room)
        if target is None:
            return self._post(room)
        message_id, author = target
        text = "correction: " + self.rng.choice(PHRASES).format(s=self.rng.choice(SUBJECTS))
        return [self._event(room, author, "edit", message={"id": message_id, "text": text})]

    def _delete(self, room: Conversation) -> list[dict[str, Any]]:
        target = self._own_recent(room)
        if target is None:
            return self._post(room)
        room.recent_messages.remove(target)
        return [self._event(room, target[1], "delete", message={"id": target[0]})]

    def _upload(self, room: Conversation) -> list[dict[str, Any]]:
        extension, content_type = self.rng.choice(FILE_TYPES)
        subject = self.rng.choice(SUBJECTS).removeprefix("the ").replace(" ", "_").replace("/", "-")
        name = f"{subject}_{self.rng.randint(1, 99)}.{extension}"
        digest = hashlib.sha256(f"{self.seed}:{self.serial}:{name}".encode()).hexdigest()
        info = {
            "name": name,
            "size": self.rng.randint(2_000, 25_000_000),
            "sha256": digest,
            "content_type": content_type,
            "url": f"https://files.example.com/{digest[:16]}/{name}",
        }
        room.recent_files.append(info)
        uploader = self._member(room)
        return [self._event(room, uploader, "file_upload", file=info, **self._recipients(room, uploader))]

    def _download(self, room: Conversation) -> list[dict[str, Any]]:
        if not room.recent_files:
            return self._upload(room)
        return [self._event(room, self._member(room), "file_download", file=self.rng.choice(room.recent_files))]

    def _disclaimer(self, room: Conversation) -> list[dict[str, Any]]:
        person = self._member(room)
        locale = "de-DE" if self.rng.random() < 0.2 else "en-GB"
        text = "Diese Unterhaltung wird aufgezeichnet." if locale == "de-DE" else "This conversation is recorded."
        disclaimer = {"rule_id": "record-notice", "version": 1, "locale": locale, "text": text}
        return [self._event(room, person, "disclaimer", disclaimer=disclaimer)]

    def _rename(self, room: Conversation) -> list[dict[str, Any]]:
        person = self._member(room)
        self.nicknames[person] = f"{self.people[person].name.split()[0]} ({self.rng.choice(('OOO', 'remote', 'NY'))})"
        return self._post(room)


def simulate_events(
    *, events: int, rooms: int = 10, users: int = 50, seed: int = 0, start: datetime | None = None
) -> Iterator[Event]:
    """``events`` realistic events in time order; the same arguments always give the same events."""
    _validate(events, rooms, users)
    simulator = _Simulator(rooms=rooms, users=users, seed=seed, start=start or DEFAULT_START)
    return simulator.events(events)
