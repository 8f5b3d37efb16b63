"""A brute-force oracle of which texts a word query should find, by its own simple definition
(it never calls the analyzer under test):

* a text and a query are folded alike: NFKC (half-width kana, full-width forms), the marks of
  Latin, Greek, Hebrew and Arabic letters removed (accents, tonos, niqqud, harakat; Arabic alef
  forms are alef plus a mark), tatweel removed, case folded (final sigma is sigma), Arabic alef
  maksura as yeh and teh marbuta as heh, Russian io as ie, emoji variation selectors dropped;
* a word of Chinese, Japanese or Korean characters, or of emoji, is found where it occurs as a
  substring;
* any other word is found where it occurs with no letter or digit (other than a CJK character)
  right before or after it; a prefix needs no boundary after it.
"""

from __future__ import annotations

import unicodedata
from functools import cache

_STRIPPED_SCRIPTS = ("LATIN", "GREEK", "HEBREW", "ARABIC")
_LETTERS = str.maketrans({"ى": "ي", "ة": "ه", "ё": "е", "\u0640": None, "\ufe0f": None, "\ufe0e": None})


def _script(character: str) -> str:
    return unicodedata.name(character, "").split(" ")[0]


def is_cjk(character: str) -> bool:
    name = unicodedata.name(character, "")
    kinds = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HIRAGANA", "KATAKANA", "HANGUL")
    return name.startswith(kinds) and unicodedata.category(character)[0] in "LN"


def is_emoji(character: str) -> bool:
    return (unicodedata.category(character) in {"So", "Sk"} and ord(character) >= 0x2300) or character == "\u200d"


@cache
def fold(text: str) -> str:
    kept: list[str] = []
    for character in unicodedata.normalize("NFD", unicodedata.normalize("NFKC", text)):
        if unicodedata.category(character) == "Mn" and kept and _script(kept[-1]) in _STRIPPED_SCRIPTS:
            continue
        kept.append(character)
    return unicodedata.normalize("NFC", "".join(kept)).casefold().translate(_LETTERS)


def _is_letter(character: str) -> bool:
    return character.isalnum() and not is_cjk(character)


def finds(query: str, text: str) -> bool:
    """Whether the word (or ``word*`` prefix) ``query`` finds ``text``."""
    prefix = query.endswith("*")
    word, folded = fold(query.removesuffix("*")), fold(text)
    if not word:
        return False
    if all(is_cjk(c) or is_emoji(c) for c in word):
        return word in folded
    start = folded.find(word)
    while start >= 0:
        end = start + len(word)
        before = start == 0 or not _is_letter(folded[start - 1])
        after = prefix or end == len(folded) or not _is_letter(folded[end])
        if before and after:
            return True
        start = folded.find(word, start + 1)
    return False
