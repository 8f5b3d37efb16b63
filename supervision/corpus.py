"""A seeded synthetic chat corpus with labelled misconduct, to measure lexicons on.

Each message is a post (:class:`ingest.events.PostEvent`, as the archive receives them) in
English, German, French, Spanish or Japanese, labelled with the misconduct it shows (one of
:data:`~supervision.corpus_templates.TOPICS`) or none. About 8% of messages are misconduct
(2% per topic), 8% are benign near-misses that use a topic's words without the misconduct
("I can't guarantee anything", "no gifts please"; labelled none, ``near_miss`` naming the
topic), the rest ordinary desk chatter. The sentences are in
:mod:`supervision.corpus_templates` (``LATER_*``: those written after the example lexicons
were tuned, never tuned on). The same seed always gives the same corpus, event ids
included; nothing is downloaded.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

from ingest.events import PostEvent, parse_event
from supervision.corpus_templates import (
    BENIGN,
    LANGUAGES,
    LATER_MISCONDUCT,
    LATER_NEAR_MISSES,
    MISCONDUCT,
    NEAR_MISSES,
    SLOTS,
    TOPICS,
    Language,
    Topic,
)

MISCONDUCT_SHARE: Final = 0.08
NEAR_MISS_SHARE: Final = 0.08
LANGUAGE_WEIGHTS: Final[dict[Language, float]] = {"en": 0.4, "de": 0.2, "fr": 0.15, "es": 0.15, "ja": 0.1}
START: Final = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_NAMESPACE: Final = uuid.UUID("7d7c2a55-41b4-4c0e-9a63-2f5b8e1c9d04")
_ROOMS_PER_LANGUAGE: Final = 4
_PEOPLE_PER_LANGUAGE: Final = 12


@dataclass(frozen=True)
class LabelledMessage:
    event: PostEvent
    language: Language
    topic: Topic | None
    """The misconduct the message shows; ``None``: none."""
    near_miss: Topic | None = None
    """For a benign message that uses a topic's words: that topic."""


def _text(rng: random.Random, template: str, language: Language) -> str:
    values = {slot: rng.choice(choices) for slot, choices in SLOTS[language].items()}
    text = template.format(pct=rng.randint(5, 30), **values)
    if language != "ja" and rng.random() < 0.05:
        text = text.lower()
    if rng.random() < 0.05:
        text += rng.choice([" 👍", " 🙂", " !!", " ...", " 📈"])
    return text


def _pick(rng: random.Random) -> tuple[Language, Topic | None, Topic | None, str]:
    language = rng.choices(LANGUAGES, weights=[LANGUAGE_WEIGHTS[code] for code in LANGUAGES])[0]
    roll = rng.random()
    if roll < MISCONDUCT_SHARE:
        topic = TOPICS[int(roll / MISCONDUCT_SHARE * len(TOPICS))]
        return language, topic, None, rng.choice(MISCONDUCT[topic][language] + LATER_MISCONDUCT[topic][language])
    roll -= MISCONDUCT_SHARE
    if roll < NEAR_MISS_SHARE:
        near = TOPICS[int(roll / NEAR_MISS_SHARE * len(TOPICS))]
        return language, None, near, rng.choice(NEAR_MISSES[near][language] + LATER_NEAR_MISSES[near][language])
    return language, None, None, rng.choice(BENIGN[language])


def generate(count: int, seed: int) -> Iterator[LabelledMessage]:
    """``count`` labelled posts, the same for the same ``seed``."""
    if count < 0:
        raise ValueError("count must be 0 or more")
    rng = random.Random(seed)
    now = START
    for number in range(count):
        language, topic, near, template = _pick(rng)
        text = _text(rng, template, language)
        room = rng.randrange(_ROOMS_PER_LANGUAGE)
        person = rng.randrange(_PEOPLE_PER_LANGUAGE)
        now += timedelta(milliseconds=rng.randint(500, 60_000))
        payload: dict[str, Any] = {
            "schema_version": 1,
            "event_id": str(uuid.uuid5(_NAMESPACE, f"{seed}:{number}")),
            "type": "post",
            "occurred_at": now.isoformat(),
            "room": {"id": f"room:desk-{language}-{room}", "name": f"#desk-{language}-{room}"},
            "actor": {"id": f"user:{language}{person}", "name": f"Trader {language.upper()}{person}"},
            "message": {"id": f"msg:corpus:{seed}:{number}", "text": text},
        }
        event = cast(PostEvent, parse_event(payload))
        yield LabelledMessage(event=event, language=language, topic=topic, near_miss=near)


def to_jsonl(messages: Iterable[LabelledMessage]) -> Iterator[str]:
    """One JSON line per message: the event as the archive takes it, and its labels."""
    for message in messages:
        record = {
            "event": message.event.model_dump(mode="json", exclude_none=True),
            "language": message.language,
            "topic": message.topic,
            "near_miss": message.near_miss,
        }
        yield json.dumps(record, ensure_ascii=False, sort_keys=True)


def from_jsonl(lines: Iterable[str]) -> Iterator[LabelledMessage]:
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        language = record["language"]
        topic, near = record["topic"], record["near_miss"]
        if language not in LANGUAGES or topic not in (*TOPICS, None) or near not in (*TOPICS, None):
            raise ValueError(f"not a corpus label: {line[:200]!r}")
        event = parse_event(record["event"])
        if not isinstance(event, PostEvent):
            raise ValueError(f"not a post: {line[:200]!r}")
        yield LabelledMessage(event=event, language=language, topic=topic, near_miss=near)
