"""Reading an archived event's payload as a plain JSON document, for readers that need a few of
its fields and no model (the people table, the membership check)."""

from __future__ import annotations

import json
from typing import Any

import orjson


def payload_document(payload: str) -> dict[str, Any]:
    """The payload's top-level object, or an empty one when it is not an object.

    orjson is tried first (fast); the standard library reads what orjson refuses (a lone
    surrogate escape, an integer beyond 64 bits), which an archived payload may hold."""
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        document = json.loads(payload)
    return document if isinstance(document, dict) else {}
