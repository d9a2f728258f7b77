"""One Gibson connection on an asyncio transport, with any number of
requests in flight.

Gibson answers every request, strictly in order (docs/protocol.md §8.1),
and a reply does not say which request it answers. So a connection keeps
one queue: an entry per reply still due, appended when the request's frame
is handed to the transport and popped when its reply arrives. The typed
``Reader`` keeps the same queue of operations (``expect``), so that each
reply is decoded as the request it answers wants. The two queues move
together, and nothing else ever takes an entry out of order:

- a waiter that was cancelled keeps its place; its reply is read and
  dropped when it comes, so it cannot be handed to the next request;
- when the connection cannot be trusted any more (closed by the server, a
  garbled reply, a request that timed out), it is closed, and every request
  still on it fails with ConnectionError (``request_sent=True``: the server
  may have run it); nothing read after that point is delivered.

One ``data_received`` feeds the reader and completes as many waiters as it
holds replies: no task per connection, no await per reply.
"""

import asyncio
import functools
import socket
from collections import deque

from .exceptions import ConnectionError, ProtocolError, TimeoutError

__all__ = ["Connection", "Batch", "connect"]


def _sent(error):
    error.request_sent = True
    return error


class Batch:
    """The waiter of a pipeline: one entry in the queue per operation, one
    future for the lot. Replies are collected in order, exceptions (server
    refusals, undecodable values) in the place of their results."""

    __slots__ = ("future", "results", "size", "progress")

    def __init__(self, future, size, now):
        self.future = future
        self.results = []
        self.size = size
        #: When a reply last arrived: the pipeline's timeout bounds each
        #: wait without progress, as the sync Pipeline's does.
        self.progress = now

    def add(self, reply, now):
        results = self.results
        results.append(reply)
        self.progress = now
        if len(results) == self.size and not self.future.done():
            self.future.set_result(results)

    def done(self):
        return self.future.done()

    def fail(self, error):
        if not self.future.done():
            error.received = len(self.results)
            self.future.set_exception(error)


#: Frames held back at most while woken coroutines run (see data_received).
#: 100 coroutines on one connection, GET 10 B against the embedded server:
#: with no limit, the client and the server took turns (0.44x the sync
#: pipeline's throughput on asyncio's loop, 0.56x on uvloop); with 10-50,
#: 0.69-0.78x and 1.06-1.14x, for the same client CPU per request.
_CORK_LIMIT = 32


