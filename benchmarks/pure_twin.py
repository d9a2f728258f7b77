"""``python -m benchmarks.pure_twin``: the pure-Python twin against the C
extension, client CPU per sequential GET of 10 bytes.

Three contenders in alternating rounds against one embedded server (a
process of its own): the extension's ``Client`` and the twin's
(``pygibson._pure.Client``) in this CPython process, and the twin under
PyPy (``pypy3``, a subprocess importing pygibson from this checkout's
``src``; skipped with a note when there is no ``pypy3``), which first runs
``--pypy-warmup`` calls so that its JIT has compiled the loop. Each
measurement opens its own connection, warms it up, and reads the process's
own CPU time (user + system) around the timed loop. Figures are medians
over rounds with the min–max; ratios are to the C extension on CPython in
the same run.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys

from .server_process import ServerProcess

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(os.path.dirname(HERE), "src")
KEY = b"bench:pure"
VALUE = b"x" * 10


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _gets(get, ops):
    for _ in range(ops):
        get(KEY)


def measure(client_class, address, ops, warmup):
    """Client CPU µs per GET over ``ops`` calls, after ``warmup`` calls.
    The warm-up runs the very loop that is then measured: under PyPy it is
    that loop the JIT compiles (a separate warm-up loop would leave the
    measured one to be traced and compiled inside the measurement)."""
    if isinstance(address, str):
        client = client_class(unix_socket=address, timeout=60000)
    else:
        client = client_class(addr=address[0], port=address[1], timeout=60000)
    try:
        client.set(KEY, VALUE)
        get = client.get
        _gets(get, warmup)
        started = cpu_seconds()
        _gets(get, ops)
        return (cpu_seconds() - started) / ops * 1e6
    finally:
        client.close()


def measure_in_pypy(address, ops, warmup):
    """The same measurement in a PyPy process; None when there is none."""
    pypy = shutil.which("pypy3")
    if pypy is None:
        return None
    done = subprocess.run(
        [pypy, "-m", "benchmarks.pure_twin", "--child", json.dumps(address),
         "--ops", str(ops), "--pypy-warmup", str(warmup)],
        cwd=os.path.dirname(HERE), capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=SRC))
    if done.returncode != 0:
        raise RuntimeError("the PyPy measurement failed:\n" + done.stderr[-2000:])
    return float(done.stdout.strip().splitlines()[-1])


def child(address, ops, warmup):
    """--child: one measurement with the twin, printed (run under PyPy)."""
    from pygibson import _pure

    address = address if isinstance(address, str) else tuple(address)
    print(measure(_pure.Client, address, ops, warmup))


def run(ops, rounds, pypy_warmup):
    from pygibson import _pure, _pygibson

    contenders = [
        ("C extension (CPython)", lambda a: measure(_pygibson.Client, a, ops, ops // 10)),
        ("pure twin (CPython)", lambda a: measure(_pure.Client, a, ops, ops // 10)),
        ("pure twin (PyPy, after %d warm-up calls)" % pypy_warmup,
         lambda a: measure_in_pypy(a, ops, pypy_warmup)),
    ]
    samples = {name: [] for name, _ in contenders}
    notes = []
    with ServerProcess("tcp") as server:
        for round_no in range(rounds):
            shift = round_no % len(contenders)
            for name, go in contenders[shift:] + contenders[:shift]:
                value = go(server.address)
                if value is None:
                    if "no pypy3" not in " ".join(notes):
                        notes.append("no pypy3 on this machine: no PyPy row")
                    continue
                samples[name].append(value)
    return samples, notes


def report(samples, notes, ops, rounds):
    reference = statistics.median(samples["C extension (CPython)"])
    lines = [
        "Client CPU per sequential GET 10 B, %d calls per measurement, %d rounds "
        "(median, min–max), embedded server over TCP in its own process" % (ops, rounds),
        "",
        "| Client | CPU µs per GET | ÷ C extension |",
        "|---|---:|---:|",
    ]
    for name, values in samples.items():
        if not values:
            continue
        median = statistics.median(values)
        lines.append("| %s | %.1f (%.1f–%.1f) | %.2f× |"
                     % (name, median, min(values), max(values), median / reference))
    lines += [""] + ["Note: %s" % note for note in notes]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pure_twin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pypy-warmup", type=int, default=20000)
    parser.add_argument("--quick", action="store_true", help="500 calls, 2 rounds")
    parser.add_argument("--child", metavar="ADDRESS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(json.loads(args.child), args.ops, args.pypy_warmup)
        return 0
    if args.quick:
        args.ops, args.rounds, args.pypy_warmup = 500, 2, 500
    samples, notes = run(args.ops, args.rounds, args.pypy_warmup)
    print(report(samples, notes, args.ops, args.rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
