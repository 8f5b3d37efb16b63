"""A small stand-in for ``supervision.lexicon`` with the same shape: each query term is a word
found case-insensitively in the text (field ``text``) and the attachment (field ``attachment``);
an exclusion is a word whose presence excludes the message. A term ``BROKEN...`` does not compile."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from supervision.detect import LexiconEngine
from supervision.lexicon import Message
from supervision.model import PolicySpec, TermMatch


@dataclass(frozen=True)
class FakeVerdict:
    matches: tuple[TermMatch, ...]
    excluded: bool


class FakeEngine:
    def __init__(self, specs: Mapping[str, PolicySpec]) -> None:
        self.calls = 0
        self.policies = {
            policy_id: (
                [(term.id, re.compile(rf"\b{re.escape(term.expression)}\b", re.IGNORECASE)) for term in spec.lexicon],
                [re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE) for word in spec.exclusions],
            )
            for policy_id, spec in specs.items()
        }

    def verdicts(self, message: Message) -> Mapping[str, FakeVerdict]:
        self.calls += 1
        found: dict[str, FakeVerdict] = {}
        for policy_id, (terms, exclusions) in self.policies.items():
            excluded = any(e.search(message.text) or e.search(message.attachment) for e in exclusions)
            matches = tuple(
                TermMatch(term_id=term_id, field=field, start=m.start(), end=m.end(), matched=m.group())
                for term_id, pattern in terms
                for field, text in (("text", message.text), ("attachment", message.attachment))
                for m in pattern.finditer(text)
            )
            found[policy_id] = FakeVerdict(matches, excluded)
        return found


class LexiconError(ValueError):
    pass


ENGINES: list[FakeEngine] = []


def fake_compiler(specs: Mapping[str, PolicySpec]) -> LexiconEngine:
    for spec in specs.values():
        for term in spec.lexicon:
            if term.expression.startswith("BROKEN"):
                raise LexiconError(f"term {term.id} cannot be compiled")
    engine = FakeEngine(specs)
    ENGINES.append(engine)
    return engine
