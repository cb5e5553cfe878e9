"""Sanctions list snapshots: importing a list file into a new snapshot, atomically, and finding the
current snapshots.

One import is one snapshot. Its entries and names are written with bulk inserts in the caller's
transaction, and only when all of them are written is the snapshot marked current (and the
previous one of the same source un-marked), in that same transaction. Old snapshots are kept:
screening hits point at their entries."""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..audit.operations import record
from ..db import db
from ..errors import OperationRefused
from .importers import ListFormatError, ParsedEntry, input_sha256, parse
from .models import SOURCES, ListAlias, ListEntry, ListSnapshot

BATCH_SIZE = 1000
_NAME_LENGTH = 500
_EXTERNAL_ID_LENGTH = 80


class ListImportError(OperationRefused):
    """A list could not be imported. The message says why (file, line); nothing was written."""


def current_snapshots() -> list[ListSnapshot]:
    """The current snapshot of each source that has one, ordered by source."""
    return list(db.session.scalars(
        select(ListSnapshot).where(ListSnapshot.is_current.is_(True)).order_by(ListSnapshot.source)
    ))


def current_snapshot(source: str) -> ListSnapshot | None:
    return db.session.scalar(
        select(ListSnapshot).where(ListSnapshot.source == source, ListSnapshot.is_current.is_(True))
        .order_by(ListSnapshot.id.desc()).limit(1)
    )


def current_snapshot_key() -> tuple[tuple[int, str, str], ...]:
    """A cheap fingerprint of the current lists: (id, sha256, import time) of each current snapshot.
    Changes whenever any list is imported, replaced or switched back, in this process or another."""
    rows = db.session.execute(
        select(ListSnapshot.id, ListSnapshot.file_sha256, ListSnapshot.imported_at)
        .where(ListSnapshot.is_current.is_(True)).order_by(ListSnapshot.id)
    ).all()
    return tuple((row.id, row.file_sha256, row.imported_at.isoformat()) for row in rows)


def import_list(source: str, path: str | Path, *, actor_label: str | None = None) -> tuple[ListSnapshot, bool]:
    """Import a list file (for "ofac-sdn": the folder holding sdn.csv, add.csv, alt.csv and
    sdn_comments.csv) as the new current snapshot of `source`.

    Returns (snapshot, created). created is False when this exact input (same SHA-256) is already
    the current snapshot: nothing changed. When it is an older snapshot of the same source, that
    snapshot becomes current again and created is True (the current list did change).

    Works in the caller's transaction and does not commit. On any error the session is rolled back,
    so no snapshot and no entry of this import remains, and ListImportError is raised with a message
    naming the file and line."""
    if source not in SOURCES:
        raise ListImportError(f"Unknown list format {source!r}; expected one of: {', '.join(SOURCES)}.")
    try:
        sha256 = input_sha256(source, path)
    except ListFormatError as error:
        raise ListImportError(str(error)) from error
    except OSError as error:
        raise ListImportError(f"{path}: cannot be read ({error.strerror or error})") from error

    session = db.session
    try:
        _lock_source(source)
        existing = session.scalar(
            select(ListSnapshot).where(ListSnapshot.source == source, ListSnapshot.file_sha256 == sha256)
        )
        if existing is not None and existing.is_current:
            return existing, False
        if existing is not None:
            previous = _make_current(existing)
            _record(existing, path, previous, reactivated=True, actor_label=actor_label)
            session.flush()
            return existing, True

        snapshot = ListSnapshot(source=source, file_sha256=sha256, entry_count=0, alias_count=0, is_current=False,
                                imported_by=actor_label or "system")
        session.add(snapshot)
        session.flush()
        entries = aliases = 0
        for batch in _batches(parse(source, path), BATCH_SIZE):
            written_entries, written_aliases = _write_batch(snapshot.id, batch)
            entries += written_entries
            aliases += written_aliases
        if entries == 0:
            raise ListFormatError(path, "the file holds no list entries; refusing to replace the list with nothing")
        snapshot.entry_count = entries
        snapshot.alias_count = aliases
        previous = _make_current(snapshot)
        _record(snapshot, path, previous, reactivated=False, actor_label=actor_label)
        session.flush()
        return snapshot, True
    except ListFormatError as error:
        session.rollback()
        raise ListImportError(str(error)) from error
    except OSError as error:
        session.rollback()
        raise ListImportError(f"{path}: cannot be read ({error.strerror or error})") from error
    except IntegrityError as error:
        session.rollback()
        raise ListImportError(f"{path}: the same list file was imported at the same moment by another process; "
                              "nothing was changed here.") from error
    except SQLAlchemyError:
        session.rollback()
        raise


