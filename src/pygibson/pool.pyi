"""Type stubs for pygibson.pool, whose PooledClient and PooledPipeline
methods are made from the operation table at import time: they take their
types from _pygibson.pyi's _Operations and _BlockingQueue, as Client and
Pipeline do."""

from typing import Any, Callable, ContextManager, Generic, Optional, overload

from typing_extensions import Self

from ._pygibson import Client, _BlockingQueue, _Operations, _V
from .exceptions import TimeoutError

__all__ = ["ConnectionPool", "PooledClient", "PooledPipeline", "PoolTimeoutError"]

class PoolTimeoutError(TimeoutError): ...

class ConnectionPool(Generic[_V]):
    max_size: int
    acquire_timeout: Optional[float]
    idle_timeout: Optional[float]
    health_check_interval: Optional[float]
    # The pool's times are in seconds (the client's in milliseconds). The
    # other keyword arguments go to every client: Client's, or
    # client_factory's, which may take others.
    @overload
    def __init__(
        self: "ConnectionPool[bytes]",
        max_size: int = 8,
        acquire_timeout: Optional[float] = 5.0,
        idle_timeout: Optional[float] = 300.0,
        health_check_interval: Optional[float] = 30.0,
        client_factory: Callable[..., Client[bytes]] = ...,
        *,
        encoding: None = None,
        **client_kwargs: Any,
    ) -> None: ...
    @overload
    def __init__(
        self: "ConnectionPool[str]",
        max_size: int = 8,
        acquire_timeout: Optional[float] = 5.0,
        idle_timeout: Optional[float] = 300.0,
        health_check_interval: Optional[float] = 30.0,
        client_factory: Callable[..., Client[str]] = ...,
        *,
        encoding: str,
        **client_kwargs: Any,
    ) -> None: ...
    @property
    def size(self) -> int: ...
    @property
    def idle(self) -> int: ...
    def acquire(self, timeout: Optional[float] = None) -> Client[_V]: ...
    def release(self, client: Client[_V]) -> None: ...
    def discard(self, client: Client[_V]) -> None: ...
    def connection(self) -> ContextManager[Client[_V]]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc_info: object) -> None: ...

class PooledClient(_Operations[_V]):
    pool: ConnectionPool[_V]
    @overload
    def __init__(self, pool: ConnectionPool[_V]) -> None: ...
    @overload
    def __init__(
        self: "PooledClient[bytes]", pool: None = None, *, encoding: None = None, **options: Any
    ) -> None: ...
    @overload
    def __init__(
        self: "PooledClient[str]", pool: None = None, *, encoding: str, **options: Any
    ) -> None: ...
    @classmethod
    def from_url(cls, url: str, **options: Any) -> "PooledClient[Any]": ...
    def pipeline(self) -> "PooledPipeline[_V]": ...
    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc_info: object) -> None: ...

class PooledPipeline(_BlockingQueue[_V]):
    def __init__(self, pool: ConnectionPool[_V]) -> None: ...
