"""``python -m benchmarks.reader``: the I/O-free Reader against hiredis.

A stream of N replies to GETs of a 10-byte value (Gibson: ``06 00 | 00 |
0a000000 | 10 bytes``, 17 bytes each) is fed to ``pygibson.Reader`` in 64 KB
chunks and taken out with ``gets()`` until it returns False; hiredis's
Reader gets the equivalent RESP stream (``$10\\r\\n<10 bytes>\\r\\n``, 17
bytes each) the same way. Replies per second of CPU time (process time:
no I/O is involved), best of several rounds, order alternating; ratios in
the same run. Rows: the untyped Reader (decoding by the reply alone, as
hiredis does), the typed Reader with an ``expect()`` per reply (what a
client that knows its requests pays), for each implementation present (the
C extension; the pure-Python twin, ``pygibson._protocol``). hiredis is an
optional dependency (``pip install hiredis``): without it its row is
skipped with a note.
"""

import argparse
import sys
import time

CHUNK = 64 * 1024
VALUE = b"0123456789"


def gibson_stream(n):
    return (b"\x06\x00\x00\x0a\x00\x00\x00" + VALUE) * n


def resp_stream(n):
    return (b"$10\r\n" + VALUE + b"\r\n") * n


def chunks(stream):
    return [stream[i:i + CHUNK] for i in range(0, len(stream), CHUNK)]


def drain(reader, pieces):
    """Feed every chunk, taking replies as they complete: what an asyncio
    protocol's data_received does. Returns the count taken."""
    feed, gets = reader.feed, reader.gets
    taken = 0
    for piece in pieces:
        feed(piece)
        while gets() is not False:
            taken += 1
    return taken


def drain_typed(reader, pieces, n):
    """The same, with one expect() per reply made before the data comes."""
    expect = reader.expect
    for _ in range(n):
        expect(3)  # GET
    return drain(reader, pieces)


def contenders(n):
    """(name, make a fresh reader, run it) for everything available."""
    found, notes = [], []
    gibson = chunks(gibson_stream(n))
    implementations = []
    try:
        from pygibson import _pygibson
        implementations.append(("C", _pygibson.Reader))
    except ImportError as exc:
        notes.append("no C extension: %s" % exc)
    try:
        from pygibson import _protocol
        implementations.append(("pure", _protocol.Reader))
    except ImportError as exc:
        notes.append("no pure-Python Reader: %s" % exc)
    for label, cls in implementations:
        found.append(("pygibson %s untyped" % label,
                      lambda cls=cls: cls(typed=False), lambda r: drain(r, gibson)))
        found.append(("pygibson %s typed+expect" % label,
                      lambda cls=cls: cls(), lambda r: drain_typed(r, gibson, n)))
    try:
        import hiredis
    except ImportError:
        notes.append("hiredis is not installed (pip install hiredis): no reference row")
    else:
        resp = chunks(resp_stream(n))
        found.append(("hiredis %s" % getattr(hiredis, "__version__", "?"),
                      hiredis.Reader, lambda r: drain(r, resp)))
    return found, notes


def measure(n, rounds):
    found, notes = contenders(n)
    best = {name: float("inf") for name, _, _ in found}
    for round_no in range(rounds):
        order = found[round_no % len(found):] + found[:round_no % len(found)]
        for name, make, run in order:
            reader = make()
            started = time.process_time()
            taken = run(reader)
            spent = time.process_time() - started
            if taken != n:
                raise AssertionError("%s took %d replies of %d" % (name, taken, n))
            best[name] = min(best[name], spent)
    return best, notes


def report(best, notes, n, rounds):
    reference = next((t for name, t in best.items() if name.startswith("hiredis")), None)
    lines = [
        "Reader: %d replies of a 10-byte GET fed in %d KB chunks, best of %d rounds "
        "(process CPU time)" % (n, CHUNK // 1024, rounds),
        "",
        "| Reader | ns per reply | replies/s | ÷ hiredis (rate) |",
        "|---|---:|---:|---:|",
    ]
    for name, spent in best.items():
        rate = n / spent
        ratio = "%.2f×" % (reference / spent) if reference else "–"
        lines.append("| %s | %.0f | %s | %s |" % (name, spent / n * 1e9,
                                                 "{:,.0f}".format(rate), ratio))
    lines += [""] + ["Note: %s" % note for note in notes]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reader", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replies", type=int, default=100000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="1,000 replies, 2 rounds")
    args = parser.parse_args(argv)
    n, rounds = (1000, 2) if args.quick else (args.replies, args.rounds)
    best, notes = measure(n, rounds)
    print(report(best, notes, n, rounds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
