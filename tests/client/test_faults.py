"""The fault matrix: a server that misbehaves in each way the issue lists,
over real sockets. For each, the exception and its message, and proof that
the client works afterwards and never returns a stale reply."""

import struct
import time

import pytest

from pygibson import (
    ConnectionError,
    NotFoundError,
    ProtocolError,
    PyGibsonError,
    TimeoutError,
)
from pygibson.server import GibsonServer, ManualClock

from .conftest import client_for


def works_afterwards(client, key="after", value=b"fine"):
    client.set(key, value)
    assert client.get(key) == value


def test_server_closes_mid_header(make_client, server):
    client = make_client(retry_reads=False)
    client.set("k", "value")
    server.faults.close_after_bytes(3)
    with pytest.raises(ConnectionError) as info:
        client.get("k")
    assert info.value.request_sent
    assert isinstance(info.value, PyGibsonError)
    assert client.closed
    works_afterwards(client)


def test_write_cut_mid_reply_is_never_resent(client, server):
    server.faults.close_after_bytes(5)
    with pytest.raises(ConnectionError) as info:
        client.inc("n")
    assert info.value.request_sent
    # The server ran it once; the client did not run it again.
    assert client.get("n") == 1


def test_read_cut_mid_reply_is_retried_once(client, server):
    client.set("k", "value")
    server.faults.close_after_bytes(3)
    assert client.get("k") == b"value"


def test_server_closes_mid_payload_no_stale_reply(make_client, server):
    client = make_client(retry_reads=False)
    client.set("k", b"x" * 1000)
    client.set("other", b"other-value")
    server.faults.close_after_bytes(100)
    with pytest.raises(ConnectionError):
        client.get("k")
    # The next reply is the one for the next request, never the rest of k's.
    assert client.get("other") == b"other-value"


def test_server_closing_costs_no_cpu_spin(client, server):
    server.faults.close_after_bytes(2)
    server.faults.close_after_bytes(2)  # the retry of the read fails too
    before = time.process_time()
    with pytest.raises(ConnectionError):
        client.get("k")
    assert time.process_time() - before < 0.25


def test_truncated_reply_times_out_and_the_rest_never_arrives(make_client, server):
    client = make_client(timeout=300)
    client.set("k", "v")
    server.faults.truncate_next_reply()
    started_cpu = time.process_time()
    with pytest.raises(TimeoutError) as info:
        client.get("k")
    assert time.process_time() - started_cpu < 0.25  # it waited, not spun
    assert isinstance(info.value, PyGibsonError)
    assert isinstance(info.value, OSError)  # also the builtin TimeoutError
    assert "300" in str(info.value) or "timed out" in str(info.value)
    works_afterwards(client)


def test_unknown_reply_code_is_a_protocol_error(client, server):
    server.faults.unknown_code_next_reply(42)
    with pytest.raises(ProtocolError) as info:
        client.ping()
    assert "42" in str(info.value)
    assert client.closed
    works_afterwards(client)


def test_length_field_of_4_gb_is_refused_without_allocating(client, server):
    client.set("k", "v")
    server.faults.huge_length_next_reply()
    with pytest.raises(ProtocolError) as info:
        client.get("k")
    assert "max_reply_size" in str(info.value)
    works_afterwards(client)


def test_slow_server_times_out_near_the_deadline(make_client, server):
    client = make_client(timeout=200)
    server.faults.delay_replies(1.0)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        client.ping()
    elapsed = time.monotonic() - started
    server.faults.clear()
    assert elapsed >= 0.19  # never early
    assert elapsed < 1.0  # and long before the reply would have come
    works_afterwards(client)


def test_connection_refused(make_client, server):
    server.faults.refuse_connections()
    client = make_client()
    with pytest.raises(ConnectionError) as info:
        client.ping()
    assert not info.value.request_sent
    assert "running" in str(info.value) or "refused" in str(info.value).lower()
    server.faults.accept_connections()
    client.ping()


@pytest.mark.parametrize("mode", ["reset_connections", "drop_connections"])
def test_connection_accepted_then_dropped(make_client, server, mode):
    getattr(server.faults, mode)()
    client = make_client()
    with pytest.raises(ConnectionError):
        client.set("k", "v")
    server.faults.accept_connections()
    works_afterwards(client)




def test_server_restart_is_seen_before_sending(Client):
    clock = ManualClock()
    first = GibsonServer(clock=clock).start()
    port = first.port
    client = Client(addr=first.host, port=port)
    client.set("k", "old")
    first.stop()
    with GibsonServer(port=port, clock=clock):
        # The idle connection's EOF is seen before the request is sent: it
        # goes out once, on a fresh connection. The new server is empty, so
        # the old value can never come back. (Idle: a request sent within
        # the same millisecond as the one before is not looked ahead of.)
        time.sleep(0.01)
        with pytest.raises(NotFoundError):
            client.get("k")
        client.set("w", "1")
    with GibsonServer(port=port, clock=clock):
        # Writes too: nothing of them was sent on the dead connection.
        time.sleep(0.01)
        client.set("k", "new")
        assert client.get("k") == b"new"
    client.close()


