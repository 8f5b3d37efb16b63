"""The Elasticsearch client's major must match the server's (search/es_version.py): learned from
``GET /`` without the client's compatibility headers, checked where the client is built, a
clear error naming both versions when they differ. Against a stub that answers like
Elasticsearch 7, 8 and 9 and OpenSearch (tests/elasticsearch/stub_server.py).

The tests are written for whichever client major is installed (9.x in the project's venv): the
"other" major is the one the installed client cannot talk to. Run with an 8.x client first on
``PYTHONPATH`` and the same tests check the 8.x client (docs/elasticsearch-versions.md).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import elasticsearch
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import create_engine

from adapters.base import AdapterContext
from adapters.es_adapter import ElasticsearchAdapter, create
from archivist import wiring
from archivist.cli import main
from archivist.settings import Settings, get_settings
from ingest.sink import StagingSink
from ingest.staging import StagingStore
from search.backends import ElasticsearchSearchBackend, every_hit
from search.es_version import (
    ClientVersionMismatch,
    NotElasticsearch,
    ServerVersion,
    UnsupportedElasticsearch,
    check_at_start,
    require_compatible,
    require_matching_client,
)
from search.query_parser import parse_query
from search.request import SearchRequest
from search_api.app import create_app
from search_api.deps import AppServices
from search_api.probes import ElasticsearchTarget, Probes
from tests.adapters.test_elasticsearch_logic import event
from tests.elasticsearch.stub_server import StubNode, serve

CLIENT: str = elasticsearch.__versionstr__  # type: ignore[attr-defined]
CLIENT_MAJOR = int(CLIENT.split(".")[0])
OTHER_MAJOR = 17 - CLIENT_MAJOR  # 8 <-> 9
SERVER_VERSIONS = {8: "8.17.0", 9: "9.1.2"}
MATCHING, OTHER = SERVER_VERSIONS[CLIENT_MAJOR], SERVER_VERSIONS[OTHER_MAJOR]


@pytest.fixture
def matching() -> Iterator[StubNode]:
    with serve(StubNode(MATCHING)) as node:
        yield node


@pytest.fixture
def other() -> Iterator[StubNode]:
    with serve(StubNode(OTHER)) as node:
        yield node


def client_for(url: str, **options: str) -> elasticsearch.Elasticsearch:
    return elasticsearch.Elasticsearch(url, request_timeout=5, max_retries=0, **options)  # type: ignore[arg-type]


def context(tmp_path: Path, url: str, **options: str) -> AdapterContext:
    return AdapterContext(
        engine=create_engine(f"sqlite:///{tmp_path / 'a.sqlite3'}"),
        data_dir=tmp_path,
        elasticsearch_url=url,
        options=options,
    )


# --- the stub behaves as the real servers do ----------------------------------------------


def test_the_stub_answers_the_clients_compatibility_headers_as_elasticsearch_does(other: StubNode) -> None:
    """Elasticsearch N accepts ``compatible-with`` N and N-1: a 9.x client is refused by an 8.x
    server with HTTP 400 (elasticsearch-py issue 2923), an 8.x client is answered by a 9.x one."""
    client = client_for(other.url)
    sent = f"application/vnd.elasticsearch+json; compatible-with={CLIENT_MAJOR}"
    if CLIENT_MAJOR == 8:
        assert client.info()["version"]["number"] == OTHER
        assert other.requests[-1].headers["accept"] == sent
        return
    with pytest.raises(elasticsearch.BadRequestError) as refused:
        client.info()
    assert refused.value.status_code == 400
    assert refused.value.message == "media_type_header_exception"
    caused_by = refused.value.body["error"]["caused_by"]["reason"]
    assert caused_by == f"Accept version must be either version 8 or 7, but found 9. Accept={sent}"
    assert other.requests[-1].headers["accept"] == sent


# --- the check -----------------------------------------------------------------------------


def test_a_server_of_the_clients_major_passes(matching: StubNode) -> None:
    server = require_matching_client(client_for(matching.url))
    assert server == ServerVersion(number=MATCHING, distribution="elasticsearch", product_header=True)
    # The check asked without the client's compatibility media types, which a server of the
    # other major would refuse before saying its version.
    (asked,) = matching.requests
    assert (asked.method, asked.path) == ("GET", "/")
    assert asked.headers["accept"] == "application/json"
    assert "compatible-with" not in asked.headers.get("content-type", "")


def test_a_server_of_the_other_major_is_a_clear_error_naming_both_versions(other: StubNode) -> None:
    with pytest.raises(ClientVersionMismatch) as mismatch:
        require_matching_client(client_for(other.url))
    assert str(mismatch.value) == (
        f"Elasticsearch server {OTHER} needs the {OTHER_MAJOR}.x Python client; this installation has "
        f"elasticsearch-py {CLIENT}: pip install 'archivist[es{OTHER_MAJOR}]'"
    )


@pytest.mark.parametrize(
    ("server", "client", "extra"),
    [("8.17.0", "9.1.0", "es8"), ("9.1.2", "8.19.3", "es9"), ("8.13.4", "9.0.0", "es8")],
)
def test_the_message_names_the_server_the_client_and_the_extra(server: str, client: str, extra: str) -> None:
    with pytest.raises(ClientVersionMismatch) as mismatch:
        require_compatible(ServerVersion(number=server, distribution="elasticsearch", product_header=True), client)
    major = server.split(".")[0]
    assert str(mismatch.value) == (
        f"Elasticsearch server {server} needs the {major}.x Python client; this installation has "
        f"elasticsearch-py {client}: pip install 'archivist[{extra}]'"
    )


@pytest.mark.parametrize(("server", "client"), [("8.19.0", "8.13.0"), ("9.0.0", "9.5.1"), ("8.0.1", "8.19.3")])
def test_the_same_major_passes_whatever_the_minors(server: str, client: str) -> None:
    require_compatible(ServerVersion(number=server, distribution="elasticsearch", product_header=True), client)


def test_an_opensearch_server_at_the_elasticsearch_url_says_to_use_the_opensearch_url() -> None:
    with serve(StubNode("2.19.1", distribution="opensearch")) as node, pytest.raises(NotElasticsearch) as wrong:
        require_matching_client(client_for(node.url))
    assert str(wrong.value) == (
        "the server at ARCHIVIST_ELASTICSEARCH_URL is OpenSearch 2.19.1, not Elasticsearch: "
        "set ARCHIVIST_OPENSEARCH_URL instead"
    )


def test_the_real_opensearch_node_at_the_elasticsearch_url_is_named_at_start(
    tmp_path: Path, opensearch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The OpenSearch 2.19 test node's own ``GET /``: the adapter and the API refuse it by name."""
    with pytest.raises(NotElasticsearch) as wrong:
        create(context(tmp_path, opensearch_url))
    assert re.fullmatch(
        r"the server at ARCHIVIST_ELASTICSEARCH_URL is OpenSearch 2\.19\.\d+, not Elasticsearch: "
        r"set ARCHIVIST_OPENSEARCH_URL instead",
        str(wrong.value),
    )
    monkeypatch.setenv("ARCHIVIST_ELASTICSEARCH_URL", opensearch_url)
    with pytest.raises(NotElasticsearch):
        wiring.search_backend(Settings())


