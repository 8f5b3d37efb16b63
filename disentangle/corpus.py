"""A reader of the Ubuntu IRC disentanglement corpus (Kummerfeld et al., "A Large-Scale Corpus
for Conversation Disentanglement", ACL 2019, https://jkk.name/irc-disentanglement/; data CC BY
4.0, Ubuntu channel logs public domain).

A log is a pair of files: ``NAME.raw.txt`` (the channel log, one line each) and
``NAME.annotation.txt`` (reply links, ``a b -`` per line). Line numbers are 0-based over ALL
lines of the raw file, joins and quits included. A link joins the larger number (the later line,
the one that answers) to the smaller (the line it answers); a line linked to itself starts a
conversation. This is how the corpus' own evaluation tool reads them (``tools/evaluation/
graph-eval.py``: ``source = max(nums)``). The annotations cover the lines from the first
annotated one (1,000 in every file) to the end; earlier lines are context.

Raw lines are ``[HH:MM] <nick> text`` (a message), ``[HH:MM] * nick text`` (an action, /me),
``[HH:MM] (nick/#chan) text`` or ``[HH:MM] -nick:#chan- text`` (rarer relays and notices, read
as messages) and ``=== ...`` (system lines: joins, leaves, quits, nick changes, notices). The log
keeps minutes only; a system line has no time of its own and takes the previous line's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = [
    "Kind",
    "Line",
    "Log",
    "parse_annotation",
    "parse_lines",
    "read_log",
    "read_split",
]


class Kind(StrEnum):
    MESSAGE = "message"
    ACTION = "action"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Line:
    index: int
    kind: Kind
    author: str
    """The speaker's nick (a system line: the nick it is about, or an empty string)."""
    text: str
    minute: int
    """Minutes since midnight of the log's first day (the clock wraps past midnight)."""


@dataclass(frozen=True, slots=True)
class Log:
    name: str
    lines: tuple[Line, ...]
    links: frozenset[tuple[int, int]]
    """(line, the line it answers); (i, i) starts a conversation."""

    @property
    def annotated(self) -> list[int]:
        """The lines the annotation covers (every line that is the later end of a link)."""
        return sorted({child for child, _ in self.links})


_TIMED = re.compile(r"^\[(\d{1,2}):(\d{2})\]\s?(.*)$")
_MESSAGE = re.compile(r"^<([^>]*)>\s?(.*)$")
_ACTION = re.compile(r"^\*\s+(\S+)\s?(.*)$")
_RELAY = re.compile(r"^\(([^/)\s]+)(?:/[^)]*)?\)\s?(.*)$")
_NOTICE = re.compile(r"^-([^:\s-]+)(?::[^-\s]*)?-\s?(.*)$")
_SYSTEM_NICK = re.compile(r"^===\s+(\S+)")
_RENAMED = re.compile(r"^===\s+\S+\s+is now known as\s+(\S+)")


def _timed(rest: str) -> tuple[Kind, str, str]:
    for pattern, kind in ((_MESSAGE, Kind.MESSAGE), (_ACTION, Kind.ACTION)):
        match = pattern.match(rest)
        if match:
            return kind, match.group(1), match.group(2)
    for pattern in (_RELAY, _NOTICE):
        match = pattern.match(rest)
        if match:
            return Kind.MESSAGE, match.group(1), match.group(2)
    head, _, text = rest.partition(" ")
    return Kind.MESSAGE, head.strip("<>()[]-:*"), text


def parse_lines(text: str) -> list[Line]:
    """The lines of a raw log file, in order (an empty last line dropped)."""
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()
    lines: list[Line] = []
    day = 0
    last_of_day = -1
    minute = 0
    for index, row in enumerate(raw):
        row = row.rstrip("\r")
        timed = _TIMED.match(row)
        if timed:
            of_day = int(timed.group(1)) * 60 + int(timed.group(2))
            if of_day < last_of_day:
                day += 1
            last_of_day = of_day
            minute = day * 1440 + of_day
            kind, author, body = _timed(timed.group(3))
            lines.append(Line(index, kind, author, body, minute))
            continue
        renamed = _RENAMED.match(row)
        nick = renamed or _SYSTEM_NICK.match(row)
        author = nick.group(1) if nick else ""
        lines.append(Line(index, Kind.SYSTEM, author, row, minute))
    return lines


def parse_annotation(text: str) -> frozenset[tuple[int, int]]:
    """``a b -`` lines as (later, earlier) pairs; blank lines skipped."""
    links: set[tuple[int, int]] = set()
    for number, row in enumerate(text.splitlines(), start=1):
        fields = [field for field in row.split() if field != "-"]
        if not fields:
            continue
        try:
            values = [int(field) for field in fields]
        except ValueError:
            raise ValueError(f"annotation line {number}: not line numbers: {row!r}") from None
        later = max(values)
        rest = list(values)
        rest.remove(later)
        if not rest:
            rest = [later]
        for earlier in rest:
            if earlier < 0:
                raise ValueError(f"annotation line {number}: negative line number: {row!r}")
            links.add((later, earlier))
    return frozenset(links)


def read_log(raw_path: Path) -> Log:
    """A raw file and the annotation beside it (``X.raw.txt`` and ``X.annotation.txt``)."""
    name = raw_path.name.removesuffix(".raw.txt")
    lines = parse_lines(raw_path.read_text(encoding="utf-8", errors="replace"))
    annotation = raw_path.with_name(name + ".annotation.txt")
    links = parse_annotation(annotation.read_text(encoding="utf-8"))
    for later, _earlier in links:
        if later >= len(lines):
            raise ValueError(f"{annotation}: line {later} is past the end of the log")
    return Log(name, tuple(lines), links)


def read_split(folder: Path) -> list[Log]:
    """Every annotated log of a folder (``train/``, ``dev/``), sorted by name."""
    paths = sorted(folder.glob("*.raw.txt"))
    if not paths:
        raise FileNotFoundError(f"no *.raw.txt files in {folder}")
    return [read_log(path) for path in paths]
