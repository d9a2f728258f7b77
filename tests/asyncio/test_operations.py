"""Every operation on AsyncClient gives what the same call on Client gives:
the same result, or the same exception with the same message. Each script
runs on a sync Client and on an AsyncClient against the same (flushed)
server, and the outcomes are compared call by call."""

import inspect

import pytest

import pygibson
from pygibson import Client, NotFoundError, OPERATIONS
from pygibson.asyncio import AsyncClient

from .conftest import options_for

pytestmark = pytest.mark.asyncio

SCRIPTS = {
    "values": [
        ("set", ("foo", "bar")), ("get", ("foo",)), ("set", ("n", 41)), ("inc", ("n",)),
        ("get", ("n",)), ("dec", ("n",)), ("dec", ("new",)), ("set", ("f", 3.25)),
        ("get", ("f",)), ("set", (b"bin", b"a b\x00c")), ("get", (bytearray(b"bin"),)),
        ("set", (memoryview(b"mv"), memoryview(b"view"))), ("get", ("mv",)),
        ("get", ("missing",)), ("inc", ("foo",)), ("set", ("u", "h\u00e9llo")), ("get", ("u",)),
    ],
    "ttl_lock": [
        ("set", ("k", "v"), {"ttl": 30}), ("meta", ("k", "ttl")), ("ttl", ("k", 10)),
        ("meta", ("k", "ttl")), ("ttl", ("nope", 10)), ("lock", ("k", 5)), ("set", ("k", "x")),
        ("dl", ("k",)), ("meta", ("k", "lock")), ("unlock", ("k",)), ("set", ("k", "x")),
        ("lock", ("nope", 5)), ("unlock", ("nope",)), ("delete", ("k",)), ("dl", ("k",)),
        ("meta", ("k", "size")),
    ],
    "prefixes": [
        ("set", ("pa", "1")), ("set", ("pb", "2")), ("set", ("q", "3")), ("mget", ("p",)),
        ("mget", ("p",), {"limit": 1}), ("keys", ("p",)), ("count", ("p",)),
        ("count", ("zz",)), ("mset", ("p", "9")), ("mget", ("p",)), ("minc", ("p",)),
        ("mdec", ("p",)), ("mttl", ("p", 100)), ("mlock", ("p", 5)), ("munlock", ("p",)),
        ("mdl", ("pa",)), ("mdelete", ("p",)), ("mget", ("p",)), ("keys", ("p",)),
        ("mset", ("zz", "1")), ("mttl", ("zz", 5)), ("mdl", ("zz",)), ("minc", ("zz",)),
        ("mlock", ("zz", 1)), ("munlock", ("zz",)),
    ],
    "server": [("ping", ()), ("stats", ()), ("quit", ()), ("ping", ()), ("set", ("a", "b")),
               ("get", ("a",))],
}


def outcome(call):
    try:
        return ("ok", call())
    except pygibson.PyGibsonError as error:
        return ("error", type(error), str(error))


async def async_outcome(coroutine):
    try:
        return ("ok", await coroutine)
    except pygibson.PyGibsonError as error:
        return ("error", type(error), str(error))


def comparable(name, result):
    if name == "stats" and result[0] == "ok":
        # Counters and clocks move between the two runs; the fields do not.
        return ("ok", sorted(result[1]))
    return result


@pytest.mark.parametrize("script", sorted(SCRIPTS))
async def test_same_outcomes_as_client(server, make_client, script):
    steps = [step if len(step) == 3 else step + ({},) for step in SCRIPTS[script]]
    server.flush()
    sync = Client(**options_for(server))
    expected = [comparable(name, outcome(lambda: getattr(sync, name)(*args, **kwargs)))
                for name, args, kwargs in steps]
    sync.close()
    server.flush()
    client = make_client()
    got = [comparable(name, await async_outcome(getattr(client, name)(*args, **kwargs)))
           for name, args, kwargs in steps]
    assert got == expected


async def test_encoding_decodes_values_like_client(server, make_client):
    client = make_client(encoding="utf-8")
    await client.set("k", "h\u00e9llo")
    await client.inc("n")
    assert await client.get("k") == "h\u00e9llo"
    assert await client.get("n") == 1
    assert await client.mget("k") == {"k": "h\u00e9llo"}
    assert await client.keys("k") == ["k"]
    await client.set("bad", b"\xff\xfe")
    with pytest.raises(UnicodeDecodeError) as info:
        await client.get("bad")
    # As Client says it: the operation, the key and what to do.
    assert "GET b'bad'" in str(info.value) and "encoding=None" in str(info.value)
    assert info.value.object == b"\xff\xfe"
    assert await client.get("k") == "h\u00e9llo"  # the connection is in step


async def test_every_operation_is_a_coroutine_with_clients_signature():
    for op in OPERATIONS:
        for name in (op.name,) + op.aliases:
            method = getattr(AsyncClient, name)
            assert inspect.iscoroutinefunction(method), name
            params = list(inspect.signature(method).parameters)[1:]
            extra = ["default"] if op.result == "value" else []  # get(key, default)
            assert params == [p.name for p in op.params] + extra, name
            assert method.__doc__ == getattr(Client, op.name).__doc__.split("--\n\n")[-1]


async def test_keyword_arguments(client):
    await client.set(key="k", value="v", ttl=5)
    assert await client.get(key="k") == b"v"
    assert await client.mget(prefix="k", limit=1) == {"k": b"v"}
    with pytest.raises(TypeError):
        await client.get()


async def test_context_manager_and_reconnect(server, make_client):
    client = make_client()
    assert client.closed
    async with client as same:
        assert same is client
        await client.set("k", "v")
        assert not client.closed
    assert client.closed
    assert await client.get("k") == b"v"  # reopens
    with pytest.raises(NotFoundError):
        await client.get("nope")
    assert "AsyncClient" in repr(client)


async def test_properties_mirror_client(server):
    client = AsyncClient(**options_for(server, timeout=250, encoding="utf-8"))
    sync = Client(**options_for(server, timeout=250, encoding="utf-8"))
    for name in ("addr", "host", "port", "unix_socket", "timeout", "connect_timeout",
                 "encoding"):
        assert getattr(client, name) == getattr(sync, name), name


async def test_get_with_a_default_exists_and_from_url(client, server):
    from pygibson.asyncio import AsyncClient, AsyncPooledClient

    assert await client.get("cold", None) is None
    assert await client.get("cold", default=0) == 0
    with pytest.raises(NotFoundError):
        await client.get("cold")
    assert await client.exists("cold") is False
    await client.set("warm", "v")
    assert await client.get("warm", None) == b"v"
    assert await client.exists("warm") is True
    if server.unix_socket:
        url = "unix://%s?timeout=3000" % server.unix_socket
    else:
        url = "gibson://%s:%d?timeout=3000" % (server.host, server.port)
    other = AsyncClient.from_url(url, empty_when_no_match=True)
    assert other.timeout == 3000 and other.empty_when_no_match
    assert await other.mget("none:") == {}
    await other.aclose()
    pooled = AsyncPooledClient(max_size=1, **{k: v for k, v in (
        ("unix_socket", server.unix_socket), ("addr", server.host), ("port", server.port))
        if v is not None and not (server.unix_socket and k != "unix_socket")})
    assert await pooled.get("cold", "d") == "d" and await pooled.exists("warm")
    await pooled.aclose()
