"""``python -m benchmarks.hash_bench``: HashClient over 4 servers against a
plain Client over one (issue #15's targets).

Five embedded servers run as processes of their own (never in this one:
their CPU would count as the client's): four make the HashClient's fleet,
the fifth serves the plain Client. Rows, each measured in rounds whose order
alternates, ratios taken within each round and reported as the median:

- GET 10 B, sequential: the client's CPU per operation (user + system of
  this process), cycling over 1,000 keys (whose servers HashClient then
  remembers), and over 30,000 (more than it remembers: every GET hashes its
  key). Target: HashClient ≤ 1.15× Client. A third contender, plain
  Clients on the same 4 servers picked from a dict by key, shows
  HashClient's own cost apart from talking to 4 servers instead of one.
- MGET of a prefix matching 100 keys of 10 B: wall time per call, the keys
  spread over the 4 servers against one server holding all 100. Target ≤ 1.3×.
- A pipeline of 1,000 GETs: operations per second, spread over 4 servers
  against one. Target ≥ 0.9×.

The reference is the plain Client on one server unless the row says
otherwise; the other references use the HashClient's own Clients on the
same 4 servers (the key's Client from a dict; or one server after another),
to tell HashClient's own costs from those of talking to 4 servers.

``--quick`` runs everything small (under 30 s) to check that it works;
nothing is asserted about time. ``--output FILE`` also writes the table as
markdown. When the machine has two or more CPUs the servers share the last
one and this process gets the others (``--no-pin`` leaves placement to the
OS).
"""

import argparse
import datetime
import os
import platform
import statistics
import sys

from pygibson import Client
from pygibson.hash import HashClient

from .measure import timed
from .server_process import ServerProcess

FLEET = 4
VALUE = b"0123456789"
GET_KEYS = ["get:%d" % i for i in range(1000)]
#: More distinct keys than a HashClient remembers the server of: every
#: GET over them hashes its key.
COLD_KEYS = ["cold:%d" % i for i in range(30000)]
MGET_KEYS = ["mget:%d" % i for i in range(100)]


def pin(no_pin):
    """(CPU for the servers, or None); moves this process off that CPU."""
    if no_pin or not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    os.sched_setaffinity(0, set(cpus[:-1]))
    return cpus[-1]


def fill(client):
    for start in range(0, len(COLD_KEYS), 1000):
        pipe = client.pipeline()
        for key in COLD_KEYS[start:start + 1000]:
            pipe.set(key, VALUE)
        pipe.execute()
    for key in GET_KEYS + MGET_KEYS:
        client.set(key, VALUE)


def get_loop(client, ops, keys=GET_KEYS):
    get, count = client.get, len(keys)

    def loop():
        for i in range(ops):
            get(keys[i % count])

    return loop


def cold_get_loop(client, ops):
    return get_loop(client, ops, COLD_KEYS)


class KeyedClients:
    """Plain Clients on the HashClient's servers, each key's picked from a
    dict: the same servers and sockets as HashClient, without its hashing
    and bookkeeping, so that the difference is HashClient's own cost."""

    def __init__(self, hashed):
        self.by_key = {key: hashed.client_for(key).get for key in GET_KEYS}

    def close(self):
        pass


def keyed_get_loop(clients, ops):
    by_key, keys, count = clients.by_key, GET_KEYS, len(GET_KEYS)

    def loop():
        for i in range(ops):
            key = keys[i % count]
            by_key[key](key)

    return loop


def mget_loop(client, calls):
    mget = client.mget

    def loop():
        for _ in range(calls):
            if len(mget("mget:")) != 100:
                raise AssertionError("MGET did not match the 100 keys")

    return loop


class SequentialClients:
    """The HashClient's own Clients used one after another, each key's
    server known in advance: what a fan-out costs without concurrency (and
    without any routing), on the same servers."""

    def __init__(self, hashed):
        self.clients = [shard.client for shard in hashed._shards]
        self.by_server = {}
        keys = [GET_KEYS[i % len(GET_KEYS)] for i in range(1000)]
        for key in keys:
            self.by_server.setdefault(hashed.client_for(key), []).append(key)


def sequential_mget_loop(clients, calls):
    every = clients.clients

    def loop():
        for _ in range(calls):
            merged = {}
            for client in every:
                merged.update(client.mget("mget:"))
            if len(merged) != 100:
                raise AssertionError("MGET did not match the 100 keys")

    return loop


def sequential_pipeline_loop(clients, batches):
    groups = list(clients.by_server.items())

    def loop():
        for _ in range(batches):
            done = 0
            for client, keys in groups:
                pipe = client.pipeline()
                for key in keys:
                    pipe.get(key)
                done += len(pipe.execute())
            if done != 1000:
                raise AssertionError("the pipelines lost results")

    return loop


def pipeline_loop(client, batches, size=1000):
    keys = [GET_KEYS[i % len(GET_KEYS)] for i in range(size)]

    def loop():
        for _ in range(batches):
            pipe = client.pipeline()
            for key in keys:
                pipe.get(key)
            if len(pipe.execute()) != size:
                raise AssertionError("the pipeline lost results")

    return loop


def rounds(contenders, make_loop, ops, count, warmup):
    """Per contender, the samples of ``count`` rounds; the order of the
    contenders rotates from round to round. A contender is (name, client)
    or (name, client, its own loop maker)."""
    samples = {contender[0]: [] for contender in contenders}
    for index in range(count):
        shift = index % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            name, client = contender[:2]
            make = contender[2] if len(contender) > 2 else make_loop
            make(client, warmup)()
            samples[name].append(timed(make(client, ops), ops))
    return samples


