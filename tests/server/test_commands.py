"""Every reply case of docs/protocol.md §6 and §7, command by command, over a raw
socket. Codes: 0 ERR, 1 NOT_FOUND, 2 NAN, 3 MEM, 4 LOCKED, 5 OK."""

import struct

import pytest

from .rawclient import ERR, LOCKED, MEM, NAN, NOT_FOUND, OK, frame, number_reply, plain_reply


def keys_of(result):
    """The keys of a KVAL result, in order."""
    count, pairs = result
    assert count == len(pairs)
    return [key for key, _, _ in pairs]


# -- payload parsing (§2.2) ---------------------------------------------------

@pytest.mark.parametrize("op,payload", [
    ("GET", b""), ("GET", b" x"), ("DEL", b""), ("INC", b""), ("DEC", b" a"),
    ("UNLOCK", b""), ("MDEL", b""), ("MINC", b""), ("MDEC", b""), ("MUNLOCK", b""),
    ("COUNT", b""), ("KEYS", b""), ("MGET", b""), ("MGET", b" 1"),
    ("SET", b""), ("SET", b"0  k v"), ("SET", b" k v"),
    ("TTL", b" 5"), ("LOCK", b" 5"), ("MSET", b" v"), ("MTTL", b" 5"),
    ("MLOCK", b" 5"), ("META", b" size"),
])
def test_empty_key_is_an_error(c, op, payload):
    assert c.call(op, payload) == ERR


@pytest.mark.parametrize("op,payload", [
    ("SET", b"0 k "), ("MSET", b"p "), ("META", b"k "), ("MGET", b"p "),
    ("TTL", b"k "), ("LOCK", b"k "), ("MTTL", b"p "), ("MLOCK", b"p "),
])
def test_empty_value_is_an_error(c, op, payload):
    c.call("SET", b"0 k v")
    c.call("SET", b"0 p v")
    assert c.call(op, payload) == ERR


@pytest.mark.parametrize("op,payload", [
    ("SET", b"0 k"), ("SET", b"0"), ("TTL", b"k"), ("LOCK", b"k"), ("MSET", b"p"),
    ("MTTL", b"p"), ("MLOCK", b"p"), ("META", b"k"),
])
def test_missing_value_separator_is_an_error_not_a_crash(c, op, payload):
    # The real server reads past its buffer here; we answer REPL_ERR and
    # store nothing.
    c.call("SET", b"0 k v")
    c.call("SET", b"0 p v")
    assert c.call(op, payload) == ERR
    assert c.call("GET", b"k") == b"v"


def test_single_key_commands_ignore_text_after_the_key(c):
    c.call("SET", b"0 a v")
    assert c.call("GET", b"a b") == b"v"
    assert c.call("DEL", b"a junk") == OK


def test_extra_spaces_belong_to_the_value(c):
    assert c.call("SET", b"0 k  v") == b" v"
    assert c.call("GET", b"k") == b" v"


def test_binary_and_non_ascii_bytes_in_keys_and_values(c):
    key = b"k\x00\xff\x80"
    assert c.call("SET", b"0 " + key + b" \x00\x01\xfe") == b"\x00\x01\xfe"
    assert c.call("GET", key) == b"\x00\x01\xfe"
    assert c.call("GET", b"k") == NOT_FOUND


def test_over_long_set_key_is_cut_and_eats_a_byte(make_server, connect):
    c = connect(make_server(max_key_size=8))
    # The TTL and its space count against the 8-byte budget.
    assert c.call("SET", b"0 12345678 v") == b"8 v"
    assert c.call("GET", b"123456") == b"8 v"
    assert c.call("GET", b"12345678") == NOT_FOUND


def test_over_long_key_of_other_commands(make_server, connect):
    c = connect(make_server(max_key_size=4))
    assert c.call("INC", b"abcdefgh") == 1  # creates "abcd"
    # The key stops after 4 bytes and the next one is taken as the space.
    assert c.call("TTL", b"abcdX10") == OK
    assert c.call("META", b"abcd ttl") == 10
    assert c.call("GET", b"abcdzzz") == 1
    assert keys_of(c.call("MGET", b"abc")) == [b"abcd"]


