"""HashClient speaks Client's interface: every operation of the table with
its parameters (and its type declarations held to the table), the same
results and exceptions, over TCP and unix sockets, pooled or not."""

import ast
import inspect
import os

import pytest

import pygibson
from pygibson import OPERATIONS, Client, NotFoundError
from pygibson._operations import lookup
from pygibson.hash import AsyncHashClient, HashClient, HashPipeline
from pygibson.server import GibsonServer

from .conftest import FAST

METHOD_NAMES = [name for op in OPERATIONS for name in (op.name,) + op.aliases]
SOURCES = os.path.dirname(pygibson.__file__)


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_every_operation_with_its_parameters_and_doc(name):
    op = lookup(name)
    for cls in (HashClient, HashPipeline, AsyncHashClient):
        method = getattr(cls, name)
        names = [p for p in inspect.signature(method).parameters if p != "self"]
        if name == "get" and cls is not HashPipeline:
            # get(key, default), as Client's (pipelines queue: no default).
            assert names == ["key", "default"], cls
            assert method.__doc__ == Client.get.__doc__
            continue
        assert names == [p.name for p in op.params], (cls, name)
        assert method.__doc__ == op.doc


def declared(path, class_name):
    """The methods a class declares under ``if TYPE_CHECKING:``."""
    tree = ast.parse(open(path, encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.If) and getattr(item.test, "id", "") == "TYPE_CHECKING":
                    return {f.name: [a.arg for a in f.args.args[1:]] for f in item.body
                            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    raise AssertionError("%s declares no typed operations in %s" % (class_name, path))


@pytest.mark.parametrize("path,class_name", [
    ("hash.py", "HashClient"), ("_hash_pipeline.py", "HashPipeline"),
    ("_async_hash.py", "AsyncHashClient")])
def test_type_declarations_follow_the_operation_table(path, class_name):
    methods = declared(os.path.join(SOURCES, path), class_name)
    expected = {name: [p.name for p in lookup(name).params] for name in METHOD_NAMES}
    if class_name != "HashPipeline":
        # get's overloads: the last one declared takes the default.
        expected["get"] = ["key", "default"]
    assert methods == expected


def test_async_methods_are_coroutines_and_the_blocking_ones_are_not():
    for name in METHOD_NAMES:
        assert inspect.iscoroutinefunction(getattr(AsyncHashClient, name)), name
        assert not inspect.iscoroutinefunction(getattr(HashClient, name)), name


def test_the_package_stays_typed():
    assert os.path.exists(os.path.join(SOURCES, "py.typed"))


def test_single_key_results_and_errors_are_clients(hash_client):
    assert hash_client.set("k", "v", 60) is None
    assert hash_client.get("k") == b"v"
    assert hash_client.inc("n") == 1 and hash_client.dec("n") == 0
    assert hash_client.meta("k", "size") == 1
    assert hash_client.ttl("k", 100) is None
    assert hash_client.lock("k", 10) is None
    with pytest.raises(pygibson.LockedError):
        hash_client.set("k", "w")
    assert hash_client.unlock("k") is None
    assert hash_client.delete("k") is None
    with pytest.raises(NotFoundError, match="GET b'k'"):
        hash_client.get("k")
    with pytest.raises(pygibson.ArgumentError, match="space"):
        hash_client.set("a b", "v")


def test_get_with_a_default_and_exists(hash_client, servers):
    # The cache-aside idiom, as on Client: the default for a missing key,
    # the value otherwise; exists() asks the key's own server.
    keys = ["ca%d" % i for i in range(20)]
    for key in keys[:10]:
        hash_client.set(key, "v")
    assert len({hash_client.server_for(key) for key in keys}) > 1
    for key in keys[:10]:
        assert hash_client.get(key, None) == b"v"
        assert hash_client.get(key, default=None) == b"v"
        assert hash_client.exists(key) is True
    for key in keys[10:]:
        assert hash_client.get(key, "d") == "d"
        assert hash_client.get(key, None) is None
        assert hash_client.exists(key) is False
        with pytest.raises(NotFoundError):
            hash_client.get(key)


def test_client_options_reach_every_server(make_hash):
    client = make_hash(encoding="utf-8")
    for i in range(20):
        client.set("e%d" % i, "é")
    assert set(client.mget("e").values()) == {"é"}
    assert all(shard.client.timeout == FAST["timeout"] for shard in client._shards)


def test_unix_sockets_and_tcp_together(tmp_path):
    with GibsonServer(unix_socket=str(tmp_path / "g.sock")) as unix, GibsonServer() as tcp:
        with HashClient([unix.unix_socket, (tcp.host, tcp.port)]) as client:
            keys = ["u%d" % i for i in range(50)]
            for key in keys:
                client.set(key, "v")
            assert {client.server_for(key) for key in keys} == {
                unix.unix_socket, "%s:%d" % (tcp.host, tcp.port)}
            assert client.count("u") == 50
            assert sorted(client.stats()) == sorted(client.servers)


def test_pooled_servers(make_hash):
    client = make_hash(pooled=True, max_size=3)
    assert all(shard.client.pool.max_size == 3 for shard in client._shards)
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.connect()  # pools open connections as they lend them: a ping each
    with pytest.raises(AttributeError, match="use close"):
        client.quit()


def test_quit_ends_every_connection_and_the_next_call_reconnects(hash_client):
    hash_client.connect()
    assert not any(shard.client.closed for shard in hash_client._shards)
    assert hash_client.quit() is None
    hash_client.set("k", "v")
    assert hash_client.get("k") == b"v"


def test_close_and_context_manager(make_hash):
    with make_hash() as client:
        client.connect()
        assert "HashClient" in repr(client) and client.servers[0] in repr(client)
    assert all(shard.client.closed for shard in client._shards)
    assert client.count("x") == 0  # reconnects, as Client does


def test_a_client_factory_makes_every_servers_client(make_hash):
    made = []

    def factory(**options):
        made.append(options)
        return Client(**options)

    make_hash(client_factory=factory)
    assert len(made) == 4 and all("port" in options for options in made)
