"""``archivist retention run`` with OpenSearch as the search engine (the live test node): a
query hold is resolved there, and disposal reaches the ``opensearch`` adapter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from adapters.archive import ArchiveAdapter
from adapters.opensearch_adapter import OpenSearchAdapter
from archivist import wiring
from archivist.cli import app
from archivist.settings import get_settings
from cases.model import CaseSpec, HoldScope, HoldSpec
from cases.store import CaseStore
from search.backends import OpenSearchSearchBackend, every_hit
from search.opensearch_client import opensearch_client
from search.query_parser import parse_query
from tests.cases.helpers import at, post

runner = CliRunner()
OLD = post("user:bob", "room:deals", at(400), "old deal chatter")
HELD = post("user:bob", "room:legal", at(400), "old chatter about the lawsuit")
NEW = post("user:bob", "room:deals", at(1), "new deal chatter")
PREFIX = "archivist"
"""The adapter's default prefix (what the command line's adapters use): cleared before and after."""


@pytest.fixture
def opensearch(monkeypatch: pytest.MonkeyPatch, opensearch_url: str) -> Iterator[object]:
    client = opensearch_client(opensearch_url)
    client.indices.delete(index=f"{PREFIX}-*", ignore_unavailable=True)
    monkeypatch.setenv("ARCHIVIST_OPENSEARCH_URL", opensearch_url)
    monkeypatch.setenv("ARCHIVIST_ADAPTERS", "archive,opensearch")
    get_settings.cache_clear()
    yield client
    client.indices.delete(index=f"{PREFIX}-*", ignore_unavailable=True)
    client.close()


def test_retention_resolves_holds_in_and_disposes_from_opensearch(opensearch: object) -> None:
    engine = wiring.staging_store(get_settings()).engine
    ArchiveAdapter(engine).write([OLD, HELD, NEW])
    adapter = OpenSearchAdapter(opensearch, prefix=PREFIX)
    assert adapter.write([OLD, HELD, NEW]) == [None, None, None]
    adapter.engine.refresh(f"{PREFIX}-*")
    cases = CaseStore(engine)
    case = cases.create_case(CaseSpec(name="matter"), "legal")
    cases.place_hold(case.id, HoldSpec(reason="dispute", scope=HoldScope(query="lawsuit")), "legal")
    assert runner.invoke(app, ["retention", "policy", "set", "--keep-days", "365"]).exit_code == 0

    result = runner.invoke(app, ["retention", "run"])

    assert result.exit_code == 0, result.output
    assert "disposed of 1 events, 1 held" in result.output
    hits = every_hit(OpenSearchSearchBackend(opensearch, prefix=PREFIX), parse_query("chatter"))
    assert sorted(hit.message_id for hit in hits) == sorted([HELD.message.id, NEW.message.id])
    verified = runner.invoke(app, ["verify"])
    assert verified.exit_code == 0, verified.output
