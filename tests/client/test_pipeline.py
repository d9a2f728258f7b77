"""Pipelines: results identical to the same calls made one by one."""

import pytest

from pygibson import (
    ArgumentError,
    LockedError,
    NaNError,
    NotFoundError,
    ProtocolError,
)

# (method, args) covering every operation and every reply code.
SCRIPT = [
    ("set", ("a", "1")),
    ("set", ("b", "text", 30)),
    ("get", ("a",)),
    ("get", ("missing",)),          # NOT_FOUND
    ("inc", ("a",)),
    ("inc", ("b",)),                # NAN
    ("dec", ("counter",)),
    ("ttl", ("a", 20)),
    ("lock", ("a", 10)),
    ("set", ("a", "x")),            # LOCKED
    ("unlock", ("a",)),
    ("mset", ("p:", "v")),          # no match: 0
    ("set", ("p:1", "1")),
    ("set", ("p:2", "2")),
    ("mset", ("p:", "3")),
    ("mttl", ("p:", 50)),
    ("mget", ("p:",)),
    ("mget", ("p:", 1)),
    ("minc", ("p:",)),
    ("mdec", ("p:",)),
    ("mlock", ("p:", 5)),
    ("munlock", ("p:",)),
    ("count", ("p:",)),
    ("keys", ("p:",)),
    ("meta", ("p:1", "encoding")),
    ("meta", ("b", "ttl")),
    ("mdl", ("p:",)),
    ("dl", ("b",)),
    ("dl", ("b",)),                 # NOT_FOUND
    ("ping", ()),
    ("delete", ("counter",)),
    ("mdelete", ("nothing",)),
]


def run_one_by_one(client):
    results = []
    for name, args in SCRIPT:
        try:
            results.append(getattr(client, name)(*args))
        except Exception as error:  # the exception stands in its place
            results.append(error)
    return results


def comparable(results):
    return [
        (type(r), str(r)) if isinstance(r, Exception) else r for r in results
    ]


def test_pipeline_results_match_one_by_one(client, server):
    expected = run_one_by_one(client)
    server.flush()
    pipe = client.pipeline()
    for name, args in SCRIPT:
        assert getattr(pipe, name)(*args) is pipe
    assert len(pipe) == len(SCRIPT)
    results = pipe.execute(raise_on_error=False)
    assert comparable(results) == comparable(expected)
    assert len(pipe) == 0
    kinds = {type(r) for r in results}
    assert {NotFoundError, NaNError, LockedError} <= kinds


def test_raise_on_error_raises_the_first_error_with_all_results(client):
    pipe = client.pipeline()
    pipe.set("k", "v").get("missing").get("k")
    with pytest.raises(NotFoundError) as info:
        pipe.execute()
    assert info.value.results[0] is None
    assert info.value.results[2] == b"v"


def test_empty_pipeline(client):
    assert client.pipeline().execute() == []


def test_bad_argument_raises_when_queued(client):
    pipe = client.pipeline()
    pipe.set("ok", "1")
    with pytest.raises(ArgumentError):
        pipe.set("bad key", "v")
    assert len(pipe) == 1
    assert pipe.execute() == [None]


@pytest.mark.parametrize("key, fragment", [
    ("a b", "space"), (b"a b", "space"), ("", "empty"), (b"", "empty"),
    ("k" * 513, "max_key_size"), (b"k" * 513, "max_key_size"),
])
def test_refused_lone_keys_leave_the_queue_as_it_was(client, key, fragment):
    # get(key) with a str or bytes key takes the pipeline's quickest path;
    # a refusal there must still raise the full message and queue nothing.
    pipe = client.pipeline()
    pipe.get("k")
    for queue in (pipe.get, pipe.inc, pipe.mget, pipe.count, pipe.dl):
        with pytest.raises(ArgumentError) as info:
            queue(key)
        assert fragment in str(info.value)
    assert len(pipe) == 1
    client.set("k", "v")
    assert pipe.execute() == [b"v"]


def test_many_lone_keys_queue_past_the_first_buffer(client):
    # The quick path only writes into room already there; the general one
    # grows the buffers. Mixed lengths cross the 8-byte words and 64 bytes.
    keys = [("key:%d:" % i) * (i % 12 + 1) for i in range(3000)]
    for i, key in enumerate(keys[:50]):
        client.set(key, str(i))
    pipe = client.pipeline()
    for key in keys:
        pipe.get(key.encode() if len(key) % 2 else key)
    results = pipe.execute(raise_on_error=False)
    assert results[:50] == [str(i).encode() for i in range(50)]
    assert all(isinstance(r, NotFoundError) for r in results[50:])


def test_context_manager_and_reset(client):
    with client.pipeline() as pipe:
        pipe.set("k", "v")
        pipe.reset()
        assert len(pipe) == 0
        assert pipe
        pipe.ping()
        assert pipe.execute() == [None]


def test_pipeline_type_and_repr(client, Pipeline):
    pipe = client.pipeline()
    assert isinstance(pipe, Pipeline)
    assert pipe.client is client
    assert "0 operations" in repr(pipe)


def test_ten_thousand_incs_in_order(client):
    pipe = client.pipeline()
    for _ in range(10_000):
        pipe.inc("n")
    assert pipe.execute() == list(range(1, 10_001))


def test_large_pipeline_of_1kb_values_does_not_deadlock(client):
    value = b"v" * 1024
    n = 100_000
    pipe = client.pipeline()
    for i in range(n):
        pipe.set("k%d" % (i % 1000), value)
    assert pipe.execute() == [None] * n
    pipe = client.pipeline()
    for i in range(1000):
        pipe.get("k%d" % i)
    assert pipe.execute() == [value] * 1000


def test_quit_in_a_pipeline_closes_the_connection(client):
    pipe = client.pipeline()
    pipe.set("k", "v").quit()
    assert pipe.execute() == [None, None]
    assert client.closed
    assert client.get("k") == b"v"


def test_a_garbled_key_value_set_stands_in_its_place_and_the_connection_closes(client,
                                                                                server):
    # count 1, then a pair cut short inside its key length: the framing
    # held, so the replies after it are read; the server is not trusted
    # with the next request, as Client does not trust it after one.
    server.faults.replace_next_reply(b"\x07\x00\x00\x06\x00\x00\x00\x01\x00\x00\x00\x05\x00")
    results = client.pipeline().mget("k").set("after", "1").execute(raise_on_error=False)
    assert isinstance(results[0], ProtocolError) and results[1] is None
    assert client.closed
    assert client.get("after") == b"1"


def test_client_usable_between_pipelines(client):
    client.pipeline().set("a", "1").execute()
    assert client.get("a") == b"1"
    assert client.pipeline().get("a").execute() == [b"1"]


def test_undecodable_value_stands_in_its_place(make_client):
    client = make_client(encoding="utf-8")
    client.set(b"k", b"\xfe")
    pipe = client.pipeline()
    pipe.inc("n").get(b"k").inc("n")
    results = pipe.execute(raise_on_error=False)
    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], UnicodeDecodeError)
    pipe.inc("n").get(b"k")
    with pytest.raises(UnicodeDecodeError) as info:
        pipe.execute()
    assert info.value.results[0] == 3
    assert client.get("n") == 3  # the connection stayed in step
