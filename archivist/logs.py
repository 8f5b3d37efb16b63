"""Log lines on stderr for every command: text for people, or one JSON object per line for a log
collector (``ARCHIVIST_LOG_FORMAT=json``).

A JSON line has ``time`` (ISO 8601, UTC, milliseconds), ``level``, ``logger`` and ``message``, plus
``exception`` (the formatted traceback) when the record carries one and any ``extra`` fields the
caller passed. uvicorn's loggers propagate here too (``serve`` and ``demo`` start uvicorn with
``log_config=None``), so its start-up and access lines come out in the same format.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

LogFormat = Literal["text", "json"]


class JsonLineFormatter(JsonFormatter):
    """python-json-logger's formatter with Archivist's field names, ``time`` first."""

    def __init__(self) -> None:
        super().__init__(
            "{levelname}{name}{message}",
            style="{",
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception", "stack_info": "stack"},
            # uvicorn adds a coloured copy of each message; it is noise in JSON.
            reserved_attrs=[*RESERVED_ATTRS, "color_message", "taskName"],
            json_ensure_ascii=False,
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        log_data["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)


_handler: logging.Handler | None = None
"""The handler this module installed on the root logger (replaced when configured again)."""


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonLineFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: int, log_format: LogFormat, stream: TextIO | None = None) -> logging.Handler:
    """Send the root logger's records at ``level`` and above to ``stream`` (stderr) in ``log_format``.

    Calling it again replaces the handler it installed before; handlers of others (pytest's log
    capture, for one) are left alone.
    """
    global _handler
    root = logging.getLogger()
    if _handler is not None:
        root.removeHandler(_handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
    root.setLevel(level)
    _handler = handler
    return handler


def current_log_format() -> LogFormat:
    """The format :func:`configure_logging` last set up (text when it was never called), for a
    worker process to log as its parent does."""
    return "json" if _handler is not None and isinstance(_handler.formatter, JsonLineFormatter) else "text"
