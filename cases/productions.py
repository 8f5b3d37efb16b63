"""The production log of a case: every production (one export of the case, numbered), its
control-number prefix and the range it used, its recipients and hashes. The one home of the
rule that a case never gives two documents the same control number.

Design (numbers are evidence: a control number that names two documents makes a production
unusable, so the rule is kept by the database, not by care):

- **Reserve at start.** A production of a case reserves, when it starts, every number from its
  start on for its prefix (:meth:`ProductionLog.reserve`): the start is the case's next free
  number for that prefix (one past the last number any finished production of the case used
  with it), or a later one the caller chose (a gap is allowed, a number already used is
  refused: :class:`NumbersUsed`). How many documents the production numbers is only known when
  it ends, so the reservation is open-ended and a second production of the same case cannot
  start while one runs (:class:`ProductionRunning`, answered 409): the case's row is locked
  (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises writers)
  and a partial unique index allows one ``running`` row per case whatever the isolation.
- **Record the real range at the end.** A finished production records the first and last
  numbers its formats used (``manifest.json``'s ``production``, built by
  :func:`exports.package.production_range`), its document count and the SHA-256 of its zip and
  of its manifest (:meth:`ProductionLog.complete`), in the transaction that marks its export
  done. The next production starts right after that last number.
- **A failed production releases its reservation.** Its zip was never offered for download, so
  its numbers were never delivered to anyone: they are free again, and the next production
  starts where the failed one did (:meth:`ProductionLog.release`). The row stays in the log,
  ``failed``, with its error and no range: the log shows the attempt. An export that was
  running when its process stopped is released when the next server process starts
  (:func:`release_running`): each production records its process (``owner``: host, pid and a
  token drawn when the process starts, :func:`process_owner`), and only those of no owner, or
  of this host whose process is gone (no such pid, or this pid with another token), are
  released, so ``archivist export --case`` running beside a server starting keeps its numbers.
  One of another host (a server sharing the database) is left running; a pid taken again by
  an unrelated process keeps its production until that process ends.
- Every change is recorded in the case ledger (:mod:`cases.ledger`) in the same transaction, so
  a range edited behind the log's back (to reuse numbers) is tamper ``verify`` reports.

Numbers are kept per prefix: ``ACME-0000007`` and ``ACME2-0000007`` are different control
numbers. A prefix keeps the width it was first used with in the case, and a number always fits
it (:class:`NumbersPastWidth`; a production that would run past it fails and gives its numbers
back). A prefix new to the case is refused when its control numbers could read as another's
(:class:`PrefixClash`): one that differs from the case's only in letter case (review platforms
compare control numbers case-insensitively: use the case's spelling) or by trailing digits
(``ACME-`` and ``ACME-1``).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, computed_field
from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cases.ledger import record_change
from cases.schema import case_productions, cases
from cases.store import CaseConflict, CaseNotFound

ProductionState = Literal["running", "done", "failed"]
DEFAULT_WIDTH = 7
_PROCESS_TOKEN = uuid.uuid4().hex
"""Tells this process from an earlier one with the same pid (a container's pid 1 restarted)."""


def process_owner() -> str:
    """The process running a production or an export job, as its rows record it:
    ``host:pid:token`` (the token is drawn when the process starts)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_PROCESS_TOKEN}"


def owner_gone(owner: str | None) -> bool:
    """Whether the process recorded as running a job is known to have stopped: no owner (rows
    written before owners were), or this host and either this pid with another token (an
    earlier process of the same pid) or a pid no process has. A process of another host is
    never known to be gone (its rows are left running; see the module doc)."""
    if owner is None:
        return True
    parts = owner.rsplit(":", 2)
    if len(parts) != 3:
        return False
    host, pid, token = parts
    if host != socket.gethostname() or not pid.isascii() or not pid.isdigit():
        return False
    number = int(pid)
    if number == os.getpid():
        return token != _PROCESS_TOKEN
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, OSError):
        return False  # a process of another user, or a pid no kill can name: not known gone
    return False


class ProductionRunning(CaseConflict):
    """A production of the case is running: a second one would share its numbers."""


class NumbersUsed(CaseConflict):
    """The control numbers asked for were delivered already by an earlier production."""


class PrefixClash(CaseConflict):
    """A new prefix whose control numbers could read as another prefix's of the case: the same
    letters in another case, or the other prefix plus digits (``ACME-`` and ``ACME-1``)."""


class NumbersPastWidth(CaseConflict):
    """A start whose numbers do not fit the prefix's width (``ACME-10000001`` is ``ACME-1`` 1)."""


class Production(BaseModel):
    """One production of a case, as the log keeps it."""

    model_config = ConfigDict(frozen=True)

    export_id: str
    case_id: str
    state: ProductionState
    prefix: str
    width: int
    start_number: int
    first_number: int | None
    last_number: int | None
    documents: int | None
    unit: str
    time_zone: str
    recipients: tuple[str, ...]
    query: str
    formats: tuple[str, ...]
    requested_by: str
    started_at: datetime
    finished_at: datetime | None
    zip_sha256: str | None
    manifest_sha256: str | None
    error: str | None
    owner: str | None = None
    """The process that runs or ran it (:func:`process_owner`)."""

    def control(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.width}d}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def first_control(self) -> str | None:
        """The first control number the production used (None: it numbered nothing)."""
        return None if self.first_number is None else self.control(self.first_number)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def last_control(self) -> str | None:
        return None if self.last_number is None else self.control(self.last_number)


