"""Last-used times and decision counts per key, without a database write per request, and the replay
guard's round trip that every signed request makes.

Counts are tallied in the process. With Redis (shared by every process) each process's tally is pushed
there once a second by a thread of its own, and when the process exits; a job flushes Redis into
`api_key_usage` and `api_keys.last_used_at`. Without Redis the tally is flushed straight into the
database. A worker killed outright loses at most its last second of counts: never a replay-guard entry,
which is written in Redis on the request itself."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import Counter
from datetime import UTC, datetime

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import select, update

from ..db import db
from ..jobs import shared_redis
from ..templating import plural
from .freshness import GENERATION_KEY, LEAVES_DECISIONS_UNCHANGED
from .guardline import ScriptLine
from .models import ApiKey, KeyUsage
from .replay import REDIS_PREFIX, first_use

COUNTS = "onboarding:key-usage:counts"
LAST = "onboarding:key-usage:last"
LOCAL_FLUSH_SECONDS = 10
PUSH_SECONDS = 1.0

log = logging.getLogger(__name__)


class Tally:
    """Decisions counted in this process and not yet handed on: by (key id, UTC day, reason), and each
    key's last use (time, client address)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[int, str, str]] = Counter()
        self._last: dict[int, tuple[float, str]] = {}
        self.pid = os.getpid()

    def add(self, key_id: int, reason: str, client_ip: str) -> None:
        now = time.time()
        with self._lock:
            self._counts[(key_id, _day(now), reason)] += 1
            self._last[key_id] = (now, client_ip)

    def take(self) -> tuple[Counter[tuple[int, str, str]], dict[int, tuple[float, str]]]:
        with self._lock:
            counts, last = self._counts, self._last
            self._counts, self._last = Counter(), {}
        return counts, last

    def put_back(self, counts: Counter[tuple[int, str, str]], last: dict[int, tuple[float, str]]) -> None:
        with self._lock:
            self._counts.update(counts)
            for key_id, used in last.items():
                if key_id not in self._last or self._last[key_id][0] < used[0]:
                    self._last[key_id] = used


class RedisTally(Tally):
    """A tally pushed to one Redis server once a second, by a daemon thread started with the first count,
    and at exit. It holds its client weakly: a client that is gone (an app of a test run) ends the thread."""

    def __init__(self, client: Redis) -> None:
        super().__init__()
        self._client = weakref.ref(client)
        self._pusher: threading.Thread | None = None

    def add(self, key_id: int, reason: str, client_ip: str) -> None:
        super().add(key_id, reason, client_ip)
        if self._pusher is None:
            with self._lock:
                if self._pusher is None:
                    self._pusher = threading.Thread(target=_push_every_second, args=(weakref.ref(self),),
                                                    name="key-usage-push", daemon=True)
                    self._pusher.start()

    def push(self) -> bool:
        """Hand the tally to Redis; False when the client is gone. Counts Redis refused stay for next time."""
        client = self._client()
        if client is None:
            return False
        counts, last = self.take()
        if not counts and not last:
            return True
        try:
            pipe = client.pipeline(transaction=True)  # all or nothing: a refused push is put back whole
            for (key_id, day, reason), number in counts.items():
                pipe.hincrby(COUNTS, f"{key_id}|{day}|{reason}", number)
            if last:
                pipe.hset(LAST, mapping={str(key_id): f"{at!r}|{ip}" for key_id, (at, ip) in last.items()})
            pipe.execute()
        except RedisError as exc:
            self.put_back(counts, last)
            log.warning("could not push %s to Redis (%s); kept for the next push",
                        plural(sum(counts.values()), "key usage count"), exc)
        return True


def _push_every_second(tally_ref: weakref.ref) -> None:
    while True:
        time.sleep(PUSH_SECONDS)
        tally = tally_ref()
        if tally is None or tally.pid != os.getpid() or not tally.push():
            return
        del tally


# By Redis client, one per app (tests run several apps, each with its own Redis, in one process);
# weakly, so that a client that is gone takes its tally and its guard line with it.
_tallies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lines: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_local_tally = Tally()  # without Redis
_last_local_flush = [time.monotonic()]


def _tally(connection: Redis | None) -> Tally:
    global _local_tally
    if connection is None:
        if _local_tally.pid != os.getpid():  # a forked child: what the parent counted is the parent's
            _local_tally = Tally()
        return _local_tally
    tally = _tallies.get(connection)
    if tally is None or tally.pid != os.getpid():
        tally = _tallies[connection] = RedisTally(connection)
    return tally


@atexit.register
def _push_at_exit() -> None:
    for tally in list(_tallies.values()):
        if tally.pid == os.getpid():
            tally.push()


def count_decision(key_id: int, reason: str, client_ip: str) -> None:
    _tally(shared_redis()).add(key_id, reason, client_ip)


def push_counts() -> None:
    """Hand this process's tally to Redis now (the flush does it first; tests of several apps use it)."""
    connection = shared_redis()
    if connection is not None:
        _tally(connection).push()


# The replay guard: SET NX with the window as expiry. A decision made from a process's copy of the key's
# row first checks that the copy's generation is still the shared one (keys.freshness); when it is not,
# nothing is registered and the caller reads the database.
_GUARD = """
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) ~= ARGV[2] then return -1 end
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
"""
FIRST, REPLAYED, STALE = "first", "replayed", "stale"
_OUTCOMES = {1: FIRST, 0: REPLAYED}


class PendingUse:
    """The replay guard's answer for one signed request, asked for before the rest of the decision is made:
    Redis runs the script while the caller checks the key's standing."""

    __slots__ = ("_line", "_outcome")

    def __init__(self, line: ScriptLine | None, outcome: str | None = None) -> None:
        self._line, self._outcome = line, outcome

    def outcome(self) -> str:
        """FIRST the first time the signature is seen, REPLAYED after, or STALE (nothing registered) when the
        decision was made from a copy read under an older generation."""
        if self._outcome is None:
            self._outcome = _OUTCOMES.get(self._line.reply(), STALE)
        return self._outcome


def begin_use(digest: str, ttl_ms: int, *, copied_under: str | None = None) -> PendingUse:
    """Start registering a signed request's use with the replay guard (its window is `ttl_ms`)."""
    connection = shared_redis()
    if connection is None:
        return PendingUse(None, FIRST if first_use(digest, ttl_ms) else REPLAYED)
    line = _lines.get(connection)
    if line is None:
        line = _lines[connection] = ScriptLine(connection, _GUARD)
    line.send(keys=(REDIS_PREFIX + digest, GENERATION_KEY), args=(max(ttl_ms, 1), copied_under or ""))
    return PendingUse(line)


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
        _last_local_flush[0] = time.monotonic()
        return _tally(None).take()
    _tally(connection).push()  # this process's own counts first
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
