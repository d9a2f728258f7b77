"""Type stubs for pygibson.asyncio, whose operation methods are made from the
operation table at import time (tests/asyncio/test_stubs.py keeps this file
and the table in step). The coroutines are written once, in
_AsyncOperations, for AsyncClient and AsyncPooledClient; the pipelines take
their queueing methods from _pygibson.pyi's _Queue, as the blocking ones."""

from types import GenericAlias
from typing import Any, Dict, Generic, List, Optional, Union, overload, type_check_only

from typing_extensions import Self

from ._async_pipeline import AsyncPipeline
from ._async_pool import AsyncConnectionPool as AsyncConnectionPool
from ._async_pool import AsyncPooledClient as AsyncPooledClient
from ._pygibson import _D, _Key, _Path, _V, _Value
from .pool import PoolTimeoutError as PoolTimeoutError
from .serializers import Serializer as _Serializer

__all__ = ["AsyncClient", "AsyncPipeline", "AsyncConnectionPool", "AsyncPooledClient",
           "PoolTimeoutError"]

@type_check_only
class _AsyncOperations(Generic[_V]):
    """The coroutines of every asyncio client (the table's, but quit); what
    they return is as in _pygibson.pyi's _Operations."""

    # AsyncClient[str] works at run time too (PEP 585), for annotations
    # evaluated then.
    @classmethod
    def __class_getitem__(cls, item: Any, /) -> GenericAlias: ...

    async def set(self, key: _Key, value: Union[_Value, _V], ttl: int = 0) -> None: ...
    async def ttl(self, key: _Key, ttl: int) -> None: ...
    @overload
    async def get(self, key: _Key) -> _V: ...
    @overload
    async def get(self, key: _Key, default: _D) -> Union[_V, _D]: ...
    async def exists(self, key: _Key) -> bool: ...
    async def dl(self, key: _Key) -> None: ...
    async def delete(self, key: _Key) -> None: ...
    async def inc(self, key: _Key) -> int: ...
    async def dec(self, key: _Key) -> int: ...
    async def lock(self, key: _Key, seconds: int) -> None: ...
    async def unlock(self, key: _Key) -> None: ...
    async def mset(self, prefix: _Key, value: Union[_Value, _V]) -> int: ...
    async def mttl(self, prefix: _Key, ttl: int) -> int: ...
    async def mget(
        self, prefix: _Key, limit: Optional[int] = None
    ) -> Dict[str, Union[_V, int]]: ...
    async def mdl(self, prefix: _Key) -> int: ...
    async def mdelete(self, prefix: _Key) -> int: ...
    async def minc(self, prefix: _Key) -> int: ...
    async def mdec(self, prefix: _Key) -> int: ...
    async def mlock(self, prefix: _Key, seconds: int) -> int: ...
    async def munlock(self, prefix: _Key) -> int: ...
    async def count(self, prefix: _Key) -> int: ...
    async def stats(self) -> Dict[str, Union[_V, int]]: ...
    async def ping(self) -> None: ...
    async def meta(self, key: _Key, field: str) -> int: ...
    async def keys(self, prefix: _Key) -> List[_V]: ...

class AsyncClient(_AsyncOperations[_V]):
    # Client's options, spelt out in each overload as there (stubtest
    # cannot compare **Unpack[...] with the signature).
    @overload
    def __init__(
        self: "AsyncClient[bytes]",
        addr: Optional[str] = "127.0.0.1",
        port: int = 10128,
        unix_socket: Optional[_Path] = None,
        timeout: Optional[float] = 1000,
        *,
        encoding: None = None,
        host: Optional[str] = None,
        connect_timeout: Optional[float] = None,
        max_key_size: int = 512,
        max_value_size: Optional[int] = None,
        max_request_size: int = 4194304,
        max_reply_size: int = 67108864,
        strict_ttl: bool = True,
        retry_reads: bool = True,
        connect_retries: int = 2,
        connect_backoff: int = 50,
        empty_when_no_match: bool = False,
        serializer: None = None,
    ) -> None: ...
    @overload
    def __init__(
        self: "AsyncClient[str]",
        addr: Optional[str] = "127.0.0.1",
        port: int = 10128,
        unix_socket: Optional[_Path] = None,
        timeout: Optional[float] = 1000,
        *,
        encoding: str,
        host: Optional[str] = None,
        connect_timeout: Optional[float] = None,
        max_key_size: int = 512,
        max_value_size: Optional[int] = None,
        max_request_size: int = 4194304,
        max_reply_size: int = 67108864,
        strict_ttl: bool = True,
        retry_reads: bool = True,
        connect_retries: int = 2,
        connect_backoff: int = 50,
        empty_when_no_match: bool = False,
        serializer: None = None,
    ) -> None: ...
    # With a serializer, values are whatever it loads and any object it
    # dumps may be stored: AsyncClient[Any].
    @overload
    def __init__(
        self: "AsyncClient[Any]",
        addr: Optional[str] = "127.0.0.1",
        port: int = 10128,
        unix_socket: Optional[_Path] = None,
        timeout: Optional[float] = 1000,
        *,
        encoding: Optional[str] = None,
        host: Optional[str] = None,
        connect_timeout: Optional[float] = None,
        max_key_size: int = 512,
        max_value_size: Optional[int] = None,
        max_request_size: int = 4194304,
        max_reply_size: int = 67108864,
        strict_ttl: bool = True,
        retry_reads: bool = True,
        connect_retries: int = 2,
        connect_backoff: int = 50,
        empty_when_no_match: bool = False,
        serializer: _Serializer,
    ) -> None: ...
    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self: ...
    @property
    def addr(self) -> Optional[str]: ...
    @property
    def host(self) -> Optional[str]: ...
    @property
    def port(self) -> int: ...
    @property
    def unix_socket(self) -> Optional[str]: ...
    @property
    def timeout(self) -> Optional[int]: ...
    @property
    def connect_timeout(self) -> Optional[int]: ...
    @property
    def encoding(self) -> Optional[str]: ...
    @property
    def empty_when_no_match(self) -> bool: ...
    @property
    def serializer(self) -> Optional[_Serializer]: ...
    @property
    def closed(self) -> bool: ...
    @property
    def in_flight(self) -> int: ...
    async def quit(self) -> None: ...
    def pipeline(self) -> AsyncPipeline[_V]: ...
    async def connect(self) -> None: ...
    async def aclose(self) -> None: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc_info: object) -> None: ...
