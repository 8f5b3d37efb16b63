"""API tokens: ``arch_<id>_<secret>``, shown once, stored as the SHA-256 of the secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, get_args

from sqlalchemy import Engine, bindparam, insert, select, update

from archive.app_schema import api_tokens
from ingest.db import read_only

Role = Literal["compliance_officer", "legal", "security_admin", "auditor", "ingest", "supervisor", "admin"]
ROLES: tuple[str, ...] = get_args(Role)
PREFIX = "arch"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the token's id and label, and its role."""

    token_id: str
    label: str
    role: Role


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(engine: Engine, role: str, label: str) -> str:
    """Store a new token for ``role`` and return it (the only time its secret is visible)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(
            insert(api_tokens).values(
                token_id=token_id,
                secret_hash=_digest(secret),
                role=role,
                label=label,
                created_at=datetime.now(UTC),
            )
        )
    return f"{PREFIX}_{token_id}_{secret}"


_BY_ID = select(
    api_tokens.c.token_id, api_tokens.c.secret_hash, api_tokens.c.role, api_tokens.c.label, api_tokens.c.revoked_at
).where(api_tokens.c.token_id == bindparam("token_id"))
"""Built once, so each request reuses its compiled form instead of building and cache-keying a new one.
Every request still reads the row: a revocation is honoured on the very next request."""


def authenticate(engine: Engine, token: str) -> Principal | None:
    """The principal a presented token stands for, or None (unknown, malformed or revoked)."""
    prefix, _, rest = token.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not token_id or not secret:
        return None
    with read_only(engine) as connection:
        row = connection.execute(_BY_ID, {"token_id": token_id}).first()
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.secret_hash, _digest(secret)):
        return None
    return Principal(row.token_id, row.label, row.role)


@dataclass(frozen=True)
class TokenInfo:
    token_id: str
    role: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


def list_tokens(engine: Engine) -> list[TokenInfo]:
    """Every token ever issued, oldest first (never the secrets: only their hashes are kept)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                api_tokens.c.token_id,
                api_tokens.c.role,
                api_tokens.c.label,
                api_tokens.c.created_at,
                api_tokens.c.revoked_at,
            ).order_by(api_tokens.c.created_at)
        ).all()
    return [TokenInfo(*row) for row in rows]


def revoke_token(engine: Engine, token_id: str) -> TokenInfo | None:
    """Revoke ``token_id`` (from then on it authenticates nobody); None when no such token."""
    with engine.begin() as connection:
        connection.execute(
            update(api_tokens)
            .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return next((token for token in list_tokens(engine) if token.token_id == token_id), None)
