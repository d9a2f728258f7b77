"""The protocol vectors (docs/protocol.md §12 and extras), read from the one file
that the C tests and the fuzz corpus generator read too:
vendor/libgibsonclient/tests/vectors.txt. Its header describes the format.

``load_vectors()`` returns ``{name: Vector}`` in file order. The file is
looked for above this folder, at the same place relative to ``tests/`` as in
a checkout, so a copy of ``tests/`` works when the file is copied alongside
(``.ci/run`` does this). If it is missing, loading raises: the vector tests
then fail with the reason instead of being skipped.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

RELATIVE_PATH = Path("vendor", "libgibsonclient", "tests", "vectors.txt")
KINDS = ("request", "refused-request", "reply", "refused-reply", "kv", "pair")


@dataclass(frozen=True)
class Vector:
    name: str
    kind: str
    line: int
    wire: bytes
    op: Optional[str] = None  # requests: the opcode's name
    key: Optional[bytes] = None  # requests; None when absent
    value: Optional[bytes] = None  # requests, and a VAL reply's plain value
    number: Optional[int] = None  # requests (absent: None), a VAL reply's number
    has_number: bool = False
    status: Optional[str] = None  # refusals: a gb_status name
    code: Optional[str] = None  # replies: ERR ... KVAL
    enc: Optional[str] = None  # replies: PLAIN or NUMBER
    count: Optional[int] = None  # KVAL replies and kv
    pairs: Tuple[Tuple[bytes, Union[bytes, int]], ...] = ()  # (key, value or number)


def find_vectors_file():
    """The file's path, from this folder or any above it."""
    here = Path(__file__).resolve().parent
    for folder in (here, *here.parents):
        candidate = folder / RELATIVE_PATH
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"protocol vectors not found: no {RELATIVE_PATH} in {here} or any folder "
        f"above it. In a checkout it is part of the tree; a copy of tests/ needs "
        f"it copied to {RELATIVE_PATH} next to the copied tests/ folder.")


def _unescape(text):
    # Printable ASCII with \xNN escapes, exactly as tests/vectors.c reads it.
    if re.search(r"\\(?!x[0-9a-fA-F]{2})|[^\x21-\x7e]", text):
        raise ValueError(f"bad bytes {text!r}")
    return re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]),
                  text.encode("ascii"))


def _parse(line, lineno):
    head, sep, hexpart = line.partition(" : ")
    if not sep:
        raise ValueError('no " : " before the bytes')
    name, kind, *tokens = head.split()
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    request = kind in ("request", "refused-request")
    fields = {}
    pairs = []
    for token in tokens:
        field, eq, text = token.partition("=")
        if not eq:
            raise ValueError(f"bad field {token!r}")
        if field == "key" and not request:
            pairs.append([_unescape(text), None])  # a pair; its value follows
        elif field in ("value", "number") and pairs:
            pairs[-1][1] = _unescape(text) if field == "value" else int(text)
        elif field in ("key", "value"):
            fields[field] = _unescape(text)
        elif field in ("number", "count"):
            fields[field] = int(text)
        elif field == "has_number":
            fields[field] = text == "1"
        elif field in ("op", "status", "code", "enc"):
            fields[field] = text
        else:
            raise ValueError(f"unknown field {token!r}")
    if any(value is None for _, value in pairs):
        raise ValueError("a key= without its value= or number=")
    return Vector(name=name, kind=kind, line=lineno, wire=bytes.fromhex(hexpart),
                  pairs=tuple(tuple(p) for p in pairs), **fields)


def load_vectors(path=None) -> Dict[str, Vector]:
    """Every vector of the file, by name, in file order."""
    path = Path(path) if path is not None else find_vectors_file()
    vectors = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                vector = _parse(line, lineno)
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: {e}") from None
            if vector.name in vectors:
                raise ValueError(f"{path}:{lineno}: name {vector.name} used twice")
            vectors[vector.name] = vector
    return vectors
