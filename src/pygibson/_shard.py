"""The parts of a sharded client that do no I/O: naming servers, keeping
their health, and merging what several servers answered.

``pygibson.hash.HashClient`` drives them with blocking clients and threads;
an asyncio twin can drive the same pieces with tasks.
"""

import os
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

from .exceptions import (
    ArgumentError, ConnectionError, NotFoundError, PartialFailureError, ProtocolError,
    ServerDownError, TimeoutError,
)

__all__ = ["Shard", "Health", "parse_servers", "Outcome",
           "merge", "is_failure", "counts_against_server", "define"]

DEFAULT_PORT = 10128
#: The one port libmemcached leaves out of a point name ("host-N").
MEMCACHED_DEFAULT_PORT = 11211

ServerSpec = Union[str, "os.PathLike[str]", Tuple[Any, ...]]


class Shard:
    """One server of a sharded client: where it is, its weight, its client,
    and its health.

    ``label`` names the server in errors and as the key of ``stats()``:
    ``"host:port"`` (``"[v6]:port"``) or the socket path. ``ring_name`` is
    what libmemcached hashes for its continuum points.
    """

    def __init__(self, index: int, host: Optional[str], port: Optional[int],
                 unix_socket: Optional[str], weight: int):
        self.index = index
        self.host = host
        self.port = port
        self.unix_socket = unix_socket
        self.weight = weight
        if unix_socket is not None:
            self.label = unix_socket
            self.ring_name = "%s:0" % unix_socket  # libmemcached: port 0
        else:
            assert host is not None and port is not None
            self.label = ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)
            self.ring_name = host if port == MEMCACHED_DEFAULT_PORT else "%s:%d" % (host, port)
        self.client: Any = None
        # Health: consecutive failures, when the first of them happened, and
        # until when the server is dead (0.0: alive).
        self.failures = 0
        self.first_failure = 0.0
        self.dead_until = 0.0

    def client_address(self) -> Dict[str, Any]:
        """The keyword arguments that point a ``Client`` at this server."""
        if self.unix_socket is not None:
            return {"unix_socket": self.unix_socket}
        return {"addr": self.host, "port": self.port}

    def __repr__(self) -> str:
        state = "dead" if self.dead_until else "alive"
        return "<Shard %s weight=%d %s>" % (self.label, self.weight, state)


def _split_host_port(text: str) -> Tuple[str, int]:
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ArgumentError("server %r: an IPv6 address is written [addr]:port" % text)
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif ":" in text:
        raise ArgumentError("server %r: write an IPv6 address as [addr]:port" % text)
    else:
        host, port_text = text, ""
    if not host:
        raise ArgumentError("server %r has no host; write host:port" % text)
    return host, _port(port_text or DEFAULT_PORT, text)


def _port(value: object, spec: object) -> int:
    try:
        port = int(value)  # type: ignore[call-overload]  # checked below
    except (TypeError, ValueError):
        raise ArgumentError("server %r: the port %r is not a number" % (spec, value)) from None
    if isinstance(value, bool) or not 0 < port < 65536:
        raise ArgumentError("server %r: the port must be in 1..65535" % (spec,))
    return port


def _address(spec: object) -> Tuple[Optional[str], Optional[int], Optional[str]]:
    """(host, port, unix_socket) of one address without a weight."""
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if isinstance(spec, bytes):
        spec = os.fsdecode(spec)
    if isinstance(spec, str):
        if "/" in spec:
            return None, None, spec
        host, port = _split_host_port(spec.strip())
        return host, port, None
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        return spec[0], _port(spec[1], spec), None
    raise ArgumentError(
        "server %r is not an address: use \"host:port\", (\"host\", port), "
        "\"/path/to.sock\", or (address, weight)" % (spec,))


def _is_weighted(spec: object) -> bool:
    """``(address, weight)`` rather than ``("host", port)``: the first item
    is itself a full address (a tuple, a path, or text holding a port)."""
    if not (isinstance(spec, tuple) and len(spec) == 2):
        return False
    first = spec[0]
    if isinstance(first, (tuple, os.PathLike, bytes)):
        return True
    return isinstance(first, str) and ("/" in first or ":" in first)


