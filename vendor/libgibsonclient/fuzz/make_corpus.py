#!/usr/bin/env python3
"""Write the fuzzers' seed corpus from the test vectors of docs/protocol.md §12,
read from tests/vectors.txt (the file the unit tests read too).

    python3 fuzz/make_corpus.py fuzz/corpus

reader/  one seed per §12.2 reply (and all of them in one stream), each
         behind the 2 bytes fuzz_reader.c reads first: the reply cap and
         the way the stream is cut.
encode/  one seed per §12.1 request, in fuzz_encode.c's input layout.
"""
import os
import re
import struct
import sys

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "vectors.txt")

# fuzz_encode.c's OPCODES table begins with opcodes 1..21 and END: a seed's
# byte 0 is the index into it, not the opcode.
OPS = ("SET TTL GET DEL INC DEC LOCK UNLOCK MSET MTTL MGET MDEL MINC MDEC MLOCK "
       "MUNLOCK COUNT STATS PING META KEYS END").split()


def unescape(text):
    """BYTES of vectors.txt: printable ASCII with \\xNN escapes."""
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)),
                  text).encode("latin-1")


def read_vectors(path):
    """(name, kind, fields, wire) per vector, in file order. Only the fields
    the seeds need are read; tests/vectors.c checks the rest."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            head, sep, hexpart = line.partition(" : ")
            if not sep:
                raise SystemExit(f"{path}: no ' : ' in {line!r}")
            name, kind, *tokens = head.split()
            yield name, kind, dict(t.split("=", 1) for t in tokens), bytes.fromhex(hexpart)


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main(root):
    reader = os.path.join(root, "reader")
    encode = os.path.join(root, "encode")
    os.makedirs(reader, exist_ok=True)
    os.makedirs(encode, exist_ok=True)
    stream = b""
    # The seeds are §12's vectors (Qn, Rn) and the refused replies, as they
    # were before the file: the other extras are unit-test cases, and the
    # committed corpus stays byte for byte what it was.
    for name, kind, fields, wire in read_vectors(VECTORS):
        if kind == "reply" and re.fullmatch(r"R\d+", name):
            write(os.path.join(reader, name), b"\x00\x00" + wire)
            stream += wire
        elif kind == "refused-reply":
            write(os.path.join(reader, name), b"\x00\x00" + wire)
        elif kind in ("request", "refused-request") and re.fullmatch(r"Q\d+", name):
            key = unescape(fields.get("key", ""))
            value = unescape(fields.get("value", ""))
            head = struct.pack("<BBBqB", OPS.index(fields["op"]), int(fields.get("has_number", 0)),
                               0, int(fields.get("number", 0)), len(key))
            write(os.path.join(encode, name), head + key + value)
    # All good replies in one stream, cut into 1-byte and 17-byte pieces.
    write(os.path.join(reader, "all-bytewise"), b"\x00\x07" + stream)
    write(os.path.join(reader, "all-17"), b"\x08\x07" + stream)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus"))
