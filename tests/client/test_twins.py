"""The two implementations side by side: the same calls on the C extension's
Client and on the pure-Python one, against the same server, must give the
same results and the same exceptions, class and message, word for word.
Skipped where the extension cannot be imported."""

import array
import inspect

import pytest

from ..twinning import words

from pygibson import _pure
from pygibson._operations import OPERATIONS
from pygibson.serializers import JSON, PICKLE

from .conftest import server_options

pygibson_c = pytest.importorskip("pygibson._pygibson", reason="needs the C extension")


class StrKey(str):
    pass


class BytesKey(bytes):
    pass


class Odd:
    pass


# (method, args, kwargs): successes, refusals by the server, and refusals
# before sending, of every kind the library words.
CALLS = [
    ("set", ("k", "v"), {}),
    ("set", ("k", "v", 30), {}),
    ("set", (), {"key": "k", "value": b"v", "ttl": 5}),
    ("get", ("k",), {}),
    ("get", ("missing",), {}),
    ("get", (b"x" * 100,), {}),
    ("get", ("",), {}),
    ("get", (b"",), {}),
    ("get", ("a b",), {}),
    ("get", (StrKey("caf\u00e9 b"),), {}),
    ("get", (BytesKey(b"a b"),), {}),
    ("get", (bytearray(b"a b"),), {}),
    ("get", ("k" * 513,), {}),
    ("get", ("a\ud800b",), {}),
    ("get", (1.5,), {}),
    ("get", (memoryview(b"abcdef")[::2],), {}),
    ("set", ("k", memoryview(b"abcdef")[::2]), {}),
    ("get", (None,), {}),
    ("get", (Odd(),), {}),
    ("get", (array.array("i", [1]),), {}),
    ("get", (), {}),
    ("get", ("a", "b"), {}),
    ("get", ("missing", "b"), {}),
    ("get", ("a", 1, 2), {}),
    ("get", ("a",), {"dflt": 1}),
    ("get", (), {"default": 1}),
    ("get", ("a",), {"key": "b", "default": 1}),
    ("get", ("a b", None), {}),
    ("get", (), {"bogus": 1}),
    ("get", ("a",), {"key": "b"}),
    ("set", ("a", "b", 1, 2), {}),
    ("set", ("k", ""), {}),
    ("set", ("k", bytearray()), {}),
    ("set", ("k", None), {}),
    ("set", ("k", True), {}),
    ("set", ("k", Odd()), {}),
    ("set", ("k", 42), {}),
    ("set", ("k", -7.5), {}),
    ("set", ("k", memoryview(b"0123456789")[2:5]), {}),
    ("set", ("k", "v", -1), {}),
    ("set", ("k", "v", 32768), {}),
    ("set", ("k", "v", 2 ** 64), {}),
    ("set", ("k", "v", 1.5), {}),
    ("set", ("k", "v", True), {}),
    ("set", ("k", "v", "10"), {}),
    ("set", ("k" * 511, "v"), {}),
    ("set", ("k" * 510, "v", 10), {}),
    ("set", ("k" * 508, "v", 10), {}),
    ("set", ("a b", "v"), {}),
    ("ttl", ("k", 10), {}),
    ("ttl", ("missing", 10), {}),
    ("ttl", ("k", 40000), {}),
    ("inc", ("n",), {}),
    ("dec", ("n",), {}),
    ("inc", ("k",), {}),
    ("lock", ("k", 10), {}),
    ("set", ("k", "w"), {}),
    ("dl", ("k",), {}),
    ("delete", ("k",), {}),
    ("lock", ("k", -2), {}),
    ("lock", ("k", 1.0), {}),
    ("unlock", ("k",), {}),
    ("unlock", ("missing",), {}),
    ("dl", ("k",), {}),
    ("dl", ("k",), {}),
    ("mset", ("p:", "v"), {}),
    ("set", ("p:1", "1"), {}),
    ("set", ("p:2", "2"), {}),
    ("mset", ("p:", "3"), {}),
    ("mset", ("p:", ""), {}),
    ("mttl", ("p:", 50), {}),
    ("mttl", ("p:", -1), {}),
    ("mget", ("p:",), {}),
    ("mget", ("p:", 1), {}),
    ("mget", ("p:", None), {}),
    ("mget", ("p:", 0), {}),
    ("mget", ("p:", -1), {}),
    ("mget", ("",), {}),
    ("mget", ("none:",), {}),
    ("minc", ("p:",), {}),
    ("mdec", ("p:",), {}),
    ("mlock", ("p:", 5), {}),
    ("mlock", ("p:", -3), {}),
    ("munlock", ("p:",), {}),
    ("count", ("p:",), {}),
    ("count", ("",), {}),
    ("count", ("none:",), {}),
    ("keys", ("p:",), {}),
    ("keys", ("none:",), {}),
    ("meta", ("p:1", "encoding"), {}),
    ("meta", ("p:1", "l"), {}),
    ("meta", ("p:1", ""), {}),
    ("meta", ("p:1", "sizes\x00\x01" + "x" * 50), {}),
    ("meta", ("missing", "size"), {}),
    ("mdl", ("p:",), {}),
    ("mdelete", ("p:",), {}),
    ("mdl", ("none:",), {}),
    ("minc", ("none:",), {}),
    ("munlock", ("none:",), {}),
    ("ping", (), {}),
    ("ping", (1,), {}),
    ("set", (b"bin", b"\xfe\xff"), {}),
    ("get", (b"bin",), {}),
    ("mget", (b"bin",), {}),
    ("keys", (b"bi",), {}),
    ("set", (b"k\xff", "v"), {}),
    ("keys", (b"k",), {}),
    ("mget", (b"k",), {}),
    ("set", ("k", "x" * 5), {}),
    ("set", ("k", "v", 65537), {}),
    ("meta", ("k", "ttl"), {}),
    ("stats", (), {}),
    ("quit", (), {}),
    ("get", ("k",), {}),
    # Values a serializer takes and the plain clients refuse, and the
    # other way round.
    ("set", ("obj", {"a": [1, 2.5]}), {}),
    ("set", ("obj", (1, "x"), 10), {}),
    ("set", (), {"key": "obj", "value": [None]}),
    ("set", ("obj", {1, 2}), {}),
    ("set", ("obj", b"raw bytes"), {}),
    ("get", ("obj",), {}),
    ("get", ("obj", None), {}),
    ("get", ("nothing", None), {}),
    ("set", ("n", 41), {}),
    ("inc", ("n",), {}),
    ("get", ("n",), {}),
    ("mset", ("ob", {"b": 2}), {}),
    ("mset", (), {"prefix": "ob", "value": 1.5}),
    ("mget", ("ob",), {}),
    ("mget", (), {"prefix": "n"}),
    ("set", ("mixed", b"\xfe not json, not a pickle"), {}),
    ("mget", ("mix",), {}),
    ("get", ("mixed",), {}),
]


