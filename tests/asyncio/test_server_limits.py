"""A key-value reply larger than the server's max_response_size: the server
closes the connection without a word (docs/protocol.md §8.4); the asyncio
client says this may be why after MGET, KEYS and STATS, in the words of
Client (tests/client/test_server_limits.py)."""

import pytest

from pygibson import Client, ConnectionError
from pygibson.asyncio import AsyncClient
from pygibson.server import GibsonServer

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def small_reply_server():
    with GibsonServer(max_response_size=300) as server:
        yield server


@pytest.fixture
def filled(small_reply_server):
    small_reply_server.flush()
    small_reply_server.faults.clear()
    with Client(port=small_reply_server.port) as client:
        for i in range(40):
            client.set("big:%02d" % i, "v" * 20)
    return small_reply_server


@pytest.mark.parametrize("call", ["mget", "keys"])
@pytest.mark.parametrize("retry_reads", [True, False])
async def test_an_oversized_reply_is_named_as_a_likely_cause(filled, call, retry_reads):
    async with AsyncClient(port=filled.port, retry_reads=retry_reads) as client:
        await client.ping()  # the connection is open: the first try is the fast path
        with pytest.raises(ConnectionError) as info:
            await getattr(client, call)("big:")
        message = str(info.value)
        assert "max_response_size" in message and call.upper() in message, message
        assert "longer prefix" in message and message.count("max_response_size,") == 1
        assert info.value.request_sent is True
        # Usable afterwards, and a smaller reply comes whole.
        assert await client.mget("big:0", 5) == {"big:%02d" % i: b"v" * 20 for i in range(5)}


async def test_the_words_are_clients(filled):
    with Client(port=filled.port) as client, pytest.raises(ConnectionError) as sync_info:
        client.keys("big:")
    async with AsyncClient(port=filled.port) as client:
        with pytest.raises(ConnectionError) as async_info:
            await client.keys("big:")
    # The part after the cause (the address differs in neither).
    assert str(sync_info.value).split("; ")[-1] == str(async_info.value).split("; ")[-1]


async def test_stats_over_the_limit_says_to_raise_it(filled):
    async with AsyncClient(port=filled.port) as client:
        with pytest.raises(ConnectionError, match="raise max_response_size on the server$"):
            await client.stats()


async def test_a_single_value_op_does_not_blame_the_reply_size(filled):
    async with AsyncClient(port=filled.port) as client:
        await client.ping()
        filled.faults.close_after_bytes(0)
        try:
            with pytest.raises(ConnectionError) as info:
                await client.set("big:00", "w")  # not retried, unlike a read
        finally:
            filled.faults.clear()
    assert "max_response_size" not in str(info.value)


async def test_a_pipeline_names_it_where_that_reply_was_due(filled):
    async with AsyncClient(port=filled.port) as client:
        pipe = client.pipeline()
        pipe.ping()
        pipe.keys("big:")
        pipe.ping()
        with pytest.raises(ConnectionError) as info:
            await pipe.execute()
        message = str(info.value)
        assert "1 replies received" in message and "reply to this KEYS" in message, message
        assert (info.value.sent, info.value.received) == (3, 1)
        # The sync Pipeline's words.
        with Client(port=filled.port) as sync_client, \
                pytest.raises(ConnectionError) as sync_info:
            sync_client.pipeline().ping().keys("big:").ping().execute()
        hint = "; the reply to this KEYS"
        assert hint + message.split(hint)[1] == hint + str(sync_info.value).split(hint)[1]
        # Not where a single value's reply was due.
        pipe = client.pipeline()
        pipe.set("big:00", "w")
        pipe.keys("big:0")
        filled.faults.close_after_bytes(0)
        try:
            with pytest.raises(ConnectionError) as info:
                await pipe.execute()
        finally:
            filled.faults.clear()
        assert "max_response_size" not in str(info.value)
