"""Fault injection (``srv.faults``): each fault seen from a raw client, and
the server healthy again afterwards."""

import socket
import struct
import threading
import time

import pytest

from .rawclient import OK, RawClient, code_reply, frame, plain_reply


def test_delay_replies_holds_replies_but_keeps_their_order(server, c):
    server.faults.delay_replies(0.3)
    c.send(frame("SET", b"0 k v") + frame("PING") + frame("GET", b"k"))
    # Nothing arrives while the delay runs...
    c.sock.settimeout(0.1)
    with pytest.raises(socket.timeout):
        c.sock.recv(1)
    c.sock.settimeout(5)
    # ...then everything, in order.
    assert c.read_reply_bytes() == plain_reply(b"v")
    assert c.read_reply_bytes() == code_reply(OK)
    assert c.read_reply_bytes() == plain_reply(b"v")


def test_requests_run_on_arrival_even_when_replies_are_delayed(server, connect):
    server.faults.delay_replies(2)
    slow = connect(server)
    slow.send(frame("SET", b"0 k v"))
    server.faults.delay_replies(0)
    fast = connect(server)
    deadline = time.monotonic() + 5
    while fast.call("GET", b"k") != b"v":
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_delayed_end_closes_after_its_reply(server, c):
    server.faults.delay_replies(0.05)
    c.send(frame("END"))
    assert c.read_reply_bytes() == code_reply(OK)
    assert c.is_closed()


def test_close_after_bytes(server, c):
    server.faults.close_after_bytes(3)
    c.send(frame("PING"))
    assert c.sock.recv(100) == code_reply(OK)[:3]
    assert c.is_closed()
    assert server.faults.pending() == 0


def test_close_after_zero_bytes_closes_without_reply(server, c):
    server.faults.close_after_bytes(0)
    c.send(frame("PING"))
    assert c.is_closed()


def test_truncate_next_reply_then_silence(server, c, connect):
    server.faults.truncate_next_reply()
    c.send(frame("SET", b"0 k value"))
    expected = plain_reply(b"value")[:-1]
    assert c.recv_exact(len(expected)) == expected
    # The connection stays open but answers nothing more.
    c.send(frame("PING"))
    assert not c.is_closed(timeout=0.3)
    # Only that connection: others are served normally.
    assert connect(server).call("GET", b"k") == b"value"


def test_truncate_keeps_a_chosen_number_of_bytes(server, c):
    server.faults.truncate_next_reply(keep=5)
    c.send(frame("PING"))
    assert c.recv_exact(5) == code_reply(OK)[:5]


def test_unknown_code_next_reply(server, c):
    server.faults.unknown_code_next_reply()
    assert c.raw("PING") == struct.pack("<HBI", 42, 0, 1) + b"\0"
    assert c.raw("PING") == code_reply(OK)  # one-shot


def test_unknown_code_must_be_outside_the_protocol(server):
    with pytest.raises(ValueError):
        server.faults.unknown_code_next_reply(5)


def test_huge_length_next_reply(server, c):
    server.faults.huge_length_next_reply()
    c.send(frame("GET", b"nokey"))
    header = c.recv_exact(7)
    assert header == struct.pack("<HBI", 1, 0, 0xFFFFFFFF)
    assert c.recv_exact(1) == b"\0"


def test_one_shot_faults_queue_in_order(server, c):
    server.faults.unknown_code_next_reply(100)
    server.faults.huge_length_next_reply()
    assert server.faults.pending() == 2
    c.send(frame("PING") + frame("PING") + frame("PING"))
    assert c.recv_exact(8) == struct.pack("<HBI", 100, 0, 1) + b"\0"
    assert c.recv_exact(8) == struct.pack("<HBI", 5, 0, 0xFFFFFFFF) + b"\0"
    assert c.recv_exact(8) == code_reply(OK)


