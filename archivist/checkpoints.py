"""Chain checkpoints: the head of each hash chain, saved outside the database.

A hash chain proves that no row before the head was changed, inserted or removed, but not that
the newest rows are all still there: whoever can write the database can cut the tail (or drop
the whole table) and leave a chain that verifies. A checkpoint written to storage the database
cannot reach (another host, write-once media, a ticket) closes that gap up to its moment:
``archivist verify --checkpoint FILE`` fails unless each chain still holds the checkpointed
row with the same chain hash.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, Table, func, select

from archive.app_schema import audit_log
from archive.schema import archive_events
from cases.schema import case_ledger

CHAINS: dict[str, Table] = {"archive": archive_events, "audit log": audit_log, "case ledger": case_ledger}


class BadCheckpoint(ValueError):
    """A checkpoint file that cannot be read (said to the operator, never a traceback)."""


@dataclass(frozen=True)
class ChainHead:
    rows: int
    seq: int
    chain_hash: str


def heads(engine: Engine) -> dict[str, ChainHead | None]:
    """The newest row of every chain (None for an empty chain)."""
    found: dict[str, ChainHead | None] = {}
    with engine.connect() as connection:
        for name, table in CHAINS.items():
            rows = int(connection.execute(select(func.count()).select_from(table)).scalar_one())
            newest = connection.execute(
                select(table.c.seq, table.c.chain_hash).order_by(table.c.seq.desc()).limit(1)
            ).first()
            found[name] = None if newest is None else ChainHead(rows, int(newest.seq), str(newest.chain_hash))
    return found


def write_checkpoint(engine: Engine, path: Path) -> dict[str, ChainHead | None]:
    current = heads(engine)
    document = {
        "written_at": datetime.now(UTC).isoformat(),
        "chains": {name: None if head is None else asdict(head) for name, head in current.items()},
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return current


def read_checkpoint(path: Path) -> dict[str, ChainHead | None]:
    try:
        chains = json.loads(path.read_text(encoding="utf-8"))["chains"]
        return {name: None if head is None else ChainHead(**head) for name, head in chains.items()}
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BadCheckpoint(
            f"{path}: not a checkpoint written by `archivist verify --write-checkpoint` ({error})"
        ) from None


def compare(engine: Engine, checkpoint: dict[str, ChainHead | None]) -> list[str]:
    """What no longer holds since the checkpoint, one sentence per chain (empty: all holds)."""
    problems = []
    with engine.connect() as connection:
        for name, head in checkpoint.items():
            table = CHAINS.get(name)
            if table is None:
                problems.append(f"{name}: the checkpoint names a chain this version does not know")
                continue
            if head is None:
                continue
            stored = connection.execute(select(table.c.chain_hash).where(table.c.seq == head.seq)).scalar_one_or_none()
            if stored is None:
                problems.append(
                    f"{name}: the checkpointed row {head.seq} is gone; rows were removed after the checkpoint"
                )
            elif stored != head.chain_hash:
                problems.append(
                    f"{name}: row {head.seq} no longer has the checkpointed chain hash; the chain was rewritten"
                )
            else:
                rows = int(connection.execute(select(func.count()).select_from(table)).scalar_one())
                if rows < head.rows:
                    problems.append(f"{name}: {rows} rows where the checkpoint saw {head.rows}; rows were removed")
    return problems
