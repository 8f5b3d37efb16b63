"""``archivist supervision``: communication supervision (issue 22; docs/supervision.md)."""

from __future__ import annotations

import json
import signal
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from pydantic import ValidationError

from archivist import wiring
from archivist.cli.common import audit_cli, fail, load_settings, log, out
from ingest.db import read_only
from supervision.backtest import DRAFT_ID, BacktestReport, backtest
from supervision.detect import PolicyCompileError
from supervision.model import PolicySpec
from supervision.policy_store import PolicyNotFound, get_policy
from supervision.webhooks import NotifyReport, WebhookConfigError, WebhookDeliverer

app = typer.Typer(no_args_is_help=True, help="Supervision: lexicon policies, review queues and their notices.")


@app.command()
def notify(
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep delivering as escalations come, until SIGTERM or SIGINT.")
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.05, help="With --follow: seconds between looks when nothing is due.")
    ] = 5.0,
    limit: Annotated[int, typer.Option(min=1, help="Deliveries attempted per round.")] = 100,
    requeue_given_up: Annotated[
        bool,
        typer.Option(
            "--requeue-given-up", help="First give the notices given up new attempts (once the receiver is fixed)."
        ),
    ] = False,
) -> None:
    """Send the due escalation notices to ARCHIVIST_SUPERVISION_WEBHOOK_URL, signed, and record
    each attempt's outcome (docs/supervision.md, "Escalation webhooks"). Several notifiers may
    run at once: each notice is claimed by one. Exit code 1 when a notice was given up."""
    settings = load_settings()
    try:
        config = wiring.supervision_webhook(settings)
    except WebhookConfigError as error:
        fail(str(error))
    if config is None:
        fail("no webhook configured: set ARCHIVIST_SUPERVISION_WEBHOOK_URL and ARCHIVIST_SUPERVISION_WEBHOOK_SECRET")
    engine = wiring.staging_store(settings).engine
    deliverer = WebhookDeliverer(engine, config)
    if requeue_given_up:
        requeued = deliverer.requeue_given_up()
        audit_cli(engine, "supervision_webhook_requeue", {"deliveries": requeued})
        out.print(f"{len(requeued)} given-up notice{'s' if len(requeued) != 1 else ''} requeued", highlight=False)
    if follow:
        stopping = threading.Event()

        def stop(signum: int, _frame: FrameType | None) -> None:
            log.info("received %s: stopping after the current delivery", signal.Signals(signum).name)
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        report = deliverer.follow(interval, sleep=stopping.wait, should_stop=stopping.is_set, limit=limit)
    else:
        report = deliverer.deliver_due(limit)
    _print(report)
    if report.count("gave_up"):
        raise typer.Exit(1)


def _print(report: NotifyReport) -> None:
    if not report.attempts:
        out.print("escalation webhooks: nothing due", highlight=False)
        return
    out.print(
        f"escalation webhooks: {report.count('delivered')} delivered, {report.count('retry')} to retry, "
        f"{report.count('gave_up')} given up",
        highlight=False,
    )
    for attempt in report.attempts:
        if attempt.outcome != "delivered":
            out.print(f"  {attempt.delivery_id} (attempt {attempt.attempt}): {attempt.error}", highlight=False)


