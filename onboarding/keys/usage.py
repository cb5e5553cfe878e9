"""Last-used times and decision counts per key, without a database write per request, and the replay
guard's round trip that every signed request makes.

Counts are tallied in the process. With Redis (shared by every process) each process's tally is pushed
there once a second by a thread of its own, and when the process exits; a job flushes Redis into
`api_key_usage` and `api_keys.last_used_at`. Without Redis the tally is flushed straight into the
database. A batch is numbered and applied at most once, so a push whose answer was lost is simply sent
again; a key's last use only moves forward. A worker killed outright loses at most its last second of
counts: never a replay-guard entry, which is written in Redis on the request itself."""

from __future__ import annotations

import atexit
import itertools
import logging
import os
import secrets
import threading
import time
import weakref
from collections import Counter
from datetime import UTC, datetime

from redis import Redis
from redis.commands.core import Script
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


# A batch of counts applied at most once, whatever happens to its reply: each process numbers its batches,
# and Redis keeps the last number applied per process (for a day). A key's last use is replaced only by a
# later one, whichever worker pushes first.
_APPLY_BATCH = """
if tonumber(ARGV[1]) <= tonumber(redis.call('GET', KEYS[1]) or '0') then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', 86400)
local fields = tonumber(ARGV[2])
for i = 3, 2 + 2 * fields, 2 do
  redis.call('HINCRBY', KEYS[2], ARGV[i], ARGV[i + 1])
end
for i = 3 + 2 * fields, #ARGV, 3 do
  local stored = redis.call('HGET', KEYS[3], ARGV[i])
  if not stored or tonumber(string.match(stored, '^[^|]+')) < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1] .. '|' .. ARGV[i + 2])
  end
end
return 1
"""
APPLIED = "onboarding:key-usage:applied:"
# Bound to no client (a tally holds its client only weakly): each call names the client.
_APPLY = Script(None, _APPLY_BATCH.encode())


class RedisTally(Tally):
    """A tally pushed to one Redis server once a second, by a daemon thread started with the first count,
    and at exit. It holds its client weakly: a client that is gone (an app of a test run) ends the thread.

    A push whose answer is lost (a reset connection, a timeout) may have been applied or not: that batch is
    kept whole and sent again under its number, which Redis applies at most once. Counts made meanwhile wait
    for the next batch. The push lock is held from taking the tally to the answer, so an exit waits for a
    push in flight instead of finding the tally empty."""

    def __init__(self, client: Redis) -> None:
        super().__init__()
        self._client = weakref.ref(client)
        self._pusher: threading.Thread | None = None
        self._push_lock = threading.Lock()
        self._process = secrets.token_hex(8)
        self._numbers = itertools.count(1)
        self._in_doubt: tuple[int, Counter, dict] | None = None

    def add(self, key_id: int, reason: str, client_ip: str) -> None:
        super().add(key_id, reason, client_ip)
        if self._pusher is None:
            with self._lock:
                if self._pusher is None:
                    self._pusher = threading.Thread(target=_push_every_second, args=(weakref.ref(self),),
                                                    name="key-usage-push", daemon=True)
                    self._pusher.start()

    def push(self, *, wait: float = -1) -> bool:
        """Hand the tally to Redis; False when the client is gone. A batch Redis did not confirm stays for the
        next push. `wait`: how long to wait for a push in flight (-1: as long as it takes)."""
        client = self._client()
        if client is None:
            return False
        if not self._push_lock.acquire(timeout=wait):
            return True
        try:
            while True:
                if self._in_doubt is None:
                    counts, last = self.take()
                    if not counts and not last:
                        return True
                    self._in_doubt = (next(self._numbers), counts, last)
                number, counts, last = self._in_doubt
                try:
                    _APPLY(keys=[APPLIED + self._process, COUNTS, LAST], client=client,
                                args=[number, len(counts),
                                      *(part for (key_id, day, reason), n in counts.items()
                                        for part in (f"{key_id}|{day}|{reason}", n)),
                                      *(part for key_id, (at, ip) in last.items() for part in (key_id, repr(at), ip))])
                except Exception as exc:  # noqa: BLE001 - whatever failed, the batch is kept and sent again
                    log.warning("could not push %s to Redis (%s); kept for the next push",
                                plural(sum(counts.values()), "key usage count"), exc)
                    return True
                self._in_doubt = None
        finally:
            self._push_lock.release()


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
_creating = threading.Lock()


def _tally(connection: Redis | None) -> Tally:
    global _local_tally
    if connection is None:
        if _local_tally.pid != os.getpid():  # a forked child: what the parent counted is the parent's
            with _creating:
                if _local_tally.pid != os.getpid():
                    _local_tally = Tally()
        return _local_tally
    tally = _tallies.get(connection)
    if tally is None or tally.pid != os.getpid():
        # Two threads must never each make one: the tally one of them would drop takes its counts with it.
        with _creating:
            tally = _tallies.get(connection)
            if tally is None or tally.pid != os.getpid():
                tally = _tallies[connection] = RedisTally(connection)
    return tally


@atexit.register
def _push_at_exit() -> None:
    for tally in list(_tallies.values()):
        if tally.pid == os.getpid():
            tally.push(wait=5)  # a push in flight finishes first


def count_decision(key_id: int, reason: str, client_ip: str) -> None:
    _tally(shared_redis()).add(key_id, reason, client_ip)


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
