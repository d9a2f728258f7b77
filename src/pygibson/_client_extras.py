"""What ``Client`` offers beyond the operation table, written once for both
implementations (the extension's module calls :func:`install` on its Client
type when it is loaded, the pure-Python twin on its own):

- ``Client.from_url("gibson://HOST:PORT?timeout=500")`` and
  ``"unix:///path/to/gibson.sock"``, as redis-py users expect;
- ``client.exists(key)``, the check of the cache-aside idiom.
"""

from urllib.parse import parse_qsl, urlsplit

from .exceptions import ArgumentError, NotFoundError

__all__ = ["from_url", "exists", "aexists", "install"]

#: Client options a URL's query may set, by how their text is read.
_INT_OPTIONS = ("timeout", "connect_timeout", "max_key_size", "max_value_size",
                "max_request_size", "max_reply_size", "connect_retries", "connect_backoff")
_BOOL_OPTIONS = ("strict_ttl", "retry_reads", "empty_when_no_match")
_TEXT_OPTIONS = ("encoding",)
_BOOLS = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False}


def _option(name, text, url):
    if name in _TEXT_OPTIONS:
        return text
    if name in _BOOL_OPTIONS:
        try:
            return _BOOLS[text.lower()]
        except KeyError:
            raise ArgumentError("%s: %s must be true or false (or 1/0), not %r"
                                % (url, name, text)) from None
    if text.lower() == "none" and name in ("timeout", "max_value_size"):
        return None
    try:
        return int(text)
    except ValueError:
        raise ArgumentError("%s: %s must be a whole number, not %r" % (url, name, text)) \
            from None


def from_url(cls, url, **options):
    """A client for ``gibson://HOST:PORT`` (``[IPV6]`` hosts too; port
    10128 when left out) or ``unix:///PATH/TO/SOCKET``. Query parameters
    are client options (``?timeout=500&encoding=utf-8``; ``timeout=none``
    waits forever); keyword arguments override them."""
    if not isinstance(url, str):
        raise TypeError("url must be a str, not %.100s" % type(url).__name__)
    parts = urlsplit(url)
    given = {}
    if parts.scheme == "gibson":
        try:
            port = parts.port
        except ValueError:
            raise ArgumentError("%s: the port must be a number between 1 and 65535" % url) \
                from None
        if parts.path not in ("", "/"):
            raise ArgumentError("%s: a gibson:// URL has no path (a unix socket is "
                                "unix:///PATH)" % url)
        given["addr"] = parts.hostname or "127.0.0.1"
        if port is not None:
            given["port"] = port
    elif parts.scheme == "unix":
        if parts.netloc or not parts.path:
            raise ArgumentError("%s: expected unix:///PATH/TO/SOCKET (three slashes, an "
                                "absolute path)" % url)
        given["unix_socket"] = parts.path
    else:
        raise ArgumentError("%s: unknown scheme %r; use gibson://HOST:PORT or "
                            "unix:///PATH/TO/SOCKET" % (url, parts.scheme))
    known = _INT_OPTIONS + _BOOL_OPTIONS + _TEXT_OPTIONS
    for name, text in parse_qsl(parts.query, keep_blank_values=True):
        if name not in known:
            raise ArgumentError("%s: unknown option %r; the options are %s"
                                % (url, name, ", ".join(known)))
        given[name] = _option(name, text, url)
    given.update(options)
    return cls(**given)


def exists(self, key):
    """Whether ``key`` is stored and not expired: one request (META, which
    answers a number whatever the value's size). It counts as an access, as
    a read does, and like Redis's EXISTS it may be out of date by the time
    it is used: to use the value, call ``get(key, default)`` instead."""
    try:
        self.meta(key, "size")
    except NotFoundError:
        return False
    return True


async def aexists(client, key):
    """``exists`` for the asyncio clients (AsyncClient, AsyncHashClient)."""
    try:
        await client.meta(key, "size")
    except NotFoundError:
        return False
    return True


def install(cls):
    """Give a Client class ``from_url`` and ``exists``."""
    cls.from_url = classmethod(from_url)
    cls.exists = exists
