"""The coding part's API fixtures (the review corpus, a token per role, a case), for the fixer's tests."""

from tests.api_client import auth, tokens  # noqa: F401
from tests.review.coding.conftest import case_id, client  # noqa: F401
