"""The asyncio client: ``AsyncClient``, its pipeline, and a connection pool.

    >>> import asyncio
    >>> from pygibson.asyncio import AsyncClient
    >>> async def main():
    ...     async with AsyncClient() as client:      # 127.0.0.1:10128
    ...         await client.set("greeting", "hello", ttl=60)
    ...         return await client.get("greeting")
    >>> asyncio.run(main())
    b'hello'

Every operation of ``Client`` is a coroutine here, with the same
arguments, results and exceptions; arguments are checked before anything
is sent. Coroutines sharing one client share its connection without
waiting for each other: each request is written as it comes and the
replies, which the server sends in order, are matched in order. A request
cancelled (or timed out by ``asyncio.wait_for``/``asyncio.timeout``) before
its frame was written is never written; after that, its reply is read and
dropped in its turn, so it can never be taken for another request's.
"""

import asyncio
from types import GenericAlias

from ._async_connection import connect
from ._async_encode import make_encoder, value_size as _value_size
from ._compat import Client, Reader
from ._operations import OPERATIONS
from ._protocol import oversized_reply_hint
from . import _client_extras
from ._compat import Client as _SyncClient
from ._serializing import for_options as serializing_for
from .exceptions import ConnectionError, NotFoundError

__all__ = ["AsyncClient", "AsyncPipeline", "AsyncConnectionPool", "AsyncPooledClient",
           "PoolTimeoutError"]


def _retrieved(task):
    # A connect attempt whose waiters were all cancelled: its error is
    # nobody's, and must not be logged as "never retrieved".
    if not task.cancelled():
        task.exception()


