from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from archivist.settings import Settings


def test_defaults_are_the_embedded_pipeline(tmp_path: Path) -> None:
    settings = Settings()
    assert settings.broker_url is None
    assert settings.database_url is None
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'data' / 'archivist.sqlite3').resolve()}"
    assert settings.adapters == "archive,index,xml,extract,threads,supervision"  # supervision since issue 22


def test_toml_file_supplies_what_the_environment_does_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "archivist.toml"
    config.write_text('broker_url = "amqp://toml-host//"\nprefetch = 50\nqueue = "from-toml"\n', encoding="utf-8")
    monkeypatch.setenv("ARCHIVIST_CONFIG", str(config))
    monkeypatch.setenv("ARCHIVIST_PREFETCH", "75")
    settings = Settings()
    assert settings.broker_url is not None
    assert settings.broker_url.get_secret_value() == "amqp://toml-host//"
    assert settings.queue == "from-toml"
    assert settings.prefetch == 75


def test_empty_urls_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_BROKER_URL", "")
    assert Settings().broker_url is None


def test_unknown_keys_in_the_file_are_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "archivist.toml"
    config.write_text("prefetchh = 5\n", encoding="utf-8")
    monkeypatch.setenv("ARCHIVIST_CONFIG", str(config))
    with pytest.raises(ValidationError, match="prefetchh"):
        Settings()


def test_out_of_range_values_are_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_PREFETCH", "0")
    with pytest.raises(ValidationError, match="prefetch"):
        Settings()


def test_the_api_searches_elasticsearch_when_a_url_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    from archivist.wiring import api_app
    from search.backends import ElasticsearchSearchBackend, TantivySearchBackend

    embedded = api_app(Settings())
    assert isinstance(embedded.state.services.search_backend(), TantivySearchBackend)
    monkeypatch.setenv("ARCHIVIST_ELASTICSEARCH_URL", "http://127.0.0.1:9/")
    assert isinstance(api_app(Settings()).state.services.search_backend(), ElasticsearchSearchBackend)
