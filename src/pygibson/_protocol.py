"""The Gibson wire protocol in pure Python: the twin of libgibsonclient's
``protocol.c``, and no I/O at all.

- :func:`encode_request` validates a request exactly as ``gb_encode`` does
  (the same checks in the same order, the same words) and returns its
  whole frame, ``uint32 length | int16 opcode | payload``, as one bytes
  object, so that a caller can hand it to the kernel in one write (§8.1).
- :class:`ReplyBuffer` cuts received bytes into replies, checking each
  header as soon as its 7 bytes are here (``gb_reader``).
- :func:`iter_pairs` walks a key-value set (``gb_kv_begin``/``gb_kv_next``).
- :func:`interpret` turns a reply into what ``Client`` returns for its
  operation (``_ops.c``), and :class:`Reader` puts these together for
  callers that do their own I/O (asyncio, aiogibson's API).

Section numbers (§) refer to the protocol description (PROTOCOL.md).
"""

import codecs
import collections
import struct
from typing import NamedTuple, Optional

from . import _convert
from ._operations import lookup
from .exceptions import (
    ArgumentError,
    LockedError,
    NaNError,
    NoMemoryError,
    NotFoundError,
    PartialResultError,
    ProtocolError,
    ServerError,
    ValueTruncatedError,
)

__all__ = [
    "DEFAULT_HOST", "DEFAULT_PORT", "TTL_MAX", "DEFAULT_MAX_KEY_SIZE",
    "DEFAULT_MAX_REQUEST_SIZE", "DEFAULT_MAX_REPLY_SIZE",
    "FRAME_HEADER_SIZE", "REPLY_HEADER_SIZE",
    "REPL_ERR", "REPL_ERR_NOT_FOUND", "REPL_ERR_NAN", "REPL_ERR_MEM", "REPL_ERR_LOCKED",
    "REPL_OK", "REPL_VAL", "REPL_KVAL", "ENC_PLAIN", "ENC_LZF", "ENC_NUMBER",
    "Limits", "DEFAULT_LIMITS", "Reply", "encode_request", "encode_command",
    "decode_number", "iter_pairs", "ReplyBuffer", "interpret", "refusal", "Reader",
]

# ---- Wire constants (gibson.h) ---------------------------------------------

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 10128
#: The server's compiled defaults (§9.1).
DEFAULT_MAX_KEY_SIZE = 512
DEFAULT_MAX_REQUEST_SIZE = 4194304
#: Our own cap on one reply: a larger size field is treated as garbage.
DEFAULT_MAX_REPLY_SIZE = 64 * 1024 * 1024
#: The server keeps TTLs in a signed 16-bit field (§5): only these survive.
TTL_MAX = 32767

FRAME_HEADER_SIZE = 6  # uint32 length + int16 opcode
REPLY_HEADER_SIZE = 7  # uint16 code + uint8 encoding + uint32 size

REPL_ERR = 0
REPL_ERR_NOT_FOUND = 1
REPL_ERR_NAN = 2
REPL_ERR_MEM = 3
REPL_ERR_LOCKED = 4
REPL_OK = 5
REPL_VAL = 6
REPL_KVAL = 7

ENC_PLAIN = 0
ENC_LZF = 1  # never valid on the wire (§3.2)
ENC_NUMBER = 2

#: The library words its errors into a 256-byte buffer; messages are cut
#: where it cuts them, so that both implementations say the same.
MESSAGE_MAX = 255

_UINT32_MAX = 0xFFFFFFFF
_META_FIELDS = (b"size", b"encoding", b"access", b"created", b"ttl", b"left", b"lock")


def clip(message):
    """A library message as its fixed-size buffer keeps it."""
    if len(message) <= MESSAGE_MAX:
        return message
    return message.encode("utf-8")[:MESSAGE_MAX].decode("utf-8", "ignore")


# ---- Encoding requests ---------------------------------------------------------


class Limits(NamedTuple):
    """What a request is checked against before it is sent (``gb_limits``).
    0 means "not checked" for the three sizes."""

    max_key_size: int = DEFAULT_MAX_KEY_SIZE
    max_request_size: int = DEFAULT_MAX_REQUEST_SIZE
    max_value_size: int = 0
    #: Refuse TTLs outside 0..TTL_MAX, which the server would wrap (§5).
    strict_ttl: bool = True


