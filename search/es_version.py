"""The Elasticsearch server's version against the Python client's: their majors must match.

elasticsearch-py N sends ``Accept``/``Content-Type: application/vnd.elasticsearch+json;
compatible-with=N`` on every call. Elasticsearch M accepts ``compatible-with`` M and M-1 only,
so a 9.x client is refused by an 8.x server on every call (HTTP 400 ``media_type_header_exception``,
"Accept version must be either version 8 or 7, but found 9": elasticsearch-py issue 2923), and
an 8.x client reaches a 9.x server only through REST API compatibility, which Archivist does not
test. Archivist installs either major (the ``es8`` and ``es9`` extras) and requires the one that
matches the server, with an error naming both versions and the extra to install.

The server's version is read from ``GET /`` *without* the client's compatibility media types
(the client's own ``info()`` would be refused by the very server whose version we need): straight
through the client's transport, so the URL, CA bundle, proxy and credentials are the client's.
Nothing here imports ``elasticsearch`` at import time (the command line imports this module).
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

log = logging.getLogger(__name__)

SUPPORTED_MAJORS = (8, 9)
CHECK_TIMEOUT = 5.0
"""Seconds the start-up check waits for ``GET /``."""


class UnsupportedServer(Exception):
    """The server at ``ARCHIVIST_ELASTICSEARCH_URL`` cannot be used with this installation (the
    message says what to do; the command line prints it and exits 2)."""


class ClientVersionMismatch(UnsupportedServer):
    """An Elasticsearch 8 or 9 server, and a Python client of the other major."""


class NotElasticsearch(UnsupportedServer):
    """OpenSearch, or a server that does not answer as Elasticsearch does."""


class UnsupportedElasticsearch(UnsupportedServer):
    """An Elasticsearch major other than 8 and 9."""


class ServerVersionUnknown(Exception):
    """``GET /`` did not tell the server's version (an HTTP error, or an answer not understood)."""


class _Version(BaseModel):
    model_config = ConfigDict(extra="ignore")
    number: str
    distribution: str = "elasticsearch"
    build_flavor: str | None = None


class _Root(BaseModel):
    """The part of ``GET /``'s answer read here; Elasticsearch and OpenSearch answer alike."""

    model_config = ConfigDict(extra="ignore")
    version: _Version


class ServerVersion(BaseModel):
    model_config = ConfigDict(frozen=True)
    number: str
    """``version.number``, e.g. ``8.17.0``."""
    distribution: str
    """``elasticsearch``, or ``opensearch`` (``version.distribution``)."""
    product_header: bool
    """Whether the answer had ``X-Elastic-Product: Elasticsearch`` (every Elasticsearch 7.14+)."""
    serverless: bool = False
    """Elastic Cloud Serverless (``build_flavor: serverless``): its ``version.number`` is fixed
    and it is not versioned by major, so no client major is refused."""

    @property
    def major(self) -> int:
        head = self.number.split(".", 1)[0]
        return int(head) if head.isdigit() else 0


def client_version() -> str:
    """The installed elasticsearch-py's version, e.g. ``9.1.0``."""
    import elasticsearch

    return str(elasticsearch.__versionstr__)  # type: ignore[attr-defined]  # not in its __all__


def read_server_version(client: Any, timeout: float = CHECK_TIMEOUT) -> ServerVersion:
    """``GET /`` through ``client``'s transport with plain ``application/json`` (the client's own
    ``info()`` would send its compatibility media type). Raises the transport's errors when the
    server cannot be reached, :class:`ServerVersionUnknown` when it answers without a version."""
    # The client keeps its credentials (api_key, basic_auth) and user agent in its default
    # headers and adds them per request; the transport adds the node's (credentials in the URL).
    headers = dict(getattr(client, "_headers", None) or {})
    headers = {name: value for name, value in headers.items() if name.lower() not in ("accept", "content-type")}
    headers["accept"] = "application/json"
    meta, body = client.transport.perform_request(
        "GET", "/", headers=headers, request_timeout=timeout, max_retries=0, retry_on_timeout=False
    )
    if not 200 <= meta.status < 300:
        raise ServerVersionUnknown(f"GET / answered HTTP {meta.status}")
    try:
        root = _Root.model_validate(body)
    except ValidationError as error:
        raise ServerVersionUnknown("GET / answered no version.number") from error
    return ServerVersion(
        number=root.version.number,
        distribution=root.version.distribution,
        product_header=meta.headers.get("x-elastic-product", "") == "Elasticsearch",
        serverless=root.version.build_flavor == "serverless",
    )


