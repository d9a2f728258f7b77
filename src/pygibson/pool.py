"""A thread-safe pool of connections, and a client that borrows from it.

A single ``Client`` is already safe to share between threads, but it runs one
request at a time. ``PooledClient`` has the same methods and lets as many
requests run at once as the pool has connections: the extension releases the
GIL while it waits on the server, so the threads really overlap.
"""

import os
import threading
import time
from collections import deque

from ._pygibson import Client
from .exceptions import ArgumentError, ConnectionError, PyGibsonError, TimeoutError

__all__ = ["ConnectionPool", "PooledClient", "PoolTimeoutError"]


class PoolTimeoutError(TimeoutError):
    """No connection came free before the pool's ``acquire_timeout``."""


class ConnectionPool:
    """A bounded set of ``Client`` connections to one server.

    Parameters (the rest are passed to every ``Client``):

    max_size (int, default 8)
        The most connections open at once.
    acquire_timeout (float seconds or None, default 5.0)
        How long ``acquire()`` waits for a free connection before raising
        ``PoolTimeoutError``; None waits forever.
    idle_timeout (float seconds or None, default 300.0)
        Connections unused for longer are closed when next seen.
    health_check_interval (float seconds or None, default 30.0)
        A connection idle for longer than this is pinged when it leaves the
        pool, and replaced if the ping fails; None never pings.
    client_factory (callable, default ``Client``)
        Makes a client from the keyword arguments.

    After ``fork()`` a child that uses the pool starts with an empty pool of
    its own; the parent's connections are left to the parent.
    """

    def __init__(
        self,
        max_size=8,
        acquire_timeout=5.0,
        idle_timeout=300.0,
        health_check_interval=30.0,
        client_factory=Client,
        **client_kwargs,
    ):
        if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1:
            raise ArgumentError("max_size must be an int of at least 1")
        self.max_size = max_size
        self.acquire_timeout = acquire_timeout
        self.idle_timeout = idle_timeout
        self.health_check_interval = health_check_interval
        self._factory = client_factory
        self._client_kwargs = client_kwargs
        self._condition = threading.Condition()
        self._reset_state()

    def _reset_state(self):
        self._pid = os.getpid()
        self._idle = deque()  # (client, time it was returned)
        self._open = 0
        self._closed = False

    def _check_fork(self):
        if self._pid != os.getpid():
            # The condition's lock may be held by a parent thread that does not
            # exist here: start over with fresh state and a fresh lock.
            self._condition = threading.Condition()
            self._reset_state()

    @property
    def size(self):
        """Connections open now, in use or idle."""
        return self._open

    @property
    def idle(self):
        """Connections waiting in the pool."""
        return len(self._idle)

    def acquire(self, timeout=None):
        """A client for this thread's exclusive use; give it back with
        ``release()``, or use ``connection()`` as a context manager."""
        self._check_fork()
        if timeout is None:
            timeout = self.acquire_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while True:
                if self._closed:
                    raise PyGibsonError("the pool is closed")
                self._drop_stale_locked()
                if self._idle:
                    client, returned = self._idle.pop()
                    break
                if self._open < self.max_size:
                    self._open += 1
                    client, returned = None, None
                    break
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise PoolTimeoutError(
                        "no connection came free within %.3f s: all %d are in use; "
                        "raise max_size or acquire_timeout" % (timeout, self.max_size)
                    )
                self._condition.wait(remaining)
        try:
            if client is None:
                return self._factory(**self._client_kwargs)
            return self._checked(client, returned)
        except BaseException:
            with self._condition:
                self._open -= 1
                self._condition.notify()
            raise

    def _checked(self, client, returned):
        interval = self.health_check_interval
        if interval is not None and time.monotonic() - returned > interval:
            try:
                # A dead connection is replaced by the ping itself: reads
                # retry once on a fresh connection.
                client.ping()
            except BaseException:
                client.close()
                raise
        return client

    def _drop_stale_locked(self):
        if self.idle_timeout is None:
            return
        limit = time.monotonic() - self.idle_timeout
        # The oldest returned sit at the left end.
        while self._idle and self._idle[0][1] < limit:
            client, _ = self._idle.popleft()
            client.close()
            self._open -= 1

    def release(self, client):
        """Give a client back. A client whose connection broke is closed and
        not reused."""
        if self._pid != os.getpid():
            return
        with self._condition:
            if self._closed:
                client.close()
                self._open -= 1
            else:
                self._idle.append((client, time.monotonic()))
            self._condition.notify()

    def discard(self, client):
        """Close a client instead of giving it back (after an error that
        leaves its state unknown)."""
        client.close()
        if self._pid != os.getpid():
            return
        with self._condition:
            self._open -= 1
            self._condition.notify()

    def connection(self):
        """``with pool.connection() as client:`` borrows a client for the block."""
        return _Borrowed(self)

    def close(self):
        """Close the idle connections now and the others as they come back;
        acquire() then raises."""
        self._check_fork()
        with self._condition:
            self._closed = True
            while self._idle:
                client, _ = self._idle.pop()
                client.close()
                self._open -= 1
            self._condition.notify_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return "<%s size=%d idle=%d max_size=%d>" % (
            type(self).__name__,
            self.size,
            self.idle,
            self.max_size,
        )


