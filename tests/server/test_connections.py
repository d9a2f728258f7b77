"""Connection-level behaviour (docs/protocol.md §1, §8): pipelining, concurrency,
malformed frames, limits, unix sockets, and the server's lifecycle."""

import os
import socket
import struct
import threading

import pytest

from pygibson.server import GibsonServer
from .rawclient import OK, RawClient, code_reply, frame, number_reply


def test_pipelined_requests_are_answered_in_order(c):
    requests = [frame("SET", b"0 a 1"), frame("GET", b"a"), frame("INC", b"a"),
                frame("GET", b"nokey"), frame("PING"), frame("COUNT", b"a")]
    c.send(b"".join(requests))
    replies = [c.read_reply_bytes() for _ in requests]
    assert replies == [
        struct.pack("<HBI", 6, 0, 1) + b"1", struct.pack("<HBI", 6, 0, 1) + b"1",
        number_reply(2), code_reply(1), code_reply(OK), number_reply(1)]


def test_ten_thousand_pipelined_requests(c):
    n = 10_000
    sender = threading.Thread(target=c.send, args=(frame("INC", b"n") * n,))
    sender.start()
    replies = c.recv_exact(len(number_reply(0)) * n)
    sender.join()
    expected = b"".join(number_reply(i) for i in range(1, n + 1))
    assert replies == expected


def test_any_split_of_the_frames_is_reassembled(c):
    data = frame("SET", b"0 key value") + frame("GET", b"key") + frame("PING")
    # One byte at a time, including the 4-byte length (which corrupts the
    # real server's connection: we handle it).
    for i in range(len(data)):
        c.send(data[i:i + 1])
    assert c.read_reply()[2] == b"value"
    assert c.read_reply()[2] == b"value"
    assert c.read_reply()[0] == OK


def test_a_large_value_in_many_pieces(make_server, connect):
    size = 3 * 1024 * 1024
    srv = make_server(max_value_size=size, max_request_size=size + 100)
    c = connect(srv)
    value = os.urandom(size)
    data = frame("SET", b"0 big " + value)
    for i in range(0, len(data), 65536):
        c.send(data[i:i + 65536])
    assert c.read_reply()[2] == value
    assert c.call("GET", b"big") == value


def test_one_hundred_concurrent_connections(server, connect):
    clients = [connect(server) for _ in range(100)]
    errors = []

    def work(index, client):
        try:
            for i in range(20):
                assert client.call("INC", b"shared") > 0
                assert client.call("SET", b"0 k%d %d" % (index, i)) == b"%d" % i
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    check = connect(server)
    assert check.call("GET", b"shared") == 100 * 20
    assert check.call("COUNT", b"k") == 100
    assert server.stats()["total_clients"] == 101


BAD_FRAMES = {
    "length 0": struct.pack("<I", 0) + b"\x13\x00",
    "length 1": struct.pack("<I", 1) + b"\x13",
    "length over max_request_size": struct.pack("<I", 4194305) + b"\x13\x00",
    "unknown opcode 0": frame(0),
    "unknown opcode 22": frame(22, b"x"),
    "unknown opcode 256": frame(256),
    "negative opcode": struct.pack("<Ih", 2, -1),
}


@pytest.mark.parametrize("name", sorted(BAD_FRAMES))
def test_bad_frames_close_the_connection_without_reply(server, connect, name):
    victim = connect(server)
    bystander = connect(server)
    assert victim.call("SET", b"0 before 1") == b"1"
    victim.send(frame("PING") + BAD_FRAMES[name] + frame("PING"))
    # The request before the bad frame is answered, nothing after it.
    assert victim.read_reply_bytes() == code_reply(OK)
    assert victim.is_closed()
    assert bystander.call("GET", b"before") == b"1"
    assert connect(server).call("PING") == OK


def test_a_large_reply_before_a_bad_frame_arrives_complete(make_server, connect):
    size = 2 * 1024 * 1024
    srv = make_server(max_value_size=size, max_request_size=size + 100)
    c = connect(srv)
    value = os.urandom(size)
    c.call("SET", b"0 big " + value)
    c.send(frame("GET", b"big") + frame(0))
    assert c.read_reply()[2] == value
    assert c.is_closed()


