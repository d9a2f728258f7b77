"""TTLs, locks and the cron, driven by a ManualClock: no sleeping, no timed
assertions. docs/protocol.md §5."""

import pytest

from .rawclient import LOCKED, NOT_FOUND, OK


def test_item_expires_when_ttl_seconds_have_passed(c, clock):
    c.call("SET", b"10 k v")
    clock.advance(9)
    assert c.call("GET", b"k") == b"v"
    assert c.call("META", b"k left") == 1
    clock.advance(1)
    assert c.call("GET", b"k") == NOT_FOUND


def test_lazy_expiry_frees_the_item(c, clock, server):
    c.call("SET", b"1 k v")
    clock.advance(1)
    assert server.stats()["total_items"] == 1  # not yet purged
    assert c.call("GET", b"k") == NOT_FOUND
    assert server.stats()["total_items"] == 0


def test_ttl_zero_or_negative_never_expires(c, clock):
    c.call("SET", b"0 a v")
    c.call("SET", b"-3 b v")
    c.call("SET", b"40000 c v")  # wraps to a negative 16-bit TTL
    c.call("SET", b"65536 d v")  # wraps to 0
    clock.advance(10 ** 7)
    for key in (b"a", b"b", b"c", b"d"):
        assert c.call("GET", key) == b"v"


def test_ttl_65537_wraps_to_one_second(c, clock):
    c.call("SET", b"65537 k v")
    assert c.call("META", b"k ttl") == 1
    clock.advance(1)
    assert c.call("GET", b"k") == NOT_FOUND


def test_ttl_command_restarts_the_countdown(c, clock):
    c.call("SET", b"10 k v")
    clock.advance(8)
    assert c.call("TTL", b"k 10") == OK
    clock.advance(8)
    assert c.call("GET", b"k") == b"v"
    clock.advance(2)
    assert c.call("GET", b"k") == NOT_FOUND


@pytest.mark.parametrize("op,payload", [
    ("GET", b"k"), ("TTL", b"k 5"), ("LOCK", b"k 5"), ("UNLOCK", b"k"),
    ("META", b"k size"), ("DEL", b"k"), ("INC", b"k"),
])
def test_expired_items_answer_not_found_everywhere(c, clock, op, payload):
    c.call("SET", b"1 k 5")
    clock.advance(1)
    assert c.call(op, payload) == NOT_FOUND
    assert c.call("KEYS", b"k") == NOT_FOUND  # freed, not just hidden


def test_inc_on_expired_item_is_not_found_then_creates(c, clock):
    c.call("SET", b"1 n 5")
    clock.advance(1)
    assert c.call("INC", b"n") == NOT_FOUND
    assert c.call("INC", b"n") == 1


def test_timed_lock_expires(c, clock):
    c.call("SET", b"0 k v")
    c.call("LOCK", b"k 5")
    clock.advance(4)
    assert c.call("SET", b"0 k w") == LOCKED
    clock.advance(1)
    assert c.call("SET", b"0 k w") == b"w"


def test_lock_restarts_the_ttl(c, clock):
    c.call("SET", b"3 k v")
    clock.advance(2)
    assert c.call("META", b"k left") == 1
    assert c.call("LOCK", b"k 0") == OK  # even a no-op lock
    assert c.call("META", b"k left") == 3
    assert c.call("META", b"k created") == int(clock.time())


def test_ttl_restarts_a_timed_lock(c, clock):
    c.call("SET", b"0 k v")
    c.call("LOCK", b"k 5")
    clock.advance(4)
    c.call("TTL", b"k 100")
    clock.advance(4)
    assert c.call("DEL", b"k") == LOCKED
    clock.advance(1)
    assert c.call("DEL", b"k") == OK


def test_mlock_and_mttl_reset_the_origin(c, clock):
    c.call("SET", b"0 p1 v")
    c.call("MLOCK", b"p 5")
    clock.advance(4)
    c.call("MTTL", b"p 100")
    clock.advance(4)
    assert c.call("DEL", b"p1") == LOCKED
    assert c.call("META", b"p1 left") == 96


