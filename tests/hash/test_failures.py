"""The failure policy: servers that fail are marked dead, their keys raise
ServerDownError or (failover=True) move to the live servers, and dead
servers are tried again after dead_timeout and rejoin. Time is a fake
clock: nothing here sleeps or measures time."""

import pytest

import pygibson._sharded
from pygibson import (
    ConnectionError, NotFoundError, PartialFailureError, ServerDownError, TimeoutError,
)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(pygibson._sharded, "monotonic", clock)
    return clock


def label(server):
    return "%s:%d" % (server.host, server.port)


def keys_on(client, server, count=5, prefix="key"):
    """``count`` keys that the client places on ``server``."""
    found = []
    i = 0
    while len(found) < count:
        key = "%s%d" % (prefix, i)
        if client.server_for(key) == label(server):
            found.append(key)
        i += 1
    return found


def keys_elsewhere(client, server, count=5):
    return [key for key in ("other%d" % i for i in range(200))
            if client.server_for(key) != label(server)][:count]


def kill(client, server, key):
    """Stop the server and fail retry_attempts (2) calls on it."""
    server.stop()
    for _ in range(2):
        with pytest.raises(ConnectionError) as info:
            client.get(key)
        assert not isinstance(info.value, ServerDownError)
        assert str(server.port) in str(info.value)


def test_a_dead_server_raises_server_down_naming_it(make_hash, servers, clock):
    client = make_hash()
    victim = servers[0]
    mine, others = keys_on(client, victim), keys_elsewhere(client, victim)
    for key in mine + others:
        client.set(key, "v")
    kill(client, victim, mine[0])
    assert client.dead_servers == [label(victim)]
    victim.start()  # it is back, but its dead time is not over: no I/O to it
    with pytest.raises(ServerDownError) as info:
        client.get(mine[1])
    assert info.value.server == label(victim)
    assert label(victim) in str(info.value) and "failover=True" in str(info.value)
    assert isinstance(info.value, ConnectionError)
    assert [client.get(key) for key in others] == [b"v"] * len(others)


def test_a_dead_server_rejoins_after_dead_timeout(make_hash, servers, clock):
    client = make_hash(dead_timeout=30)
    victim = servers[1]
    mine = keys_on(client, victim)
    client.set(mine[0], "kept")
    kill(client, victim, mine[0])
    victim.start()
    clock.advance(29)
    with pytest.raises(ServerDownError):
        client.get(mine[0])
    clock.advance(2)
    assert client.get(mine[0]) == b"kept"  # the server kept its data over the restart
    assert client.dead_servers == []
    assert "dead" not in repr(client)


def test_a_server_still_down_after_dead_timeout_is_dead_again_at_once(
        make_hash, servers, clock):
    client = make_hash(dead_timeout=30)
    victim = servers[2]
    mine = keys_on(client, victim)
    kill(client, victim, mine[0])
    clock.advance(31)
    with pytest.raises(ConnectionError) as info:  # tried: one failure is enough now
        client.get(mine[0])
    assert not isinstance(info.value, ServerDownError)
    with pytest.raises(ServerDownError):
        client.get(mine[0])


def test_failures_further_apart_than_retry_timeout_do_not_kill(make_hash, servers, clock):
    client = make_hash(retry_timeout=1.0)
    victim = servers[0]
    mine = keys_on(client, victim)
    victim.stop()
    for _ in range(3):
        with pytest.raises(ConnectionError) as info:
            client.get(mine[0])
        assert not isinstance(info.value, ServerDownError)
        clock.advance(1.5)
    assert client.dead_servers == []


def test_a_success_between_failures_resets_the_count(make_hash, servers, clock):
    client = make_hash(retry_attempts=2)
    victim = servers[0]
    mine = keys_on(client, victim)
    client.set(mine[0], "v")
    for _ in range(3):
        victim.faults.refuse_connections()
        client.close()
        with pytest.raises(ConnectionError):
            client.get(mine[0])
        victim.faults.accept_connections()
        assert client.get(mine[0]) == b"v"
    assert client.dead_servers == []


def test_timeouts_count_as_failures(make_hash, servers, clock):
    client = make_hash(timeout=100, retry_attempts=1)
    victim = servers[3]
    mine = keys_on(client, victim)
    client.set(mine[0], "v")
    victim.faults.delay_replies(2.0)
    with pytest.raises(TimeoutError):
        client.get(mine[0])
    assert client.dead_servers == [label(victim)]


def test_failover_moves_only_the_dead_servers_keys(make_hash, servers, clock):
    client = make_hash(failover=True, dead_timeout=30)
    victim = servers[1]
    mine, others = keys_on(client, victim), keys_elsewhere(client, victim, 50)
    placed = {key: client.server_for(key) for key in others}
    for key in mine:
        client.set(key, "before")
    kill(client, victim, mine[0])
    # Its keys now live elsewhere, empty there; nobody else's key moved.
    assert all(client.server_for(key) != label(victim) for key in mine)
    assert {key: client.server_for(key) for key in others} == placed
    with pytest.raises(NotFoundError):
        client.get(mine[0])
    client.set(mine[0], "during")
    assert client.get(mine[0]) == b"during"
    # Back after dead_timeout: the key returns to it, with its old value.
    victim.start()
    clock.advance(31)
    assert client.server_for(mine[0]) == label(victim)
    assert client.get(mine[0]) == b"before"
    assert client.dead_servers == []


