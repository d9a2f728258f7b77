"""PROTOCOL.md §12: the captured request frames, sent byte for byte over a
raw socket, must get the captured replies byte for byte."""

import pytest

from .rawclient import code_reply, frame

H = bytes.fromhex

# (request vector, frame hex) from §12.1: our frame builder must agree.
REQUESTS = [
    ("Q1", "PING", b"", "02000000 1300"),
    ("Q2", "STATS", b"", "02000000 1200"),
    ("Q3", "END", b"", "02000000 ff00"),
    ("Q4", "GET", b"foo", "05000000 0300 666f6f"),
    ("Q5", "SET", b"0 foo bar", "0b000000 0100 3020666f6f20626172"),
    ("Q6", "SET", b"3600 foo 3.14", "0f000000 0100 3336303020666f6f20332e3134"),
    ("Q7", "SET", b"0 bin a b\x00c", "0d000000 0100 302062696e206120620063"),
    ("Q8", "TTL", b"foo 10", "08000000 0200 666f6f203130"),
    ("Q9", "DEL", b"foo", "05000000 0400 666f6f"),
    ("Q10", "INC", b"cnt", "05000000 0500 636e74"),
    ("Q11", "DEC", b"cnt", "05000000 0600 636e74"),
    ("Q12", "LOCK", b"foo -1", "08000000 0700 666f6f202d31"),
    ("Q13", "UNLOCK", b"foo", "05000000 0800 666f6f"),
    ("Q14", "MSET", b"f baz", "07000000 0900 662062617a"),
    ("Q15", "MTTL", b"f 10", "06000000 0a00 66203130"),
    ("Q16", "MGET", b"f", "03000000 0b00 66"),
    ("Q17", "MGET", b"f 1", "05000000 0b00 662031"),
    ("Q18", "MDEL", b"f", "03000000 0c00 66"),
    ("Q19", "MINC", b"fu", "04000000 0d00 6675"),
    ("Q20", "MDEC", b"f", "03000000 0e00 66"),
    ("Q21", "MLOCK", b"f 30", "06000000 0f00 66203330"),
    ("Q22", "MUNLOCK", b"f", "03000000 1000 66"),
    ("Q23", "COUNT", b"f", "03000000 1100 66"),
    ("Q24", "META", b"foo size", "0a000000 1400 666f6f2073697a65"),
    ("Q25", "KEYS", b"f", "03000000 1500 66"),
    ("Q26", "GET", b"", "02000000 0300"),
    ("Q27", "SET", b"0 e ", "06000000 0100 30206520"),
]


@pytest.mark.parametrize("name,op,payload,hexframe", REQUESTS, ids=[r[0] for r in REQUESTS])
def test_request_frames_match_the_vectors(name, op, payload, hexframe):
    assert frame(op, payload) == H(hexframe)


R1 = H("0500 00 01000000 00")
R2 = H("0000 00 01000000 00")
R3 = H("0100 00 01000000 00")
R4 = H("0200 00 01000000 00")
R6 = H("0400 00 01000000 00")


def q(name):
    for entry in REQUESTS:
        if entry[0] == name:
            return H(entry[3])
    raise KeyError(name)


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
    assert send(c, q("Q5"), q("Q8"), q("Q12"), q("Q13"), q("Q9")) == [
        H("0600 00 03000000 626172"), R1, R1, R1, R1]


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
    assert H("0300 00 01000000 00") in replies
    # Once over the limit, every SET is refused.
    assert replies[-1] == H("0300 00 01000000 00")


def test_locked_r6(c):
    assert send(c, q("Q5"), q("Q12"), frame("SET", b"0 foo baz")) == [
        H("0600 00 03000000 626172"), R1, R6]


def test_set_get_r7(c):
    assert send(c, q("Q5"), q("Q4")) == [H("0600 00 03000000 626172")] * 2


def test_set_with_ttl_r8(c):
    assert send(c, q("Q6")) == [H("0600 00 04000000 332e3134")]


def test_binary_value_r9(c):
    assert send(c, q("Q7")) == [H("0600 00 05000000 6120620063")]


def test_inc_missing_r10_and_dec_to_minus_one_r11(c):
    assert send(c, q("Q10")) == [H("0600 02 08000000 0100000000000000")]
    assert send(c, q("Q11"), q("Q11")) == [
        H("0600 02 08000000 0000000000000000"),
        H("0600 02 08000000 ffffffffffffffff")]


def test_counts_r12_r13(c):
    send(c, frame("SET", b"0 foo bar"), frame("SET", b"0 fuu 7"))
    two = H("0600 02 08000000 0200000000000000")
    assert send(c, q("Q23"), frame("COUNT", b"zz")) == [two, H("0600 02 08000000 0000000000000000")]
    assert send(c, frame("MSET", b"f bar"), frame("MTTL", b"f 100"),
                q("Q21"), q("Q22")) == [two] * 4


def test_meta_encoding_number_r14(c):
    send(c, q("Q10"))
    assert send(c, frame("META", b"cnt encoding")) == [H("0600 02 08000000 0200000000000000")]


def test_mget_r15_r16_r17(c):
    send(c, frame("SET", b"0 foo bar"), frame("SET", b"0 fuu 7"))
    assert send(c, q("Q17")) == [H("0700 00 13000000 01000000 03000000 666f6f 00 03000000 626172")]
    assert send(c, q("Q16")) == [H(
        "0700 00 20000000 02000000 03000000 666f6f 00 03000000 626172"
        " 03000000 667575 00 01000000 37")]
    assert send(c, q("Q19")) == [H("0600 02 08000000 0100000000000000")]
    assert send(c, frame("MGET", b"fuu")) == [H(
        "0700 00 18000000 01000000 03000000 667575 02 08000000 0800000000000000")]


def test_keys_r18(c):
    send(c, frame("SET", b"0 foo bar"), frame("SET", b"0 fuu 7"))
    assert send(c, q("Q25")) == [H(
        "0700 00 1e000000 02000000 01000000 30 00 03000000 666f6f"
        " 01000000 31 00 03000000 667575")]


def test_mget_count_bug_r19(make_server, connect, clock):
    srv = make_server(mget_count_bug=True)
    c = connect(srv)
    send(c, frame("SET", b"1 fa x"), frame("SET", b"0 fb y"))
    clock.advance(1)
    assert send(c, frame("MGET", b"f")) == [H("0700 00 04000000 01000000")]


def test_mget_without_count_bug_is_consistent(c, clock):
    send(c, frame("SET", b"1 fa x"), frame("SET", b"0 fb y"))
    clock.advance(1)
    assert send(c, frame("MGET", b"f")) == [H(
        "0700 00 10000000 01000000 02000000 6662 00 01000000 79")]


def test_compressed_value_goes_out_plain_r20(make_server, connect):
    srv = make_server(compression=16)
    c = connect(srv)
    assert send(c, frame("SET", b"0 a " + b"A" * 40)) == [H("0600 00 28000000") + b"A" * 40]
    assert send(c, frame("GET", b"a")) == [H("0600 00 28000000") + b"A" * 40]
    # Only META shows the compressed form: LZF encoding, 9 bytes.
    assert c.call("META", b"a encoding") == 1
    assert c.call("META", b"a size") == 9


def test_stats_server_arch_pair_r24(c):
    reply = send(c, q("Q2"))[0]
    assert H("0b000000 7365727665725f61726368 00 02000000 3634") in reply


def test_end_replies_ok_then_closes(c):
    assert send(c, q("Q3")) == [R1]
    assert c.is_closed()


def test_empty_value_is_an_error_q27(c):
    assert send(c, q("Q27")) == [R2]
