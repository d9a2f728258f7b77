"""An asyncio pool of ``AsyncClient`` connections, and a client that
borrows from it for each call.

One ``AsyncClient`` already runs any number of requests at once on its
connection; a pool is for code that wants a connection to itself (a long
pipeline, a lock held across calls) or several connections to one server.
"""

import asyncio
import inspect
from collections import deque

from . import _client_extras
from ._async_pipeline import AsyncPipeline
from ._operations import OPERATIONS
from .exceptions import ArgumentError, PyGibsonError
from .pool import PoolTimeoutError, seconds_option

__all__ = ["AsyncConnectionPool", "AsyncPooledClient", "AsyncPooledPipeline",
           "PoolTimeoutError"]


class AsyncConnectionPool:
    """A bounded set of ``AsyncClient`` connections to one server.

    Its own times are in seconds; the client options passed through
    (``timeout``, ``connect_timeout``) stay in milliseconds.

    Parameters (the rest are passed to every ``AsyncClient``):

    max_size (int, default 8)
        The most connections open at once.
    acquire_timeout (float seconds or None, default 5.0)
        How long ``acquire()`` waits for a free connection before raising
        ``PoolTimeoutError``; None waits forever.
    idle_timeout (float seconds or None, default 300.0)
        Connections unused for longer are closed when next seen.
    health_check_interval (float seconds or None, default 30.0)
        A connection idle for longer is pinged before it is handed out, and
        replaced if the ping fails; None never pings.
    client_factory (callable, default ``AsyncClient``)
        Makes a client from the keyword arguments.

    Waiting coroutines are served first come, first served: a connection
    given back goes to the longest waiter.
    """

    def __init__(self, max_size=8, acquire_timeout=5.0, idle_timeout=300.0,
                 health_check_interval=30.0, client_factory=None, **client_kwargs):
        if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1:
            raise ArgumentError("max_size must be an int of at least 1")
        if client_factory is None:
            from .asyncio import AsyncClient as client_factory
        self.max_size = max_size
        self.acquire_timeout = seconds_option(acquire_timeout, "acquire_timeout")
        self.idle_timeout = seconds_option(idle_timeout, "idle_timeout")
        self.health_check_interval = seconds_option(health_check_interval,
                                                    "health_check_interval")
        self._factory = client_factory
        self._client_kwargs = client_kwargs
        # A client made now checks the options (a misspelt one, a bad
        # value) here rather than at the first call; it does not connect.
        client_factory(**client_kwargs)
        self._idle = deque()  # (client, loop time it came back), newest on the right
        self._waiters = deque()  # futures, first come first served
        self._open = 0
        self._closed = False

    @property
    def size(self):
        """Connections open now, in use or idle."""
        return self._open

    @property
    def idle(self):
        """Connections waiting in the pool."""
        return len(self._idle)

    async def acquire(self, timeout=None):
        """A client for this coroutine's exclusive use; give it back with
        ``release()``, or use ``async with pool.connection() as client``."""
        if self._closed:
            raise PyGibsonError("the pool is closed; make a new one")
        loop = asyncio.get_running_loop()
        now = loop.time()
        await self._drop_stale(now)
        if self._idle and not self._waiters:
            client, returned = self._idle.pop()
            return await self._checked(client, returned, now)
        if self._open < self.max_size:
            self._open += 1
            return self._created()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        if timeout is None:
            timeout = self.acquire_timeout
        try:
            handed = await asyncio.wait_for(waiter, timeout)
        except asyncio.TimeoutError:
            self._unwait(waiter)
            raise PoolTimeoutError(
                "no connection came free within %.3f s: all %d are in use; raise max_size "
                "or acquire_timeout" % (timeout, self.max_size)) from None
        except BaseException:
            self._unwait(waiter)
            raise
        if handed is None:
            return self._created()
        return await self._checked(handed[0], handed[1], loop.time())

    def _unwait(self, waiter):
        """A waiter gave up: whatever it was handed goes to the next one."""
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass
        if waiter.done() and not waiter.cancelled():
            handed = waiter.result()
            if handed is None:
                self._give_slot_back()
            else:
                self.release(handed[0])

    def _created(self):
        try:
            return self._factory(**self._client_kwargs)
        except BaseException:
            self._give_slot_back()
            raise

    async def _checked(self, client, returned, now):
        interval = self.health_check_interval
        if interval is None or now - returned <= interval:
            return client
        try:
            await client.ping()  # a dead connection is replaced by the ping's retry
        except BaseException:
            await client.aclose()
            self._give_slot_back()
            raise
        return client

    def _give_slot_back(self):
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # a slot: make a connection
                return
        self._open -= 1

    async def _drop_stale(self, now):
        if self.idle_timeout is None:
            return
        limit = now - self.idle_timeout
        while self._idle and self._idle[0][1] < limit:
            client, _ = self._idle.popleft()
            self._open -= 1
            await client.aclose()

    def release(self, client):
        """Give a client back for the next borrower."""
        if self._closed:
            self._open -= 1
            asyncio.ensure_future(client.aclose())
            return
        now = asyncio.get_running_loop().time()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result((client, now))
                return
        self._idle.append((client, now))

    async def discard(self, client):
        """Close a client instead of giving it back."""
        await client.aclose()
        self._give_slot_back()

    def connection(self):
        """``async with pool.connection() as client:`` borrows a client."""
        return _Borrowed(self)

    async def aclose(self):
        """Close the idle connections now and the others as they come back;
        acquire() then raises."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(PyGibsonError("the pool was closed while waiting"))
        while self._idle:
            client, _ = self._idle.pop()
            self._open -= 1
            await client.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.aclose()

    def __repr__(self):
        return "<%s size=%d idle=%d max_size=%d>" % (
            type(self).__name__, self.size, self.idle, self.max_size)


class _Borrowed:
    __slots__ = ("_pool", "_client")

    def __init__(self, pool):
        self._pool = pool
        self._client = None

    async def __aenter__(self):
        self._client = await self._pool.acquire()
        return self._client

    async def __aexit__(self, exc_type, exc, tb):
        client, self._client = self._client, None
        await _give_back(self._pool, client, exc)


async def _give_back(pool, client, error):
    """A client that failed closed its own connection and reopens it on the
    next call; only an interruption (a cancellation mid-call) leaves
    requests of the borrower in flight on it, so it is not handed on."""
    if error is None or isinstance(error, Exception):
        pool.release(client)
    else:
        await pool.discard(client)


def _pooled(op):
    name = op.name

    async def method(self, *args, **kwargs):
        pool = self.pool
        client = await pool.acquire()
        try:
            result = await getattr(client, name)(*args, **kwargs)
        except BaseException as error:
            await _give_back(pool, client, error)
            raise
        pool.release(client)
        return result

    # Named, documented and signed as AsyncClient's coroutine (get's default
    # included), not as (*args, **kwargs).
    from .asyncio import AsyncClient

    model = getattr(AsyncClient, name)
    method.__name__ = name
    method.__qualname__ = "AsyncPooledClient." + name
    method.__doc__ = model.__doc__
    method.__signature__ = inspect.signature(model)
    return method


class AsyncPooledClient:
    """The ``AsyncClient`` interface over an ``AsyncConnectionPool``: each
    call borrows a connection for its duration.

    ``AsyncPooledClient(pool=None, **options)`` uses the given pool, or
    makes one from ``options`` (see ``AsyncConnectionPool``): the pool's
    times are in seconds, the client's ``timeout`` in milliseconds.
    ``AsyncPooledClient.from_url(url, **options)`` reads a URL as
    ``Client.from_url`` does.
    """

    def __init__(self, pool=None, **options):
        self.pool = pool if pool is not None else AsyncConnectionPool(**options)

    from_url = classmethod(_client_extras.from_url)

    def pipeline(self):
        """An ``AsyncPipeline`` whose ``execute()`` borrows one connection
        from the pool for its duration."""
        return AsyncPooledPipeline(self.pool)

    async def exists(self, key):
        """Whether ``key`` is stored and not expired (``AsyncClient.exists``)."""
        async with self.pool.connection() as client:
            return await client.exists(key)

    async def aclose(self):
        await self.pool.aclose()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        await self.aclose()

    def __repr__(self):
        return "<%s %r>" % (type(self).__name__, self.pool)


class AsyncPooledPipeline(AsyncPipeline):
    """An ``AsyncPipeline`` that holds no connection until ``execute()``.

    Operations are checked and encoded as they are queued, as on any
    pipeline, by a client made with the pool's options that never connects
    (the frames depend on those options alone); ``execute()`` borrows a
    connection, runs the frames on it and gives it back.
    """

    def __init__(self, pool):
        super().__init__(pool._factory(**pool._client_kwargs))
        self._pool = pool

    async def execute(self, raise_on_error=True):
        if not self._ops:
            return []
        pool = self._pool
        client = await pool.acquire()
        encoder, self._client = self._client, client
        try:
            results = await super().execute(raise_on_error)
        except BaseException as error:
            await _give_back(pool, client, error)
            raise
        finally:
            self._client = encoder
        pool.release(client)
        return results


for _op in OPERATIONS:
    if _op.result == "quit":
        continue  # ending a borrowed connection is the pool's business
    _method = _pooled(_op)
    for _name in (_op.name,) + _op.aliases:
        setattr(AsyncPooledClient, _name, _method)
del _op, _method, _name
