"""What the operational probes reach besides the database: the broker and the search engine as the
composition root configured them (``archivist.wiring.probes``), handed to the app once with its
services. ``/readyz`` checks them, ``/metrics`` and the overview read the broker's queues."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr


@dataclass(frozen=True)
class BrokerTarget:
    url: SecretStr
    ssl: Mapping[str, Any] | None
    """kombu's ``ssl`` option: None for ``amqp://``."""
    queue: str
    dead_letter_queue: str


@dataclass(frozen=True)
class ElasticsearchTarget:
    url: SecretStr
    options: Mapping[str, Any] = field(repr=False)
    """Keyword arguments of ``Elasticsearch(...)`` beyond the URL (the API key among them)."""


@dataclass(frozen=True)
class OpenSearchTarget:
    url: SecretStr
    ca_certs: str | None = None


@dataclass(frozen=True)
class Probes:
    """None for what is not configured: the embedded default has none."""

    broker: BrokerTarget | None = None
    elasticsearch: ElasticsearchTarget | None = None
    opensearch: OpenSearchTarget | None = None