def outcome(call):
    try:
        return "ok", call()
    except Exception as error:
        return type(error), words(error)


def normalised(value):
    # Results are compared by value, but STATS counts the requests and
    # connections of both clients: its fields are compared by type.
    if isinstance(value, tuple) and isinstance(value[1], dict) and "server_version" in value[1]:
        return value[0], {k: type(v) for k, v in value[1].items()}
    return value


@pytest.fixture(params=[{}, dict(encoding="utf-8"), dict(strict_ttl=False),
                        dict(max_key_size=8, max_value_size=4, max_request_size=40),
                        dict(serializer=JSON), dict(serializer=PICKLE)],
                ids=["default", "utf-8", "loose-ttl", "small-limits", "json", "pickle"])
def twins(server, request):
    options = request.param
    made = [pygibson_c.Client(**server_options(server, **options)),
            _pure.Client(**server_options(server, **options))]
    yield made
    for client in made:
        client.close()


def test_every_call_gives_the_same_result_or_error(twins, server):
    c_client, py_client = twins
    outcomes = {}
    for name, client in (("c", c_client), ("py", py_client)):
        server.flush()
        outcomes[name] = [outcome(lambda: getattr(client, method)(*args, **kwargs))
                          for method, args, kwargs in CALLS]
    for call, c_out, py_out in zip(CALLS, outcomes["c"], outcomes["py"]):
        assert normalised(py_out) == normalised(c_out), call


def test_pipelines_give_the_same_results_and_errors(twins, server):
    results = {}
    for name, client in zip(("c", "py"), twins):
        server.flush()
        pipe = client.pipeline()
        refused = []
        for method, args, kwargs in CALLS:
            if method in ("quit", "stats"):  # quit would end the pipeline
                continue
            refused.append(outcome(lambda: getattr(pipe, method)(*args, **kwargs)))
        got = pipe.execute(raise_on_error=False)
        results[name] = ([r if r[0] != "ok" else "queued" for r in refused],
                         [(type(r), str(r)) if isinstance(r, Exception) else r for r in got])
    assert results["py"] == results["c"]


