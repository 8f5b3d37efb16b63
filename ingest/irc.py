"""Importing IRC channel logs (the ``#ubuntu`` logs of the Ubuntu IRC disentanglement corpus).

Line kinds: ``[HH:MM] <nick> text`` (message), ``[HH:MM] * nick does`` (action, kept as
``/me does``), ``[HH:MM] -nick:#chan- text`` (notice) and ``[HH:MM] (nick/#chan) text``
(relayed message); ``=== nick [user@host]  has joined|left #chan`` and ``has quit`` (a leave of
every room the person is in), ``=== old is now known as new`` (a rename: the person keeps one
``actor.id``), and older logs' ``=== nick does something`` actions. Anything else is counted
as skipped (and reported), never raised; a line with an impossible time (``[25:99]``), one the
event contract refuses (a NUL in the text) or one longer than the limit is rejected by number.

The logs have minutes, not seconds: each event gets the minute of its line plus one
millisecond per earlier event in that minute, so the archive keeps the log's order.

Event ids are derived from the log's name, the SHA-256 of the whole file, the line's number
and the SHA-256 of the line: importing the same file again gives the same ids (nothing
changes), while nobody without the file can compute them beforehand and pre-empt the import
with events of their own under those ids.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ingest.errors import InvalidEvent
from ingest.events import Event, admit_event, derive_mentions
from ingest.producer import Located, Overlong, Rejected, read_lines

IRC_NAMESPACE = uuid.UUID("0f3c9b1e-7d42-4c55-9a8e-2b6f1d0c4e77")

_LOG_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_TIME = r"\[(?P<hh>\d{2}):(?P<mm>\d{2})\] "
# The corpus's tokenizer put a space after "]" inside some nicks ("<[PG] _Sinnlos>"): allowed
# here and removed in _nick().
_MESSAGE = re.compile(_TIME + r"<(?P<nick>[^>\s][^>]*)> ?(?P<text>.*)$")
_ACTION = re.compile(_TIME + r"\s*\* (?P<nick>\S+) ?(?P<text>.*)$")
_NOTICE = re.compile(_TIME + r"-(?P<nick>[^:\s]+):(?P<channel>#\S+?)- ?(?P<text>.*)$")
_RELAYED = re.compile(_TIME + r"\((?P<nick>[^/\s]+)/(?P<channel>#[^)\s]+)\) ?(?P<text>.*)$")
_JOIN = re.compile(r"^=== (?P<nick>\S+) \[[^\]]*\]\s+has joined (?P<channel>#\S+)")
_LEAVE = re.compile(r"^=== (?P<nick>\S+) \[[^\]]*\]\s+has left (?P<channel>#\S+)")
_QUIT = re.compile(r"^=== (?P<nick>\S+) \[[^\]]*\]\s+has quit")
_RENAME = re.compile(r"^=== (?P<old>\S+) is now known as (?P<new>\S+)\s*$")
_OLD_ACTION = re.compile(r"^=== (?P<nick>\S+) (?P<text>\S.*)$")
_ADDRESSED = re.compile(r"^(?P<nick>[^\s:,]+)[:,](?:\s|$)")


def date_from_log_name(name: str) -> date:
    """The log's date from its file name (``2004-11-15_03.raw.txt`` -> 2004-11-15)."""
    match = _LOG_DATE.match(Path(name).name)
    if match is None:
        raise ValueError(f"{name}: an IRC log's file name must start with its date, like 2004-11-15_03.raw.txt")
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def log_stem(name: str) -> str:
    return Path(name).name.split(".")[0]


@dataclass
class IrcImportStats:
    lines: int = 0
    events: int = 0
    renames: int = 0
    skipped: int = 0
    """Lines of no kind the importer knows (counted, not imported)."""
    rejected: int = 0
    """Lines of a known kind that could not be imported (a bad time, an invalid event, too long)."""
    first_skipped: list[int] = field(default_factory=list)
    """The numbers (from 1) of the first few skipped lines, to show where they are."""


class _BadLine(ValueError):
    """A line of a known kind that cannot become an event: rejected with this reason."""


SHOWN_SKIPPED = 5


@dataclass
class _Clock:
    """Minutes from the log, milliseconds from the order of events within a minute."""

    day: date
    minute: int = -1
    within: int = 0
    last: datetime | None = None

    def at(self, hh: int | None, mm: int | None) -> datetime:
        if hh is not None and mm is not None:
            if hh > 23 or mm > 59:
                raise _BadLine(f"[{hh:02d}:{mm:02d}] is not a time of day")
            minute = hh * 60 + mm
            if minute != self.minute:
                if minute < self.minute:
                    self.day += timedelta(days=1)  # the log ran past midnight
                self.minute, self.within = minute, 0
        base = datetime.combine(self.day, time(tzinfo=UTC)) + timedelta(minutes=max(self.minute, 0))
        stamp = base + timedelta(milliseconds=min(self.within, 59_999))
        if self.last is not None and stamp <= self.last:
            stamp = self.last + timedelta(milliseconds=1)  # never go back, whatever the log says
        self.within += 1
        self.last = stamp
        return stamp


