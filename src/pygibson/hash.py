"""``HashClient``: the ``Client`` interface over several Gibson servers.

Keys are spread over the servers by consistent hashing (libmemcached's
weighted ketama by default, see ``pygibson._ring``); a single-key call goes
to its key's server, and a call that spans keys (the prefix operations,
``stats()``, ``ping()``) goes to every server at once and merges the
answers. The failure policy (dead servers, failover, partial results) is in
the class docstring. The pieces that do no I/O (placement in
``pygibson._ring``; server lists, health and merging in ``pygibson._shard``)
are apart, so that an asyncio twin is a thin layer: its own method
templates (awaiting) and a fan-out by ``asyncio.gather`` instead of
``pygibson._fanout``'s threads.
"""

import functools
from typing import (TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar,
                    Union, overload)

from . import _client_extras
from ._compat import Client
from ._fanout import Runner
from ._operations import OPERATIONS, Operation
from ._ring import Ketama, Rendezvous
from ._hash_pipeline import HashPipeline
from ._shard import Outcome, ServerSpec, Shard, define, with_default
from ._sharded import Hasher, Sharded, client_maker
from .exceptions import ConnectionError, NotFoundError, TimeoutError

__all__ = ["HashClient", "HashPipeline", "AsyncHashClient", "AsyncHashPipeline", "Sharded",
           "Ketama", "Rendezvous"]

if TYPE_CHECKING:
    from ._async_hash import AsyncHashClient, AsyncHashPipeline


def __getattr__(name: str) -> Any:
    # The asyncio twin is imported when first asked for: a blocking program
    # need not import asyncio.
    if name in ("AsyncHashClient", "AsyncHashPipeline"):
        from . import _async_hash

        return getattr(_async_hash, name)
    raise AttributeError("module %r has no attribute %r" % (__name__, name))

Key = Union[str, bytes, bytearray, memoryview]
_D = TypeVar("_D")
#: Client.get's docstring, which says what default does (the sharded
#: clients' get takes one too).
GET_DOC = Client.get.__doc__
Value = Union[str, bytes, bytearray, memoryview, int, float]

#: The most idle fan-out threads a client keeps. They are made only as
#: needed (servers - 1 per fan-out running at once); keeping them avoids
#: starting threads when several threads fan out together.
_MAX_WORKERS = 64


def _pool_class() -> Callable[..., Any]:
    from .pool import PooledClient  # only when asked for: the pool may need the extension

    return PooledClient