class Connection(asyncio.Protocol):
    """A connection to a Gibson server. Make it with :func:`connect`."""

    def __init__(self, loop, reader, where, timeout):
        self.loop = loop
        self._time = loop.time
        # asyncio's own loops make a plain Future; calling the class
        # directly skips a Python-level method per request. Other loops
        # (uvloop) keep their own create_future.
        if type(loop).create_future is asyncio.BaseEventLoop.create_future:
            self._new_future = functools.partial(asyncio.Future, loop=loop)
        else:
            self._new_future = loop.create_future
        self.reader = reader
        #: " (127.0.0.1:10128)": added to messages, as the sync client does.
        self.where = where
        #: Seconds a request waits for its reply, or None.
        self.timeout = timeout
        self.transport = None
        #: An entry per reply due, in order: a Future, or a Batch (as many
        #: times as it has operations).
        self.waiters = deque()
        #: When each waiter's wait ends (only kept with a timeout).
        self.deadlines = deque()
        self._timer = None
        #: Why the connection can no longer be used; None while it can.
        self.error = None
        #: END was sent: the server hangs up after answering it.
        self.ending = False
        self.closed = loop.create_future()
        self._paused = False
        self._drained = None
        #: Frames held back while the coroutines woken by the last replies
        #: run, written together after them (see data_received); None when
        #: writes go straight to the transport.
        self._corked = None

    # -- asyncio.Protocol --------------------------------------------------

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        reader = self.reader
        reader.feed(data)
        waiters = self.waiters
        deadlines = self.deadlines
        while True:
            try:
                reply = reader.gets(False)
            except UnicodeDecodeError as error:
                # The reply was consumed: its waiter gets the error.
                reply = error
            except ProtocolError as error:
                self.abort(error)
                return
            if reply is False:
                break
            if not waiters:
                self.abort(ProtocolError(
                    "the server sent a reply no request was waiting for; the connection "
                    "was closed, since no later reply can be trusted%s" % self.where))
                return
            waiter = waiters.popleft()
            if deadlines:
                deadlines.popleft()
            if waiter.__class__ is Batch:
                waiter.add(reply, self.loop.time() if self.timeout is not None else 0.0)
            elif waiter.done():
                pass  # cancelled: its reply is read and dropped, in its turn
            elif isinstance(reply, BaseException):
                waiter.set_exception(reply)
            else:
                waiter.set_result(reply)
        if self._corked is None:
            # The coroutines just woken run next, and often send again: their
            # frames are held until all of them ran, then written in one
            # write (one system call instead of one each). The flush is
            # queued after their wake-ups, in the same loop iteration, so a
            # lone request waits no longer for it.
            self._corked = []
            self.loop.call_soon(self._uncork)

    def _uncork(self):
        frames, self._corked = self._corked, None
        if frames and self.transport is not None:
            self.transport.write(frames[0] if len(frames) == 1 else b"".join(frames))

    def _write(self, frame):
        corked = self._corked
        if corked is None:
            self.transport.write(frame)
        else:
            corked.append(frame)
            if len(corked) >= _CORK_LIMIT:
                self._write_corked()

    def _write_corked(self):
        # Enough for the server to start on while the rest of the woken
        # coroutines run: client and server then work at the same time
        # instead of taking turns.
        corked = self._corked
        self.transport.write(b"".join(corked))
        corked.clear()

    def eof_received(self):
        return False  # close the transport: Gibson never half-closes

    def connection_lost(self, exc):
        if self.error is None:
            if exc is None:
                message = ("the server closed the connection%s; it drops connections on "
                           "malformed requests, after END, when max_clients is reached, "
                           "and on restart%s")
            else:
                message = ("the server closed the connection (%s)%%s; it drops connections "
                           "on malformed requests, and may have restarted%%s"
                           % (exc.strerror or exc))
            # Without an error: the server hung up (unanswered, for the
            # clients' oversized-reply hint).
            self._fail(message, None, unanswered=exc is None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self):
        self._paused = True

    def resume_writing(self):
        self._paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- requests -----------------------------------------------------------

    def send(self, op, frame, key, value_size):
        """Write one request; the future its reply will complete."""
        # The hot path of every request: _track and _write inlined.
        self.reader.expect(op, key, value_size)
        future = self._new_future()
        self.waiters.append(future)
        timeout = self.timeout
        if timeout is not None:
            deadline = self._time() + timeout
            self.deadlines.append(deadline)
            if self._timer is None:
                self._timer = self.loop.call_at(deadline, self._check_deadlines)
        corked = self._corked
        if corked is None:
            self.transport.write(frame)
        else:
            corked.append(frame)
            if len(corked) >= _CORK_LIMIT:
                self._write_corked()
        return future

    def send_batch(self, batch, ops, frames):
        """Write part of a pipeline: ``ops`` ((operation, key, value_size)
        each) and their ``frames`` joined; ``batch`` collects the replies."""
        expect = self.reader.expect
        for op, key, value_size in ops:
            expect(op, key, value_size)
        self.waiters.extend([batch] * len(ops))
        if self.timeout is not None:
            self._track(len(ops))
        self._write(frames)

    def send_untyped(self, frame):
        """Write one request for an untyped reader (aiogibson's), which
        decodes replies by their code alone."""
        future = self.loop.create_future()
        self.waiters.append(future)
        if self.timeout is not None:
            self._track(1)
        self._write(frame)
        return future

    async def drain(self):
        """Wait while the transport's buffer is over its high-water mark
        (a pipeline writes in slices so as not to hold all of it at once)."""
        if self._paused and self.error is None:
            self._drained = self.loop.create_future()
            await self._drained

    def end(self):
        """END was sent: no later request may use this connection."""
        self.ending = True

    @property
    def usable(self):
        return self.error is None and not self.ending

    @property
    def in_flight(self):
        return len(self.waiters)

    # -- timeouts -------------------------------------------------------------

    def _track(self, count):
        deadline = self.loop.time() + self.timeout
        if count == 1:
            self.deadlines.append(deadline)
        else:
            self.deadlines.extend([deadline] * count)
        if self._timer is None:
            self._timer = self.loop.call_at(deadline, self._check_deadlines)

    def _check_deadlines(self):
        """The timer: one per connection, at the earliest deadline of a
        request still waiting (deadlines grow along the queue, so that is
        the first live entry's)."""
        self._timer = None
        deadline = None
        for waiter, deadline in zip(self.waiters, self.deadlines):
            if waiter.__class__ is Batch:
                deadline = max(deadline, waiter.progress + self.timeout)
            if not waiter.done():
                break
        else:
            return  # nobody waits: the next request arms the timer again
        if deadline > self.loop.time():
            self._timer = self.loop.call_at(deadline, self._check_deadlines)
            return
        self._time_out(waiter)

    def _time_out(self, late):
        ms = int(round(self.timeout * 1000))
        what = "the pipeline's next reply" if late.__class__ is Batch else "the reply"
        error = _sent(TimeoutError(
            "timed out after %d ms waiting for %s; the server may be overloaded or stuck "
            "(raise the timeout if it is only slow)%s" % (ms, what, self.where)))
        self._fail("the connection was closed%s because an earlier request on it timed "
                   "out, so that its late reply cannot be taken for this one's; the server "
                   "may have executed this request%s", late, error)
        self.transport.abort()

    # -- failure ---------------------------------------------------------------

    def abort(self, error):
        """Close because of ``error`` (a garbled reply): it goes to the
        first request waiting, ConnectionError to the others."""
        first = None
        for waiter in self.waiters:
            if not waiter.done():
                first = waiter
                break
        self._fail("the connection was closed%s after a garbled reply to an earlier "
                   "request; the server may have executed this request%s", first, error)
        if self.transport is not None:
            self.transport.abort()

    def close(self, reason):
        """Close on the client's request; requests in flight fail with a
        ConnectionError built from ``reason`` (a message with two %s)."""
        if self.error is None:
            self._fail(reason, None)
        if self.transport is not None:
            self.transport.close()

    def abandon(self, reason):
        """Give up a connection whose event loop is closed: its transport
        cannot be closed through that loop, so the socket is shut down
        (the server sees it close; the descriptor goes with the transport)."""
        if self.error is None:
            try:
                self._fail(reason, None)
            except RuntimeError:
                pass  # a waiter's callback needed the closed loop: nobody awaits it
        transport, self.transport = self.transport, None
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone

    def _fail(self, message, first, first_error=None, unanswered=False):
        """Mark the connection unusable and fail every waiter: ``first``
        with ``first_error``, the others with a ConnectionError of
        ``message`` (its two %s: where it was, and the server's address).
        ``unanswered``: the server closed the connection (its errors say so
        in an ``unanswered`` attribute)."""
        waiters = self.waiters
        self.error = first_error or _sent(ConnectionError(
            message % ("", self.where)))
        self.waiters = deque()
        self.deadlines = deque()
        self.reader.reset()
        seen = set()
        for waiter in waiters:
            if waiter.done() or id(waiter) in seen:
                continue
            if waiter is first and first_error is not None:
                error = first_error
            else:
                error = _sent(ConnectionError(message % ("", self.where)))
                if unanswered:
                    error.unanswered = True
            if waiter.__class__ is Batch:
                seen.add(id(waiter))
                waiter.fail(error)
            else:
                waiter.set_exception(error)


