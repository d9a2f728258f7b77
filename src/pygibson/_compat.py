"""The one place that chooses between the C extension and the pure-Python
twin.

The extension (``pygibson._pygibson``) is used on CPython when it imports;
the pure-Python implementation (``pygibson._pure`` over
``pygibson._protocol``) on any other interpreter (PyPy), when the extension
is missing or fails to import, or when ``PYGIBSON_PURE=1`` is set in the
environment. ``IMPLEMENTATION`` says which: ``"c"`` or ``"py"``.
"""

import os
import sys

__all__ = ["IMPLEMENTATION", "LIBRARY_VERSION", "Client", "Pipeline", "Reader",
           "encode_command"]


def _want_pure():
    return (os.environ.get("PYGIBSON_PURE", "") not in ("", "0")
            or sys.implementation.name != "cpython")


IMPLEMENTATION = "py"
#: The version of the C library under the extension; None for pure Python.
LIBRARY_VERSION = None
if not _want_pure():
    try:
        from ._pygibson import LIBRARY_VERSION, Client, Pipeline, Reader, encode_command
    except ImportError:
        pass
    else:
        IMPLEMENTATION = "c"

if IMPLEMENTATION == "py":
    from ._protocol import Reader, encode_command  # noqa: F811
    from ._pure import Client, Pipeline  # noqa: F811
