"""The matcher over the current sanctions snapshots, cached per process and database: an in-memory
index built once and rebuilt when the set of current snapshots changes (a cheap query checks that on
every call, so an import in another process is seen at the next screening)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from ..db import db
from .lists import current_snapshot_key
from .matcher import ListedEntry, Match, Matcher
from .models import ListAlias, ListEntry, ListSnapshot

_lock = threading.Lock()
_cache: dict[str, Matcher] = {}


def build_matcher(snapshot_ids: Iterable[int] | None = None, key: Any = None) -> Matcher:
    """A Matcher over the given snapshots (default: the current ones), read from the database."""
    if snapshot_ids is None:
        key = current_snapshot_key() if key is None else key
        snapshot_ids = [item[0] for item in key]
    ids = list(snapshot_ids)
    if not ids:
        return Matcher([], [], key=key)
    sources = dict(db.session.execute(
        select(ListSnapshot.id, ListSnapshot.source).where(ListSnapshot.id.in_(ids))
    ).all())
    rows = db.session.execute(
        select(ListEntry.id, ListEntry.snapshot_id, ListEntry.external_id, ListEntry.kind, ListEntry.name,
               ListEntry.birth_dates, ListEntry.nationalities, ListEntry.countries, ListEntry.identifiers)
        .where(ListEntry.snapshot_id.in_(ids))
    )
    entries = [
        ListedEntry(id=row.id, snapshot_id=row.snapshot_id, source=sources[row.snapshot_id],
                    external_id=row.external_id, kind=row.kind, name=row.name, birth_dates=row.birth_dates or [],
                    nationalities=row.nationalities or [], countries=row.countries or [],
                    identifiers=row.identifiers or [])
        for row in rows
    ]
    aliases = db.session.execute(
        select(ListAlias.entry_id, ListAlias.name, ListAlias.quality)
        .where(ListAlias.snapshot_id.in_(ids)).order_by(ListAlias.id)
    )
    return Matcher(entries, aliases, key=key)


def current_matcher() -> Matcher:
    """The Matcher over the current snapshots, cached per process and database; rebuilt when the
    current snapshots change (checked with one small query on every call)."""
    key = current_snapshot_key()
    cache_key = str(db.engine.url)
    cached = _cache.get(cache_key)
    if cached is not None and cached.key == key:
        return cached
    with _lock:
        cached = _cache.get(cache_key)
        if cached is not None and cached.key == key:
            return cached
        matcher = build_matcher(key=key)
        _cache[cache_key] = matcher
        return matcher


def screen(name: str, **options: Any) -> list[Match]:
    """Screen one name against the current lists (see Matcher.screen for the options)."""
    return current_matcher().screen(name, **options)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
