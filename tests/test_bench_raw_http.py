"""The load generator's minimal HTTP client against a small asyncio server of the test's own."""

from __future__ import annotations

import asyncio

import pytest

from bench.raw_http import RawHttpClient, RawHttpError, read_response

ANSWERS = {
    b"/length": b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
    b"/chunked": b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
    b"/nothing": b"HTTP/1.1 204 No Content\r\n\r\n",
    b"/garbage": b"SMTP ready\r\n\r\n",
}


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            writer.write(ANSWERS[head.split(b" ")[1]])
            await writer.drain()
    except asyncio.IncompleteReadError:
        writer.close()


async def _run(paths: list[bytes], connections: int) -> list[int | str]:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = RawHttpClient(f"http://127.0.0.1:{port}", {"authorization": "Bearer t"}, connections)

    async def one(path: bytes) -> int | str:
        try:
            return await client.send(client.request(path.decode(), b'{"a": 1}'))
        except RawHttpError as error:
            return f"error: {error}"

    try:
        return list(await asyncio.gather(*(one(path) for path in paths)))
    finally:
        await client.close()
        server.close()


def test_statuses_come_back_over_kept_alive_connections() -> None:
    paths = [b"/length", b"/chunked", b"/nothing"] * 20
    assert asyncio.run(_run(paths, connections=4)) == [200, 201, 204] * 20


def test_an_answer_that_is_not_http_is_an_error_not_a_status() -> None:
    (answer,) = asyncio.run(_run([b"/garbage"], connections=1))
    assert isinstance(answer, str)
    assert "not an HTTP/1.x status line" in answer


def test_only_plain_http_urls_are_accepted() -> None:
    with pytest.raises(ValueError, match="plain http"):
        RawHttpClient("https://example.com", {}, 1)


def test_a_truncated_body_is_an_incomplete_read() -> None:
    async def parse() -> int:
        reader = asyncio.StreamReader()
        reader.feed_data(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nshort")
        reader.feed_eof()
        return await read_response(reader)

    with pytest.raises(asyncio.IncompleteReadError):
        asyncio.run(parse())
