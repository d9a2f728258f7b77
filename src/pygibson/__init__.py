"""pygibson: a fast Python client for the Gibson cache server.

    >>> from pygibson import Client
    >>> client = Client()                      # 127.0.0.1:10128, 1000 ms timeout
    >>> client.set("greeting", "hello", ttl=60)
    >>> client.get("greeting")
    b'hello'

``Client`` is the C extension's blocking connection; ``PooledClient`` shares
a ``ConnectionPool`` between threads; ``pygibson.server`` is a
Gibson-compatible server in pure Python, and ``pygibson.testing`` a pytest
plugin that starts one for your tests.
"""

from . import exceptions
from ._version import __version__
from .exceptions import *  # noqa: F401,F403 - the exception tree is public API
from ._pygibson import LIBRARY_VERSION, Client, Pipeline
from .pool import ConnectionPool, PooledClient, PoolTimeoutError

__all__ = [
    "__version__",
    "LIBRARY_VERSION",
    "Client",
    "Pipeline",
    "ConnectionPool",
    "PooledClient",
    "PoolTimeoutError",
] + exceptions.__all__
