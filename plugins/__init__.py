"""Plug-ins: what is registered under an entry-point group (adapters, importers, export formats),
found by name with a did-you-mean for a name that is not there. The bottom layer: it knows no
other package."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from importlib.metadata import EntryPoint, entry_points


def registered_names(group: str) -> list[str]:
    """Every name registered under ``group``, sorted."""
    return sorted(entry_point.name for entry_point in entry_points(group=group))


def registered(group: str, name: str) -> EntryPoint | None:
    """The entry point registered as ``name`` under ``group`` (nothing is imported yet)."""
    matches = entry_points(group=group, name=name)
    return next(iter(matches)) if matches else None


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``known``, or nothing when none is close."""
    hint = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""
