"""ExtractionPool: the same answers as in process, and a time limit, a memory limit and dead
workers that are recorded as reasons while the pool goes on."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bench.attachment_corpus import Corpus
from extraction import pool as pool_module
from extraction.extract import extract_file
from extraction.pool import ExtractionPool
from extraction.result import Extraction
from tests.extraction.conftest import LIMITS
from tests.extraction.hooks import misbehaving_extract

FAST = replace(LIMITS, seconds=1.0, memory_bytes=512 << 20)
"""One second and 512 MiB: the pathological hooks reach both at once, the corpus neither."""


@pytest.fixture(scope="module")
def pool() -> Iterator[ExtractionPool]:
    with ExtractionPool(2, LIMITS) as pool:
        yield pool


@pytest.fixture
def hooked() -> Iterator[ExtractionPool]:
    with ExtractionPool(1, FAST, extract=misbehaving_extract) as pool:
        yield pool


@pytest.mark.parametrize(
    "name", ["report.pdf", "memo.docx", "mail.eml", "bundle.zip", "scan.png", "encrypted.pdf", "bomb.zip", "bomb.png"]
)
def test_the_pool_answers_as_the_library_does_in_process(pool: ExtractionPool, corpus: Corpus, name: str) -> None:
    direct = extract_file(corpus.root / name, name=name, content_type="", limits=LIMITS)

    assert pool.extract(corpus.root / name, name=name, content_type="") == direct


def test_a_file_past_the_time_limit_fails_and_its_worker_is_replaced(hooked: ExtractionPool, corpus: Corpus) -> None:
    result = hooked.extract(corpus.root / "utf8.txt", name="sleep", content_type="")

    assert result.state == "failed"
    assert result.reason == "time limit: no answer within 1 s (the worker was killed)"
    assert result.cause == "worker"  # the file, or the machine's load: the caller may try again
    assert hooked.replaced == 1
    after = hooked.extract(corpus.root / "utf8.txt", name="utf8.txt", content_type="")
    assert (after.state, after.extractor) == ("extracted", "charset-normalizer")


def test_a_timed_out_worker_is_killed_with_the_programs_it_started(
    hooked: ExtractionPool, corpus: Corpus, tmp_path: Path
) -> None:
    pid_file = tmp_path / "child.pid"

    result = hooked.extract(corpus.root / "utf8.txt", name=f"child:{pid_file}", content_type="")

    assert result.state == "failed"
    assert "time limit" in (result.reason or "")
    child = int(pid_file.read_text())
    assert _gone(child)


def test_a_killed_worker_leaves_no_temporary_files(hooked: ExtractionPool, corpus: Corpus, tmp_path: Path) -> None:
    where = tmp_path / "scratch.txt"

    result = hooked.extract(corpus.root / "utf8.txt", name=f"scratch:{where}", content_type="")

    assert "time limit" in (result.reason or "")
    left = Path(where.read_text())
    assert left.name.startswith("tess_")
    assert not left.exists()
    assert not left.parent.exists()


def _gone(pid: int) -> bool:
    """The process no longer runs (or is a zombie awaiting its reaper: it runs nothing)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_a_file_past_the_memory_limit_fails_with_out_of_memory(hooked: ExtractionPool, corpus: Corpus) -> None:
    result = hooked.extract(corpus.root / "utf8.txt", name="allocate", content_type="")

    assert result.state == "failed"
    assert result.reason == f"out of memory (limit {FAST.memory_bytes:,} bytes)"
    assert hooked.peak_rss_bytes <= FAST.memory_bytes
    assert hooked.extract(corpus.root / "utf8.txt", name="utf8.txt", content_type="").state == "extracted"


def test_a_real_decompression_bomb_decoded_under_a_loose_pixel_bound_hits_the_memory_limit(corpus: Corpus) -> None:
    # 144 million pixels allowed: only the memory limit stands between the PNG and the machine.
    loose = replace(FAST, seconds=60, memory_bytes=256 << 20, max_image_pixels=10**9)
    with ExtractionPool(1, loose) as pool:
        result = pool.extract(corpus.root / "bomb.png", name="bomb.png", content_type="")
        after = pool.extract(corpus.root / "scan.jpg", name="scan.jpg", content_type="")

    assert result.state == "failed"
    assert "out of memory" in (result.reason or "")
    assert after.state == "extracted"


