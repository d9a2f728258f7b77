"""A Client shared by threads and by forked processes."""

import multiprocessing
import os
import threading

import pytest

from pygibson import ConnectionError, ConnectionPool, PooledClient

from .conftest import client_for, server_options

# Forking while the embedded server's thread runs is the point of the fork
# tests; Python 3.12+ warns about exactly that.
pytestmark = pytest.mark.filterwarnings(
    "ignore:This process .* is multi-threaded, use of fork:DeprecationWarning"
)

THREADS = 16
OPERATIONS = 10_000


def run_threads(target, count=THREADS):
    errors = []

    def guarded(index):
        try:
            target(index)
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def mixed_operations(client, index):
    """Each thread counts on a shared counter and keeps a key of its own,
    checking every reply is the one for its own request."""
    own = "t%d" % index
    for i in range(OPERATIONS // 4):
        client.inc("shared")
        value = ("%d:%d" % (index, i)).encode()
        client.set(own, value)
        assert client.get(own) == value
        client.count("t")


@pytest.fixture
def tcp_only(tcp_server):
    """The 16-thread tests are long: once over TCP is enough to prove them."""
    tcp_server.flush()
    return tcp_server


def test_one_client_shared_by_16_threads(tcp_only, implementation):
    client = client_for(tcp_only, implementation)
    run_threads(lambda index: mixed_operations(client, index))
    assert client.get("shared") == THREADS * (OPERATIONS // 4)
    for index in range(THREADS):
        assert client.get("t%d" % index) == ("%d:%d" % (index, OPERATIONS // 4 - 1)).encode()
    client.close()


def test_pooled_client_shared_by_16_threads(tcp_only, Client):
    with PooledClient(**pool_options(tcp_only, Client, max_size=4)) as pooled:
        run_threads(lambda index: mixed_operations(pooled, index))
        assert pooled.get("shared") == THREADS * (OPERATIONS // 4)
        assert pooled.pool.size <= 4


def pool_options(server, Client, **extra):
    """Pool options for ``server``, making clients of the implementation
    under test (unless the test brings its own factory)."""
    extra.setdefault("client_factory", Client)
    return server_options(server, **extra)


def child_work(client, key, queue):
    try:
        for _ in range(200):
            client.inc(key)
        queue.put(("ok", client.get(key)))
    except BaseException as error:
        queue.put(("error", repr(error)))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_children_open_their_own_connections(client):
    client.set("parent", "p")  # the parent's connection is open before forking
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    children = [
        context.Process(target=child_work, args=(client, "child%d" % i, queue))
        for i in range(4)
    ]
    for child in children:
        child.start()
    # The parent keeps working on its own connection meanwhile.
    for _ in range(200):
        client.inc("parent-counter")
    results = [queue.get(timeout=30) for _ in children]
    for child in children:
        child.join(30)
        assert child.exitcode == 0
    assert results == [("ok", 200)] * 4
    assert client.get("parent") == b"p"
    assert client.get("parent-counter") == 200


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_pool_after_fork(server, Client):
    pool = ConnectionPool(**pool_options(server, Client, max_size=2))
    pooled = PooledClient(pool)
    pooled.set("k", "v")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=child_work, args=(pooled, "pool-child", queue))
    child.start()
    assert queue.get(timeout=30) == ("ok", 200)
    child.join(30)
    assert pooled.get("k") == b"v"
    pool.close()


def test_pool_acquire_times_out_when_exhausted(server, Client):
    from pygibson import PoolTimeoutError

    pool = ConnectionPool(**pool_options(server, Client, max_size=1, acquire_timeout=0.05))
    held = pool.acquire()
    with pytest.raises(PoolTimeoutError) as info:
        pool.acquire()
    assert "max_size" in str(info.value)
    pool.release(held)
    with pool.connection() as client:
        client.ping()
    pool.close()


def test_pool_closes_idle_connections(server, Client):
    pool = ConnectionPool(**pool_options(server, Client, max_size=2, idle_timeout=0))
    with pool.connection() as client:
        client.ping()
    assert pool.size == 1
    with pool.connection() as client:  # the idle one is dropped, a new one made
        client.ping()
    assert pool.size == 1
    pool.close()
    assert pool.size == 0


def acquire_in_thread(pool):
    """pool.acquire() in a thread, so that a deadlock fails the test instead
    of hanging it: (what it returned or raised, whether it finished)."""
    outcome = []

    def run():
        try:
            outcome.append(pool.acquire())
        except BaseException as error:  # examined by the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(10)
    return (outcome[0] if outcome else None), not thread.is_alive()


def counting_client(Client):
    """A Client subclass that counts its pings: the health check is one."""

    class CountingClient(Client):
        pings = 0

        def ping(self):
            self.pings += 1
            return super().ping()

    return CountingClient


@pytest.mark.parametrize("interval, pings", [(0, 1), (None, 0), (3600, 0)])
def test_pool_health_check_pings_a_connection_idle_too_long(server, Client, interval, pings):
    pool = ConnectionPool(**pool_options(server, Client, max_size=1,
                                         health_check_interval=interval,
                                         client_factory=counting_client(Client)))
    with pool.connection() as client:
        assert client.pings == 0  # a new connection is not checked
        client.set("hc", "1")
    with pool.connection() as again:
        assert again is client and client.pings == pings
        assert client.get("hc") == b"1"
    pool.close()


def test_pool_failed_health_check_raises_and_frees_the_slot(server, Client):
    pool = ConnectionPool(**pool_options(server, Client, max_size=1, health_check_interval=0,
                                         connect_retries=0))
    with pool.connection() as client:
        client.ping()
        client.close()  # the ping on the way out must reconnect
    server.faults.refuse_connections()
    try:
        error, finished = acquire_in_thread(pool)
    finally:
        server.faults.accept_connections()
    assert finished, "acquire() deadlocked on a failed health check"
    assert isinstance(error, ConnectionError) and "refused" in str(error).lower()
    assert pool.size == 0
    client, finished = acquire_in_thread(pool)
    assert finished and client.ping() is None
    pool.release(client)
    pool.close()


def test_pool_client_factory_failure_frees_the_slot(server, Client):
    calls = []

    def factory(**options):
        calls.append(options)
        if len(calls) == 2:  # the first checks the options, in the constructor
            raise OSError("no client today")
        return Client(**options)

    pool = ConnectionPool(**pool_options(server, Client, max_size=1, client_factory=factory))
    error, finished = acquire_in_thread(pool)
    assert finished and isinstance(error, OSError)
    assert pool.size == 0
    client, finished = acquire_in_thread(pool)
    assert finished and client.ping() is None
    pool.release(client)
    pool.close()


def test_other_threads_run_while_a_request_waits(client, server):
    """The GIL is released while the client waits on the server: the main
    thread keeps counting all through a slow request. Were the GIL held, it
    could not run a single iteration until the reply came."""
    server.faults.delay_replies(0.5)
    in_request = threading.Event()
    done = threading.Event()

    def slow_request():
        in_request.set()
        client.ping()
        done.set()

    worker = threading.Thread(target=slow_request)
    worker.start()
    in_request.wait()
    iterations = 0
    while not done.is_set():
        iterations += 1
    worker.join()
    server.faults.clear()
    assert iterations > 10_000


def test_client_for_helper_closes(server, implementation):
    client = client_for(server, implementation)
    client.ping()
    client.close()
    assert client.closed


def test_a_misspelt_option_fails_when_the_pool_is_made(server, Client):
    # PooledClient(adr=...) used to fail only at the first call.
    with pytest.raises(TypeError, match="adr"):
        PooledClient(adr="127.0.0.1", client_factory=Client)
    with pytest.raises(TypeError, match="adr"):
        ConnectionPool(adr="127.0.0.1", client_factory=Client)
    with pytest.raises(ValueError, match="timeout"):
        PooledClient(timeout=1.5, client_factory=Client)


@pytest.mark.parametrize("option", ["acquire_timeout", "idle_timeout",
                                    "health_check_interval"])
def test_pool_times_are_checked_and_say_they_are_seconds(Client, option):
    # The pool's times are seconds and the client's milliseconds: a refusal
    # says which is which, at construction rather than when first waited on.
    with pytest.raises(TypeError, match=r"%s is in seconds.*timeout= and "
                                        r"connect_timeout= in milliseconds" % option):
        ConnectionPool(client_factory=Client, **{option: "5"})
    with pytest.raises(ValueError, match=r"%s must be 0 or more seconds.*milliseconds"
                                         % option):
        PooledClient(client_factory=Client, **{option: -1})
    # Whole and fractional seconds and None are all fine.
    for good in (0, 2, 0.25, None):
        ConnectionPool(client_factory=Client, **{option: good}).close()


def test_pooled_client_from_url(server, Client):
    if server.unix_socket:
        url = "unix://%s?timeout=700" % server.unix_socket
    else:
        url = "gibson://%s:%d?timeout=700" % (server.host, server.port)
    with PooledClient.from_url(url, max_size=2, client_factory=Client) as pooled:
        pooled.set("k", "v")
        assert pooled.get("k") == b"v"
        assert pooled.pool.max_size == 2
        with pooled.pool.connection() as client:
            assert client.timeout == 700
            assert type(client) is Client