def _now() -> datetime:
    return datetime.now(UTC)


def _production(row: Any) -> Production:
    values = dict(row._mapping)
    values["recipients"] = tuple(values["recipients"] or ())
    values["formats"] = tuple(name for name in values["formats"].split(",") if name)
    return Production.model_validate(values)


def _lock_case(connection: Connection, case_id: str) -> None:
    """Lock the case's row (PostgreSQL) so reservations and completions of one case queue; the
    case must exist."""
    query = select(cases.c.id).where(cases.c.id == case_id)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    if connection.execute(query).first() is None:
        raise CaseNotFound(f"no case {case_id!r}")


def _used(connection: Connection, case_id: str, prefix: str, *, besides: str | None = None) -> tuple[int, int] | None:
    """The highest number finished productions of the case used with ``prefix`` and the width
    the prefix was first used with; None when the case never used the prefix."""
    where = [case_productions.c.case_id == case_id, case_productions.c.prefix == prefix]
    if besides is not None:
        where.append(case_productions.c.export_id != besides)
    last = connection.execute(
        select(func.max(case_productions.c.last_number)).where(*where, case_productions.c.state == "done")
    ).scalar_one_or_none()
    width = connection.execute(
        select(case_productions.c.width)
        .where(*where, case_productions.c.state != "failed")
        .order_by(case_productions.c.started_at)
        .limit(1)
    ).scalar_one_or_none()
    if width is None:
        return None
    return int(last or 0), int(width)


def _check_prefix(connection: Connection, case_id: str, prefix: str) -> None:
    """Refuse (:class:`PrefixClash`) a prefix new to the case whose control numbers a review
    platform could take for another prefix's: review platforms and file systems compare control
    numbers case-insensitively (``acme-0000001`` overlays ``ACME-0000001``), so a prefix that
    differs from one of the case's only in letter case is refused (use the case's spelling), and
    so is one that is another plus digits, or the other way round (``ACME-1`` + ``0000001`` is
    ``ACME-`` + ``10000001``'s text). Prefixes of failed productions delivered nothing: ignored."""
    known = connection.execute(
        select(case_productions.c.prefix)
        .distinct()
        .where(case_productions.c.case_id == case_id, case_productions.c.state != "failed")
    ).scalars()
    wanted = prefix.casefold()
    for other in known:
        if other == prefix:
            continue
        folded = other.casefold()
        if folded == wanted:
            raise PrefixClash(
                f"case {case_id} numbers with {other!r}; {prefix!r} differs only in letter case, which review "
                f"platforms do not tell apart: use {other} as before"
            )
        longer, shorter = (wanted, folded) if len(wanted) > len(folded) else (folded, wanted)
        rest = longer[len(shorter) :]
        if longer.startswith(shorter) and rest.isascii() and rest.isdigit():
            raise PrefixClash(
                f"case {case_id} numbers with {other!r}; {prefix!r} differs from it only by digits, so the "
                f"control numbers of one could read as the other's: choose a prefix that is not {other!r} "
                "plus or minus digits"
            )


