"""One settings class for every role: environment (``ARCHIVIST_*``) over an optional TOML file.

Secrets (the URLs, which carry passwords, and the Elasticsearch API key) are ``SecretStr``: their
``repr`` and ``str`` are masked, and errors never echo input values. Each of them can also be read
from a file named by ``ARCHIVIST_<NAME>_FILE`` (Docker and Kubernetes secrets, systemd
credentials); see :class:`SecretFilesSource`.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from search.opensearch_client import node_urls

CONFIG_FILE_ENV = "ARCHIVIST_CONFIG"
ENV_PREFIX = "ARCHIVIST_"
FILE_SUFFIX = "_FILE"
"""``ARCHIVIST_DATABASE_URL_FILE=/run/secrets/db`` reads ``database_url`` from that file."""

DatabaseTlsMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

_FILE_SETTINGS = (
    "database_tls_ca_file",
    "database_tls_cert_file",
    "database_tls_key_file",
    "broker_tls_ca_file",
    "broker_tls_cert_file",
    "broker_tls_key_file",
    "elasticsearch_tls_ca_file",
    "opensearch_tls_ca_file",
    "supervision_webhook_tls_ca_file",
)
_SECRET_SETTINGS = (
    "database_url",
    "broker_url",
    "elasticsearch_url",
    "elasticsearch_api_key",
    "opensearch_url",
    "s3_secret_access_key",
    "supervision_webhook_url",
    "supervision_webhook_secret",
)
_OPTIONAL_SETTINGS = (*_SECRET_SETTINGS, *_FILE_SETTINGS, "database_tls_mode")


def env_name(setting: str) -> str:
    """The environment variable of a setting: ``broker_url`` -> ``ARCHIVIST_BROKER_URL``."""
    return f"{ENV_PREFIX}{setting}".upper()


class Settings(BaseSettings):
    """Settings shared by every process. Environment variables take the ``ARCHIVIST_`` prefix.

    A TOML file named by ``ARCHIVIST_CONFIG`` (default ``archivist.toml`` in the working
    directory, when present) supplies values the environment does not.
    """

    # hide_input_in_errors: a validation error never repeats a value (a URL with its password).
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", hide_input_in_errors=True)

    data_dir: Path = Field(default=Path("data"), description="Where embedded data lives (SQLite, index, XML).")
    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL of staging/archive; unset: SQLite under data_dir."
    )
    database_tls_mode: DatabaseTlsMode | None = Field(
        default=None,
        description="PostgreSQL sslmode; unset: verify-full when a database TLS file is set, else libpq's default.",
    )
    database_tls_ca_file: Path | None = Field(
        default=None, description="CA bundle PostgreSQL's certificate is checked against (sslrootcert)."
    )
    database_tls_cert_file: Path | None = Field(
        default=None, description="Client certificate for PostgreSQL (sslcert)."
    )
    database_tls_key_file: Path | None = Field(default=None, description="Client certificate's private key (sslkey).")
    broker_url: SecretStr | None = Field(
        default=None, description="RabbitMQ URL (amqp:// or amqps://); unset: producers write to staging."
    )
    broker_tls_ca_file: Path | None = Field(
        default=None, description="CA bundle RabbitMQ's certificate is checked against."
    )
    broker_tls_cert_file: Path | None = Field(default=None, description="Client certificate for RabbitMQ (amqps://).")
    broker_tls_key_file: Path | None = Field(default=None, description="Client certificate's private key.")
    broker_tls_verify_hostname: bool = Field(
        default=True, description="Check that RabbitMQ's certificate names the host of the URL."
    )
    elasticsearch_url: SecretStr | None = None
    elasticsearch_api_key: SecretStr | None = Field(default=None, description="Elasticsearch API key (encoded form).")
    elasticsearch_tls_ca_file: Path | None = Field(default=None, description="CA bundle for an https:// Elasticsearch.")
    opensearch_url: SecretStr | None = Field(
        default=None,
        description="OpenSearch 2.x URL (credentials may be in it); set: searches go to OpenSearch, "
        "which the opensearch adapter fills.",
    )
    opensearch_tls_ca_file: Path | None = Field(default=None, description="CA bundle for an https:// OpenSearch.")
    file_store: Literal["filesystem", "s3"] = Field(
        default="filesystem",
        description="Where the bytes of uploaded files and their extracted texts are kept (content-addressed).",
    )
    files_dir: Path | None = Field(
        default=None, description="The filesystem file store's folder; unset: files/ under data_dir."
    )
    max_file_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1024,
        description="Largest file POST /api/v1/files, `publish --files` and the URL fetcher accept (bytes); "
        "larger ones get 413.",
    )
    fetch_urls: bool = Field(
        default=False,
        description="Fetch the bytes of an uploaded file from its event's url when they have not arrived "
        "(only from fetch_allowed_hosts, never from link-local or cloud metadata addresses).",
    )
    fetch_allowed_hosts: str = Field(
        default="",
        description="Hosts the URL fetcher may fetch from (comma-separated: exact names, or *.example.com "
        "for the subdomains of example.com); empty: none.",
    )
    fetch_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="The URL fetcher's limit on one whole fetch (redirects and reading included); it also waits "
        "at most 10 s to connect and 30 s for the next bytes.",
    )
    s3_bucket: str | None = Field(default=None, description="The S3 file store's bucket (needed with file_store s3).")
    s3_endpoint_url: str | None = Field(
        default=None, description="An S3-compatible server's URL; unset: AWS S3 (the region's endpoint)."
    )
    s3_region: str | None = Field(default=None, description="The bucket's region; unset: boto3's default.")
    s3_prefix: str = Field(default="", description="Keys of the S3 file store start with this (a folder).")
    s3_access_key_id: str | None = Field(
        default=None, description="S3 access key id; unset: boto3's own chain (environment, instance role)."
    )
    s3_secret_access_key: SecretStr | None = Field(default=None, description="S3 secret access key.")
    s3_retain_days: int | None = Field(
        default=None,
        ge=1,
        description="Object Lock (compliance) period of stored files when the caller gives no date, on a bucket "
        "with Object Lock; unset: no lock unless the caller gives a date.",
    )
    adapters: str = Field(
        default="archive,index,xml,extract,threads,supervision",
        description="Adapters the processors deliver every event to (comma-separated; the archive always first). "
        "threads: the reply links of every message (docs/threads.md); leave it out to save its cost and link "
        "later with `archivist threads rebuild`. supervision: every message against the enabled supervision "
        "policies (docs/supervision.md); without a policy it costs one small query per batch.",
    )
    adapter_processes: str = Field(
        default="index,xml,actiance",
        description="Adapters that `process` runs each in a worker process of its own (comma-separated, empty "
        "for none): their Python work then runs on another core instead of sharing the processor's.",
    )

    exchange: str = "archivist.events"
    queue: str = "archivist.events"
    dead_letter_exchange: str = "archivist.dead"
    dead_letter_queue: str = "archivist.dead"
    queue_type: Literal["classic", "quorum"] = "classic"

    prefetch: int = Field(default=1000, ge=1, le=65535, description="Unacked messages a consumer may hold.")
    batch_size: int = Field(default=500, ge=1, description="Events committed to staging per transaction.")
    batch_timeout: float = Field(default=0.5, gt=0, description="Seconds before a partial batch is committed.")
    publish_window: int = Field(default=1000, ge=1, description="Outstanding publisher confirms allowed.")

    index_hold_writer: bool = Field(
        default=True,
        description="Keep the Tantivy writer between batches (fast); false when several processors share the index.",
    )
    process_batch_size: int = Field(default=1000, ge=1, description="Events a processor claims at once.")
    process_interval: float = Field(default=2.0, gt=0, description="Seconds between polls when staging is empty.")
    lease_seconds: float = Field(default=300.0, gt=0, description="How long a claimed batch stays reserved.")
    max_attempts: int = Field(default=8, ge=1, description="Failed deliveries before an event is parked.")
    backoff_initial: float = Field(default=1.0, gt=0, description="First retry delay in seconds (doubles).")
    backoff_maximum: float = Field(default=300.0, gt=0, description="Longest retry delay in seconds.")

    extract_workers: int = Field(
        default=2, ge=1, le=64, description="Files whose text is extracted at once (worker processes)."
    )
    extract_seconds: float = Field(
        default=60.0, gt=0, description="Time limit for extracting one file; the worker is killed after it."
    )
    extract_memory_mb: int = Field(default=1024, ge=64, description="Memory limit of an extraction worker (MiB).")
    extract_max_text_chars: int = Field(
        default=10_000_000, ge=1, description="Extracted text beyond this many characters is cut (truncated)."
    )
    extract_max_attempts: int = Field(
        default=3, ge=1, description="Extractions that crash or hang before a file's text is recorded as failed."
    )

    max_request_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Largest request body the API and the web pages read (bytes); larger ones get 413.",
    )
    max_event_batch_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="Largest body of POST /api/v1/events (bytes): a batch of up to 10,000 events.",
    )

    public_base_url: str | None = Field(
        default=None,
        description="The address readers open Archivist at (https://archive.example.com, a path allowed): "
        "escalation notices then carry the item's absolute address (`url`); unset: only its path (`link`).",
    )
    supervision_webhook_url: SecretStr | None = Field(
        default=None,
        description="Where `archivist supervision notify` POSTs each new escalation (http:// or https://; a "
        "token in it stays secret); unset: notices wait in the outbox.",
    )
    supervision_webhook_secret: SecretStr | None = Field(
        default=None,
        description="The key of the webhooks' HMAC-SHA256 signature (at least 32 characters), "
        "shared with the receiver; needed with the URL.",
    )
    supervision_webhook_tls_ca_file: Path | None = Field(
        default=None, description="CA bundle an https:// webhook receiver's certificate must chain to."
    )
    supervision_webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=300, description="The longest one webhook POST may take, connecting included."
    )
    supervision_webhook_max_attempts: int = Field(
        default=12, ge=1, le=100, description="Attempts before a webhook delivery is given up."
    )
    supervision_webhook_backoff_initial: float = Field(
        default=30.0, gt=0, description="Seconds before the first retry of a webhook (doubling, with jitter)."
    )
    supervision_webhook_backoff_maximum: float = Field(
        default=3600.0, gt=0, description="Longest wait between two attempts of a webhook, in seconds."
    )
    supervision_webhook_max_age_hours: float = Field(
        default=72.0, gt=0, description="A webhook delivery is not retried later than this after its escalation."
    )

    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines on stderr: text, or one JSON object per line."
    )
    trusted_proxies: str = Field(
        default="",
        description="Reverse proxies (IPs or networks, comma-separated; * for any) whose X-Forwarded-For "
        "and X-Forwarded-Proto the API believes; empty (the default): none, the connection's address is the "
        "client's.",
    )

    @field_validator(*_OPTIONAL_SETTINGS, mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, SecretFileProblem):
            raise PydanticCustomError("secret_file", "{problem}", {"problem": value.problem})
        return None if value == "" else value

    @field_validator(*_FILE_SETTINGS)
    @classmethod
    def _readable_file(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        if not value.is_file():
            raise PydanticCustomError("file_missing", "no such file: {path}", {"path": str(value)})
        if not os.access(value, os.R_OK):
            raise PydanticCustomError("file_unreadable", "cannot read {path}: permission denied", {"path": str(value)})
        return value

    @field_validator("public_base_url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise PydanticCustomError(
                "not_a_base_url",
                "'{value}' is not an http:// or https:// address without a query (https://archive.example.com)",
                {"value": value},
            )
        return value.strip().rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        if not value.strip():
            return ""
        for item in (part.strip() for part in value.split(",")):
            if item == "*":
                continue
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise PydanticCustomError(
                    "not_an_address", "'{item}' is not an IP address or network", {"item": item}
                ) from None
        return value

    @model_validator(mode="after")
    def _tls_settings_fit_the_urls(self) -> Settings:
        problems: list[str] = []
        for service in ("database", "broker"):
            cert, key = (getattr(self, f"{service}_tls_{part}_file") for part in ("cert", "key"))
            if (cert is None) != (key is None):
                problems.append(f"set both {env_name(f'{service}_tls_cert_file')} and _KEY_FILE, or neither")
        database_tls = [name for name in _FILE_SETTINGS if name.startswith("database_") and getattr(self, name)]
        if self.database_tls_mode is not None:
            database_tls.append("database_tls_mode")
        if database_tls and not self.resolved_database_url.startswith("postgresql"):
            problems.append(f"{', '.join(map(env_name, database_tls))} apply to PostgreSQL only")
        broker_tls = [name for name in _FILE_SETTINGS if name.startswith("broker_") and getattr(self, name)]
        if broker_tls and self.broker_url is not None and url_scheme(self.broker_url) != "amqps":
            problems.append(f"{', '.join(map(env_name, broker_tls))} need an amqps:// ARCHIVIST_BROKER_URL")
        if (
            self.elasticsearch_tls_ca_file is not None
            and self.elasticsearch_url is not None
            and url_scheme(self.elasticsearch_url) != "https"
        ):
            problems.append("ARCHIVIST_ELASTICSEARCH_TLS_CA_FILE needs an https:// ARCHIVIST_ELASTICSEARCH_URL")
        if self.opensearch_url is not None:
            nodes = node_urls(self.opensearch_url.get_secret_value())
            schemes = {urlsplit(node).scheme.lower() for node in nodes}
            if not all(_host_and_port_parse(node) for node in nodes):
                # Never the URL itself in the message: it may hold a password.
                problems.append(
                    "ARCHIVIST_OPENSEARCH_URL: a node's host or port does not parse "
                    "(percent-encode '/', '@', ':' and '#' in a user name or password)"
                )
            elif not schemes or not schemes <= {"http", "https"} or len(schemes) > 1:
                problems.append(
                    "ARCHIVIST_OPENSEARCH_URL: one or more http:// or https:// URLs of one cluster, "
                    "separated by commas, all with the same scheme"
                )
            elif self.opensearch_tls_ca_file is not None and schemes != {"https"}:
                problems.append("ARCHIVIST_OPENSEARCH_TLS_CA_FILE needs an https:// ARCHIVIST_OPENSEARCH_URL")
        if self.elasticsearch_url is not None and self.opensearch_url is not None:
            problems.append(
                "set ARCHIVIST_ELASTICSEARCH_URL or ARCHIVIST_OPENSEARCH_URL, not both: searches go to one engine"
            )
        if problems:
            raise PydanticCustomError("tls_settings", "{problems}", {"problems": "; ".join(problems)})
        return self

    @model_validator(mode="after")
    def _file_store_settings_fit(self) -> Settings:
        problems: list[str] = []
        if self.file_store == "s3":
            if not self.s3_bucket:
                problems.append("ARCHIVIST_FILE_STORE=s3 needs ARCHIVIST_S3_BUCKET")
            if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
                problems.append(
                    "set both ARCHIVIST_S3_ACCESS_KEY_ID and ARCHIVIST_S3_SECRET_ACCESS_KEY, or neither "
                    "(boto3's own credentials)"
                )
        if problems:
            raise PydanticCustomError("file_store_settings", "{problems}", {"problems": "; ".join(problems)})
        return self

    @model_validator(mode="after")
    def _webhook_settings_fit(self) -> Settings:
        url, secret = self.supervision_webhook_url, self.supervision_webhook_secret
        problems: list[str] = []
        if (url is None) != (secret is None):
            problems.append(
                "set both ARCHIVIST_SUPERVISION_WEBHOOK_URL and ARCHIVIST_SUPERVISION_WEBHOOK_SECRET, or neither"
            )
        elif url is not None and secret is not None:
            # Imported here: only a configured webhook pays for its module (SQLAlchemy and the
            # HTTP client) when the settings are read, which every command does at start-up.
            from supervision.webhooks import WebhookConfig, WebhookConfigError

            try:  # the messages name what is wrong, never the URL or the secret
                # (The CA file is read when the notifier starts, like the other CA bundles.)
                WebhookConfig(url=url.get_secret_value(), secret=secret.get_secret_value())
            except WebhookConfigError as error:
                problems.append(f"supervision webhook: {error}")
        if self.supervision_webhook_tls_ca_file is not None and url is not None and url_scheme(url) != "https":
            problems.append(
                "ARCHIVIST_SUPERVISION_WEBHOOK_TLS_CA_FILE needs an https:// ARCHIVIST_SUPERVISION_WEBHOOK_URL"
            )
        if self.supervision_webhook_backoff_initial > self.supervision_webhook_backoff_maximum:
            problems.append(
                "ARCHIVIST_SUPERVISION_WEBHOOK_BACKOFF_INITIAL may not exceed "
                "ARCHIVIST_SUPERVISION_WEBHOOK_BACKOFF_MAXIMUM"
            )
        if problems:
            raise PydanticCustomError("webhook_settings", "{problems}", {"problems": "; ".join(problems)})
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = Path(os.environ.get(CONFIG_FILE_ENV, "archivist.toml"))
        return (
            init_settings,
            SecretFilesSource(settings_cls),
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=toml_file),
        )

    @property
    def resolved_database_url(self) -> str:
        """The database URL in clear (it may carry a password): for the engine, never for output."""
        if self.database_url:
            return self.database_url.get_secret_value()
        return f"sqlite:///{(self.data_dir / 'archivist.sqlite3').resolve()}"

    @property
    def search_engine(self) -> Literal["elasticsearch", "opensearch"] | None:
        """The search engine the API searches and the engines' adapters fill (None: the Tantivy index)."""
        if self.elasticsearch_url is not None:
            return "elasticsearch"
        if self.opensearch_url is not None:
            return "opensearch"
        return None

    @property
    def resolved_files_dir(self) -> Path:
        return self.files_dir if self.files_dir is not None else self.data_dir / "files"


