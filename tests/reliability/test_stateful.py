"""Random sequences of every client operation, checked against a model.

The model below (:class:`Model`) is a small, readable restatement of the
server semantics in docs/protocol.md §5-§7 plus the client's documented mapping
(README.rst): it is written from the specification, not from the embedded
server's code, so that a disagreement points at a bug in one of the three.

The state machine drives one ``Client`` of each implementation, the C
extension's and the pure-Python one (sometimes with
``strict_ttl=False`` or ``encoding="utf-8"``) against the embedded server,
runs each operation on the client and on the model, and compares every
result and every exception type. Time moves only by ``clock.advance(n)`` on
the server's ManualClock, and expired items are swept only when the
machine asks for a cron tick, so the whole run is deterministic.

Keys come from a tiny alphabet (``a``, ``ab``, ``b`` with short suffixes) so
that prefixes overlap, and values are a handful of byte and digit strings so
that INC/DEC meet numbers, convertible text and non-numbers.
"""

import os

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from pygibson import (
    ArgumentError,
    LockedError,
    NaNError,
    NotFoundError,
    PartialResultError,
)
from pygibson.server import GibsonServer, ManualClock

# -- the model ----------------------------------------------------------------

MAX_ITEM_TTL = 2592000  # the server's default clamp (docs/protocol.md §9.1)
TTL_MAX = 32767  # the client's strict_ttl bound
META_FIELDS = ("size", "encoding", "access", "created", "ttl", "left", "lock")
PLAIN, NUMBER = 0, 2


class Refused(Exception):
    """What the model answers instead of a result: the exception type the
    client must raise."""

    def __init__(self, error_type):
        super().__init__(error_type.__name__)
        self.error_type = error_type


def int16(n):
    """A C ``short``: TTLs are stored in 16 signed bits (§5)."""
    n &= 0xFFFF
    return n - 0x10000 if n >= 0x8000 else n


def parse_number(text):
    """The server's integer parser (§2.3), or None for NaN."""
    if text[:1] == b"0":
        return 0
    negative = text[:1] == b"-"
    digits = text[1:] if negative else text
    if digits and not digits.isdigit():
        return None
    if not digits.isascii():
        return None
    n = int(digits) if digits else 0
    return -n if negative else n


class Item:
    def __init__(self, value, now):
        self.value = value  # bytes (PLAIN) or int (NUMBER)
        self.time = now  # the shared TTL and lock origin
        self.access = now
        self.ttl = -1
        self.lock = 0

    def expired(self, now):
        return self.ttl > 0 and now - self.time >= self.ttl

    def locked(self, now):
        return self.lock == -1 or now - self.time < self.lock


