"""The pytest plugin's async client fixture."""

import pytest

import pygibson_pytest
from pygibson import testing
from pygibson.asyncio import AsyncClient

pytestmark = pytest.mark.asyncio


async def test_gibson_async_client(gibson_async_client, gibson_server):
    assert isinstance(gibson_async_client, AsyncClient)
    await gibson_async_client.set("user:1", "alice")
    assert await gibson_async_client.get("user:1") == b"alice"
    assert gibson_async_client.port == gibson_server.port


async def test_listed_in_the_entry_point():
    assert "gibson_async_client" in pygibson_pytest.FIXTURES
    assert hasattr(testing, "gibson_async_client")
