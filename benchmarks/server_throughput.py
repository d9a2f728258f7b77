"""Throughput of pygibson's embedded server on one connection.

The server runs in its own process (``python -m pygibson.server``), pinned
to one CPU when the platform allows, and this process drives it over
loopback TCP with a raw socket client pinned to another CPU: first
sequentially (send a request, wait for its reply), then pipelined (batches
of requests written at once, replies read back). The request mix is SET,
GET and INC on a small key space.

    python benchmarks/server_throughput.py            # about 15 s
    python benchmarks/server_throughput.py --quick    # about 3 s
    python benchmarks/server_throughput.py --unix-socket

Prints requests per second for each mode, measured on the wall clock, and
the server's CPU time per request (from /proc, where available): on a
shared or loaded machine the wall-clock figures move with the neighbours,
while ``1 / cpu_per_request`` is what one dedicated core would sustain.
``--json`` prints one JSON object instead.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "src")


def frame(opcode, payload):
    return struct.pack("<Ih", len(payload) + 2, opcode) + payload


def workload(n):
    """n requests: a third SET, a third GET, a third INC, over 100 keys."""
    requests = []
    for i in range(n):
        key = b"key:%d" % (i % 100)
        kind = i % 3
        if kind == 0:
            requests.append(frame(1, b"0 " + key + b" value-%d" % i))
        elif kind == 1:
            requests.append(frame(3, key))
        else:
            requests.append(frame(5, b"counter:%d" % (i % 100)))
    return requests


def read_replies(sock, count, buf):
    """Read ``count`` complete replies; returns the leftover bytes."""
    while count:
        while len(buf) < 7:
            buf += _recv(sock)
        (size,) = struct.unpack_from("<I", buf, 3)
        while len(buf) < 7 + size:
            buf += _recv(sock)
        buf = buf[7 + size:]
        count -= 1
    return buf


def _recv(sock):
    data = sock.recv(1 << 20)
    if not data:
        raise EOFError("server closed the connection")
    return data


def sequential(sock, requests):
    # Lean on purpose: in this mode the client's own time per request adds
    # to the round trip being measured.
    send = sock.sendall
    recv = sock.recv
    unpack = struct.unpack_from
    start = time.perf_counter()
    for request in requests:
        send(request)
        reply = recv(65536)
        while len(reply) < 7 or len(reply) < 7 + unpack("<I", reply, 3)[0]:
            more = recv(65536)
            if not more:
                raise EOFError("server closed the connection")
            reply += more
    return len(requests) / (time.perf_counter() - start)


def pipelined(sock, requests, depth):
    buf = b""
    start = time.perf_counter()
    for i in range(0, len(requests), depth):
        batch = requests[i:i + depth]
        sock.sendall(b"".join(batch))
        buf = read_replies(sock, len(batch), buf)
    return len(requests) / (time.perf_counter() - start)


# The floor any asyncio server pays: a protocol that answers every read
# with a fixed 8-byte reply and does nothing else. Measured with the same
# client, it shows how much of a round trip is the event loop, the kernel
# and the machine rather than pygibson.server.
_ECHO_SERVER = """
import asyncio, sys
class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        self.transport.write(b"\\x05\\x00\\x00\\x01\\x00\\x00\\x00\\x00")
async def main():
    if sys.argv[1].startswith("/"):
        await asyncio.get_running_loop().create_unix_server(Echo, sys.argv[1])
    else:
        await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", int(sys.argv[1]))
    await asyncio.Event().wait()
