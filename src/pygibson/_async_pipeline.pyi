"""Type stubs for AsyncPipeline (pygibson.asyncio re-exports it), whose
queueing methods are made from the operation table at import time: typed by
_pygibson.pyi's _Queue, as the blocking pipelines."""

from typing import Any, List

from typing_extensions import Self

from ._pygibson import _Queue, _V
from .asyncio import AsyncClient

__all__ = ["AsyncPipeline"]

class AsyncPipeline(_Queue[_V]):
    def __init__(self, client: AsyncClient[_V]) -> None: ...
    @property
    def client(self) -> AsyncClient[_V]: ...
    # The results in the order queued, each as the AsyncClient coroutine
    # returns it; with raise_on_error=False a refused operation's exception
    # in its place.
    async def execute(self, raise_on_error: bool = True) -> List[Any]: ...
    async def __aenter__(self) -> Self: ...
    async def __aexit__(self, *exc_info: object) -> None: ...
