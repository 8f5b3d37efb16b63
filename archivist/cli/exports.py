"""``archivist export``: every hit of a query in review formats, one sealed zip, run on the spot
(the API runs the same export in the background). With ``--case`` it is a production of the
case: numbered on from the case's last production, recorded in its production log."""

from __future__ import annotations

from typing import Annotated

import typer
from pydantic import ValidationError

from archivist import wiring
from archivist.cli.common import cli_operator, fail, load_settings, out

app = typer.Typer()


def _problems(error: ValidationError) -> str:
    return "; ".join(
        (f"{'.'.join(map(str, problem['loc']))}: " if problem["loc"] else "") + str(problem["msg"])
        for problem in error.errors(include_url=False, include_input=False)
    )


@app.command("export")
def export(
    formats: Annotated[
        list[str], typer.Option("--format", "-f", help="A format (repeat for more): jsonl, csv, edrm, pdf, ...")
    ],
    query: Annotated[
        str | None, typer.Argument(help="A search query: every hit is exported (none with --review-set).")
    ] = None,
    case: Annotated[str | None, typer.Option("--case", help="The case id: the export is a production of it.")] = None,
    time_zone: Annotated[
        str | None, typer.Option("--time-zone", help="IANA zone (default: the case's, else UTC).")
    ] = None,
    unit: Annotated[
        str | None,
        typer.Option("--unit", help="One document: conversation (a room-day, the default), message or thread."),
    ] = None,
    bates_prefix: Annotated[
        str | None,
        typer.Option("--bates-prefix", help="Control number prefix (default: the case's last, else from its id)."),
    ] = None,
    bates_start: Annotated[
        int | None,
        typer.Option("--bates-start", help="First control number (default: the case's next free one)."),
    ] = None,
    recipients: Annotated[
        list[str] | None, typer.Option("--recipient", help="Whom the production is for (repeat for more).")
    ] = None,
    review_set: Annotated[
        str | None,
        typer.Option("--review-set", help="Produce this review set of the case (its documents, unit and zone)."),
    ] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="Only the review set's documents with this tag (repeat).")
    ] = None,
) -> None:
    """Export every hit of QUERY; prints the zip, its SHA-256 and the control numbers it used."""
    # Imported here: the export stack (search backends, formats) costs every other command nothing.
    from cases.productions import NumbersUsed, ProductionRunning
    from exports.jobs import ExportJobs
    from exports.service import ExportOrder, audit_finished, start_export
    from search.service import memberships_in
    from search_api.export_jobs import review_loader
    from search_api.refusals import REFUSALS

    try:
        order = ExportOrder.model_validate(
            {
                "query": query,
                "formats": formats,
                "case_id": case,
                "time_zone": time_zone,
                **({"unit": unit} if unit is not None else {}),  # a review set's production: the set's
                "bates_prefix": bates_prefix,
                "bates_start": bates_start,
                "recipients": recipients or [],
                "review_set_id": review_set,
                "tags": tags or [],
            }
        )
    except ValidationError as error:
        fail(_problems(error))
    settings = load_settings()
    engine = wiring.staging_store(settings).engine
    jobs = ExportJobs(
        engine,
        settings.data_dir / "exports",
        lambda: wiring.search_backend(settings),
        memberships=memberships_in(engine),
        on_finished=lambda job, result, error: audit_finished(engine, job, result, error),
        file_store=wiring.file_store(settings),
        sweep=False,  # a server's running exports are its own
        review=review_loader(engine),
    )
    try:
        job = start_export(engine, jobs, cli_operator(), order, wait=True)
    except REFUSALS as refusal:
        # The case's state refused it (1); the order itself was wrong (2).
        fail(str(refusal), code=1 if isinstance(refusal, NumbersUsed | ProductionRunning) else 2)
    finally:
        jobs.shutdown()
    if job["status"] != "done":
        fail(f"export {job['id']} failed: {job['error']}", code=1)
    numbered = (job["manifest"] or {}).get("production") or {}
    out.print(f"export {job['id']}: {job['file_path']}", highlight=False)
    out.print(f"sha256 {job['file_sha256']} ({job['file_size']} bytes)", highlight=False)
    if numbered.get("first_control"):
        out.print(
            f"{numbered['documents']} documents ({numbered['unit']}): {numbered['first_control']} to "
            f"{numbered['last_control']}"
            + (f", produced to {', '.join(order.recipients)}" if order.recipients else ""),
            highlight=False,
        )
    else:
        out.print("no documents were numbered", highlight=False)