def parse_servers(servers: Sequence[ServerSpec]) -> List[Shard]:
    """The shards for a server list, refusing what is not an address and
    duplicates (two entries for one server would split its keys between
    two continuum names and fan out to it twice)."""
    if isinstance(servers, (str, bytes)) or not servers:
        raise ArgumentError("servers must be a non-empty list of addresses, e.g. "
                            "[\"127.0.0.1:10128\", \"127.0.0.1:10129\"]")
    shards: List[Shard] = []
    seen: Dict[str, object] = {}
    for spec in servers:
        weight: object = 1
        address: object = spec
        if isinstance(spec, tuple) and _is_weighted(spec):
            address, weight = spec
        if not isinstance(weight, int) or isinstance(weight, bool) or weight < 1:
            raise ArgumentError("server %r: the weight must be an int of at least 1" % (spec,))
        host, port, path = _address(address)
        shard = Shard(len(shards), host, port, path, weight)
        if shard.label in seen:
            raise ArgumentError("server %s is listed twice (%r and %r); list each server once"
                                % (shard.label, seen[shard.label], spec))
        seen[shard.label] = spec
        shards.append(shard)
    return shards


def with_default(template: str) -> str:
    """A single-key method template (``def``/``async def {name}``, its call
    under ``try:``/``except UNREACHABLE``) as get's: a ``default``
    parameter, and the server's NotFoundError (a missing or expired key)
    turned into it when one is given. Its namespace needs ``NotFoundError``
    and ``NO_DEFAULT``."""
    return template.replace("(self{params}):", "(self{params}, default=NO_DEFAULT):", 1) \
        .replace("    except UNREACHABLE as error:", "    except NotFoundError:\n"
                 "        if default is NO_DEFAULT:\n"
                 "            raise\n"
                 "        return default\n"
                 "    except UNREACHABLE as error:", 1)


def define(op: Any, name: str, template: str, namespace: Dict[str, Any],
           class_name: str) -> Any:
    """The method ``name`` of ``op`` made from ``template`` (str.format
    fields: name, params, args, key, limit, kind, command), compiled with
    ``namespace`` as its globals.

    Compiled rather than a closure over ``*args``: the methods get the
    exact signature of ``Client``'s (what help() shows, and no packing of
    arguments on the path of every call)."""
    params = op.signature[1:-1]
    source = template.format(
        name=name, params=", " + params if params else "",
        args=", ".join(param.name for param in op.params),
        key=op.params[0].name if op.params else "",
        limit=next((param.name for param in op.params if param.kind == "limit"), "None"),
        kind=op.result, command=op.command)
    scope: Dict[str, Any] = {}
    exec(compile(source, "<%s.%s>" % (class_name, name), "exec"), namespace, scope)
    method = scope[name]
    method.__qualname__ = "%s.%s" % (class_name, name)
    method.__doc__ = op.doc
    return method


# -- health -----------------------------------------------------------------

#: Errors that say the server could not be reached or did not answer.
_UNREACHABLE = (ConnectionError, TimeoutError)


def counts_against_server(error: BaseException) -> bool:
    """A failure that marks the server as failing: it could not be reached
    or did not answer. Not a pool with no free connection (the client's
    own limit), nor a server already marked dead (no request was made)."""
    if not isinstance(error, _UNREACHABLE) or isinstance(error, ServerDownError):
        return False
    try:
        from .pool import PoolTimeoutError  # here: the pool may need the extension
    except ImportError:  # then there is no pool, and no pool timeout either
        return True
    return not isinstance(error, PoolTimeoutError)


def is_failure(error: BaseException) -> bool:
    """An outcome that leaves a server's part of a fan-out missing (as
    opposed to a refusal, which is the server's answer)."""
    return isinstance(error, _UNREACHABLE + (ProtocolError,))