@dataclass
class IrcLogParser:
    """Turns the lines of one log into events; ``stats`` counts what was read and skipped."""

    log_name: str
    log_date: date
    file_sha256: str
    """The SHA-256 (hex) of the whole log: part of every event id (see the module doc)."""
    default_room: str = "#ubuntu"
    server: str = "irc.freenode.net"
    stats: IrcImportStats = field(default_factory=IrcImportStats)
    _person: dict[str, str] = field(default_factory=dict)
    """Current nick -> stable actor id."""
    _rooms: dict[str, set[str]] = field(default_factory=dict)
    """Channel -> actor ids present."""
    _line_sha256: str = ""
    """Of the line being parsed: part of its events' ids."""

    def events(self, lines: Iterable[str]) -> Iterator[Event]:
        """The events of ``lines``; rejected lines are only counted (see :meth:`items`)."""
        for item in self.items(lines):
            if isinstance(item, Located):
                yield item.event

    def items(self, lines: Iterable[str | Overlong]) -> Iterator[Located | Rejected]:
        """Each event with its ``log:line``, and each line that cannot be imported with why."""
        clock = _Clock(self.log_date)
        for number, raw in enumerate(lines):
            self.stats.lines += 1
            where = f"{self.log_name}:{number + 1}"
            if isinstance(raw, Overlong):
                self.stats.rejected += 1
                yield Rejected(where, raw.reason())
                continue
            line = raw.rstrip("\r\n")
            self._line_sha256 = hashlib.sha256(line.encode("utf-8", "surrogatepass")).hexdigest()
            renames = self.stats.renames
            try:
                events = [admit_event(payload) for payload in self._parse_line(line, clock, number)]
            except (_BadLine, InvalidEvent) as error:
                self.stats.rejected += 1
                yield Rejected(where, error.reason if isinstance(error, InvalidEvent) else str(error))
                continue
            for event in events:
                self.stats.events += 1
                yield Located(event, where)
            if not events and line.strip() and self.stats.renames == renames:
                self.stats.skipped += 1
                if len(self.stats.first_skipped) < SHOWN_SKIPPED:
                    self.stats.first_skipped.append(number + 1)

    def _parse_line(self, line: str, clock: _Clock, number: int) -> list[dict[str, Any]]:
        if line.startswith("["):
            return self._timed(line, clock, number)
        if line.startswith("=== "):
            return self._server_line(line, clock, number)
        return []

    def _timed(self, line: str, clock: _Clock, number: int) -> list[dict[str, Any]]:
        for pattern, prefix in ((_MESSAGE, ""), (_ACTION, "/me "), (_NOTICE, ""), (_RELAYED, "")):
            match = pattern.match(line)
            if match is None:
                continue
            when = clock.at(int(match["hh"]), int(match["mm"]))
            groups = match.groupdict()
            channel = groups.get("channel") or self.default_room
            return [self._post(match["nick"].replace(" ", ""), channel, prefix + match["text"], when, number)]
        return []

    def _server_line(self, line: str, clock: _Clock, number: int) -> list[dict[str, Any]]:
        if match := _JOIN.match(line):
            actor = self._actor_id(match["nick"])
            self._rooms.setdefault(match["channel"], set()).add(actor)
            return [self._common("join", match["nick"], match["channel"], clock.at(None, None), number, 0)]
        if match := _LEAVE.match(line):
            self._rooms.setdefault(match["channel"], set()).discard(self._actor_id(match["nick"]))
            return [self._common("leave", match["nick"], match["channel"], clock.at(None, None), number, 0)]
        if match := _QUIT.match(line):
            return self._quit(match["nick"], clock, number)
        if match := _RENAME.match(line):
            self._rename(match["old"], match["new"])
            return []
        if (match := _OLD_ACTION.match(line)) and self._is_present(match["nick"]):
            return [self._post(match["nick"], self.default_room, "/me " + match["text"], clock.at(None, None), number)]
        return []

    def _quit(self, nick: str, clock: _Clock, number: int) -> list[dict[str, Any]]:
        actor = self._actor_id(nick)
        channels = sorted(c for c, present in self._rooms.items() if actor in present) or [self.default_room]
        when = clock.at(None, None)
        events = []
        for index, channel in enumerate(channels):
            self._rooms.setdefault(channel, set()).discard(actor)
            events.append(self._common("leave", nick, channel, when, number, index))
        return events

    def _rename(self, old: str, new: str) -> None:
        actor = self._actor_id(old)
        self.stats.renames += 1
        self._person.pop(old, None)
        self._person[new] = actor

    def _actor_id(self, nick: str) -> str:
        return self._person.setdefault(nick, f"user:{nick}")

    def _is_present(self, nick: str) -> bool:
        actor = self._person.get(nick)
        return actor is not None and any(actor in present for present in self._rooms.values())

    def _common(self, kind: str, nick: str, channel: str, when: datetime, number: int, index: int) -> dict[str, Any]:
        name = f"{self.log_name}:{self.file_sha256}:{number}:{index}:{self._line_sha256}"
        return {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(IRC_NAMESPACE, name)),
            "type": kind,
            "occurred_at": when.isoformat(),
            "room": {"id": f"room:{channel.lstrip('#').lower()}", "name": channel, "kind": "room"},
            "actor": {"id": self._actor_id(nick), "name": nick},
            "source": {"server": self.server},
        }

    def _post(self, nick: str, channel: str, text: str, when: datetime, number: int) -> dict[str, Any]:
        # Whoever speaks in a channel is in it, even if the log began after they joined.
        self._rooms.setdefault(channel, set()).add(self._actor_id(nick))
        payload = self._common("post", nick, channel, when, number, 0)
        payload["message"] = {
            "id": f"msg:irc:{log_stem(self.log_name)}:{number}",
            "text": text,
            "mentions": self._mentions(text),
        }
        return payload

    def _mentions(self, text: str) -> list[str]:
        """``nick: ...`` addressing someone known, plus any ``@nick`` in the text."""
        mentioned = list(derive_mentions(text))
        addressed = _ADDRESSED.match(text)
        if addressed and addressed["nick"] in self._person and addressed["nick"] not in mentioned:
            mentioned.insert(0, addressed["nick"])
        return mentioned


