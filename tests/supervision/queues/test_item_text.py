"""Cutting an item's evaluated text at its matches' offsets: plain and matched pieces in order,
overlaps joined, other fields and offsets outside the text left out."""

from __future__ import annotations

from supervision.item_text import Piece, pieces


def test_matches_cut_the_text_into_plain_and_matched_pieces() -> None:
    text = "I guarantee <b>it</b>, no risk"
    matches = [
        {"term_id": "g2", "field": "text", "start": 23, "end": 30, "matched": "no risk"},
        {"term_id": "g1", "field": "text", "start": 2, "end": 11, "matched": "guarantee"},
    ]
    assert pieces(text, matches) == [
        Piece("I "),
        Piece("guarantee", ("g1",)),
        Piece(" <b>it</b>, "),
        Piece("no risk", ("g2",)),
    ]
    assert "".join(piece.text for piece in pieces(text, matches)) == text


def test_overlaps_join_and_other_fields_and_bad_offsets_are_left_out() -> None:
    text = "abcdefghij"
    matches = [
        {"term_id": "a", "start": 1, "end": 5},
        {"term_id": "b", "start": 3, "end": 7},
        {"term_id": "c", "field": "attachment", "start": 0, "end": 2},
        {"term_id": "d", "start": 8, "end": 40},
        {"term_id": "e", "start": 50, "end": 60},
        {"term_id": "f", "start": 4, "end": 4},
    ]
    assert pieces(text, matches) == [Piece("a"), Piece("bcdefg", ("a", "b")), Piece("h"), Piece("ij", ("d",))]
    assert pieces(text, matches, "attachment") == [Piece("ab", ("c",)), Piece("cdefghij")]
    assert pieces("", []) == [Piece("")]
