"""The raw C loop (``raw_loop.c``): built at run time against the vendored
library's protocol layer, run as a process of its own that measures itself.

``CLoop`` offers the same measurements as the Python contenders. For
``concurrent``, one process per "thread" is started; each connects and warms
up, then all are released at once and the slowest sets the wall time.
"""

import json
import os
import shutil
import subprocess
import tempfile

from .measure import Sample

__all__ = ["CLoop", "BuildError", "LIBRARY_DIR"]

HERE = os.path.dirname(os.path.abspath(__file__))
LIBRARY_DIR = os.path.join(os.path.dirname(HERE), "vendor", "libgibsonclient")


class BuildError(RuntimeError):
    pass


def _compiler():
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


class CLoop:
    name = "C loop"

    def __init__(self, workdir=None):
        self._tmp = None
        if workdir is None:
            self._tmp = workdir = tempfile.mkdtemp(prefix="pygibson-raw-loop-")
        self.binary = os.path.join(workdir, "raw_loop")
        self._build()

    def _build(self):
        cc = _compiler()
        if cc is None:
            raise BuildError("no C compiler (cc, gcc or clang) on PATH")
        protocol = os.path.join(LIBRARY_DIR, "protocol.c")
        if not os.path.exists(protocol):
            raise BuildError("the vendored library is not at %s" % LIBRARY_DIR)
        cmd = [cc, "-O2", "-o", self.binary, os.path.join(HERE, "raw_loop.c"), protocol,
               "-I", LIBRARY_DIR]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise BuildError("%s failed:\n%s" % (" ".join(cmd), done.stderr))

    def close(self):
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def command(self, address, workload, ops, batch=1, wait_go=False):
        cmd = [self.binary]
        if isinstance(address, str):
            cmd += ["--unix", address]
        else:
            cmd += ["--tcp", address[0], str(address[1])]
        cmd += ["--op", workload.op, "--key", workload.key.decode(), "--ops", str(ops),
                "--batch", str(batch), "--value-size", str(max(1, workload.value_size))]
        if wait_go:
            cmd.append("--wait-go")
        return cmd

    @staticmethod
    def _sample(line):
        data = json.loads(line)
        return Sample(data["wall_us"], data["cpu_us"], data["user_us"], data["sys_us"],
                      data["ops"])

    def _run(self, cmd):
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError("raw_loop failed: %s" % done.stderr.strip())
        return self._sample(done.stdout.strip().splitlines()[-1])

    def sequential(self, address, workload, ops):
        return self._run(self.command(address, workload, ops))

    def pipelined(self, address, workload, ops, batch):
        batches = max(1, ops // batch)
        return self._run(self.command(address, workload, batches * batch, batch))

    def concurrent(self, address, workload, ops, threads):
        share = max(1, ops // threads)
        procs = [subprocess.Popen(self.command(address, workload, share, wait_go=True),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
                 for _ in range(threads)]
        try:
            for proc in procs:
                if proc.stdout.readline().strip() != "ready":
                    raise RuntimeError("raw_loop failed: %s" % proc.stderr.read().strip())
            for proc in procs:
                proc.stdin.write("go\n")
                proc.stdin.flush()
            samples = []
            for proc in procs:
                out, err = proc.communicate(timeout=600)
                if proc.returncode != 0:
                    raise RuntimeError("raw_loop failed: %s" % err.strip())
                samples.append(self._sample(out.strip().splitlines()[-1]))
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        total = sum(s.ops for s in samples)
        wall = max(s.wall_us * s.ops for s in samples)
        user = sum(s.user_us * s.ops for s in samples)
        system = sum(s.sys_us * s.ops for s in samples)
        return Sample.from_totals(wall / 1e6, user / 1e6, system / 1e6, total)
