"""Builds the pieces each command needs from the settings (no domain logic here)."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from sqlalchemy import Engine

from adapters.base import Adapter, AdapterContext
from adapters.extraction_worker import ExtractionWorker, Extractor, Fetch, WorkerOptions
from adapters.processor import BatchProcessor, ProcessorOptions
from adapters.registry import build_adapters, parse_adapter_names
from archive.attachments import WaitingUpload, receiving_native, record_native
from archive.fetch import FetchPolicy, fetch_native
from archive.file_store import FileStore
from archive.fs_file_store import FsFileStore
from archive.s3_file_store import S3FileStore
from archivist.logs import configure_logging, current_log_format
from archivist.migrate import upgrade
from archivist.settings import Settings
from archivist.tls import broker_ssl_options, database_connect_args, elasticsearch_options
from extraction.pool import STARTUP_SECONDS, ExtractionPool
from extraction.result import ExtractionLimits
from ingest.db import create_db_engine
from ingest.publisher import Publisher
from ingest.sink import BrokerSink, EventSink, StagingSink
from ingest.staging import StagingStore
from ingest.topology import Topology
from search_api.probes import BrokerTarget, ElasticsearchTarget, OpenSearchTarget, Probes
from supervision.webhooks import WebhookConfig

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from search.backends import SearchBackend


def topology(settings: Settings) -> Topology:
    return Topology(
        exchange=settings.exchange,
        queue=settings.queue,
        dead_letter_exchange=settings.dead_letter_exchange,
        dead_letter_queue=settings.dead_letter_queue,
        queue_type=settings.queue_type,
    )


def staging_store(settings: Settings) -> StagingStore:
    """The staging store, its schema brought up to date first."""
    engine = create_db_engine(settings.resolved_database_url, database_connect_args(settings))
    upgrade(engine)
    return StagingStore(engine)


def event_sink(settings: Settings) -> EventSink:
    """RabbitMQ when a broker is configured, else straight into staging (embedded mode)."""
    if settings.broker_url:
        return BrokerSink(
            Publisher(
                settings.broker_url.get_secret_value(),
                topology(settings),
                window=settings.publish_window,
                ssl=broker_ssl_options(settings),
            )
        )
    return StagingSink(staging_store(settings))


def elasticsearch_client(settings: Settings) -> Elasticsearch:
    """A client for the configured Elasticsearch, with its CA bundle and API key when set."""
    from elasticsearch import Elasticsearch

    if settings.elasticsearch_url is None:
        raise ValueError("no Elasticsearch is configured (ARCHIVIST_ELASTICSEARCH_URL)")
    return Elasticsearch(
        settings.elasticsearch_url.get_secret_value(), request_timeout=30, **elasticsearch_options(settings)
    )


def opensearch_client(settings: Settings) -> Any:
    """A client for the configured OpenSearch, with its CA bundle when set."""
    from search.opensearch_client import opensearch_client as client_for

    if settings.opensearch_url is None:
        raise ValueError("no OpenSearch is configured (ARCHIVIST_OPENSEARCH_URL)")
    ca_file = settings.opensearch_tls_ca_file
    return client_for(settings.opensearch_url.get_secret_value(), ca_certs=str(ca_file) if ca_file else None)


def search_backend(settings: Settings) -> SearchBackend:
    """Elasticsearch or OpenSearch when configured, else the embedded Tantivy index in the data directory."""
    # Imported here, not at the top: the search engines' clients cost CPU at start-up, which
    # every command would pay.
    from search.backends import ElasticsearchSearchBackend, OpenSearchSearchBackend, TantivySearchBackend

    if settings.elasticsearch_url:
        from search.es_version import check_at_start

        client = elasticsearch_client(settings)
        check_at_start(client)  # the other major or OpenSearch: a clear error before serving
        return ElasticsearchSearchBackend(client)
    if settings.opensearch_url:
        return OpenSearchSearchBackend(opensearch_client(settings))
    return TantivySearchBackend(settings.data_dir / "index")


def file_store(settings: Settings) -> FileStore:
    """The configured store of natives and extracted texts (``ARCHIVIST_FILE_STORE``)."""
    if settings.file_store == "s3":
        assert settings.s3_bucket is not None  # the settings refuse s3 without a bucket
        secret = settings.s3_secret_access_key
        return S3FileStore(
            settings.s3_bucket,
            prefix=settings.s3_prefix,
            endpoint_url=settings.s3_endpoint_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
            retain_days=settings.s3_retain_days,
        )
    return FsFileStore(settings.resolved_files_dir)


def fetch_policy(settings: Settings) -> FetchPolicy | None:
    """How the bytes of pending uploads may be fetched from their event's url (``archive.fetch``);
    None when ``ARCHIVIST_FETCH_URLS`` is off (the default)."""
    if not settings.fetch_urls:
        return None
    timeout = settings.fetch_timeout_seconds
    return FetchPolicy(
        allowed_hosts=tuple(host.strip() for host in settings.fetch_allowed_hosts.split(",") if host.strip()),
        connect_timeout=min(10.0, timeout),
        read_timeout=min(30.0, timeout),
        total_timeout=timeout,
        max_bytes=settings.max_file_bytes,
    )


def adapter_context(settings: Settings, store: StagingStore) -> AdapterContext:
    options = {"index_hold_writer": str(settings.index_hold_writer).lower()}
    # The Elasticsearch adapter's TLS and credential options (adapters.es_adapter.create).
    es = elasticsearch_options(settings)
    if "ca_certs" in es:
        options["es_ca_certs"] = es["ca_certs"]
    if "api_key" in es:
        options["es_api_key"] = es["api_key"]
    if settings.opensearch_tls_ca_file is not None:
        options["os_ca_certs"] = str(settings.opensearch_tls_ca_file)
    return AdapterContext(
        engine=store.engine,
        data_dir=settings.data_dir,
        elasticsearch_url=settings.elasticsearch_url.get_secret_value() if settings.elasticsearch_url else None,
        opensearch_url=settings.opensearch_url.get_secret_value() if settings.opensearch_url else None,
        options=options,
        database_connect_args=database_connect_args(settings),
        file_store=file_store(settings),
        configure_worker_logging=partial(
            configure_logging, logging.getLogger().getEffectiveLevel(), current_log_format()
        ),
    )


def adapters(settings: Settings, store: StagingStore) -> list[Adapter]:
    """The configured adapters (archive first), all in this process (retention, reindexing);
    an unknown name raises ``UnknownAdapter``."""
    return build_adapters(settings.adapters, adapter_context(settings, store))


def processor_adapters(settings: Settings, store: StagingStore) -> list[Adapter]:
    """The configured adapters for a processor: those in ``ARCHIVIST_ADAPTER_PROCESSES`` each
    in a worker process of its own."""
    workers = [name.strip() for name in settings.adapter_processes.split(",") if name.strip()]
    return build_adapters(settings.adapters, adapter_context(settings, store), worker_processes=workers)


def processor(settings: Settings, store: StagingStore, built: list[Adapter]) -> BatchProcessor:
    return BatchProcessor(
        store.engine,
        built,
        ProcessorOptions(
            batch_size=settings.process_batch_size,
            lease_seconds=settings.lease_seconds,
            max_attempts=settings.max_attempts,
            backoff_initial=settings.backoff_initial,
            backoff_maximum=settings.backoff_maximum,
        ),
    )


EXTRACT_ADAPTER = "extract"


def extracts(settings: Settings) -> bool:
    """Whether the ``extract`` adapter is configured: a processor then runs the extraction worker."""
    return EXTRACT_ADAPTER in parse_adapter_names(settings.adapters)


def extraction_limits(settings: Settings) -> ExtractionLimits:
    return ExtractionLimits(
        seconds=settings.extract_seconds,
        memory_bytes=settings.extract_memory_mb * 1024 * 1024,
        max_text_chars=settings.extract_max_text_chars,
    )


def extraction_pool(settings: Settings) -> ExtractionPool:
    """The worker processes that extract text under the configured limits (started on first use)."""
    return ExtractionPool(settings.extract_workers, extraction_limits(settings))


def url_fetcher(settings: Settings, files: FileStore, engine: Engine) -> Fetch | None:
    """Fetches a waiting upload's bytes from its event's url into ``files`` and records them
    (the extraction worker calls it); None when ``ARCHIVIST_FETCH_URLS`` is off."""
    policy = fetch_policy(settings)
    if policy is None:
        return None

    def fetch(upload: WaitingUpload) -> bool:
        with engine.begin() as connection:  # calls off a deletion of the same bytes (retention)
            receiving_native(connection, upload.sha256)
        stored = fetch_native(files, upload.url, expected_sha256=upload.sha256, policy=policy)
        with engine.begin() as connection:
            record_native(connection, stored.sha256, stored.size, "fetch")
        return True

    return fetch


def extraction_worker(
    settings: Settings, store: StagingStore, extractor: Extractor, fetch: Fetch | None = None
) -> ExtractionWorker:
    """The loop that extracts the queued uploads' text with ``extractor`` (the pool's ``extract``),
    fetching waiting uploads from their url when ``ARCHIVIST_FETCH_URLS`` is on."""
    # A call may wait for a worker process to start, then for the time limit; the lease outlasts both.
    call_seconds = settings.extract_seconds + STARTUP_SECONDS + 30
    options = WorkerOptions(
        workers=settings.extract_workers,
        lease_seconds=call_seconds + 60,
        call_seconds=call_seconds,
        max_attempts=settings.extract_max_attempts,
        interval=settings.process_interval,
        backoff_initial=settings.backoff_initial,
        backoff_maximum=settings.backoff_maximum,
    )
    files = file_store(settings)
    if fetch is None:
        fetch = url_fetcher(settings, files, store.engine)
    return ExtractionWorker(store.engine, files, extractor, options, fetch=fetch)


def probes(settings: Settings) -> Probes:
    """The broker and search engine the API's readiness probes, metrics and overview reach."""
    broker = None
    if settings.broker_url:
        broker = BrokerTarget(
            settings.broker_url, broker_ssl_options(settings), settings.queue, settings.dead_letter_queue
        )
    elasticsearch = None
    if settings.elasticsearch_url:
        elasticsearch = ElasticsearchTarget(settings.elasticsearch_url, elasticsearch_options(settings))
    opensearch = None
    if settings.opensearch_url:
        ca_file = settings.opensearch_tls_ca_file
        opensearch = OpenSearchTarget(settings.opensearch_url, str(ca_file) if ca_file else None)
    return Probes(broker, elasticsearch, opensearch)


