"""Fixtures for the live OpenSearch tests: a real node (tests/opensearch/node.py), failing, never skipping.

A plugin of tests/conftest.py, so every test folder can use them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.opensearch.node import OpenSearchNodeError, build, start_node, wait_for_health

HEALTH_TIMEOUT = 120.0


@pytest.fixture(scope="session")
def opensearch_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a healthy OpenSearch 2.19 node for this test session (ARCHIVIST_TEST_OPENSEARCH_URL if set)."""
    external = os.environ.get("ARCHIVIST_TEST_OPENSEARCH_URL")
    if external:
        try:
            wait_for_health(external.rstrip("/"), timeout=HEALTH_TIMEOUT)
        except OpenSearchNodeError as error:
            pytest.fail(f"ARCHIVIST_TEST_OPENSEARCH_URL: {error}")
        yield external.rstrip("/")
        return
    try:
        classpath = build()
        node = start_node(tmp_path_factory.mktemp("opensearch"), classpath=classpath)
    except OpenSearchNodeError as error:
        pytest.fail(f"the OpenSearch test node is required and did not start: {error}")
    try:
        try:
            wait_for_health(node.url, timeout=HEALTH_TIMEOUT)
        except OpenSearchNodeError as error:
            pytest.fail(f"{error}\nlog {node.log}:\n{node.log_tail()}")
        yield node.url
    finally:
        node.stop()
