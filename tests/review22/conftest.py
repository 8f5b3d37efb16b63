"""Fixtures of the issue 22 review: the queue tests' API client, tokens and items."""

from tests.api_client import tokens  # noqa: F401
from tests.supervision.queues.conftest import client, item_ids, policy  # noqa: F401
