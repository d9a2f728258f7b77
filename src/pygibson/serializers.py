"""Serializers for ``Client(serializer=...)``: store Python objects.

Gibson keeps one byte string per key and no flags field (pymemcache's
``serde`` records the type of each value in memcached's flags; Gibson has
nowhere to put it), so a client has ONE serializer, used for every value it
stores and reads, and every client sharing those keys must use the same one.

What goes through it:

- ``set`` and ``mset`` pass every value but an ``int`` (``bool`` excluded)
  to ``dumps()``: ``str``, ``bytes``, ``float``, ``dict``... An ``int`` goes
  out as its decimal text, as without a serializer, so ``inc``/``dec`` keep
  working on it.
- ``get`` and ``mget`` give ``int`` as it is for an item the server holds
  as a number (after ``inc``/``dec``), and pass every other stored value to
  ``loads()`` as ``bytes``. That includes the decimal text that
  ``set(key, 42)`` stores (Gibson keeps a SET value as text; only
  ``inc``/``dec`` store a number): ``loads`` must read ``b"42"`` as ``42``,
  as both serializers here do.
- A value ``loads()`` cannot read raises ``SerializationError`` naming the
  request and the key, with the serializer's exception as its cause.

Any object with ``dumps(value) -> bytes or str`` and ``loads(bytes)``
methods will do; the ``json`` module itself does (its ``dumps`` returns str,
sent as UTF-8). The ``pickle`` module does not read ``b"42"``: use
``PickleSerializer``. Only unpickle what you stored yourself: ``loads`` of a
pickle runs code named in it, so a server others can write to must not be
read with ``PICKLE``.
"""

import json
import pickle
from typing import Any, Dict, Protocol, Union

__all__ = ["Serializer", "JSONSerializer", "PickleSerializer", "JSON", "PICKLE"]


class Serializer(Protocol):
    """What ``serializer=`` takes, for type checkers: any object with these
    two methods (the ``json`` module is one)."""

    def dumps(self, value: Any, /) -> Union[bytes, str]:
        """The value as stored: bytes, or str (sent as UTF-8)."""
        ...

    def loads(self, data: bytes, /) -> Any:
        """The value that ``dumps`` stored as ``data``."""
        ...


class JSONSerializer:
    """Values as JSON text (UTF-8). ``dumps_options`` go to ``json.dumps``
    (``default=str``, ``sort_keys=True``...). Tuples come back as lists and
    ``bytes`` cannot be stored, as with ``json``."""

    def __init__(self, **dumps_options: Any) -> None:
        # Compact by default: the server keeps every byte.
        dumps_options.setdefault("separators", (",", ":"))
        self._options: Dict[str, Any] = dumps_options

    def dumps(self, value: Any) -> bytes:
        """value as compact JSON, UTF-8."""
        return json.dumps(value, **self._options).encode("utf-8")

    def loads(self, data: bytes) -> Any:
        """The value the JSON text data holds."""
        # json.loads reads bytes (UTF-8) itself, and the decimal text of an
        # int as that int.
        return json.loads(data)

    def __repr__(self) -> str:
        return "JSONSerializer()" if self._options == {"separators": (",", ":")} else \
            "JSONSerializer(**%r)" % (self._options,)


class PickleSerializer:
    """Values as pickles, of ``protocol`` (2 or more; default
    ``pickle.DEFAULT_PROTOCOL``, which every Python this library supports
    reads). Stores any picklable object, ``bytes`` included. Unpickling
    runs code: read only what you stored."""

    def __init__(self, protocol: int = pickle.DEFAULT_PROTOCOL) -> None:
        # Protocol 2 and later start with the PROTO opcode (0x80), which is
        # how loads tells a pickle from an int's decimal text.
        if isinstance(protocol, bool) or not isinstance(protocol, int) or \
                not 2 <= protocol <= pickle.HIGHEST_PROTOCOL:
            raise ValueError("protocol must be an int from 2 to %d, not %r"
                             % (pickle.HIGHEST_PROTOCOL, protocol))
        self.protocol: int = protocol

    def dumps(self, value: Any) -> bytes:
        """value pickled with this serializer's protocol."""
        return pickle.dumps(value, self.protocol)

    def loads(self, data: bytes) -> Any:
        """The value pickled in data, or the int whose decimal text it is."""
        if data[:1] == b"\x80":
            return pickle.loads(data)
        # What set(key, 42) stored: the int's decimal text, not a pickle.
        # (int() would also take spaces, underscores and other digits.)
        text = bytes(data)
        digits = text[1:] if text[:1] == b"-" else text
        if digits.isdigit():  # bytes.isdigit: ASCII digits only
            return int(text)
        raise ValueError("not a pickle (no protocol marker 0x80) nor an int's decimal "
                         "text: %r" % (data[:20],))

    def __repr__(self) -> str:
        return "PickleSerializer(protocol=%d)" % self.protocol


#: A ``JSONSerializer()``: ``Client(serializer=JSON)``.
JSON: JSONSerializer = JSONSerializer()
#: A ``PickleSerializer()``: ``Client(serializer=PICKLE)``.
PICKLE: PickleSerializer = PickleSerializer()
