"""Server settings: the real server's directives, their defaults, and the
``gibson.conf`` format (docs/protocol.md §9.1).

A setting has one name everywhere: the directive name in ``gibson.conf``
(``max_key_size``), the keyword argument of ``GibsonServer``
(``max_key_size=512``) and the command-line flag (``--max-key-size`` or
``--max_key_size``).
"""

import os
from typing import Callable, Dict, Optional, Tuple, Union

__all__ = [
    "COMPILED_DEFAULTS",
    "DEFAULTS",
    "PACKAGED",
    "DIRECTIVES",
    "ConfigError",
    "Config",
    "parse_size",
    "parse_time",
    "parse_value",
    "read_config_file",
]


class ConfigError(ValueError):
    """A configuration file or value the server cannot start with."""


# Each directive: (kind, compiled default). Kinds decide how text is parsed:
# sizes take B/K/M/G, times s/m/h/d, "int" is a bare integer, "str" as is.
#: What a directive's value may be, by kind: int for sizes, times, ints and
#: modes, str (or None) for strings, bool for "bool".
Value = Union[int, str, bool, None]

DIRECTIVES: Dict[str, Tuple[str, Value]] = {
    "unix_socket": ("str", None),
    # Not a real directive (the real server makes its socket 0777): the
    # permissions of the unix socket, octal; owner only by default.
    "unix_socket_mode": ("mode", 0o700),
    "address": ("str", "127.0.0.1"),
    "port": ("int", 10128),
    "max_idletime": ("time", 1),
    "max_clients": ("int", 1024),
    "max_request_size": ("size", 4194304),
    "max_key_size": ("size", 512),
    "max_value_size": ("size", 4096),
    "max_response_size": ("size", 40960000),
    "max_item_ttl": ("time", 2592000),
    "max_memory": ("size", 2147483648),
    "compression": ("size", 40960),
    "cron_period": ("int", 100),
    "expired_cron": ("time", 5),
    "max_mem_cron": ("time", 15),
    "gc_ratio": ("time", 900),
    # Accepted so that a real gibson.conf loads; see Config below.
    "daemonize": ("int", 0),
    "pidfile": ("str", None),
    "logfile": ("str", None),
    "loglevel": ("int", 1),
    "logflushrate": ("int", 1),
    # Not a real directive: reproduce the MGET count/pairs mismatch of
    # §3.4 (off by default, because it makes replies unparseable for most
    # clients; turn it on to test a client's robustness).
    "mget_count_bug": ("bool", False),
    # Not a real directive: the most bytes all connections together may
    # hold in frames not yet complete (at least max_request_size is
    # allowed); past it the connection that adds more is closed.
    "max_unfinished_bytes": ("size", 64 * 1024 * 1024),
}

COMPILED_DEFAULTS: Dict[str, Value] = {name: default for name, (_, default) in DIRECTIVES.items()}

# What installed servers run with: started without -c, the real binary
# reads the gibson.conf its package installs (docs/protocol.md §9.1), so
# these, not the compiled values, are the limits clients meet in practice.
# Left out: unix_socket (/var/run/gibson.sock: the embedded server serves
# TCP unless told otherwise), daemonize, pidfile and logfile.
PACKAGED: Dict[str, Value] = {
    "max_idletime": 30,
    "max_clients": 255,
    "max_request_size": 2 * 1024 * 1024,
    "max_key_size": 1024,
    "max_value_size": 2096127,
    "max_response_size": 15 * 1024 * 1024,
    "max_memory": 1024 * 1024 * 1024,
    "compression": 4096,
    "expired_cron": 15,
}

DEFAULTS: Dict[str, Value] = dict(COMPILED_DEFAULTS, **PACKAGED)

_SIZE_UNITS = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_with_units(text: str, units: Dict[str, int]) -> int:
    text = text.strip()
    if not text:
        raise ValueError("empty value")
    factor = 1
    if text[-1].lower() in units:
        factor = units[text[-1].lower()]
        text = text[:-1]
    if not text.isdigit():
        raise ValueError("not a number: %r" % text)
    return int(text) * factor


def parse_size(text: str) -> int:
    """``"4K"`` -> 4096: an integer with an optional B/K/M/G suffix (binary
    multiples, either case)."""
    return _parse_with_units(text, _SIZE_UNITS)


def parse_time(text: str) -> int:
    """``"15m"`` -> 900: seconds, with an optional s/m/h/d suffix."""
    return _parse_with_units(text, _TIME_UNITS)


