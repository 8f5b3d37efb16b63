"""Fixtures of the fix helper's tests: a token per role."""

from tests.api_client import tokens  # noqa: F401
