"""Statement helpers the processor and the archive share.

A batch of 1,000 keys rendered as 1,000 bound parameters (SQLAlchemy's expanding ``IN``)
costs more to build and bind than the statement costs to run, and keying on a column without
an index (``lease_owner``) scans the whole staging table. :func:`among` passes the keys as
one parameter instead: a PostgreSQL array (``= ANY(:keys)``) or a JSON array unpacked by
SQLite's ``json_each``; either way the primary-key index does the lookups.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import ColumnElement, String, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnClause


def among(column: ColumnClause[str] | ColumnElement[str], keys: Iterable[str], dialect: str) -> ColumnElement[bool]:
    """``column IN keys`` with all the keys in one bound parameter."""
    values = list(keys)
    if dialect == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(String)))
    listed = func.json_each(bindparam(None, json.dumps(values), type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))
