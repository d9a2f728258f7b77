"""Fixtures for the client's tests: the project's own Gibson-compatible
server over TCP and over a unix socket, and clients connected to each."""

import pytest

from pygibson import Client
from pygibson.server import GibsonServer, ManualClock

#: Large enough for the 8 MiB values of the size tests.
BIG = 16 * 1024 * 1024
BIG_LIMITS = dict(max_value_size=BIG, max_request_size=BIG + 4096, compression=BIG + 1)


@pytest.fixture(scope="session")
def tcp_server():
    with GibsonServer(clock=ManualClock(), **BIG_LIMITS) as server:
        yield server


@pytest.fixture(scope="session")
def unix_server(tmp_path_factory):
    path = tmp_path_factory.mktemp("gibson") / "gibson.sock"
    with GibsonServer(unix_socket=str(path), clock=ManualClock(), **BIG_LIMITS) as server:
        yield server


@pytest.fixture(params=["tcp", "unix"])
def server(request):
    """The shared server over each transport, emptied for the test."""
    server = request.getfixturevalue(request.param + "_server")
    server.flush()
    yield server
    server.faults.clear()


def client_for(server, **options):
    options.setdefault("max_request_size", BIG + 4096)
    if server.unix_socket:
        return Client(unix_socket=server.unix_socket, **options)
    return Client(addr=server.host, port=server.port, **options)


@pytest.fixture
def make_client(server):
    made = []

    def make(target=None, **options):
        client = client_for(target or server, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()
