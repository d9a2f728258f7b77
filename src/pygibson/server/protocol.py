"""The Gibson wire format, as the server sees it: no sockets, no store.

Request frames are ``uint32 length | int16 opcode | payload`` and replies are
``uint16 code | uint8 encoding | uint32 size | payload`` (docs/protocol.md §2-§3),
all little-endian. This module splits a byte buffer into frames, splits a
payload into the server's argument shapes (§2.2), parses numbers the way the
server does (§2.3) and builds replies.
"""

import struct
from typing import Dict, Iterable, List, Optional, Tuple, Union

from .._operations import OPERATIONS, lookup

# Reply codes (§4) and encodings (§3) are the clients' constants, and the
# server's other modules read them from here. LZF exists only inside the
# store: the server decompresses before replying, so it never goes on the
# wire.
from .._protocol import (  # noqa: F401 - re-exported for the server's modules
    ENC_LZF, ENC_NUMBER, ENC_PLAIN, REPL_ERR, REPL_ERR_LOCKED, REPL_ERR_MEM, REPL_ERR_NAN,
    REPL_ERR_NOT_FOUND, REPL_KVAL, REPL_OK, REPL_VAL, REPLY_HEADER_SIZE,
)

__all__ = [
    "OPCODES",
    "parse_frames",
    "parse_number",
    "split_key",
    "split_key_value",
    "split_ttl_key_value",
    "split_key_option",
    "reply_code",
    "reply_plain",
    "reply_number",
    "reply_kv",
    "kv_payload",
]

# Opcodes (§6), from the operation table the clients use too. END is 255
# on the wire: ``ff 00`` read as a signed short.
OPCODES: Dict[int, str] = {operation.opcode: operation.command for operation in OPERATIONS}
OP_END: int = lookup("END").opcode

HEADER: struct.Struct = struct.Struct("<HBI")
HEADER_SIZE: int = REPLY_HEADER_SIZE  # 7
_FRAME_LENGTH = struct.Struct("<I")
_OPCODE = struct.Struct("<h")
_NUMBER_REPLY = struct.Struct("<HBIq")
_NUMBER = struct.Struct("<q")
_U32 = struct.Struct("<I")

_MASK64 = (1 << 64) - 1
_SIGN64 = 1 << 63

# Code-only replies are constant: 8 bytes each, built once.
_CODE_REPLIES = tuple(HEADER.pack(code, ENC_PLAIN, 1) + b"\0" for code in range(6))


def to_long(n: int) -> int:
    """Wrap an integer to a signed 64-bit C ``long``, as the server's
    arithmetic does (LONG_MAX + 1 == LONG_MIN)."""
    n &= _MASK64
    return n - (1 << 64) if n & _SIGN64 else n


def parse_frames(buf: Union[bytes, bytearray, memoryview], max_request_size: int
                 ) -> Tuple[List[Tuple[int, bytes]], int, bool]:
    """Split the complete request frames at the start of ``buf``.

    Returns ``(frames, consumed, bad)``: ``frames`` is a list of
    ``(opcode, payload)`` pairs in order, ``consumed`` the number of bytes
    they used, and ``bad`` is True when the frame after them carries a
    length the server refuses (below 2 or above ``max_request_size``), in
    which case the connection must be closed without a reply once the
    frames before it are answered (§8.3). An incomplete trailing frame is
    left in the buffer, whatever the boundary it was split at.
    """
    frames: List[Tuple[int, bytes]] = []
    pos = 0
    end = len(buf)
    unpack_length = _FRAME_LENGTH.unpack_from
    unpack_opcode = _OPCODE.unpack_from
    while end - pos >= 4:
        (length,) = unpack_length(buf, pos)
        if length < 2 or length > max_request_size:
            return frames, pos, True
        stop = pos + 4 + length
        if stop > end:
            break
        (opcode,) = unpack_opcode(buf, pos + 4)
        frames.append((opcode, bytes(buf[pos + 6:stop])))
        pos = stop
    return frames, pos, False


def parse_number(text: bytes) -> Optional[int]:
    """Parse ASCII ``text`` with the server's integer rules (§2.3).

    Returns the value wrapped to a signed 64-bit long, or None for NaN.
    A leading ``'0'`` means 0 whatever follows; a leading ``'-'`` negates
    (a lone ``'-'`` is 0); every other byte must be a digit; overflow
    wraps modulo 2**64 instead of failing.
    """
    if not text:
        # The server never parses an empty argument (it is a parse error
        # earlier), but stored text can never be empty either.
        return None
    first = text[0]
    if first == 0x30:  # '0'
        return 0
    if first == 0x2D:  # '-'
        digits = text[1:]
        sign = -1
    else:
        digits = text
        sign = 1
    if not digits:
        return 0
    # bytes.isdigit() is ASCII-only, exactly the server's '0'..'9' test.
    if not digits.isdigit():
        return None
    return to_long(sign * _digits_mod64(digits))


