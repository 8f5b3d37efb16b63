"""The case ledger: tamper evidence for cases, saved searches, notes, legal holds, retention
policies, retention runs and the production log (``case_productions``, 0011).

These tables are changed in place (a hold is released, a policy's period changes), so they
cannot carry a chain themselves. Instead every change the stores make appends, in the same
transaction, one hash-chained ledger record holding the row's whole state after the change
(None once it is deleted). ``verify`` walks the ledger's chain and then compares every current
row with the ledger's latest state of it: a row changed, inserted or deleted behind the
stores' back (an UPDATE that releases a hold, a shorter ``keep_days``) no longer matches, and
retention refuses to run while anything disagrees (``cases.retention``).

Rows that existed before the ledger (migration 0006) were recorded by that migration as they
were then: the ledger vouches for them from that moment, not before.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Table, insert, inspect, select, text

from archive.hashchain import GENESIS, ChainReport, ChainRow, canonical_json, content_hash, link_hash, verify_rows
from cases.schema import (
    case_ledger,
    case_notes,
    case_productions,
    case_searches,
    cases,
    legal_holds,
    retention_policies,
    retention_runs,
)

COVERED: tuple[Table, ...] = (
    cases,
    case_searches,
    case_notes,
    legal_holds,
    retention_policies,
    retention_runs,
    case_productions,
)
"""The tables the ledger vouches for, by name in its records."""
_BY_NAME = {table.name: table for table in COVERED}
_LEDGER_LOCK = 7_246_000_401

_HEAD = select(case_ledger.c.chain_hash).order_by(case_ledger.c.seq.desc()).limit(1)


def row_state(table: Table, values: Mapping[Any, Any]) -> dict[str, Any]:
    """A row as the ledger keeps it: every column, times as ISO 8601 in UTC, JSON columns as
    JSON values (read back from the ledger's canonical JSON, so a current row and its ledger
    state compare equal exactly when every column is the same)."""
    state: dict[str, Any] = {}
    for column in table.c:
        if column.name not in values:  # a column a later migration adds (see record_every_row)
            continue
        value = values[column.name]
        state[column.name] = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value
    return dict(json.loads(canonical_json(state)))


def _key(table: Table, values: Mapping[Any, Any]) -> list[str]:
    return [str(values[column.name]) for column in table.primary_key.columns]


def _key_text(key: Sequence[str]) -> str:
    return canonical_json({"key": list(key)}).decode()


def record_change(connection: Connection, table: Table, key: Mapping[Any, Any]) -> None:
    """Append the current state of ``table``'s row with primary key ``key`` (None when there is
    no such row any more), in the caller's transaction, after the change it made."""
    where = [column == key[column.name] for column in table.primary_key.columns]
    found = connection.execute(select(table).where(*where)).first()
    state = None if found is None else row_state(table, found._mapping)
    _append(connection, table, [str(key[column.name]) for column in table.primary_key.columns], state)


def record_every_row(connection: Connection) -> int:
    """Record every row of every covered table as it is (the migration that adds the ledger
    calls this once); returns how many were recorded. Only the columns the tables have at that
    migration are read: a column added later (a case's ``time_zone``, 0007) is NULL in every
    older row, which compares equal to its absence from a ledger state (``_disagreement``); a
    table added later has no rows then."""
    recorded = 0
    inspector = inspect(connection)
    for table in COVERED:
        if not inspector.has_table(table.name):  # a table a later migration makes (the production log)
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        columns = [column for column in table.c if column.name in present]
        for values in connection.execute(select(*columns).order_by(*table.primary_key.columns)):
            _append(connection, table, _key(table, values._mapping), row_state(table, values._mapping))
            recorded += 1
    return recorded


