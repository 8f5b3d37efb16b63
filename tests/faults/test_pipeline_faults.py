"""Fault tolerance: under a steady publishing load, SIGKILL and restart, in turn, a consumer, a
processor, RabbitMQ and PostgreSQL; afterwards every confirmed event is archived exactly once
and staging is empty.

Everything runs against private servers this test starts (``conftest.py``): killing the
shared ones would break every other test on the machine. The consumers and processors are
real ``archivist consume`` / ``archivist process`` processes; through the RabbitMQ and
PostgreSQL faults they are left alone and must recover by themselves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from archivist.migrate import upgrade
from ingest.db import create_db_engine
from ingest.topology import Topology, broker_depths
from tests.faults.pipeline import Database, archivist, confirmed_ids, steady_publisher, tail, wait_for
from tests.faults.servers import PrivatePostgres, PrivateRabbitMQ
from tests.processes import archivist_env, run_archivist

RATE = 200.0
"""Events per second the publisher makes, through every fault."""
WARM_UP = 4.0
OUTAGE = 5.0
"""Seconds a killed process or server stays down before it is started again."""
RECOVERY_TIMEOUT = 60.0
FLOW_CHECK = 100
"""Events confirmed after a restart that must reach the archive before the pipeline counts as recovered."""
LEASE_SECONDS = 5.0
"""A killed processor's batch is claimable again after this; short, so the test stays short."""


