"""The ``archivist`` command line: the composition root that starts every role."""

from __future__ import annotations

import json
import logging
import signal
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from archivist import wiring
from archivist.logs import configure_logging
from archivist.settings import Settings, env_name, get_settings, redact_url
from archivist.tls import broker_ssl_options
from ingest.consumer import ConsumerOptions, ConsumeStats, StagingConsumer
from ingest.events import Event, event_json_schema
from ingest.producer import FeedReport, Located, Rejected, feed, read_jsonl
from ingest.staging import StagingStore
from ingest.topology import broker_depths

if TYPE_CHECKING:
    from adapters.base import Adapter
    from ingest.irc import IrcImportStats

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Compliance archiving for group chat.",
)
import_app = typer.Typer(no_args_is_help=True, help="Import chat history from other systems.")
app.add_typer(import_app, name="import")
token_app = typer.Typer(no_args_is_help=True, help="API tokens.")
app.add_typer(token_app, name="token")
directory_app = typer.Typer(no_args_is_help=True, help="The directory of users and groups that policies name.")
app.add_typer(directory_app, name="directory")
retention_app = typer.Typer(no_args_is_help=True, help="Retention: dispose of what no policy or legal hold keeps.")
app.add_typer(retention_app, name="retention")
retention_policy_app = typer.Typer(no_args_is_help=True, help="Retention policies (also managed through the API).")
retention_app.add_typer(retention_policy_app, name="policy")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("archivist")

DEMO_DATA = Path(__file__).with_name("demo_data")


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as error:
        _fail(f"invalid settings: {settings_problems(error)}")


