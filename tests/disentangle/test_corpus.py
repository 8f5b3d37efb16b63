"""disentangle/corpus.py: the raw log and annotation reader of the Ubuntu IRC corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

from disentangle.corpus import Kind, parse_annotation, parse_lines, read_log, read_split

RAW = """[23:58] <alice> how do I mount an iso?
=== bob [~bob@host]  has joined #ubuntu
[23:59] * bob waves
[00:01] <bob> alice: sudo mount -o loop file.iso /mnt
=== bob is now known as bobby
[00:02] (carol/#ubuntu) thomas: have you seen it?
[00:02] -dave:#ubuntu- a notice
=== carol [~c@h]  has quit [Ping timeout]
"""


def test_lines_are_read_with_kind_author_text_and_minutes() -> None:
    lines = parse_lines(RAW)
    assert [line.index for line in lines] == list(range(8))
    assert [line.kind for line in lines] == [
        Kind.MESSAGE,
        Kind.SYSTEM,
        Kind.ACTION,
        Kind.MESSAGE,
        Kind.SYSTEM,
        Kind.MESSAGE,
        Kind.MESSAGE,
        Kind.SYSTEM,
    ]
    assert [line.author for line in lines] == [
        "alice",
        "bob",
        "bob",
        "bob",
        "bobby",
        "carol",
        "dave",
        "carol",
    ]
    assert lines[0].text == "how do I mount an iso?"
    assert lines[2].text == "waves"
    assert lines[3].text == "alice: sudo mount -o loop file.iso /mnt"
    assert lines[5].text == "thomas: have you seen it?"
    # The clock wraps past midnight; system lines keep the time of the line before.
    assert [line.minute for line in lines] == [1438, 1438, 1439, 1441, 1441, 1442, 1442, 1442]


def test_annotation_links_join_the_later_line_to_the_earlier() -> None:
    links = parse_annotation("3 0 -\n5 5 -\n\n7 4 -\n7 6 -\n")
    assert links == {(3, 0), (5, 5), (7, 4), (7, 6)}
    # The order on the line does not matter: the larger number answers the smaller.
    assert parse_annotation("0 3 -\n") == {(3, 0)}


@pytest.mark.parametrize("row", ["3 x -", "3 -1 -"])
def test_bad_annotation_lines_are_refused(row: str) -> None:
    with pytest.raises(ValueError, match="annotation line 1"):
        parse_annotation(row + "\n")


def test_a_log_is_read_with_its_annotation(tmp_path: Path) -> None:
    (tmp_path / "2005-01-01.raw.txt").write_text(RAW, encoding="utf-8")
    (tmp_path / "2005-01-01.annotation.txt").write_text("3 0 -\n2 2 -\n", encoding="utf-8")
    log = read_log(tmp_path / "2005-01-01.raw.txt")
    assert log.name == "2005-01-01"
    assert len(log.lines) == 8
    assert log.links == {(3, 0), (2, 2)}
    assert log.annotated == [2, 3]
    assert [entry.name for entry in read_split(tmp_path)] == ["2005-01-01"]


def test_a_link_past_the_end_of_the_log_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.raw.txt").write_text(RAW, encoding="utf-8")
    (tmp_path / "x.annotation.txt").write_text("9 0 -\n", encoding="utf-8")
    with pytest.raises(ValueError, match="past the end"):
        read_log(tmp_path / "x.raw.txt")


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_split(tmp_path)
