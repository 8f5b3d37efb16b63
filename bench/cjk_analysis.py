"""Which analysis of Chinese, Japanese and Korean finds the right messages: measured on the
seeded multilingual corpus (``bench/multilingual_corpus.py``).

Three analyses, each searching a word as a phrase of its tokens:

* ``unigram``: every CJK character a token (Archivist's analyzer, ``search.tantivy_schema``);
* ``bigram``: Lucene's ``CJKBigramFilter`` over the standard tokenizer (overlapping pairs of
  adjacent CJK characters, a lone character as itself);
* ``dictionary``: forward longest-match segmentation with the corpus's own dictionary (every
  word and particle the generator uses): the best a dictionary segmenter can do here, as no
  real segmenter knows this corpus's words better.

Each is scored against two truths per (query word, message): ``word`` (the generator put that
word in the message) and ``substring`` (the word's characters occur in the message in a row,
which is what a reviewer searching for a name or a term expects). Queries: every dictionary
word, then every single character of them (a Chinese or Japanese word of one character).

    python -m bench.cjk_analysis
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable

from bench import multilingual_corpus as corpus
from search.tantivy_schema import text_terms

CJK_LANGUAGES = ("ja", "zh", "ko")


def _is_cjk(character: str) -> bool:
    return text_terms(character) == [character.lower()] and not character.isascii() and len(character) == 1


def _runs(text: str) -> list[tuple[bool, str]]:
    """The text as alternating runs of CJK and other characters."""
    runs: list[tuple[bool, str]] = []
    for character in text:
        cjk = _is_cjk(character)
        if runs and runs[-1][0] == cjk:
            runs[-1] = (cjk, runs[-1][1] + character)
        else:
            runs.append((cjk, character))
    return runs


def unigrams(text: str) -> list[str]:
    return text_terms(text)


def bigrams(text: str) -> list[str]:
    tokens: list[str] = []
    for cjk, run in _runs(text):
        if not cjk:
            tokens += text_terms(run)
        elif len(run) == 1:
            tokens.append(run)
        else:
            tokens += [run[i : i + 2] for i in range(len(run) - 1)]
    return tokens


def _dictionary() -> list[str]:
    words = {
        *corpus.JA_WORDS,
        *corpus.JA_PARTICLES,
        *corpus.JA_ENDINGS,
        *corpus.ZH_WORDS,
        *corpus.ZH_JOINS,
        *corpus.ZH_ENDINGS,
        *corpus.KO_WORDS,
        *corpus.KO_PARTICLES,
        *corpus.KO_ENDINGS,
    }
    pieces = {piece for word in words for piece in word.split(" ") if piece}
    return sorted(pieces, key=len, reverse=True)


DICTIONARY = _dictionary()


def segmented(text: str) -> list[str]:
    tokens: list[str] = []
    for cjk, run in _runs(text):
        if not cjk:
            tokens += text_terms(run)
            continue
        position = 0
        while position < len(run):
            word = next((w for w in DICTIONARY if run.startswith(w, position)), run[position])
            tokens.append(word)
            position += len(word)
    return tokens


def _contains(tokens: list[str], words: list[str]) -> bool:
    width = len(words)
    return bool(words) and any(tokens[i : i + width] == words for i in range(len(tokens) - width + 1))


def score(
    analyse: Callable[[str], list[str]], messages: list[corpus.Message], queries: Iterable[str]
) -> dict[str, tuple[float, float]]:
    """Precision and recall against each truth over every (query, message) pair."""
    analysed = [analyse(m.text) for m in messages]
    counts = {"word": [0, 0, 0], "substring": [0, 0, 0]}  # true positives, found, relevant
    for query in queries:
        words = analyse(query)
        for message, tokens in zip(messages, analysed, strict=True):
            found = _contains(tokens, words)
            truths = {"word": query in message.words, "substring": query in message.text}
            for name, relevant in truths.items():
                counts[name][0] += found and relevant
                counts[name][1] += found
                counts[name][2] += relevant
    return {
        name: (tp / found if found else float("nan"), tp / relevant if relevant else float("nan"))
        for name, (tp, found, relevant) in counts.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--per-language", type=int, default=200)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    messages = [m for m in corpus.generate(args.per_language, seed=args.seed) if m.language in CJK_LANGUAGES]
    words = [*corpus.JA_WORDS, *corpus.ZH_WORDS, *corpus.KO_WORDS]
    characters = sorted({c for w in words for c in w})
    print(f"{len(messages)} messages (ja, zh, ko), {len(words)} words, {len(characters)} single characters")
    print("analysis    queries      word truth P / R       substring truth P / R")
    for name, analyse in (("unigram", unigrams), ("bigram", bigrams), ("dictionary", segmented)):
        for label, queries in (("words", words), ("characters", characters)):
            result = score(analyse, messages, queries)
            (wp, wr), (sp, sr) = result["word"], result["substring"]
            print(f"{name:<11} {label:<11}  {wp:6.3f} / {wr:6.3f}      {sp:6.3f} / {sr:6.3f}")


if __name__ == "__main__":
    main()