class Health:
    """The failure policy over a list of shards, thread-safe.

    A shard that fails ``retry_attempts`` times in a row, within
    ``retry_timeout`` seconds of the first of those failures, is dead for
    ``dead_timeout`` seconds. After that, requests reach it again (it is
    "on probation"): one success brings it back, one failure kills it for
    another ``dead_timeout``.
    """

    def __init__(self, retry_attempts: int, retry_timeout: float, dead_timeout: float):
        if not isinstance(retry_attempts, int) or isinstance(retry_attempts, bool) \
                or retry_attempts < 1:
            raise ArgumentError("retry_attempts must be an int of at least 1")
        for name, value in (("retry_timeout", retry_timeout), ("dead_timeout", dead_timeout)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ArgumentError("%s must be a number of seconds, 0 or more" % name)
        self.retry_attempts = retry_attempts
        self.retry_timeout = float(retry_timeout)
        self.dead_timeout = float(dead_timeout)
        self.lock = threading.Lock()

    def failed(self, shard: Shard, now: float) -> bool:
        """Count a failure; True when it made the shard dead."""
        with self.lock:
            if shard.dead_until:
                # On probation (or raced with the failure that killed it).
                shard.dead_until = now + self.dead_timeout
                return True
            if shard.failures and now - shard.first_failure <= self.retry_timeout:
                shard.failures += 1
            else:
                shard.failures, shard.first_failure = 1, now
            if shard.failures >= self.retry_attempts:
                shard.dead_until = now + self.dead_timeout
                return True
            return False

    def succeeded(self, shard: Shard) -> bool:
        """Forget the shard's failures; True when it was dead (it rejoins)."""
        with self.lock:
            was_dead = bool(shard.dead_until)
            shard.failures = 0
            shard.dead_until = 0.0
            return was_dead

    def down_error(self, shard: Shard, now: float, failover: bool) -> ServerDownError:
        """The error for a request to a shard that is dead."""
        if failover:
            advice = "no live server is left to take its keys"
        else:
            advice = ("pass failover=True to re-hash its keys onto the live servers, "
                      "or call ping() to try it now")
        return ServerDownError(
            "server %s is marked dead after %d failed attempt(s) within %.3g s; it is "
            "tried again in %.1f s (dead_timeout); %s"
            % (shard.label, self.retry_attempts, self.retry_timeout,
               max(0.0, shard.dead_until - now), advice),
            server=shard.label)


# -- merging ------------------------------------------------------------------

#: What one server did: (its shard, its result or the exception it raised).
Outcome = Tuple[Shard, Any]


def _merge_dicts(parts: List[Tuple[Shard, Dict[Any, Any]]], owner: Any) -> Dict[Any, Any]:
    merged: Dict[Any, Any] = {}
    for _, part in parts:
        merged.update(part)
    if owner is None or len(merged) == sum(len(part) for _, part in parts):
        return merged
    # After a failover a key can live on two servers: the one that owns it
    # now wins. (Rare, so looked for only when the sizes say so.)
    for shard, part in parts:
        for key, value in part.items():
            if owner(key) is shard:
                merged[key] = value
    return merged


def merge(kind: str, outcomes: Sequence[Outcome], limit: Optional[int] = None,
          owner: Any = None, ignore_exc: bool = False, what: str = "the call") -> Any:
    """One result from the per-server outcomes of a fan-out, or an
    exception instance (returned, not raised: a pipeline keeps it in place).

    ``kind`` is the operation's result kind: counts and numbers are summed,
    dicts merged (at most ``limit`` items, after merging), lists
    concatenated, ``stats`` keyed by server, ``none`` gives None. A server
    that answered "not found" contributes nothing; the merged answer is that
    ``NotFoundError`` only when no server answered otherwise. A refusal
    (any other server error) is returned as it is. Servers that failed make
    a ``PartialFailureError`` carrying the merged rest, unless
    ``ignore_exc`` and at least one server answered.
    """
    answered: List[Tuple[Shard, Any]] = []
    failed: Dict[str, BaseException] = {}
    not_found: Optional[NotFoundError] = None
    refusal: Optional[BaseException] = None
    for shard, outcome in outcomes:
        if not isinstance(outcome, BaseException):
            answered.append((shard, outcome))
        elif isinstance(outcome, NotFoundError):
            not_found = not_found or outcome
        elif is_failure(outcome):
            failed[shard.label] = outcome
        elif refusal is None:
            refusal = outcome
    if refusal is not None:
        return refusal
    result = _combine(kind, answered, limit, owner)
    if failed and not (ignore_exc and (answered or not_found)):
        return PartialFailureError.for_servers(result, failed, what)
    if not answered and not_found is not None:
        return not_found
    return result


def _combine(kind: str, answered: List[Tuple[Shard, Any]], limit: Optional[int],
             owner: Any) -> Any:
    if kind in ("count", "number"):
        return sum(part for _, part in answered)
    if kind == "dict":
        merged = _merge_dicts(answered, owner)
        if limit is not None and len(merged) > limit:
            merged = dict(list(merged.items())[:limit])
        return merged
    if kind == "list":
        return [item for _, part in answered for item in part]
    if kind == "stats":
        return {shard.label: part for shard, part in answered}
    return None
