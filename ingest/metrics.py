"""Prometheus metrics of the ingest path (consumers and producers)."""

from __future__ import annotations

from prometheus_client import Counter

CONSUMED = Counter("archivist_messages_consumed_total", "Messages taken from the events queue and acked.")
STAGED = Counter("archivist_events_staged_total", "Events newly inserted into staging.")
DUPLICATES = Counter("archivist_events_duplicate_total", "Events that were already staged (absorbed).")
DEAD_LETTERED = Counter("archivist_messages_dead_lettered_total", "Invalid messages sent to the dead-letter queue.")
