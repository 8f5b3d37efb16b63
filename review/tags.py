"""A case's tag set: groups of tags (a hierarchy through ``parent_id``), each group single- or
multi-choice, each tag with a name (searched with ``tag:<name>``, unique in the case whatever
its case), a label, an optional keyboard shortcut (unique in the case), and for privilege tags
the type the privilege log names and whether a document so tagged is withheld.

A case's first use of review (listing its tags, creating a set) creates the default set:
Responsive (single: Responsive, Not responsive), Privilege (single: Attorney-Client and Work
Product, both withheld and typed, and Not privileged), Hot (multi: Hot)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from review.errors import ReviewConflict, ReviewNotFound
from review.schema import review_codings, review_tag_groups, review_tags

TagName = Field(min_length=1, max_length=100, pattern=r"^[^\s:()\"]+$")


class TagGroupSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    choice: Literal["single", "multi"] = "multi"
    parent_id: str | None = Field(default=None, max_length=36)


class TagGroup(TagGroupSpec):
    id: str
    case_id: str
    position: int


class TagSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    group_id: str = Field(max_length=36)
    name: str = TagName
    label: str | None = Field(default=None, max_length=200, description="default: the name")
    shortcut: str | None = Field(default=None, min_length=1, max_length=1, pattern=r"^[0-9a-zA-Z]$")
    privilege_type: str | None = Field(default=None, max_length=100)
    withhold: bool = False


class Tag(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    case_id: str
    group_id: str
    name: str
    label: str
    shortcut: str | None
    position: int
    privilege_type: str | None
    withhold: bool


class TagSet(BaseModel):
    groups: list[TagGroup]
    tags: list[Tag]


RESERVED_SHORTCUTS = frozenset({"n", "p", "r", "?"})
"""Keys the review screen keeps for itself: next, previous, reviewed, help."""

_DEFAULTS: tuple[tuple[str, str, tuple[tuple[str, str, str, str | None, bool], ...]], ...] = (
    (
        "Responsive",
        "single",
        (("responsive", "Responsive", "1", None, False), ("not-responsive", "Not responsive", "2", None, False)),
    ),
    (
        "Privilege",
        "single",
        (
            ("attorney-client", "Attorney-Client", "3", "Attorney-Client", True),
            ("work-product", "Work Product", "4", "Work Product", True),
            ("not-privileged", "Not privileged", "5", None, False),
        ),
    ),
    ("Hot", "multi", (("hot", "Hot", "h", None, False),)),
)


def ensure_defaults(engine: Engine, case_id: str) -> None:
    """Create the default tag set of a case that has no tag group yet. Two first uses at once:
    the second meets the first's names in the unique index (migration 0013) and leaves them."""
    try:
        _create_defaults(engine, case_id)
    except IntegrityError:
        with engine.connect() as connection:
            made = connection.execute(
                select(func.count()).select_from(review_tag_groups).where(review_tag_groups.c.case_id == case_id)
            ).scalar_one()
        if not made:  # not a race: something else is wrong
            raise


def _taken(error: IntegrityError, spec: TagSpec) -> ReviewConflict:
    """A name or shortcut another tag took after our check (the unique indexes of migration 0013)."""
    what = f"name {spec.name!r}" + (f" or shortcut {spec.shortcut!r}" if spec.shortcut else "")
    return ReviewConflict(f"another tag of the case took the {what} meanwhile (names ignore case)")


def _create_defaults(engine: Engine, case_id: str) -> None:
    with engine.begin() as connection:
        if connection.execute(
            select(func.count()).select_from(review_tag_groups).where(review_tag_groups.c.case_id == case_id)
        ).scalar_one():
            return
        for group_position, (group_name, choice, tags) in enumerate(_DEFAULTS):
            group_id = str(uuid.uuid4())
            connection.execute(
                insert(review_tag_groups),
                {
                    "id": group_id,
                    "case_id": case_id,
                    "name": group_name,
                    "parent_id": None,
                    "choice": choice,
                    "position": group_position,
                },
            )
            for position, (name, label, shortcut, privilege_type, withhold) in enumerate(tags):
                connection.execute(
                    insert(review_tags),
                    {
                        "id": str(uuid.uuid4()),
                        "case_id": case_id,
                        "group_id": group_id,
                        "name": name,
                        "label": label,
                        "shortcut": shortcut,
                        "position": position,
                        "privilege_type": privilege_type,
                        "withhold": withhold,
                    },
                )


