"""Case-insensitive substring search that each database answers from its own text index.

One function, `containing`, turns "any of these columns contains this fragment" into SQL:

- PostgreSQL: `col ILIKE '%fragment%'`, which the GIN trigram indexes of pg_trgm (migration 0013)
  answer without reading every row.
- SQLite: the same `ILIKE`, narrowed first to the rows an FTS5 `trigram` table finds for the
  fragment as one literal phrase. The FTS5 table is external-content (it stores no copy of the text)
  and triggers keep it in step with its table. FTS5 folds case for every script while SQLite's
  `lower()` folds ASCII only, so the index finds a superset and the `ILIKE` keeps exactly the rows a
  plain scan would: results are the same with or without the index.

A fragment shorter than three characters has no trigram to look up: both engines then scan
(PostgreSQL's planner chooses so by itself; on SQLite the FTS5 step is left out).

The fragment is always data: `%`, `_` and `\\` are escaped for LIKE, and for FTS5 the fragment is
one double-quoted string (quotes doubled), so `AND`, `NEAR`, `*` or `"` are text to find, not syntax.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, bindparam, column, literal_column, or_, select, table, true
from sqlalchemy.orm import InstrumentedAttribute

from .db import db

# Shorter fragments contain no trigram, so no text index can help with them.
SHORTEST_INDEXED = 3


@dataclass(frozen=True)
class SearchIndex:
    """The searchable text columns of one table (created by migration 0013 on both engines)."""

    table: str
    columns: tuple[str, ...]

    @property
    def fts_table(self) -> str:
        """SQLite: the FTS5 table; its rowid is the table's `id`."""
        return f"{self.table}_search"

    def trigram_index(self, column_name: str) -> str:
        """PostgreSQL: the GIN pg_trgm index of one column."""
        return f"ix_{self.table}_{column_name}_trgm"


SEARCH_INDEXES = {
    index.table: index for index in (
        # The review queues and the list of every application.
        SearchIndex("applications", ("legal_name", "reference", "registration_number")),
        # The compliance (investigations) queue searches the institution's name.
        SearchIndex("institutions", ("legal_name",)),
        # The audit log: who, what, and to which subject.
        SearchIndex("audit_events", ("actor_label", "action", "subject_type", "subject_id")),
    )
}


def is_search_object(name: str | None) -> bool:
    """Whether a table or index name is one of the text-search objects, which the models do not
    declare (the FTS5 table and its shadow tables on SQLite, the trigram indexes on PostgreSQL)."""
    if not name:
        return False
    return any(name == index.fts_table or name.startswith(f"{index.fts_table}_")
               or name in {index.trigram_index(c) for c in index.columns} for index in SEARCH_INDEXES.values())


def like_pattern(fragment: str) -> str:
    """`%fragment%` with LIKE's own characters escaped (escape character: backslash)."""
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def fts_phrase(fragment: str, columns: tuple[str, ...]) -> str:
    """An FTS5 query matching the fragment as literal text in any of `columns`."""
    phrase = '"' + fragment.replace('"', '""') + '"'
    return "{" + " ".join(columns) + "}: " + phrase


def containing(fragment: str, *columns: InstrumentedAttribute) -> ColumnElement[bool]:
    """Rows where any of `columns` (of one table with a SearchIndex) contains `fragment`, ignoring case.

    An empty fragment matches every row, as `ILIKE '%%'` does (callers leave it out when nothing was typed)."""
    if not columns:
        raise ValueError("containing() needs at least one column")
    sql_table = columns[0].property.columns[0].table
    index = SEARCH_INDEXES.get(sql_table.name)
    names = tuple(c.property.columns[0].name for c in columns)
    if index is None or not set(names) <= set(index.columns) or \
            any(c.property.columns[0].table is not sql_table for c in columns):
        raise ValueError(f"no text index covers {sql_table.name}.{names}; add it to SEARCH_INDEXES and a migration")
    if not fragment:
        return true()
    pattern = like_pattern(fragment)
    exact = or_(*(c.ilike(pattern, escape="\\") for c in columns))
    if db.session.get_bind().dialect.name != "sqlite" or len(fragment) < SHORTEST_INDEXED:
        return exact
    fts = table(index.fts_table, column("rowid"))
    candidates = select(fts.c.rowid).where(
        literal_column(index.fts_table).op("MATCH")(bindparam("fts_query", fts_phrase(fragment, names), unique=True)))
    return and_(sql_table.c.id.in_(candidates), exact)
