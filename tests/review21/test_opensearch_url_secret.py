"""Review of issue 21: ARCHIVIST_OPENSEARCH_URL's password in the messages of a bad URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from archivist.cli import main
from archivist.settings import get_settings

PASSWORD = "Zx9/kQ+w"  # generated passwords (base64) hold '/' and '+'
URL = f"http://admin:{PASSWORD}@opensearch:9200"


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    monkeypatch.setattr("sys.argv", ["archivist", *args])
    get_settings.cache_clear()
    try:
        with pytest.raises(SystemExit) as exited:
            main()
    finally:
        get_settings.cache_clear()
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.err + captured.out


def test_a_bad_opensearch_url_is_refused_without_its_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ARCHIVIST_ELASTICSEARCH_URL", "ARCHIVIST_DATABASE_URL", "ARCHIVIST_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARCHIVIST_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ARCHIVIST_ADAPTERS", "archive,opensearch")
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_URL", URL)
    code, output = cli(monkeypatch, capsys, "process", "--until-empty")
    assert code != 0
    assert PASSWORD.split("/")[0] not in output, output
    assert "ARCHIVIST_OPENSEARCH_URL" in output, output
