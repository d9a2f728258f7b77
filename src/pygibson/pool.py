"""A thread-safe pool of connections, and a client that borrows from it.

A single ``Client`` is already safe to share between threads, but it runs one
request at a time. ``PooledClient`` has the same methods and lets as many
requests run at once as the pool has connections: the extension releases the
GIL while it waits on the server, so the threads really overlap.
"""

import inspect
import os
import threading
from collections import deque
from time import monotonic as _monotonic

from . import _client_extras
from ._compat import Client, Pipeline
from ._operations import OPERATIONS
from .exceptions import ArgumentError, PyGibsonError, TimeoutError

__all__ = ["ConnectionPool", "PooledClient", "PooledPipeline", "PoolTimeoutError"]

# Forks are counted rather than detected with os.getpid(), a system call the
# pool would otherwise make twice per borrowed connection.
_forks = [0]


def _count_fork():
    _forks[0] += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_count_fork)


class PoolTimeoutError(TimeoutError):
    """No connection came free before the pool's ``acquire_timeout``."""


def seconds_option(value, name):
    """A pool's time option: seconds as an int or float, or None. The
    client's own times (timeout, connect_timeout, connect_backoff) are in
    milliseconds, so every refusal says which unit is which."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s is in seconds: a number or None, not %.100s (the pool's "
                        "times are in seconds, the client's timeout= and connect_timeout= "
                        "in milliseconds)" % (name, type(value).__name__))
    if not value >= 0:  # NaN too
        raise ArgumentError("%s must be 0 or more seconds, or None, not %r (the pool's "
                            "times are in seconds, the client's timeout= and "
                            "connect_timeout= in milliseconds)" % (name, value))
    return value


class ConnectionPool:
    """A bounded set of ``Client`` connections to one server.

    Its own times are in seconds, as redis-py's; the client options passed
    through (``timeout``, ``connect_timeout``, ``connect_backoff``) stay in
    milliseconds, as ``Client`` takes them.

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
        """See the class's docstring for the parameters."""
        if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1:
            raise ArgumentError("max_size must be an int of at least 1")
        self.max_size = max_size
        self.acquire_timeout = seconds_option(acquire_timeout, "acquire_timeout")
        self.idle_timeout = seconds_option(idle_timeout, "idle_timeout")
        self.health_check_interval = seconds_option(health_check_interval,
                                                    "health_check_interval")
        self._factory = client_factory
        self._client_kwargs = client_kwargs
        # A client made now checks the options (a misspelt one, a bad
        # value) here rather than at the first call; it does not connect.
        client_factory(**client_kwargs).close()
        self._reset_state()

    def _reset_state(self):
        self._generation = _forks[0]
        self._lock = threading.Lock()
        self._idle = deque()  # (client, time it was returned), newest on the right
        self._waiters = deque()  # _Waiter, first come first served
        self._open = 0
        self._closed = False

    def _check_fork(self):
        if self._generation != _forks[0]:
            # The lock may be held by a parent thread that does not exist
            # here, and the connections are the parent's: start over.
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
        ``release()``, or use ``connection()`` as a context manager.

        Waiting threads are served in arrival order: a connection given back
        goes straight to the longest waiter, so none can be starved."""
        if self._generation != _forks[0]:
            self._reset_state()
        now = _monotonic()
        # Only bookkeeping happens under the lock. Making a client, and the
        # health check's ping, run after it is released: they can take a
        # network round trip, and on failure they give the slot back, which
        # takes the lock again. (acquire/release rather than `with`, which
        # costs twice as much, on the path of every pooled call.)
        lock = self._lock
        lock.acquire()
        try:
            if self._closed:
                raise PyGibsonError("the pool is closed")
            idle = self._idle
            if idle and self.idle_timeout is not None and idle[0][1] < now - self.idle_timeout:
                self._drop_stale_locked(now)
            if idle and not self._waiters:
                client, returned = idle.pop()
                handed = None
            elif self._open < self.max_size:
                self._open += 1
                handed = _MAKE_NEW
            else:
                handed = _Waiter()
                self._waiters.append(handed)
        finally:
            lock.release()
        if handed is None:
            # The usual case, kept short: every pooled call comes here.
            interval = self.health_check_interval
            if interval is None or now - returned <= interval:
                return client
            return self._pinged(client)
        if handed is not _MAKE_NEW:
            handed = self._wait(handed, timeout)
            if handed is not _MAKE_NEW:
                return self._checked(*handed)
        return self._created()

    def _wait(self, waiter, timeout):
        """What a waiter was handed: (client, returned), or _MAKE_NEW."""
        if timeout is None:
            timeout = self.acquire_timeout
        waiter.event.wait(timeout)
        with self._lock:
            if waiter.handed is None:
                self._waiters.remove(waiter)
                raise PoolTimeoutError(
                    "no connection came free within %.3f s: all %d are in use; "
                    "raise max_size or acquire_timeout" % (timeout, self.max_size)
                )
        if waiter.handed is _CLOSED:
            raise PyGibsonError("the pool is closed")
        return waiter.handed

    def _created(self):
        """A new client, for a slot already counted in _open."""
        try:
            return self._factory(**self._client_kwargs)
        except BaseException:
            self._give_slot_back()
            raise

    def _checked(self, client, returned):
        """The client, pinged first if it has been idle (since ``returned``)
        longer than the health check interval."""
        interval = self.health_check_interval
        if interval is None or _monotonic() - returned <= interval:
            return client
        return self._pinged(client)

    def _pinged(self, client):
        try:
            # A dead connection is replaced by the ping itself: reads
            # retry once on a fresh connection.
            client.ping()
        except BaseException:
            client.close()
            self._give_slot_back()
            raise
        return client

    def _give_slot_back(self):
        """A counted connection is gone: let a waiter make a new one."""
        with self._lock:
            if self._waiters:
                self._hand(self._waiters.popleft(), _MAKE_NEW)
            else:
                self._open -= 1

    @staticmethod
    def _hand(waiter, handed):
        waiter.handed = handed
        waiter.event.set()

    def _drop_stale_locked(self, now):
        if self.idle_timeout is None:
            return
        limit = now - self.idle_timeout
        # The oldest returned sit at the left end.
        while self._idle and self._idle[0][1] < limit:
            client, _ = self._idle.popleft()
            client.close()
            self._open -= 1

    def release(self, client):
        """Give a client back for the next borrower."""
        if self._generation != _forks[0]:
            return
        lock = self._lock
        lock.acquire()
        try:
            if self._closed:
                client.close()
                self._open -= 1
            elif self._waiters:
                self._hand(self._waiters.popleft(), (client, _monotonic()))
            else:
                self._idle.append((client, _monotonic()))
        finally:
            lock.release()

    def discard(self, client):
        """Close a client instead of giving it back (after an error that
        leaves its state unknown)."""
        client.close()
        if self._generation == _forks[0]:
            self._give_slot_back()

    def connection(self):
        """``with pool.connection() as client:`` borrows a client for the block."""
        return _Borrowed(self)

    def close(self):
        """Close the idle connections now and the others as they come back;
        acquire() then raises."""
        self._check_fork()
        with self._lock:
            self._closed = True
            while self._idle:
                client, _ = self._idle.pop()
                client.close()
                self._open -= 1
            while self._waiters:
                self._hand(self._waiters.popleft(), _CLOSED)

    def __enter__(self):
        """Return the pool, for a with block that closes it."""
        return self

    def __exit__(self, *exc_info):
        """Close the pool."""
        self.close()

    def __repr__(self):
        return "<%s size=%d idle=%d max_size=%d>" % (
            type(self).__name__,
            self.size,
            self.idle,
            self.max_size,
        )


_MAKE_NEW = object()  # handed to a waiter: a slot is free, make a connection
_CLOSED = object()  # handed to a waiter: the pool was closed


class _Waiter:
    __slots__ = ("event", "handed")

    def __init__(self):
        self.event = threading.Event()
        self.handed = None


def _give_back(pool, client, error):
    """Return a borrowed client. Its connection needs no checking: the
    client itself closes a connection that failed and reopens it on the next
    call. Only an interruption (KeyboardInterrupt, ...) mid-call leaves it in
    an unknown state."""
    if error is None or isinstance(error, Exception):
        pool.release(client)
    else:
        pool.discard(client)


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
        _give_back(self._pool, client, exc)


#: Every operation's methods but quit(): ending the session of a borrowed
#: connection would only make the pool reconnect (a pipeline may still
#: queue it).
_OPERATIONS = tuple(
    name for op in OPERATIONS if op.result != "quit" for name in (op.name,) + op.aliases
)


def _pooled(name):
    def method(self, *args, **kwargs):
        pool = self.pool
        client = pool.acquire()
        try:
            # Looked up on the client: client_factory may make any client.
            result = getattr(client, name)(*args, **kwargs)
        except BaseException as error:
            _give_back(pool, client, error)
            raise
        pool.release(client)
        return result

    return _like(method, getattr(Client, name), "PooledClient")


def _like(method, model, class_name):
    """method, named, documented and signed as model (the Client or Pipeline
    method it forwards to), so that help() and inspect.signature() show
    the operation's parameters rather than (*args, **kwargs)."""
    method.__name__ = model.__name__
    method.__qualname__ = "%s.%s" % (class_name, model.__name__)
    method.__doc__ = model.__doc__
    method.__signature__ = inspect.signature(model)
    return method


