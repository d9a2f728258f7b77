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

__all__ = ["JSONSerializer", "PickleSerializer", "JSON", "PICKLE"]


class JSONSerializer:
    """Values as JSON text (UTF-8). ``dumps_options`` go to ``json.dumps``
    (``default=str``, ``sort_keys=True``...). Tuples come back as lists and
    ``bytes`` cannot be stored, as with ``json``."""

    def __init__(self, **dumps_options):
        # Compact by default: the server keeps every byte.
        dumps_options.setdefault("separators", (",", ":"))
        self._options = dumps_options

    def dumps(self, value):
        return json.dumps(value, **self._options).encode("utf-8")

    def loads(self, data):
        # json.loads reads bytes (UTF-8) itself, and the decimal text of an
        # int as that int.
        return json.loads(data)

    def __repr__(self):
        return "JSONSerializer()" if self._options == {"separators": (",", ":")} else \
            "JSONSerializer(**%r)" % (self._options,)


class PickleSerializer:
    """Values as pickles, of ``protocol`` (2 or more; default
    ``pickle.DEFAULT_PROTOCOL``, which every Python this library supports
    reads). Stores any picklable object, ``bytes`` included. Unpickling
    runs code: read only what you stored."""

    def __init__(self, protocol=pickle.DEFAULT_PROTOCOL):
        # Protocol 2 and later start with the PROTO opcode (0x80), which is
        # how loads tells a pickle from an int's decimal text.
        if isinstance(protocol, bool) or not isinstance(protocol, int) or \
                not 2 <= protocol <= pickle.HIGHEST_PROTOCOL:
            raise ValueError("protocol must be an int from 2 to %d, not %r"
                             % (pickle.HIGHEST_PROTOCOL, protocol))
        self.protocol = protocol

    def dumps(self, value):
        return pickle.dumps(value, self.protocol)

    def loads(self, data):
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

    def __repr__(self):
        return "PickleSerializer(protocol=%d)" % self.protocol


#: A ``JSONSerializer()``: ``Client(serializer=JSON)``.
JSON = JSONSerializer()
#: A ``PickleSerializer()``: ``Client(serializer=PICKLE)``.
PICKLE = PickleSerializer()
