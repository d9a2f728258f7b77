"""Sockets, deadlines and poll() in pure Python: the twin of libgibsonclient's
``transport.c``. It moves bytes and knows nothing of opcodes or replies.

Every deadline is an absolute monotonic time in milliseconds covering a
whole operation, so that a retry after a short write or a spurious wake-up
uses what is left of it rather than starting over. Failures are
:class:`Failure` with the library's status and words; the client turns them
into the public exceptions.

A connected socket is blocking, with SO_RCVTIMEO/SO_SNDTIMEO set from the
request timeout (``_prepare``), as ``transport.c`` makes it: the client's
first wait for a reply is then one plain recv() that sleeps in the kernel
(``gb_socket_recv_blocking``; the client does it inline), so that a
request costs two system calls, send and recv, and no poll(). Every call
here passes MSG_DONTWAIT and waits with a poll() bounded by the deadline,
as on a non-blocking socket. Where there is no MSG_DONTWAIT the socket
stays non-blocking, and every wait polls.
"""

import errno
import math
import os
import select
import socket
import struct
import sys
import time

__all__ = [
    "Failure", "deadline_after", "connect_tcp", "connect_unix", "close", "abandon",
    "send_all", "recv_some", "recv_into_some", "exchange", "send_chunk_hint",
]

# gb_status values that leave this layer, by name.
RESOLVE, CONNECT, TIMEOUT, CLOSED, IO, NOT_CONNECTED, PROTOCOL = (
    "GB_ERR_RESOLVE", "GB_ERR_CONNECT", "GB_ERR_TIMEOUT", "GB_ERR_CLOSED", "GB_ERR_IO",
    "GB_ERR_NOT_CONNECTED", "GB_ERR_PROTOCOL")

_POLLIN, _POLLOUT = select.POLLIN, select.POLLOUT
_POLLHUP, _POLLERR = select.POLLHUP, select.POLLERR
_NOSIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)
#: One call that must not sleep, on a socket that is blocking (see above).
DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)
#: The flags of every send().
SEND_FLAGS = _NOSIGNAL | DONTWAIT
_CLOSED_ERRNOS = (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED, errno.ENOTCONN)
#: sizeof(sun_path) less its NUL.
_UNIX_PATH_MAX = (108 if sys.platform.startswith("linux") else 104) - 1


class Failure(Exception):
    """A transport or protocol failure, as a ``gb_error``: its status, its
    message (what happened and what to do), the errno and whether any byte
    of the request reached the socket."""

    def __init__(self, status, message, sys_errno=0, request_sent=False):
        super().__init__(message)
        self.status = status
        self.message = message
        self.sys_errno = sys_errno
        self.request_sent = request_sent


def _now_ms():
    return time.monotonic() * 1000.0


def deadline_after(timeout_ms):
    """The deadline ``timeout_ms`` from now, or None (none) when negative."""
    return None if timeout_ms < 0 else _now_ms() + timeout_ms


def _ms_left(deadline):
    """What poll() should wait: None forever, 0 once the deadline passed.
    Rounded up, so that a wait never ends before its deadline."""
    if deadline is None:
        return None
    left = deadline - _now_ms()
    return 0 if left <= 0 else int(math.ceil(left))


def wait(sock, events, deadline, doing):
    """poll() one socket until an event or the deadline; its revents. With
    the deadline gone, one last look (timeout 0) still takes what is ready.
    Python resumes poll() after a signal with the time left."""
    poller = select.poll()
    poller.register(sock, events)
    while True:
        timeout = _ms_left(deadline)
        try:
            ready = poller.poll(timeout)
        except OSError as error:
            raise Failure(IO, "poll() failed %s: %s" % (doing, os.strerror(error.errno)),
                          error.errno) from None
        if ready:
            return ready[0][1]
        if timeout == 0:
            raise Failure(TIMEOUT, "timed out %s; the server may be overloaded or stuck "
                                   "(raise the timeout if it is only slow)" % doing,
                          errno.ETIMEDOUT)


def io_error(number, doing):
    if number in _CLOSED_ERRNOS:
        return Failure(CLOSED, "the server closed the connection (%s) %s; it drops "
                               "connections on malformed requests, and may have restarted"
                       % (os.strerror(number), doing), number)
    return Failure(IO, "socket error %s: %s" % (doing, os.strerror(number or 0)), number or 0)


