"""The review queues: listing items (filtered, oldest first, paged by a cursor, each with its SLA
age) and every change a reviewer makes to one: start, assign, escalate, close with a
disposition, bulk close as false positive, reopen.

Every change is checked and recorded three ways that cannot disagree: the item row, a
``supervision_item_actions`` row (who, their role, when, the action, ``before`` and ``after``
``{state, disposition, assignee}``, the comment) and an audit entry with the same before and
after and the history row's ``seq``. The item row is locked (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite transactions begin ``IMMEDIATE``) and its state checked under the lock, so
two reviewers acting at once get one change and one refusal. The item, its history and (for an
escalation) the webhook notice commit in one transaction; the audit entries are appended after
that commit, as every audited change of this code base is (the audit log is its own chain,
written in its own transaction; see :mod:`review.coding`). A refusal changes and audits nothing.

Refusals: :class:`ItemNotFound` (no such item), :class:`ItemConflict` (the item's state does not
allow the change: HTTP 409), :class:`ItemInvalid` (a comment missing or too long, too many ids,
a bad cursor: HTTP 422).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    and_,
    bindparam,
    false,
    func,
    insert,
    not_,
    or_,
    select,
    true,
    tuple_,
    update,
)

from archive import audit
from archive.principals import Principal
from supervision.model import COMMENT_REQUIRED, DISPOSITIONS, ITEM_STATES, Disposition, ItemReason, ItemState
from supervision.notices import record_escalation
from supervision.schema import (
    supervision_item_actions,
    supervision_items,
    supervision_policies,
    supervision_policy_versions,
)

OPEN_STATES: tuple[ItemState, ...] = ("pending", "in_review", "escalated")
MAX_COMMENT = 4_000
"""Characters of a reviewer's comment."""
MAX_BULK = 500
"""Items one bulk close may name."""
MAX_PAGE = 200
DEFAULT_PAGE = 50

items = supervision_items.c
actions = supervision_item_actions.c


class ItemNotFound(LookupError):
    """No review item has this id."""


class ItemConflict(ValueError):
    """The item's state does not allow the change (it is closed, already escalated, ...)."""


class ItemInvalid(ValueError):
    """The request itself is wrong: a comment missing or too long, too many ids, a bad cursor."""


# --- what the queue shows ------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyVersionFacts:
    name: str
    sla_hours: int
    reviewers: tuple[str, ...]
    escalation_reviewers: tuple[str, ...]


class _VersionCache:
    """The facts of each policy version the queue needs (its SLA, its escalation reviewers, its
    name then). A version is never changed once saved, so what is read once stays true."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._facts: dict[tuple[str, int], PolicyVersionFacts] = {}

    def all(self, connection: Connection) -> dict[tuple[str, int], PolicyVersionFacts]:
        """Every version's facts (the specs of those not read yet are read now)."""
        keys = {
            (policy_id, version)
            for policy_id, version in connection.execute(
                select(supervision_policy_versions.c.policy_id, supervision_policy_versions.c.version)
            )
        }
        return self.of(connection, keys)

    def of(self, connection: Connection, keys: set[tuple[str, int]]) -> dict[tuple[str, int], PolicyVersionFacts]:
        with self._lock:
            missing = [key for key in keys if key not in self._facts]
        if missing:
            rows = connection.execute(
                select(
                    supervision_policy_versions.c.policy_id,
                    supervision_policy_versions.c.version,
                    supervision_policy_versions.c.spec,
                ).where(
                    tuple_(supervision_policy_versions.c.policy_id, supervision_policy_versions.c.version).in_(missing)
                )
            )
            found = {
                (policy_id, version): PolicyVersionFacts(
                    name=str(spec.get("name", "")),
                    sla_hours=int(spec.get("sla_hours", 72)),
                    reviewers=tuple(spec.get("reviewers", ())),
                    escalation_reviewers=tuple(spec.get("escalation_reviewers", ())),
                )
                for policy_id, version, spec in rows
            }
            with self._lock:
                self._facts.update(found)
        with self._lock:
            return {key: self._facts[key] for key in keys if key in self._facts}


_versions = _VersionCache()


