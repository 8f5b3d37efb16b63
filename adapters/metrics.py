"""Prometheus metrics of the batch processor (served by the metrics endpoint of each role)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DELIVERED = Counter("archivist_events_delivered_total", "Events an adapter accepted, per adapter.", ["adapter"])
DELIVERY_FAILURES = Counter(
    "archivist_delivery_failures_total", "Events an adapter failed to write, per adapter.", ["adapter"]
)
COMPLETED = Counter("archivist_events_completed_total", "Events delivered everywhere and removed from staging.")
PARKED = Counter("archivist_events_parked_total", "Events parked after their last allowed attempt.")
BATCH_SECONDS = Histogram(
    "archivist_batch_seconds",
    "Time to deliver one claimed batch to every adapter and record the outcome.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
