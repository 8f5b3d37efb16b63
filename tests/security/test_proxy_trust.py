"""`archivist serve` trusts no proxy unless told: by default X-Forwarded-For is ignored, so
rotating it does not escape the sign-in limiter; ARCHIVIST_TRUSTED_PROXIES names the proxies
whose X-Forwarded-For is the client's address."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from search_api.web.auth import MAX_FAILED_SIGN_INS
from tests.processes import archivist_env, serving_archivist
from tests.web.browser import free_port


@contextmanager
def _serving(tmp_path: Path, trusted_proxies: str | None) -> Iterator[str]:
    port = free_port()
    env = archivist_env(data_dir=str(tmp_path / "data"))
    if trusted_proxies is not None:
        env["ARCHIVIST_TRUSTED_PROXIES"] = trusted_proxies
    with serving_archivist(env, port) as base:
        yield base


def _failed_sign_ins_from_rotating_addresses(base: str, attempts: int) -> list[int]:
    with httpx.Client(base_url=base, timeout=10) as client:
        page = client.get("/login").text
        statuses = []
        for attempt in range(attempts):
            # Each answer is the sign-in form again, with a fresh CSRF token (and cookie).
            csrf = re.search(r'name="csrf" value="([^"]+)"', page)
            assert csrf is not None
            answer = client.post(
                "/login",
                data={"token": f"arch_guess_{attempt}", "csrf": csrf.group(1), "next": "/"},
                headers={"X-Forwarded-For": f"198.51.100.{attempt + 1}"},
            )
            statuses.append(answer.status_code)
            page = answer.text
        return statuses


def test_by_default_x_forwarded_for_is_ignored_and_the_limiter_holds(tmp_path: Path) -> None:
    with _serving(tmp_path, None) as base:
        statuses = _failed_sign_ins_from_rotating_addresses(base, MAX_FAILED_SIGN_INS + 2)
    assert statuses == [401] * MAX_FAILED_SIGN_INS + [429, 429]


def test_a_configured_proxy_s_x_forwarded_for_is_the_client(tmp_path: Path) -> None:
    with _serving(tmp_path, "127.0.0.1") as base:
        statuses = _failed_sign_ins_from_rotating_addresses(base, MAX_FAILED_SIGN_INS + 2)
    assert statuses == [401] * (MAX_FAILED_SIGN_INS + 2), "each forwarded address has its own allowance"
