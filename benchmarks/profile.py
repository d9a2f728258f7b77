"""``--profile``: where the client's CPU goes, per operation.

Every figure is a difference between two runs of the same loop that differ
only in their number of operations (``profile_target`` for the Python
contenders, ``raw_loop --warmup 0`` for C), divided by that difference, so
that interpreter start-up, imports and connecting cancel out:

- system calls per operation (``strace -f -c``);
- user-space instructions per operation (``valgrind --tool=callgrind``),
  in total and, for pygibson, by function;
- bytes copied per operation by memcpy/memmove and friends, by call site
  (``valgrind --tool=dhat --mode=copy``), for the 100 KB values.

Kernel time is not visible to callgrind; the syscall counts stand for it.
Writes profile.md beside results.md.
"""

import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from .workloads import WORKLOADS

__all__ = ["profile"]

C, PY, PG = "C loop", "pure-Python", "pygibson"
POOLED = "PooledClient"  # profile_target's name for PooledClient calls

# (workload, batch, small N, large N)
CASES = (
    ("get_10", 1, 200, 1200),
    ("get_10", 100, 200, 2200),
    ("set_10", 1, 200, 1200),
    ("mget_100", 1, 20, 120),
    ("get_100k", 1, 20, 120),
    ("set_100k", 1, 20, 120),
)
COPY_CASES = (("get_100k", 1, 10, 60), ("set_100k", 1, 10, 60))

_ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.+?)(?:\s+\[.*\])?$")


def _address_text(address):
    return address if isinstance(address, str) else "%s:%d" % address


def _command(contender, c_loop, address, workload, batch, ops):
    if contender == C:
        return c_loop.command(address, workload, ops, batch) + ["--warmup", "0"]
    return [sys.executable, "-m", "benchmarks.profile_target", contender, workload.name,
            str(batch), str(ops), _address_text(address)]


def _env():
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    # A fixed hash seed makes start-up identical from run to run, so that it
    # cancels out of the differences.
    env["PYTHONHASHSEED"] = "0"
    return env


def _run(cmd, **kwargs):
    done = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=900,
                          **kwargs)
    if done.returncode != 0:
        raise RuntimeError("%s failed:\n%s" % (" ".join(cmd[:6]), done.stderr[-2000:]))
    return done


# ---- strace ---------------------------------------------------------------

def _syscalls(cmd, tmp):
    out = os.path.join(tmp, "strace.txt")
    _run(["strace", "-f", "-c", "-o", out] + cmd)
    counts = {}
    with open(out) as summary:
        for line in summary:
            parts = line.split()
            if len(parts) in (5, 6) and parts[0][0].isdigit() and parts[-1] != "total":
                counts[parts[-1]] = int(parts[3])
    return counts


def _per_op(small, large, n_small, n_large):
    span = n_large - n_small
    keys = set(small) | set(large)
    return {k: (large.get(k, 0) - small.get(k, 0)) / span for k in keys}


# ---- callgrind -----------------------------------------------------------