def _running(connection: Connection, case_id: str) -> str | None:
    return connection.execute(
        select(case_productions.c.export_id).where(
            case_productions.c.case_id == case_id, case_productions.c.state == "running"
        )
    ).scalar_one_or_none()


class ProductionLog:
    """The production log of every case (see the module doc)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def productions(self, case_id: str) -> list[Production]:
        """The case's productions, oldest first (failed ones too)."""
        with self.engine.connect() as connection:
            if connection.execute(select(cases.c.id).where(cases.c.id == case_id)).first() is None:
                raise CaseNotFound(f"no case {case_id!r}")
            rows = connection.execute(
                select(case_productions)
                .where(case_productions.c.case_id == case_id)
                .order_by(case_productions.c.started_at, case_productions.c.export_id)
            )
            return [_production(row) for row in rows]

    def get(self, export_id: str) -> Production | None:
        with self.engine.connect() as connection:
            row = connection.execute(select(case_productions).where(case_productions.c.export_id == export_id)).first()
        return None if row is None else _production(row)

    def last_prefix(self, case_id: str) -> str | None:
        """The prefix of the case's latest production, failed ones too (None: none yet)."""
        with self.engine.connect() as connection:
            return connection.execute(
                select(case_productions.c.prefix)
                .where(case_productions.c.case_id == case_id)
                .order_by(case_productions.c.started_at.desc())
                .limit(1)
            ).scalar_one_or_none()

    def next_free(self, case_id: str, prefix: str) -> int:
        """The first number of ``prefix`` no finished production of the case used."""
        with self.engine.connect() as connection:
            used = _used(connection, case_id, prefix)
        return 1 if used is None else used[0] + 1

    def reserve(
        self,
        *,
        export_id: str,
        case_id: str,
        prefix: str,
        start: int | None,
        unit: str,
        time_zone: str,
        recipients: Sequence[str],
        query: str,
        formats: Sequence[str],
        requested_by: str,
    ) -> Production:
        """Reserve the numbers of a production of ``case_id`` from ``start`` (None: the case's
        next free number for ``prefix``) on; refused while another production of the case runs
        (:class:`ProductionRunning`) and below the next free number (:class:`NumbersUsed`)."""
        try:
            with self.engine.begin() as connection:
                _lock_case(connection, case_id)
                running = _running(connection, case_id)
                if running is not None:
                    raise ProductionRunning(
                        f"a production of case {case_id} is running (export {running}); "
                        "start the next one when it has finished"
                    )
                used = _used(connection, case_id, prefix)
                if used is None:
                    _check_prefix(connection, case_id, prefix)
                free, width = (1, DEFAULT_WIDTH) if used is None else (used[0] + 1, used[1])
                if start is not None and start < free:
                    last = f"{prefix}{free - 1:0{width}d}"
                    raise NumbersUsed(
                        f"case {case_id} has produced {prefix} numbers up to {last}; numbers are never reused: "
                        f"start at {free} or later"
                    )
                first = free if start is None else start
                if first >= 10**width:
                    raise NumbersPastWidth(
                        f"{prefix} control numbers have {width} digits in case {case_id}; {first} does not fit "
                        f"(the last is {prefix}{10**width - 1}): start lower or choose another prefix"
                    )
                connection.execute(
                    insert(case_productions).values(
                        export_id=export_id,
                        case_id=case_id,
                        state="running",
                        prefix=prefix,
                        width=width,
                        start_number=first,
                        unit=unit,
                        time_zone=time_zone,
                        recipients=list(recipients),
                        query=query,
                        formats=",".join(formats),
                        requested_by=requested_by,
                        started_at=_now(),
                        owner=process_owner(),
                    )
                )
                record_change(connection, case_productions, {"export_id": export_id})
        except IntegrityError:
            # Two reservations passed the check at once (the unique index of running rows).
            raise ProductionRunning(
                f"a production of case {case_id} is running; start the next one when it has finished"
            ) from None
        found = self.get(export_id)
        assert found is not None
        return found


