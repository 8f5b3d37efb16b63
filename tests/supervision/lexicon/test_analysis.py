"""The lexicon's analysis finds the words the index finds, at the places they were said."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from search.tantivy_schema import MAX_TOKEN_BYTES, text_terms
from supervision import token_table
from supervision.analysis import analyse, render_token_table


def spans(text: str) -> list[tuple[str | None, str]]:
    analysed = analyse(text)
    found = zip(analysed.terms, analysed.starts, analysed.ends, strict=True)
    return [(term, text[start:end]) for term, start, end in found]


def test_the_shipped_character_table_is_what_tantivy_tokenizes() -> None:
    shipped = Path(token_table.__file__).read_text(encoding="utf-8")
    assert render_token_table() == shipped, (
        "regenerate supervision/token_table.py: "
        'python -c "from supervision.analysis import write_token_table; write_token_table()"'
    )


def test_latin_words_are_lower_cased_and_accent_folded_at_their_places() -> None:
    assert spans("Café ÉLAN, Straße!") == [("cafe", "Café"), ("elan", "ÉLAN"), ("strasse", "Straße")]


def test_every_cjk_character_is_a_word() -> None:
    assert spans("東京の取引 OK") == [(c, c) for c in "東京の取引"] + [("ok", "OK")]


def test_emoji_skin_tones_and_flags() -> None:
    assert spans("ok👍🏽 🇫🇷!") == [("ok", "ok"), ("👍", "👍"), ("🏽", "🏽"), ("🇫🇷", "🇫🇷")]


def test_arabic_marks_are_folded_but_offsets_point_at_what_was_said() -> None:
    text = "قال: أَحْمَد ضمان"
    analysed = analyse(text)
    assert list(analysed.terms) == text_terms(text)
    assert [text[s:e] for s, e in zip(analysed.starts, analysed.ends, strict=True)] == ["قال", "أَحْمَد", "ضمان"]


def test_decomposed_accents_map_back_onto_the_original_characters() -> None:
    text = "garantie\u0301 cafe\u0301 ok"
    analysed = analyse(text)
    assert list(analysed.terms) == ["garantie", "cafe", "ok"]
    found = [text[s:e] for s, e in zip(analysed.starts, analysed.ends, strict=True)]
    assert found == ["garantie\u0301", "cafe\u0301", "ok"]


def test_long_tokens_are_dropped_but_keep_their_position() -> None:
    long_word = "x" * (MAX_TOKEN_BYTES + 1)
    analysed = analyse(f"a {long_word} b")
    assert list(analysed.terms) == ["a", None, "b"]


texts = st.lists(
    st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from([*"aéÉßİΣς東京の👍🏽🇫🇷أَحْمَد\u0301\u0308 -.ﾃｽﾄﾞ", "\U0001f1e6", "\u1100\u1161", "x" * 256]),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_terms_agree_with_the_index(text: str) -> None:
    analysed = analyse(text)
    assert [term for term in analysed.terms if term is not None] == text_terms(text)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_each_word_is_found_again_at_its_offsets(text: str) -> None:
    analysed = analyse(text)
    previous = (0, 0)
    for term, start, end in zip(analysed.terms, analysed.starts, analysed.ends, strict=True):
        # Words follow each other; two may share characters only where the text as said puts
        # combining marks out of their canonical order (one composition covers both).
        assert previous <= (start, end)
        assert 0 <= start < end <= len(text)
        previous = (start, end)
        if term is not None:
            assert term in text_terms(text[start:end])


def test_a_token_is_folded_once_as_the_index_folds_it() -> None:
    # "Ё" + U+0308: the folding makes "Е" + U+0308, which composes back to "Ё"; folding that
    # again (text_terms of the token) would give "е", the index holds "ё".
    text = "\u0401\u0308"
    assert list(analyse(text).terms) == text_terms(text) == ["ё"]