@pytest.mark.parametrize("options", [
    dict(port=0), dict(port=70000), dict(port="10128"), dict(port=1.5), dict(port=2 ** 40),
    dict(timeout=0), dict(timeout=-5), dict(timeout="1000"), dict(timeout=True),
    dict(timeout=float("nan")), dict(timeout=3e9), dict(connect_timeout=0),
    dict(encoding="no-such-codec"), dict(encoding=5), dict(max_key_size=0),
    dict(max_key_size=None), dict(max_value_size=True), dict(max_request_size=2 ** 33),
    dict(max_reply_size="1"), dict(addr=5), dict(addr="h", host="h"), dict(addr=None, host="h"),
    dict(unix_socket=5), dict(unix_socket="a\x00b"), dict(connect_retries=101),
    dict(connect_backoff=-1), dict(timeout=1.5), dict(timeout=0.5), dict(connect_timeout=2.25),
    dict(port="10128"), dict(port=True), dict(port=2**70), dict(port=1.0),
    dict(addr="h:x"), dict(addr="h:1", port=2), dict(addr="[::1"),
    dict(serializer=object()), dict(serializer=JSON, encoding="utf-8"), dict(serializer=5),
])
def test_constructor_refusals_are_the_same(options):
    assert outcome(lambda: _pure.Client(**options)) == \
        outcome(lambda: pygibson_c.Client(**options))


@pytest.mark.parametrize("options", [
    dict(), dict(addr="10.0.0.1", port=99, timeout=None), dict(host="example.org"),
    dict(unix_socket="/tmp/x.sock", timeout=2900.0), dict(timeout=1, connect_timeout=None),
    dict(connect_timeout=250), dict(encoding="latin-1"), dict(addr=""), dict(unix_socket=""),
    dict(unix_socket=b"/tmp/b.sock"), dict(serializer=JSON),
])
def test_properties_and_repr_are_the_same(options):
    c_client, py_client = pygibson_c.Client(**options), _pure.Client(**options)
    for name in ("closed", "addr", "host", "port", "unix_socket", "timeout",
                 "connect_timeout", "encoding", "serializer"):
        assert getattr(py_client, name) == getattr(c_client, name), name
    assert repr(py_client) == repr(c_client)
    assert repr(py_client.pipeline()) == repr(c_client.pipeline())


def test_connection_failures_are_worded_the_same(tmp_path):
    for options in (dict(unix_socket=str(tmp_path / "none.sock")),
                    dict(unix_socket="x" * 200), dict(unix_socket=""),
                    dict(addr="127.0.0.1", port=1), dict(addr="no-such-host.invalid")):
        options.update(connect_retries=0)
        c_out = outcome(pygibson_c.Client(**options).ping)
        py_out = outcome(_pure.Client(**options).ping)
        assert py_out == c_out, options


def test_methods_are_the_operation_table():
    for op in OPERATIONS:
        for name in (op.name,) + op.aliases:
            for cls in (_pure.Client, _pure.Pipeline):
                method = getattr(cls, name)
                signature = op.signature
                if (cls, name) == (_pure.Client, "get"):
                    signature = "(key, default=Ellipsis)"  # the one extra parameter
                unbound = "(self, /%s" % (", " + signature[1:] if signature != "()" else ")")
                assert str(inspect.signature(method)) == unbound
                assert method.__doc__ == getattr(getattr(pygibson_c, cls.__name__), name).__doc__
                c_method = getattr(getattr(pygibson_c, cls.__name__), name)
                # The extension's text signature starts with $self: the same.
                assert str(inspect.signature(c_method)) == unbound


def fault_outcome(error):
    """An error as the fault tests compare it: class, message and the
    attributes that say how far the request got."""
    return (type(error), str(error), getattr(error, "request_sent", None),
            getattr(error, "sent", None), getattr(error, "received", None))


