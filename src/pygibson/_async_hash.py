"""``AsyncHashClient``: ``HashClient``'s twin for asyncio.

A thin layer: placement, the failure policy, the choice of servers for a
call over all of them and the merging are ``pygibson._sharded``'s, and the
pipeline's queueing and result assembly ``HashPipeline``'s. What is its
own: each operation is a coroutine awaiting the key's ``AsyncClient``, and a
fan-out is ``asyncio.gather`` over the servers instead of threads.
"""

import asyncio
from typing import (TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence,
                    Tuple, TypeVar, Union, overload)

from ._hash_pipeline import HashPipeline, _Group
from ._operations import OPERATIONS, Operation
from . import _client_extras
from ._ring import Ketama
from ._shard import Outcome, ServerSpec, Shard, define, with_default
from ._sharded import Hasher, Sharded, client_maker
from .exceptions import ConnectionError, NotFoundError, TimeoutError
from .hash import GET_DOC

if TYPE_CHECKING:
    from .hash import Key, Value

__all__ = ["AsyncHashClient", "AsyncHashPipeline"]

_D = TypeVar("_D")


class AsyncHashClient(Sharded):
    """The ``AsyncClient`` interface over several servers: ``HashClient``
    for asyncio, with the same options, placement and failure policy (see
    ``HashClient``). Each server's client is an ``AsyncClient`` (an
    ``AsyncPooledClient`` with ``pooled=True`` or ``max_size=``); every
    operation is a coroutine; ``aclose()`` and ``async with`` close them.
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
        from .asyncio import AsyncClient, AsyncPooledClient

        make_client = client_maker(AsyncClient, lambda: AsyncPooledClient, pooled, max_size,
                                   client_factory, client_options)
        super().__init__(servers, make_client, hasher, failover, retry_attempts, retry_timeout,
                         dead_timeout, ignore_exc)

    async def _call(self, shard: Shard, name: str, args: Tuple[Any, ...]) -> Any:
        """One server's part of a fan-out: its result or its exception."""
        try:
            result = await getattr(shard.client, name)(*args)
        except Exception as error:  # every outcome is merged, none dropped
            self._failed(shard, error)
            return error
        if shard.failures:
            self._succeeded(shard)
        return result

    async def _fan_out(self, name: str, args: Tuple[Any, ...], probe_dead: bool = False,
                       skip_dead: bool = False) -> List[Outcome]:
        targets, down = self._targets(probe_dead, skip_dead)
        results = await asyncio.gather(*(self._call(shard, name, args) for shard in targets))
        return self._with_down(targets, results, down)

    def pipeline(self) -> "AsyncHashPipeline":
        """A pipeline whose calls are grouped by server; ``await
        execute()`` runs the groups at once."""
        return AsyncHashPipeline(self)

    async def connect(self) -> None:
        """Open a connection to every server now (a ping for pooled ones)."""
        outcomes = await self._fan_out(self._connect_operation(), (), probe_dead=True)
        self._merged("none", outcomes, None, "connect()")

    async def aclose(self) -> None:
        """Close every server's client; a later call reconnects."""
        for shard in self._shards:
            await shard.client.aclose()

    async def __aenter__(self) -> "AsyncHashClient":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def exists(self, key: "Key") -> bool:
        """Whether ``key`` is stored and not expired: one META request to
        its server, as ``Client.exists``; may be out of date by the time it
        is used."""
        return await _client_extras.aexists(self, key)

    # The operations, made from pygibson.OPERATIONS below the class.
    if TYPE_CHECKING:  # their signatures, for type checkers (tests hold them to the table)
        async def set(self, key: "Key", value: "Value", ttl: int = 0) -> None: ...
        async def ttl(self, key: "Key", ttl: int) -> None: ...
        @overload
        async def get(self, key: "Key") -> Union[bytes, str, int]: ...
        @overload
        async def get(self, key: "Key", default: _D) -> Union[bytes, str, int, _D]: ...
        async def get(self, key: "Key", default: Any = ...) -> Any: ...
        async def dl(self, key: "Key") -> None: ...
        async def delete(self, key: "Key") -> None: ...
        async def inc(self, key: "Key") -> int: ...
        async def dec(self, key: "Key") -> int: ...
        async def lock(self, key: "Key", seconds: int) -> None: ...
        async def unlock(self, key: "Key") -> None: ...
        async def mset(self, prefix: "Key", value: "Value") -> int: ...
        async def mttl(self, prefix: "Key", ttl: int) -> int: ...
        async def mget(self, prefix: "Key", limit: Optional[int] = None
                       ) -> Dict[str, Union[bytes, str, int]]: ...
        async def mdl(self, prefix: "Key") -> int: ...
        async def mdelete(self, prefix: "Key") -> int: ...
        async def minc(self, prefix: "Key") -> int: ...
        async def mdec(self, prefix: "Key") -> int: ...
        async def mlock(self, prefix: "Key", seconds: int) -> int: ...
        async def munlock(self, prefix: "Key") -> int: ...
        async def count(self, prefix: "Key") -> int: ...
        async def stats(self) -> Dict[str, Dict[str, Union[bytes, str, int]]]: ...
        async def ping(self) -> None: ...
        async def meta(self, key: "Key", field: str) -> int: ...
        async def keys(self, prefix: "Key") -> List[Union[bytes, str]]: ...
        async def quit(self) -> None: ...


