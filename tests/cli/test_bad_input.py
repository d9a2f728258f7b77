"""Every bad-input case of the README ("Arguments refused before sending")
gives exactly one line at the prompt, in one-shot and in pipe mode, and
never a traceback.

Two rows cannot be typed: a key of the wrong type and a value that is
None, a bool or a list, since every word on a command line is text; words
that look like them (``None``, ``[1]``) are stored as text. A float TTL
or lock time is refused by gibson-cli itself, which wants an integer.
"""

import pytest

from .conftest import address_args
from .terminal import CTRL_D

# (README row, the line typed, the error class, words of its message)
CASES = [
    ("empty key", 'get ""', "ArgumentError", "GET needs a non-empty key"),
    ("empty prefix", "mget ''", "ArgumentError", "MGET needs a non-empty"),
    ("space in key", 'get "a b"', "ArgumentError", "key contains a space (0x20) at byte 1"),
    ("key over max_key_size", "get " + "k" * 513, "ArgumentError",
     "key is 513 bytes, over max_key_size 512"),
    ("empty value", 'set k ""', "ArgumentError", "SET needs a non-empty value"),
    ("negative TTL", "set k v -1", "ArgumentError", "TTL -1 is outside 0..32767"),
    ("TTL over 32767", "ttl k 40000", "ArgumentError", "TTL 40000 is outside 0..32767"),
    ("float TTL", "set k v 1.5", "ArgumentError", "ttl must be an integer, not '1.5'"),
    ("float lock time", "lock k 0.5", "ArgumentError", "seconds must be an integer"),
    ("integer over 64 bits", "set k v 99999999999999999999", "ArgumentError",
     "ttl is out of range: it must fit in 64 bits"),
    ("lock time below -1", "lock k -2", "ArgumentError", "lock time -2 is below -1"),
    ("mget limit below 1", "mget p 0", "ArgumentError", "MGET limit 0 is below 1"),
    ("meta field not a full name", "meta k l", "ArgumentError",
     "META field 'l' is not one of size"),
    ("lone surrogate", r"get \ud800", "ArgumentError", "key holds a lone surrogate"),
]

# In argv, words are taken as they are: no quoting or escapes to undo.
ONE_SHOT = {
    'get ""': ["get", ""],
    "mget ''": ["mget", ""],
    'get "a b"': ["get", "a b"],
    'set k ""': ["set", "k", ""],
}

BIG = 5 * 1024 * 1024  # over the client's max_request_size of 4 MiB


def _check(line, error, words):
    assert line.startswith("(error) %s: " % error), line
    assert words in line


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_one_shot(case, server, run_cli):
    _row, typed, error, words = case
    argv = ONE_SHOT.get(typed, typed.split())
    if typed.startswith(r"get \u"):
        pytest.skip("argv cannot hold a lone surrogate: the OS hands over bytes")
    done = run_cli(*address_args(server), *argv)
    assert done.returncode == 1
    assert done.stdout == b""
    [line] = done.stderr.decode().splitlines()
    _check(line, error, words)


def test_pipe_mode(server, run_cli):
    script = "".join(typed + "\n" for _row, typed, _error, _words in CASES)
    done = run_cli(*address_args(server), input=script.encode() + b"ping\n")
    assert done.returncode == 1
    assert b"Traceback" not in done.stderr
    output = done.stdout.decode().splitlines()
    assert len(output) == len(CASES) + 1
    for line, (_row, _typed, error, words) in zip(output, CASES):
        _check(line, error, words)
    assert output[-1] == "OK"  # the connection is fine afterwards


def test_at_the_prompt(server, terminal):
    term = terminal(*address_args(server))
    term.expect(r"> ")
    for _row, typed, error, words in CASES:
        term.line(typed)
        # The echo of the typed line, then one line, then the next prompt.
        match = term.expect(r"\n(.*)\n127\.0\.0\.1:\d+> ")
        _check(match.group(1), error, words)
    term.send(CTRL_D)
    assert term.wait() == 0
    assert "Traceback" not in term.text


def test_frame_over_max_request_size(server, run_cli):
    done = run_cli(*address_args(server), "-x", "set", "k", input=b"v" * BIG)
    assert done.returncode == 1
    [line] = done.stderr.decode().splitlines()
    _check(line, "ArgumentError", "SET request is too large for one frame")
    done = run_cli(*address_args(server), input=b"set k " + b"v" * BIG + b"\nping\n")
    [line, pong] = done.stdout.decode().splitlines()
    _check(line, "ArgumentError", "SET request is too large for one frame")
    assert pong == "OK"


def test_nul_in_a_key_is_accepted(server, run_cli):
    done = run_cli(*address_args(server),
                   input=b'set "n\\x00ul" v\nget n\\x00ul\nkeys n\n')
    assert done.stdout.decode().splitlines() == ["OK", "b'v'", "[b'n']"]


def test_words_that_look_like_python_are_text(server, run_cli):
    done = run_cli(*address_args(server), input=b"set None [1]\nget None\n")
    assert done.stdout.decode().splitlines() == ["OK", "b'[1]'"]
