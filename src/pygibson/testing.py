"""pytest fixtures for code that talks to Gibson: the ``gibson`` plugin.

Installed with pygibson and registered through the ``pytest11`` entry point
(the ``pygibson_pytest`` module, which takes everything from here), so the
fixtures are available in any test suite without configuration. The
server is pygibson's embedded Gibson-compatible server
(:class:`pygibson.server.GibsonServer`): nothing else needs installing.

Fixtures
--------
``gibson_server``
    Session-scoped embedded server over TCP on a free loopback port.
``gibson_unix_server``
    The same over a unix socket in a temporary directory.
``gibson_noproc``
    An existing server named by ``--gibson-address HOST:PORT`` (or a unix
    socket path) or the ``PYGIBSON_TEST_ADDRESS`` environment variable; the
    test is skipped when neither is set.
``gibson_client``
    Function-scoped ``pygibson.Client`` connected to ``gibson_server``,
    whose store is flushed and faults cleared before each test.
``gibson_server_factory``
    ``gibson_server_factory(**options)`` starts another embedded server
    with :class:`~pygibson.server.GibsonServer` options (limits, ``clock``,
    ``unix_socket=True``...); every server it made is stopped after the
    test.
``gibson_servers_factory``
    ``gibson_servers_factory(count, **options)`` starts ``count`` embedded
    servers at once (for a ``pygibson.HashClient``), each with the same
    options, and returns them as a list; they are stopped after the test.
    A stopped one restarts on its own port with ``start()``.
``gibson_async_client``
    Function-scoped ``pygibson.asyncio.AsyncClient`` on ``gibson_server``
    (flushed, faults cleared), closed after the test; an async fixture, so
    it needs pytest-asyncio (the test is skipped, saying so, without it).
``gibson_client_factory``
    ``gibson_client_factory(server, **options)`` connects another
    ``pygibson.Client`` to a server (a ``GibsonServer``, ``gibson_noproc``
    or anything with ``host``, ``port`` and ``unix_socket``); options go to
    the Client (``timeout=`` in ms, ...). Clients are closed after the test.

Command-line options: ``--gibson-address`` (see above) and
``--gibson-timeout MS``, the default client timeout (1000).

Example, in a user's test suite::

    from pygibson.server import ManualClock

    def test_cache_roundtrip(gibson_client):
        gibson_client.set("user:1", "alice", ttl=60)
        assert gibson_client.get("user:1") == b"alice"

    def test_entries_expire(gibson_server_factory, gibson_client_factory):
        clock = ManualClock()
        server = gibson_server_factory(clock=clock)
        client = gibson_client_factory(server)
        client.set("k", "v", ttl=10)
        clock.advance(10)
        assert client.count("k") == 0

    def test_slow_server(gibson_server, gibson_client):
        gibson_server.faults.delay_replies(2.0)   # cleared before next test
        ...

To build fixtures of your own scope in a ``conftest.py``, use
:func:`gibson_server_fixture`::

    from pygibson.testing import gibson_server_fixture

    small_gibson = gibson_server_fixture(scope="module", max_value_size=64)
"""

import os
import socket
from types import ModuleType
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Iterator, List, Optional

import pytest

pytest_asyncio: Optional[ModuleType]
try:
    import pytest_asyncio
except ImportError:  # only gibson_async_client needs it
    pytest_asyncio = None

from ._address import ADDRESS_ENV, GibsonAddress, parse_address

if TYPE_CHECKING:  # imported where used at run time (see _connect_client)
    from ._compat import Client
    from .asyncio import AsyncClient
    from .server import GibsonServer

__all__ = ["gibson_server_fixture", "GibsonAddress", "parse_address", "ADDRESS_ENV"]

DEFAULT_TIMEOUT_MS = 1000


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gibson", "Gibson cache server fixtures (pygibson)")
    group.addoption(
        "--gibson-address", action="store", default=None, metavar="HOST:PORT|PATH",
        help="existing Gibson server for the gibson_noproc fixture "
             "(default: $%s)" % ADDRESS_ENV)
    group.addoption(
        "--gibson-timeout", action="store", type=int, default=DEFAULT_TIMEOUT_MS,
        metavar="MS", help="timeout of clients made by the gibson fixtures, in ms "
                           "(default %d)" % DEFAULT_TIMEOUT_MS)


def _start_server(**options: Any) -> "GibsonServer":
    from pygibson.server import GibsonServer

    return GibsonServer(**options).start()


def _connect_client(server: Any, timeout_ms: Optional[int], **options: Any) -> "Client":
    # Imported here: the client is a C extension, and the server fixtures
    # must work even where it is not built.
    import pygibson

    options.setdefault("timeout", timeout_ms)
    if getattr(server, "unix_socket", None):
        return pygibson.Client(unix_socket=server.unix_socket, **options)
    return pygibson.Client(addr=server.host, port=server.port, **options)


def _close(client: object) -> None:
    close = getattr(client, "close", None)
    if close is not None:
        close()


