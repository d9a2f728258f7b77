"""Fault injection: make the server misbehave on purpose, so that a client's
failure handling can be tested against real sockets.

Every method may be called from any thread (typically the test's, while the
server runs in its own) and takes effect before it returns: the next reply
or connection sees it. Two kinds of faults:

*Persistent* ones stay until undone or :meth:`Faults.clear`:

- :meth:`~Faults.delay_replies` -- hold every reply back for a while.
- :meth:`~Faults.refuse_connections` -- connect() fails (ECONNREFUSED).
- :meth:`~Faults.reset_connections` -- connections are accepted, then reset.
- :meth:`~Faults.drop_connections` -- connections are accepted, then closed
  before any byte is read (what a real server at ``max_clients`` does).
- :meth:`~Faults.accept_connections` undoes the last three.

*One-shot* ones apply to exactly one reply, the next one the server sends
on any connection; several queue up and are used one per reply, in the
order they were set:

- :meth:`~Faults.close_after_bytes` -- send the first n bytes, then close.
- :meth:`~Faults.truncate_next_reply` -- send part of the reply, then
  nothing more on that connection (it stays open, so the client times out).
- :meth:`~Faults.unknown_code_next_reply` -- a reply code outside 0..7.
- :meth:`~Faults.huge_length_next_reply` -- the size field says 4 GiB.
- :meth:`~Faults.replace_next_reply` -- send given bytes instead (any reply
  the real server could send, such as a ``REPL_ERR`` that a validating
  client never provokes).
- :meth:`~Faults.extra_reply_after_next` -- then, a moment later and in a
  write of its own, a reply nobody asked for.

And one that acts at once: :meth:`~Faults.send_unsolicited` sends a reply
nobody asked for on every open connection, before any request.

Requests still run when they arrive; faults only change what is sent back.
"""

import struct
import threading
from collections import deque
from typing import NamedTuple, Optional

__all__ = ["Faults"]

# Connection modes.
ACCEPT = "accept"
REFUSE = "refuse"
RESET = "reset"
DROP = "drop"

# What a connection does after sending a (possibly faulty) reply.
THEN_CONTINUE = None
THEN_CLOSE = "close"
THEN_MUTE = "mute"


class Extra(NamedTuple):
    """What :meth:`Faults.apply` returns as ``then`` for
    :meth:`~Faults.extra_reply_after_next`: send ``data`` ``delay`` seconds
    after the reply, in a write of its own; the connection goes on."""

    data: Optional[bytes]
    delay: float


