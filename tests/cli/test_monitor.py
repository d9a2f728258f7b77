"""--stat and --latency, stopped by --count."""

import re
import sys

from pygibson._cli.monitor import Samples, human_bytes

from .conftest import address_args

if sys.version_info >= (3, 10):
    from importlib.metadata import entry_points
else:  # pragma: no cover - 3.9's entry_points() is a dict by group
    from importlib.metadata import entry_points as _entry_points

    def entry_points(group):
        return _entry_points().get(group, [])


def test_stat_lines(server, run_cli):
    done = run_cli(*address_args(server), "--stat", "--count", "3", "--interval", "0.05")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.decode().splitlines()
    assert header.split() == ["items", "memory", "clients", "requests", "requests/s"]
    assert len(rows) == 3
    assert rows[0].split()[-1] == "-"        # no rate before a second sample
    assert re.fullmatch(r"\d+", rows[2].split()[-1])


def test_latency(server, run_cli):
    done = run_cli(*address_args(server), "--latency", "--count", "2", "--interval", "0.1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 2
    for line in lines:
        assert re.fullmatch(r"min: [\d.]+ ms, avg: [\d.]+ ms, max: [\d.]+ ms \(\d+ samples\)",
                            line), line


def test_latency_histogram(server, run_cli):
    done = run_cli(*address_args(server), "--latency-hist", "--count", "1",
                   "--interval", "0.1")
    assert done.returncode == 0, done.stderr
    summary, *bars = done.stdout.decode().splitlines()
    assert summary.startswith("min: ")
    assert bars and all(re.match(r"  <= +[\d.]+ ms \|#* *\d+$", bar) for bar in bars)


def test_no_server_exits_2(server, run_cli):
    port = server.port
    server.stop()
    for mode in ("--stat", "--latency"):
        done = run_cli("-p", str(port), mode, "--count", "1")
        assert done.returncode == 2
        [line] = done.stdout.decode().splitlines()
        assert line.startswith("(error) ConnectionError: ")


def test_samples():
    samples = Samples()
    assert samples.summary() == "no samples yet" and samples.histogram() == []
    for seconds in (0.0001, 0.0001, 0.0003, 0.002):
        samples.add(seconds)
    assert samples.summary() == ("min: 0.100 ms, avg: 0.625 ms, max: 2.000 ms (4 samples)")
    counts = [int(line.split()[-1]) for line in samples.histogram()]
    assert counts == [2, 0, 1, 0, 1]  # <= 128, 256, 512, 1024, 2048 us
    assert human_bytes(512) == "512B" and human_bytes(1536) == "1.50K"


def test_gibson_cli_is_a_console_script():
    [script] = [ep for ep in entry_points(group="console_scripts") if ep.name == "gibson-cli"]
    assert script.value == "pygibson.cli:main"