def _lock_source(source: str) -> None:
    """Serialise imports of one source on PostgreSQL, so two imports never both become current."""
    if db.session.get_bind().dialect.name == "postgresql":
        key = 0x5A4C0000 + zlib.crc32(source.encode()) % 0xFFFF
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _make_current(snapshot: ListSnapshot) -> list[int]:
    """Un-mark the source's current snapshots (one, or more after a race) and mark this one; returns the ids
    un-marked."""
    previous = list(db.session.scalars(
        select(ListSnapshot.id).where(ListSnapshot.source == snapshot.source, ListSnapshot.is_current.is_(True),
                                      ListSnapshot.id != snapshot.id)
    ))
    if previous:
        db.session.execute(
            update(ListSnapshot).where(ListSnapshot.id.in_(previous)).values(is_current=False)
            .execution_options(synchronize_session="fetch")
        )
    snapshot.is_current = True
    return previous


def _record(snapshot: ListSnapshot, path: str | Path, previous: list[int], *, reactivated: bool,
            actor_label: str | None) -> None:
    record("sanctions.imported", "sanctions_list", snapshot.id, {
        "source": snapshot.source,
        "sha256": snapshot.file_sha256,
        "entries": snapshot.entry_count,
        "aliases": snapshot.alias_count,
        "path": str(path),
        "replaced_snapshot_ids": previous,
        "reactivated": reactivated,
    }, actor_label=actor_label)


def _batches(items: Iterable[ParsedEntry], size: int) -> Iterator[list[ParsedEntry]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _clip(value: str, length: int) -> str:
    return value if len(value) <= length else value[: length - 1] + "\u2026"


def _write_batch(snapshot_id: int, batch: list[ParsedEntry]) -> tuple[int, int]:
    rows: list[dict[str, Any]] = [
        {
            "snapshot_id": snapshot_id,
            "external_id": _clip(entry.external_id, _EXTERNAL_ID_LENGTH),
            "kind": entry.kind,
            "name": _clip(entry.name, _NAME_LENGTH),
            "programs": entry.programs,
            "birth_dates": entry.birth_dates,
            "nationalities": entry.nationalities,
            "countries": entry.countries,
            "identifiers": entry.identifiers,
            "remarks": entry.remarks,
        }
        for entry in batch
    ]
    ids = db.session.scalars(
        insert(ListEntry).returning(ListEntry.id, sort_by_parameter_order=True), rows
    ).all()
    alias_rows = [
        {"entry_id": entry_id, "snapshot_id": snapshot_id, "name": _clip(name, _NAME_LENGTH), "quality": quality}
        for entry_id, entry in zip(ids, batch, strict=True)
        for name, quality in entry.aliases
    ]
    if alias_rows:
        db.session.execute(insert(ListAlias), alias_rows)
    return len(rows), len(alias_rows)


def snapshot_counts(snapshot_id: int) -> dict[str, int]:
    """Entries and names actually stored for a snapshot (for checks and reports)."""
    entries = db.session.scalar(select(func.count()).select_from(ListEntry).where(ListEntry.snapshot_id == snapshot_id))
    aliases = db.session.scalar(select(func.count()).select_from(ListAlias).where(ListAlias.snapshot_id == snapshot_id))
    return {"entries": entries or 0, "aliases": aliases or 0}