def test_over_long_value_is_silently_truncated(make_server, connect):
    c = connect(make_server(max_value_size=4))
    assert c.call("SET", b"0 k 123456789") == b"1234"
    assert c.call("GET", b"k") == b"1234"
    assert c.call("MSET", b"k abcdefg") == 1
    assert c.call("GET", b"k") == b"abcd"


# -- integer parsing (§2.3) ---------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    (b"012", 0), (b"0abc", 0), (b"0 5", 0), (b"-", 0), (b"-5", -5), (b"42", 42),
    (b"99999999999999999999", 7766279631452241919),
    (b"9223372036854775808", -9223372036854775808),
])
def test_server_integer_parser(c, text, expected):
    c.call("SET", b"0 n " + text)
    assert c.call("INC", b"n") == expected + 1


@pytest.mark.parametrize("text", [b"+5", b"5.0", b"5\n", b" 5", b"5 ", b"1e3", b"--1", b"x"])
def test_server_integer_parser_nan(c, text):
    c.call("SET", b"0 n " + text)
    assert c.call("INC", b"n") == NAN
    assert c.call("GET", b"n") == text


# -- SET ---------------------------------------------------------------------

def test_set_replies_with_the_stored_value_and_replaces(c):
    assert c.raw("SET", b"0 k first") == plain_reply(b"first")
    c.call("TTL", b"k 100")
    c.call("INC", b"n")
    assert c.call("SET", b"0 k 5") == b"5"
    # A fresh item: no TTL, text (SET never detects numbers).
    assert c.call("META", b"k ttl") == -1
    assert c.call("META", b"k encoding") == 0
    assert c.call("SET", b"0 n 7") == b"7"
    assert c.call("META", b"n encoding") == 0


def test_set_nan_ttl(c):
    assert c.call("SET", b"x k v") == NAN
    assert c.call("GET", b"k") == NOT_FOUND


def test_set_on_locked_item(c):
    c.call("SET", b"0 k v")
    c.call("LOCK", b"k 10")
    assert c.call("SET", b"0 k w") == LOCKED
    assert c.call("GET", b"k") == b"v"


@pytest.mark.parametrize("ttl,stored", [
    (b"0", -1), (b"-5", -1), (b"10", 10), (b"32767", 32767), (b"32768", -32768),
    (b"65535", -1), (b"65536", 0), (b"65537", 1), (b"100000", -31072),
    (b"3000000", -29440),  # clamped to max_item_ttl 2592000, then wrapped
])
def test_set_ttl_is_clamped_then_stored_in_16_bits(c, ttl, stored):
    c.call("SET", ttl + b" k v")
    assert c.call("META", b"k ttl") == stored


def test_memory_limit_refuses_set_and_mset_but_not_inc(make_server, connect):
    srv = make_server(max_memory=2000)
    c = connect(srv)
    c.call("SET", b"0 p1 x")
    replies = [c.call("SET", b"0 k%d %s" % (i, b"v" * 100)) for i in range(30)]
    assert MEM in replies
    assert replies[-1] == MEM
    # Checked before parsing: even a malformed SET gets MEM.
    assert c.call("SET", b"") == MEM
    assert c.call("MSET", b"p v") == MEM
    assert c.call("INC", b"counter") == 1
    assert c.call("INC", b"p1") == NAN
    # Freeing memory lets SET work again.
    assert c.call("MDEL", b"k") > 0
    assert c.call("SET", b"0 k v") == b"v"


# -- TTL ---------------------------------------------------------------------

def test_ttl_cases(c):
    assert c.call("TTL", b"nokey x") == NOT_FOUND  # looked up before parsing
    c.call("SET", b"0 k v")
    assert c.call("TTL", b"k x") == NAN
    assert c.call("TTL", b"k 100") == OK
    assert c.call("META", b"k ttl") == 100
    assert c.call("TTL", b"k 0") == OK
    assert c.call("META", b"k ttl") == 0
    assert c.call("META", b"k left") == -1


def test_ttl_negative_means_max_item_ttl(make_server, connect):
    c = connect(make_server(max_item_ttl=100))
    c.call("SET", b"0 k v")
    assert c.call("TTL", b"k -1") == OK
    assert c.call("META", b"k ttl") == 100


