"""Pipelines, the pool, and a server that misbehaves: each failure gives a
specific exception, and the client works afterwards without a stale reply."""

import asyncio

import pytest

from pygibson import (
    ConnectionError,
    NotFoundError,
    PoolTimeoutError,
    ProtocolError,
    TimeoutError,
)
from pygibson.asyncio import AsyncConnectionPool, AsyncPooledClient

from .conftest import bounded, options_for

pytestmark = pytest.mark.asyncio


async def works_afterwards(client, key="after", value=b"fine"):
    await client.set(key, value)
    assert await client.get(key) == value


async def test_pipeline_results_in_order(client):
    async with client.pipeline() as pipe:
        pipe.set("a", "1").inc("a").get("missing")
        assert len(pipe) == 3
        results = await pipe.execute(raise_on_error=False)
    assert results[:2] == [None, 2]
    assert isinstance(results[2], NotFoundError)
    pipe = client.pipeline().get("a").get("missing").get("a")
    with pytest.raises(NotFoundError) as info:
        await pipe.execute()
    assert info.value.results[0] == 2 and info.value.results[2] == 2
    assert await client.pipeline().execute() == []


async def test_pipeline_larger_than_the_buffers(client):
    pipe = client.pipeline()
    for i in range(20000):
        pipe.set("k%d" % i, b"v" * 1000)
    assert await bounded(pipe.execute(), 120) == [None] * 20000
    pipe = client.pipeline()
    for i in range(20000):
        pipe.get("k%d" % i)
    assert await bounded(pipe.execute(), 120) == [b"v" * 1000] * 20000


async def test_pipelines_and_single_requests_interleave(client):
    await client.set("x", "1")
    pipe = client.pipeline()
    for _ in range(100):
        pipe.inc("n")
    results = await bounded(asyncio.gather(pipe.execute(), client.get("x"), client.inc("n")))
    assert results[1] == b"1"
    assert results[0] == sorted(results[0]) and results[2] in (1, 101)


async def test_server_gone_during_a_pipeline(client, server):
    await client.ping()
    pipe = client.pipeline()
    for i in range(50):
        pipe.set("k%d" % i, "v")
    server.faults.close_after_bytes(0)  # the first reply never comes
    with pytest.raises(ConnectionError) as info:
        await bounded(pipe.execute())
    assert info.value.received == 0 and info.value.sent == 50
    assert "pipeline of 50 operations" in str(info.value)
    await works_afterwards(client)


async def test_timeout_in_a_pipeline_reports_counts(make_client, server):
    client = make_client(timeout=300)
    pipe = client.pipeline()
    for _ in range(11):
        pipe.ping()
    server.faults.truncate_next_reply()
    with pytest.raises(TimeoutError) as info:
        await bounded(pipe.execute())
    assert (info.value.sent, info.value.received) == (11, 0)
    await works_afterwards(client)


async def test_server_closes_mid_reply(make_client, server):
    client = make_client(retry_reads=False)
    await client.set("k", b"x" * 1000)
    server.faults.close_after_bytes(100)
    with pytest.raises(ConnectionError) as info:
        await bounded(client.get("k"))
    assert info.value.request_sent
    assert client.closed
    await works_afterwards(client)


async def test_read_cut_mid_reply_is_retried_once_and_writes_are_not(client, server):
    await client.set("k", "value")
    server.faults.close_after_bytes(3)
    assert await bounded(client.get("k")) == b"value"
    server.faults.close_after_bytes(3)
    with pytest.raises(ConnectionError) as info:
        await bounded(client.inc("n"))
    assert info.value.request_sent
    assert await client.get("n") == 1  # executed once, never re-sent


async def test_garbled_replies_are_protocol_errors(client, server):
    await client.ping()
    for fault in (server.faults.unknown_code_next_reply, server.faults.huge_length_next_reply):
        fault()
        with pytest.raises(ProtocolError):
            await bounded(client.get("k"))
        await works_afterwards(client)


async def test_slow_server_times_out(make_client, server):
    client = make_client(timeout=200)
    await client.ping()
    server.faults.delay_replies(1.0)
    with pytest.raises(TimeoutError) as info:
        await bounded(client.ping())
    assert info.value.request_sent
    server.faults.delay_replies(0)
    await works_afterwards(client)


async def test_connection_refused_and_retried(make_client, server):
    server.faults.refuse_connections()
    client = make_client(connect_retries=1, connect_backoff=1)
    with pytest.raises(ConnectionError) as info:
        await bounded(client.ping())
    assert not info.value.request_sent
    assert "could not connect" in str(info.value)
    server.faults.accept_connections()
    await works_afterwards(client)


