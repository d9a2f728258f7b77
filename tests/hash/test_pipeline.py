"""Pipelines across servers: calls grouped by server, results in the order
of the calls, spanning calls merged, refusals and failures as on Client."""

import pytest

from pygibson import ArgumentError, ConnectionError, NotFoundError, PartialFailureError

KEYS = ["k%d" % i for i in range(200)]


def test_results_come_back_in_the_order_of_the_calls(hash_client):
    pipe = hash_client.pipeline()
    for i, key in enumerate(KEYS):
        pipe.set(key, str(i))
    assert pipe.execute() == [None] * len(KEYS)
    pipe = hash_client.pipeline()
    for key in reversed(KEYS):
        pipe.get(key).inc("n:" + key)
    results = pipe.execute()
    assert results[0::2] == [str(i).encode() for i in reversed(range(len(KEYS)))]
    assert results[1::2] == [1] * len(KEYS)
    assert len({hash_client.server_for(key) for key in KEYS}) == 4


def test_spanning_calls_are_merged_in_place(hash_client):
    for key in KEYS[:40]:
        hash_client.set(key, "v")
    pipe = hash_client.pipeline()
    pipe.count("k").get("k1").mget("k", 3).keys("k1").stats().ping().mdl("k3").count("k")
    count, value, mget, keys, stats, ping, deleted, after = pipe.execute()
    assert (count, value, len(mget), ping) == (40, b"v", 3, None)
    assert sorted(keys) == sorted(k.encode() for k in KEYS[:40] if k.startswith("k1"))
    assert sorted(stats) == sorted(hash_client.servers)
    assert (deleted, after) == (11, 29)


def test_a_refusal_is_raised_carrying_every_result(hash_client):
    hash_client.set("here", "1")
    pipe = hash_client.pipeline().get("here").get("missing").set("x", "2")
    with pytest.raises(NotFoundError) as info:
        pipe.execute()
    here, missing, stored = info.value.results
    assert (here, stored) == (b"1", None)
    assert isinstance(missing, NotFoundError)
    assert hash_client.get("x") == b"2"  # the calls after it ran


def test_refusals_in_place_without_raise_on_error(hash_client):
    results = hash_client.pipeline().get("missing").inc("n").execute(raise_on_error=False)
    assert isinstance(results[0], NotFoundError) and results[1] == 1


def test_bad_arguments_are_refused_when_queued(hash_client):
    pipe = hash_client.pipeline()
    with pytest.raises(ArgumentError):
        pipe.set("a key", "v")
    with pytest.raises(ArgumentError):
        pipe.mget("k", 0)
    assert len(pipe) == 0
    assert pipe.execute() == []


def test_a_server_gone_fails_its_calls_and_keeps_the_others(hash_client, servers):
    for key in KEYS[:40]:
        hash_client.set(key, "v")
    gone = servers[0]
    gone_label = "%s:%d" % (gone.host, gone.port)
    gone.stop()
    pipe = hash_client.pipeline()
    for key in KEYS[:40]:
        pipe.get(key)
    pipe.count("k")
    with pytest.raises(PartialFailureError) as info:
        pipe.execute()
    error = info.value
    assert error.servers == [gone_label]
    assert error.results is error.result
    for key, result in zip(KEYS[:40], error.results):
        if hash_client.server_for(key) == gone_label:
            assert isinstance(result, ConnectionError)
        else:
            assert result == b"v"
    assert isinstance(error.results[-1], PartialFailureError)
    assert error.results[-1].result == sum(
        1 for key in KEYS[:40] if hash_client.server_for(key) != gone_label)


def test_ignore_exc_returns_what_answered(make_hash, servers):
    client = make_hash(ignore_exc=True)
    for key in KEYS[:40]:
        client.set(key, "v")
    gone_label = "%s:%d" % (servers[1].host, servers[1].port)
    servers[1].stop()
    pipe = client.pipeline()
    for key in KEYS[:40]:
        pipe.get(key)
    results = pipe.count("k").execute()
    lost = [key for key in KEYS[:40] if client.server_for(key) == gone_label]
    assert results[-1] == 40 - len(lost)
    assert sum(isinstance(result, ConnectionError) for result in results) == len(lost)


def test_a_pipeline_is_reusable_and_a_context_manager(hash_client):
    with hash_client.pipeline() as pipe:
        assert pipe.set("a", "1").get("a").execute() == [None, b"1"]
        assert pipe.execute() == []
        pipe.get("a")
    assert len(pipe) == 0
