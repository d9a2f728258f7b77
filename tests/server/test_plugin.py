"""The pytest plugin (pygibson.testing), run the way users run it: an inner
pytest session in a subprocess, with the plugin loaded by name as its
``pytest11`` entry point loads it once pygibson is installed."""

import os
import subprocess
import sys
import textwrap

import pytest

import pygibson

from pygibson.server import GibsonServer
from pygibson.testing import GibsonAddress, parse_address

# Child processes import the very pygibson this test imported: the
# installed one in CI (the source tree has no built extension there), or the
# tree's during development.
SRC = os.path.dirname(os.path.dirname(os.path.abspath(pygibson.__file__)))


def run_pytest(tmp_path, source, *args, env=None, conftest=None):
    """Run ``source`` as a test file in a fresh pytest; returns the result
    with the summary in ``stdout``."""
    (tmp_path / "test_user.py").write_text(textwrap.dedent(source))
    if conftest:
        (tmp_path / "conftest.py").write_text(textwrap.dedent(conftest))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    environment = dict(os.environ, PYTHONPATH=SRC)
    environment.pop("PYGIBSON_TEST_ADDRESS", None)
    environment.update(env or {})
    # No entry-point plugins (faster start, and no double registration
    # when pygibson is installed): the plugin is loaded by name instead,
    # which is what its pytest11 entry point does.
    environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "-p", "pygibson_pytest"] + list(args) + ["test_user.py"],
        cwd=str(tmp_path), env=environment, capture_output=True, text=True, timeout=120)


def assert_outcome(result, passed=0, skipped=0):
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout + result.stderr
    if passed:
        assert "%d passed" % passed in summary, result.stdout
    if skipped:
        assert "%d skipped" % skipped in summary, result.stdout


RAW_PING = """
import socket, struct

def ping(address):
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        sock.connect(address)
        sock.sendall(struct.pack("<Ih", 2, 19))
        return sock.recv(8)

OK = struct.pack("<HBI", 5, 0, 1) + b"\\0"
"""
# Indented like the test sources below, so that dedent() works on both.
RAW_PING = textwrap.indent(RAW_PING, " " * 8)


def test_server_fixtures(tmp_path):
    result = run_pytest(tmp_path, RAW_PING + """
        import os

        def test_tcp(gibson_server):
            host, port = gibson_server.address
            assert host == "127.0.0.1" and port > 0
            assert ping(gibson_server.address) == OK

        def test_same_session_server(gibson_server, request):
            assert ping((gibson_server.host, gibson_server.port)) == OK

        def test_unix(gibson_unix_server):
            assert os.path.exists(gibson_unix_server.unix_socket)
            assert ping(gibson_unix_server.unix_socket) == OK

        def test_factory(gibson_server_factory):
            server = gibson_server_factory(max_value_size=8, unix_socket=True)
            assert server.config.max_value_size == 8
            assert ping(server.address) == OK
    """)
    assert_outcome(result, passed=4)


def test_client_fixtures_flush_and_clear_faults_between_tests(tmp_path):
    result = run_pytest(tmp_path, """
        import pytest
        from pygibson.server import ManualClock

        def test_first(gibson_client, gibson_server):
            gibson_client.set("leftover", "x")
            gibson_server.faults.delay_replies(30)

        def test_second_sees_a_clean_server(gibson_client):
            assert gibson_client.timeout == 1500  # --gibson-timeout
            assert gibson_client.count("leftover") == 0
            gibson_client.set("k", "v")
            assert gibson_client.get("k") == b"v"

        def test_factories(gibson_server_factory, gibson_client_factory):
            clock = ManualClock()
            server = gibson_server_factory(clock=clock)
            client = gibson_client_factory(server, timeout=2000)
            assert client.timeout == 2000
            client.set("k", "v", ttl=10)
            clock.advance(10)
            assert client.count("k") == 0

        def test_unix_client(gibson_unix_server, gibson_client_factory):
            client = gibson_client_factory(gibson_unix_server)
            client.ping()
    """, "--gibson-timeout", "1500")
    assert_outcome(result, passed=4)


def test_noproc_is_skipped_without_an_address(tmp_path):
    result = run_pytest(tmp_path, """
        def test_needs_a_server(gibson_noproc):
            raise AssertionError("should have been skipped")
    """)
    assert_outcome(result, skipped=1)
    assert "--gibson-address" in result.stdout