DEFAULT_LIMITS = Limits()

_FRAME_HEAD = struct.Struct("<Ih")
#: The space as an int: ``bytes.__contains__`` tries its argument as a byte
#: value first, and a bytes argument costs it a TypeError made and dropped.
_SPACE = 0x20


def _check_key(op, key, limits, ttl_text_len):
    what = "prefix" if op.prefix else "key"
    if not key:
        raise ArgumentError(clip(
            "%s needs a non-empty %s; the server refuses an empty one%s"
            % (op.command, what, " (there is no 'match everything' prefix)" if op.prefix else "")))
    space = key.find(b" ")
    if space >= 0:
        raise ArgumentError(clip(
            "%s contains a space (0x20) at byte %d, which the server treats as a separator; "
            "%ss cannot contain spaces" % (what, space, what)))
    budget = limits.max_key_size
    if budget == 0:
        return
    if op.shape == "SET":
        # The TTL text and its space share the key's scan budget (§2.2).
        budget = budget - ttl_text_len - 1 if budget > ttl_text_len + 1 else 0
        if len(key) > budget:
            raise ArgumentError(clip(
                "key is %d bytes; with this TTL SET allows at most %d (max_key_size %d less "
                "the %d-byte TTL and its space), and the server would silently cut a longer "
                "key; use a shorter key" % (len(key), budget, limits.max_key_size, ttl_text_len)))
    elif len(key) > budget:
        raise ArgumentError(clip(
            "%s is %d bytes, over max_key_size %d; the server would silently cut it, so use a "
            "shorter %s (or raise max_key_size to match the server)"
            % (what, len(key), budget, what)))


def _check_number(op, number, limits):
    shape = op.shape
    if shape in ("SET", "KEY_TTL"):
        if limits.strict_ttl and not 0 <= number <= TTL_MAX:
            raise ArgumentError(clip(
                "TTL %d is outside 0..%d: the server keeps TTLs in 16 bits, so larger values "
                "wrap (65537 expires after 1 s) and negative ones never expire; use 0 for no "
                "expiry, or turn strict_ttl off to send it anyway" % (number, TTL_MAX)))
    elif shape == "KEY_LOCK":
        if number < -1:
            raise ArgumentError(clip(
                "lock time %d is below -1, which the server stores as a lock that does "
                "nothing; use -1 to lock until UNLOCK, or seconds" % number))
    elif shape == "KEY_LIMIT":
        if number is not None and number < 1:
            raise ArgumentError(clip(
                "MGET limit %d is below 1; leave the limit out to get every match" % number))


def _printable(data):
    """Caller bytes made safe to quote in a message (at most 39 of them)."""
    return "".join(chr(b) if 0x20 <= b < 0x7F else "?" for b in data[:39])


def _check_value(op, value, limits):
    is_meta = op.shape == "KEY_FIELD"
    if not value:
        if is_meta:
            raise ArgumentError("META needs a field: one of size, encoding, access, created, "
                                "ttl, left, lock")
        raise ArgumentError(clip("%s needs a non-empty value; the server cannot store an "
                                 "empty one" % op.command))
    if is_meta:
        if value in _META_FIELDS:
            return
        raise ArgumentError(clip(
            "META field '%s' is not one of size, encoding, access, created, ttl, left, lock; "
            "the server matches prefixes, so anything else may select the wrong field"
            % _printable(value)))
    if limits.max_value_size and len(value) > limits.max_value_size:
        raise ArgumentError(clip(
            "value is %d bytes, over max_value_size %d; the server would silently truncate it"
            % (len(value), limits.max_value_size)))


def _payload(op, key, value, num):
    """The payload's parts, in the order the server reads them (§2.2)."""
    shape = op.shape
    if shape == "EMPTY":
        return ()
    if shape == "KEY":
        return (key,)
    if shape == "KEY_LIMIT":
        return (key,) if num is None else (key, num)
    if shape == "SET":
        return (num, key, value)
    if shape in ("KEY_VALUE", "KEY_FIELD"):
        return (key, value)
    return (key, num)  # KEY_TTL, KEY_LOCK


