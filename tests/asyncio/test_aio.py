"""The aiogibson-compatible layer, tested from aiogibson's API reference
(its README and docstrings): what code written for aiogibson 0.1.3 does
must still work after ``import pygibson.aio as aiogibson``."""

import asyncio

import pytest
import pytest_asyncio

import pygibson
import pygibson.aio as aiogibson
from pygibson.aio import errors

from .conftest import bounded

pytestmark = pytest.mark.asyncio


def address_of(server):
    return server.unix_socket or (server.host, server.port)


@pytest_asyncio.fixture
async def gibson(server):
    gibson = await aiogibson.create_gibson(address_of(server))
    yield gibson
    gibson.close()
    await gibson.wait_closed()


async def test_single_key_commands(gibson):
    assert await gibson.set(b"foo", b"bar", 7) == b"bar"  # the stored value echoed
    assert await gibson.set(b"numfoo", 100, 7) == b"100"
    assert await gibson.get(b"foo") == b"bar"
    assert await gibson.get(b"missing") is None
    assert await gibson.ttl(b"foo", 10) is True
    assert await gibson.ttl(b"missing", 10) is False
    assert await gibson.inc(b"numfoo") == 101
    assert await gibson.dec(b"numfoo") == 100
    assert await gibson.lock(b"numfoo", 10) is True
    with pytest.raises(aiogibson.KeyLockedError):
        await gibson.set(b"numfoo", 1)
    assert await gibson.unlock(b"numfoo") is True
    assert await gibson.keys(b"foo") == [b"foo"]
    assert await gibson.keys(b"nomatch") == []  # aiogibson raised TypeError here
    assert await gibson.delete(b"foo") is True
    assert await gibson.delete(b"foo") is False
    assert await gibson.ping() is True
    with pytest.raises(errors.ExpectedANumber):
        await gibson.set(b"text", b"abc")
        await gibson.inc(b"text")


async def test_meta_commands(gibson):
    await gibson.set(b"k", b"value", 30)
    assert await gibson.meta_size(b"k") == 5
    assert await gibson.meta_encoding(b"k") == 0
    assert await gibson.meta_ttl(b"k") == 30
    assert 0 < await gibson.meta_left(b"k") <= 30
    assert await gibson.meta_lock(b"k") == 0
    assert await gibson.meta_access(b"k") > 0
    assert await gibson.meta_created(b"k") > 0
    assert await gibson.meta_size(b"missing") is None


async def test_multi_commands(gibson):
    key1, key2 = b"test:mset:1", b"test:mset:2"
    await gibson.set(key1, 10, 3)
    await gibson.set(key2, 20, 130)
    assert await gibson.mset(b"test:mset", 42) == 2
    assert await gibson.mget(b"test:mset") == [key1, b"42", key2, b"42"]
    assert await gibson.mget(b"test:mset", 1) == [key1, b"42"]
    assert await gibson.mttl(b"test:mset", 10) == 2
    assert await gibson.minc(b"test:mset") == 2
    assert await gibson.mdec(b"test:mset") == 2
    assert await gibson.mlock(b"test:mset", 10) == 2
    assert await gibson.munlock(b"test:mset") == 2
    assert await gibson.count(b"test:mset") == 2
    assert await gibson.mdelete(b"test:mset") == 2
    assert await gibson.mget(b"test:mset") is None
    assert await gibson.count(b"test:mset") == 0
    stats = await gibson.stats()
    assert len(stats) == 54 and stats[0] == b"server_version"


async def test_end_closes(server):
    gibson = await aiogibson.create_gibson(address_of(server))
    assert not gibson.closed
    assert await gibson.end() is True
    await bounded(gibson.wait_closed())
    assert gibson.closed
    with pytest.raises(pygibson.ConnectionError):
        await gibson.get(b"foo")


