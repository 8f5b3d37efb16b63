"""The supervision report: per policy and per lexicon term, what was found and what the reviewers
made of it over a period, with the evidence of review and the sampling ledger.

- Items are those created in the period ``[start, end)``: how many (lexicon hits and sampled
  messages), term hits (a term matching three times in one message is three hits, one item),
  their dispositions, the false-positive rate (``false_positive`` among the closed ones), how
  many are still open and how many of those are older than the SLA (``sla_hours`` of the
  policy version that made the item) at ``now``.
- Reviewers: the actions taken in the period on the items of the policies reported, per actor
  and action (who closed how many, who escalated what), from ``supervision_item_actions``.
- The sampling ledger: per policy, the in-scope messages seen on the period's days, how many the
  lexicon matched and how many the sampling rate drew, with the share drawn.

Each table is one SQL aggregate (``GROUP BY``) over indexed columns, so 100,000 items are read
by the database, not by Python. :func:`report_csv` writes every row with exact counts.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, computed_field
from sqlalchemy import ColumnElement, Connection, and_, case, func, literal, select

from ingest.db import UtcDateTime
from supervision.model import DISPOSITIONS, PolicySpec
from supervision.schema import (
    supervision_item_actions,
    supervision_item_terms,
    supervision_items,
    supervision_policies,
    supervision_policy_versions,
    supervision_scope_days,
)

items = supervision_items
terms = supervision_item_terms


class Counts(BaseModel):
    """Items and what became of them."""

    items: int = 0
    hits: int = 0
    """Term matches (one item may hold several); for a policy: of all its terms."""
    lexicon_items: int = 0
    sampled_items: int = 0
    dispositions: dict[str, int] = Field(default_factory=lambda: {str(d): 0 for d in DISPOSITIONS})
    closed: int = 0
    open: int = 0
    overdue: int = 0
    """Open items older than the SLA of the policy version that made them."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def false_positive_rate(self) -> float | None:
        """``false_positive`` among the closed items (None when none is closed)."""
        return self.dispositions.get("false_positive", 0) / self.closed if self.closed else None


class PolicyRow(Counts):
    policy_id: str
    name: str
    sla_hours: int | None = None
    """Of the policy's current version."""


class TermRow(Counts):
    policy_id: str
    policy_name: str
    term_id: str
    expression: str | None = None
    """The term as the policy's current version has it (None: no longer in the lexicon)."""
    label: str | None = None


class ReviewerRow(BaseModel):
    actor: str
    actions: dict[str, int]
    """Actions taken in the period, per action (``start``, ``assign``, ``escalate``, ``close``,
    ``reopen``: the queue's names)."""
    closed: dict[str, int] = Field(default_factory=dict)
    """The closing actions, per disposition given."""
    total: int


class LedgerRow(BaseModel):
    policy_id: str
    name: str
    in_scope: int
    matched: int
    sampled: int
    sampling_percent: float | None = None
    """The rate the policy's current version asks for."""

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unmatched(self) -> int:
        return self.in_scope - self.matched

    @computed_field  # type: ignore[prop-decorator]
    @property
    def drawn_percent(self) -> float | None:
        """The share of the unmatched in-scope messages drawn, in per cent."""
        return 100.0 * self.sampled / self.unmatched if self.unmatched > 0 else None


class Report(BaseModel):
    start: datetime
    end: datetime
    now: datetime
    policy_id: str | None = None
    policies: list[PolicyRow]
    terms: list[TermRow]
    reviewers: list[ReviewerRow]
    ledger: list[LedgerRow]


def _in_period(start: datetime, end: datetime, policy_id: str | None) -> list[ColumnElement[bool]]:
    where = [items.c.created_at >= start, items.c.created_at < end]
    if policy_id is not None:
        where.append(items.c.policy_id == policy_id)
    return where


def _overdue(connection: Connection, now: datetime, where: list[ColumnElement[bool]]) -> ColumnElement[int]:
    """1 for an open item older than its policy version's SLA, else 0."""
    versions = connection.execute(
        select(items.c.policy_id, items.c.policy_version).where(*where, items.c.state != "closed").distinct()
    ).all()
    if not versions:
        return literal(0)
    sla = {
        (row[0], row[1]): int(row[2])
        for row in connection.execute(
            select(
                supervision_policy_versions.c.policy_id,
                supervision_policy_versions.c.version,
                supervision_policy_versions.c.spec["sla_hours"].as_integer(),
            ).where(supervision_policy_versions.c.policy_id.in_({policy for policy, _ in versions}))
        )
        if row[2] is not None
    }
    cutoff = case(
        *[
            (
                and_(items.c.policy_id == policy, items.c.policy_version == version),
                literal(now - timedelta(hours=sla[(policy, version)]), UtcDateTime()),
            )
            for policy, version in versions
            if (policy, version) in sla
        ],
        else_=None,
    )
    return case((and_(items.c.state != "closed", items.c.created_at < cutoff), 1), else_=0)