class QueueFilter(BaseModel):
    """Which items: ``states`` (none: every state), ``assignee`` (a reviewer's label),
    ``unassigned``, ``policy_id``, ``reason``, ``overdue`` (True: open and older than their
    policy version's SLA; False: the others)."""

    states: tuple[ItemState, ...] = ()
    assignee: str | None = None
    unassigned: bool = False
    policy_id: str | None = None
    reason: ItemReason | None = None
    overdue: bool | None = None


class QueueRow(BaseModel):
    id: str
    policy_id: str
    policy_name: str
    policy_version: int
    message_id: str
    room_id: str
    sender: str
    sent_at: datetime
    reason: ItemReason
    terms: list[str]
    state: ItemState
    disposition: Disposition | None
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    sla_hours: int
    age_hours: float
    """Hours open: from the item's creation to now (to its closing, once closed)."""
    overdue: bool
    """Open and older than its policy version's SLA."""


class QueuePage(BaseModel):
    items: list[QueueRow]
    next_cursor: str | None
    counts: dict[str, int]
    """Open items per state, of the whole queue (every policy, every reviewer)."""


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _encode_cursor(created_at: datetime, item_id: str) -> str:
    document = json.dumps([_aware(created_at).isoformat(), item_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def _decode_cursor(text: str) -> tuple[datetime, str]:
    try:
        moment, item_id = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        return _aware(datetime.fromisoformat(moment)), str(item_id)
    except (ValueError, TypeError, binascii.Error) as error:
        raise ItemInvalid("cursor: not a cursor the queue handed out; start again without one") from error


def _overdue_condition(facts: dict[tuple[str, int], PolicyVersionFacts], now: datetime) -> ColumnElement[bool]:
    """Open and created before ``now`` minus its policy version's SLA (versions grouped by SLA)."""
    by_sla: dict[int, list[tuple[str, int]]] = {}
    for key, fact in facts.items():
        by_sla.setdefault(fact.sla_hours, []).append(key)
    if not by_sla:
        return false()
    late = or_(
        *(
            and_(
                tuple_(items.policy_id, items.policy_version).in_(sorted(keys)),
                items.created_at < now - timedelta(hours=sla),
            )
            for sla, keys in sorted(by_sla.items())
        )
    )
    # The bounds every SLA shares, so the index's range starts (or ends) there.
    oldest_due = now - timedelta(hours=min(by_sla))
    return and_(items.state.in_(OPEN_STATES), items.created_at < oldest_due, late)


def _on_time_condition(facts: dict[tuple[str, int], PolicyVersionFacts], now: datetime) -> ColumnElement[bool]:
    """Not overdue: closed, or open within its policy version's SLA."""
    condition = not_(_overdue_condition(facts, now))
    if facts:
        newest_due = now - timedelta(hours=max(fact.sla_hours for fact in facts.values()))
        condition = and_(condition, or_(items.state == "closed", items.created_at >= newest_due))
    return condition


def _row(row: Any, facts: dict[tuple[str, int], PolicyVersionFacts], names: dict[str, str], now: datetime) -> QueueRow:
    fact = facts.get((row.policy_id, row.policy_version))
    sla = fact.sla_hours if fact else 72
    created = _aware(row.created_at)
    until = _aware(row.closed_at) if row.closed_at is not None else now
    age = (until - created).total_seconds() / 3600
    return QueueRow(
        id=row.id,
        policy_id=row.policy_id,
        policy_name=names.get(row.policy_id) or (fact.name if fact else row.policy_id),
        policy_version=row.policy_version,
        message_id=row.message_id,
        room_id=row.room_id,
        sender=row.sender,
        sent_at=_aware(row.sent_at),
        reason=row.reason,
        terms=list(dict.fromkeys(str(match.get("term_id")) for match in row.matches or [])),
        state=row.state,
        disposition=row.disposition,
        assignee=row.assignee,
        created_at=created,
        updated_at=_aware(row.updated_at),
        closed_at=_aware(row.closed_at) if row.closed_at is not None else None,
        sla_hours=sla,
        age_hours=round(age, 2),
        overdue=row.state in OPEN_STATES and age > sla,
    )


_LISTED = (
    items.id,
    items.policy_id,
    items.policy_version,
    items.message_id,
    items.room_id,
    items.sender,
    items.sent_at,
    items.reason,
    items.matches,
    items.state,
    items.disposition,
    items.assignee,
    items.created_at,
    items.updated_at,
    items.closed_at,
)


def _filter_conditions(
    wanted: QueueFilter, facts: dict[tuple[str, int], PolicyVersionFacts], moment: datetime
) -> list[ColumnElement[bool]]:
    """What a view asks of its items beyond their states (the queue and its neighbours share it)."""
    conditions: list[ColumnElement[bool]] = []
    if wanted.unassigned:
        conditions.append(items.assignee.is_(None))
    elif wanted.assignee is not None:
        conditions.append(items.assignee == wanted.assignee)
    if wanted.policy_id is not None:
        conditions.append(items.policy_id == wanted.policy_id)
    if wanted.reason is not None:
        conditions.append(items.reason == wanted.reason)
    if wanted.overdue is not None:
        conditions.append(_overdue_condition(facts, moment) if wanted.overdue else _on_time_condition(facts, moment))
    return conditions


def queue(
    engine: Engine,
    wanted: QueueFilter,
    *,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
    now: datetime | None = None,
) -> QueuePage:
    """A page of the queue, oldest first (by creation, then id), after ``cursor``.

    One query per state asked, each an ordered range of ``ix_supervision_items_queue`` (state,
    created_at) cut at ``limit + 1``, merged here: PostgreSQL answers ``state IN (...) ORDER BY
    created_at`` by sorting every matching row, which costs more the longer the queue."""
    if not 1 <= limit <= MAX_PAGE:
        raise ItemInvalid(f"limit: between 1 and {MAX_PAGE}")
    moment = _now(now)
    after = _decode_cursor(cursor) if cursor else None
    with engine.connect() as connection:
        facts = _versions.all(connection)
        conditions = _filter_conditions(wanted, facts, moment)
        if after is not None:
            conditions.append(or_(items.created_at > after[0], and_(items.created_at == after[0], items.id > after[1])))
        found: list[Any] = []
        for state in dict.fromkeys(wanted.states or ITEM_STATES):
            query = (
                select(*_LISTED)
                .where(items.state == state, *conditions)
                .order_by(items.created_at, items.id)
                .limit(limit + 1)
            )
            found.extend(connection.execute(query).all())
        found.sort(key=lambda row: (_aware(row.created_at), row.id))
        page, more = found[:limit], len(found) > limit
        names = _policy_names(connection, {row.policy_id for row in page})
        counts = counts_by_state(connection)
    rows = [_row(row, facts, names, moment) for row in page]
    next_cursor = _encode_cursor(page[-1].created_at, page[-1].id) if more and page else None
    return QueuePage(items=rows, next_cursor=next_cursor, counts=counts)


def _policy_names(connection: Connection, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = connection.execute(
        select(supervision_policies.c.id, supervision_policies.c.name).where(supervision_policies.c.id.in_(sorted(ids)))
    )
    return {row.id: row.name for row in rows}


def counts_by_state(connection: Connection) -> dict[str, int]:
    """Open items per state (each open state named, 0 when none). Closed items are not counted:
    most of a worked queue is closed, and counting them would cost every page a scan of them."""
    counted: dict[str, int] = dict(
        connection.execute(
            select(items.state, func.count()).where(items.state.in_(OPEN_STATES)).group_by(items.state)
        ).all()
    )
    return {state: int(counted.get(state, 0)) for state in OPEN_STATES}


def neighbours(engine: Engine, item_id: str, wanted: QueueFilter) -> tuple[str | None, str | None]:
    """The items before and after ``item_id`` in the queue ``wanted`` (oldest first)."""
    with engine.connect() as connection:
        row = connection.execute(select(items.created_at, items.id).where(items.id == item_id)).first()
        if row is None:
            raise ItemNotFound(f"no review item {item_id}")
        facts = _versions.all(connection) if wanted.overdue is not None else {}
        conditions: list[ColumnElement[bool]] = [true()]
        if wanted.states:
            conditions.append(items.state.in_(wanted.states))
        conditions += _filter_conditions(wanted, facts, datetime.now(UTC))
        at, own = row.created_at, row.id
        earlier = or_(items.created_at < at, and_(items.created_at == at, items.id < own))
        later = or_(items.created_at > at, and_(items.created_at == at, items.id > own))
        previous = connection.execute(
            select(items.id).where(earlier, *conditions).order_by(items.created_at.desc(), items.id.desc()).limit(1)
        ).scalar()
        following = connection.execute(
            select(items.id).where(later, *conditions).order_by(items.created_at, items.id).limit(1)
        ).scalar()
    return previous, following


# --- one item ------------------------------------------------------------------------------------


class ItemAction(BaseModel):
    """One row of an item's history."""

    seq: int
    item_id: str
    action: str
    actor: str
    role: str
    at: datetime
    before: dict[str, Any]
    after: dict[str, Any]
    comment: str | None


class ItemView(BaseModel):
    item: QueueRow
    event_id: str
    hit_event_id: str
    matches: list[dict[str, Any]]
    reviewers: list[str]
    """The reviewers of the policy version that made the item."""
    escalation_reviewers: list[str]


def get_item(engine: Engine, item_id: str, now: datetime | None = None) -> ItemView:
    """The item with its policy (name and version), SLA age and matches; ItemNotFound else."""
    with engine.connect() as connection:
        row = connection.execute(
            select(*_LISTED, items.event_id, items.hit_event_id).where(items.id == item_id)
        ).first()
        if row is None:
            raise ItemNotFound(f"no review item {item_id}")
        facts = _versions.of(connection, {(row.policy_id, row.policy_version)})
        names = _policy_names(connection, {row.policy_id})
    fact = facts.get((row.policy_id, row.policy_version))
    return ItemView(
        item=_row(row, facts, names, _now(now)),
        event_id=row.event_id,
        hit_event_id=row.hit_event_id,
        matches=list(row.matches or []),
        reviewers=list(fact.reviewers) if fact else [],
        escalation_reviewers=list(fact.escalation_reviewers) if fact else [],
    )


def history(engine: Engine, item_id: str) -> list[ItemAction]:
    """Every change of the item, oldest first; ItemNotFound when there is no such item."""
    with engine.connect() as connection:
        if connection.execute(select(items.id).where(items.id == item_id)).first() is None:
            raise ItemNotFound(f"no review item {item_id}")
        rows = connection.execute(
            select(supervision_item_actions).where(actions.item_id == item_id).order_by(actions.seq)
        )
        return [
            ItemAction(
                seq=row.seq,
                item_id=row.item_id,
                action=row.action,
                actor=row.actor,
                role=row.role,
                at=_aware(row.at),
                before=row.before,
                after=row.after,
                comment=row.comment,
            )
            for row in rows
        ]


# --- changes -------------------------------------------------------------------------------------


Snapshot = dict[str, str | None]


@dataclass(frozen=True)
class Change:
    """What one action did to one item: the history row's ``seq`` and the before and after."""

    item_id: str
    action: str
    seq: int
    before: Snapshot
    after: Snapshot
    comment: str | None


def _comment(comment: str | None, required: bool, why: str) -> str | None:
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise ItemInvalid(f"comment: at most {MAX_COMMENT} characters (this one has {len(text)})")
    if required and not text:
        raise ItemInvalid(f"comment: required to {why}")
    return text or None


def _snapshot(row: Any) -> Snapshot:
    return {"state": row.state, "disposition": row.disposition, "assignee": row.assignee}


Decide = Callable[[Any], Snapshot]
"""Given the locked item row, the state it moves to (or raises ItemConflict)."""


def _change(
    engine: Engine,
    caller: Principal,
    item_ids: Sequence[str],
    action: str,
    decide: Decide,
    comment: str | None,
    now: datetime | None,
    *,
    escalation: Callable[[Connection, Any, Snapshot], dict[str, Any]] | None = None,
    audit_extra: dict[str, Any] | None = None,
) -> list[Change]:
    """Lock the items, decide each one's new state, write items and history (and an escalation's
    notice) in one transaction; then append one audit entry per item (see the module doc)."""
    moment = _now(now)
    ids = sorted(set(item_ids))
    with engine.begin() as connection:
        query = select(
            items.id,
            items.policy_id,
            items.policy_version,
            items.message_id,
            items.room_id,
            items.sender,
            items.state,
            items.disposition,
            items.assignee,
        ).where(items.id.in_(ids))
        if connection.dialect.name == "postgresql":
            query = query.order_by(items.id).with_for_update()
        locked = {row.id: row for row in connection.execute(query)}
        missing = [item_id for item_id in ids if item_id not in locked]
        if missing:
            raise ItemNotFound(f"no review item {missing[0]}")
        decided = [(locked[item_id], decide(locked[item_id])) for item_id in ids]
        values = []
        history_rows = []
        notices: dict[str, dict[str, Any]] = {}
        for row, after in decided:
            closing = after["state"] == "closed"
            values.append(
                {
                    "b_id": row.id,
                    "b_state": after["state"],
                    "b_disposition": after["disposition"],
                    "b_assignee": after["assignee"],
                    "b_closed_at": moment if closing else None,
                }
            )
            history_rows.append(
                {
                    "item_id": row.id,
                    "action": action,
                    "actor": caller.label,
                    "role": caller.role,
                    "at": moment,
                    "before": _snapshot(row),
                    "after": after,
                    "comment": comment,
                }
            )
            if escalation is not None:
                notices[row.id] = escalation(connection, row, after)
        connection.execute(
            update(supervision_items)
            .where(items.id == bindparam("b_id"))
            .values(
                state=bindparam("b_state"),
                disposition=bindparam("b_disposition"),
                assignee=bindparam("b_assignee"),
                closed_at=bindparam("b_closed_at"),
                updated_at=moment,
            ),
            values,
        )
        seqs = (
            connection.execute(
                insert(supervision_item_actions).returning(actions.seq, sort_by_parameter_order=True), history_rows
            )
            .scalars()
            .all()
        )
        for item_id, body in notices.items():
            record_escalation(connection, item_id, body, moment)
        changes = [
            Change(row["item_id"], action, int(seq), row["before"], row["after"], comment)
            for row, seq in zip(history_rows, seqs, strict=True)
        ]
        # The audit entries commit with the change they record: evidence of review never misses
        # a change that happened, nor records one that rolled back.
        audit.append_entries(
            connection,
            [
                audit.new_entry(
                    caller,
                    f"supervision_item_{action}",
                    {
                        "item_id": change.item_id,
                        "history_seq": change.seq,
                        "before": change.before,
                        "after": change.after,
                        "comment": change.comment,
                        **(audit_extra or {}),
                    },
                )
                for change in changes
            ],
        )
    return changes


def _open(row: Any, doing: str) -> None:
    if row.state == "closed":
        raise ItemConflict(f"item {row.id} is closed ({row.disposition}): it cannot be {doing}; reopen it first")


def start(engine: Engine, caller: Principal, item_id: str, now: datetime | None = None) -> Change:
    """Pending to in review; the caller becomes the assignee when there is none."""

    def decide(row: Any) -> Snapshot:
        if row.state != "pending":
            raise ItemConflict(
                f"item {row.id} is {row.state.replace('_', ' ')}, not pending: only a pending item can be started"
            )
        return {"state": "in_review", "disposition": None, "assignee": row.assignee or caller.label}

    return _change(engine, caller, [item_id], "start", decide, None, now)[0]


def assign(
    engine: Engine,
    caller: Principal,
    item_id: str,
    assignee: str | None,
    comment: str | None = None,
    now: datetime | None = None,
) -> Change:
    """Give an open item to ``assignee`` (a reviewer's label; None: to nobody)."""
    target = (assignee or "").strip() or None
    if target is not None and len(target) > 200:
        raise ItemInvalid("assignee: at most 200 characters")
    note = _comment(comment, False, "assign")

    def decide(row: Any) -> Snapshot:
        _open(row, "assigned")
        if row.assignee == target:
            who = f"to {target}" if target else "to nobody"
            raise ItemConflict(f"item {row.id} is assigned {who} already")
        return {"state": row.state, "disposition": None, "assignee": target}

    return _change(engine, caller, [item_id], "assign", decide, note, now)[0]


def escalate(
    engine: Engine,
    caller: Principal,
    item_id: str,
    comment: str | None,
    now: datetime | None = None,
    public_base_url: str | None = None,
) -> Change:
    """Pending or in review to escalated, given to the policy version's first escalation
    reviewer (left to the previous assignee when it names none), with a webhook notice queued in
    the same transaction (``link``: the item page's path; ``url``: its address under
    ``public_base_url``, None without one). A comment is required."""
    note = _comment(comment, "escalated" in COMMENT_REQUIRED, "escalate")
    moment = _now(now)
    with engine.connect() as connection:
        facts = _versions.all(connection)

    def decide(row: Any) -> Snapshot:
        _open(row, "escalated")
        if row.state == "escalated":
            raise ItemConflict(f"item {row.id} is escalated already")
        fact = facts.get((row.policy_id, row.policy_version))
        to = fact.escalation_reviewers[0] if fact and fact.escalation_reviewers else row.assignee
        return {"state": "escalated", "disposition": None, "assignee": to}

    def notice(connection: Connection, row: Any, after: Snapshot) -> dict[str, Any]:
        fact = facts.get((row.policy_id, row.policy_version))
        names = _policy_names(connection, {row.policy_id})
        return {
            "item_id": row.id,
            "policy": {
                "id": row.policy_id,
                "name": names.get(row.policy_id) or (fact.name if fact else ""),
                "version": row.policy_version,
            },
            "message_id": row.message_id,
            "room_id": row.room_id,
            "sender": row.sender,
            "escalated_by": caller.label,
            "escalation_reviewers": list(fact.escalation_reviewers) if fact else [],
            "assignee": after["assignee"],
            "comment": note,
            "escalated_at": moment.isoformat(),
            "link": f"/supervision/items/{row.id}",
            "url": f"{public_base_url.rstrip('/')}/supervision/items/{row.id}" if public_base_url else None,
        }

    return _change(engine, caller, [item_id], "escalate", decide, note, moment, escalation=notice)[0]


def _closing(row: Any, disposition: Disposition, caller: Principal) -> Snapshot:
    _open(row, "closed again")
    return {"state": "closed", "disposition": disposition, "assignee": row.assignee or caller.label}


def _disposition(disposition: str) -> Disposition:
    if disposition not in DISPOSITIONS:
        raise ItemInvalid(f"disposition: one of {', '.join(DISPOSITIONS)}, not {disposition!r}")
    chosen: Disposition = disposition
    return chosen


def close(
    engine: Engine,
    caller: Principal,
    item_id: str,
    disposition: str,
    comment: str | None = None,
    now: datetime | None = None,
) -> Change:
    """Close an open item with ``disposition`` (a comment is required for a breach)."""
    chosen = _disposition(disposition)
    note = _comment(comment, chosen in COMMENT_REQUIRED, f"close as {chosen.replace('_', ' ')}")
    return _change(engine, caller, [item_id], "close", lambda row: _closing(row, chosen, caller), note, now)[0]


def bulk_close_false_positives(
    engine: Engine,
    caller: Principal,
    item_ids: Sequence[str],
    comment: str | None = None,
    now: datetime | None = None,
) -> list[Change]:
    """Close every item of ``item_ids`` as a false positive, all or none: each must exist and be
    open. Each gets its own history row and audit entry (marked with the bulk's size)."""
    unique = list(dict.fromkeys(item_ids))
    if not unique:
        raise ItemInvalid("ids: name at least one item")
    if len(unique) > MAX_BULK:
        raise ItemInvalid(f"ids: at most {MAX_BULK} items at once ({len(unique)} given)")
    note = _comment(comment, False, "close")
    return _change(
        engine,
        caller,
        unique,
        "close",
        lambda row: _closing(row, "false_positive", caller),
        note,
        now,
        audit_extra={"bulk": len(unique)},
    )


def reopen(engine: Engine, caller: Principal, item_id: str, comment: str | None, now: datetime | None = None) -> Change:
    """A closed item back in review, with the caller as its reviewer; a comment is required."""
    note = _comment(comment, True, "reopen")

    def decide(row: Any) -> Snapshot:
        if row.state != "closed":
            raise ItemConflict(
                f"item {row.id} is {row.state.replace('_', ' ')}, not closed: only a closed item can be reopened"
            )
        return {"state": "in_review", "disposition": None, "assignee": caller.label}

    return _change(engine, caller, [item_id], "reopen", decide, note, now)[0]