def tag_set(engine: Engine, case_id: str) -> TagSet:
    """The case's groups and tags in order (the defaults made on first use)."""
    ensure_defaults(engine, case_id)
    with engine.connect() as connection:
        groups = [
            TagGroup(**row._mapping)
            for row in connection.execute(
                select(review_tag_groups)
                .where(review_tag_groups.c.case_id == case_id)
                .order_by(review_tag_groups.c.position, review_tag_groups.c.name)
            )
        ]
        order = {group.id: index for index, group in enumerate(groups)}
        tags = sorted(
            (
                Tag(**row._mapping)
                for row in connection.execute(select(review_tags).where(review_tags.c.case_id == case_id))
            ),
            key=lambda tag: (order.get(tag.group_id, 0), tag.position, tag.name),
        )
    return TagSet(groups=groups, tags=tags)


def tag_by_name(engine: Engine, case_id: str, name: str) -> Tag | None:
    """The case's tag called ``name`` (any case)."""
    with engine.connect() as connection:
        row = connection.execute(
            select(review_tags).where(review_tags.c.case_id == case_id, func.lower(review_tags.c.name) == name.lower())
        ).first()
    return Tag(**row._mapping) if row is not None else None


def _group(connection: Connection, case_id: str, group_id: str) -> TagGroup:
    row = connection.execute(
        select(review_tag_groups).where(review_tag_groups.c.id == group_id, review_tag_groups.c.case_id == case_id)
    ).first()
    if row is None:
        raise ReviewNotFound(f"no tag group {group_id!r} in this case")
    return TagGroup(**row._mapping)


def _tag(connection: Connection, case_id: str, tag_id: str) -> Tag:
    row = connection.execute(
        select(review_tags).where(review_tags.c.id == tag_id, review_tags.c.case_id == case_id)
    ).first()
    if row is None:
        raise ReviewNotFound(f"no tag {tag_id!r} in this case")
    return Tag(**row._mapping)


def _check_parent(connection: Connection, case_id: str, group_id: str | None, parent_id: str | None) -> None:
    seen = {group_id}
    while parent_id is not None:
        if parent_id in seen:
            raise ReviewConflict("a tag group cannot be inside itself")
        seen.add(parent_id)
        parent_id = _group(connection, case_id, parent_id).parent_id


def _check_single_choice(connection: Connection, group: TagGroup, tag_ids: set[str]) -> None:
    """Refuse (409, naming some of them) when documents hold two or more of ``tag_ids``: the
    tags of the single-choice ``group`` after the change. Nothing is uncoded for the user."""
    codings = review_codings.c
    clashes = connection.execute(
        select(codings.review_set_id, codings.doc_key)
        .where(codings.tag_id.in_(sorted(tag_ids)))
        .group_by(codings.review_set_id, codings.doc_key)
        .having(func.count() > 1)
        .order_by(codings.review_set_id, codings.doc_key)
        .limit(6)
    ).all()
    if clashes:
        named = ", ".join(f"{row.doc_key} (set {row.review_set_id})" for row in clashes[:5])
        more = " and more" if len(clashes) > 5 else ""
        raise ReviewConflict(
            f"tag group {group.name!r} is single-choice, and documents would hold several of its tags: "
            f"{named}{more}; uncode them first"
        )


def _group_tag_ids(connection: Connection, group_id: str) -> set[str]:
    return set(connection.execute(select(review_tags.c.id).where(review_tags.c.group_id == group_id)).scalars())


def create_group(engine: Engine, case_id: str, spec: TagGroupSpec) -> TagGroup:
    ensure_defaults(engine, case_id)
    with engine.begin() as connection:
        _check_parent(connection, case_id, None, spec.parent_id)
        position = connection.execute(
            select(func.coalesce(func.max(review_tag_groups.c.position), -1) + 1).where(
                review_tag_groups.c.case_id == case_id
            )
        ).scalar_one()
        group = TagGroup(id=str(uuid.uuid4()), case_id=case_id, position=position, **spec.model_dump())
        connection.execute(insert(review_tag_groups), group.model_dump())
    return group


