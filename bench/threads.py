"""What the ``threads`` adapter costs the processor, and its own rate.

    python -m bench.threads [--events 20000] [--rounds 3]

On the embedded database (SQLite), the same events are delivered by one processor to the
default adapters (``archive,index,xml,extract``) and to the same plus ``threads``; the
difference is what the threads adapter adds to a batch (it writes inside the processor's
transaction, after the archive). Two corpora: simulated traffic (flat rooms: every post goes
through the disentangler, over a history read from the archive per room and batch) and the
Ubuntu IRC demo logs. Then the adapter alone: ``write_in`` over batches of 1,000 already-archived
posts (messages linked per second), and a rebuild (``archivist threads rebuild``) of the same.
The model is :func:`disentangle.model.default_disentangler` as it is in this tree. Prints a
Markdown table; each figure the median of ``--rounds`` rounds (the machine may be shared).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from adapters.archive import ArchiveAdapter
from adapters.thread_adapter import ThreadAdapter, rebuild
from bench.process import Backend, through_processor
from disentangle.model import default_disentangler
from ingest.events import Event, PostEvent, event_to_json
from ingest.irc import read_irc_file
from ingest.simulate import simulate_events

DEMO_LOGS = Path(__file__).resolve().parents[1] / "archivist" / "demo_data" / "ubuntu-irc"
DEFAULT = "archive,index,xml,extract"
BATCH = 1000


def adapter_alone(backend: Backend, events: list[Event]) -> tuple[int, float, float]:
    """(posts, seconds of write_in over every batch, seconds of a rebuild), the archive written first, untimed."""
    engine, _directory = backend.fresh()
    archive = ArchiveAdapter(engine)
    for start in range(0, len(events), BATCH):
        batch = events[start : start + BATCH]
        with engine.begin() as connection:
            archive.write_in(connection, batch, [event_to_json(e) for e in batch])
    adapter = ThreadAdapter(engine)
    started = time.perf_counter()
    for start in range(0, len(events), BATCH):
        with engine.begin() as connection:
            adapter.write_in(connection, events[start : start + BATCH], ())
    linking = time.perf_counter() - started
    started = time.perf_counter()
    rebuild(engine)
    rebuilding = time.perf_counter() - started
    engine.dispose()
    return sum(isinstance(e, PostEvent) for e in events), linking, rebuilding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    corpora = {
        "simulated": list(simulate_events(events=args.events, rooms=20, users=200, seed=11)),
        "IRC demo logs": [e for path in sorted(DEMO_LOGS.glob("*.raw.txt")) for e in read_irc_file(path)][
            : args.events
        ],
    }
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        backend = Backend("sqlite", Path(scratch))
        for name, events in corpora.items():
            plain = statistics.median(through_processor(backend, events, DEFAULT).seconds for _ in range(args.rounds))
            threaded = statistics.median(
                through_processor(backend, events, DEFAULT + ",threads").seconds for _ in range(args.rounds)
            )
            alone = [adapter_alone(backend, events) for _ in range(args.rounds)]
            posts = alone[0][0]
            linking = statistics.median(a[1] for a in alone)
            rebuilding = statistics.median(a[2] for a in alone)
            rows.append(
                f"| {name} | {len(events):,} | {len(events) / plain:,.0f} | {len(events) / threaded:,.0f} | "
                f"{threaded / plain - 1:+.0%} | {posts / linking:,.0f} | {posts / rebuilding:,.0f} |"
            )
    model = default_disentangler()
    header = [
        f"model: {model.name} (window {model.window}); SQLite; {args.rounds} rounds",
        "| corpus | events | events/s, default adapters | events/s, + threads | time added | "
        "adapter alone, posts/s | rebuild, posts/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    print("\n".join(header + rows))


if __name__ == "__main__":
    main()