def parse_irc_log(
    lines: Iterable[str],
    *,
    log_name: str,
    log_date: date | None = None,
    file_sha256: str | None = None,
    default_room: str = "#ubuntu",
    server: str = "irc.freenode.net",
) -> Iterator[Event]:
    """Events from the lines of one log (pure: no file access). Without ``file_sha256`` the
    lines are taken whole first, to hash them as the file would be."""
    if file_sha256 is None:
        lines = list(lines)
        file_sha256 = hashlib.sha256("".join(lines).encode("utf-8", "surrogatepass")).hexdigest()
    parser = IrcLogParser(log_name, log_date or date_from_log_name(log_name), file_sha256, default_room, server)
    return parser.events(lines)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_irc_items(path: Path, stats: IrcImportStats | None = None) -> Iterator[Located | Rejected]:
    """Events (with ``log:line``) and rejected lines from one log file, read a bounded line at a
    time. Invalid UTF-8 bytes (rare in these logs) become U+FFFD; every valid character is kept
    exactly. ``stats``, when given, is filled in as the file is read."""
    parser = IrcLogParser(path.name, date_from_log_name(path.name), file_sha256(path))
    if stats is not None:
        parser.stats = stats
    with path.open("rb") as stream:
        lines = (line if isinstance(line, Overlong) else line.decode("utf-8", "replace") for line in read_lines(stream))
        yield from parser.items(lines)


def read_irc_file(path: Path) -> Iterator[Event]:
    """The events of one log file (see :func:`read_irc_items`); rejected lines are left out."""
    for item in read_irc_items(path):
        if isinstance(item, Located):
            yield item.event


class IrcImporter:
    """``archivist import irc``: the :class:`~ingest.importers.Importer` of IRC logs."""

    name = "irc"
    reads = "IRC logs (*.raw.txt, date in the file name)."
    description = (
        "Import IRC channel logs: messages, actions, joins, leaves, quits and nick changes.\n\n"
        "Lines of no known kind are counted and reported; lines that cannot be imported (an\n"
        "impossible time, an invalid event, a line over the limit) are rejected by FILE:LINE, and a\n"
        "file with nothing to import is an error."
    )

    def __init__(self) -> None:
        self._stats: dict[Path, IrcImportStats] = {}

    def check(self, path: Path) -> None:
        date_from_log_name(path.name)

    def items(self, paths: Iterable[Path]) -> Iterator[Located | Rejected]:
        for path in paths:
            stats = self._stats.setdefault(path, IrcImportStats())
            try:
                yield from read_irc_items(path, stats)
            except OSError as error:
                yield Rejected(path.name, f"cannot read the file: {error.strerror or error}")
                continue
            if stats.events == 0 and stats.rejected == 0:
                found = f"{stats.skipped} lines of no known kind" if stats.skipped else "the file is empty"
                yield Rejected(path.name, f"nothing to import ({found}): is this an IRC log?")

    def notes(self) -> list[str]:
        notes = []
        for path, stats in self._stats.items():
            if stats.skipped:
                lines = ", ".join(str(n) for n in stats.first_skipped)
                more = ", ..." if stats.skipped > len(stats.first_skipped) else ""
                notes.append(
                    f"skipped {stats.skipped} lines of {path.name} of no known kind (not a message, action, notice, "
                    f"join, leave, quit or rename): lines {lines}{more}"
                )
        return notes