def _add(counts: Counts, reason: str, state: str, disposition: str | None, n: int, hits: int, overdue: int) -> None:
    counts.items += n
    counts.hits += hits
    if reason == "sample":
        counts.sampled_items += n
    else:
        counts.lexicon_items += n
    if state == "closed":
        counts.closed += n
        if disposition is not None:
            counts.dispositions[disposition] = counts.dispositions.get(disposition, 0) + n
    else:
        counts.open += n
    counts.overdue += overdue


def _current_specs(connection: Connection, policy_ids: Iterable[str]) -> dict[str, tuple[str, PolicySpec]]:
    wanted = sorted(set(policy_ids))
    if not wanted:
        return {}
    rows = connection.execute(
        select(supervision_policies.c.id, supervision_policies.c.name, supervision_policy_versions.c.spec)
        .join(
            supervision_policy_versions,
            and_(
                supervision_policy_versions.c.policy_id == supervision_policies.c.id,
                supervision_policy_versions.c.version == supervision_policies.c.current_version,
            ),
        )
        .where(supervision_policies.c.id.in_(wanted))
    )
    return {row[0]: (row[1], PolicySpec.model_validate(row[2])) for row in rows}


def supervision_report(
    connection: Connection, start: datetime, end: datetime, now: datetime, policy_id: str | None = None
) -> Report:
    """The report of the items created in ``[start, end)`` (of one policy, or of all), their
    SLA ages taken at ``now``."""
    where = _in_period(start, end, policy_id)
    overdue = _overdue(connection, now, where)

    by_policy = connection.execute(
        select(
            items.c.policy_id,
            items.c.reason,
            items.c.state,
            items.c.disposition,
            func.count(),
            func.coalesce(func.sum(overdue), 0),
        )
        .where(*where)
        .group_by(items.c.policy_id, items.c.reason, items.c.state, items.c.disposition)
    ).all()
    by_term = connection.execute(
        select(
            items.c.policy_id,
            terms.c.term_id,
            items.c.reason,
            items.c.state,
            items.c.disposition,
            func.count(),
            func.coalesce(func.sum(terms.c.hits), 0),
            func.coalesce(func.sum(overdue), 0),
        )
        # From the items of the period to their terms (the terms' key starts with the item id):
        # SQLite otherwise walks every term row and looks its item up.
        .select_from(items)
        .join(terms, terms.c.item_id == items.c.id)
        .where(*where)
        .group_by(items.c.policy_id, terms.c.term_id, items.c.reason, items.c.state, items.c.disposition)
    ).all()
    ledger_rows = _ledger(connection, start, end, policy_id)
    specs = _current_specs(
        connection, [row[0] for row in by_policy] + [row[0] for row in ledger_rows] + ([policy_id] if policy_id else [])
    )

    policies: dict[str, PolicyRow] = {}
    for pid, reason, state, disposition, n, late in by_policy:
        name, spec = specs.get(pid, (pid, None))
        row = policies.setdefault(pid, PolicyRow(policy_id=pid, name=name, sla_hours=spec.sla_hours if spec else None))
        _add(row, reason, state, disposition, int(n), 0, int(late))
    if policy_id is not None and policy_id in specs and policy_id not in policies:
        name, spec = specs[policy_id]
        policies[policy_id] = PolicyRow(policy_id=policy_id, name=name, sla_hours=spec.sla_hours)
    term_rows: dict[tuple[str, str], TermRow] = {}
    for pid, term_id, reason, state, disposition, n, hits, late in by_term:
        name, spec = specs.get(pid, (pid, None))
        known = {term.id: term for term in spec.lexicon} if spec else {}
        term = known.get(term_id)
        row_t = term_rows.setdefault(
            (pid, term_id),
            TermRow(
                policy_id=pid,
                policy_name=name,
                term_id=term_id,
                expression=term.expression if term else None,
                label=term.label if term else None,
            ),
        )
        _add(row_t, reason, state, disposition, int(n), int(hits), int(late))
        if pid in policies:
            policies[pid].hits += int(hits)

    return Report(
        start=start,
        end=end,
        now=now,
        policy_id=policy_id,
        policies=sorted(policies.values(), key=lambda row: (row.name.lower(), row.policy_id)),
        terms=sorted(
            term_rows.values(), key=lambda row: (row.policy_name.lower(), row.policy_id, -row.items, row.term_id)
        ),
        reviewers=_reviewers(connection, start, end, policy_id),
        ledger=[
            LedgerRow(
                policy_id=pid,
                name=specs.get(pid, (pid, None))[0],
                in_scope=int(in_scope),
                matched=int(matched),
                sampled=int(sampled),
                sampling_percent=spec.sampling_percent if (spec := specs.get(pid, (pid, None))[1]) else None,
            )
            for pid, in_scope, matched, sampled in ledger_rows
        ],
    )