class Model:
    """The server's key space and the client's view of it."""

    def __init__(self, now, mget_count_bug=False):
        self.now = now
        # The real server's MGET reply stops at the first expired match
        # while its count says how many survived (§3.4); the client must
        # never return such a short result in silence.
        self.mget_count_bug = mget_count_bug
        self.items = {}  # key (bytes) -> Item, expired ones included until freed
        # Trie nodes in creation order: a node is created the first time a
        # key through it is stored and is never freed (§7).
        self.nodes = {}

    # helpers

    def store(self, key, item):
        for end in range(1, len(key) + 1):
            self.nodes.setdefault(key[:end], len(self.nodes))
        self.items[key] = item

    def trie_order(self, key):
        # Pre-order walk, siblings in creation order: a key sorts before its
        # extensions, and otherwise by the first node where the paths part.
        return tuple(self.nodes[key[:end]] for end in range(1, len(key) + 1))

    def matches(self, prefix):
        found = [key for key in self.items if key.startswith(prefix)]
        return sorted(found, key=self.trie_order)

    def live(self, key):
        """The unexpired item under ``key``; an expired one is freed."""
        item = self.items.get(key)
        if item is not None and item.expired(self.now):
            del self.items[key]
            return None
        return item

    def sweep(self):
        for key in [k for k, item in self.items.items() if item.expired(self.now)]:
            del self.items[key]

    def ttl_value(self, ttl):
        # TTL/MTTL compare as unsigned (so -1 means max_item_ttl), clamp,
        # then wrap to 16 bits (§5, §6 TTL).
        return int16(min(MAX_ITEM_TTL, ttl % 2**64))

    # single-key operations (§6)

    def set(self, key, value, ttl):
        old = self.items.get(key)
        if old is not None and old.locked(self.now):  # before expiry (§10 #19)
            raise Refused(LockedError)
        item = Item(value, self.now)
        if ttl > 0:
            item.ttl = int16(min(ttl, MAX_ITEM_TTL))
        self.store(key, item)
        return None

    def ttl(self, key, ttl):
        item = self.live(key)
        if item is None:
            raise Refused(NotFoundError)
        item.time = item.access = self.now  # also restarts a timed lock
        item.ttl = self.ttl_value(ttl)
        return None

    def get(self, key):
        item = self.live(key)
        if item is None:
            raise Refused(NotFoundError)
        item.access = self.now
        return item.value

    def dl(self, key):
        item = self.items.get(key)
        if item is None:
            raise Refused(NotFoundError)
        if item.locked(self.now):  # even when expired
            raise Refused(LockedError)
        del self.items[key]
        if item.expired(self.now):
            raise Refused(NotFoundError)
        return None

    def bump(self, item, delta):
        """INC/DEC one item in place; False if it holds no number."""
        if isinstance(item.value, bytes):
            number = parse_number(item.value)
            if number is None:
                return False
            item.value = number  # converted for good: GET now gives an int
        item.value += delta
        return True

    def incdec(self, key, delta):
        item = self.items.get(key)
        if item is None:  # never set or deleted: created as 1, INC and DEC alike
            self.store(key, Item(1, self.now))
            return 1
        if item.expired(self.now):  # freed, not created (§10 #15)
            del self.items[key]
            raise Refused(NotFoundError)
        if item.locked(self.now):
            raise Refused(LockedError)
        item.access = self.now
        if not self.bump(item, delta):
            raise Refused(NaNError)
        return item.value

    def inc(self, key):
        return self.incdec(key, 1)

    def dec(self, key):
        return self.incdec(key, -1)

    def lock(self, key, seconds):
        item = self.live(key)
        if item is None:
            raise Refused(NotFoundError)
        item.access = self.now  # even when it answers LOCKED
        if item.locked(self.now):
            raise Refused(LockedError)
        item.lock = seconds
        item.time = self.now  # restarts the TTL
        return None

    def unlock(self, key):
        item = self.live(key)
        if item is None:
            raise Refused(NotFoundError)
        item.lock = 0
        item.access = self.now
        return None

    def meta(self, key, field):
        item = self.live(key)
        if item is None:
            raise Refused(NotFoundError)
        number = not isinstance(item.value, bytes)
        value = {
            "size": 8 if number else len(item.value),
            "encoding": NUMBER if number else PLAIN,
            "access": item.access,  # read before this META updates it
            "created": item.time,
            "ttl": item.ttl,
            "left": -1 if item.ttl <= 0 else item.ttl - (self.now - item.time),
            "lock": item.lock,
        }[field]
        item.access = self.now
        return value

    # prefix operations (§6, §7): "nothing matched" is 0/{}/[] here, and
    # Op.expect turns it into the client's NotFoundError

    def writable(self, prefix):
        """(key, item) for the matches neither locked nor expired; the lock
        is checked first, and expired matches are freed on the way."""
        for key in self.matches(prefix):
            item = self.items[key]
            if item.locked(self.now):
                continue
            if item.expired(self.now):
                del self.items[key]
                continue
            yield key, item

    def mset(self, prefix, value):
        count = 0
        for key, _ in self.writable(prefix):
            self.store(key, Item(value, self.now))  # drops TTL, numbers become text
            count += 1
        return count

    def mttl(self, prefix, ttl):
        count = 0
        for key in self.matches(prefix):
            item = self.live(key)
            if item is None:
                continue
            item.time = item.access = self.now  # locks are ignored
            item.ttl = self.ttl_value(ttl)
            count += 1
        return count

    def mget(self, prefix, limit=None, retry=True):
        result, short = self.mget_once(prefix, limit)
        if short:
            # The reply announced more pairs than it carried: Client asks
            # once more, a pipeline puts PartialResultError in its place.
            if not retry:
                raise Refused(PartialResultError)
            result, short = self.mget_once(prefix, limit)
            assert not short  # the first MGET freed the expired matches
        return result

    def mget_once(self, prefix, limit=None):
        """One MGET: its pairs, and whether the reply falls short of its
        count (with the real server's bug, the pairs stop at the first
        expired match)."""
        keys = self.matches(prefix)
        if limit is not None:
            keys = keys[:limit]  # expired matches count toward the limit
        result = {}
        cut = short = False
        for key in keys:
            item = self.live(key)
            if item is None:
                cut = self.mget_count_bug
            else:
                item.access = self.now
                if cut:
                    short = True
                else:
                    result[key.decode("utf-8", "surrogateescape")] = item.value
        return result, short

    def mdl(self, prefix):
        count = 0
        for key in self.matches(prefix):
            item = self.items[key]
            if item.locked(self.now):
                continue
            del self.items[key]
            if not item.expired(self.now):
                count += 1
        return count

    def mincdec(self, prefix, delta):
        count = 0
        for _, item in self.writable(prefix):
            item.access = self.now
            if self.bump(item, delta):
                count += 1  # text that is not a number is skipped, not counted
        return count

    def minc(self, prefix):
        return self.mincdec(prefix, 1)

    def mdec(self, prefix):
        return self.mincdec(prefix, -1)

    def mlock(self, prefix, seconds):
        count = 0
        for key in self.matches(prefix):
            item = self.live(key)
            if item is None or item.locked(self.now):
                continue
            item.lock = seconds
            item.time = item.access = self.now
            count += 1
        return count

    def munlock(self, prefix):
        count = 0
        for key in self.matches(prefix):
            item = self.live(key)
            if item is None:
                continue
            item.lock = 0
            item.access = self.now
            count += 1
        return count

    def count(self, prefix):
        count = 0
        for key in self.matches(prefix):
            item = self.live(key)
            if item is not None:
                item.access = self.now
                count += 1
        return count

    def keys(self, prefix):
        # No expiry check, no access update (§10 #9).
        return self.matches(prefix)

    def ping(self):
        return None

    def stats(self):
        # Only the fields the model knows; checked separately.
        return {"server_version": b"1.2.1", "total_items": len(self.items)}


