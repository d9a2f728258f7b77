"""The extension's Reader and encode_command beside the pure-Python ones:
the same input must give the same result, or the same exception with the
same message. Skipped where the extension cannot be imported. The places
where the extension does less than specified are the strict xfails of
test_reader.py and test_encode_command.py, and are left out here."""

import pytest

from ..twinning import words

from pygibson import _protocol
from pygibson._operations import OPERATIONS

from .test_reader import GARBAGE, GARBLED_SETS, REPLIES

pygibson_c = pytest.importorskip("pygibson._pygibson", reason="needs the C extension")

SOUND_GARBAGE = [g for g in GARBAGE if g not in GARBLED_SETS]
UNDECODABLE = [("latin-1-kv", bytes.fromhex("0700 00 0f000000 01000000 01000000 ff 00 01000000 fe")),
               ("bad-utf8", bytes.fromhex("0600 00 01000000 fe"))]
INPUTS = [r[:2] for r in REPLIES] + SOUND_GARBAGE + UNDECODABLE


def outcome(call):
    try:
        result = call()
    except Exception as error:
        return type(error), words(error)
    if isinstance(result, Exception):
        return "returned", type(result), str(result)
    return result


def read_all(module, data, setup, **options):
    """What a reader makes of data: each gets() until False, and then
    whether it still reads (a broken reader raises)."""
    reader = module.Reader(**options)
    setup(reader)
    reader.feed(data)
    seen = []
    for _ in range(3):
        got = outcome(lambda: reader.gets(raise_on_error=False))
        seen.append(got)
        if got is False:
            break
    return seen, reader.buffered, reader.expected


@pytest.mark.parametrize("encoding", [None, "utf-8", "latin-1"])
@pytest.mark.parametrize("name, data", INPUTS, ids=[i[0] for i in INPUTS])
def test_untyped_readers_agree(name, data, encoding):
    assert read_all(_protocol, data, lambda r: None, typed=False, encoding=encoding) == \
        read_all(pygibson_c, data, lambda r: None, typed=False, encoding=encoding)


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.command for op in OPERATIONS])
@pytest.mark.parametrize("name, data", INPUTS, ids=[i[0] for i in INPUTS])
def test_typed_readers_agree(name, data, op):

    def setup(reader):
        reader.expect(op.name, b"the-key" if op.params else None, 2)
    for encoding in (None, "utf-8"):
        assert read_all(_protocol, data, setup, encoding=encoding) == \
            read_all(pygibson_c, data, setup, encoding=encoding)


def test_unsolicited_replies_agree():
    assert read_all(_protocol, REPLIES[0][1], lambda r: None) == \
        read_all(pygibson_c, REPLIES[0][1], lambda r: None)


@pytest.mark.parametrize("options", [
    dict(encoding=5), dict(encoding="no-such-codec"), dict(max_reply_size=0),
    dict(max_reply_size=1.5), dict(max_reply_size=2 ** 70), dict(typed=[]),
    dict(encoding="latin-1", typed=0),
])
def test_reader_options_agree(options):
    def made(module):
        reader = module.Reader(**options)
        return reader.typed, reader.encoding, reader.buffered, reader.expected
    assert outcome(lambda: made(_protocol)) == outcome(lambda: made(pygibson_c))


@pytest.mark.parametrize("args, kwargs", [
    ((), {}), ((None,), {}), (("get", "k", 1, 2), {}), (("get",), {"bogus": 1}),
    (("get", "k"), {"key": "k"}), (("bogus",), {}), ((bytearray(b"get"),), {}),
    (("get", 1.5), {}), (("set", "k", -1), {}), (("set", "k", 1.0), {}),
    (("set", "k"), {"value_size": None}), (("set", "k", 2 ** 64), {}), ((300,), {}),
    (("get", "a b"), {}),
])
def test_expect_refusals_agree(args, kwargs):
    assert outcome(lambda: _protocol.Reader().expect(*args, **kwargs)) == \
        outcome(lambda: pygibson_c.Reader().expect(*args, **kwargs))
    assert outcome(lambda: _protocol.Reader(typed=False).expect(*args, **kwargs)) == \
        outcome(lambda: pygibson_c.Reader(typed=False).expect(*args, **kwargs))


@pytest.mark.parametrize("call", [
    lambda m: m.Reader().feed("text"), lambda m: m.Reader().feed(None),
    lambda m: m.Reader().feed(memoryview(b"abcd")[::2]), lambda m: m.Reader().gets(1, 2),
    lambda m: m.Reader().gets(bogus=1),
])
def test_feed_and_gets_refusals_agree(call):
    assert outcome(lambda: call(_protocol)) == outcome(lambda: call(pygibson_c))


ARGUMENTS = [
    (b"set", 3600, "foo", 3.14), (b"set", 0, b"k", bytearray(b"v")), (b"set", 0, "k", object()),
    (b"set", 0, "", "v"), (b"set", 0, "k", ""), (b"set", 40000, "k", "v"), (b"set", "0", "k", "v"),
    (b"set", 0, "k" * 511, "v"), (b"get", "a b"), (b"get", "k" * 513), (b"get", None),
    (b"lock", "k", -2), (b"mget", "k", 0), (b"mget", "k", None), (b"meta", "k", "l"),
    (b"meta", "k", ""), (b"set", 0, "k", b"x" * 4194304), (b"ttl", "k", 2 ** 64),
    ("dl", "k"), ("DELETE", "k"), (4, "k"), (255,), ("quit",), (b"keys", "\ud800"),
    (b"mget", "k", True),
]


@pytest.mark.parametrize("args", ARGUMENTS)
def test_encode_command_agrees(args):
    assert outcome(lambda: _protocol.encode_command(*args)) == \
        outcome(lambda: pygibson_c.encode_command(*args))
