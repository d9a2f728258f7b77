"""Fixtures shared by the test packages: which implementation of the client
a test runs on. Every client test runs twice, on the C extension ("c") and
on the pure-Python twin ("py"), as multidict and markupsafe test theirs."""

import importlib
import os

import pytest

#: PYGIBSON_TEST_ONLY=c (or py) runs one implementation's tests alone, as
#: the run under valgrind does: the extension is what it checks.
ONLY = os.environ.get("PYGIBSON_TEST_ONLY")

#: The module that holds Client and Pipeline, per implementation.
CLIENT_MODULES = {"c": "pygibson._pygibson", "py": "pygibson._pure"}
#: The module that holds Reader and encode_command, per implementation.
PROTOCOL_MODULES = {"c": "pygibson._pygibson", "py": "pygibson._protocol"}


def _import(name, wanted=(), implementation=None):
    if ONLY and implementation != ONLY:
        pytest.skip("PYGIBSON_TEST_ONLY=%s" % ONLY)
    try:
        module = importlib.import_module(name)
    except ImportError as error:
        pytest.skip("%s cannot be imported here (%s): only the pure-Python "
                    "implementation is tested" % (name, error))
    missing = [attr for attr in wanted if not hasattr(module, attr)]
    if missing:
        pytest.skip("%s has no %s yet" % (name, ", ".join(missing)))
    return module


@pytest.fixture(scope="session", params=["c", "py"])
def implementation(request):
    """The module providing Client and Pipeline: the C extension, or the
    pure-Python twin. "c" is skipped where the extension cannot be
    imported (PyPy, a build without it)."""
    return _import(CLIENT_MODULES[request.param], ("Client", "Pipeline"), request.param)


@pytest.fixture(scope="session", params=["c", "py"])
def protocol(request):
    """The module providing Reader and encode_command, per implementation.
    "c" is skipped until the extension has both."""
    return _import(PROTOCOL_MODULES[request.param], ("Reader", "encode_command"),
                   request.param)
