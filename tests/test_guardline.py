"""The replay guard's own line to Redis (keys.guardline): the answers of the script, a Redis that lost its
scripts, a Redis restarted under an open connection, and a Redis that stays away."""

from __future__ import annotations

import threading

import pytest
from redis import Redis
from redis.exceptions import RedisError

from onboarding.keys.guardline import ScriptLine

SCRIPT = "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', 60000) then return 1 end return 0"


def test_the_line_runs_the_script_and_answers_as_the_client_would(own_redis):
    client = Redis.from_url(own_redis.url)
    line = ScriptLine(client, SCRIPT)
    assert line(keys=("seen:a",), args=("x",)) == 1  # the first call loads the script (NOSCRIPT, then EVAL)
    assert line(keys=("seen:a",), args=("x",)) == 0
    assert client.register_script(SCRIPT)(keys=["seen:a"], args=["x"]) == 0  # the same script, the same key
    assert client.get("seen:a") == b"x"


def test_a_redis_that_lost_its_scripts_loads_it_again(own_redis):
    client = Redis.from_url(own_redis.url)
    line = ScriptLine(client, SCRIPT)
    assert line(keys=("seen:b",), args=("x",)) == 1
    client.script_flush()
    assert line(keys=("seen:c",), args=("x",)) == 1


def test_a_restarted_redis_is_reached_again_without_a_new_process(own_redis):
    client = Redis.from_url(own_redis.url)
    line = ScriptLine(client, SCRIPT)
    assert line(keys=("seen:d",), args=("x",)) == 1
    own_redis.stop()
    own_redis.start()  # the same port, empty: the line's socket is dead and the script unknown
    assert line(keys=("seen:d",), args=("x",)) == 1


def test_a_redis_that_stays_away_is_an_error_never_an_answer(own_redis):
    line = ScriptLine(Redis.from_url(own_redis.url, socket_connect_timeout=1, socket_timeout=1), SCRIPT)
    assert line(keys=("seen:e",), args=("x",)) == 1
    own_redis.stop()
    with pytest.raises(RedisError):
        line(keys=("seen:e",), args=("x",))


def test_each_thread_has_its_own_connection(own_redis):
    client = Redis.from_url(own_redis.url)
    line = ScriptLine(client, SCRIPT)
    answers: list[int] = []

    def use(n: int) -> None:
        for k in range(200):
            answers.append(line(keys=(f"seen:t{n}:{k}",), args=("x",)))

    threads = [threading.Thread(target=use, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [1] * 800  # no reply read by the wrong thread, none lost


def test_a_reply_left_unread_is_never_taken_for_the_next_one(own_redis):
    client = Redis.from_url(own_redis.url)
    client.set("seen:h", "x")
    line = ScriptLine(client, SCRIPT)
    assert line(keys=("seen:warm",), args=("x",)) == 1
    line.send(keys=("seen:h",), args=("x",))  # its answer (0) is never read: the caller failed in between
    assert line(keys=("seen:i",), args=("x",)) == 1


def test_work_done_between_send_and_reply_gets_the_answer_of_its_own_send(own_redis):
    client = Redis.from_url(own_redis.url)
    line = ScriptLine(client, SCRIPT)
    line.send(keys=("seen:j",), args=("x",))
    assert client.get("other") is None  # another connection used meanwhile
    assert line.reply() == 1
    line.send(keys=("seen:j",), args=("x",))
    assert line.reply() == 0
