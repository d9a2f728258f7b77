"""Every operation, and every reply code it can get, over TCP and unix."""

import re

import pytest

from pygibson import (
    ArgumentError,
    LockedError,
    NaNError,
    NoMemoryError,
    NotFoundError,
    PyGibsonError,
    ServerError,
)


def test_set_then_get_returns_bytes(client):
    assert client.set("foo", "bar") is None
    assert client.get("foo") == b"bar"


def test_get_missing_key_raises_not_found(client):
    with pytest.raises(NotFoundError) as info:
        client.get("missing")
    assert "missing" in str(info.value)
    assert isinstance(info.value, ServerError)
    assert isinstance(info.value, PyGibsonError)


def test_set_replaces_value_and_ttl(client):
    client.set("k", "one", ttl=100)
    client.set("k", "two")
    assert client.get("k") == b"two"
    assert client.meta("k", "ttl") == -1


def test_set_with_ttl_is_recorded(client):
    client.set("k", "v", ttl=30)
    assert client.meta("k", "ttl") == 30
    assert 0 < client.meta("k", "left") <= 30


def test_ttl_sets_expiry(client):
    client.set("k", "v")
    assert client.ttl("k", 10) is None
    assert client.meta("k", "ttl") == 10


def test_ttl_of_missing_key_raises_not_found(client):
    with pytest.raises(NotFoundError):
        client.ttl("nope", 10)


def test_expired_key_is_gone(client, server):
    client.set("k", "v", ttl=2)
    server.clock.advance(3)
    with pytest.raises(NotFoundError):
        client.get("k")


def test_dl_and_delete_alias(client):
    client.set("a", "1")
    client.set("b", "2")
    assert client.dl("a") is None
    assert client.delete("b") is None
    with pytest.raises(NotFoundError):
        client.get("a")
    with pytest.raises(NotFoundError):
        client.dl("b")


def test_inc_and_dec(client):
    assert client.inc("n") == 1  # created
    assert client.inc("n") == 2
    assert client.dec("n") == 1
    assert client.get("n") == 1  # now a NUMBER item
    assert client.dec("new") == 1  # the server creates 1 for DEC too


def test_inc_converts_text_numbers(client):
    client.set("n", "41")
    assert client.inc("n") == 42
    assert client.get("n") == 42
    assert client.meta("n", "encoding") == 2


def test_inc_of_text_raises_nan(client):
    client.set("t", "abc")
    with pytest.raises(NaNError):
        client.inc("t")
    with pytest.raises(NaNError):
        client.dec("t")


def test_negative_numbers_round_trip(client):
    client.set("n", "0")
    assert client.dec("n") == -1
    assert client.get("n") == -1


def test_lock_blocks_writes_until_unlock(client):
    client.set("k", "v")
    assert client.lock("k", 10) is None
    with pytest.raises(LockedError):
        client.set("k", "w")
    with pytest.raises(LockedError):
        client.dl("k")
    with pytest.raises(LockedError):
        client.inc("k")
    with pytest.raises(LockedError):
        client.lock("k", 5)
    assert client.meta("k", "lock") == 10
    assert client.get("k") == b"v"  # reads still work
    assert client.unlock("k") is None
    client.set("k", "w")
    assert client.get("k") == b"w"


def test_permanent_lock(client, server):
    client.set("k", "v")
    client.lock("k", -1)
    server.clock.advance(1000)
    with pytest.raises(LockedError):
        client.set("k", "w")


def test_timed_lock_expires(client, server):
    client.set("k", "v")
    client.lock("k", 2)
    server.clock.advance(3)
    client.set("k", "w")


def test_lock_and_unlock_of_missing_key(client):
    with pytest.raises(NotFoundError):
        client.lock("nope", 1)
    with pytest.raises(NotFoundError):
        client.unlock("nope")


def test_mset_counts_replaced_keys(client):
    client.set("p:a", "1")
    client.set("p:b", "2")
    client.set("q", "3")
    assert client.mset("p:", "x") == 2
    assert client.get("p:a") == b"x"
    assert client.get("q") == b"3"


#: Every prefix operation the server answers "not found" when nothing
#: matches (count answers 0), with its arguments after the prefix.
NO_MATCH_CALLS = [("mset", ("v",)), ("mttl", (5,)), ("mget", ()), ("mdl", ()),
                  ("minc", ()), ("mdec", ()), ("mlock", (5,)), ("munlock", ()),
                  ("keys", ())]
EMPTY = {"mget": {}, "keys": []}


@pytest.mark.parametrize("method, args", NO_MATCH_CALLS)
def test_prefix_operations_without_match_raise_not_found(client, method, args):
    # As the server answers (REPL_ERR_NOT_FOUND) and the old pygibson raised.
    with pytest.raises(NotFoundError) as info:
        getattr(client, method)("none:", *args)
    message = str(info.value)
    assert "no key matches this prefix" in message, message
    assert "empty_when_no_match=True" in message, message
    assert client.count("none:") == 0  # COUNT answers a number, 0