def _where(host, port, unix_socket):
    if unix_socket is not None:
        return "unix socket %s" % unix_socket
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


async def connect(loop, reader, host, port, unix_socket, timeout, connect_timeout,
                  retries, backoff):
    """A new Connection; ConnectionError or TimeoutError (``request_sent``
    False) naming the address when it cannot be made. A refused connect is
    tried again ``retries`` times, ``backoff`` seconds later, doubling."""
    where = _where(host, port, unix_socket)
    conn = Connection(loop, reader, " (%s)" % where, timeout)
    attempt = 0
    while True:
        if unix_socket is not None:
            opening = loop.create_unix_connection(lambda: conn, unix_socket)
        else:
            opening = loop.create_connection(lambda: conn, host, port)
        try:
            await asyncio.wait_for(opening, connect_timeout)
            return conn
        except asyncio.TimeoutError:
            raise TimeoutError(
                "could not connect to %s within %d ms; is the Gibson server running and "
                "reachable?" % (where, int(round(connect_timeout * 1000)))) from None
        except OSError as error:
            refused = isinstance(error, (ConnectionRefusedError, FileNotFoundError))
            if not refused or attempt >= retries:
                raise ConnectionError(
                    "could not connect to %s: %s; is the Gibson server running?"
                    % (where, error.strerror or error)) from error
        await asyncio.sleep(backoff * (2 ** attempt))
        attempt += 1
