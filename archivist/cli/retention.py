"""``archivist retention``: dispose of what no policy or legal hold keeps, and the policies."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError
from rich.table import Table

from adapters.base import SupportsDelete
from adapters.registry import UnknownAdapter
from archivist import wiring
from archivist.cli.common import audit_cli, cli_operator, err, fail, load_settings, out
from cases.model import RetentionPolicySpec
from cases.scopes import unknown_scope
from cases.store import RetentionStore

app = typer.Typer(no_args_is_help=True, help="Retention: dispose of what no policy or legal hold keeps.")
policy_app = typer.Typer(no_args_is_help=True, help="Retention policies (also managed through the API).")
app.add_typer(policy_app, name="policy")


@app.command("run")
def retention_run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be disposed and held; change nothing.")
    ] = False,
) -> None:
    """Dispose of archived events past their retention period that no legal hold preserves: from
    the archive (tombstones that keep the chain verifiable) and every adapter that can delete."""
    # Imported here, not at the top: cases.holds brings search.backends and with it the
    # search engines' clients (0.3 s of CPU), which every other command would pay at start-up.
    from cases.holds import HoldUnavailable, search_resolver
    from cases.retention import RetentionFailed, run_retention

    settings = load_settings()
    store = wiring.staging_store(settings)
    resolve = search_resolver(store.engine, wiring.search_backend(settings))
    if settings.search_engine is None and not (settings.data_dir / "index" / "meta.json").is_file():

        def resolve(_query: str) -> list[tuple[str, str]]:
            raise FileNotFoundError(f"no search index at {settings.data_dir / 'index'}")

    try:
        built = [] if dry_run else wiring.adapters(settings, store)
    except (UnknownAdapter, ValueError) as error:
        fail(str(error))
    deleting = [adapter for adapter in built if isinstance(adapter, SupportsDelete)]
    try:
        report = run_retention(
            store.engine,
            cli_operator(),
            dry_run=dry_run,
            adapters=deleting,
            resolve=resolve,
            file_store=None if dry_run else wiring.file_store(settings),
        )
    except (HoldUnavailable, RetentionFailed) as error:
        fail(str(error), code=1)
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
    if not dry_run and (report.files_deleted or report.files_pending):
        out.print(
            f"files: {len(report.files_deleted)} deleted from the {wiring.file_store(settings).name} store "
            "(no remaining event refers to them)",
            highlight=False,
        )
    for sha256, problem in sorted(report.file_errors.items()):
        err.print(f"file {sha256} NOT deleted (retried by the next run): {problem}", highlight=False, markup=False)


@policy_app.command("set")
def retention_policy_set(
    keep_days: Annotated[
        int | None, typer.Option("--keep-days", min=1, help="Days to keep events; leave out to keep forever.")
    ] = None,
    room: Annotated[str | None, typer.Option(help="The room the policy is for.")] = None,
    group: Annotated[str | None, typer.Option(help="The directory group the policy is for.")] = None,
) -> None:
    """Set the default retention policy, or a room's or a group's (audited like the API's)."""
    if room is not None and group is not None:
        fail("a policy is for a room or for a group, not both")
    kind = "room" if room is not None else "group" if group is not None else "default"
    try:
        spec = RetentionPolicySpec.model_validate(
            {"scope_kind": kind, "scope_id": room or group, "keep_days": keep_days}
        )
    except ValidationError as error:
        fail(f"invalid policy: {error}")
    engine = wiring.staging_store(load_settings()).engine
    problem = unknown_scope(engine, spec)
    if problem is not None:
        fail(problem)
    before, after = RetentionStore(engine).set_policy(spec, "command line")
    audit_cli(
        engine,
        "retention_policy_set",
        {"before": before.model_dump(mode="json") if before else None, "after": after.model_dump(mode="json")},
    )
    kept = "forever" if after.keep_days is None else f"{after.keep_days} days"
    out.print(f"retention policy {after.label}: keep {kept}", highlight=False)
