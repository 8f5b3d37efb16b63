"""Review sets, tags and coding, notes, batches (issue 20)."""

from __future__ import annotations

from fastapi import APIRouter

from search_api.errors import ERROR_RESPONSES

router = APIRouter(tags=["review"], responses=ERROR_RESPONSES)
