"""The case and export services' refusals as the API answers them (and the pages show them)."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from cases.store import CaseConflict, CaseNotFound
from exports.service import ExportNotFound, ExportNotReady, NotExportable
from search.query_parser import QuerySyntaxError
from search_api.refusals import Refusal, refusal_answer, refused


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (CaseNotFound("no case 'x'"), 404),
        (ExportNotFound("no export 'x'"), 404),
        (CaseConflict("case x was closed"), 409),
        (ExportNotReady("export x is running, not done"), 409),
        (NotExportable("exports take message queries"), 422),
    ],
)
def test_each_refusal_has_its_status_and_its_message(error: Refusal, status: int) -> None:
    assert refusal_answer(error) == (status, {"message": str(error)})


def test_a_bad_query_keeps_where_it_is() -> None:
    error = QuerySyntaxError("unclosed parenthesis", 9, "(wine OR")
    assert refusal_answer(error) == (422, {"message": "unclosed parenthesis", "position": 9, "query": "(wine OR"})


def test_refused_raises_the_answer_and_lets_other_errors_through() -> None:
    with pytest.raises(HTTPException) as raised, refused:
        raise CaseConflict("case x was closed")
    detail: object = raised.value.detail
    assert (raised.value.status_code, detail) == (409, {"message": "case x was closed"})
    with pytest.raises(KeyError), refused:
        raise KeyError("not a refusal")
