"""``Client`` and ``Pipeline`` in pure Python, for interpreters where the C
extension cannot run (PyPy) or is not wanted (``PYGIBSON_PURE=1``).

They behave as the extension's do, result for result and error for error:
the same options, properties and repr, the same exceptions with the same
messages, the same deadlines, retries and failure policy. The protocol is
``_protocol`` (the twin of ``protocol.c``), the sockets ``_transport`` (of
``transport.c``), the connection policy below (of ``client.c``); the
methods are made from the one operation table, ``OPERATIONS``.

The failure policy: after any transport or protocol failure the socket is
closed, so that no later reply can be taken for the answer to an earlier
request, and the next request connects again. Only idempotent reads are
sent again, once, and only when a connection that had served before turns
out to be dead.
"""

import bisect
import inspect
import os
import socket
import threading
import time
from types import GenericAlias

from . import _client_extras, _transport as transport
from ._address import client_address
from ._serializing import for_options as serializing_for
from ._convert import key_bytes, prepare, timeout_ms, type_name
from ._operations import OPERATIONS
from ._protocol import (
    _FRAME_HEAD,
    name_key_in_decode_error,
    oversized_reply_hint,
    pipeline_failure_message,
    _HEADER,
    _NUMBER_WIDTHS,
    _SPACE,
    DEFAULT_HOST,
    DEFAULT_MAX_KEY_SIZE,
    DEFAULT_MAX_REPLY_SIZE,
    DEFAULT_MAX_REQUEST_SIZE,
    DEFAULT_PORT,
    ENC_NUMBER,
    ENC_PLAIN,
    REPL_KVAL,
    REPL_VAL,
    REPLY_HEADER_SIZE,
    Limits,
    ReplyBuffer,
    Unexpected,
    _known_encoding,
    clip,
    encode_request,
    interpret,
    make_reply,
    size_option,
)
from .exceptions import (
    ArgumentError,
    ConnectionError,
    NotFoundError,
    PartialResultError,
    ProtocolError,
    PyGibsonError,
    TimeoutError,
)

__all__ = ["Client", "Pipeline"]

# fork() is an event of the whole process, so its count is process-wide too:
# one counter, bumped in every child, read on every request (a getpid() per
# request would be a system call). A global rather than a list's item: one
# bytecode to read.
_forks = 0


def _count_fork():
    global _forks
    _forks += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_count_fork)

#: Whole frames written in one pipeline step at most (a larger single frame
#: is still sent whole), and the least room offered to each pipelined read.
_PIPE_CHUNK = 256 * 1024
_PIPE_READ = 256 * 1024
#: The least asked of each receive of a reply.
_READ = 64 * 1024
#: The first receive of a request while its connection's replies are small:
#: a buffer this small comes from the interpreter's small-object allocator
#: (CPython's takes up to 512 bytes, 33 of them the bytes object's header),
#: where 64 KiB goes to malloc() (and, on PyPy, to a non-moving buffer),
#: which costs a GET of a few bytes 5 % of its CPU on CPython, 15 % on PyPy.
_SMALL_READ = 479
_SMALL_PAYLOAD = _SMALL_READ - REPLY_HEADER_SIZE
#: Replies that would have fit a small first receive before a connection
#: that met a larger one (and so took to 64 KiB first receives) goes back to
#: small first receives: a larger reply costs a receive more when it comes
#: to a small one, so that a mix of large and small replies pays it at most
#: once every this many requests.
_SMALL_RUN = 256

_UINT32_MAX = 0xFFFFFFFF
# Bound once: a method of an imported name is looked up as a module's
# attribute would be, unspecialised and bound anew on every call.
_pack_frame_head = _FRAME_HEAD.pack
_unpack_reply_head = _HEADER.unpack_from
_IO_CHUNK = transport.IO_CHUNK
_SEND_FLAGS = transport.SEND_FLAGS
_monotonic = time.monotonic

_CLASSES = {transport.TIMEOUT: TimeoutError, transport.PROTOCOL: ProtocolError}
#: How long close() waits for a call it cancelled to let go of the lock.
_CLOSE_WAIT = 0.02
#: What a call ended by close() says (gb_error_text for GB_ERR_CANCELLED).
_CANCELLED = ("the client was closed (close() from another thread or a signal handler) "
              "while this call was under way; the next call reconnects")
#: A connection idle this long (seconds) is peeked at before reuse.
_IDLE_PEEK = 0.001
_PEEK_FLAGS = socket.MSG_PEEK | socket.MSG_DONTWAIT
_UNSET = object()


def _public(failure, message=None):
    """The exception for a Failure (``raise_gb_error``)."""
    cls = _CLASSES.get(failure.status, ConnectionError)
    error = cls(clip(message if message is not None else failure.message) or failure.status)
    if cls is not ProtocolError:
        error.request_sent = bool(failure.request_sent)
    return error


def _refuse_reentry():
    """A signal handler called the client whose call it interrupted, which
    holds the lock (client_wait_for_lock)."""
    raise RuntimeError("this Client is busy with the call that the running signal handler "
                       "interrupted; a handler may close() it, or use another client")


def _call_error(failure, op):
    """_public for a failed call of ``op`` (``raise_call_error``), naming an
    oversized reply as a likely cause where the server closed the
    connection after MGET, KEYS or STATS (oversized_reply_hint)."""
    hint = None
    if failure.status == transport.CLOSED and failure.request_sent:
        hint = oversized_reply_hint(op)
    error = _public(failure)
    if hint is not None:
        # Not clipped: the library's 255 bytes are the part before this.
        error.args = ("%s; %s" % (error, hint),)
    return error


