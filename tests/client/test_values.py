"""Keys and values of every byte, every accepted type, and every size."""

import array

import pytest

from pygibson import ValueTruncatedError
from pygibson.server import GibsonServer

from .conftest import client_for


def test_all_256_byte_values_in_a_value(client):
    value = bytes(range(256)) * 4
    client.set("bin", value)
    assert client.get("bin") == value


def test_every_byte_but_space_in_a_key(client):
    for byte in range(256):
        if byte == 0x20:
            continue
        key = b"k" + bytes([byte])
        client.set(key, bytes([byte]))
        assert client.get(key) == bytes([byte])


def test_utf8_keys_and_values(client):
    client.set("ключ", "значение ✓")
    assert client.get("ключ") == "значение ✓".encode()
    assert client.get("ключ".encode()) == "значение ✓".encode()
    assert client.mget("клю") == {"ключ": "значение ✓".encode()}


def test_non_utf8_keys_round_trip_through_mget(client):
    client.set(b"bin\xff", "v")
    (key,) = client.mget(b"bin")
    assert client.get(key) == b"v"


@pytest.mark.parametrize(
    "value",
    [
        b"bytes",
        bytearray(b"bytearray"),
        memoryview(b"memoryview"),
        array.array("b", b"array"),
        "text",
    ],
)
def test_buffer_and_str_values(client, value):
    expected = value.encode() if isinstance(value, str) else bytes(value)
    client.set("k", value)
    assert client.get("k") == expected


def test_memoryview_slice_is_sent_without_copy_semantics_issues(client):
    data = bytearray(b"0123456789")
    client.set("k", memoryview(data)[2:5])
    assert client.get("k") == b"234"


@pytest.mark.parametrize("value, text", [(42, b"42"), (-7, b"-7"), (3.14, b"3.14")])
def test_numbers_are_stored_as_their_decimal_text(client, value, text):
    client.set("n", value)
    assert client.get("n") == text


def test_bytearray_key(client):
    client.set(bytearray(b"ba"), "v")
    assert client.get(memoryview(b"ba")) == b"v"


def test_space_and_nul_in_values(client):
    client.set("k", b"a b\x00c  ")
    assert client.get("k") == b"a b\x00c  "


@pytest.mark.parametrize(
    "size", [1, 2, 255, 4096, 65535, 65536, 100 * 1024, 1024 * 1024, 8 * 1024 * 1024]
)
def test_value_sizes(make_client, size):
    # Timeouts are not what this test is about: on PyPy the embedded server,
    # in this process, takes over a second for 8 MiB.
    client = make_client(timeout=30_000)
    value = bytes(i % 251 for i in range(min(size, 251))) * (size // 251 + 1)
    value = value[:size]
    client.set("big", value)
    assert client.get("big") == value


# 16 KB is the most read before a reply's header is known: values around it
# come through the reader or straight into their bytes object, and either
# way whole, with the next reply still in step.
@pytest.mark.parametrize("size", [16 * 1024 - 8, 16 * 1024 - 7, 16 * 1024, 16 * 1024 + 1])
@pytest.mark.parametrize("encoding", [None, "latin-1"])
def test_values_around_the_first_read(make_client, size, encoding):
    client = make_client(encoding=encoding)
    value = bytes(range(256)) * (size // 256 + 1)
    value = value[:size]
    client.set("big", value)
    client.set("next", "after")
    expected = value if encoding is None else value.decode(encoding)
    for _ in range(3):
        assert client.get("big") == expected
        assert client.get("next") == (b"after" if encoding is None else "after")


# The pure-Python twin's first receive of a request is small (479 bytes:
# a 472-byte payload) while replies are, and 64 KiB after a larger reply
# until many small ones have come again: values around both sizes, in any
# order and however long the runs between them, come whole and in step.
@pytest.mark.parametrize("size", [471, 472, 473, 65528, 65529, 65530, 70000])
def test_values_around_the_first_receives_in_any_order(make_client, size):
    client = make_client()
    value = bytes(range(256)) * (size // 256 + 1)
    value = value[:size]
    client.set("big", value)
    client.set("small", "s")
    for run in (1, 300, 1, 2):
        assert client.get("big") == value
        for _ in range(run):
            assert client.get("small") == b"s"
    assert client.mget("big") == {"big": value}
    assert client.get("small") == b"s"


def test_truncated_value_is_reported(implementation):
    with GibsonServer(max_value_size=16) as server:
        client = client_for(server, implementation)
        with pytest.raises(ValueTruncatedError) as info:
            client.set("k", b"x" * 20)
        error = info.value
        assert (error.sent, error.stored) == (20, 16)
        assert "max_value_size" in str(error)
        client.set("k", b"x" * 16)  # at the limit: fine, and still usable
        assert client.get("k") == b"x" * 16
        client.close()


def test_keys_that_are_not_utf8_survive_an_encoding(make_client):
    client = make_client(encoding="utf-8")
    client.set(b"a\xff", "v")
    (key,) = client.keys("a")
    assert key == "a\udcff"
    assert client.get(key) == "v"
    assert list(client.mget("a")) == [key]


def test_a_value_that_does_not_decode_names_its_key(make_client):
    make_client().set("raw", b"\xff\xfe")
    text = make_client(encoding="utf-8")
    for call in (lambda: text.get("raw"), lambda: text.mget("raw")):
        with pytest.raises(UnicodeDecodeError) as info:
            call()
        message = str(info.value)
        assert "b'raw'" in message and "encoding=None" in message, message
        assert info.value.encoding == "utf-8" and info.value.object == b"\xff\xfe"
    assert text.set("fine", "ok") is None and text.get("fine") == "ok"  # still usable


class _Int(int):
    def __str__(self):
        return "not a number"


class _Float(float):
    def __str__(self):
        return "nor this"


def test_number_subclasses_are_stored_as_their_value(client):
    # Their own __str__ used to be sent.
    client.set("i", _Int(41))
    assert client.inc("i") == 42
    client.set("f", _Float(2.5))
    assert client.get("f") == b"2.5"


def test_a_strided_view_is_a_type_error_that_says_what_to_do(client):
    strided = memoryview(b"abcdef")[::2]
    for call in (lambda: client.set("k", strided), lambda: client.get(strided)):
        with pytest.raises(TypeError, match=r"contiguous bytes-like.*bytes\(\.\.\.\)"):
            call()
