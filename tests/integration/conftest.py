from __future__ import annotations

import pytest

from tests.services import require_postgresql, require_rabbitmq


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True, scope="session")
def _services_are_up() -> None:
    """Integration tests fail, never skip, when RabbitMQ or PostgreSQL is down."""
    require_rabbitmq()
    require_postgresql()
