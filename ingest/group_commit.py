"""Durable writes of concurrent callers made together: one commit (one fsync) for all waiting.

A caller hands its items over and waits until they are durable (or the write failed, which it
raises). One writer thread takes whatever has queued up while the previous commit was in
progress: alone, a caller waits for its own commit only; under load, hundreds share one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], object], *, name: str, max_batch: int = 1000) -> None:
        self.write = write
        self.max_batch = max_batch
        self._queue: queue.Queue[tuple[Sequence[T], Future[None]]] = queue.Queue()
        self._writer = threading.Thread(target=self._write_forever, name=name, daemon=True)
        self._writer.start()

    def submit(self, items: Sequence[T]) -> int:
        """Write ``items`` with whatever else is waiting; returns once they are durable."""
        self.enqueue(items).result()
        return len(items)

    def enqueue(self, items: Sequence[T]) -> Future[None]:
        """Hand ``items`` to the writer; the future completes when they are durable (an async
        caller awaits it instead of holding a thread)."""
        done: Future[None] = Future()
        self._queue.put((items, done))
        return done

    def _write_forever(self) -> None:
        while True:
            waiting = [self._queue.get()]
            count = len(waiting[0][0])
            while count < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                waiting.append(item)
                count += len(item[0])
            try:
                self.write([entry for items, _done in waiting for entry in items])
            except Exception as error:  # every waiting caller learns its write failed
                for _items, done in waiting:
                    done.set_exception(error)
            else:
                for _items, done in waiting:
                    done.set_result(None)
