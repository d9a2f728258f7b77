"""Settings: size and time suffixes, the gibson.conf format, and the command
line (run as a real process, stopped by signals)."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

import pygibson

from pygibson.server.config import (
    Config, ConfigError, parse_size, parse_time, read_config_file)
from .rawclient import OK, RawClient

# Child processes import the very pygibson this test imported: the
# installed one in CI (the source tree has no built extension there), or the
# tree's during development.
SRC = os.path.dirname(os.path.dirname(os.path.abspath(pygibson.__file__)))


@pytest.mark.parametrize("text,value", [
    ("512", 512), ("4K", 4096), ("4k", 4096), ("2M", 2097152), ("1G", 1073741824),
    ("10B", 10), ("15M", 15728640),
])
def test_sizes(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text,value", [
    ("5", 5), ("15s", 15), ("15m", 900), ("2h", 7200), ("1d", 86400), ("30D", 2592000),
])
def test_times(text, value):
    assert parse_time(text) == value


@pytest.mark.parametrize("text", ["", "K", "1.5M", "-1", "1X", "ten"])
def test_bad_sizes(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_config_file_format(tmp_path):
    path = tmp_path / "gibson.conf"
    path.write_text(
        "# a comment\n"
        "\n"
        "max_key_size 1K trailing text is ignored\n"
        "max_value_size   2096127\n"
        " # not a comment: the key is '#'\n"
        "gc_ratio 15m\n"
        "compression 4K\n"
        "expired_cron 15s\n"
        "unix_socket /tmp/x.sock\n"
        "max_memory lots\n"
        "daemonize 1\n")
    warnings = []
    values = read_config_file(str(path), warn=warnings.append)
    assert values == {
        "max_key_size": 1024, "max_value_size": 2096127, "gc_ratio": 900,
        "compression": 4096, "expired_cron": 15, "unix_socket": "/tmp/x.sock",
        "daemonize": 1,
    }
    # The bad max_memory falls back to the default, with a warning, and so
    # does the unknown '#' directive.
    assert len(warnings) == 2


def test_a_key_without_value_is_fatal(tmp_path):
    path = tmp_path / "gibson.conf"
    path.write_text("port 10128\nmax_clients\n")
    with pytest.raises(ConfigError, match="max_clients"):
        read_config_file(str(path))


def test_a_missing_file_is_fatal(tmp_path):
    with pytest.raises(ConfigError):
        read_config_file(str(tmp_path / "absent.conf"))


def test_unknown_keyword_arguments_are_refused():
    with pytest.raises(TypeError, match="max_kex_size"):
        Config(max_kex_size=1)


def test_max_memory_over_ram_becomes_half_the_ram():
    config = Config(max_memory=1 << 60)
    if config.memory_available:
        assert config.memory_usable == config.memory_available // 2
    assert Config(max_memory=1024).memory_usable == 1024


# -- the command line ----------------------------------------------------------

def start_cli(*args):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC))
    process = subprocess.Popen(
        [sys.executable, "-m", "pygibson.server"] + list(args),
        stderr=subprocess.PIPE, env=env, text=True)
    lines = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        match = re.search(r"listening on (\S+)", line)
        if match:
            return process, match.group(1), lines
    process.kill()
    raise AssertionError("the server did not start:\n" + "".join(lines))


def stop_cli(process, signum):
    process.send_signal(signum)
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, err


def free_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_over_tcp_with_flags(signum):
    port = free_port()
    process, where, _ = start_cli("--port", str(port), "--max-value-size", "4",
                                  "--max_key_size", "1K", "--log-level", "debug")
    try:
        assert where == "127.0.0.1:%d" % port
        with RawClient(("127.0.0.1", port)) as c:
            assert c.call("SET", b"0 k 123456") == b"1234"
            assert c.call("PING") == OK
    finally:
        code, err = stop_cli(process, signum)
    assert code == 0
    assert "stopped" in err


def test_cli_with_a_config_file_and_a_unix_socket(tmp_path):
    sock = tmp_path / "gibson.sock"
    conf = tmp_path / "gibson.conf"
    conf.write_text("unix_socket %s\nmax_value_size 8\nmax_key_size 3\n"
                    "pidfile /nonexistent/gibson.pid\nloglevel 1\n" % sock)
    # The command line overrides the file.
    process, where, _ = start_cli("-c", str(conf), "--max-value-size", "6")
    try:
        assert where == "unix:%s" % sock
        with RawClient(str(sock)) as c:
            assert c.call("SET", b"0 k 123456789") == b"123456"
            assert c.call("INC", b"abcdef") == 1
            assert c.call("GET", b"abc") == 1
    finally:
        code, _ = stop_cli(process, signal.SIGTERM)
    assert code == 0
    assert not sock.exists()


def test_cli_refuses_bad_values():
    result = subprocess.run(
        [sys.executable, "-m", "pygibson.server", "--max-key-size", "big"],
        env=dict(os.environ, PYTHONPATH=os.path.abspath(SRC)),
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "max-key-size" in result.stderr


def test_cli_reports_a_busy_port():
    with RawServerSocket() as port:
        result = subprocess.run(
            [sys.executable, "-m", "pygibson.server", "--port", str(port)],
            env=dict(os.environ, PYTHONPATH=os.path.abspath(SRC)),
            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "cannot serve" in result.stderr


class RawServerSocket:
    """A listening socket that keeps a port busy."""

    def __enter__(self):
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        return self.sock.getsockname()[1]

    def __exit__(self, *exc):
        self.sock.close()


def test_help_lists_the_directives():
    result = subprocess.run(
        [sys.executable, "-m", "pygibson.server", "--help"],
        env=dict(os.environ, PYTHONPATH=os.path.abspath(SRC)),
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    for flag in ("--max-memory", "--max-item-ttl", "--max-key-size", "--max-value-size",
                 "--max-request-size", "--max-response-size", "--max-clients",
                 "--compression", "--expired-cron", "--unix-socket", "--address", "--port"):
        assert flag in result.stdout
