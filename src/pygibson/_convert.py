"""Python arguments to the bytes and numbers of a request: the pure-Python
twin of ``_convert.c`` and of the argument binding in ``_ops.c``.

Every refusal here is the extension's, with its exception class and its
words, so that the two implementations cannot be told apart by an error.
"""

from .exceptions import ArgumentError

__all__ = [
    "type_name",
    "key_bytes",
    "value_bytes",
    "int64",
    "timeout_ms",
    "bind",
    "prepare",
]

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1
_HEAPTYPE = 1 << 9


def type_name(cls):
    """What C's ``tp_name`` says of a type, as the extension's messages show
    it: a class made in Python goes by its bare name, a built-in one by its
    full name (``float``, ``array.array``)."""
    flags = getattr(cls, "__flags__", _HEAPTYPE)
    module = getattr(cls, "__module__", "builtins")
    if flags & _HEAPTYPE or module in ("builtins", None):
        return cls.__name__
    return "%s.%s" % (module, cls.__qualname__)


def _buffer_bytes(obj, name, accepted):
    try:
        view = memoryview(obj)
    except TypeError:
        raise TypeError("%s must be %s, not %.100s"
                        % (name, accepted, type_name(type(obj)))) from None
    with view:
        # PyBUF_SIMPLE, as the extension asks: a strided view has no one
        # run of bytes to send.
        if not view.c_contiguous:
            raise TypeError("%s must be a contiguous bytes-like object; this %.100s has no "
                            "single run of bytes (a strided view such as m[::2]): pass "
                            "bytes(...) of it" % (name, type_name(type(obj))))
        return view.tobytes()


def _str_bytes(obj, name):
    try:
        return str.encode(obj, "utf-8")
    except UnicodeEncodeError:
        pass
    # U+DC80..U+DCFF stand for the bytes 0x80..0xFF (surrogateescape), so
    # that keys read back from mget() as str round-trip; any other lone
    # surrogate has no bytes at all.
    try:
        return str.encode(obj, "utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raise ArgumentError(
            "%s holds a lone surrogate, which has no UTF-8 encoding; pass bytes, or a str "
            "that encodes to UTF-8" % name) from None


def key_bytes(obj, name):
    """A key, prefix or META field: str (UTF-8) or any bytes-like object."""
    if type(obj) is bytes:
        return obj
    if isinstance(obj, str):
        return _str_bytes(obj, name)
    return _buffer_bytes(obj, name, "str or bytes-like")


def value_bytes(obj, name):
    """A value: as a key, and also an int or float as its decimal text (how
    the server stores numbers)."""
    if type(obj) is bytes:
        return obj
    if isinstance(obj, str):
        return _str_bytes(obj, name)
    if isinstance(obj, bool):
        raise TypeError("%s must be str, bytes-like, int or float, not bool; store b'1'/b'0' "
                        "or an int explicitly" % name)
    if isinstance(obj, int):
        # int.__repr__: the number, whatever a subclass's __str__ says.
        return int.__repr__(obj).encode("ascii")
    if isinstance(obj, float):
        return float.__repr__(obj).encode("ascii")
    return _buffer_bytes(obj, name, "str, bytes-like, int or float")


def int64(obj, name):
    """A TTL, lock time or limit: an int (never a bool or a float) that fits
    the 64 bits the library carries."""
    if isinstance(obj, bool) or not isinstance(obj, int):
        raise TypeError("%s must be an int, not %.100s" % (name, type_name(type(obj))))
    if not _INT64_MIN <= obj <= _INT64_MAX:
        raise ArgumentError("%s is out of range: it must fit in 64 bits" % name)
    return int(obj)


def timeout_ms(obj, name):
    """A timeout option in milliseconds: None (no deadline, -1) or a
    positive whole number of them (an int, or a float without a fraction)."""
    if obj is None:
        return -1
    if isinstance(obj, bool) or not isinstance(obj, (int, float)):
        raise TypeError("%s must be a number of milliseconds or None, not %.100s"
                        % (name, type_name(type(obj))))
    ms = float(obj)
    if not ms > 0 or ms != ms or ms > 2147483647.0:
        raise ArgumentError("%s must be a positive number of milliseconds (at most "
                            "2147483647), or None to wait forever" % name)
    # A fraction is most likely seconds meant (redis-py's and this
    # project's pools take seconds): refused, not cut to whole ms.
    if ms != int(ms):
        raise ArgumentError("%s is in whole milliseconds, and %r is not one: for %r seconds "
                            "pass %d (the pools' acquire_timeout and idle_timeout are in "
                            "seconds; the client's timeouts are in ms)"
                            % (name, obj, obj, int(ms * 1000.0 + 0.5)))
    return int(ms)


def bind(op, args, kwargs):
    """Positional and keyword arguments into the operation's parameter
    slots (None where not given), refused with the extension's words."""
    params = op.params
    nparams = len(params)
    if len(args) > nparams:
        raise TypeError("%s() takes at most %d argument%s (%d given)"
                        % (op.name, nparams, "" if nparams == 1 else "s", len(args)))
    slots = list(args) + [None] * (nparams - len(args))
    given = [True] * len(args) + [False] * (nparams - len(args))
    for keyword, obj in kwargs.items():
        for i, param in enumerate(params):
            if param.name == keyword:
                break
        else:
            raise TypeError("%s() got an unexpected keyword argument '%s'"
                            % (op.name, keyword))
        if given[i]:
            raise TypeError("%s() got multiple values for argument '%s'"
                            % (op.name, params[i].name))
        slots[i] = obj
        given[i] = True
    for i, param in enumerate(params):
        if param.required and not given[i]:
            raise TypeError("%s() missing required argument '%s'" % (op.name, param.name))
    return slots, given


def prepare(op, args, kwargs):
    """The request's parts from a method call: (key, value, number), each
    None when the operation has no such part or it was not given. The
    number defaults to 0 (SET's ttl) except MGET's limit, absent as None."""
    slots, given = bind(op, args, kwargs)
    key = value = None
    number = 0 if op.shape in _NUMBER_SHAPES else None
    for param, obj, present in zip(op.params, slots, given):
        if not present:
            continue
        kind = param.kind
        if kind == "key":
            key = key_bytes(obj, param.name)
        elif kind == "value":
            value = value_bytes(obj, param.name)
        elif kind == "field":
            value = key_bytes(obj, param.name)
        elif kind == "limit":
            number = None if obj is None else int64(obj, param.name)
        else:  # ttl, seconds
            number = int64(obj, param.name)
    return key, value, number


#: The shapes whose payload always carries a number (MGET's is optional).
_NUMBER_SHAPES = frozenset(("KEY_TTL", "KEY_LOCK", "SET"))
