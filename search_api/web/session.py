"""Web sessions: a random session id in a signed, HttpOnly cookie; the session itself (the
API token it signed in with, its CSRF token, its times) is kept in this process's memory.

The signing secret is generated per process unless one is passed in, so restarting the
server signs everyone out, and the sessions of one process are unknown to another (run the
web pages in one worker). Signing out removes the session here, so an old cookie is dead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "archivist_session"
IDLE_SECONDS = 30 * 60
"""A session unused this long is over."""
LIFETIME_SECONDS = 8 * 3600
"""No session lasts longer than this, used or not."""


@dataclass
class Session:
    session_id: str
    token: str
    """The API token the user signed in with: authenticated again on every request."""
    csrf: str
    created: float
    last_seen: float


class SessionStore:
    def __init__(
        self,
        secret: bytes | None = None,
        *,
        idle_seconds: float = IDLE_SECONDS,
        lifetime_seconds: float = LIFETIME_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._idle = idle_seconds
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def sign(self, value: str) -> str:
        mac = hmac.new(self._secret, value.encode(), hashlib.sha256).digest()
        return f"{value}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    def unsign(self, signed: str) -> str | None:
        value, _, _mac = signed.rpartition(".")
        if not value or not hmac.compare_digest(self.sign(value), signed):
            return None
        return value

    def create(self, token: str) -> tuple[Session, str]:
        """A new session for ``token`` and the cookie value that names it."""
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), token, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._expire(now)
            self._sessions[session.session_id] = session
        return session, self.sign(session.session_id)

    def lookup(self, cookie: str | None) -> Session | None:
        """The live session the cookie names (its idle time starts again), or None."""
        session_id = self.unsign(cookie) if cookie else None
        if session_id is None:
            return None
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self._idle or now - session.created > self._lifetime:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def _expire(self, now: float) -> None:
        stale = [
            key
            for key, session in self._sessions.items()
            if now - session.last_seen > self._idle or now - session.created > self._lifetime
        ]
        for key in stale:
            del self._sessions[key]
