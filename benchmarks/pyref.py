"""The pure-Python reference: the least a Python client must do per request.

``struct`` for the frame, one ``sendall``, ``recv_into`` a reusable buffer,
and results of the same types as pygibson's (``bytes``, ``int``, ``dict``),
so that what it saves can only be the extension's overhead. It checks
nothing a benchmark does not need: no deadlines, no reconnect, no argument
validation.

``RawClient.pipeline(frames, count)`` writes a batch and reads its replies at
the same time (the server stops reading while it writes, docs/protocol.md §8.1),
each write ending on a frame boundary so that no length prefix is split.
"""

import select
import socket
import struct

from pygibson._operations import lookup
from pygibson._protocol import ENC_NUMBER, REPL_KVAL, REPL_VAL

__all__ = ["RawClient", "frame"]

_FRAME = struct.Struct("<IH")
_REPLY = struct.Struct("<HBI")
_U32 = struct.Struct("<I")
_I64 = struct.Struct("<q")

# The project's opcodes and constants; the codec here stays minimal on
# purpose: it is the floor a Python client could reach.
OP_SET, OP_GET, OP_INC, OP_MGET = (lookup(name).opcode for name in ("set", "get", "inc", "mget"))


def frame(opcode, payload):
    """One request frame: length, opcode, payload."""
    return _FRAME.pack(len(payload) + 2, opcode) + payload


def connect(address):
    """A connected socket: ``address`` is ``(host, port)`` or a unix path."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(address)
    else:
        sock = socket.create_connection(address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class RawClient:
    def __init__(self, address):
        self.sock = connect(address)
        self.buf = bytearray(1 << 16)
        self.view = memoryview(self.buf)

    def close(self):
        self.view.release()
        self.sock.close()

    # -- one request ---------------------------------------------------------

    def _reply(self):
        """Read one whole reply into self.buf; returns (code, enc, size)."""
        recv_into = self.sock.recv_into
        have = recv_into(self.view)
        while have < 7:
            n = recv_into(self.view[have:])
            if n == 0:
                raise ConnectionError("server closed the connection")
            have += n
        code, enc, size = _REPLY.unpack_from(self.buf)
        total = 7 + size
        if total > len(self.buf):
            self.view.release()
            self.buf.extend(bytes(total - len(self.buf)))
            self.view = memoryview(self.buf)
        while have < total:
            n = recv_into(self.view[have:total])
            if n == 0:
                raise ConnectionError("server closed the connection")
            have += n
        return code, enc, size

    def _value(self, code, enc, size):
        if code != REPL_VAL:
            raise RuntimeError("unexpected reply code %d" % code)
        if enc == ENC_NUMBER:
            return _I64.unpack_from(self.buf, 7)[0]
        return bytes(self.view[7:7 + size])

    def get(self, key):
        self.sock.sendall(frame(OP_GET, key))
        return self._value(*self._reply())

    def inc(self, key):
        self.sock.sendall(frame(OP_INC, key))
        return self._value(*self._reply())

    def set(self, key, value, ttl=0):
        payload = b"%d %s %s" % (ttl, key, value)
        self.sock.sendall(frame(OP_SET, payload))
        code, _, size = self._reply()
        if code != REPL_VAL or size != len(value):
            raise RuntimeError("SET failed or was truncated (code %d)" % code)

    def mget(self, prefix):
        self.sock.sendall(frame(OP_MGET, prefix))
        code, _, size = self._reply()
        if code != REPL_KVAL:
            raise RuntimeError("unexpected reply code %d" % code)
        return parse_kv(self.view, 7, 7 + size)

    # -- pipelining ----------------------------------------------------------

    def pipeline(self, frames, count, frame_len):
        """Send ``frames`` (``count`` frames of ``frame_len`` bytes each) and
        return the list of (code, enc, payload bytes) replies."""
        sock = self.sock
        sock.setblocking(False)
        out = memoryview(frames)
        chunk = max(1, 16384 // frame_len) * frame_len
        written = 0
        pending = bytearray()
        replies = []
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLOUT)
        try:
            while len(replies) < count:
                for _, events in poller.poll():
                    if events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                        data = sock.recv(262144)
                        if not data:
                            raise ConnectionError("server closed the connection")
                        pending += data
                        del pending[:_take_replies(pending, replies)]
                    if events & select.POLLOUT and written < len(frames):
                        written += _send_frames(sock, out[written:written + chunk], frame_len)
                        if written == len(frames):
                            poller.modify(sock, select.POLLIN)
        finally:
            out.release()
            sock.setblocking(True)
        return replies


def _send_frames(sock, chunk, frame_len):
    """Send what the kernel takes, never stopping inside a length prefix."""
    try:
        n = sock.send(chunk)
    except BlockingIOError:
        return 0
    inside = n % frame_len
    if 0 < inside < 4 and n < len(chunk):
        sock.setblocking(True)
        sock.sendall(chunk[n:n + 4 - inside])
        sock.setblocking(False)
        n += 4 - inside
    return n


def _take_replies(buf, replies):
    """Append the whole replies in buf to ``replies``; returns bytes used."""
    pos, end = 0, len(buf)
    view = memoryview(buf)
    while end - pos >= 7:
        code, enc, size = _REPLY.unpack_from(buf, pos)
        if end - pos - 7 < size:
            break
        if enc == ENC_NUMBER:
            replies.append(_I64.unpack_from(buf, pos + 7)[0])
        elif code == REPL_KVAL:
            replies.append(parse_kv(view, pos + 7, pos + 7 + size))
        else:
            replies.append(bytes(view[pos + 7:pos + 7 + size]))
        pos += 7 + size
    view.release()
    return pos


def parse_kv(buf, pos, end):
    """A KVAL payload in the memoryview ``buf`` as a dict {str key: bytes or
    int} (docs/protocol.md §3.4)."""
    count = _U32.unpack_from(buf, pos)[0]
    pos += 4
    result = {}
    for _ in range(count):
        if pos >= end:
            break
        klen = _U32.unpack_from(buf, pos)[0]
        key = str(buf[pos + 4:pos + 4 + klen], "utf-8")
        pos += 4 + klen
        enc = buf[pos]
        vlen = _U32.unpack_from(buf, pos + 1)[0]
        pos += 5
        if enc == ENC_NUMBER:
            result[key] = _I64.unpack_from(buf, pos)[0]
        else:
            result[key] = bytes(buf[pos:pos + vlen])
        pos += vlen
    return result
