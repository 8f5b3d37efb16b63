"""The example lexicons shipped in ``supervision/lexicons/*.toml``: a start, never a finished lexicon.

Each file is one topic (guarantees and promises of returns, off-channel communication, gifts
and entertainment, complaints) in English, German, French, Spanish and Japanese, and starts with
:data:`EXAMPLE_HEADER`. A file holds ``name``, ``description``, ``exclusions`` (queries) and
``[[terms]]`` tables (``id``, ``expression``, optional ``kind``, ``label``, ``language``): the
fields of :class:`~supervision.model.PolicySpec` and :class:`~supervision.model.LexiconTerm`.
:func:`example_policies` gives them as disabled policy specs (drafts) for the policy editor.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files
from typing import Final

from pydantic import ValidationError

from supervision.lexicon import LexiconError, PolicyLexicon, check_lexicon
from supervision.model import LexiconTerm, PolicySpec

EXAMPLE_HEADER: Final = "# EXAMPLE: adapt to your firm before use"


class ExampleError(ValueError):
    """A shipped example that does not load (a packaging or editing mistake)."""


def parse_example(topic: str, text: str) -> PolicySpec:
    """The policy spec written in one example file (``topic``: its name without ``.toml``),
    disabled; refused unless it starts with the header and every term compiles."""
    where = f"supervision/lexicons/{topic}.toml"
    if not text.startswith(EXAMPLE_HEADER + "\n"):
        raise ExampleError(f"{where} must start with {EXAMPLE_HEADER!r}")
    try:
        data = tomllib.loads(text)
        spec = PolicySpec(
            name=data["name"],
            description=data.get("description", ""),
            lexicon=tuple(LexiconTerm(**term) for term in data.get("terms", ())),
            exclusions=tuple(data.get("exclusions", ())),
            enabled=False,
        )
        check_lexicon(PolicyLexicon.of(spec))
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValidationError, LexiconError) as error:
        raise ExampleError(f"{where}: {error}") from None
    return spec


@cache
def example_policies() -> dict[str, PolicySpec]:
    """Every shipped example as a disabled policy spec, by topic (the file's name)."""
    folder = files("supervision").joinpath("lexicons")
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda entry: entry.name):
        if entry.name.endswith(".toml"):
            topic = entry.name.removesuffix(".toml")
            found[topic] = parse_example(topic, entry.read_text(encoding="utf-8"))
    return found


def example_lexicons() -> dict[str, tuple[LexiconTerm, ...]]:
    """The terms of every shipped example, by topic."""
    return {topic: spec.lexicon for topic, spec in example_policies().items()}
