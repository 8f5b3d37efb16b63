from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.events import Event, PostEvent
from ingest.irc import (
    IRC_NAMESPACE,
    IrcImportStats,
    IrcLogParser,
    date_from_log_name,
    parse_irc_log,
    read_irc_file,
    read_irc_items,
)
from ingest.producer import MAX_LINE_BYTES, Located, Rejected

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
    parser = IrcLogParser("2004-12-25.raw.txt", date(2004, 12, 25), "0" * 64)
    list(parser.events(SNIPPET))
    assert (parser.stats.lines, parser.stats.events, parser.stats.renames, parser.stats.skipped) == (13, 10, 1, 2)
    assert parser.stats.first_skipped == [12, 13]


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
    stats = IrcImportStats()
    events = [item.event for item in read_irc_items(path, stats) if isinstance(item, Located)]
    assert len({e.event_id for e in events}) == len(events)
    assert all(a.occurred_at <= b.occurred_at for a, b in itertools.pairwise(events))
    assert stats.skipped < 0.15 * stats.lines
    assert stats.rejected == 0


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


# --- issue 15, items 14 and 15 ---------------------------------------------------------------------


def import_items(path: Path) -> tuple[list[Located | Rejected], IrcImportStats]:
    stats = IrcImportStats()
    return list(read_irc_items(path, stats)), stats


def test_an_impossible_time_is_rejected_by_line_not_taken_for_the_last_minute(tmp_path: Path) -> None:
    path = tmp_path / "2005-02-08.raw.txt"
    path.write_text("[10:00] <a> fine\n[25:99] <b> when?\n[23:60] <c> nor this\n[10:01] <a> fine too\n")
    items, stats = import_items(path)
    assert [(type(i).__name__, i.where) for i in items] == [
        ("Located", "2005-02-08.raw.txt:1"),
        ("Rejected", "2005-02-08.raw.txt:2"),
        ("Rejected", "2005-02-08.raw.txt:3"),
        ("Located", "2005-02-08.raw.txt:4"),
    ]
    assert isinstance(items[1], Rejected)
    assert items[1].reason == "[25:99] is not a time of day"
    assert (stats.events, stats.rejected) == (2, 2)


def test_a_log_of_one_gigantic_line_is_rejected_without_being_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "2005-02-08.raw.txt"
    with path.open("wb") as out:
        for _ in range(3 * MAX_LINE_BYTES // 65536):
            out.write(b"[10:00] <a> " + b"x" * (65536 - 12))
    items, stats = import_items(path)
    assert items == [
        Rejected(
            "2005-02-08.raw.txt:1",
            f"the line is {3 * MAX_LINE_BYTES:,} bytes long; the limit is 1,048,576 (one event per line)",
        )
    ]
    assert (stats.events, stats.rejected) == (0, 1)


def test_a_nul_in_a_log_line_is_rejected_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "2005-02-08.raw.txt"
    path.write_bytes(b"[10:00] <a> nul \x00 here\n[10:01] <b> fine\n")
    items, _stats = import_items(path)
    assert isinstance(items[0], Rejected)
    assert items[0].reason.startswith("post.message.text: contains U+0000 (NUL)")
    assert isinstance(items[1], Located)


def test_event_ids_need_the_file_itself_and_stay_the_same_on_a_second_import(tmp_path: Path) -> None:
    name = "2005-02-08.raw.txt"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / name).write_text("[10:00] <a> hello\n[10:01] <b> secret plans\n")
    (tmp_path / "b" / name).write_text("[10:00] <a> hello\n[10:01] <b> other plans\n")
    first = [e.event_id for e in read_irc_file(tmp_path / "a" / name)]
    assert first == [e.event_id for e in read_irc_file(tmp_path / "a" / name)], "a re-import changes nothing"
    other = [e.event_id for e in read_irc_file(tmp_path / "b" / name)]
    assert first[0] != other[0], "the same name and line in another file: another id"
    predictable = {uuid.uuid5(IRC_NAMESPACE, f"{name}:{number}:0") for number in range(2)}
    assert predictable.isdisjoint(first), "not derivable from the file name and line number alone"
