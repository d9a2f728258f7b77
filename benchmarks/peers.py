"""``python -m benchmarks --peers``: pygibson against the clients a user
would pick instead (redis-py with hiredis, pymemcache, pylibmc), in one run,
each against its own server started here (issue #20).

The servers: the embedded Gibson server (``python -m pygibson.server``),
``redis-server`` (persistence off) and ``memcached`` (UDP off), each a child
process on a free port of 127.0.0.1, all pinned to the same CPU and the
clients to the others, as ``python -m benchmarks`` pins. Only one of them
is busy at a time: the rows are measured one after the other.

Every row is measured in rounds, every client once per round, the order
rotating from round to round (the machine's speed drifts; rotation spreads
the drift over all of them). Per operation: wall µs, the client's CPU
(user + system of this process, ``getrusage``) and the server's CPU (the
sum of its threads' run time from ``/proc/PID/task/*/schedstat``, read
before and after the same timed loop). The C loop (``raw_loop.c``) is the
floor against the Gibson server, as in the main benchmark.

A client whose package or server is missing is skipped with a note; the
exit status is 0 unless a measurement that could run failed. Nothing is
asserted about time.

Writes peers.md, peers.json and peers.png (the chart, with matplotlib) to
``--output``.
"""

import asyncio
import datetime
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import traceback
from itertools import repeat

from .c_loop import BuildError, CLoop
from .measure import Sample
from .server_process import ServerProcess
from .workloads import LARGE, SMALL, value_of

__all__ = ["run", "server_cpu_s", "OPERATIONS"]

BATCH = 100  # keys per pipeline / multi-get
CONCURRENCY = 100  # coroutines in flight in the async "concurrent" rows

KEY_10 = "bench:v10"
KEY_SET = "bench:s10"
KEY_100K = "bench:v100k"
BATCH_KEYS = ["bench:m:%03d" % i for i in range(BATCH)]

# (id, label, share of --ops per measurement). A batch row counts one
# operation per key, so its figures compare with the sequential rows.
OPERATIONS = (
    ("get_10", "GET 10 B", 1.0),
    ("set_10", "SET 10 B", 1.0),
    ("get_100k", "GET 100 KB", 0.1),
    ("batch_100", "GET 10 B, batch of 100", 5.0),
    ("async_get_10", "async GET 10 B, sequential", 1.0),
    ("async_conc_100", "async GET 10 B, 100 concurrent", 5.0),
)
LABELS = {op: label for op, label, _ in OPERATIONS}

PG, C, REDIS, PYMC, LIBMC = "pygibson", "C loop", "redis-py + hiredis", "pymemcache", "pylibmc"
PG_ASYNC, REDIS_ASYNC = "pygibson.asyncio", "redis.asyncio + hiredis"


# ---- server CPU ----------------------------------------------------------------------


def server_cpu_s(pid):
    """CPU seconds a process has used, all its threads: nanoseconds from
    schedstat where the kernel has it (memcached answers on worker threads,
    and a 10 ms tick would be coarser than a whole short measurement), else
    utime + stime in clock ticks from /proc/PID/stat."""
    total, found = 0, False
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
                    found = True
            except (OSError, ValueError, IndexError):
                pass  # a thread that ended meanwhile
    except OSError:
        return None
    if found:
        return total / 1e9
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class PeerSample:
    """A client Sample plus the server's CPU µs per operation (or None)."""

    def __init__(self, sample, server_us):
        self.sample = sample
        self.server_us = server_us


def _rusage():
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def timed_with_server(loop, ops, pid):
    """``measure.timed`` and the server's CPU over the same loop."""
    server0 = server_cpu_s(pid)
    user0, sys0 = _rusage()
    wall0 = time.perf_counter()
    loop()
    wall1 = time.perf_counter()
    user1, sys1 = _rusage()
    server1 = server_cpu_s(pid)
    sample = Sample.from_totals(wall1 - wall0, user1 - user0, sys1 - sys0, ops)
    server = None if server0 is None or server1 is None else (server1 - server0) * 1e6 / ops
    return PeerSample(sample, server)


# ---- servers -------------------------------------------------------------------------