def test_a_server_without_the_elastic_product_header_is_not_elasticsearch() -> None:
    with pytest.raises(NotElasticsearch, match="does not answer as Elasticsearch"):
        require_compatible(ServerVersion(number="8.17.0", distribution="elasticsearch", product_header=False), CLIENT)


@pytest.mark.parametrize("version", ["7.17.25", "10.0.0"])
def test_a_major_other_than_8_or_9_is_refused(version: str) -> None:
    with serve(StubNode(version)) as node, pytest.raises(UnsupportedElasticsearch) as refused:
        require_matching_client(client_for(node.url))
    assert str(refused.value) == f"Elasticsearch {version} is not supported: Archivist works with Elasticsearch 8 and 9"


def test_the_check_sends_the_api_key(matching: StubNode) -> None:
    require_matching_client(client_for(matching.url, api_key="a2V5OnNlY3JldA=="))
    assert matching.requests[-1].headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="


def test_at_start_an_unreachable_server_is_a_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="search.es_version"):
        assert check_at_start(client_for("http://elastic:url-secret@127.0.0.1:1")) is None
    assert "cannot learn the Elasticsearch server's version" in caplog.text
    assert "url-secret" not in caplog.text


def test_at_start_a_root_refused_to_the_api_key_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with serve(StubNode(MATCHING, root_status=403)) as node, caplog.at_level(logging.WARNING):
        assert check_at_start(client_for(node.url)) is None
    assert "HTTP 403" in caplog.text


