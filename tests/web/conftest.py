"""The web pages over a SQLite archive of two demo IRC logs, indexed, with a token per role."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from adapters.archive import ArchiveAdapter
from adapters.index_adapter import TantivyIndexAdapter
from archive.app_schema import audit_log
from archive.principals import ROLES, create_token
from archivist.migrate import upgrade
from ingest.db import create_db_engine
from ingest.events import Event
from ingest.irc import read_irc_file
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search_api.app import create_app
from search_api.deps import AppServices

DEMO_LOGS = Path(__file__).resolve().parents[2] / "archivist" / "demo_data" / "ubuntu-irc"
LOGS = ("2009-03-03_10.raw.txt", "2007-09-07.train-a.raw.txt")
MESSAGE = "msg:irc:2009-03-03_10:40"
JOINS_MESSAGE = "msg:irc:2007-09-07:34"
"""A message of the log with joins and leaves around it."""


@dataclass(frozen=True)
class WebSite:
    app: FastAPI
    services: AppServices
    tokens: dict[str, str]


def build_site(root: Path, events: Sequence[Event]) -> WebSite:
    """The pages over a SQLite archive under ``root`` holding ``events``, indexed, a token per role."""
    engine = create_db_engine(f"sqlite:///{root / 'archive.sqlite3'}")
    upgrade(engine)
    ArchiveAdapter(engine).write(events)
    index = TantivyIndexAdapter(root / "index")
    index.write(events)
    index.close()
    services = AppServices(engine=engine, index_dir=root / "index", sink=StagingSink(StagingStore(engine)))
    tokens = {role: create_token(engine, role, f"web {role}") for role in ROLES}
    return WebSite(create_app(services), services, tokens)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> WebSite:
    return build_site(
        tmp_path_factory.mktemp("web"), [event for name in LOGS for event in read_irc_file(DEMO_LOGS / name)]
    )


@pytest.fixture
def client(site: WebSite) -> Iterator[TestClient]:
    with TestClient(site.app, follow_redirects=False) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, token: str) -> None:
    page = client.get("/login")
    response = client.post("/login", data={"token": token, "csrf": csrf_of(page.text), "next": "/"})
    assert response.status_code == 303, response.text


def latest_change_audited(site: WebSite) -> dict[str, Any]:
    """The latest change audited (the views of the pages the browser went on to are left out)."""
    with site.services.engine.connect() as connection:
        latest = connection.execute(
            select(audit_log.c.document)
            .where(audit_log.c.action.not_in(["view", "refused"]))
            .order_by(audit_log.c.seq.desc())
            .limit(1)
        ).scalar()
    found: dict[str, Any] = json.loads(str(latest))
    return found
