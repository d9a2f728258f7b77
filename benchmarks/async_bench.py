"""``python -m benchmarks.async_bench``: the asyncio client against the sync
Client, and against redis.asyncio when a redis-server is at hand, in one
run, against servers in processes of their own.

Measured: client CPU (user + system of this process, from getrusage) and
wall time per GET of a 10-byte value, over TCP on 127.0.0.1:

- ``sync Client``: one blocking request at a time; and its pipeline of 100
  (the rate the server itself allows, the reference for throughput);
- ``AsyncClient``: one coroutine awaiting GET in a loop (sequential), and
  100 coroutines issuing GETs at once on the one connection, on asyncio's
  own loop and on uvloop when installed;
- ``redis.asyncio`` (redis-py with hiredis) against a local ``redis-server``
  (persistence off, a free port) the same two ways, when both are installed;
- aiogibson 0.1.3 cannot be measured on this Python (it needs
  ``asyncio.coroutine``, removed in 3.11): its row says so.

Rows are measured in rotating order, ``--rounds`` times, and reported as
medians (min-max). The memory row counts what the client allocates (with
tracemalloc) for 100,000 GETs in flight on one connection to a server that
does not answer: the futures, queues and the frames in the transport's
buffer. ``--quick`` runs everything once, small, in well under 30 s.
"""

import argparse
import asyncio
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc

from pygibson import Client
from pygibson.asyncio import AsyncClient

from .server_process import ServerProcess

CONCURRENCY = 100
VALUE = b"0123456789"


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Meter:
    """Wall and CPU µs per operation of what runs between start and stop."""

    def __init__(self, ops):
        self.ops = ops

    def __enter__(self):
        self.cpu, self.wall = _cpu(), time.perf_counter()
        return self

    def __exit__(self, *exc_info):
        self.cpu_us = (_cpu() - self.cpu) * 1e6 / self.ops
        self.wall_us = (time.perf_counter() - self.wall) * 1e6 / self.ops


# ---- the workloads ---------------------------------------------------------------


def sync_sequential(client, n):
    get = client.get
    with Meter(n) as m:
        for _ in range(n):
            get("k")
    return m


