"""The Python contenders, in this process: pygibson and the pure-Python
reference. Each offers the same three measurements as the C loop
(``c_loop.CLoop``):

    sequential(address, workload, ops)          one request at a time
    pipelined(address, workload, ops, batch)    batches of ``batch``
    concurrent(address, workload, ops, threads) ``threads`` threads at once

each returning a ``measure.Sample``. Every measurement opens its own
connections and warms them up before the clock starts.
"""

import threading
from itertools import repeat

from .measure import timed
from .pyref import OP_GET, OP_INC, OP_MGET, OP_SET, RawClient, frame

__all__ = ["PyGibson", "PyRef"]

TIMEOUT_MS = 120000  # the pure-Python server is slow on big pipelines


def _warmup_count(ops):
    return max(5, ops // 20)


def _run_calls(call, args, count):
    for _ in repeat(None, count):
        call(*args)


def _threads_timed(workers, ops):
    """Start every worker (a callable) at once; time until all are done.
    Each worker warms up, waits at the barrier, then runs its share."""
    barrier = threading.Barrier(len(workers) + 1)
    errors = []

    def body(worker):
        try:
            worker(barrier)
        except BaseException as exc:  # reported below, in the main thread
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

    def close(self, client):
        client.close()

    def sequential(self, address, workload, ops):
        client = self.connect(address)
        try:
            call, args = getattr(client, workload.op), workload.args()
            _run_calls(call, args, _warmup_count(ops))
            return timed(lambda: _run_calls(call, args, ops), ops)
        finally:
            self.close(client)

    def concurrent(self, address, workload, ops, threads):
        clients = [self.connect(address) for _ in range(threads)]
        share = max(1, ops // threads)
        args = workload.args()

        def worker(client):
            def run(barrier):
                call = getattr(client, workload.op)
                _run_calls(call, args, _warmup_count(share))
                barrier.wait()
                _run_calls(call, args, share)
            return run

        try:
            return _threads_timed([worker(c) for c in clients], share * threads)
        finally:
            for client in clients:
                self.close(client)


class PyGibson(_Contender):
    """The extension: ``Client`` for one connection, its ``pipeline()``, and
    ``PooledClient`` shared by the threads of ``concurrent``."""

    name = "pygibson"

    def connect(self, address):
        import pygibson

        if isinstance(address, str):
            return pygibson.Client(unix_socket=address, timeout=TIMEOUT_MS)
        return pygibson.Client(addr=address[0], port=address[1], timeout=TIMEOUT_MS)

    def pipelined(self, address, workload, ops, batch):
        client = self.connect(address)
        args = workload.args()

        def run(batches):
            pipe = client.pipeline()
            queue = getattr(pipe, workload.op)
            for _ in repeat(None, batches):
                _run_calls(queue, args, batch)
                pipe.execute()

        try:
            run(max(1, _warmup_count(ops) // batch))
            batches = max(1, ops // batch)
            return timed(lambda: run(batches), batches * batch)
        finally:
            client.close()

    def concurrent(self, address, workload, ops, threads):
        import pygibson

        if isinstance(address, str):
            pool = pygibson.PooledClient(max_size=threads, unix_socket=address,
                                         timeout=TIMEOUT_MS)
        else:
            pool = pygibson.PooledClient(max_size=threads, addr=address[0], port=address[1],
                                         timeout=TIMEOUT_MS)
        share = max(1, ops // threads)
        args = workload.args()

        def worker(barrier):
            call = getattr(pool, workload.op)
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

    def pipelined(self, address, workload, ops, batch):
        client = RawClient(address)
        opcode = _OPCODES[workload.op]
        if workload.op == "set":
            payload = b"0 %s %s" % workload.args()
        else:
            payload = workload.key
        frame_len = len(frame(opcode, payload))

        def run(batches):
            for _ in repeat(None, batches):
                frames = b"".join([frame(opcode, payload) for _ in repeat(None, batch)])
                client.pipeline(frames, batch, frame_len)

        try:
            run(max(1, _warmup_count(ops) // batch))
            batches = max(1, ops // batch)
            return timed(lambda: run(batches), batches * batch)
        finally:
            client.close()

