"""Which server holds a key: consistent hashing, with no I/O.

A placement is built from a list of ``(name, weight)`` nodes and answers
``lookup(key_bytes)`` with the index of the node that holds the key. Two are
provided:

``Ketama``
    The continuum libmemcached builds with ``MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED``
    (the default of ``HashClient``), so that a fleet shared with other
    ketama clients (pylibmc, PHP's memcached, ...) places each key on the
    same server. The node name must then be what libmemcached hashes:
    ``host:port`` (``host`` alone on port 11211), or ``path:0`` for a unix
    socket.
``Rendezvous``
    Highest-random-weight hashing: no continuum to build, an exactly even
    spread, and O(number of servers) work per key instead of a binary search.

Any callable taking the node list and returning an object with a ``lookup``
method will do (``HashClient(hasher=...)``). ``router()`` turns a placement
into the function ``HashClient`` calls before every single-key call: key
(``str`` hashed as UTF-8, or bytes-like) to server, remembering the last
keys' servers.
"""

import functools
import math
import struct
from bisect import bisect_left
from hashlib import md5 as _md5
from typing import Any, Callable, Dict, List, Protocol, Sequence, Tuple, TypeVar

__all__ = ["Placement", "Ketama", "Rendezvous", "Node", "ketama_key_hash", "key_bytes",
           "router"]

Node = Tuple[str, int]  # (name, weight)
T = TypeVar("T")

#: libmemcached's MEMCACHED_POINTS_PER_SERVER_KETAMA: points of a server of
#: average weight. Each MD5 digest of a point name gives four of them.
POINTS_PER_SERVER = 160
POINTS_PER_DIGEST = 4

_FLOAT = struct.Struct("f")
_WORDS = struct.Struct("<4I")
_WORD = struct.Struct("<I")


class Placement(Protocol):
    """What ``HashClient`` needs from a hasher's product."""

    def lookup(self, key: bytes) -> int:
        """The index, in the node list, of the node that holds ``key``."""


def _float32(value: float) -> float:
    """``value`` rounded to a C ``float``: libmemcached computes a server's
    share in single precision, and a share that lands just below a whole
    number of digests loses a digest, so the rounding must be the same."""
    rounded: float = _FLOAT.unpack(_FLOAT.pack(value))[0]
    return rounded


try:
    # CPython's own MD5 takes a third of the time of OpenSSL's through
    # hashlib for a short key (no EVP context to set up), and the key's
    # digest is on the path of every call; FIPS mode does not apply to it.
    from _md5 import md5 as _new_md5  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - an interpreter without it
    # Not for security: FIPS builds of OpenSSL refuse MD5 without the flag.
    _new_md5 = functools.partial(_md5, usedforsecurity=False)


def _md5_digest(data: bytes) -> bytes:
    digest: bytes = _new_md5(data).digest()
    return digest


def ketama_key_hash(key: bytes) -> int:
    """The point of ``key`` on the continuum: the first four bytes of its MD5
    digest, little-endian (libhashkit's MD5 hash)."""
    point: int = _WORD.unpack_from(_md5_digest(key))[0]
    return point


def ketama_digests(weight: int, total_weight: int, count: int) -> int:
    """How many digests (of four points each) a node gets: libmemcached's
    ``floor(weight / total * 160 / 4 * count)`` in single precision."""
    share = _float32(_float32(weight) / _float32(total_weight))
    per_digest = _float32(_float32(share * POINTS_PER_SERVER) / POINTS_PER_DIGEST)
    return int(math.floor(_float32(per_digest * _float32(count))))


def key_bytes(key: object) -> bytes:
    """The bytes a key is hashed by: what the client sends for it (UTF-8
    for ``str``). A key the client would refuse is still given bytes, so
    that the client's own error is the one raised."""
    if isinstance(key, str):
        try:
            return key.encode("utf-8")
        except UnicodeEncodeError:
            pass
        try:
            # A key that came back from mget/keys undecodable holds its bytes
            # as surrogate escapes, and the client sends those bytes.
            return key.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # another lone surrogate: the client refuses it
            return key.encode("utf-8", "surrogatepass")
    if isinstance(key, bytes):
        return key
    try:
        return memoryview(key).tobytes()  # type: ignore[arg-type]
    except TypeError:
        raise TypeError("key must be str or bytes-like, not %s" % type(key).__name__) from None


#: How many keys a router remembers the node of. The map from a key to its
#: node never changes for a given node list, so nothing needs invalidating;
#: when full, it is emptied and fills again with the keys in use.
CACHE_SIZE = 8192


