"""A short tour of the client against the embedded server.

Run it with ``python -m pygibson.demo``: it needs no Gibson server, because it
starts pygibson's own Gibson-compatible server on a free port first (or uses
the server named by ``--address HOST:PORT``).
"""

import argparse
import sys
from typing import Optional, Sequence, TextIO

from . import Client, LockedError, NotFoundError, __version__
from .server import GibsonServer


def tour(client: Client, out: TextIO) -> None:
    """Show a few calls on client and what they return, on out."""

    def show(text: str, value: object) -> None:
        out.write("  %-42s -> %r\n" % (text, value))

    client.set("greeting", "hello", ttl=60)
    show("set('greeting', 'hello', ttl=60)", None)
    show("get('greeting')", client.get("greeting"))
    show("meta('greeting', 'ttl')", client.meta("greeting", "ttl"))
    show("inc('visits')", client.inc("visits"))
    show("inc('visits')", client.inc("visits"))
    for name in ("alice", "bob", "carol"):
        client.set("user:" + name, name.title())
    show("mget('user:')", client.mget("user:"))
    show("count('user:')", client.count("user:"))
    client.lock("user:bob", 30)
    try:
        client.set("user:bob", "Robert")
    except LockedError as error:
        show("set('user:bob', ...) while locked", error)
    client.unlock("user:bob")
    show("mdl('user:')", client.mdl("user:"))
    try:
        client.get("user:alice")
    except NotFoundError as error:
        show("get('user:alice') after mdl", error)
    pipe = client.pipeline()
    for _ in range(3):
        pipe.inc("visits")
    show("pipeline of 3 inc('visits')", pipe.execute())
    show("stats()['server_version']", client.stats()["server_version"])


def main(argv: Optional[Sequence[str]] = None) -> int:
    """python -m pygibson.demo: the tour on the embedded server (or on
    --address); the exit status."""
    parser = argparse.ArgumentParser(prog="python -m pygibson.demo", description=__doc__)
    parser.add_argument("--address", help="HOST:PORT of an existing Gibson server")
    args = parser.parse_args(argv)
    out = sys.stdout
    out.write("pygibson %s\n" % __version__)
    if args.address:
        host, _, port = args.address.rpartition(":")
        with Client(addr=host, port=int(port)) as client:
            tour(client, out)
        return 0
    with GibsonServer() as server:
        out.write("embedded Gibson-compatible server on %s:%d\n" % (server.host, server.port))
        with Client(addr=server.host, port=server.port) as client:
            tour(client, out)
    out.write("done\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
