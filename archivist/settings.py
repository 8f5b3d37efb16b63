"""One settings class for every role: environment (``ARCHIVIST_*``) over an optional TOML file."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_FILE_ENV = "ARCHIVIST_CONFIG"


class Settings(BaseSettings):
    """Settings shared by every process. Environment variables take the ``ARCHIVIST_`` prefix.

    A TOML file named by ``ARCHIVIST_CONFIG`` (default ``archivist.toml`` in the working
    directory, when present) supplies values the environment does not.
    """

    model_config = SettingsConfigDict(env_prefix="ARCHIVIST_", extra="forbid")

    data_dir: Path = Field(default=Path("data"), description="Where embedded data lives (SQLite, index, XML).")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of staging/archive; unset: SQLite under data_dir."
    )
    broker_url: str | None = Field(
        default=None, description="RabbitMQ URL (amqp:// or amqps://); unset: producers write to staging."
    )
    elasticsearch_url: str | None = None
    adapters: str = "archive,index,xml"

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

    @field_validator("broker_url", "database_url", "elasticsearch_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

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
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'archivist.sqlite3').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once; tests call ``get_settings.cache_clear()``."""
    return Settings()