class _Connection:
    """One connection: a socket, the bytes received on it, and what it was
    configured with (the twin of ``gb_client``)."""

    __slots__ = ("sock", "host", "port", "unix_path", "timeout_ms", "connect_timeout_ms",
                 "may_block", "limits", "key_room", "replies", "read_cap", "small_run",
                 "last_request", "cancelled")

    def __init__(self, host, port, unix_path, timeout, connect_timeout, limits,
                 max_reply_size):
        self.sock = None
        self.host = host
        self.port = port
        self.unix_path = unix_path
        self.timeout_ms = timeout
        self.connect_timeout_ms = connect_timeout
        # Whether the first wait for a reply may be a blocking recv(): under
        # 100 ms the kernel's timer ticks are too coarse for SO_RCVTIMEO, so
        # short timeouts always poll (may_block_first).
        self.may_block = timeout < 0 or timeout >= 100
        self.limits = limits
        # The longest key a lone-key request (GET, DEL, ...) may carry with
        # no check but for emptiness and spaces: within max_key_size (0: not
        # checked) and a frame within max_request_size (0: not checked).
        self.key_room = min(limits.max_key_size or _UINT32_MAX,
                            (limits.max_request_size or _UINT32_MAX) - 2)
        self.replies = ReplyBuffer(max_reply_size)
        # The first receive of a request: small while replies are (see
        # _SMALL_READ), and how many small replies came in a row while not.
        self.read_cap = _SMALL_READ
        self.small_run = 0
        # When the last request began (monotonic seconds): a connection idle
        # since for a millisecond or more is looked at before it is reused
        # (stray), as the library does; 0.0 after a pipeline, so that the
        # next request always looks.
        self.last_request = 0.0
        # close() ended the call under way (cancel): its failure says so.
        self.cancelled = False

    def cancel(self):
        """End the call under way from outside it, without its lock: the
        socket is shut down, so that its wait ends at once (as
        gb_client_cancel); the call then closes the connection."""
        self.cancelled = True
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone: the call fails all the same

    def stray(self):
        """Whether the idle connection holds bytes nobody asked for, or the
        server closed it (EOF, reset): it must not be reused, or a request
        would get a reply that is not its own (gb_client's peek)."""
        try:
            return self.sock.recv(1, _PEEK_FLAGS) is not None
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True

    @property
    def connected(self):
        return self.sock is not None

    def connect(self):
        if self.sock is not None:
            return
        # A new connection starts from a clean byte stream.
        self.replies.reset()
        self.cancelled = False
        # SO_RCVTIMEO runs on the kernel's timer wheel, which rounds it up by
        # as much as an eighth: 7/8 of the request timeout ends before the
        # deadline, and poll(), which is precise, waits out the rest.
        timeout = self.timeout_ms
        io_timeout = -1 if timeout < 0 else timeout - timeout // 8
        if self.unix_path is not None:
            self.sock = transport.connect_unix(self.unix_path, self.connect_timeout_ms,
                                               io_timeout)
        else:
            self.sock = transport.connect_tcp(self.host, self.port, self.connect_timeout_ms,
                                              io_timeout)

    def close(self):
        sock, self.sock = self.sock, None
        if sock is not None:
            transport.close(sock)
        self.replies.reset()

    def abandon(self):
        sock, self.sock = self.sock, None
        if sock is not None:
            transport.abandon(sock)
        self.replies.reset()

    def peer(self):
        """The server, named in a transport error, which the transport
        cannot do."""
        if self.unix_path is not None:
            return " (unix socket %s)" % os.fsdecode(self.unix_path)
        return " (%s:%d)" % (self.host, self.port)

    def broken(self, failure):
        """A connection that failed is never used again."""
        self.close()
        failure.message = clip(failure.message + self.peer())
        return failure

    def receive(self, sock, deadline):
        """The rest of the reply whose first bytes are buffered, read until
        complete, as (code, encoding, payload); each read tries at once, as
        the rest of a reply that has begun to arrive is usually there. A
        large payload still mostly in the socket is received straight into
        a buffer of its size."""
        replies = self.replies
        head = replies.head()
        while head is None:
            replies.feed(transport.recv_some(sock, _READ, deadline, False))
            head = replies.head()
        code, encoding, size, complete = head
        if not complete and size - replies.buffered > _READ:
            payload, done = replies.take_started(size)
            with memoryview(payload) as view:
                while done < size:
                    with view[done:] as rest:
                        done += transport.recv_into_some(sock, rest, deadline, False)
            return code, encoding, bytes(payload)
        while True:
            reply = replies.next()
            if reply is not None:
                return reply.code, reply.encoding, reply.data
            replies.feed(transport.recv_some(sock, _READ, deadline, False))

    def pipeline_begin(self):
        # As a single request does: nothing stray may be taken for a reply.
        if self.sock is not None and (
                self.replies.buffered
                or (_monotonic() - self.last_request >= _IDLE_PEEK and self.stray())):
            self.close()
        self.connect()

    def pump(self, frames, ends, written, deadline):
        """One step of a pipeline: write whole frames (up to a chunk) and
        read what has arrived into the replies. Returns the bytes written
        so far. On failure the socket is closed but the replies kept:
        complete ones in it are still good."""
        sent = written > 0
        if self.sock is None:
            raise transport.Failure(transport.NOT_CONNECTED, "the pipeline's connection is "
                                    "closed; replies still due are lost", 0, sent)
        end = written
        if written < len(frames):
            end = _chunk_end(ends, written,
                             min(transport.send_chunk_hint(self.sock), _PIPE_CHUNK))
        try:
            with memoryview(frames) as view, view[written:end] as out:
                count, data = transport.exchange(self.sock, out, _PIPE_READ, deadline)
        except transport.Failure as failure:
            sock, self.sock = self.sock, None
            transport.close(sock)
            failure.request_sent = sent
            failure.message = clip(failure.message + self.peer())
            raise
        self.replies.feed(data)
        return written + count