class HashClient(Sharded):
    """The ``Client`` interface over several servers, keys spread by
    consistent hashing.

    ``HashClient(servers, *, hasher=Ketama, failover=False, retry_attempts=2,
    retry_timeout=1.0, dead_timeout=60.0, ignore_exc=False, pooled=False,
    max_size=None, client_factory=None, **client_options)``

    servers
        A list of ``"host:port"``, ``"[v6]:port"``, ``("host", port)``,
        ``"/path/to.sock"``, or ``(address, weight)`` with an int weight of
        1 or more (default 1; a server of weight 2 gets twice the keys).
    hasher (default ``Ketama``)
        Builds the placement from ``(name, weight)`` nodes. ``Ketama`` is
        libmemcached's weighted continuum (``MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED``):
        the same server list places every key on the same server as
        pylibmc with ``ketama_weighted`` and other libmemcached clients.
        ``Rendezvous`` is the alternative: an exactly even spread, and
        O(servers) work per key.
    failover (default False)
        What happens to the keys of a dead server. False: their calls raise
        ``ServerDownError`` (a ``ConnectionError``) naming it, without I/O,
        until it is retried: no silent misses. True: they are re-hashed
        onto the live servers, where values written are separate from the
        dead server's (and are not there once it rejoins).
    retry_attempts (default 2), retry_timeout (seconds, default 1.0)
        A server whose calls fail (``ConnectionError`` or ``TimeoutError``)
        ``retry_attempts`` times in a row, within ``retry_timeout`` of the
        first of those failures, is marked dead. The failing calls raise as
        they would on ``Client``: nothing is re-sent.
    dead_timeout (seconds, default 60.0)
        How long a dead server is left alone. After that the next call for
        one of its keys tries it: success brings it back, failure marks it
        dead again. ``ping()`` and ``stats()`` try every server, dead or not.
    ignore_exc (default False)
        A call that spans servers (prefix operations, ``stats()``,
        ``ping()``, pipelines) and gets no answer from some of them raises
        ``PartialFailureError``, which carries the others' merged answer in
        ``.result`` and names the failed servers in ``.servers``. True
        returns the merged answer of the servers that did answer instead
        (at least one must have).
    pooled, max_size
        ``pooled=True`` or a ``max_size`` gives each server a
        ``PooledClient`` of ``max_size`` connections (default 8) instead of
        one ``Client``.
    client_factory
        Makes a server's client from keyword arguments (its address and
        ``client_options``), instead of ``Client``/``PooledClient``.
    client_options
        Passed to every server's client: ``timeout``, ``encoding``, limits,
        pool options...

    Prefix operations go to every live server at once and are merged by
    result kind: counts and numbers summed, dicts merged (``mget``'s
    ``limit`` applied after merging), lists concatenated. A server with no
    match contributes nothing, and the merged call answers "not found" the
    way ``Client`` does only when no server matched. ``stats()`` returns
    ``{address: stats}``. Refusals (``NoMemoryError``, ``LockedError``...)
    are raised as ``Client`` raises them. Safe to share between threads and
    across ``fork()``, as the clients it holds are.

    The server of each of the last 8,192 distinct keys is remembered (it
    never changes for a server list), which spares those keys the MD5.
    """

    def __init__(
        self,
        servers: Sequence[ServerSpec],
        *,
        hasher: Hasher = Ketama,
        failover: bool = False,
        retry_attempts: int = 2,
        retry_timeout: float = 1.0,
        dead_timeout: float = 60.0,
        ignore_exc: bool = False,
        pooled: bool = False,
        max_size: Optional[int] = None,
        client_factory: Optional[Callable[..., Any]] = None,
        **client_options: Any,
    ) -> None:
        make_client = client_maker(Client, _pool_class, pooled, max_size, client_factory,
                                   client_options)
        super().__init__(servers, make_client, hasher, failover, retry_attempts, retry_timeout,
                         dead_timeout, ignore_exc)
        self._runner = Runner(_MAX_WORKERS)

    def _call(self, shard: Shard, name: str, args: Tuple[Any, ...],
              kwargs: Dict[str, Any]) -> Any:
        """One server's part of a fan-out: its result, or the exception it
        raised (returned, so that the other servers' parts are kept)."""
        try:
            result = getattr(shard.client, name)(*args, **kwargs)
        except Exception as error:  # every outcome is merged, none dropped
            self._failed(shard, error)
            return error
        if shard.failures:
            self._succeeded(shard)
        return result

    def _fan_out(self, name: str, args: Tuple[Any, ...], kwargs: Dict[str, Any],
                 probe_dead: bool = False, skip_dead: bool = False) -> List[Outcome]:
        targets, down = self._targets(probe_dead, skip_dead)
        jobs = [functools.partial(self._call, shard, name, args, kwargs) for shard in targets]
        return self._with_down(targets, self._runner.run(jobs) if jobs else [], down)

    # -- the rest of the Client interface ------------------------------------

    def pipeline(self) -> "HashPipeline":
        """A pipeline whose calls are grouped by server, the groups sent at
        once, and the results returned in the order of the calls."""
        return HashPipeline(self)

    def connect(self) -> None:
        """Open a connection to every server now (a ping for pooled ones)."""
        outcomes = self._fan_out(self._connect_operation(), (), {}, probe_dead=True)
        self._merged("none", outcomes, None, "connect()")

    def close(self) -> None:
        """Close every server's client and the fan-out threads; a later call
        reconnects as ``Client`` does (a pooled client's pools stay closed)."""
        for shard in self._shards:
            shard.client.close()
        self._runner.close()

    def __enter__(self) -> "HashClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    #: Whether ``key`` is stored and not expired: one META request to its
    #: server, as ``Client.exists``; may be out of date by the time it is used.
    exists = _client_extras.exists

    # The operations, made from pygibson.OPERATIONS below the class.
    if TYPE_CHECKING:  # their signatures, for type checkers (tests hold them to the table)
        def set(self, key: Key, value: Value, ttl: int = 0) -> None: ...
        def ttl(self, key: Key, ttl: int) -> None: ...
        @overload
        def get(self, key: Key) -> Union[bytes, str, int]: ...
        @overload
        def get(self, key: Key, default: _D) -> Union[bytes, str, int, _D]: ...
        def get(self, key: Key, default: Any = ...) -> Any: ...
        def dl(self, key: Key) -> None: ...
        def delete(self, key: Key) -> None: ...
        def inc(self, key: Key) -> int: ...
        def dec(self, key: Key) -> int: ...
        def lock(self, key: Key, seconds: int) -> None: ...
        def unlock(self, key: Key) -> None: ...
        def mset(self, prefix: Key, value: Value) -> int: ...
        def mttl(self, prefix: Key, ttl: int) -> int: ...
        def mget(self, prefix: Key, limit: Optional[int] = None
                 ) -> Dict[str, Union[bytes, str, int]]: ...
        def mdl(self, prefix: Key) -> int: ...
        def mdelete(self, prefix: Key) -> int: ...
        def minc(self, prefix: Key) -> int: ...
        def mdec(self, prefix: Key) -> int: ...
        def mlock(self, prefix: Key, seconds: int) -> int: ...
        def munlock(self, prefix: Key) -> int: ...
        def count(self, prefix: Key) -> int: ...
        def stats(self) -> Dict[str, Dict[str, Union[bytes, str, int]]]: ...
        def ping(self) -> None: ...
        def meta(self, key: Key, field: str) -> int: ...
        def keys(self, prefix: Key) -> List[Union[bytes, str]]: ...
        def quit(self) -> None: ...


