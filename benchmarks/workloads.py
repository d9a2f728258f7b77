"""What is measured: the operations, their keys and values, and the data
they need on the server before the first run."""

from dataclasses import dataclass

from .pyref import RawClient

__all__ = ["Workload", "WORKLOADS", "prepare", "value_of"]

SMALL = 10
LARGE = 100 * 1024
MGET_KEYS = 100


@dataclass(frozen=True)
class Workload:
    name: str           # short id, used in file names and --only
    label: str          # as shown in the table
    op: str             # get, set, inc, mget: the method name everywhere
    key: bytes          # key, or prefix for MGET
    value_size: int = 0  # SET: bytes sent; GET: bytes expected back
    ops_scale: float = 1.0  # share of --ops per measurement
    pipe_batch: int = 100   # batch of the "pipelined" rows of the main table

    def args(self):
        """The positional arguments of one call, the same for every client."""
        if self.op == "set":
            return (self.key, value_of(self.value_size))
        return (self.key,)

    def ops(self, base):
        """Operations per measurement for a --ops of ``base``."""
        return max(10, int(base * self.ops_scale))


WORKLOADS = (
    Workload("get_10", "GET 10 B", "get", b"bench:v10", SMALL),
    Workload("get_100k", "GET 100 KB", "get", b"bench:v100k", LARGE, 0.1, 10),
    Workload("set_10", "SET 10 B", "set", b"bench:s10", SMALL),
    Workload("set_100k", "SET 100 KB", "set", b"bench:s100k", LARGE, 0.1, 10),
    Workload("inc", "INC", "inc", b"bench:counter"),
    Workload("mget_100", "MGET 100 keys", "mget", b"bench:m:", SMALL, 0.25, 10),
)

_VALUES = {}


def value_of(size):
    """The value of ``size`` bytes every client sends (built once)."""
    value = _VALUES.get(size)
    if value is None:
        pattern = bytes(range(33, 127))
        value = (pattern * (size // len(pattern) + 1))[:size]
        _VALUES[size] = value
    return value


def prepare(address):
    """Store what the reads need; returns the names of the workloads the
    server cannot run (its max_value_size is below 100 KB), with why."""
    skipped = {}
    client = RawClient(address)
    try:
        client.set(b"bench:v10", value_of(SMALL))
        client.set(b"bench:counter", b"0")
        for i in range(MGET_KEYS):
            client.set(b"bench:m:%03d" % i, value_of(SMALL))
        try:
            client.set(b"bench:v100k", value_of(LARGE))
        except RuntimeError:
            why = ("the server truncates 100 KB values: start it with "
                   "max_value_size >= 100K (and compression above that)")
            skipped.update({"get_100k": why, "set_100k": why})
        if len(client.mget(b"bench:m:")) != MGET_KEYS:
            raise RuntimeError("the prefix bench:m: matches other keys on this server")
    finally:
        client.close()
    return skipped