async def test_low_level_connection(server):
    conn = await aiogibson.create_connection(address_of(server), encoding="utf-8")
    assert conn.encoding == "utf-8"
    assert await conn.execute(b"set", 0, b"foo", b"bar") == "bar"
    assert await conn.execute(b"get", b"foo") == "bar"
    assert await conn.execute(b"get", b"foo", encoding=None) == b"bar"
    assert await conn.execute(" GET ", "foo") == "bar"  # stripped, any case
    assert await conn.execute(b"del", b"foo") is True
    with pytest.raises(TypeError):
        conn.execute(None)
    with pytest.raises(TypeError):
        conn.execute(b"get", None)
    # Pipelined: the futures complete in order.
    futures = [conn.execute(b"inc", b"n") for _ in range(100)]
    assert await asyncio.gather(*futures) == list(range(1, 101))
    assert "GibsonConnection" in repr(conn)
    conn.close()
    await bounded(conn.wait_closed())
    assert conn.closed


async def test_loop_argument_is_ignored_with_a_warning(server):
    loop = asyncio.get_running_loop()
    with pytest.warns(DeprecationWarning):
        gibson = await aiogibson.create_gibson(address_of(server), loop=loop)
    assert await gibson.ping() is True
    gibson.close()


async def test_pool_as_aiogibson_documents_it(server):
    pool = await aiogibson.create_pool(address_of(server), minsize=2, maxsize=3)
    assert (pool.minsize, pool.maxsize, pool.size, pool.freesize) == (2, 3, 2, 2)
    assert pool.encoding is None
    with (await pool) as gibson:
        assert pool.freesize == 1
        await gibson.set("foo", "bar")
        assert await gibson.get("foo") == b"bar"
    assert pool.freesize == 2  # released on exit
    async with pool as gibson:
        assert await gibson.get("foo") == b"bar"
    # Commands on the pool itself borrow a connection each.
    await pool.set("foo", "baz")
    assert await pool.get("foo") == b"baz"
    assert await pool.delete("foo") is True
    with pytest.raises(RuntimeError):
        with pool:
            pass
    await pool.clear()
    assert pool.freesize == 0


async def test_pool_maxsize_is_a_bound_and_waiters_are_served_in_order(server):
    pool = await aiogibson.create_pool(address_of(server), minsize=0, maxsize=2)
    first = await pool.acquire()
    second = await pool.acquire()
    assert pool.size == 2
    order = []

    async def borrow(name):
        conn = await pool.acquire()
        order.append(name)
        pool.release(conn)

    waiting = [asyncio.ensure_future(borrow(n)) for n in "abc"]
    await asyncio.sleep(0.01)
    assert order == [] and pool.size == 2
    pool.release(first)
    pool.release(second)
    await bounded(asyncio.gather(*waiting))
    assert order == ["a", "b", "c"]
    assert pool.size == 2


async def test_pool_of_plain_connections(server):
    pool = await aiogibson.create_pool(address_of(server), minsize=1, maxsize=1,
                                       commands_factory=lambda conn: conn)
    with (await pool) as conn:
        assert await conn.execute(b"ping") is True


async def test_reader_and_encode_command():
    assert aiogibson.encode_command(b"set", 3600, "foo", 3.14) == (
        b"\x0f\x00\x00\x00\x01\x003600 foo 3.14")
    reader = aiogibson.Reader()
    reader.feed(b"\x06\x00\x00\x03\x00")
    assert reader.gets() is False
    reader.feed(b"\x00\x00bar")
    assert reader.gets() == b"bar"
    reader.feed(b"\x05\x00\x00\x01\x00\x00\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00")
    assert reader.gets() is True
    assert reader.gets() is None
    reader.feed(b"\x04\x00\x00\x01\x00\x00\x00\x00")
    assert isinstance(reader.gets(), aiogibson.KeyLockedError)


async def test_error_names_are_aliases_of_pygibsons():
    assert aiogibson.GibsonError is pygibson.PyGibsonError
    assert aiogibson.ProtocolError is pygibson.ProtocolError
    assert errors.ReplyError is pygibson.ServerError
    assert errors.ExpectedANumber is pygibson.NaNError
    assert errors.MemoryLimitError is pygibson.NoMemoryError
    assert errors.KeyLockedError is pygibson.LockedError
    for name in ("GibsonError", "ProtocolError", "ReplyError", "ExpectedANumber",
                 "MemoryLimitError", "KeyLockedError"):
        assert getattr(aiogibson, name) is getattr(errors, name)
