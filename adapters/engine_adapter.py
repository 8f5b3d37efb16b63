"""Delivery to Elasticsearch or OpenSearch: bulk delivery with per-item results and targeted retries.

The ``elasticsearch`` and ``opensearch`` adapters (:mod:`adapters.es_adapter`,
:mod:`adapters.opensearch_adapter`) are this one over their engine's client
(:class:`~search.engine_client.EngineClient`): the same templates, bulk actions and scripts.
Chunks go out as bulk requests; items refused with 429 or 5xx are sent again (only those)
with capped exponential backoff, the others are reported per event. A connection failure
fails the batch's events (the processor retries them later) instead of raising.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from adapters.attachment_text import attachment_texts
from adapters.base import DeletionFailed, DeliveryResult, Failure
from adapters.es_actions import BulkAction, ItemOutcome, bulk_actions, bulk_body, chunk_actions, item_outcome
from adapters.es_actions import results_per_event as map_results
from archive.file_store import FileStore
from ingest.events import Event, FileTextEvent
from ingest.retry import Backoff
from search.engine_client import EngineClient
from search.es_mapping import ATTACHMENT_PROPERTIES, VERSION_PROPERTIES, events_index, index_templates, messages_index

log = logging.getLogger(__name__)
DEFAULT_BACKOFF = Backoff(initial=0.5, maximum=8.0)


class SearchEngineAdapter:
    """Delivers to the messages and events indices of ``engine``; ``name``: the adapter's."""

    name: str

    def __init__(
        self,
        engine: EngineClient,
        *,
        prefix: str = "archivist",
        attempts: int = 5,
        backoff: Backoff = DEFAULT_BACKOFF,
        sleep: Callable[[float], None] = time.sleep,
        file_store: FileStore | None = None,
    ) -> None:
        self.engine = engine
        self.file_store = file_store
        self.prefix = prefix
        self.attempts = attempts
        self.backoff = backoff
        self.sleep = sleep
        self._templates_ready = False

    def write(self, batch: Sequence[Event]) -> Sequence[DeliveryResult]:
        """Deliver ``batch``; a ``file_text`` whose text the file store cannot give fails alone."""
        texts = attachment_texts(self.file_store, batch) if any(isinstance(e, FileTextEvent) for e in batch) else {}
        unread = {position: text for position, text in texts.items() if isinstance(text, Failure)}
        readable = {position: text for position, text in texts.items() if isinstance(text, str)}
        try:
            self._ensure_templates()
            actions = bulk_actions(batch, self.prefix, readable, skip=unread)
            positions = {id(action): i for i, action in enumerate(actions)}
            outcomes: dict[int, ItemOutcome] = {}
            for chunk in chunk_actions(actions):
                outcomes.update(self._send_with_retries(chunk, positions))
        except Exception as error:  # the client raises many transport errors; all mean "not now"
            reason = f"{self.name} unavailable: {error.__class__.__name__}: {error}"
            log.warning("%s", reason)
            # Unreachable (a connection error, a timeout, 502-504): waited out, never parked.
            # Anything else (a template the engine refuses) parks after max_attempts: a person must look.
            return [Failure(reason, unreachable=self.engine.unreachable(error))] * len(batch)
        results = map_results(actions, [outcomes[i] for i in range(len(actions))], len(batch))
        return [unread.get(position, result) for position, result in enumerate(results)]

    def _send_with_retries(self, chunk: list[BulkAction], positions: dict[int, int]) -> dict[int, ItemOutcome]:
        outcomes: dict[int, ItemOutcome] = {}
        pending = chunk
        delays = self.backoff.delays()
        for attempt in range(1, self.attempts + 1):
            response = self.engine.bulk(bulk_body(pending), refresh=False)
            items = list(response["items"])
            retry: list[BulkAction] = []
            for action, item in zip(pending, items, strict=True):
                outcome = item_outcome(item, self.name)
                outcomes[positions[id(action)]] = outcome
                if outcome.retryable and attempt < self.attempts:
                    retry.append(action)
            if not retry:
                break
            log.info("%s refused %d of %d items; retrying them", self.name, len(retry), len(pending))
            self.sleep(next(delays))
            pending = retry
        return outcomes

    def _ensure_templates(self) -> None:
        if self._templates_ready:
            return
        for name, body in index_templates(self.prefix).items():
            self.engine.put_index_template(name, body)
        # A messages index created before versions were kept gets their fields (its mapping is
        # strict); messages edited before then keep only the text they had (see es_actions).
        self.engine.put_mapping(f"{messages_index(self.prefix)}*", VERSION_PROPERTIES | ATTACHMENT_PROPERTIES)
        self._templates_ready = True

    def delete(self, event_ids: Sequence[str]) -> None:
        """Dispose of events (retention): their event documents, and messages they posted.

        Returns only when the engine confirmed every deletion; raises :class:`DeletionFailed`
        otherwise (retention then records nothing as disposed and the next run asks again:
        both requests are idempotent)."""
        if not event_ids:
            return
        try:
            self._delete_event_documents(event_ids)
            self._delete_messages(event_ids)
        except DeletionFailed:
            raise
        except Exception as error:  # the client raises many transport and API errors
            raise DeletionFailed(
                f"{self.name} could not delete {len(event_ids)} disposed events: {error.__class__.__name__}: {error}"
            ) from error

    def _delete_event_documents(self, event_ids: Sequence[str]) -> None:
        operations = [{"delete": {"_index": events_index(self.prefix), "_id": event_id}} for event_id in event_ids]
        response = self.engine.bulk(operations, refresh="wait_for")
        items = list(response.get("items", []))
        if len(items) != len(operations):
            raise DeletionFailed(
                f"{self.name} answered {len(items)} items to {len(operations)} event deletions; none is trusted"
            )
        refused: list[str] = []
        for event_id, item in zip(event_ids, items, strict=True):
            status = int(next(iter(item.values())).get("status", 500))
            # 404: the document is not there (never delivered, or deleted by an earlier run that
            # stopped before its commit): it is disposed of already, which is what was asked.
            if 200 <= status < 300 or status == 404:
                continue
            refused.append(f"{event_id} ({item_outcome(item, self.name).reason})")
        if refused:
            raise DeletionFailed(
                f"{self.name} refused to delete {len(refused)} of {len(event_ids)} event documents: "
                + "; ".join(refused[:5])
            )

    def _delete_messages(self, event_ids: Sequence[str]) -> None:
        index = messages_index(self.prefix)
        try:
            # delete_by_query searches: without a refresh it would not see messages delivered in
            # the last second (written with refresh=False) and leave them behind.
            self.engine.refresh(index)
            # conflicts="proceed": a message the processor is updating at the same moment (an
            # edit, a reaction) is a version conflict; "abort" would stop at the first one and
            # leave the rest undeleted, "proceed" deletes all it can and counts the others, which
            # are NOT deleted, so any conflict fails the deletion and the next run deletes them.
            # wait_for_completion: the answer counts what was done; refresh: searches no longer see them.
            response = self.engine.delete_by_query(index, {"terms": {"event_id": list(event_ids)}})
        except Exception as error:
            if _index_missing(error):  # nothing was ever delivered to it: no message is left
                log.info("%s has no index %s: no message to dispose of", self.name, index)
                return
            raise
        problems: list[str] = []
        if response.get("timed_out"):
            problems.append("it timed out")
        failures = list(response.get("failures") or [])
        if failures:
            causes = [_failure_reason(failure) for failure in failures[:3]]
            problems.append(f"{len(failures)} failures ({'; '.join(causes)})")
        conflicts = int(response.get("version_conflicts") or 0)
        if conflicts:
            problems.append(f"{conflicts} version conflicts (documents updated meanwhile were not deleted)")
        total, deleted = int(response.get("total") or 0), int(response.get("deleted") or 0)
        if deleted < total:
            problems.append(f"it deleted {deleted} of {total} matching messages")
        if problems:
            raise DeletionFailed(
                f"{self.name} did not delete every message of {len(event_ids)} disposed events from {index}: "
                + ", ".join(problems)
            )

    def close(self) -> None:
        self.engine.close()


def _index_missing(error: Exception) -> bool:
    """Whether ``error`` is the engine saying that an index does not exist (HTTP 404,
    ``index_not_found_exception``), as either client raises it (``status_code``, ``error``)."""
    return getattr(error, "status_code", None) == 404 and getattr(error, "error", None) == "index_not_found_exception"


def _failure_reason(failure: Any) -> str:
    """A delete-by-query failure: a bulk one (``cause``) or a search one (``reason``)."""
    if not isinstance(failure, dict):
        return str(failure)
    cause = failure.get("cause") or failure.get("reason") or failure
    if isinstance(cause, dict):
        return f"{cause.get('type', 'error')}: {cause.get('reason', '')}"
    return str(cause)