def settings_problems(error: ValidationError) -> str:
    """Each problem as ``ARCHIVIST_NAME (name in the TOML file): what is wrong``; never the
    value, which may be a secret."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in problem["loc"])
        problems.append(f"{env_name(where)} ({where}): {problem['msg']}" if where else problem["msg"])
    return "; ".join(problems)


def _fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(code)


def _configure_logging(verbose: bool) -> None:
    """Text or JSON lines (``ARCHIVIST_LOG_FORMAT``) for every command. Settings that do not
    validate leave text logging on; the command then reports them when it reads its settings."""
    try:
        log_format = get_settings().log_format
    except ValidationError:
        log_format = "text"
    configure_logging(logging.INFO if verbose else logging.WARNING, log_format)


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False) -> None:
    _configure_logging(verbose)


@app.command()
def schema() -> None:
    """Print the JSON Schema of the event contract."""
    print(json.dumps(event_json_schema(), indent=2, ensure_ascii=False))


SHOWN_PROBLEMS = 20


def _run_producer(items: Iterable[Event | Located | Rejected], what: str, *, progress_lines: bool = True) -> FeedReport:
    settings = _settings()
    sink = wiring.event_sink(settings)
    target = "RabbitMQ" if settings.broker_url else "staging"

    def progress(report: FeedReport) -> None:
        # Printed only after the chunk is durable: a killed producer never over-reports.
        print(f"accepted {report.accepted} events into {target}", flush=True)

    try:
        report = feed(sink, items, chunk_size=settings.batch_size, on_progress=progress if progress_lines else None)
    finally:
        sink.close()
    for label, problems in (("rejected", report.rejected), ("conflict", report.conflicts)):
        for problem in problems[:SHOWN_PROBLEMS]:
            err.print(f"{label} {problem.where}: {problem.reason}", highlight=False, markup=False)
        if len(problems) > SHOWN_PROBLEMS:
            err.print(f"... and {len(problems) - SHOWN_PROBLEMS} more {label}", highlight=False, markup=False)
    conflicts = f", {len(report.conflicts)} conflicts" if report.conflicts else ""
    out.print(f"{what}: {report.accepted} events accepted, {len(report.rejected)} rejected{conflicts}", highlight=False)
    if report.rejected or report.conflicts:
        raise typer.Exit(1)
    return report


@app.command()
def publish(
    files: Annotated[list[Path], typer.Argument(help="JSON Lines files, one event per line.")],
) -> None:
    """Validate and publish events (to RabbitMQ, or straight into staging when no broker is set).

    Bad lines are reported as FILE:LINE with the reason and the command exits 1; so does an
    event whose event_id is recorded already with other content (a conflict). With a broker,
    conflicts are found by the consumer and dead-lettered with the reason."""
    _require_files(files)

    def items() -> Iterator[Located | Rejected]:
        for path in files:
            yield from read_jsonl(path)

    _run_producer(items(), "publish")


@import_app.command("irc")
def import_irc(
    files: Annotated[list[Path], typer.Argument(help="IRC logs (*.raw.txt, date in the file name).")],
) -> None:
    """Import IRC channel logs: messages, actions, joins, leaves, quits and nick changes.

    Lines of no known kind are counted and reported; lines that cannot be imported (an
    impossible time, an invalid event, a line over the limit) are rejected by FILE:LINE, and a
    file with nothing to import is an error."""
    from ingest.irc import IrcImportStats, date_from_log_name

    _require_files(files)
    for path in files:
        try:
            date_from_log_name(path.name)
        except ValueError as error:
            _fail(str(error))
    stats = {path: IrcImportStats() for path in files}
    try:
        _run_producer(_irc_items(files, stats), "import irc")
    finally:
        _report_irc_lines(stats)


def _irc_items(files: Iterable[Path], stats: dict[Path, IrcImportStats]) -> Iterator[Located | Rejected]:
    from ingest.irc import read_irc_items

    for path in files:
        try:
            yield from read_irc_items(path, stats[path])
        except OSError as error:
            yield Rejected(path.name, f"cannot read the file: {error.strerror or error}")
            continue
        if stats[path].events == 0 and stats[path].rejected == 0:
            found = f"{stats[path].skipped} lines of no known kind" if stats[path].skipped else "the file is empty"
            yield Rejected(path.name, f"nothing to import ({found}): is this an IRC log?")


def _irc_events(files: Iterable[Path]) -> Iterator[Event]:
    from ingest.irc import read_irc_file

    for path in files:
        yield from read_irc_file(path)


def _report_irc_lines(stats: dict[Path, IrcImportStats]) -> None:
    for path, counted in stats.items():
        if counted.skipped:
            lines = ", ".join(str(n) for n in counted.first_skipped)
            more = ", ..." if counted.skipped > len(counted.first_skipped) else ""
            err.print(
                f"skipped {counted.skipped} lines of {path.name} of no known kind (not a message, action, notice, "
                f"join, leave, quit or rename): lines {lines}{more}",
                highlight=False,
                markup=False,
            )


@app.command()
def simulate(
    events: Annotated[int, typer.Option(min=0, help="How many events to generate.")] = 10_000,
    rooms: Annotated[int, typer.Option(min=1, help="Rooms (plus some IM conversations).")] = 10,
    users: Annotated[int, typer.Option(min=2, help="People taking part.")] = 50,
    seed: Annotated[int, typer.Option(help="Same seed, same events.")] = 0,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write JSON Lines here instead of publishing.")
    ] = None,
) -> None:
    """Generate realistic synthetic traffic (joins, posts, mentions, reads, edits, files, ...)."""
    from ingest.producer import write_jsonl
    from ingest.simulate import simulate_events

    generated = simulate_events(events=events, rooms=rooms, users=users, seed=seed)
    if output is not None:
        count = write_jsonl(generated, output)
        out.print(f"wrote {count} events to {output}", highlight=False)
        return
    _run_producer(generated, "simulate")


def _require_files(files: list[Path]) -> None:
    problems = []
    for path in files:
        if path.is_dir():
            problems.append(f"{path} is a directory, not a file")
        elif not path.exists():
            problems.append(f"no such file: {path}")
        elif not path.is_file():
            problems.append(f"{path} is not a regular file")
    if problems:
        _fail("; ".join(problems))


@app.command()
def consume(
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Exit once the queue has stayed empty for a moment.")
    ] = False,
    idle_seconds: Annotated[float, typer.Option(min=0.1, help="What 'a moment' is, in seconds.")] = 2.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve Prometheus metrics on this port (off when not given)."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address for the metrics port (0.0.0.0 for a scraper on another host).")
    ] = "127.0.0.1",
) -> None:
    """Move events from RabbitMQ into staging (commit, then ack) until stopped by SIGTERM/SIGINT."""
    settings = _settings()
    if not settings.broker_url:
        _fail("consume needs ARCHIVIST_BROKER_URL; without a broker, producers write to staging directly")
    _serve_metrics(metrics_port, metrics_host)
    consumer = StagingConsumer(
        settings.broker_url.get_secret_value(),
        wiring.staging_store(settings),
        wiring.topology(settings),
        ConsumerOptions(
            prefetch=settings.prefetch,
            batch_size=settings.batch_size,
            batch_timeout=settings.batch_timeout,
            idle_timeout=idle_seconds if until_idle else None,
        ),
        ssl=broker_ssl_options(settings),
    )

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current batch", signal.Signals(signum).name)
        consumer.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    stats: ConsumeStats = consumer.run()
    out.print(
        f"consumed {stats.received} messages: {stats.staged} staged, {stats.duplicates} duplicates, "
        f"{stats.dead_lettered} dead-lettered, {stats.reconnects} reconnects",
        highlight=False,
    )


@app.command()
def process(
    interval: Annotated[
        float | None, typer.Option(min=0.05, help="Seconds between polls when nothing is due (default: settings).")
    ] = None,
    until_empty: Annotated[bool, typer.Option("--until-empty", help="Exit once no staged event is due.")] = False,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve Prometheus metrics on this port (off when not given)."),
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="Address for the metrics port (0.0.0.0 for a scraper on another host).")
    ] = "127.0.0.1",
) -> None:
    """Deliver staged events to every configured adapter; delete each once all have it."""
    from adapters.processor import BatchOutcome, tune_gc_for_batches

    settings = _settings()
    _serve_metrics(metrics_port, metrics_host)
    store = wiring.staging_store(settings)
    built = _processor_adapters(settings, store)
    processor = wiring.processor(settings, store, built)

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current batch", signal.Signals(signum).name)
        processor.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tune_gc_for_batches()
    try:
        total: BatchOutcome = processor.run(interval=interval or settings.process_interval, until_empty=until_empty)
    finally:
        for adapter in built:
            adapter.close()
    counts = store.counts()
    out.print(
        f"processed {total.claimed} events with {', '.join(a.name for a in built)}: {total.completed} delivered "
        f"everywhere, {total.failed} failed (will retry), {total.parked} parked; "
        f"staging now holds {counts.staged} (+{counts.parked} parked)",
        highlight=False,
    )


def _processor_adapters(settings: Settings, store: StagingStore) -> list[Adapter]:
    """A processor's adapters; a bad adapter setting or a worker that cannot start is a clear
    error (exit 2), never a traceback."""
    from adapters.worker_process import WorkerStartFailed

    try:
        return wiring.processor_adapters(settings, store)
    except (ValueError, WorkerStartFailed) as error:  # UnknownAdapter is a ValueError
        _fail(str(error))


def _serve_metrics(port: int | None, host: str) -> None:
    """The worker's Prometheus metrics (events consumed, staged, delivered per adapter, parked,
    batch latency) on their own port, for a scraper; a port in use is a clear error."""
    if port is None:
        return
    from prometheus_client import start_http_server

    try:
        start_http_server(port, addr=host)
    except OSError as error:
        _fail(f"cannot serve metrics on {host}:{port}: {error.strerror or error}")


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy handling: X-Forwarded-* only from ``trusted_proxies``, and none at all when
    it is empty (uvicorn would otherwise trust 127.0.0.1, and anything local could pose as any
    client to the sign-in limiter)."""
    if not settings.trusted_proxies:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": settings.trusted_proxies}


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
) -> None:
    """Run the search API (OpenAPI at /docs) with uvicorn."""
    import uvicorn

    settings = _settings()
    uvicorn.run(
        wiring.api_app(settings),
        host=host,
        port=port,
        log_level="info",
        log_config=None,  # uvicorn's loggers propagate to ours: text or JSON as configured
        **proxy_options(settings),
    )


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
) -> None:
    """Walk the archive's and the audit log's hash chains and the case ledger, and check the
    membership intervals against the chain; name the first row (and column) that does not hold."""
    from archive.audit import verify_audit
    from archive.membership_check import verify_memberships
    from archive.record import verify_archive
    from archivist import checkpoints
    from cases.ledger import verify_ledger

    engine = wiring.staging_store(_settings()).engine
    broken = False
    if checkpoint is not None:
        try:
            problems = checkpoints.compare(engine, checkpoints.read_checkpoint(checkpoint))
        except checkpoints.BadCheckpoint as error:
            _fail(str(error))
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
    if broken:
        raise typer.Exit(1)
    if write_checkpoint is not None:
        for name, head in checkpoints.write_checkpoint(engine, write_checkpoint).items():
            where = "empty" if head is None else f"row {head.seq} of {head.rows}, chain hash {head.chain_hash}"
            out.print(f"checkpoint {write_checkpoint}: {name} head {where}", highlight=False)


