"""Containers, opened one level deep: zip archives (zipfile) and e-mails (the standard library's
``email``) with their attachments.

A zip is a bomb until its sizes say otherwise: the members' declared sizes are summed and
checked against ``max_archive_bytes`` before anything is inflated, and the bytes actually
inflated are counted while reading, so a member whose header lies about its size is stopped at
the bound too. Containers found inside a container are listed by name, never opened.
"""

from __future__ import annotations

import email
import email.policy
import zipfile
from collections.abc import Iterator
from email.message import EmailMessage, Message
from typing import BinaryIO

from extraction.base import Context, Refused
from extraction.markup import decode_text

CHUNK = 1 << 20
CONTAINER_TYPES = ("zip", "eml")


def _member_header(path: str) -> str:
    return f"--- {path} ---\n"


def _member_body(data: bytes, path: str, context: Context) -> str:
    """The text of one member, or why it has none; containers in containers are not opened."""
    result = context.extract_member(data, path)
    if result.file_type == "zip":
        return "[archive inside an archive: listed, not opened]\n"
    if result.state == "extracted":
        if result.truncated:
            context.truncated = True
            context.notes.append(f"{path}: {result.reason}")
        return result.text.rstrip("\n") + "\n"
    return f"[{result.state}: {result.reason or 'no text'}]\n"


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes:
    """The member's bytes, counted while inflating: more than declared or than ``budget`` is a bomb."""
    allowed = min(info.file_size, budget)
    parts: list[bytes] = []
    read = 0
    with archive.open(info) as member:
        while True:
            chunk = member.read(min(CHUNK, allowed - read + 1))
            if not chunk:
                break
            read += len(chunk)
            if read > allowed:
                raise Refused(
                    "failed",
                    f"zip bomb: member {info.filename!r} inflates past "
                    + (
                        f"its declared size of {info.file_size:,} bytes"
                        if allowed == info.file_size
                        else f"the archive bound of {budget:,} bytes"
                    ),
                )
            parts.append(chunk)
    return b"".join(parts)


def zip_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    limits = context.limits
    with zipfile.ZipFile(stream) as archive:
        members = [info for info in archive.infolist() if not info.is_dir()]
        if len(members) > limits.max_archive_members:
            raise Refused(
                "failed", f"zip has {len(members):,} members, over the bound of {limits.max_archive_members:,}"
            )
        declared = sum(info.file_size for info in members)
        if declared > limits.max_archive_bytes:
            raise Refused(
                "failed",
                f"zip bomb: members declare {declared:,} bytes uncompressed, "
                f"over the bound of {limits.max_archive_bytes:,}",
            )
        budget = limits.max_archive_bytes
        for info in members:
            yield _member_header(info.filename)
            if info.flag_bits & 0x1:
                yield "[failed: encrypted member]\n"
                continue
            try:
                data = _read_member(archive, info, budget)
            except Refused:
                raise
            except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError, ValueError) as exc:
                yield f"[failed: {type(exc).__name__}: {exc}]\n"
                continue
            budget -= len(data)
            yield _member_body(data, info.filename, context)


def _headers_text(message: Message) -> str:
    lines = []
    for header in ("From", "To", "Cc", "Subject", "Date"):
        value = message.get(header)
        if value is not None:
            lines.append(f"{header}: {value}")
    return "\n".join(lines) + "\n\n"


def _leaves(message: Message) -> Iterator[Message]:
    if message.get_content_maintype() == "multipart" and message.is_multipart():
        for part in message.get_payload():
            if isinstance(part, Message):
                yield from _leaves(part)
    else:
        yield message


def _part_bytes(part: Message) -> bytes:
    if part.get_content_maintype() == "message" and part.is_multipart():
        inner = part.get_payload()
        if isinstance(inner, list) and inner and isinstance(inner[0], Message):
            return inner[0].as_bytes()
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _inline_text(part: Message) -> str | None:
    """The text of a part shown in the body: text/plain or text/html, in its declared charset."""
    data = _part_bytes(part)
    text = decode_text(data, part.get_content_charset())
    if text is None:
        return None
    if part.get_content_subtype() == "html":
        from extraction.markup import _visible_text

        return _visible_text(text)
    return text


def eml_text(stream: BinaryIO, context: Context) -> Iterator[str]:
    """Headers, the text parts, and each attachment's name with (at the top level) its text."""
    message = email.message_from_binary_file(stream, policy=email.policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise Refused("unsupported", "no e-mail headers")
    yield _headers_text(message)
    leaves = list(_leaves(message))
    has_plain = any(part.get_content_type() == "text/plain" and not _is_attachment(part) for part in leaves)
    budget = context.limits.max_archive_bytes
    attachments = 0
    for part in leaves:
        if not _is_attachment(part):
            if part.get_content_type() == "text/plain" or (part.get_content_type() == "text/html" and not has_plain):
                text = _inline_text(part)
                if text:
                    yield text.rstrip("\n") + "\n"
            continue
        attachments += 1
        name = part.get_filename() or f"attachment-{attachments}"
        yield "\n" + _member_header(f"attachment: {name}")
        if attachments > context.limits.max_archive_members:
            yield "[not opened: over the bound of attachments]\n"
            continue
        if context.depth > 0:
            yield "[attachment inside an attachment: listed, not opened]\n"
            continue
        data = _part_bytes(part)
        if len(data) > budget:
            yield f"[not opened: over the bound of {context.limits.max_archive_bytes:,} bytes of attachments]\n"
            continue
        budget -= len(data)
        yield _member_body(data, name, context)


def _is_attachment(part: Message) -> bool:
    if part.get_content_maintype() == "message":
        return True
    disposition = (part.get_content_disposition() or "").lower()
    if disposition == "attachment" or part.get_filename():
        return True
    return part.get_content_maintype() != "text"
