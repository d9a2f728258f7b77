"""The prompt, driven through a real pseudo-terminal: typing, completion,
history across runs, Ctrl-C, errors and reconnection."""

import platform
import re
import time

import pytest

from pygibson import Client

from .conftest import address_args
from .terminal import CTRL_C, CTRL_D, CTRL_P, WAIT

PROMPT = r"127\.0\.0\.1:\d+> "

# Completion and history are GNU readline's (or libedit's) as CPython wraps
# them; PyPy's readline is pyrepl, which cannot drive this dumb terminal
# and leaves gibson-cli with plain lines (everything else is tested there).
needs_readline = pytest.mark.skipif(
    platform.python_implementation() != "CPython",
    reason="line editing is CPython's readline module")


def wait_for(condition):
    """Poll ``condition`` until true; a bound only to catch hangs."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.01)


def test_typing_commands(server, terminal):
    term = terminal(*address_args(server))
    term.expect("^" + PROMPT)
    term.line('set greeting "hello world" 60')
    term.expect("\nOK\n" + PROMPT)
    term.line("GET greeting")
    term.expect(r"\nb'hello world'\n" + PROMPT)
    term.line("inc n")
    term.expect(r"\n\(integer\) 1\n" + PROMPT)
    term.line("keys greet")
    term.expect(r"\n1\) b'greeting'\n" + PROMPT)
    term.line("help mget")
    term.expect(r"mget prefix \[limit\]\n(.*\n)*" + PROMPT)
    term.send(CTRL_D)
    assert term.wait() == 0


def test_prompt_over_a_unix_socket(unix_server, terminal):
    term = terminal(*address_args(unix_server))
    term.expect(re.escape(unix_server.unix_socket) + "> ")
    term.line("ping")
    term.expect("OK")


def test_errors_stay_at_the_prompt(server, terminal):
    term = terminal(*address_args(server))
    term.expect(PROMPT)
    term.line("get missing")
    term.expect(r"\n\(error\) NotFoundError: GET b'missing': no such key.*\n" + PROMPT)
    term.line("fly")
    term.expect(r"\n\(error\) ArgumentError: unknown command 'fly'.*\n" + PROMPT)
    term.line('get "open')
    term.expect(r"\n\(error\) ArgumentError: the quote opened .* is not closed\n" + PROMPT)
    term.line("\\timing maybe")
    term.expect(r"\(error\) ArgumentError: the prompt knows \\timing.*\n" + PROMPT)
    term.line("ping")
    term.expect("\nOK\n" + PROMPT)


@needs_readline
def test_completion_of_commands_and_meta_fields(server, terminal):
    term = terminal(*address_args(server))
    term.expect(PROMPT)
    term.send("ge\t")
    term.expect("get ")
    term.line("x")
    term.expect("NotFoundError")
    term.line("set k abc")
    term.expect(PROMPT)
    term.send("meta k si\t")
    term.expect("size ")
    term.send("\r")
    term.expect(r"\(integer\) 3\n" + PROMPT)
    term.send("mde\t\t")  # ambiguous: a second Tab lists the choices
    term.expect(r"mdec\s+mdel\s+mdelete")
    term.expect(PROMPT + "mde")
    term.interrupt(PROMPT)


@needs_readline
def test_history_is_kept_across_runs(server, terminal, home):
    first = terminal(*address_args(server))
    first.expect(PROMPT)
    first.line("set remembered 42")
    first.expect("OK\n" + PROMPT)
    first.send(CTRL_D)
    assert first.wait() == 0
    assert "set remembered 42" in (home / ".gibson_cli_history").read_text()

    with Client(addr=server.host, port=server.port) as client:
        client.dl("remembered")
    second = terminal(*address_args(server))
    second.expect(PROMPT)
    second.send(CTRL_P)  # the line before, from the first run
    second.expect("set remembered 42")
    second.send("\r")
    second.expect("OK")
    with Client(addr=server.host, port=server.port) as client:
        assert client.get("remembered") == b"42"


def test_ctrl_c_cancels_the_line(server, terminal):
    term = terminal(*address_args(server))
    term.expect(PROMPT)
    term.send("set cancelled 1")
    term.expect("set cancelled 1")
    term.interrupt(PROMPT)
    term.line("ping")
    term.expect("OK")
    with Client(addr=server.host, port=server.port) as client:
        assert client.count("cancelled") == 0


def test_ctrl_c_cancels_a_command_waiting_on_a_slow_server(server, terminal):
    # --timeout 0: the client would wait forever; only Ctrl-C ends it.
    term = terminal(*address_args(server), "--timeout", "0")
    term.expect(PROMPT)
    term.line("set k v")
    term.expect("OK\n" + PROMPT)
    server.faults.delay_replies(3600)
    requests = server.engine.total_requests
    term.line("get k")
    wait_for(lambda: server.engine.total_requests > requests)  # it is waiting
    term.send(CTRL_C)  # no readline now: the first one is seen
    term.expect(r"\(cancelled: the reply was abandoned")
    term.expect("not connected> ")
    server.faults.clear()
    term.line("get k")
    term.expect(r"\nb'v'\n" + PROMPT)
    term.send(CTRL_D)
    assert term.wait() == 0


def test_reconnects_after_a_server_restart(server, terminal):
    term = terminal(*address_args(server))
    term.expect(PROMPT)
    term.line("set k v")
    term.expect("OK\n" + PROMPT)
    server.stop()
    term.line("ping")
    term.expect(r"\(error\) ConnectionError: .*\nnot connected> ")
    server.start()  # the same port
    term.line("get k")  # the data survives a restart of the embedded server
    term.expect(r"\nb'v'\n" + PROMPT)


def test_starts_without_a_server_and_connects_later(server, terminal):
    port = server.port
    server.stop()
    term = terminal("-p", str(port))
    term.expect(r"\(error\) ConnectionError: could not connect to 127\.0\.0\.1:%d.*\n"
                r"not connected> " % port)
    server.start()
    term.line("ping")
    term.expect("\nOK\n" + PROMPT)


def test_timing(server, terminal):
    term = terminal(*address_args(server))
    term.expect(PROMPT)
    term.line("\\timing on")
    term.expect("Timing is on.\n" + PROMPT)
    term.line("ping")
    term.expect(r"OK\nTime: \d+\.\d{3} ms\n" + PROMPT)
    term.line("\\timing")
    term.expect("Timing is off.\n" + PROMPT)
    start = term.seen
    term.line("ping")
    term.expect("OK\n" + PROMPT)
    assert "Time:" not in term.text[start:term.seen]


@pytest.mark.parametrize("leave", ["exit", "QUIT", CTRL_D])
def test_leaving(server, terminal, leave):
    term = terminal(*address_args(server))
    term.expect(PROMPT)
    term.send(leave if leave == CTRL_D else leave + "\r")
    assert term.wait() == 0
