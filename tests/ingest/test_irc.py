from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.events import Event, PostEvent
from ingest.irc import IrcLogParser, date_from_log_name, parse_irc_log, read_irc_file

DEMO_LOGS = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "data" / "ubuntu-irc"

SNIPPET = """\
[09:14] <crimsun> kleedrac: I'm afraid not. Any version of mplayer should work
=== L0sT [~waa3@raptor.ukc.ac.uk]  has joined #ubuntu
[09:14] <kleedrac> crimsun: Hmmm ... I wonder why #media @crimsun
[09:15]  * crimsun nods
=== crimsun is now known as crimsun_away
[09:16] <crimsun_away> back
=== crimsun_away [~c@host]  has quit ["bye"]
=== L0sT [~waa3@raptor.ukc.ac.uk]  has left #ubuntu []
[09:17] -bot:#ubuntu- notice text
[09:17] (relay/#ubuntu) relayed text
=== kleedrac wonders why
=== nobodyknown does a thing
garbage line
""".splitlines(keepends=True)


def parse(lines: list[str], name: str = "2004-12-25.train-c.raw.txt") -> list[Event]:
    return list(parse_irc_log(lines, log_name=name))


def test_every_line_kind_becomes_the_right_event() -> None:
    events = parse(SNIPPET)
    kinds = [(e.type, e.actor.name) for e in events]
    assert kinds == [
        ("post", "crimsun"),
        ("join", "L0sT"),
        ("post", "kleedrac"),
        ("post", "crimsun"),
        ("post", "crimsun_away"),
        ("leave", "crimsun_away"),
        ("leave", "L0sT"),
        ("post", "bot"),
        ("post", "relay"),
        ("post", "kleedrac"),
    ]
    texts = [e.message.text for e in events if isinstance(e, PostEvent)]
    assert "/me nods" in texts
    assert "/me wonders why" in texts


def test_a_renamed_person_keeps_one_actor_id() -> None:
    events = parse(SNIPPET)
    crimsun = {e.actor.id for e in events if e.actor.name in {"crimsun", "crimsun_away"}}
    assert crimsun == {"user:crimsun"}


def test_addressing_and_at_mentions_are_mentions() -> None:
    events = [e for e in parse(SNIPPET) if isinstance(e, PostEvent)]
    assert events[1].message.mentions == ("crimsun",)
    assert events[1].message.hashtags == ("media",)
    assert events[0].message.mentions == (), "kleedrac had not been seen yet when addressed"


def test_quit_leaves_every_room_the_person_is_in() -> None:
    lines = [
        "=== ann [~a@h]  has joined #ubuntu\n",
        "=== ann [~a@h]  has joined #linux\n",
        "=== ann [~a@h]  has quit [Ping timeout]\n",
    ]
    leaves = [e for e in parse(lines) if e.type == "leave"]
    assert sorted(e.room.name or "" for e in leaves) == ["#linux", "#ubuntu"]
    assert len({e.event_id for e in leaves}) == 2


def test_times_keep_the_log_order_and_roll_over_midnight() -> None:
    lines = ["[23:59] <a> one\n", "[23:59] <b> two\n", "=== c [~c@h]  has joined #ubuntu\n", "[00:01] <a> three\n"]
    times = [e.occurred_at for e in parse(lines, "2005-02-08.train-a.raw.txt")]
    assert times == [
        datetime(2005, 2, 8, 23, 59, 0, 0, tzinfo=UTC),
        datetime(2005, 2, 8, 23, 59, 0, 1000, tzinfo=UTC),
        datetime(2005, 2, 8, 23, 59, 0, 2000, tzinfo=UTC),
        datetime(2005, 2, 9, 0, 1, tzinfo=UTC),
    ]


def test_the_same_file_gives_the_same_events() -> None:
    assert parse(SNIPPET) == parse(SNIPPET)
    assert {e.event_id for e in parse(SNIPPET)}.isdisjoint({e.event_id for e in parse(SNIPPET, "2005-01-01.x.raw.txt")})


