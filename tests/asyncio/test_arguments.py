"""Arguments are refused before anything is sent, with Client's exception
and message, with the default limits and with others."""

import pytest

import pygibson
from pygibson import ArgumentError, Client
from pygibson.asyncio import AsyncClient

from .conftest import options_for

pytestmark = pytest.mark.asyncio

BAD_CALLS = [
    ("get", ("",)), ("get", ("a b",)), ("keys", ("p q",)), ("set", ("k", "")),
    ("get", (1.5,)), ("set", ("k", None)), ("set", ("k", True)), ("set", ("k", [1])),
    ("set", ("k", "v", 40000)), ("set", ("k", "v", -1)), ("ttl", ("k", 1.5)),
    ("ttl", ("k", 2 ** 64)), ("lock", ("k", -2)), ("mget", ("p", 0)), ("meta", ("k", "l")),
    ("meta", ("k", "")), ("get", ("x" * 513,)), ("set", ("x" * 509, "v", 100)),
    ("get", ("\ud800",)), ("set", ("k", "v" * 5000000)), ("mget", ("p", "1")),
]
#: Calls with the wrong number of arguments: Python binds the coroutine's
#: arguments, so the TypeError is Python's own wording.
ARITY = [("get", ()), ("get", ("a", "b", "c")), ("set", ("k",))]  # get("a", "b"): a default


def refusal(call):
    try:
        call()
    except (pygibson.PyGibsonError, TypeError, ValueError) as error:
        return type(error), str(error)
    return None


async def async_refusal(make):
    try:
        await make()
    except (pygibson.PyGibsonError, TypeError, ValueError) as error:
        return type(error), str(error)
    return None


@pytest.mark.parametrize("limits", [
    {},
    {"max_key_size": 1024, "strict_ttl": False},
    {"max_key_size": 16, "max_value_size": 8, "max_request_size": 64},
], ids=["defaults", "looser", "stricter"])
async def test_refused_like_client_and_nothing_sent(server, make_client, limits):
    sync = Client(**options_for(server, **limits))
    client = make_client(**limits)
    before = server.stats()["total_requests"]
    accepted = 0  # calls these limits allow: each client sends them once
    for name, args in BAD_CALLS:
        expected = refusal(lambda: getattr(sync, name)(*args))
        got = await async_refusal(lambda: getattr(client, name)(*args))
        assert got == expected, (name, args)
        # Sent when not refused before sending (the server may refuse it).
        accepted += expected is None or issubclass(expected[0], pygibson.ServerError)
    for name, args in ARITY:
        with pytest.raises(TypeError):
            getattr(client, name)(*args)
    assert server.stats()["total_requests"] - before == 2 * accepted
    if not accepted:
        assert client.closed  # nothing to send: no connection was even opened
    sync.close()


async def test_limits_other_than_the_defaults_are_honoured(server, make_client):
    client = make_client(max_key_size=1024, strict_ttl=False, max_value_size=10)
    key = "x" * 600  # over the default 512, within this client's limit
    await client.set(key, "v", 40000)  # a TTL only strict_ttl refuses
    assert await client.get(key) == b"v"
    assert await client.meta(key, "ttl") == 40000 - 65536  # the server's 16-bit wrap
    await client.set(b"k\xff", 1.5)
    assert await client.get("k\udcff") == b"1.5"  # surrogate escapes stand for bytes
    await client.mset("k", 7)
    assert await client.mget("k", 5) == {"k\udcff": b"7"}
    with pytest.raises(ArgumentError, match="max_value_size 10"):
        await client.set("k", "v" * 11)
    p = client.pipeline().set(key, "w").get(key)
    assert await p.execute() == [None, b"w"]


async def test_bad_constructor_options_like_client():
    for options in ({"port": 0}, {"max_key_size": 0}, {"timeout": -1}, {"connect_retries": -1},
                    {"encoding": "no-such-codec"}, {"unix_socket": "a\0b"}):
        expected = refusal(lambda: Client(**options))
        assert expected is not None
        assert refusal(lambda: AsyncClient(**options)) == expected, options
    with pytest.raises(TypeError):
        AsyncClient(addr="h", host="h")