def parse_mode(text: str) -> int:
    """``"0700"`` or ``"700"`` -> 0o700: permission bits, in octal."""
    text = text.strip()
    if text[:2].lower() == "0o":
        text = text[2:]
    value = int(text, 8)
    if not 0 <= value <= 0o777:
        raise ValueError("not a permission mode: %r" % text)
    return value


def parse_value(name: str, text: str) -> Value:
    """Parse the text of directive ``name``. Raises ValueError if it does
    not parse and ConfigError if the directive is unknown."""
    try:
        kind = DIRECTIVES[name][0]
    except KeyError:
        raise ConfigError("unknown directive %r" % name) from None
    if kind == "size":
        return parse_size(text)
    if kind == "time":
        return parse_time(text)
    if kind == "int":
        return int(text.strip())
    if kind == "mode":
        return parse_mode(text)
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered in ("1", "yes", "true", "on"):
            return True
        if lowered in ("0", "no", "false", "off"):
            return False
        raise ValueError("not a boolean: %r" % text)
    return text


def read_config_file(path: str, warn: Optional[Callable[[str], object]] = None
                     ) -> Dict[str, Value]:
    """Read a ``gibson.conf`` file into a dict of directive -> value.

    The real format: one ``key value`` per line, the value ending at the
    next whitespace (trailing text ignored); a line is a comment only if
    ``#`` is its first character; a key without a value is fatal. A value
    that does not parse falls back to the default, as in the real server;
    ``warn(message)`` is called about it (and about unknown directives,
    which the real server ignores too).
    """
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise ConfigError("cannot read configuration file %s: %s" % (path, exc)) from exc
    values: Dict[str, Value] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) < 2:
            raise ConfigError("%s:%d: directive %r has no value" % (path, number, fields[0]))
        name, text = fields[0], fields[1]
        if name not in DIRECTIVES:
            if warn:
                warn("%s:%d: unknown directive %r ignored" % (path, number, name))
            continue
        try:
            values[name] = parse_value(name, text)
        except ValueError:
            if warn:
                warn("%s:%d: bad value %r for %s, using the default" % (path, number, text, name))
    return values


def physical_memory() -> Optional[int]:
    """Total RAM in bytes, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


class Config:
    """The effective settings of one server.

    Every directive of :data:`DIRECTIVES` is an attribute. ``memory_usable``
    is ``max_memory``, or half the RAM when ``max_memory`` exceeds the RAM,
    as the real server decides at start-up. ``daemonize``, ``pidfile``,
    ``logfile`` and ``logflushrate`` are accepted and ignored (the server
    runs in the foreground and logs to stderr); ``max_idletime`` sets TCP
    keepalive, as in the real server, and lets a new client in at
    ``max_clients`` by closing a connection idle that long. Unset
    directives take the packaged gibson.conf's values (``PACKAGED``),
    or the compiled ones with ``compiled_defaults=True``.
    """

    # The directives (set from DIRECTIVES in __init__), for type checkers.
    unix_socket: Optional[str]
    unix_socket_mode: int
    address: str
    port: int
    max_idletime: int
    max_clients: int
    max_request_size: int
    max_key_size: int
    max_value_size: int
    max_response_size: int
    max_item_ttl: int
    max_memory: int
    compression: int
    cron_period: int
    expired_cron: int
    max_mem_cron: int
    gc_ratio: int
    daemonize: int
    pidfile: Optional[str]
    logfile: Optional[str]
    loglevel: int
    logflushrate: int
    mget_count_bug: bool
    max_unfinished_bytes: int
    #: The machine's RAM in bytes (0 where unknown).
    memory_available: int
    #: The memory the server lets items use.
    memory_usable: int

    def __init__(self, compiled_defaults: bool = False, **values: Value) -> None:
        unknown = sorted(set(values) - set(DIRECTIVES))
        if unknown:
            raise TypeError("unknown server option(s): %s" % ", ".join(unknown))
        # Unset directives take the packaged gibson.conf's values, or with
        # compiled_defaults the values built into the real binary.
        settings = dict(COMPILED_DEFAULTS if compiled_defaults else DEFAULTS)
        settings.update(values)
        for name, value in settings.items():
            setattr(self, name, value)
        for name in ("max_key_size", "max_value_size", "max_request_size"):
            if getattr(self, name) < 1:
                raise ConfigError("%s must be at least 1" % name)
        if self.cron_period < 1:
            raise ConfigError("cron_period must be at least 1 ms")
        self.memory_available = physical_memory() or 0
        self.memory_usable = self.max_memory
        if self.memory_available and self.max_memory > self.memory_available:
            self.memory_usable = self.memory_available // 2

    def as_dict(self) -> Dict[str, Value]:
        """The directives and their values."""
        return {name: getattr(self, name) for name in DIRECTIVES}
