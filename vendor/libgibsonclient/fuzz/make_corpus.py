#!/usr/bin/env python3
"""Write the fuzzers' seed corpus from the test vectors of PROTOCOL.md §12.

    python3 fuzz/make_corpus.py fuzz/corpus

reader/  one seed per §12.2 reply (and all of them in one stream), each
         behind the 2 bytes fuzz_reader.c reads first: the reply cap and
         the way the stream is cut.
encode/  one seed per §12.1 request, in fuzz_encode.c's input layout.
"""
import os
import struct
import sys

REPLIES = {
    "R1": "0500 00 01000000 00",
    "R2": "0000 00 01000000 00",
    "R3": "0100 00 01000000 00",
    "R4": "0200 00 01000000 00",
    "R5": "0300 00 01000000 00",
    "R6": "0400 00 01000000 00",
    "R7": "0600 00 03000000 626172",
    "R8": "0600 00 04000000 332e3134",
    "R9": "0600 00 05000000 6120620063",
    "R10": "0600 02 08000000 0100000000000000",
    "R11": "0600 02 08000000 ffffffffffffffff",
    "R12": "0600 02 08000000 0200000000000000",
    "R13": "0600 02 08000000 0000000000000000",
    "R14": "0600 02 08000000 0200000000000000",
    "R15": "0700 00 13000000 01000000 03000000 666f6f 00 03000000 626172",
    "R16": "0700 00 20000000 02000000 03000000 666f6f 00 03000000 626172"
           " 03000000 667575 00 01000000 37",
    "R17": "0700 00 18000000 01000000 03000000 667575 02 08000000 0800000000000000",
    "R18": "0700 00 1e000000 02000000 01000000 30 00 03000000 666f6f"
           " 01000000 31 00 03000000 667575",
    "R19": "0700 00 04000000 01000000",
    "R20": "0600 00 28000000" + " 41" * 40,
    "R21": "0700 00 04000000 00000000",
    "R22": "0600 00 00000000",
    "R23": "0600 02 04000000 01000000",
    # Refused on purpose: LZF, unknown code, a 4 GB size field.
    "bad-lzf": "0600 01 01000000 41",
    "bad-code": "0800 00 01000000 00",
    "bad-size": "0600 00 ffffffff",
}

# opcode index into fuzz_encode.c's table, key, value, number, has_number
REQUESTS = {
    "Q1": (18, b"", b"", 0, 0),
    "Q2": (17, b"", b"", 0, 0),
    "Q3": (21, b"", b"", 0, 0),
    "Q4": (2, b"foo", b"", 0, 0),
    "Q5": (0, b"foo", b"bar", 0, 0),
    "Q6": (0, b"foo", b"3.14", 3600, 0),
    "Q7": (0, b"bin", b"a b\x00c", 0, 0),
    "Q8": (1, b"foo", b"", 10, 0),
    "Q9": (3, b"foo", b"", 0, 0),
    "Q10": (4, b"cnt", b"", 0, 0),
    "Q11": (5, b"cnt", b"", 0, 0),
    "Q12": (6, b"foo", b"", -1, 0),
    "Q13": (7, b"foo", b"", 0, 0),
    "Q14": (8, b"f", b"baz", 0, 0),
    "Q15": (9, b"f", b"", 10, 0),
    "Q16": (10, b"f", b"", 0, 0),
    "Q17": (10, b"f", b"", 1, 1),
    "Q18": (11, b"f", b"", 0, 0),
    "Q19": (12, b"fu", b"", 0, 0),
    "Q20": (13, b"f", b"", 0, 0),
    "Q21": (14, b"f", b"", 30, 0),
    "Q22": (15, b"f", b"", 0, 0),
    "Q23": (16, b"f", b"", 0, 0),
    "Q24": (19, b"foo", b"size", 0, 0),
    "Q25": (20, b"f", b"", 0, 0),
    "Q26": (2, b"", b"", 0, 0),
    "Q27": (0, b"e", b"", 0, 0),
}


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def main(root):
    reader = os.path.join(root, "reader")
    encode = os.path.join(root, "encode")
    os.makedirs(reader, exist_ok=True)
    os.makedirs(encode, exist_ok=True)
    stream = b""
    for name, text in REPLIES.items():
        wire = bytes.fromhex(text.replace(" ", ""))
        write(os.path.join(reader, name), b"\x00\x00" + wire)
        if not name.startswith("bad"):
            stream += wire
    # All good replies in one stream, cut into 1-byte and 17-byte pieces.
    write(os.path.join(reader, "all-bytewise"), b"\x00\x07" + stream)
    write(os.path.join(reader, "all-17"), b"\x08\x07" + stream)
    for name, (op, key, value, number, has_number) in REQUESTS.items():
        head = struct.pack("<BBBqB", op, has_number, 0, number, len(key))
        write(os.path.join(encode, name), head + key + value)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus"))