@pytest.mark.timeout(300)
def test_every_event_is_archived_exactly_once_through_kills_of_each_part(
    private_postgres: PrivatePostgres,
    private_rabbitmq: PrivateRabbitMQ,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database_url = private_postgres.create_database("archivist")
    engine = create_db_engine(database_url)
    upgrade(engine)
    engine.dispose()
    database = Database(database_url)
    topology = Topology()
    logs = tmp_path / "logs"
    logs.mkdir(exist_ok=True)
    env = archivist_env(
        database_url=database_url,
        broker_url=private_rabbitmq.url,
        topology=topology,
        data_dir=str(tmp_path / "data"),
        adapters="archive,index,xml",
        index_hold_writer="false",  # two processors share the Tantivy index
        prefetch="400",
        batch_size="100",
        batch_timeout="0.2",
        process_batch_size="200",
        process_interval="0.2",
        lease_seconds=str(LEASE_SECONDS),
        backoff_initial="0.5",
        backoff_maximum="4",
    )
    confirmed_file = tmp_path / "confirmed-ids.txt"
    publisher = steady_publisher(
        private_rabbitmq.url, topology, RATE, confirmed_file, tmp_path / "publisher-stats.json", logs
    )
    consumers = [archivist(f"consumer-{n}", ["consume"], env, logs) for n in (1, 2)]
    processors = [archivist(f"processor-{n}", ["process"], env, logs) for n in (1, 2)]
    workers = consumers + processors
    everyone = [publisher, *workers]

    def all_logs() -> str:
        return "\n".join(f"=== {child.name} ===\n{tail(child.log)}" for child in everyone)

    def all_workers_running() -> None:
        stopped = [w for w in workers if not w.running()]
        assert not stopped, f"{[w.name for w in stopped]} stopped by themselves:\n{all_logs()}"

    faults: list[dict[str, Any]] = []

    def flowing_since(mark: int) -> bool:
        """The first ``mark`` confirmed events and FLOW_CHECK confirmed after them are all
        archived: the pipeline caught up and carries new events through again."""
        wanted = confirmed_ids(confirmed_file)[: mark + FLOW_CHECK]
        return len(wanted) == mark + FLOW_CHECK and database.archived_among(wanted) == len(wanted)

    def fault(name: str, kill: Callable[[], Any], restart: Callable[[], None], **details: Any) -> None:
        """Kill, stay down for OUTAGE, restart; then wait until the pipeline has caught up with
        everything confirmed and carries new events through again, and check that no worker
        died on the way."""
        killed_at = time.monotonic()
        status = kill()
        time.sleep(OUTAGE)
        restart()
        restarted_at = time.monotonic()
        published = confirmed_ids(confirmed_file)
        waiting = len(published) - database.archived_among(published)
        recovered = wait_for(
            lambda: flowing_since(len(published)),
            timeout=RECOVERY_TIMEOUT,
            what=f"the pipeline to catch up after the {name} kill\n{all_logs()}",
        )
        all_workers_running()
        faults.append(
            {
                "fault": name,
                **details,
                **({"exit_status": status} if isinstance(status, int) else {}),
                "down_seconds": round(restarted_at - killed_at, 2),
                "events_confirmed_at_restart": len(published),
                "not_yet_archived_at_restart": waiting,
                "recovered_seconds": round(recovered, 2),
            }
        )

    started = time.monotonic()
    try:
        for child in everyone:
            child.start()
        wait_for(lambda: flowing_since(0), timeout=60, what=f"the load to flow end to end\n{all_logs()}")
        time.sleep(WARM_UP)
        all_workers_running()

        victim = consumers[0]
        fault("consumer", victim.kill, victim.start)

        victim = processors[0]
        leased, deadline = 0, time.monotonic() + 10
        while not leased and time.monotonic() < deadline:  # kill it while it holds a batch, if it can be caught
            leased = database.leases_held_by(victim.pid)
        fault("processor", victim.kill, victim.start, events_leased_at_kill=leased)

        fault("rabbitmq", private_rabbitmq.kill, private_rabbitmq.restart, node=private_rabbitmq.node)
        fault("postgresql", private_postgres.kill, private_postgres.restart)

        assert publisher.terminate(timeout=90) == 0, f"the publisher did not drain and exit 0:\n{tail(publisher.log)}"
        load = json.loads((tmp_path / "publisher-stats.json").read_text())
        published = confirmed_ids(confirmed_file)
        assert len(published) == len(set(published)) == load["made"] == load["confirmed"]
        wait_for(
            lambda: database.archived_among(published) == len(published) and database.staging() == (0, 0),
            timeout=RECOVERY_TIMEOUT,
            what=f"all {len(published)} events archived and staging empty\n{all_logs()}",
        )
        wait_for(
            lambda: broker_depths(private_rabbitmq.url, topology) == (0, 0),
            timeout=30,
            what="the events queue to be drained and no dead letters",
        )
        all_workers_running()
        exits = {w.name: w.terminate(timeout=60) for w in workers}
        assert all(code == 0 for code in exits.values()), f"SIGTERM exits {exits}:\n{all_logs()}"

        archived = database.archive_counts()
        missing = set(published) - archived.keys()
        unexpected = archived.keys() - set(published)
        duplicated = {event_id: n for event_id, n in archived.items() if n != 1}
        assert not missing, f"{len(missing)} confirmed events are not in the archive, e.g. {sorted(missing)[:5]}"
        assert not unexpected, f"{len(unexpected)} archived events were never confirmed, e.g. {sorted(unexpected)[:5]}"
        assert not duplicated, f"{len(duplicated)} events archived more than once, e.g. {list(duplicated.items())[:5]}"
        assert database.staging() == (0, 0)
        verified = run_archivist(["verify"], env, timeout=120)
        assert verified.returncode == 0, f"archivist verify: {verified.stdout}{verified.stderr}"
    finally:
        for child in everyone:
            child.ensure_dead()

    # Held: what the broker confirmed while the load ran, over its duration, outages included.
    achieved = load["confirmed_during_load"] / load["seconds"] if load["seconds"] else 0.0
    summary = {
        "load": {
            "target_events_per_second": RATE,
            "achieved_events_per_second": round(achieved, 1),
            "seconds": round(load["seconds"], 1),
            "published_and_confirmed": load["confirmed"],
            "confirmed_while_the_load_ran": load["confirmed_during_load"],
            "publisher_drain_seconds": round(load["drain_seconds"], 2),
            "messages_sent_with_resends": load["sends"],
            "resent_after_connection_loss_or_nack": load["resent"],
            "publisher_connection_losses": load["connection_losses"],
            "longest_publish_stall_seconds": round(load["longest_stall_seconds"], 2),
            "largest_unconfirmed_backlog": load["largest_backlog"],
        },
        "faults": faults,
        "archive": {"events": len(archived), "missing": 0, "duplicated": 0, "unexpected": 0},
        "staging_left": 0,
        "worker_starts": {w.name: w.starts for w in workers},
        "test_seconds": round(time.monotonic() - started, 1),
    }
    artefact = tmp_path / "fault-tolerance-summary.json"
    artefact.write_text(json.dumps(summary, indent=2))
    survived = ", ".join(
        f"{f['fault']} SIGKILL (down {f['down_seconds']}s, {f['not_yet_archived_at_restart']} events behind, "
        f"caught up {f['recovered_seconds']}s after restart)"
        for f in faults
    )
    line = (
        f"fault tolerance: {achieved:.0f}/{RATE:.0f} events/s held for {load['seconds']:.0f}s, "
        f"{load['confirmed']} confirmed, all archived exactly once, staging empty; survived {survived}; "
        f"summary in {artefact}"
    )
    with capsys.disabled():
        print(f"\n{line}")  # noqa: T201
    assert achieved >= 0.8 * RATE, line
    assert [f["fault"] for f in faults] == ["consumer", "processor", "rabbitmq", "postgresql"]
