"""Last-used times and decision counts per key, without a database write per request: counted in Redis
(shared by every process) or, without Redis, in this process; a job flushes them into `api_key_usage`
and `api_keys.last_used_at`."""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select, update

from ..db import db
from ..jobs import shared_redis
from .freshness import GENERATION_KEY, LEAVES_DECISIONS_UNCHANGED
from .guardline import ScriptLine
from .models import ApiKey, KeyUsage
from .replay import REDIS_PREFIX, first_use

COUNTS = "onboarding:key-usage:counts"
LAST = "onboarding:key-usage:last"
LOCAL_FLUSH_SECONDS = 10

_lock = threading.Lock()
_local_counts: Counter[tuple[int, str, str]] = Counter()  # (key id, day, reason)
_local_last: dict[int, tuple[float, str]] = {}
_last_local_flush = [time.monotonic()]


def count_decision(key_id: int, reason: str, client_ip: str) -> None:
    now = time.time()
    day = datetime.fromtimestamp(now, UTC).date().isoformat()
    connection = shared_redis()
    if connection is not None:
        pipe = connection.pipeline(transaction=False)
        pipe.hincrby(COUNTS, f"{key_id}|{day}|{reason}", 1)
        pipe.hset(LAST, str(key_id), f"{now}|{client_ip}")
        pipe.execute()
        return
    with _lock:
        _local_counts[(key_id, day, reason)] += 1
        _local_last[key_id] = (now, client_ip)


# One round trip for what every signed request needs from Redis: the replay guard (SET NX with the
# window as expiry) and the decision count, which becomes "replayed" when the signature was seen before.
# A decision made from a process's copy of the key's row first checks that the copy's generation is still
# the shared one (keys.freshness); when it is not, nothing is registered and the caller reads the database.
_REGISTER = """
if ARGV[7] ~= '' and redis.call('GET', KEYS[4]) ~= ARGV[7] then return -1 end
local first = redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1])
local reason = ARGV[3]
if not first then reason = 'replayed' end
redis.call('HINCRBY', KEYS[2], ARGV[2] .. '|' .. ARGV[4] .. '|' .. reason, 1)
redis.call('HSET', KEYS[3], ARGV[2], ARGV[5] .. '|' .. ARGV[6])
if first then return 1 end
return 0
"""
FIRST, REPLAYED, STALE = "first", "replayed", "stale"


def register_use(digest: str, ttl_ms: int, key_id: int, reason: str, client_ip: str, *,
                 copied_under: str | None = None) -> str:
    """Record a signed request whose decision would be `reason` unless it is a replay: FIRST the first time
    the signature is seen, REPLAYED after (counted as "replayed"), or STALE (nothing recorded) when the
    decision was made from a copy read under `copied_under` and the shared generation has moved on."""
    connection = shared_redis()
    if connection is None:
        first = first_use(digest, ttl_ms)
        count_decision(key_id, reason if first else "replayed", client_ip)
        return FIRST if first else REPLAYED
    line = _lines.get(connection)
    if line is None:
        line = _lines[connection] = ScriptLine(connection, _REGISTER)
    now = time.time()
    answer = line(keys=(REDIS_PREFIX + digest, COUNTS, LAST, GENERATION_KEY),
                  args=(max(ttl_ms, 1), key_id, reason, _day(now), repr(now), client_ip, copied_under or ""))
    return {1: FIRST, 0: REPLAYED}.get(answer, STALE)


# By client, one per app (tests run several apps, each with its own Redis, in one process); weakly, so a
# client that is gone can never lend its line to a new one that happens to reuse its id.
_lines: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _day(now: float) -> str:
    """The UTC day of a time (UTC days are whole multiples of 86,400 s since the epoch), formatted once a day
    rather than on every call."""
    number = int(now) // 86400
    if _day_cache[0] != number:
        _day_cache[0], _day_cache[1] = number, datetime.fromtimestamp(now, UTC).date().isoformat()
    return _day_cache[1]


_day_cache: list = [None, ""]


def local_flush_due() -> bool:
    return shared_redis() is None and time.monotonic() - _last_local_flush[0] >= LOCAL_FLUSH_SECONDS


def _take() -> tuple[dict[tuple[int, str, str], int], dict[int, tuple[float, str]]]:
    connection = shared_redis()
    if connection is None:
        with _lock:
            counts, last = dict(_local_counts), dict(_local_last)
            _local_counts.clear()
            _local_last.clear()
            _last_local_flush[0] = time.monotonic()
        return counts, last
    # Rename first: counts that arrive while we flush go to a fresh hash, none is lost or counted twice.
    token = f"{time.time_ns()}"
    taken = {}
    for name in (COUNTS, LAST):
        try:
            connection.rename(name, f"{name}:flushing:{token}")
            taken[name] = connection.hgetall(f"{name}:flushing:{token}")
            connection.delete(f"{name}:flushing:{token}")
        except Exception as exc:  # no such key: nothing counted since the last flush
            if "no such key" not in str(exc).lower():
                raise
            taken[name] = {}
    counts = {}
    for field, value in taken[COUNTS].items():
        key_id, day, reason = field.decode().split("|")
        counts[(int(key_id), day, reason)] = int(value)
    last = {}
    for field, value in taken[LAST].items():
        at, ip = value.decode().split("|", 1)
        last[int(field)] = (float(at), ip)
    return counts, last


def flush_usage() -> int:
    """Move the counted decisions into the database (in the caller's transaction). Returns how many were
    recorded."""
    counts, last = _take()
    known = set(db.session.scalars(select(ApiKey.id).where(ApiKey.id.in_({k for k, _, _ in counts} | set(last)))))
    recorded = 0
    for (key_id, day, reason), number in counts.items():
        if key_id not in known:  # a key deleted meanwhile (only in tests: keys are never deleted)
            continue
        recorded += number
        row = db.session.scalar(select(KeyUsage).where(
            KeyUsage.key_id == key_id, KeyUsage.day == datetime.fromisoformat(day).date(),
            KeyUsage.reason == reason).with_for_update())
        if row is None:
            row = KeyUsage(key_id=key_id, day=datetime.fromisoformat(day).date(), reason=reason, count=0)
            db.session.add(row)
        row.count += number
        if key_id in last:
            row.last_ip = last[key_id][1]
    for key_id, (at, _) in last.items():
        if key_id in known:
            moment = datetime.fromtimestamp(at, UTC)
            db.session.execute(update(ApiKey).where(ApiKey.id == key_id).where(
                (ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < moment)).values(last_used_at=moment),
                execution_options={LEAVES_DECISIONS_UNCHANGED: True})
    db.session.flush()
    return recorded