def complete(
    connection: Connection,
    export_id: str,
    *,
    first_number: int | None,
    last_number: int | None,
    documents: int,
    zip_sha256: str,
    manifest_sha256: str,
) -> Production:
    """In the caller's transaction (the one that marks the export done): record the range the
    production used and its hashes. A range that does not start at the reserved number, or
    overlaps one delivered already, is refused (:class:`NumbersUsed`): the caller then fails
    the export and releases it."""
    row = connection.execute(select(case_productions).where(case_productions.c.export_id == export_id)).first()
    if row is None:
        raise CaseNotFound(f"no production {export_id!r}")
    production = _production(row)
    _lock_case(connection, production.case_id)
    if production.state != "running":
        raise CaseConflict(f"production {export_id} is {production.state}, not running")
    if (first_number is None) != (last_number is None) or (documents > 0) != (first_number is not None):
        raise ValueError(f"production {export_id}: {documents} documents from {first_number} to {last_number}")
    if first_number is not None and last_number is not None:
        used = _used(connection, production.case_id, production.prefix, besides=export_id)
        free = 1 if used is None else used[0] + 1
        if first_number != production.start_number or first_number < free or last_number < first_number:
            raise NumbersUsed(
                f"production {export_id} numbered {first_number} to {last_number}, but reserved from "
                f"{production.start_number} (the next free number is {free})"
            )
    connection.execute(
        update(case_productions)
        .where(case_productions.c.export_id == export_id)
        .values(
            state="done",
            finished_at=_now(),
            first_number=first_number,
            last_number=last_number,
            documents=documents,
            zip_sha256=zip_sha256,
            manifest_sha256=manifest_sha256,
        )
    )
    record_change(connection, case_productions, {"export_id": export_id})
    done = connection.execute(select(case_productions).where(case_productions.c.export_id == export_id)).first()
    return _production(done)


def release(connection: Connection, export_id: str, error: str) -> Production | None:
    """In the caller's transaction: a production that failed gives its numbers back (they were
    never delivered); its row stays, ``failed``, with ``error``. None when the export was no
    (running) production."""
    row = connection.execute(
        select(case_productions).where(case_productions.c.export_id == export_id, case_productions.c.state == "running")
    ).first()
    if row is None:
        return None
    _lock_case(connection, row.case_id)
    connection.execute(
        update(case_productions)
        .where(case_productions.c.export_id == export_id)
        .values(state="failed", finished_at=_now(), error=error[:2000], first_number=None, last_number=None)
    )
    record_change(connection, case_productions, {"export_id": export_id})
    released = connection.execute(select(case_productions).where(case_productions.c.export_id == export_id)).first()
    return _production(released)


def release_running(connection: Connection, live: Collection[str], error: str) -> list[str]:
    """Release every running production whose export is not in ``live`` and whose process is
    known to have stopped before it finished (:func:`owner_gone`: a production the command
    line runs beside a server starting is left alone); the export ids released."""
    running = connection.execute(
        select(case_productions.c.export_id, case_productions.c.owner).where(case_productions.c.state == "running")
    ).all()
    released = [row.export_id for row in running if row.export_id not in live and owner_gone(row.owner)]
    for export_id in released:
        release(connection, export_id, error)
    return released


__all__: Sequence[str] = (
    "NumbersPastWidth",
    "NumbersUsed",
    "PrefixClash",
    "Production",
    "ProductionLog",
    "ProductionRunning",
    "complete",
    "owner_gone",
    "process_owner",
    "release",
    "release_running",
)
