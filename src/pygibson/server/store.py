"""The key space: items, and the trie that orders prefix results.

The real server keeps keys in a byte trie whose nodes are never freed, and
walks it depth first, a key before its extensions, siblings in the order
their byte was first inserted (docs/protocol.md §7). We keep the items in a dict
for exact lookups (the common case, and fast) and the trie only for prefix
walks: a key enters the trie the first time it is stored and keeps its
place forever, like the real server's node.
"""

from typing import Any, Dict, List, Optional, Set

__all__ = ["Item", "Store", "ITEM_OVERHEAD", "NODE_OVERHEAD"]

# The memory model (see Store.memory_used). The figures are those of the
# real server's structures on x86_64, so that limits set in bytes behave
# about the same: a gbItem is 48 bytes, and every trie node costs a node
# and a slot in its parent's child list.
ITEM_OVERHEAD = 48
NODE_OVERHEAD = 40


POOL_FIRST_BLOCK = 512
POOL_MAX_BLOCK = 131072


class ObjectPool:
    """The real server's item pool counters (docs/protocol.md §9.3): freed
    objects go to a free list and are reused first; ``used`` counts the
    objects cut from the current block and never falls; a full block is
    followed by one of ``min(used * 2, POOL_MAX_BLOCK)`` objects, and
    ``used`` restarts from 0 in it. Only the counts are modelled."""

    def __init__(self) -> None:
        self.free: int = 0
        self.used: int = 0
        self.capacity: int = POOL_FIRST_BLOCK
        self.total_capacity: int = POOL_FIRST_BLOCK

    def take(self, n: int = 1) -> None:
        """Take n objects: from the free list first, then the block."""
        for _ in range(n):
            if self.free:
                self.free -= 1
                continue
            if self.used >= self.capacity:
                self.capacity = min(self.used * 2, POOL_MAX_BLOCK)
                self.total_capacity += self.capacity
                self.used = 0
            self.used += 1

    def release(self, n: int = 1) -> None:
        """Give n objects back to the free list."""
        self.free += n


class Item:
    """One stored value.

    ``value`` is bytes (PLAIN, or the original bytes of an LZF item) or an
    int (NUMBER); ``size`` the stored size (compressed size for LZF, 8 for
    numbers); ``time`` is the shared TTL and lock origin, ``access`` the
    last access time, ``ttl`` the 16-bit signed TTL (-1: none) and ``lock``
    the lock duration (0: none, -1: until UNLOCK).
    """

    __slots__ = ("value", "encoding", "size", "time", "access", "ttl", "lock")

    def __init__(self, value: Any, encoding: int, size: int, now: int) -> None:
        # bytes, or an int for a NUMBER: the encoding says which, and the
        # server's code reads it by the encoding (Any rather than a union
        # that every read would have to narrow again).
        self.value: Any = value
        self.encoding: int = encoding
        self.size: int = size
        self.time: int = now
        self.access: int = now
        self.ttl: int = -1
        self.lock: int = 0

    def expired(self, now: int) -> bool:
        """True when the TTL has run out (a TTL <= 0 never does)."""
        ttl = self.ttl
        return ttl > 0 and now - self.time >= ttl

    def locked(self, now: int) -> bool:
        """True while locked: -1 until UNLOCK, N for N seconds from ``time``."""
        lock = self.lock
        return lock == -1 or now - self.time < lock

    def __repr__(self) -> str:
        return "Item(%r, encoding=%d, ttl=%d, lock=%d)" % (
            self.value, self.encoding, self.ttl, self.lock)


class _Node:
    __slots__ = ("children", "key")

    def __init__(self) -> None:
        self.children: Dict[int, _Node] = {}
        self.key: Optional[bytes] = None  # set once a key ending here has been stored