def test_a_worker_that_dies_is_recorded_and_replaced(hooked: ExtractionPool, corpus: Corpus) -> None:
    result = hooked.extract(corpus.root / "utf8.txt", name="die", content_type="")

    assert result.state == "failed"
    assert "the extraction worker died (killed by SIGKILL" in (result.reason or "")
    assert result.cause == "worker"
    assert hooked.replaced == 1
    assert hooked.extract(corpus.root / "memo.docx", name="memo.docx", content_type="").state == "extracted"


def test_a_worker_that_does_not_start_is_not_the_files_failure(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool_module, "STARTUP_SECONDS", 0.0)  # not ready at once: not started
    with ExtractionPool(1, FAST) as starved:
        result = starved.extract(corpus.root / "utf8.txt", name="utf8.txt", content_type="")

    assert (result.state, result.cause) == ("failed", "infrastructure")
    assert "did not start" in (result.reason or "")


def test_a_process_that_cannot_be_made_is_not_the_files_failure(
    corpus: Corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_process(self: object) -> None:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    with ExtractionPool(1, FAST) as starved:
        monkeypatch.setattr(starved._context.Process, "start", no_process)
        result = starved.extract(corpus.root / "utf8.txt", name="utf8.txt", content_type="")

    assert (result.state, result.cause) == ("failed", "infrastructure")
    assert "did not start: [Errno 11]" in (result.reason or "")


def test_a_file_the_extractor_fails_on_is_the_files_failure(hooked: ExtractionPool, corpus: Corpus) -> None:
    result = hooked.extract(corpus.root / "utf8.txt", name="raise", content_type="")

    assert (result.state, result.cause) == ("failed", "file")


def test_a_worker_killed_while_idle_is_replaced_before_the_next_file(corpus: Corpus) -> None:
    with ExtractionPool(1, LIMITS) as pool:
        pool.extract(corpus.root / "utf8.txt", name="utf8.txt", content_type="")
        (worker,) = pool._all
        os.kill(worker.process.pid or 0, signal.SIGKILL)
        worker.process.join(10)

        result = pool.extract(corpus.root / "memo.docx", name="memo.docx", content_type="")

        assert (result.state, result.extractor) == ("extracted", "python-docx")
        assert pool.replaced == 1


def test_a_bug_in_the_extract_function_is_a_reason_not_an_exception(hooked: ExtractionPool, corpus: Corpus) -> None:
    result = hooked.extract(corpus.root / "utf8.txt", name="raise", content_type="")

    assert result.state == "failed"
    assert result.reason == "extraction raised RuntimeError: a bug in the extractor"
    assert hooked.replaced == 0


def test_threads_share_the_workers(pool: ExtractionPool, corpus: Corpus) -> None:
    names = ["report.pdf", "memo.docx", "trades.xlsx", "deck.pptx", "minutes.odt", "letter.rtf"] * 2
    results: dict[int, Extraction] = {}

    def work(index: int) -> None:
        results[index] = pool.extract(corpus.root / names[index], name=names[index], content_type="")

    threads = [threading.Thread(target=work, args=(index,)) for index in range(len(names))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert [results[index].state for index in range(len(names))] == ["extracted"] * len(names)
    assert [results[index].file_type for index in range(len(names))] == [
        corpus.expected[name].file_type for name in names
    ]


def test_a_closed_pool_stops_its_workers_and_refuses_work(corpus: Corpus) -> None:
    pool = ExtractionPool(1, LIMITS)
    pool.extract(corpus.root / "utf8.txt", name="utf8.txt", content_type="")
    processes = [worker.process for worker in pool._all]

    pool.close()

    assert [process.is_alive() for process in processes] == [False]
    with pytest.raises(RuntimeError, match="closed"):
        pool.extract(Path("x"), name="x", content_type="")