def _reviewers(connection: Connection, start: datetime, end: datetime, policy_id: str | None) -> list[ReviewerRow]:
    actions = supervision_item_actions
    disposition = actions.c.after["disposition"].as_string()
    query = (
        select(actions.c.actor, actions.c.action, disposition, func.count())
        .where(actions.c.at >= start, actions.c.at < end)
        .group_by(actions.c.actor, actions.c.action, disposition)
    )
    if policy_id is not None:
        query = query.join(items, items.c.id == actions.c.item_id).where(items.c.policy_id == policy_id)
    per_actor: dict[str, dict[str, int]] = defaultdict(dict)
    closed: dict[str, dict[str, int]] = defaultdict(dict)
    for actor, action, given, n in connection.execute(query):
        per_actor[actor][action] = per_actor[actor].get(action, 0) + int(n)
        if action == "close" and given:
            closed[actor][given] = closed[actor].get(given, 0) + int(n)
    return [
        ReviewerRow(
            actor=actor,
            actions=dict(sorted(done.items())),
            closed=dict(sorted(closed[actor].items())),
            total=sum(done.values()),
        )
        for actor, done in sorted(per_actor.items(), key=lambda pair: (-sum(pair[1].values()), pair[0]))
    ]


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    """The ledger's days that ``[start, end)`` touches (UTC)."""
    return start.date(), (end - timedelta(microseconds=1)).date()


def _ledger(connection: Connection, start: datetime, end: datetime, policy_id: str | None) -> list[Any]:
    first, last = _days(start, end)
    days = supervision_scope_days
    query = (
        select(days.c.policy_id, func.sum(days.c.in_scope), func.sum(days.c.matched), func.sum(days.c.sampled))
        .where(days.c.day >= first, days.c.day <= last)
        .group_by(days.c.policy_id)
    )
    if policy_id is not None:
        query = query.where(days.c.policy_id == policy_id)
    return list(connection.execute(query).all())


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def report_csv(report: Report) -> str:
    """Every row of the report as CSV (exact counts; rates as fractions with six decimals):
    one table after the other, each row starting with its table's name."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["# supervision report", report.start.isoformat(), report.end.isoformat(), report.now.isoformat()])
    head = [
        "items",
        "hits",
        "lexicon_items",
        "sampled_items",
        *DISPOSITIONS,
        "closed",
        "false_positive_rate",
        "open",
        "overdue",
    ]

    def counted(row: Counts) -> list[Any]:
        return [
            row.items,
            row.hits,
            row.lexicon_items,
            row.sampled_items,
            *(row.dispositions.get(d, 0) for d in DISPOSITIONS),
            row.closed,
            _rate(row.false_positive_rate),
            row.open,
            row.overdue,
        ]

    writer.writerow(["table", "policy_id", "policy", "sla_hours", *head])
    for policy in report.policies:
        writer.writerow(["policy", policy.policy_id, policy.name, policy.sla_hours or "", *counted(policy)])
    writer.writerow(["table", "policy_id", "policy", "term_id", "expression", *head])
    for term in report.terms:
        writer.writerow(["term", term.policy_id, term.policy_name, term.term_id, term.expression or "", *counted(term)])
    writer.writerow(["table", "actor", "action", "count"])
    for reviewer in report.reviewers:
        for action, n in reviewer.actions.items():
            writer.writerow(["reviewer", reviewer.actor, action, n])
        for given, n in reviewer.closed.items():
            writer.writerow(["reviewer", reviewer.actor, f"close as {given}", n])
    writer.writerow(
        ["table", "policy_id", "policy", "in_scope", "matched", "sampled", "drawn_percent", "sampling_percent"]
    )
    for line in report.ledger:
        writer.writerow(
            [
                "ledger",
                line.policy_id,
                line.name,
                line.in_scope,
                line.matched,
                line.sampled,
                _rate(line.drawn_percent),
                "" if line.sampling_percent is None else line.sampling_percent,
            ]
        )
    return out.getvalue()
