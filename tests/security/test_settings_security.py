"""TLS settings, secrets from files, and how both are checked: pure functions and the settings
class, plus the command line's start-up errors (named setting, exit 2, no traceback)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from archivist.cli.common import settings_problems
from archivist.settings import FILE_SUFFIX, Settings, env_name, redact_url, secret_settings
from archivist.tls import broker_ssl_options, database_connect_args, elasticsearch_options
from tests.processes import archivist_env, run_archivist


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    return path


def _problems(**values: object) -> str:
    with pytest.raises(ValidationError) as raised:
        Settings.model_validate(values)
    return settings_problems(raised.value)


# --- option builders ---------------------------------------------------------------------------


def test_no_broker_or_plain_amqp_means_no_tls() -> None:
    assert broker_ssl_options(Settings()) is None
    assert broker_ssl_options(Settings(broker_url="amqp://guest:guest@rabbit:5672//")) is None


def test_amqps_alone_checks_the_certificate_and_the_host_against_the_system_trust_store() -> None:
    options = broker_ssl_options(Settings(broker_url="amqps://archivist:pw@rabbit.internal:5671//"))
    assert options == {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "rabbit.internal"}


def test_amqps_with_ca_and_client_certificate(tmp_path: Path, pem: Path) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    cert.write_text("cert", encoding="utf-8")
    key.write_text("key", encoding="utf-8")
    settings = Settings(
        broker_url="AMQPS://rabbit-1.internal//;amqps://rabbit-2.internal//",
        broker_tls_ca_file=pem,
        broker_tls_cert_file=cert,
        broker_tls_key_file=key,
    )
    assert broker_ssl_options(settings) == {
        "cert_reqs": ssl.CERT_REQUIRED,
        "ca_certs": str(pem),
        "certfile": str(cert),
        "keyfile": str(key),
        "server_hostname": "rabbit-1.internal",
    }
    settings = settings.model_copy(update={"broker_tls_verify_hostname": False})
    options = broker_ssl_options(settings)
    assert options is not None
    assert "server_hostname" not in options, "py-amqp checks no name without one"
    assert options["cert_reqs"] == ssl.CERT_REQUIRED, "the chain is still checked"


def test_database_tls_arguments(tmp_path: Path, pem: Path) -> None:
    url = "postgresql://archivist:pw@db.internal/archivist"
    assert database_connect_args(Settings(database_url=url)) == {}
    assert database_connect_args(Settings(database_url=url, database_tls_ca_file=pem)) == {
        "sslmode": "verify-full",
        "sslrootcert": str(pem),
    }
    cert, key = tmp_path / "c.pem", tmp_path / "c.key"
    cert.write_text("c", encoding="utf-8")
    key.write_text("k", encoding="utf-8")
    settings = Settings(
        database_url=url,
        database_tls_mode="verify-ca",
        database_tls_ca_file=pem,
        database_tls_cert_file=cert,
        database_tls_key_file=key,
    )
    assert database_connect_args(settings) == {
        "sslmode": "verify-ca",
        "sslrootcert": str(pem),
        "sslcert": str(cert),
        "sslkey": str(key),
    }
    assert database_connect_args(Settings(database_url=url, database_tls_mode="require")) == {"sslmode": "require"}


def test_elasticsearch_options(pem: Path) -> None:
    assert elasticsearch_options(Settings(elasticsearch_url="http://es:9200")) == {}
    settings = Settings(elasticsearch_url="https://es:9200", elasticsearch_tls_ca_file=pem, elasticsearch_api_key="k")
    assert elasticsearch_options(settings) == {"ca_certs": str(pem), "api_key": "k"}


# --- validation ----------------------------------------------------------------------------


def test_a_missing_tls_file_names_the_setting(tmp_path: Path) -> None:
    problems = _problems(broker_url="amqps://rabbit//", broker_tls_ca_file=str(tmp_path / "nope.pem"))
    assert problems == f"ARCHIVIST_BROKER_TLS_CA_FILE (broker_tls_ca_file): no such file: {tmp_path / 'nope.pem'}"


def test_tls_settings_must_fit_the_urls(tmp_path: Path, pem: Path) -> None:
    assert "need an amqps:// ARCHIVIST_BROKER_URL" in _problems(broker_url="amqp://rabbit//", broker_tls_ca_file=pem)
    assert "needs an https:// ARCHIVIST_ELASTICSEARCH_URL" in _problems(
        elasticsearch_url="http://es:9200", elasticsearch_tls_ca_file=pem
    )
    assert "ARCHIVIST_DATABASE_TLS_MODE apply to PostgreSQL only" in _problems(database_tls_mode="verify-full")
    assert "set both ARCHIVIST_BROKER_TLS_CERT_FILE and _KEY_FILE" in _problems(
        broker_url="amqps://rabbit//", broker_tls_cert_file=pem
    )
    assert "set both ARCHIVIST_DATABASE_TLS_CERT_FILE and _KEY_FILE" in _problems(
        database_url="postgresql://db/archivist", database_tls_key_file=pem
    )
    assert "ARCHIVIST_DATABASE_TLS_MODE (database_tls_mode)" in _problems(
        database_url="postgresql://db/a", database_tls_mode="very-full"
    )
    # Unset URLs leave the TLS settings waiting (a shared ConfigMap serves every role).
    assert Settings(broker_tls_ca_file=pem, elasticsearch_tls_ca_file=pem).broker_tls_ca_file == pem


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert Settings(trusted_proxies="10.0.0.0/8, 192.168.1.7,::1").trusted_proxies
    assert Settings(trusted_proxies="*").trusted_proxies == "*"
    assert Settings().trusted_proxies == "", "no proxy is trusted unless configured"
    assert Settings(trusted_proxies=" ").trusted_proxies == ""
    assert "'proxy.internal' is not an IP address or network" in _problems(trusted_proxies="10.0.0.1,proxy.internal")


# --- secrets -------------------------------------------------------------------------------


def test_every_credential_is_a_secret() -> None:
    assert set(secret_settings()) == {
        "database_url",
        "broker_url",
        "elasticsearch_url",
        "elasticsearch_api_key",
        "opensearch_url",
        "s3_secret_access_key",
        "supervision_webhook_url",
        "supervision_webhook_secret",
    }
    settings = Settings(database_url="postgresql://archivist:hunter2@db/a", elasticsearch_api_key="hunter3")
    assert isinstance(settings.database_url, SecretStr)
    assert "hunter2" not in repr(settings)
    assert "hunter3" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    assert settings.resolved_database_url == "postgresql://archivist:hunter2@db/a"


def test_secrets_come_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both engines' URLs at once are refused (searches go to one): OpenSearch's is read alone below.
    for name in (name for name in secret_settings() if name != "opensearch_url"):
        path = tmp_path / name
        path.write_text(f"{name}-from-file\n", encoding="utf-8")  # one trailing newline, as `echo` writes
        monkeypatch.setenv(env_name(name) + FILE_SUFFIX, str(path))
    (tmp_path / "database_url").write_text("postgresql://archivist:from-file@db/archivist\n", encoding="utf-8")
    # The webhook's URL and secret are checked (an http(s) URL, a secret of 32 characters or more).
    (tmp_path / "supervision_webhook_url").write_text("https://hooks.example.com/from-file\n", encoding="utf-8")
    (tmp_path / "supervision_webhook_secret").write_text("webhook-secret-from-file-0123456789\n", encoding="utf-8")
    settings = Settings()
    assert settings.resolved_database_url == "postgresql://archivist:from-file@db/archivist"
    assert settings.supervision_webhook_url is not None
    assert settings.supervision_webhook_url.get_secret_value() == "https://hooks.example.com/from-file"
    assert settings.supervision_webhook_secret is not None
    assert settings.supervision_webhook_secret.get_secret_value() == "webhook-secret-from-file-0123456789"
    assert settings.broker_url is not None
    assert settings.broker_url.get_secret_value() == "broker_url-from-file"
    assert settings.elasticsearch_api_key is not None
    assert settings.elasticsearch_api_key.get_secret_value() == "elasticsearch_api_key-from-file"
    monkeypatch.delenv("ARCHIVIST_ELASTICSEARCH_URL_FILE")
    (tmp_path / "opensearch_url").write_text("https://archivist:from-file@opensearch:9200\n", encoding="utf-8")
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_URL_FILE", str(tmp_path / "opensearch_url"))
    opensearch = Settings().opensearch_url
    assert opensearch is not None
    assert opensearch.get_secret_value() == "https://archivist:from-file@opensearch:9200"


def test_a_secret_file_wins_over_the_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "archivist.toml"
    config.write_text('broker_url = "amqp://from-toml//"\n', encoding="utf-8")
    monkeypatch.setenv("ARCHIVIST_CONFIG", str(config))
    (tmp_path / "broker").write_text("amqp://from-file//", encoding="utf-8")
    monkeypatch.setenv("ARCHIVIST_BROKER_URL_FILE", str(tmp_path / "broker"))
    settings = Settings()
    assert settings.broker_url is not None
    assert settings.broker_url.get_secret_value() == "amqp://from-file//"


def test_secret_file_problems_name_the_variable_never_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARCHIVIST_DATABASE_URL_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValidationError) as raised:
        Settings()
    assert settings_problems(raised.value) == (
        f"ARCHIVIST_DATABASE_URL (database_url): ARCHIVIST_DATABASE_URL_FILE: cannot read {tmp_path / 'missing'}: "
        "No such file or directory"
    )
    (tmp_path / "empty").write_text("\n", encoding="utf-8")
    monkeypatch.setenv("ARCHIVIST_DATABASE_URL_FILE", str(tmp_path / "empty"))
    with pytest.raises(ValidationError, match="is empty"):
        Settings()
    (tmp_path / "url").write_text("postgresql://archivist:in-the-file@db/a", encoding="utf-8")
    monkeypatch.setenv("ARCHIVIST_DATABASE_URL_FILE", str(tmp_path / "url"))
    monkeypatch.setenv("ARCHIVIST_DATABASE_URL", "postgresql://archivist:in-the-env@db/a")
    with pytest.raises(ValidationError) as raised:
        Settings()
    text = settings_problems(raised.value) + str(raised.value)
    assert "set ARCHIVIST_DATABASE_URL or ARCHIVIST_DATABASE_URL_FILE, not both" in text
    assert "in-the-file" not in text
    assert "in-the-env" not in text


def test_validation_errors_never_echo_a_secret(pem: Path) -> None:
    with pytest.raises(ValidationError) as raised:
        Settings.model_validate({"broker_url": "amqp://archivist:s3cret-pw@rabbit//", "broker_tls_ca_file": pem})
    assert "s3cret-pw" not in str(raised.value)
    assert "s3cret-pw" not in settings_problems(raised.value)
    assert "s3cret-pw" not in repr(raised.value)


def test_redact_url() -> None:
    assert redact_url("postgresql://archivist:pw@db:5432/archivist") == "postgresql://archivist:***@db:5432/archivist"
    assert redact_url(SecretStr("amqps://u:p@a:5671//;amqps://u:p@b//")) == "amqps://u:***@a:5671//;amqps://u:***@b//"
    assert redact_url("https://es.internal:9200/?api_key=abc") == "https://es.internal:9200/?***"
    assert redact_url("amqp://[::1]:5672//") == "amqp://[::1]:5672//"
    assert redact_url("amqp://guest@rabbit//") == "amqp://guest@rabbit//"
    assert redact_url(None) == "(unset)"


# --- the command line ------------------------------------------------------------------------


def test_a_missing_tls_file_stops_every_command_with_the_setting_named(tmp_path: Path) -> None:
    missing = tmp_path / "ca.pem"
    env = archivist_env(
        broker_url="amqps://archivist:not-for-output@rabbit.internal//", broker_tls_ca_file=str(missing)
    )
    for command in (["status"], ["consume"], ["process", "--until-empty"], ["serve"]):
        result = run_archivist(command, env, timeout=60)
        assert result.returncode == 2, (command, result.stderr)
        assert f"ARCHIVIST_BROKER_TLS_CA_FILE (broker_tls_ca_file): no such file: {missing}" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
        assert "not-for-output" not in result.stderr + result.stdout