def encode_request(op, key=None, value=None, number=None, limits=DEFAULT_LIMITS):
    """The whole frame of one request, after every check ``gb_encode``
    makes, in its order; ArgumentError saying why otherwise.

    ``key`` and ``value`` are bytes (``value`` is META's field name too);
    ``number`` the TTL, lock time or MGET limit (None: no limit)."""
    shape = op.shape
    if shape == "KEY" and key and len(key) <= limits.max_key_size \
            and _SPACE not in key and (not limits.max_request_size
                                     or len(key) + 2 <= limits.max_request_size):
        # The commonest request (GET, INC, DEL, ...): nothing else to check.
        return _FRAME_HEAD.pack(len(key) + 2, op.opcode) + key
    num = None
    if number is None and shape in ("SET", "KEY_TTL", "KEY_LOCK"):
        number = 0  # as an unset gb_request.number
    if number is not None and shape not in ("EMPTY", "KEY", "KEY_VALUE", "KEY_FIELD"):
        # Canonical decimal: the server reads "012" as 0 (§2.3).
        num = b"%d" % number
    if shape != "EMPTY":
        _check_key(op, key, limits, len(num) if num is not None else 1)
    if num is not None:
        _check_number(op, number, limits)
    if shape in ("SET", "KEY_VALUE", "KEY_FIELD"):
        _check_value(op, value, limits)
    payload = b" ".join(_payload(op, key, value, num))
    frame = 2 + len(payload)
    if frame > _UINT32_MAX or (limits.max_request_size and frame > limits.max_request_size):
        raise ArgumentError(clip(
            "%s request is too large for one frame (max_request_size %d); the server would "
            "drop the connection, so send a smaller value"
            % (op.command, limits.max_request_size)))
    return _FRAME_HEAD.pack(frame, op.opcode) + payload


#: The operation a command names: see pygibson._operations.lookup.
find_operation = lookup


def encode_command(*args):
    """encode_command(command, *args)

    One request frame, aiogibson-style: ``command`` is a wire name
    (``b'set'``, ``'DEL'``, ``b'end'``), a method name (``'dl'``, ``'quit'``)
    or an opcode, and ``args`` follow in the order the server reads them
    (SET: ttl, key, value). Arguments are converted and checked as
    ``Client`` checks them, with its default limits::

        encode_command(b'set', 3600, 'foo', 3.14)
        == b'\x0f\x00\x00\x00\x01\x003600 foo 3.14'
    """
    if not args:
        raise TypeError("encode_command() needs a command")
    op = find_operation(args[0])
    args = args[1:]
    wire = op.wire_params
    # An optional parameter can be left out only at the end (MGET's limit):
    # SET's ttl, first on the wire, must be given.
    least = max((i + 1 for i, p in enumerate(wire) if p.required), default=0)
    if not least <= len(args) <= len(wire):
        count = ("%d argument%s" % (least, "" if least == 1 else "s") if least == len(wire)
                 else "%d to %d arguments" % (least, len(wire)))
        names = " (%s)" % ", ".join(p.name for p in wire) if wire else ""
        raise TypeError("encode_command(%s) takes %s in wire order%s, %d given"
                        % (op.command, count, names, len(args)))
    by_name = {p.name: obj for p, obj in zip(wire, args)}
    key, value, number = _convert.prepare(op, [by_name[p.name] for p in op.params
                                               if p.name in by_name], {})
    return encode_request(op, key, value, number, DEFAULT_LIMITS)


# ---- Parsing replies -------------------------------------------------------------


class Reply(NamedTuple):
    """One reply: its code, encoding, payload and, for a NUMBER, its value."""

    code: int
    encoding: int
    data: bytes
    number: Optional[int] = None


_HEADER = struct.Struct("<HBI")
_U32 = struct.Struct("<I")
_NUMBER_WIDTHS = (1, 2, 4, 8)


def decode_number(data):
    """A NUMBER payload of 1, 2, 4 or 8 bytes, signed little-endian (§3.3),
    or None for any other width."""
    if len(data) not in _NUMBER_WIDTHS:
        return None
    return int.from_bytes(data, "little", signed=True)


