"""Escalation webhooks: the outbox (``supervision_webhook_deliveries``) delivered as signed POSTs.

Design (read before changing):

- **At least once.** A notice is written in the escalation's own transaction
  (:func:`supervision.notices.record_escalation`); this module sends it afterwards and records
  the outcome. The outcome is recorded after the POST, so a crash in between sends it again:
  receivers deduplicate on ``X-Archivist-Delivery`` (also in the signed body, ``delivery_id``).
- **Claim, then send, then record.** :meth:`WebhookDeliverer.claim_one` takes one due delivery
  in a short transaction (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so two deliverers never wait
  for or take the same row; SQLite: its one writer at a time) and leases it: ``attempts`` goes up
  by one and ``next_attempt_at`` moves to the end of the lease (the timeout plus a minute). No
  other deliverer can claim it before the lease ends, and the POST is cut at the timeout (its
  socket shut down at the deadline), so two processes never send one delivery at once. A
  claimer that died is replaced when the lease ends (its attempt counts). An outcome is written
  only if the row is still the claimer's (same ``attempts``, not delivered).
- **Signature** (Stripe / Standard Webhooks style): ``X-Archivist-Signature: v1=<hex>`` with
  ``hex = HMAC-SHA256(secret, f"{timestamp}.".encode() + body)``, ``X-Archivist-Timestamp`` the
  Unix time in seconds of this attempt (each attempt is signed anew). The body is the row's
  ``body`` text, UTF-8, byte for byte. A receiver verifies with :func:`verify_signature`: it
  recomputes the HMAC over the raw bytes it received (before any JSON parsing), compares in
  constant time, and refuses a timestamp more than ``tolerance`` (5 minutes) from its clock,
  which stops a captured request from being replayed later.
- **Outcomes.** 2xx: delivered (``delivered_at``). A redirect is not followed (the URL is to be
  fixed) and, like any 4xx other than 408 (timeout), 425 (too early) and 429 (too many
  requests), is a permanent refusal: the receiver understood the request and will refuse the
  same bytes again, so it gives up at once. Everything else (5xx, 408, 425, 429, timeouts,
  refused connections, TLS and DNS failures) is retried: the base delay doubles from
  ``backoff_initial`` up to ``backoff_maximum``, and the delay is half the base plus a random
  share of the other half ("equal jitter", so delays still grow while deliverers spread out);
  a ``Retry-After`` in seconds is honoured up to the maximum. It gives up after
  ``max_attempts`` attempts, or when the next attempt would come later than ``max_age`` after
  the notice was queued (a notice never tried gets its one attempt, however old).
- **Giving up** is recorded without a column of its own: ``last_error`` starts with
  ``gave up`` (:data:`GAVE_UP`), and such rows are never claimed again. :func:`delivery_state`
  reads a row's state.
- **Where it may connect.** The URL is set by an administrator (``ARCHIVIST_SUPERVISION_WEBHOOK_URL``),
  not by a chat server, so unlike the URL fetcher (archive/fetch.py) there is no allow-list:
  an internal receiver (a case system on the LAN) is a normal target. What is still refused, at
  start and at each attempt (the name is resolved once per attempt and the connection goes to
  the checked address): link-local and cloud metadata addresses (instance credentials),
  unspecified and multicast ones; credentials in the URL (the signature authenticates us).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from sqlalchemy import Engine, and_, not_, or_, select, update

from archive.fetch import refused_address, resolve
from supervision.schema import supervision_webhook_deliveries as deliveries

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Archivist-Signature"
TIMESTAMP_HEADER = "X-Archivist-Timestamp"
DELIVERY_HEADER = "X-Archivist-Delivery"
KIND_HEADER = "X-Archivist-Kind"
SIGNATURE_VERSION = "v1"
MIN_SECRET_LENGTH = 32
DEFAULT_TOLERANCE = timedelta(minutes=5)
GAVE_UP = "gave up"
"""The start of ``last_error`` on a delivery that will not be tried again."""
LEASE_MARGIN = timedelta(seconds=60)
"""A claim's lease beyond the timeout: the time to record the outcome after the POST."""
RETRIED_CLIENT_ERRORS = frozenset({408, 425, 429})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ANSWER_BYTES = 1024
"""Of the receiver's answer, at most this much is read (its start goes into ``last_error``)."""
_SHOWN_ANSWER_CHARS = 200

Outcome = Literal["delivered", "retry", "gave_up"]
DeliveryState = Literal["pending", "retrying", "delivered", "gave_up"]


class WebhookConfigError(ValueError):
    """The webhook's URL or secret cannot be used; the message never repeats the secret."""