class PooledClient:
    """The ``Client`` interface over a ``ConnectionPool``: each call borrows a
    connection for its duration.

    ``PooledClient(pool=None, **options)`` uses the given pool, or makes one
    from ``options`` (see ``ConnectionPool``): the pool's ``acquire_timeout``,
    ``idle_timeout`` and ``health_check_interval`` are in seconds, the
    client's ``timeout`` and ``connect_timeout`` in milliseconds. A misspelt
    option fails here, not at the first call.
    ``PooledClient.from_url("gibson://HOST:PORT?timeout=500", max_size=16)``
    reads the address and client options as ``Client.from_url`` does.
    """

    def __init__(self, pool=None, **options):
        """Use pool, or make a ConnectionPool from options."""
        self.pool = pool if pool is not None else ConnectionPool(**options)

    from_url = classmethod(_client_extras.from_url)

    for _name in _OPERATIONS + ("exists",):
        locals()[_name] = _pooled(_name)
    del _name

    def pipeline(self):
        """A pipeline on one connection borrowed for its ``execute()``."""
        return PooledPipeline(self.pool)

    def close(self):
        """Close the pool (see ConnectionPool.close)."""
        self.pool.close()

    def __enter__(self):
        """Return the client, for a with block that closes the pool."""
        return self

    def __exit__(self, *exc_info):
        """Close the pool."""
        self.close()

    def __repr__(self):
        return "<%s %r>" % (type(self).__name__, self.pool)


