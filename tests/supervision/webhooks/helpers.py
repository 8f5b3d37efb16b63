"""What the webhook tests share: a clock they move by hand, and escalations queued through
:func:`supervision.notices.record_escalation` on a real item of a real policy."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import Engine, insert, select

from supervision.notices import record_escalation
from supervision.schema import supervision_items, supervision_policies, supervision_webhook_deliveries

SECRET = "test-webhook-secret-0123456789abcdef"
START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@dataclass
class Clock:
    now: datetime = START
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        """The injected sleep: no real waiting, the clock moves on."""
        self.slept.append(seconds)
        self.advance(seconds)


def escalate(engine: Engine, now: datetime, comment: str = "guarantee of returns") -> str:
    """An item of a policy, escalated: its notice queued in one transaction; the delivery's id."""
    with engine.begin() as connection:
        policy_id = connection.execute(select(supervision_policies.c.id).limit(1)).scalar()
        if policy_id is None:
            policy_id = str(uuid.uuid4())
            connection.execute(
                insert(supervision_policies).values(
                    id=policy_id,
                    name="Promises of returns",
                    current_version=1,
                    enabled=1,
                    created_by="officer",
                    created_at=now,
                    updated_at=now,
                )
            )
        item_id = str(uuid.uuid4())
        connection.execute(
            insert(supervision_items).values(
                id=item_id,
                policy_id=policy_id,
                policy_version=1,
                event_id=str(uuid.uuid4()),
                message_id=f"m-{item_id}",
                room_id="room-1",
                sender="trader@example.com",
                sent_at=now,
                reason="lexicon",
                matches=[],
                hit_event_id=str(uuid.uuid4()),
                state="escalated",
                disposition=None,
                assignee="supervisor",
                created_at=now,
                updated_at=now,
                closed_at=None,
            )
        )
        body: dict[str, Any] = {
            "item_id": item_id,
            "policy": "Promises of returns",
            "escalated_by": "supervisor",
            "comment": comment,
            "at": now.isoformat(),
        }
        return record_escalation(connection, item_id, body, now)


def delivery(engine: Engine, delivery_id: str) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            select(supervision_webhook_deliveries).where(supervision_webhook_deliveries.c.id == delivery_id)
        ).one()
    return dict(row._mapping)


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for localhost (its own CA) and its key, as PEM files in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
