"""Reply-link inference speed: the default disentangler over the Ubuntu IRC dev logs.

    OPENBLAS_NUM_THREADS=1 python -m bench.review_threads [--data DIR] [--splits dev train]
        [--repeats 3] [--single 2000] [--chunk 100]

The logs' messages and actions (joins and quits dropped: what the archive hands the model) are
turned into :class:`~disentangle.model.Utterance` s, then timed, each the best of ``--repeats``:

- ``floor``: reading the same messages back and splitting their text into words, what any
  reply model must at least do;
- ``batch``: one :meth:`links` call per log (history empty, every message new);
- ``chunks``: the messages in chunks of ``--chunk``, each call with the model's window of
  history before it (what a processor handing over a room's new messages per batch does);
- ``single``: the first ``--single`` messages one call each, with the window of history (the
  worst case: a processor calling per message).

Messages per second are counted on the wall clock and on the process' CPU time (all threads:
``messages / CPU seconds`` is the one-core figure even where BLAS starts threads). The data is
the corpus of Kummerfeld et al., ACL 2019 (CC BY 4.0, https://jkk.name/irc-disentanglement/).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from disentangle.corpus import Kind, read_split
from disentangle.evaluation import DEFAULT_DATA, score_logs
from disentangle.model import ReplyModel, Utterance

__all__ = ["parser", "run"]


def parser() -> argparse.ArgumentParser:
    out = argparse.ArgumentParser(prog="python -m bench.review_threads", description=__doc__)
    out.add_argument("--data", type=Path, default=DEFAULT_DATA)
    out.add_argument("--splits", nargs="+", default=["dev"])
    out.add_argument("--repeats", type=int, default=3)
    out.add_argument("--single", type=int, default=2000)
    out.add_argument("--chunk", type=int, default=100)
    return out


def _utterances(data: Path, splits: Sequence[str]) -> tuple[list[list[Utterance]], list[str]]:
    rooms: list[list[Utterance]] = []
    names: list[str] = []
    for split in splits:
        for log in read_split(data / split):
            rooms.append(
                [
                    Utterance(
                        f"{log.name}:{line.index}",
                        line.author,
                        line.text,
                        line.minute * 60.0,
                        line.kind is Kind.ACTION,
                    )
                    for line in log.lines
                    if line.kind is not Kind.SYSTEM
                ]
            )
            names.append(f"{split}/{log.name}")
    return rooms, names


def _best(repeats: int, work: Callable[[], int]) -> dict[str, float]:
    best_wall = float("inf")
    best_cpu = float("inf")
    count = 0
    for _ in range(max(1, repeats)):
        wall = time.perf_counter()
        cpu = time.process_time()
        count = work()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return {
        "messages": count,
        "seconds": round(best_wall, 4),
        "cpu_seconds": round(best_cpu, 4),
        "messages_per_second": round(count / best_wall, 1) if best_wall > 0 else 0.0,
        "messages_per_cpu_second": round(count / best_cpu, 1) if best_cpu > 0 else 0.0,
    }


def run(args: argparse.Namespace) -> dict[str, object]:
    rooms, names = _utterances(args.data, args.splits)
    model = ReplyModel()
    window = model.window
    total = sum(len(room) for room in rooms)

    def floor() -> int:
        words = 0
        for room in rooms:
            for utterance in room:
                words += len(utterance.text.lower().split()) + len(utterance.author.casefold())
        return total if words >= 0 else 0

    def batch() -> int:
        for room in rooms:
            model.links([], room)
        return total

    def chunks() -> int:
        size = max(1, args.chunk)
        for room in rooms:
            for begin in range(0, len(room), size):
                model.links(room[max(0, begin - window) : begin], room[begin : begin + size])
        return total

    def single() -> int:
        done = 0
        for room in rooms:
            for index in range(len(room)):
                if done >= args.single:
                    return done
                model.links(room[max(0, index - window) : index], [room[index]])
                done += 1
        return done

    figures: dict[str, object] = {
        "data": "Ubuntu IRC disentanglement corpus (Kummerfeld et al., ACL 2019, CC BY 4.0)",
        "logs": names,
        "messages": total,
        "model": model.name,
        "candidates": model.weights.window + 1,
        "history_window": window,
        "python": platform.python_version(),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "unset"),
        "floor": _best(args.repeats, floor),
        "batch": _best(args.repeats, batch),
        "chunks": {"size": args.chunk, **_best(args.repeats, chunks)},
        "single": _best(args.repeats, single),
    }
    if "dev" in args.splits:
        logs = read_split(args.data / "dev")
        figures["dev_scores"] = {
            mode: {key: round(value, 2) for key, value in score_logs(model.weights, logs, mode).as_dict().items()}
            for mode in ("full", "messages")
        }
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        figures = run(args)
    except (OSError, ValueError) as error:
        print(f"error: {error}")
        return 2
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
