"""Calls that span servers: every prefix operation fans out to all servers
and merges like one server holding every key would answer; stats() and
ping() reach every server; "not found" only when no server matched."""

import threading

import pytest

from pygibson import OPERATIONS, Client, NoMemoryError, NotFoundError, PartialFailureError
from pygibson.server import GibsonServer


PREFIX_OPERATIONS = [op for op in OPERATIONS if op.prefix]
ARGUMENTS = {"key": "p:", "value": "7", "ttl": 100, "seconds": 10}
KEYS = ["p:%d" % i for i in range(40)]


def arguments(op, prefix="p:"):
    args = [ARGUMENTS[param.kind] for param in op.params if param.required]
    args[0] = prefix
    return args


def normal(result):
    """Lists in a canonical order: the order across servers is theirs."""
    return sorted(result) if isinstance(result, list) else result


def outcome(method, *args):
    """A call's normal result, or the class of what it raised."""
    try:
        return normal(method(*args))
    except NotFoundError as error:
        return type(error)


@pytest.fixture(scope="module")
def single():
    """One server that holds every key: the reference answer."""
    with GibsonServer() as server:
        yield server


@pytest.fixture
def reference(single):
    single.flush()
    client = Client(addr=single.host, port=single.port)
    yield client
    client.close()


def fill(*clients):
    for client in clients:
        for i, key in enumerate(KEYS):
            client.set(key, str(i))
        client.set("other", "x")


def test_the_keys_are_spread_over_every_server(hash_client):
    fill(hash_client)
    assert len({hash_client.server_for(key) for key in KEYS}) == 4


@pytest.mark.parametrize("op", PREFIX_OPERATIONS, ids=[op.name for op in PREFIX_OPERATIONS])
def test_prefix_operation_merges_as_one_server_answers(op, hash_client, reference):
    fill(hash_client, reference)
    args = arguments(op)
    merged = getattr(hash_client, op.name)(*args)
    assert normal(merged) == normal(getattr(reference, op.name)(*args))
    # What it did to the items is the same too.
    assert outcome(hash_client.mget, "p:") == outcome(reference.mget, "p:")


@pytest.mark.parametrize("empty", [False, True], ids=["raising", "empty_when_no_match"])
@pytest.mark.parametrize("op", PREFIX_OPERATIONS, ids=[op.name for op in PREFIX_OPERATIONS])
def test_prefix_operation_matching_nothing_answers_as_client(op, empty, make_hash, single):
    hash_client = make_hash(empty_when_no_match=empty)
    reference = Client(addr=single.host, port=single.port, empty_when_no_match=empty)
    fill(hash_client, reference)
    expected = outcome(getattr(reference, op.name), *arguments(op, "none:"))
    assert outcome(getattr(hash_client, op.name), *arguments(op, "none:")) == expected
    if not empty and op.name != "count":
        assert expected is NotFoundError
    reference.close()


@pytest.mark.parametrize("op", [op for op in PREFIX_OPERATIONS if op.name != "count"],
                         ids=lambda op: op.name)
def test_not_found_only_when_no_server_matched(op, make_hash):
    client = make_hash()
    fill(client)
    client.set("solo:1", "1")  # one server matches "solo:", three raise
    assert getattr(client, op.name)(*arguments(op, "solo:"))
    with pytest.raises(NotFoundError, match="no key matches"):
        getattr(client, op.name)(*arguments(op, "none:"))


def test_mget_limit_applies_after_merging(hash_client):
    fill(hash_client)
    every = hash_client.mget("p:")
    assert len(every) == 40
    limited = hash_client.mget("p:", 5)
    assert len(limited) == 5
    assert all(every[key] == value for key, value in limited.items())
    assert len(hash_client.mget("p:", limit=39)) == 39
    assert hash_client.mget("p:", 1000) == every


def test_stats_are_per_server_keyed_by_address(hash_client, servers):
    fill(hash_client)
    stats = hash_client.stats()
    assert sorted(stats) == sorted(hash_client.servers)
    assert sum(entry["total_items"] for entry in stats.values()) == 41


def test_ping_reaches_every_server(hash_client, servers):
    assert hash_client.ping() is None
    servers[2].stop()
    with pytest.raises(PartialFailureError) as info:
        hash_client.ping()
    assert info.value.servers == [hash_client.servers[2]]


def test_a_refusal_from_one_server_is_raised_as_client_raises_it(hash_client, servers):
    fill(hash_client)
    servers[1].faults.replace_next_reply(b"\x03\x00\x00\x01\x00\x00\x00\x00")  # REPL_ERR_MEM
    with pytest.raises(NoMemoryError):
        hash_client.mset("p:", "v")
    assert hash_client.count("p:") == 40  # everything still in step


class Meeting:
    """A client whose prefix calls wait until every server's call has
    started: proof that a fan-out sends to all before waiting for any
    (a sequential fan-out breaks the barrier instead of passing it)."""

    barrier = None

    def __init__(self, **options):
        self._client = Client(**options)

    def count(self, prefix):
        Meeting.barrier.wait(timeout=30)
        return self._client.count(prefix)

    def close(self):
        self._client.close()


def test_a_fan_out_has_every_server_busy_at_once(make_hash):
    fill(make_hash())
    client = make_hash(client_factory=Meeting)
    Meeting.barrier = threading.Barrier(4)
    assert client.count("p:") == 40
    assert not Meeting.barrier.broken
