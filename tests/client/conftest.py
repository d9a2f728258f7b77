"""Fixtures for the client's tests: the project's own Gibson-compatible
server over TCP and over a unix socket, and clients of each implementation
(the ``implementation`` fixture, from tests/conftest.py) connected to each.
Test ids read like ``[c-tcp]`` and ``[py-unix]``.

No client test is about the extension's internals alone: the ones written
for its quick paths (a value around the 16 KB first read, thousands of lone
keys queued across buffer growth, the GIL released while waiting) state
what any client must do, so every one runs on both implementations."""

import pytest

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


@pytest.fixture
def Client(implementation):
    """The Client class of the implementation under test."""
    return implementation.Client


@pytest.fixture
def Pipeline(implementation):
    """The Pipeline class of the implementation under test."""
    return implementation.Pipeline


def server_options(server, **options):
    """Client options that reach ``server``, over its transport."""
    if server.unix_socket:
        options["unix_socket"] = server.unix_socket
    else:
        options.update(addr=server.host, port=server.port)
    return options


def client_for(server, implementation, **options):
    options.setdefault("max_request_size", BIG + 4096)
    return implementation.Client(**server_options(server, **options))


@pytest.fixture
def make_client(implementation, server):
    made = []

    def make(target=None, **options):
        client = client_for(target or server, implementation, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client):
    return make_client()