def test_ttl_negative_with_default_clamp_wraps(c):
    c.call("SET", b"0 k v")
    c.call("TTL", b"k -1")
    assert c.call("META", b"k ttl") == -29440


def test_ttl_ignores_locks(c):
    c.call("SET", b"0 k v")
    c.call("LOCK", b"k -1")
    assert c.call("TTL", b"k 50") == OK


# -- GET / DEL ----------------------------------------------------------------

def test_get_cases(c):
    assert c.call("GET", b"k") == NOT_FOUND
    c.call("SET", b"0 k v")
    assert c.raw("GET", b"k") == plain_reply(b"v")
    c.call("INC", b"n")
    assert c.raw("GET", b"n") == number_reply(1)


def test_del_cases(c):
    assert c.call("DEL", b"k") == NOT_FOUND
    c.call("SET", b"0 k v")
    c.call("LOCK", b"k 5")
    assert c.call("DEL", b"k") == LOCKED
    c.call("UNLOCK", b"k")
    assert c.call("DEL", b"k") == OK
    assert c.call("DEL", b"k") == NOT_FOUND
    assert c.call("GET", b"k") == NOT_FOUND


# -- INC / DEC ------------------------------------------------------------------

def test_inc_and_dec_create_one(c):
    assert c.call("INC", b"a") == 1
    assert c.call("DEC", b"b") == 1
    assert c.call("META", b"b ttl") == -1
    assert c.call("META", b"b size") == 8


def test_inc_converts_text_permanently(c):
    c.call("SET", b"0 n 41")
    assert c.call("META", b"n size") == 2
    assert c.call("INC", b"n") == 42
    assert c.call("META", b"n size") == 8
    assert c.call("META", b"n encoding") == 2
    assert c.raw("GET", b"n") == number_reply(42)


def test_inc_keeps_ttl_and_lock_and_wraps(c):
    c.call("SET", b"100 n 9223372036854775807")
    assert c.call("INC", b"n") == -9223372036854775808
    assert c.call("DEC", b"n") == 9223372036854775807
    assert c.call("META", b"n ttl") == 100


def test_inc_on_locked_and_non_numeric(c):
    c.call("SET", b"0 t text")
    assert c.call("INC", b"t") == NAN
    assert c.call("DEC", b"t") == NAN
    c.call("INC", b"n")
    c.call("LOCK", b"n -1")
    assert c.call("INC", b"n") == LOCKED


def test_inc_on_compressed_item_is_nan(make_server, connect):
    c = connect(make_server(compression=8))
    c.call("SET", b"0 z " + b"1" * 64)
    assert c.call("META", b"z encoding") == 1
    assert c.call("INC", b"z") == NAN


# -- LOCK / UNLOCK -----------------------------------------------------------------

def test_lock_cases(c):
    assert c.call("LOCK", b"k x") == NOT_FOUND
    c.call("SET", b"0 k v")
    assert c.call("LOCK", b"k x") == NAN
    assert c.call("LOCK", b"k 10") == OK
    assert c.call("META", b"k lock") == 10
    assert c.call("LOCK", b"k 20") == LOCKED
    assert c.call("UNLOCK", b"k") == OK
    assert c.call("META", b"k lock") == 0
    assert c.call("UNLOCK", b"k") == OK  # unlocking an unlocked item is fine
    assert c.call("UNLOCK", b"nokey") == NOT_FOUND


@pytest.mark.parametrize("seconds", [b"0", b"-5"])
def test_zero_and_negative_locks_do_not_lock(c, seconds):
    c.call("SET", b"0 k v")
    assert c.call("LOCK", b"k " + seconds) == OK
    assert c.call("SET", b"0 k w") == b"w"


def test_lock_minus_one_holds_until_unlock(c, clock):
    c.call("SET", b"0 k v")
    c.call("LOCK", b"k -1")
    clock.advance(10 ** 6)
    assert c.call("DEL", b"k") == LOCKED
    assert c.call("META", b"k lock") == -1


# -- META --------------------------------------------------------------------