def _chunk_end(ends, written, cap):
    """Where the next write stops: on a frame boundary, so that no write
    ends inside a length prefix (§8.1), taking whole frames up to ``cap``
    bytes but always at least the frame under way."""
    under_way = bisect.bisect_right(ends, written)
    last = bisect.bisect_right(ends, written + cap) - 1
    return ends[max(under_way, last)]


class Client:
    """A blocking connection to a Gibson server, opened at the first request.

    timeout is the deadline of each whole request in milliseconds (None:
    wait forever); connect_timeout defaults to timeout. unix_socket, when
    given, is used instead of addr and port. encoding decodes values to str.
    max_key_size and max_request_size mirror the server's limits, so that a
    request it would misread is refused before it is sent; max_value_size,
    if set, refuses longer values. strict_ttl refuses TTLs the server would
    wrap (outside 0..32767). retry_reads lets idempotent reads retry once on
    a fresh connection when a reused one turns out to be dead. A refused
    connect is retried connect_retries times, waiting connect_backoff ms,
    doubled each time. A prefix operation that matches nothing (or whose
    matches are all locked) raises NotFoundError, as the server answers and
    the old pygibson did; with empty_when_no_match=True it returns {}, [] or
    0 instead (count() always returns 0). serializer (one per client: Gibson
    has no flags field to say how a value was stored) stores Python
    objects: set/mset pass every value but an int through its dumps(),
    get/mget every stored value but a number through its loads(); see
    pygibson.serializers (JSON, PICKLE).
    """

    # Client[str] in annotations evaluated at run time: the stubs make it
    # generic in what values come back as (bytes, or str with an encoding).
    __class_getitem__ = classmethod(GenericAlias)

    __slots__ = ("_conn", "_lock", "_generation", "_encoding", "_retry_reads",
                 "_connect_retries", "_connect_backoff", "_empty_when_no_match",
                 "_serializing", "_busy", "__weakref__")

    def __new__(cls, *args, **kwargs):
        self = super().__new__(cls)
        self._conn = None
        self._lock = None
        self._encoding = None
        self._serializing = None
        # Whether a call holds the lock. The lock is reentrant so that the
        # one thread that can find it taken by itself, a signal handler's
        # inside the call it interrupted, gets in and sees this flag set
        # (instead of waiting for itself: client_wait_for_lock).
        self._busy = False
        # No fork count: until __init__ sets it, every call goes through
        # _acquire(), which refuses an uninitialised client.
        self._generation = -1
        return self

    def __init__(self, addr=_UNSET, port=DEFAULT_PORT, unix_socket=None, timeout=1000, *,
                 host=_UNSET, connect_timeout=_UNSET, encoding=None,
                 max_key_size=DEFAULT_MAX_KEY_SIZE, max_value_size=None,
                 max_request_size=DEFAULT_MAX_REQUEST_SIZE,
                 max_reply_size=DEFAULT_MAX_REPLY_SIZE, strict_ttl=True, retry_reads=True,
                 connect_retries=2, connect_backoff=50, empty_when_no_match=False,
                 serializer=None):
        # Checked in the extension's order, so that the first bad option is
        # the one reported.
        connect_retries, connect_backoff = _c_int(connect_retries), _c_int(connect_backoff)
        strict_ttl, retry_reads = bool(strict_ttl), bool(retry_reads)
        if addr is not _UNSET and host is not _UNSET:
            raise TypeError("Client() takes addr or its alias host, not both")
        if addr is _UNSET:
            addr = None if host is _UNSET else host
        if not (0 <= connect_retries <= 100 and 0 <= connect_backoff <= 60000):
            raise ArgumentError("connect_retries must be 0..100 and connect_backoff 0..60000 ms")
        if addr is not None and not isinstance(addr, str):
            raise TypeError("addr must be a str, not %.100s" % type_name(type(addr)))
        # Checked here rather than as the other ints, so that the error
        # names the argument.
        if isinstance(port, bool) or not isinstance(port, int):
            raise TypeError("port must be an int between 1 and 65535, not %.100s"
                            % type_name(type(port)))
        if not 1 <= port <= 65535:
            raise ArgumentError("port must be between 1 and 65535, not %r" % port)
        port = int(port)
        if addr and unix_socket is None and ("/" in addr or ":" in addr or "[" in addr):
            # "host:port", "[v6]:port" or a unix socket path (the extension
            # calls the same parser for such an addr).
            host, addr_port, unix_socket = client_address(addr, port != DEFAULT_PORT)
            addr = addr if host is None else host
            if addr_port is not None:
                port = addr_port
        unix_path = None if unix_socket is None else _unix_path(unix_socket)
        timeout = timeout_ms(timeout, "timeout")
        connect_timeout = (timeout if connect_timeout is _UNSET
                           else timeout_ms(connect_timeout, "connect_timeout"))
        limits = Limits(size_option(max_key_size, "max_key_size"),
                        size_option(max_request_size, "max_request_size"),
                        size_option(max_value_size, "max_value_size", none_ok=True),
                        strict_ttl)
        # Limits' own order is not the extension's: max_value_size comes
        # before max_request_size there.
        max_reply_size = size_option(max_reply_size, "max_reply_size")
        encoding = _known_encoding(encoding)
        serializing = serializing_for(serializer, encoding)
        if self._lock is None:
            self._lock = threading.RLock()
        if self._conn is not None:
            self._conn.close()
        self._conn = _Connection(DEFAULT_HOST if addr is None else addr, port, unix_path,
                                 timeout, connect_timeout, limits, max_reply_size)
        self._generation = _forks
        self._retry_reads = retry_reads
        self._connect_retries = connect_retries
        self._connect_backoff = connect_backoff
        self._encoding = encoding
        self._empty_when_no_match = bool(empty_when_no_match)
        self._serializing = serializing

    # ---- the lock, forks and connecting --------------------------------------

    def _acquire(self):
        """Take the lock and return the connection, made this process's:
        after fork() the child drops the inherited socket (and a lock that
        a vanished parent thread may hold) and reconnects."""
        conn = self._conn
        if conn is None or self._lock is None:
            raise RuntimeError("Client.__init__() was not called")
        if self._generation != _forks:
            if self._lock.acquire(False):
                self._lock.release()
            else:
                self._lock = threading.RLock()
            conn.abandon()
            self._generation = _forks
        lock = self._lock
        lock.acquire()
        if self._busy:
            lock.release()
            _refuse_reentry()
        self._busy = True
        return conn

    def _release(self):
        self._busy = False
        self._lock.release()

    def _ensure_connected(self, conn):
        """Connect if not connected, retrying a refused connect with backoff
        (nothing was sent, so even writes may retry)."""
        backoff = self._connect_backoff
        retries = self._connect_retries
        while not conn.connected:
            try:
                conn.connect()
                return
            except transport.Failure as failure:
                if failure.status != transport.CONNECT or retries <= 0:
                    raise _public(failure) from None
            time.sleep(backoff / 1000.0)
            retries -= 1
            backoff = backoff if backoff > 1000000 else backoff * 2

    # ---- connection management -----------------------------------------------

    def connect(self):
        """Connect now instead of at the first request."""
        conn = self._acquire()
        try:
            self._ensure_connected(conn)
        finally:
            self._release()

    def close(self):
        """Close the connection; the next call reconnects. A call under way
        in another thread (or interrupted by the signal handler calling
        close()) ends at once with ConnectionError."""
        conn = self._conn
        if conn is None:
            return
        lock = self._lock
        if self._generation != _forks:
            conn = self._acquire()  # a forked child: sets the lock and socket right
        else:
            if not lock.acquire(False):
                # Another thread's call holds the connection: end it now
                # (client_cancel_call), then wait a moment for the lock so
                # that the connection is closed here.
                conn.cancel()
                if not lock.acquire(True, _CLOSE_WAIT):
                    return
            elif self._busy:
                # A signal handler inside this thread's own call: end that
                # call; it closes the connection as it fails.
                lock.release()
                conn.cancel()
                return
            self._busy = True
        conn.close()
        self._release()

    def pipeline(self):
        """A Pipeline that sends queued operations on this client's connection."""
        return Pipeline(self)

    def __enter__(self):
        """Return the client, for a with block."""
        return self

    def __exit__(self, *exc_info):
        """Close the connection."""
        self.close()

    def __del__(self):
        conn = getattr(self, "_conn", None)
        if conn is None or conn.sock is None:
            return
        try:
            # In a forked child the socket is the parent's too: leave it open.
            if self._generation != _forks:
                conn.abandon()
            else:
                conn.close()
        except Exception:  # at interpreter exit, modules may be gone
            pass

    # ---- properties ------------------------------------------------------------

    def _inherited(self):
        return self._generation != _forks

    @property
    def closed(self):
        """True while no connection is open."""
        conn = self._conn
        return conn is None or conn.sock is None or self._inherited()

    @property
    def addr(self):
        """The TCP host."""
        return None if self._conn is None else self._conn.host

    host = property(addr.fget, doc="The TCP host (alias of addr).")

    @property
    def port(self):
        """The TCP port."""
        return 0 if self._conn is None else self._conn.port

    @property
    def unix_socket(self):
        """The unix socket path, or None."""
        conn = self._conn
        return None if conn is None or conn.unix_path is None else os.fsdecode(conn.unix_path)

    @property
    def timeout(self):
        """Request deadline in ms, or None."""
        ms = -1 if self._conn is None else self._conn.timeout_ms
        return None if ms < 0 else ms

    @property
    def connect_timeout(self):
        """Connect deadline in ms."""
        ms = -1 if self._conn is None else self._conn.connect_timeout_ms
        return None if ms < 0 else ms

    @property
    def encoding(self):
        """The encoding values are decoded with."""
        return self._encoding

    @property
    def serializer(self):
        """The serializer values go through (see pygibson.serializers), or None."""
        return None if self._serializing is None else self._serializing.serializer

    @property
    def empty_when_no_match(self):
        """Whether prefix operations that match nothing return {}, [] or 0
        instead of raising NotFoundError."""
        return self._empty_when_no_match

    def __repr__(self):
        name = _repr_name(self, Client)
        conn = self._conn
        if conn is None:
            return "<%s (not initialised)>" % name
        state = "not connected" if self.closed else "connected"
        if conn.unix_path is not None:
            return "<%s unix_socket='%s' %s>" % (name, os.fsdecode(conn.unix_path), state)
        return "<%s addr='%s' port=%d %s>" % (name, conn.host, conn.port, state)


