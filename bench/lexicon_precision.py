"""Precision and recall of the example lexicons on the seeded misconduct corpus.

    python -m bench.lexicon_precision [--messages 20000] [--seed 2] [--misses 0]

The example lexicons were tuned on seed 1; docs/supervision.md reports seed 2 (never tuned
on). ``--misses N`` also prints N misclassified messages per topic (for tuning on seed 1).
Nothing is written to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from supervision.corpus import generate
from supervision.evaluation import evaluate, markdown
from supervision.examples import example_policies
from supervision.lexicon import LexiconSet, PolicyLexicon, message_of


def main(argv: Sequence[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--misses", type=int, default=0)
    args = parser.parse_args(argv)
    corpus = list(generate(args.messages, args.seed))
    started = time.perf_counter()
    evaluation = evaluate(corpus)
    seconds = time.perf_counter() - started
    table = markdown(evaluation)
    print(f"{evaluation.messages:,} messages, seed {args.seed}, evaluated in {seconds:.1f} s\n\n{table}")
    if args.misses:
        compiled = LexiconSet.compile({t: PolicyLexicon.of(s) for t, s in example_policies().items()})
        shown: dict[str, int] = {}
        for message in corpus:
            verdicts = compiled.verdicts(message_of(message.event))
            flagged = {t for t, v in verdicts.items() if v.matches and not v.excluded}
            for topic in flagged ^ ({message.topic} if message.topic else set()):
                kind = "FP" if topic in flagged else "FN"
                if shown.get(f"{kind}{topic}", 0) < args.misses:
                    shown[f"{kind}{topic}"] = shown.get(f"{kind}{topic}", 0) + 1
                    print(f"{kind} {topic} [{message.language}] {message.event.message.text}")
    return table


if __name__ == "__main__":
    main()