def test_meta_fields(c, clock):
    now = int(clock.time())
    c.call("SET", b"10 k hello")
    clock.advance(3)
    assert c.call("META", b"k size") == 5
    assert c.call("META", b"k encoding") == 0
    assert c.call("META", b"k created") == now
    assert c.call("META", b"k ttl") == 10
    assert c.call("META", b"k left") == 7
    assert c.call("META", b"k lock") == 0
    # META access gives the time from before this META's own update.
    clock.advance(2)
    assert c.call("META", b"k access") == now + 3
    assert c.call("META", b"k access") == now + 5


@pytest.mark.parametrize("field,expected", [
    (b"s", 5), (b"sizeXYZ", 5), (b"e", 0), (b"a", None), (b"c", None), (b"t", 10),
    (b"l", 10), (b"le", 10), (b"lo", 0), (b"lockdown", 0), (b"ttlx", 10),
])
def test_meta_field_prefix_matching(c, clock, field, expected):
    c.call("SET", b"10 k hello")
    result = c.call("META", b"k " + field)
    if expected is None:
        assert result == int(clock.time())
    else:
        assert result == expected


@pytest.mark.parametrize("field", [b"bogus", b"SIZE", b"x", b"lx"])
def test_meta_unknown_field(c, field):
    c.call("SET", b"0 k v")
    assert c.call("META", b"k " + field) == ERR


def test_meta_missing_key_beats_unknown_field(c):
    assert c.call("META", b"nokey bogus") == NOT_FOUND


# -- prefix commands (§7) ---------------------------------------------------------

def test_prefix_order_is_insertion_order_not_sorted(c):
    for key in (b"kd", b"kz", b"kn", b"kq"):
        c.call("SET", b"0 " + key + b" v")
    assert keys_of(c.call("MGET", b"k")) == [b"kd", b"kz", b"kn", b"kq"]
    assert [v for _, _, v in c.call("KEYS", b"k")[1]] == [b"kd", b"kz", b"kn", b"kq"]


def test_prefix_walk_lists_a_key_before_its_extensions(c):
    for key in (b"abc", b"ab", b"b", b"abd", b"a"):
        c.call("SET", b"0 " + key + b" v")
    assert keys_of(c.call("MGET", b"a")) == [b"a", b"ab", b"abc", b"abd"]


def test_recreated_key_keeps_its_original_place(c):
    for key in (b"p1", b"p2", b"p3"):
        c.call("SET", b"0 " + key + b" v")
    c.call("DEL", b"p1")
    c.call("SET", b"0 p1 again")
    assert keys_of(c.call("MGET", b"p")) == [b"p1", b"p2", b"p3"]


def test_nul_in_key_is_cut_in_kv_replies(c):
    c.call("SET", b"0 n\x00ul v")
    assert keys_of(c.call("MGET", b"n")) == [b"n"]
    assert c.call("KEYS", b"n")[1] == [(b"0", 0, b"n")]
    assert c.call("GET", b"n\x00ul") == b"v"


@pytest.mark.parametrize("op,payload", [
    ("MSET", b"zz v"), ("MTTL", b"zz 5"), ("MGET", b"zz"), ("MDEL", b"zz"),
    ("MINC", b"zz"), ("MDEC", b"zz"), ("MLOCK", b"zz 5"), ("MUNLOCK", b"zz"),
    ("KEYS", b"zz"),
])
def test_zero_matches_is_not_found(c, op, payload):
    c.call("SET", b"0 a v")
    assert c.call(op, payload) == NOT_FOUND


def test_count_of_zero_matches_is_zero(c):
    assert c.raw("COUNT", b"zz") == number_reply(0)


def test_mset(c):
    c.call("SET", b"100 p1 a")
    c.call("INC", b"p2")
    c.call("SET", b"0 p3 c")
    c.call("LOCK", b"p3 -1")
    assert c.raw("MSET", b"p new value") == number_reply(2)
    assert c.call("GET", b"p1") == b"new value"
    assert c.call("META", b"p1 ttl") == -1  # TTL dropped
    assert c.call("GET", b"p2") == b"new value"  # number turned back to text
    assert c.call("GET", b"p3") == b"c"  # locked: skipped
    assert c.call("MSET", b"p3 x") == NOT_FOUND  # all filtered out
    assert c.call("GET", b"pnew") == NOT_FOUND  # never creates