def _c_int(obj):
    """An int option as the extension's argument parser takes it ("i")."""
    if isinstance(obj, float):
        raise TypeError("'float' object cannot be interpreted as an integer")
    value = obj.__index__() if hasattr(type(obj), "__index__") else None
    if value is None:
        raise TypeError("'%.200s' object cannot be interpreted as an integer"
                        % type_name(type(obj)))
    if value > 2147483647:
        raise OverflowError("signed integer is greater than maximum")
    if value < -2147483648:
        raise OverflowError("signed integer is less than minimum")
    return value


def _unix_path(obj):
    path = os.fspath(obj)
    if isinstance(path, str):
        path = os.fsencode(path)
    if b"\0" in path:
        raise ArgumentError("unix_socket must not contain a NUL byte")
    return path


def _repr_name(obj, base):
    # The extension's types are named "pygibson.Client"; a subclass made in
    # Python goes by its bare name.
    cls = type(obj)
    return "pygibson." + base.__name__ if cls is base else type_name(cls)


class Pipeline:
    """Queues operations (the Client's methods, each returning the pipeline)
    and sends them together with execute(). Usually made by
    Client.pipeline().

    Each operation is checked and encoded when it is queued, so a bad
    argument raises at once and nothing of it is ever sent. execute()
    writes and reads together under one poll loop: the server stops reading
    while it writes a reply, so writing everything first would deadlock
    once both socket buffers filled (§8.1).
    """

    # Pipeline[str] in annotations evaluated at run time: the stubs make it
    # generic in what values come back as (bytes, or str with an encoding).
    __class_getitem__ = classmethod(GenericAlias)

    __slots__ = ("_client", "_frames", "_queue", "__weakref__")

    def __init__(self, client):
        if not isinstance(client, Client):
            raise TypeError("Pipeline() argument 1 must be pygibson.Client, not %.100s"
                            % type_name(type(client)))
        self._client = client
        self._frames = []
        self._queue = []  # (operation, key, value length) per frame

    def _add(self, op, parts):
        key, value, number = parts
        conn = self._client._conn
        if conn is None:
            raise RuntimeError("Client.__init__() was not called")
        self._frames.append(encode_request(op, key, value, number, conn.limits))
        self._queue.append((op, key, len(value) if value else 0))
        return self

    @property
    def client(self):
        """The client whose connection is used."""
        return self._client

    def __len__(self):
        return len(self._queue)

    def __bool__(self):
        # True even when empty, unlike what __len__ alone would make it.
        return True

    def reset(self):
        """Forget the queued operations."""
        self._frames = []
        self._queue = []

    def __enter__(self):
        """Return the pipeline, for a with block."""
        return self

    def __exit__(self, *exc_info):
        """Forget the operations not executed."""
        self.reset()

    def __repr__(self):
        return "<%s of %d operations on %r>" % (_repr_name(self, Pipeline), len(self._queue),
                                                self._client)

    def execute(self, *args, **kwargs):
        """Send the queued operations and return their results in order.
        With raise_on_error=False a refused operation's exception stands in
        its place."""
        if len(args) + len(kwargs) > 1 or (kwargs and "raise_on_error" not in kwargs):
            raise TypeError("execute() takes one argument, raise_on_error")
        raise_on_error = bool(args[0] if args else kwargs.get("raise_on_error", True))
        frames, queue = self._frames, self._queue
        self.reset()
        results = [None] * len(queue)
        if queue:
            client = self._client
            conn = client._acquire()
            try:
                _exchange(client, conn, frames, queue, results)
            finally:
                client._release()
            if client._serializing is not None:
                _load_values(client._serializing, queue, results)
        if raise_on_error:
            for result in results:
                if isinstance(result, BaseException):
                    # Nothing is lost: the other results ride on the exception.
                    result.results = results
                    raise result
        return results


