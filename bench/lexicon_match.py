"""Lexicon matching speed: µs per message with 1,000 terms across 50 policies on real IRC lines.

    python -m bench.lexicon_match [--messages 100000] [--policies 50] [--terms 20] [--seed 7]

The messages are the first ``--messages`` posts of the Ubuntu IRC logs (``$UBUNTU_IRC``, else
``shared/data/ubuntu-irc``, else the checkout's slice). The lexicons are seeded: words from the
IRC vocabulary (ranks 1,000 to 20,000, so that terms do match sometimes) and the example lexicons'
words, as single words (45%), phrases (20%), prefixes (15%), NEAR/5 (10%), boolean queries
(5%) and RE2 regular expressions (5%). Timed: compiling, then :meth:`LexiconSet.verdicts` on
every message twice (the first pass fills the word caches, the second is the steady state the
processor sees), beside the analysis alone. Nothing is written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Literal

from disentangle.evaluation import DEFAULT_DATA
from ingest.events import PostEvent
from ingest.irc import read_irc_file
from supervision.analysis import analyse
from supervision.lexicon import LexiconSet, Message, PolicyLexicon, message_of
from supervision.model import LexiconTerm

EXTRA_WORDS = (
    "guarantee", "guaranteed", "garantie", "garantiert", "garantizamos", "whatsapp", "signal", "telegram",
    "gift", "geschenk", "cadeau", "regalo", "complaint", "beschwerde", "plainte", "queja", "riskfree",
    "rendement", "rendite", "ganancias", "handy", "portable", "tickets", "dinner", "lunch", "reimbursement",
)  # fmt: skip


def irc_posts(limit: int, data: Path = DEFAULT_DATA) -> list[PostEvent]:
    posts: list[PostEvent] = []
    for path in sorted(data.glob("*/*.raw.txt")):
        posts += (event for event in read_irc_file(path) if isinstance(event, PostEvent))
        if len(posts) >= limit:
            break
    return posts[:limit]


def vocabulary(messages: Sequence[Message]) -> list[str]:
    counts = Counter(term for m in messages for term in analyse(m.text).terms if term and term.isalpha())
    ranked = [word for word, _ in counts.most_common(20_000)][1_000:]
    return ranked + list(EXTRA_WORDS)


def _terms(rng: random.Random, words: list[str], count: int) -> Iterator[LexiconTerm]:
    def word() -> str:
        return rng.choice(words)

    for number in range(count):
        roll = rng.random()
        kind: Literal["query", "regex"] = "query"
        if roll < 0.45:
            expression = word()
        elif roll < 0.65:
            expression = '"' + " ".join(word() for _ in range(rng.randint(2, 3))) + '"'
        elif roll < 0.80:
            chosen = word()
            expression = chosen[: max(5, len(chosen) - 2)] + "*"
        elif roll < 0.90:
            expression = f"{word()} NEAR/5 {word()}"
        elif roll < 0.95:
            expression = f"({word()} OR {word()}) -{word()}"
        else:
            expression, kind = rf"\b(?:{re.escape(word())}|{re.escape(word())})\s+\d+", "regex"
        yield LexiconTerm(id=f"t{number}", kind=kind, expression=expression)


def lexicons(words: list[str], policies: int, terms: int, seed: int) -> dict[str, PolicyLexicon]:
    rng = random.Random(seed)
    return {f"policy-{n}": PolicyLexicon(terms=tuple(_terms(rng, words, terms))) for n in range(policies)}


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--policies", type=int, default=50)
    parser.add_argument("--terms", type=int, default=20, help="terms per policy")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    messages = [message_of(post) for post in irc_posts(args.messages)]
    chosen = lexicons(vocabulary(messages), args.policies, args.terms, args.seed)
    started = time.perf_counter()
    compiled = LexiconSet.compile(chosen)
    compile_ms = (time.perf_counter() - started) * 1e3

    started = time.perf_counter()
    for message in messages:
        analyse(message.text)
    analysis_us = (time.perf_counter() - started) / len(messages) * 1e6

    passes = []
    matched = 0
    for _ in range(2):
        started = time.perf_counter()
        matched = sum(1 for message in messages if compiled.verdicts(message))
        passes.append((time.perf_counter() - started) / len(messages) * 1e6)
    load = os.getloadavg()[0]
    figures = {
        "messages": float(len(messages)),
        "terms": float(sum(len(lexicon.terms) for lexicon in chosen.values())),
        "compile_ms": compile_ms,
        "analysis_us": analysis_us,
        "first_pass_us": passes[0],
        "steady_us": passes[1],
        "matched_share": matched / len(messages),
        "load": load,
    }
    print(
        f"{len(messages):,} IRC messages, {int(figures['terms']):,} terms in {args.policies} policies: "
        f"compile {compile_ms:.0f} ms; analysis alone {analysis_us:.1f} µs/message; verdicts "
        f"{passes[0]:.1f} µs/message (first pass), {passes[1]:.1f} µs/message (steady); "
        f"{matched / len(messages):.1%} of messages matched a policy; load average {load:.2f}"
    )
    return figures


if __name__ == "__main__":
    main()