class AsyncClient:
    """An asyncio connection to a Gibson server.

    ``AsyncClient(addr="127.0.0.1", port=10128, unix_socket=None,
    timeout=1000, *, host=None, connect_timeout=None, encoding=None,
    max_key_size=512, max_value_size=None, max_request_size=4194304,
    max_reply_size=67108864, strict_ttl=True, retry_reads=True,
    connect_retries=2, connect_backoff=50, empty_when_no_match=False,
    serializer=None)``: the options of ``Client``, with the same meaning and
    checks (``serializer`` included: see ``pygibson.serializers``). ``timeout`` (ms, None for no limit) bounds
    the wait for each reply; when it passes the connection is closed (the
    late reply could otherwise be taken for the next request's) and the
    other requests on it fail with ``ConnectionError``, reads being retried
    once on a new connection. The connection opens at the first request (or
    ``connect()``); ``aclose()`` closes it and the next request reopens it.
    """

    # AsyncClient[str] in annotations evaluated at run time: the stubs make it
    # generic in what values come back as (bytes, or str with an encoding).
    __class_getitem__ = classmethod(GenericAlias)

    def __init__(self, addr="127.0.0.1", port=10128, unix_socket=None, timeout=1000, *,
                 host=None, connect_timeout=None, encoding=None, max_key_size=512,
                 max_value_size=None, max_request_size=4194304, max_reply_size=67108864,
                 strict_ttl=True, retry_reads=True, connect_retries=2, connect_backoff=50,
                 empty_when_no_match=False, serializer=None):
        given = {"host": host} if host is not None else {"addr": addr}
        if connect_timeout is not None:
            # Left out otherwise: Client's own default is the timeout.
            given["connect_timeout"] = connect_timeout
        if host is not None and addr != "127.0.0.1":
            raise TypeError("AsyncClient() takes addr or its alias host, not both")
        # An unconnected Client checks every option, with Client's words, and
        # later checks requests against non-default limits (_async_encode).
        validator = Client(
            port=port, unix_socket=unix_socket, timeout=timeout, encoding=encoding, max_key_size=max_key_size,
            max_value_size=max_value_size, max_request_size=max_request_size,
            max_reply_size=max_reply_size, strict_ttl=strict_ttl, retry_reads=retry_reads,
            connect_retries=connect_retries, connect_backoff=connect_backoff,
            empty_when_no_match=empty_when_no_match, **given)
        self._validator = validator
        # Not the validator's: its pipeline checks values already dumped.
        self._serializing = serializing_for(serializer, validator.encoding)
        self._encode = make_encoder(
            validator, (max_key_size, max_value_size, max_request_size, bool(strict_ttl)))
        self._encoding = validator.encoding
        self._max_reply_size = max_reply_size
        self._retry_reads = bool(retry_reads)
        self._connect_retries = connect_retries
        self._connect_backoff = connect_backoff / 1000.0
        self._conn = None
        self._opening = None

    # -- options ------------------------------------------------------------

    @property
    def addr(self):
        """The TCP host."""
        return self._validator.addr

    host = addr

    @property
    def port(self):
        return self._validator.port

    @property
    def unix_socket(self):
        return self._validator.unix_socket

    @property
    def timeout(self):
        """The reply deadline in ms, or None."""
        return self._validator.timeout

    @property
    def connect_timeout(self):
        return self._validator.connect_timeout

    @property
    def encoding(self):
        return self._encoding

    @property
    def serializer(self):
        """The serializer values go through (see pygibson.serializers), or None."""
        serializing = self._serializing
        return None if serializing is None else serializing.serializer

    @property
    def empty_when_no_match(self):
        """Whether prefix operations that match nothing return {}, [] or 0
        instead of raising NotFoundError."""
        return self._validator.empty_when_no_match

    @property
    def closed(self):
        """True while no usable connection is open."""
        conn = self._conn
        return conn is None or not conn.usable

    @property
    def in_flight(self):
        """Requests written whose replies are still due (cancelled ones
        included: their replies are still read)."""
        conn = self._conn
        return 0 if conn is None else conn.in_flight

    def __repr__(self):
        state = "closed" if self.closed else "open"
        if self.unix_socket:
            return "<AsyncClient unix_socket=%r %s>" % (self.unix_socket, state)
        return "<AsyncClient addr=%r port=%d %s>" % (self.addr, self.port, state)

    # -- the connection -----------------------------------------------------

    async def connect(self):
        """Open the connection now (requests open it when needed)."""
        await self._connection()

    async def _connection(self):
        conn = self._conn
        loop = asyncio.get_running_loop()
        if conn is not None and conn.loop is not loop:
            self._leave_loop(conn.loop, loop)
            conn = None
        if conn is not None and conn.usable:
            return conn
        opening = self._opening
        if opening is not None and opening.get_loop() is not loop:
            self._leave_loop(opening.get_loop(), loop)
            opening = None
        if opening is None:
            opening = self._opening = asyncio.ensure_future(self._open())
            opening.add_done_callback(_retrieved)
        # Shielded: a waiter cancelled here has written nothing, and the
        # others still get the connection.
        await asyncio.shield(opening)
        conn = self._conn
        if conn is not None and conn.usable:
            return conn
        # Closed as soon as it opened (a server at max_clients): nothing was
        # sent on it.
        raise ConnectionError(str(conn.error) if conn is not None else
                              "the connection closed while it was being opened")

    def _leave_loop(self, old, new):
        """The client is used on another event loop than its connection's.
        A connection is bound to the loop that opened it: if that loop is
        closed (one asyncio.run() after another, or a test framework's
        loop per test), the connection is dropped and a new one opens on
        this loop; if it still runs (another thread), using it from here
        would mix the loops' callbacks, so that is refused."""
        if not old.is_closed():
            raise RuntimeError(
                "this AsyncClient's connection belongs to another event loop that is still "
                "running; an AsyncClient serves one loop at a time: make one client per "
                "loop (or thread), or aclose() it on its own loop first")
        conn, self._conn = self._conn, None
        self._opening = None
        if conn is not None:
            conn.abandon("the connection was dropped%s because its event loop was closed; "
                         "the server may have executed this request%s")

    async def _open(self):
        try:
            timeout = self.timeout
            connect_timeout = self.connect_timeout
            conn = await connect(
                asyncio.get_running_loop(),
                Reader(self._encoding, max_reply_size=self._max_reply_size,
                       empty_when_no_match=self._validator.empty_when_no_match),
                self.addr, self.port, self.unix_socket,
                None if timeout is None else timeout / 1000.0,
                None if connect_timeout is None else connect_timeout / 1000.0,
                self._connect_retries, self._connect_backoff)
            self._conn = conn
        finally:
            self._opening = None

    async def _call(self, op, frame, key, value_size):
        """A request when the connection must be opened first, or a read's
        second try. No retry from here: a fresh connection that fails is
        not a server restart."""
        conn = await self._connection()
        return await conn.send(op, frame, key, value_size)

    async def _quit(self, op, frame):
        conn = await self._connection()
        future = conn.send(op, frame, None, 0)
        conn.end()  # later requests go to a new connection
        result = await future
        conn.close("the connection was closed by END%s%s")
        return result

    async def aclose(self):
        """Close the connection; requests still in flight on it fail with
        ConnectionError. The next request opens a new one."""
        conn = self._conn
        if conn is not None and conn.loop is not asyncio.get_running_loop():
            self._leave_loop(conn.loop, asyncio.get_running_loop())
            return
        self._conn = None
        if conn is not None:
            conn.close("the connection was closed%s by aclose() while this request was in "
                       "flight; the server may have executed it%s")
            await conn.closed

    async def __aenter__(self):
        """Return the client, for an async with block that closes it."""
        return self

    async def __aexit__(self, *exc_info):
        """Close the connection (see aclose)."""
        await self.aclose()

    def pipeline(self):
        """An ``AsyncPipeline`` on this client's connection."""
        return AsyncPipeline(self)

    @classmethod
    def from_url(cls, url, **options):
        """``gibson://HOST:PORT?timeout=500`` or ``unix:///PATH``, as
        ``Client.from_url``."""
        return _client_extras.from_url(cls, url, **options)

    async def exists(self, key):
        """Whether ``key`` is stored and not expired, as ``Client.exists``:
        one META request; may be out of date by the time it is used."""
        return await _client_extras.aexists(self, key)


# ---- the operations, generated from the table -------------------------------

