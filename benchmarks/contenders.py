"""The Python contenders, in this process: pygibson and the pure-Python
reference. Each offers the same three measurements as the C loop
(``c_loop.CLoop``):

    sequential(address, workload, ops)          one request at a time
    pipelined(address, workload, ops, batch)    batches of ``batch``
    concurrent(address, workload, ops, threads) ``threads`` threads at once

each returning a ``measure.Sample``. Every measurement opens its own
connections and warms them up before the clock starts. ``session`` gives
the bare loop, untimed, for the profilers.
"""

import threading
from itertools import repeat

from .measure import timed
from .pyref import OP_GET, OP_INC, OP_MGET, OP_SET, RawClient, frame

__all__ = ["PyGibson", "PyRef"]

TIMEOUT_MS = 120000  # the pure-Python server is slow on big pipelines


def _warmup_count(ops, batch=1):
    return max(batch, (max(5, ops // 20) // batch) * batch)


def _run_calls(call, args, count):
    """``count`` calls of ``call(*args)``, spelled out for one and two
    arguments: a star-call would add the interpreter's argument unpacking to
    every operation, which no application pays."""
    if len(args) == 1:
        (a,) = args
        for _ in repeat(None, count):
            call(a)
    elif len(args) == 2:
        a, b = args
        for _ in repeat(None, count):
            call(a, b)
    else:
        for _ in repeat(None, count):
            call(*args)


def _threads_timed(workers, ops):
    """Start every worker at once and time until all are done. Each worker
    takes the barrier: it warms up, waits at it, then runs its share."""
    barrier = threading.Barrier(len(workers) + 1)
    errors = []

    def body(worker):
        try:
            worker(barrier)
        except BaseException as exc:  # re-raised below, in the main thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=body, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()

    def loop():
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            pass
        for thread in threads:
            thread.join()

    sample = timed(loop, ops)
    if errors:
        raise errors[0]
    return sample


class _Contender:
    name = ""

    def connect(self, address):
        raise NotImplementedError

    def session(self, address, workload, batch=1):
        """``(run, close)``: ``run(n)`` performs n operations (a multiple
        of ``batch``) on a connection of its own, ``batch`` at a time."""
        raise NotImplementedError

    def _measure(self, address, workload, ops, batch):
        ops = max(batch, ops - ops % batch)
        run, close = self.session(address, workload, batch)
        try:
            run(_warmup_count(ops, batch))
            return timed(lambda: run(ops), ops)
        finally:
            close()

    def sequential(self, address, workload, ops):
        return self._measure(address, workload, ops, 1)

    def pipelined(self, address, workload, ops, batch):
        return self._measure(address, workload, ops, batch)

    def concurrent(self, address, workload, ops, threads):
        share = max(1, ops // threads)
        sessions = [self.session(address, workload) for _ in range(threads)]

        def worker(run):
            def body(barrier):
                run(_warmup_count(share))
                barrier.wait()
                run(share)
            return body

        try:
            return _threads_timed([worker(run) for run, _ in sessions], share * threads)
        finally:
            for _, close in sessions:
                close()


class PyGibson(_Contender):
    """The extension: ``Client`` for one connection, its ``pipeline()``, and
    one ``PooledClient`` shared by the threads of ``concurrent``."""

    name = "pygibson"

    def connect(self, address, pooled=0):
        import pygibson

        if isinstance(address, str):
            where = {"unix_socket": address}
        else:
            where = {"addr": address[0], "port": address[1]}
        if pooled:
            return pygibson.PooledClient(max_size=pooled, timeout=TIMEOUT_MS, **where)
        return pygibson.Client(timeout=TIMEOUT_MS, **where)

    def session(self, address, workload, batch=1):
        client = self.connect(address)
        args = workload.args()
        if batch == 1:
            call = getattr(client, workload.op)
            return (lambda n: _run_calls(call, args, n)), client.close

        pipe = client.pipeline()
        queue = getattr(pipe, workload.op)
        execute = pipe.execute

        def run(n):
            for _ in repeat(None, n // batch):
                _run_calls(queue, args, batch)
                execute()

        return run, client.close

    def concurrent(self, address, workload, ops, threads):
        pool = self.connect(address, pooled=threads)
        call = getattr(pool, workload.op)
        args = workload.args()
        share = max(1, ops // threads)

        def worker(barrier):
            _run_calls(call, args, _warmup_count(share))
            barrier.wait()
            _run_calls(call, args, share)

        try:
            return _threads_timed([worker] * threads, share * threads)
        finally:
            pool.close()


_OPCODES = {"get": OP_GET, "set": OP_SET, "inc": OP_INC, "mget": OP_MGET}


class PyRef(_Contender):
    """The minimal pure-Python socket client of ``pyref``; for
    ``concurrent``, one connection per thread."""

    name = "pure-Python"

    def connect(self, address):
        return RawClient(address)

    def session(self, address, workload, batch=1):
        client = RawClient(address)
        if batch == 1:
            call, args = getattr(client, workload.op), workload.args()
            return (lambda n: _run_calls(call, args, n)), client.close

        opcode = _OPCODES[workload.op]
        payload = b"0 %s %s" % workload.args() if workload.op == "set" else workload.key
        frame_len = len(frame(opcode, payload))
        pipeline = client.pipeline

        def run(n):
            for _ in repeat(None, n // batch):
                frames = b"".join([frame(opcode, payload) for _ in repeat(None, batch)])
                pipeline(frames, batch, frame_len)

        return run, client.close