def eof_error(doing):
    return Failure(CLOSED, "the server closed the connection %s; it drops connections on "
                           "malformed requests, after END, when max_clients is reached, and on "
                           "restart" % doing)


# ---- Connecting ---------------------------------------------------------------


def _timeval(ms):
    """A struct timeval of ``ms`` milliseconds; at least 1, as a zero one
    would mean no timeout at all."""
    ms = max(ms, 1)
    return struct.pack("ll", ms // 1000, (ms % 1000) * 1000)


def _prepare(sock, family, io_timeout_ms):
    """Make a connected socket ready for requests (``prepare_socket``):
    TCP_NODELAY, and blocking with SO_RCVTIMEO/SO_SNDTIMEO of
    ``io_timeout_ms`` (none when negative) as the backstop that keeps the
    blocking first receive of a request under its deadline."""
    if family != socket.AF_UNIX:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not DONTWAIT:
        return
    sock.setblocking(True)
    if io_timeout_ms >= 0:
        timeval = _timeval(io_timeout_ms)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def _connect_addr(family, address, deadline, io_timeout_ms):
    """A socket connected to one address before the deadline, prepared.
    Raises OSError (ETIMEDOUT, with timed_out set, when the deadline
    passed)."""
    sock = socket.socket(family, socket.SOCK_STREAM)  # close-on-exec, as Python makes them
    try:
        sock.setblocking(False)
        code = sock.connect_ex(address)
        if code != 0:
            # After EINTR the connection still completes in the background.
            if code not in (errno.EINPROGRESS, errno.EINTR):
                raise OSError(code, os.strerror(code))
            try:
                wait(sock, _POLLOUT, deadline, "connecting")
            except Failure as failure:
                error = OSError(failure.sys_errno, failure.message)
                error.timed_out = failure.status == TIMEOUT
                raise error from None
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code != 0:
                raise OSError(code, os.strerror(code))
        _prepare(sock, family, io_timeout_ms)
        return sock
    except BaseException:
        sock.close()
        raise


def _connect_failed(where, error, timeout_ms):
    if getattr(error, "timed_out", False):
        return Failure(TIMEOUT, "could not connect to %s within %d ms; is the Gibson server "
                                "running and reachable?" % (where, timeout_ms), errno.ETIMEDOUT)
    number = error.errno or 0
    return Failure(CONNECT, "could not connect to %s: %s; is the Gibson server running?"
                   % (where, os.strerror(number)), number)


def _format_addr(family, address):
    host, port = address[0], address[1]
    return ("[%s]:%s" if family == socket.AF_INET6 else "%s:%s") % (host, port)


def connect_tcp(host, port, timeout_ms, io_timeout_ms):
    """A connected TCP socket, prepared (see ``_prepare``): each address
    the host resolves to in turn, all within the one deadline."""
    deadline = deadline_after(timeout_ms)
    host = host or "127.0.0.1"
    if not 1 <= port <= 65535:
        raise Failure(CONNECT, "port %d is not a TCP port (1..65535)" % port)
    try:
        infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0,
                                   socket.AI_NUMERICSERV)
    except socket.gaierror as error:
        raise Failure(RESOLVE, "could not resolve host '%s': %s; check the host name"
                      % (host, error.strerror), error.errno or 0) from None
    where = "%s:%d" % (host, port)
    last = OSError(0, os.strerror(0))
    for family, _, _, _, address in infos:
        try:
            return _connect_addr(family, address, deadline, io_timeout_ms)
        except OSError as error:
            last = error
            where = _format_addr(family, address)
            if getattr(error, "timed_out", False):
                break
    raise _connect_failed(where, last, timeout_ms)


def connect_unix(path, timeout_ms, io_timeout_ms):
    """A connected unix socket, prepared; ``path`` is bytes."""
    if not path:
        raise Failure(CONNECT, "the unix socket path is empty")
    if len(path) > _UNIX_PATH_MAX:
        raise Failure(CONNECT, "unix socket path is %d bytes, but this system allows at most "
                               "%d; use a shorter path" % (len(path), _UNIX_PATH_MAX),
                      errno.ENAMETOOLONG)
    try:
        return _connect_addr(socket.AF_UNIX, path, deadline_after(timeout_ms), io_timeout_ms)
    except OSError as error:
        raise _connect_failed("unix socket %s" % os.fsdecode(path), error, timeout_ms) from None


