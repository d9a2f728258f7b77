"""AsyncClient(serializer=...): the rules and the words of the sync
Client's serializer (tests/client/test_serializers.py), on the asyncio
client, its pipelines and its pool."""

import pytest

from pygibson import ArgumentError, NotFoundError, SerializationError
from pygibson.asyncio import AsyncPooledClient
from pygibson.serializers import JSON, PICKLE

from .conftest import options_for

pytestmark = pytest.mark.asyncio


@pytest.fixture(params=[JSON, PICKLE], ids=["JSON", "PICKLE"])
def serializer(request):
    return request.param


async def test_objects_numbers_defaults_and_mget(make_client, serializer):
    objects = make_client(serializer=serializer)
    assert objects.serializer is serializer
    await objects.set("u:1", {"a": [1, 2.5, None]}, 60)
    assert await objects.get("u:1") == {"a": [1, 2.5, None]}
    await objects.set(key="u:2", value="text")
    assert await objects.get(key="u:2") == "text"
    await objects.set("u:n", 41)
    assert await objects.inc("u:n") == 42 and await objects.get("u:n") == 42
    assert await objects.get("missing", None) is None
    with pytest.raises(NotFoundError):
        await objects.get("missing")
    assert await objects.mget("u:") == {"u:1": {"a": [1, 2.5, None]}, "u:2": "text",
                                        "u:n": 42}
    assert await objects.mset("u:", [0]) == 3
    assert await objects.mget(prefix="u:", limit=1) in ({"u:%s" % k: [0]} for k in "12n")


async def test_a_value_that_does_not_load_names_its_key(make_client, serializer):
    await make_client().set("foreign", b"\xfe\x80 not ours")
    objects = make_client(serializer=serializer)
    with pytest.raises(SerializationError, match=r"^GET b'foreign': \w+\.loads\(\)"):
        await objects.get("foreign")
    with pytest.raises(SerializationError, match="MGET b'fo', key 'foreign'"):
        await objects.mget("fo")
    pipe = objects.pipeline().set("mine", {"k": 1}).get("mine").get("foreign").mget("mi")
    results = await pipe.execute(raise_on_error=False)
    assert results[:2] == [None, {"k": 1}] and results[3] == {"mine": {"k": 1}}
    assert isinstance(results[2], SerializationError) and "GET b'foreign'" in str(results[2])


async def test_refused_with_an_encoding_and_passed_on_by_the_pool(server):
    from pygibson.asyncio import AsyncClient

    with pytest.raises(ArgumentError, match="serializer and encoding exclude each other"):
        AsyncClient(serializer=JSON, encoding="utf-8")
    pooled = AsyncPooledClient(max_size=2, **options_for(server, serializer=JSON))
    await pooled.set("p", {"pooled": 1})
    assert await pooled.get("p") == {"pooled": 1}
    assert await pooled.pipeline().get("p").mget("p").execute() == [{"pooled": 1},
                                                                    {"p": {"pooled": 1}}]
    await pooled.aclose()
