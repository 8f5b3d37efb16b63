"""``archivist supervision``: communication supervision (issue 22; docs/supervision.md)."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from archivist import wiring
from archivist.cli.common import audit_cli, fail, load_settings, log, out
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