def _moment(value: str, option: str, *, end: bool) -> datetime:
    """A day (``2026-11-02``: its midnight UTC; for ``--to`` the day is included) or an RFC 3339
    time with a zone."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1 if end else 0), datetime.min.time(), UTC)
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        fail(f"{option}: {value!r} is not a date (2026-11-02) or a time with a zone (2026-11-02T09:00:00Z)")
    if moment.tzinfo is None:
        fail(f"{option}: {value!r} has no zone; add Z or an offset such as +01:00")
    return moment.astimezone(UTC)


def _spec_from_file(path: Path) -> PolicySpec:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        fail(f"--policy-file: cannot read {path}: {error}")
    try:
        data = json.loads(text)
    except ValueError as error:
        fail(f"--policy-file: {path} is not JSON: {error}")
    if isinstance(data, dict) and isinstance(data.get("spec"), dict):
        data = data["spec"]  # a policy as the API shows it: its spec
    try:
        return PolicySpec.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc']) or 'policy'}: {problem['msg']}"
            for problem in error.errors(include_url=False, include_input=False)
        )
        fail(f"--policy-file: {path} is not a valid policy: {problems}")


@app.command("backtest")
def backtest_command(
    start: Annotated[str, typer.Option("--from", help="First day (UTC) or time of the period.")],
    end: Annotated[str, typer.Option("--to", help="Last day (UTC, included) or end time (excluded).")],
    policy_file: Annotated[
        Path | None, typer.Option("--policy-file", help="A draft policy: a PolicySpec as JSON.")
    ] = None,
    policy: Annotated[str | None, typer.Option("--policy", help="A saved policy's id (its current version).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The whole report as JSON.")] = False,
    samples: Annotated[int, typer.Option(min=0, max=1000, help="Sample items shown.")] = 5,
) -> None:
    """What a policy would have made of the messages archived in a period: items per day and
    per reviewer per day, in scope, matched, drawn, top terms and samples. Creates nothing."""
    if (policy_file is None) == (policy is None):
        fail("give one of --policy-file (a draft) or --policy (a saved policy's id)")
    first, last = _moment(start, "--from", end=False), _moment(end, "--to", end=True)
    if last <= first:
        fail(f"the period must end after it starts: --from {start} --to {end}")
    settings = load_settings()
    engine = wiring.staging_store(settings).engine
    policy_id = DRAFT_ID
    if policy is not None:
        try:
            with read_only(engine) as connection:
                spec = get_policy(connection, policy).spec
        except PolicyNotFound as error:
            fail(str(error))
        policy_id = policy
    else:
        assert policy_file is not None
        spec = _spec_from_file(policy_file)
    try:
        report = backtest(engine, spec, first, last, policy_id=policy_id, samples=samples)
    except PolicyCompileError as error:
        fail(str(error))
    audit_cli(
        engine,
        "supervision_backtest",
        {"policy": policy or f"draft {spec.name}", "from": first.isoformat(), "to": last.isoformat()},
    )
    if as_json:
        out.print_json(report.model_dump_json())
        return
    _show(report)


def _show(report: BacktestReport) -> None:
    out.print(
        f"Backtest of {report.policy_name!r}, {report.start.isoformat()} to {report.end.isoformat()}", highlight=False
    )
    out.print(
        f"{report.messages:,} posts and edits read; {report.in_scope:,} posts in scope, {report.matched:,} matched, "
        f"{report.sampled:,} drawn; {report.items:,} items in {report.seconds:.1f} s",
        highlight=False,
    )
    if report.sampling_interval is not None and report.observed_percent is not None:
        low, high = report.sampling_interval
        out.print(
            f"sampling: {report.sampling_percent:g}% asked, {report.observed_percent:.2f}% drawn "
            f"(95% interval {low:.2f}% to {high:.2f}%)",
            highlight=False,
        )
    if report.items_per_reviewer_per_day is not None:
        out.print(
            f"{report.items_per_reviewer_per_day:.1f} items per reviewer per day ({len(report.reviewers)} reviewers)",
            highlight=False,
        )
    for day in report.per_day:
        shared = f", {day.per_reviewer:.1f} per reviewer" if day.per_reviewer is not None else ""
        out.print(
            f"  {day.day.isoformat()}: {day.items:,} items ({day.matched:,} matched, {day.sampled:,} drawn){shared}",
            highlight=False,
        )
    if report.top_terms:
        out.print("top terms:", highlight=False)
        for term in report.top_terms:
            out.print(
                f"  {term.term_id}{f' ({term.label})' if term.label else ''}: {term.items:,} items, {term.hits:,} hits",
                highlight=False,
            )
    for sample in report.samples:
        where = ", ".join(f"{m.term_id} {m.field}[{m.start}:{m.end}]" for m in sample.matches) or "drawn"
        out.print(
            f"  {sample.sent_at.isoformat()} {sample.room_id} {sample.sender} {sample.message_id}: {where}",
            highlight=False,
        )
        out.print(f"    {sample.text[:300]!r}", highlight=False)
