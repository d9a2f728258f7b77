"""The pure-Python twin of the extension's Client and Pipeline: the same
interface (tests/client/test_twins.py holds them together), so the same
stubs. They are declared as subclasses, not re-exported, so that stubtest
compares the twin's own methods with _pygibson.pyi too (it skips the names a
stub imports); only _compat imports them from here, at run time. Below is
only where the twin is built differently from the extension."""

from typing import Any

from typing_extensions import Self

from ._pygibson import _V
from ._pygibson import Client as _Client
from ._pygibson import Pipeline as _Pipeline

__all__ = ["Client", "Pipeline"]

class Client(_Client[_V]):
    # __new__ fills the slots, so that a client whose __init__ did not run
    # refuses calls (as the extension's does) instead of failing oddly.
    def __new__(cls, *args: Any, **kwargs: Any) -> Self: ...
    # Closes the connection of a client dropped without close().
    def __del__(self) -> None: ...

class Pipeline(_Pipeline[_V]):
    def __init__(self, client: _Client[_V]) -> None: ...
