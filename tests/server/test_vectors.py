"""docs/protocol.md §12: the captured request frames, sent byte for byte over a
raw socket, must get the captured replies byte for byte. The vectors come
from vendor/libgibsonclient/tests/vectors.txt (see tests/vectors.py)."""

import pytest

from ..vectors import load_vectors
from .rawclient import code_reply, frame

H = bytes.fromhex

# The one copy of the vectors, shared with the C tests and the fuzz seeds.
# Loading at import: a missing or broken file is a collection error that
# says why, never a skip.
V = load_vectors()

# Ops whose `number` follows the key on the wire (§2.2); MGET's only when
# has_number says it is a limit. SET puts its TTL first.
NUMBER_AFTER_KEY = {"TTL", "LOCK", "MTTL", "MLOCK"}


def payload_of(v):
    """The payload a server reads for the vector's fields, split as §2.2
    says: SET is ``TTL key value``, the others ``key [number|value]``."""
    if v.key is None:
        return b""
    number = b"%d" % (v.number or 0)
    if v.op == "SET":
        return b" ".join([number, v.key, v.value])
    parts = [v.key]
    if v.op in NUMBER_AFTER_KEY or (v.op == "MGET" and v.has_number):
        parts.append(number)
    if v.value is not None:
        parts.append(v.value)
    return b" ".join(parts)


# Every request frame of the file (§12.1 and extras, the refused ones too:
# a raw client can send them): our frame builder must agree.
REQUESTS = [v for v in V.values() if v.kind in ("request", "refused-request")]


def test_the_vectors_are_all_there():
    assert len(REQUESTS) >= 30
    assert {"Q%d" % i for i in range(1, 28)} | {"R%d" % i for i in range(1, 25)} <= set(V)


@pytest.mark.parametrize("v", REQUESTS, ids=[v.name for v in REQUESTS])
def test_request_frames_match_the_vectors(v):
    assert frame(v.op, payload_of(v)) == v.wire


R1, R2, R3, R4, R5, R6, R7 = (V["R%d" % i].wire for i in range(1, 8))


def q(name):
    return V[name].wire


def send(c, *frames):
    """Send the frames and return the replies' bytes, one per frame."""
    for data in frames:
        c.send(data)
    return [c.read_reply_bytes() for _ in frames]


def test_code_replies_are_eight_bytes():
    for code in range(6):
        assert len(code_reply(code)) == 8


def test_ping_ttl_del_lock_unlock_ok_r1(c):
    assert send(c, q("Q1")) == [R1]
    assert send(c, q("Q5"), q("Q8"), q("Q12"), q("Q13"), q("Q9")) == [R7, R1, R1, R1, R1]


def test_errors_r2(c):
    c.send(q("Q5"))
    c.read_reply_bytes()
    assert send(c, frame("META", b"foo bogus"), q("Q26")) == [R2, R2]


def test_not_found_r3(c):
    assert send(c, q("Q4")) == [R3]


def test_nan_r4(c):
    send(c, q("Q5"))
    assert send(c, frame("TTL", b"foo ten")) == [R4]


def test_memory_r5(make_server, connect):
    srv = make_server(max_memory=1024)
    c = connect(srv)
    replies = [c.raw("SET", b"0 key%d %s" % (i, b"v" * 200)) for i in range(10)]
    assert R5 in replies
    # Once over the limit, every SET is refused.
    assert replies[-1] == R5


def test_locked_r6(c):
    assert send(c, q("Q5"), q("Q12"), frame("SET", b"0 foo baz")) == [R7, R1, R6]


def test_set_get_r7(c):
    assert send(c, q("Q5"), q("Q4")) == [R7] * 2


def test_set_with_ttl_r8(c):
    assert send(c, q("Q6")) == [V["R8"].wire]


def test_binary_value_r9(c):
    assert send(c, q("Q7")) == [V["R9"].wire]


def test_inc_missing_r10_and_dec_to_minus_one_r11(c):
    assert send(c, q("Q10")) == [V["R10"].wire]
    # 1 -> 0 (number 0: R13's bytes) -> -1
    assert send(c, q("Q11"), q("Q11")) == [V["R13"].wire, V["R11"].wire]


def test_counts_r12_r13(c):
    send(c, frame("SET", b"0 foo bar"), frame("SET", b"0 fuu 7"))
    two = V["R12"].wire
    assert send(c, q("Q23"), frame("COUNT", b"zz")) == [two, V["R13"].wire]
    assert send(c, frame("MSET", b"f bar"), frame("MTTL", b"f 100"),
                q("Q21"), q("Q22")) == [two] * 4


def test_meta_encoding_number_r14(c):
    send(c, q("Q10"))
    assert send(c, frame("META", b"cnt encoding")) == [V["R14"].wire]


def test_mget_r15_r16_r17(c):
    send(c, frame("SET", b"0 foo bar"), frame("SET", b"0 fuu 7"))
    assert send(c, q("Q17")) == [V["R15"].wire]
    assert send(c, q("Q16")) == [V["R16"].wire]
    assert send(c, q("Q19")) == [V["R10"].wire]  # one key incremented: number 1
    assert send(c, frame("MGET", b"fuu")) == [V["R17"].wire]


def test_keys_r18(c):
    send(c, frame("SET", b"0 foo bar"), frame("SET", b"0 fuu 7"))
    assert send(c, q("Q25")) == [V["R18"].wire]


def test_mget_count_bug_r19(make_server, connect, clock):
    srv = make_server(mget_count_bug=True)
    c = connect(srv)
    send(c, frame("SET", b"1 fa x"), frame("SET", b"0 fb y"))
    clock.advance(1)
    assert send(c, frame("MGET", b"f")) == [V["R19"].wire]


def test_mget_without_count_bug_is_consistent(c, clock):
    send(c, frame("SET", b"1 fa x"), frame("SET", b"0 fb y"))
    clock.advance(1)
    assert send(c, frame("MGET", b"f")) == [H(
        "0700 00 10000000 01000000 02000000 6662 00 01000000 79")]


def test_compressed_value_goes_out_plain_r20(make_server, connect):
    srv = make_server(compression=16)
    c = connect(srv)
    assert send(c, frame("SET", b"0 a " + b"A" * 40)) == [V["R20"].wire]
    assert send(c, frame("GET", b"a")) == [V["R20"].wire]
    # Only META shows the compressed form: LZF encoding, 9 bytes.
    assert c.call("META", b"a encoding") == 1
    assert c.call("META", b"a size") == 9


def test_stats_server_arch_pair_r24(c):
    reply = send(c, q("Q2"))[0]
    assert V["R24"].wire in reply


def test_end_replies_ok_then_closes(c):
    assert send(c, q("Q3")) == [R1]
    assert c.is_closed()


def test_empty_value_is_an_error_q27(c):
    assert send(c, q("Q27")) == [R2]
