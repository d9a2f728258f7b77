"""The asyncio server: listening, connections, pipelining, the cron.

One :class:`GibsonProtocol` per connection splits the incoming bytes into
frames and runs them in order through the shared :class:`Engine`; all of a
batch's replies go out in one write. Everything runs on one event loop, so
requests from different connections interleave only between whole requests,
as in the real single-threaded server.
"""

import asyncio
import errno
import logging
import os
import socket
import stat
import struct
from collections import deque
from typing import Any, Deque, Optional, Set, Tuple, Union

from . import faults as _faults
from .clock import Clock
from .commands import Engine
from .config import Config
from .faults import Faults
from .protocol import OP_END, parse_frames

__all__ = ["GibsonProtocol", "ServerCore"]

log: logging.Logger = logging.getLogger("pygibson.server")

_LINGER_RESET = struct.pack("ii", 1, 0)

# Write the replies gathered so far once they reach this size, and then
# check whether the client keeps up (asyncio's default high-water mark).
_FLUSH_BYTES = 65536

# The real server's listen() backlog.
_BACKLOG = 511


class GibsonProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, core: "ServerCore") -> None:
        self.core: ServerCore = core
        self.engine: Engine = core.engine
        self.faults: Faults = core.faults
        # The connection's transport (set by connection_made), typed Any
        # rather than Optional: every method but that one runs with it set.
        self.transport: Any = None
        #: The client's address, as the transport gives it.
        self.peer: Any = None
        self._buf = bytearray()
        self._need = 4
        self._max_request = core.engine.config.max_request_size
        self._closing = False
        self._mute = False
        # Replies waiting for their delay: (due, bytes, then), and their
        # total size, bounded like the transport's buffer (see _run_slow).
        self._delayed: Deque[Tuple[float, bytes, Any]] = deque()
        self._delayed_bytes = 0
        self._timer = None
        self._registered = False
        # Frames parsed but not yet run because the client is not reading
        # its replies (see _run_fast); run when the transport drains.
        self._stalled: Deque[Tuple[int, bytes]] = deque()
        self._held = 0
        self._last_active = 0.0
        self._write_paused = False

    # -- lifecycle ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        core = self.core
        engine = self.engine
        engine.total_connections += 1
        self.peer = transport.get_extra_info("peername")
        mode = self.faults.connection_mode
        if mode == _faults.RESET:
            _reset(transport)
            return
        if mode == _faults.DROP:
            transport.close()
            return
        self._last_active = core.loop.time()
        if len(core.connections) >= engine.config.max_clients and not core.evict_idle():
            # Like the real server: accepted by the kernel, closed at once.
            log.warning("max_clients (%d) reached, dropping %s",
                        engine.config.max_clients, self.peer)
            transport.close()
            return
        core.connections.add(self)
        self._registered = True
        engine.clients += 1
        _tune_socket(transport, engine.config.max_idletime)
        log.debug("connection from %s", self.peer)

    def connection_lost(self, exc: Optional[BaseException]) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._account(0)
        if self._registered:
            self._registered = False
            self.core.connections.discard(self)
            self.engine.clients -= 1
            log.debug("connection from %s closed", self.peer)
        self.core.connection_closed(self)

    # The real server stops reading while a reply is being written; pausing
    # reads while the transport's buffer is full gives the same back-pressure
    # to a client that pipelines without reading.
    def pause_writing(self) -> None:
        self._write_paused = True
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        self._run_stalled()

    def _held_back(self):
        """Whether replies already waiting (in the transport, or for their
        delay) are enough that no more requests should run yet."""
        return self._write_paused or self._delayed_bytes > _FLUSH_BYTES

    def held_reply_bytes(self) -> int:
        """Bytes of replies this connection holds but has not sent."""
        transport = self.transport
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        return buffered + self._delayed_bytes

    def _run_stalled(self):
        """Run the frames held back while the client was not reading, then
        read again (unless they fill the buffers again)."""
        if self._closing or self._held_back():
            return
        if self._stalled:
            frames = list(self._stalled)
            self._stalled.clear()
            self.engine.now = int(self.core.clock.time())
            if self.faults.active or self._delayed:
                self._run_slow(frames)
            else:
                self._run_fast(frames)
            if self._closing or self._held_back() or self._stalled:
                return
        self.transport.resume_reading()

    # -- input ------------------------------------------------------------

    def data_received(self, data: Union[bytes, bytearray]) -> None:
        if self._closing or self._mute:
            return
        self._last_active = self.core.loop.time()
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:
                return
            data = buf
        frames, used, bad = parse_frames(data, self._max_request)
        if data is buf:
            del buf[:used]
        elif used < len(data):
            buf += data[used:] if used else data
        if len(buf) >= 4:
            self._need = 4 + int.from_bytes(buf[:4], "little")
        else:
            self._need = 4
        if not self._account(len(buf)) and not bad:
            log.warning("unfinished frames hold more than %d bytes in all, closing %s",
                        self.core.unfinished_limit, self.peer)
            self._finish()
            return
        if frames and (self._stalled or self._write_paused):
            # Still waiting for the client to read: queue the requests,
            # unexecuted, so their replies take no memory yet.
            self._stalled.extend(frames)
        elif frames:
            engine = self.engine
            engine.now = int(self.core.clock.time())
            if self.faults.active or self._delayed:
                self._run_slow(frames)
            else:
                self._run_fast(frames)
        if bad and not self._closing:
            log.info("bad frame length from %s, closing", self.peer)
            self._finish()

    def _account(self, held):
        """Record that this connection holds ``held`` bytes of unfinished
        frames; False if that takes the total over the server's bound (each
        connection alone may hold up to max_request_size, but hundreds of
        them together would otherwise hold gigabytes)."""
        core = self.core
        core.unfinished_bytes += held - self._held
        self._held = held
        return held == 0 or core.unfinished_bytes <= core.unfinished_limit

    def _run_fast(self, frames):
        # Replies are gathered into one write per _FLUSH_BYTES (one syscall
        # for a pipeline of small replies), but a batch is not run to its
        # end regardless: once the transport holds more than its high-water
        # mark (the client is not reading), the rest of the frames wait
        # unexecuted until it drains. Without this, 90 MGET frames in one
        # 450-byte write queued 90 large replies (gigabytes) at once.
        execute = self.engine.execute
        transport = self.transport
        replies = []
        pending = 0
        count = len(frames)
        for index in range(count):
            opcode, payload = frames[index]
            reply = execute(opcode, payload)
            if reply is None:
                self._refused(opcode, replies)
                return
            replies.append(reply)
            if opcode == OP_END:
                transport.write(b"".join(replies))
                self._finish()
                return
            pending += len(reply)
            if pending >= _FLUSH_BYTES and index + 1 < count:
                transport.write(b"".join(replies) if len(replies) > 1 else replies[0])
                replies = []
                pending = 0
                if self._write_paused:
                    self._stalled.extend(frames[index + 1:])
                    return
        if replies:
            transport.write(b"".join(replies) if len(replies) > 1 else replies[0])

    def _refused(self, opcode, replies):
        """The request cannot be answered: close after the replies before it."""
        # The client only sees the connection close (the real server sends
        # nothing either), so the log is where the reason is told.
        if opcode in self.engine.handlers:
            log.warning("closing %s: the reply to opcode %d is larger than "
                        "max_response_size (%d bytes); the client sees the "
                        "connection closed", self.peer, opcode,
                        self.engine.config.max_response_size)
        else:
            log.info("closing %s: unknown opcode %d", self.peer, opcode)
        if replies:
            self.transport.write(b"".join(replies))
        self._finish()

    def _run_slow(self, frames):
        # One reply at a time, through the fault switches and the delay queue.
        # As in _run_fast, replies that pile up unsent (in the transport, or
        # held for a delay) stop the batch until they drain: under a reply
        # delay, 90 MGET frames would otherwise all be answered into memory.
        execute = self.engine.execute
        for index, (opcode, payload) in enumerate(frames):
            if self._closing or self._mute:
                return
            if self._held_back():
                self._stalled.extend(frames[index:])
                self.transport.pause_reading()
                return
            reply = execute(opcode, payload)
            if reply is None:
                self._refused(opcode, [])
                return
            data, then = self.faults.apply(reply)
            if isinstance(then, _faults.Extra):
                self.core.loop.call_later(then.delay, self._send_extra, then.data)
                then = None
            if opcode == OP_END and then is None:
                then = _faults.THEN_CLOSE
            self._send(data, then)
            if then is not None:
                # Nothing after END, a cut or a truncated reply is answered.
                self._mute = True
                return

    def _send_extra(self, data):
        # After the reply it follows, even under a reply delay (_send keeps
        # the order).
        if not (self._closing or self._mute):
            self._send(data, None)

    def send_unsolicited(self, data: bytes) -> None:
        """Write data now, as a reply nobody asked for (faults)."""
        if not (self._closing or self._mute):
            self._transmit(data, None)

    def _send(self, data, then):
        delay = self.faults.reply_delay
        if delay or self._delayed:
            loop = self.core.loop
            due = loop.time() + delay
            if self._delayed and self._delayed[-1][0] > due:
                due = self._delayed[-1][0]
            self._delayed.append((due, data, then))
            self._delayed_bytes += len(data)
            if self._timer is None:
                self._timer = loop.call_at(self._delayed[0][0], self._flush_delayed)
            return
        self._transmit(data, then)

    def _flush_delayed(self):
        self._timer = None
        queue = self._delayed
        now = self.core.loop.time()
        while queue and queue[0][0] <= now:
            _, data, then = queue.popleft()
            self._delayed_bytes -= len(data)
            self._transmit(data, then)
            if self._closing:
                queue.clear()
                self._delayed_bytes = 0
                return
        if queue:
            self._timer = self.core.loop.call_at(queue[0][0], self._flush_delayed)
        if self._stalled:
            self._run_stalled()

    def _transmit(self, data, then):
        if self._closing:
            return
        if data:
            self.transport.write(data)
        if then == _faults.THEN_CLOSE:
            self._finish()
        elif then == _faults.THEN_MUTE:
            self._mute = True

    def _finish(self):
        """Close once the replies already queued have been sent (or, under a
        delay, once the delayed ones have)."""
        if self._delayed:
            self._mute = True
            self._send(b"", _faults.THEN_CLOSE)
            return
        self._closing = True
        self.transport.close()


