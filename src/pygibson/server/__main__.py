"""Command line: ``python -m pygibson.server`` / ``pygibson-server``.

Settings come from the compiled defaults, then ``-c FILE`` (the real
``gibson.conf`` format), then command-line flags, each overriding the one
before, as in the real server. Every directive has a flag under its own
name, with dashes or underscores (``--max-key-size 1K``, ``--max_key_size
1K``). Logs go to stderr. SIGINT or SIGTERM stops the server cleanly: the
listener and all connections are closed and the unix socket file removed.
"""

import argparse
import asyncio
import logging
import signal
import sys
from typing import Dict, Optional, Sequence

from .clock import RealClock
from .commands import Engine
from .config import DIRECTIVES, Config, ConfigError, Value, parse_value, read_config_file
from .core import ServerCore
from .faults import Faults

log: logging.Logger = logging.getLogger("pygibson.server")

# gibson.conf's loglevel is 0=DEBUG .. 4=CRITICAL.
_LEVELS = {
    "0": logging.DEBUG, "debug": logging.DEBUG,
    "1": logging.INFO, "info": logging.INFO,
    "2": logging.WARNING, "warning": logging.WARNING,
    "3": logging.ERROR, "error": logging.ERROR,
    "4": logging.CRITICAL, "critical": logging.CRITICAL,
}

_HELP = {
    "unix_socket": "serve on this unix socket path instead of TCP",
    "unix_socket_mode": "permissions of the unix socket, octal (default 0700; "
                        "the real server leaves it 0777)",
    "address": "TCP address to bind (default 127.0.0.1)",
    "port": "TCP port (default 10128; 0 picks a free one)",
    "max_idletime": "TCP keepalive idle time in seconds; at max_clients, a "
                    "connection idle this long is closed for a new one (default 30; compiled 1)",
    "max_clients": "maximum concurrent connections (default 255; compiled 1024)",
    "max_request_size": "largest request frame (default 2M; compiled 4M)",
    "max_key_size": "key scan limit (default 1K; compiled 512)",
    "max_value_size": "values are silently cut to this (default 2096127; compiled 4096)",
    "max_response_size": "largest key-value reply (default 15M; compiled 40960000)",
    "max_item_ttl": "TTL clamp in seconds (default 2592000)",
    "max_memory": "SET/MSET refused above this memory use (default 1G; compiled 2G)",
    "compression": "values longer than this are LZF-compressed (default 4K; compiled 40960)",
    "cron_period": "cron tick in milliseconds (default 100)",
    "expired_cron": "expiry sweep period in seconds (default 15; compiled 5)",
    "max_mem_cron": "memory GC period in seconds (default 15)",
    "gc_ratio": "the memory GC frees items idle this long (default 900)",
    "loglevel": "0=debug .. 4=critical (default 1); see also --log-level",
    "max_unfinished_bytes": "bound on bytes of incomplete frames over all "
                            "connections (default 64M)",
    "mget_count_bug": "reproduce the real MGET count/pairs mismatch (1/0)",
}


def build_parser() -> argparse.ArgumentParser:
    """The command line's options: one flag per directive."""
    parser = argparse.ArgumentParser(
        prog="pygibson-server",
        description="A Gibson-compatible cache server (pure Python). The data "
                    "lives in memory only: it is gone when the server stops.")
    parser.add_argument("-c", "--config", metavar="FILE",
                        help="read directives from a gibson.conf file")
    parser.add_argument("--compiled-defaults", action="store_true",
                        help="unset directives take the real binary's compiled defaults "
                             "(max_value_size 4096, ...) instead of the packaged "
                             "gibson.conf's (max_value_size 2096127, ...)")
    parser.add_argument("--log-level", metavar="LEVEL",
                        help="debug, info, warning, error or critical (or 0-4)")
    for name in DIRECTIVES:
        flags = ["--" + name.replace("_", "-")]
        if "_" in name:
            flags.append("--" + name)
        parser.add_argument(*flags, dest=name, metavar="VALUE", default=None,
                            help=_HELP.get(name, "accepted for compatibility, ignored"))
    return parser


def load_config(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Config:
    """Defaults, then the config file, then the flags."""
    values: Dict[str, Value] = {}
    if args.config:
        try:
            values.update(read_config_file(args.config, warn=log.warning))
        except ConfigError as exc:
            parser.error(str(exc))
    for name in DIRECTIVES:
        text = getattr(args, name)
        if text is None:
            continue
        try:
            values[name] = parse_value(name, text)
        except ValueError:
            parser.error("bad value %r for --%s" % (text, name.replace("_", "-")))
    for name in ("daemonize", "pidfile", "logfile", "logflushrate"):
        if values.get(name):
            log.info("%s is ignored: the server runs in the foreground and logs to stderr",
                     name)
    try:
        return Config(compiled_defaults=args.compiled_defaults, **values)
    except (ConfigError, TypeError) as exc:
        parser.error(str(exc))


async def serve(config: Config,
                stop_signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM)) -> None:
    """Run a server until one of ``stop_signals`` arrives."""
    engine = Engine(config)
    core = ServerCore(engine, RealClock(), Faults())
    await core.start()
    loop = asyncio.get_running_loop()
    stopping: "asyncio.Future[int]" = loop.create_future()

    def on_signal(signum: int) -> None:
        log.info("signal %d received, stopping", signum)
        if not stopping.done():
            stopping.set_result(signum)

    for signum in stop_signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await stopping
    finally:
        for signum in stop_signals:
            loop.remove_signal_handler(signum)
        await core.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """pygibson-server: run until SIGINT or SIGTERM; 1 if the address
    cannot be served."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = load_config(args, parser)
    level_text = args.log_level if args.log_level is not None else str(config.loglevel)
    level = _LEVELS.get(level_text.lower())
    if level is None:
        parser.error("bad log level %r" % level_text)
    logging.getLogger().setLevel(level)
    try:
        asyncio.run(serve(config))
    except OSError as exc:
        log.critical("cannot serve: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
