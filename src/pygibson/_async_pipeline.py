"""``AsyncPipeline``: many operations written as one stream, their replies
collected as they come.

The server stops reading while it writes a reply (docs/protocol.md §8.1),
so a pipeline must read while it writes. On asyncio the transport always
reads, so that holds by construction; the pipeline also writes in slices,
waiting while the transport's buffer is over its high-water mark, so that a
pipeline of any size is not held in memory twice.
"""

from types import GenericAlias

from ._async_connection import Batch
from ._async_encode import value_size as _value_size
from ._operations import OPERATIONS
from ._protocol import pipeline_failure_message
from .exceptions import ConnectionError, TimeoutError

__all__ = ["AsyncPipeline"]

#: Operations written at a time before looking at the transport's buffer.
_SLICE = 512
_END = next(op.opcode for op in OPERATIONS if op.result == "quit")
_BY_OPCODE = {op.opcode: op for op in OPERATIONS}


def _with_counts(error, ops, sent, received):
    """The connection's error, saying how far the pipeline got, as the sync
    Pipeline's does: the server hanging up where an MGET, KEYS or STATS
    reply was due gets oversized_reply_hint."""
    hung_up = getattr(error, "unanswered", False) and received < sent
    counted = type(error)(pipeline_failure_message(
        error, len(ops), sent, received, _BY_OPCODE[ops[received][0]] if hung_up else None))
    counted.request_sent = sent > 0
    counted.sent = sent
    counted.received = received
    return counted


class AsyncPipeline:
    """Operations queued on a client and sent together by ``await
    execute()``; each method returns the pipeline, so calls chain.

    Operations are checked and encoded as they are queued (a bad argument
    raises at once and nothing of it is sent). ``execute(raise_on_error=True)``
    returns the results in order, exactly what the same calls made one by one
    would return; with ``raise_on_error`` the first refusal is raised, with
    every result in its ``.results``. If the connection breaks midway, one
    ConnectionError/TimeoutError says how many operations were sent and how
    many replies received (``.sent``, ``.received``). The client's timeout
    bounds each wait without progress, not the whole batch.
    """

    # AsyncPipeline[str] in annotations evaluated at run time: the stubs make it
    # generic in what values come back as (bytes, or str with an encoding).
    __class_getitem__ = classmethod(GenericAlias)

    def __init__(self, client):
        self._client = client
        self._ops = []
        self._frames = []

    @property
    def client(self):
        return self._client

    def __len__(self):
        return len(self._ops)

    def __bool__(self):
        return True

    def reset(self):
        """Forget the queued operations."""
        self._ops = []
        self._frames = []

    async def __aenter__(self):
        """Return the pipeline, for an async with block."""
        return self

    async def __aexit__(self, *exc_info):
        """Forget the operations not executed."""
        self.reset()

    async def execute(self, raise_on_error=True):
        """Send the queued operations and return their results in order (see the
        class's docstring for raise_on_error and broken connections)."""
        ops, frames = self._ops, self._frames
        self.reset()
        if not ops:
            return []
        conn = await self._client._connection()
        loop = conn.loop
        future = loop.create_future()
        batch = Batch(future, len(ops), loop.time())
        sent = 0
        try:
            while sent < len(ops):
                if sent:
                    await conn.drain()
                if not conn.usable:
                    raise ConnectionError(
                        str(conn.error) if conn.error is not None else
                        "END was sent earlier in this pipeline and the server hangs up "
                        "after it, so the operations queued after it were not sent")
                part = ops[sent:sent + _SLICE]
                conn.send_batch(batch, part, b"".join(frames[sent:sent + _SLICE]))
                sent += len(part)
                if part[-1][0] == _END:
                    conn.end()  # the server hangs up after END
            results = await future
        except (ConnectionError, TimeoutError) as error:
            raise _with_counts(error, ops, sent, len(batch.results)) from None
        finally:
            # Cancelled while writing: what was written is read and dropped,
            # the rest is never written.
            if not future.done():
                future.cancel()
        if self._client._serializing is not None:
            _load_values(self._client._serializing, ops, results)
        if raise_on_error:
            for result in results:
                if isinstance(result, BaseException):
                    result.results = results
                    raise result
        return results


def _load_values(serializing, ops, results):
    """get and mget results through the client's serializer, as the sync
    Pipeline's: one that does not load stands in its place."""
    for index, (opcode, key, _) in enumerate(ops):
        loader = _LOADERS.get(opcode)
        result = results[index]
        if loader is None or isinstance(result, BaseException):
            continue
        try:
            results[index] = getattr(serializing, loader[0])(result, loader[1], key)
        except MemoryError:
            raise
        except Exception as error:
            results[index] = error


#: opcode -> (the Serializing method, the command) for get and mget.
_LOADERS = {op.opcode: ("load" if op.result == "value" else "load_all", op.command)
            for op in OPERATIONS if op.name in ("get", "mget")}

_QUEUE = '''
def {name}(self, {params}):
    """{doc}"""
{dump}    frame = self._client._encode({command!r}, {wire})
    self._ops.append(({opcode}, {key}, {value_size}))
    self._frames.append(frame)
    return self
'''


def _define(op):
    source = _QUEUE.format(
        name=op.name, params=op.signature[1:-1], doc=op.doc, opcode=op.opcode,
        command=op.command.lower().encode(),
        wire=", ".join(p.name for p in op.wire_params),
        key=op.params[0].name if op.params and op.params[0].kind == "key" else "None",
        value_size="_value_size(frame)" if op.shape == "SET" else "0",
        dump=("    if self._client._serializing is not None:\n"
              "        value = self._client._serializing.dump(value)\n"
              if op.name in ("set", "mset") else ""))
    namespace = {"_value_size": _value_size}
    exec(source, namespace)
    method = namespace[op.name]
    method.__qualname__ = "AsyncPipeline." + op.name
    method.__module__ = "pygibson.asyncio"
    return method


for _op in OPERATIONS:
    _method = _define(_op)
    for _name in (_op.name,) + _op.aliases:
        setattr(AsyncPipeline, _name, _method)
del _op, _method, _name