def close(sock):
    """Close, first telling the peer (shutdown)."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def abandon(sock):
    """Close without shutdown(): in a forked child, which shares the
    connection with its parent, shutdown() would end it for the parent."""
    sock.close()


# ---- Moving bytes -------------------------------------------------------------


#: The most handed to one send() or recv_into(): the kernel takes far less
#: at a time anyway, and PyPy copies the whole buffer it is given to a
#: non-moving one on every call, which makes an unbounded slice quadratic.
IO_CHUNK = 1024 * 1024


def send_all(sock, data, deadline, done=0):
    """Write all of data, from ``done`` on, before the deadline. A Failure
    carries ``written``, the bytes that left before it."""
    view = memoryview(data)
    total = len(view)
    while done < total:
        try:
            n = sock.send(view[done:done + IO_CHUNK], SEND_FLAGS)
        except BlockingIOError:
            try:
                wait(sock, _POLLOUT, deadline, "sending the request")
            except Failure as failure:
                failure.written = done
                raise
            continue
        except OSError as error:
            broken = io_error(error.errno, "while sending the request")
            broken.written = done
            raise broken from None
        if n == 0:
            broken = Failure(IO, "send() wrote nothing")
            broken.written = done
            raise broken
        done += n


def _receive(sock, deadline, receive, wait_first):
    """``receive()`` what came: at least one byte, before the deadline,
    waiting with poll() whenever nothing is there. EOF and resets are
    Failure(CLOSED), never an empty success. ``wait_first``: wait before
    the first try, as right after a request, when the reply is seldom
    there yet; the rest of a reply that has begun to arrive is tried for
    at once."""
    while True:
        if wait_first:
            wait(sock, _POLLIN, deadline, "waiting for the reply")
        wait_first = True
        try:
            got = receive()
        except BlockingIOError:
            continue
        except OSError as error:
            raise io_error(error.errno, "while reading the reply") from None
        if not got:
            raise eof_error("before its reply was complete")
        return got


def recv_some(sock, cap, deadline, wait_first=True):
    """The bytes that came (at most cap)."""
    return _receive(sock, deadline, lambda: sock.recv(cap, DONTWAIT), wait_first)


def recv_into_some(sock, view, deadline, wait_first=True):
    """Bytes received into a writable view: how many (at most IO_CHUNK)."""
    return _receive(sock, deadline,
                    lambda: sock.recv_into(view, min(len(view), IO_CHUNK), DONTWAIT), wait_first)


def exchange(sock, out, in_cap, deadline):
    """One step of a pipelined exchange: wait until the socket takes
    output (while ``out`` has bytes) or has input, then read what has
    arrived and write what the kernel takes. Returns (written, received
    bytes), not both nothing. Reads come first: the server stops reading
    while it has a reply to write, so draining it is what lets our writes
    progress (§8.1)."""
    events = _POLLIN | (_POLLOUT if len(out) else 0)
    while True:
        revents = wait(sock, events, deadline, "during a pipeline")
        got, written = b"", 0
        read_error = write_error = None
        if revents & (_POLLIN | _POLLHUP | _POLLERR):
            try:
                got = sock.recv(in_cap, DONTWAIT)
                if not got:
                    read_error = eof_error("during a pipeline")
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as error:
                read_error = io_error(error.errno, "while reading pipelined replies")
        if read_error is None and len(out) and revents & (_POLLOUT | _POLLHUP | _POLLERR):
            try:
                written = sock.send(out[:IO_CHUNK], SEND_FLAGS)
                if written == 0:
                    write_error = Failure(IO, "send() wrote nothing")
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as error:
                write_error = io_error(error.errno, "while sending pipelined requests")
        if read_error is not None:
            raise read_error
        # Replies that arrived are worth more than a send error: hand them
        # over now; the error comes back on the next step.
        if write_error is not None and not got:
            raise write_error
        if written or got:
            return written, got


def send_chunk_hint(sock):
    """How many bytes a write right after poll() reports POLLOUT will very
    likely take whole: poll() reports it once a third of the send buffer is
    free (in kernel accounting, which adds per-packet overhead), so an
    eighth fits."""
    try:
        size = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    except OSError:
        return 4096
    return max(4096, size // 8)
