"""How gibson-cli shows replies and errors.

Everything is made as bytes, so that ``--raw`` can give values back exactly
as stored. Two shapes:

- ``block``: for people (the prompt, one-shot mode): tables for ``mget``
  and ``stats``, numbered lists for ``keys``;
- ``line``: for scripts (pipe mode): one line per reply whatever it holds,
  a dict or list written as a Python literal (``ast.literal_eval`` reads
  it back), or tab-separated with ``--raw``.

Values are data and shown as bytes literals (``b'a\\x00b'``); so are the
keys that ``mget`` and ``keys`` return. The names and values of ``stats``
are the server's own text and shown as text.
"""

__all__ = ["Formatter", "error_text"]

_EMPTY = b"(empty)"


def error_text(exc: BaseException) -> str:
    """``NotFoundError: GET b'k': no such key ...`` on one line."""
    message = " ".join(str(exc).split("\n"))
    name = type(exc).__name__
    return "%s: %s" % (name, message) if message else name


def _as_bytes(data) -> bytes:
    # Keys come back as str holding surrogate escapes for undecodable bytes.
    if isinstance(data, str):
        return data.encode("utf-8", "surrogateescape")
    return bytes(data)


class Formatter:
    """Turns a result (or the exception a command raised) into output.

    ``raw``: values as their bytes, numbers bare, no ``OK``-style decoration
    beyond what a script needs.
    """

    def __init__(self, raw: bool = False):
        self.raw = raw

    # -- one value -------------------------------------------------------------

    def data(self, value) -> bytes:
        """A stored value or key: a bytes literal, or its bytes when raw;
        numbers bare."""
        if isinstance(value, int):
            return str(value).encode("ascii")
        if self.raw:
            return _as_bytes(value)
        return repr(_as_bytes(value)).encode("ascii")

    def _text(self, value) -> bytes:
        # stats: the server's words and numbers, not user data.
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        return str(value).encode("utf-8", "surrogateescape")

    def scalar(self, value) -> bytes:
        if value is None:
            return b"OK"
        if isinstance(value, int) and not self.raw:
            return b"(integer) %d" % value
        return self.data(value)

    def error(self, exc: BaseException) -> bytes:
        return b"(error) " + error_text(exc).encode("utf-8", "backslashreplace")

    # -- whole replies ----------------------------------------------------------

    def block(self, operation, value) -> bytes:
        """The reply for a person, ending with a newline."""
        if isinstance(value, BaseException):
            body = self.error(value)
        elif isinstance(value, dict):
            body = self._table(self._pairs(operation, value, literal=False))
        elif isinstance(value, list):
            body = self._numbered(value)
        else:
            body = self.scalar(value)
        return body + b"\n" if body else b""

    def line(self, operation, value) -> bytes:
        """The reply on exactly one line (newline included); with ``raw``,
        a value holding a newline still spans several, as stored."""
        if isinstance(value, BaseException):
            body = self.error(value)
        elif isinstance(value, dict):
            body = self._pairs_line(self._pairs(operation, value, literal=not self.raw))
        elif isinstance(value, list):
            body = self._list_line(value)
        else:
            body = self.scalar(value)
        return body + b"\n"

    def _pairs(self, operation, mapping, literal):
        # A prefix operation's keys are data; other dicts (stats) are the
        # server's named fields, shown as text (as str literals in a line).
        if operation is not None and operation.prefix:
            return [(self.data(key), self.data(value)) for key, value in mapping.items()]
        text = self._literal if literal else self._text
        return [(text(key), self._text(value) if isinstance(value, int) else text(value))
                for key, value in mapping.items()]

    def _literal(self, value) -> bytes:
        if isinstance(value, (bytes, bytearray)):
            value = bytes(value).decode("utf-8", "surrogateescape")
        return repr(value).encode("ascii", "backslashreplace")

    def _table(self, pairs) -> bytes:
        if not pairs:
            return b"" if self.raw else _EMPTY
        if self.raw:
            return b"\n".join(key + b"\t" + value for key, value in pairs)
        width = max(len(key) for key, _value in pairs)
        return b"\n".join(key.ljust(width) + b"  " + value for key, value in pairs)

    def _numbered(self, items) -> bytes:
        if not items:
            return b"" if self.raw else _EMPTY
        if self.raw:
            return b"\n".join(self.data(item) for item in items)
        width = len(str(len(items)))
        return b"\n".join(b"%*d) %s" % (width, number, self.data(item))
                          for number, item in enumerate(items, 1))

    def _pairs_line(self, pairs) -> bytes:
        if self.raw:
            return b"\t".join(key + b"\t" + value for key, value in pairs)
        return b"{" + b", ".join(key + b": " + value for key, value in pairs) + b"}"

    def _list_line(self, items) -> bytes:
        if self.raw:
            return b"\t".join(self.data(item) for item in items)
        return b"[" + b", ".join(self.data(item) for item in items) + b"]"
