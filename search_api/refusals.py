"""The services' refusals as HTTP answers: the status, and the detail in the API's error shape.
The routes answer them in JSON (``with refused:``); the web pages show the message with the same
status. The domain packages raise their own errors (a case not found, a bad query); the HTTP
layer's own services raise :class:`Refused` with the status it answers."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException

from cases.store import CaseConflict, CaseNotFound
from exports.service import ExportNotFound, ExportNotReady, NotExportable
from review.errors import ReviewConflict, ReviewNotFound
from search.query_parser import QuerySyntaxError
from supervision.queue import ItemConflict, ItemInvalid, ItemNotFound


class Refused(Exception):
    """What a service refuses to do: the routes answer ``status`` with ``message``, the pages
    show the message next to the form."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


Refusal = (
    Refused
    | CaseNotFound
    | CaseConflict
    | ExportNotFound
    | ExportNotReady
    | NotExportable
    | QuerySyntaxError
    | ReviewNotFound
    | ReviewConflict
    | ItemNotFound
    | ItemConflict
    | ItemInvalid
)
REFUSALS = (
    Refused,
    CaseNotFound,
    CaseConflict,
    ExportNotFound,
    ExportNotReady,
    NotExportable,
    QuerySyntaxError,
    ReviewNotFound,
    ReviewConflict,
    ItemNotFound,
    ItemConflict,
    ItemInvalid,
)

_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (CaseNotFound, 404),
    (ExportNotFound, 404),
    (CaseConflict, 409),
    (ReviewNotFound, 404),
    (ReviewConflict, 409),
    (ExportNotReady, 409),
    (NotExportable, 422),
    (QuerySyntaxError, 422),
    (ItemNotFound, 404),
    (ItemConflict, 409),
    (ItemInvalid, 422),
)


def refusal_answer(error: Refusal) -> tuple[int, dict[str, Any]]:
    """The status and the detail to answer ``error`` with (a bad query's with where it is)."""
    if isinstance(error, Refused):
        return error.status, {"message": error.message}
    status = next(code for kind, code in _STATUS if isinstance(error, kind))
    if isinstance(error, QuerySyntaxError):
        return status, {"message": error.message, "position": error.position, "query": error.query}
    return status, {"message": str(error.args[0])}


def refusal_error(error: Refusal) -> HTTPException:
    """The API's error answer to ``error``."""
    status, detail = refusal_answer(error)
    return HTTPException(status_code=status, detail=detail)


class _Refused:
    """The services' refusals raised as :class:`HTTPException`, in the API's error shape."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _trace: object) -> None:
        if isinstance(error, REFUSALS):
            raise refusal_error(error) from None


refused = _Refused()
