"""Fixtures for the asyncio client's tests: the embedded server over TCP
and a unix socket (as in tests/client), async clients on it, and the event
loop under test (asyncio's own, and uvloop when it is installed).

The async tests run on pytest-asyncio (in its default strict mode, each
module marking itself): it is what the asyncio ecosystem (aiohttp,
redis-py) tests with, drives plain asyncio with nothing else to learn, and
leaves the sync tests alone. anyio's plugin would add a second framework
(trio) that pygibson does not support. uvloop, optional, is exercised by
test_uvloop.py, which runs the heavier scenarios of the other modules on a
uvloop loop of its own, without depending on how a given pytest-asyncio
version lets a loop be chosen.
"""

import asyncio
import types

import pytest

try:
    import pytest_asyncio
except ImportError:
    # The asyncio tests need pytest-asyncio (pip install '.[test]'); without
    # it they are not collected, and the rest of the suite runs as usual.
    collect_ignore_glob = ["test_*.py"]
    pytest_asyncio = types.SimpleNamespace(fixture=pytest.fixture)

from pygibson.asyncio import AsyncClient
from pygibson.server import GibsonServer, ManualClock

#: Large enough for the multi-megabyte values of the cancellation tests.
BIG = 16 * 1024 * 1024
BIG_LIMITS = dict(max_value_size=BIG, max_request_size=BIG + 4096, compression=BIG + 1,
                  max_key_size=1024)


@pytest.fixture(scope="session")
def tcp_server():
    with GibsonServer(clock=ManualClock(), **BIG_LIMITS) as server:
        yield server


@pytest.fixture(scope="session")
def unix_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("gibson-async") / "gibson.sock"
    with GibsonServer(unix_socket=str(path), clock=ManualClock(), **BIG_LIMITS) as server:
        yield server


@pytest.fixture(params=["tcp", "unix"])
def server(request):
    """The shared server over each transport, emptied for the test."""
    server = request.getfixturevalue(request.param + "_server")
    server.flush()
    server.faults.clear()
    yield server
    server.faults.clear()


#: The clients' timeout unless a test sets its own: only there to turn a
#: hang into a failure. The embedded server can take over a second for a
#: burst of large values where it runs slowly (PyPy before its JIT warms up).
TIMEOUT_MS = 30000


def options_for(server, **options):
    options.setdefault("timeout", TIMEOUT_MS)
    options.setdefault("max_request_size", BIG + 4096)
    options.setdefault("max_key_size", 1024)
    if server.unix_socket:
        options["unix_socket"] = server.unix_socket
    else:
        options.update(addr=server.host, port=server.port)
    return options


@pytest_asyncio.fixture
async def make_client(server):
    made = []

    def make(target=None, cls=AsyncClient, **options):
        client = cls(**options_for(target or server, **options))
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest_asyncio.fixture
async def client(make_client):
    return make_client()


async def bounded(awaitable, seconds=30.0):
    """Await with a generous limit: a hang fails the test instead of the run."""
    return await asyncio.wait_for(awaitable, seconds)
