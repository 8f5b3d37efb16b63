"""The long-running roles: the consumer, the processor, the extraction worker and the search API."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated, Any

import typer
import uvicorn
from prometheus_client import start_http_server
from rich.markup import escape

from adapters.base import Adapter
from adapters.extraction_worker import ExtractionWorker, WorkerOutcome
from adapters.processor import BatchOutcome, tune_gc_for_batches
from adapters.worker_process import WorkerStartFailed
from archivist import wiring
from archivist.cli.common import fail, load_settings, log, out
from archivist.settings import Settings
from archivist.tls import broker_ssl_options
from extraction.pool import ExtractionPool
from ingest.consumer import ConsumerOptions, ConsumeStats, StagingConsumer
from ingest.staging import StagingStore

app = typer.Typer()


MetricsPort = Annotated[
    int | None, typer.Option(min=1, max=65535, help="Serve Prometheus metrics on this port (off when not given).")
]
MetricsHost = Annotated[str, typer.Option(help="Address for the metrics port (0.0.0.0 for a scraper on another host).")]


@app.command()
def consume(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Exit once the queue has stayed empty for a moment.")
    ] = False,
    idle_seconds: Annotated[float, typer.Option(min=0.1, help="What 'a moment' is, in seconds.")] = 2.0,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Move events from RabbitMQ into staging (commit, then ack) until stopped by SIGTERM/SIGINT."""
    settings = load_settings()
    if not settings.broker_url:
        fail("consume needs ARCHIVIST_BROKER_URL; without a broker, producers write to staging directly")
    serve_metrics(metrics_port, metrics_host)
    consumer = StagingConsumer(
        settings.broker_url.get_secret_value(),
        wiring.staging_store(settings),
        wiring.topology(settings),
        ConsumerOptions(
            prefetch=settings.prefetch,
            batch_size=settings.batch_size,
            batch_timeout=settings.batch_timeout,
            idle_timeout=idle_seconds if until_idle else None,
        ),
        ssl=broker_ssl_options(settings),
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current batch", signal.Signals(signum).name)
        consumer.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stats: ConsumeStats = consumer.run()
    out.print(
        f"consumed {stats.received} messages: {stats.staged} staged, {stats.duplicates} duplicates, "
        f"{stats.dead_lettered} dead-lettered, {stats.reconnects} reconnects",
        highlight=False,
    )


@app.command()
def process(
    interval: Annotated[
        float | None, typer.Option(min=0.05, help="Seconds between polls when nothing is due (default: settings).")
    ] = None,
    until_empty: Annotated[bool, typer.Option("--until-empty", help="Exit once no staged event is due.")] = False,
    metrics_port: MetricsPort = None,
    metrics_host: MetricsHost = "127.0.0.1",
) -> None:
    """Deliver staged events to every configured adapter; delete each once all have it. With the
    ``extract`` adapter, the extraction worker runs beside the batches (a thread and its pool's
    worker processes): it extracts the uploads' text at its own pace and stages their
    ``file_text`` events, which the batches then deliver."""
    settings = load_settings()
    serve_metrics(metrics_port, metrics_host)
    store = wiring.staging_store(settings)
    built = processor_adapters(settings, store)
    processor = wiring.processor(settings, store, built)
    extraction = Extraction(settings, store, until_empty=until_empty) if wiring.extracts(settings) else None

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current batch", signal.Signals(signum).name)
        processor.stop()
        if extraction is not None:
            extraction.worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tune_gc_for_batches()
    every = interval or settings.process_interval
    try:
        if extraction is not None and not until_empty:
            extraction.start()
        total: BatchOutcome = processor.run(interval=every, until_empty=until_empty)
        if extraction is not None and until_empty:
            # The uploads just archived are extracted, their texts staged, then delivered.
            extraction.start()
            extraction.join()
            more = processor.run(interval=every, until_empty=True)
            total.claimed += more.claimed
            total.completed += more.completed
            total.failed += more.failed
            total.parked += more.parked
    finally:
        if extraction is not None:
            extraction.close()
        for adapter in built:
            adapter.close()
    counts = store.counts()
    out.print(
        f"processed {total.claimed} events with {', '.join(a.name for a in built)}: {total.completed} delivered "
        f"everywhere, {total.failed} failed (will retry), {total.parked} parked; "
        f"staging now holds {counts.staged} (+{counts.parked} parked)",
        highlight=False,
    )


class Extraction:
    """The extraction worker on a thread of its own, with its pool of worker processes."""

    def __init__(self, settings: Settings, store: StagingStore, *, until_empty: bool) -> None:
        self.pool: ExtractionPool = wiring.extraction_pool(settings)
        self.worker: ExtractionWorker = wiring.extraction_worker(settings, store, self.pool.extract)
        self.outcome = WorkerOutcome()
        self._until_empty = until_empty
        self._thread = threading.Thread(target=self._run, name="extraction", daemon=True)

    def _run(self) -> None:
        self.outcome = self.worker.run(until_empty=self._until_empty)

    def start(self) -> None:
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    def close(self) -> None:
        """Stop the loop (an extraction in progress is abandoned: its job's lease expires and it
        is extracted again) and the pool's processes."""
        self.worker.stop()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.pool.close()


@app.command()
def extract(
    until_empty: Annotated[
        bool, typer.Option("--until-empty", help="Exit once every upload whose bytes are stored has its text.")
    ] = False,
) -> None:
    """Extract the text of uploaded files (the ``extract`` adapter's jobs), alone: what ``process``
    runs beside its batches. The texts are staged as ``file_text`` events for ``process``."""
    settings = load_settings()
    store = wiring.staging_store(settings)
    extraction = Extraction(settings, store, until_empty=until_empty)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: stopping the extraction", signal.Signals(signum).name)
        extraction.worker.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        extraction.start()
        extraction.join()
    finally:
        extraction.close()
    outcome = extraction.outcome
    out.print(f"extracted {outcome.done} files ({outcome.retried} attempts failed and were put back)", highlight=False)
    if outcome.put_off:
        out.print(
            f"{outcome.put_off} files put off: the file store, the database or the extraction pool failed"
            " (their attempts do not count; a later run extracts them)",
            highlight=False,
        )


def processor_adapters(settings: Settings, store: StagingStore) -> list[Adapter]:
    """A processor's adapters; a bad adapter setting or a worker that cannot start is a clear
    error (exit 2), never a traceback."""
    try:
        return wiring.processor_adapters(settings, store)
    except (ValueError, WorkerStartFailed) as error:  # UnknownAdapter is a ValueError
        fail(escape(str(error)))  # a message may hold brackets: pip install 'archivist[es8]'


def serve_metrics(port: int | None, host: str) -> None:
    """The worker's Prometheus metrics (events consumed, staged, delivered per adapter, parked,
    batch latency) on their own port, for a scraper; a port in use is a clear error."""
    if port is None:
        return
    try:
        start_http_server(port, addr=host)
    except OSError as error:
        fail(f"cannot serve metrics on {host}:{port}: {error.strerror or error}")


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy handling: X-Forwarded-* only from ``trusted_proxies``, and none at all when
    it is empty (uvicorn would otherwise trust 127.0.0.1, and anything local could pose as any
    client to the sign-in limiter)."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.trusted_proxies}


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Run the search API (OpenAPI at /docs) with uvicorn."""
    settings = load_settings()
    uvicorn.run(
        wiring.api_app(settings),
        host=host,
        port=port,
        log_level="info",
        log_config=None,  # uvicorn's loggers propagate to ours: text or JSON as configured
        **proxy_options(settings),
    )
