"""aiogibson's API on pygibson: switch by changing an import::

    from pygibson.aio import create_gibson, create_pool

    gibson = await create_gibson(("127.0.0.1", 10128))
    await gibson.set(b"foo", b"bar", 7)
    await gibson.get(b"foo")                 # b'bar'
    pool = await create_pool("/tmp/gibson.sock", minsize=5, maxsize=10)
    with (await pool) as gibson:
        await gibson.get(b"foo")

Everything aiogibson 0.1.3 exported is here with its behaviour (see the
README's "asyncio" section for what is kept and what is deliberately
fixed). ``Reader`` is pygibson's untyped reader, ``encode_command``
pygibson's, and the exception names are aliases of pygibson's exceptions.
"""

from .._compat import Reader as _Reader
from .._compat import encode_command
from . import errors
from .commands import Gibson, create_gibson
from .connection import GibsonConnection, create_connection
from .errors import (
    ExpectedANumber,
    GibsonError,
    GibsonServerError,
    KeyLockedError,
    MemoryLimitError,
    ProtocolError,
    ReplyError,
)
from .pool import GibsonPool, create_pool

__all__ = [
    "create_connection", "create_gibson", "create_pool", "GibsonConnection", "Gibson",
    "GibsonPool", "Reader", "encode_command", "errors", "GibsonError", "ProtocolError",
    "ReplyError", "GibsonServerError", "ExpectedANumber", "MemoryLimitError",
    "KeyLockedError",
]


def Reader(encoding=None, *, max_reply_size=67108864):  # noqa: N802 - aiogibson's class name
    """aiogibson's reply parser: pygibson's ``Reader(typed=False)``. Each
    reply is decoded by its code alone: True for OK, None for not found,
    other refusals returned as exception instances, key-value sets as flat
    ``[key, value, ...]`` lists."""
    return _Reader(encoding, typed=False, max_reply_size=max_reply_size)
