"""The 22 operations, with the real server's checks in the real order.

Each handler takes a request payload and returns the complete reply bytes.
The order of checks in every handler follows docs/protocol.md §6, because the
first failing check decides the reply code and clients depend on it.
Nothing here knows about sockets: :class:`Engine` is driven by the
connection code in ``core.py`` (and can be driven directly in tests).
"""

import logging
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

from . import protocol as p
from .lzf import compressed_size
from .config import Config
from .store import Item, Store

__all__ = ["Engine", "STATS_FIELDS"]

log: logging.Logger = logging.getLogger("pygibson.server")

SERVER_VERSION: bytes = b"1.2.1"

# The 27 STATS fields in the order the real server sends them (§9.2).
STATS_FIELDS: Tuple[str, ...] = (
    "server_version", "server_build_datetime", "server_allocator", "server_arch",
    "server_started", "server_time", "first_item_seen", "last_item_seen",
    "total_items", "total_compressed_items", "total_clients", "total_cron_done",
    "total_connections", "total_requests", "item_pool_current_used",
    "item_pool_current_capacity", "item_pool_total_capacity",
    "item_pool_object_size", "item_pool_max_block_size", "memory_available",
    "memory_usable", "memory_used", "memory_peak", "memory_fragmentation",
    "item_size_avg", "compr_rate_avg", "reqs_per_client_avg",
)

# META fields in the order the real server tries them (§6 META): each is
# matched on the first min(len(asked), len(name)) bytes.
META_FIELDS: Tuple[bytes, ...] = (b"size", b"encoding", b"access", b"created", b"ttl", b"left", b"lock")

_ERR = p.reply_code(p.REPL_ERR)
_NOT_FOUND = p.reply_code(p.REPL_ERR_NOT_FOUND)
_NAN = p.reply_code(p.REPL_ERR_NAN)
_MEM = p.reply_code(p.REPL_ERR_MEM)
_LOCKED = p.reply_code(p.REPL_ERR_LOCKED)
_OK = p.reply_code(p.REPL_OK)

_MASK64 = (1 << 64) - 1

# The real server's pool: its item struct is 39 bytes on the 64-bit build
# examined, and blocks grow up to 131072 objects (§9.3)
# (the counters themselves are modelled by store.ObjectPool).
_POOL_OBJECT_SIZE = 39
_POOL_MAX_BLOCK = 131072
# Temporary items a STATS reply takes from the pool (§9.3: about 26).
_STATS_TEMPORARIES = 26


def _int16(n: int) -> int:
    """Store ``n`` in a C ``short``: the real server's TTL field (§5)."""
    n &= 0xFFFF
    return n - 0x10000 if n & 0x8000 else n


def _count_reply(count: int) -> bytes:
    # The M* commands answer NOT_FOUND rather than a count of 0 (§7).
    return p.reply_number(count) if count else _NOT_FOUND


def _kv_key(key: bytes) -> bytes:
    # The prefix walk rebuilds keys as C strings, so a key holding a NUL
    # byte comes back cut at it (§7).
    nul = key.find(b"\0")
    return key if nul < 0 else key[:nul]


def _kv_value(item: Item) -> Tuple[int, bytes]:
    """``(encoding, bytes)`` of an item inside a key-value reply: numbers as
    8 bytes, everything else (LZF included: it is decompressed) as PLAIN."""
    if item.encoding == p.ENC_NUMBER:
        return p.ENC_NUMBER, p.pack_number(item.value)
    return p.ENC_PLAIN, item.value


def _value_reply(item: Item) -> bytes:
    if item.encoding == p.ENC_NUMBER:
        return p.reply_number(item.value)
    return p.reply_plain(item.value)


