"""``create_pool`` and ``GibsonPool``: aiogibson's pool of connections.

Kept from aiogibson: ``with (await pool) as gibson:`` (released on exit),
``acquire()``/``release()``, ``clear()``, the size properties, commands
called on the pool itself (each borrows a connection for its duration).
Fixed: ``maxsize`` is a real bound (aiogibson opened connections without
limit when ``minsize`` was 0), waiters are served first come first served,
and a closed connection handed back is dropped instead of reused.
"""

import asyncio
from collections import deque

from ..exceptions import ArgumentError
from .commands import Gibson, create_gibson
from .connection import ignored_loop

__all__ = ["create_pool", "GibsonPool"]


async def create_pool(address, *, encoding=None, minsize=10, maxsize=10,
                      commands_factory=Gibson, loop=None):
    """A ``GibsonPool`` holding ``minsize`` open connections to ``address``.
    ``commands_factory(connection)`` makes what the pool hands out
    (``lambda conn: conn`` for plain connections)."""
    ignored_loop(loop, "create_pool")
    pool = GibsonPool(address, encoding, minsize=minsize, maxsize=maxsize,
                      commands_factory=commands_factory)
    await pool._fill_free()
    return pool


class GibsonPool:
    """Gibson connections pool."""

    def __init__(self, address, encoding=None, *, minsize, maxsize, commands_factory,
                 loop=None):
        ignored_loop(loop, "GibsonPool")
        if not 0 <= minsize <= maxsize or maxsize < 1:
            raise ArgumentError("the pool needs 0 <= minsize <= maxsize and maxsize >= 1, "
                                "not minsize=%r, maxsize=%r" % (minsize, maxsize))
        self._address = address
        self._encoding = encoding
        self._minsize = minsize
        self._maxsize = maxsize
        self._factory = commands_factory
        self._free = deque()
        self._used = set()
        self._opening = 0
        self._waiters = deque()
        self._entered = {}

    @property
    def minsize(self):
        return self._minsize

    @property
    def maxsize(self):
        return self._maxsize

    @property
    def size(self):
        """Connections open (free and in use)."""
        return len(self._free) + len(self._used) + self._opening

    @property
    def freesize(self):
        """Connections waiting in the pool."""
        return len(self._free)

    @property
    def encoding(self):
        return self._encoding

    async def clear(self):
        """Close and forget every free connection."""
        while self._free:
            conn = self._free.popleft()
            conn.close()
            await conn.wait_closed()

    async def acquire(self):
        """A connection for the caller's exclusive use: a free one, a new
        one while under ``maxsize``, or the next one given back."""
        await self._fill_free()
        while self._free:
            conn = self._free.popleft()
            if not conn.closed:
                self._used.add(conn)
                return conn
        if self.size < self._maxsize:
            conn = await self._open()
            self._used.add(conn)
            return conn
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            conn = await waiter
        except BaseException:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif not waiter.cancelled():
                self._pass_on(waiter.result())  # handed over just as we gave up
            raise
        if conn is None:
            # release() gave us the slot of a closed connection, already
            # counted in _opening: open one in it.
            conn = await self._open(counted=True)
        self._used.add(conn)
        return conn

    def _pass_on(self, handed):
        if handed is None:
            self._opening -= 1
            self._hand_slot()
        else:
            self._used.add(handed)
            self.release(handed)

    def _hand_slot(self):
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._opening += 1
                waiter.set_result(None)
                return

    def release(self, conn):
        """Give a connection back (not a coroutine: ``__exit__`` calls it)."""
        if conn not in self._used:
            raise ArgumentError("release() of a connection this pool did not hand out")
        self._used.remove(conn)
        if conn.closed:
            self._hand_slot()  # the next waiter opens one in its place
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._free.append(conn)

    async def _fill_free(self):
        while len(self._free) < self._minsize and self.size < self._maxsize:
            self._free.append(await self._open())

    async def _open(self, counted=False):
        if not counted:
            self._opening += 1
        try:
            return await create_gibson(self._address, encoding=self._encoding,
                                       commands_factory=self._factory)
        finally:
            self._opening -= 1

    def __enter__(self):
        """Refused: 'with pool' cannot wait for a connection; use 'with (await
        pool) as gibson:' or 'async with pool as gibson:'."""
        raise RuntimeError("use 'with (await pool) as gibson:' or 'async with pool as "
                           "gibson:'; a plain 'with pool' cannot wait for a connection")

    def __exit__(self, *exc_info):
        """Never reached: __enter__ raises."""
        pass  # pragma: no cover - __enter__ always raises

    def __await__(self):
        """'await pool': a connection, released on leaving 'with (await pool)
        as gibson:'."""
        conn = yield from self.acquire().__await__()
        return _Released(self, conn)

    async def __aenter__(self):
        """Acquire a connection for the async with block."""
        conn = await self.acquire()
        # Keyed by task: several tasks may be inside ``async with pool``.
        self._entered.setdefault(asyncio.current_task(), []).append(conn)
        return conn

    async def __aexit__(self, *exc_info):
        """Release the block's connection."""
        task = asyncio.current_task()
        held = self._entered[task]
        conn = held.pop()
        if not held:
            del self._entered[task]
        self.release(conn)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)

        async def call(*args, **kwargs):
            conn = await self.acquire()
            try:
                return await getattr(conn, name)(*args, **kwargs)
            finally:
                self.release(conn)

        call.__name__ = name
        return call

    def __repr__(self):
        return "<GibsonPool {} size={} free={}>".format(self._address, self.size,
                                                        self.freesize)


class _Released:
    """``with (await pool) as gibson:``: gives the connection back on exit."""

    __slots__ = ("_pool", "_conn")

    def __init__(self, pool, conn):
        self._pool = pool
        self._conn = conn

    def __enter__(self):
        return self._conn

    def __exit__(self, *exc_info):
        pool, conn = self._pool, self._conn
        self._pool = self._conn = None
        pool.release(conn)