def _reset(transport):
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        except OSError:
            pass
    transport.abort()


# errno values that mean the process or the system ran out of something.
_EXHAUSTION = {getattr(errno, name) for name in ("EMFILE", "ENFILE", "ENOBUFS", "ENOMEM")
               if hasattr(errno, name)}


class _ExhaustionFilter:
    """The loop's exception handler: when accept() fails for lack of file
    descriptors or memory, asyncio logs a traceback on every retry
    (thousands of lines a second under ``ulimit -n``) and goes on serving
    the open connections; log one line per condition every
    ``interval`` seconds instead. Anything else goes to the default
    handler."""

    def __init__(self, interval=10.0):
        self.interval = interval
        self._last = {}
        self._suppressed = {}

    def __call__(self, loop, context):
        exc = context.get("exception")
        number = getattr(exc, "errno", None)
        if not isinstance(exc, OSError) or number not in _EXHAUSTION:
            loop.default_exception_handler(context)
            return
        now = loop.time()
        last = self._last.get(number)
        if last is not None and now - last < self.interval:
            self._suppressed[number] = self._suppressed.get(number, 0) + 1
            return
        self._last[number] = now
        repeats = self._suppressed.pop(number, 0)
        log.error("%s (%s): new connections wait, open ones are served%s",
                  os.strerror(number), errno.errorcode.get(number, number),
                  "; %d more since the last report" % repeats if repeats else "")


