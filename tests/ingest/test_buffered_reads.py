"""The consumer's buffered reads keep py-amqp's read-exactly-n contract, timeouts included."""

from __future__ import annotations

from typing import Any

import pytest
from amqp.transport import TCPTransport

from ingest.consumer import _BufferedReads


class FakeSocket:
    def __init__(self, chunks: list[bytes | BaseException]) -> None:
        self.chunks = chunks
        self.asked: list[int] = []

    def recv(self, n: int) -> bytes:
        self.asked.append(n)
        chunk = self.chunks.pop(0)
        if isinstance(chunk, BaseException):
            raise chunk
        return chunk


def transport_over(sock: FakeSocket) -> Any:
    transport: Any = TCPTransport.__new__(TCPTransport)
    transport.sock = sock
    transport._read_buffer = b""
    return transport


def test_reads_exact_sizes_out_of_large_receives() -> None:
    sock = FakeSocket([b"abcdefgh", b"ijkl"])
    reads = _BufferedReads(transport_over(sock))
    assert [reads.read(3), reads.read(3), reads.read(4), reads.read(2)] == [b"abc", b"def", b"ghij", b"kl"]
    assert sock.asked == [_BufferedReads.CHUNK, _BufferedReads.CHUNK]


def test_a_timeout_keeps_what_was_received_and_what_read_frame_puts_back() -> None:
    sock = FakeSocket([b"abc", TimeoutError(), b"defg"])
    transport = transport_over(sock)
    reads = _BufferedReads(transport)
    assert reads.read(2) == b"ab"
    with pytest.raises(TimeoutError):
        reads.read(4)
    # py-amqp's read_frame puts the part of the frame it had already read back, then retries.
    transport._read_buffer = b"ab"
    assert reads.read(6) == b"abcdef"
    assert reads.read(1) == b"g"


def test_a_closed_connection_is_an_error() -> None:
    reads = _BufferedReads(transport_over(FakeSocket([b"ab", b""])))
    with pytest.raises(OSError, match="closed"):
        reads.read(5)
