"""The one shape of every error the API answers, and its OpenAPI description."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong, for a person to read")
    position: int | None = Field(default=None, description="Bad query: 1-based character offset of the problem")
    query: str | None = Field(default=None, description="Bad query: the query as received")


class ErrorResponse(BaseModel):
    detail: ErrorDetail


def described(text: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": text}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: described("No API token, or one that is unknown or revoked"),
    403: described("The token's role may not use this route"),
    422: described("The request is not valid: the message says which field and why"),
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: described("No such item in the archive")}