def _pipeline_failure(failure, ends, count, written, received, queue=None):
    """The exception for a pipeline that broke: what happened, and how far
    it got (``.sent`` whole frames written, ``.received`` replies). The
    server closing the connection where an MGET, KEYS or STATS reply was
    due gets oversized_reply_hint, as a single call does."""
    sent = bisect.bisect_right(ends, written)
    hung_up = failure.status == transport.CLOSED and queue is not None and received < sent
    error = _public(failure)
    # The library's message clipped as its buffer keeps it, what follows not.
    error.args = (pipeline_failure_message(error, count, sent, received,
                                           queue[received][0] if hung_up else None),)
    error.sent = sent
    error.received = received
    return error


def _exchange(client, conn, frames, queue, results):
    """Send the frames and fill ``results``, with the client's lock held."""
    try:
        client._ensure_connected(conn)
    except PyGibsonError as error:
        error.sent = error.received = 0  # nothing was sent
        raise
    ends = []
    total = 0
    for frame in frames:
        total += len(frame)
        ends.append(total)
    count = len(queue)
    try:
        conn.pipeline_begin()
    except transport.Failure as failure:
        raise _pipeline_failure(failure, ends, count, 0, 0) from None
    data = b"".join(frames)
    written = received = 0
    close_after = False
    try:
        while received < count:
            # The deadline bounds a wait with no progress, not the whole
            # batch: a large pipeline may rightly take longer than one request.
            deadline = transport.deadline_after(conn.timeout_ms)
            try:
                written = conn.pump(data, ends, written, deadline)
            except transport.Failure as failure:
                if conn.cancelled:  # close() ended it: say so, as the library does
                    failure.message = _CANCELLED
                raise _pipeline_failure(failure, ends, count, written, received,
                                        queue) from None
            received, close_after = _take_replies(client, conn, queue, results, received,
                                                  close_after, ends, written)
    except BaseException:
        # Whatever stopped it, replies are still due on this connection.
        conn.close()
        raise
    # A reply sent after the pipeline's last one cannot be told from a late
    # part of it: the next request looks first, however soon it comes.
    conn.last_request = 0.0
    if close_after:
        conn.close()