class AsyncHashPipeline(HashPipeline):
    """``HashPipeline`` for asyncio: calls queue as they do there, and
    ``await execute(raise_on_error=True)`` runs the servers' pipelines
    together and returns the results in the order of the calls."""

    async def _run_group_async(self, group: _Group) -> None:
        try:
            outcome = await group.pipeline.execute(raise_on_error=False)
        except Exception as error:  # the group's calls all get it
            self._ran(group, error, True)
        else:
            self._ran(group, outcome, False)

    async def execute(self, raise_on_error: bool = True) -> List[Any]:  # type: ignore[override]
        """Run the queued calls and return their results in order."""
        groups, slots, mixed = self._take()
        if groups:
            await asyncio.gather(*(self._run_group_async(group) for group in groups))
        return self._results(groups, slots, mixed, raise_on_error)


_SINGLE_KEY = """
async def {name}(self{params}):
    shard = self._place({key})
    try:
        result = await shard.client.{name}({args})
    except UNREACHABLE as error:
        self._failed(shard, error)
        raise
    if shard.failures:
        self._succeeded(shard)
    return result
"""

# get(key, default), as HashClient's.
_GET = with_default(_SINGLE_KEY)

_PREFIX = """
async def {name}(self{params}):
    return self._merged({kind!r}, await self._fan_out({name!r}, ({args},)), {limit}, {command!r})
"""


def _every_server_method(op: Operation, name: str) -> Callable[..., Any]:
    # As on HashClient: stats() and ping() try dead servers too; quit()
    # leaves them alone.
    kind = "stats" if op.name == "stats" else "none"
    quit = op.result == "quit"

    async def method(self: AsyncHashClient) -> Any:
        if quit:
            self._check_quit("aclose")
        outcomes = await self._fan_out(name, (), probe_dead=not quit, skip_dead=quit)
        return self._merged(kind, outcomes, None, op.command)

    method.__name__, method.__qualname__ = name, "AsyncHashClient." + name
    method.__doc__ = op.doc
    return method


def _make_method(op: Operation, name: str) -> Callable[..., Any]:
    if not op.params:
        return _every_server_method(op, name)
    namespace = {"UNREACHABLE": (ConnectionError, TimeoutError), "NotFoundError": NotFoundError,
                 "NO_DEFAULT": ...}
    if op.result == "value":
        method = define(op, name, _GET, namespace, "AsyncHashClient")
        method.__doc__ = GET_DOC
        return method  # type: ignore[no-any-return]
    return define(op, name, _PREFIX if op.prefix else _SINGLE_KEY, namespace,  # type: ignore[no-any-return]
                  "AsyncHashClient")


for _op in OPERATIONS:
    for _name in (_op.name,) + _op.aliases:
        setattr(AsyncHashClient, _name, _make_method(_op, _name))
del _op, _name
