"""bench/process.py --opensearch: the raw operations are the adapter's, and the CPU split adds up."""

from __future__ import annotations

import os
from typing import Any

from opensearchpy.helpers.actions import expand_action

from adapters.es_actions import bulk_actions, bulk_body
from bench.process import BATCH, CpuSampler, helpers_actions, machine_cpu_seconds, process_cpu_seconds
from ingest.simulate import simulate_events


def test_the_raw_operations_are_the_ones_the_adapter_sends() -> None:
    events = list(simulate_events(events=2 * BATCH + 10, rooms=4, users=20, seed=3))
    adapter: list[Any] = []
    for start in range(0, len(events), BATCH):
        adapter += bulk_body(bulk_actions(events[start : start + BATCH], "p"))
    raw: list[Any] = []
    for action in helpers_actions(events, "p"):
        header, body = expand_action(action)
        raw += [header, body]
    assert raw == adapter
    assert {next(iter(header)) for header in raw[::2]} == {"index", "update"}


def test_cpu_seconds_are_read_from_proc_and_only_grow() -> None:
    before = process_cpu_seconds(os.getpid())
    busy_before, idle_before = machine_cpu_seconds()
    sum(i * i for i in range(2_000_000))
    assert process_cpu_seconds(os.getpid()) > before
    busy, idle = machine_cpu_seconds()
    assert busy >= busy_before
    assert idle >= idle_before


def test_the_sampler_splits_the_cpu_of_the_processes_it_is_told_about() -> None:
    sampler = CpuSampler(node_pid=os.getpid(), database=None)
    sampler.processors = [os.getpid()]
    sampler.start()
    sum(i * i for i in range(2_000_000))
    split = sampler.stop()
    assert set(split) == {"processors", "postgresql", "opensearch", "rest of the machine", "idle"}
    assert split["processors"] > 0
    assert split["postgresql"] == 0, "no database: no backend is counted"
    assert all(seconds >= 0 for seconds in split.values())