def test_stats_count_what_was_skipped() -> None:
    parser = IrcLogParser("2004-12-25.raw.txt", date(2004, 12, 25))
    list(parser.events(SNIPPET))
    assert (parser.stats.lines, parser.stats.events, parser.stats.renames, parser.stats.skipped) == (13, 10, 1, 2)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("2004-11-15_03.raw.txt", date(2004, 11, 15)), ("/x/2005-02-08.train-a.raw.txt", date(2005, 2, 8))],
)
def test_dates_come_from_file_names(name: str, expected: date) -> None:
    assert date_from_log_name(name) == expected


@pytest.mark.parametrize("name", ["ubuntu.log", "2005-13-40.raw.txt"])
def test_a_file_name_without_a_date_is_a_clear_error(name: str) -> None:
    with pytest.raises(ValueError, match=name.split("/")[-1]):
        date_from_log_name(name)


def check_log(path: Path) -> None:
    parser = IrcLogParser(path.name, date_from_log_name(path.name))
    with path.open(encoding="utf-8", errors="replace", newline="") as lines:
        events = list(parser.events(lines))
    assert len({e.event_id for e in events}) == len(events)
    assert all(a.occurred_at <= b.occurred_at for a, b in itertools.pairwise(events))
    assert parser.stats.skipped < 0.15 * parser.stats.lines


def test_demo_logs_import_cleanly() -> None:
    logs = sorted(DEMO_LOGS.glob("*.raw.txt"))
    assert len(logs) >= 6
    for path in logs:
        check_log(path)
    events = [e for path in logs for e in read_irc_file(path)]
    assert {e.type for e in events} >= {"post", "join", "leave"}
    assert any(not e.message.text.isascii() for e in events if isinstance(e, PostEvent))


@pytest.mark.skipif(not CORPUS.exists(), reason="the shared corpus lies outside the repository (not in a clean clone)")
def test_the_whole_corpus_imports_cleanly() -> None:
    logs = sorted(CORPUS.glob("*/*.raw.txt"))
    assert len(logs) > 100
    for path in logs:
        check_log(path)


nicks = st.from_regex(r"[A-Za-z|`_\[\]\-^{}][A-Za-z0-9|`_\[\]\-^{}]{0,12}", fullmatch=True)
texts = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=60)
clock = st.tuples(st.integers(0, 23), st.integers(0, 59)).map(lambda t: f"[{t[0]:02d}:{t[1]:02d}]")
irc_lines = st.one_of(
    st.builds(lambda c, n, t: f"{c} <{n}> {t}", clock, nicks, texts),
    st.builds(lambda c, n, t: f"{c} * {n} {t}", clock, nicks, texts),
    st.builds(lambda n: f"=== {n} [~{n}@host]  has joined #ubuntu", nicks),
    st.builds(lambda n: f"=== {n} [~{n}@host]  has left #ubuntu []", nicks),
    st.builds(lambda n: f"=== {n} [~{n}@host]  has quit [Quit]", nicks),
    st.builds(lambda a, b: f"=== {a} is now known as {b}", nicks, nicks),
    texts,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(irc_lines, max_size=40))
def test_the_parser_never_raises_and_is_deterministic(lines: list[str]) -> None:
    with_newlines = [line + "\n" for line in lines]
    first = parse(with_newlines)
    assert first == parse(with_newlines)
    assert all(a.occurred_at <= b.occurred_at for a, b in itertools.pairwise(first))


@given(st.lists(st.text(), max_size=20))
def test_arbitrary_text_never_raises(lines: list[str]) -> None:
    parse(lines)


@settings(max_examples=100, deadline=None)
@given(st.lists(nicks, min_size=2, max_size=8, unique=True))
def test_a_chain_of_renames_keeps_one_actor_id(names: list[str]) -> None:
    lines = [f"[10:00] <{names[0]}> hello\n"]
    lines += [f"=== {old} is now known as {new}\n" for old, new in itertools.pairwise(names)]
    lines += [f"[10:01] <{names[-1]}> still me\n"]
    events = parse(lines)
    assert {e.actor.id for e in events} == {f"user:{names[0]}"}
    assert events[-1].actor.name == names[-1]