def check_header(code, encoding, size, cap):
    """Every check of a 7-byte header, in ``check_header_fully``'s order:
    ProtocolError saying what is wrong."""
    if code > REPL_KVAL:
        raise ProtocolError(clip(
            "reply code %d is not a Gibson reply (0..7): the connection is out of step or the "
            "peer is not a Gibson server" % code))
    if encoding != ENC_PLAIN and encoding != ENC_NUMBER:
        raise ProtocolError(clip(
            "reply encoding %d is invalid on the wire (only 0 plain and 2 number; the server "
            "always decompresses LZF)" % encoding))
    if code == REPL_KVAL and encoding != ENC_PLAIN:
        raise ProtocolError("key-value reply with encoding %d instead of 0" % encoding)
    if size > cap:
        raise ProtocolError(clip(
            "reply announces %d bytes, over max_reply_size %d; raise max_reply_size if values "
            "are really this large, or use an MGET limit" % (size, cap)))
    if code == REPL_VAL and encoding == ENC_NUMBER and size not in _NUMBER_WIDTHS:
        raise ProtocolError("number reply of %d bytes; only 1, 2, 4 or 8 are valid" % size)


def _cut_short(index, part):
    return ProtocolError("key-value pair %d is cut short in its %s" % (index, part))


def iter_pairs(payload):
    """The pairs of a key-value set (§3.4) as (key bytes, value bytes or
    int). The server's MGET may announce more pairs than it sends: a
    payload that ends cleanly between pairs ends the set (``gb_kv_next``).
    ProtocolError for a pair cut short, a bad encoding or number width, or
    bytes after the last announced pair."""
    size = len(payload)
    if size < 4:
        raise ProtocolError("key-value reply of %d bytes is too short for its 4-byte count"
                            % size)
    (count,) = _U32.unpack_from(payload, 0)
    pos = 4
    for index in range(count):
        left = size - pos
        if left == 0:
            return
        if left < 4:
            raise _cut_short(index, "key length")
        (key_len,) = _U32.unpack_from(payload, pos)
        pos += 4
        if size - pos < key_len:
            raise _cut_short(index, "key")
        key = payload[pos:pos + key_len]
        pos += key_len
        if size - pos < 5:
            raise _cut_short(index, "value header")
        encoding = payload[pos]
        (value_len,) = _U32.unpack_from(payload, pos + 1)
        pos += 5
        if size - pos < value_len:
            raise _cut_short(index, "value")
        if encoding != ENC_PLAIN and encoding != ENC_NUMBER:
            raise ProtocolError("key-value pair %d has encoding %d" % (index, encoding))
        value = payload[pos:pos + value_len]
        pos += value_len
        if encoding == ENC_NUMBER:
            number = decode_number(value)
            if number is None:
                raise ProtocolError("key-value pair %d holds a %d-byte number; only 1, 2, 4 "
                                    "or 8 are valid" % (index, value_len))
            value = number
        yield key, value
    if pos != size:
        raise ProtocolError("%d bytes follow the %d key-value pairs the reply announced"
                            % (size - pos, count))


#: Capacity beyond which an emptied buffer gives its memory back, and how
#: much may be consumed before the consumed part is dropped.
_KEEP = 8 * 1024 * 1024
_COMPACT_AT = 64 * 1024