def _take_replies(client, conn, queue, results, received, close_after, ends, written):
    """Every complete reply buffered, into its result's place; also
    whether the connection is to be closed once all are in (after END, or
    a garbled key-value set)."""
    replies = conn.replies
    encoding = client._encoding
    empty = client._empty_when_no_match
    count = len(queue)
    while received < count:
        try:
            reply = replies.next()
        except ProtocolError as error:
            failure = transport.Failure(transport.PROTOCOL, str(error))
            raise _pipeline_failure(failure, ends, count, written, received) from None
        if reply is None:
            break
        op, key, value_len = queue[received]
        try:
            result = interpret(op, reply, key, value_len, encoding, empty)
        except Unexpected as error:
            raise ProtocolError("%s; the connection was closed" % error) from None
        except MemoryError:
            raise
        except Exception as error:
            # A value the encoding cannot decode, say: the server did run
            # that operation, and the others' results must not be lost.
            result = error
            # A garbled key-value set kept the framing, but a server that
            # sends one is not trusted with the next request: the
            # connection is closed at the end, as after END.
            close_after = close_after or isinstance(error, ProtocolError)
        results[received] = result
        received += 1
        close_after = close_after or op.result == "quit"
    return received, close_after


# ---- The methods, from the operation table ------------------------------------


def _signature(op, first):
    # The object itself is positional-only, as the extension's "$self" in
    # operations.def makes it: both show "(self, /, key, ...)".
    params = [inspect.Parameter(first, inspect.Parameter.POSITIONAL_ONLY)]
    for param in op.params:
        default = inspect.Parameter.empty if param.required else param.default
        params.append(inspect.Parameter(param.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=default))
    return inspect.Signature(params)


def _lone_key(op):
    """Whether a call with one positional argument gives op just a key
    (get, inc, mget without a limit, ...): such calls skip the binding."""
    return sum(p.required for p in op.params) == 1 and op.params[0].kind == "key"


def _parts_maker(op):
    """A function from a call's arguments to the request's (key, value,
    number), with the quick path for the commonest call, get(key)."""
    if not _lone_key(op):
        return lambda args, kwargs: prepare(op, args, kwargs)
    name = op.params[0].name

    def parts(args, kwargs):
        if len(args) == 1 and not kwargs:
            return key_bytes(args[0], name), None, None
        return prepare(op, args, kwargs)
    return parts


def _get_or_default(client, get, args, kwargs):
    """get(key, default): the default for a missing or expired key, the
    value otherwise (``client_get_or_default``); a plain get(key) never
    comes here."""
    if len(args) > 2:
        raise TypeError("get() takes at most 2 arguments (%d given)" % len(args))
    slots = {"key": args[0]} if args else {}
    if len(args) == 2:
        slots["default"] = args[1]
    for name, obj in kwargs.items():
        if name not in ("key", "default"):
            raise TypeError("get() got an unexpected keyword argument '%s'" % name)
        if name in slots:
            raise TypeError("get() got multiple values for argument '%s'" % name)
        slots[name] = obj
    if "key" not in slots:
        raise TypeError("get() missing required argument 'key'")
    if "default" not in slots:
        return get(client, slots["key"])
    try:
        return get(client, slots["key"])
    except NotFoundError:
        return slots["default"]


def _serialized(client, op, raw, args, kwargs):
    """A call of set, mset, get or mget through the client's serializer
    (``client_call_serialized``); ``raw`` is the method without it."""
    serializing = client._serializing
    if op.result == "value":  # get
        if len(args) > 1 or kwargs:
            return _get_or_default(
                client, lambda c, key: _serialized(c, op, raw, (key,), {}), args, kwargs)
        return serializing.load(raw(client, *args), op.command, args[0] if args else None)
    if op.result == "dict":  # mget
        result = raw(client, *args, **kwargs)
        return serializing.load_all(result, op.command,
                                    args[0] if args else kwargs.get(op.params[0].name))
    args, kwargs = _dumped(serializing, op, args, kwargs)
    return raw(client, *args, **kwargs)


def _dumped(serializing, op, args, kwargs):
    """set/mset's arguments with the value, at position 1 or named, as the
    serializer's dump() makes it (client_dump_value); with too many
    arguments or none, left for the binding to refuse."""
    if len(args) + len(kwargs) <= len(op.params):
        if len(args) >= 2:
            args = (args[0], serializing.dump(args[1])) + args[2:]
        elif "value" in kwargs:
            kwargs = dict(kwargs, value=serializing.dump(kwargs["value"]))
    return args, kwargs


