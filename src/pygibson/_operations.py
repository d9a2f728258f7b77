"""The Gibson operations as data: ``pygibson.OPERATIONS``.

The list itself is ``operations.def``, shared with the C library and the
extension (which include it as an X-macro); this module parses it, so that
Python code (the pure-Python client, the pool, the embedded server, the
command line) reads the very same description. See the comment at the top
of that file for what each field means.
"""

import os
import re
from typing import Dict, NamedTuple, Optional, Tuple, Union

__all__ = ["Parameter", "Operation", "OPERATIONS", "lookup"]


class Parameter(NamedTuple):
    """One argument of an operation."""

    name: str
    #: ``key`` (a key or prefix), ``value``, ``field`` (META's field name),
    #: ``ttl``, ``seconds`` (a lock time) or ``limit`` (MGET's).
    kind: str
    required: bool
    #: What an optional argument defaults to (``ttl=0``, ``limit=None``).
    default: object = None


class Operation(NamedTuple):
    """One of the protocol's operations, as every client sends it."""

    #: The Client/Pipeline method, e.g. ``"dl"``.
    name: str
    #: The name on the wire, e.g. ``"DEL"``.
    command: str
    opcode: int
    #: The payload's layout (``KEY``, ``KEY_TTL``, ``SET``, ...).
    shape: str
    #: The key is a prefix: the operation spans every match.
    prefix: bool
    #: The method's parameters, in its own order.
    params: Tuple[Parameter, ...]
    #: The same parameters in the order the server reads them.
    wire_params: Tuple[Parameter, ...]
    #: What the reply becomes: ``none``, ``set``, ``value``, ``number``,
    #: ``count``, ``dict``, ``list`` or ``quit``.
    result: str
    #: May be sent again after a broken connection (it changes nothing).
    idempotent: bool
    #: The method's signature, e.g. ``"(key, value, ttl=0)"`` (operations.def
    #: holds CPython's text signature, ``"($self, key, value, ttl=0)"``).
    signature: str
    doc: str
    #: Other method names for it (``delete`` for ``dl``).
    aliases: Tuple[str, ...]


#: The parameter kinds of each payload shape, in the method's order, and the
#: order the server reads them in where it differs (SET puts the TTL first).
_SHAPES = {
    "EMPTY": ((), None),
    "KEY": (("key",), None),
    "KEY_TTL": (("key", "ttl"), None),
    "KEY_LOCK": (("key", "seconds"), None),
    "KEY_VALUE": (("key", "value"), None),
    "KEY_FIELD": (("key", "field"), None),
    "KEY_LIMIT": (("key", "limit"), None),
    "SET": (("key", "value", "ttl"), (2, 0, 1)),
}

_DEFAULTS = {"ttl": 0, "limit": None}

_OPERATION_LINE = re.compile(
    r'GB_OPERATION\((\w+), (\d+), (\w+), ([01]), (\w+), P\d\(([\w, ]*)\), (\d), '
    r'"([^"]*)", (\w+), ([01]), "((?:[^"\\]|\\.)*)"\)$'
)
_ALIAS_LINE = re.compile(r'GB_ALIAS\((\w+), (\w+), (\w+), "([^"]*)"\)$')


def _without_self(text_signature: str, command: str) -> str:
    # "($self, key)" -> "(key)", "($self)" -> "()": the signature of the
    # method as bound to a client, which is what Python callers show.
    if text_signature == "($self)":
        return "()"
    if not text_signature.startswith("($self, "):
        raise ValueError("operations.def: %s's signature must start with ($self" % command)
    return "(" + text_signature[len("($self, "):]


def _parse(text: str) -> Tuple[Operation, ...]:
    operations = []
    aliases: Dict[str, list] = {}
    for line in text.splitlines():
        if line.startswith("GB_OPERATION("):
            match = _OPERATION_LINE.match(line)
            if match is None:
                raise ValueError("operations.def: cannot read %r" % line)
            operations.append(match.groups())
        elif line.startswith("GB_ALIAS("):
            match = _ALIAS_LINE.match(line)
            if match is None:
                raise ValueError("operations.def: cannot read %r" % line)
            alias, command, _method, _signature = match.groups()
            aliases.setdefault(command, []).append(alias)
    table = []
    for (command, opcode, shape, prefix, method, names, required, signature, result,
         idempotent, doc) in operations:
        kinds, wire_order = _SHAPES[shape]
        names = tuple(name.strip() for name in names.split(",") if name.strip())
        if len(names) != len(kinds):
            raise ValueError("operations.def: %s has %d parameters for shape %s"
                             % (command, len(names), shape))
        params = tuple(
            Parameter(name, kind, i < int(required), _DEFAULTS.get(kind))
            for i, (name, kind) in enumerate(zip(names, kinds))
        )
        wire = params if wire_order is None else tuple(params[i] for i in wire_order)
        table.append(Operation(
            name=method, command=command, opcode=int(opcode), shape=shape,
            prefix=prefix == "1", params=params, wire_params=wire,
            result=result.lower(), idempotent=idempotent == "1",
            signature=_without_self(signature, command),
            doc=doc.replace('\\"', '"'), aliases=tuple(aliases.get(command, ())),
        ))
    return tuple(table)


def _load() -> Tuple[Operation, ...]:
    # Beside this module in every install (package data); read as a file,
    # which costs less at import than pkgutil's loader machinery.
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "operations.def")
    with open(path, encoding="utf-8") as definitions:
        return _parse(definitions.read())


#: Every operation, in opcode order (END, ``quit``, last).
OPERATIONS: Tuple[Operation, ...] = _load()

#: Method names, aliases, wire names (any case) and opcodes to operations.
_INDEX: Dict[Union[str, int], Operation] = {}
for _op in OPERATIONS:
    _INDEX[_op.opcode] = _op
    for _name in (_op.name, _op.command.lower()) + _op.aliases:
        _INDEX[_name] = _op
del _op, _name


def lookup(name: Union[str, bytes, int, Operation]) -> Operation:
    """The operation called ``name``: a method name (``"dl"``, ``"delete"``),
    a wire name in any case (``"DEL"``, ``b"del"``), an opcode (4) or an
    entry of ``OPERATIONS`` itself. Raises ``ValueError`` naming the known
    operations otherwise, and ``TypeError`` for other kinds of object (the
    extension's lookup says the same)."""
    if isinstance(name, Operation):
        return name
    key: Optional[Union[str, int]] = None
    if isinstance(name, int) and not isinstance(name, bool):
        key = name
    elif isinstance(name, (bytes, str)):
        text = name.decode("latin-1") if isinstance(name, bytes) else name
        key = text.lower() if text.isascii() else None
    else:
        raise TypeError("an operation is named by str, bytes, an int opcode or an entry "
                        "of pygibson.OPERATIONS, not %.100s" % type(name).__name__)
    operation = _INDEX.get(key) if key is not None else None
    if operation is None:
        raise ValueError("%r is not a Gibson operation; known: %s (or a Client method name)"
                         % (name, ", ".join(op.command.lower() for op in OPERATIONS)))
    return operation