def ratio(samples, measure, reference="Client"):
    """The median over rounds of HashClient's figure over the reference's."""
    pairs = zip(samples["HashClient"], samples[reference])
    return statistics.median(measure(h) / measure(c) for h, c in pairs)


def median(samples, measure):
    return statistics.median(measure(sample) for sample in samples)


def run(args):
    server_cpu = pin(args.no_pin)
    servers = [ServerProcess("tcp", cpu=server_cpu).start() for _ in range(FLEET + 1)]
    try:
        single = servers[0].address
        fleet = ["%s:%d" % server.address for server in servers[1:]]
        # A long timeout: on a loaded machine a server can stall for a second,
        # which is noise to report, not a failure.
        plain = Client(addr=single[0], port=single[1], timeout=30000)
        hashed = HashClient(fleet, timeout=30000)
        contenders = [("Client", plain), ("HashClient", hashed)]
        for _, client in contenders:
            fill(client)
        spread = {server: sum(hashed.server_for(key) == server for key in MGET_KEYS)
                  for server in fleet}
        scale = 0.1 if args.quick else 1.0
        count = 3 if args.quick else args.rounds
        get_ops = max(200, int(args.ops * scale))
        mget_calls = max(20, int(args.ops * scale / 20))
        batches = max(2, int(args.ops * scale / 1000))

        keyed = ("Clients", KeyedClients(hashed), keyed_get_loop)
        gets = rounds(contenders + [keyed], get_loop, get_ops, count, max(20, get_ops // 20))
        colds = rounds(contenders, cold_get_loop, get_ops, count, 0)
        sequential = SequentialClients(hashed)
        mgets = rounds(contenders + [("one by one", sequential, sequential_mget_loop)],
                       mget_loop, mget_calls, count, 5)
        pipes = rounds(contenders + [("one by one", sequential, sequential_pipeline_loop)],
                       pipeline_loop, batches, count, 1)
        for _, client in contenders:
            client.close()
    finally:
        for server in servers:
            server.stop()

    cpu = (lambda s: s.cpu_us)
    wall = (lambda s: s.wall_us)
    rate = (lambda s: 1000 * s.ops_per_s)
    rows = [
        ("GET 10 B, client CPU µs per op", median(gets["Client"], cpu),
         median(gets["HashClient"], cpu), ratio(gets, cpu), "≤ 1.15", lambda r: r <= 1.15),
        ("GET 10 B, client CPU µs per op, against plain Clients on the same 4 servers",
         median(gets["Clients"], cpu), median(gets["HashClient"], cpu),
         ratio(gets, cpu, "Clients"), "(HashClient's own cost)", lambda r: r <= 1.15),
        ("GET 10 B, client CPU µs per op, %d keys: each one hashed" % len(COLD_KEYS),
         median(colds["Client"], cpu), median(colds["HashClient"], cpu), ratio(colds, cpu),
         "≤ 1.15", lambda r: r <= 1.15),
        ("MGET 100 keys, wall µs per call", median(mgets["Client"], lambda s: s.wall_us),
         median(mgets["HashClient"], lambda s: s.wall_us), ratio(mgets, lambda s: s.wall_us),
         "≤ 1.3", lambda r: r <= 1.3),
        ("MGET 100 keys, wall µs per call, against the same 4 servers' Clients one after "
         "another", median(mgets["one by one"], wall), median(mgets["HashClient"], wall),
         ratio(mgets, wall, "one by one"), "(what the fan-out's concurrency buys)",
         lambda r: r < 1),
        ("pipeline of 1,000 GETs, ops/s", median(pipes["Client"], rate),
         median(pipes["HashClient"], rate), ratio(pipes, lambda s: s.ops_per_s),
         "≥ 0.9", lambda r: r >= 0.9),
        ("pipeline of 1,000 GETs, ops/s, against the same 4 servers' pipelines one after "
         "another (keys sorted in advance)", median(pipes["one by one"], rate),
         median(pipes["HashClient"], rate), ratio(pipes, lambda s: s.ops_per_s, "one by one"),
         "(what the fan-out's concurrency buys)", lambda r: r >= 1),
    ]
    lines = [
        "# HashClient over %d servers against Client over one" % FLEET,
        "",
        "- date: %s UTC; %s" % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M"),
                                "quick mode (small, not for reporting)" if args.quick
                                else "%d rounds" % count),
        "- machine: %d CPUs, %s; Python %s (%s)" % (
            os.cpu_count() or 0, platform.system(), platform.python_version(),
            platform.python_implementation()),
        "- servers: the embedded server, %d processes%s" % (
            FLEET + 1, "" if server_cpu is None else ", sharing CPU %d; the client on the "
            "others" % server_cpu),
        "- the 100 MGET keys per fleet server: %s" % ", ".join(str(n) for n in spread.values()),
        "",
        "| Row | reference | HashClient (%d servers) | ratio (median of rounds) | "
        "target (issue #15) |" % FLEET,
        "|---|---:|---:|---:|---|",
    ]
    for name, plain_figure, hash_figure, value, target, met in rows:
        lines.append("| %s | %.1f | %.1f | %.2f %s | %s |" % (
            name, plain_figure, hash_figure, value, "✓" if met(value) else "✗", target))
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hash_bench",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small and fast: checks it runs")
    parser.add_argument("--rounds", type=int, default=9, help="rounds per row (default 9)")
    parser.add_argument("--ops", type=int, default=20000,
                        help="GETs per measurement (default 20000; MGET calls are a "
                             "twentieth, pipeline batches a thousandth)")
    parser.add_argument("--output", help="also write the table to this markdown file")
    parser.add_argument("--no-pin", action="store_true", help="do not pin to CPUs")
    args = parser.parse_args(argv)
    table = run(args)
    sys.stdout.write(table)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
