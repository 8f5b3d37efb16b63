"""``process``, ``verify`` and ``retry-parked`` on the embedded default."""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, select, update
from typer.testing import CliRunner

from archive.attachments import texts_for
from archive.record import archived_count
from archive.schema import archive_events
from archivist import wiring
from archivist.cli import app
from archivist.demo_attachments import demo_files
from archivist.settings import get_settings
from ingest.producer import write_jsonl
from ingest.staging import staged_events
from search.backends import TantivySearchBackend, every_hit
from search.query_parser import parse_query
from search.request import SearchRequest
from search.service import search
from supervision.policy_store import list_policies
from supervision.schema import supervision_items
from tests.factories import post_payload, posts
from tests.processes import archivist_env, start_archivist, wait_until

runner = CliRunner()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("ARCHIVIST_ADAPTERS", "archive")
    get_settings.cache_clear()
    path = tmp_path / "events.jsonl"
    write_jsonl(posts(300), path)
    assert runner.invoke(app, ["publish", str(path)]).exit_code == 0
    return 300


def test_process_until_empty_archives_everything(published: int) -> None:
    result = runner.invoke(app, ["process", "--until-empty"])
    assert result.exit_code == 0, result.output
    assert "300 delivered everywhere" in result.output
    store = wiring.staging_store(get_settings())
    assert store.counts().staged == 0
    assert archived_count(store.engine) == published


