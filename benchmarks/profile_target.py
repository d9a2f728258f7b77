"""A bare loop for the profilers: exactly N operations of one workload by
one Python contender, untimed and without warm-up, so that two runs of
different N differ by N operations and nothing else.

    python -m benchmarks.profile_target pygibson|pure-Python|PooledClient WORKLOAD BATCH N ADDRESS

PooledClient runs sequential calls through a PooledClient of one connection.

ADDRESS is HOST:PORT or a unix socket path.
"""

import sys

from .contenders import PyGibson, PyRef
from .workloads import WORKLOADS

POOLED = "PooledClient"


def parse_address(text):
    host, sep, port = text.rpartition(":")
    if sep and port.isdigit() and "/" not in text:
        return (host, int(port))
    return text


def main(argv):
    name, workload_name, batch, ops, address = argv
    workload = next(w for w in WORKLOADS if w.name == workload_name)
    if name == POOLED:
        pool = PyGibson().connect(parse_address(address), pooled=1)
        call, args = getattr(pool, workload.op), workload.args()
        for _ in range(int(ops)):
            call(*args)
        pool.close()
        return
    contender = {c.name: c for c in (PyGibson(), PyRef())}[name]
    run, close = contender.session(parse_address(address), workload, int(batch))
    run(int(ops))
    close()


if __name__ == "__main__":
    main(sys.argv[1:])