class Store:
    """Items by key, plus insertion-ordered prefix walks and the counters
    STATS needs.

    ``memory_used`` models the real server's allocation count: each item
    costs ``ITEM_OVERHEAD`` plus its key and stored size, each trie node
    ``NODE_OVERHEAD`` (nodes are never freed, as in the real server). It
    is a model, not the Python process's memory.
    """

    def __init__(self) -> None:
        # Outlives clear(): the real server's pool never shrinks.
        self.pool: ObjectPool = ObjectPool()
        self.items: Dict[bytes, Item] = {}
        self.clear()

    def clear(self) -> None:
        """Forget every item and the trie order; counters restart."""
        self.pool.release(len(self.items))
        self.items = {}
        self._root = _Node()
        self._indexed: Set[bytes] = set()
        self.node_memory: int = 0
        self.item_memory: int = 0
        self.memory_peak: int = 0
        self.compressed: int = 0
        self.first_item_seen: int = 0
        self.last_item_seen: int = 0

    @property
    def memory_used(self) -> int:
        """The modelled memory in use: items and trie nodes."""
        return self.node_memory + self.item_memory

    def __len__(self) -> int:
        return len(self.items)

    def get(self, key: bytes) -> Optional[Item]:
        """The item stored under ``key`` (expired or not), or None."""
        return self.items.get(key)

    def put(self, key: bytes, item: Item) -> None:
        """Store ``item`` under ``key``, replacing any previous item."""
        items = self.items
        old = items.get(key)
        self.pool.take()
        if old is not None:
            self._forget(key, old)
        elif key not in self._indexed:
            self._index(key)
        items[key] = item
        self.item_memory += ITEM_OVERHEAD + len(key) + item.size
        if item.encoding == 1:
            self.compressed += 1
        if not self.first_item_seen:
            self.first_item_seen = item.time
        self.last_item_seen = item.time
        used = self.node_memory + self.item_memory
        if used > self.memory_peak:
            self.memory_peak = used

    def resize(self, key: bytes, item: Item, new_size: int) -> None:
        """Account for ``item`` (stored under ``key``) changing size, as when
        INC turns text into an 8-byte number."""
        self.item_memory += new_size - item.size
        item.size = new_size

    def remove(self, key: bytes) -> Optional[Item]:
        """Remove the item under ``key``; its trie place stays. Returns the
        removed item or None."""
        item = self.items.pop(key, None)
        if item is not None:
            self._forget(key, item)
        return item

    def _forget(self, key: bytes, item: Item) -> None:
        self.pool.release()
        self.item_memory -= ITEM_OVERHEAD + len(key) + item.size
        if item.encoding == 1:
            self.compressed -= 1

    def _index(self, key: bytes) -> None:
        node = self._root
        created = 0
        for byte in key:
            child = node.children.get(byte)
            if child is None:
                child = node.children[byte] = _Node()
                created += 1
            node = child
        node.key = key
        self._indexed.add(key)
        self.node_memory += created * NODE_OVERHEAD

    def prefix(self, prefix: bytes, limit: int = 0) -> List[bytes]:
        """The keys that start with ``prefix`` (the prefix itself included)
        and hold an item, in trie order. With ``limit`` > 0, stop after
        that many."""
        node = self._root
        for byte in prefix:
            child = node.children.get(byte)
            if child is None:
                return []
            node = child
        items = self.items
        found: List[bytes] = []
        stack = [node]
        pop = stack.pop
        push = stack.extend
        while stack:
            node = pop()
            if node.key is not None and node.key in items:
                found.append(node.key)
                if len(found) == limit:
                    break
            if node.children:
                # Reversed, so that the first-inserted child is popped first.
                push(reversed(node.children.values()))
        return found

    def sweep(self, now: int) -> int:
        """Free every expired item (the periodic cron). Returns how many."""
        expired = [key for key, item in self.items.items() if item.expired(now)]
        for key in expired:
            self.remove(key)
        return len(expired)

    def collect(self, now: int, idle: int) -> int:
        """Free items not accessed for ``idle`` seconds (the memory GC).
        Returns how many."""
        stale = [key for key, item in self.items.items() if now - item.access >= idle]
        for key in stale:
            self.remove(key)
        return len(stale)
