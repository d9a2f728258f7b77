"""One measurement: a loop timed by the wall clock and by this process's
own CPU (user + system, from getrusage), per operation.

The server runs in another process, so the CPU counted here is the client's
alone: the Python loop, the extension or the reference code, and the
kernel's work on behalf of this process (system calls, the loopback TCP
stack on send, wake-ups).
"""

import resource
import time
from dataclasses import dataclass

__all__ = ["Sample", "timed"]


@dataclass(frozen=True)
class Sample:
    wall_us: float  # per operation
    cpu_us: float   # user + sys per operation
    user_us: float
    sys_us: float
    ops: int

    @property
    def ops_per_s(self):
        return 1e6 / self.wall_us if self.wall_us > 0 else float("inf")

    @classmethod
    def from_totals(cls, wall_s, user_s, sys_s, ops):
        scale = 1e6 / ops
        return cls(wall_s * scale, (user_s + sys_s) * scale, user_s * scale, sys_s * scale, ops)


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def timed(loop, ops):
    """Run ``loop()``, which performs ``ops`` operations, and time it."""
    user0, sys0 = _cpu()
    wall0 = time.perf_counter()
    loop()
    wall1 = time.perf_counter()
    user1, sys1 = _cpu()
    return Sample.from_totals(wall1 - wall0, user1 - user0, sys1 - sys0, ops)