_SINGLE_KEY = """
def {name}(self{params}):
    shard = self._place({key})
    try:
        result = shard.client.{name}({args})
    except UNREACHABLE as error:
        self._failed(shard, error)
        raise
    if shard.failures:
        self._succeeded(shard)
    return result
"""

_PREFIX = """
def {name}(self{params}):
    return self._merged({kind!r}, self._fan_out({name!r}, ({args},), {{}}), {limit}, {command!r})
"""

# get(key, default): the same path, with the key's NotFoundError turned into
# the default when one is given.
_GET = with_default(_SINGLE_KEY)


def _every_server_method(op: Operation, name: str) -> Callable[..., Any]:
    # stats() and ping() are how one looks at every server: they try the
    # dead ones too. quit() ends the connections there are: a dead server
    # has none.
    kind = "stats" if op.name == "stats" else "none"
    quit = op.result == "quit"

    def method(self: HashClient) -> Any:
        if quit:
            self._check_quit("close")
        outcomes = self._fan_out(name, (), {}, probe_dead=not quit, skip_dead=quit)
        return self._merged(kind, outcomes, None, op.command)

    return method


def _make_method(op: Operation, name: str) -> Callable[..., Any]:
    if not op.params:
        method = _every_server_method(op, name)
        method.__name__, method.__qualname__ = name, "HashClient." + name
        method.__doc__ = op.doc
        return method
    namespace = {"UNREACHABLE": (ConnectionError, TimeoutError), "NotFoundError": NotFoundError,
                 "NO_DEFAULT": ...}
    if op.result == "value":
        method = define(op, name, _GET, namespace, "HashClient")
        method.__doc__ = GET_DOC
        return method  # type: ignore[no-any-return]
    return define(op, name, _PREFIX if op.prefix else _SINGLE_KEY, namespace,  # type: ignore[no-any-return]
                  "HashClient")


for _op in OPERATIONS:
    for _name in (_op.name,) + _op.aliases:
        setattr(HashClient, _name, _make_method(_op, _name))
del _op, _name
