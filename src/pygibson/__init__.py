"""pygibson: a fast Python client for the Gibson cache server.

    >>> from pygibson import Client
    >>> client = Client()                      # 127.0.0.1:10128, 1000 ms timeout
    >>> client.set("greeting", "hello", ttl=60)
    >>> client.get("greeting")
    b'hello'

``Client`` is a blocking connection; ``PooledClient`` shares a
``ConnectionPool`` between threads; ``Reader`` and ``encode_command`` decode
and encode the protocol without I/O; ``OPERATIONS`` describes the
protocol's operations. ``IMPLEMENTATION`` is ``"c"`` when these come from
the C extension and ``"py"`` for the pure-Python twin (PyPy, or
``PYGIBSON_PURE=1``). ``pygibson.server`` is a Gibson-compatible server in
pure Python, and ``pygibson.testing`` a pytest plugin that starts one for
your tests.
"""

from typing import TYPE_CHECKING

from . import exceptions as exceptions
from ._version import __version__
# The exception tree is public API. Imported by name, as type checkers need
# (mypy --strict re-exports only what __all__ lists or "import X as X"
# names, and reads no __all__ that is added to from another module's);
# stubtest reports a name missing here or in __all__ below.
from .exceptions import ArgumentError as ArgumentError
from .exceptions import ConnectionError as ConnectionError
from .exceptions import GibsonError as GibsonError
from .exceptions import LockedError as LockedError
from .exceptions import NaNError as NaNError
from .exceptions import NoMemoryError as NoMemoryError
from .exceptions import NotFoundError as NotFoundError
from .exceptions import PartialFailureError as PartialFailureError
from .exceptions import PartialResultError as PartialResultError
from .exceptions import ProtocolError as ProtocolError
from .exceptions import SerializationError as SerializationError
from .exceptions import PyGibsonError as PyGibsonError
from .exceptions import ServerDownError as ServerDownError
from .exceptions import ServerError as ServerError
from .exceptions import TimeoutError as TimeoutError
from .exceptions import ValueTruncatedError as ValueTruncatedError
from ._compat import IMPLEMENTATION, LIBRARY_VERSION, Client, Pipeline, Reader, encode_command
from ._operations import OPERATIONS, Operation, Parameter
from .pool import ConnectionPool, PooledClient, PoolTimeoutError

if TYPE_CHECKING:  # for type checkers; at run time __getattr__ loads it
    from .hash import HashClient

__all__ = [
    "__version__",
    "IMPLEMENTATION",
    "LIBRARY_VERSION",
    "Client",
    "Pipeline",
    "Reader",
    "encode_command",
    "OPERATIONS",
    "Operation",
    "Parameter",
    "ConnectionPool",
    "PooledClient",
    "PoolTimeoutError",
    "HashClient",  # loaded on first use, by __getattr__ below
    "PyGibsonError",
    "GibsonError",
    "ServerError",
    "NotFoundError",
    "NaNError",
    "NoMemoryError",
    "LockedError",
    "ValueTruncatedError",
    "PartialResultError",
    "ProtocolError",
    "ConnectionError",
    "TimeoutError",
    "ArgumentError",
    "SerializationError",
    "ServerDownError",
    "PartialFailureError",
]


if not TYPE_CHECKING:  # type checkers take HashClient from the import above

    def __getattr__(name):
        # HashClient is imported on first use: its hashing and thread pool
        # are modules that a program using one server need not load.
        if name == "HashClient":
            from .hash import HashClient

            return HashClient
        raise AttributeError("module 'pygibson' has no attribute %r" % name)