def test_locked_and_expired_item_is_still_locked_for_set_and_del(c, clock):
    c.call("SET", b"2 k v")
    c.call("LOCK", b"k -1")
    clock.advance(5)
    assert c.call("SET", b"0 k w") == LOCKED
    assert c.call("DEL", b"k") == LOCKED
    assert c.call("GET", b"k") == NOT_FOUND


def test_prefix_commands_drop_expired_matches(c, clock):
    c.call("SET", b"1 p1 a")
    c.call("SET", b"0 p2 b")
    clock.advance(1)
    # KEYS does not check expiry: the expired key is still listed.
    assert [v for _, _, v in c.call("KEYS", b"p")[1]] == [b"p1", b"p2"]
    assert c.call("COUNT", b"p") == 1
    assert [v for _, _, v in c.call("KEYS", b"p")[1]] == [b"p2"]


@pytest.mark.parametrize("op,payload", [
    ("MSET", b"p x"), ("MTTL", b"p 5"), ("MDEL", b"p"), ("MINC", b"p"),
    ("MDEC", b"p"), ("MLOCK", b"p 5"), ("MUNLOCK", b"p"), ("MGET", b"p"),
])
def test_prefix_commands_answer_not_found_when_all_matches_expired(c, clock, op, payload):
    c.call("SET", b"1 p1 5")
    clock.advance(1)
    assert c.call(op, payload) == NOT_FOUND
    assert c.call("KEYS", b"p") == NOT_FOUND  # and the item was freed


def test_mget_limit_counts_expired_matches(c, clock):
    c.call("SET", b"1 m1 a")
    c.call("SET", b"0 m2 b")
    c.call("SET", b"0 m3 c")
    clock.advance(1)
    count, pairs = c.call("MGET", b"m 2")
    assert count == 1 and [key for key, _, _ in pairs] == [b"m2"]


def test_access_time_updates(c, clock):
    start = int(clock.time())
    c.call("SET", b"0 k v")
    clock.advance(5)
    c.call("KEYS", b"k")  # does not touch access
    assert c.call("META", b"k access") == start
    clock.advance(5)
    c.call("GET", b"k")
    assert c.call("META", b"k access") == start + 10


def test_periodic_expiry_runs_every_expired_cron_seconds(make_server, connect, clock):
    srv = make_server(expired_cron=5, cron_period=60_000)  # no automatic tick
    c = connect(srv)
    c.call("SET", b"1 k v")
    clock.advance(2)
    assert [v for _, _, v in c.call("KEYS", b"k")[1]] == [b"k"]
    srv.run_cron()  # only 2 s since the last sweep: nothing happens
    assert [v for _, _, v in c.call("KEYS", b"k")[1]] == [b"k"]
    clock.advance(3)
    srv.run_cron()
    assert c.call("KEYS", b"k") == NOT_FOUND
    assert srv.stats()["total_cron_done"] == 2


def test_cron_ticks_on_its_own(make_server, connect, clock):
    import time

    srv = make_server(expired_cron=1, cron_period=10)
    c = connect(srv)
    c.call("SET", b"1 k v")
    clock.advance(2)
    deadline = time.monotonic() + 10
    while c.call("KEYS", b"k") != NOT_FOUND:
        assert time.monotonic() < deadline, "the cron never purged the item"
        time.sleep(0.01)


def test_memory_gc_frees_idle_items_while_over_the_limit(make_server, connect, clock):
    srv = make_server(max_memory=1000, max_mem_cron=15, gc_ratio=100, cron_period=60_000)
    c = connect(srv)
    for i in range(10):
        c.call("SET", b"0 old%d %s" % (i, b"x" * 50))
    clock.advance(100)
    c.call("INC", b"fresh")
    clock.advance(15)
    c.call("GET", b"fresh")
    srv.run_cron()
    assert c.call("COUNT", b"old") == 0
    assert c.call("GET", b"fresh") == 1


def test_memory_gc_leaves_items_alone_under_the_limit(make_server, connect, clock):
    srv = make_server(gc_ratio=1, max_mem_cron=1, cron_period=60_000)
    c = connect(srv)
    c.call("SET", b"0 k v")
    clock.advance(10)
    srv.run_cron()
    assert c.call("GET", b"k") == b"v"
