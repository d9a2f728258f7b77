"""The fan-out runner: jobs at the same time, results in order, workers
kept between runs and never handed out while busy."""

import gc
import threading

from pygibson._fanout import Runner


def test_results_come_back_in_job_order():
    runner = Runner(keep=4)
    assert runner.run([lambda i=i: i * i for i in range(6)]) == [0, 1, 4, 9, 16, 25]
    runner.close()


def test_a_job_that_raises_on_a_worker_gives_its_exception():
    runner = Runner(keep=2)

    def boom():
        raise KeyError("boom")

    first, second = runner.run([lambda: "inline", boom])
    assert first == "inline" and isinstance(second, KeyError)
    runner.close()


def test_every_job_runs_on_a_thread_of_its_own_at_once():
    barrier = threading.Barrier(5)
    runner = Runner(keep=8)
    results = runner.run([lambda: barrier.wait(timeout=30) for _ in range(5)])
    assert sorted(results) == [0, 1, 2, 3, 4] and not barrier.broken
    runner.close()


def test_workers_are_kept_up_to_the_limit_and_reused():
    runner = Runner(keep=2)
    names = runner.run([threading.current_thread] * 5)
    assert names[0] is threading.current_thread()
    assert len(runner._idle) == 2
    again = runner.run([threading.current_thread] * 3)
    assert set(again[1:]) <= set(names[1:])  # the kept ones did the work
    runner.close()
    assert runner._idle == []


def test_runs_from_several_threads_at_once_do_not_share_busy_workers():
    runner = Runner(keep=3)
    errors = []

    def fan_out(index):
        for round_ in range(200):
            values = runner.run([lambda k=k: (index, round_, k) for k in range(4)])
            if values != [(index, round_, k) for k in range(4)]:
                errors.append(values)

    threads = [threading.Thread(target=fan_out, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    runner.close()


def test_a_runner_dropped_without_close_stops_its_workers():
    before = set(threading.enumerate())
    runner = Runner(keep=4)
    runner.run([lambda: None] * 4)
    workers = set(threading.enumerate()) - before
    assert len(workers) == 3
    del runner
    gc.collect()
    for worker in workers:
        worker.join(30)
        assert not worker.is_alive()