class _Borrowed:
    __slots__ = ("_pool", "_client")

    def __init__(self, pool):
        self._pool = pool
        self._client = None

    def __enter__(self):
        self._client = self._pool.acquire()
        return self._client

    def __exit__(self, exc_type, exc, tb):
        client, self._client = self._client, None
        if isinstance(exc, (ConnectionError, TimeoutError)) or (
            exc is not None and not isinstance(exc, PyGibsonError)
        ):
            self._pool.discard(client)
        else:
            self._pool.release(client)


_OPERATIONS = (
    "set ttl get dl delete inc dec lock unlock mset mttl mget mdl mdelete minc "
    "mdec mlock munlock count stats ping meta keys"
).split()


def _pooled(name):
    def method(self, *args, **kwargs):
        with self.pool.connection() as client:
            return getattr(client, name)(*args, **kwargs)

    method.__name__ = name
    method.__qualname__ = "PooledClient." + name
    method.__doc__ = getattr(Client, name).__doc__
    return method


class PooledClient:
    """The ``Client`` interface over a ``ConnectionPool``: each call borrows a
    connection for its duration.

    ``PooledClient(pool=None, **options)`` uses the given pool, or makes one
    from ``options`` (see ``ConnectionPool``).
    """

    def __init__(self, pool=None, **options):
        self.pool = pool if pool is not None else ConnectionPool(**options)

    for _name in _OPERATIONS:
        locals()[_name] = _pooled(_name)
    del _name

    def pipeline(self):
        """A pipeline on one connection borrowed for its ``execute()``."""
        return _PooledPipeline(self.pool)

    def close(self):
        self.pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return "<%s %r>" % (type(self).__name__, self.pool)


class _PooledPipeline:
    """Queues calls, then replays them on a borrowed connection's pipeline."""

    def __init__(self, pool):
        self._pool = pool
        self._calls = []

    def __getattr__(self, name):
        if name not in _OPERATIONS and name != "quit":
            raise AttributeError(name)

        def queue(*args, **kwargs):
            self._calls.append((name, args, kwargs))
            return self

        return queue

    def __len__(self):
        return len(self._calls)

    def __bool__(self):
        return True

    def reset(self):
        self._calls = []

    def execute(self, raise_on_error=True):
        calls, self._calls = self._calls, []
        with self._pool.connection() as client:
            pipe = client.pipeline()
            for name, args, kwargs in calls:
                getattr(pipe, name)(*args, **kwargs)
            return pipe.execute(raise_on_error=raise_on_error)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.reset()
