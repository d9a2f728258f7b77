"""Fixtures for the server tests. The gibson_* fixtures come from the
pygibson.testing plugin (registered by its entry point, or ``-p
pygibson.testing``), so it is not listed here."""

import pytest

from pygibson.server import GibsonServer, ManualClock

from .rawclient import RawClient


@pytest.fixture
def clock():
    return ManualClock(1_700_000_000)


@pytest.fixture
def server(clock):
    """A fresh TCP server on a manual clock, per test."""
    with GibsonServer(clock=clock) as srv:
        yield srv


@pytest.fixture
def make_server(clock):
    """Make servers with other options; all are stopped after the test."""
    servers = []

    def make(**options):
        options.setdefault("clock", clock)
        srv = GibsonServer(**options).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop()


@pytest.fixture
def connect():
    """Open raw connections; all are closed after the test."""
    clients = []

    def open_(srv_or_address, timeout=5.0):
        address = getattr(srv_or_address, "address", srv_or_address)
        client = RawClient(address, timeout=timeout)
        clients.append(client)
        return client

    yield open_
    for client in clients:
        client.close()


@pytest.fixture
def c(server, connect):
    """A raw connection to the per-test server."""
    return connect(server)
