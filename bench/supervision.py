"""Supervision benchmarks (issue 22): the processor with and without the ``supervision`` adapter,
the backtest of a draft policy over an archive of 1M messages, and the review queue page with
100k items; ``--write`` puts the section into BENCHMARKS.md.

    .venv/bin/python -m bench.supervision [--events 20000] [--messages 1000000] [--items 100000] [--write]
    .venv/bin/python -m bench.supervision --quick    # small sizes, for a smoke test

1. **Processor.** The first events of the real Ubuntu IRC logs (joins, leaves, posts) are staged, then one
   processor delivers them to the default adapters (``ARCHIVIST_ADAPTERS``), and again with
   ``supervision`` added, while 50 enabled policies hold 1,000 lexicon terms between them (words,
   prefixes, phrases, NEAR and regular expressions drawn, seeded, from the corpus' own words, so
   a realistic share of messages matches); 5 of them also sample 1% of the rest. Rounds alternate the two;
   each figure is the median. Beside them, the lexicon pass alone (every message against all
   50 policies in this process, nothing written): the floor of what the adapter adds.
2. **Backtest.** An archive of ``--messages`` simulated messages is built once on the embedded
   default (SQLite, through the processor's ``archive`` adapter; kept in ``--workdir`` for
   later runs); then a draft policy of 20 terms with a 1% sample is backtested over all of it.
   The raw floor beside it: reading the same messages' text from the archive and doing nothing.
3. **Queue page.** ``--items`` review items of 50 policies (pending, in review, escalated and
   closed, assigned to 20 reviewers) in the embedded database; ``archivist serve`` (uvicorn, a
   separate process) answers ``GET /supervision`` (the reviewer's queue, signed in) and the
   queue API; p50 and p95 of ``--runs`` requests each, over a keep-alive connection.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import platform
import random
import re
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from adapters.base import AdapterContext
from adapters.processor import BatchProcessor, ProcessorOptions
from adapters.registry import build_adapters
from archive.schema import archive_messages
from archivist.migrate import upgrade
from archivist.settings import Settings
from bench.common import write_section
from disentangle.evaluation import DEFAULT_DATA
from ingest.db import create_db_engine
from ingest.events import Event, PostEvent
from ingest.irc import read_irc_file
from ingest.simulate import simulate_events
from ingest.staging import StagingStore, to_row
from supervision.model import LexiconTerm, PolicySpec, Scope
from supervision.policy_store import create_policy
from supervision.schema import supervision_items

BEGIN, END = "<!-- bench/supervision.py begin -->", "<!-- bench/supervision.py end -->"
BATCH = 1000
POLICIES = 50
SAMPLING_POLICIES = 5
"""Policies that also sample 1% of the in-scope messages their lexicon does not match."""
TERMS_PER_POLICY = 20
SEED = 22
WORD = re.compile(r"\b[a-z]{4,24}\b")
RARE_FROM = 5_000
"""Terms are drawn from the corpus' words from this rank on (a lexicon's words are rare in
ordinary talk; with more common words most messages would be items)."""


VOCABULARY_EVENTS = 100_000
"""The IRC events whose words the lexicons are drawn from (more than a quick run delivers)."""


def irc_events(count: int) -> list[Event]:
    """The first ``count`` events of the Ubuntu IRC logs (real talk: joins, leaves and posts)."""
    found: list[Event] = []
    for path in sorted(DEFAULT_DATA.glob("*/*.raw.txt")):
        found += read_irc_file(path)
        if len(found) >= count:
            break
    return found[:count]


@dataclass
class Figure:
    name: str
    count: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


# --- lexicons drawn from the corpus -------------------------------------------------------------


def vocabulary(events: Sequence[Event]) -> tuple[list[str], list[tuple[str, str]]]:
    """The corpus' words by falling frequency, and its adjacent word pairs (for phrases)."""
    words: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    for event in events:
        if isinstance(event, PostEvent):
            found = WORD.findall(event.message.text.lower())
            words.update(found)
            pairs.update(itertools.pairwise(found))
    return [word for word, _ in words.most_common()], [pair for pair, _ in pairs.most_common()]