def api_app(settings: Settings) -> FastAPI:
    """The search API over the configured database, index and event sink."""
    from search_api.app import create_app
    from search_api.deps import AppServices
    from search_api.request_limits import EVENTS_PATH, FILES_PATH, BodyLimits

    store = staging_store(settings)
    services = AppServices(
        engine=store.engine,
        index_dir=settings.data_dir / "index",
        sink=event_sink(settings),
        backend=search_backend(settings),
        probes=probes(settings),
        file_store=file_store(settings),
        max_file_bytes=settings.max_file_bytes,
        public_base_url=settings.public_base_url,
    )
    limits = BodyLimits(
        settings.max_request_bytes,
        {EVENTS_PATH: settings.max_event_batch_bytes, FILES_PATH: settings.max_file_bytes},
    )
    return create_app(services, limits)


def supervision_webhook(settings: Settings) -> WebhookConfig | None:
    """Where and how escalation notices are delivered; None when no webhook is configured."""
    if settings.supervision_webhook_url is None or settings.supervision_webhook_secret is None:
        return None
    return WebhookConfig(
        url=settings.supervision_webhook_url.get_secret_value(),
        secret=settings.supervision_webhook_secret.get_secret_value(),
        timeout=settings.supervision_webhook_timeout_seconds,
        max_attempts=settings.supervision_webhook_max_attempts,
        backoff_initial=settings.supervision_webhook_backoff_initial,
        backoff_maximum=settings.supervision_webhook_backoff_maximum,
        max_age=timedelta(hours=settings.supervision_webhook_max_age_hours),
        tls_ca_file=settings.supervision_webhook_tls_ca_file,
    )
