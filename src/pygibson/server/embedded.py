"""``GibsonServer``: the server in a background thread, for tests and examples."""

import concurrent.futures
import asyncio
import logging
import os
import shutil
import tempfile
import threading

from .clock import RealClock
from .commands import Engine
from .config import Config
from .core import ServerCore
from .faults import Faults

__all__ = ["GibsonServer"]

log = logging.getLogger("pygibson.server")

_TIMEOUT = 10.0


class GibsonServer:
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

    def __init__(self, address="127.0.0.1", port=0, unix_socket=None, *, clock=None, **limits):
        self._temp_dir = None
        if unix_socket is True:
            unix_socket = None
            self._temp_dir = tempfile.mkdtemp(prefix="pygibson-")
            limits["unix_socket"] = os.path.join(self._temp_dir, "gibson.sock")
        elif unix_socket:
            limits["unix_socket"] = os.fspath(unix_socket)
        self.config = Config(address=address, port=port, **limits)
        self.clock = clock if clock is not None else RealClock()
        self.faults = Faults()
        self.engine = Engine(self.config)
        self._core = None
        self._loop = None
        self._thread = None
        self._lock = threading.Lock()
        self._port = port

    # -- addresses --------------------------------------------------------

    @property
    def host(self):
        """The TCP host, or None for a unix socket server."""
        return None if self.config.unix_socket else self.config.address

    @property
    def port(self):
        """The TCP port (the real one once started), or None for unix."""
        return None if self.config.unix_socket else self._port

    @property
    def unix_socket(self):
        """The unix socket path, or None for TCP."""
        return self.config.unix_socket

    @property
    def address(self):
        """``(host, port)`` for TCP, the socket path for unix."""
        return self.unix_socket if self.unix_socket else (self.host, self.port)

    @property
    def running(self):
        return self._thread is not None

    # -- lifecycle ----------------------------------------------------------

    def start(self):
        """Start serving; returns once the server accepts connections.
        Raises OSError if the address cannot be bound."""
        with self._lock:
            if self._thread is not None:
                return self
            if self._temp_dir is not None:
                os.makedirs(self._temp_dir, mode=0o700, exist_ok=True)
            ready = concurrent.futures.Future()
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

    def _run(self, ready):
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

    def stop(self):
        """Stop serving: close the listener and every connection, and join
        the thread. Does nothing if not running."""
        with self._lock:
            thread = self._thread
            if thread is None:
                return
            loop, core = self._loop, self._core
            try:
                asyncio.run_coroutine_threadsafe(core.close(), loop).result(_TIMEOUT)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(_TIMEOUT)
                self._thread = self._loop = self._core = None
                if self._temp_dir is not None:
                    shutil.rmtree(self._temp_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def __del__(self):
        # A forgotten server should not keep a temporary directory around.
        temp_dir = getattr(self, "_temp_dir", None)
        if temp_dir is not None and getattr(self, "_thread", None) is None:
            shutil.rmtree(temp_dir, ignore_errors=True)

    def __repr__(self):
        where = self.unix_socket or "%s:%s" % (self.host, self.port)
        return "<GibsonServer %s %s>" % (where, "running" if self.running else "stopped")

    # -- control ------------------------------------------------------------

    def call(self, function, *args):
        """Run ``function(*args)`` on the server's thread, between requests,
        and return its result (run directly when the server is stopped)."""
        loop = self._loop
        if loop is None or self._thread is None or self._thread is threading.current_thread():
            return function(*args)
        future = concurrent.futures.Future()

        def runner():
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # handed back to the caller
                future.set_exception(exc)

        loop.call_soon_threadsafe(runner)
        return future.result(_TIMEOUT)

    def flush(self):
        """Empty the store (items, trie order and item counters), for test
        isolation. Connection and request counters are kept."""
        self.call(self.engine.store.clear)

    def stats(self):
        """The 27 STATS fields as a dict (ints, or bytes for text fields),
        as a STATS request would return them now."""
        def snapshot():
            self.engine.now = int(self.clock.time())
            return self.engine.stats()
        return self.call(snapshot)

    def run_cron(self):
        """Run one cron tick now and wait for it: refresh the server's
        clock, and run the expiry sweep (and memory GC) if ``expired_cron``
        (``max_mem_cron``) seconds have passed on its clock since the last
        one. With a ManualClock, ``clock.advance(expired_cron)`` then
        ``run_cron()`` purges expired items deterministically."""
        core = self._core
        if core is None:
            raise RuntimeError("the server is not running")
        self.call(core.run_cron)

    def disconnect_clients(self):
        """Close every client connection now, as a server restart would;
        the server keeps listening."""
        core = self._core
        if core is not None:
            self.call(core.disconnect_all)

    @property
    def connection_count(self):
        """How many client connections are open."""
        return self.engine.clients
