"""How replies look: bytes literals, (integer) N, tables, lists, raw."""

import ast

from pygibson import NotFoundError
from pygibson._cli.commands import resolve
from pygibson._cli.output import Formatter

MGET = resolve("mget")
STATS = resolve("stats")
KEYS = resolve("keys")

people = Formatter()
raw = Formatter(raw=True)


def test_scalars():
    assert people.block(resolve("set"), None) == b"OK\n"
    assert people.block(resolve("get"), b"a\x00b\xff") == b"b'a\\x00b\\xff'\n"
    assert people.block(resolve("inc"), 3) == b"(integer) 3\n"
    assert raw.block(resolve("get"), b"a\x00b\xff") == b"a\x00b\xff\n"
    assert raw.block(resolve("inc"), -3) == b"-3\n"


def test_errors_are_one_line_with_their_class():
    error = NotFoundError("GET b'k': no such key")
    assert people.block(None, error) == b"(error) NotFoundError: GET b'k': no such key\n"
    assert people.line(None, ValueError("two\nlines")) == b"(error) ValueError: two lines\n"


def test_mget_is_an_aligned_table_of_bytes_literals():
    reply = {"a": b"1", "long\udcff": 7}
    assert people.block(MGET, reply) == (b"b'a'         b'1'\n"
                                         b"b'long\\xff'  7\n")
    assert raw.block(MGET, reply) == b"a\t1\nlong\xff\t7\n"
    assert people.block(MGET, {}) == b"(empty)\n"
    assert raw.block(MGET, {}) == b""


def test_stats_is_a_table_of_text():
    reply = {"server_version": b"1.2.1", "total_items": 3}
    assert people.block(STATS, reply) == (b"server_version  1.2.1\n"
                                          b"total_items     3\n")


def test_keys_is_a_numbered_list():
    reply = [b"k%d" % i for i in range(10)]
    text = people.block(KEYS, reply)
    assert text.startswith(b" 1) b'k0'\n 2) b'k1'\n")
    assert text.endswith(b"10) b'k9'\n")
    assert raw.block(KEYS, [b"a", b"b"]) == b"a\nb\n"
    assert people.block(KEYS, []) == b"(empty)\n"


def test_lines_are_python_literals():
    assert ast.literal_eval(people.line(MGET, {"a": b"1", "n": 2}).decode()) == {
        b"a": b"1", b"n": 2}
    assert ast.literal_eval(people.line(STATS, {"v": b"1.2", "n": 2}).decode()) == {
        "v": "1.2", "n": 2}
    assert ast.literal_eval(people.line(KEYS, [b"a", b"b c"]).decode()) == [b"a", b"b c"]
    assert people.line(KEYS, []) == b"[]\n"
    assert raw.line(MGET, {"a": b"1", "b": b"2"}) == b"a\t1\tb\t2\n"
    assert raw.line(KEYS, [b"a", b"b"]) == b"a\tb\n"
