"""Arguments refused before anything is sent: each with its own exception and
a message that says what to do, and the client usable afterwards."""

import re

import pytest

from pygibson import ArgumentError, ConnectionError, PyGibsonError


def refused(client, exc_type, fragment, call, *args, **kwargs):
    with pytest.raises(exc_type) as info:
        call(*args, **kwargs)
    assert fragment in str(info.value)
    # Nothing was sent: the connection, if any, is still in step.
    client.set("after", "ok")
    assert client.get("after") == b"ok"
    return info.value


def test_argument_error_is_a_value_error_and_a_gibson_error():
    assert issubclass(ArgumentError, ValueError)
    assert issubclass(ArgumentError, PyGibsonError)


@pytest.mark.parametrize("key", ["", b""])
def test_empty_key(client, key):
    refused(client, ArgumentError, "empty", client.get, key)
    refused(client, ArgumentError, "empty", client.set, key, "v")


@pytest.mark.parametrize("key", ["a b", b"a b", " a", "a "])
def test_key_with_space(client, key):
    error = refused(client, ArgumentError, "space", client.set, key, "v")
    assert isinstance(error, ValueError)


def test_prefix_with_space(client):
    refused(client, ArgumentError, "space", client.mget, "a b")
    refused(client, ArgumentError, "empty", client.count, "")


@pytest.mark.parametrize("value", ["", b"", bytearray()])
def test_empty_value(client, value):
    refused(client, ArgumentError, "empty", client.set, "k", value)
    refused(client, ArgumentError, "empty", client.mset, "k", value)


@pytest.mark.parametrize("bad", [None, 1.5, object(), ["k"], {"k": 1}])
def test_key_of_wrong_type(client, bad):
    error = refused(client, TypeError, "key", client.get, bad)
    assert "str or bytes-like" in str(error)


@pytest.mark.parametrize("bad", [None, object(), True, ["v"]])
def test_value_of_wrong_type(client, bad):
    refused(client, TypeError, "value", client.set, "k", bad)


@pytest.mark.parametrize("ttl", [-1, 32768, 65536, 2**40])
def test_ttl_the_server_would_wrap_is_refused(client, ttl):
    error = refused(client, ArgumentError, "TTL", client.set, "k", "v", ttl)
    assert "32767" in str(error)
    refused(client, ArgumentError, "TTL", client.ttl, "k", ttl)
    refused(client, ArgumentError, "TTL", client.mttl, "k", ttl)


def test_strict_ttl_can_be_turned_off(make_client):
    client = make_client(strict_ttl=False)
    client.set("k", "v", 65537)  # stored as 1 by the server's 16-bit field
    assert client.meta("k", "ttl") == 1


@pytest.mark.parametrize("ttl", [1.5, "10", None, True])
def test_ttl_of_wrong_type(client, ttl):
    refused(client, TypeError, "ttl", client.set, "k", "v", ttl)


def test_ttl_out_of_64_bits(client):
    refused(client, ArgumentError, "out of range", client.set, "k", "v", 2**64)


def test_lock_time_below_minus_one(client):
    client.set("k", "v")
    refused(client, ArgumentError, "lock", client.lock, "k", -2)
    refused(client, TypeError, "seconds", client.lock, "k", 1.0)


@pytest.mark.parametrize("limit", [0, -1])
def test_mget_limit_below_one(client, limit):
    refused(client, ArgumentError, "limit", client.mget, "k", limit)


@pytest.mark.parametrize("field", ["l", "siz", "SIZE", "sizes", "bogus", ""])
def test_meta_field_must_be_a_full_name(client, field):
    client.set("k", "v")
    with pytest.raises(ArgumentError):
        client.meta("k", field)
    assert client.meta("k", "size") == 1


def test_key_longer_than_max_key_size(client):
    refused(client, ArgumentError, "max_key_size", client.get, "k" * 513)
    client.set("k" * 510, "v")  # 510 + "0 " fits the SET budget of 512
    refused(client, ArgumentError, "max_key_size", client.set, "k" * 511, "v")


def test_frame_over_max_request_size(make_client):
    client = make_client(max_request_size=1024)
    refused(client, ArgumentError, "max_request_size", client.set, "k", b"x" * 2000)


def test_value_over_configured_max_value_size(make_client):
    client = make_client(max_value_size=10)
    refused(client, ArgumentError, "max_value_size", client.set, "k", b"x" * 11)
    client.set("k", b"x" * 10)


def test_lone_surrogate_in_str_key(client):
    refused(client, ArgumentError, "surrogate", client.get, "a\ud800b")


def test_wrong_number_of_arguments(client):
    with pytest.raises(TypeError):
        client.get()
    with pytest.raises(TypeError):
        client.get("a", "b", "c")  # get("a", "b") is a key and its default
    with pytest.raises(TypeError):
        client.set("a", "b", 1, 2)
    with pytest.raises(TypeError):
        client.set("a", value="b", bogus=1)
    with pytest.raises(TypeError):
        client.set("a", "b", key="c")


def test_keyword_arguments(client):
    client.set(key="k", value="v", ttl=10)
    assert client.get(key="k") == b"v"
    assert client.mget(prefix="k", limit=1) == {"k": b"v"}