@pytest.mark.parametrize("method, args", NO_MATCH_CALLS)
def test_prefix_operations_without_match_empty_when_asked(make_client, method, args):
    client = make_client(empty_when_no_match=True)
    assert client.empty_when_no_match is True
    assert getattr(client, method)("none:", *args) == EMPTY.get(method, 0)
    assert client.count("none:") == 0


def test_empty_when_no_match_is_off_by_default(client):
    assert client.empty_when_no_match is False


def test_mttl(client):
    client.set("p:a", "1")
    client.set("p:b", "2")
    assert client.mttl("p:", 20) == 2
    assert client.meta("p:b", "ttl") == 20


def test_mget_returns_dict_in_server_order(client):
    for key in ("kd", "kz", "kn", "kq"):
        client.set(key, key.upper())
    client.inc("k#")
    result = client.mget("k")
    assert list(result) == ["kd", "kz", "kn", "kq", "k#"]
    assert result["kd"] == b"KD"
    assert result["k#"] == 1


def test_mget_limit(client):
    for i in range(5):
        client.set("m%d" % i, str(i))
    assert len(client.mget("m", 2)) == 2
    assert len(client.mget("m", limit=10)) == 5


def test_mdl_minc_mdec(client):
    client.set("c:a", "1")
    client.set("c:b", "10")
    client.set("c:t", "text")
    assert client.minc("c:") == 2  # the text is skipped
    assert client.get("c:b") == 11
    assert client.mdec("c:") == 2
    assert client.get("c:a") == 1
    assert client.mdl("c:") == 3
    assert client.count("c:") == 0


def test_mdelete_alias(client):
    client.set("d:a", "1")
    assert client.mdelete("d:") == 1


def test_mlock_munlock(client):
    client.set("l:a", "1")
    client.set("l:b", "2")
    assert client.mlock("l:", 100) == 2
    with pytest.raises(LockedError):
        client.set("l:a", "x")
    # Locked items are skipped; when all are, the server answers "not
    # found" (not "locked"), for MLOCK too.
    with pytest.raises(NotFoundError):
        client.mset("l:", "x")
    with pytest.raises(NotFoundError):
        client.mlock("l:", 100)
    assert client.munlock("l:") == 2
    assert client.mset("l:", "x") == 2


def test_all_matches_locked_empty_when_asked(make_client):
    client = make_client(empty_when_no_match=True)
    client.set("l:a", "1")
    assert client.mlock("l:", 100) == 1
    assert client.mset("l:", "x") == 0
    assert client.mlock("l:", 100) == 0
    assert client.mdl("l:") == 0
    assert client.munlock("l:") == 1


def test_count(client):
    client.set("c1", "a")
    client.set("c2", "b")
    client.set("d", "c")
    assert client.count("c") == 2


def test_keys_lists_matching_keys(client):
    client.set("ka", "1")
    client.set("kb", "2")
    assert client.keys("k") == [b"ka", b"kb"]


def test_stats_has_the_27_fields(client):
    stats = client.stats()
    assert len(stats) == 27
    assert stats["server_version"] == b"1.2.1"
    assert isinstance(stats["total_items"], int)
    assert isinstance(stats["memory_used"], int)


def test_ping(client):
    assert client.ping() is None


@pytest.mark.parametrize(
    "field", ["size", "encoding", "access", "created", "ttl", "left", "lock"]
)
def test_meta_fields(client, field):
    client.set("k", "hello")
    value = client.meta("k", field)
    assert isinstance(value, int)
    expected = {"size": 5, "encoding": 0, "ttl": -1, "left": -1, "lock": 0}
    if field in expected:
        assert value == expected[field]
    else:
        assert value > 1_600_000_000  # a Unix time


def test_meta_of_missing_key(client):
    with pytest.raises(NotFoundError):
        client.meta("nope", "size")


def test_quit_ends_the_session_and_the_next_call_reconnects(client):
    client.set("k", "v")
    assert client.quit() is None
    assert client.closed
    assert client.get("k") == b"v"
    assert not client.closed


def test_memory_limit_raises_no_memory(Client):
    from pygibson.server import GibsonServer

    with GibsonServer(max_memory=1) as server:
        with Client(addr=server.host, port=server.port) as client:
            client.set("first", "x" * 100)  # puts the server over its limit
            with pytest.raises(NoMemoryError) as info:
                client.set("k", "v")
            assert "max_memory" in str(info.value)
            client.ping()  # still usable


def test_encoding_decodes_values(make_client):
    client = make_client(encoding="utf-8")
    client.set("k", "héllo")
    assert client.get("k") == "héllo"
    assert client.mget("k") == {"k": "héllo"}
    assert client.keys("k") == ["k"]
    assert client.encoding == "utf-8"


