"""A deliberately tiny Gibson client for the server tests: struct, sendall,
recv. No parsing cleverness, so that the tests check the server's bytes and
not a client's interpretation of them."""

import socket
import struct

from pygibson import OPERATIONS

# The opcode map comes from the one operation table; the codec stays this
# file's own on purpose.
OPS = {operation.command: operation.opcode for operation in OPERATIONS}

ERR, NOT_FOUND, NAN, MEM, LOCKED, OK, VAL, KVAL = range(8)


def frame(op, payload=b""):
    """A complete request frame; ``op`` is a name or a number."""
    if isinstance(payload, str):
        payload = payload.encode()
    opcode = OPS[op] if isinstance(op, str) else op
    return struct.pack("<Ih", len(payload) + 2, opcode) + payload


def code_reply(code):
    """The 8 bytes of a code-only reply."""
    return struct.pack("<HBI", code, 0, 1) + b"\0"


def number_reply(n):
    return struct.pack("<HBIq", VAL, 2, 8, n)


def plain_reply(value):
    return struct.pack("<HBI", VAL, 0, len(value)) + value


def parse_kv(payload):
    """Decode a key-value payload into a list of (key, encoding, value)."""
    (count,) = struct.unpack_from("<I", payload)
    pos = 4
    pairs = []
    while pos < len(payload):
        (klen,) = struct.unpack_from("<I", payload, pos)
        key = payload[pos + 4:pos + 4 + klen]
        pos += 4 + klen
        encoding = payload[pos]
        (vlen,) = struct.unpack_from("<I", payload, pos + 1)
        value = payload[pos + 5:pos + 5 + vlen]
        pos += 5 + vlen
        if encoding == 2:
            (value,) = struct.unpack("<q", value)
        pairs.append((key, encoding, value))
    return count, pairs


class RawClient:
    """One connection; ``address`` is ``(host, port)`` or a unix path."""

    def __init__(self, address, timeout=5.0):
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(address)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        """Exactly n bytes; raises EOFError if the server closes first."""
        chunks = []
        while n:
            chunk = self.sock.recv(min(n, 1 << 20))
            if not chunk:
                raise EOFError("connection closed by the server")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def read_reply_bytes(self):
        """One complete reply, raw."""
        header = self.recv_exact(7)
        (size,) = struct.unpack_from("<I", header, 3)
        return header + self.recv_exact(size)

    def read_reply(self):
        """One reply as (code, encoding, payload)."""
        raw = self.read_reply_bytes()
        code, encoding, _ = struct.unpack_from("<HBI", raw)
        return code, encoding, raw[7:]

    def raw(self, op, payload=b""):
        """Send one request and return its reply bytes."""
        self.send(frame(op, payload))
        return self.read_reply_bytes()

    def call(self, op, payload=b""):
        """Send one request and return a decoded result: the code for codes
        0-5, bytes or int for VAL, (count, pairs) for KVAL."""
        self.send(frame(op, payload))
        code, encoding, body = self.read_reply()
        if code == VAL:
            return struct.unpack("<q", body)[0] if encoding == 2 else body
        if code == KVAL:
            return parse_kv(body)
        return code

    def mapping(self, op, payload=b""):
        """A KVAL reply as a dict key -> value (for MGET, STATS)."""
        result = self.call(op, payload)
        assert isinstance(result, tuple), "expected a KVAL reply, got %r" % (result,)
        return {key: value for key, _, value in result[1]}

    def is_closed(self, timeout=2.0):
        """True if the server closed the connection (EOF or reset) within
        ``timeout`` seconds, without sending anything."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1)
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
        return data == b""
