"""A HashClient shared by threads, and used in forked children."""

import multiprocessing
import os

import pytest

from ..client.test_threads_and_forks import run_threads

# Forking while the embedded servers' threads run is the point of the fork
# tests; Python 3.12+ warns about exactly that.
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded, use of fork:DeprecationWarning"
)

THREADS = 8
ROUNDS = 300


def mixed(client, index):
    """Counters shared by every thread, keys of its own, fan-outs and
    pipelines between them: every reply must be the one for its request."""
    for i in range(ROUNDS):
        client.inc("shared:%d" % (i % 8))
        own = "t%d:%d" % (index, i % 10)
        value = ("%d:%d" % (index, i)).encode()
        client.set(own, value)
        assert client.get(own) == value
        if i % 25 == 0:
            assert len(client.mget("t%d:" % index)) == min(i + 1, 10)
            pipe = client.pipeline().get(own).count("t%d:" % index)
            assert pipe.execute() == [value, min(i + 1, 10)]


@pytest.mark.parametrize("options", [{}, {"pooled": True, "max_size": 4}],
                         ids=["one-client-per-server", "pooled"])
def test_shared_by_threads(make_hash, options):
    client = make_hash(**options)
    run_threads(lambda index: mixed(client, index), THREADS)
    assert sum(client.mget("shared:").values()) == THREADS * ROUNDS


def child_work(client, index, queue):
    try:
        for i in range(100):
            client.inc("child%d:%d" % (index, i % 10))
        queue.put(("ok", client.count("child%d:" % index),
                   sum(client.mget("child%d:" % index).values())))
    except BaseException as error:
        queue.put(("error", repr(error)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.parametrize("options", [{}, {"pooled": True, "max_size": 2}],
                         ids=["one-client-per-server", "pooled"])
def test_forked_children_use_the_inherited_client(make_hash, options):
    client = make_hash(**options)
    client.set("parent", "p")
    client.count("p")  # the fan-out threads exist before forking
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [context.Process(target=child_work, args=(client, i, queue))
                for i in range(3)]
    for child in children:
        child.start()
    for _ in range(100):  # the parent keeps working meanwhile
        client.inc("parent-counter")
    results = [queue.get(timeout=60) for _ in children]
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    assert results == [("ok", 10, 100)] * 3
    assert client.get("parent") == b"p"
    assert client.mget("parent-") == {"parent-counter": 100}