class ReplyBuffer:
    """Received bytes, cut into replies (the twin of ``gb_reader``). Bytes
    may arrive in any split; consumed ones are dropped now and then, not on
    every reply, so that many small replies cost no quadratic copying."""

    __slots__ = ("_buf", "_pos", "max_reply_size")

    def __init__(self, max_reply_size=DEFAULT_MAX_REPLY_SIZE):
        self._buf = bytearray()
        self._pos = 0
        self.max_reply_size = max_reply_size or DEFAULT_MAX_REPLY_SIZE

    @property
    def buffered(self):
        """Received bytes not yet returned as replies."""
        return len(self._buf) - self._pos

    def feed(self, data):
        buf = self._buf
        if self._pos and (self._pos >= _COMPACT_AT or self._pos == len(buf)):
            del buf[:self._pos]
            self._pos = 0
        buf += data

    def reset(self):
        """Forget every buffered byte (after a broken connection)."""
        if len(self._buf) > _KEEP:
            self._buf = bytearray()
        else:
            del self._buf[:]
        self._pos = 0

    def head(self):
        """The next reply's (code, encoding, size, complete), None while
        its header is incomplete; ProtocolError for a bad header, found as
        soon as its 7 bytes are here, before anything waits for a payload
        that may be huge."""
        buf, pos = self._buf, self._pos
        have = len(buf) - pos
        if have < REPLY_HEADER_SIZE:
            return None
        code, encoding, size = _HEADER.unpack_from(buf, pos)
        if code > REPL_KVAL or size > self.max_reply_size or (
                encoding != ENC_PLAIN
                and (encoding != ENC_NUMBER or code != REPL_VAL
                     or size not in _NUMBER_WIDTHS)):
            check_header(code, encoding, size, self.max_reply_size)
        return code, encoding, size, have - REPLY_HEADER_SIZE >= size

    def next(self):
        """The next complete reply, None when more bytes are needed."""
        head = self.head()
        if head is None or not head[3]:
            return None
        code, encoding, size, _ = head
        start = self._pos + REPLY_HEADER_SIZE
        data = bytes(self._buf[start:start + size])
        self._pos = start + size
        return make_reply(code, encoding, data)

    def take_started(self, size):
        """Take the reply under way, whose header ``head()`` returned and
        whose payload of ``size`` bytes is not all here, out of the buffer:
        a bytearray of the payload's full size holding the part that is
        here, and that part's length. The caller receives the rest straight
        into it: a large value is then not copied for every chunk read."""
        start = self._pos + REPLY_HEADER_SIZE
        part = len(self._buf) - start
        payload = bytearray(size)
        payload[:part] = self._buf[start:]
        del self._buf[:]
        self._pos = 0
        return payload, part


def make_reply(code, encoding, data):
    """A Reply from a checked header's code and encoding and its payload."""
    if encoding == ENC_NUMBER and code == REPL_VAL:
        return Reply(code, encoding, data, int.from_bytes(data, "little", signed=True))
    return Reply(code, encoding, data)


# ---- What a reply means for its operation (_ops.c, _errors.c) --------------------

_REFUSALS = {
    REPL_ERR_NAN: (NaNError, "a number was expected: the stored value (or the argument) "
                             "is not an integer"),
    REPL_ERR_MEM: (NoMemoryError, "the server is over its max_memory and refuses to store "
                                  "more; free some keys or raise max_memory"),
    REPL_ERR_LOCKED: (LockedError, "the item is locked; unlock it or wait for the lock to "
                                   "expire"),
}


def _shown_key(key):
    """The key as Python shows bytes, shortened: messages stay one line."""
    if len(key) <= 60:
        return repr(key)
    return "%r... (%d bytes)" % (key[:60], len(key))


def refusal(code, op=None, key=None):
    """The exception (not raised) for a refusal code 0..4, naming the
    operation and its key when known."""
    if code == REPL_ERR_NOT_FOUND:
        cls = NotFoundError
        what = ("no key matches this prefix, or none the operation could apply to "
                "(locked, expired or not a number); make the client with "
                "empty_when_no_match=True to get an empty result instead"
                if op is not None and op.prefix
                else "no such key (it is missing or has expired)")
    else:
        cls, what = _REFUSALS.get(code, (ServerError, "the server refused the request "
                                                      "(REPL_ERR)"))
    if op is None:  # a reply decoded on its own (an untyped Reader)
        return cls("the server answered %d: %s" % (code, what))
    if key is None:
        return cls("%s: %s" % (op.command, what))
    return cls("%s %s: %s" % (op.command, _shown_key(key), what))


class Unexpected(Exception):
    """A reply whose kind does not fit its operation: the stream cannot be
    trusted any more. Callers turn it into ProtocolError, adding what they
    did about it (the client: "; the connection was closed")."""


def _unexpected(op, reply):
    return Unexpected("%s: unexpected reply (code %d, encoding %d, %d bytes)"
                      % (op.command, reply.code, reply.encoding, len(reply.data)))


def _plain(data, encoding):
    return data if encoding is None else data.decode(encoding)


def _dict(pairs, encoding):
    # Keys as str, as the old pygibson gave them; bytes that are not UTF-8
    # survive as surrogates and encode back to the same key.
    return {key.decode("utf-8", "surrogateescape"):
            value if type(value) is int or encoding is None else value.decode(encoding)
            for key, value in pairs}


