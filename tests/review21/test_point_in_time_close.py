"""Review of issue 21: a walk over every hit whose point in time cannot be closed afterwards."""

from __future__ import annotations

from typing import Any

from search.backends import EngineSearchBackend, every_hit
from search.engine_client import OPENSEARCH, Json, Refresh
from search.query_parser import parse_query


class Engine:
    """An engine that answers the walk (no hit) and then cannot be reached to close its point in
    time (a node restarting, a connection dropped: what opensearch-py raises then)."""

    dialect = OPENSEARCH

    def __init__(self) -> None:
        self.searches = 0

    def open_point_in_time(self, index: str, keep_alive: str) -> str:
        return "pit-1"

    def search(self, index: str, body: Json) -> Json:
        self.searches += 1
        return {"pit_id": "pit-1", "timed_out": False, "hits": {"hits": []}}

    def close_point_in_time(self, pit_id: str) -> None:
        from opensearchpy import ConnectionError

        raise ConnectionError("N/A", "Connection reset by peer", OSError("reset"))

    def bulk(self, operations: list[Json], *, refresh: Refresh = False) -> Json:
        raise NotImplementedError

    def put_index_template(self, name: str, body: Json) -> None: ...
    def put_mapping(self, index: str, properties: Json) -> None: ...
    def refresh(self, index: str) -> None: ...
    def delete_by_query(self, index: str, query: Json) -> Json:
        raise NotImplementedError

    def close(self) -> None: ...
    def unreachable(self, error: BaseException) -> bool:
        return True


def test_a_point_in_time_that_cannot_be_closed_does_not_lose_the_walk() -> None:
    engine: Any = Engine()
    backend = EngineSearchBackend(engine, prefix="review21")
    assert every_hit(backend, parse_query("ubuntu")) == []
    assert engine.searches == 1
