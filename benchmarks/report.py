"""The results as a markdown report (tables, targets) and a PNG chart.

matplotlib is optional (the ``bench`` extra): without it the chart is
skipped with a note in the report.
"""

import math
import statistics

from .runner import TARGET_BATCH, TARGET_RAW_BATCHES, Row

__all__ = ["markdown", "chart", "TARGETS"]

C, PY, PG = "C loop", "pure-Python", "pygibson"

# (label, numerator stat, denominator contender, limit): issue #6.
TARGETS = (
    ("wall ÷ C", "wall", C, 1.05),
    ("CPU ÷ C", "cpu", C, 1.15),
    ("CPU ÷ pure-Python", "cpu", PY, 0.60),
)
PIPELINE_TARGET = 0.95  # issue #5: pipeline of 1,000 vs the best raw loop

TRANSPORT_NAMES = {"tcp": "TCP", "unix": "unix socket"}


def _num(value, digits=1):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value >= 10000:
        return "{:,.0f}".format(value)
    return "%.*f" % (digits, value)


def _spread(values, digits=1):
    """median (min–max)"""
    if not values:
        return "n/a"
    return "%s (%s–%s)" % (_num(statistics.median(values), digits), _num(min(values), digits),
                           _num(max(values), digits))


def _rate_spread(walls):
    """Throughput from per-op wall times: median (min–max) ops/s."""
    return _spread([1e6 / w for w in walls if w > 0], 0)


def _ratio(results, row, stat, denominator, pick=statistics.median):
    """pygibson's ``pick`` (median, or min) of ``stat`` over the reference's."""
    mine = results.get((row, PG))
    other = results.get((row, denominator))
    if mine is None or other is None or not mine.wall or not other.wall:
        return None
    a, b = pick(getattr(mine, stat)), pick(getattr(other, stat))
    return a / b if b > 0 else None


def _round_ratios(mine, others):
    """pygibson's throughput over the best of ``others`` in each round: the
    samples of one round sit at the same index and ran back to back, so the
    machine's drift between rounds cancels out."""
    rounds = min([len(mine.wall)] + [len(o.wall) for o in others]) if others else 0
    return [min(o.wall[i] for o in others) / mine.wall[i] for i in range(rounds)
            if mine.wall[i] > 0]


def _verdict(ratio, limit):
    if ratio is None:
        return "n/a"
    return "%.2f %s" % (ratio, "✓" if ratio <= limit else "✗")


def _rows(results, section, transport):
    rows = sorted({row for row, _ in results if row.section == section
                   and row.transport == transport},
                  key=lambda r: (r.workload, r.mode, r.param))
    return rows


def _ops_table(results, transport, workloads, lines, tally):
    labels = {w.name: w.label for w in workloads}
    order = {w.name: i for i, w in enumerate(workloads)}
    lines.append("| Operation | Mode | wall µs: C loop | pure-Python | pygibson "
                 "| CPU µs: C loop | pure-Python | pygibson "
                 "| wall ÷ C (≤ 1.05) | CPU ÷ C (≤ 1.15) | CPU ÷ Py (≤ 0.6) |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = sorted(_rows(results, "ops", transport),
                  key=lambda r: (order.get(r.workload, 99), r.mode != "sequential"))
    for row in rows:
        cells = [labels.get(row.workload, row.workload),
                 "sequential" if row.mode == "sequential" else "pipeline ×%d" % row.param]
        for stat in ("wall", "cpu"):
            for name in (C, PY, PG):
                stats = results.get((row, name))
                cells.append(_spread(getattr(stats, stat)) if stats else "n/a")
        for label, stat, denominator, limit in TARGETS:
            ratio = _ratio(results, row, stat, denominator)
            best = _ratio(results, row, stat, denominator, min)
            cells.append(_verdict(ratio, limit))
            if ratio is not None:
                counts = tally.setdefault(label, [0, 0, 0])
                counts[0] += ratio <= limit
                counts[1] += best is not None and best <= limit
                counts[2] += 1
        lines.append("| " + " | ".join(cells) + " |")


