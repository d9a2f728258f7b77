"""HashClient places keys exactly where libmemcached does.

libmemcached itself decides here: pylibmc, with ``ketama_weighted``, stores
10^4 random keys over several real memcached servers, each server is then
asked which keys it holds, and ``HashClient.server_for`` must name that
server for every key, over the same server list (TCP, weighted, and unix
sockets).

Needs the ``memcached`` server and ``pylibmc`` (Debian packages
``memcached`` and ``libmemcached-dev``, the latter to build ``pip install
pylibmc``); skipped, saying so, without them.
"""

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from pygibson.hash import HashClient

pylibmc = pytest.importorskip(
    "pylibmc", reason="the ketama compatibility test needs pylibmc: apt-get install "
                      "libmemcached-dev, then pip install pylibmc")
MEMCACHED = shutil.which("memcached")
pytestmark = pytest.mark.skipif(
    MEMCACHED is None, reason="the ketama compatibility test needs the memcached server: "
                              "apt-get install memcached")

KEYS = 10_000


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def connect(address):
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX)
        sock.connect(address)
        return sock
    return socket.create_connection(address, timeout=5)


class Memcached:
    """A memcached on a loopback port or a unix socket, UDP off."""

    def __init__(self, unix_dir=None):
        if unix_dir:
            self.address = os.path.join(unix_dir, "m%d.sock" % free_port())
            where = ["-s", self.address]
        else:
            self.address = ("127.0.0.1", free_port())
            where = ["-l", "127.0.0.1", "-p", str(self.address[1])]
        # memcached refuses to run as root unless told which user to be.
        user = ["-u", "root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        self.process = subprocess.Popen([MEMCACHED, "-U", "0", "-m", "64"] + where + user,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()

    def _wait_ready(self):
        for _ in range(500):
            if self.process.poll() is not None:
                raise RuntimeError("memcached exited: %s" % self.process.stderr.read().decode())
            try:
                connect(self.address).close()
                return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("memcached did not start listening on %r" % (self.address,))

    def holding(self, keys):
        """The keys this server holds, asked in batches of plain gets."""
        found = set()
        with connect(self.address) as sock:
            for start in range(0, len(keys), 100):
                batch = [key.encode() for key in keys[start:start + 100]]
                sock.sendall(b"get " + b" ".join(batch) + b"\r\n")
                reply = b""
                while not reply.endswith(b"END\r\n"):
                    chunk = sock.recv(65536)
                    assert chunk, "memcached closed the connection"
                    reply += chunk
                found.update(line.split()[1].decode() for line in reply.split(b"\r\n")
                             if line.startswith(b"VALUE "))
        return found

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        self.process.stderr.close()


def random_keys(seed):
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-.é☃"
    return list({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) + str(i)
                 for i in range(KEYS)})


def pylibmc_spec(address, weight):
    if isinstance(address, str):
        return address  # pylibmc takes no weight for a unix socket spec
    return "%s:%d:%d" % (address[0], address[1], weight)


def hash_spec(address, weight):
    if isinstance(address, str):
        return address
    return ("%s:%d" % address, weight)


@pytest.mark.parametrize("weights,unix", [
    ((1, 1, 1, 1), False),
    ((1, 3, 1, 2, 5), False),
    ((1, 1, 1), True),
], ids=["four-equal", "five-weighted", "three-unix"])
def test_every_key_is_where_libmemcached_puts_it(weights, unix):
    unix_dir = tempfile.mkdtemp(prefix="pygibson-ketama-") if unix else None
    servers = []
    try:
        servers = [Memcached(unix_dir) for _ in weights]
        specs = list(zip([server.address for server in servers], weights))
        libmemcached = pylibmc.Client([pylibmc_spec(*spec) for spec in specs],
                                      behaviors={"ketama_weighted": True})
        keys = random_keys(seed=len(weights))
        for key in keys:
            libmemcached.set(key, b"1")
        where = {}
        for server, (address, weight) in zip(servers, specs):
            label = HashClient([hash_spec(address, weight)]).servers[0]
            for key in server.holding(keys):
                assert key not in where, "%r is on two servers" % key
                where[key] = label
        assert len(where) == len(keys), "memcached lost keys: raise its -m"

        client = HashClient([hash_spec(*spec) for spec in specs])
        wrong = [key for key in keys if client.server_for(key) != where[key]]
        assert wrong == [], "%d of %d keys placed differently, e.g. %r" % (
            len(wrong), len(keys), wrong[:3])
        # Every server took part, in proportion to its weight.
        counts = [sum(1 for label in where.values() if label == client.servers[i])
                  for i in range(len(servers))]
        assert all(count > 0 for count in counts)
    finally:
        for server in servers:
            server.stop()
        if unix_dir:
            shutil.rmtree(unix_dir, ignore_errors=True)
