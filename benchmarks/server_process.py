"""The server under test, in a process of its own.

The embedded server must not run in the measuring process: its CPU would
count as client CPU and it would compete for the GIL. ``ServerProcess``
runs ``python -m pygibson.server`` as a child (on a free TCP port, or on a
unix socket in a temporary directory), waits for its "listening on" line,
and stops it with SIGTERM. ``ExternalServer`` names a server someone else
runs.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

__all__ = ["ExternalServer", "ServerProcess", "SERVER_LIMITS"]

# Large enough for the 100 KB values; compression off (the real server's
# compiled defaults never compress either: max_value_size < compression).
SERVER_LIMITS = ("--max-value-size", "8M", "--max-request-size", "16M",
                 "--compression", "64M")

_LISTENING = re.compile(r"listening on (?:unix:(?P<path>\S+)|(?P<host>[^\s:]+):(?P<port>\d+))")


class ExternalServer:
    """A server already running: ``address`` is ``(host, port)`` or a path."""

    def __init__(self, address):
        self.address = address
        self.pid = None

    @property
    def transport(self):
        return "unix" if isinstance(self.address, str) else "tcp"

    def describe(self):
        if isinstance(self.address, str):
            return "unix:%s" % self.address
        return "%s:%d" % self.address

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        pass


class ServerProcess(ExternalServer):
    """``python -m pygibson.server`` in a child process.

    ``transport`` is "tcp" (127.0.0.1, a free port) or "unix" (a socket in a
    fresh temporary directory). ``cpu`` pins the server to that CPU (and is
    ignored where affinity cannot be set). ``log_path`` receives its stderr.
    """

    def __init__(self, transport="tcp", python=sys.executable, cpu=None, log_path=None,
                 extra_args=SERVER_LIMITS, start_timeout=30.0):
        super().__init__(None)
        self._transport = transport
        self._python = python
        self._cpu = cpu
        self._extra_args = tuple(extra_args)
        self._start_timeout = start_timeout
        self._tmp = tempfile.mkdtemp(prefix="pygibson-bench-")
        self.log_path = log_path or os.path.join(self._tmp, "server.log")
        self._proc = None

    @property
    def transport(self):
        return self._transport

    def start(self):
        args = [self._python, "-m", "pygibson.server", "--log-level", "info"]
        if self._transport == "unix":
            args += ["--unix-socket", os.path.join(self._tmp, "gibson.sock")]
        else:
            args += ["--address", "127.0.0.1", "--port", "0"]
        args += list(self._extra_args)
        with open(self.log_path, "wb") as log:
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=log,
                                          preexec_fn=self._pin)
        self.pid = self._proc.pid
        self.address = self._wait_listening()
        return self

    def _pin(self):
        if self._cpu is not None and hasattr(os, "sched_setaffinity"):
            try:
                os.sched_setaffinity(0, {self._cpu})
            except OSError:
                pass

    def _wait_listening(self):
        deadline = time.monotonic() + self._start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError("the server exited with status %s:\n%s"
                                   % (self._proc.returncode, self._log_tail()))
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                match = _LISTENING.search(log.read())
            if match:
                if match.group("path"):
                    return match.group("path")
                return (match.group("host"), int(match.group("port")))
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("the server did not start within %.0f s:\n%s"
                           % (self._start_timeout, self._log_tail()))

    def _log_tail(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                return "".join(log.readlines()[-20:])
        except OSError:
            return "(no log)"

    def stop(self):
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
