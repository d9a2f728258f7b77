"""A key-value reply shorter than it announces (§3.4 of docs/protocol.md):
Gibson 1.2.1's MGET stops at an expired item it has not freed yet, while
its count says how many matches survived. The client must never return
such a short dict in silence."""

import struct

import pytest

from pygibson import PartialResultError, ServerError
from pygibson.server import GibsonServer, ManualClock

from .conftest import client_for




def kv_reply(count, pairs):
    """A REPL_KVAL reply announcing `count` pairs and carrying `pairs`."""
    body = struct.pack("<I", count)
    for key, value in pairs:
        body += struct.pack("<I", len(key)) + key + b"\x00" + struct.pack("<I", len(value)) + value
    return b"\x07\x00\x00" + struct.pack("<I", len(body)) + body


@pytest.fixture
def buggy():
    """The embedded server reproducing 1.2.1's count/pairs mismatch, on a
    clock of our own."""
    with GibsonServer(clock=ManualClock(1_700_000_000), mget_count_bug=True) as server:
        yield server


def expire_one_before_a_live_one(client, server):
    # fa comes first in trie order and expires; fb lives on.
    client.set("fa", "x", 1)
    client.set("fb", "y")
    server.clock.advance(1)


def test_mget_after_an_unswept_expiry_is_asked_again_and_complete(buggy, implementation):
    client = client_for(buggy, implementation)
    expire_one_before_a_live_one(client, buggy)
    # The server's first answer announces 1 pair and carries none; the
    # client asks again, and the second answer is complete.
    assert client.mget("f") == {"fb": b"y"}
    assert client.mget("f") == {"fb": b"y"}
    client.close()


@pytest.mark.parametrize("method, pair, partial, complete", [
    ("mget", (b"fb", b"y"), {"fb": b"y"}, {"fb": b"y"}),
    ("keys", (b"0", b"fb"), [b"fb"], [b"fb"]),
])
def test_short_twice_raises_with_what_arrived(make_client, server, method, pair, partial,
                                              complete):
    client = make_client()
    client.set("fb", "y")
    for _ in range(2):
        server.faults.replace_next_reply(kv_reply(3, [pair]))
    with pytest.raises(PartialResultError) as info:
        getattr(client, method)("f")
    error = info.value
    assert isinstance(error, ServerError)
    assert error.partial == partial
    assert (error.announced, error.received) == (3, 1)
    assert "%s b'f': the server announced 3 pairs but sent 1" % method.upper() in str(error)
    # The stream stayed in step: the connection goes on.
    assert not client.closed
    assert getattr(client, method)("f") == complete


def test_mget_short_once_returns_the_second_answer(make_client, server):
    client = make_client()
    client.set("fb", "y")
    server.faults.replace_next_reply(kv_reply(1, []))
    assert client.mget("f") == {"fb": b"y"}


def test_a_pipeline_puts_the_error_in_place_without_resending(buggy, implementation):
    client = client_for(buggy, implementation)
    expire_one_before_a_live_one(client, buggy)
    results = client.pipeline().mget("f").ping().execute(raise_on_error=False)
    assert isinstance(results[0], PartialResultError)
    assert results[0].partial == {}
    assert results[1] is None
    expire_one_before_a_live_one(client, buggy)
    with pytest.raises(PartialResultError) as info:
        client.pipeline().mget("f").ping().execute()
    assert info.value.results[1] is None
    # The connection is in step.
    assert client.pipeline().mget("f").execute() == [{"fb": b"y"}]
    client.close()


def test_the_typed_reader_raises_it_and_the_untyped_one_gives_the_raw_pairs(protocol):
    typed, untyped = protocol.Reader(), protocol.Reader(typed=False)
    typed.expect("mget", key="f")
    for reader in (typed, untyped):
        reader.feed(kv_reply(2, [(b"fb", b"y")]))
    with pytest.raises(PartialResultError) as info:
        typed.gets()
    assert info.value.partial == {"fb": b"y"}
    # Raw decoding, as aiogibson's: what arrived, the caller judges.
    assert untyped.gets() == [b"fb", b"y"]
    # Both stay in step.
    typed.expect("mget", key="f")
    for reader in (typed, untyped):
        reader.feed(kv_reply(1, [(b"fb", b"y")]))
    assert typed.gets() == {"fb": b"y"}
    assert untyped.gets() == [b"fb", b"y"]
