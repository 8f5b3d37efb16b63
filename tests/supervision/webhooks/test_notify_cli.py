"""``archivist supervision notify``: once, or following the outbox until stopped."""

from __future__ import annotations

import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from tests.processes import archivist_env, start_archivist, wait_until
from tests.supervision.webhooks.helpers import SECRET, delivery, escalate
from tests.supervision.webhooks.receiver import Receiver, running

runner = CliRunner()


def now() -> datetime:
    return datetime.now(UTC)


def configure(monkeypatch: pytest.MonkeyPatch, url: str, secret: str = SECRET) -> None:
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_URL", url)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_SECRET", secret)
    get_settings.cache_clear()


def test_notify_without_a_webhook_says_what_to_set() -> None:
    result = runner.invoke(app, ["supervision", "notify"])
    assert result.exit_code == 2
    assert "ARCHIVIST_SUPERVISION_WEBHOOK_URL" in result.output
    assert "Traceback" not in result.output


def test_notify_with_a_bad_secret_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    configure(monkeypatch, "https://hooks.example.com/x", secret="short-secret")
    result = runner.invoke(app, ["supervision", "notify"])
    assert result.exit_code == 2
    assert "at least 32 characters" in result.output
    assert "short-secret" not in result.output
    assert "Traceback" not in result.output


def test_notify_delivers_what_is_due_once_and_reports_it(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = wiring.staging_store(get_settings()).engine
    delivered, refused = escalate(engine, now()), escalate(engine, now())
    with running(Receiver(SECRET, now, statuses=[200, 404])) as receiver:
        configure(monkeypatch, receiver.url)
        result = runner.invoke(app, ["supervision", "notify"])
        again = runner.invoke(app, ["supervision", "notify"])
    assert result.exit_code == 1, result.output  # one was given up
    assert "1 delivered, 0 to retry, 1 given up" in result.output
    assert again.exit_code == 0, again.output
    assert "nothing due" in again.output
    assert {one.delivery_id for one in receiver.received} == {delivered, refused}
    assert all(one.verified for one in receiver.received)
    states = {delivery(engine, one)["last_status"] for one in (delivered, refused)}
    assert states == {200, 404}


def test_notify_follow_delivers_as_escalations_come_until_sigterm(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = wiring.staging_store(get_settings()).engine
    first = escalate(engine, now())
    with running(Receiver(SECRET, now)) as receiver:
        env = archivist_env(
            data_dir=str(get_settings().data_dir),
            supervision_webhook_url=receiver.url,
            supervision_webhook_secret=SECRET,
        )
        process = start_archivist(["supervision", "notify", "--follow", "--interval", "0.1"], env)
        try:
            wait_until(lambda: len(receiver.received) == 1, timeout=60, what="the first notice")
            second = escalate(engine, now())
            wait_until(lambda: len(receiver.received) == 2, timeout=60, what="the second notice")
        finally:
            process.send_signal(signal.SIGTERM)
            stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "2 delivered, 0 to retry, 0 given up" in stdout
    assert [one.delivery_id for one in receiver.received] == [first, second]
    assert delivery(engine, second)["delivered_at"] is not None


def test_notify_can_requeue_given_up_notices_and_audits_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from archive.app_schema import audit_log

    engine = wiring.staging_store(get_settings()).engine
    notice = escalate(engine, now())
    with running(Receiver(SECRET, now, statuses=[410, 200])) as receiver:
        configure(monkeypatch, receiver.url)
        assert runner.invoke(app, ["supervision", "notify"]).exit_code == 1
        result = runner.invoke(app, ["supervision", "notify", "--requeue-given-up"])
    assert result.exit_code == 0, result.output
    assert "1 given-up notice requeued" in result.output
    assert "1 delivered, 0 to retry, 0 given up" in result.output
    assert delivery(engine, notice)["last_status"] == 200
    with engine.connect() as connection:
        actions = [row.action for row in connection.execute(audit_log.select())]
    assert "supervision_webhook_requeue" in actions


def test_notify_with_a_ca_file_that_is_not_a_certificate_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate", encoding="utf-8")
    configure(monkeypatch, "https://hooks.example.com/x")
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_TLS_CA_FILE", str(not_pem))
    get_settings.cache_clear()
    result = runner.invoke(app, ["supervision", "notify"])
    assert result.exit_code == 2
    assert "CA file" in result.output
    assert "Traceback" not in result.output
