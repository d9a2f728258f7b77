"""Where keys go: the ketama continuum, rendezvous hashing, server lists,
and how many keys move when a server joins or leaves. No I/O here except
where a test checks that a key really is on the server named for it."""

import random

import pytest

from pygibson import ArgumentError
from pygibson._ring import Ketama, Rendezvous, ketama_digests
from pygibson.hash import HashClient

from .conftest import holder

# Ports nothing listens on: placement must not need a server.
NOWHERE = ["127.0.0.1:%d" % port for port in (1, 2, 3, 4)]


def random_keys(count, seed=15):
    rng = random.Random(seed)
    return ["key:%d:%x" % (i, rng.getrandbits(48)) for i in range(count)]


def spread(client, keys):
    counts = {}
    for key in keys:
        server = client.server_for(key)
        counts[server] = counts.get(server, 0) + 1
    return counts


def test_server_for_answers_without_any_server_running():
    client = HashClient(NOWHERE)
    assert client.server_for("user:1") in NOWHERE
    assert client.server_for(b"user:1") == client.server_for("user:1")
    assert client.server_for(bytearray(b"user:1")) == client.server_for("user:1")
    assert client.server_for(memoryview(b"user:1")) == client.server_for("user:1")


def test_every_server_gets_a_fair_share():
    counts = spread(HashClient(NOWHERE), random_keys(20_000))
    assert sorted(counts) == sorted(NOWHERE)
    for count in counts.values():
        assert 3_000 < count < 7_000  # 5,000 each on average


def test_weights_scale_the_share():
    client = HashClient([(NOWHERE[0], 3), NOWHERE[1]])
    counts = spread(client, random_keys(20_000))
    assert 2.0 < counts[NOWHERE[0]] / counts[NOWHERE[1]] < 4.5


def test_ketama_gives_160_points_per_server_scaled_by_weight():
    ring = Ketama([("a:1", 1), ("b:1", 1), ("c:1", 2)])
    # Weights 1, 1, 2 of 4 over 3 servers: 160 * 3 / 4 * weight.
    assert [ring.points_of(i) for i in range(3)] == [120, 120, 240]
    assert Ketama([("a:1", 1)] * 7).points_of(0) == 160


def test_ketama_rounds_shares_in_single_precision():
    # 1/7 * 160 / 4 * 7 is 39.99999999999999 in double precision, which
    # would floor to 39 digests; libmemcached computes it in float and
    # gives each of seven equal servers 40.
    assert ketama_digests(1, 7, 7) == 40
    assert ketama_digests(1, 28, 28) == 40
    assert ketama_digests(1, 3, 3) == 40
    assert ketama_digests(1, 14, 7) == 20


def test_one_server_takes_every_key():
    client = HashClient([NOWHERE[0]])
    assert {client.server_for(key) for key in random_keys(100)} == {NOWHERE[0]}


@pytest.mark.parametrize("hasher", [Ketama, Rendezvous])
def test_placement_does_not_depend_on_the_process(hasher):
    keys = random_keys(50)
    first = [HashClient(NOWHERE, hasher=hasher).server_for(key) for key in keys]
    assert first == [HashClient(NOWHERE, hasher=hasher).server_for(key) for key in keys]


def test_rendezvous_spreads_evenly():
    counts = spread(HashClient(NOWHERE, hasher=Rendezvous), random_keys(20_000))
    for count in counts.values():
        assert 4_500 < count < 5_500


def moved_fraction(before, after, keys):
    return sum(before.server_for(key) != after.server_for(key) for key in keys) / len(keys)


@pytest.mark.parametrize("hasher", [Ketama, Rendezvous])
def test_adding_a_fifth_server_moves_about_a_fifth_of_the_keys(hasher):
    keys = random_keys(100_000 if hasher is Ketama else 20_000)
    four = HashClient(NOWHERE, hasher=hasher)
    five = HashClient(NOWHERE + ["127.0.0.1:5"], hasher=hasher)
    assert 0.14 < moved_fraction(four, five, keys) < 0.26
    # Every key that moved went to the new server.
    assert all(five.server_for(key) == "127.0.0.1:5"
               for key in keys[:5_000] if four.server_for(key) != five.server_for(key))


@pytest.mark.parametrize("hasher", [Ketama, Rendezvous])
def test_removing_one_of_four_servers_moves_only_its_keys(hasher):
    keys = random_keys(100_000 if hasher is Ketama else 20_000)
    four = HashClient(NOWHERE, hasher=hasher)
    three = HashClient(NOWHERE[:3], hasher=hasher)
    assert 0.18 < moved_fraction(four, three, keys) < 0.32
    assert all(four.server_for(key) == NOWHERE[3]
               for key in keys[:5_000] if four.server_for(key) != three.server_for(key))


def test_keys_are_stored_on_the_server_named_for_them(servers, make_hash):
    client = make_hash()
    by_address = {"%s:%d" % (s.host, s.port): s for s in servers}
    for key in random_keys(200):
        client.set(key, "v")
        assert holder(servers, key) is by_address[client.server_for(key)]


def test_a_non_utf8_key_from_mget_goes_back_to_its_server(servers, make_hash):
    client = make_hash()
    for i in range(20):
        client.set(b"raw:\xff%d" % i, "v")
    for key in client.mget("raw:"):  # str keys holding surrogate escapes
        assert client.get(key) == b"v"


@pytest.mark.parametrize("servers,message", [
    ([], "non-empty list"),
    ("127.0.0.1:1", "non-empty list"),
    (["127.0.0.1:1", "127.0.0.1:1"], "listed twice"),
    (["127.0.0.1:nope"], "not a number"),
    (["127.0.0.1:70000"], "1..65535"),
    ([("127.0.0.1:1", 0)], "weight must be an int"),
    ([("127.0.0.1:1", 1.5)], "weight must be an int"),
    ([12], "is not an address"),
    (["::1:10128"], r"\[addr\]:port"),
])
def test_bad_server_lists_are_refused(servers, message):
    with pytest.raises(ArgumentError, match=message):
        HashClient(servers)


def test_every_address_form_is_accepted():
    client = HashClient(["127.0.0.1:1", ("127.0.0.1", 2), "/tmp/g.sock", ("[::1]:3", 2),
                         (("localhost", 4), 1), "localhost"])
    assert client.servers == ["127.0.0.1:1", "127.0.0.1:2", "/tmp/g.sock", "[::1]:3",
                              "localhost:4", "localhost:10128"]


def test_wrong_key_types_raise_as_client_does():
    client = HashClient(NOWHERE)
    with pytest.raises(TypeError, match="key must be str or bytes-like, not float"):
        client.get(1.5)
    with pytest.raises(TypeError, match="not int"):
        client.server_for(3)


@pytest.mark.parametrize("hasher", [Ketama, Rendezvous])
def test_remembered_keys_go_where_hashing_sends_them(hasher):
    from pygibson._ring import router

    nodes = [(name, 1) for name in NOWHERE]
    placement = hasher(nodes)
    cached = router(placement, NOWHERE, cache_size=100)  # emptied many times over
    plain = router(placement, NOWHERE, cache_size=0)
    keys = random_keys(1_000)
    for key in keys + keys[::-1] + [k.encode() for k in keys[:100]]:
        assert cached(key) == plain(key) == NOWHERE[placement.lookup(
            key.encode() if isinstance(key, str) else key)]
    assert cached(bytearray(b"user:1")) == plain(b"user:1")  # unhashable: not remembered
