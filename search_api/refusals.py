"""The case and export services' refusals as HTTP answers: the status, and the detail in the
API's error shape. The routes answer them in JSON; the web pages show the message with the
same status."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from cases.store import CaseConflict, CaseNotFound
from exports.service import ExportNotFound, ExportNotReady, NotExportable
from search.query_parser import QuerySyntaxError

Refusal = CaseNotFound | CaseConflict | ExportNotFound | ExportNotReady | NotExportable | QuerySyntaxError
REFUSALS = (CaseNotFound, CaseConflict, ExportNotFound, ExportNotReady, NotExportable, QuerySyntaxError)

_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (CaseNotFound, 404),
    (ExportNotFound, 404),
    (CaseConflict, 409),
    (ExportNotReady, 409),
    (NotExportable, 422),
    (QuerySyntaxError, 422),
)


def refusal_answer(error: Refusal) -> tuple[int, dict[str, Any]]:
    """The status and the detail to answer ``error`` with (a bad query's with where it is)."""
    status = next(code for kind, code in _STATUS if isinstance(error, kind))
    if isinstance(error, QuerySyntaxError):
        return status, {"message": error.message, "position": error.position, "query": error.query}
    return status, {"message": str(error.args[0])}


class _Refused:
    """The services' refusals raised as :class:`HTTPException`, in the API's error shape."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _trace: object) -> None:
        if isinstance(error, REFUSALS):
            status, detail = refusal_answer(error)
            raise HTTPException(status_code=status, detail=detail) from None


refused = _Refused()