def test_repl_err_raises_server_error(client, server):
    """The client refuses every request the real server answers REPL_ERR
    to, so the server is told to send one."""
    server.faults.replace_next_reply(b"\x00\x00\x00\x01\x00\x00\x00\x00")
    with pytest.raises(ServerError) as info:
        client.get("k")
    assert type(info.value) is ServerError
    assert info.value.code == 0
    assert "REPL_ERR" in str(info.value)
    client.set("k", "v")  # the connection is still in step
    assert client.get("k") == b"v"


@pytest.mark.parametrize(
    "reply, method, args",
    [
        (b"\x05\x00\x00\x01\x00\x00\x00\x00", "get", ("k",)),  # OK for a GET
        (b"\x06\x00\x00\x01\x00\x00\x00x", "inc", ("k",)),  # text for a number
        (b"\x07\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00", "ping", ()),  # KV for PING
    ],
)
def test_reply_that_does_not_fit_the_operation(client, server, reply, method, args):
    from pygibson import ProtocolError

    server.faults.replace_next_reply(reply)
    with pytest.raises(ProtocolError) as info:
        getattr(client, method)(*args)
    assert "unexpected reply" in str(info.value)
    assert client.closed
    client.ping()


def test_garbled_key_value_set_is_a_protocol_error(client, server):
    from pygibson import ProtocolError

    # count 1, then a pair cut short inside its key length
    server.faults.replace_next_reply(b"\x07\x00\x00\x06\x00\x00\x00\x01\x00\x00\x00\x05\x00")
    with pytest.raises(ProtocolError):
        client.mget("k")
    assert client.closed
    client.ping()


def test_get_with_a_default_for_the_cache_aside_idiom(client, server):
    assert client.get("cold", None) is None
    assert client.get("cold", default=b"fallback") == b"fallback"
    assert client.get(key="cold", default=0) == 0
    client.set("warm", "v", 1)
    assert client.get("warm", None) == b"v"
    server.clock.advance(2)  # expired: the default, like a missing key
    assert client.get("warm", "gone") == "gone"
    with pytest.raises(NotFoundError):  # without a default it raises, as before
        client.get("warm")


def test_get_default_does_not_hide_other_errors(client):
    client.set("locked", "v")
    with pytest.raises(ArgumentError):
        client.get("a key", None)
    with pytest.raises(TypeError, match=r"at most 2 arguments \(3 given\)"):
        client.get("k", 1, 2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'dflt'"):
        client.get("k", dflt=1)
    with pytest.raises(TypeError, match="multiple values for argument 'default'"):
        client.get("k", 1, default=2)


def test_exists(client, server):
    assert client.exists("nothing") is False
    client.set("there", "v", 1)
    assert client.exists("there") is True
    server.clock.advance(2)
    assert client.exists("there") is False
    with pytest.raises(ArgumentError):
        client.exists("a key")


def test_from_url(Client, server):
    if server.unix_socket:
        url = "unix://%s?timeout=2500&encoding=utf-8" % server.unix_socket
    else:
        url = "gibson://%s:%d?timeout=2500&encoding=utf-8" % (server.host, server.port)
    client = Client.from_url(url, empty_when_no_match=True)
    assert type(client) is Client
    assert client.timeout == 2500 and client.encoding == "utf-8"
    assert client.empty_when_no_match is True
    client.set("url", "é")
    assert client.get("url") == "é"
    client.close()


@pytest.mark.parametrize("url, options", [
    ("gibson://localhost", dict(addr="localhost", port=10128, unix_socket=None)),
    ("gibson://localhost:1234/", dict(addr="localhost", port=1234)),
    ("gibson://[::1]:1234", dict(addr="::1", port=1234)),
    ("gibson://", dict(addr="127.0.0.1", port=10128)),
    ("unix:///tmp/g.sock", dict(unix_socket="/tmp/g.sock")),
    ("gibson://h?timeout=none&strict_ttl=false&retry_reads=0",
     dict(timeout=None)),
])
def test_from_url_forms(Client, url, options):
    client = Client.from_url(url)
    for name, value in options.items():
        assert getattr(client, name) == value, name


@pytest.mark.parametrize("url, fragment", [
    ("redis://localhost", "unknown scheme"),
    ("gibson://h:99999", "port"),
    ("gibson://h/db", "no path"),
    ("unix://relative/sock", "three slashes"),
    ("gibson://h?timeuot=5", "unknown option 'timeuot'"),
    ("gibson://h?timeout=soon", "whole number"),
    ("gibson://h?strict_ttl=maybe", "true or false"),
    ("gibson://h?timeout=1.5", "whole number"),
])
def test_from_url_refusals_say_what_is_wrong(Client, url, fragment):
    with pytest.raises(ArgumentError, match=re.escape(fragment)):
        Client.from_url(url)
