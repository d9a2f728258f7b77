"""gibson-cli: a terminal client for Gibson, as redis-cli is for Redis.

    gibson-cli                      a prompt (line editing, history, completion)
    gibson-cli get foo              one command; exit 0, 1 if refused, 2 if no server
    gibson-cli < commands.txt       each line, pipelined; one reply per line
    gibson-cli --stat               a line per second of the server's figures
    gibson-cli --latency            PING round trips: min, avg, max

Commands are the client's methods and the protocol's names, in any case
(``set k v 60``, ``GET k``, ``mget user:``, ``meta k size``); ``help`` lists
them, from the same operation table the client is built on. Words are split
as a shell would: ``"a b"`` is one word, and ``\\x00``, ``\\n``, ``\\uXXXX``
escapes write any byte.

The server is ``-h``/``-p`` (or ``-s`` for a unix socket); without them,
``$PYGIBSON_TEST_ADDRESS`` (``HOST:PORT`` or a socket path, the variable the
pytest plugin reads) if set, else 127.0.0.1:10128.
"""

import argparse
import os
import signal
import sys

from . import IMPLEMENTATION, __version__
from ._address import ADDRESS_ENV, parse_address
from ._cli.batch import EXIT_INTERRUPTED, run_one_shot, run_pipe
from ._cli.monitor import run_latency, run_stat
from ._cli.output import Formatter
from ._cli.repl import Repl
from ._cli.session import Session

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    # -h is the host, as in redis-cli; help is --help only.
    parser = argparse.ArgumentParser(
        prog="gibson-cli", add_help=False, description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Without a command: a prompt on a terminal, else pipe mode on standard "
               "input. Type help at the prompt (or gibson-cli help) for the commands.")
    parser.add_argument("--help", action="help", help="show this help and exit")
    where = parser.add_argument_group("server")
    where.add_argument("-h", "--host", help="host name or address (default 127.0.0.1, "
                       "or from $%s)" % ADDRESS_ENV)
    where.add_argument("-p", "--port", type=int, help="TCP port (default 10128)")
    where.add_argument("-s", "--socket", metavar="PATH", help="unix socket path")
    where.add_argument("--timeout", type=int, default=1000, metavar="MS",
                       help="deadline of each request in ms, as the client's "
                            "(default 1000; 0: wait forever)")
    shown = parser.add_argument_group("output and input")
    shown.add_argument("--raw", action="store_true",
                       help="values as their raw bytes, numbers bare")
    shown.add_argument("-x", dest="stdin", action="store_true",
                       help="read standard input: with a command, as its last argument "
                            "(as redis-cli -x); without, as commands (pipe mode), even "
                            "from a terminal")
    watch = parser.add_argument_group("monitoring")
    watch.add_argument("--stat", action="store_true",
                       help="a line per interval: items, memory, clients, requests/s")
    watch.add_argument("--latency", action="store_true",
                       help="PING round trips: min, avg and max since the start")
    watch.add_argument("--latency-hist", action="store_true",
                       help="PING round trips as a histogram per interval")
    watch.add_argument("-i", "--interval", type=float, default=1.0, metavar="SECONDS",
                       help="between two reports (default 1)")
    watch.add_argument("--count", type=int, metavar="N",
                       help="stop after N reports (default: at Ctrl-C)")
    parser.add_argument("--version", action="version", version="gibson-cli (pygibson %s, %s)"
                        % (__version__, "C extension" if IMPLEMENTATION == "c"
                           else "pure Python"))
    parser.add_argument("command", nargs=argparse.REMAINDER,
                        help="a command and its arguments, run once")
    return parser


def client_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict:
    """The Client's address and timeout from the options and environment."""
    if args.timeout < 0:
        parser.error("--timeout must be 0 (wait forever) or a number of milliseconds")
    options = {"timeout": args.timeout or None}
    if args.socket:
        options["unix_socket"] = args.socket
        return options
    if args.host is None and args.port is None and os.environ.get(ADDRESS_ENV):
        try:
            target = parse_address(os.environ[ADDRESS_ENV])
        except ValueError as exc:
            parser.error("$%s: %s" % (ADDRESS_ENV, exc))
        if target.unix_socket:
            options["unix_socket"] = target.unix_socket
        else:
            options.update(addr=target.host, port=target.port)
        return options
    options["addr"] = args.host or "127.0.0.1"
    if args.port is not None:
        options["port"] = args.port
    return options


def _session(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Session:
    try:
        return Session(**client_options(args, parser))
    except (TypeError, ValueError) as exc:  # the client refused an option
        parser.error(str(exc))


def _import_readline():
    try:
        import readline
    except ImportError:  # Python built without it: a plain prompt
        return None
    return readline


def run(args, parser) -> int:
    out = sys.stdout.buffer
    formatter = Formatter(raw=args.raw)
    if args.interval <= 0:
        parser.error("--interval must be above 0")
    if args.count is not None and args.count < 1:
        parser.error("--count must be 1 or more")
    session = _session(args, parser)
    try:
        if args.stat:
            return run_stat(session, out, args.interval, args.count)
        if args.latency or args.latency_hist:
            return run_latency(session, out, args.interval, args.count,
                               histogram=args.latency_hist, redraw=out.isatty())
        if args.command:
            words = list(args.command)
            if args.stdin:
                words.append(sys.stdin.buffer.read().decode("utf-8", "surrogateescape"))
            return run_one_shot(session, formatter, words, sys.stderr.buffer, out)
        if args.stdin or not sys.stdin.isatty():
            return run_pipe(session, formatter, sys.stdin.fileno(), out)
        return Repl(session, formatter, out, _import_readline()).run()
    finally:
        session.close()


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return run(args, parser)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, and keep Python
        # from failing again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