@pytest.mark.parametrize(
    "options, fragment",
    [
        (dict(port=0), "port"),
        (dict(port=70000), "port"),
        (dict(timeout=0), "timeout"),
        (dict(timeout=-5), "timeout"),
        (dict(connect_timeout=0), "connect_timeout"),
        (dict(encoding="no-such-codec"), "encoding"),
        (dict(max_key_size=0), "max_key_size"),
    ],
)
def test_bad_constructor_options(Client, options, fragment):
    with pytest.raises(ArgumentError) as info:
        Client(**options)
    assert fragment in str(info.value)


def test_addr_and_host_together_are_refused(Client):
    with pytest.raises(TypeError):
        Client(addr="127.0.0.1", host="127.0.0.1")


def test_bad_constructor_types(Client):
    with pytest.raises(TypeError):
        Client(addr=5)
    with pytest.raises(TypeError):
        Client(timeout="1000")
    with pytest.raises(TypeError, match="^port must be an int between 1 and 65535, not str"):
        Client(port="10128")


@pytest.mark.parametrize("timeout", [1.5, 0.5, 2.25])
def test_a_timeout_with_a_fraction_is_refused_not_cut(Client, timeout):
    # 1.5 became 1 ms: most likely 1.5 seconds was meant (the pools and
    # redis-py take seconds), and nothing was said.
    for name in ("timeout", "connect_timeout"):
        with pytest.raises(ArgumentError) as info:
            Client(**{name: timeout})
        message = str(info.value)
        assert message.startswith("%s is in whole milliseconds" % name), message
        assert "pass %d" % round(timeout * 1000) in message and "seconds" in message


def test_a_whole_float_timeout_is_taken(Client):
    assert Client(timeout=1500.0).timeout == 1500
    assert Client(timeout=1500.0, connect_timeout=20.0).connect_timeout == 20


class _StrKey(str):
    pass


class _BytesKey(bytes):
    pass


@pytest.mark.parametrize("key", [
    "caf\u00e9:1", _StrKey("caf\u00e9:1"), "caf\u00e9:1".encode(), _BytesKey("caf\u00e9:1".encode()),
    bytearray("caf\u00e9:1".encode()), memoryview("caf\u00e9:1".encode()),
])
def test_every_key_type_names_the_same_key(client, key):
    # ASCII str and exact bytes lend their bytes as they are; everything else
    # is converted: both must reach the same key, alone and pipelined.
    client.set("caf\u00e9:1".encode(), b"v")
    client.set(b"plain", b"p")
    assert client.get(key) == b"v"
    assert client.get(_StrKey("plain")) == b"p"
    pipe = client.pipeline()
    pipe.get(key).get("plain").get(_BytesKey(b"plain"))
    assert pipe.execute() == [b"v", b"p", b"p"]


@pytest.mark.parametrize("key", ["\u00e9 b", _StrKey("a b"), _BytesKey(b"a b"), bytearray(b"a b")])
def test_space_refused_in_converted_keys(client, key):
    refused(client, ArgumentError, "space", client.get, key)
    pipe = client.pipeline()
    with pytest.raises(ArgumentError):
        pipe.get(key)
    assert len(pipe) == 0


@pytest.mark.parametrize("addr, host, port, unix_socket", [
    ("localhost:10200", "localhost", 10200, None),
    ("127.0.0.1:1", "127.0.0.1", 1, None),
    ("[::1]:10200", "::1", 10200, None),
    ("[::1]", "::1", 10128, None),
    ("::1", "::1", 10128, None),
    ("/tmp/gibson.sock", "127.0.0.1", 10128, "/tmp/gibson.sock"),
    ("localhost", "localhost", 10128, None),
])
def test_addr_as_people_write_it(Client, addr, host, port, unix_socket):
    # Client("localhost:10128") used to look up a host named
    # "localhost:10128".
    client = Client(addr)
    assert (client.port, client.unix_socket) == (port, unix_socket)
    if unix_socket is None:
        assert client.addr == host


@pytest.mark.parametrize("addr", ["host:port", "host:0", "host:70000", "[::1]x", "[::1"])
def test_addr_with_a_bad_port_is_refused(Client, addr):
    with pytest.raises(ArgumentError, match="addr %s" % re.escape(repr(addr))):
        Client(addr)


def test_a_port_in_addr_and_in_port_is_refused(Client):
    with pytest.raises(TypeError, match="not both"):
        Client("localhost:10200", port=10300)
    assert Client("localhost:10200", port=10128).port == 10200


def test_addr_with_a_port_reaches_the_server(Client, server):
    if server.unix_socket:
        client = Client(server.unix_socket)
    else:
        client = Client("%s:%d" % (server.host, server.port))
    client.set("addr", "ok")
    assert client.get("addr") == b"ok"
    client.close()


@pytest.mark.parametrize("call", [
    lambda c: c.get(""), lambda c: c.get("a b"), lambda c: c.set("k", "v", ttl=-5),
    lambda c: c.mget("p", -1), lambda c: c.set("k", "")])
def test_a_bad_argument_is_said_as_such_when_the_server_is_down(make_client, server, call):
    # Checked before connecting: with the server refusing connections, the
    # error is the argument's, not "could not connect".
    server.faults.refuse_connections()
    try:
        client = make_client(connect_retries=0)
        with pytest.raises(ArgumentError):
            call(client)
        with pytest.raises(ConnectionError):  # a good call still fails as it should
            client.get("k")
    finally:
        server.faults.accept_connections()
    assert client.set("k", "v") is None