@pytest.mark.parametrize("mode", ["reset", "drop"])
async def test_connection_accepted_then_dropped(make_client, server, mode):
    getattr(server.faults, mode + "_connections")()
    client = make_client()
    with pytest.raises(ConnectionError):
        await bounded(client.ping())
    server.faults.accept_connections()
    await works_afterwards(client)


async def test_pool_borrows_and_bounds(server):
    pool = AsyncConnectionPool(max_size=2, acquire_timeout=0.2, **options_for(server))
    first = await pool.acquire()
    async with pool.connection() as second:
        assert second is not first
        with pytest.raises(PoolTimeoutError):
            await pool.acquire()
    assert pool.size == 2 and pool.idle == 1
    pool.release(first)
    # 50 calls share two connections: a slow server must not make them
    # wait past a short acquire timeout.
    pool.acquire_timeout = 30.0
    client = AsyncPooledClient(pool)
    await client.set("k", "v")
    results = await bounded(asyncio.gather(*[client.get("k") for _ in range(50)]))
    assert results == [b"v"] * 50
    assert pool.size <= 2
    await client.aclose()
    with pytest.raises(Exception, match="closed"):
        await pool.acquire()


async def test_pool_health_check_replaces_a_dead_connection(server):
    pool = AsyncConnectionPool(max_size=1, health_check_interval=0, **options_for(server))
    client = AsyncPooledClient(pool)
    await client.set("k", "v")
    server.disconnect_clients()
    assert await bounded(client.get("k")) == b"v"
    await client.aclose()


async def test_pooled_client_pipeline_borrows_one_connection(server):
    pool = AsyncConnectionPool(max_size=2, **options_for(server))
    client = AsyncPooledClient(pool)
    pipe = client.pipeline().set("pp", "1").inc("pp").get("pp").get("missing")
    # Queued, not yet sent: no connection is taken until execute().
    assert len(pipe) == 4 and pool.size == 0
    results = await bounded(pipe.execute(raise_on_error=False))
    assert results[:3] == [None, 2, 2] and isinstance(results[3], NotFoundError)
    assert pool.size == 1 and pool.idle == 1  # given back
    with pytest.raises(NotFoundError) as info:
        await client.pipeline().get("pp").get("missing").execute()
    assert info.value.results[0] == 2
    assert pool.idle == 1  # a refusal is an answer: the connection is fine
    assert await client.pipeline().execute() == []
    await client.aclose()


async def test_pooled_client_pipeline_checks_arguments_when_queued(server):
    client = AsyncPooledClient(max_size=1, **options_for(server))
    pipe = client.pipeline()
    with pytest.raises(TypeError):
        pipe.set("k", {"not": "bytes"})
    with pytest.raises(Exception, match="space"):
        pipe.get("a key")
    assert len(pipe) == 0 and client.pool.size == 0
    await client.aclose()


async def test_pooled_client_pipeline_cancelled_discards_its_connection(server):
    pool = AsyncConnectionPool(max_size=1, **options_for(server))
    client = AsyncPooledClient(pool)
    await client.set("slow", "v")
    server.faults.delay_replies(0.5)
    task = asyncio.ensure_future(client.pipeline().get("slow").get("slow").execute())
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    server.faults.delay_replies(0)
    # Its replies were still due: the connection was closed, not handed on.
    assert pool.size == 0
    assert await bounded(client.get("slow")) == b"v"
    await client.aclose()


async def test_a_misspelt_option_fails_when_the_async_pool_is_made():
    with pytest.raises(TypeError, match="adr"):
        AsyncPooledClient(adr="127.0.0.1")
    with pytest.raises(TypeError, match="adr"):
        AsyncConnectionPool(adr="127.0.0.1")


async def test_async_pool_times_say_they_are_seconds():
    with pytest.raises(TypeError, match="acquire_timeout is in seconds"):
        AsyncConnectionPool(acquire_timeout="5")
    with pytest.raises(ValueError, match="idle_timeout must be 0 or more seconds"):
        AsyncPooledClient(idle_timeout=-1)


async def test_async_pooled_client_from_url(server):
    options = options_for(server)
    if "unix_socket" in options:
        url = "unix://%s?timeout=700" % options["unix_socket"]
    else:
        url = "gibson://%s:%d?timeout=700" % (options["addr"], options["port"])
    pooled = AsyncPooledClient.from_url(url, max_size=2)
    await pooled.set("k", "v")
    assert await pooled.get("k") == b"v"
    async with pooled.pool.connection() as client:
        assert client.timeout == 700
    await pooled.aclose()
