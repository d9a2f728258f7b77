"""Every exception pygibson raises.

``PyGibsonError`` is the base of all of them. The server's refusals
(``ServerError`` and its subclasses) leave the connection as it was; a
``ConnectionError``, ``TimeoutError`` or ``ProtocolError`` means the
connection was closed, and the next call opens a new one.
"""

import builtins
from typing import Any, Dict, List, Mapping, Optional, Union

__all__ = [
    "PyGibsonError",
    "GibsonError",
    "ServerError",
    "NotFoundError",
    "NaNError",
    "NoMemoryError",
    "LockedError",
    "ValueTruncatedError",
    "PartialResultError",
    "ProtocolError",
    "ConnectionError",
    "TimeoutError",
    "ArgumentError",
    "SerializationError",
    "ServerDownError",
    "PartialFailureError",
]


class PyGibsonError(Exception):
    """Base class of every pygibson error."""


#: The name the old pygibson documentation also used.
GibsonError = PyGibsonError


class ServerError(PyGibsonError):
    """The server refused the request (reply code ``REPL_ERR``, 0).

    Subclasses stand for the other refusal codes. ``code`` holds the
    server's reply code.
    """

    code = 0


class NotFoundError(ServerError):
    """The key is missing or expired, or no key matches the prefix (code 1)."""

    code = 1


class NaNError(ServerError):
    """A number was expected: the argument or the stored value is not one (code 2)."""

    code = 2


class NoMemoryError(ServerError):
    """The server is over its ``max_memory`` and refused to store (code 3)."""

    code = 3


class LockedError(ServerError):
    """The item is locked (code 4)."""

    code = 4


class ValueTruncatedError(ServerError):
    """The server stored fewer bytes than were sent: its ``max_value_size``
    is smaller than the value. The truncated value *is* in the cache.

    ``sent`` and ``stored`` hold the two lengths.
    """

    def __init__(self, message: str, sent: Optional[int] = None,
                 stored: Optional[int] = None) -> None:
        super().__init__(message)
        self.sent: Optional[int] = sent
        self.stored: Optional[int] = stored


class PartialResultError(ServerError):
    """A key-value reply (``mget``, ``keys``, ``stats``) carried fewer pairs
    than it announced. Gibson 1.2.1 does this when an expired item it has
    not freed yet comes before live ones in an MGET's matches (§3.4 of
    docs/protocol.md). ``Client`` asks once more before raising it (the
    second answer is complete, the first having freed the expired items); a
    pipeline puts it in the place of the result, not re-sent. The connection
    stays in step.

    ``partial`` holds what did arrive (a dict, or a list for ``keys``);
    ``announced`` and ``received`` count the pairs.
    """

    code = 7  # the reply was a key-value set (REPL_KVAL)

    def __init__(self, message: str, partial: Union[Dict[str, Any], List[Any], None] = None,
                 announced: Optional[int] = None, received: Optional[int] = None) -> None:
        super().__init__(message)
        self.partial: Union[Dict[str, Any], List[Any], None] = partial
        self.announced: Optional[int] = announced
        self.received: Optional[int] = received


class ProtocolError(PyGibsonError):
    """The server's reply could not be parsed; the connection was closed."""


class ConnectionError(PyGibsonError, builtins.ConnectionError):
    """The connection could not be made, or broke during a request.

    ``request_sent`` is True when the request left the client before the
    failure, so the server may have executed it: it is never re-sent
    silently.
    """

    request_sent = False


class TimeoutError(PyGibsonError, builtins.TimeoutError):
    """The request did not complete before its deadline; the connection was
    closed, and the server may or may not have executed the request."""

    request_sent = False


class ArgumentError(PyGibsonError, ValueError):
    """An argument was refused before anything was sent (an empty key, a key
    holding a space, a TTL the server would store wrongly, ...)."""



class SerializationError(PyGibsonError, ValueError):
    """A client's ``serializer`` could not load a stored value (it was not
    stored through that serializer, or is damaged). The message names the
    request and the key; ``key`` holds the key (``bytes``; ``str`` for an
    ``mget`` key), and the serializer's own exception is ``__cause__``."""

    def __init__(self, message: str, key: Union[bytes, str, None] = None) -> None:
        super().__init__(message)
        self.key: Union[bytes, str, None] = key


class ServerDownError(ConnectionError):
    """``HashClient``: the key's server is marked dead (it failed
    ``retry_attempts`` times within ``retry_timeout``), so nothing was sent.
    ``server`` names it ("host:port" or the socket path)."""

    def __init__(self, message: str, server: Optional[str] = None) -> None:
        super().__init__(message)
        self.server: Optional[str] = server


class PartialFailureError(ConnectionError):
    """``HashClient``: some of the servers a call spans (a prefix
    operation, ``stats()``, ``ping()``, a pipeline) did not answer.

    ``result`` is what the servers that answered add up to (for a
    pipeline, the list of results with the failed ones' exceptions in
    place, also as ``results``); ``errors`` maps each failed server's
    address to its exception; ``servers`` lists those addresses.
    """

    #: A pipeline's results, the failed ones' exceptions in place (set by
    #: HashPipeline.execute only).
    results: List[Any]

    def __init__(self, message: str, result: Any = None,
                 errors: Optional[Mapping[str, BaseException]] = None) -> None:
        super().__init__(message)
        self.result: Any = result
        self.errors: Dict[str, BaseException] = dict(errors or {})
        self.servers: List[str] = list(self.errors)
        # Whether any failed server may have executed its part.
        self.request_sent: bool = any(getattr(error, "request_sent", False)
                                for error in self.errors.values())

    @classmethod
    def for_servers(cls, result: Any, errors: Mapping[str, BaseException],
                    what: str = "the call") -> "PartialFailureError":
        """The error for ``errors`` ({address: exception}), saying which
        servers failed and why."""
        details = "; ".join("%s: %s" % (server, error) for server, error in errors.items())
        return cls(
            "%s got no answer from %d server(s) (%s); .result holds what the others "
            "answered; pass ignore_exc=True to accept partial results"
            % (what, len(errors), details),
            result, errors)