def _load_values(serializing, queue, results):
    """A pipeline's get and mget results through the client's serializer
    (pipeline_load_values): one that does not load stands in its place."""
    for index, (op, key, _) in enumerate(queue):
        result = results[index]
        if op.name not in ("get", "mget") or isinstance(result, BaseException):
            continue
        try:
            results[index] = (serializing.load if op.name == "get" else serializing.load_all)(
                result, op.command, key)
        except MemoryError:
            raise
        except Exception as error:
            results[index] = error


#: The operations a client's serializer applies to (op_serialized).
_SERIALIZED = ("set", "mset", "get", "mget")


def _client_method(op, serialized=None):
    """The Client method for op: the whole request, from the call's
    arguments to its result.

    It is one function, with what it needs of op taken out beforehand,
    rather than method, request, round trip and exchange calling each
    other as in the library: on a small request each Python call saved is
    a good part of the cost (the extension spends about 2,500 instructions
    on a GET, a Python call several hundred)."""
    lone = _lone_key(op)
    name = op.params[0].name if lone else None
    # A lone key's frame is packed here, after encode_request's checks.
    packs_key = op.shape == "KEY"
    opcode = op.opcode
    idempotent = op.idempotent
    is_value = op.result == "value"
    is_end = op.result == "quit"
    # set, mset, get and mget look for a serializer first (one attribute
    # test); _serialized calls the same method made without the test.
    raw = _client_method(op, False) if serialized is None and op.name in _SERIALIZED \
        else None

    def method(self, *args, **kwargs):
        if raw is not None and self._serializing is not None:
            return _serialized(self, op, raw, args, kwargs)
        value = number = None
        if lone and len(args) == 1 and not kwargs:
            # The commonest call, get(key), skips the binding.
            key = args[0]
            if type(key) is not bytes:
                key = key_bytes(key, name)
        else:
            if is_value and (len(args) > 1 or kwargs):
                return _get_or_default(self, method, args, kwargs)
            key, value, number = prepare(op, args, kwargs)
        conn = self._conn
        lock = self._lock
        # Set (to the fork count) only once __init__ has made both.
        if self._generation != _forks:
            conn = self._acquire()
            lock = self._lock
        else:
            lock.acquire()
            if self._busy:
                # Reentered: a signal handler inside the call it interrupted.
                lock.release()
                _refuse_reentry()
            self._busy = True
        try:
            # Encoded (and so checked) before connecting: a bad argument is
            # said as such, not as a refused connect.
            if packs_key and key and _SPACE not in key:
                size = len(key)
                frame = (_pack_frame_head(size + 2, opcode) + key if size <= conn.key_room
                         else encode_request(op, key, value, number, conn.limits))
            else:
                frame = encode_request(op, key, value, number, conn.limits)
            reused = conn.sock is not None
            if not reused:
                self._ensure_connected(conn)
            partial_retried = False
            while True:  # once more after a short key-value set (below)
                while True:
                    replies = conn.replies
                    now = _monotonic()
                    # Bytes nobody asked for mean the stream is out of step:
                    # start over (replies.buffered, without a property's cost);
                    # the same for bytes (or an EOF) waiting on a connection idle
                    # for a millisecond or more, or first used after a pipeline.
                    if len(replies._buf) != replies._pos or (
                            now - conn.last_request >= _IDLE_PEEK and conn.sock is not None
                            and conn.stray()):
                        conn.close()
                        try:
                            conn.connect()
                        except transport.Failure as failure:
                            raise _public(failure) from None
                    sock = conn.sock
                    conn.last_request = now
                    timeout = conn.timeout_ms
                    deadline = None if timeout < 0 else now * 1000.0 + timeout
                    # The exchange, as the library makes it: one send() that
                    # takes the whole frame, one recv() that sleeps in the kernel
                    # until the reply comes (gb_socket_recv_blocking), and a
                    # reply that came whole cut from what came, not buffered.
                    # count == size once the whole frame is sent.
                    count = 0
                    size = len(frame)
                    try:
                        if size <= _IO_CHUNK:
                            try:
                                count = sock.send(frame, _SEND_FLAGS)
                            except BlockingIOError:
                                pass
                            except OSError as error:
                                raise transport.io_error(error.errno,
                                                         "while sending the request") from None
                        # The first wait may sleep in recv() while SO_RCVTIMEO is
                        # sure to end before the deadline (may_block_first): with
                        # a timeout of 100 ms or more, SO_RCVTIMEO at 7/8 of it,
                        # and at most a sixteenth of it gone. A send that took the
                        # whole frame at once did not wait: the clock is read
                        # again only after one that did.
                        block = conn.may_block
                        if count != size:
                            transport.send_all(sock, frame, deadline, count)
                            count = size
                            block = block and (deadline is None or (
                                deadline - _monotonic() * 1000.0) * 16 >= timeout * 15)
                        cap = conn.read_cap
                        if block:
                            # Until bytes come or SO_RCVTIMEO runs out; then poll()
                            # waits out what is left of the deadline. (A signal
                            # whose handler returns restarts this recv() with the
                            # whole SO_RCVTIMEO (PEP 475), where the library goes
                            # on with poll(): only a server that stalls while
                            # signals keep coming sees the difference.)
                            try:
                                data = sock.recv(cap)
                            except (BlockingIOError, InterruptedError):
                                data = transport.recv_some(sock, cap, deadline)
                            except OSError as error:
                                raise transport.io_error(error.errno,
                                                         "while reading the reply") from None
                            if not data:
                                raise transport.eof_error("before its reply was complete")
                        else:
                            data = transport.recv_some(sock, cap, deadline)
                        got = len(data) - REPLY_HEADER_SIZE
                        if got >= 0:
                            code, encoding, announced = _unpack_reply_head(data)
                        # One whole reply, and a header that needs no closer look
                        # (ReplyBuffer.head): the common case.
                        if got >= 0 and announced == got and code <= REPL_KVAL and (
                                encoding == ENC_PLAIN
                                or (encoding == ENC_NUMBER and code == REPL_VAL
                                    and got in _NUMBER_WIDTHS)) \
                                and got <= replies.max_reply_size:
                            data = data[REPLY_HEADER_SIZE:]
                            if cap != _SMALL_READ and got <= _SMALL_PAYLOAD:
                                # A small reply on a connection that met a larger
                                # one: after enough of them, small first receives
                                # again.
                                conn.small_run += 1
                                if conn.small_run >= _SMALL_RUN:
                                    conn.read_cap = _SMALL_READ
                        else:
                            if got >= 0 and announced > cap - REPLY_HEADER_SIZE:
                                # A reply larger than the first receive: larger
                                # first receives for the next requests.
                                conn.read_cap = _READ
                                conn.small_run = 0
                            replies.feed(data)
                            code, encoding, data = conn.receive(sock, deadline)
                        break
                    except transport.Failure as error:
                        failure = error
                        failure.request_sent = count == size or getattr(failure, "written", 0) > 0
                    except ProtocolError as error:
                        failure = transport.Failure(transport.PROTOCOL, str(error))
                    except BaseException:
                        # A signal's exception, say: the reply is still due.
                        conn.close()
                        raise
                    # A connection that failed is never used again. A read is sent
                    # again, once, on a fresh connection when a connection that
                    # had served earlier requests is found dead (a server
                    # restart); writes never are.
                    conn.broken(failure)
                    if conn.cancelled:
                        conn.cancelled = False
                        error = ConnectionError(_CANCELLED)
                        error.request_sent = bool(failure.request_sent)
                        raise error from None
                    if not (reused and idempotent and self._retry_reads) \
                            or failure.status not in (transport.CLOSED, transport.IO):
                        raise _call_error(failure, op) from None
                    reused = False
                    self._ensure_connected(conn)
                if is_value and code == REPL_VAL and encoding == ENC_PLAIN:
                    # A value, as interpret() gives it: the common case.
                    if self._encoding is None:
                        return data
                    try:
                        return data.decode(self._encoding)
                    except UnicodeDecodeError as error:
                        name_key_in_decode_error(error, op, key)
                        raise
                if is_end:
                    # The server hangs up after END's reply: close first, so that
                    # the next call reconnects instead of failing.
                    conn.close()
                try:
                    result = interpret(op, make_reply(code, encoding, data), key,
                                       len(value) if value else 0, self._encoding,
                                       self._empty_when_no_match)
                except Unexpected as error:
                    conn.close()
                    raise ProtocolError("%s; the connection was closed" % error) from None
                except ProtocolError:
                    # A garbled key-value set did not break the framing, but a
                    # server that sends one is not to be trusted with the next.
                    conn.close()
                    raise
                except UnicodeDecodeError as error:
                    name_key_in_decode_error(error, op, key)
                    raise
                if result.__class__ is PartialResultError and idempotent \
                        and not partial_retried:
                    # Short of pairs (§3.4): the first answer freed the expired
                    # items that cut it, so the read is asked once more.
                    partial_retried = True
                    continue
                break
        finally:
            self._busy = False
            lock.release()
        if isinstance(result, BaseException):
            raise result
        return result
    return method