def require_compatible(server: ServerVersion, client: str) -> None:
    """Raise :class:`UnsupportedServer` unless elasticsearch-py ``client`` (its version) can be
    used with ``server`` (pure)."""
    if server.distribution == "opensearch":
        raise NotElasticsearch(
            f"the server at ARCHIVIST_ELASTICSEARCH_URL is OpenSearch {server.number}, not Elasticsearch: "
            "set ARCHIVIST_OPENSEARCH_URL instead"
        )
    if not server.product_header:
        raise NotElasticsearch(
            f"the server at ARCHIVIST_ELASTICSEARCH_URL does not answer as Elasticsearch (version {server.number}, "
            "no X-Elastic-Product header)"
        )
    if server.serverless:
        return
    if server.major not in SUPPORTED_MAJORS:
        raise UnsupportedElasticsearch(
            f"Elasticsearch {server.number} is not supported: Archivist works with Elasticsearch 8 and 9"
        )
    client_major = client.split(".", 1)[0]
    if client_major != str(server.major):
        raise ClientVersionMismatch(
            f"Elasticsearch server {server.number} needs the {server.major}.x Python client; this installation "
            f"has elasticsearch-py {client}: pip install 'archivist[es{server.major}]'"
        )


def require_matching_client(client: Any, timeout: float = CHECK_TIMEOUT) -> ServerVersion:
    """The server's version, once checked against the installed client's (see the module's
    docstring); raises :class:`UnsupportedServer`, :class:`ServerVersionUnknown` or the
    transport's connection errors."""
    server = read_server_version(client, timeout)
    require_compatible(server, client_version())
    return server


def check_at_start(client: Any, timeout: float = CHECK_TIMEOUT) -> ServerVersion | None:
    """:func:`require_matching_client` where a process builds its client: a server that cannot
    be used raises :class:`UnsupportedServer`; one that cannot be asked now (down, or ``GET /``
    refused to an API key without the ``monitor`` privilege) is logged and None returned, so a
    process may still start before its Elasticsearch does, as before. Its first refused call
    then names the mismatch (:func:`explain`)."""
    from elastic_transport import TransportError

    try:
        return require_matching_client(client, timeout)
    except (TransportError, ServerVersionUnknown) as error:
        log.warning("cannot learn the Elasticsearch server's version now (%s); it is checked again on a refusal", error)
        return None


def explain(client: Any, error: Exception) -> UnsupportedServer | None:
    """Why ``client``'s call failed with ``error``, when it is because the server cannot be used
    with this client (the refusals a mismatched server or OpenSearch answers with: the server is
    then asked its version); None otherwise."""
    from elasticsearch import ApiError, UnsupportedProductError

    if isinstance(error, UnsupportedProductError):
        pass
    elif not (isinstance(error, ApiError) and _media_type_refusal(error.status_code, error.body)):
        return None
    try:
        require_matching_client(client)
    except UnsupportedServer as unusable:
        return unusable
    except Exception as other:  # the server could not be asked: the original error stands
        log.debug("cannot ask the server's version after %r: %r", error, other)
    return None


def _media_type_refusal(status: int, body: object) -> bool:
    """Elasticsearch's 400 ``media_type_header_exception`` for a ``compatible-with`` of another
    major, or OpenSearch's 406 "Content-Type header [application/vnd.elasticsearch+json;
    compatible-with=9] is not supported" (seen on the OpenSearch 2.19 test node)."""
    error = body.get("error") if isinstance(body, dict) else None
    if status == 400:
        return isinstance(error, dict) and error.get("type") == "media_type_header_exception"
    return status == 406 and "compatible-with" in str(error)
