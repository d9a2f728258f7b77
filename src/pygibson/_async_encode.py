"""Request frames for the asyncio client, checked against the client's limits.

With the default limits (the usual case) a frame is ``encode_command``'s:
the very checks and words of ``Client``, at C speed. A client with other
limits (a bigger ``max_key_size``, ``strict_ttl=False``, a
``max_value_size``...) cannot use ``encode_command``, whose limits are
fixed; its arguments are checked by queueing them on a pipeline of an
unconnected ``Client`` made with the same limits (which refuses exactly
what that Client would, with the same exceptions and messages, and sends
nothing), and the frame is then built here. The wire format is two lines
of code (docs/protocol.md §2.1, §2.2); the checks are not duplicated.
"""

import struct

from ._compat import encode_command
from ._operations import OPERATIONS

__all__ = ["DEFAULT_LIMITS", "make_encoder", "value_size"]

#: (max_key_size, max_value_size, max_request_size, strict_ttl) of Client().
DEFAULT_LIMITS = (512, None, 4194304, True)

_HEAD = struct.Struct("<Ih")
_BY_COMMAND = {op.command.lower().encode(): op for op in OPERATIONS}


_NUMBER_KINDS = frozenset(("ttl", "seconds", "limit"))


def _text(kind, obj):
    """An argument's bytes on the wire, for an argument already checked."""
    if kind in _NUMBER_KINDS:
        return b"%d" % obj  # canonical decimal (§2.3), whatever the int subclass
    if isinstance(obj, bytes):
        return obj
    if isinstance(obj, str):
        # As the extension does: surrogate escapes stand for the bytes
        # 0x80..0xFF, so that keys read back undecodable round-trip.
        return obj.encode("utf-8", "surrogateescape")
    if isinstance(obj, (int, float)):
        # A value's decimal text, as Client sends it: the number's, not a
        # subclass's own __str__.
        return (int.__repr__(obj) if isinstance(obj, int) else float.__repr__(obj)).encode(
            "ascii")
    return bytes(memoryview(obj))


def make_encoder(validator, limits):
    """``encode(command, *wire_args) -> bytes`` for a client whose limits
    are ``limits`` (as ``DEFAULT_LIMITS``); ``validator`` is an unconnected
    ``Client`` made with those limits."""
    if tuple(limits) == DEFAULT_LIMITS:
        return encode_command
    pipe = validator.pipeline()

    def encode(command, *wire_args):
        op = _BY_COMMAND[command]
        by_name = dict(zip((p.name for p in op.wire_params), wire_args))
        method_args = [by_name[p.name] for p in op.params if p.name in by_name]
        try:
            # Raises what Client would, before anything is sent.
            getattr(pipe, op.name)(*method_args)
        finally:
            pipe.reset()
        payload = b" ".join(_text(param.kind, arg) for param, arg in zip(op.wire_params, wire_args)
                            if arg is not None)
        return _HEAD.pack(2 + len(payload), op.opcode) + payload

    return encode


def value_size(frame):
    """The length of a SET frame's value, for the reader's truncation
    check: the bytes after the payload's second space (neither the TTL nor
    the key can hold one)."""
    return len(frame) - frame.index(b" ", frame.index(b" ", 6) + 1) - 1