def _append(connection: Connection, table: Table, key: list[str], state: dict[str, Any] | None) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LEDGER_LOCK})
    recorded_at = datetime.now(UTC)
    document = canonical_json(
        {"table": table.name, "key": key, "row": state, "recorded_at": recorded_at.isoformat()}
    ).decode()
    digest = content_hash(document)
    previous = connection.execute(_HEAD).scalar_one_or_none() or GENESIS
    connection.execute(
        insert(case_ledger).values(
            entity=table.name,
            entity_key=_key_text(key),
            recorded_at=recorded_at,
            document=document,
            content_hash=digest,
            prev_hash=previous,
            chain_hash=link_hash(previous, digest),
        )
    )


@dataclass(frozen=True)
class LedgerRow(ChainRow):
    columns: Mapping[Any, Any] | None = None


def _ledger_rows(connection: Connection) -> Iterator[LedgerRow]:
    result = connection.execute(select(case_ledger).order_by(case_ledger.c.seq).execution_options(yield_per=5000))
    for values in result:
        columns = values._mapping
        yield LedgerRow(
            position=int(columns["seq"]),
            label=f"{columns['entity']} {columns['entity_key']}",
            document=str(columns["document"]),
            content_hash=str(columns["content_hash"]),
            prev_hash=str(columns["prev_hash"]),
            chain_hash=str(columns["chain_hash"]),
            columns=columns,
        )


@dataclass
class _Latest:
    """The ledger's latest state of every row it names, filled while its chain is walked."""

    states: dict[tuple[str, str], tuple[int, dict[str, Any] | None]]

    def check(self, row: ChainRow, _tombstoned: bool) -> str | None:
        assert isinstance(row, LedgerRow)
        columns = row.columns or {}
        try:
            document = json.loads(row.document)
            table, key, state = str(document["table"]), list(document["key"]), document["row"]
            recorded_at = datetime.fromisoformat(document["recorded_at"])
        except (ValueError, TypeError, KeyError) as error:
            return f"its document is not a ledger record ({error.__class__.__name__})"
        said = {"entity": table, "entity_key": _key_text(key), "recorded_at": recorded_at}
        for name, value in said.items():
            if columns[name] != value:
                return f"its {name} column differs from its chained document: the column was changed"
        self.states[(table, _key_text(key))] = (row.position, state)
        return None


def verify_ledger(engine: Engine) -> ChainReport:
    """Walk the ledger's chain, then compare every covered table with the ledger's latest
    state of each row; the report names the first ledger record or current row that does not
    hold (a changed row: with the columns that differ)."""
    latest = _Latest({})
    with engine.connect() as connection:
        report = verify_rows(_ledger_rows(connection), check=latest.check)
        if not report.ok:
            return ChainReport(report.checked, report.first_bad, f"the case ledger does not hold: {report.problem}")
        for table in COVERED:
            for values in connection.execute(select(table).order_by(*table.primary_key.columns)):
                key = _key_text(_key(table, values._mapping))
                position, state = latest.states.pop((table.name, key), (0, None))
                problem = _disagreement(row_state(table, values._mapping), state)
                if problem is not None:
                    return _row_report(report.checked, position, table.name, key, problem)
        for (name, key), (position, state) in sorted(latest.states.items()):
            if name in _BY_NAME and state is not None:
                return _row_report(
                    report.checked, position, name, key, "the ledger records it but the row is gone: it was deleted"
                )
    return report


def _disagreement(current: dict[str, Any], recorded: dict[str, Any] | None) -> str | None:
    if recorded is None:
        return "no ledger record names it as it is: it was inserted behind the store's back"
    changed = sorted(name for name in current.keys() | recorded.keys() if current.get(name) != recorded.get(name))
    if changed:
        names = f"{', '.join(changed)} columns differ" if len(changed) > 1 else f"{changed[0]} column differs"
        return f"its {names} from the case ledger: changed behind the store's back"
    return None


def _row_report(checked: int, position: int, table: str, key: str, problem: str) -> ChainReport:
    label = f"{table} row {'/'.join(json.loads(key)['key'])}"
    bad = ChainRow(position=position, label=label, document="", content_hash="", prev_hash="", chain_hash="")
    return ChainReport(checked, bad, problem)


__all__ = ["COVERED", "record_change", "record_every_row", "row_state", "verify_ledger"]
