"""A key-value reply larger than the server's max_response_size: the
server closes the connection without a word (docs/protocol.md §8.4), and
the client's ConnectionError says that this may be why (issue #18)."""

import pytest

from pygibson import ConnectionError
from pygibson.server import GibsonServer

from .conftest import client_for


@pytest.fixture(scope="module")
def small_reply_server():
    with GibsonServer(max_response_size=300) as server:
        yield server


@pytest.fixture
def filled(small_reply_server, implementation):
    small_reply_server.flush()
    client = client_for(small_reply_server, implementation)
    for i in range(40):
        client.set("big:%02d" % i, "v" * 20)
    yield client
    client.close()


@pytest.mark.parametrize("call", ["mget", "keys"])
def test_an_oversized_reply_is_named_as_a_likely_cause(filled, call):
    with pytest.raises(ConnectionError) as info:
        getattr(filled, call)("big:")
    message = str(info.value)
    assert "max_response_size" in message and call.upper() in message, message
    assert "longer prefix" in message
    assert info.value.request_sent is True
    # The client is usable afterwards, and a smaller reply comes whole.
    assert filled.mget("big:0", 5) == {"big:%02d" % i: b"v" * 20 for i in range(5)}


def test_stats_over_the_limit_says_to_raise_it(filled):
    with pytest.raises(ConnectionError, match="raise max_response_size"):
        filled.stats()


def test_a_single_value_op_does_not_blame_the_reply_size(filled, small_reply_server):
    # GET's reply is never checked against the limit (§8.4): a closed
    # connection there has the usual causes only.
    small_reply_server.faults.close_after_bytes(0)
    try:
        with pytest.raises(ConnectionError) as info:
            filled.set("big:00", "w")  # not retried, unlike a read
    finally:
        small_reply_server.faults.clear()
    assert "max_response_size" not in str(info.value)


def test_both_implementations_say_it_word_for_word(small_reply_server):
    pygibson_c = pytest.importorskip("pygibson._pygibson", reason="needs the C extension")
    from pygibson import _pure
    small_reply_server.flush()
    messages = []
    for implementation in (pygibson_c, _pure):
        client = client_for(small_reply_server, implementation)
        for i in range(40):
            client.set("big:%02d" % i, "v" * 20)
        for call in (client.mget, client.keys):
            with pytest.raises(ConnectionError) as info:
                call("big:")
            messages.append(str(info.value))
        pipe = client.pipeline()
        pipe.keys("big:")
        with pytest.raises(ConnectionError) as info:
            pipe.execute()
        messages.append(str(info.value))
        client.close()
    assert messages[:3] == messages[3:]


def test_a_pipeline_names_it_where_that_reply_was_due(filled):
    pipe = filled.pipeline()
    pipe.ping()
    pipe.mget("big:")
    pipe.ping()
    with pytest.raises(ConnectionError) as info:
        pipe.execute()
    message = str(info.value)
    assert "1 replies received" in message and "reply to this MGET" in message, message
    # Whole: the library's part is clipped to its buffer, the counts not.
    assert "the rest were not executed or their outcome is unknown); the reply" in message
    assert "longer prefix" in message
    assert (info.value.sent, info.value.received) == (3, 1)
    assert filled.mget("big:0", 2) == {"big:00": b"v" * 20, "big:01": b"v" * 20}


def test_a_pipeline_does_not_blame_the_size_of_a_single_value_reply(filled,
                                                                     small_reply_server):
    pipe = filled.pipeline()
    pipe.set("big:00", "w")  # the reply awaited when the server hangs up
    pipe.mget("big:0", 2)
    small_reply_server.faults.close_after_bytes(0)
    try:
        with pytest.raises(ConnectionError) as info:
            pipe.execute()
    finally:
        small_reply_server.faults.clear()
    assert "max_response_size" not in str(info.value)