_METHOD = '''
async def {name}(self, {params}):
    """{doc}"""
    frame = self._encode({command!r}, {wire})
    conn = self._conn
    if conn is None or conn.error is not None or conn.ending \
            or conn.loop is not _running_loop():
        return await self._call({opcode}, frame, {key}, {value_size})
{body}
'''
_PLAIN = '''    return await conn.send({opcode}, frame, {key}, {value_size})'''
_RETRIED = '''    try:
        return await conn.send({opcode}, frame, {key}, {value_size})
    except ConnectionError:
        # The reused connection was dead (a server restart) or closed by a
        # timeout: a read is sent once more, on a fresh connection.
        if not self._retry_reads:
            raise
        return await self._call({opcode}, frame, {key}, {value_size})'''
# get(key, default): the same body under a try that turns NotFoundError into
# the default when one is given (no cost on the way through in 3.11+).
_GET = '''
async def get(self, key, default=_NO_DEFAULT):
    """{doc}"""
    try:
{body}
    except NotFoundError:
        if default is _NO_DEFAULT:
            raise
        return default
'''
# A client with a serializer: set/mset dump the value before encoding it;
# get/mget call the method made without this (_RAW) and load its result.
_DUMP = '''    if self._serializing is not None:
        value = self._serializing.dump(value)
'''
_LOAD_GET = '''    if self._serializing is not None:
        try:
            result = await _RAW(self, key)
        except NotFoundError:
            if default is _NO_DEFAULT:
                raise
            return default
        return self._serializing.load(result, {command_name!r}, key)
'''
_LOAD_MGET = '''    if self._serializing is not None:
        return self._serializing.load_all(await _RAW(self, prefix, limit), {command_name!r},
                                          prefix)
'''
# mget, keys and stats: a connection the server closed without answering
# may mean a reply over its max_response_size, as Client says.
_HINTED = '''
async def {name}(self, {params}):
    """{doc}"""
    try:
{body}
    except ConnectionError as error:
        _name_oversized_reply(error, _OP)
        raise
'''
_SERIALIZED = {"set": _DUMP, "mset": _DUMP, "get": _LOAD_GET, "mget": _LOAD_MGET}
_QUIT = '''
async def quit(self):
    """{doc}"""
    return await self._quit({opcode}, self._encode({command!r}))
'''


def _name_oversized_reply(error, op):
    """Add oversized_reply_hint to a ConnectionError of the server's
    closing the connection (marked ``unanswered`` by the connection)."""
    if getattr(error, "unanswered", False):
        error.unanswered = False  # said once, whatever retries it went through
        error.args = ("%s; %s" % (error, oversized_reply_hint(op)),)


#: Client.get's docstring, which says what default does.
_GET_DOC = _SyncClient.get.__doc__.split("--\n\n", 1)[-1]


def _define(op, serialized=True):
    fields = dict(
        name=op.name, params=op.signature[1:-1], doc=op.doc, opcode=op.opcode,
        command=op.command.lower().encode(),
        wire=", ".join(p.name for p in op.wire_params),
        key=op.params[0].name if op.params and op.params[0].kind == "key" else "None",
        value_size="_value_size(frame)" if op.shape == "SET" else "0")
    if op.result == "quit":
        source = _QUIT.format(**fields)
    else:
        body = (_RETRIED if op.idempotent else _PLAIN).format(**fields)
        source = _METHOD.format(body=body, **fields)
        inner = source.split('"""\n', 1)[1].rstrip("\n")
        inner = "\n".join("    " + line for line in inner.split("\n"))
        if op.result == "value":
            source = _GET.format(doc=_GET_DOC, body=inner)
        elif oversized_reply_hint(op) is not None:
            source = _HINTED.format(body=inner, **fields)
    namespace = {"ConnectionError": ConnectionError, "_value_size": _value_size,
                 "_running_loop": asyncio.get_running_loop, "NotFoundError": NotFoundError,
                 "_NO_DEFAULT": ..., "_OP": op, "_name_oversized_reply": _name_oversized_reply}
    prologue = _SERIALIZED.get(op.name) if serialized else None
    if prologue is not None:
        # After the docstring: the first line that ends with its quotes.
        head, docstring_end, rest = source.partition('"""\n')
        source = head + docstring_end + prologue.format(command_name=op.command) + rest
        if op.result in ("value", "dict"):
            namespace["_RAW"] = _define(op, serialized=False)
    exec(source, namespace)  # a real signature for each method, as Client's
    method = namespace[op.name]
    method.__qualname__ = "AsyncClient." + op.name
    method.__module__ = __name__
    return method


def _install(cls, make):
    for op in OPERATIONS:
        method = make(op)
        setattr(cls, op.name, method)
        for alias in op.aliases:
            setattr(cls, alias, method)


_install(AsyncClient, _define)

from ._async_pipeline import AsyncPipeline  # noqa: E402 - it uses AsyncClient's pieces
from ._async_pool import AsyncConnectionPool, AsyncPooledClient, PoolTimeoutError  # noqa: E402
