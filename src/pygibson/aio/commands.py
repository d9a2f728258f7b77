"""``Gibson``, aiogibson's high-level commands, and ``create_gibson``.

The commands are made from pygibson's operation table, with aiogibson's
names and conventions: ``delete``/``mdelete``/``end`` for DEL/MDEL/END,
``expire`` for a TTL or lock time (0 by default, except ``ttl``'s), one
``meta_<field>`` per META field, ``True``/``False`` from the operations
that answer OK, ``None`` for a missing key, and key-value sets as flat
``[key, value, ...]`` lists, as aiogibson returned them.
"""

from .._operations import OPERATIONS
from .connection import create_connection

__all__ = ["Gibson", "create_gibson"]

#: aiogibson's names for the operations whose method names differ.
_NAMES = {"dl": "delete", "mdl": "mdelete", "quit": "end"}
#: The META fields (docs/protocol.md §6), one meta_<field> method each.
META_FIELDS = ("size", "encoding", "access", "created", "ttl", "left", "lock")


class Gibson:
    """High-level Gibson interface over a ``GibsonConnection``."""

    def __init__(self, connection):
        self._conn = connection

    def __repr__(self):
        return "<Gibson {!r}>".format(self._conn)

    @property
    def connection(self):
        return self._conn

    def close(self):
        """Close the connection (aiogibson's Gibson.close)."""
        self._conn.close()

    async def wait_closed(self):
        """Wait until the connection is closed."""
        await self._conn.wait_closed()

    @property
    def closed(self):
        """True if the connection is closed."""
        return self._conn.closed

    @property
    def encoding(self):
        return self._conn.encoding


async def _as_bool(future):
    return bool(await future)


async def _values(future):
    # KEYS answers {"0": key, "1": key...}: the keys are the values. No
    # match is [] (aiogibson raised TypeError on the None).
    result = await future
    return [] if result is None else result[1::2]


def _method(op):
    wire = [p.name for p in op.wire_params]
    params = []
    for p in op.params:
        if p.kind in ("ttl", "seconds"):
            # aiogibson's ``expire``: optional except for ttl() itself.
            params.append("expire" if op.name == "ttl" else "expire=0")
        elif p.kind == "limit":
            params.append("limit=None")
        else:
            params.append(p.name)
    args = ", ".join("expire" if w in ("ttl", "seconds") else w for w in wire)
    call = "self._conn.execute(%r%s)" % (op.command.lower().encode(),
                                         ", " + args if args else "")
    if op.shape == "KEY_LIMIT":
        call = ("(%s if limit is not None else self._conn.execute(%r, prefix))"
                % (call, op.command.lower().encode()))
    if op.result == "none":
        call = "_as_bool(%s)" % call
    elif op.result == "list":
        call = "_values(%s)" % call
    source = "def %s(self, %s):\n    return %s\n" % (
        _NAMES.get(op.name, op.name), ", ".join(params), call)
    namespace = {"_as_bool": _as_bool, "_values": _values}
    exec(source, namespace)
    method = namespace[_NAMES.get(op.name, op.name)]
    method.__doc__ = op.doc
    return method


def _meta(field):
    encoded = field.encode()

    def meta(self, key):
        return self._conn.execute(b"meta", key, encoded)

    meta.__name__ = "meta_" + field
    meta.__doc__ = "META %s of the key, as an int." % field
    return meta


for _op in OPERATIONS:
    if _op.shape == "KEY_FIELD":
        for _field in META_FIELDS:
            setattr(Gibson, "meta_" + _field, _meta(_field))
        continue
    _m = _method(_op)
    setattr(Gibson, _m.__name__, _m)
del _op, _m, _field


async def create_gibson(address, *, encoding=None, commands_factory=Gibson, loop=None):
    """A ``Gibson`` (or ``commands_factory(connection)``) on a new
    connection to ``address``."""
    conn = await create_connection(address, encoding=encoding, loop=loop)
    return commands_factory(conn)