def change_group(engine: Engine, case_id: str, group_id: str, spec: TagGroupSpec) -> tuple[TagGroup, TagGroup]:
    with engine.begin() as connection:
        before = _group(connection, case_id, group_id)
        _check_parent(connection, case_id, group_id, spec.parent_id)
        after = before.model_copy(update=spec.model_dump())
        if after.choice == "single" and before.choice != "single":
            _check_single_choice(connection, after, _group_tag_ids(connection, group_id))
        connection.execute(
            update(review_tag_groups).where(review_tag_groups.c.id == group_id).values(**spec.model_dump())
        )
    return before, after


def remove_group(engine: Engine, case_id: str, group_id: str) -> TagGroup:
    """Remove an empty group (no tags, no groups inside)."""
    with engine.begin() as connection:
        group = _group(connection, case_id, group_id)
        if connection.execute(select(review_tags.c.id).where(review_tags.c.group_id == group_id).limit(1)).first():
            raise ReviewConflict(f"tag group {group.name!r} still has tags: remove them first")
        if connection.execute(
            select(review_tag_groups.c.id).where(review_tag_groups.c.parent_id == group_id).limit(1)
        ).first():
            raise ReviewConflict(f"tag group {group.name!r} still holds groups: remove them first")
        connection.execute(delete(review_tag_groups).where(review_tag_groups.c.id == group_id))
    return group


def _check_unique(connection: Connection, case_id: str, spec: TagSpec, besides: str | None) -> None:
    others = select(review_tags).where(review_tags.c.case_id == case_id)
    if besides is not None:
        others = others.where(review_tags.c.id != besides)
    if connection.execute(others.where(func.lower(review_tags.c.name) == spec.name.lower()).limit(1)).first():
        raise ReviewConflict(f"the case has a tag called {spec.name!r} already (names ignore case)")
    if spec.shortcut is not None:
        if spec.shortcut.lower() in RESERVED_SHORTCUTS:
            raise ReviewConflict(f"shortcut {spec.shortcut!r} is the review screen's own (n, p, r, ?)")
        taken = connection.execute(
            others.where(func.lower(review_tags.c.shortcut) == spec.shortcut.lower()).limit(1)
        ).first()
        if taken is not None:
            raise ReviewConflict(f"shortcut {spec.shortcut!r} is tag {taken.name!r}'s already")


def create_tag(engine: Engine, case_id: str, spec: TagSpec) -> Tag:
    ensure_defaults(engine, case_id)
    with engine.begin() as connection:
        _group(connection, case_id, spec.group_id)
        _check_unique(connection, case_id, spec, None)
        position = connection.execute(
            select(func.coalesce(func.max(review_tags.c.position), -1) + 1).where(
                review_tags.c.group_id == spec.group_id
            )
        ).scalar_one()
        tag = Tag(
            id=str(uuid.uuid4()),
            case_id=case_id,
            position=position,
            **{**spec.model_dump(), "label": spec.label or spec.name},
        )
        try:
            connection.execute(insert(review_tags), tag.model_dump())
        except IntegrityError as error:
            raise _taken(error, spec) from error
    return tag


def change_tag(engine: Engine, case_id: str, tag_id: str, spec: TagSpec) -> tuple[Tag, Tag]:
    with engine.begin() as connection:
        before = _tag(connection, case_id, tag_id)
        group = _group(connection, case_id, spec.group_id)
        _check_unique(connection, case_id, spec, tag_id)
        if group.choice == "single" and spec.group_id != before.group_id:
            _check_single_choice(connection, group, _group_tag_ids(connection, group.id) | {tag_id})
        values = {**spec.model_dump(), "label": spec.label or spec.name}
        try:
            connection.execute(update(review_tags).where(review_tags.c.id == tag_id).values(**values))
        except IntegrityError as error:
            raise _taken(error, spec) from error
    return before, before.model_copy(update=values)


def remove_tag(engine: Engine, case_id: str, tag_id: str) -> Tag:
    """Remove a tag no document is coded with. Its row is locked first (PostgreSQL ``FOR
    UPDATE``), so a coding holding it (``FOR SHARE``, see :mod:`review.coding`) commits before
    the check for codings runs."""
    with engine.begin() as connection:
        connection.execute(select(review_tags.c.id).where(review_tags.c.id == tag_id).with_for_update())
        tag = _tag(connection, case_id, tag_id)
        if connection.execute(
            select(review_codings.c.doc_key).where(review_codings.c.tag_id == tag_id).limit(1)
        ).first():
            raise ReviewConflict(f"documents are coded {tag.name!r}: uncode them before removing the tag")
        connection.execute(delete(review_tags).where(review_tags.c.id == tag_id))
    return tag
