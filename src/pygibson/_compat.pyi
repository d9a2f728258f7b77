"""_compat picks the extension or the pure twin at run time; both have the
interface of _pygibson.pyi, so type checkers see that one."""

from typing import Literal, Optional

from ._pygibson import Client as Client
from ._pygibson import Pipeline as Pipeline
from ._pygibson import Reader as Reader
from ._pygibson import encode_command as encode_command

__all__ = ["IMPLEMENTATION", "LIBRARY_VERSION", "Client", "Pipeline", "Reader",
           "encode_command"]

IMPLEMENTATION: Literal["c", "py"]
# The version of the C library under the extension; None for pure Python.
LIBRARY_VERSION: Optional[str]
