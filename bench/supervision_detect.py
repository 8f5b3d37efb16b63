"""What supervision detection costs: the processor with and without the ``supervision`` adapter,
the adapter alone, and the backtest.

    python -m bench.supervision_detect [--messages 20000] [--backtest 100000] [--rounds 3]

On the embedded database (SQLite): ``--messages`` posts (200 rooms, 500 people, 15 words each,
2% of them carrying a lexicon word) are delivered by one processor (batches of 1,000) to
``archive,index,threads`` and to the same plus ``supervision``, with 50 enabled policies of 20
query terms each (1,000 terms: words, phrases, prefixes), 5 of them sampling 1%; the second run
also archives the ``supervision_hit`` events it stages. Then the adapter alone (``write_in``
over one batch of all the posts) and the backtest of one such policy over ``--backtest``
archived posts. Each figure is the median of ``--rounds`` rounds (the machine may be shared).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from adapters.archive import ArchiveAdapter
from adapters.base import Adapter
from adapters.index_adapter import TantivyIndexAdapter
from adapters.processor import BatchProcessor, ProcessorOptions
from adapters.thread_adapter import ThreadAdapter
from archivist.migrate import upgrade
from ingest.db import create_db_engine
from ingest.events import Event, event_to_json, parse_event
from ingest.staging import StagingStore, to_row
from supervision.adapter import SupervisionAdapter
from supervision.backtest import backtest
from supervision.model import LexiconTerm, PolicySpec
from supervision.policy_store import create_policy

T0 = datetime(2026, 11, 2, tzinfo=UTC)
WORDS = [f"w{n}" for n in range(5000)]
TERMS = [f"x{n}" for n in range(3000)]
BATCH = 1000


def messages(count: int, seed: int = 7, start: int = 0) -> list[Event]:
    rng = random.Random(seed + start)
    found = []
    for n in range(start, start + count):
        words = rng.choices(WORDS, k=15)
        if rng.random() < 0.02:
            words[rng.randrange(15)] = rng.choice(TERMS)
        found.append(
            parse_event(
                {
                    "schema_version": 1,
                    "event_id": str(uuid.UUID(int=n + 1)),
                    "type": "post",
                    "occurred_at": (T0 + timedelta(seconds=n)).isoformat(),
                    "room": {"id": f"room:{n % 200}", "name": f"#r{n % 200}", "kind": "room"},
                    "actor": {"id": f"user:{n % 500}", "name": f"u{n % 500}"},
                    "message": {"id": f"m{n}", "text": " ".join(words)},
                }
            )
        )
    return found


def policies(count: int = 50, terms: int = 20, sampling: int = 5, seed: int = 3) -> list[PolicySpec]:
    rng = random.Random(seed)
    found = []
    for p in range(count):
        lexicon = []
        for t in range(terms):
            first, second = rng.sample(TERMS, 2)
            expression = f'"{first} {second}"' if t % 4 == 0 else (f"{first}*" if t % 4 == 1 else first)
            lexicon.append(LexiconTerm(id=f"t{t}", expression=expression))
        found.append(
            PolicySpec(
                name=f"policy {p}",
                lexicon=tuple(lexicon),
                sampling_percent=1.0 if p < sampling else 0.0,
                sampling_seed="bench",
            )
        )
    return found


def fresh(scratch: Path, with_policies: bool) -> tuple[Engine, Path]:
    directory = scratch / uuid.uuid4().hex[:8]
    directory.mkdir()
    engine = create_db_engine(f"sqlite:///{directory / 'archivist.sqlite3'}")
    upgrade(engine)
    if with_policies:
        with engine.begin() as connection:
            for spec in policies():
                create_policy(connection, spec, "bench", "", T0)
    return engine, directory


def through_processor(scratch: Path, events: list[Event], supervised: bool) -> float:
    engine, directory = fresh(scratch, supervised)
    StagingStore(engine).insert([to_row(e) for e in events])
    adapters: list[Adapter] = [ArchiveAdapter(engine), TantivyIndexAdapter(directory / "index"), ThreadAdapter(engine)]
    if supervised:
        adapters.append(SupervisionAdapter(engine))
    started = time.perf_counter()
    BatchProcessor(engine, adapters, ProcessorOptions(batch_size=BATCH)).run(interval=0.01, until_empty=True)
    elapsed = time.perf_counter() - started
    for adapter in adapters:
        adapter.close()
    engine.dispose()
    return elapsed


def adapter_alone(scratch: Path, events: list[Event]) -> float:
    engine, _directory = fresh(scratch, True)
    adapter = SupervisionAdapter(engine)
    adapter.write(events[:1])  # the policies compiled, untimed
    started = time.perf_counter()
    with engine.begin() as connection:
        adapter.write_in(connection, events, [event_to_json(e) for e in events])
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def backtest_run(scratch: Path, count: int) -> tuple[float, int]:
    engine, _directory = fresh(scratch, False)
    archive = ArchiveAdapter(engine)
    for start in range(0, count, 5000):
        archive.write(messages(min(5000, count - start), start=start))
    spec = policies(1, 20, 1)[0]
    started = time.perf_counter()
    report = backtest(engine, spec, T0, T0 + timedelta(days=3650))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, report.items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--backtest", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    events = messages(args.messages)
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        plain = statistics.median(through_processor(scratch, events, False) for _ in range(args.rounds))
        supervised = statistics.median(through_processor(scratch, events, True) for _ in range(args.rounds))
        alone = statistics.median(adapter_alone(scratch, events) for _ in range(args.rounds))
        backtests = [backtest_run(scratch, args.backtest) for _ in range(args.rounds)]
    seconds = statistics.median(b[0] for b in backtests)
    count = args.messages
    print(f"SQLite; 50 policies, 1,000 terms, 5 sampling 1%; {args.rounds} rounds")
    print("| measure | figure |")
    print("| --- | ---: |")
    print(f"| processor, archive + index + threads | {count / plain:,.0f} messages/s |")
    print(f"| processor, + supervision | {count / supervised:,.0f} messages/s ({plain / supervised:.0%}) |")
    print(f"| supervision adapter alone, one batch of {count:,} | {1e6 * alone / count:.0f} µs/message |")
    print(f"| backtest of {args.backtest:,} posts ({backtests[0][1]:,} items) | {seconds:.2f} s |")


if __name__ == "__main__":
    main()
