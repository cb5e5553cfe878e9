"""The one Redis command every signed request makes (the replay guard's script), sent on a connection
of its own per thread, and answered while the caller goes on with the rest of its decision.

redis-py's client takes a connection from its pool, wraps the call in its retry machinery and packs
the arguments through its encoder on every command: about 12 µs of Python around a 15 µs round trip
on loopback, paid on every authorize call. Here the connection (redis-py's own `Connection`, so
authentication, database selection, timeouts and reply parsing stay the library's) is kept by the
thread that uses it, and the command is packed directly: the protocol's framing of a few byte strings.

Failures behave as with the client: a connection found broken is opened again and the command sent
once more (a reply lost after Redis ran the script then reads as a replay: a refusal, never a second
pass); a Redis that stays away raises RedisError, which the authorize endpoint answers with 503."""

from __future__ import annotations

import hashlib
import os
import threading

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError


def _pack(parts: tuple[bytes, ...]) -> bytes:
    """One command in RESP: an array of bulk strings."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        out += (b"$%d\r\n" % len(part), part, b"\r\n")
    return b"".join(out)


def _bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()


class ScriptLine:
    """Run one Lua script by its SHA on a per-thread connection to the client's server.

    `send` starts the round trip and `reply` reads its answer, so the caller can do other work while
    Redis runs the script; calling the line does both."""

    def __init__(self, client: Redis, script: str):
        self._kwargs = dict(client.connection_pool.connection_kwargs)
        self._connection_class = client.connection_pool.connection_class
        self._script = script.encode()
        self._sha = hashlib.sha1(self._script, usedforsecurity=False).hexdigest().encode()  # Redis names scripts so
        self._local = threading.local()

    def _connection(self):
        connection = getattr(self._local, "connection", None)
        # A forked worker must not share its parent's socket.
        if connection is None or self._local.pid != os.getpid():
            connection = self._connection_class(**self._kwargs)
            self._local.connection, self._local.pid, self._local.tail = connection, os.getpid(), None
        return connection

    def __call__(self, keys: tuple[str, ...], args: tuple[object, ...]):
        self.send(keys, args)
        return self.reply()

    def send(self, keys: tuple[str, ...], args: tuple[object, ...]) -> None:
        connection = self._connection()
        if self._local.tail is not None:
            # The last reply was never read (its caller failed in between): a reply read now would be that
            # one. A new connection starts in step.
            connection.disconnect()
        tail = (b"%d" % len(keys), *(_bytes(k) for k in keys), *(_bytes(a) for a in args))
        self._local.tail = tail
        try:
            self._evalsha(connection, tail)
        except (RedisConnectionError, RedisTimeoutError, OSError):
            connection.disconnect()
            self._evalsha(connection, tail)

    def reply(self):
        """The answer to the last `send` on this thread."""
        connection, tail = self._local.connection, self._local.tail
        try:
            try:
                return self._answer(connection, tail)
            except (RedisConnectionError, RedisTimeoutError, OSError):
                connection.disconnect()
                self._evalsha(connection, tail)
                return self._answer(connection, tail)
        finally:
            self._local.tail = None

    def _evalsha(self, connection, tail: tuple[bytes, ...]) -> None:
        connection.send_packed_command([_pack((b"EVALSHA", self._sha, *tail))], check_health=False)

    def _answer(self, connection, tail: tuple[bytes, ...]):
        try:
            return connection.read_response()
        except NoScriptError:  # a restarted or flushed Redis: EVAL loads the script and runs it
            connection.send_packed_command([_pack((b"EVAL", self._script, *tail))], check_health=False)
            return connection.read_response()