@app.command()
def reindex() -> None:
    """Rebuild the embedded search index from the archive (stop the processors first)."""
    from adapters.index_adapter import IndexLocked, ReindexFailed
    from adapters.index_adapter import reindex as rebuild_index
    from archive.record import archived_events

    settings = _settings()
    engine = wiring.staging_store(settings).engine
    try:
        documents = rebuild_index(settings.data_dir / "index", archived_events(engine))
    except (IndexLocked, ReindexFailed) as error:
        _fail(str(error))
    out.print(f"index rebuilt from the archive: {documents} documents", highlight=False)


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="compliance_officer, legal, security_admin, auditor, ingest or admin.")],
    label: Annotated[str, typer.Option(help="Who or what the token is for (shown in the audit log).")] = "",
) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    from archive.principals import create_token

    engine = wiring.staging_store(_settings()).engine
    try:
        token = create_token(engine, role, label or role)
    except ValueError as error:
        _fail(str(error))
    token_id = token.split("_")[1]
    _audit_cli(engine, "token_create", {"token_id": token_id, "role": role, "label": label or role})
    print(token)


@token_app.command("list")
def token_list(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Every token issued: id, role, label, when created and revoked (secrets are never stored)."""
    from archive.principals import list_tokens

    tokens = list_tokens(wiring.staging_store(_settings()).engine)
    if as_json:
        rows = [
            {
                "token_id": t.token_id,
                "role": t.role,
                "label": t.label,
                "created_at": t.created_at.isoformat(),
                "revoked_at": t.revoked_at.isoformat() if t.revoked_at else None,
            }
            for t in tokens
        ]
        print(json.dumps(rows, indent=2))
        return
    table = Table("token id", "role", "label", "created", "revoked")
    for t in tokens:
        table.add_row(t.token_id, t.role, t.label, f"{t.created_at:%Y-%m-%d %H:%M}", f"{t.revoked_at or ''}")
    out.print(table)


@token_app.command("revoke")
def token_revoke(token_id: Annotated[str, typer.Argument(help="The id shown by `archivist token list`.")]) -> None:
    """Revoke a token at once; it authenticates nobody from then on."""
    from archive.principals import revoke_token

    engine = wiring.staging_store(_settings()).engine
    revoked = revoke_token(engine, token_id)
    if revoked is None:
        _fail(f"no token {token_id!r}; `archivist token list` shows them", code=1)
    _audit_cli(engine, "token_revoke", {"token_id": token_id, "role": revoked.role, "label": revoked.label})
    out.print(f"token {token_id} ({revoked.role}, {revoked.label}) revoked at {revoked.revoked_at}", highlight=False)


@directory_app.command("import")
def directory_import(
    files: Annotated[list[Path], typer.Argument(help="Users and groups: .csv (by header), .json or .jsonl files.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Remove users and groups that the files leave out.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count, change nothing.")] = False,
) -> None:
    """Create or update users and groups from directory files, all in one transaction."""
    import hashlib

    from rich.markup import escape

    from policies.directory_import import DirectoryFileError, parse_directory
    from policies.store import PolicyConflict, PolicyStore

    contents: list[tuple[str, bytes]] = []
    for path in files:
        try:
            contents.append((path.name, path.read_bytes()))
        except OSError as error:
            _fail(escape(f"cannot read {path}: {error.strerror or error}"))
    try:
        directory = parse_directory(contents)
    except DirectoryFileError as error:
        _fail(escape(f"nothing imported:\n{error}"))
    engine = wiring.staging_store(_settings()).engine
    try:
        counts = PolicyStore(engine).import_directory(directory, replace=replace, dry_run=dry_run)
    except PolicyConflict as error:
        _fail(escape(f"nothing imported: {error}"))
    c = counts
    out.print(
        f"users: {c.users_created} created, {c.users_updated} updated, {c.users_unchanged} unchanged, "
        f"{c.users_removed} removed\ngroups: {c.groups_created} created, {c.groups_updated} updated, "
        f"{c.groups_unchanged} unchanged, {c.groups_removed} removed",
        highlight=False,
    )
    if dry_run:
        out.print("dry run: nothing was changed", highlight=False)
        return
    files_audited = [{"name": name, "sha256": hashlib.sha256(data).hexdigest()} for name, data in contents]
    _audit_cli(engine, "directory_import", {**counts.as_dict(), "replace": replace, "files": files_audited})


def _audit_cli(engine: Engine, action: str, details: dict[str, object]) -> None:
    """Administrative commands are audited like API calls, as the operator who ran them."""
    import getpass

    from archive.audit import record
    from archive.principals import Principal

    record(engine, Principal("cli", f"command line ({getpass.getuser()})", "admin"), action, dict(details))


@retention_app.command("run")
def retention_run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be disposed and held; change nothing.")
    ] = False,
) -> None:
    """Dispose of archived events past their retention period that no legal hold preserves: from
    the archive (tombstones that keep the chain verifiable) and every adapter that can delete."""
    import getpass

    from adapters.base import SupportsDelete
    from adapters.registry import UnknownAdapter
    from archive.principals import Principal
    from cases.holds import HoldUnavailable, search_resolver
    from cases.retention import RetentionFailed, run_retention
    from search.backends import ElasticsearchSearchBackend, SearchBackend, TantivySearchBackend

    settings = _settings()
    store = wiring.staging_store(settings)
    backend: SearchBackend = TantivySearchBackend(settings.data_dir / "index")
    resolve = search_resolver(store.engine, backend)
    if not settings.elasticsearch_url and not (settings.data_dir / "index" / "meta.json").is_file():

        def resolve(_query: str) -> list[tuple[str, str]]:
            raise FileNotFoundError(f"no search index at {settings.data_dir / 'index'}")

    if settings.elasticsearch_url:
        backend = ElasticsearchSearchBackend(wiring.elasticsearch_client(settings))
        resolve = search_resolver(store.engine, backend)
    try:
        built = [] if dry_run else wiring.adapters(settings, store)
    except (UnknownAdapter, ValueError) as error:
        _fail(str(error))
    deleting = [adapter for adapter in built if isinstance(adapter, SupportsDelete)]
    operator = Principal("cli", f"command line ({getpass.getuser()})", "admin")
    try:
        report = run_retention(
            store.engine,
            operator,
            dry_run=dry_run,
            adapters=deleting,
            resolve=resolve,
        )
    except (HoldUnavailable, RetentionFailed) as error:
        _fail(str(error), code=1)
    finally:
        for adapter in built:
            adapter.close()
    table = Table("policy", "disposed" if not dry_run else "would dispose", "held", "kept", "oldest due", "newest due")
    for label, tally in sorted(report.by_policy.items()):
        oldest = f"{tally.oldest:%Y-%m-%d}" if tally.oldest else ""
        newest = f"{tally.newest:%Y-%m-%d}" if tally.newest else ""
        table.add_row(label, str(tally.disposed), str(tally.held), str(tally.kept), oldest, newest)
    out.print(table)
    verb = "would dispose of" if dry_run else "disposed of"
    out.print(
        f"retention run {report.run_id}: {verb} {report.disposed} events, {report.held} held by legal holds, "
        f"{report.kept} kept by policy" + ("; dry run: nothing was changed" if dry_run else ""),
        highlight=False,
    )


@retention_policy_app.command("set")
def retention_policy_set(
    keep_days: Annotated[
        int | None, typer.Option("--keep-days", min=1, help="Days to keep events; leave out to keep forever.")
    ] = None,
    room: Annotated[str | None, typer.Option(help="The room the policy is for.")] = None,
    group: Annotated[str | None, typer.Option(help="The directory group the policy is for.")] = None,
) -> None:
    """Set the default retention policy, or a room's or a group's (audited like the API's)."""
    from pydantic import ValidationError as SpecError

    from cases.model import RetentionPolicySpec
    from cases.scopes import unknown_scope
    from cases.store import RetentionStore

    if room is not None and group is not None:
        _fail("a policy is for a room or for a group, not both")
    kind = "room" if room is not None else "group" if group is not None else "default"
    try:
        spec = RetentionPolicySpec.model_validate(
            {"scope_kind": kind, "scope_id": room or group, "keep_days": keep_days}
        )
    except SpecError as error:
        _fail(f"invalid policy: {error}")
    engine = wiring.staging_store(_settings()).engine
    problem = unknown_scope(engine, spec)
    if problem is not None:
        _fail(problem)
    before, after = RetentionStore(engine).set_policy(spec, "command line")
    _audit_cli(
        engine,
        "retention_policy_set",
        {"before": before.model_dump(mode="json") if before else None, "after": after.model_dump(mode="json")},
    )
    kept = "forever" if after.keep_days is None else f"{after.keep_days} days"
    out.print(f"retention policy {after.label}: keep {kept}", highlight=False)


@app.command("retry-parked")
def retry_parked_command() -> None:
    """Put parked events back in line for delivery (their attempt counts start again)."""
    from ingest.staging_claims import retry_parked

    count = retry_parked(wiring.staging_store(_settings()).engine)
    out.print(f"{count} parked events will be retried", highlight=False)


def _status_figures(settings: Settings) -> dict[str, int | None]:
    counts = wiring.staging_store(settings).counts()
    figures: dict[str, int | None] = {
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
    return figures


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")] = False,
) -> None:
    """Queue depth, dead letters, staged and parked events (queue figures are null without a broker)."""
    settings = _settings()
    from kombu.exceptions import OperationalError as BrokerUnreachable

    try:
        figures = _status_figures(settings)
    except (OSError, BrokerUnreachable) as error:
        _fail(f"cannot reach the broker at {redact_url(settings.broker_url)}: {error}")
    if as_json:
        print(json.dumps(figures))
        return
    table = Table("what", "count", title="Archivist pipeline")
    for name, value in figures.items():
        table.add_row(name.replace("_", " "), "n/a (no broker)" if value is None else str(value))
    out.print(table)


@app.command()
def demo(
    synthetic_events: Annotated[int, typer.Option(min=0, help="Synthetic events beside the IRC logs.")] = 20_000,
    serve_api: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Keep running: the search API plus the processor.")
    ] = True,
    host: Annotated[str, typer.Option(help="Address the API listens on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port the API listens on.")] = 8000,
) -> None:
    """Load the demo data (real IRC logs plus synthetic traffic), run it through the pipeline,
    then serve the search API with a processor delivering whatever arrives meanwhile."""
    from archive.principals import create_token
    from archive.record import archived_count
    from ingest.simulate import simulate_events

    settings = _settings()
    if settings.broker_url or settings.database_url:
        _fail("demo runs on the embedded default: unset ARCHIVIST_BROKER_URL and ARCHIVIST_DATABASE_URL")
    logs = sorted((DEMO_DATA / "ubuntu-irc").glob("*.raw.txt"))
    out.print(f"Loading {len(logs)} real #ubuntu IRC logs (CC BY 4.0, see {DEMO_DATA / 'ubuntu-irc'})")
    _run_producer(_irc_events(logs), "demo IRC logs", progress_lines=False)
    traffic = simulate_events(events=synthetic_events, rooms=12, users=80, seed=2026)
    _run_producer(traffic, "demo synthetic traffic", progress_lines=False)
    out.print(f"Delivering to {settings.adapters} ...")
    process(interval=0.2, until_empty=True)
    store = wiring.staging_store(settings)
    out.print(f"Archive: {archived_count(store.engine)} events in {settings.resolved_database_url}", highlight=False)
    data = settings.data_dir.resolve()
    out.print(f"Search index: {data / 'index'}; XML files: {data / 'xml'}", highlight=False)
    if not serve_api:
        return
    token = create_token(store.engine, "admin", "demo")
    base = f"http://{host}:{port}"
    out.print(
        f"\nWeb pages: {base}/ (sign in with the token below). Search API: {base}/docs (OpenAPI).\n"
        f"Demo token (role admin, shown once):\n  {token}\n"
        f"Try:\n  curl -s -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        f"""-d '{{"query": "wireless NEAR/5 driver"}}' {base}/api/v1/search\n"""
        "Ctrl-C stops.",
        highlight=False,
        markup=False,
    )
    _serve_with_processor(settings, store, host, port)


def _serve_with_processor(settings: Settings, store: StagingStore, host: str, port: int) -> None:
    """uvicorn in this thread (it owns the signals), the processor in another, stopped after."""
    import threading

    import uvicorn

    built = _processor_adapters(settings, store)
    processor = wiring.processor(settings, store, built)
    worker = threading.Thread(
        target=processor.run, kwargs={"interval": settings.process_interval}, name="processor", daemon=True
    )
    worker.start()
    try:
        uvicorn.run(
            wiring.api_app(settings),
            host=host,
            port=port,
            log_level="warning",
            log_config=None,
            **proxy_options(settings),
        )
    finally:
        processor.stop()
        worker.join(timeout=60)
        for adapter in built:
            adapter.close()


def main() -> None:
    try:
        app()
    except DBAPIError as error:
        err.print(f"error: cannot use the database: {error.orig}", highlight=False, markup=False)
        sys.exit(2)
    except OSError as error:
        err.print(f"error: {error}", highlight=False, markup=False)
        sys.exit(2)