def _list(pairs, encoding):
    # KEYS lists key names: like mget()'s keys, they survive bytes the
    # encoding cannot decode.
    return [value if type(value) is int or encoding is None
            else value.decode(encoding, "surrogateescape")
            for _, value in pairs]


def _key_value_result(op, payload, key, encoding):
    """The dict or list of a key-value set, or, when it carried fewer pairs
    than it announced (§3.4), the PartialResultError holding them: never a
    short result in silence."""
    pairs = list(iter_pairs(payload))
    result = (_dict if op.result == "dict" else _list)(pairs, encoding)
    (announced,) = _U32.unpack_from(payload, 0)
    if len(pairs) == announced:
        return result
    return PartialResultError(
        "%s%s%s: the server announced %d pairs but sent %d; Gibson 1.2.1 stops at an "
        "expired item it has not freed yet (section 3.4 of docs/protocol.md). .partial "
        "holds the pairs that arrived"
        % (op.command, "" if key is None else " ", "" if key is None else _shown_key(key),
           announced, len(pairs)), result, announced, len(pairs))


_EMPTY = {"count": lambda: 0, "dict": dict, "list": list}


def oversized_reply_hint(op):
    """What to add to "the server closed the connection" after ``op``: the
    server answers a key-value reply larger than its max_response_size by
    closing the connection without a word (§8.4), so after MGET, KEYS or
    STATS that is named as a likely cause, with what to do (the extension
    says it in raise_call_error, word for word). None for other operations."""
    if op.result not in ("dict", "list"):
        return None
    advice = ("match fewer keys (a longer prefix, or mget's limit) or raise "
              "max_response_size on the server" if op.prefix
              else "raise max_response_size on the server")
    return ("the reply to this %s may also have been larger than the server's "
            "max_response_size, which closes the connection instead of answering: %s"
            % (op.command, advice))


def pipeline_failure_message(message, count, sent, received, due=None):
    """What a pipeline that broke says (the extension's
    raise_pipeline_failure): ``message``, how far it got, and
    oversized_reply_hint when the server hung up where the reply of
    ``due`` (an MGET, KEYS or STATS) was awaited (None: not that case)."""
    text = ("%s (pipeline of %d operations: %d sent, %d replies received; the rest were not "
            "executed or their outcome is unknown)" % (message, count, sent, received))
    hint = None if due is None else oversized_reply_hint(due)
    return text if hint is None else "%s; %s" % (text, hint)


def name_key_in_decode_error(error, op, key):
    """The UnicodeDecodeError says which value failed and what to do
    (as the extension's ``name_key_in_decode_error``); its class and fields stay."""
    error.reason = "%s, in the reply to %s%s%s; make the client with encoding=None to get " \
                   "bytes" % (error.reason, op.command, "" if key is None else " ",
                              "" if key is None else _shown_key(key))


def interpret(op, reply, key=None, value_len=0, encoding=None, empty_when_no_match=False):
    """What ``Client`` returns for ``reply`` to ``op`` (``key`` and
    ``value_len`` are the request's, for messages and SET's truncation
    check). A server refusal comes back as the exception instance, not
    raised; with ``empty_when_no_match`` the prefix operations answered
    "not found" give 0, {} or []. A
    reply that does not fit the operation raises :class:`Unexpected`; a
    garbled key-value set ProtocolError; a value the encoding cannot decode
    UnicodeDecodeError."""
    code = reply.code
    result = op.result
    if code == REPL_VAL:
        if result == "value":
            return reply.number if reply.number is not None else _plain(reply.data, encoding)
        if result in ("number", "count"):
            if reply.number is not None:
                return reply.number
        elif result == "set" and reply.number is None:
            if len(reply.data) < value_len:
                return ValueTruncatedError(
                    "SET %r: the server stored only %d of the %d bytes sent (its "
                    "max_value_size is smaller); the truncated value is now in the cache: "
                    "delete it, or raise max_value_size on the server"
                    % (key, len(reply.data), value_len), value_len, len(reply.data))
            return None
    elif code <= REPL_ERR_LOCKED:
        if code == REPL_ERR_NOT_FOUND and empty_when_no_match and result in _EMPTY:
            return _EMPTY[result]()
        return refusal(code, op, key)
    elif code == REPL_OK:
        if result in ("none", "quit"):
            return None
    elif result == "dict" or result == "list":  # REPL_KVAL
        return _key_value_result(op, reply.data, key, encoding)
    raise _unexpected(op, reply)



