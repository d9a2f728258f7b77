"""``python -m benchmarks``: pygibson against a raw C loop and a minimal
pure-Python client, in one run, against the same server.

By default the embedded server is started as a separate process (never in
this one: its CPU would count as the client's), once over TCP and once over
a unix socket, each pinned to its own CPU when the machine has two or more.
``--address``/``--unix-socket`` measure a server that is already running
instead (it needs max_value_size >= 100 KB for the 100 KB rows).

Writes results.md (the tables), results.json (every round) and chart.png
(with matplotlib) to --output, and prints the markdown. ``--quick`` checks
that everything runs, in well under a minute: fewer rounds and operations,
no assertion on time. The exit status is 0 when every measurement ran.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

from .c_loop import BuildError, CLoop
from .contenders import PyGibson, PyRef
from .report import chart, markdown
from .runner import TARGET_RAW_BATCHES, Plan, Runner
from .server_process import ExternalServer, ServerProcess
from .workloads import WORKLOADS, prepare

HERE = os.path.dirname(os.path.abspath(__file__))


def _address(text):
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    return (host.strip("[]") or "127.0.0.1", int(port))


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--address", type=_address, metavar="HOST:PORT",
                        help="measure a running server over TCP")
    target.add_argument("--unix-socket", metavar="PATH",
                        help="measure a running server over a unix socket")
    parser.add_argument("--quick", action="store_true",
                        help="check that everything runs (2 rounds, few operations)")
    parser.add_argument("--output", metavar="DIR", default=os.path.join(HERE, "results"),
                        help="where results.md, results.json and chart.png go "
                             "(default benchmarks/results)")
    parser.add_argument("--runs", type=int, metavar="N",
                        help="rounds per row (default 7; --quick 2)")
    parser.add_argument("--ops", type=int, metavar="N",
                        help="operations per measurement of a 10 B op (default 2000; "
                             "--quick 300); 100 KB ops do a tenth, MGET a quarter")
    parser.add_argument("--only", metavar="NAMES",
                        help="comma-separated workloads for the main table (%s)"
                             % ",".join(w.name for w in WORKLOADS))
    parser.add_argument("--transports", default="tcp,unix",
                        help="with the embedded server: tcp, unix or both (default)")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not pin the server and the clients to separate CPUs")
    parser.add_argument("--peers", action="store_true",
                        help="instead, pygibson against redis-py + hiredis, pymemcache and "
                             "pylibmc, each against its own local server (peers.md, "
                             "peers.png); missing ones are skipped with a note")
    parser.add_argument("--profile", action="store_true",
                        help="instead of timing, profile the loops (strace -c, callgrind, "
                             "DHAT copies) into profile.md: where client CPU goes")
    return parser


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _git_commit():
    try:
        done = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        return done.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _pin_plan(enabled):
    """(server CPU, client CPUs), or (None, None) when not pinning."""
    if not enabled or not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[-1], set(cpus[:-1])


def _servers(args, server_cpu, output):
    if args.address:
        return [ExternalServer(args.address)]
    if args.unix_socket:
        return [ExternalServer(args.unix_socket)]
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]
    for transport in transports:
        if transport not in ("tcp", "unix"):
            raise SystemExit("unknown transport %r (tcp or unix)" % transport)
    return [ServerProcess(t, cpu=server_cpu,
                          log_path=os.path.join(output, "server-%s.log" % t))
            for t in transports]


def _profile(args, c_loop, server_cpu):
    """--profile: the profile report, against the first server."""
    from .profile import profile

    server = _servers(args, server_cpu, args.output)[0]
    with server:
        prepare(server.address)
        text = profile(args.output, c_loop, server.address, args.only_names)
    print(text)
    return 0


def _benchmark(args, plan, contenders, server_cpu, client_cpus):
    """The measurements, then results.json, chart.png and results.md."""
    import pygibson

    external = bool(args.address or args.unix_socket)
    notes = list(args.notes)
    started = datetime.datetime.now().astimezone()
    results, failures, described = {}, [], []
    for server in _servers(args, server_cpu, args.output):
        with server:
            print("server: %s" % server.describe(), file=sys.stderr, flush=True)
            described.append(server.describe())
            skipped = prepare(server.address)
            for name, why in skipped.items():
                notes.append("%s skipped on %s: %s" % (name, server.describe(), why))
            runner = Runner(contenders, plan)
            runner.run(server.address, server.transport, skipped)
            results.update(runner.results)
            failures += runner.failures

    elapsed = (datetime.datetime.now().astimezone() - started).total_seconds()
    commit = _git_commit()
    context = [
        "date: %s (%.0f s)" % (started.strftime("%Y-%m-%d %H:%M %Z"), elapsed),
        "machine: %s, %d CPUs, %s %s" % (_cpu_model(), os.cpu_count() or 0,
                                         platform.system(), platform.release()),
        "Python %s; pygibson %s%s" % (platform.python_version(), pygibson.__version__,
                                      ", commit %s" % commit if commit else ""),
        "server: %s" % ("; ".join(described) if external else
                        "the embedded pure-Python server (python -m pygibson.server), "
                        "a separate process: %s" % "; ".join(described)),
        "pinning: %s" % ("server on CPU %d, clients on CPU %s"
                         % (server_cpu, ",".join(map(str, sorted(client_cpus))))
                         if client_cpus else "none"),
        "rounds per row: %d%s; operations per measurement: %d for 10 B ops "
        "(100 KB: a tenth, MGET: a quarter, pipelines: at least %d batches); "
        "issue #5 target: %d rounds of pairs of {:,} operations".format(
            plan.target_batches * max(TARGET_RAW_BATCHES))
        % (plan.runs, " (--quick)" if args.quick else "", plan.ops, plan.min_batches,
           plan.target_rounds),
    ]
    for row, name, error in failures:
        notes.append("FAILED: %s on %s/%s/%s ×%d: %s"
                     % (name, row.transport, row.workload, row.mode, row.param, error))

    with open(os.path.join(args.output, "results.json"), "w") as out:
        json.dump({"context": context, "notes": notes,
                   "rows": [dict(row.__dict__, contender=name, **stats.as_dict())
                            for (row, name), stats in results.items()]}, out, indent=1)
    chart_note = chart(results, plan.workloads, os.path.join(args.output, "chart.png"))
    if chart_note:
        notes.append(chart_note)
    text = markdown(results, plan.workloads, context, notes,
                    None if chart_note else "chart.png")
    with open(os.path.join(args.output, "results.md"), "w") as out:
        out.write(text)
    print(text)
    if failures:
        print("%d measurement(s) failed" % len(failures), file=sys.stderr)
        return 1
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    runs = args.runs or (2 if args.quick else 7)
    ops = args.ops or (300 if args.quick else 2000)
    if runs < 1 or ops < 1:
        raise SystemExit("--runs and --ops must be at least 1")
    workloads = WORKLOADS
    args.only_names = None
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        unknown = wanted - {w.name for w in WORKLOADS}
        if unknown:
            raise SystemExit("unknown workloads: %s" % ", ".join(sorted(unknown)))
        args.only_names = wanted
        workloads = tuple(w for w in WORKLOADS if w.name in wanted or w.name == "get_10")
    plan = Plan(runs=runs, ops=ops, workloads=workloads, min_batches=1 if args.quick else 20,
                target_rounds=2 if args.quick else 31)
    os.makedirs(args.output, exist_ok=True)

    external = bool(args.address or args.unix_socket)
    server_cpu, client_cpus = _pin_plan(not args.no_pin and not external)
    if client_cpus:
        os.sched_setaffinity(0, client_cpus)

    if args.peers:
        if external:
            raise SystemExit("--peers starts its own servers: no --address/--unix-socket")
        from .peers import run as run_peers

        return run_peers(args, server_cpu, client_cpus)

    args.notes = []
    contenders = []
    c_loop = None
    try:
        c_loop = CLoop()
        contenders.append(c_loop)
    except BuildError as exc:
        args.notes.append("No C loop reference in this run: %s" % exc)
        print("warning: %s" % exc, file=sys.stderr)
    contenders += [PyRef(), PyGibson()]
    try:
        if args.profile:
            return _profile(args, c_loop, server_cpu)
        return _benchmark(args, plan, contenders, server_cpu, client_cpus)
    finally:
        if c_loop is not None:
            c_loop.close()


if __name__ == "__main__":
    sys.exit(main())