def _callgrind(cmd, tmp):
    out = os.path.join(tmp, "callgrind.out")
    _run(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out] + cmd)
    done = _run(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no", out])
    functions = collections.Counter()
    total = 0
    for line in done.stdout.splitlines():
        match = _ANNOTATE_LINE.match(line)
        if not match:
            continue
        count = int(match.group(1).replace(",", ""))
        where = match.group(2).strip()
        if where == "PROGRAM TOTALS":
            total = count
            continue
        path, _, function = where.rpartition(":")
        functions["%s:%s" % (os.path.basename(path) or "?", function)] += count
    return total, functions


# ---- DHAT copy profiling -------------------------------------------------

def _copies(cmd, tmp):
    out = os.path.join(tmp, "dhat.json")
    env_cmd = ["valgrind", "--tool=dhat", "--mode=copy", "--dhat-out-file=" + out] + cmd
    _run(env_cmd)
    with open(out) as data:
        dhat = json.load(data)
    sites = collections.Counter()
    for point in dhat["pps"]:
        frames = [dhat["ftbl"][i] for i in point["fs"]]
        caller = next((f for f in frames[1:] if "vgpreload" not in f), "?")
        # "0x49A01BC: PyBytes_FromStringAndSize (bytesobject.c:142)"
        caller = caller.split(": ", 1)[-1]
        sites[caller] += point["tb"]
    return sites


# ---- the report ------------------------------------------------------------

def _fmt(value):
    return "%.1f" % value if abs(value) < 100 else "{:,.0f}".format(value)


def _pool_section(c_loop, address, workloads, tmp, log):
    """PooledClient against Client, one thread, GET 10 B: what the pool adds."""
    w = workloads["get_10"]
    small, large = 200, 1200
    rows = []
    for name in (PG, POOLED):
        log("  pool overhead: %s" % name)
        calls = _per_op(_syscalls(_command(name, c_loop, address, w, 1, small), tmp),
                        _syscalls(_command(name, c_loop, address, w, 1, large), tmp),
                        small, large)
        t1, _ = _callgrind(_command(name, c_loop, address, w, 1, small), tmp)
        t2, _ = _callgrind(_command(name, c_loop, address, w, 1, large), tmp)
        shown = sorted((k for k, v in calls.items() if v >= 0.005), key=lambda k: -calls[k])
        rows.append("| %s | %s | %s |" % (
            "Client.get" if name == PG else "PooledClient.get (1 connection)",
            ", ".join("%s %.2f" % (k, calls[k]) for k in shown),
            _fmt((t2 - t1) / (large - small))))
    return ["## What the pool adds, GET 10 B, one thread", "",
            "| Call | system calls/op | user-space instructions/op |", "|---|---|---:|"] + \
        rows + [""]


def profile(output, c_loop, address, only=None, log=None):
    """Profile against the server at ``address`` (prepared); returns the
    markdown and writes profile.md to ``output``. ``only`` limits the
    workloads (a set of names)."""
    log = log or (lambda text: print(text, file=sys.stderr, flush=True))
    cases = [c for c in CASES if not only or c[0] in only]
    copy_cases = [c for c in COPY_CASES if not only or c[0] in only]
    workloads = {w.name: w for w in WORKLOADS}
    have = {tool: shutil.which(tool) is not None
            for tool in ("strace", "valgrind", "callgrind_annotate")}
    contenders = ([C] if c_loop is not None else []) + [PY, PG]
    lines = ["# Where the client's CPU goes", "",
             "Per operation, as the difference between two runs of different lengths "
             "(see benchmarks/profile.py). User-space instructions come from callgrind; "
             "the kernel's share (most of the CPU for small requests) shows as system "
             "calls.", ""]
    tmp = tempfile.mkdtemp(prefix="pygibson-profile-")
    try:
        if have["strace"]:
            lines += ["## System calls per operation (strace -f -c)", "",
                      "| Operation | " + " | ".join(contenders) + " |",
                      "|---|" + "---|" * len(contenders)]
            for name, batch, small, large in cases:
                cells = []
                for contender in contenders:
                    log("  strace %s %s ×%d" % (contender, name, batch))
                    w = workloads[name]
                    per = _per_op(
                        _syscalls(_command(contender, c_loop, address, w, batch, small), tmp),
                        _syscalls(_command(contender, c_loop, address, w, batch, large), tmp),
                        small, large)
                    shown = sorted((k for k, v in per.items() if v >= 0.005),
                                   key=lambda k: -per[k])
                    cells.append("%.2f: %s" % (sum(per[k] for k in shown),
                                               ", ".join("%s %.2f" % (k, per[k])
                                                         for k in shown)))
                lines.append("| %s%s | %s |" % (workloads[name].label,
                                                "" if batch == 1 else " pipeline ×%d" % batch,
                                                " | ".join(cells)))
            lines.append("")
        else:
            lines += ["strace is not installed: no system call counts.", ""]

        if have["valgrind"] and have["callgrind_annotate"]:
            lines += ["## User-space instructions per operation (callgrind)", "",
                      "| Operation | " + " | ".join(contenders) + " | pygibson ÷ C |",
                      "|---|" + "---:|" * (len(contenders) + 1)]
            breakdowns = []
            for name, batch, small, large in cases:
                totals = {}
                for contender in contenders:
                    log("  callgrind %s %s ×%d" % (contender, name, batch))
                    w = workloads[name]
                    t1, f1 = _callgrind(_command(contender, c_loop, address, w, batch, small),
                                        tmp)
                    t2, f2 = _callgrind(_command(contender, c_loop, address, w, batch, large),
                                        tmp)
                    totals[contender] = (t2 - t1) / (large - small)
                    if contender == PG:
                        per = {k: (f2[k] - f1.get(k, 0)) / (large - small) for k in f2}
                        breakdowns.append((name, batch, totals[contender], per))
                ratio = totals[PG] / totals[C] if totals.get(C) else float("nan")
                lines.append("| %s%s | %s | %.1f |" % (
                    workloads[name].label, "" if batch == 1 else " pipeline ×%d" % batch,
                    " | ".join(_fmt(totals[c]) for c in contenders), ratio))
            lines.append("")
            for name, batch, total, per in breakdowns:
                lines += ["### pygibson, %s%s: %s instructions per operation" % (
                    workloads[name].label, "" if batch == 1 else " pipeline ×%d" % batch,
                    _fmt(total)), "",
                    "| Function (self cost) | instructions/op | share |", "|---|---:|---:|"]
                for function, count in sorted(per.items(), key=lambda kv: -kv[1])[:20]:
                    if count < 1:
                        break
                    lines.append("| `%s` | %s | %.0f%% |" % (function, _fmt(count),
                                                              100.0 * count / total))
                lines.append("")

            if "get_10" in {c[0] for c in cases}:
                lines += _pool_section(c_loop, address, workloads, tmp, log)
            lines += ["## Bytes copied in user space per operation (DHAT --mode=copy)", "",
                      "memcpy/memmove/strcpy and friends, by caller; the kernel's copy "
                      "into or out of the socket is not counted.", ""]
            for name, batch, small, large in copy_cases:
                w = workloads[name]
                for contender in (PY, PG):
                    log("  dhat %s %s" % (contender, name))
                    s1 = _copies(_command(contender, c_loop, address, w, batch, small), tmp)
                    s2 = _copies(_command(contender, c_loop, address, w, batch, large), tmp)
                    per = {k: (s2[k] - s1.get(k, 0)) / (large - small) for k in s2}
                    shown = sorted((k for k, v in per.items() if v >= 64), key=lambda k: -per[k])
                    lines.append("- %s, %s: %s bytes per operation (%.2f× the value)%s" % (
                        contender, w.label, _fmt(sum(per[k] for k in shown)),
                        sum(per[k] for k in shown) / w.value_size,
                        "".join("\n  - `%s`: %s" % (k, _fmt(per[k])) for k in shown)))
            lines.append("")
        else:
            lines += ["valgrind is not installed: no instruction or copy counts.", ""]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = "\n".join(lines)
    with open(os.path.join(output, "profile.md"), "w") as out:
        out.write(text)
    return text
