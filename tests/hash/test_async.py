"""AsyncHashClient, HashClient's asyncio twin: the same placement, merging
and failure policy, each operation a coroutine, fan-outs gathered."""

import asyncio

import pytest

pytest_asyncio = pytest.importorskip(
    "pytest_asyncio", reason="the asyncio tests need pytest-asyncio: pip install '.[test]'")

import pygibson._sharded  # noqa: E402
from pygibson import (  # noqa: E402
    OPERATIONS, Client, NotFoundError, PartialFailureError, ServerDownError,
)
from pygibson.asyncio import AsyncClient  # noqa: E402
from pygibson.hash import AsyncHashClient, HashClient  # noqa: E402
from pygibson.server import GibsonServer  # noqa: E402

from .conftest import FAST, address  # noqa: E402

pytestmark = pytest.mark.asyncio
PREFIX_OPERATIONS = [op for op in OPERATIONS if op.prefix]
ARGUMENTS = {"key": "p:", "value": "7", "ttl": 100, "seconds": 10}


@pytest_asyncio.fixture
async def make_async(servers):
    made = []

    def make(**options):
        for name, value in FAST.items():
            options.setdefault(name, value)
        client = AsyncHashClient([address(s) for s in servers], **options)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


async def fill(client, count=40):
    for i in range(count):
        await client.set("p:%d" % i, str(i))


async def test_keys_go_where_the_blocking_client_puts_them(make_async, servers):
    client = make_async()
    blocking = HashClient([address(s) for s in servers])
    for i in range(200):
        key = "k%d" % i
        assert client.server_for(key) == blocking.server_for(key)
    await client.set("k1", "v")
    assert blocking.get("k1") == b"v"
    blocking.close()


@pytest.mark.parametrize("op", PREFIX_OPERATIONS, ids=[op.name for op in PREFIX_OPERATIONS])
async def test_prefix_operations_merge_as_the_blocking_client_does(op, make_async, servers):
    client = make_async()
    await fill(client)
    args = [ARGUMENTS[param.kind] for param in op.params if param.required]
    merged = await getattr(client, op.name)(*args)
    with GibsonServer() as single:
        reference = Client(addr=single.host, port=single.port)
        for i in range(40):
            reference.set("p:%d" % i, str(i))
        expected = getattr(reference, op.name)(*args)
        reference.close()
    assert (sorted(merged) if isinstance(merged, list) else merged) == (
        sorted(expected) if isinstance(expected, list) else expected)


async def test_single_key_results_errors_stats_and_ping(make_async):
    client = make_async()
    assert await client.set("k", "v") is None
    assert await client.get("k") == b"v"
    assert await client.inc("n") == 1
    with pytest.raises(NotFoundError):
        await client.get("missing")
    assert sorted(await client.stats()) == sorted(client.servers)
    assert await client.ping() is None
    with pytest.raises(NotFoundError, match="no key matches"):
        await client.mget("p:", 3)  # on no server


async def test_get_with_a_default_and_exists(make_async):
    client = make_async()
    await client.set("warm", "v")
    assert await client.get("warm", None) == b"v"
    assert await client.get("cold", "d") == "d"
    assert await client.get("cold", default=None) is None
    assert await client.exists("warm") is True
    assert await client.exists("cold") is False
    with pytest.raises(NotFoundError):
        await client.get("cold")


async def test_pipeline_results_in_order(make_async):
    client = make_async()
    await fill(client)
    pipe = client.pipeline()
    for i in range(40):
        pipe.get("p:%d" % i)
    pipe.count("p:").get("missing")
    results = await pipe.execute(raise_on_error=False)
    assert results[:40] == [str(i).encode() for i in range(40)]
    assert results[40] == 40 and isinstance(results[41], NotFoundError)
    with pytest.raises(NotFoundError) as info:
        await client.pipeline().get("p:1").get("missing").execute()
    assert info.value.results[0] == b"1"


class Meeting(AsyncClient):
    """count() waits until every server's count has started: a fan-out
    that awaited one server after another would time out instead."""

    started = 0
    everyone = None

    async def count(self, prefix):
        Meeting.started += 1
        if Meeting.started == 4:
            Meeting.everyone.set()
        await asyncio.wait_for(Meeting.everyone.wait(), 30)
        return await super().count(prefix)


async def test_a_fan_out_has_every_server_busy_at_once(make_async):
    Meeting.started, Meeting.everyone = 0, asyncio.Event()
    client = make_async(client_factory=Meeting)
    await fill(client)
    assert await client.count("p:") == 40


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


async def test_dead_servers_failover_and_partial_results(make_async, servers, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(pygibson._sharded, "monotonic", clock)
    client = make_async(dead_timeout=30)
    lenient = make_async(failover=True, ignore_exc=True)
    await fill(client)
    victim = servers[0]
    label = "%s:%d" % (victim.host, victim.port)
    mine = next("p:%d" % i for i in range(40) if client.server_for("p:%d" % i) == label)
    victim.stop()
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await client.get(mine)
    with pytest.raises(ServerDownError, match=label):
        await client.get(mine)
    with pytest.raises(PartialFailureError) as info:
        await client.count("p:")
    assert info.value.servers == [label] and info.value.result < 40
    # failover=True, ignore_exc=True: the key moves, the fan-out is lenient.
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await lenient.get(mine)
    assert lenient.server_for(mine) != label
    await lenient.set(mine, "moved")
    assert await lenient.get(mine) == b"moved"
    assert await lenient.count("p:") == info.value.result + 1
    # Back after dead_timeout.
    victim.start()
    clock.now += 31
    assert await client.get(mine) == mine.split(":")[1].encode()
    assert client.dead_servers == []


async def test_pooled_servers(make_async):
    client = make_async(pooled=True, max_size=2)
    await fill(client, 10)
    assert await asyncio.gather(*(client.get("p:%d" % i) for i in range(10))) == [
        str(i).encode() for i in range(10)]
    await client.connect()
    with pytest.raises(AttributeError, match="aclose"):
        await client.quit()



async def test_pooled_servers_pipeline(make_async):
    client = make_async(pooled=True, max_size=2)
    await fill(client, 10)
    pipe = client.pipeline()
    for i in range(10):
        pipe.get("p:%d" % i)
    assert await pipe.execute() == [str(i).encode() for i in range(10)]
