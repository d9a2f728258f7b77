"""Random requests: whatever arrives, every reply is well formed, or the
connection is closed, and the server keeps serving other connections."""

import struct

import pytest

pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from .rawclient import frame  # noqa: E402

OPCODES = list(range(1, 22)) + [255]

# Payloads built from a few keys and the characters that matter to the
# parser (spaces, digits, '-', '0', NUL, high bytes), so that hits are likely.
token = st.sampled_from([b"a", b"ab", b"b", b"0", b"1", b"-1", b"65537", b"x",
                         b"size", b"l", b"", b"\x00", b"\xff", b"99999999999999999999"])
payloads = st.lists(token, max_size=5).map(b" ".join) | st.binary(max_size=40)
requests = st.lists(st.tuples(st.sampled_from(OPCODES), payloads), min_size=1, max_size=12)


def read_reply(sock_client):
    header = sock_client.recv_exact(7)
    code, encoding, size = struct.unpack("<HBI", header)
    body = sock_client.recv_exact(size)
    return code, encoding, body


def check_reply(code, encoding, body):
    assert 0 <= code <= 7
    if code <= 5:
        assert (encoding, body) == (0, b"\0")
    elif code == 6:
        assert encoding in (0, 2)
        if encoding == 2:
            assert len(body) == 8
    else:
        assert encoding == 0
        (count,) = struct.unpack_from("<I", body)
        pos, pairs = 4, 0
        while pos < len(body):
            (klen,) = struct.unpack_from("<I", body, pos)
            pos += 4 + klen
            value_encoding = body[pos]
            assert value_encoding in (0, 2)
            (vlen,) = struct.unpack_from("<I", body, pos + 1)
            pos += 5 + vlen
            pairs += 1
        assert pos == len(body) and pairs == count


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=requests)
def test_random_requests_get_well_formed_replies(server, connect, clock, batch):
    c = connect(server)
    c.send(b"".join(frame(op, payload) for op, payload in batch))
    for op, _ in batch:
        reply = read_reply(c)
        check_reply(*reply)
        if op == 255:
            assert c.is_closed()
            break
    clock.advance(1)
    c.close()
    assert connect(server).call("PING") == 5


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.binary(min_size=1, max_size=64))
def test_random_bytes_never_break_the_server(server, connect, garbage):
    c = connect(server)
    c.send(garbage)
    c.close()
    assert connect(server).call("PING") == 5
