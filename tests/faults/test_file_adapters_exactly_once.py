"""The file feeds (``xml``: Lync compliance XML, ``actiance``) are exactly-once per event, with a
real kill: a processor process is SIGKILLed after its XML files are written but before the
outcome is recorded (another adapter of the batch is still working), newer events are staged, and
a second processor claims the old events again (their lease expired) together with the new ones.
Every CHAT message must appear exactly once across all Lync files, every Actiance message exactly
once across all Actiance files."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lxml import etree

from adapters.actiance_adapter import ActianceAdapter
from adapters.base import Adapter
from adapters.processor import BatchProcessor, ProcessorOptions
from adapters.xml_adapter import LyncXmlAdapter
from ingest.events import PostEvent
from ingest.staging import StagingStore, to_row
from tests.factories import post
from tests.processes import wait_until

# A processor in a process of its own, with the two file adapters and one that never answers (an
# adapter still working when the process is killed: the batch's outcome is never recorded).
_PROCESSOR = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from adapters.actiance_adapter import ActianceAdapter
    from adapters.processor import BatchProcessor, ProcessorOptions
    from adapters.xml_adapter import LyncXmlAdapter
    from ingest.db import create_db_engine

    class StillWorking:
        name = "still-working"
        def write(self, batch):
            time.sleep(3600)
            return [None] * len(batch)
        def close(self):
            pass

    adapters = [LyncXmlAdapter(Path(sys.argv[2])), ActianceAdapter(Path(sys.argv[3])), StillWorking()]
    engine = create_db_engine(sys.argv[1])
    BatchProcessor(engine, adapters, ProcessorOptions(batch_size=1000)).process_batch()
    """
)


def delivered(directory: Path) -> list[Path]:
    """The files a vendor's pickup takes: ``*.xml``, never a writer's temporary file."""
    return sorted(directory.glob("*.xml"))


def chat_messages(directory: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in delivered(directory):
        for message in etree.parse(str(path)).iterfind(".//Messages/Message[@type='CHAT']"):
            found[message.get("content") or ""] += 1
    return found


def actiance_messages(directory: Path) -> Counter[str]:
    found: Counter[str] = Counter()
    for path in delivered(directory):
        for message in etree.parse(str(path)).iterfind(".//Message"):
            found[message.findtext("MessageId") or ""] += 1
    return found


def test_a_processor_killed_after_writing_its_files_leaves_every_message_exactly_once(
    store: StagingStore, tmp_path: Path
) -> None:
    xml_dir, actiance_dir = tmp_path / "xml", tmp_path / "actiance"
    old = [post(i, run="2010", text=f"2010: chat {i}") for i in range(300)]
    new = [post(i, run="2013", text=f"2013: chat {i}") for i in range(200)]
    store.insert([to_row(e) for e in old])
    url = store.engine.url.render_as_string(hide_password=False)
    killed = subprocess.Popen(
        [sys.executable, "-c", _PROCESSOR, url, str(xml_dir), str(actiance_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(
            lambda: (any(delivered(xml_dir)) and any(delivered(actiance_dir))) or killed.poll() is not None,
            timeout=120,
            what="the first processor's XML files",
        )
        assert killed.poll() is None, f"the processor ended by itself: {killed.stderr.read() if killed.stderr else ''}"
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
    assert sum(chat_messages(xml_dir).values()) == len(old), "the killed processor's file is complete"
    assert store.counts().staged == len(old), "its outcome was never recorded"

    store.insert([to_row(e) for e in new])
    after_the_lease = datetime.now(UTC) + timedelta(seconds=ProcessorOptions().lease_seconds + 1)
    adapters: list[Adapter] = [LyncXmlAdapter(xml_dir), ActianceAdapter(actiance_dir)]
    total = BatchProcessor(
        store.engine, adapters, ProcessorOptions(batch_size=1000), clock=lambda: after_the_lease
    ).run(until_empty=True)
    for adapter in adapters:
        adapter.close()
    assert total.claimed == len(old) + len(new), "the old events were claimed again, with the new ones"
    assert store.counts().staged == 0

    everything = [e for e in old + new if isinstance(e, PostEvent)]
    assert chat_messages(xml_dir) == Counter(e.message.text for e in everything)
    assert actiance_messages(actiance_dir) == Counter(e.message.id for e in everything)
    assert len(delivered(xml_dir)) == 2, "the second file holds only the new events"
