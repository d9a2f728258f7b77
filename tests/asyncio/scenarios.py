"""The heavier scenarios, as plain coroutines: test_concurrency.py runs
them on the default loop through pytest-asyncio, test_uvloop.py on uvloop."""

import asyncio
import random

from pygibson import ConnectionError, NotFoundError
from pygibson.server import GibsonServer

from .conftest import bounded


def value_of(i):
    """A value that names its key, of varied sizes (up to 192 KB, so that
    replies arrive in pieces and end mid-read)."""
    head = b"value-%d-" % i
    return head + bytes([65 + i % 26]) * ((i * 7919) % (192 * 1024) if i % 5 == 0 else i % 97)


async def store(client, count):
    pipe = client.pipeline()
    for i in range(count):
        pipe.set("k%d" % i, value_of(i))
    await bounded(pipe.execute())


async def thousand_gets(client, server):
    """1,000 concurrent GETs on one connection, every value checked."""
    await store(client, 1000)
    connections = server.stats()["total_connections"]
    order = list(range(1000))
    random.shuffle(order)
    values = await bounded(asyncio.gather(*[client.get("k%d" % i) for i in order]))
    assert values == [value_of(i) for i in order]
    assert server.stats()["total_connections"] == connections  # all on one
    assert client.in_flight == 0


async def random_cancellation(client, seed, keys=300, requests=3000):
    """Requests under load, cancelled at random points: before they are
    written (still waiting for the connection), after (waiting for the
    reply) and mid-reply (a large value partly read). Every request that
    completes must have its own key's value."""
    rng = random.Random(seed)
    await store(client, keys)
    await client.aclose()  # the first requests wait for a new connection
    loop = asyncio.get_running_loop()

    async def one(i):
        key = rng.randrange(keys + 10)  # a few missing keys too
        try:
            if i % 7 == 0:
                value = await asyncio.wait_for(client.get("k%d" % key), rng.random() / 500)
            else:
                value = await client.get("k%d" % key)
        except NotFoundError:
            assert key >= keys
            return "missing"
        except asyncio.TimeoutError:
            return "timed out"
        assert value == value_of(key), key
        return "ok"

    tasks = []
    for i in range(requests):
        tasks.append(loop.create_task(one(i)))
        if rng.random() < 0.3:
            victim = rng.choice(tasks)
            # Cancelled now (before its first step, or while waiting), or a
            # few loop turns later, when its reply may be half read.
            if rng.random() < 0.5:
                victim.cancel()
            else:
                loop.call_later(rng.random() / 1000, victim.cancel)
        if i % 50 == 0:
            await asyncio.sleep(0)
    done = await bounded(asyncio.gather(*tasks, return_exceptions=True), 120)
    outcomes = {}
    for result in done:
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            raise result
        name = "cancelled" if isinstance(result, asyncio.CancelledError) else result
        outcomes[name] = outcomes.get(name, 0) + 1
    assert outcomes.get("ok", 0) > requests // 3, outcomes
    assert outcomes.get("cancelled", 0) > requests // 20, outcomes
    assert outcomes.get("cancelled", 0) + outcomes.get("timed out", 0) > requests // 10, outcomes
    # The connection is still in step: fresh requests get their own replies.
    for i in rng.sample(range(keys), 20):
        assert await bounded(client.get("k%d" % i)) == value_of(i)
    await bounded(_drained(client))
    return outcomes


async def _drained(client):
    while client.in_flight:
        await asyncio.sleep(0.01)


async def server_restart(make_client):
    """A server restart: reads retry once on a new connection, writes fail
    with request_sent=True, and the old value never comes back."""
    first = GibsonServer().start()
    port = first.port
    client = make_client(first)
    await client.set("k", "old")
    first.stop()  # the loop has not run since: the connection looks alive
    with GibsonServer(port=port):
        try:
            await bounded(client.get("k"))
        except NotFoundError:
            pass  # the new server is empty: never the stale "old"
        else:
            raise AssertionError("a read on a restarted server returned a value")
        await client.set("w", "1")
    with GibsonServer(port=port):
        try:
            await bounded(client.set("k", "new"))
        except ConnectionError as error:
            assert error.request_sent
        else:
            raise AssertionError("a write on a dead connection did not fail")
        await client.set("k", "newer")
        assert await client.get("k") == b"newer"
