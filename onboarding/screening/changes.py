"""What changed between two snapshots of one list: the entries added and removed, by the list's own
entry id (OFAC's ent_num, the UN's reference number, the FtM entity id). A renamed entry keeps its id,
so it is neither added nor removed."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from ..db import db
from .models import ListEntry, ListSnapshot


@dataclass(frozen=True)
class ChangedEntry:
    external_id: str
    name: str
    kind: str


@dataclass(frozen=True)
class SnapshotChanges:
    previous: ListSnapshot | None
    added: list[ChangedEntry]  # all of them, sorted by name
    removed: list[ChangedEntry]


def previous_snapshot(snapshot: ListSnapshot) -> ListSnapshot | None:
    """The snapshot of the same list imported just before this one."""
    return db.session.scalar(
        select(ListSnapshot).where(ListSnapshot.source == snapshot.source, ListSnapshot.id < snapshot.id)
        .order_by(ListSnapshot.id.desc()).limit(1)
    )


def _entries(snapshot_id: int) -> dict[str, ChangedEntry]:
    # One read of the ids and names of both snapshots and a set difference in Python: an SQL anti-join
    # on external_id would scan a whole list per entry (only snapshot_id is indexed).
    rows = db.session.execute(
        select(ListEntry.external_id, ListEntry.name, ListEntry.kind).where(ListEntry.snapshot_id == snapshot_id)
    )
    return {row.external_id: ChangedEntry(row.external_id, row.name, row.kind) for row in rows}


def snapshot_changes(snapshot: ListSnapshot, previous: ListSnapshot | None = None) -> SnapshotChanges:
    """Entries of `snapshot` not in `previous` (default: the one imported before it) and the reverse.
    Against no previous snapshot, every entry is added."""
    previous = previous if previous is not None else previous_snapshot(snapshot)
    now = _entries(snapshot.id)
    before = _entries(previous.id) if previous is not None else {}
    added = sorted((now[key] for key in now.keys() - before.keys()), key=lambda e: (e.name, e.external_id))
    removed = sorted((before[key] for key in before.keys() - now.keys()), key=lambda e: (e.name, e.external_id))
    return SnapshotChanges(previous, added, removed)


def snapshot_versions(source: str) -> dict[int, int]:
    """Snapshot id -> its version number within its list (1 for the first import of that list)."""
    ids = db.session.scalars(select(ListSnapshot.id).where(ListSnapshot.source == source).order_by(ListSnapshot.id))
    return {snapshot_id: number for number, snapshot_id in enumerate(ids, start=1)}