class SignatureError(Exception):
    """A request's signature does not verify; ``reason`` says why (for the receiver's log)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# --- signing and verifying ----------------------------------------------------------------------


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """``v1=<hex>``: HMAC-SHA256 with ``secret`` (UTF-8) over ``f"{timestamp}."`` and ``body``."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def signed_headers(secret: str, delivery_id: str, kind: str, body: bytes, now: datetime) -> dict[str, str]:
    """The headers of one attempt, signed at ``now``."""
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        "User-Agent": "Archivist-Webhooks/1",
        DELIVERY_HEADER: delivery_id,
        KIND_HEADER: kind,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }


MAX_TIMESTAMP_DIGITS = 12
"""Digits a received timestamp may have (Unix times have 10 until the year 2286): more is no
time, and too many for float arithmetic (or for ``int()`` past 4,300)."""


def verify_signature(
    secret: str, timestamp: str, body: bytes, header: str, now: datetime, tolerance: timedelta = DEFAULT_TOLERANCE
) -> None:
    """Check a received webhook; raises :class:`SignatureError` unless it is genuine and fresh.

    ``timestamp`` and ``header`` are the ``X-Archivist-Timestamp`` and ``X-Archivist-Signature``
    headers, ``body`` the raw bytes received, ``now`` the receiver's clock. The header may carry
    several ``v1=`` signatures (separated by spaces or commas); one matching is enough. A
    timestamp further than ``tolerance`` from ``now`` (old: a replay; or in the future) is
    refused, so a receiver needs a clock within ``tolerance`` of ours. Receivers should also
    drop a ``X-Archivist-Delivery`` they have already processed (delivery is at least once).
    """
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > MAX_TIMESTAMP_DIGITS:
        raise SignatureError("the timestamp is not a Unix time in whole seconds")
    signatures = [
        part.removeprefix(f"{SIGNATURE_VERSION}=")
        for part in header.replace(",", " ").split()
        if part.startswith(f"{SIGNATURE_VERSION}=")
    ]
    if not signatures:
        raise SignatureError(f"the signature header has no {SIGNATURE_VERSION}= signature")
    age = now.timestamp() - int(timestamp)
    if age > tolerance.total_seconds():
        raise SignatureError(f"the timestamp is older than {tolerance.total_seconds():g} s (a replay?)")
    if -age > tolerance.total_seconds():
        raise SignatureError(f"the timestamp is more than {tolerance.total_seconds():g} s in the future")
    expected = sign(secret, int(timestamp), body).removeprefix(f"{SIGNATURE_VERSION}=")
    # Every candidate compared (in constant time each), no early exit on the first.
    matches = [hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in signatures]
    if not any(matches):
        raise SignatureError("no signature matches the body and timestamp (another secret?)")


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebhookTarget:
    scheme: str
    host: str
    port: int
    path: str

    @property
    def host_header(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return shown if self.port == _DEFAULT_PORTS[self.scheme] else f"{shown}:{self.port}"


def parse_webhook_url(url: str) -> WebhookTarget:
    """The URL's parts, or :class:`WebhookConfigError` (the message never shows the URL's query)."""
    if not url:
        raise WebhookConfigError("no URL: set ARCHIVIST_SUPERVISION_WEBHOOK_URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise WebhookConfigError(f"the webhook URL does not parse ({_port_or_host(error)})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise WebhookConfigError("the webhook URL must be an http:// or https:// URL")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise WebhookConfigError("the webhook URL names no host")
    if parts.username is not None or parts.password is not None:
        raise WebhookConfigError("the webhook URL may not carry credentials (the signature authenticates us)")
    if parts.fragment:
        raise WebhookConfigError("the webhook URL may not have a #fragment")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        why = refused_address(literal)
        if why is not None:
            raise WebhookConfigError(f"the webhook URL's address {literal} is {why}: not allowed")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return WebhookTarget(scheme, host, port or _DEFAULT_PORTS[scheme], path)


def _port_or_host(error: ValueError) -> str:
    return "its port is not a number from 0 to 65535" if "port" in str(error).lower() else "its host"


@dataclass(frozen=True)
class WebhookConfig:
    """Where and how escalation notices are sent. ``url`` and ``secret`` stay out of ``repr``."""

    url: str = field(repr=False)
    secret: str = field(repr=False)
    timeout: float = 10.0
    """The longest one POST may take (resolving, connecting, TLS, sending, the answer)."""
    max_attempts: int = 12
    backoff_initial: float = 30.0
    backoff_maximum: float = 3600.0
    max_age: timedelta = timedelta(hours=72)
    tls_ca_file: Path | None = None
    """The CA bundle an https:// receiver's certificate must chain to; None: the system's CAs."""
    target: WebhookTarget = field(init=False, repr=False)
    tls: ssl.SSLContext = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.secret:
            raise WebhookConfigError("no secret: set ARCHIVIST_SUPERVISION_WEBHOOK_SECRET")
        if len(self.secret) < MIN_SECRET_LENGTH:
            raise WebhookConfigError(
                f"the webhook secret must have at least {MIN_SECRET_LENGTH} characters "
                f"(it has {len(self.secret)}); e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        if self.timeout <= 0 or self.max_attempts < 1 or self.backoff_initial <= 0 or self.backoff_maximum <= 0:
            raise WebhookConfigError("the timeout, attempts and backoff delays must be positive")
        object.__setattr__(self, "target", parse_webhook_url(self.url))
        object.__setattr__(self, "tls", _tls_context(self.tls_ca_file))


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
    except (OSError, ssl.SSLError) as error:
        raise WebhookConfigError(f"the webhook's CA file {ca_file} cannot be used: {error}") from None


# --- one POST -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PostResult:
    """What one POST came to: an HTTP ``status`` or, when there was no answer, ``error``."""

    status: int | None
    error: str | None = None
    answer: str = ""
    retry_after: float | None = None
    location: str | None = None


Post = Callable[[WebhookTarget, bytes, Mapping[str, str], float, ssl.SSLContext], PostResult]


class _Deadline:
    """Shuts the POST's socket down at its deadline: a receiver trickling bytes cannot hold it."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.fired = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sock = sock
            if self.fired:
                _shut_down(sock)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            if self._sock is not None:
                _shut_down(self._sock)

    def cancel(self) -> None:
        self._timer.cancel()


def _shut_down(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # closed already


def http_post(
    target: WebhookTarget, body: bytes, headers: Mapping[str, str], timeout: float, tls: ssl.SSLContext | None = None
) -> PostResult:
    """POST ``body`` to ``target`` within ``timeout`` seconds in all; redirects are not followed.
    ``tls``: how an https:// receiver is checked (default: against the system's CAs).

    The host is resolved once; every address is checked (:func:`archive.fetch.refused_address`)
    and the connection goes to a checked address, with the name in ``Host`` and TLS's SNI and
    certificate check."""
    deadline = _Deadline(timeout)
    try:
        return _post(target, body, headers, timeout, deadline, tls or ssl.create_default_context())
    finally:
        deadline.cancel()


def _post(
    target: WebhookTarget,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    deadline: _Deadline,
    tls: ssl.SSLContext,
) -> PostResult:
    timed_out = PostResult(None, f"timed out after {timeout:g} s")
    try:
        addresses = _addresses(target)
    except WebhookConfigError as error:
        return PostResult(None, str(error))
    except (OSError, UnicodeError, ValueError) as error:
        return PostResult(None, f"cannot resolve {target.host}: {error}")
    failure = "no address"
    for address in addresses:
        if deadline.left() <= 0:
            return timed_out
        try:
            sock = socket.create_connection((address, target.port), timeout=deadline.left())
        except TimeoutError:
            return timed_out
        except OSError as error:
            failure = _connect_failure(error)
            continue
        deadline.watch(sock)
        try:
            result = _exchange(sock, target, body, headers, deadline, tls)
            # A socket shut at the deadline reads as the end of the answer: not an answer.
            return timed_out if deadline.fired else result
        except (OSError, http.client.HTTPException) as error:
            if deadline.fired or isinstance(error, TimeoutError) or deadline.left() <= 0:
                return timed_out
            return PostResult(None, f"{type(error).__name__}: {error}")
        finally:
            sock.close()
    return PostResult(None, f"could not connect to {target.host}:{target.port} ({failure})")


def _addresses(target: WebhookTarget) -> list[str]:
    try:
        found = [ipaddress.ip_address(target.host)]
    except ValueError:
        found = [ipaddress.ip_address(one.split("%", 1)[0]) for one in resolve(target.host, target.port)]
    for address in found:
        why = refused_address(address)
        if why is not None:
            raise WebhookConfigError(f"{target.host} resolves to {address}, {why}: not sent")
    return [str(address) for address in found]


def _connect_failure(error: OSError) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return error.strerror or str(error)


def _exchange(
    sock: socket.socket,
    target: WebhookTarget,
    body: bytes,
    headers: Mapping[str, str],
    deadline: _Deadline,
    tls: ssl.SSLContext,
) -> PostResult:
    if target.scheme == "https":
        sock = tls.wrap_socket(sock, server_hostname=target.host)
        deadline.watch(sock)
    connection = http.client.HTTPConnection(target.host, target.port, timeout=max(0.001, deadline.left()))
    connection.sock = sock
    try:
        connection.request("POST", target.path, body=body, headers={"Host": target.host_header, **headers})
        response = connection.getresponse()
        answer = response.read(_ANSWER_BYTES).decode("utf-8", errors="replace")
    finally:
        connection.close()  # the TLS socket too
    return PostResult(
        response.status,
        answer=" ".join(answer.split())[:_SHOWN_ANSWER_CHARS],
        retry_after=_seconds(response.getheader("Retry-After")),
        location=response.getheader("Location"),
    )


def _seconds(value: str | None) -> float | None:
    if value is None or not value.strip().isdigit():
        return None  # an HTTP date is not honoured: our backoff applies
    return float(value.strip())


# --- the deliverer ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A delivery this deliverer leased: its ``attempt`` (1 for the first) and the lease's end."""

    delivery_id: str
    kind: str
    body: str
    created_at: datetime
    attempt: int
    lease_until: datetime


@dataclass(frozen=True)
class Attempt:
    """One attempt's outcome, as recorded."""

    delivery_id: str
    attempt: int
    outcome: Outcome
    status: int | None
    error: str | None
    next_attempt_at: datetime | None


@dataclass
class NotifyReport:
    attempts: list[Attempt] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for one in self.attempts if one.outcome == outcome)


def delivery_state(row: Mapping[str, object]) -> DeliveryState:
    """A delivery row's state: pending (never tried), retrying, delivered or gave_up."""
    if row["delivered_at"] is not None:
        return "delivered"
    last_error = row["last_error"]
    if isinstance(last_error, str) and last_error.startswith(GAVE_UP):
        return "gave_up"
    return "retrying" if row["attempts"] else "pending"


class WebhookDeliverer:
    """Sends due escalation notices (see the module's design). ``clock``, ``jitter`` (a number
    in [0, 1)) and ``post`` are injectable; ``engine`` may be None for :meth:`backoff` alone."""

    def __init__(
        self,
        engine: Engine | None,
        config: WebhookConfig,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
        post: Post = http_post,
    ) -> None:
        self._engine = engine
        self.config = config
        self._clock = clock
        self._jitter = jitter
        self._post = post
        self.lease = timedelta(seconds=config.timeout) + LEASE_MARGIN

    def backoff(self, attempt: int) -> float:
        """Seconds before the attempt after ``attempt`` (1-based): half of the doubling base
        (capped at the maximum) plus a random share of the other half."""
        base = min(self.config.backoff_maximum, self.config.backoff_initial * 2.0 ** min(attempt - 1, 62))
        return base / 2 + base / 2 * self._jitter()

    def claim_one(self) -> Claim | None:
        """Lease the most overdue delivery, or None when nothing is due (one short transaction)."""
        engine = self._require_engine()
        now = self._clock()
        due = and_(
            deliveries.c.delivered_at.is_(None),
            deliveries.c.next_attempt_at <= now,
            or_(deliveries.c.last_error.is_(None), not_(deliveries.c.last_error.startswith(GAVE_UP))),
        )
        with engine.begin() as connection:
            query = (
                select(
                    deliveries.c.id,
                    deliveries.c.kind,
                    deliveries.c.body,
                    deliveries.c.created_at,
                    deliveries.c.attempts,
                )
                .where(due)
                .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
                .limit(1)
            )
            if connection.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            row = connection.execute(query).first()
            if row is None:
                return None
            lease_until = now + self.lease
            taken = connection.execute(
                update(deliveries)
                .where(deliveries.c.id == row.id, deliveries.c.attempts == row.attempts, due)
                .values(attempts=row.attempts + 1, next_attempt_at=lease_until)
            ).rowcount
        if taken != 1:
            return None  # another deliverer took it between the read and the update
        return Claim(row.id, row.kind, row.body, row.created_at, row.attempts + 1, lease_until)

    def send(self, claim: Claim) -> PostResult:
        """POST the claimed notice, signed now, within the timeout."""
        body = claim.body.encode("utf-8")
        headers = signed_headers(self.config.secret, claim.delivery_id, claim.kind, body, self._clock())
        return self._post(self.config.target, body, headers, self.config.timeout, self.config.tls)

    def record(
        self, claim: Claim, *, status: int | None, error: str | None, retry_after: float | None
    ) -> Attempt | None:
        """Write the attempt's outcome; None when the claim was lost (its lease ended and another
        deliverer took the row), in which case nothing is written."""
        engine = self._require_engine()
        now = self._clock()
        values: dict[str, object] = {"last_status": status}
        next_attempt_at: datetime | None = None
        if status is not None and 200 <= status < 300:
            outcome: Outcome = "delivered"
            values.update(delivered_at=now, last_error=None, next_attempt_at=now)
        else:
            reason = error or f"HTTP {status}"
            delay = self.backoff(claim.attempt)
            if retry_after is not None:
                delay = max(delay, min(retry_after, self.config.backoff_maximum))
            next_attempt_at = now + timedelta(seconds=delay)
            if _permanent(status):
                outcome, values["last_error"] = "gave_up", f"{GAVE_UP}: {reason}"
            elif claim.attempt >= self.config.max_attempts:
                outcome, values["last_error"] = "gave_up", f"{GAVE_UP} after {claim.attempt} attempts: {reason}"
            elif next_attempt_at > claim.created_at + self.config.max_age:
                hours = self.config.max_age.total_seconds() / 3600
                outcome = "gave_up"
                values["last_error"] = f"{GAVE_UP}: older than {hours:g} h by the next attempt: {reason}"
            else:
                outcome, values["last_error"] = "retry", reason
            if outcome == "gave_up":
                next_attempt_at = None
            values["next_attempt_at"] = next_attempt_at or now
        with engine.begin() as connection:
            written = connection.execute(
                update(deliveries)
                .where(
                    deliveries.c.id == claim.delivery_id,
                    deliveries.c.attempts == claim.attempt,
                    deliveries.c.next_attempt_at == claim.lease_until,
                    deliveries.c.delivered_at.is_(None),
                )
                .values(**values)
            ).rowcount
        if written != 1:
            log.warning("webhook delivery %s: attempt %d's lease was lost; outcome not recorded", *_ids(claim))
            return None
        attempt = Attempt(
            claim.delivery_id, claim.attempt, outcome, status, _str_or_none(values.get("last_error")), next_attempt_at
        )
        log.info(
            "webhook delivery %s attempt %d: %s (%s)",
            claim.delivery_id,
            claim.attempt,
            outcome,
            status if status is not None else attempt.error,
        )
        return attempt

    def requeue_given_up(self) -> list[str]:
        """Give every notice that was given up a new series of attempts (``attempts`` back to 0,
        due now, ``last_error`` cleared; ``last_status`` kept until the next attempt): for after
        the receiver or the URL was fixed. Returns their ids."""
        engine = self._require_engine()
        given_up = and_(deliveries.c.delivered_at.is_(None), deliveries.c.last_error.startswith(GAVE_UP))
        with engine.begin() as connection:
            ids = list(
                connection.execute(
                    select(deliveries.c.id).where(given_up).order_by(deliveries.c.created_at, deliveries.c.id)
                ).scalars()
            )
            if ids:
                connection.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(ids), given_up)
                    .values(attempts=0, next_attempt_at=self._clock(), last_error=None)
                )
        return ids

    def deliver_due(self, limit: int = 100, should_stop: Callable[[], bool] = lambda: False) -> NotifyReport:
        """Claim, send and record due deliveries one at a time, up to ``limit``, until none is due."""
        report = NotifyReport()
        while len(report.attempts) < limit and not should_stop():
            claim = self.claim_one()
            if claim is None:
                break
            result = self.send(claim)
            error = result.error
            if result.status is not None and 300 <= result.status < 400:
                error = f"HTTP {result.status}: a redirect (to {result.location or 'nowhere'}) is not followed"
            elif result.status is not None and not 200 <= result.status < 300:
                error = f"HTTP {result.status}" + (f": {result.answer}" if result.answer else "")
            attempt = self.record(claim, status=result.status, error=error, retry_after=result.retry_after)
            if attempt is not None:
                report.attempts.append(attempt)
        return report

    def follow(
        self,
        interval: float,
        sleep: Callable[[float], object],
        should_stop: Callable[[], bool],
        limit: int = 100,
    ) -> NotifyReport:
        """Deliver what is due, then sleep ``interval`` seconds whenever nothing was, until
        ``should_stop()``."""
        total = NotifyReport()
        while not should_stop():
            report = self.deliver_due(limit, should_stop)
            total.attempts.extend(report.attempts)
            if not report.attempts and not should_stop():
                sleep(interval)
        return total

    def _require_engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("this deliverer has no database")
        return self._engine


def _permanent(status: int | None) -> bool:
    if status is None:
        return False
    return 300 <= status < 400 or (400 <= status < 500 and status not in RETRIED_CLIENT_ERRORS)


def _ids(claim: Claim) -> tuple[str, int]:
    return claim.delivery_id, claim.attempt


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None
