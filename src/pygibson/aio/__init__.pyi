from typing import Optional

from .._pygibson import Reader as _Reader
from .._pygibson import encode_command as encode_command
from . import errors as errors
from .commands import Gibson as Gibson
from .commands import create_gibson as create_gibson
from .connection import GibsonConnection as GibsonConnection
from .connection import create_connection as create_connection
from .errors import ExpectedANumber as ExpectedANumber
from .errors import GibsonError as GibsonError
from .errors import GibsonServerError as GibsonServerError
from .errors import KeyLockedError as KeyLockedError
from .errors import MemoryLimitError as MemoryLimitError
from .errors import ProtocolError as ProtocolError
from .errors import ReplyError as ReplyError
from .pool import GibsonPool as GibsonPool
from .pool import create_pool as create_pool

__all__ = ["create_connection", "create_gibson", "create_pool", "GibsonConnection", "Gibson",
           "GibsonPool", "Reader", "encode_command", "errors", "GibsonError", "ProtocolError",
           "ReplyError", "GibsonServerError", "ExpectedANumber", "MemoryLimitError",
           "KeyLockedError"]

def Reader(encoding: Optional[str] = None, *, max_reply_size: int = 67108864) -> _Reader: ...
