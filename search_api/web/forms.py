"""Reading ``application/x-www-form-urlencoded`` bodies without python-multipart."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

MAX_FORM_BYTES = 64 * 1024


class FormTooLarge(Exception):
    pass


async def read_form(request: Request) -> dict[str, str]:
    """The form's fields (the first value of each); larger bodies than ``MAX_FORM_BYTES`` are refused."""
    return {name: values[0] for name, values in (await read_fields(request)).items()}


async def read_fields(request: Request) -> dict[str, list[str]]:
    """Every value of each field (checkboxes send one per box ticked)."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise FormTooLarge
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def id_list(text: str) -> list[str]:
    """Ids typed into one box, separated by commas, spaces or new lines, without repeats."""
    return list(dict.fromkeys(part for part in text.replace(",", " ").split() if part))


def recipient_list(text: str) -> list[str]:
    """Whom a production is for, typed into one box: names separated by commas or new lines
    (a name may hold spaces), without repeats."""
    return list(dict.fromkeys(part.strip() for part in text.replace("\n", ",").split(",") if part.strip()))