def _digits_mod64(digits: bytes) -> int:
    """The value of an ASCII digit string modulo 2**64.

    Long strings are folded in chunks: int() refuses more than 4300 digits
    on recent Pythons, and a stored value can be megabytes of digits.
    """
    if len(digits) <= 4000:
        return int(digits) & _MASK64
    n = 0
    for i in range(0, len(digits), 18):
        chunk = digits[i:i + 18]
        n = (n * 10 ** len(chunk) + int(chunk)) & _MASK64
    return n


def _scan(payload: bytes, start: int, budget_end: int) -> int:
    """Return the end of the token starting at ``start``: the first space,
    the end of the payload, or ``budget_end`` (the key-size budget),
    whichever comes first."""
    stop = payload.find(b" ", start, budget_end)
    if stop < 0:
        stop = min(len(payload), budget_end)
        if stop < start:
            stop = start
    return stop


def split_key(payload: bytes, max_key_size: int) -> Optional[bytes]:
    """Shape ``KEY`` (§2.2): the key ends at the first space, the end of the
    payload or after ``max_key_size`` bytes; the rest is ignored. Returns
    the key, or None when it is empty."""
    key = payload[:_scan(payload, 0, max_key_size)]
    return key or None


def split_key_value(payload: bytes, max_key_size: int, max_value_size: int
                    ) -> Optional[Tuple[bytes, bytes]]:
    """Shape ``KEY SP VALUE``: returns ``(key, value)`` or None on a parse
    error. The byte after the key is consumed as the separator whatever it
    is (so an over-long key loses one byte, §2.2); the value is everything
    after it, cut to ``max_value_size``. An empty key, an empty value or a
    missing separator is an error (the real server reads past its buffer
    on the last one; we refuse it)."""
    stop = _scan(payload, 0, max_key_size)
    if stop == 0 or stop + 1 >= len(payload):
        return None
    return payload[:stop], payload[stop + 1:stop + 1 + max_value_size]


def split_ttl_key_value(payload: bytes, max_key_size: int, max_value_size: int
                        ) -> Optional[Tuple[bytes, bytes, bytes]]:
    """Shape ``TTL SP KEY SP VALUE`` (SET): returns ``(ttl, key, value)`` or
    None. The TTL text and its separator count against the same
    ``max_key_size`` budget as the key."""
    ttl_stop = _scan(payload, 0, max_key_size)
    if ttl_stop == 0:
        return None
    key_start = ttl_stop + 1
    key_stop = _scan(payload, key_start, max_key_size)
    if key_stop <= key_start or key_stop + 1 >= len(payload):
        return None
    return (
        payload[:ttl_stop],
        payload[key_start:key_stop],
        payload[key_stop + 1:key_stop + 1 + max_value_size],
    )


def split_key_option(payload: bytes, max_key_size: int, max_value_size: int
                     ) -> Optional[Tuple[bytes, Optional[bytes]]]:
    """Shape ``KEY [SP VALUE]`` (MGET and its limit): returns
    ``(key, value_or_None)``, or None on a parse error (empty key, or a
    separator followed by nothing)."""
    stop = _scan(payload, 0, max_key_size)
    if stop == 0:
        return None
    if stop >= len(payload):
        return payload[:stop], None
    value = payload[stop + 1:stop + 1 + max_value_size]
    if not value:
        return None
    return payload[:stop], value


def reply_code(code: int) -> bytes:
    """An 8-byte code-only reply (codes 0-5)."""
    return _CODE_REPLIES[code]


def reply_plain(value: bytes) -> bytes:
    """``REPL_VAL`` with a PLAIN payload."""
    return HEADER.pack(REPL_VAL, ENC_PLAIN, len(value)) + value


def reply_number(n: int) -> bytes:
    """``REPL_VAL`` with an 8-byte little-endian NUMBER payload."""
    return _NUMBER_REPLY.pack(REPL_VAL, ENC_NUMBER, 8, n)


def pack_number(n: int) -> bytes:
    """The 8-byte little-endian form of a server ``long``."""
    return _NUMBER.pack(n)


def kv_payload(count: int, pairs: Iterable[Tuple[bytes, int, bytes]]) -> bytes:
    """Build a key-value set payload (§3.4).

    ``pairs`` yields ``(key, encoding, value_bytes)``; ``count`` is written
    as given, which lets the caller reproduce the MGET count/pairs
    mismatch when asked to.
    """
    u32 = _U32.pack
    parts = [u32(count)]
    append = parts.append
    for key, encoding, value in pairs:
        append(u32(len(key)))
        append(key)
        append(bytes((encoding,)))
        append(u32(len(value)))
        append(value)
    return b"".join(parts)


def reply_kv(payload: bytes) -> bytes:
    """``REPL_KVAL`` around a payload from :func:`kv_payload`."""
    return HEADER.pack(REPL_KVAL, ENC_PLAIN, len(payload)) + payload
