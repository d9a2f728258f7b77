"""Client(serializer=...): Python objects stored through one serializer per
client (Gibson has no flags field to record how each value was stored),
numbers left as numbers so that inc/dec keep working, and a value that does
not load named by its key. Every test runs on both implementations."""

import json
import pickle

import pytest

from pygibson import ArgumentError, NotFoundError, PyGibsonError, SerializationError
from pygibson.serializers import JSON, PICKLE, JSONSerializer, PickleSerializer

SERIALIZERS = [JSON, PICKLE, json, JSONSerializer(sort_keys=True),
               PickleSerializer(protocol=2)]
IDS = ["JSON", "PICKLE", "json-module", "JSON-sorted", "pickle-2"]


@pytest.fixture(params=SERIALIZERS, ids=IDS)
def serializer(request):
    return request.param


@pytest.fixture
def objects(make_client, serializer):
    return make_client(serializer=serializer)


def test_objects_round_trip(objects):
    value = {"name": "Zoë", "tags": ["a", "b"], "score": 2.5, "none": None, "ok": True}
    assert objects.set("user:1", value, 60) is None
    assert objects.get("user:1") == value
    for stored in ("text", "42", 4.25, -0.5, [1, [2, 3]], True, False, None, {}):
        objects.set("k", stored)
        assert objects.get("k") == stored, stored
    assert objects.serializer is not None


def test_ints_stay_numbers_so_inc_and_dec_work(objects, make_client):
    objects.set("hits", 41)
    # Stored as the decimal text, as without a serializer: a plain client
    # reads it, and the server counts on it.
    assert make_client().get("hits") == b"41"
    assert objects.get("hits") == 41
    assert objects.inc("hits") == 42
    assert objects.get("hits") == 42  # now the server's number encoding
    assert objects.dec("fresh") == 1 and objects.get("fresh") == 1
    objects.set("neg", -7)
    assert objects.get("neg") == -7


def test_get_with_a_default_and_keywords(objects):
    assert objects.get("missing", None) is None
    assert objects.get("missing", default={"d": 1}) == {"d": 1}
    objects.set(key="k", value=[1, 2], ttl=10)
    assert objects.get("k", None) == [1, 2]
    assert objects.get(key="k") == objects.get("k")
    with pytest.raises(NotFoundError):
        objects.get("missing")


def test_mset_and_mget(objects):
    for i in range(3):
        objects.set("row:%d" % i, {"i": i})
    objects.set("row:n", 5)
    objects.inc("row:n")
    assert objects.mget("row:") == {"row:0": {"i": 0}, "row:1": {"i": 1},
                                    "row:2": {"i": 2}, "row:n": 6}
    assert objects.mset("row:", ["same"]) == 4
    assert objects.mget(prefix="row:") == {"row:%s" % k: ["same"] for k in "012n"}
    assert len(objects.mget("row:", 2)) == 2


def test_bytes_go_through_the_serializer_too(make_client):
    # Every value but an int: bytes pickle and come back as bytes...
    pickled = make_client(serializer=PICKLE)
    pickled.set("b", b"\x00\xff")
    assert pickled.get("b") == b"\x00\xff"
    # ...and JSON cannot store them, as json.dumps cannot.
    with pytest.raises(TypeError, match="bytes is not JSON serializable"):
        make_client(serializer=JSON).set("b", b"raw")


def test_a_value_that_does_not_load_names_its_key(objects, make_client):
    make_client().set("foreign", b"\xfe\x80 stored by someone else")
    with pytest.raises(SerializationError) as info:
        objects.get("foreign")
    error = info.value
    assert "GET b'foreign'" in str(error) and "loads()" in str(error)
    assert error.key == b"foreign"
    assert error.__cause__ is not None
    assert isinstance(error, (PyGibsonError, ValueError))
    with pytest.raises(SerializationError, match=r"MGET b'fo', key 'foreign'"):
        objects.mget("fo")
    # The client goes on.
    objects.set("k", [1])
    assert objects.get("k") == [1]


def test_without_a_serializer_objects_are_refused_as_before(client):
    with pytest.raises(TypeError, match="value must be str, bytes-like, int or float"):
        client.set("k", {"a": 1})
    assert client.serializer is None


def test_dumps_must_return_bytes_or_str(make_client):
    class Bad:
        def dumps(self, value):
            return 5

        def loads(self, data):
            return data

    with pytest.raises(TypeError, match=r"Bad.dumps\(\) returned int; it must return bytes"):
        make_client(serializer=Bad()).set("k", "v")


def test_constructor_refusals(Client):
    with pytest.raises(TypeError, match="serializer must have dumps"):
        Client(serializer=object())
    with pytest.raises(ArgumentError, match="serializer and encoding exclude each other"):
        Client(serializer=JSON, encoding="utf-8")
    with pytest.raises(ValueError, match="protocol"):
        PickleSerializer(protocol=1)


def test_pickle_serializer_reads_an_ints_text_and_nothing_else():
    assert PICKLE.loads(b"42") == 42 and PICKLE.loads(b"-3") == -3
    assert PICKLE.loads(pickle.dumps({"a": 1}, 2)) == {"a": 1}
    for bad in (b"4 2", b"--1", b"\xc2\xb2", b"", b"x"):
        with pytest.raises(ValueError):
            PICKLE.loads(bad)


def test_pooled_clients_pass_the_serializer_on(server, Client):
    from pygibson import PooledClient

    from .conftest import server_options

    with PooledClient(client_factory=Client,
                      **server_options(server, serializer=JSON)) as pooled:
        pooled.set("k", {"pooled": True})
        assert pooled.get("k") == {"pooled": True}
        assert pooled.get("missing", 0) == 0


def test_pipelines_go_through_the_clients_serializer(objects, make_client):
    make_client().set("foreign", b"\xfe\x80 not ours")
    pipe = objects.pipeline()
    pipe.set("a", {"x": [1]}).set(key="n", value=7).inc("n").get("a").get("n")
    pipe.mset("a", ("t",)).mget("a").get("foreign").get("missing")
    results = pipe.execute(raise_on_error=False)
    assert results[:5] == [None, None, 8, {"x": [1]}, 8]
    assert results[5] == 1 and results[6] in ({"a": ["t"]}, {"a": ("t",)})
    assert isinstance(results[7], SerializationError) and "GET b'foreign'" in str(results[7])
    assert isinstance(results[8], NotFoundError)
    # raise_on_error: the first error, with every result on it.
    with pytest.raises(SerializationError) as info:
        objects.pipeline().get("a").get("foreign").execute()
    assert info.value.results[0] == results[6]["a"]
    # A value dumps() refuses is refused as it is queued; nothing is sent.
    if not isinstance(objects.serializer, PickleSerializer):
        with pytest.raises(TypeError):
            objects.pipeline().set("k", {1, 2})
