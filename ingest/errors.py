"""The ingest error taxonomy: what to retry, what to dead-letter, when to pause."""


class IngestError(Exception):
    """Base of every error this package raises on purpose."""


class InvalidEvent(IngestError):
    """The message can never become a valid event: dead-letter it with this reason, never retry."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Recoverable(IngestError):
    """A service was unreachable or failed transiently: retry with capped backoff."""


class Backpressure(IngestError):
    """A downstream buffer is full: pause, then try again."""