# Each scenario: (how to break the next exchange, the client options, what
# to do). The same scenario runs on each implementation in turn.
FAULTS = [
    ("close-3", lambda f: f.close_after_bytes(3), dict(retry_reads=False),
     lambda c: c.get("k")),
    ("close-5-write", lambda f: f.close_after_bytes(5), {}, lambda c: c.inc("n")),
    ("close-100", lambda f: f.close_after_bytes(100), dict(retry_reads=False),
     lambda c: c.get("big")),
    ("close-50000", lambda f: f.close_after_bytes(50_000), dict(retry_reads=False),
     lambda c: c.get("large")),
    ("truncate", lambda f: f.truncate_next_reply(), dict(timeout=150), lambda c: c.get("k")),
    ("truncate-large", lambda f: f.truncate_next_reply(keep=60_000), dict(timeout=150),
     lambda c: c.get("large")),
    ("unknown-code", lambda f: f.unknown_code_next_reply(42), {}, lambda c: c.ping()),
    ("huge-length", lambda f: f.huge_length_next_reply(), {}, lambda c: c.get("k")),
    ("repl-err", lambda f: f.replace_next_reply(b"\x00\x00\x00\x01\x00\x00\x00\x00"), {},
     lambda c: c.get("k")),
    ("ok-for-get", lambda f: f.replace_next_reply(b"\x05\x00\x00\x01\x00\x00\x00\x00"), {},
     lambda c: c.get("k")),
    ("text-for-inc", lambda f: f.replace_next_reply(b"\x06\x00\x00\x01\x00\x00\x00x"), {},
     lambda c: c.inc("k")),
    ("kv-for-ping",
     lambda f: f.replace_next_reply(b"\x07\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00"), {},
     lambda c: c.ping()),
    ("garbled-kv",
     lambda f: f.replace_next_reply(b"\x07\x00\x00\x06\x00\x00\x00\x01\x00\x00\x00\x05\x00"),
     {}, lambda c: c.mget("k")),
    ("lzf", lambda f: f.replace_next_reply(b"\x06\x00\x01\x01\x00\x00\x00x"), {},
     lambda c: c.get("k")),
    ("number-width-3", lambda f: f.replace_next_reply(b"\x06\x00\x02\x03\x00\x00\x00abc"), {},
     lambda c: c.inc("k")),
    ("refused", lambda f: f.refuse_connections(), dict(connect_retries=1, connect_backoff=1),
     lambda c: c.ping()),
    ("reset", lambda f: f.reset_connections(), {}, lambda c: c.set("k", "v")),
    ("dropped", lambda f: f.drop_connections(), {}, lambda c: c.set("k", "v")),
    ("pipeline-close", lambda f: f.close_after_bytes(0), {},
     lambda c: c.pipeline().set("a", "1").set("b", "2").get("k").execute()),
    ("pipeline-timeout", lambda f: f.truncate_next_reply(), dict(timeout=150),
     lambda c: c.pipeline().ping().ping().ping().execute()),
    ("pipeline-garbled-kv",
     lambda f: f.replace_next_reply(b"\x07\x00\x00\x06\x00\x00\x00\x01\x00\x00\x00\x05\x00"),
     {}, lambda c: c.pipeline().mget("k").ping().execute(raise_on_error=False)),
    ("pipeline-unknown-code", lambda f: f.unknown_code_next_reply(9), {},
     lambda c: c.pipeline().ping().ping().execute()),
    ("pipeline-unexpected", lambda f: f.replace_next_reply(b"\x05\x00\x00\x01\x00\x00\x00\x00"),
     {}, lambda c: c.pipeline().get("k").ping().execute()),
    ("pipeline-refused", lambda f: f.refuse_connections(), dict(connect_retries=0),
     lambda c: c.pipeline().ping().execute()),
    # The server drops what follows END: the rest is lost, and says so.
    ("pipeline-after-quit", lambda f: None, {},
     lambda c: c.pipeline().set("a", "1").quit().get("a").execute()),
    ("pipeline-quit-last", lambda f: None, {},
     lambda c: c.pipeline().set("a", "1").quit().execute() + [c.closed]),
]

LARGE = bytes(range(256)) * 400


@pytest.mark.parametrize("break_it, options, action",
                         [f[1:] for f in FAULTS], ids=[f[0] for f in FAULTS])
def test_faults_give_the_same_errors(server, break_it, options, action):
    seen = []
    for cls in (pygibson_c.Client, _pure.Client):
        server.flush()
        server.faults.clear()
        client = cls(**server_options(server, **options))
        client.set("k", "v")
        client.set("big", b"x" * 1000)
        client.set("large", LARGE)
        break_it(server.faults)
        try:
            result = action(client)
        except Exception as error:
            result = fault_outcome(error)
        else:
            result = [fault_outcome(r) if isinstance(r, Exception) else r for r in result] \
                if isinstance(result, list) else result
        closed = client.closed
        server.faults.clear()
        # Usable afterwards, and in step.
        client.set("after", "fine")
        assert client.get("after") == b"fine"
        client.close()
        seen.append((result, closed))
    assert seen[1] == seen[0]