# ---- Reader: replies from bytes a caller received itself ------------------------


def _known_encoding(encoding):
    """An encoding option checked as Client checks it."""
    if encoding is None:
        return None
    if not isinstance(encoding, str):
        raise TypeError("encoding must be a str or None, not %.100s"
                        % _convert.type_name(type(encoding)))
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ArgumentError("unknown encoding %r" % encoding) from None
    return encoding


def size_option(obj, name, none_ok=False):
    """A size option in bytes (1..2**32-1), or 0 for None where allowed."""
    if obj is None and none_ok:
        return 0
    if isinstance(obj, bool) or not isinstance(obj, int):
        raise TypeError("%s must be an int%s, not %.100s"
                        % (name, " or None" if none_ok else "", _convert.type_name(type(obj))))
    if not 1 <= obj <= _UINT32_MAX:
        raise ArgumentError("%s must be between 1 and %d bytes" % (name, _UINT32_MAX))
    return int(obj)


def _untyped(reply, encoding):
    """A reply by its code and encoding alone, as aiogibson's reader gives
    it: OK True, not found None, refusals as exception instances, values,
    and key-value sets as a flat [key, value, ...] list (with an encoding,
    keys decoded as values are, and plain values as KEYS' names are, so
    that bytes it cannot decode survive)."""
    code = reply.code
    if code == REPL_OK:
        return True
    if code == REPL_ERR_NOT_FOUND:
        return None
    if code <= REPL_ERR_LOCKED:
        return refusal(code)
    if code == REPL_VAL:
        return reply.number if reply.number is not None else _plain(reply.data, encoding)
    flat = []
    for key, value in iter_pairs(reply.data):
        flat.append(_plain(key, encoding))
        flat.append(value if encoding is None or type(value) is int
                    else value.decode(encoding, "surrogateescape"))
    return flat


def _ssize(obj, name):
    """A Py_ssize_t argument as the extension's parser takes it ("n")."""
    if isinstance(obj, float) or not hasattr(type(obj), "__index__"):
        raise TypeError("'%.200s' object cannot be interpreted as an integer"
                        % _convert.type_name(type(obj)))
    value = obj.__index__()
    if not -(1 << 63) <= value < (1 << 63):
        raise OverflowError("Python int too large to convert to C ssize_t")
    return value


