"""``python -m benchmarks.cli_pipe``: gibson-cli's pipe mode against
``Client.pipeline()`` on the same lines (issue #16's target: under 2x).

N lines ``set key:<i> value-<i>`` (10^5 by default) are written to a file.
Two contenders, against one server in a process of its own (see
``server_process``), in alternating order, wall time of each round:

- ``gibson-cli``: ``python -m pygibson.cli -p PORT < lines > /dev/null``, a
  child process timed from its start to its exit, interpreter start-up and
  imports included: what a shell script pays.
- ``Client.pipeline()``: in this process, the same file read line by line,
  each split into its words and queued as ``pipe.set(key, value)``, executed
  in batches of gibson-cli's own batch size.

The figure is the median of the rounds and the ratio of the medians; the
start-up of gibson-cli alone (an empty input) is shown beside it. Measured,
not asserted. ``--quick`` runs one small round (CI's smoke test).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from pygibson import Client
from pygibson._cli.batch import BATCH_SIZE

from .server_process import ServerProcess

TARGET = 2.0
#: Both sides wait this long for progress (ms): the server is pure Python,
#: and a loaded machine can stall it past the client's default second.
TIMEOUT_MS = 60000


def write_lines(path, n):
    with open(path, "wb") as out:
        out.write(b"".join(b"set key:%d value-%d\n" % (i, i) for i in range(n)))


def time_cli(port, path):
    """Seconds for gibson-cli to run the file in pipe mode."""
    with open(path, "rb") as lines, open(os.devnull, "wb") as sink:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pygibson.cli", "-p", str(port),
                               "--timeout", str(TIMEOUT_MS)],
                              stdin=lines, stdout=sink, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError("gibson-cli exited %d: %s" % (done.returncode, done.stderr[-500:]))
    return elapsed


def time_pipeline(port, path):
    """Seconds for the same lines through Client.pipeline() in Python."""
    start = time.perf_counter()
    with Client(port=port, timeout=TIMEOUT_MS) as client, open(path, "rb") as lines:
        pipe = client.pipeline()
        for line in lines:
            _command, key, value = line.split()
            pipe.set(key, value)
            if len(pipe) >= BATCH_SIZE:
                pipe.execute()
        pipe.execute()
    return time.perf_counter() - start


def measure(n, rounds):
    with tempfile.TemporaryDirectory(prefix="pygibson-cli-bench-") as tmp, \
            ServerProcess("tcp") as server:
        port = server.address[1]
        path = os.path.join(tmp, "lines.txt")
        empty = os.path.join(tmp, "empty.txt")
        write_lines(path, n)
        write_lines(empty, 0)
        times = {"gibson-cli": [], "pipeline": [], "start-up": []}
        for round_number in range(rounds):
            order = [("gibson-cli", time_cli), ("pipeline", time_pipeline)]
            if round_number % 2:
                order.reverse()
            for name, run in order:
                times[name].append(run(port, path))
            times["start-up"].append(time_cli(port, empty))
    return {name: statistics.median(values) for name, values in times.items()}


def report(n, rounds, medians, out=sys.stdout):
    ratio = medians["gibson-cli"] / medians["pipeline"]
    out.write("%d set lines, %d round%s, median wall time\n"
              % (n, rounds, "" if rounds == 1 else "s"))
    out.write("  gibson-cli pipe mode   %8.3f s  (%.0f lines/s; start-up alone %.3f s)\n"
              % (medians["gibson-cli"], n / medians["gibson-cli"], medians["start-up"]))
    out.write("  Client.pipeline()      %8.3f s  (%.0f lines/s)\n"
              % (medians["pipeline"], n / medians["pipeline"]))
    out.write("  ratio                  %8.2f x  (target: under %.0fx, %s)\n"
              % (ratio, TARGET, "met" if ratio < TARGET else "NOT met"))
    return ratio


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cli_pipe",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of 10^4 lines")
    parser.add_argument("-n", type=int, default=None, help="lines (default 10^5)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    n = args.n or (10 ** 4 if args.quick else 10 ** 5)
    rounds = 1 if args.quick else args.rounds
    report(n, rounds, measure(n, rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
