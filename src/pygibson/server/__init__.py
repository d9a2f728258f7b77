"""A Gibson-compatible cache server in pure Python (asyncio, standard library).

It answers like the real Gibson 1.2.1 server, byte for byte, as described in
docs/protocol.md: all 22 opcodes with the same reply codes, encodings and
payloads, the same check order, and the same quirks (prefix matching in
trie-insertion order, lazy and periodic expiry, the 16-bit TTL wrap, locks
sharing the TTL's time origin, COUNT's 0, INC/DEC creating 1, silent
truncation of over-long keys and values, ...).

Run it with ``python -m pygibson.server`` or ``pygibson-server`` (see
``--help``), or in-process::

    from pygibson.server import GibsonServer, ManualClock

    clock = ManualClock()
    with GibsonServer(clock=clock, max_value_size=1024) as srv:
        host, port = srv.address
        ...                       # talk to it over TCP
        clock.advance(60)         # TTLs and locks move without sleeping
        srv.faults.delay_replies(0.5)

Layout: ``protocol`` (framing, argument shapes, number parsing, replies),
``store`` (items and the trie), ``commands`` (the operations), ``lzf``
(compressed sizes), ``config`` (directives and gibson.conf), ``clock``,
``faults``, ``core`` (the asyncio server), ``embedded`` (GibsonServer) and
``__main__`` (the command line).

Deliberate differences from the real server
-------------------------------------------
Where the real server crashes, reads out of bounds or corrupts its state,
this one stays safe; everything else is emulated.

1. A request whose required value has no separator (``SET "0 k"``,
   ``TTL "k"``, ``LOCK "k"``, ``MSET "p"``, ``MTTL "p"``, ``MLOCK "p"``,
   ``META "k"``) gets ``REPL_ERR``; the real server reads past its buffer
   and may store heap garbage.
2. A 4-byte length prefix split across reads is reassembled; the real
   server corrupts the connection (it drops or hangs it). Any split of any
   frame works here.
3. A bad frame length (below 2 or above ``max_request_size``) closes the
   connection as soon as its 4 bytes arrive; the real server waits for
   more bytes or EOF first. Either way no reply is sent.
4. The MGET count/pairs mismatch after expiry (§3.4) is off by default:
   the count matches the pairs sent. ``mget_count_bug=True`` (or
   ``--mget-count-bug 1``) reproduces it.
5. The time is read from the clock before each batch of requests rather
   than once per cron tick, so expiry is not late by up to ``cron_period``
   (and a ManualClock takes effect on the next request).
6. ``memory_used`` is a model (48 bytes per item plus its key and stored
   size, 40 bytes per trie node), not an allocation count: the limits
   behave alike, the absolute figures differ. ``memory_fragmentation`` is
   always ``1.000000`` and the ``item_pool_*`` fields are modelled too.
7. The LZF decision and ``META size`` of compressed items follow liblzf's
   algorithm run on a zeroed hash table; the real server leaves the table
   uninitialised, which in rare cases can change the compressed size.
8. An existing file at the unix socket path is replaced only if it is a
   socket; the real server unlinks whatever is there.
9. ``daemonize``, ``pidfile``, ``logfile`` and ``logflushrate`` are
   accepted and ignored: the server stays in the foreground and logs to
   stderr. A config file value that does not parse falls back to the
   default, as in the real server, but with a warning.
10. STATS ``reqs_per_client_avg`` is ``0.000000`` before any connection
    (the real server divides by zero).
11. A connection reads ahead of its replies (the real server stops reading
    while a reply is pending; here reading pauses only when the unsent
    replies fill the transport's buffer). One visible effect: when the
    server closes a connection on a bad frame, the replies to the requests
    before it arrive complete, where the real server's close can turn into
    a reset that cuts them.
12. An internal error while running a request (a bug of ours) is logged
    and answered with ``REPL_ERR``; the connection stays usable.

Extras with no real counterpart: fault injection (``GibsonServer.faults``,
see :mod:`pygibson.server.faults`), an injectable clock, ``flush()``,
``run_cron()`` and ``disconnect_clients()``.
"""

from .clock import ManualClock, RealClock
from .config import Config, ConfigError
from .embedded import GibsonServer
from .faults import Faults

__all__ = ["GibsonServer", "ManualClock", "RealClock", "Faults", "Config", "ConfigError"]