class Reader:
    """Reader(encoding=None, *, typed=True, max_reply_size=67108864, empty_when_no_match=False)

    Decodes Gibson replies from bytes you feed it; does no I/O.

    A typed Reader decodes each reply as the operation expect()ed for it,
    with the same results and exceptions as Client. typed=False decodes by
    code alone, as aiogibson's Reader: OK is True, not found None, other
    refusals exception instances, values bytes (str with an encoding) or
    int, key-value sets a flat list [key, value, ...].
    """

    __slots__ = ("_replies", "_expected", "_encoding", "_typed", "_broken",
                 "_empty_when_no_match")

    def __init__(self, encoding=None, *, typed=True, max_reply_size=DEFAULT_MAX_REPLY_SIZE,
                 empty_when_no_match=False):
        typed = bool(typed)
        self._empty_when_no_match = bool(empty_when_no_match)
        max_reply_size = _ssize(max_reply_size, "max_reply_size")
        self._encoding = _known_encoding(encoding)
        if max_reply_size < 1:
            raise ArgumentError("max_reply_size must be at least 1, not %d" % max_reply_size)
        self._typed = typed
        self._replies = ReplyBuffer(max_reply_size)
        # (operation, key, value length) of each reply due, in order.
        self._expected = collections.deque()
        self._broken = False

    @property
    def buffered(self):
        """Bytes fed but not yet returned as replies."""
        return self._replies.buffered

    @property
    def expected(self):
        """Operations whose replies are still due."""
        return len(self._expected)

    @property
    def typed(self):
        """Whether replies are decoded by their operation."""
        return self._typed

    @property
    def encoding(self):
        """The encoding values are decoded with."""
        return self._encoding

    @property
    def empty_when_no_match(self):
        """Whether a typed Reader gives prefix operations that match nothing
        {}, [] or 0 instead of NotFoundError."""
        return self._empty_when_no_match

    def feed(self, data):
        """Add received bytes (any bytes-like object, any split)."""
        if type(data) is not bytes:
            try:
                view = memoryview(data)
            except TypeError:
                raise TypeError("feed() takes a bytes-like object, not %.100s"
                                % _convert.type_name(type(data))) from None
            with view:
                if not view.c_contiguous:
                    raise BufferError("memoryview: underlying buffer is not C-contiguous")
                data = view.tobytes()
        self._replies.feed(data)

    def expect(self, *args, **kwargs):
        """expect(operation, key=None, value_size=0)

        Queue the operation whose reply comes next after those already
        expected: a name (b'get', 'dl', 'DEL'), an opcode or an Operation.
        key is the request's key, for error messages; value_size the length
        of a SET's value, to detect truncation."""
        operation, key, value_size = _expect_arguments(args, kwargs)
        if not self._typed:
            raise TypeError("expect() is for a typed Reader; an untyped one (typed=False) "
                            "decodes each reply by its code alone")
        if operation is _MISSING:
            raise TypeError("expect() missing required argument 'operation'")
        op = find_operation(operation)
        key = None if key is _MISSING or key is None else _convert.key_bytes(key, "key")
        value_len = 0
        if value_size is not _MISSING:
            value_len = _convert.int64(value_size, "value_size")
            if value_len < 0:
                raise ArgumentError("value_size must not be negative")
        self._expected.append((op, key, value_len))

    def reset(self):
        """Forget buffered bytes and expected operations."""
        self._replies.reset()
        self._expected.clear()
        self._broken = False

    def gets(self, *args, **kwargs):
        """gets(raise_on_error=True)

        The next reply, decoded as Client would return it, or False when
        more bytes are needed. A refusal raises its exception (returned
        instead with raise_on_error=False); a garbled reply raises
        ProtocolError and leaves the reader unusable until reset()."""
        if len(args) + len(kwargs) > 1 or (kwargs and "raise_on_error" not in kwargs):
            raise TypeError("gets() takes one argument, raise_on_error")
        raise_on_error = bool(args[0] if args else kwargs.get("raise_on_error", True))
        if self._broken:
            raise ProtocolError("this Reader met a garbled reply and cannot tell where the "
                                "next one starts; call reset() (and drop the connection it "
                                "read from)")
        try:
            reply = self._replies.next()
            if reply is None:
                return False
            result = self._decode(reply)
        except Unexpected as error:
            self._broken = True
            raise ProtocolError("%s; the connection was closed" % error) from None
        except ProtocolError:
            # A garbled key-value set too: the framing held, but a peer that
            # sends one is not to be trusted with the next reply.
            self._broken = True
            raise
        if raise_on_error and self._typed and isinstance(result, Exception):
            raise result
        return result

    def _decode(self, reply):
        if not self._typed:
            return _untyped(reply, self._encoding)
        if not self._expected:
            raise ProtocolError(
                "a reply arrived that no request expects (code %d, %d bytes): the stream is "
                "out of step; call expect() before each request is sent"
                % (reply.code, len(reply.data)))
        op, key, value_len = self._expected.popleft()
        try:
            return interpret(op, reply, key, value_len, self._encoding,
                             self._empty_when_no_match)
        except UnicodeDecodeError as error:
            name_key_in_decode_error(error, op, key)
            raise


_EXPECT_PARAMS = ("operation", "key", "value_size")
_MISSING = object()


def _expect_arguments(args, kwargs):
    """expect()'s arguments bound as the extension binds them."""
    if len(args) > 3:
        raise TypeError("expect() takes at most 3 arguments (%d given)" % len(args))
    slots = list(args) + [_MISSING] * (3 - len(args))
    for name, obj in kwargs.items():
        if name not in _EXPECT_PARAMS or slots[_EXPECT_PARAMS.index(name)] is not _MISSING:
            raise TypeError("expect() got an unexpected or repeated argument %r" % name)
        slots[_EXPECT_PARAMS.index(name)] = obj
    return slots