def test_reads_are_not_retried_when_disabled(make_client, server):
    client = make_client(retry_reads=False)
    client.ping()
    server.faults.close_after_bytes(0)  # the connection dies with the request sent
    with pytest.raises(ConnectionError) as info:
        client.ping()
    assert info.value.request_sent
    client.ping()


def val_reply(value):
    return b"\x06\x00\x00" + struct.pack("<I", len(value)) + value


def test_extra_reply_in_its_own_packet_is_never_returned(client, server):
    client.set("k", "v")
    client.set("other", "o")
    # GET other's reply, then the same reply again, alone, 50 ms later.
    server.faults.extra_reply_after_next(delay=0.05)
    assert client.get("other") == b"o"
    time.sleep(0.2)
    assert client.get("k") == b"v"  # not b"o": the connection was replaced
    assert client.get("other") == b"o"  # and the new one is in step


def test_extra_reply_after_a_pipeline_is_never_returned(client, server):
    client.set("k", "v")
    server.faults.extra_reply_after_next(val_reply(b"stale"), delay=0.05)
    assert client.pipeline().get("k").execute() == [b"v"]
    time.sleep(0.2)
    assert client.get("k") == b"v"
    server.faults.extra_reply_after_next(val_reply(b"stale"), delay=0.05)
    client.get("k")
    time.sleep(0.2)
    assert client.pipeline().get("k").ping().execute() == [b"v", None]


@pytest.mark.parametrize("then", ["get", "set", "pipeline"])
def test_reply_before_the_request_is_never_returned(client, server, then):
    client.set("k", "v")
    server.faults.send_unsolicited(val_reply(b"early"))
    time.sleep(0.1)
    # A write goes out on the fresh connection too: nothing was sent yet.
    if then == "get":
        assert client.get("k") == b"v"
    elif then == "set":
        client.set("k2", "w")
        assert client.get("k") == b"v"  # not SET's echo, b"w"
        assert client.get("k2") == b"w"
    else:
        assert client.pipeline().get("k").execute() == [b"v"]


def test_server_gone_during_a_pipeline(make_client, server):
    client = make_client()
    pipe = client.pipeline()
    for i in range(50):
        pipe.set("k%d" % i, "v")
    server.faults.close_after_bytes(0)  # the first reply never comes
    with pytest.raises(ConnectionError) as info:
        pipe.execute()
    assert info.value.received == 0
    assert "pipeline of 50 operations" in str(info.value)
    works_afterwards(client)


def test_timeout_in_a_pipeline_reports_counts(make_client, server):
    client = make_client(timeout=300)
    pipe = client.pipeline()
    for _ in range(11):
        pipe.ping()
    server.faults.truncate_next_reply()  # the first reply stops short
    with pytest.raises(TimeoutError) as info:
        pipe.execute()
    assert info.value.received == 0
    assert info.value.sent == 11
    assert "11 sent" in str(info.value)
    works_afterwards(client)


def test_values_at_and_above_the_servers_max_value_size(implementation):
    from pygibson import ValueTruncatedError

    with GibsonServer(clock=ManualClock(), max_value_size=4096) as server:
        client = client_for(server, implementation)
        client.set("at", b"a" * 4096)
        assert client.get("at") == b"a" * 4096
        with pytest.raises(ValueTruncatedError):
            client.set("above", b"a" * 4097)
        client.close()


def test_closed_client_reconnects_on_next_call(client):
    client.ping()
    client.close()
    assert client.closed
    client.ping()
    assert not client.closed


def test_refused_connect_is_retried_with_backoff(make_client, server):
    import threading

    server.faults.refuse_connections()
    reopen = threading.Timer(0.1, server.faults.accept_connections)
    reopen.start()
    client = make_client(connect_retries=6, connect_backoff=50)
    client.set("k", "v")  # a write may retry a connect: nothing was sent
    reopen.join()
    assert client.get("k") == b"v"


def test_connect_retries_give_up(make_client, server):
    server.faults.refuse_connections()
    client = make_client(connect_retries=1, connect_backoff=1)
    with pytest.raises(ConnectionError) as info:
        client.ping()
    assert not info.value.request_sent
    server.faults.accept_connections()
    client.ping()


# A value too large to arrive with its reply header is received straight
# into the bytes object returned; these are the failures of that path.
LARGE = bytes(range(256)) * 400  # 102,400 bytes


def test_server_closes_mid_payload_of_a_large_value(make_client, server):
    client = make_client(retry_reads=False)
    client.set("big", LARGE)
    client.set("other", b"other-value")
    server.faults.close_after_bytes(50_000)
    with pytest.raises(ConnectionError) as info:
        client.get("big")
    assert info.value.request_sent
    assert client.closed
    assert client.get("other") == b"other-value"
    assert client.get("big") == LARGE


def test_large_value_cut_short_is_read_again_once(client, server):
    client.set("big", LARGE)
    server.faults.close_after_bytes(50_000)
    assert client.get("big") == LARGE


def test_large_value_stalled_mid_payload_times_out(make_client, server):
    client = make_client(timeout=300)
    client.set("big", LARGE)
    server.faults.truncate_next_reply(keep=60_000)
    started_cpu = time.process_time()
    with pytest.raises(TimeoutError):
        client.get("big")
    assert time.process_time() - started_cpu < 0.25  # it waited, not spun
    assert client.get("big") == LARGE
    works_afterwards(client)