def sync_pipeline(client, n):
    batches = max(1, n // CONCURRENCY)
    with Meter(batches * CONCURRENCY) as m:
        for _ in range(batches):
            pipe = client.pipeline()
            for _ in range(CONCURRENCY):
                pipe.get("k")
            pipe.execute()
    return m


async def async_sequential(client, n):
    get = client.get
    with Meter(n) as m:
        for _ in range(n):
            await get("k")
    return m


async def async_concurrent(client, n):
    get = client.get
    per_task = max(1, n // CONCURRENCY)

    async def worker():
        for _ in range(per_task):
            await get("k")

    with Meter(per_task * CONCURRENCY) as m:
        await asyncio.gather(*[worker() for _ in range(CONCURRENCY)])
    return m


# ---- redis, when installed -----------------------------------------------------------


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self):
        self.port = _free_port()
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def __exit__(self, *exc_info):
        self.proc.terminate()
        self.proc.wait(10)


def redis_missing():
    """Why the redis rows cannot run, or None."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (Debian package redis-server)"
    try:
        import hiredis  # noqa: F401
        import redis.asyncio  # noqa: F401
    except ImportError as error:
        return "redis-py with hiredis is not installed (%s)" % error
    return None


# ---- memory --------------------------------------------------------------------------


async def memory_per_request(count):
    """Bytes the client allocates per GET in flight, to a server that
    accepts and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = AsyncClient(addr="127.0.0.1", port=listener.getsockname()[1], timeout=None)
    await client.connect()
    conn = client._conn
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    frame = client._encode(b"get", "k")
    futures = [conn.send(3, frame, "k", 0) for _ in range(count)]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    # The list holding the futures is the caller's, not the client's.
    per = (after - before - sys.getsizeof(futures)) / count
    for future in futures:
        future.cancel()
    await client.aclose()
    listener.close()
    return per


# ---- the run -------------------------------------------------------------------------


def run(args):
    n = 2000 if args.quick else args.ops
    rounds = 1 if args.quick else args.rounds
    rows = {}
    notes = []
    try:
        import uvloop
    except ImportError:
        uvloop = None
        notes.append("uvloop is not installed: no uvloop rows (pip install uvloop)")
    missing = redis_missing()
    if missing:
        notes.append("redis.asyncio rows skipped: " + missing)
    notes.append("aiogibson 0.1.3 rows skipped: it fails to import on Python >= 3.10 "
                 "(asyncio.coroutine); the issue's figures for it were taken elsewhere")

    def add(name, meter):
        rows.setdefault(name, []).append(meter)

    cpus = os.cpu_count() or 1
    if cpus > 1 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    with ServerProcess("tcp", cpu=1 if cpus > 1 else None) as server:
        host, port = server.address
        sync = Client(addr=host, port=port)
        sync.set("k", VALUE)

        async def gibson_round():
            client = AsyncClient(addr=host, port=port)
            await client.ping()
            add("AsyncClient, %s: sequential" % loop_name, await async_sequential(client, n))
            add("AsyncClient, %s: 100 coroutines" % loop_name,
                await async_concurrent(client, n * 5))
            await client.aclose()

        redis_ctx = RedisServer() if not missing else None
        if redis_ctx:
            redis_ctx.__enter__()
        try:
            for r in range(rounds):
                add("sync Client: sequential", sync_sequential(sync, n))
                add("sync Client: pipeline x100", sync_pipeline(sync, n * 5))
                loops = [("asyncio", asyncio.new_event_loop)]
                if uvloop is not None:
                    loops.append(("uvloop", uvloop.new_event_loop))
                if r % 2:
                    loops.reverse()
                for loop_name, make_loop in loops:
                    loop = make_loop()
                    try:
                        loop.run_until_complete(gibson_round())
                    finally:
                        loop.close()
                if redis_ctx:
                    loop = asyncio.new_event_loop()
                    try:
                        loop.run_until_complete(redis_round(redis_ctx.port, n, add))
                    finally:
                        loop.close()
        finally:
            if redis_ctx:
                redis_ctx.__exit__(None, None, None)
        sync.close()
    memory = asyncio.new_event_loop().run_until_complete(
        memory_per_request(10000 if args.quick else 100000))
    return rows, notes, memory, n, rounds


async def redis_round(port, n, add):
    import redis.asyncio as aioredis

    client = aioredis.Redis(host="127.0.0.1", port=port)
    await client.set("k", VALUE)
    add("redis.asyncio + hiredis: sequential", await async_sequential(client, n))
    add("redis.asyncio + hiredis: 100 tasks", await async_concurrent(client, n * 5))
    await client.aclose()


def _cell(values):
    med = statistics.median(values)
    if len(values) == 1:
        return "%.1f" % med
    return "%.1f (%.1f–%.1f)" % (med, min(values), max(values))


def report(rows, notes, memory, n, rounds):
    lines = ["| Client | CPU µs/op | wall µs/op | ops/s |", "|---|---:|---:|---:|"]
    medians = {}
    for name, meters in rows.items():
        cpu = [m.cpu_us for m in meters]
        wall = [m.wall_us for m in meters]
        medians[name] = (statistics.median(cpu), statistics.median(wall))
        lines.append("| %s | %s | %s | %.0f |" % (name, _cell(cpu), _cell(wall),
                                                  1e6 / statistics.median(wall)))
    lines.append("")
    sync_cpu = medians["sync Client: sequential"][0]
    pipe_wall = medians["sync Client: pipeline x100"][1]
    for loop_name in ("asyncio", "uvloop"):
        seq = medians.get("AsyncClient, %s: sequential" % loop_name)
        conc = medians.get("AsyncClient, %s: 100 coroutines" % loop_name)
        if seq is None:
            continue
        lines.append("- %s: sequential CPU ÷ sync Client's = %.2f (target ≤ 1.5); 100 "
                     "coroutines' throughput ÷ the sync pipeline's = %.2f (target ≥ 0.9)"
                     % (loop_name, seq[0] / sync_cpu, pipe_wall / conc[1]))
        redis_seq = medians.get("redis.asyncio + hiredis: sequential")
        redis_conc = medians.get("redis.asyncio + hiredis: 100 tasks")
        if redis_seq:
            lines.append("  - vs redis.asyncio: sequential CPU %.2f× less (target ≥ 3); "
                         "100-way throughput %.2f× (target ≥ 3)"
                         % (redis_seq[0] / seq[0], redis_conc[1] / conc[1]))
    lines.append("- memory: %.0f bytes of client memory per GET in flight (10^5 in flight; "
                 "target < 200)" % memory)
    lines.append("")
    lines.append("%d round(s); %d operations per sequential measurement, %d per concurrent "
                 "one; Python %s" % (rounds, n, n * 5, sys.version.split()[0]))
    lines.extend("- note: " + note for note in notes)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small round (< 30 s)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--ops", type=int, default=10000,
                        help="GETs per sequential measurement (5× for the concurrent ones)")
    args = parser.parse_args(argv)
    print(report(*run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