def router(placement: Placement, items: Sequence[T], cache_size: int = CACHE_SIZE
           ) -> Callable[[Any], T]:
    """``route(key)``: the item of the node that holds ``key`` (str or
    bytes-like), ``items`` being in the placement's node order.

    The node of each of the last ``cache_size`` distinct ``str``/``bytes``
    keys is remembered: a cache's keys repeat (that is why it is a cache),
    and a dict lookup costs a tenth of the MD5 and binary search it saves.
    A placement may offer a faster ``router`` of its own (Ketama does)."""
    own = getattr(placement, "router", None)
    if own is not None:
        route: Callable[[Any], T] = own(items)
    else:
        lookup = placement.lookup

        def route(key: Any) -> T:
            return items[lookup(key_bytes(key))]

    if cache_size <= 0:
        return route
    cache: Dict[Any, T] = {}
    remembered = cache.get

    def cached(key: Any) -> T:
        try:
            item = remembered(key)
        except TypeError:  # an unhashable key (bytearray): not remembered
            return route(key)
        if item is not None:
            return item
        item = route(key)
        if type(key) is str or type(key) is bytes:
            if len(cache) >= cache_size:
                cache.clear()
            cache[key] = item
        return item

    return cached


class Ketama:
    """libmemcached's weighted ketama continuum over ``nodes``.

    Node ``i`` of weight ``w`` gets ``160 * w * n / total`` points (rounded
    down to a multiple of four), named ``"<name>-<k>"``; each name's MD5
    digest gives four points, read as little-endian 32-bit words. A key goes
    to the first point at or after its own (wrapping to the first point),
    ties between points broken by the lower node index, as libmemcached
    sorts them.
    """

    def __init__(self, nodes: Sequence[Node]) -> None:
        if not nodes:
            raise ValueError("a continuum needs at least one node")
        total = sum(weight for _, weight in nodes)
        points: List[Tuple[int, int]] = []
        for index, (name, weight) in enumerate(nodes):
            for k in range(ketama_digests(weight, total, len(nodes))):
                digest = _md5_digest(("%s-%d" % (name, k)).encode("utf-8"))
                points.extend((value, index) for value in _WORDS.unpack(digest))
        points.sort()
        self.nodes: Tuple[Node, ...] = tuple(nodes)
        self.points: List[int] = [value for value, _ in points]
        # The owner past the last point is the first one's: the wrap-around
        # costs a list slot instead of a test on every lookup.
        self.owners: List[int] = [index for _, index in points]
        self.owners.append(self.owners[0] if self.owners else 0)
        self.lookup: Callable[[bytes], int] = self._make_lookup()

    def _make_lookup(self) -> Callable[[bytes], int]:
        # A closure over locals: the lookup is on the path of every call.
        points, owners, word, new_md5 = self.points, self.owners, _WORD.unpack_from, _new_md5
        if len(self.nodes) == 1:
            # libmemcached does not hash at all with one server.
            return lambda key: 0

        def lookup(key: bytes) -> int:
            return owners[bisect_left(points, word(new_md5(key).digest())[0])]

        return lookup

    def router(self, items: Sequence[Any]) -> Callable[[Any], Any]:
        """``route(key)``: one call from a key to its node's item, the MD5,
        the binary search and the item lookup fused, for the path of every
        single-key call."""
        if len(self.nodes) == 1:
            only = items[0]

            def route_one(key: Any) -> Any:
                if type(key) is not str and type(key) is not bytes:
                    key_bytes(key)  # the client's TypeError for a bad key
                return only

            return route_one
        points, word, new_md5 = self.points, _WORD.unpack_from, _new_md5
        owners = [items[index] for index in self.owners]

        def route(key: Any) -> Any:
            if type(key) is str:
                try:
                    return owners[bisect_left(points, word(new_md5(key.encode()).digest())[0])]
                except UnicodeEncodeError:
                    key = key_bytes(key)
            elif type(key) is not bytes:
                key = key_bytes(key)
            return owners[bisect_left(points, word(new_md5(key).digest())[0])]

        return route

    def points_of(self, index: int) -> int:
        """How many points node ``index`` has on the continuum."""
        return self.owners[:-1].count(index)

    def __repr__(self) -> str:
        return "<Ketama %d nodes, %d points>" % (len(self.nodes), len(self.points))


class Rendezvous:
    """Weighted rendezvous (highest random weight) hashing over ``nodes``.

    Each node scores each key ``weight / -ln(u)``, with ``u`` in (0, 1) from
    the MD5 digest of the node's name and the key; the highest score wins.
    Removing a node moves only its own keys, each to the node that scored
    second, so the spread stays even without virtual points.
    """

    def __init__(self, nodes: Sequence[Node]) -> None:
        if not nodes:
            raise ValueError("rendezvous hashing needs at least one node")
        self.nodes: Tuple[Node, ...] = tuple(nodes)
        self._seeds = [(("%s\x00" % name).encode("utf-8"), float(weight))
                       for name, weight in nodes]

    def lookup(self, key: bytes) -> int:
        """The index, in the node list, of the node that holds ``key``: the
        one of highest weighted score."""
        best, best_score = 0, -1.0
        for index, (seed, weight) in enumerate(self._seeds):
            word = int.from_bytes(_md5_digest(seed + bytes(key))[:8], "little")
            # (word + 0.5) / 2**64 is strictly inside (0, 1): the log is finite
            # and negative.
            score = weight / -math.log((word + 0.5) / 18446744073709551616.0)
            if score > best_score:
                best, best_score = index, score
        return best

    def __repr__(self) -> str:
        return "<Rendezvous %d nodes>" % len(self.nodes)