def test_mttl(c):
    c.call("SET", b"0 p1 a")
    c.call("SET", b"0 p2 b")
    c.call("LOCK", b"p2 -1")
    assert c.call("MTTL", b"p x") == NAN
    assert c.call("MTTL", b"zz x") == NAN  # NaN is checked before matching
    assert c.call("MTTL", b"p 30") == 2  # locks are ignored
    assert c.call("META", b"p2 ttl") == 30
    assert c.call("MTTL", b"p -1") == 2
    assert c.call("META", b"p1 ttl") == -29440


def test_mget_limit(c):
    for key in (b"m1", b"m2", b"m3"):
        c.call("SET", b"0 " + key + b" v")
    assert keys_of(c.call("MGET", b"m 2")) == [b"m1", b"m2"]
    assert keys_of(c.call("MGET", b"m 0")) == [b"m1", b"m2", b"m3"]
    assert keys_of(c.call("MGET", b"m -1")) == [b"m1", b"m2", b"m3"]
    assert keys_of(c.call("MGET", b"m 05")) == [b"m1", b"m2", b"m3"]
    assert c.call("MGET", b"m x") == NAN
    assert c.call("MGET", b"zz x") == NAN


def test_mget_values_and_encodings(c):
    c.call("SET", b"0 v1 text")
    c.call("INC", b"v2")
    assert c.call("MGET", b"v") == (2, [(b"v1", 0, b"text"), (b"v2", 2, 1)])


def test_mdel(c):
    c.call("SET", b"0 d1 a")
    c.call("SET", b"0 d2 b")
    c.call("LOCK", b"d2 -1")
    assert c.call("MDEL", b"d") == 1
    assert c.call("GET", b"d1") == NOT_FOUND
    assert c.call("GET", b"d2") == b"b"
    assert c.call("MDEL", b"d") == NOT_FOUND


def test_minc_and_mdec(c):
    c.call("SET", b"0 i1 5")
    c.call("INC", b"i2")
    c.call("SET", b"0 i3 text")
    c.call("SET", b"0 i4 7")
    c.call("LOCK", b"i4 -1")
    assert c.call("MINC", b"i") == 2
    assert c.call("MGET", b"i")[1] == [
        (b"i1", 2, 6), (b"i2", 2, 2), (b"i3", 0, b"text"), (b"i4", 0, b"7")]
    assert c.call("MDEC", b"i") == 2
    assert c.call("GET", b"i1") == 5
    assert c.call("MINC", b"i3") == NOT_FOUND
    assert c.call("MINC", b"new") == NOT_FOUND  # never creates


def test_minc_counts_compressed_items_without_changing_them(make_server, connect):
    c = connect(make_server(compression=8))
    c.call("SET", b"0 z " + b"1" * 64)
    assert c.call("MINC", b"z") == 1
    assert c.call("GET", b"z") == b"1" * 64


def test_mlock_and_munlock(c):
    c.call("SET", b"0 l1 a")
    c.call("SET", b"0 l2 b")
    c.call("LOCK", b"l2 -1")
    assert c.call("MLOCK", b"l x") == NAN
    assert c.call("MLOCK", b"l 30") == 1  # l2 is already locked
    assert c.call("META", b"l1 lock") == 30
    assert c.call("META", b"l2 lock") == -1
    assert c.call("MLOCK", b"l 30") == NOT_FOUND  # all locked: 1, not 4
    assert c.call("MUNLOCK", b"l") == 2
    assert c.call("META", b"l1 lock") == 0
    assert c.call("MUNLOCK", b"l") == 2  # counted whether locked or not


def test_count(c):
    c.call("SET", b"0 c1 a")
    c.call("SET", b"0 c2 b")
    c.call("SET", b"0 d1 b")
    assert c.raw("COUNT", b"c") == number_reply(2)
    assert c.call("COUNT", b"c1") == 1


def test_keys(c):
    c.call("SET", b"0 k1 a")
    c.call("INC", b"k2")
    assert c.call("KEYS", b"k") == (2, [(b"0", 0, b"k1"), (b"1", 0, b"k2")])