def secret_settings() -> tuple[str, ...]:
    """The settings that hold secrets (``SecretStr``); each may come from ``ARCHIVIST_<NAME>_FILE``."""
    return tuple(name for name, field in Settings.model_fields.items() if _is_secret(field))


def _is_secret(field: FieldInfo) -> bool:
    return field.annotation is SecretStr or SecretStr in get_args(field.annotation)


@dataclass(frozen=True)
class SecretFileProblem:
    """Stands in for a secret whose ``_FILE`` could not be used; validation reports ``problem``."""

    problem: str


class SecretFilesSource(PydanticBaseSettingsSource):
    """Secrets from files: ``ARCHIVIST_<NAME>_FILE`` names a file whose content is the value
    (one trailing newline is dropped). Setting both the variable and its ``_FILE`` is an error,
    and so is a file that cannot be read or is empty."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every secret at once

    def __call__(self) -> dict[str, Any]:
        environment = {key.upper(): value for key, value in os.environ.items()}
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            if not _is_secret(field):
                continue
            variable = env_name(name)
            file_variable = variable + FILE_SUFFIX
            path = environment.get(file_variable)
            if not path:
                continue
            if environment.get(variable):
                values[name] = SecretFileProblem(f"set {variable} or {file_variable}, not both")
                continue
            values[name] = _read_secret_file(file_variable, Path(path))
        return values


def _read_secret_file(variable: str, path: Path) -> str | SecretFileProblem:
    try:
        content = path.read_text(encoding="utf-8")
    except OSError as error:
        return SecretFileProblem(f"{variable}: cannot read {path}: {error.strerror or error}")
    except UnicodeDecodeError:
        return SecretFileProblem(f"{variable}: {path} is not UTF-8 text")
    value = content.removesuffix("\n").removesuffix("\r")
    if not value.strip():
        return SecretFileProblem(f"{variable}: {path} is empty")
    return value


def _host_and_port_parse(url: str) -> bool:
    """Whether ``url`` has a host name and, if it names one, a numeric port."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError on a port that is not a number)
    except ValueError:
        return False
    return bool(parts.hostname)


def url_scheme(url: SecretStr | str) -> str:
    """The scheme of a (secret) URL, lower case; the first of a kombu failover list."""
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    return urlsplit(text.split(";", 1)[0].strip()).scheme.lower()


def redact_url(url: SecretStr | str | None) -> str:
    """A URL fit for messages: its password (and any query, which may carry keys) replaced by ***."""
    if url is None:
        return "(unset)"
    text = url.get_secret_value() if isinstance(url, SecretStr) else url
    shown = []
    for one in text.split(";"):
        try:
            parts = urlsplit(one.strip())
            host = parts.hostname
            port = parts.port
        except ValueError:
            shown.append("***")
            continue
        netloc = host or ""
        if host and ":" in host:
            netloc = f"[{host}]"
        if port is not None:
            netloc = f"{netloc}:{port}"
        if parts.username is not None:
            credentials = parts.username + (":***" if parts.password is not None else "")
            netloc = f"{credentials}@{netloc}"
        query = "?***" if parts.query else ""
        shown.append(f"{parts.scheme}://{netloc}{parts.path}{query}")
    return ";".join(shown)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; tests call ``get_settings.cache_clear()``."""
    return Settings()