def _remove_stale_socket(path):
    """Unlink a socket file at ``path`` left by a server that is gone;
    refuse (OSError EADDRINUSE) if a server still answers on it, since
    unlinking would leave that server running but unreachable."""
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return  # not a socket: let bind() report the conflict
    except FileNotFoundError:
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except OSError:
        live = False  # ECONNREFUSED: nobody listens, the file is stale
    else:
        live = True
    finally:
        probe.close()
    if live:
        raise OSError(errno.EADDRINUSE,
                      "address in use: another server is listening on %s" % path)
    os.unlink(path)


def _tune_socket(transport, idle):
    """SO_KEEPALIVE with the real server's timings (first probe after
    ``max_idletime``, then every idle/3 seconds, 3 probes); asyncio already
    sets TCP_NODELAY."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        idle = max(1, int(idle))
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, idle)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, max(1, idle // 3))
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    except OSError:
        pass


class ServerCore:
    """A listening Gibson server on the running event loop.

    ``engine`` holds the data and counters (it may outlive the core, so a
    restarted server keeps its items); ``clock`` has a ``time()`` method;
    ``faults`` is a :class:`~pygibson.server.faults.Faults`.
    """

    def __init__(self, engine: Engine, clock: Clock, faults: Faults) -> None:
        self.engine: Engine = engine
        self.config: Config = engine.config
        self.clock: Clock = clock
        self.faults: Faults = faults
        # The running loop (set by start()), typed Any rather than Optional:
        # every method but start() runs with it set.
        self.loop: Any = None
        self.connections: Set[GibsonProtocol] = set()
        self.host: Optional[str] = None
        self.port: Optional[int] = None
        self.unix_socket: Optional[str] = None
        self._server = None
        self._placeholder = None
        self._cron_handle = None
        self._last_expire = 0
        self._last_gc = 0
        self._drained: "Optional[asyncio.Future[None]]" = None
        # Bytes held in unfinished frames across all connections, and the
        # bound on them (never below one whole request).
        self.unfinished_bytes: int = 0
        self.unfinished_limit: int = max(self.config.max_unfinished_bytes,
                                    self.config.max_request_size)

    def evict_idle(self) -> bool:
        """At max_clients, make room by closing the connection idle the
        longest, if it has been idle max_idletime or more. The real server
        never closes idle clients (§8.2), so this happens only when a new
        client would otherwise be refused: max_clients idle connections can
        no longer lock everyone else out."""
        if not self.connections:
            return False
        oldest = min(self.connections, key=lambda c: c._last_active)
        if self.loop.time() - oldest._last_active < self.config.max_idletime:
            return False
        log.info("max_clients reached: closing %s, idle for %.0f s", oldest.peer,
                 self.loop.time() - oldest._last_active)
        oldest._closing = True
        oldest.transport.abort()
        # abort() reports connection_lost later: unregister now.
        if oldest._registered:
            oldest._registered = False
            self.connections.discard(oldest)
            self.engine.clients -= 1
        return True

    @property
    def address(self) -> Union[str, Tuple[Optional[str], Optional[int]]]:
        """``(host, port)``, or the unix socket path."""
        if self.unix_socket is not None:
            return self.unix_socket
        return (self.host, self.port)

    async def start(self) -> None:
        """Bind and listen (on the unix socket if one is configured, else on
        TCP), and start the cron."""
        self.loop = asyncio.get_running_loop()
        config = self.config
        now = int(self.clock.time())
        engine = self.engine
        engine.now = now
        if not engine.started:
            engine.started = now
        self._last_expire = self._last_gc = now
        if config.unix_socket:
            self.unix_socket = os.fspath(config.unix_socket)
        else:
            self.host = config.address
            self.port = config.port
        if self.faults.connection_mode == _faults.REFUSE:
            self._placeholder = self._bind(listen=False)
        else:
            await self._listen()
        self.faults._listener_hook = self._listener_hook
        self.faults._broadcast_hook = self._broadcast_hook
        if self.loop.get_exception_handler() is None:
            self.loop.set_exception_handler(_ExhaustionFilter())
        self._cron_handle = self.loop.call_later(config.cron_period / 1000.0, self._cron)
        log.info("Gibson-compatible server listening on %s", self.describe())

    def describe(self) -> str:
        """Where the server listens, for logs: host:port or unix:path."""
        if self.unix_socket is not None:
            return "unix:%s" % self.unix_socket
        return "%s:%s" % (self.host, self.port)

    def _bind(self, listen):
        """A socket bound to our address: listening, or (to refuse
        connections while keeping the address) not."""
        if self.unix_socket is not None:
            path = self.unix_socket
            _remove_stale_socket(path)
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.bind(path)
                # The real server leaves the socket 0777 (any local user
                # can use the cache); we apply unix_socket_mode instead.
                os.chmod(path, self.config.unix_socket_mode)
            except OSError:
                sock.close()
                raise
        else:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
            family, kind, proto, _, sockaddr = infos[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(sockaddr)
            except OSError:
                sock.close()
                raise
            # Keep the port chosen for port=0, so a restart reuses it.
            self.port = sock.getsockname()[1]
        if listen:
            sock.listen(_BACKLOG)
        sock.setblocking(False)
        return sock

    async def _listen(self):
        sock = self._bind(listen=True)
        factory = lambda: GibsonProtocol(self)  # noqa: E731
        # asyncio calls listen() again with its own backlog (100 unless
        # told), which would undo the real server's 511 set in _bind.
        if self.unix_socket is not None:
            self._server = await self.loop.create_unix_server(factory, sock=sock,
                                                              backlog=_BACKLOG)
        else:
            self._server = await self.loop.create_server(factory, sock=sock,
                                                         backlog=_BACKLOG)

    def _stop_listening(self):
        if self._server is not None:
            self._server.close()
            self._server = None

    async def set_connection_mode(self, mode: str) -> None:
        """Follow a change of ``faults.connection_mode``: stop listening
        (keeping the address bound) to refuse, listen again otherwise."""
        if mode == _faults.REFUSE:
            if self._placeholder is None:
                self._stop_listening()
                self._placeholder = self._bind(listen=False)
        elif self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
            await self._listen()

    def _listener_hook(self, mode):
        # Called by Faults on the caller's thread.
        future = asyncio.run_coroutine_threadsafe(self.set_connection_mode(mode), self.loop)
        if _on_loop_thread(self.loop):
            return
        future.result(10)

    def _broadcast_hook(self, data):
        # Called by Faults on the caller's thread.
        async def broadcast():
            for connection in list(self.connections):
                connection.send_unsolicited(data)

        future = asyncio.run_coroutine_threadsafe(broadcast(), self.loop)
        if _on_loop_thread(self.loop):
            return
        future.result(10)

    def _cron(self):
        self.run_cron()
        self._cron_handle = self.loop.call_later(self.config.cron_period / 1000.0, self._cron)

    def run_cron(self) -> None:
        """One cron tick: refresh the clock, and run the expiry sweep and
        the memory GC when their periods have passed."""
        engine = self.engine
        config = self.config
        now = engine.now = int(self.clock.time())
        engine.cron_done += 1
        if now - self._last_expire >= config.expired_cron:
            self._last_expire = now
            freed = engine.expire()
            if freed:
                log.debug("cron: %d expired items freed", freed)
        if now - self._last_gc >= config.max_mem_cron:
            self._last_gc = now
            freed = engine.collect_garbage()
            if freed:
                log.info("memory GC: %d idle items freed", freed)

    def disconnect_all(self) -> None:
        """Close every client connection now (pending replies are dropped)."""
        for connection in list(self.connections):
            connection._closing = True
            connection.transport.abort()

    def connection_closed(self, connection: GibsonProtocol) -> None:
        """Called by a connection once it is closed (close() waits for all)."""
        if self._drained is not None and not self.connections:
            if not self._drained.done():
                self._drained.set_result(None)

    async def close(self) -> None:
        """Stop listening, close every connection and stop the cron."""
        self.faults._listener_hook = None
        self.faults._broadcast_hook = None
        if self._cron_handle is not None:
            self._cron_handle.cancel()
            self._cron_handle = None
        server = self._server
        self._stop_listening()
        if self._placeholder is not None:
            self._placeholder.close()
            self._placeholder = None
        if self.connections:
            drained = self._drained = self.loop.create_future()
            for connection in list(self.connections):
                connection._closing = True
                connection.transport.abort()
            try:
                await asyncio.wait_for(drained, 5)
            except asyncio.TimeoutError:
                log.warning("%d connections did not close in time", len(self.connections))
        if server is not None:
            try:
                await asyncio.wait_for(server.wait_closed(), 5)
            except asyncio.TimeoutError:
                pass
        if self.unix_socket is not None:
            try:
                if stat.S_ISSOCK(os.stat(self.unix_socket).st_mode):
                    os.unlink(self.unix_socket)
            except OSError:
                pass
        log.info("server on %s stopped", self.describe())


def _on_loop_thread(loop):
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
