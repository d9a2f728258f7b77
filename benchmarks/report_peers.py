"""``--peers``: the markdown report and the chart of client CPU per
operation. ``rows`` maps (operation id, client name) to PeerSamples, one
per round; ``clients`` are the peers.Client objects that ran."""

import statistics

from .peers import (BATCH, C, LIBMC, OPERATIONS, PG, PG_ASYNC, PYMC, REDIS,
                    REDIS_ASYNC)

__all__ = ["markdown", "chart", "TARGETS"]

# Issue #20's targets: (label, operation, numerator, denominator, limit).
TARGETS = (
    ("Sequential GET 10 B: client CPU ÷ the C loop's", "get_10", PG, C, 1.05),
    ("Sequential SET 10 B: client CPU ÷ the C loop's", "set_10", PG, C, 1.05),
    ("Batches of 100: client CPU per op ÷ redis-py + hiredis's", "batch_100", PG, REDIS, 0.5),
)

COMPARABLE = """\
**What is and is not comparable.** Each client talks to its own server:
pygibson and the C loop to the embedded Gibson server (pure Python, so far
slower than the real C server), redis-py to redis-server, pymemcache and
pylibmc to memcached. **Client CPU** (this process's user + system time)
is the comparable figure: it is what the client costs the application, and
a slow server cannot hide it. **Wall time** is mostly the server's and is
not comparable across servers: the pure-Python Gibson server takes far
longer per request than redis or memcached, so pygibson's wall times say
nothing about the client. **Server CPU** is shown beside client CPU to make
that visible; it is the server process's CPU over the same timed loop (all
its threads, from /proc), and it includes work no client causes (redis's
and memcached's timers). The protocols differ: Gibson's is binary with
length prefixes; RESP (redis) frames with text lengths and CRLF;
memcached's text protocol (pymemcache, pylibmc's default) sends keys as
text and parses replies line by line. A GET 10 B is the same work for the
application everywhere (one key in, 10 bytes out as `bytes`); SET waits for
the server's reply with every client (pymemcache with `noreply=False`).
The batch row counts one operation per key: pygibson's and redis-py's
pipelines of 100 GETs (redis-py with `transaction=False`), memcached's
multi-get of 100 keys (`get_many`, `get_multi`: one request), the C loop's
100 pipelined GETs of one key. The async rows: `pygibson.asyncio`
multiplexes the 100 concurrent GETs on one connection, `redis.asyncio`
takes a connection per request in flight from its pool; both as shipped,
on asyncio's own event loop."""


def _med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _round_ratios(rows, op, num, den):
    """Client CPU of ``num`` over ``den`` within each round (index i of
    both lists is round i)."""
    a, b = rows.get((op, num), []), rows.get((op, den), [])
    return [x.sample.cpu_us / y.sample.cpu_us for x, y in zip(a, b) if y.sample.cpu_us > 0]


def _spread(values, digits=1):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    med = statistics.median(values)
    if len(values) == 1:
        return "%.*f" % (digits, med)
    return "%.*f (%.*f–%.*f)" % (digits, med, digits, min(values), digits, max(values))


def _cpu(rows, op, name):
    samples = rows.get((op, name))
    return _med([s.sample.cpu_us for s in samples]) if samples else None


