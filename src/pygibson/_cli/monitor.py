"""``--stat`` and ``--latency``: watching a server, as redis-cli does.

Both run until Ctrl-C (exit 0, the usual way to stop them) or for
``--count`` reports. A server that stops answering is reported on a line
of its own and tried again at the next interval; one that cannot be
reached at the start ends the run with status 2.
"""

import math
import time
from typing import Dict, List, Tuple

from .batch import EXIT_CONNECTION, EXIT_OK
from .output import error_text
from .session import CONNECTION_ERRORS, Cancelled

__all__ = ["run_stat", "run_latency"]

#: A header line again after this many lines, as redis-cli --stat does.
HEADER_EVERY = 20
#: Time between two PINGs of --latency, as redis-cli (a light load).
SAMPLE_GAP = 0.01


class _Reporter:
    """Writes text lines and counts reports towards ``count``."""

    def __init__(self, out, count):
        self.out = out
        self.count = count
        self.reports = 0

    def write(self, text: str):
        self.out.write(text.encode("utf-8") + b"\n")
        self.out.flush()

    def done(self) -> bool:
        self.reports += 1
        return self.count is not None and self.reports >= self.count


def _stopped_by_ctrl_c(loop):
    """Run ``loop()``; Ctrl-C ends it normally."""
    try:
        return loop()
    except (KeyboardInterrupt, Cancelled):
        return EXIT_OK


# -- --stat ---------------------------------------------------------------------

_STAT_HEADER = "%-10s %-10s %-8s %-12s %s" % ("items", "memory", "clients", "requests",
                                              "requests/s")


def human_bytes(size: float) -> str:
    """``1.50M``: memory as redis-cli --stat shows it."""
    for unit in ("B", "K", "M", "G", "T"):
        if size < 1024 or unit == "T":
            return ("%d%s" if unit == "B" else "%.2f%s") % (size, unit)
        size /= 1024.0
    raise AssertionError("unreachable")


def run_stat(session, out, interval: float, count=None) -> int:
    """A line per ``interval`` seconds: items, memory in use, clients,
    requests served and requests per second since the line before."""
    reporter = _Reporter(out, count)
    previous: List[Tuple[float, int]] = []  # (monotonic time, total_requests) of the last sample

    def loop():
        lines = 0
        while True:
            try:
                stats = session.call("stats")
            except CONNECTION_ERRORS as exc:
                if not reporter.reports:
                    reporter.write("(error) " + error_text(exc))
                    return EXIT_CONNECTION
                reporter.write("(error) " + error_text(exc))
                del previous[:]
            else:
                if lines % HEADER_EVERY == 0:
                    reporter.write(_STAT_HEADER)
                lines += 1
                reporter.write(_stat_line(stats, previous))
            if reporter.done():
                return EXIT_OK
            time.sleep(interval)

    return _stopped_by_ctrl_c(loop)


def _stat_line(stats, previous) -> str:
    now = time.monotonic()
    requests = stats.get("total_requests", 0)
    rate = "-"
    if previous:
        then, before = previous[0]
        if now > then:
            rate = "%.0f" % ((requests - before) / (now - then))
    previous[:] = [(now, requests)]
    return "%-10s %-10s %-8s %-12s %s" % (
        stats.get("total_items", "-"), human_bytes(stats.get("memory_used", 0)),
        stats.get("total_clients", "-"), requests, rate)


# -- --latency ------------------------------------------------------------------

class Samples:
    """PING round trips in seconds: min, average, max and a histogram."""

    def __init__(self):
        self.values = []

    def add(self, seconds: float):
        self.values.append(seconds)

    def summary(self) -> str:
        values = self.values
        if not values:
            return "no samples yet"
        return "min: %.3f ms, avg: %.3f ms, max: %.3f ms (%d samples)" % (
            min(values) * 1e3, sum(values) / len(values) * 1e3, max(values) * 1e3,
            len(values))

    def histogram(self, width: int = 40):
        """Lines of a histogram over power-of-two buckets in microseconds,
        from the fastest sample's bucket to the slowest's."""
        counts: Dict[int, int] = {}
        for seconds in self.values:
            bucket = max(0, math.ceil(math.log2(max(seconds * 1e6, 1.0))))
            counts[bucket] = counts.get(bucket, 0) + 1
        if not counts:
            return []
        most = max(counts.values())
        lines = []
        for bucket in range(min(counts), max(counts) + 1):
            n = counts.get(bucket, 0)
            bar = "#" * max(1, round(width * n / most)) if n else ""
            lines.append("  <= %9.3f ms |%-*s %d" % (2 ** bucket / 1e3, width, bar, n))
        return lines


def _sample(client):
    start = time.perf_counter()
    client.ping()
    return time.perf_counter() - start


def run_latency(session, out, interval: float, count=None, histogram=False,
                redraw=False) -> int:
    """PING every 10 ms; every ``interval`` seconds, a line of min/avg/max
    since the start (redrawn in place when ``redraw``, on a terminal), or
    with ``histogram``, that interval's histogram."""
    reporter = _Reporter(out, count)
    overall = Samples()

    def loop():
        interval_samples = Samples()
        next_report = time.monotonic() + interval
        while True:
            try:
                seconds = session.run(_sample)
            except CONNECTION_ERRORS as exc:
                if not overall.values:
                    reporter.write("(error) " + error_text(exc))
                    return EXIT_CONNECTION
                reporter.write("(error) " + error_text(exc))
            else:
                overall.add(seconds)
                interval_samples.add(seconds)
            if time.monotonic() >= next_report:
                _latency_report(reporter, overall, interval_samples, histogram, redraw)
                if reporter.done():
                    return EXIT_OK
                interval_samples = Samples()
                next_report = time.monotonic() + interval
            time.sleep(SAMPLE_GAP)

    status = _stopped_by_ctrl_c(loop)
    if redraw and not histogram:
        out.write(b"\n")
        out.flush()
    return status


def _latency_report(reporter, overall, recent, histogram, redraw):
    if histogram:
        reporter.write(recent.summary())
        for line in recent.histogram():
            reporter.write(line)
    elif redraw:
        reporter.out.write(b"\r\x1b[K" + overall.summary().encode("ascii"))
        reporter.out.flush()
    else:
        reporter.write(overall.summary())