def test_refuse_connections(server, connect):
    kept = connect(server)
    assert kept.call("PING") == OK  # accepted before the listener closes
    server.faults.refuse_connections()
    with pytest.raises(ConnectionRefusedError):
        RawClient(server.address)
    assert kept.call("PING") == OK  # existing connections are untouched
    server.faults.accept_connections()
    assert connect(server).call("PING") == OK


def test_refuse_connections_on_a_unix_socket(make_server, connect):
    srv = make_server(unix_socket=True)
    srv.faults.refuse_connections()
    with pytest.raises(ConnectionRefusedError):
        RawClient(srv.address)
    srv.faults.clear()
    assert connect(srv).call("PING") == OK


def test_refusal_survives_a_restart(make_server, connect):
    srv = make_server()
    srv.faults.refuse_connections()
    srv.stop()
    srv.start()
    with pytest.raises(ConnectionRefusedError):
        RawClient(srv.address)
    srv.faults.accept_connections()
    assert connect(srv).call("PING") == OK


def test_reset_connections(server, connect):
    server.faults.reset_connections()
    # The reset may reach the client before its request is sent (a broken
    # pipe then) or while it waits for the reply.
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        c = connect(server)
        c.send(frame("PING"))
        c.read_reply_bytes()
    server.faults.clear()
    assert connect(server).call("PING") == OK


def test_drop_connections(server, connect):
    server.faults.drop_connections()
    c = connect(server)
    assert c.is_closed()
    server.faults.accept_connections()
    assert connect(server).call("PING") == OK


def test_clear_turns_everything_off(server, c):
    assert c.call("PING") == OK  # connected before the faults are set
    server.faults.delay_replies(10)
    server.faults.huge_length_next_reply()
    server.faults.drop_connections()
    server.faults.clear()
    assert server.faults.pending() == 0
    assert server.faults.reply_delay == 0
    assert server.faults.connection_mode == "accept"
    assert c.raw("PING") == code_reply(OK)


def test_faults_can_be_set_from_many_threads(server, c):
    threads = [threading.Thread(target=server.faults.unknown_code_next_reply)
               for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.faults.pending() == 20
    c.send(frame("PING") * 21)
    replies = [c.recv_exact(8) for _ in range(21)]
    assert replies[:20] == [struct.pack("<HBI", 42, 0, 1) + b"\0"] * 20
    assert replies[20] == code_reply(OK)


def test_extra_reply_after_next_comes_alone_and_later(server, c):
    server.faults.extra_reply_after_next(delay=0.1)
    c.send(frame("PING"))
    assert c.read_reply_bytes() == code_reply(OK)
    # Nothing more at first: the extra reply is a write of its own, later.
    c.sock.settimeout(0.05)
    with pytest.raises(socket.timeout):
        c.sock.recv(1)
    c.sock.settimeout(5)
    assert c.read_reply_bytes() == code_reply(OK)
    # The connection goes on, one reply out of step, as a real one would.
    c.send(frame("GET", b"missing"))
    assert c.read_reply_bytes() == code_reply(1)


def test_extra_reply_after_next_with_given_bytes(server, c):
    server.faults.extra_reply_after_next(plain_reply(b"stale"), delay=0)
    c.send(frame("PING"))
    assert c.read_reply_bytes() == code_reply(OK)
    assert c.read_reply_bytes() == plain_reply(b"stale")
    assert server.faults.pending() == 0


def test_send_unsolicited_reaches_every_open_connection(server, connect):
    first, second = connect(server), connect(server)
    for client in (first, second):  # both registered with the server
        assert client.call("PING") == OK
    server.faults.send_unsolicited(plain_reply(b"early"))
    assert first.read_reply_bytes() == plain_reply(b"early")
    assert second.read_reply_bytes() == plain_reply(b"early")
    assert first.call("GET", b"missing") == 1


def test_send_unsolicited_needs_a_running_server():
    from pygibson.server import GibsonServer

    with pytest.raises(RuntimeError):
        GibsonServer().faults.send_unsolicited(b"x")