def _pipeline_table(results, transport, lines):
    lines.append("| Batch | ops/s: C loop | pure-Python | pygibson | pygibson ÷ best raw, "
                 "same batch (rounds) | CPU µs/op: C loop | pure-Python | pygibson |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in _rows(results, "pipeline", transport):
        cells = ["{:,}".format(row.param)]
        for name in (C, PY, PG):
            stats = results.get((row, name))
            cells.append(_rate_spread(stats.wall) if stats else "n/a")
        mine = results.get((row, PG))
        others = [results[(row, n)] for n in (C, PY) if (row, n) in results]
        ratios = _round_ratios(mine, others) if mine else []
        cells.append(_spread(ratios, 2) if ratios else "n/a")
        for name in (C, PY, PG):
            stats = results.get((row, name))
            cells.append(_spread(stats.cpu, 2) if stats else "n/a")
        lines.append("| " + " | ".join(cells) + " |")


def _target_section(results, transport, lines, verdicts):
    """Issue #5: pygibson ×1,000 over the C loop, pair by pair, at each of
    the C loop's batches; the best raw loop is the batch that gives the
    lowest median ratio."""
    medians = []
    lines.append("| C loop batch | pairs | C loop ops/s | pygibson ×{:,} ops/s | ratio "
                 "per pair | at or above {:.2f} |".format(TARGET_BATCH, PIPELINE_TARGET))
    lines.append("|---:|---:|---:|---:|---:|---:|")
    for batch in TARGET_RAW_BATCHES:
        row = Row("target", transport, "get_10", "pipelined", batch)
        raw, mine = results.get((row, C)), results.get((row, PG))
        if raw is None or mine is None:
            continue
        ratios = _round_ratios(mine, [raw])
        if not ratios:
            continue
        medians.append((statistics.median(ratios), batch, ratios))
        lines.append("| {:,} | {} | {} | {} | {} | {} |".format(
            batch, len(ratios), _rate_spread(raw.wall), _rate_spread(mine.wall),
            _spread(ratios, 2), sum(r >= PIPELINE_TARGET for r in ratios)))
    if not medians:
        return
    median, batch, ratios = min(medians)
    verdicts.append("%s: a pipeline of 1,000 reaches %.2f× the best raw loop (the C loop at "
                    "batches of {:,}; median of %d back-to-back pairs, %.2f–%.2f) %s".format(batch)
                    % (TRANSPORT_NAMES[transport], median, len(ratios), min(ratios),
                       max(ratios), "✓" if median >= PIPELINE_TARGET else "✗"))


def _pool_table(results, transport, lines):
    lines.append("| Threads | ops/s: C loop (processes) | pure-Python (threads) "
                 "| PooledClient (threads) | ÷ C | ÷ pure-Python "
                 "| CPU µs/op: C loop | pure-Python | PooledClient |")
    lines.append("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in _rows(results, "pool", transport):
        cells = [str(row.param)]
        for name in (C, PY, PG):
            stats = results.get((row, name))
            cells.append(_rate_spread(stats.wall) if stats else "n/a")
        mine = results.get((row, PG))
        for name in (C, PY):
            other = results.get((row, name))
            if mine and other and mine.wall and other.wall:
                cells.append("%.2f" % (mine.ops_per_s / other.ops_per_s))
            else:
                cells.append("n/a")
        for name in (C, PY, PG):
            stats = results.get((row, name))
            cells.append(_spread(stats.cpu, 2) if stats else "n/a")
        lines.append("| " + " | ".join(cells) + " |")


def markdown(results, workloads, context, notes=(), chart_file=None):
    """The whole report. ``results`` maps (Row, contender) to Stats;
    ``context`` is a list of "name: value" lines about the run."""
    lines = ["# pygibson benchmarks", ""]
    lines += ["- " + item for item in context]
    lines.append("")
    for note in notes:
        lines.append("> " + note)
        lines.append("")
    transports = [t for t in ("tcp", "unix")
                  if any(row.transport == t for row, _ in results)]
    tally = {}
    verdicts = []
    for transport in transports:
        lines += ["## Per operation, %s" % TRANSPORT_NAMES[transport], "",
                  "µs per operation, median (min–max) of the rounds; CPU is the client "
                  "process's own (user + system). Ratios are pygibson's median over the "
                  "reference's; ✓ meets the issue #6 target.", ""]
        _ops_table(results, transport, workloads, lines, tally)
        lines.append("")
    for transport in transports:
        lines += ["## Pipeline throughput, GET 10 B, %s" % TRANSPORT_NAMES[transport], "",
                  "The ratio column is the median (min–max) over rounds of pygibson's "
                  "throughput over the better raw loop's in the same round.", ""]
        _pipeline_table(results, transport, lines)
        lines.append("")
    for transport in transports:
        if not any(row.section == "target" and row.transport == transport
                   for row, _ in results):
            continue
        lines += ["## Issue #5 target, GET 10 B, %s" % TRANSPORT_NAMES[transport], "",
                  "Pairs of equal-length measurements, back to back: the C loop at a batch "
                  "of %s, and pygibson at %s. Ratio: pygibson's throughput over the C "
                  "loop's in the same pair, median (min–max) over the pairs."
                  % (" or ".join("{:,}".format(b) for b in TARGET_RAW_BATCHES),
                     "{:,}".format(TARGET_BATCH)), ""]
        _target_section(results, transport, lines, verdicts)
        lines.append("")
    for transport in transports:
        lines += ["## Pool throughput, GET 10 B, %s" % TRANSPORT_NAMES[transport], "",
                  "Each thread (or C process) has its own connection; pygibson's threads "
                  "share one PooledClient of that many connections.", ""]
        _pool_table(results, transport, lines)
        lines.append("")
    lines += ["## Targets", ""]
    for label, stat, denominator, limit in TARGETS:
        met, met_min, total = tally.get(label, (0, 0, 0))
        lines.append("- %s ≤ %s: met in %d of %d rows by the medians (%d by the fastest "
                     "rounds, which load from other processes touches least)"
                     % (label, limit, met, total, met_min))
    for verdict in verdicts:
        lines.append("- " + verdict)
    lines.append("")
    if chart_file:
        lines += ["![chart](%s)" % chart_file, ""]
    return "\n".join(lines)


def chart(results, workloads, path):
    """Write the PNG; returns None, or why it could not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install pygibson[bench]): no chart"
    contenders = (C, PY, PG)
    colors = {C: "#888888", PY: "#4c72b0", PG: "#dd8452"}
    fig, axes = plt.subplots(2, 2, figsize=(15, 10))
    seq = [(t, w) for t in ("tcp", "unix") for w in workloads
           if any(r.section == "ops" and r.transport == t and r.workload == w.name
                  for r, _ in results)]
    for ax, stat, title in ((axes[0][0], "cpu", "Client CPU µs per operation (sequential)"),
                            (axes[0][1], "wall", "Wall µs per operation (sequential)")):
        width = 0.8 / len(contenders)
        for k, name in enumerate(contenders):
            xs, ys, lo, hi = [], [], [], []
            for i, (transport, w) in enumerate(seq):
                stats = results.get((Row("ops", transport, w.name, "sequential"), name))
                values = getattr(stats, stat) if stats else []
                if not values:
                    continue
                med = statistics.median(values)
                xs.append(i + (k - 1) * width)
                ys.append(med)
                lo.append(med - min(values))
                hi.append(max(values) - med)
            ax.bar(xs, ys, width, yerr=[lo, hi], label=name, color=colors[name], capsize=2)
        ax.set_xticks(range(len(seq)))
        ax.set_xticklabels(["%s, %s" % (w.label, t.upper() if t == "tcp" else t)
                            for t, w in seq], fontsize=7, rotation=35, ha="right")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.legend()
    for ax, section, title, xlabel in (
            (axes[1][0], "pipeline", "Pipeline throughput, GET 10 B", "batch size"),
            (axes[1][1], "pool", "Pool throughput, GET 10 B", "threads")):
        for transport, style in (("tcp", "-"), ("unix", "--")):
            rows = sorted((r for r, _ in results if r.section == section
                           and r.transport == transport), key=lambda r: r.param)
            rows = sorted(set(rows), key=lambda r: r.param)
            for name in contenders:
                pts = [(r.param, results[(r, name)].ops_per_s) for r in rows
                       if (r, name) in results and results[(r, name)].wall]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o",
                            color=colors[name],
                            label="%s, %s" % (name, TRANSPORT_NAMES[transport]))
        params = sorted({r.param for r, _ in results if r.section == section})
        ax.set_xscale("log", base=10 if section == "pipeline" else 2)
        ax.set_xticks(params)
        ax.set_xticklabels(["{:,}".format(p) for p in params])
        if section == "pipeline":
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ops/s")
        ax.set_title(title)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None
