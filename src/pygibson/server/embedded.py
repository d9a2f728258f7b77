"""``GibsonServer``: the server in a background thread, for tests and examples."""

import concurrent.futures
import asyncio
import logging
import os
import shutil
import tempfile
import threading
from typing import Any, Callable, Dict, Generic, Optional, Tuple, TypeVar, Union, overload

from .clock import Clock, RealClock
from .commands import Engine
from .config import Config, Value
from .core import ServerCore
from .faults import Faults

__all__ = ["GibsonServer"]

log: logging.Logger = logging.getLogger("pygibson.server")

# For type checkers: the server's clock (RealClock unless one is given), and
# its port, an int for TCP and None for a unix socket, so that a test's
# server.clock.advance() and Client(port=server.port) type-check.
_ClockT = TypeVar("_ClockT", bound=Clock)
_PortT = TypeVar("_PortT", int, None)
_T = TypeVar("_T")
_UnixSocket = Union[str, "os.PathLike[str]", bool]

_TIMEOUT = 10.0


class GibsonServer(Generic[_ClockT, _PortT]):
    """A Gibson-compatible server running in its own thread and event loop.

    ``GibsonServer(address="127.0.0.1", port=0, unix_socket=None, *,
    clock=None, **limits)``

    ``port=0`` (the default) picks a free port when the server starts; the
    chosen port is kept, so a stopped server starts again on the same one.
    ``unix_socket`` serves on a unix socket instead of TCP: a path, or
    ``True`` for a fresh temporary directory holding ``gibson.sock``
    (removed, with its directory, on :meth:`stop`). ``clock`` is any object
    with a ``time()`` method returning Unix seconds, such as a
    :class:`~pygibson.server.clock.ManualClock`; the default is the wall
    clock. ``limits`` are the real server's directives by name
    (``max_key_size=512``, ``max_value_size=4096``,
    ``max_request_size=4194304``, ``max_response_size=40960000``,
    ``max_item_ttl=2592000``, ``max_memory=2147483648``,
    ``max_clients=1024``, ``compression=40960``, ``expired_cron=5``,
    ``cron_period=100``, ``max_mem_cron=15``, ``gc_ratio=900``, ...), plus
    ``mget_count_bug=True`` to reproduce the real MGET count/pairs
    mismatch.

    Use it as a context manager (``with GibsonServer() as srv:``) or call
    :meth:`start` and :meth:`stop`; both are idempotent. Many servers may
    run in one process. Stopping closes every client connection. The data
    survives a stop/start cycle; call :meth:`flush` to empty it.
    """

    @overload
    def __init__(self: "GibsonServer[RealClock, int]", address: str = "127.0.0.1",
                 port: int = 0, unix_socket: None = None, *, clock: None = None,
                 **limits: Value) -> None: ...
    @overload
    def __init__(self: "GibsonServer[_ClockT, int]", address: str = "127.0.0.1",
                 port: int = 0, unix_socket: None = None, *, clock: _ClockT,
                 **limits: Value) -> None: ...
    @overload
    def __init__(self: "GibsonServer[RealClock, None]", address: str = "127.0.0.1",
                 port: int = 0, *, unix_socket: _UnixSocket, clock: None = None,
                 **limits: Value) -> None: ...
    @overload
    def __init__(self: "GibsonServer[_ClockT, None]", address: str = "127.0.0.1",
                 port: int = 0, *, unix_socket: _UnixSocket, clock: _ClockT,
                 **limits: Value) -> None: ...

    def __init__(self, address: str = "127.0.0.1", port: int = 0,
                 unix_socket: Optional[_UnixSocket] = None, *, clock: Optional[Clock] = None,
                 **limits: Any) -> None:
        self._temp_dir: Optional[str] = None
        if unix_socket is True:
            unix_socket = None
            self._temp_dir = tempfile.mkdtemp(prefix="pygibson-")
            limits["unix_socket"] = os.path.join(self._temp_dir, "gibson.sock")
        elif unix_socket:
            limits["unix_socket"] = os.fspath(unix_socket)
        #: The effective settings.
        self.config: Config = Config(address=address, port=port, **limits)
        #: The clock the server reads the time from.
        self.clock: _ClockT = clock if clock is not None else RealClock()  # type: ignore[assignment]
        #: Failures to inject (see pygibson.server.faults).
        self.faults: Faults = Faults()
        # The operations and the store (not documented: tests reach in).
        self.engine: Engine = Engine(self.config)
        self._core: Optional[ServerCore] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._port = port

    # -- addresses --------------------------------------------------------

    @property
    def host(self) -> Optional[str]:
        """The TCP host, or None for a unix socket server."""
        return None if self.config.unix_socket else self.config.address

    @property
    def port(self) -> _PortT:
        """The TCP port (the real one once started), or None for unix."""
        return None if self.config.unix_socket else self._port  # type: ignore[return-value]

    @property
    def unix_socket(self) -> Optional[str]:
        """The unix socket path, or None for TCP."""
        return self.config.unix_socket

    @property
    def address(self) -> Union[str, Tuple[Optional[str], _PortT]]:
        """``(host, port)`` for TCP, the socket path for unix."""
        return self.unix_socket if self.unix_socket else (self.host, self.port)

    @property
    def running(self) -> bool:
        """Whether the server is serving (started and not stopped)."""
        return self._thread is not None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> "GibsonServer[_ClockT, _PortT]":
        """Start serving; returns once the server accepts connections.
        Raises OSError if the address cannot be bound."""
        with self._lock:
            if self._thread is not None:
                return self
            if self._temp_dir is not None:
                os.makedirs(self._temp_dir, mode=0o700, exist_ok=True)
            ready: "concurrent.futures.Future[None]" = concurrent.futures.Future()
            thread = threading.Thread(
                target=self._run, args=(ready,), name="gibson-server", daemon=True)
            thread.start()
            try:
                ready.result(_TIMEOUT)
            except BaseException:
                thread.join(_TIMEOUT)
                raise
            self._thread = thread
        return self

    def _run(self, ready: "concurrent.futures.Future[None]") -> None:
        loop = asyncio.new_event_loop()
        core = ServerCore(self.engine, self.clock, self.faults)
        try:
            loop.run_until_complete(core.start())
        except BaseException as exc:
            loop.close()
            ready.set_exception(exc)
            return
        self._loop = loop
        self._core = core
        if not self.config.unix_socket:
            # Keep the chosen port for restarts.
            assert core.port is not None  # start() sets it for TCP
            self._port = core.port
            self.config.port = core.port
        ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            try:
                pending = asyncio.all_tasks(loop)
                for task in pending:
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def stop(self) -> None:
        """Stop serving: close the listener and every connection, and join
        the thread. Does nothing if not running."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return
            loop, core = self._loop, self._core
            assert loop is not None and core is not None  # set together by _run
            try:
                asyncio.run_coroutine_threadsafe(core.close(), loop).result(_TIMEOUT)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(_TIMEOUT)
                self._thread = self._loop = self._core = None
                if self._temp_dir is not None:
                    shutil.rmtree(self._temp_dir, ignore_errors=True)

    def __enter__(self) -> "GibsonServer[_ClockT, _PortT]":
        """Start the server (see start) for a with block that stops it."""
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        """Stop the server."""
        self.stop()

    def __del__(self) -> None:
        # A forgotten server should not keep a temporary directory around.
        temp_dir = getattr(self, "_temp_dir", None)
        if temp_dir is not None and getattr(self, "_thread", None) is None:
            shutil.rmtree(temp_dir, ignore_errors=True)

    def __repr__(self) -> str:
        where = self.unix_socket or "%s:%s" % (self.host, self.port)
        return "<GibsonServer %s %s>" % (where, "running" if self.running else "stopped")

    # -- control ------------------------------------------------------------

    def call(self, function: Callable[..., _T], *args: Any) -> _T:
        """Run ``function(*args)`` on the server's thread, between requests,
        and return its result (run directly when the server is stopped)."""
        loop = self._loop
        if loop is None or self._thread is None or self._thread is threading.current_thread():
            return function(*args)
        future: "concurrent.futures.Future[_T]" = concurrent.futures.Future()

        def runner() -> None:
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # handed back to the caller
                future.set_exception(exc)

        loop.call_soon_threadsafe(runner)
        return future.result(_TIMEOUT)

    def flush(self) -> None:
        """Empty the store (items, trie order and item counters), for test
        isolation. Connection and request counters are kept."""
        self.call(self.engine.store.clear)

    def stats(self) -> Dict[str, Union[int, bytes]]:
        """The 27 STATS fields as a dict (ints, or bytes for text fields),
        as a STATS request would return them now."""
        def snapshot() -> Dict[str, Union[int, bytes]]:
            self.engine.now = int(self.clock.time())
            return self.engine.stats()
        return self.call(snapshot)

    def run_cron(self) -> None:
        """Run one cron tick now and wait for it: refresh the server's
        clock, and run the expiry sweep (and memory GC) if ``expired_cron``
        (``max_mem_cron``) seconds have passed on its clock since the last
        one. With a ManualClock, ``clock.advance(expired_cron)`` then
        ``run_cron()`` purges expired items deterministically."""
        core = self._core
        if core is None:
            raise RuntimeError("the server is not running")
        self.call(core.run_cron)

    def disconnect_clients(self) -> None:
        """Close every client connection now, as a server restart would;
        the server keeps listening."""
        core = self._core
        if core is not None:
            self.call(core.disconnect_all)

    @property
    def connection_count(self) -> int:
        """How many client connections are open."""
        return self.engine.clients
