"""Reviewer's finding on tag names (issue 20): a tag's name is what ``tag:<name>`` searches and
coding names, unique in a case ignoring case. review.tags.create_tag checks it with a SELECT and
then inserts, with no lock and no unique index: two reviewers creating "Hot-Doc" at the same time
both pass the check (here made to meet at a barrier right after it, on PostgreSQL)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Connection, func, select

from archivist.migrate import upgrade
from cases import service
from cases.model import CaseSpec
from ingest.staging import StagingStore
from review import tags
from review.errors import ReviewConflict
from review.schema import review_tags
from tests.cases.helpers import OPERATOR


def test_two_tags_of_one_name_cannot_be_created_at_once(
    postgres_store: StagingStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = postgres_store.engine
    upgrade(engine)
    case_id = service.open_case(engine, OPERATOR, CaseSpec(name="Race")).id
    tags.ensure_defaults(engine, case_id)
    group = tags.tag_set(engine, case_id).groups[0].id
    barrier = threading.Barrier(2, timeout=10)
    real = tags._check_unique

    def checked_then_wait(connection: Connection, case: str, spec: tags.TagSpec, besides: str | None) -> None:
        real(connection, case, spec, besides)
        barrier.wait()

    monkeypatch.setattr(tags, "_check_unique", checked_then_wait)

    def create(name: str) -> Any:
        try:
            return tags.create_tag(engine, case_id, tags.TagSpec(group_id=group, name=name))
        except ReviewConflict as refused:
            return refused

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(create, ["Hot-Doc", "hot-doc"]))
    with engine.connect() as connection:
        same = connection.execute(
            select(func.count()).where(review_tags.c.case_id == case_id, func.lower(review_tags.c.name) == "hot-doc")
        ).scalar_one()
    assert same == 1