# --- where the clients are built ------------------------------------------------------------


def test_the_adapter_refuses_to_start_on_a_server_of_the_other_major(tmp_path: Path, other: StubNode) -> None:
    with pytest.raises(ClientVersionMismatch, match=f"pip install 'archivist\\[es{OTHER_MAJOR}\\]'"):
        create(context(tmp_path, other.url))


def test_the_adapter_delivers_to_a_server_of_its_major(tmp_path: Path, matching: StubNode) -> None:
    adapter = create(context(tmp_path, matching.url, es_api_key="a2V5OnNlY3JldA=="))
    post = event("post", 0, message={"id": "m1", "text": "hello"})
    assert adapter.write([post]) == [None]
    assert any(path.endswith(" /_bulk") for path in matching.paths())
    bulk = next(request for request in matching.requests if request.path == "/_bulk")
    assert bulk.headers["authorization"] == "ApiKey a2V5OnNlY3JldA=="
    assert f"compatible-with={CLIENT_MAJOR}" in bulk.headers["content-type"]
    adapter.delete([str(post.event_id)])
    assert any(path.endswith("/_delete_by_query") for path in matching.paths())


def test_an_adapter_built_before_the_server_answered_names_the_mismatch_when_it_meets_it(
    tmp_path: Path, other: StubNode
) -> None:
    """The start check is skipped when the server is down; the first refused call then says why."""
    adapter = ElasticsearchAdapter(client_for(other.url))
    (failure,) = adapter.write([event("post", 0, message={"id": "m1", "text": "hello"})])
    if CLIENT_MAJOR == 8:  # Elasticsearch 9 accepts an 8.x client's calls (REST API compatibility)
        assert failure is None
        return
    assert failure is not None
    assert failure.reason == (
        f"elasticsearch unavailable: ClientVersionMismatch: Elasticsearch server {OTHER} needs the 8.x Python "
        f"client; this installation has elasticsearch-py {CLIENT}: pip install 'archivist[es8]'"
    )


@pytest.mark.parametrize("where", ["stub", "real node"])
def test_an_adapter_built_before_an_opensearch_server_answered_names_it_when_refused(
    where: str, request: pytest.FixtureRequest
) -> None:
    """An 8.x or 9.x client's bulk is refused by OpenSearch (406, its compatibility media type)."""
    with serve(StubNode("2.19.1", distribution="opensearch")) as node:
        url = node.url if where == "stub" else request.getfixturevalue("opensearch_url")
        adapter = ElasticsearchAdapter(client_for(url), prefix=f"archivist-esver-{uuid.uuid4().hex[:8]}")
        (failure,) = adapter.write([event("post", 0, message={"id": "m1", "text": "hello"})])
    assert failure is not None
    assert re.fullmatch(
        r"elasticsearch unavailable: NotElasticsearch: the server at ARCHIVIST_ELASTICSEARCH_URL is "
        r"OpenSearch 2\.19\.\d+, not Elasticsearch: set ARCHIVIST_OPENSEARCH_URL instead",
        failure.reason,
    )


