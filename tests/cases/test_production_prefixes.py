"""A case never gives two documents the same control number, whatever the prefixes and starts its
productions chose: a number always fits its prefix's width, and a new prefix that a review
platform could confuse with one of the case's (another letter case, or the other plus digits) is
refused."""

# ruff: noqa: F811  (the case_id fixture is imported)
from __future__ import annotations

import pytest

from cases.productions import NumbersPastWidth, PrefixClash, ProductionLog, release
from exports.documents import BadNumbering, Numbering
from ingest.staging import StagingStore
from tests.cases.test_productions import _finish, _reserve, case_id  # noqa: F401  (fixture)


def test_a_number_never_runs_past_its_width() -> None:
    with pytest.raises(BadNumbering, match="ACME-9999999"):
        Numbering("ACME-", 10_000_001)
    numbering = Numbering("ACME-", 9_999_999)
    assert numbering.control(9_999_999) == "ACME-9999999"
    with pytest.raises(BadNumbering, match="does not fit"):
        numbering.control(10_000_000)


def test_a_start_past_the_width_is_refused(store: StagingStore, case_id: str) -> None:
    log = ProductionLog(store.engine)
    with pytest.raises(NumbersPastWidth, match="ACME-9999999"):
        _reserve(log, case_id, prefix="ACME-", start=10_000_001)
    assert log.productions(case_id) == []
    last = _finish(log, _reserve(log, case_id, prefix="ACME-", start=9_999_999), 1)
    assert last.last_control == "ACME-9999999"
    with pytest.raises(NumbersPastWidth):  # the next free number no longer fits
        _reserve(log, case_id, prefix="ACME-")


@pytest.mark.parametrize(("first", "then"), [("ACME-", "ACME-1"), ("ACME-1", "ACME-"), ("ACME-", "acme-12")])
def test_a_prefix_that_is_another_plus_digits_is_refused(
    store: StagingStore, case_id: str, first: str, then: str
) -> None:
    log = ProductionLog(store.engine)
    _finish(log, _reserve(log, case_id, prefix=first), 1)
    with pytest.raises(PrefixClash) as refused:
        _reserve(log, case_id, prefix=then)
    assert repr(first) in str(refused.value)
    assert repr(then) in str(refused.value)
    assert _finish(log, _reserve(log, case_id, prefix="ACME2-"), 1).first_control == "ACME2-0000001"


def test_a_prefix_differing_only_in_case_is_refused(store: StagingStore, case_id: str) -> None:
    """Review platforms match control numbers case-insensitively (Relativity's SQL Server collation,
    Windows and macOS file names): acme-0000001 overlays ACME-0000001."""
    log = ProductionLog(store.engine)
    first = _finish(log, _reserve(log, case_id, prefix="ACME-"), 3)
    with pytest.raises(PrefixClash, match="use ACME- as before"):
        _reserve(log, case_id, prefix="acme-")
    second = _reserve(log, case_id, prefix="ACME-")
    assert first.last_control == "ACME-0000003"
    assert second.control(second.start_number) == "ACME-0000004"


def test_the_prefix_of_a_failed_production_is_free(store: StagingStore, case_id: str) -> None:
    log = ProductionLog(store.engine)
    failed = _reserve(log, case_id, prefix="acme-")
    with store.engine.begin() as connection:
        release(connection, failed.export_id, "failed")
    assert _finish(log, _reserve(log, case_id, prefix="ACME-"), 1).first_control == "ACME-0000001"
