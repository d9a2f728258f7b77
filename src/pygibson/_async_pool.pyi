"""Type stubs for the asyncio pool and pooled client (pygibson.asyncio
re-exports them), whose coroutines are made from the operation table at
import time: typed by asyncio.pyi's _AsyncOperations, as AsyncClient."""

from typing import Any, AsyncContextManager, Callable, Generic, Optional, overload

from typing_extensions import Self

from ._async_pipeline import AsyncPipeline
from ._pygibson import _V
from .asyncio import AsyncClient, _AsyncOperations
from .pool import PoolTimeoutError as PoolTimeoutError

__all__ = ["AsyncConnectionPool", "AsyncPooledClient", "AsyncPooledPipeline",
           "PoolTimeoutError"]

class AsyncConnectionPool(Generic[_V]):
    max_size: int
    acquire_timeout: Optional[float]
    idle_timeout: Optional[float]
    health_check_interval: Optional[float]
    # The pool's times are in seconds (the client's in milliseconds). The
    # other keyword arguments go to every client: AsyncClient's, or
    # client_factory's, which may take others.
    @overload
    def __init__(
        self: "AsyncConnectionPool[bytes]",
        max_size: int = 8,
        acquire_timeout: Optional[float] = 5.0,
        idle_timeout: Optional[float] = 300.0,
        health_check_interval: Optional[float] = 30.0,
        client_factory: Optional[Callable[..., AsyncClient[bytes]]] = None,
        *,
        encoding: None = None,
        **client_kwargs: Any,
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncConnectionPool[str]",
        max_size: int = 8,
        acquire_timeout: Optional[float] = 5.0,
        idle_timeout: Optional[float] = 300.0,
        health_check_interval: Optional[float] = 30.0,
        client_factory: Optional[Callable[..., AsyncClient[str]]] = None,
        *,
        encoding: str,
        **client_kwargs: Any,
    ) -> None: ...
    @property
    def size(self) -> int: ...
    @property
    def idle(self) -> int: ...
    async def acquire(self, timeout: Optional[float] = None) -> AsyncClient[_V]: ...
    def release(self, client: AsyncClient[_V]) -> None: ...
    async def discard(self, client: AsyncClient[_V]) -> None: ...
    def connection(self) -> AsyncContextManager[AsyncClient[_V]]: ...
    async def aclose(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc_info: object) -> None: ...

class AsyncPooledClient(_AsyncOperations[_V]):
    pool: AsyncConnectionPool[_V]
    @overload
    def __init__(self, pool: AsyncConnectionPool[_V]) -> None: ...
    @overload
    def __init__(
        self: "AsyncPooledClient[bytes]",
        pool: None = None,
        *,
        encoding: None = None,
        **options: Any,
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncPooledClient[str]", pool: None = None, *, encoding: str, **options: Any
    ) -> None: ...
    @classmethod
    def from_url(cls, url: str, **options: Any) -> "AsyncPooledClient[Any]": ...
    def pipeline(self) -> "AsyncPooledPipeline[_V]": ...
    async def aclose(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc_info: object) -> None: ...

class AsyncPooledPipeline(AsyncPipeline[_V]):
    def __init__(self, pool: AsyncConnectionPool[_V]) -> None: ...
