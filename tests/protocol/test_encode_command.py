"""encode_command: aiogibson's way to build a frame (a command name, then
its arguments in the server's order), checked as Client checks a request.
Runs on each implementation's encode_command (the ``protocol`` fixture)."""

import pytest

from pygibson import ArgumentError
from pygibson._operations import OPERATIONS, lookup

H = bytes.fromhex

# PROTOCOL.md §12.1: (command, wire-order arguments, frame).
REQUESTS = [
    ("Q1", b"ping", (), H("02000000 1300")),
    ("Q2", b"stats", (), H("02000000 1200")),
    ("Q3", b"end", (), H("02000000 ff00")),
    ("Q4", b"get", ("foo",), H("05000000 0300 666f6f")),
    ("Q5", b"set", (0, "foo", "bar"), H("0b000000 0100 3020666f6f20626172")),
    ("Q6", b"set", (3600, "foo", "3.14"), H("0f000000 0100 3336303020666f6f20332e3134")),
    ("Q7", b"set", (0, "bin", b"a b\x00c"), H("0d000000 0100 302062696e206120620063")),
    ("Q8", b"ttl", ("foo", 10), H("08000000 0200 666f6f203130")),
    ("Q9", b"del", ("foo",), H("05000000 0400 666f6f")),
    ("Q10", b"inc", ("cnt",), H("05000000 0500 636e74")),
    ("Q11", b"dec", ("cnt",), H("05000000 0600 636e74")),
    ("Q12", b"lock", ("foo", -1), H("08000000 0700 666f6f202d31")),
    ("Q13", b"unlock", ("foo",), H("05000000 0800 666f6f")),
    ("Q14", b"mset", ("f", "baz"), H("07000000 0900 662062617a")),
    ("Q15", b"mttl", ("f", 10), H("06000000 0a00 66203130")),
    ("Q16", b"mget", ("f",), H("03000000 0b00 66")),
    ("Q17", b"mget", ("f", 1), H("05000000 0b00 662031")),
    ("Q18", b"mdel", ("f",), H("03000000 0c00 66")),
    ("Q19", b"minc", ("fu",), H("04000000 0d00 6675")),
    ("Q20", b"mdec", ("f",), H("03000000 0e00 66")),
    ("Q21", b"mlock", ("f", 30), H("06000000 0f00 66203330")),
    ("Q22", b"munlock", ("f",), H("03000000 1000 66")),
    ("Q23", b"count", ("f",), H("03000000 1100 66")),
    ("Q24", b"meta", ("foo", "size"), H("0a000000 1400 666f6f2073697a65")),
    ("Q25", b"keys", ("f",), H("03000000 1500 66")),
    # Beyond §12: a NUL in a key travels as it is; no limit is no limit.
    ("nul-key", b"get", (b"a\x00b",), H("05000000 0300 610062")),
    ("mget-none", b"mget", ("f", None), H("03000000 0b00 66")),
    ("lock-0", b"lock", ("k", 0), H("05000000 0700 6b2030")),
]


@pytest.mark.parametrize("command, args, frame", [r[1:] for r in REQUESTS],
                         ids=[r[0] for r in REQUESTS])
def test_section_12_requests(protocol, command, args, frame):
    assert protocol.encode_command(command, *args) == frame


def test_aiogibson_examples(protocol):
    assert protocol.encode_command(b"set", 3600, "foo", 3.14) == \
        b"\x0f\x00\x00\x00\x01\x003600 foo 3.14"
    assert protocol.encode_command(b"set", 3600, b"foo", bytearray(b"Q")) == \
        b"\x0c\x00\x00\x00\x01\x003600 foo Q"
    with pytest.raises(TypeError):
        protocol.encode_command(b"set", 3600, "foo", object())


@pytest.mark.parametrize("value, text", [
    (42, b"42"), (-7, b"-7"), (3.14, b"3.14"), ("h\u00e9", "h\u00e9".encode()),
    (memoryview(b"mv"), b"mv"), (bytearray(b"ba"), b"ba"),
])
def test_values_of_every_accepted_type(protocol, value, text):
    frame = protocol.encode_command(b"set", 0, "k", value)
    assert frame[6:] == b"0 k " + text
    assert int.from_bytes(frame[:4], "little") == len(frame) - 4


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.command for op in OPERATIONS])
def test_every_name_of_an_operation_gives_the_same_frame(protocol, op):
    args = {"key": "k", "value": "v", "field": "size", "ttl": 5, "seconds": 5, "limit": 2}
    wire = [args[p.kind] for p in op.wire_params]
    frame = protocol.encode_command(op.command.encode(), *wire)
    assert frame[4:6] == op.opcode.to_bytes(2, "little")
    for name in (op.command, op.command.lower(), op.name, op.opcode) + op.aliases:
        assert protocol.encode_command(name, *wire) == frame


@pytest.mark.parametrize("command, args", [
    (b"get", ("",)),                    # Q26: empty key
    (b"set", (0, "e", "")),             # Q27: empty value
    (b"get", ("a b",)),                 # a space splits the key
    (b"get", ("k" * 513,)),             # over max_key_size
    (b"set", (40000, "k", "v")),        # a TTL the server would wrap
    (b"set", (-1, "k", "v")),
    (b"lock", ("k", -2)),
    (b"mget", ("k", 0)),
    (b"meta", ("k", "l")),              # not a full field name
    (b"set", (0, "k", b"x" * 4194304)),  # over max_request_size
])
def test_requests_client_would_refuse(protocol, command, args):
    with pytest.raises(ArgumentError):
        protocol.encode_command(command, *args)


@pytest.mark.parametrize("command, args", [
    (b"set", (0, "k", object())),
    (b"set", (0, "k", None)),
    (b"set", (0, "k", True)),
    (b"set", ("0", "k", "v")),
    (b"set", (1.5, "k", "v")),
    (b"get", (None,)),
    (b"get", (5,)),
])
def test_arguments_of_the_wrong_type(protocol, command, args):
    with pytest.raises(TypeError):
        protocol.encode_command(command, *args)


@pytest.mark.parametrize("command, args", [
    (b"set", ("k", "v")), (b"set", (0, "k", "v", "w")), (b"get", ()), (b"get", ("a", "b")),
    (b"ping", ("x",)), (b"mget", ()), (b"mget", ("a", 1, 2)), (b"meta", ("k",)),
])
def test_wrong_argument_counts_name_the_command(protocol, command, args):
    with pytest.raises(TypeError) as info:
        protocol.encode_command(command, *args)
    message = str(info.value)
    assert lookup(command).command in message and "wire order" in message


@pytest.mark.parametrize("command, args", [
    (b"set", ("k", "v")), (b"get", ()), (b"mget", ("a", 1, 2)), (b"meta", ("k",)),
])
def test_wrong_argument_counts_name_the_wire_parameters(request, protocol, command, args):
    with pytest.raises(TypeError) as info:
        protocol.encode_command(command, *args)
    for param in lookup(command).wire_params:
        assert param.name in str(info.value)


def test_no_command(protocol):
    with pytest.raises(TypeError):
        protocol.encode_command()


@pytest.mark.parametrize("command", [True, None, 1.5, bytearray(b"get"), object()])
def test_commands_of_the_wrong_type(protocol, command):
    with pytest.raises(TypeError):
        protocol.encode_command(command, "k")


@pytest.mark.parametrize("command", [b"bogus", "nope", 0, 22, 254, 256, -1])
def test_unknown_commands(protocol, command):
    with pytest.raises(ValueError):
        protocol.encode_command(command, "k")
