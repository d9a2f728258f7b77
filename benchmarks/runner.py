"""Orchestration: which measurements, in what order, and their statistics.

Every row of every table is measured as ``runs`` rounds; in each round each
contender runs once, the order rotating from round to round, so that drift
in the server (or the machine) spreads evenly over the contenders. A row's
figure is the median over its rounds, shown with the min–max.
"""

import statistics
import sys
import traceback
from dataclasses import dataclass, field

__all__ = ["Plan", "Row", "Runner", "Stats"]

PIPELINE_BATCHES = (1, 10, 100, 1000, 10000)
POOL_THREADS = (1, 2, 4, 8)
# Issue #5: pygibson's pipeline of 1,000 against the raw loops at their best
# batches (throughput levels off from 1,000 on).
TARGET_BATCH = 1000
TARGET_RAW_BATCHES = (1000, 10000)


@dataclass(frozen=True)
class Row:
    """One line of a table: a workload measured one way over one transport."""
    section: str    # "ops" (sequential and pipelined), "pipeline" or "pool"
    transport: str  # "tcp" or "unix"
    workload: str   # Workload.name
    mode: str       # "sequential", "pipelined" or "threads"
    param: int = 1  # batch size, or thread count


@dataclass
class Stats:
    wall: list = field(default_factory=list)  # µs per operation, one per round
    cpu: list = field(default_factory=list)
    user: list = field(default_factory=list)
    sys: list = field(default_factory=list)

    def add(self, sample):
        self.wall.append(sample.wall_us)
        self.cpu.append(sample.cpu_us)
        self.user.append(sample.user_us)
        self.sys.append(sample.sys_us)

    @staticmethod
    def _median(values):
        return statistics.median(values) if values else float("nan")

    @property
    def n(self):
        return len(self.wall)

    @property
    def wall_median(self):
        return self._median(self.wall)

    @property
    def cpu_median(self):
        return self._median(self.cpu)

    @property
    def ops_per_s(self):
        wall = self.wall_median
        return 1e6 / wall if wall > 0 else float("nan")

    def as_dict(self):
        return {"wall_us": self.wall, "cpu_us": self.cpu, "user_us": self.user,
                "sys_us": self.sys}


@dataclass(frozen=True)
class Plan:
    runs: int = 5
    ops: int = 2000
    pipeline_batches: tuple = PIPELINE_BATCHES
    pool_threads: tuple = POOL_THREADS
    min_batches: int = 20  # the pipeline study runs at least this many batches
    workloads: tuple = ()  # Workload objects for the main table
    target_rounds: int = 31  # rounds of the issue #5 target measurement
    target_batches: int = 1  # of the largest batch, per measurement there (Runner.target)


class Runner:
    """Runs a plan against one server; ``results`` maps (Row, contender
    name) to Stats, ``failures`` lists what could not be measured."""

    def __init__(self, contenders, plan, log=None):
        self.contenders = list(contenders)
        self.plan = plan
        self.results = {}
        self.failures = []
        self.log = log or (lambda text: print(text, file=sys.stderr, flush=True))

    def alternate(self, row, measure):
        """``measure(contender)`` -> Sample, for every contender in turn,
        ``plan.runs`` rounds, the starting contender rotating."""
        count = len(self.contenders)
        broken = set()
        for rnd in range(self.plan.runs):
            for i in range(count):
                contender = self.contenders[(rnd + i) % count]
                if contender.name in broken:
                    continue
                try:
                    sample = measure(contender)
                except Exception as exc:
                    broken.add(contender.name)
                    self.failures.append((row, contender.name, repr(exc)))
                    self.log("  FAILED %s on %s: %s" % (contender.name, row, exc))
                    self.log(traceback.format_exc())
                    continue
                self.results.setdefault((row, contender.name), Stats()).add(sample)
        self.log("  %-9s %-4s %-14s %-10s %6d | %s" % (
            row.section, row.transport, row.workload, row.mode, row.param,
            "  ".join("%s %.1f/%.1f us" % (c.name, self.stats(row, c.name).wall_median,
                                          self.stats(row, c.name).cpu_median)
                      for c in self.contenders if (row, c.name) in self.results)))

    def stats(self, row, contender):
        return self.results.get((row, contender), Stats())

    def run(self, address, transport, skipped=()):
        plan = self.plan
        get_10 = next(w for w in plan.workloads if w.name == "get_10")
        for workload in plan.workloads:
            if workload.name in skipped:
                continue
            ops = workload.ops(plan.ops)
            self.alternate(Row("ops", transport, workload.name, "sequential"),
                           lambda c, w=workload, n=ops: c.sequential(address, w, n))
            batch = workload.pipe_batch
            self.alternate(Row("ops", transport, workload.name, "pipelined", batch),
                           lambda c, w=workload, n=max(ops, batch), b=batch:
                           c.pipelined(address, w, n, b))
        for batch in plan.pipeline_batches:
            ops = max(plan.ops, plan.min_batches * batch)
            self.alternate(Row("pipeline", transport, get_10.name, "pipelined", batch),
                           lambda c, n=ops, b=batch: c.pipelined(address, get_10, n, b))
        for threads in plan.pool_threads:
            self.alternate(Row("pool", transport, get_10.name, "threads", threads),
                           lambda c, t=threads: c.concurrent(address, get_10, plan.ops, t))
        self.target(address, transport, get_10)

    def target(self, address, transport, get_10):
        """Issue #5's target: pygibson's pipeline of 1,000 against the best
        raw loop. This machine's speed drifts by up to 2x for seconds at a
        time (server and clients alike), so rows measured seconds apart
        cannot be compared, and neither can the best of several samples
        with one. Each round therefore pairs pygibson at TARGET_BATCH with
        the C loop at each of TARGET_RAW_BATCHES, the two measurements of a
        pair back to back (which goes first alternating) and of equal
        length; the report takes the ratio within each pair, and the best
        raw loop is the batch whose pairs give pygibson the lowest median.
        (The pure-Python loop is slower than the C loop at every batch of
        the pipeline table, so it is left out here.) Samples go to rows of
        section "target", "param" being the raw loop's batch, one sample per
        round, so index i is round i."""
        plan = self.plan
        raw = [c for c in self.contenders if c.name == "C loop"]
        mine = [c for c in self.contenders if c.name == "pygibson"]
        if not raw or not mine:
            return
        ops = plan.target_batches * max(TARGET_RAW_BATCHES + (TARGET_BATCH,))
        for rnd in range(plan.target_rounds):
            for k, batch in enumerate(TARGET_RAW_BATCHES):
                pair = [(raw[0], batch), (mine[0], TARGET_BATCH)]
                if (rnd + k) % 2:
                    pair.reverse()
                row = Row("target", transport, get_10.name, "pipelined", batch)
                try:
                    samples = [(c, c.pipelined(address, get_10, ops, b)) for c, b in pair]
                except Exception as exc:
                    self.failures.append((row, "round %d" % rnd, repr(exc)))
                    self.log("  FAILED target round %d: %s" % (rnd, exc))
                    return
                for contender, sample in samples:
                    self.results.setdefault((row, contender.name), Stats()).add(sample)
        self.log("  target    %-4s done: %d rounds" % (transport, plan.target_rounds))
