"""The ``archivist.importers`` entry-point group and its registry."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from ingest.importers import GROUP, UnknownImporter, known_importer_names, load_importer
from ingest.irc import IrcImporter, read_irc_file
from ingest.producer import Located, Rejected

DEMO_LOGS = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"


def test_irc_is_a_registered_importer() -> None:
    assert "irc" in known_importer_names()
    assert isinstance(load_importer("irc"), IrcImporter)


def test_every_declared_importer_loads_and_is_named_as_registered() -> None:
    declared = list(entry_points(group=GROUP))
    assert declared, "no importer is declared: is the distribution installed?"
    for entry_point in declared:
        importer = load_importer(entry_point.name)
        assert importer.name == entry_point.name
        assert importer.reads
        assert importer.description
        assert callable(importer.check)
        assert callable(importer.items)
        assert callable(importer.notes)


def test_an_unknown_importer_names_the_closest_and_every_known_one() -> None:
    with pytest.raises(
        UnknownImporter, match=r"unknown importer 'ircc' \(did you mean 'irc'\?\); known importers: .*irc"
    ):
        load_importer("ircc")


def test_an_unknown_importer_with_no_close_name_suggests_nothing() -> None:
    with pytest.raises(UnknownImporter) as raised:
        load_importer("quux")
    assert "did you mean" not in str(raised.value)


def test_each_load_is_a_fresh_importer() -> None:
    """An importer counts what it reads for its notes: two imports must not share the count."""
    assert load_importer("irc") is not load_importer("irc")


def test_the_irc_importer_yields_the_events_of_the_logs_in_file_order() -> None:
    logs = sorted(DEMO_LOGS.glob("*.raw.txt"))
    items = list(IrcImporter().items(logs))
    assert all(isinstance(item, Located) for item in items)
    expected = [event for log in logs for event in read_irc_file(log)]
    assert [item.event for item in items if isinstance(item, Located)] == expected


def test_the_irc_importer_checks_the_file_name_without_reading_the_file(tmp_path: Path) -> None:
    importer = IrcImporter()
    importer.check(tmp_path / "2005-02-08.raw.txt")  # it does not exist: only the name is judged
    with pytest.raises(ValueError, match="must start with its date"):
        importer.check(tmp_path / "channel.raw.txt")


def test_the_irc_importer_notes_skipped_lines_and_rejects_a_file_with_nothing_to_import(tmp_path: Path) -> None:
    empty = tmp_path / "2005-02-08.raw.txt"
    empty.write_text("noise\n", encoding="utf-8")
    log = tmp_path / "2005-02-09.raw.txt"
    log.write_text("[10:00] <a> hello\nnoise\n", encoding="utf-8")
    importer = IrcImporter()
    items = list(importer.items([empty, log]))
    assert items[0] == Rejected(
        "2005-02-08.raw.txt", "nothing to import (1 lines of no known kind): is this an IRC log?"
    )
    assert [item.where for item in items[1:]] == ["2005-02-09.raw.txt:1"]
    assert importer.notes() == [
        f"skipped 1 lines of {name} of no known kind (not a message, action, notice, join, leave, quit or rename): "
        f"lines {line}"
        for name, line in (("2005-02-08.raw.txt", 1), ("2005-02-09.raw.txt", 2))
    ]


def test_the_irc_importer_rejects_a_file_it_cannot_read(tmp_path: Path) -> None:
    items = list(IrcImporter().items([tmp_path / "2005-02-08.raw.txt"]))
    assert len(items) == 1
    assert isinstance(items[0], Rejected)
    assert items[0].reason.startswith("cannot read the file: ")
