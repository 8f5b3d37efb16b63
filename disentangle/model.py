"""The interface of a disentangler and the small model behind it.

A room's messages arrive in time order. For each new message the disentangler names the earlier
message it answers (its parent) or says it starts a thread; it may look back at most ``window``
messages of the same room, which the caller hands in as ``history``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Utterance:
    """One message of a room as the disentangler sees it."""

    id: str
    author: str
    """The name the room shows (an IRC nick): people address each other by it."""
    text: str
    at: float
    """Seconds on any fixed scale (POSIX time): only differences are used."""
    action: bool = False
    """A ``/me`` line."""


@dataclass(frozen=True, slots=True)
class Link:
    id: str
    parent: str | None
    """The message it answers; None: it starts a thread."""
    score: float


class Disentangler(Protocol):
    name: str
    window: int

    def links(self, history: Sequence[Utterance], new: Sequence[Utterance]) -> list[Link]:
        """One link per message of ``new`` (in order); ``history`` is the room's messages before
        them (at most ``window``, oldest first)."""
        ...


_ADDRESS = re.compile(r"^\s*([^\s:,]+)\s*[:,]")


class AddressedNick:
    """A message addressed to someone (``nick: ...``) answers that person's last message; any
    other starts a thread."""

    name = "addressed-nick"
    window = 100

    def links(self, history: Sequence[Utterance], new: Sequence[Utterance]) -> list[Link]:
        seen = list(history[-self.window :])
        out: list[Link] = []
        for utterance in new:
            parent: str | None = None
            match = _ADDRESS.match(utterance.text)
            if match:
                nick = match.group(1).casefold()
                for earlier in reversed(seen[-self.window :]):
                    if earlier.author.casefold() == nick:
                        parent = earlier.id
                        break
            out.append(Link(utterance.id, parent, 1.0 if parent else 0.0))
            seen.append(utterance)
        return out


def default_disentangler() -> Disentangler:
    """The model the ``threads`` adapter runs."""
    return AddressedNick()
