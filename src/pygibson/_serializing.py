"""The serializer layer that both implementations of ``Client`` share
(``Client(serializer=...)``; see ``pygibson.serializers`` for the rules).

The extension calls these methods only for a client made with a serializer,
and only for ``set``, ``mset``, ``get`` and ``mget``: a client without one
pays a pointer test per call. Written once, in Python, so that the two
implementations (and the asyncio client) behave and word their errors
exactly alike.
"""

import types

from .exceptions import ArgumentError, SerializationError

__all__ = ["Serializing", "for_options", "key_bytes"]


def for_options(serializer, encoding):
    """The Serializing for a client's serializer= and encoding= (None for
    no serializer), as the extension's make_serializing: the two exclude
    each other, since loads() takes the stored bytes."""
    if serializer is None:
        return None
    if encoding is not None:
        raise ArgumentError("serializer and encoding exclude each other: the serializer's "
                            "loads() takes the stored bytes (JSON gives str back already)")
    return Serializing(serializer)


def key_bytes(key):
    """The key as the server saw it, for messages."""
    if isinstance(key, str):
        return key.encode("utf-8", "surrogateescape")
    try:
        return bytes(key)
    except Exception:  # never hide the real error behind this one
        return key


class Serializing:
    """A client's serializer, applied by the rules of pygibson.serializers."""

    __slots__ = ("serializer", "_name", "_dumps", "_loads")

    def __init__(self, serializer):
        dumps = getattr(serializer, "dumps", None)
        loads = getattr(serializer, "loads", None)
        if not (callable(dumps) and callable(loads)):
            raise TypeError("serializer must have dumps(value) and loads(data) methods "
                            "(pygibson.serializers.JSON or PICKLE, or the json module), "
                            "not %.100s" % type(serializer).__name__)
        self.serializer = serializer
        # For messages: "JSONSerializer", or "json" for the module itself.
        self._name = (serializer.__name__ if isinstance(serializer, types.ModuleType)
                      else type(serializer).__name__)
        self._dumps = dumps
        self._loads = loads

    def dump(self, value):
        """What set/mset send for ``value``: an int as it is (so that
        inc/dec work on it), anything else through dumps()."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        data = self._dumps(value)
        if not isinstance(data, (bytes, bytearray, str)):
            raise TypeError("%.100s.dumps() returned %.100s; it must return bytes or str"
                            % (self._name, type(data).__name__))
        return data

    def load(self, value, command, key):
        """The value of a reply to ``command`` on ``key``: an int (the
        server's number encoding) as it is, bytes through loads()."""
        if value.__class__ is int:
            return value
        try:
            return self._loads(value)
        except Exception as error:
            key = key_bytes(key)
            raise self._error(error, "%s %r" % (command, key), value, key) from error

    def load_all(self, values, command, prefix):
        """mget's dict, its values loaded in place."""
        for key, value in values.items():
            if value.__class__ is not int:
                try:
                    values[key] = self._loads(value)
                except Exception as error:
                    raise self._error(error, "%s %r, key %r" % (command, key_bytes(prefix),
                                                                key),
                                      value, key) from error
        return values

    def _error(self, error, where, value, key):
        return SerializationError(
            "%s: %.100s.loads() could not read the stored value (%d bytes): %.100s: %s; "
            "was it stored by another client or serializer?"
            % (where, self._name, len(value), type(error).__name__,
               error), key)
