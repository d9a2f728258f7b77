"""Running one call per server at the same time, on threads.

The clients release the GIL while they wait on a server, so calls made on
several threads wait together: a fan-out over N servers takes about one
round trip instead of N. Every call but the first is handed to a worker
thread, then the first runs on the caller's own thread, so all requests
are out before any reply is awaited.

Workers are kept between fan-outs and woken through a lock each (the
cheapest handoff CPython has: one release and one acquire per side, where
``concurrent.futures`` takes a queue, a future and a condition per call).
"""

import os
import threading
import weakref
from typing import Any, Callable, List, Optional, Sequence

__all__ = ["Runner"]

# Forks are counted rather than detected with os.getpid() on every fan-out.
_forks = [0]


def _count_fork() -> None:
    _forks[0] += 1


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_count_fork)


class _Worker:
    """A thread that runs one job at a time, handed over by ``start()``."""

    __slots__ = ("_go", "_done", "_job", "_result")

    def __init__(self) -> None:
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._job: Optional[Callable[[], Any]] = None
        self._result: Any = None
        # A daemon: an idle worker must not keep the interpreter from exiting.
        threading.Thread(target=self._loop, name="pygibson-hash", daemon=True).start()

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            job = self._job
            if job is None:  # stop()
                return
            try:
                self._result = job()
            except BaseException as error:  # handed to the caller, never lost
                self._result = error
            self._done.release()

    def start(self, job: Callable[[], Any]) -> None:
        self._job = job
        self._go.release()

    def wait(self) -> Any:
        self._done.acquire()
        result, self._job, self._result = self._result, None, None
        return result

    def stop(self) -> None:
        self._job = None
        self._go.release()


class Runner:
    """Runs jobs at the same time and returns their results in order.

    A job should return its outcome rather than raise (a fan-out keeps every
    server's part); an exception raised by a job on a worker is returned in
    its place. At most ``keep`` idle workers are kept; more are made when
    several threads fan out at once.
    """

    def __init__(self, keep: int):
        self._keep = keep
        self._idle: List[_Worker] = []
        self._generation = _forks[0]
        # A runner dropped without close() stops its idle workers all the
        # same, or each forgotten client would leave threads behind.
        weakref.finalize(self, _stop_all, self._idle)

    def run(self, jobs: Sequence[Callable[[], Any]]) -> List[Any]:
        if len(jobs) == 1:
            return [jobs[0]()]
        idle = self._idle
        if self._generation != _forks[0]:
            # The parent's workers do not exist in a child.
            idle.clear()
            self._generation = _forks[0]
        workers = []
        for job in jobs[1:]:
            try:
                worker = idle.pop()  # atomic: no lock needed between threads
            except IndexError:
                worker = _Worker()
            worker.start(job)
            workers.append(worker)
        try:
            results = [jobs[0]()]
        finally:
            # Even when the caller's own job is interrupted, the workers are
            # waited for, so none is handed out again while still busy.
            results_rest = [worker.wait() for worker in workers]
            for worker in workers:
                if len(idle) < self._keep:
                    idle.append(worker)
                else:
                    worker.stop()
        return results + results_rest

    def close(self) -> None:
        """Stop the idle workers (new ones are made if needed later)."""
        if self._generation == _forks[0]:
            _stop_all(self._idle)
        else:
            self._idle.clear()


def _stop_all(idle: List[_Worker]) -> None:
    while idle:
        idle.pop().stop()