def test_bad_length_is_detected_before_any_more_bytes(server, connect):
    c = connect(server)
    c.send(struct.pack("<I", 1))
    assert c.is_closed()


def test_clients_closing_mid_frame_do_not_disturb_others(server, connect):
    for cut in (1, 3, 5, 9):
        rude = connect(server)
        rude.send(frame("SET", b"0 k v")[:cut])
        rude.close()
    assert connect(server).call("PING") == OK


def test_kv_reply_over_max_response_size_closes_the_connection(make_server, connect):
    srv = make_server(max_response_size=200)
    c = connect(srv)
    c.call("SET", b"0 small v")
    assert c.call("MGET", b"small") == (1, [(b"small", 0, b"v")])
    c.send(frame("STATS"))
    assert c.is_closed()
    c2 = connect(srv)
    c2.call("SET", b"0 big " + b"x" * 300)
    assert c2.call("GET", b"big") == b"x" * 300  # single values are not checked
    c2.send(frame("MGET", b"big"))
    assert c2.is_closed()


def test_max_clients_accepts_then_closes_extra_connections(make_server, connect):
    srv = make_server(max_clients=2)
    first, second = connect(srv), connect(srv)
    extra = connect(srv)  # connect() itself succeeds
    assert extra.is_closed()
    assert first.call("PING") == OK and second.call("PING") == OK
    second.close()
    # Wait until the server has seen the close, then a new one fits.
    for _ in range(200):
        if srv.connection_count < 2:
            break
        threading.Event().wait(0.01)
    assert connect(srv).call("PING") == OK


def test_unix_socket_server(make_server, connect):
    srv = make_server(unix_socket=True)
    path = srv.unix_socket
    assert srv.address == path and srv.host is None and srv.port is None
    # Owner only by default (unix_socket_mode); the real server makes it 0777.
    assert os.stat(path).st_mode & 0o777 == 0o700
    assert connect(srv).call("PING") == OK
    srv.stop()
    assert not os.path.exists(path)
    assert not os.path.exists(os.path.dirname(path))


def test_unix_socket_at_a_given_path(make_server, connect, tmp_path):
    path = str(tmp_path / "g.sock")
    srv = make_server(unix_socket=path)
    assert connect(path).call("PING") == OK
    srv.stop()
    assert not os.path.exists(path)


def test_stop_closes_client_connections_and_restart_keeps_port_and_data(connect):
    srv = GibsonServer().start()
    try:
        c = connect(srv)
        c.call("SET", b"0 k v")
        port = srv.port
        srv.stop()
        assert c.is_closed()
        srv.stop()  # idempotent
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1).recv(1)
        srv.start()
        assert srv.port == port
        assert connect(srv).call("GET", b"k") == b"v"
    finally:
        srv.stop()


def test_many_servers_in_one_process():
    servers = [GibsonServer().start() for _ in range(5)]
    try:
        ports = {srv.port for srv in servers}
        assert len(ports) == 5
        for i, srv in enumerate(servers):
            with RawClient(srv.address) as c:
                c.call("SET", b"0 id %d" % i)
        for i, srv in enumerate(servers):
            with RawClient(srv.address) as c:
                assert c.call("GET", b"id") == b"%d" % i
    finally:
        for srv in servers:
            srv.stop()


def test_start_fails_cleanly_on_a_busy_port():
    with GibsonServer() as srv:
        with pytest.raises(OSError):
            GibsonServer(port=srv.port).start()


def test_flush_empties_the_store(server, c):
    c.call("SET", b"0 k v")
    server.flush()
    assert c.call("GET", b"k") == 1
    assert server.stats()["total_items"] == 0


def test_disconnect_clients(server, connect):
    c = connect(server)
    assert c.call("PING") == OK
    server.disconnect_clients()
    assert c.is_closed()
    assert connect(server).call("PING") == OK


def test_keepalive_and_nodelay_are_set(server):
    # Observable only from the server side: check through its transport.
    c = RawClient(server.address)
    try:
        c.call("PING")

        def options():
            connection = next(iter(server._core.connections))
            sock = connection.transport.get_extra_info("socket")
            return (sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
                    sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        keepalive, nodelay = server.call(options)
        assert keepalive and nodelay
    finally:
        c.close()