def _free_port():
    # Bound and released at once: the server binds it right after. Another
    # process could take it meanwhile; the start then fails and says so.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PeerServer:
    """redis-server or memcached as a child, on 127.0.0.1, pinned to ``cpu``."""

    def __init__(self, name, argv_for_port, cpu, log_path, start_timeout=10.0):
        self.name = name
        self.port = _free_port()
        self._argv = argv_for_port(self.port)
        self._cpu = cpu
        self._log_path = log_path
        self._start_timeout = start_timeout
        self._proc = None

    @property
    def pid(self):
        return self._proc.pid

    def describe(self):
        version = ""
        try:
            out = subprocess.run([self._argv[0], "--version"], capture_output=True,
                                 text=True, timeout=10).stdout.split()
            version = " " + next((w for w in out if w[:1].isdigit() or w.startswith("v=")),
                                 "").replace("v=", "")
        except (OSError, subprocess.SubprocessError):
            pass
        return "%s%s on 127.0.0.1:%d" % (self.name, version, self.port)

    def _pin(self):
        if self._cpu is not None and hasattr(os, "sched_setaffinity"):
            try:
                os.sched_setaffinity(0, {self._cpu})
            except OSError:
                pass

    def __enter__(self):
        with open(self._log_path, "wb") as log:
            self._proc = subprocess.Popen(self._argv, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=log, preexec_fn=self._pin)
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:  # bounded: the start timeout
            if self._proc.poll() is not None:
                raise RuntimeError("%s exited with status %s (log: %s)"
                                   % (self.name, self._proc.returncode, self._log_path))
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("%s did not listen within %.0f s" % (self.name, self._start_timeout))

    def __exit__(self, *exc_info):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def redis_server(cpu, log_path):
    return PeerServer("redis-server", lambda port: [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no"], cpu, log_path)


def memcached_server(cpu, log_path):
    # -U 0: no UDP listener; the default 64 MB and 1 MB items hold the
    # 100 KB value. memcached refuses to start as root unless told which
    # user to run as (CI runs as root): then it stays root.
    user = ["-u", "root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return PeerServer("memcached", lambda port: [
        "memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0"] + user, cpu, log_path)


# ---- the clients ---------------------------------------------------------------------
#
# Each client is a ``session(op)`` giving ``(run(n), close)``: ``run``
# performs n operations (a multiple of BATCH for the batch row) on a
# connection of its own. The loops are spelled out, with the bound method
# looked up once, the way a careful caller writes them; none adds work that
# another does not.


def _sync_session(op, get, set_, batch):
    """The timed loop of one operation, over a client's own get, set and
    batch of BATCH_KEYS."""
    if op == "set_10":
        value = value_of(SMALL)

        def run(n):
            for _ in repeat(None, n):
                set_(KEY_SET, value)
    elif op == "batch_100":
        def run(n):
            for _ in repeat(None, n // BATCH):
                batch()
    else:
        key = {"get_10": KEY_10, "get_100k": KEY_100K}[op]

        def run(n):
            for _ in repeat(None, n):
                get(key)
    return run


class Client:
    name = ""
    server = ""     # which server it talks to
    protocol = ""
    ops = ()        # the operations it can run
    is_async = False

    def __init__(self, address, pid):
        self.address = address
        self.pid = pid

    def measure(self, op, ops):
        run, close = self.session(op)
        try:
            run(max(BATCH if op == "batch_100" else 1, ops // 20))  # warm-up, untimed
            return timed_with_server(lambda: run(ops), ops, self.pid)
        finally:
            close()


class PyGibsonClient(Client):
    name = PG
    server = "Gibson (embedded, pure Python)"
    protocol = "Gibson binary"
    ops = ("get_10", "set_10", "get_100k", "batch_100")

    def session(self, op):
        import pygibson

        client = pygibson.Client(addr=self.address[0], port=self.address[1], timeout=120000)

        def batch():
            pipe = client.pipeline()
            queue = pipe.get
            for key in BATCH_KEYS:
                queue(key)
            return pipe.execute()

        return _sync_session(op, client.get, client.set, batch), client.close


class CLoopClient(Client):
    """The raw C loop, a process of its own: it warms up, says "ready",
    and runs the timed loop on "go", so the server's CPU is read around
    exactly that."""

    name = C
    server = PyGibsonClient.server
    protocol = "Gibson binary"
    ops = ("get_10", "set_10", "get_100k", "batch_100")
    _WORKLOAD = {"get_10": ("get", KEY_10, SMALL, 1), "set_10": ("set", KEY_SET, SMALL, 1),
                 "get_100k": ("get", KEY_100K, LARGE, 1),
                 "batch_100": ("get", KEY_10, SMALL, BATCH)}

    def __init__(self, address, pid, loop):
        super().__init__(address, pid)
        self.loop = loop

    def measure(self, op, ops):
        from .workloads import Workload

        verb, key, size, batch = self._WORKLOAD[op]
        workload = Workload(op, op, verb, key.encode(), size)
        cmd = self.loop.command(self.address, workload, ops, batch, wait_go=True)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            if proc.stdout.readline().strip() != "ready":
                raise RuntimeError("raw_loop failed: %s" % proc.stderr.read().strip())
            server0 = server_cpu_s(self.pid)
            proc.stdin.write("go\n")
            proc.stdin.flush()
            out, err = proc.communicate(timeout=600)
            server1 = server_cpu_s(self.pid)
            if proc.returncode != 0:
                raise RuntimeError("raw_loop failed: %s" % err.strip())
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        sample = CLoop._sample(out.strip().splitlines()[-1])
        server = None if server0 is None or server1 is None else \
            (server1 - server0) * 1e6 / sample.ops
        return PeerSample(sample, server)


class RedisClient(Client):
    name = REDIS
    server = "redis-server"
    protocol = "RESP (text framing)"
    ops = ("get_10", "set_10", "get_100k", "batch_100")

    def session(self, op):
        import redis

        client = redis.Redis(host=self.address[0], port=self.address[1])

        def batch():
            # transaction=False: a plain pipeline, no MULTI/EXEC around it.
            pipe = client.pipeline(transaction=False)
            queue = pipe.get
            for key in BATCH_KEYS:
                queue(key)
            return pipe.execute()

        return _sync_session(op, client.get, client.set, batch), client.close


class PymemcacheClient(Client):
    name = PYMC
    server = "memcached"
    protocol = "memcached text"
    ops = ("get_10", "set_10", "get_100k", "batch_100")

    def session(self, op):
        from pymemcache.client.base import Client as Memcache

        client = Memcache(self.address)
        set_ = client.set

        def set_waiting(key, value):
            # pymemcache's set defaults to noreply=True (it does not wait
            # for the server); every other client here waits for the reply.
            return set_(key, value, noreply=False)

        get_many = client.get_many
        return (_sync_session(op, client.get, set_waiting, lambda: get_many(BATCH_KEYS)),
                client.close)


class PylibmcClient(Client):
    name = LIBMC
    server = "memcached"
    protocol = "memcached text"
    ops = ("get_10", "set_10", "get_100k", "batch_100")

    def session(self, op):
        import pylibmc

        client = pylibmc.Client(["%s:%d" % self.address])
        get_multi = client.get_multi
        return (_sync_session(op, client.get, client.set, lambda: get_multi(BATCH_KEYS)),
                client.disconnect_all)


class _AsyncClient(Client):
    is_async = True
    ops = ("async_get_10", "async_conc_100")

    def measure(self, op, ops):
        # A fresh event loop per measurement, like a fresh connection.
        return asyncio.run(self._measure(op, ops))

    async def _measure(self, op, ops):
        client = self.connect()
        get = client.get
        try:
            if op == "async_get_10":
                async def run(n):
                    for _ in repeat(None, n):
                        await get(KEY_10)
            else:
                async def worker(n):
                    for _ in repeat(None, n):
                        await get(KEY_10)

                async def run(n):
                    await asyncio.gather(*[worker(n // CONCURRENCY)
                                           for _ in range(CONCURRENCY)])
                ops = max(CONCURRENCY, ops - ops % CONCURRENCY)
            await run(max(CONCURRENCY, ops // 20))  # warm-up, untimed
            server0 = server_cpu_s(self.pid)
            user0, sys0 = _rusage()
            wall0 = time.perf_counter()
            await run(ops)
            wall1 = time.perf_counter()
            user1, sys1 = _rusage()
            server1 = server_cpu_s(self.pid)
        finally:
            await self.aclose(client)
        sample = Sample.from_totals(wall1 - wall0, user1 - user0, sys1 - sys0, ops)
        server = None if server0 is None or server1 is None else (server1 - server0) * 1e6 / ops
        return PeerSample(sample, server)


class PyGibsonAsync(_AsyncClient):
    name = PG_ASYNC
    server = PyGibsonClient.server
    protocol = "Gibson binary"

    def connect(self):
        from pygibson.asyncio import AsyncClient

        return AsyncClient(addr=self.address[0], port=self.address[1], timeout=120000)

    async def aclose(self, client):
        await client.aclose()


class RedisAsync(_AsyncClient):
    name = REDIS_ASYNC
    server = "redis-server"
    protocol = RedisClient.protocol

    def connect(self):
        import redis.asyncio

        # Its pool gives each request in flight a connection of its own
        # (up to 100 in the concurrent row); pygibson.asyncio sends them all
        # on one. Either is what the user gets by default.
        return redis.asyncio.Redis(host=self.address[0], port=self.address[1])

    async def aclose(self, client):
        await client.aclose()


# ---- what is installed ------------------------------------------------------------


def _missing_module(*names):
    for name in names:
        try:
            __import__(name)
        except ImportError as exc:
            return "%s is not installed (%s)" % (name, exc)
    return None


def _missing_binary(name, package):
    if shutil.which(name) is None:
        return "%s is not on PATH (Debian package %s)" % (name, package)
    return None


# ---- the run ---------------------------------------------------------------------------


def _prepare_gibson(address):
    import pygibson

    client = pygibson.Client(addr=address[0], port=address[1], timeout=120000)
    try:
        client.set(KEY_10, value_of(SMALL))
        client.set(KEY_100K, value_of(LARGE))
        for key in BATCH_KEYS:
            client.set(key, value_of(SMALL))
    finally:
        client.close()


def _prepare_redis(port):
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        client.set(KEY_10, value_of(SMALL))
        client.set(KEY_100K, value_of(LARGE))
        client.mset({key: value_of(SMALL) for key in BATCH_KEYS})
    finally:
        client.close()


def _prepare_memcached(port):
    """Stores the values over memcached's text protocol on a bare socket,
    so that either client alone (pymemcache or pylibmc) is enough."""
    items = [(KEY_10, SMALL), (KEY_100K, LARGE)] + [(k, SMALL) for k in BATCH_KEYS]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        for key, size in items:
            sock.sendall(b"set %s 0 0 %d\r\n%s\r\n" % (key.encode(), size, value_of(size)))
            reply = reader.readline()
            if reply != b"STORED\r\n":
                raise RuntimeError("memcached refused %s (%d B): %r" % (key, size, reply))


class Results:
    def __init__(self):
        self.rows = {}  # (op, client name) -> list of PeerSample, one per round
        self.failures = []

    def add(self, op, name, sample):
        self.rows.setdefault((op, name), []).append(sample)


def measure_all(clients, runs, base_ops, log):
    """Every operation, ``runs`` rounds, every client that can run it once
    per round, the starting client rotating."""
    results = Results()
    for op, label, scale in OPERATIONS:
        ops = max(BATCH, int(base_ops * scale)) if scale > 1 else max(10, int(base_ops * scale))
        if op in ("batch_100", "async_conc_100"):
            ops -= ops % BATCH
        able = [c for c in clients if op in c.ops]
        broken = set()
        for rnd in range(runs):
            for i in range(len(able)):
                client = able[(rnd + i) % len(able)]
                if client.name in broken:
                    continue
                try:
                    results.add(op, client.name, client.measure(op, ops))
                except Exception as exc:  # reported, and the rest goes on
                    broken.add(client.name)
                    results.failures.append((op, client.name, repr(exc)))
                    log("  FAILED %s on %s: %s\n%s" % (client.name, label, exc,
                                                       traceback.format_exc()))
        log("  %-32s %s" % (label, "  ".join(
            "%s %.1f us" % (c.name, statistics.median(s.sample.cpu_us for s in
                                                         results.rows[(op, c.name)]))
            for c in able if (op, c.name) in results.rows)))
    return results


def run(args, server_cpu, client_cpus, log=None):
    """Starts what is installed, measures, writes peers.md/json/png to
    ``args.output``; returns the exit status."""
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    runs = args.runs or (2 if args.quick else 7)
    base_ops = args.ops or (300 if args.quick else 2000)
    out = args.output
    os.makedirs(out, exist_ok=True)
    notes = []
    started = datetime.datetime.now().astimezone()

    c_loop = None
    try:
        c_loop = CLoop()
    except BuildError as exc:
        notes.append("No C loop in this run: %s" % exc)

    redis_missing = (_missing_binary("redis-server", "redis-server")
                     or _missing_module("redis", "hiredis"))
    if not redis_missing:
        import redis.utils

        if not getattr(redis.utils, "HIREDIS_AVAILABLE", False):
            redis_missing = "redis-py does not find hiredis"
    memcached_missing = _missing_binary("memcached", "memcached")
    pymc_missing = memcached_missing or _missing_module("pymemcache")
    libmc_missing = memcached_missing or _missing_module("pylibmc")
    async_missing = _missing_module("pygibson.asyncio")
    for name, why in ((REDIS + " and " + REDIS_ASYNC, redis_missing), (PYMC, pymc_missing),
                      (LIBMC, libmc_missing), (PG_ASYNC, async_missing)):
        if why:
            notes.append("%s skipped: %s" % (name, why))

    servers, described = [], []
    gibson = ServerProcess("tcp", cpu=server_cpu, log_path=os.path.join(out, "peers-gibson.log"))
    try:
        gibson.start()
        servers.append(gibson)
        described.append("Gibson: the embedded pure-Python server on %s:%d" % gibson.address)
        _prepare_gibson(gibson.address)
        clients = [PyGibsonClient(gibson.address, gibson.pid)]
        if c_loop is not None:
            clients.append(CLoopClient(gibson.address, gibson.pid, c_loop))
        if not async_missing:
            clients.append(PyGibsonAsync(gibson.address, gibson.pid))
        def start(make, log_name, prepare):
            """The server started and loaded, or None with a note: a peer
            whose server will not start here is skipped like a missing one."""
            server = make(server_cpu, os.path.join(out, log_name))
            try:
                server.__enter__()
            except (OSError, RuntimeError) as exc:
                notes.append("%s did not start, its clients skipped: %s" % (server.name, exc))
                return None
            servers.append(server)
            try:
                prepare(server.port)
            except Exception as exc:  # the same: a note, not a failed run
                notes.append("%s could not be loaded, its clients skipped: %r"
                             % (server.name, exc))
                return None
            described.append(server.describe())
            return server

        server = None if redis_missing else start(redis_server, "peers-redis.log",
                                                  _prepare_redis)
        if server is not None:
            clients += [RedisClient(("127.0.0.1", server.port), server.pid),
                        RedisAsync(("127.0.0.1", server.port), server.pid)]
        server = None if pymc_missing and libmc_missing else start(
            memcached_server, "peers-memcached.log", _prepare_memcached)
        if server is not None:
            if not pymc_missing:
                clients.append(PymemcacheClient(("127.0.0.1", server.port), server.pid))
            if not libmc_missing:
                clients.append(PylibmcClient(("127.0.0.1", server.port), server.pid))
        log("peers: %s" % ", ".join(c.name for c in clients))
        results = measure_all(clients, runs, base_ops, log)
    finally:
        for server in reversed(servers):
            if server is gibson:
                server.stop()
            else:
                server.__exit__(None, None, None)
        if c_loop is not None:
            c_loop.close()

    from .report_peers import chart, markdown

    elapsed = (datetime.datetime.now().astimezone() - started).total_seconds()
    context = [
        "date: %s (%.0f s)" % (started.strftime("%Y-%m-%d %H:%M %Z"), elapsed),
        "machine: %s CPUs, %s %s; Python %s" % (os.cpu_count(), platform.system(),
                                                platform.release(),
                                                platform.python_version()),
        "servers: %s" % "; ".join(described),
        "pinning: %s" % ("every server on CPU %d, the clients on CPU %s"
                         % (server_cpu, ",".join(map(str, sorted(client_cpus))))
                         if client_cpus else "none"),
        "rounds per row: %d%s; operations per measurement: %d (GET 100 KB: %d; batch and "
        "100-concurrent rows: %d)" % (runs, " (--quick)" if args.quick else "", base_ops,
                                      max(10, base_ops // 10), base_ops * 5),
        "versions: %s" % _versions(),
    ]
    for op, name, error in results.failures:
        notes.append("FAILED: %s, %s: %s" % (name, LABELS[op], error))
    with open(os.path.join(out, "peers.json"), "w") as f:
        json.dump({"context": context, "notes": notes, "rows": [
            {"op": op, "client": name,
             "wall_us": [s.sample.wall_us for s in samples],
             "cpu_us": [s.sample.cpu_us for s in samples],
             "server_cpu_us": [s.server_us for s in samples]}
            for (op, name), samples in results.rows.items()]}, f, indent=1)
    chart_note = chart(results.rows, clients, os.path.join(out, "peers.png"))
    if chart_note:
        notes.append(chart_note)
    text = markdown(results.rows, clients, context, notes,
                    None if chart_note else "peers.png")
    with open(os.path.join(out, "peers.md"), "w") as f:
        f.write(text)
    print(text)
    return 1 if results.failures else 0


def _versions():
    found = []
    for module, label in (("pygibson", "pygibson"), ("redis", "redis-py"),
                          ("hiredis", "hiredis"), ("pymemcache", "pymemcache"),
                          ("pylibmc", "pylibmc")):
        try:
            found.append("%s %s" % (label, getattr(__import__(module), "__version__", "?")))
        except ImportError:
            pass
    return ", ".join(found)
