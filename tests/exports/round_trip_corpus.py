"""A seeded multilingual and hostile corpus of chat traffic for the export round-trip tests.

Every script the issue names (ja, zh, ko, ar, he, ru, el, emoji, mixed) as fixed sentences, the
hostile texts an export has to carry (control characters, CR and CRLF, the DAT's delimiters
þ, U+0014 and ®, bidi marks, combining marks, characters above U+FFFF, noncharacters), and
texts drawn from them with a seeded generator (the same corpus on every run). Each text is
posted; every third message is edited twice (each edit a text of the corpus) and every fourth
deleted, so a round trip covers posts, every edit and deleted text. Some posts are text/html,
some people have no e-mail address, one is external: fields some formats cannot carry. The
archive refuses NUL and lone surrogates at ingest, so they are not here.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ingest.events import Event, parse_event

SCRIPTS: dict[str, tuple[str, ...]] = {
    "ja": ("東京の取引について確認してください", "カタカナとひらがな、漢字。", "契約書を送ります"),
    "zh": ("中文文本，简体和繁體", "请在公告前买入一万股", "會議記錄已經上傳"),
    "ko": ("한국어 텍스트입니다", "내일 회의는 취소되었습니다", "계약서 확인 부탁드립니다"),
    "ar": ("مرحبا بالعالم", "محمد حداد أرسل الملف", "لا شيء جديد اليوم"),
    "he": ("שלום עולם", "דוד לוי שלח את הקובץ", "הפגישה בוטלה"),
    "ru": ("Привет, мир", "Отчёт за третий квартал готов", "Ёлка и щётка"),
    "el": ("Καλημέρα κόσμε", "Η αναφορά είναι έτοιμη", "Ψυχή και ωμέγα"),
    "emoji": ("launch 🚀 thumbs 👍 party 🎉", "👍🏽 family 👨‍👩‍👧‍👦 flag 🇯🇵", "🧑🏿‍💻 at work ✅"),
    "mixed": ("ACME 取引 مرحبا שלום Привет 🚀", "price ¥10,000 / €9.99 / ₪35", "Zoë said «ça va» — 東京"),
}

HOSTILE: tuple[str, ...] = (
    "þjóðin",  # the DAT's text qualifier
    "Q3 ® report",  # the DAT's newline mark
    "DC4 \x14 inside",  # the DAT's field separator
    "þ\x14þ®\r\n",
    "line one\nline two\r\nline three\rline four",
    "CR only\r",
    "\r\nstarts with CRLF",
    "bell \x07 escape \x1b backspace \x08 form feed \x0c unit sep \x1f",
    "SOH \x01 STX \x02 vertical tab \x0b DEL \x7f",
    "C1 NEL \x85 and CSI \x9b",
    "tab\tseparated\tvalues",
    "RTL mark \u200f and LTR mark \u200e, override \u202eevil\u202c, isolate \u2067שלום\u2069",
    "combining: e\u0301 a\u0308 n\u0303 Z\u0351\u0352\u0353",
    "astral: 𝕏 𠀀 𝄞 😀 🃏",
    "noncharacters \ufffe \uffff and replacement \ufffd",
    "control pictures ␀ ␇ and ␦ escape sign",
    "BOM \ufeff inside, zero width \u200b space, ZWJ \u200d",
    "line separator \u2028 paragraph separator \u2029",
    "=1+1",
    "+cmd",
    "-2",
    "@SUM(A1)",
    "<b>&amp;</b> \"quotes\" 'single' ]]> <!-- -->",
    "  leading and trailing spaces  ",
    "",
)

EXPORT_CONTEXT_DAY = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
_NAMESPACE = uuid.UUID("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f")
_SEED = 17
_DRAWN = 40
NAMES = ("田中 勇気", "محمد حداد", "דוד לוי", "Иван Петров", "Γιώργος", "김민준", "王小明", "Zoë Müller")


def corpus_texts() -> list[str]:
    """The fixed texts, then ``_DRAWN`` texts built by a seeded generator from pieces of them."""
    fixed = [text for texts in SCRIPTS.values() for text in texts] + list(HOSTILE)
    pieces = [piece for text in fixed for piece in text.split(" ") if piece]
    rng = random.Random(_SEED)
    drawn = [
        rng.choice((" ", "\n", "\r\n", "  ")).join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        for _ in range(_DRAWN)
    ]
    return fixed + drawn


@dataclass(frozen=True)
class Message:
    """One message of the corpus: its id, every version (the post first) and whether it was deleted."""

    id: str
    room: str
    versions: tuple[str, ...]
    deleted: bool


def corpus() -> tuple[list[Event], list[Message]]:
    """The corpus's events in export order (room, time) and what each message went through."""
    texts = corpus_texts()
    payloads: list[dict[str, Any]] = []
    messages: list[Message] = []
    rooms = ("room:multilingual", "room:hostile", "im:1:2")
    for index, text in enumerate(texts):
        room = rooms[index % len(rooms)]
        message_id = f"m{index}"
        versions = [text]
        at = index * 10
        posted = {"id": message_id, "text": text, "format": "text/html" if index % 11 == 5 else "text/plain"}
        payloads.append(_payload(index, room, at, "post", message=posted))
        if index % 3 == 0:
            for edit in (1, 2):
                new_text = texts[(index * 7 + edit * 13) % len(texts)]
                versions.append(new_text)
                payloads.append(_payload(index, room, at + edit, "edit", message={"id": message_id, "text": new_text}))
        deleted = index % 4 == 0
        if deleted:
            payloads.append(_payload(index, room, at + 3, "delete", message={"id": message_id}))
        messages.append(Message(message_id, room, tuple(versions), deleted))
    events = [parse_event(payload) for payload in payloads]
    events.sort(key=lambda event: (event.room.id, event.occurred_at, str(event.event_id)))
    return events, messages


def _payload(index: int, room: str, seconds: int, kind: str, **fields: Any) -> dict[str, Any]:
    actor = index % len(NAMES)
    return {
        "schema_version": 1,
        "event_id": str(uuid.uuid5(_NAMESPACE, f"{room}:{seconds}:{kind}")),
        "type": kind,
        "occurred_at": (EXPORT_CONTEXT_DAY + timedelta(seconds=seconds)).isoformat(),
        "room": {"id": room, "name": None, "kind": "im" if room.startswith("im:") else "room"},
        "actor": {
            "id": f"user:{actor}",
            "name": NAMES[actor],
            "email": f"u{actor}@example.com" if actor % 2 == 0 else None,
            "internal": actor != 7,
        },
        "source": {"server": "pchat01.example.com"},
        **fields,
    }