def markdown(rows, clients, context, notes=(), chart_file=None):
    by_name = {c.name: c for c in clients}
    lines = ["# pygibson against other clients (`python -m benchmarks --peers`)", ""]
    lines += ["- %s" % line for line in context]
    lines += ["", COMPARABLE, ""]
    lines += ["Figures: µs per operation, median of the rounds (min–max). "
              "\"÷ pygibson\" is the client's median client CPU over pygibson's "
              "(the sync or the async one), so above 1 means it costs more.", ""]
    for op, label, _ in OPERATIONS:
        names = [c.name for c in clients if (op, c.name) in rows]
        if not names:
            continue
        mine = _cpu(rows, op, PG_ASYNC if op.startswith("async") else PG)
        lines += ["## %s" % label, "",
                  "| Client | Server | Protocol | client CPU | ÷ pygibson | server CPU "
                  "| wall |",
                  "|---|---|---|---:|---:|---:|---:|"]
        for name in sorted(names, key=lambda n: _cpu(rows, op, n)):
            samples = rows[(op, name)]
            client = by_name[name]
            cpu = _cpu(rows, op, name)
            lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                name, client.server, client.protocol,
                _spread([s.sample.cpu_us for s in samples]),
                "%.2f" % (cpu / mine) if mine else "n/a",
                _spread([s.server_us for s in samples]),
                _spread([s.sample.wall_us for s in samples])))
        lines.append("")
    lines += ["## Targets (issue #20; reported, not asserted)", "",
              "| Target | Ratio of medians | Per-round ratio: median (min–max) | Limit "
              "| Met |", "|---|---:|---:|---:|---|"]
    for label, op, num, den, limit in TARGETS:
        a, b = _cpu(rows, op, num), _cpu(rows, op, den)
        if a is None or b is None or not b:
            lines.append("| %s | n/a | n/a | ≤ %.2f | not measured |" % (label, limit))
            continue
        ratio = a / b
        lines.append("| %s | %.2f | %s | ≤ %.2f | %s |" % (
            label, ratio, _spread(_round_ratios(rows, op, num, den), 2), limit,
            "yes" if ratio <= limit else "no"))
    lines += ["", "Met or not is decided on the ratio of medians. The per-round ratio "
              "pairs the two measurements of the same round, which ran within seconds "
              "of each other, so it is less exposed to the machine's drift between "
              "rounds; its spread shows how far one run can be trusted.", ""]
    if chart_file:
        lines += ["![client CPU per operation](%s)" % chart_file, ""]
    if notes:
        lines += ["Notes:", ""] + ["- %s" % note for note in notes] + [""]
    return "\n".join(lines)


COLORS = {PG: "#dd8452", C: "#888888", REDIS: "#c44e52", PYMC: "#55a868", LIBMC: "#4c72b0",
          PG_ASYNC: "#e8a87c", REDIS_ASYNC: "#e07b7e"}


def chart(rows, clients, path):
    """Client CPU per operation, grouped by operation, one bar per client
    (median, min–max as error bars). Returns None, or why there is no chart."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install pygibson[bench]): no chart"
    ops = [(op, label) for op, label, _ in OPERATIONS
           if any((op, c.name) in rows for c in clients)]
    if not ops:
        return "nothing was measured: no chart"
    fig, ax = plt.subplots(figsize=(12, 6.5))
    per_group = max(sum((op, c.name) in rows for c in clients) for op, _ in ops)
    width = 0.8 / per_group
    seen = set()
    for i, (op, _) in enumerate(ops):
        names = [c.name for c in clients if (op, c.name) in rows]
        for k, name in enumerate(names):
            values = [s.sample.cpu_us for s in rows[(op, name)]]
            med = statistics.median(values)
            x = i - width * len(names) / 2 + width * (k + 0.5)  # centred on its label
            ax.bar(x, med, width, yerr=[[med - min(values)], [max(values) - med]],
                   color=COLORS.get(name, "#999999"), capsize=2,
                   label=None if name in seen else name)
            seen.add(name)
            ax.text(x, med, "%.1f" % med, ha="center", va="bottom", fontsize=6)
    ax.set_xticks(range(len(ops)))
    ax.set_xticklabels([label.replace("batch of %d" % BATCH, "batch of %d (per key)" % BATCH)
                        for _, label in ops], fontsize=8, rotation=15, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("client CPU µs per operation (log)")
    ax.set_title("Client CPU per operation, each client against its own local server "
                 "(lower is better)")
    # Below the axes: inside, it would hide the bars of the last groups.
    ax.legend(fontsize=8, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None