def _reset(server: object) -> None:
    """Give the next test a clean server: empty store, no faults."""
    faults = getattr(server, "faults", None)
    if faults is not None:
        faults.clear()
    flush = getattr(server, "flush", None)
    if flush is not None:
        flush()


def gibson_server_fixture(scope: str = "session", unix_socket: bool = False,
                          **options: Any) -> Callable[[], "GibsonServer"]:
    """Make a pytest fixture that runs an embedded server with ``options``
    for the given ``scope``; assign it to a name in a conftest.py."""

    @pytest.fixture(scope=scope)  # type: ignore[call-overload]  # scope: a str checked by pytest
    def _fixture() -> Iterator["GibsonServer"]:
        server = _start_server(unix_socket=True if unix_socket else None, **options)
        try:
            yield server
        finally:
            server.stop()

    return _fixture  # type: ignore[no-any-return]  # a fixture, used by the name it is given


gibson_server = gibson_server_fixture(scope="session")
gibson_server.__doc__ = "A session-wide embedded Gibson server over TCP."

gibson_unix_server = gibson_server_fixture(scope="session", unix_socket=True)
gibson_unix_server.__doc__ = "A session-wide embedded Gibson server on a unix socket."


@pytest.fixture(scope="session")
def gibson_noproc(request: pytest.FixtureRequest) -> GibsonAddress:
    """An existing server: ``--gibson-address`` or $PYGIBSON_TEST_ADDRESS.
    Skips the test when neither is given; fails when it does not answer."""
    text = request.config.getoption("--gibson-address") or os.environ.get(ADDRESS_ENV)
    if not text:
        pytest.skip("no Gibson server given (--gibson-address or $%s)" % ADDRESS_ENV)
    try:
        target = parse_address(text)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    family = socket.AF_UNIX if target.unix_socket else socket.AF_INET
    try:
        if target.unix_socket:
            probe = socket.socket(family, socket.SOCK_STREAM)
            probe.settimeout(2)
            probe.connect(target.unix_socket)
        else:
            probe = socket.create_connection((target.host, target.port), timeout=2)
        probe.close()
    except OSError as exc:
        pytest.fail("Gibson server at %s does not answer: %s" % (text, exc))
    return target


@pytest.fixture
def gibson_server_factory() -> Iterator[Callable[..., "GibsonServer"]]:
    """``gibson_server_factory(**options)`` -> a started GibsonServer,
    stopped after the test."""
    servers: List["GibsonServer"] = []

    def factory(**options: Any) -> "GibsonServer":
        server = _start_server(**options)
        servers.append(server)
        return server

    yield factory
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def gibson_servers_factory() -> Iterator[Callable[..., List["GibsonServer"]]]:
    """``gibson_servers_factory(count, **options)`` -> a list of ``count``
    started GibsonServers, stopped after the test."""
    servers: List["GibsonServer"] = []

    def factory(count: int, **options: Any) -> List["GibsonServer"]:
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise ValueError("count must be an int of at least 1, not %r" % (count,))
        made = []
        try:
            for _ in range(count):
                made.append(_start_server(**options))
        finally:
            servers.extend(made)  # stopped even when a later one failed to start
        return made

    yield factory
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def gibson_client_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., "Client"]]:
    """``gibson_client_factory(server, **options)`` -> a pygibson.Client
    connected to ``server``, closed after the test."""
    clients: List["Client"] = []
    timeout = request.config.getoption("--gibson-timeout")

    def factory(server: Any, **options: Any) -> "Client":
        client = _connect_client(server, timeout, **options)
        clients.append(client)
        return client

    yield factory
    for client in reversed(clients):
        _close(client)


@pytest.fixture
def gibson_client(gibson_server: "GibsonServer",
                  gibson_client_factory: Callable[..., "Client"]) -> "Client":
    """A pygibson.Client on ``gibson_server``, which is flushed and has its
    faults cleared before the test."""
    _reset(gibson_server)
    return gibson_client_factory(gibson_server)


def _async_client_fixture() -> Callable[..., Any]:
    # One definition either way (a function defined in both branches of an
    # if is a redefinition to type checkers).
    if pytest_asyncio is None:

        @pytest.fixture(name="gibson_async_client")
        def skipping() -> None:
            """Needs pytest-asyncio, which is not installed."""
            pytest.skip("gibson_async_client is an async fixture: pip install pytest-asyncio")

        return skipping

    @pytest_asyncio.fixture(name="gibson_async_client")
    async def fixture(request: pytest.FixtureRequest,
                      gibson_server: "GibsonServer") -> AsyncIterator["AsyncClient"]:
        """A pygibson.asyncio.AsyncClient on ``gibson_server``, which is
        flushed and has its faults cleared before the test."""
        from pygibson.asyncio import AsyncClient

        _reset(gibson_server)
        client = AsyncClient(addr=gibson_server.host, port=gibson_server.port,
                             timeout=request.config.getoption("--gibson-timeout"))
        try:
            yield client
        finally:
            await client.aclose()

    return fixture  # type: ignore[no-any-return]


gibson_async_client = _async_client_fixture()