class Faults:
    """The fault switches of one server (``GibsonServer.faults``)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._delay = 0.0
        self._pending = deque()
        self._mode = ACCEPT
        # Set by the running server: called with the new mode, on the
        # caller's thread, and returns once the listener has changed.
        self._listener_hook = None
        # Set by the running server: sends bytes on every open connection,
        # on the caller's thread, and returns once they are written.
        self._broadcast_hook = None
        #: True while any reply fault is set; read without the lock by the
        #: server's fast path (a plain attribute read is atomic).
        self.active = False

    def _update(self):
        self.active = bool(self._delay or self._pending)

    # -- reply faults ---------------------------------------------------

    def delay_replies(self, seconds):
        """Persistent: send every reply ``seconds`` after its request was
        read (the request itself runs at once; order is kept). ``0`` turns
        the delay off."""
        if seconds < 0:
            raise ValueError("the delay cannot be negative")
        with self._lock:
            self._delay = float(seconds)
            self._update()

    @property
    def reply_delay(self):
        """The current reply delay in seconds (0.0 when off)."""
        return self._delay

    def _queue(self, fault):
        with self._lock:
            self._pending.append(fault)
            self._update()

    def close_after_bytes(self, n):
        """One-shot: send only the first ``n`` bytes of the next reply (all
        of it if shorter), then close the connection."""
        if n < 0:
            raise ValueError("n cannot be negative")
        self._queue(("cut", n))

    def truncate_next_reply(self, keep=None):
        """One-shot: send only the first ``keep`` bytes of the next reply
        (default: all but its last byte), then stop answering on that
        connection while leaving it open, so that the client waits for the
        rest until its timeout."""
        if keep is not None and keep < 0:
            raise ValueError("keep cannot be negative")
        self._queue(("truncate", keep))

    def unknown_code_next_reply(self, code=42):
        """One-shot: the next reply carries the reply code ``code`` (default
        42, which no server sends) instead of its own; the rest of the
        reply and the connection are untouched."""
        if not 0 <= code <= 0xFFFF or 0 <= code <= 7:
            raise ValueError("code must be a 16-bit value outside 0..7")
        self._queue(("code", code))

    def huge_length_next_reply(self):
        """One-shot: the next reply's size field says 0xFFFFFFFF bytes
        follow; the real payload follows and the connection stays open."""
        self._queue(("huge", None))

    def replace_next_reply(self, data):
        """One-shot: send ``data`` (bytes) instead of the next reply; the
        connection is untouched."""
        self._queue(("replace", bytes(data)))

    def extra_reply_after_next(self, data=None, delay=0.05):
        """One-shot: send the next reply, then ``delay`` seconds later, in a
        write of its own (so in a packet of its own), ``data`` (default: the
        same reply again) as a reply nobody asked for, as a confused proxy or
        server might. The connection is untouched."""
        if delay < 0:
            raise ValueError("the delay cannot be negative")
        self._queue(("extra", Extra(None if data is None else bytes(data), float(delay))))

    def send_unsolicited(self, data):
        """Send ``data`` (bytes) now on every open client connection, as a
        reply to a request nobody made; returns once it is written. The
        connections are untouched."""
        hook = self._broadcast_hook
        if hook is None:
            raise RuntimeError("the server is not running")
        hook(bytes(data))

    def pending(self):
        """How many one-shot faults are still waiting for a reply."""
        with self._lock:
            return len(self._pending)

    def apply(self, reply):
        """Used by the server: apply the next one-shot fault, if any, to the
        reply bytes. Returns ``(bytes_to_send, then)`` where ``then`` is
        None, ``"close"``, ``"mute"`` or an ``Extra`` (bytes to send after the reply)."""
        with self._lock:
            if not self._pending:
                return reply, THEN_CONTINUE
            kind, arg = self._pending.popleft()
            self._update()
        if kind == "cut":
            return reply[:arg], THEN_CLOSE
        if kind == "truncate":
            keep = len(reply) - 1 if arg is None else arg
            return reply[:keep], THEN_MUTE
        if kind == "replace":
            return arg, THEN_CONTINUE
        if kind == "extra":
            return reply, arg._replace(data=reply if arg.data is None else arg.data)
        if kind == "code":
            return struct.pack("<H", arg) + reply[2:], THEN_CONTINUE
        # "huge": keep the code and encoding, replace the size field.
        return reply[:3] + b"\xff\xff\xff\xff" + reply[7:], THEN_CONTINUE

    # -- connection faults ------------------------------------------------

    @property
    def connection_mode(self):
        """``"accept"`` (normal), ``"refuse"``, ``"reset"`` or ``"drop"``."""
        return self._mode

    def _set_mode(self, mode):
        with self._lock:
            self._mode = mode
            hook = self._listener_hook
        if hook is not None:
            hook(mode)

    def refuse_connections(self):
        """Persistent: stop listening, so that connect() fails with
        ConnectionRefusedError (TCP and unix sockets alike). The address
        stays reserved; connections the server has accepted keep working,
        while any still waiting in the kernel's accept queue are lost."""
        self._set_mode(REFUSE)

    def reset_connections(self):
        """Persistent: accept new connections and reset them at once (TCP
        RST, seen as ConnectionResetError; over a unix socket, a close)."""
        self._set_mode(RESET)

    def drop_connections(self):
        """Persistent: accept new connections and close them before reading
        anything; the client sees connect() succeed and then EOF."""
        self._set_mode(DROP)

    def accept_connections(self):
        """Undo :meth:`refuse_connections`, :meth:`reset_connections` and
        :meth:`drop_connections`."""
        self._set_mode(ACCEPT)

    def clear(self):
        """Turn every fault off: no delay, no pending one-shot fault, new
        connections accepted."""
        with self._lock:
            self._delay = 0.0
            self._pending.clear()
            self._update()
        if self._mode != ACCEPT:
            self._set_mode(ACCEPT)

    def __repr__(self):
        return "<Faults delay=%r pending=%d connections=%s>" % (
            self._delay, len(self._pending), self._mode)
