"""Lines to operations, help and completion: all from OPERATIONS."""

import pytest
from hypothesis import given, strategies as st

from pygibson import OPERATIONS, ArgumentError
from pygibson._cli.commands import (
    INTEGER_KINDS, command_names, completions, field_names, help_command, help_overview,
    parse, resolve, split_line, usage)
from pygibson.server.commands import META_FIELDS


@pytest.mark.parametrize("line, words", [
    ("set k v 60", ["set", "k", "v", "60"]),
    ("  get   k  ", ["get", "k"]),
    ('set k "a b"', ["set", "k", "a b"]),
    ("set k 'a b'", ["set", "k", "a b"]),
    ('set k ""', ["set", "k", ""]),
    ('set k a"b c"d', ["set", "k", "ab cd"]),
    (r"set k a\ b", ["set", "k", "a b"]),
    (r'set k "x\x00y"', ["set", "k", "x\x00y"]),
    (r"set k x\x00y", ["set", "k", "x\x00y"]),
    (r'set k "\n\t\r\\\"\e"', ["set", "k", "\n\t\r\\\"\x1b"]),
    (r"set k '\n'", ["set", "k", "\\n"]),
    (r"set k 'it\'s'", ["set", "k", "it's"]),
    (r"set k \u00e9", ["set", "k", "\u00e9"]),
    (r"set k \U0001F600", ["set", "k", "\U0001F600"]),
])
def test_split_line(line, words):
    assert split_line(line) == words


def test_hex_escape_is_a_byte_not_a_character():
    # \x80 is the byte 0x80: the client encodes it back from its surrogate.
    word = split_line(r"\x80\xc3\xa9")[0]
    assert word.encode("utf-8", "surrogateescape") == b"\x80\xc3\xa9"


@pytest.mark.parametrize("line, message", [
    ('get "abc', "not closed"),
    ("get 'abc", "not closed"),
    ("get abc\\", "lone backslash"),
    (r"get a\qb", "unknown escape"),
    (r"get \x4", "needs 2 hex digits"),
    (r"get \xzz", "needs 2 hex digits"),
    (r"get \UFFFFFFFF", r"beyond U\+10FFFF"),
])
def test_split_line_refuses(line, message):
    with pytest.raises(ArgumentError, match=message):
        split_line(line)


@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1),
                min_size=1, max_size=5))
def test_double_quoting_round_trips(words):
    quoted = " ".join('"%s"' % w.replace("\\", "\\\\").replace('"', '\\"') for w in words)
    assert split_line(quoted) == words


def test_every_name_of_every_operation_is_a_command():
    for op in OPERATIONS:
        for name in (op.name, op.command, op.command.lower()) + op.aliases:
            assert resolve(name) is op
            assert resolve(name.upper()) is op


def test_command_names_come_from_the_table():
    expected = set()
    for op in OPERATIONS:
        expected.update((op.name, op.command.lower()) + op.aliases)
    assert set(command_names()) == expected


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_parse_every_operation(op):
    words = [op.name] + ["7" if p.kind in INTEGER_KINDS else "w" for p in op.params]
    parsed, args = parse(words)
    assert parsed is op
    assert args == tuple(7 if p.kind in INTEGER_KINDS else "w" for p in op.params)


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: op.name)
def test_wrong_argument_counts_say_the_usage(op):
    with pytest.raises(ArgumentError, match="usage: " + usage(op).replace("[", r"\[")):
        parse([op.name] + ["1"] * (len(op.params) + 1))


def test_optional_arguments_may_be_left_out():
    assert parse(["set", "k", "v"])[1] == ("k", "v")
    assert parse(["mget", "p"])[1] == ("p",)
    assert parse(["MGET", "p", "3"])[1] == ("p", 3)
    assert usage(resolve("set")) == "set key value [ttl]"


def test_integers_are_checked():
    assert parse(["lock", "k", "-1"])[1] == ("k", -1)
    with pytest.raises(ArgumentError, match="ttl must be an integer, not 'soon'"):
        parse(["set", "k", "v", "soon"])


def test_unknown_command():
    with pytest.raises(ArgumentError, match="unknown command 'fly'"):
        parse(["fly"])


def test_meta_field_names_match_the_server():
    assert field_names(resolve("meta")) == tuple(f.decode() for f in META_FIELDS)
    assert field_names(resolve("get")) == ()


@pytest.mark.parametrize("before, text, expected", [
    ("", "ge", ["get"]),
    ("", "GE", ["GET"]),
    ("", "mde", ["mdec", "mdel", "mdelete"]),
    ("", "he", ["help"]),
    ("help ", "unl", ["unlock"]),
    ("meta k ", "", sorted(f.decode() for f in META_FIELDS)),
    ("meta k ", "l", ["left", "lock"]),
    ("META k ", "si", ["size"]),
    ("get ", "s", []),
    ("meta k size ", "", []),
    ("nosuch ", "", []),
])
def test_completions(before, text, expected):
    assert completions(before, text, extra=("help",)) == expected


def test_every_operation_has_help():
    overview = help_overview()
    for op in OPERATIONS:
        assert usage(op) in overview
        text = help_command(op.name)
        assert text.startswith(usage(op))
        assert op.doc in text
        assert op.command in text
        assert "Reply:" in text and "Errors:" in text
        for param in op.params:
            assert "    %-8s " % param.name in text


def test_help_names_the_errors_and_aliases():
    text = help_command("dl")
    assert "also delete" in text
    assert "ArgumentError" in text and "ConnectionError" in text
    assert "ValueTruncatedError" in help_command("set")
    assert "matches nothing is not an error" in help_command("mget")
    assert "size, encoding" in help_command("meta")
    with pytest.raises(ArgumentError, match="unknown command"):
        help_command("nosuch")
