"""``create_connection`` and ``GibsonConnection``: aiogibson's low-level
connection, on pygibson's asyncio connection and untyped Reader."""

import asyncio
import warnings

from .._async_connection import connect
from .._compat import Reader as _Reader
from .._compat import encode_command
from ..exceptions import ConnectionError

__all__ = ["create_connection", "GibsonConnection", "ignored_loop"]

_NOTSET = object()


def ignored_loop(loop, where):
    """aiogibson took ``loop=``; asyncio no longer does, and neither do we."""
    if loop is not None:
        warnings.warn("%s(loop=...) is ignored: the running event loop is used" % where,
                      DeprecationWarning, stacklevel=3)


def _address(address):
    if isinstance(address, (tuple, list)) and len(address) == 2:
        host, port = address
        return host, int(port), None
    if isinstance(address, str):
        return None, None, address
    raise TypeError("address must be a (host, port) pair or a unix socket path, not %r"
                    % (address,))


async def create_connection(address, *, encoding=None, loop=None):
    """A ``GibsonConnection`` to ``address``: a ``(host, port)`` pair or a
    unix socket path. ``encoding`` decodes replies that are bytes."""
    ignored_loop(loop, "create_connection")
    host, port, path = _address(address)
    running = asyncio.get_running_loop()
    conn = await connect(running, _Reader(typed=False), host, port, path, None, None, 0, 0)
    return GibsonConnection(conn, address, encoding=encoding)


class GibsonConnection:
    """One connection; ``execute()`` pipelines: each call writes its frame
    at once and returns the future of its reply."""

    def __init__(self, conn, address, *, encoding=None, loop=None):
        ignored_loop(loop, "GibsonConnection")
        self._conn = conn
        self._address = address
        self._encoding = encoding

    def __repr__(self):
        return "<GibsonConnection {}>".format(self._address)

    def execute(self, command, *args, encoding=_NOTSET):
        """Send ``command`` (``b'set'``, ``'get'``...) with ``args`` in the
        order the server reads them; returns the future of the reply."""
        if command is None:
            raise TypeError("command must not be None")
        if any(arg is None for arg in args):
            raise TypeError("args must not contain None")
        if isinstance(command, (bytes, str)):
            command = command.strip()
        frame = encode_command(command, *args)  # checked: refused before sending
        conn = self._conn
        if not conn.usable:
            raise ConnectionError(
                "the connection is closed (%s); open a new one with create_connection()"
                % (conn.error or "closed"))
        future = conn.send_untyped(frame)
        if frame[4:6] == b"\xff\x00":
            conn.end()  # END: the server hangs up after its reply
        if encoding is _NOTSET:
            encoding = self._encoding
        if encoding is None:
            return future
        return asyncio.ensure_future(_decoded(future, encoding))

    def close(self):
        """Close the connection; requests in flight fail with ConnectionError."""
        self._conn.close("the connection was closed%s by close() while this request was "
                         "in flight; the server may have executed it%s")

    async def wait_closed(self):
        """Wait until the connection is closed."""
        await self._conn.closed

    @property
    def closed(self):
        """True once the connection is closed or closing."""
        return not self._conn.usable

    @property
    def encoding(self):
        """The codec replies are decoded with, or None."""
        return self._encoding


async def _decoded(future, encoding):
    # As aiogibson: a reply that is bytes is decoded; lists are left alone.
    result = await future
    if isinstance(result, bytes):
        return result.decode(encoding)
    return result