def test_process_runs_index_and_xml_in_worker_processes_by_default(
    published: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHIVIST_ADAPTERS", "archive,index,xml")
    get_settings.cache_clear()
    settings = get_settings()
    assert settings.adapter_processes == "index,xml,actiance"
    result = runner.invoke(app, ["process", "--until-empty"])
    assert result.exit_code == 0, result.output
    assert "with archive, index, xml: 300 delivered everywhere" in result.output
    assert list((settings.data_dir / "xml").glob("pchat-*.xml"))
    hits = every_hit(TantivySearchBackend(settings.data_dir / "index"), parse_query("message"))
    assert len(hits) == published


@pytest.mark.parametrize(
    ("processes", "message"),
    [("archive", "cannot run in a worker process"), ("xml,indx", "unknown adapter 'indx' (did you mean 'index'?)")],
)
def test_a_bad_adapter_processes_setting_is_a_clear_start_up_error(
    processes: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHIVIST_ADAPTER_PROCESSES", processes)
    get_settings.cache_clear()
    result = runner.invoke(app, ["process", "--until-empty"])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_process_serves_its_metrics_on_a_port(published: int) -> None:
    port = free_port()
    result = runner.invoke(app, ["process", "--until-empty", "--metrics-port", str(port)])
    assert result.exit_code == 0, result.output
    # The metrics server is a daemon thread of this (test) process: it still answers.
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    assert 'archivist_events_delivered_total{adapter="archive"}' in text
    assert "archivist_events_completed_total" in text


def test_a_metrics_port_in_use_is_a_clear_error(published: int) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["process", "--until-empty", "--metrics-port", str(port)])
    assert result.exit_code == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.output


def test_verify_catches_a_row_edited_behind_the_archives_back(published: int) -> None:
    runner.invoke(app, ["process", "--until-empty"])
    assert "archive chain intact: 300 entries verified" in runner.invoke(app, ["verify"]).output
    engine = wiring.staging_store(get_settings()).engine
    with engine.begin() as connection:
        connection.execute(
            update(archive_events)
            .where(archive_events.c.seq == 42)
            .values(payload=func.replace(archive_events.c.payload, "message number", "message NUMBER"))
        )
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 1
    assert "archive chain BROKEN at row 42" in result.output
    assert "41 rows before it verified" in result.output


def test_a_checkpoint_catches_a_cut_tail_that_the_chain_alone_cannot(published: int, tmp_path: Path) -> None:
    runner.invoke(app, ["process", "--until-empty"])
    saved = tmp_path / "heads.json"
    written = runner.invoke(app, ["verify", "--write-checkpoint", str(saved)])
    assert written.exit_code == 0, written.output
    assert "archive head row 300 of 300" in written.output
    clean = runner.invoke(app, ["verify", "--checkpoint", str(saved)])
    assert clean.exit_code == 0, clean.output
    assert "every checkpointed head is still in place" in clean.output
    engine = wiring.staging_store(get_settings()).engine
    with engine.begin() as connection:
        connection.execute(delete(archive_events).where(archive_events.c.seq > 250))
    assert runner.invoke(app, ["verify"]).exit_code == 0, "a cut tail still verifies on its own"
    cut = runner.invoke(app, ["verify", "--checkpoint", str(saved)])
    assert cut.exit_code == 1
    assert "archive: the checkpointed row 300 is gone" in cut.output
    saved.write_text("{not json", encoding="utf-8")
    unreadable = runner.invoke(app, ["verify", "--checkpoint", str(saved)])
    assert unreadable.exit_code == 2
    assert "not a checkpoint" in unreadable.output


def test_unknown_adapter_fails_at_start_up_with_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_ADAPTERS", "archive,elasticsearh")
    get_settings.cache_clear()
    result = runner.invoke(app, ["process", "--until-empty"])
    assert result.exit_code == 2
    assert "did you mean 'elasticsearch'" in result.output
    assert (
        "known adapters: actiance, archive, elasticsearch, extract, index, opensearch, supervision, threads, xml"
        in result.output
    )


def test_retry_parked_puts_parked_events_back(published: int) -> None:
    engine = wiring.staging_store(get_settings()).engine
    with engine.begin() as connection:
        connection.execute(update(staged_events).values(parked=True, attempts=8, last_error="xml: disk full"))
    status = runner.invoke(app, ["status", "--json"])
    assert '"parked": 300' in status.output
    result = runner.invoke(app, ["retry-parked"])
    assert result.exit_code == 0
    assert "300 parked events will be retried" in result.output
    assert runner.invoke(app, ["process", "--until-empty"]).exit_code == 0
    assert archived_count(engine) == 300


def test_reindex_rebuilds_the_search_index_from_the_archive(published: int) -> None:
    runner.invoke(app, ["process", "--until-empty"])
    result = runner.invoke(app, ["reindex"])
    assert result.exit_code == 0, result.output
    assert "index rebuilt from the archive: 300 documents" in result.output


def test_elasticsearch_without_a_url_is_a_clear_start_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_ADAPTERS", "archive,elasticsearch")
    get_settings.cache_clear()
    result = runner.invoke(app, ["process", "--until-empty"])
    assert result.exit_code == 2
    assert "needs ARCHIVIST_ELASTICSEARCH_URL" in result.output


def test_demo_loads_real_logs_and_synthetic_traffic_through_the_pipeline() -> None:
    result = runner.invoke(app, ["demo", "--synthetic-events", "500", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "rejected" in result.output
    engine = wiring.staging_store(get_settings()).engine
    archived = archived_count(engine)
    assert archived > 9_000, "the 7 demo IRC logs hold about 9,000 events"
    assert wiring.staging_store(get_settings()).counts().staged == 0
    # the demo's attachments: stored, their text extracted (OCR too) and searchable
    files = demo_files()
    with engine.connect() as connection:
        texts = texts_for(connection, [str(file.event_id) for file in files])
    assert sorted(text.state for text in texts.values()) == ["extracted"] * len(files)
    store = wiring.file_store(get_settings())
    words = b"".join(store.open(text.text_sha256).read() for text in texts.values() if text.text_sha256)
    assert b"firmware-b43-installer" in words
    assert b"modprobe" in words, "the screenshot's words come from OCR"
    found = wiring.search_backend(get_settings()).search(SearchRequest(parse_query("attachment:firmware")))
    assert [hit.event_id for hit in found.hits] == [str(files[0].event_id)]
    # supervision: the example lexicons as enabled policies found the misconduct corpus, each
    # item archived as a searchable supervision_hit event
    with engine.connect() as connection:
        policies = list_policies(connection)
        reasons: dict[str, int] = dict(
            connection.execute(
                select(supervision_items.c.reason, func.count()).group_by(supervision_items.c.reason)
            ).all()
        )
    assert len(policies) == 4
    assert all(policy.spec.enabled for policy in policies)
    assert reasons["lexicon"] > 100, reasons
    hits = search(wiring.search_backend(get_settings()), engine, SearchRequest(parse_query("type:supervision_hit")))
    assert hits.total == sum(reasons.values())
    again = runner.invoke(app, ["demo", "--synthetic-events", "500", "--no-serve"])
    assert again.exit_code == 0
    assert archived_count(engine) == archived, "running the demo again duplicates nothing"


def test_demo_serves_the_api_and_processes_what_arrives_meanwhile(tmp_path: Path) -> None:
    """The README's first command: data loaded, then the API answers and new events get archived."""
    port = free_port()
    env = archivist_env(data_dir=str(tmp_path / "data"), process_interval="0.2") | {"PYTHONUNBUFFERED": "1"}
    demo = start_archivist(["demo", "--synthetic-events", "200", "--port", str(port)], env)
    try:
        assert demo.stdout is not None
        token = ""
        for line in demo.stdout:
            if line.strip().startswith("arch_"):
                token = line.strip()
                break
        assert token, "the demo prints a token"
        base = f"http://127.0.0.1:{port}/api/v1"
        headers = {"Authorization": f"Bearer {token}"}

        def answering() -> bool:
            try:
                return httpx.get(f"{base}/rooms", headers=headers, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(answering, timeout=60, what="the demo's API")
        found = httpx.post(f"{base}/search", json={"query": "wireless"}, headers=headers, timeout=30).json()
        assert found["total"] > 10
        event = post_payload(1, run="demo-live", text="a fresh zebracorn message")
        accepted = httpx.post(f"{base}/events", json=[event], headers=headers, timeout=30)
        assert accepted.status_code == 200, accepted.text

        def archived_and_found() -> bool:
            answer = httpx.post(f"{base}/search", json={"query": "zebracorn"}, headers=headers, timeout=30).json()
            return bool(answer["total"] == 1)

        wait_until(archived_and_found, timeout=60, what="the processor to deliver the new event", interval=0.3)
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=60)
    assert demo.returncode == 0
