"""One-shot mode: ``gibson-cli COMMAND ARGS...``, judged by its exit status
and output (0 done, 1 refused, 2 no server)."""

import signal
import subprocess
import sys
import time

import pytest

from .conftest import address_args
from .terminal import WAIT


@pytest.fixture(params=["tcp", "unix"])
def any_server(request):
    return request.getfixturevalue({"tcp": "server", "unix": "unix_server"}[request.param])


def test_set_then_get(any_server, run_cli):
    where = address_args(any_server)
    done = run_cli(*where, "set", "greeting", "hello world", "60")
    assert (done.returncode, done.stdout, done.stderr) == (0, b"OK\n", b"")
    done = run_cli(*where, "GET", "greeting")
    assert (done.returncode, done.stdout) == (0, b"b'hello world'\n")
    assert run_cli(*where, "--raw", "get", "greeting").stdout == b"hello world\n"


def test_numbers_tables_and_lists(server, run_cli):
    where = address_args(server)
    assert run_cli(*where, "inc", "n").stdout == b"(integer) 1\n"
    run_cli(*where, "set", "user:a", "Alice")
    run_cli(*where, "set", "user:bob", "Bob")
    assert run_cli(*where, "mget", "user:").stdout == (b"b'user:a'    b'Alice'\n"
                                                        b"b'user:bob'  b'Bob'\n")
    assert run_cli(*where, "keys", "user:").stdout == b"1) b'user:a'\n2) b'user:bob'\n"
    assert run_cli(*where, "count", "user:").stdout == b"(integer) 2\n"
    assert run_cli(*where, "mget", "nothing:").stdout == b"(empty)\n"
    stats = run_cli(*where, "stats").stdout.decode()
    assert "server_version" in stats and "total_items" in stats


def test_a_refusal_exits_1_with_one_line_on_stderr(server, run_cli):
    done = run_cli(*address_args(server), "get", "missing")
    assert done.returncode == 1
    assert done.stdout == b""
    assert done.stderr.decode().splitlines() == [
        "(error) NotFoundError: GET b'missing': no such key (it is missing or has expired)"]


def test_no_server_exits_2(server, run_cli):
    port = server.port
    server.stop()
    done = run_cli("-p", str(port), "ping")
    assert done.returncode == 2
    [line] = done.stderr.decode().splitlines()
    assert line.startswith("(error) ConnectionError: could not connect to 127.0.0.1:%d" % port)


def test_unknown_command_exits_1(server, run_cli):
    done = run_cli(*address_args(server), "fly", "away")
    assert done.returncode == 1
    assert b"unknown command 'fly'" in done.stderr


def test_x_reads_the_last_argument_from_stdin(server, run_cli):
    where = address_args(server)
    assert run_cli(*where, "-x", "set", "file", input=b"line 1\nline 2\x00\n").returncode == 0
    assert run_cli(*where, "--raw", "get", "file").stdout == b"line 1\nline 2\x00\n\n"


def test_address_from_the_plugins_variable(server, unix_server, run_cli, cli_env):
    run_cli(*address_args(server), "set", "where", "tcp")
    run_cli(*address_args(unix_server), "set", "where", "unix")
    for address, expected in (("127.0.0.1:%d" % server.port, b"b'tcp'\n"),
                              (unix_server.unix_socket, b"b'unix'\n")):
        env = dict(cli_env, PYGIBSON_TEST_ADDRESS=address)
        assert run_cli("get", "where", env=env).stdout == expected
    # Options win over the variable.
    env = dict(cli_env, PYGIBSON_TEST_ADDRESS=unix_server.unix_socket)
    assert run_cli("-p", str(server.port), "get", "where", env=env).stdout == b"b'tcp'\n"


def test_a_bad_address_variable_is_a_usage_error(run_cli, cli_env):
    done = run_cli("ping", env=dict(cli_env, PYGIBSON_TEST_ADDRESS="nowhere"))
    assert done.returncode == 2
    assert b"PYGIBSON_TEST_ADDRESS" in done.stderr and b"Traceback" not in done.stderr


def test_help(run_cli):
    done = run_cli("help")
    assert done.returncode == 0 and b"set key value [ttl]" in done.stdout
    done = run_cli("help", "mget")
    assert done.returncode == 0 and done.stdout.startswith(b"mget prefix [limit]\n")
    assert b"-h HOST" in run_cli("--help").stdout


def test_timeout_zero_waits_forever_and_a_negative_one_is_refused(server, run_cli):
    assert run_cli(*address_args(server), "--timeout", "0", "ping").returncode == 0
    done = run_cli(*address_args(server), "--timeout", "-5", "ping")
    assert done.returncode == 2 and b"--timeout" in done.stderr


def test_a_slow_server_times_out_with_exit_2(server, run_cli):
    server.faults.delay_replies(30)
    done = run_cli(*address_args(server), "--timeout", "100", "ping")
    assert done.returncode == 2
    assert done.stderr.startswith(b"(error) TimeoutError: ")


def test_version_names_the_implementation(run_cli, implementation):
    done = run_cli("--version")
    pure = implementation.__name__ == "pygibson._pure"
    assert done.returncode == 0
    assert done.stdout.decode().endswith("pure Python)\n" if pure else "C extension)\n")


@pytest.mark.parametrize("args, stdin", [(["get", "k"], b""), ([], b"get k\n")],
                         ids=["one-shot", "pipe"])
def test_ctrl_c_while_waiting_exits_130(server, cli_env, args, stdin):
    # --timeout 0: only SIGINT can end the wait for the delayed reply.
    server.faults.delay_replies(3600)
    requests = server.engine.total_requests
    proc = subprocess.Popen([sys.executable, "-m", "pygibson.cli"] + address_args(server)
                            + ["--timeout", "0"] + args, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env)
    proc.stdin.write(stdin)
    proc.stdin.close()
    deadline = time.monotonic() + WAIT
    while server.engine.total_requests == requests:  # until it waits for the reply
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(WAIT) == 130
    assert b"Traceback" not in proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
