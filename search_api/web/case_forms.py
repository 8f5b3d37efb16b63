"""Reading the case and retention forms: calendar days, and refusals as messages a person can act
on (a query's problem keeps the character it is at)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from urllib.parse import urlencode

from pydantic import ValidationError

from search.query_ast import UnsupportedQuery
from search_api import refusals


def explain(error: ValidationError) -> str:
    """A pydantic refusal as one line a person can act on."""
    return "; ".join((f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "") + str(e["msg"]) for e in error.errors())


class FormProblem(ValueError):
    """A field the page refuses before any model sees it (the message says what to do)."""


@dataclass(frozen=True)
class Problem:
    """Why a form was not done; ``position`` (1-based) and ``query`` when a query was refused."""

    message: str
    position: int | None = None
    query: str | None = None


Refusal = ValidationError | FormProblem | UnsupportedQuery | refusals.Refusal
REFUSALS = (ValidationError, FormProblem, UnsupportedQuery, *refusals.REFUSALS)


def problem_of(error: Refusal) -> tuple[Problem, int]:
    """The message to show for ``error`` and the status to answer with (the API's for a
    service's refusal, else 422)."""
    if isinstance(error, ValidationError):
        return Problem(explain(error)), 422
    if isinstance(error, refusals.REFUSALS):
        status, detail = refusals.refusal_answer(error)
        return Problem(detail["message"], detail.get("position"), detail.get("query")), status
    return Problem(str(error)), 422


def day(text: str, label: str, *, end: bool = False) -> datetime | None:
    """A ``YYYY-MM-DD`` field as the start of that day in UTC (its last instant with ``end``:
    an inclusive "to" date keeps the whole day); None when empty."""
    if not text:
        return None
    try:
        found = date.fromisoformat(text)
    except ValueError:
        raise FormProblem(f"{label}: {text!r} is not a date like 2024-01-31") from None
    return datetime.combine(found, time.max if end else time.min, tzinfo=UTC)


def day_text(moment: datetime | None) -> str:
    """A date bound as the form shows it (``YYYY-MM-DD``, or empty)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d") if moment else ""


def search_href(query: str) -> str:
    """The search page's address for ``query``."""
    return "/search?" + urlencode({"q": query})