class Engine:
    """The server's state and operations, minus the network.

    ``config`` is a :class:`~pygibson.server.config.Config`. ``now`` must
    be set to the current whole Unix second before requests run (the
    connection code does it once per batch, as the real server refreshes
    its clock once per cron tick). Counters for STATS live here too.
    """

    def __init__(self, config: Config, now: int = 0) -> None:
        self.config: Config = config
        self.store: Store = Store()
        #: The current whole Unix second, as the requests see it.
        self.now: int = now
        self.started: int = now
        self.build_datetime: bytes = time.strftime("%m/%d/%Y %H:%M:%S").encode()
        self.clients: int = 0
        self.total_connections: int = 0
        self.total_requests: int = 0
        self.cron_done: int = 0
        self.compression_average: float = 0.0
        self._key_size = config.max_key_size
        self._value_size = config.max_value_size
        # One handler per operation of the table, op_<wire name>.
        self.handlers: Dict[int, Callable[[bytes], Optional[bytes]]] = {
            opcode: getattr(self, "op_" + name.lower()) for opcode, name in p.OPCODES.items()
        }

    # -- helpers ---------------------------------------------------------

    def execute(self, opcode: int, payload: bytes) -> Optional[bytes]:
        """Run one request. Returns the reply bytes, or None when the
        connection must be closed without a reply (unknown opcode, or a
        key-value reply over ``max_response_size``)."""
        self.total_requests += 1
        handler = self.handlers.get(opcode)
        if handler is None:
            return None
        try:
            return handler(payload)
        except Exception:
            # A bug of ours must not take the connection's framing (or the
            # server) down with it: answer like any refused request.
            log.exception("internal error in %s %r", p.OPCODES[opcode], payload[:100])
            return _ERR

    def over_memory(self) -> bool:
        """True while the modelled memory use exceeds the limit, when SET
        and MSET answer REPL_ERR_MEM."""
        return self.store.memory_used > self.config.memory_usable

    def _live(self, key: bytes) -> Optional[Item]:
        """The unexpired item under ``key``, freeing it if it has expired."""
        item = self.store.items.get(key)
        if item is not None and item.expired(self.now):
            self.store.remove(key)
            return None
        return item

    def _new_item(self, value: bytes) -> Item:
        """A fresh PLAIN item, compressed the way the real server would."""
        size = len(value)
        threshold = self.config.compression
        if size > threshold:
            packed = compressed_size(value, size - 4)
            if packed:
                rate = 100.0 - packed * 100.0 / size
                average = self.compression_average
                self.compression_average = rate if average == 0 else (average + rate) / 2.0
                return Item(value, p.ENC_LZF, packed, self.now)
        return Item(value, p.ENC_PLAIN, size, self.now)

    def _kv_reply(self, count: int, pairs: Iterable[Tuple[bytes, int, bytes]]
                  ) -> Optional[bytes]:
        payload = p.kv_payload(count, pairs)
        if len(payload) > self.config.max_response_size:
            return None
        return p.reply_kv(payload)

    def _ttl_value(self, n):
        # TTL and MTTL compare as unsigned, so -1 means max_item_ttl (§6).
        return _int16(min(self.config.max_item_ttl, n & _MASK64))

    # -- single-key operations --------------------------------------------

    def op_set(self, payload: bytes) -> bytes:
        if self.over_memory():
            return _MEM
        parts = p.split_ttl_key_value(payload, self._key_size, self._value_size)
        if parts is None:
            return _ERR
        ttl_text, key, value = parts
        ttl = p.parse_number(ttl_text)
        if ttl is None:
            return _NAN
        old = self.store.items.get(key)
        # Locks are checked before expiry: a locked, expired item is LOCKED.
        if old is not None and old.locked(self.now):
            return _LOCKED
        item = self._new_item(value)
        if ttl > 0:
            item.ttl = _int16(min(ttl, self.config.max_item_ttl))
        self.store.put(key, item)
        return p.reply_plain(value)

    def _live_and_number(self, payload):
        """For ``KEY NUMBER`` requests on one item (TTL, LOCK): ``(item,
        number)``, or ``(None, refusal)`` checked in the server's order:
        syntax, then existence, then the number."""
        parts = p.split_key_value(payload, self._key_size, self._value_size)
        if parts is None:
            return None, _ERR
        key, text = parts
        item = self._live(key)
        if item is None:
            return None, _NOT_FOUND
        number = p.parse_number(text)
        if number is None:
            return None, _NAN
        return item, number

    def op_ttl(self, payload: bytes) -> bytes:
        item, ttl = self._live_and_number(payload)
        if item is None:
            return ttl  # the refusal
        item.time = item.access = self.now
        item.ttl = self._ttl_value(ttl)
        return _OK

    def op_get(self, payload: bytes) -> bytes:
        key = p.split_key(payload, self._key_size)
        if key is None:
            return _ERR
        item = self._live(key)
        if item is None:
            return _NOT_FOUND
        item.access = self.now
        return _value_reply(item)

    def op_del(self, payload: bytes) -> bytes:
        key = p.split_key(payload, self._key_size)
        if key is None:
            return _ERR
        store = self.store
        item = store.items.get(key)
        if item is None:
            return _NOT_FOUND
        if item.locked(self.now):
            return _LOCKED
        store.remove(key)
        return _NOT_FOUND if item.expired(self.now) else _OK

    def op_inc(self, payload: bytes) -> bytes:
        return self._incdec(payload, 1)

    def op_dec(self, payload: bytes) -> bytes:
        return self._incdec(payload, -1)

    def _incdec(self, payload, delta):
        key = p.split_key(payload, self._key_size)
        if key is None:
            return _ERR
        store = self.store
        item = store.items.get(key)
        if item is None:
            # Both INC and DEC create the item with the value 1 (§6).
            store.put(key, Item(1, p.ENC_NUMBER, 8, self.now))
            return p.reply_number(1)
        if item.expired(self.now):
            # An expired item is freed and NOT created again until the
            # next INC/DEC.
            store.remove(key)
            return _NOT_FOUND
        if item.locked(self.now):
            return _LOCKED
        item.access = self.now
        value = self._bump(key, item, delta)
        if value is None:
            return _NAN
        return p.reply_number(value)

    def _bump(self, key, item, delta):
        """Add ``delta`` to a NUMBER item, converting parseable text first.
        Returns the new value, or None (text that is not a number, or LZF)."""
        if item.encoding == p.ENC_NUMBER:
            current = item.value
        elif item.encoding == p.ENC_PLAIN:
            current = p.parse_number(item.value)
            if current is None:
                return None
            # The conversion is permanent: GET now returns a NUMBER.
            self.store.resize(key, item, 8)
            item.encoding = p.ENC_NUMBER
        else:
            return None
        item.value = p.to_long(current + delta)
        return item.value

    def op_lock(self, payload: bytes) -> bytes:
        item, seconds = self._live_and_number(payload)
        if item is None:
            return seconds  # the refusal
        now = self.now
        item.access = now
        if item.locked(now):
            return _LOCKED
        # The lock shares its origin with the TTL: locking restarts it.
        item.lock = seconds
        item.time = now
        return _OK

    def op_unlock(self, payload: bytes) -> bytes:
        key = p.split_key(payload, self._key_size)
        if key is None:
            return _ERR
        item = self._live(key)
        if item is None:
            return _NOT_FOUND
        item.lock = 0
        item.access = self.now
        return _OK

    def op_meta(self, payload: bytes) -> bytes:
        parts = p.split_key_value(payload, self._key_size, self._value_size)
        if parts is None:
            return _ERR
        key, field = parts
        item = self._live(key)
        if item is None:
            return _NOT_FOUND
        value = self._meta_value(item, field)
        # The access time is updated after it is read, even for an
        # unknown field.
        item.access = self.now
        if value is None:
            return _ERR
        return p.reply_number(value)

    def _meta_value(self, item, field):
        for name in META_FIELDS:
            if field[:len(name)] == name[:len(field)]:
                break
        else:
            return None
        if name == b"size":
            return item.size
        if name == b"encoding":
            return item.encoding
        if name == b"access":
            return item.access
        if name == b"created":
            return item.time
        if name == b"ttl":
            return item.ttl
        if name == b"left":
            return -1 if item.ttl <= 0 else item.ttl - (self.now - item.time)
        return item.lock

    # -- prefix operations -------------------------------------------------

    def _prefix(self, payload):
        """The prefix of a ``KEY``-shaped request, or None."""
        return p.split_key(payload, self._key_size)

    def op_mset(self, payload: bytes) -> bytes:
        if self.over_memory():
            return _MEM
        parts = p.split_key_value(payload, self._key_size, self._value_size)
        if parts is None:
            return _ERR
        prefix, value = parts
        store = self.store
        count = 0
        for key, _ in self._writable_matches(prefix):
            # A fresh item: MSET drops the TTL and turns numbers into text.
            store.put(key, self._new_item(value))
            count += 1
        return _count_reply(count)

    def _writable_matches(self, prefix):
        """``(key, item)`` for the matches of ``prefix`` that are neither
        locked nor expired, in trie order. The lock is checked before expiry
        (a locked, expired item is skipped, not freed); expired ones are
        freed on the way (§6 MSET, MINC, MDEC)."""
        store = self.store
        now = self.now
        for key in store.prefix(prefix):
            item = store.items[key]
            if item.locked(now):
                continue
            if item.expired(now):
                store.remove(key)
                continue
            yield key, item

    def _live_matches(self, prefix):
        """The items matching ``prefix`` that have not expired, in trie
        order; expired matches are freed on the way (lazy expiry, §5)."""
        store = self.store
        now = self.now
        for key in store.prefix(prefix):
            item = store.items[key]
            if item.expired(now):
                store.remove(key)
                continue
            yield item

    def op_mttl(self, payload: bytes) -> bytes:
        parts = p.split_key_value(payload, self._key_size, self._value_size)
        if parts is None:
            return _ERR
        prefix, text = parts
        ttl = p.parse_number(text)
        if ttl is None:
            return _NAN
        ttl = self._ttl_value(ttl)
        now = self.now
        count = 0
        for item in self._live_matches(prefix):
            item.time = item.access = now
            item.ttl = ttl
            count += 1
        return _count_reply(count)

    def op_mget(self, payload: bytes) -> Optional[bytes]:
        parts = p.split_key_option(payload, self._key_size, self._value_size)
        if parts is None:
            return _ERR
        prefix, text = parts
        limit = 0
        if text is not None:
            parsed = p.parse_number(text)
            if parsed is None:
                return _NAN
            limit = parsed
        store = self.store
        now = self.now
        # The limit counts matches before expired ones are dropped.
        keys = store.prefix(prefix, limit if limit > 0 else 0)
        live: List[Tuple[bytes, Item]] = []
        first_dropped = None
        for key in keys:
            item = store.items[key]
            if item.expired(now):
                store.remove(key)
                if first_dropped is None:
                    first_dropped = len(live)
                continue
            item.access = now
            live.append((key, item))
        if not live:
            return _NOT_FOUND
        pairs = live
        if self.config.mget_count_bug and first_dropped is not None:
            # The real serializer stops at the first dropped match while
            # the count says how many survived (§3.4).
            pairs = live[:first_dropped]
        return self._kv_reply(len(live), [
            (_kv_key(key),) + _kv_value(item) for key, item in pairs
        ])

    def op_mdel(self, payload: bytes) -> bytes:
        prefix = self._prefix(payload)
        if prefix is None:
            return _ERR
        store = self.store
        now = self.now
        count = 0
        for key in store.prefix(prefix):
            item = store.items[key]
            if item.locked(now):
                continue
            store.remove(key)
            if not item.expired(now):
                count += 1
        return _count_reply(count)

    def op_minc(self, payload: bytes) -> bytes:
        return self._mincdec(payload, 1)

    def op_mdec(self, payload: bytes) -> bytes:
        return self._mincdec(payload, -1)

    def _mincdec(self, payload, delta):
        prefix = self._prefix(payload)
        if prefix is None:
            return _ERR
        now = self.now
        count = 0
        for key, item in self._writable_matches(prefix):
            item.access = now
            if item.encoding == p.ENC_LZF:
                # Counted, but left unchanged (§6 MINC).
                count += 1
            elif self._bump(key, item, delta) is not None:
                count += 1
        return _count_reply(count)

    def op_mlock(self, payload: bytes) -> bytes:
        parts = p.split_key_value(payload, self._key_size, self._value_size)
        if parts is None:
            return _ERR
        prefix, text = parts
        seconds = p.parse_number(text)
        if seconds is None:
            return _NAN
        now = self.now
        count = 0
        for item in self._live_matches(prefix):
            if item.locked(now):
                continue
            item.lock = seconds
            item.time = item.access = now
            count += 1
        return _count_reply(count)

    def op_munlock(self, payload: bytes) -> bytes:
        prefix = self._prefix(payload)
        if prefix is None:
            return _ERR
        now = self.now
        count = 0
        for item in self._live_matches(prefix):
            item.lock = 0
            item.access = now
            count += 1
        return _count_reply(count)

    def op_count(self, payload: bytes) -> bytes:
        prefix = self._prefix(payload)
        if prefix is None:
            return _ERR
        now = self.now
        count = 0
        for item in self._live_matches(prefix):
            item.access = now
            count += 1
        # COUNT is the one prefix command that answers 0 rather than
        # NOT_FOUND.
        return p.reply_number(count)

    def op_keys(self, payload: bytes) -> Optional[bytes]:
        prefix = self._prefix(payload)
        if prefix is None:
            return _ERR
        # KEYS neither checks expiry nor touches access times.
        keys = self.store.prefix(prefix)
        if not keys:
            return _NOT_FOUND
        # The real server builds one temporary pool item per key listed.
        pool = self.store.pool
        pool.take(len(keys))
        pool.release(len(keys))
        return self._kv_reply(len(keys), [
            (str(index).encode(), p.ENC_PLAIN, _kv_key(key))
            for index, key in enumerate(keys)
        ])

    # -- server operations --------------------------------------------------

    def op_ping(self, payload: bytes) -> bytes:
        return _OK

    # END is answered as PING is; the connection closes after the reply.
    op_end = op_ping

    def op_stats(self, payload: bytes) -> Optional[bytes]:
        # The real server takes one temporary pool item per field before
        # the counters are read (so a first STATS shows them), and frees
        # them once the reply is built.
        pool = self.store.pool
        pool.take(_STATS_TEMPORARIES)
        try:
            fields = self.stats()
        finally:
            pool.release(_STATS_TEMPORARIES)
        return self._kv_reply(len(STATS_FIELDS), [
            (name.encode(), p.ENC_NUMBER, p.pack_number(value))
            if isinstance(value, int)
            else (name.encode(), p.ENC_PLAIN, value)
            for name, value in fields.items()
        ])

    def stats(self) -> Dict[str, Union[int, bytes]]:
        """The 27 STATS fields by name, in wire order: ints for NUMBER
        fields, bytes for PLAIN ones."""
        store = self.store
        items = len(store)
        used = store.memory_used
        pool = store.pool
        requests = self.total_requests
        connections = self.total_connections
        return {
            "server_version": SERVER_VERSION,
            "server_build_datetime": self.build_datetime,
            "server_allocator": b"malloc",
            "server_arch": b"64",
            "server_started": self.started,
            "server_time": self.now,
            "first_item_seen": store.first_item_seen,
            "last_item_seen": store.last_item_seen,
            "total_items": items,
            "total_compressed_items": store.compressed,
            "total_clients": self.clients,
            "total_cron_done": self.cron_done,
            "total_connections": connections,
            "total_requests": requests,
            "item_pool_current_used": pool.used,
            "item_pool_current_capacity": pool.capacity,
            "item_pool_total_capacity": pool.total_capacity,
            "item_pool_object_size": _POOL_OBJECT_SIZE,
            "item_pool_max_block_size": _POOL_MAX_BLOCK,
            "memory_available": self.config.memory_available,
            "memory_usable": self.config.memory_usable,
            "memory_used": used,
            "memory_peak": store.memory_peak,
            # RSS over used in the real server; the model has no RSS of
            # its own, so it reports a perfect 1.
            "memory_fragmentation": b"1.000000",
            "item_size_avg": used // items if items else 0,
            "compr_rate_avg": int(self.compression_average),
            "reqs_per_client_avg": (
                "%f" % (requests / connections if connections else 0.0)
            ).encode(),
        }

    # -- cron ----------------------------------------------------------------

    def expire(self) -> int:
        """The periodic expiry sweep. Returns how many items were freed."""
        return self.store.sweep(self.now)

    def collect_garbage(self) -> int:
        """The memory GC: while over the limit, free items idle for
        ``gc_ratio`` seconds. Returns how many were freed."""
        if not self.over_memory():
            return 0
        return self.store.collect(self.now, self.config.gc_ratio)