def lexicon_terms(words: list[str], pairs: list[tuple[str, str]], count: int, seed: int) -> list[LexiconTerm]:
    """``count`` terms of every kind, mostly of rarer words (a real lexicon's terms are rare in
    ordinary talk): 60% words, 12% prefixes, 15% phrases, 8% NEAR/5, 5% regular expressions."""
    rng = random.Random(seed)
    rare = words[RARE_FROM:] or words
    terms: list[LexiconTerm] = []
    for number in range(count):
        roll = rng.random()
        term_id = f"t{number:04d}"
        if roll < 0.60:
            terms.append(LexiconTerm(id=term_id, expression=rng.choice(rare)))
        elif roll < 0.72:
            long_words = [word for word in rare[:2_000] if len(word) >= 8] or rare
            terms.append(LexiconTerm(id=term_id, expression=rng.choice(long_words)[:7] + "*"))
        elif roll < 0.87 and pairs:
            first, second = rng.choice(pairs[len(pairs) // 20 :] or pairs)
            terms.append(LexiconTerm(id=term_id, expression=f'"{first} {second}"'))
        elif roll < 0.95:
            terms.append(LexiconTerm(id=term_id, expression=f"{rng.choice(rare)} NEAR/5 {rng.choice(rare)}"))
        else:
            word = rng.choice(rare)
            terms.append(LexiconTerm(id=term_id, kind="regex", expression=rf"\b{word[:3]}[a-z]*{word[-2:]}\b"))
    return terms


def policy_specs(terms: list[LexiconTerm], reviewers: Sequence[str]) -> list[PolicySpec]:
    return [
        PolicySpec(
            name=f"Bench policy {number:02d}",
            scope=Scope(),
            lexicon=tuple(terms[number * TERMS_PER_POLICY : (number + 1) * TERMS_PER_POLICY]),
            sampling_percent=1.0 if number < SAMPLING_POLICIES else 0.0,
            sampling_seed=f"bench-{number}",
            reviewers=tuple(reviewers[number % len(reviewers) : number % len(reviewers) + 2]),
            escalation_reviewers=("chief",),
        )
        for number in range(POLICIES)
    ]


def add_policies(engine: Engine, specs: Sequence[PolicySpec]) -> list[str]:
    now = datetime.now(UTC)
    with engine.begin() as connection:
        return [create_policy(connection, spec, "bench (bench)", "bench policy", now).id for spec in specs]


# --- 1. the processor with and without supervision ----------------------------------------------


def fresh_database(scratch: Path) -> tuple[Engine, Path]:
    directory = scratch / uuid.uuid4().hex[:8]
    directory.mkdir()
    engine = create_db_engine(f"sqlite:///{directory / 'archivist.sqlite3'}")
    upgrade(engine)
    return engine, directory


def through_processor(scratch: Path, events: list[Event], adapters: str, specs: Sequence[PolicySpec]) -> Figure:
    engine, directory = fresh_database(scratch)
    add_policies(engine, specs)
    StagingStore(engine).insert([to_row(event) for event in events])
    context = AdapterContext(engine=engine, data_dir=directory)
    workers = tuple(n.strip() for n in Settings().adapter_processes.split(",") if n.strip())
    built = build_adapters(adapters, context, worker_processes=workers)
    processor = BatchProcessor(engine, built, ProcessorOptions(batch_size=BATCH))
    started = time.perf_counter()
    outcome = processor.run(until_empty=True)
    elapsed = time.perf_counter() - started
    for adapter in built:
        adapter.close()
    with engine.connect() as connection:
        items = connection.execute(select(func.count()).select_from(supervision_items)).scalar_one()
    engine.dispose()
    # Hit events are staged by the adapter and delivered in later batches: more than staged.
    if outcome.completed < len(events):
        raise RuntimeError(f"{adapters}: delivered {outcome.completed} of {len(events)}")
    label = f"processor -> {adapters.replace(',', ' + ')}"
    if "supervision" in adapters:
        label += f" ({items:,} items, {outcome.completed - len(events):,} hit events delivered too)"
    return Figure(label, len(events), elapsed)


def lexicon_pass(events: Sequence[Event], specs: Sequence[PolicySpec]) -> Figure:
    """Every post against all the policies' lexicons in this process: what matching alone costs."""
    from supervision.lexicon import LexiconSet, PolicyLexicon, message_of

    lexicons = LexiconSet.compile(
        {f"p{n}": PolicyLexicon(terms=spec.lexicon, exclusions=spec.exclusions) for n, spec in enumerate(specs)}
    )
    posts = [event for event in events if isinstance(event, PostEvent)]
    started = time.perf_counter()
    matched = sum(1 for post in posts if lexicons.verdicts(message_of(post)))
    elapsed = time.perf_counter() - started
    return Figure(f"lexicon pass alone ({matched:,} of {len(posts):,} posts matched)", len(posts), elapsed)


def measure_processor(events: list[Event], rounds: int, scratch: Path) -> list[Figure]:
    words, pairs = vocabulary(irc_events(VOCABULARY_EVENTS))
    terms = lexicon_terms(words, pairs, POLICIES * TERMS_PER_POLICY, SEED)
    specs = policy_specs(terms, [f"reviewer-{n}" for n in range(20)])
    base = ",".join(name for name in Settings().adapters.split(",") if name.strip() != "supervision")
    supervised = f"{base},supervision"
    taken: list[tuple[Figure, Figure]] = []
    for _ in range(rounds):
        without = through_processor(scratch, events, base, specs)
        with_it = through_processor(scratch, events, supervised, specs)
        taken.append((without, with_it))
    floor = lexicon_pass(events, specs)
    return [
        Figure(taken[0][0].name, len(events), statistics.median(pair[0].seconds for pair in taken)),
        Figure(taken[-1][1].name, len(events), statistics.median(pair[1].seconds for pair in taken)),
        floor,
    ]


# --- 2. the backtest of 1M messages -------------------------------------------------------------


def archived(workdir: Path, messages: int) -> Engine:
    """An embedded archive of ``messages`` simulated messages (built once per size, kept)."""
    path = workdir / f"backtest-{messages}.sqlite3"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        present = connection.execute(select(func.count()).select_from(archive_messages)).scalar_one()
    if present >= messages:
        return engine
    store = StagingStore(engine)
    context = AdapterContext(engine=engine, data_dir=workdir)
    built = build_adapters("archive", context, worker_processes=())
    processor = BatchProcessor(engine, built, ProcessorOptions(batch_size=BATCH))
    chunk: list[Event] = []
    posts = 0
    # About two thirds of simulated events are posts: twice as many events always hold enough.
    for event in simulate_events(events=messages * 2, rooms=40, users=400, seed=SEED):
        if posts >= messages:
            break
        if isinstance(event, PostEvent):
            posts += 1
            chunk.append(event)
        elif event.type in ("join", "leave"):
            chunk.append(event)
        if len(chunk) >= 50_000:
            store.insert([to_row(e) for e in chunk])
            processor.run(until_empty=True)
            chunk = []
    if chunk:
        store.insert([to_row(e) for e in chunk])
        processor.run(until_empty=True)
    for adapter in built:
        adapter.close()
    return engine


def read_floor(engine: Engine) -> Figure:
    started = time.perf_counter()
    count = 0
    with engine.connect() as connection:
        for partition in (
            connection.execution_options(yield_per=10_000).execute(select(archive_messages.c.text)).partitions()
        ):
            count += len(partition)
    return Figure("raw: read every message's text from the archive", count, time.perf_counter() - started)


def measure_backtest(workdir: Path, messages: int) -> tuple[list[Figure], dict[str, Any]]:
    from supervision.backtest import backtest

    engine = archived(workdir, messages)
    with engine.connect() as connection:
        first, last, count = connection.execute(
            select(func.min(archive_messages.c.posted_at), func.max(archive_messages.c.posted_at), func.count())
        ).one()
    words, pairs = vocabulary(irc_events(VOCABULARY_EVENTS))
    spec = PolicySpec(
        name="Backtest draft",
        lexicon=tuple(lexicon_terms(words, pairs, TERMS_PER_POLICY, SEED + 1)),
        sampling_percent=1.0,
        sampling_seed="bench",
        reviewers=("reviewer-1", "reviewer-2", "reviewer-3"),
        enabled=False,
    )
    floor = read_floor(engine)
    started = time.perf_counter()
    report = backtest(engine, spec, first, last + timedelta(seconds=1))
    elapsed = time.perf_counter() - started
    engine.dispose()
    shown = report.model_dump(mode="json")
    return [Figure(f"backtest of a 20-term draft over {count:,} messages", count, elapsed), floor], shown


# --- 3. the queue page with 100k items: bench/supervision_queue.py ---------------------------------


def measure_queue(items: int, runs: int, postgres: str | None) -> dict[str, Any]:
    from bench import supervision_queue

    arguments = ["--items", str(items), "--repeat", str(runs)]
    if postgres:
        arguments += ["--postgres", postgres]
    return supervision_queue.run(arguments)


# --- the report ---------------------------------------------------------------------------------


def report(
    processor: list[Figure],
    backtest: list[Figure] | None,
    backtest_report: dict[str, Any] | None,
    queue: dict[str, Any] | None,
    args: argparse.Namespace,
    machine_load: str,
) -> str:
    lines = [
        BEGIN,
        "## Supervision (`bench/supervision.py`)",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"embedded default (SQLite); load before the run: `{machine_load}`.",
        "",
        f"### Processor: {args.events:,} events of the Ubuntu IRC logs, "
        f"{POLICIES} policies of {TERMS_PER_POLICY} terms",
        "",
        "| path | events/s | seconds |",
        "| --- | ---: | ---: |",
        *[f"| {f.name} | {f.rate:,.0f} | {f.seconds:.2f} |" for f in processor],
        "",
    ]
    without, with_it, floor = processor
    lines.append(
        f"- With supervision the processor keeps **{with_it.rate / without.rate:.0%}** of its throughput "
        f"without it (target: 80% or more; median of {args.rounds} alternating rounds). The lexicon pass "
        f"alone costs {1e6 / floor.rate:,.1f} µs per post for all {POLICIES * TERMS_PER_POLICY:,} terms."
    )
    if backtest is not None and backtest_report is not None:
        run, raw = backtest
        lines += [
            "",
            f"### Backtest: {run.count:,} archived messages",
            "",
            "| path | messages/s | seconds |",
            "| --- | ---: | ---: |",
            *[f"| {f.name} | {f.rate:,.0f} | {f.seconds:.2f} |" for f in backtest],
            "",
            f"- **{run.seconds:.1f} s** for {run.count:,} messages (target: under 60 s); reading the text "
            f"alone takes {raw.seconds:.1f} s of it.",
        ]
    if queue is not None:
        databases = [name for name in ("sqlite", "postgresql") if name in queue]
        views = ["web_page", "all_open", "mine", "unassigned", "escalated", "overdue", "closed", "all_open_page_2"]
        lines += [
            "",
            f"### Queue: {args.items:,} items of 50 policies, {args.runs} requests each (p50 / p95 ms)",
            "",
            "| view | " + " | ".join(databases) + " |",
            "| --- | " + " | ".join("---:" for _ in databases) + " |",
            *[
                f"| {view} | "
                + " | ".join(f"{queue[d][view]['p50_ms']:.1f} / {queue[d][view]['p95_ms']:.1f}" for d in databases)
                + " |"
                for view in views
            ],
            "",
            "- `web_page` is `GET /supervision` (all open, 50 rows, the counts) through the application, "
            "signed in as a supervisor; the others are `supervision.queue.queue` calls. Page p95: "
            + ", ".join(f"{d} **{queue[d]['web_page']['p95_ms']:.1f} ms**" for d in databases)
            + " (target: under 100 ms).",
        ]
    lines.append(END)
    return "\n".join(lines)


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events through the processor")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the processor figures")
    parser.add_argument("--messages", type=int, default=1_000_000, help="archived messages to backtest")
    parser.add_argument("--items", type=int, default=100_000, help="review items behind the queue page")
    parser.add_argument("--runs", type=int, default=200, help="requests per queue figure")
    parser.add_argument("--postgres", help="a PostgreSQL server URL: the queue on PostgreSQL too")
    parser.add_argument("--workdir", type=Path, help="keep the backtest archive here between runs")
    parser.add_argument("--skip", default="", help="parts to leave out: processor,backtest,queue")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke test)")
    parser.add_argument("--write", action="store_true", help="write the section into BENCHMARKS.md")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.rounds, args.messages, args.items, args.runs = 2_000, 1, 5_000, 2_000, 20
    return args


def main(argv: list[str] | None = None) -> str:
    args = parse_arguments(argv)
    machine_load = load()
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir: Path = args.workdir or scratch
        workdir.mkdir(parents=True, exist_ok=True)
        processor = measure_processor(irc_events(args.events), args.rounds, scratch) if "processor" not in skip else []
        backtest, shown = measure_backtest(workdir, args.messages) if "backtest" not in skip else (None, None)
        queue = measure_queue(args.items, args.runs, args.postgres) if "queue" not in skip else None
    section = report(processor, backtest, shown, queue, args, machine_load)
    print(section)
    if args.write:
        write_section(section, BEGIN, END)
    return section


if __name__ == "__main__":
    main()
