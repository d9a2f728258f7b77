"""Fixtures for gibson-cli's tests: an embedded server per test (tests
stop, restart and slow it down), and gibson-cli run as a real process."""

import os
import subprocess
import sys

import pytest

from pygibson._address import ADDRESS_ENV
from pygibson.server import GibsonServer

from .terminal import WAIT, Terminal


@pytest.fixture
def server():
    with GibsonServer() as server:
        yield server


@pytest.fixture
def unix_server():
    with GibsonServer(unix_socket=True) as server:
        yield server


#: Requests wait this long (ms): a loaded test machine must not turn into
#: timeouts. Tests about timeouts give their own --timeout after it.
PATIENT = ["--timeout", "30000"]


def address_args(server):
    """gibson-cli's options for ``server``, with a patient timeout."""
    if server.unix_socket:
        return ["-s", server.unix_socket] + PATIENT
    return ["-h", server.host, "-p", str(server.port)] + PATIENT


@pytest.fixture
def home(tmp_path):
    """An empty home directory: history goes there, not to the tester's."""
    path = tmp_path / "home"
    path.mkdir()
    return path


@pytest.fixture
def cli_env(home, tmp_path, implementation):
    """gibson-cli's environment, on the client implementation under test
    (the C extension or the pure-Python twin, as the client's tests)."""
    env = dict(os.environ)
    env.pop(ADDRESS_ENV, None)  # tests name their server themselves
    env["PYGIBSON_PURE"] = "1" if implementation.__name__ == "pygibson._pure" else "0"
    inputrc = tmp_path / "inputrc"
    inputrc.write_text("")      # no personal readline settings
    env.update(HOME=str(home), INPUTRC=str(inputrc), TERM="dumb")
    return env


@pytest.fixture
def run_cli(cli_env):
    """``run_cli(*args, input=b"", env=None)``: gibson-cli to completion,
    its standard input a pipe (or empty)."""

    def run(*args, input=b"", env=None):
        return subprocess.run([sys.executable, "-m", "pygibson.cli"] + list(args),
                              input=input, capture_output=True, timeout=WAIT,
                              env=env if env is not None else cli_env)

    return run


@pytest.fixture
def terminal(cli_env):
    """``terminal(*args)``: gibson-cli at a prompt on a pseudo-terminal;
    killed after the test if still running."""
    started = []

    def start(*args):
        started.append(Terminal(list(args), cli_env))
        return started[-1]

    yield start
    for term in started:
        term.close()