# -- STATS, PING, END ---------------------------------------------------------------

def test_stats_has_the_27_fields_in_order(c, server):
    from pygibson.server.commands import STATS_FIELDS

    count, pairs = c.call("STATS")
    assert count == 27
    assert [key.decode() for key, _, _ in pairs] == list(STATS_FIELDS)
    types = {key.decode(): encoding for key, encoding, _ in pairs}
    plain = {"server_version", "server_build_datetime", "server_allocator", "server_arch",
             "memory_fragmentation", "reqs_per_client_avg"}
    for name, encoding in types.items():
        assert encoding == (0 if name in plain else 2), name


def test_stats_values(c, clock):
    c.call("SET", b"0 a v")
    c.call("INC", b"b")
    stats = c.mapping("STATS")
    assert stats[b"server_version"] == b"1.2.1"
    assert stats[b"server_arch"] == b"64"
    assert stats[b"server_time"] == int(clock.time())
    assert stats[b"total_items"] == 2
    assert stats[b"total_clients"] == 1
    assert stats[b"total_connections"] == 1
    assert stats[b"total_requests"] == 3
    assert stats[b"first_item_seen"] == int(clock.time())
    assert stats[b"memory_used"] > 0
    assert stats[b"memory_peak"] >= stats[b"memory_used"]
    assert stats[b"reqs_per_client_avg"] == b"3.000000"
    month, day, rest = stats[b"server_build_datetime"].split(b"/")
    assert len(month) == 2 and len(day) == 2 and len(rest) == len(b"YYYY HH:MM:SS")


def test_total_requests_counts_invalid_opcodes(server, connect):
    connect(server).send(frame(99))
    c = connect(server)
    assert c.mapping("STATS")[b"total_requests"] == 2


def test_ping_ignores_its_payload(c):
    assert c.call("PING", b"anything at all") == OK


def test_end_discards_pipelined_requests(c):
    c.send(frame("SET", b"0 a 1") + frame("END") + frame("SET", b"0 b 2"))
    assert c.read_reply_bytes() == plain_reply(b"1")
    assert c.call.__self__.read_reply()[0] == OK
    assert c.is_closed()


def test_number_payloads_are_eight_byte_little_endian(c):
    c.call("SET", b"0 n -2")
    raw = c.raw("INC", b"n")
    assert raw[:7] == struct.pack("<HBI", 6, 2, 8)
    assert raw[7:] == (-1).to_bytes(8, "little", signed=True)


# -- LZF (§3.2): sizes as liblzf 3.6 computes them -------------------------------

def _lzf_inputs():
    import hashlib

    return [
        (b"A" * 40, 9),
        (b"abc" * 300, 20),
        (b"".join(b"item %d;" % i for i in range(500)), 2004),
        (bytes(range(256)) * 4, 278),
        (b"".join(hashlib.sha256(b"%d" % i).digest() for i in range(100)), None),
        (b"x" * 5 + bytes(range(200)) + b"y" * 3 + bytes(range(200)), 221),
    ]


@pytest.mark.parametrize("value,size", _lzf_inputs())
def test_compressed_items_report_liblzf_sizes(make_server, connect, value, size):
    # Expected sizes were produced by liblzf 3.6's lzf_compress with the
    # server's budget (length - 4); None: it does not compress.
    c = connect(make_server(compression=16, max_value_size=8192))
    assert c.call("SET", b"0 k " + value) == value
    assert c.call("GET", b"k") == value
    if size is None:
        assert c.call("META", b"k encoding") == 0
        assert c.call("META", b"k size") == len(value)
    else:
        assert c.call("META", b"k encoding") == 1
        assert c.call("META", b"k size") == size
    stats = c.mapping("STATS")
    assert stats[b"total_compressed_items"] == (0 if size is None else 1)


def test_values_not_longer_than_compression_stay_plain(make_server, connect):
    c = connect(make_server(compression=40))
    c.call("SET", b"0 k " + b"A" * 40)
    assert c.call("META", b"k encoding") == 0
    c.call("SET", b"0 k " + b"A" * 41)
    assert c.call("META", b"k encoding") == 1