EXISTING_SERVER_TEST = """
        def test_existing(gibson_noproc, gibson_client_factory):
            assert ping(gibson_noproc.address) == OK
            client = gibson_client_factory(gibson_noproc)
            client.set("from-inner-session", "yes")
"""


@pytest.mark.parametrize("how", ["option", "environment", "unix"])
def test_noproc_uses_an_existing_server(tmp_path, how):
    unix = True if how == "unix" else None
    with GibsonServer(unix_socket=unix) as server:
        if how == "unix":
            text, args, env = server.unix_socket, ["--gibson-address", server.unix_socket], {}
        else:
            text = "%s:%d" % server.address
            args = ["--gibson-address", text] if how == "option" else []
            env = {} if how == "option" else {"PYGIBSON_TEST_ADDRESS": text}
        result = run_pytest(tmp_path, RAW_PING + EXISTING_SERVER_TEST, *args, env=env)
        assert_outcome(result, passed=1)
        assert server.stats()["total_items"] == 1


def test_noproc_fails_when_the_server_does_not_answer(tmp_path):
    with GibsonServer() as server:
        text = "%s:%d" % server.address
    result = run_pytest(tmp_path, """
        def test_existing(gibson_noproc):
            pass
    """, "--gibson-address", text)
    assert result.returncode != 0
    assert "does not answer" in result.stdout


def test_custom_fixture_from_conftest(tmp_path):
    result = run_pytest(tmp_path, RAW_PING + """
        def test_small(small_gibson):
            assert small_gibson.config.max_value_size == 64
            assert ping(small_gibson.address) == OK
    """, conftest="""
        from pygibson.testing import gibson_server_fixture

        small_gibson = gibson_server_fixture(scope="module", max_value_size=64)
    """)
    assert_outcome(result, passed=1)


@pytest.mark.parametrize("text,address", [
    ("127.0.0.1:10128", ("127.0.0.1", 10128)),
    ("localhost:1", ("localhost", 1)),
    ("[::1]:10128", ("::1", 10128)),
    ("/var/run/gibson.sock", "/var/run/gibson.sock"),
])
def test_parse_address(text, address):
    assert parse_address(text).address == address


@pytest.mark.parametrize("text", ["localhost", "host:port", ""])
def test_parse_address_rejects(text):
    with pytest.raises(ValueError):
        parse_address(text)


def test_gibson_address_repr():
    assert "1234" in repr(GibsonAddress("h", 1234))


def test_entry_point_when_installed():
    try:
        from importlib.metadata import PackageNotFoundError, distribution
    except ImportError:  # pragma: no cover - Python < 3.8
        pytest.skip("no importlib.metadata")
    try:
        points = distribution("pygibson").entry_points
    except PackageNotFoundError:
        pytest.skip("pygibson is not installed (running from the source tree)")
    plugins = {point.name: point.value for point in points if point.group == "pytest11"}
    assert plugins.get("gibson") == "pygibson_pytest"


def test_the_entry_point_module_offers_every_fixture_of_pygibson_testing():
    import pygibson_pytest
    from pygibson import testing

    def is_fixture(value):  # the marker differs between pytest versions
        return (hasattr(value, "_pytestfixturefunction")
                or type(value).__name__ == "FixtureFunctionDefinition")

    defined = {name for name, value in vars(testing).items() if is_fixture(value)}
    assert defined == set(pygibson_pytest.FIXTURES)
    assert pygibson_pytest.UNAVAILABLE is None


def test_a_broken_install_skips_the_fixtures_and_breaks_nothing_else(tmp_path):
    # A pygibson that fails at import, ahead of the real one on the path.
    broken = tmp_path / "broken" / "pygibson"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('undefined symbol: Py_Whatever')\n")
    result = run_pytest(tmp_path, """
        def test_uses_the_client(gibson_client):
            raise AssertionError("must be skipped")

        def test_plain():
            assert True
        """, "--gibson-timeout", "500",
        env={"PYTHONPATH": os.pathsep.join([str(broken.parent), SRC])})
    assert_outcome(result, passed=1, skipped=1)
    assert "pygibson cannot be imported here" in result.stdout
    assert "undefined symbol: Py_Whatever" in result.stdout
