"""Key usage counts are tallied in each process and handed to Redis by the process itself (keys.usage):
once a second by a thread, at exit, and before a flush. None is lost while Redis is away, none is counted
twice by a forked child, and the replay guard's answer is read after the work done while Redis ran it."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from redis import Redis

from onboarding.keys import usage
from onboarding.keys.usage import COUNTS, LAST, PUSH_SECONDS

ROOT = Path(__file__).resolve().parent.parent


def _counts(client: Redis) -> dict[str, int]:
    return {field.decode(): int(value) for field, value in client.hgetall(COUNTS).items()}


def _wait_for(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def test_the_pusher_thread_hands_the_tally_to_redis_within_about_a_second(own_redis):
    client = Redis.from_url(own_redis.url)
    tally = usage._tally(client)
    started = time.monotonic()
    for _ in range(3):
        tally.add(7, "ok", "203.0.113.10")
    tally.add(7, "ip_not_allowed", "198.51.100.9")
    assert _counts(client) == {}, "nothing is written on the request itself"
    _wait_for(lambda: sum(_counts(client).values()) == 4)
    assert time.monotonic() - started < PUSH_SECONDS + 2
    day = usage._day(time.time())
    assert _counts(client) == {f"7|{day}|ok": 3, f"7|{day}|ip_not_allowed": 1}
    at, ip = client.hget(LAST, "7").decode().split("|")
    assert ip == "198.51.100.9" and abs(float(at) - time.time()) < 10


def test_counts_redis_refused_are_kept_and_pushed_when_it_is_back(own_redis):
    client = Redis.from_url(own_redis.url, socket_connect_timeout=1, socket_timeout=1)
    tally = usage.RedisTally(client)  # not registered, and counted without starting its thread: only this test pushes
    usage.Tally.add(tally, 8, "ok", "203.0.113.10")
    own_redis.stop()
    assert tally.push() is True  # refused: logged, kept
    usage.Tally.add(tally, 8, "ok", "203.0.113.11")
    own_redis.start()
    tally.push()
    day = usage._day(time.time())
    assert _counts(Redis.from_url(own_redis.url)) == {f"8|{day}|ok": 2}
    assert Redis.from_url(own_redis.url).hget(LAST, "8").decode().endswith("|203.0.113.11"), "the latest use wins"


def test_a_process_that_exits_pushes_what_it_counted(own_redis):
    program = (
        "from redis import Redis\n"
        "from onboarding.keys import usage\n"
        f"client = Redis.from_url({own_redis.url!r})  # an app keeps its client for its whole life\n"
        "tally = usage._tally(client)\n"
        "usage.PUSH_SECONDS = 3600  # only the exit can push\n"
        "for _ in range(5):\n"
        "    tally.add(9, 'ok', '203.0.113.10')\n"
    )
    subprocess.run([sys.executable, "-c", program], cwd=ROOT, check=True, timeout=60)
    assert _counts(Redis.from_url(own_redis.url)) == {f"9|{usage._day(time.time())}|ok": 5}


def test_a_forked_child_never_pushes_its_parents_counts(own_redis):
    client = Redis.from_url(own_redis.url)
    usage._tallies.pop(client, None)
    parent = usage._tally(client)
    parent.add(10, "ok", "203.0.113.10")
    parent.add(10, "ok", "203.0.113.10")
    child = os.fork()
    if child == 0:  # the child: one count of its own, pushed, then gone without the parent's exit handlers
        code = 1
        try:
            mine = usage._tally(client)
            code = 0 if mine is not parent else 2
            mine.add(10, "ok", "203.0.113.12")
            mine.push()
        finally:
            os._exit(code)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child got a tally of its own"
    parent.push()
    assert _counts(client) == {f"10|{usage._day(time.time())}|ok": 3}


class AnswerLosingProxy:
    """A TCP proxy in front of Redis that lets the first usage batch reach Redis, then closes the connection
    before its answer comes back: the batch ran, and its sender cannot know it."""

    def __init__(self, redis_port: int) -> None:
        self.redis_port = redis_port
        self.dropped = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.redis_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while data := source.recv(65536):
                if not from_client and self.dropped == 1:
                    continue  # the answer to the batch never reaches its sender
                if from_client and usage.APPLIED.encode() in data and not self.dropped:
                    self.dropped = 1
                    target.sendall(data)
                    time.sleep(0.3)  # Redis runs the batch...
                    self.dropped = 2
                    break  # ...and the connection goes with the answer
                target.sendall(data)
        except OSError:
            pass
        for end in (source, target):
            end.close()

    def close(self) -> None:
        self._listener.close()


def test_a_batch_whose_answer_was_lost_is_sent_again_and_applied_once(own_redis):
    Redis.from_url(own_redis.url).script_load(usage._APPLY_BATCH)  # the batch itself is what gets lost
    proxy = AnswerLosingProxy(own_redis.port)
    client = Redis(host="127.0.0.1", port=proxy.port, socket_timeout=2)  # a tally holds its client weakly
    try:
        tally = usage.RedisTally(client)
        for _ in range(5):
            usage.Tally.add(tally, 42, "ok", "203.0.113.10")  # counted without starting the thread
        tally.push()
        usage.Tally.add(tally, 42, "ok", "203.0.113.10")
        tally.push()
        tally.push()
    finally:
        proxy.close()
    assert proxy.dropped == 2
    assert _counts(Redis.from_url(own_redis.url)) == {f"42|{usage._day(time.time())}|ok": 6}


def test_a_later_use_is_never_replaced_by_an_earlier_one_pushed_after_it(own_redis):
    client = Redis.from_url(own_redis.url)
    early, late = usage.RedisTally(client), usage.RedisTally(client)  # two workers
    usage.Tally.add(early, 11, "ok", "198.51.100.1")
    time.sleep(0.01)
    usage.Tally.add(late, 11, "ok", "203.0.113.99")
    late.push()
    early.push()
    assert client.hget(LAST, "11").decode().endswith("|203.0.113.99")
    assert _counts(client) == {f"11|{usage._day(time.time())}|ok": 2}


def test_threads_counting_the_first_decisions_of_a_new_client_share_one_tally(own_redis):
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as they can: the window for a lost tally
    try:
        for trial in range(60):
            client = Redis.from_url(own_redis.url)  # a new app's client: its first counts make its tally
            together = threading.Barrier(8)

            def request(client=client, together=together, trial=trial) -> None:
                together.wait()  # eight requests count their decisions at the same moment
                usage._tally(client).add(trial, "ok", "203.0.113.10")

            threads = [threading.Thread(target=request) for _ in range(8)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            gc.collect()  # a tally nobody holds is gone, with its counts
            usage._tally(client).push()
            assert _counts(client)[f"{trial}|{usage._day(time.time())}|ok"] == 8, f"counts lost in trial {trial}"
    finally:
        sys.setswitchinterval(interval)