def _pipeline_method(op):
    parts = _parts_maker(op)
    takes_value = op.name in ("set", "mset")

    def method(self, *args, **kwargs):
        if takes_value and self._client._serializing is not None:
            args, kwargs = _dumped(self._client._serializing, op, args, kwargs)
        return self._add(op, parts(args, kwargs))
    return method


def _install(cls, make, op, name, doc, returns):
    method = make(op)
    method.__name__ = name
    method.__qualname__ = "%s.%s" % (cls.__name__, name)
    method.__doc__ = doc
    method.__signature__ = _signature(op, "self").replace(return_annotation=returns)
    method.__module__ = cls.__module__
    setattr(cls, name, method)


def _install_operations():
    # The docstrings are the extension's, made from the same table.
    for op in OPERATIONS:
        _install(Client, _client_method, op, op.name, op.doc, inspect.Signature.empty)
        _install(Pipeline, _pipeline_method, op, op.name,
                 "Queue %s (see Client.%s); returns the pipeline." % (op.command, op.name),
                 inspect.Signature.empty)
        for alias in op.aliases:
            for cls, make in ((Client, _client_method), (Pipeline, _pipeline_method)):
                _install(cls, make, op, alias, "Alias of %s." % op.name,
                         inspect.Signature.empty)
    # Client.get takes a default besides the table's key, as the extension's.
    get = Client.get
    get.__doc__ = ("The key's value: bytes, or str when the client has an encoding. A value "
                   "the server holds as a number (a counter made by inc, dec, minc or mdec) "
                   "comes back as int: int(client.get(key)) reads a counter either way. "
                   "Raises NotFoundError for a missing or expired key unless default is "
                   "given, which is then returned; ConnectionError or TimeoutError when the "
                   "server cannot be reached in time.")
    get.__signature__ = get.__signature__.replace(parameters=list(
        get.__signature__.parameters.values()) + [inspect.Parameter(
            "default", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=...)])


_install_operations()
_client_extras.install(Client)