asyncio.run(main())
"""


def cpu_seconds(pid):
    """User + system CPU time of process ``pid``, or None off Linux."""
    try:
        with open("/proc/%d/stat" % pid) as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid, run, *args):
    """Run ``run(*args)``; returns (requests/s, server CPU seconds used)."""
    before = cpu_seconds(pid)
    rate = run(*args)
    after = cpu_seconds(pid)
    return rate, (after - before if before is not None else None)


def start_server(unix_path, server_cpu, echo=False):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(SRC))
    if echo:
        args = [sys.executable, "-c", _ECHO_SERVER]
    else:
        args = [sys.executable, "-m", "pygibson.server", "--log-level", "warning"]
    if unix_path:
        args += [unix_path] if echo else ["--unix-socket", unix_path]
    else:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        args += [str(port)] if echo else ["--port", str(port)]
    process = subprocess.Popen(args, env=env, stderr=subprocess.PIPE)
    if server_cpu is not None:
        os.sched_setaffinity(process.pid, {server_cpu})
    address = unix_path or ("127.0.0.1", port)
    deadline = time.monotonic() + 20
    while True:
        try:
            family = socket.AF_UNIX if unix_path else socket.AF_INET
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.connect(address)
            break
        except OSError:
            sock.close()
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError("the server did not start: %s"
                                   % process.stderr.read().decode(errors="replace"))
            time.sleep(0.05)
    if not unix_path:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return process, sock


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests (CI)")
    parser.add_argument("--unix-socket", action="store_true", help="use a unix socket")
    parser.add_argument("--depth", type=int, default=1000, help="pipeline batch size")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the bare asyncio echo server measurement")
    args = parser.parse_args(argv)

    n_seq = 20_000 if args.quick else 100_000
    n_pipe = 100_000 if args.quick else 500_000
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu = cpus[0] if len(cpus) >= 2 else None
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[1]})

    tmpdir = tempfile.mkdtemp(prefix="gibson-bench-")
    unix_path = os.path.join(tmpdir, "gibson.sock") if args.unix_socket else None
    try:
        process, sock = start_server(unix_path, server_cpu)
        try:
            sequential(sock, workload(2000))
            seq, seq_cpu = measured(process.pid, sequential, sock, workload(n_seq))
            pipe, pipe_cpu = measured(process.pid, pipelined, sock, workload(n_pipe), args.depth)
        finally:
            sock.close()
            process.send_signal(signal.SIGTERM)
            process.wait(20)
        echo = echo_cpu = None
        if not args.no_baseline:
            process, sock = start_server(unix_path, server_cpu, echo=True)
            try:
                ping = [frame(19, b"")] * n_seq
                sequential(sock, ping[:2000])
                echo, echo_cpu = measured(process.pid, sequential, sock, ping)
            finally:
                sock.close()
                process.kill()
                process.wait(20)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)

    result = {
        "transport": "unix" if args.unix_socket else "tcp",
        "python": "%d.%d.%d" % sys.version_info[:3],
        "server_pinned_to_one_cpu": server_cpu is not None,
        "sequential_requests_per_second": round(seq),
        "pipelined_requests_per_second": round(pipe),
        "pipeline_depth": args.depth,
        "bare_asyncio_echo_sequential_requests_per_second": echo and round(echo),
        "server_cpu_us_per_request": {
            "sequential": _per_request(seq_cpu, n_seq),
            "pipelined": _per_request(pipe_cpu, n_pipe),
            "bare_asyncio_echo_sequential": _per_request(echo_cpu, n_seq),
        },
        "requests": {"sequential": n_seq, "pipelined": n_pipe},
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("pygibson.server on %s, Python %s, server %s one CPU"
              % (result["transport"], result["python"],
                 "pinned to" if server_cpu is not None else "not pinned to"))
        cpu = result["server_cpu_us_per_request"]
        print("  sequential: %9d requests/s (%d requests)%s"
              % (seq, n_seq, _capacity(cpu["sequential"])))
        print("  pipelined:  %9d requests/s (%d requests, batches of %d)%s"
              % (pipe, n_pipe, args.depth, _capacity(cpu["pipelined"])))
        if echo:
            print("  baseline:   %9d requests/s sequential%s for a bare asyncio server"
                  " that answers without parsing: the ceiling on this machine"
                  % (echo, _capacity(cpu["bare_asyncio_echo_sequential"])))
    return 0


def _per_request(cpu, requests):
    return None if cpu is None else round(cpu / requests * 1e6, 1)


def _capacity(cpu_us):
    if not cpu_us:
        return ""
    return "; server CPU %.1f us/request = %d/s on one core" % (cpu_us, 1e6 / cpu_us)


if __name__ == "__main__":
    sys.exit(main())
