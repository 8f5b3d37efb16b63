"""The demo: real IRC logs and synthetic traffic through the whole pipeline, then the API."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from sqlalchemy import Engine

from archive.attachments import record_native
from archive.principals import create_token
from archive.record import archived_count
from archivist import wiring
from archivist.cli.common import fail, load_settings, out
from archivist.cli.events import run_producer
from archivist.cli.workers import Extraction, process, processor_adapters, proxy_options
from archivist.demo_attachments import demo_files, demo_uploads
from archivist.settings import Settings
from ingest.events import Event
from ingest.irc import read_irc_file
from ingest.simulate import simulate_events
from ingest.staging import StagingStore
from supervision.corpus import generate
from supervision.examples import example_policies
from supervision.policy_store import create_policy, list_policies

app = typer.Typer()

DEMO_DATA = Path(__file__).parent.with_name("demo_data")
DEMO_LABEL = "demo"
"""The demo token's label: the reviewer of the demo's supervision policies."""


@app.command()
def demo(
    synthetic_events: Annotated[int, typer.Option(min=0, help="Synthetic events beside the IRC logs.")] = 20_000,
    supervised_messages: Annotated[
        int, typer.Option(min=0, help="Messages of the seeded misconduct corpus (supervision's example lexicons).")
    ] = 2_000,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Keep running: the search API plus the processor.")
    ] = True,
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port the API listens on.")] = 8000,
) -> None:
    """Load the demo data (real IRC logs plus synthetic traffic), run it through the pipeline,
    then serve the search API with a processor delivering whatever arrives meanwhile."""
    settings = load_settings()
    if settings.broker_url or settings.database_url:
        fail("demo runs on the embedded default: unset ARCHIVIST_BROKER_URL and ARCHIVIST_DATABASE_URL")
    logs = sorted((DEMO_DATA / "ubuntu-irc").glob("*.raw.txt"))
    out.print(f"Loading {len(logs)} real #ubuntu IRC logs (CC BY 4.0, see {DEMO_DATA / 'ubuntu-irc'})")
    irc = list(_irc_events(logs))
    run_producer(irc, "demo IRC logs", progress_lines=False)
    _share_demo_attachments(settings, irc)
    traffic = simulate_events(events=synthetic_events, rooms=12, users=80, seed=2026)
    run_producer(traffic, "demo synthetic traffic", progress_lines=False)
    _supervise_demo(wiring.staging_store(settings).engine, supervised_messages)
    out.print(f"Delivering to {settings.adapters} ...")
    process(interval=0.2, until_empty=True)
    store = wiring.staging_store(settings)
    out.print(f"Archive: {archived_count(store.engine)} events in {settings.resolved_database_url}", highlight=False)
    data = settings.data_dir.resolve()
    out.print(f"Search index: {data / 'index'}; XML files: {data / 'xml'}", highlight=False)
    if not serve_api:
        return
    token = create_token(store.engine, "admin", DEMO_LABEL)
    base = f"http://{host}:{port}"
    out.print(
        f"\nWeb pages: {base}/ (sign in with the token below). Search API: {base}/docs (OpenAPI).\n"
        f"Demo token (role admin, shown once):\n  {token}\n"
        f"Try:\n  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        f"""-d '{{"query": "wireless NEAR/5 driver"}}' {base}/api/v1/search\n"""
        f"""  (attachments too: '{{"query": "attachment:firmware"}}', '{{"query": "filetype:png modprobe"}}')\n"""
        f"Supervision: the review queue at {base}/supervision, the policies at {base}/supervision/policies\n"
        "Ctrl-C stops.",
        highlight=False,
        markup=False,
    )
    _serve_with_processor(settings, store, host, port)


def _supervise_demo(engine: Engine, messages: int) -> None:
    """The shipped example lexicons as enabled supervision policies (1% of the rest sampled, the
    demo token's label as reviewer), and the seeded misconduct corpus to find with them."""
    now = datetime.now(UTC)
    with engine.begin() as connection:
        taken = {policy.spec.name for policy in list_policies(connection)}
        for spec in example_policies().values():
            if spec.name in taken:
                continue
            demo_spec = spec.model_copy(
                update={
                    "enabled": True,
                    "sampling_percent": 1.0,
                    "sampling_seed": "demo",
                    "reviewers": (DEMO_LABEL,),
                    "escalation_reviewers": (DEMO_LABEL,),
                }
            )
            create_policy(connection, demo_spec, "demo", "the shipped example, enabled for the demo", now)
    out.print("Supervision: the example lexicons enabled as policies (examples to adapt, not advice)")
    corpus = (labelled.event for labelled in generate(messages, seed=2026))
    run_producer(corpus, "demo misconduct corpus (synthetic, seeded)", progress_lines=False)


def _share_demo_attachments(settings: Settings, irc: list[Event]) -> None:
    """The demo's attachments (:mod:`archivist.demo_attachments`), stored, then shared in the
    IRC room by people of its log, an hour after its first line."""
    posts = [event for event in irc if event.type == "post"]
    if not posts:
        return
    files = demo_files()
    speakers = list({post.actor.id: post.actor for post in posts}.values())[:4]
    uploads = demo_uploads(files, posts[0].room, speakers, posts[0].occurred_at + timedelta(hours=1))
    store = wiring.file_store(settings)
    engine = wiring.staging_store(settings).engine
    for file in files:
        put = store.put([file.data], expected_sha256=file.sha256)
        with engine.begin() as connection:
            record_native(connection, put.sha256, put.size, "import")
    out.print(f"Sharing {len(files)} demo attachments in {posts[0].room.name} (documents made for the demo)")
    run_producer(uploads, "demo attachments", progress_lines=False)


def _irc_events(files: Iterable[Path]) -> Iterator[Event]:
    for path in files:
        yield from read_irc_file(path)


def _serve_with_processor(settings: Settings, store: StagingStore, host: str, port: int) -> None:
    """uvicorn in this thread (it owns the signals), the processor (and the extraction worker)
    in others, stopped after."""
    built = processor_adapters(settings, store)
    processor = wiring.processor(settings, store, built)
    worker = threading.Thread(
        target=processor.run, kwargs={"interval": settings.process_interval}, name="processor", daemon=True
    )
    worker.start()
    extraction = Extraction(settings, store, until_empty=False) if wiring.extracts(settings) else None
    if extraction is not None:
        extraction.start()  # the text of files uploaded meanwhile
    try:
        uvicorn.run(
            wiring.api_app(settings),
            host=host,
            port=port,
            log_level="warning",
            log_config=None,
            **proxy_options(settings),
        )
    finally:
        if extraction is not None:
            extraction.close()
        processor.stop()
        worker.join(timeout=60)
        for adapter in built:
            adapter.close()
