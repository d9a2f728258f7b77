"""The server under abuse (issue #18): memory, sockets, idle connections.
The memory attack runs against a server in a subprocess, so its RSS is the
server's alone."""

import os
import socket
import subprocess
import sys
import time

import pytest

from .rawclient import OK, RawClient, frame

MB = 1024 * 1024


def _rss(pid):
    with open("/proc/%d/status" % pid) as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _spawn(path, *flags):
    proc = subprocess.Popen(
        [sys.executable, "-m", "pygibson.server", "--unix-socket", path] + list(flags),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):  # up to ~30 s for the server to listen
        try:
            RawClient(path, timeout=5.0).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError("server exited with %s" % proc.returncode)
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc")
def test_unread_pipelined_mget_replies_do_not_amplify_memory(tmp_path):
    path = str(tmp_path / "g.sock")
    value_size = 256 * 1024
    count = 16  # each MGET reply is about 4 MB
    proc = _spawn(path, "--max-value-size", str(value_size),
                  "--max-request-size", str(value_size + 4096),
                  "--max-response-size", str(8 * MB))
    try:
        loader = RawClient(path, timeout=30.0)
        value = b"v" * value_size
        for i in range(count):
            assert loader.call("SET", b"0 k%02d %s" % (i, value)) == value
        loader.call("PING")
        idle = _rss(proc.pid)
        attacker = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        attacker.connect(path)
        # 90 MGET frames in one write, and never read: unguarded, about
        # 90 x 4 MB of replies are queued.
        attacker.sendall(frame("MGET", b"k") * 90)
        peak = idle
        # The server answers others in between (one loop); a few rounds
        # let it reach whatever it will hold for the attacker.
        for _ in range(20):
            assert loader.call("PING") is not None
            peak = max(peak, _rss(proc.pid))
            time.sleep(0.05)
        # Bound: 2 x max_response_size above idle, plus interpreter slack.
        assert peak - idle < 2 * 8 * MB + 24 * MB, (idle, peak)
        attacker.close()
        loader.close()
    finally:
        proc.kill()
        proc.wait(30)
