"""Many requests in flight on one connection, cancelled and timed out at
every point of their life, and never a reply that belongs to another."""

import asyncio
import builtins
import sys

import pytest

from pygibson import ConnectionError, NotFoundError, TimeoutError

from . import scenarios
from .conftest import bounded

pytestmark = pytest.mark.asyncio


async def test_thousand_concurrent_gets_on_one_connection(client, server):
    await scenarios.thousand_gets(client, server)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_cancellation_under_load(client, seed):
    await scenarios.random_cancellation(client, seed)


async def test_concurrent_writes_are_each_executed_once(client):
    results = await bounded(asyncio.gather(*[client.inc("n") for _ in range(500)]))
    assert sorted(results) == list(range(1, 501))
    assert await client.get("n") == 500


async def test_cancelled_before_written_is_never_written(client, server):
    before = server.stats()["total_requests"]
    tasks = [asyncio.ensure_future(client.inc("n")) for _ in range(10)]
    await asyncio.sleep(0)  # each is now waiting for the connection to open
    assert client.closed
    for task in tasks[::2]:
        task.cancel()
    results = await bounded(asyncio.gather(*tasks, return_exceptions=True))
    assert sum(isinstance(r, asyncio.CancelledError) for r in results) == 5
    assert sorted(r for r in results if isinstance(r, int)) == [1, 2, 3, 4, 5]
    assert await client.get("n") == 5
    assert server.stats()["total_requests"] - before == 6


async def test_cancelled_after_written_its_reply_is_dropped_in_turn(client, server):
    await client.set("a", "A")
    await client.set("b", "B")
    server.faults.delay_replies(0.2)
    first = asyncio.ensure_future(client.get("a"))
    second = asyncio.ensure_future(client.get("b"))
    while client.in_flight < 2:
        await asyncio.sleep(0)
    first.cancel()
    assert await bounded(second) == b"B"
    assert first.cancelled()
    server.faults.delay_replies(0)
    assert await client.get("a") == b"A"
    assert client.in_flight == 0


async def test_cancelled_mid_reply(client):
    big = b"x" * (4 * 1024 * 1024)
    await client.set("big", big)
    await client.set("small", "s")
    task = asyncio.ensure_future(client.get("big"))
    # Wait until part of the reply has been read, not all of it.
    while client._conn is None or client._conn.reader.buffered == 0:
        await bounded(asyncio.sleep(0))
    task.cancel()
    assert await bounded(client.get("small")) == b"s"
    assert task.cancelled()
    assert await client.get("big") == big


async def test_wait_for_timeouts_keep_the_connection_in_step(client, server):
    for i in range(20):
        await client.set("k%d" % i, "v%d" % i)
    # Far longer than the wait: a busy machine (the server thread shares
    # the GIL) must not let a delayed reply beat the 1 ms timeout.
    server.faults.delay_replies(0.5)
    for i in range(20):
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.get("k%d" % i), 0.001)
    server.faults.delay_replies(0)
    for i in range(20):
        assert await bounded(client.get("k%d" % i)) == b"v%d" % i


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout is new in 3.11")
async def test_asyncio_timeout_keeps_the_connection_in_step(client, server):
    await client.set("a", "A")
    await client.set("b", "B")
    server.faults.delay_replies(0.05)
    with pytest.raises(builtins.TimeoutError):
        async with asyncio.timeout(0.001):
            await client.get("a")
    server.faults.delay_replies(0)
    assert await bounded(client.get("b")) == b"B"


async def test_client_timeout_closes_the_connection_and_fails_the_rest(make_client, server):
    client = make_client(timeout=200)
    await client.set("k", "v")
    server.faults.delay_replies(0.6)
    late, write, read = await bounded(asyncio.gather(
        client.get("k"), client.inc("n"), client.get("k"), return_exceptions=True))
    assert isinstance(late, TimeoutError) and late.request_sent
    assert "timed out after 200 ms" in str(late)
    # The write behind it may have run: it fails, saying why, and is not re-sent.
    assert isinstance(write, ConnectionError) and write.request_sent
    assert "timed out" in str(write)
    # The read behind it was retried once on a new connection, still slow.
    assert isinstance(read, TimeoutError)
    server.faults.delay_replies(0)
    assert await client.get("k") == b"v"
    assert await client.get("n") == 1  # the INC ran once


async def test_server_restart(make_client):
    await scenarios.server_restart(make_client)


async def test_not_found_in_the_middle_of_many(client):
    await client.set("here", "1")
    results = await bounded(asyncio.gather(
        *[client.get("here" if i % 2 else "gone") for i in range(200)],
        return_exceptions=True))
    for i, result in enumerate(results):
        if i % 2:
            assert result == b"1"
        else:
            assert isinstance(result, NotFoundError)