def _queued(name):
    def method(self, *args, **kwargs):
        self._calls.append((name, args, kwargs))
        return self

    return _like(method, getattr(Pipeline, name), "PooledPipeline")


class PooledPipeline:
    """Queues calls, then replays them on a borrowed connection's pipeline:
    what ``PooledClient.pipeline()`` returns. The arguments are checked when
    ``execute()`` replays them, not as they are queued."""

    def __init__(self, pool):
        """A pipeline over pool, which lends a connection to each execute()."""
        self._pool = pool
        self._calls = []

    # A real method per operation (quit too), rather than a __getattr__:
    # help(), inspect.signature() and type checkers see them.
    for _name in _OPERATIONS + ("quit",):
        locals()[_name] = _queued(_name)
    del _name

    def __len__(self):
        return len(self._calls)

    def __bool__(self):
        # True even when empty, as Pipeline.
        return True

    def reset(self):
        """Forget the queued operations."""
        self._calls = []

    def execute(self, raise_on_error=True):
        """Borrow a connection, send the queued operations on it and return
        their results in order, as Pipeline.execute()."""
        calls, self._calls = self._calls, []
        with self._pool.connection() as client:
            pipe = client.pipeline()
            for name, args, kwargs in calls:
                getattr(pipe, name)(*args, **kwargs)
            return pipe.execute(raise_on_error=raise_on_error)

    def __enter__(self):
        """Return the pipeline, for a with block."""
        return self

    def __exit__(self, *exc_info):
        """Forget the operations not executed."""
        self.reset()
