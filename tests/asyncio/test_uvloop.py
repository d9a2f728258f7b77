"""The heavier scenarios on uvloop, when it is installed (an optional test
dependency: pip install uvloop). Each test runs a loop of its own, so this
does not depend on how the installed pytest-asyncio lets a loop be chosen."""

import pytest

from pygibson.asyncio import AsyncClient

from . import scenarios
from .conftest import options_for

uvloop = pytest.importorskip("uvloop", reason="uvloop is optional (pip install uvloop)")


def run_on_uvloop(scenario, server, **options):
    async def main():
        made = []

        def make(target=None, **extra):
            client = AsyncClient(**options_for(target or server, **extra))
            made.append(client)
            return client

        try:
            return await scenario(make)
        finally:
            for client in made:
                await client.aclose()

    loop = uvloop.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def test_thousand_concurrent_gets(server):
    run_on_uvloop(lambda make: scenarios.thousand_gets(make(), server), server)


@pytest.mark.parametrize("seed", [4, 5])
def test_random_cancellation_under_load(server, seed):
    run_on_uvloop(lambda make: scenarios.random_cancellation(make(), seed), server)


def test_server_restart(server):
    run_on_uvloop(scenarios.server_restart, server)