# -- operations ---------------------------------------------------------------

# Repeated entries are drawn more often: short TTLs and locks, so that items
# expire and unlock while the machine runs.
KEYS = ["a", "ab", "abc", "ax", "b", "bx"]
PREFIXES = ["a", "ab", "abc", "ax", "b", "c"]
VALUES = [b"x", b"yz", b"0", b"7", b"12", b"-3", b"007", b"-", b"+1", b"1 2", "tx", 5, -2]
TTLS = [1, 1, 2, 2, 3, 3, 0, 5, 32767, -1, 32768, 40000, 65536, 65537, 100000]
LOCK_TIMES = [-1, 0, 1, 2, 2, 4, -2]
LIMITS = [None, 1, 2, 0]


def as_bytes(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return value.encode()
    return str(value).encode()


class Op:
    """One client call, with a readable repr for Hypothesis' reports."""

    def __init__(self, name, *args):
        self.name = name
        self.args = args

    def __repr__(self):
        return "%s(%s)" % (self.name, ", ".join(map(repr, self.args)))

    def call(self, target):
        return getattr(target, self.name)(*self.args)

    def expect(self, model, strict_ttl, in_pipeline=False, empty_when_no_match=False):
        """Apply the operation to ``model``: the client's expected result,
        or :class:`Refused`, raised, with the expected exception type."""
        result = self.answer(model, strict_ttl, in_pipeline)
        # The server answers NOT_FOUND when a prefix operation other than
        # COUNT finds nothing it may apply to (§7); the client raises it
        # unless made with empty_when_no_match=True.
        if (self.name in _NOT_FOUND_WHEN_EMPTY and not empty_when_no_match
                and result in (0, {}, [])):
            raise Refused(NotFoundError)
        return result

    def answer(self, model, strict_ttl, in_pipeline):
        name, args = self.name, self.args
        name = {"delete": "dl", "mdelete": "mdl"}.get(name, name)
        if name in ("ping", "stats"):
            return getattr(model, name)()
        key = as_bytes(args[0])
        # The client refuses some arguments before sending (README table).
        if name in ("set", "ttl", "mttl"):
            ttl = args[-1] if name != "set" else (args[2] if len(args) > 2 else 0)
            if strict_ttl and not 0 <= ttl <= TTL_MAX:
                raise Refused(ArgumentError)
        if name in ("lock", "mlock") and args[1] < -1:
            raise Refused(ArgumentError)
        if name == "mget" and len(args) > 1 and args[1] is not None and args[1] < 1:
            raise Refused(ArgumentError)
        if name == "meta" and args[1] not in META_FIELDS:
            raise Refused(ArgumentError)
        if name == "set":
            return model.set(key, as_bytes(args[1]), args[2] if len(args) > 2 else 0)
        if name == "mset":
            return model.mset(key, as_bytes(args[1]))
        if name == "mget":
            return model.mget(key, args[1] if len(args) > 1 else None, retry=not in_pipeline)
        return getattr(model, name)(key, *args[1:])


_NOT_FOUND_WHEN_EMPTY = frozenset(("mset", "mttl", "mget", "mdl", "mdelete", "minc", "mdec",
                                   "mlock", "munlock", "keys"))

keys = st.sampled_from(KEYS) | st.sampled_from(KEYS).map(str.encode)
prefixes = st.sampled_from(PREFIXES) | st.sampled_from(PREFIXES).map(str.encode)
values = st.sampled_from(VALUES)
ttls = st.sampled_from(TTLS)
lock_times = st.sampled_from(LOCK_TIMES)

set_with_ttl = st.builds(Op, st.just("set"), keys, values, ttls)
mget = st.builds(Op, st.just("mget"), prefixes) | st.builds(
    Op, st.just("mget"), prefixes, st.sampled_from(LIMITS))
ttl = st.builds(Op, st.just("ttl"), keys, ttls)

operations = st.one_of(
    # Items with a TTL are the ones whose lifecycle matters most: drawn
    # more often.
    set_with_ttl, set_with_ttl, set_with_ttl,
    st.builds(Op, st.just("set"), keys, values),
    ttl, ttl,
    st.builds(Op, st.just("get"), keys),
    st.builds(Op, st.sampled_from(["dl", "delete"]), keys),
    st.builds(Op, st.sampled_from(["inc", "dec"]), keys),
    st.builds(Op, st.just("lock"), keys, lock_times),
    st.builds(Op, st.just("unlock"), keys),
    st.builds(Op, st.just("mset"), prefixes, values),
    st.builds(Op, st.just("mttl"), prefixes, ttls),
    mget,
    st.builds(Op, st.sampled_from(["mdl", "mdelete"]), prefixes),
    st.builds(Op, st.sampled_from(["minc", "mdec"]), prefixes),
    st.builds(Op, st.just("mlock"), prefixes, lock_times),
    st.builds(Op, st.just("munlock"), prefixes),
    st.builds(Op, st.just("count"), prefixes),
    st.builds(Op, st.just("meta"), keys, st.sampled_from(META_FIELDS + ("l",))),
    st.builds(Op, st.just("keys"), prefixes),
    st.builds(Op, st.sampled_from(["ping", "stats"])),
)


advances = st.sampled_from([0, 1, 1, 1, 2, 2, 3, 5, 40000])


# -- the machine --------------------------------------------------------------

def comparable(result, encoding):
    """The model's answer as the client should give it."""
    if encoding is None:
        return result
    if isinstance(result, bytes):
        return result.decode(encoding)
    if isinstance(result, dict):
        return {k: comparable(v, encoding) for k, v in result.items()}
    if isinstance(result, list):
        return [comparable(v, encoding) for v in result]
    return result


def check(op, actual, expected, encoding):
    """Compare one client outcome with the model's (both may be errors)."""
    # --hypothesis-show-statistics tells how often each outcome was seen.
    event("%s -> %s" % (op.name, expected.error_type.__name__ if isinstance(expected, Refused)
                        else "empty" if expected in (0, {}, []) else "ok"))
    if isinstance(expected, Refused):
        assert type(actual) is expected.error_type, (op, actual, expected.error_type)
        return
    assert not isinstance(actual, BaseException), (op, actual, expected)
    if op.name == "stats":
        for field, value in expected.items():
            value = comparable(value, encoding)
            assert actual[field] == value, (op, field, actual[field], value)
        return
    if op.name == "keys":
        expected = [k.decode("utf-8", "surrogateescape") if encoding else k for k in expected]
    expected = comparable(expected, encoding)
    assert actual == expected, (op, actual, expected)
    assert type(actual) is type(expected), (op, actual, expected)
    if isinstance(expected, dict):  # prefix results come in trie order
        assert list(actual) == list(expected), (op, actual, expected)


def outcome(function):
    try:
        return function()
    except Refused as refused:
        return refused
    except Exception as error:  # the client's refusal stands in its place
        return error


class GibsonMachine(RuleBasedStateMachine):
    server = None  # set by the test
    Client = None  # the implementation's, set by the test

    @initialize(strict_ttl=st.booleans(), encoding=st.sampled_from([None, None, "utf-8"]),
                empty_when_no_match=st.booleans(), items=st.lists(set_with_ttl, max_size=6))
    def connect(self, strict_ttl, encoding, empty_when_no_match, items):
        server = self.server
        server.flush()
        self.model = Model(int(server.clock.time()), server.config.mget_count_bug)
        self.strict_ttl = strict_ttl
        self.encoding = encoding
        self.empty_when_no_match = empty_when_no_match
        # A generous timeout: on a loaded machine a request to the server
        # thread of this process was once seen to take over 1 s (the
        # default), and timeouts are not what this test is about.
        options = dict(strict_ttl=strict_ttl, encoding=encoding, timeout=10_000,
                       empty_when_no_match=empty_when_no_match)
        if server.unix_socket:
            self.client = self.Client(unix_socket=server.unix_socket, **options)
        else:
            self.client = self.Client(addr=server.host, port=server.port, **options)
        # Start with a few items, most with short TTLs: operations on an
        # empty store teach little.
        for op in items:
            self.call(op)

    def teardown(self):
        client = getattr(self, "client", None)
        if client is not None:
            client.close()

    def expect(self, op, in_pipeline=False):
        return outcome(lambda: op.expect(self.model, self.strict_ttl, in_pipeline,
                                         self.empty_when_no_match))

    @rule(op=operations)
    def call(self, op):
        expected = self.expect(op)
        actual = outcome(lambda: op.call(self.client))
        check(op, actual, expected, self.encoding)

    @rule(ops=st.lists(operations, min_size=1, max_size=5), raise_on_error=st.booleans())
    def pipeline(self, ops, raise_on_error):
        pipe = self.client.pipeline()
        queued, expected = [], []
        for op in ops:
            outcome_ = self.expect(op, in_pipeline=True)
            if isinstance(outcome_, Refused) and outcome_.error_type is ArgumentError:
                # Validated as it is queued: refused at once, not queued.
                queuing = outcome(lambda: op.call(pipe))
                assert type(queuing) is ArgumentError, (op, queuing)
                continue
            assert op.call(pipe) is pipe
            queued.append(op)
            expected.append(outcome_)
        assert len(pipe) == len(queued)
        errors = [e for e in expected if isinstance(e, Refused)]
        if raise_on_error and errors:
            # The first refusal is raised, carrying every result.
            with pytest.raises(errors[0].error_type) as info:
                pipe.execute()
            results = info.value.results
        else:
            results = pipe.execute(raise_on_error=raise_on_error)
        assert len(results) == len(queued)
        for op, actual, want in zip(queued, results, expected):
            check(op, actual, want, self.encoding)

    @rule(seconds=advances)
    def advance(self, seconds):
        self.server.clock.advance(seconds)
        self.model.now += seconds

    @rule(seconds=advances, op=operations)
    def call_later(self, seconds, op):
        # Time passing, then an operation: so that items age even in the
        # examples where Hypothesis leaves the advance rule out.
        self.advance(seconds)
        self.call(op)

    @rule(short=keys, lasting=keys, value=values, op=mget)
    def mget_after_expiry(self, short, lasting, value, op):
        # MGET over matches of which some have just expired: the limit
        # counts them, and the real server's reply may hold fewer pairs than
        # its count says (mget_count_bug). Rarely met by chance otherwise.
        self.call(Op("set", short, value, 1))
        self.call(Op("set", lasting, value))
        self.call_later(1, op)

    @rule()
    def cron(self):
        # expired_cron is 0, so every tick sweeps; cron_period is huge, so
        # only these ticks run.
        self.server.run_cron()
        self.model.sweep()

    @rule(how=st.sampled_from(["close", "quit"]))
    def reconnect(self, how):
        # The next call opens a new connection; the data stays.
        getattr(self.client, how)()

    @invariant()
    def same_keys(self):
        # A look inside the embedded server (the one white-box check): it
        # holds exactly the model's keys, expired-but-unfreed ones included,
        # so lazy expiry frees what the specification says, no more, no less.
        if hasattr(self, "model"):
            actual = self.server.call(lambda: list(self.server.engine.store.items))
            assert sorted(actual) == sorted(self.model.items)


@pytest.fixture(scope="module", params=["tcp", "unix", "tcp-mget-count-bug"])
def gibson(request, tmp_path_factory):
    # The cron never runs by itself (cron_period ~ 11 days); when the
    # machine runs it, it sweeps expired items (expired_cron 0).
    options = dict(clock=ManualClock(1_700_000_000), cron_period=10**9, expired_cron=0,
                   mget_count_bug=request.param.endswith("bug"))
    if request.param == "unix":
        options["unix_socket"] = str(tmp_path_factory.mktemp("rel") / "gibson.sock")
    with GibsonServer(**options) as server:
        yield server


def test_client_and_server_follow_the_model(implementation, gibson):
    GibsonMachine.server = gibson
    GibsonMachine.Client = implementation.Client
    run_state_machine_as_test(GibsonMachine, settings=settings(
        # About 3 s per server; PYGIBSON_STATEFUL_EXAMPLES runs longer.
        max_examples=int(os.environ.get("PYGIBSON_STATEFUL_EXAMPLES", 70)),
        stateful_step_count=50,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    ))
