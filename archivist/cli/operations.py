"""An operator's checks and repairs: verify the chains, rebuild the index, retry parked events,
the pipeline's status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from kombu.exceptions import OperationalError as BrokerUnreachable
from rich.table import Table
from sqlalchemy import Engine

from adapters.index_adapter import IndexLocked, ReindexFailed
from adapters.index_adapter import reindex as rebuild_index
from archive.attachments import extraction_job_counts, file_text_counts, native_count, pending_count
from archive.audit import verify_audit
from archive.file_store import FileStoreError
from archive.membership_check import verify_memberships
from archive.record import archived_events, verify_archive
from archive.verify_files import verify_files
from archivist import checkpoints, wiring
from archivist.cli.common import err, fail, load_settings, out
from archivist.settings import Settings, redact_url
from archivist.tls import broker_ssl_options
from cases.ledger import verify_ledger
from ingest.staging_claims import retry_parked
from ingest.topology import broker_depths

app = typer.Typer()


@app.command()
def verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="Also check the chains still hold the heads saved in this checkpoint file."),
    ] = None,
    write_checkpoint: Annotated[
        Path | None,
        typer.Option(help="After a clean walk, save the chains' heads here (keep it outside the database)."),
    ] = None,
    files: Annotated[
        bool,
        typer.Option("--files", help="Also re-hash the stored files (natives and extracted texts) in the file store."),
    ] = False,
    sample: Annotated[
        int | None,
        typer.Option(min=1, help="With --files: re-hash this many stored files picked at random instead of all."),
    ] = None,
) -> None:
    """Walk the archive's and the audit log's hash chains and the case ledger, and check the
    membership intervals against the chain; name the first row (and column) that does not hold.
    With --files, re-hash the stored files and name each missing or altered one."""
    settings = load_settings()
    engine = wiring.staging_store(settings).engine
    broken = False
    if checkpoint is not None:
        try:
            problems = checkpoints.compare(engine, checkpoints.read_checkpoint(checkpoint))
        except checkpoints.BadCheckpoint as error:
            fail(str(error))
        for problem in problems:
            err.print(f"checkpoint {checkpoint}: {problem}", highlight=False, markup=False)
        broken = bool(problems)
        if not problems:
            out.print(f"checkpoint {checkpoint}: every checkpointed head is still in place", highlight=False)
    verifications = (
        ("archive chain", verify_archive),
        ("audit log chain", verify_audit),
        ("case ledger chain", verify_ledger),
        ("membership intervals", verify_memberships),
    )
    for name, verification in verifications:
        report = verification(engine)
        if report.ok:
            out.print(f"{name} intact: {report.checked} entries verified", highlight=False)
            continue
        broken = True
        bad = report.first_bad
        assert bad is not None
        where = f"row {bad.position} ({bad.label})" if bad.position else bad.label
        err.print(
            f"{name} BROKEN at {where}: {report.problem}; {report.checked} rows before it verified",
            highlight=False,
            markup=False,
        )
    if files or sample is not None:
        broken = _verify_files(settings, engine, sample) or broken
    if broken:
        raise typer.Exit(1)
    if write_checkpoint is not None:
        for name, head in checkpoints.write_checkpoint(engine, write_checkpoint).items():
            where = "empty" if head is None else f"row {head.seq} of {head.rows}, chain hash {head.chain_hash}"
            out.print(f"checkpoint {write_checkpoint}: {name} head {where}", highlight=False)


def _verify_files(settings: Settings, engine: Engine, sample: int | None) -> bool:
    """Re-hash the stored files; True when any is missing or altered."""
    store = wiring.file_store(settings)
    try:
        report = verify_files(engine, store, sample)
    except (FileStoreError, OSError) as error:
        err.print(f"stored files NOT verified: {error}", highlight=False, markup=False)
        return True
    for check in report.bad:
        referring = report.references.get(check.sha256, [])
        named = "; ".join(f"{r.kind} event {r.event_id} ({r.name!r})" for r in referring) or "no archived event"
        err.print(
            f"file {check.sha256} {check.state.upper()}: {check.detail}; referred to by {named}",
            highlight=False,
            markup=False,
        )
    checked = len(report.checked)
    scope = f"{checked} of {report.listed}" if checked < report.listed else f"{checked}"
    counts = [f"{report.count('ok')} intact"]
    counts += [f"{report.count(state)} {state}" for state in ("missing", "altered") if report.count(state)]
    how = " (a random sample)" if checked < report.listed else ""
    out.print(f"{scope} stored files re-hashed{how}: {', '.join(counts)} ({store.name} store)", highlight=False)
    if report.unlisted:
        shown = ", ".join(report.unlisted[:10]) + (", ..." if len(report.unlisted) > 10 else "")
        noun = "object" if len(report.unlisted) == 1 else "objects"
        out.print(
            f"{len(report.unlisted)} {noun} in the store that no row refers to: {shown} (information only)",
            highlight=False,
        )
    return bool(report.bad)


@app.command()
def reindex() -> None:
    """Rebuild the embedded search index from the archive (stop the processors first), with the
    text of attachments read from the file store."""
    settings = load_settings()
    engine = wiring.staging_store(settings).engine
    try:
        documents = rebuild_index(
            settings.data_dir / "index", archived_events(engine), file_store=wiring.file_store(settings)
        )
    except (IndexLocked, ReindexFailed) as error:
        fail(str(error))
    out.print(f"index rebuilt from the archive: {documents} documents", highlight=False)


@app.command("retry-parked")
def retry_parked_command() -> None:
    """Put parked events back in line for delivery (their attempt counts start again)."""
    count = retry_parked(wiring.staging_store(load_settings()).engine)
    out.print(f"{count} parked events will be retried", highlight=False)


def _status_figures(settings: Settings) -> dict[str, int | str | None]:
    store = wiring.staging_store(settings)
    counts = store.counts()
    figures: dict[str, int | str | None] = {
        "queue_depth": None,
        "dead_letters": None,
        "staged": counts.staged,
        "parked": counts.parked,
    }
    if settings.broker_url:
        depth, dead = broker_depths(
            settings.broker_url.get_secret_value(), wiring.topology(settings), ssl=broker_ssl_options(settings)
        )
        figures.update(queue_depth=depth, dead_letters=dead)
    figures.update(_file_figures(settings, store.engine))
    return figures


def _file_figures(settings: Settings, engine: Engine) -> dict[str, int | str | None]:
    """The stored natives (and extracted texts), the uploads still waiting for their bytes, and
    which store keeps them (counted from the database: the store itself is not asked)."""
    with engine.connect() as connection:
        return {
            "stored_files": native_count(connection),
            "pending_files": pending_count(connection),
            "file_store": wiring.file_store(settings).name,
        }


def _extraction_figures(settings: Settings) -> dict[str, int]:
    """The extraction jobs by state and the extracted texts by state."""
    with wiring.staging_store(settings).engine.connect() as connection:
        jobs = extraction_job_counts(connection)
        texts = file_text_counts(connection)
    return {
        **{f"extraction_{state}": count for state, count in jobs.items()},
        **{f"texts_{state}": count for state, count in texts.items()},
    }


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")] = False,
) -> None:
    """Queue depth, dead letters, staged and parked events (queue figures are null without a broker),
    stored files, files still waiting for their bytes, the file store's kind; extraction jobs and
    extracted texts by state."""
    settings = load_settings()
    try:
        figures = _status_figures(settings)
    except (OSError, BrokerUnreachable) as error:
        fail(f"cannot reach the broker at {redact_url(settings.broker_url)}: {error}")
    extraction = _extraction_figures(settings)
    if as_json:
        print(json.dumps({**figures, **extraction}))
        return
    table = Table("what", "count", title="Archivist pipeline")
    for name, value in figures.items():
        table.add_row(name.replace("_", " "), "n/a (no broker)" if value is None else str(value))
    out.print(table)
    block = Table("what", "count", title="Text extraction")
    for name, count in extraction.items():
        block.add_row(name.replace("_", " "), str(count))
    out.print(block)