def test_failover_with_every_server_dead_raises_server_down(make_hash, servers, clock):
    client = make_hash(servers[:2], failover=True)
    for server in servers[:2]:
        server.stop()
    for key in ("a", "b", "c", "d", "e", "f"):
        with pytest.raises(ConnectionError):
            client.get(key)
    assert sorted(client.dead_servers) == sorted(label(s) for s in servers[:2])
    with pytest.raises(ServerDownError, match="no live server"):
        client.get("a")
    with pytest.raises(PartialFailureError) as info:
        client.count("a")
    assert sorted(info.value.servers) == sorted(client.servers)


def test_fan_out_with_a_dead_server_carries_the_partial_result(make_hash, servers, clock):
    client = make_hash()
    victim = servers[0]
    mine = keys_on(client, victim, prefix="p:")
    others = [key for key in ("p:x%d" % i for i in range(100))
              if client.server_for(key) != label(victim)][:10]
    for key in mine + others:
        client.set(key, "v")
    kill(client, victim, mine[0])
    with pytest.raises(PartialFailureError) as info:
        client.mget("p:")
    error = info.value
    assert error.servers == [label(victim)]
    assert isinstance(error.errors[label(victim)], ServerDownError)
    assert sorted(error.result) == sorted(others)
    assert label(victim) in str(error) and "ignore_exc=True" in str(error)
    assert isinstance(error, ConnectionError)


def test_fan_out_ignore_exc_returns_what_answered(make_hash, servers, clock):
    client = make_hash(ignore_exc=True)
    victim = servers[0]
    mine = keys_on(client, victim, prefix="p:")
    for key in mine + ["p:elsewhere%d" % i for i in range(20)]:
        client.set(key, "v")
    victim.stop()
    on_others = 20 - sum(client.server_for("p:elsewhere%d" % i) == label(victim)
                         for i in range(20))
    assert client.count("p:") == on_others  # a failure, ignored
    with pytest.raises(ConnectionError):
        client.get(mine[0])  # the second failure: dead
    assert client.dead_servers == [label(victim)]
    assert client.count("p:") == on_others  # a dead server, ignored


def test_failover_fan_out_leaves_dead_servers_out(make_hash, servers, clock):
    client = make_hash(failover=True)
    victim = servers[2]
    mine = keys_on(client, victim, prefix="p:")
    for key in mine:
        client.set(key, "v")
    client.set("p:elsewhere", "v")
    lost = client.server_for("p:elsewhere") == label(victim)
    kill(client, victim, mine[0])
    assert client.count("p:") == (0 if lost else 1)


def test_ping_tries_dead_servers_and_brings_them_back(make_hash, servers, clock):
    client = make_hash()
    victim = servers[0]
    mine = keys_on(client, victim)
    kill(client, victim, mine[0])
    with pytest.raises(PartialFailureError) as info:
        client.ping()
    assert info.value.servers == [label(victim)]
    victim.start()
    client.ping()  # no waiting for dead_timeout: ping is how to ask
    assert client.dead_servers == []
    client.set(mine[0], "v")


def test_quit_leaves_dead_servers_alone(make_hash, servers, clock):
    client = make_hash()
    victim = servers[1]
    kill(client, victim, keys_on(client, victim)[0])
    assert client.quit() is None
    assert client.pipeline().quit().execute() == [None]


@pytest.mark.parametrize("failover", [False, True])
def test_a_server_killed_and_restarted_mid_run(make_hash, servers, clock, failover):
    """Many calls over every server while one dies and comes back: only its
    keys fail (or move, with failover), every other call works throughout."""
    client = make_hash(failover=failover, dead_timeout=10)
    victim = servers[3]
    keys = ["run%d" % i for i in range(60)]
    victims = set(keys_on(client, victim, 60, "run")) & set(keys)
    assert victims
    for key in keys:
        client.set(key, "0")
    failed = 0
    for step in range(300):
        if step == 100:
            victim.faults.reset_connections()  # connections cut, then refused
            client.close()
        if step == 200:
            victim.faults.accept_connections()
            clock.advance(11)
        key = keys[step % len(keys)]
        if 100 <= step < 200 and key in victims:
            try:
                client.set(key, str(step))
            except ConnectionError:
                failed += 1
                continue
            # Only with failover, and only once the server is marked dead.
            assert failover and client.dead_servers == [label(victim)]
        else:
            client.set(key, str(step))
        assert client.get(key) == str(step).encode()
        clock.advance(0.01)
    # Without failover every call for its keys failed while it was down;
    # with it, only the retry_attempts (2) that marked it dead.
    assert failed == (2 if failover else sum(keys[s % 60] in victims for s in range(100, 200)))
    assert client.dead_servers == []
    # What failover wrote elsewhere stays there, separate; a merged mget
    # takes each key from the server that owns it now.
    stale = client.count("run") - len(keys)
    assert 0 < stale <= len(victims) if failover else stale == 0
    assert client.mget("run") == {key: client.get(key) for key in keys}
