"""Clocks for the server: the real one, and one that tests move by hand.

The server reads the time as whole Unix seconds (docs/protocol.md §5), so TTLs
and locks only change state when the integer second changes. With a
:class:`ManualClock`, a test sets an item's TTL, calls ``advance(ttl)`` and
sees it expire on the next request, without sleeping.
"""

import threading
import time
from typing import Optional, Protocol

__all__ = ["Clock", "RealClock", "ManualClock"]


class Clock(Protocol):
    """What the server needs of a clock: any object with this method."""

    def time(self) -> float:
        """The current time in Unix seconds."""
        ...


class RealClock:
    """The wall clock (``time.time()``)."""

    def time(self) -> float:
        """The current time in Unix seconds, as a float."""
        return time.time()

    def __repr__(self) -> str:
        return "RealClock()"


class ManualClock:
    """A clock that only moves when told to.

    ``start`` is the initial Unix time (default: the wall clock, rounded
    down to a whole second, so that timestamps in STATS and META look
    real). Safe to move from any thread: the server reads it on its own
    thread before each batch of requests.
    """

    def __init__(self, start: Optional[float] = None) -> None:
        if start is None:
            start = float(int(time.time()))
        self._now = float(start)
        self._lock = threading.Lock()

    def time(self) -> float:
        """The current time in Unix seconds, as a float."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (negative moves it back,
        which the real server never sees; use with care). Returns the new
        time."""
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Set the clock to the Unix time ``now``."""
        with self._lock:
            self._now = float(now)

    def __repr__(self) -> str:
        return "ManualClock(%r)" % (self.time(),)
