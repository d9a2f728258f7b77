"""Pipe mode: commands on standard input, pipelined, one reply per line."""

import ast

from pygibson import Client

from .conftest import address_args


def lines(done):
    return done.stdout.decode().splitlines()


def test_one_reply_per_line_in_order(server, run_cli):
    script = (b"set a 1\n"
              b"inc a\n"
              b"\n"
              b"# a comment\n"
              b"get a\n"
              b"get missing\n"
              b"fly\n"
              b"mget a\n"
              b"keys a\n"
              b"set spaced \"a b\\x00\"\r\n"
              b"get spaced")  # no final newline
    done = run_cli(*address_args(server), input=script)
    assert lines(done) == [
        "OK",
        "(integer) 2",
        "(integer) 2",
        "(error) NotFoundError: GET b'missing': no such key (it is missing or has expired)",
        "(error) ArgumentError: unknown command 'fly'; type help for the list",
        "{b'a': 2}",
        "[b'a']",
        "OK",
        "b'a b\\x00'",
    ]
    assert done.returncode == 1  # something was refused


def test_all_done_exits_0(server, run_cli):
    done = run_cli(*address_args(server), input=b"set a 1\nget a\n")
    assert (done.returncode, lines(done), done.stderr) == (0, ["OK", "b'1'"], b"")


def test_many_lines_go_through_pipelines(server, run_cli):
    n = 25000  # more than one batch
    script = b"".join(b"set key:%d value%d\n" % (i, i) for i in range(n)) + b"count key:\n"
    done = run_cli(*address_args(server), input=script)
    assert done.returncode == 0
    assert lines(done) == ["OK"] * n + ["(integer) %d" % n]
    with Client(addr=server.host, port=server.port) as client:
        assert client.get("key:24999") == b"value24999"


def test_end_in_the_middle_reconnects(server, run_cli):
    done = run_cli(*address_args(server), input=b"set a 1\nend\nget a\nquit\nget a\n")
    assert lines(done) == ["OK", "OK", "b'1'", "OK", "b'1'"]


def test_replies_as_literals_and_raw(server, run_cli):
    where = address_args(server)
    run_cli(*where, input=b"set p:1 one\nset p:2 \"t\\two\"\n")
    [mget, stats] = lines(run_cli(*where, input=b"mget p:\nstats\n"))
    assert ast.literal_eval(mget) == {b"p:1": b"one", b"p:2": b"t\two"}
    assert ast.literal_eval(stats)["server_version"] == "1.2.1"
    raw = run_cli(*where, "--raw", input=b"mget p:\nget p:1\ninc n\n").stdout
    assert raw == b"p:1\tone\tp:2\tt\two\none\n1\n"


def test_no_server_one_line_and_exit_2(server, run_cli):
    port = server.port
    server.stop()
    done = run_cli("-p", str(port), input=b"set a 1\nget a\n")
    assert done.returncode == 2
    [line] = lines(done)
    assert line.startswith("(error) ConnectionError: could not connect")


def test_x_forces_pipe_mode(server, run_cli):
    done = run_cli(*address_args(server), "-x", input=b"ping\n")
    assert (done.returncode, done.stdout) == (0, b"OK\n")


def test_help_is_refused_on_its_line(server, run_cli):
    done = run_cli(*address_args(server), input=b"help\nping\n")
    assert lines(done)[1] == "OK"
    assert lines(done)[0].startswith("(error) ArgumentError: help is not a pipe command")
