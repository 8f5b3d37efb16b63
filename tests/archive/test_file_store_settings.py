"""Choosing the file store: ``ARCHIVIST_FILE_STORE`` and the S3 settings, checked at start-up."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from pydantic import ValidationError

from archive.fs_file_store import FsFileStore
from archive.s3_file_store import S3FileStore
from archivist import wiring
from archivist.settings import Settings


def test_the_filesystem_store_is_the_default(tmp_path: Path) -> None:
    store = wiring.file_store(Settings(data_dir=tmp_path))
    assert isinstance(store, FsFileStore)
    assert store.root == tmp_path / "files"


def test_s3_settings_build_the_s3_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "s3-secret"
    secret.write_text("the secret\n", encoding="utf-8")
    monkeypatch.setenv("ARCHIVIST_FILE_STORE", "s3")
    monkeypatch.setenv("ARCHIVIST_S3_BUCKET", "archive-natives")
    monkeypatch.setenv("ARCHIVIST_S3_ENDPOINT_URL", "http://127.0.0.1:7070")
    monkeypatch.setenv("ARCHIVIST_S3_REGION", "eu-west-1")
    monkeypatch.setenv("ARCHIVIST_S3_PREFIX", "prod")
    monkeypatch.setenv("ARCHIVIST_S3_ACCESS_KEY_ID", "key-id")
    monkeypatch.setenv("ARCHIVIST_S3_SECRET_ACCESS_KEY_FILE", str(secret))
    monkeypatch.setenv("ARCHIVIST_S3_RETAIN_DAYS", "2555")
    settings = Settings()
    assert "the secret" not in repr(settings)
    store = wiring.file_store(settings)
    assert isinstance(store, S3FileStore)
    assert (store.bucket, store.prefix, store.endpoint_url, store.region) == (
        "archive-natives",
        "prod/",
        "http://127.0.0.1:7070",
        "eu-west-1",
    )
    assert (store.access_key_id, store.secret_access_key, store.retain_days) == ("key-id", "the secret", 2555)
    assert pickle.loads(pickle.dumps(store)).bucket == "archive-natives"  # noqa: S301 (our own bytes)
    assert "the secret" not in repr(store)


def test_s3_without_a_bucket_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_FILE_STORE", "s3")
    with pytest.raises(ValidationError, match="ARCHIVIST_S3_BUCKET"):
        Settings()


def test_half_a_key_pair_or_a_bad_lock_period_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARCHIVIST_FILE_STORE", "s3")
    monkeypatch.setenv("ARCHIVIST_S3_BUCKET", "b")
    monkeypatch.setenv("ARCHIVIST_S3_ACCESS_KEY_ID", "key-id")
    with pytest.raises(ValidationError, match="ARCHIVIST_S3_SECRET_ACCESS_KEY"):
        Settings()
    monkeypatch.delenv("ARCHIVIST_S3_ACCESS_KEY_ID")
    monkeypatch.setenv("ARCHIVIST_S3_RETAIN_DAYS", "0")
    with pytest.raises(ValidationError, match="s3_retain_days"):
        Settings()
