"""Several embedded servers for the sharded client's tests, shared by the
session and emptied before each test, and a factory of HashClients over
them that closes every client it made."""

import pytest

from pygibson.hash import HashClient
from pygibson.server import GibsonServer

#: Enough servers that a key spread is visible, few enough to start fast.
SERVERS = 4
#: A refused connect is not retried: the failure tests would wait for the
#: retries' backoff at every step otherwise.
FAST = dict(connect_retries=0, timeout=2000)


@pytest.fixture(scope="session")
def shared_servers():
    servers = [GibsonServer().start() for _ in range(SERVERS)]
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def servers(shared_servers):
    """The shared servers, running, empty and without faults."""
    for server in shared_servers:
        server.start()
        server.faults.clear()
        server.flush()
    yield shared_servers
    for server in shared_servers:
        server.faults.clear()
        server.start()  # a test may have stopped one


def address(server):
    return server.unix_socket or "%s:%d" % (server.host, server.port)


@pytest.fixture
def make_hash(servers, implementation):
    """HashClients over the servers (or ``targets``), on the C extension's
    Client and on the pure-Python twin's in turn."""
    made = []

    def make(targets=None, **options):
        for name, value in FAST.items():
            options.setdefault(name, value)
        options.setdefault("client_factory", implementation.Client)
        client = HashClient([address(s) for s in (targets or servers)], **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def hash_client(make_hash):
    return make_hash()


def holder(servers, key):
    """The server whose store holds ``key`` (None if none does)."""
    if isinstance(key, str):
        key = key.encode()
    found = [s for s in servers if s.call(s.engine.store.get, key) is not None]
    assert len(found) <= 1, "the key is on %d servers" % len(found)
    return found[0] if found else None
