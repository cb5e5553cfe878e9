"""Process-local copies of the rows the authorize decision reads on every signed request (a key with its
institution's standing, grant and rules agreement; the gateway's service token), kept exact by ONE shared
generation in Redis.

Every commit that changed a watched table replaces the generation. A copy carries the generation it was
read under, and the decision passes that generation to the Redis round trip it makes anyway (the replay
guard), which refuses to register the request when the generation has moved on: the caller then reads
the database again. So a freeze or a revocation committed in any process refuses the very next request in
every process, exactly as without copies, and a request served from a copy costs no database statement.

The generation is a random value, not a counter: an emptied or restarted Redis has no generation, which
matches no copy, and can never bring an old one back. Copies also expire after `AUTHORIZE_COPY_SECONDS`:
the backstop for a process that died between its commit and the replacement, or a row changed by hand.
Without Redis there is nothing shared to check against, and nothing is copied."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from typing import Any

from flask import current_app, has_app_context
from redis.exceptions import RedisError
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from ..jobs import shared_redis

log = logging.getLogger(__name__)

GENERATION_KEY = "onboarding:decision-inputs:generation"
# A bulk write that cannot change a decision (usage counters, last-used times) says so with this execution
# option, or every usage flush would empty every process's copies.
LEAVES_DECISIONS_UNCHANGED = "leaves_decisions_unchanged"
_CHANGED = "decision_inputs_changed"
MAX_COPIES = 200_000  # a bound on memory: past it, the copies start again from empty

# Watched model -> attributes whose change does not matter to a decision.
_watched: dict[type, frozenset[str]] = {}
_lock = threading.Lock()


def watch(model: type, *, ignoring: tuple[str, ...] = ()) -> None:
    """Changes to `model`'s rows replace the generation when committed (parts register what decisions read)."""
    _watched[model] = frozenset(ignoring)


def _matters(instance: Any) -> bool:
    ignored = _watched.get(type(instance))
    if ignored is None:
        return False
    state = inspect(instance)
    return any(attr.key not in ignored and attr.history.has_changes() for attr in state.attrs)


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, _context) -> None:
    if session.info.get(_CHANGED):
        return
    if any(type(obj) in _watched for obj in (*session.new, *session.deleted)) \
            or any(_matters(obj) for obj in session.dirty):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    mapper = state.bind_mapper
    if mapper is not None and mapper.class_ in _watched and not state.execution_options.get(
            LEAVES_DECISIONS_UNCHANGED):
        state.session.info[_CHANGED] = True


# SQLAlchemy also sends after_commit / after_rollback when a SAVEPOINT is released or rolled back: only
# the outermost commit makes a change visible, so only it replaces the generation (replacing it at a
# savepoint would let another process copy the old rows under the new generation), and a savepoint rolled
# back keeps what the outer transaction changed.
@event.listens_for(Session, "after_commit")
def _replace_generation_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    if session.info.pop(_CHANGED, False) and has_app_context():
        replace_generation()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.info.pop(_CHANGED, None)


def replace_generation() -> None:
    _copies().clear()
    connection = shared_redis()
    if connection is None:
        return
    try:
        connection.set(GENERATION_KEY, secrets.token_hex(8))
    except RedisError:
        # The change is committed; failing the request now would only hide that. While Redis is away every
        # authorize call is refused anyway (no replay guard), and copies older than AUTHORIZE_COPY_SECONDS are
        # never used: that bounds how long another process could answer from a copy once Redis is back.
        log.error("could not replace the decision-inputs generation in Redis; other processes' copies expire "
                  "within AUTHORIZE_COPY_SECONDS", exc_info=True)


def current_generation() -> str | None:
    """The generation to read the database under (None without Redis: then nothing is copied)."""
    connection = shared_redis()
    if connection is None:
        return None
    value = connection.get(GENERATION_KEY)
    if value is None:  # a fresh or emptied Redis: start one, so that copies have something to match
        value = secrets.token_hex(8).encode()
        if not connection.set(GENERATION_KEY, value, nx=True):
            value = connection.get(GENERATION_KEY) or b""
    return value.decode()


class Copies:
    """Rows read under a generation, by kind and key. Thread-safe enough: each entry carries its own
    generation, so a copy put by a slow reader can never pass for a newer generation."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], tuple[str, float, Any]] = {}

    def get(self, kind: str, key: str, max_age: float) -> tuple[str, Any] | None:
        entry = self._entries.get((kind, key))
        if entry is None or time.monotonic() - entry[1] > max_age:
            return None
        return entry[0], entry[2]

    def put(self, kind: str, key: str, generation: str, value: Any) -> None:
        with _lock:
            if len(self._entries) >= MAX_COPIES:
                self._entries.clear()
            self._entries[(kind, key)] = (generation, time.monotonic(), value)

    def forget(self, kind: str, key: str) -> None:
        self._entries.pop((kind, key), None)

    def clear(self) -> None:
        self._entries.clear()


def _copies() -> Copies:
    copies = current_app.extensions.get("decision-copies")
    if copies is None:
        copies = current_app.extensions["decision-copies"] = Copies()
    return copies


def copied(kind: str, key: str) -> tuple[str, Any] | None:
    """(generation, value) of a copy still young enough to try, or None."""
    if not current_app.config.get("REDIS_URL"):
        return None
    return _copies().get(kind, key, current_app.config["AUTHORIZE_COPY_SECONDS"])


def keep_copy(kind: str, key: str, generation: str | None, value: Any) -> None:
    if generation is not None and current_app.config["AUTHORIZE_COPY_SECONDS"] > 0:
        _copies().put(kind, key, generation, value)


def forget_copy(kind: str, key: str) -> None:
    _copies().forget(kind, key)
