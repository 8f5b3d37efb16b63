"""The webhook's settings: the URL and secret are secrets (masked, readable from _FILE), checked
together, and turned into the deliverer's configuration."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from archivist.settings import Settings, secret_settings
from archivist.wiring import supervision_webhook
from tests.supervision.webhooks.helpers import SECRET, self_signed_certificate

URL = "https://hooks.example.com/archivist?token=url-token"


def test_no_webhook_by_default() -> None:
    settings = Settings()
    assert settings.supervision_webhook_url is None
    assert settings.supervision_webhook_secret is None
    assert supervision_webhook(settings) is None


def test_url_and_secret_are_secrets_masked_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_URL", URL)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_SECRET", SECRET)
    settings = Settings()
    assert {"supervision_webhook_url", "supervision_webhook_secret"} <= set(secret_settings())
    assert SECRET not in repr(settings)
    assert "url-token" not in repr(settings)
    config = supervision_webhook(settings)
    assert config is not None
    assert (config.url, config.secret, config.timeout, config.max_attempts) == (URL, SECRET, 10.0, 12)
    assert (config.backoff_initial, config.backoff_maximum, config.max_age) == (30.0, 3600.0, timedelta(hours=72))


def test_tuning_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_URL", URL)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_TIMEOUT_SECONDS", "3.5")
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_MAX_ATTEMPTS", "4")
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_BACKOFF_INITIAL", "2")
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_BACKOFF_MAXIMUM", "60")
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_MAX_AGE_HOURS", "1.5")
    config = supervision_webhook(Settings())
    assert config is not None
    assert (config.timeout, config.max_attempts, config.backoff_initial, config.backoff_maximum) == (3.5, 4, 2.0, 60.0)
    assert config.max_age == timedelta(minutes=90)


def test_the_secret_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(SECRET + "\n", encoding="utf-8")
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_URL", URL)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_SECRET_FILE", str(secret_file))
    config = supervision_webhook(Settings())
    assert config is not None
    assert config.secret == SECRET


def test_empty_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_URL", "")
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_SECRET", "")
    assert supervision_webhook(Settings()) is None


def test_a_url_without_a_secret_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_URL", URL)
    with pytest.raises(ValidationError, match="ARCHIVIST_SUPERVISION_WEBHOOK_SECRET") as refused:
        Settings()
    assert "url-token" not in str(refused.value)


def test_a_secret_without_a_url_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_SECRET", SECRET)
    with pytest.raises(ValidationError, match="ARCHIVIST_SUPERVISION_WEBHOOK_URL") as refused:
        Settings()
    assert SECRET not in str(refused.value)


def test_a_short_secret_is_an_error_that_does_not_show_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_URL", URL)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_SECRET", "tiny-secret-123")
    with pytest.raises(ValidationError, match="at least 32 characters") as refused:
        Settings()
    assert "tiny-secret-123" not in str(refused.value)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://hooks.example.com/x?token=url-token", "http:// or https://"),
        ("https://user:url-token@hooks.example.com/x", "credentials"),
        ("http://169.254.169.254/latest?token=url-token", "cloud metadata"),
    ],
)
def test_a_bad_url_is_an_error_that_does_not_show_it(monkeypatch: pytest.MonkeyPatch, url: str, problem: str) -> None:
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_URL", url)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_SECRET", SECRET)
    with pytest.raises(ValidationError, match=problem) as refused:
        Settings()
    assert "url-token" not in str(refused.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ARCHIVIST_SUPERVISION_WEBHOOK_TIMEOUT_SECONDS", "0"),
        ("ARCHIVIST_SUPERVISION_WEBHOOK_MAX_ATTEMPTS", "0"),
        ("ARCHIVIST_SUPERVISION_WEBHOOK_BACKOFF_INITIAL", "-1"),
        ("ARCHIVIST_SUPERVISION_WEBHOOK_MAX_AGE_HOURS", "0"),
    ],
)
def test_out_of_range_tuning_is_an_error(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=name.removeprefix("ARCHIVIST_").lower()):
        Settings()


def test_the_initial_backoff_may_not_exceed_the_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_BACKOFF_INITIAL", "600")
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_BACKOFF_MAXIMUM", "60")
    with pytest.raises(ValidationError, match="BACKOFF_INITIAL"):
        Settings()


def test_a_ca_file_for_an_https_receiver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    certificate, _key = self_signed_certificate(tmp_path)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_URL", URL)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_TLS_CA_FILE", str(certificate))
    config = supervision_webhook(Settings())
    assert config is not None
    assert config.tls_ca_file == certificate


def test_a_ca_file_needs_an_https_url_and_must_exist(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_URL", "http://hooks.internal/x")
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_TLS_CA_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ValidationError, match="no such file"):
        Settings()
    ca = tmp_path / "ca.pem"
    ca.write_text("PEM", encoding="utf-8")
    monkeypatch.setenv("ARCHIVIST_SUPERVISION_WEBHOOK_TLS_CA_FILE", str(ca))
    with pytest.raises(ValidationError, match="needs an https:// ARCHIVIST_SUPERVISION_WEBHOOK_URL"):
        Settings()