def test_the_search_backend_searches_and_walks_a_point_in_time_on_its_major(matching: StubNode) -> None:
    backend = ElasticsearchSearchBackend(client_for(matching.url))
    assert backend.search(SearchRequest(parse_query("hello"))).total == 0
    assert list(every_hit(backend, parse_query("hello"))) == []
    paths = matching.paths()
    assert "POST /archivist-messages/_pit" in paths
    assert "POST /_search" in paths
    assert "DELETE /_pit" in paths


# --- the processor, the API, the command line and /readyz -----------------------------------


def test_the_search_backend_is_built_only_for_a_server_of_the_clients_major(
    monkeypatch: pytest.MonkeyPatch, matching: StubNode, other: StubNode
) -> None:
    monkeypatch.setenv("ARCHIVIST_ELASTICSEARCH_URL", matching.url)
    assert isinstance(wiring.search_backend(Settings()), ElasticsearchSearchBackend)
    monkeypatch.setenv("ARCHIVIST_ELASTICSEARCH_URL", other.url)
    with pytest.raises(ClientVersionMismatch, match=f"needs the {OTHER_MAJOR}.x Python client"):
        wiring.api_app(Settings())


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``archivist *args`` through its entry point (its error handling included): exit code, stderr."""
    monkeypatch.setattr("sys.argv", ["archivist", *args])
    get_settings.cache_clear()
    with pytest.raises(SystemExit) as exited:
        main()
    return int(exited.value.code or 0), capsys.readouterr().err


@pytest.mark.parametrize("command", [["serve"], ["process", "--until-empty"], ["retention", "run", "--dry-run"]])
def test_the_api_and_the_processor_stop_at_start_with_the_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], other: StubNode, command: list[str]
) -> None:
    def served(*args: object, **kwargs: object) -> None:
        pytest.fail("the API started serving")

    monkeypatch.setattr("archivist.cli.workers.uvicorn.run", served)
    monkeypatch.setenv("ARCHIVIST_ELASTICSEARCH_URL", other.url)
    monkeypatch.setenv("ARCHIVIST_ADAPTERS", "archive,elasticsearch")
    code, stderr = cli(monkeypatch, capsys, *command)
    assert code == 2
    assert " ".join(stderr.split()) == (
        f"error: Elasticsearch server {OTHER} needs the {OTHER_MAJOR}.x Python client; this installation has "
        f"elasticsearch-py {CLIENT}: pip install 'archivist[es{OTHER_MAJOR}]'"
    )


def test_a_processor_whose_elasticsearch_adapter_runs_in_a_worker_process_says_the_same(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], other: StubNode
) -> None:
    monkeypatch.setenv("ARCHIVIST_ELASTICSEARCH_URL", other.url)
    monkeypatch.setenv("ARCHIVIST_ADAPTERS", "archive,elasticsearch")
    monkeypatch.setenv("ARCHIVIST_ADAPTER_PROCESSES", "elasticsearch")
    code, stderr = cli(monkeypatch, capsys, "process", "--until-empty")
    assert code == 2
    assert "Traceback" not in stderr
    assert f"pip install 'archivist[es{OTHER_MAJOR}]'" in " ".join(stderr.split())


def test_readyz_fails_the_elasticsearch_check_with_the_mismatch(
    monkeypatch: pytest.MonkeyPatch, sqlite_store: StagingStore, tmp_path: Path, matching: StubNode, other: StubNode
) -> None:
    for node, status, check in (
        (matching, 200, {"status": "ok"}),
        (other, 503, {"status": "fail", "error": "ClientVersionMismatch"}),
    ):
        probes = Probes(elasticsearch=ElasticsearchTarget(SecretStr(node.url), {}))
        services = AppServices(
            engine=sqlite_store.engine, index_dir=tmp_path / "index", sink=StagingSink(sqlite_store), probes=probes
        )
        with TestClient(create_app(services)) as client:
            response = client.get("/readyz")
        assert response.status_code == status
        answered = response.json()["checks"]["elasticsearch"]
        answered.pop("seconds", None)
        assert answered == check
