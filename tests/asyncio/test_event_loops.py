"""An AsyncClient and the event loop it runs on: one asyncio.run() after
another (or a test framework's loop per test) gets a new connection; a
loop that still runs elsewhere is not shared."""

import asyncio
import threading
import time

import pytest

from pygibson.asyncio import AsyncClient
from pygibson.server import GibsonServer

from .conftest import options_for


def _wait_for_connections(server, count):
    for _ in range(200):
        if server.connection_count == count:
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def own_server():
    # Its own server, so that the connection count is this test's alone
    # (on PyPy, other tests' dropped clients close only when collected).
    with GibsonServer() as server:
        yield server


def test_a_client_outlives_its_event_loop(own_server):
    server = own_server
    client = AsyncClient(**options_for(server))

    async def use(value):
        await client.set("loop", value)
        return await client.get("loop")

    assert asyncio.run(use("first")) == b"first"
    assert _wait_for_connections(server, 1)
    # The first loop is closed: its connection is shut down and a new one
    # opens on the second loop, instead of "attached to a different loop".
    assert asyncio.run(use("second")) == b"second"
    assert _wait_for_connections(server, 1)
    pipe_results = asyncio.run(client.pipeline().get("loop").get("loop").execute())
    assert pipe_results == [b"second", b"second"]
    asyncio.run(client.aclose())


def test_a_client_is_not_shared_with_a_loop_that_still_runs(server):
    client = AsyncClient(**options_for(server))
    other = asyncio.new_event_loop()
    thread = threading.Thread(target=other.run_forever)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(client.set("mine", "v"), other).result(10)

        async def elsewhere():
            with pytest.raises(RuntimeError, match="belongs to another event loop"):
                await client.get("mine")

        asyncio.run(elsewhere())
        # The owner's connection is intact.
        assert asyncio.run_coroutine_threadsafe(client.get("mine"), other).result(10) == b"v"
        asyncio.run_coroutine_threadsafe(client.aclose(), other).result(10)
    finally:
        other.call_soon_threadsafe(other.stop)
        thread.join(10)
        other.close()
