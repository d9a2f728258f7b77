"""Ending a call that waits on the server: a signal (Ctrl-C) and close()
from another thread.

Each case runs in a child process with a real signal sent by os.kill(), as
a terminal's Ctrl-C would send it, against a server that never answers: a
silent loopback listener (it accepts through the kernel's backlog and never
reads), or the embedded server with its replies held back, so that the
child can check that the client works afterwards. The bounds only tell
"at once" from "at the deadline or never" on a busy machine; the latency
measured is printed with -s.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

# A call must end this soon after the signal or close(); it would take the
# request's timeout (10 s here) or forever without the fix.
PROMPT = 5.0

CHILD = r"""
import importlib, json, os, signal, sys, threading, time
from pygibson.server import GibsonServer

scenario, port, timeout, implementation = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
Client = importlib.import_module(implementation).Client
timeout = None if timeout == "None" else int(timeout)
server = None
if port == 0:
    # The embedded server, its replies held back for a minute.
    server = GibsonServer().start()
    port = server.port
client = Client(port=port, timeout=timeout)
if server is not None:
    client.set("k", "v")
    server.faults.delay_replies(1.0 if scenario.endswith("handler-continues") else 60)
report = {}


def call():
    if scenario.startswith("pipeline"):
        return client.pipeline().set("a", "1").get("k").execute()
    return client.get("k")


def usable_afterwards():
    # The interrupted connection was closed; the next call opens another.
    report["closed"] = client.closed
    if server is not None:
        server.faults.clear()
        report["after"] = client.get("k").decode()


if scenario.endswith("handler-continues"):
    handled = []
    signal.signal(signal.SIGUSR1, lambda *_: handled.append(time.monotonic()))
elif scenario.endswith("reentrant"):
    signal.signal(signal.SIGUSR1, lambda *_: client.get("k"))
elif scenario.endswith("close-in-handler"):
    signal.signal(signal.SIGUSR1, lambda *_: client.close())
elif scenario.endswith("close-from-thread"):
    def close_later():
        time.sleep(0.3)  # the call is in its wait by now
        report["close_started"] = time.monotonic()
        client.close()
        report["close_took"] = time.monotonic() - report["close_started"]
    closer = threading.Thread(target=close_later)
    closer.start()

print("waiting", flush=True)
try:
    report["result"] = repr(call())
    report["raised"] = None
except BaseException as e:
    report["raised"] = type(e).__name__
    report["message"] = str(e)
report["t"] = time.monotonic()
if scenario.endswith("close-from-thread"):
    closer.join()
if scenario.endswith("handler-continues"):
    report["handled"] = handled
usable_afterwards()
print(json.dumps(report), flush=True)
"""


@pytest.fixture
def silent_port():
    """A loopback listener that never answers: connect() completes in the
    kernel's backlog, the request is swallowed, no reply ever comes."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=16)
    yield listener.getsockname()[1]
    listener.close()


def run_child(implementation, scenario, port, timeout, sig=signal.SIGINT, after=0.3):
    """Start the child, send it `sig` once it waits (None: no signal, the
    child closes the client from a thread), and return its report with the
    latency from the signal or close() to the end of its call."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, scenario, str(port), str(timeout),
         implementation.__name__],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "waiting", proc.communicate(timeout=10)[1]
        sent = None
        if sig is not None:
            time.sleep(after)  # the call is in its wait by now
            sent = time.monotonic()
            os.kill(proc.pid, sig)
        out, err = proc.communicate(timeout=PROMPT + 10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("the call did not end after the signal")
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    report["latency"] = report["t"] - (sent if sent is not None else report["close_started"])
    print("%s, timeout=%s: ended %.1f ms after the %s"
          % (scenario, timeout, report["latency"] * 1000,
             "signal" if sent is not None else "close()"))
    if "close_took" in report:
        print("  close() returned in %.1f ms" % (report["close_took"] * 1000))
    return report


def assert_ended(report, raised, saying=""):
    """The child's call ended promptly with `raised`, its message holding
    `saying`."""
    assert report["raised"] == raised, report
    assert saying in report["message"]
    assert report["latency"] < PROMPT


@pytest.mark.parametrize("timeout", [None, 10_000])
@pytest.mark.parametrize("scenario", ["get", "pipeline"])
def test_ctrl_c_ends_a_call_waiting_on_a_silent_server(implementation, scenario, timeout,
                                                       silent_port):
    report = run_child(implementation, scenario, silent_port, timeout)
    assert_ended(report, "KeyboardInterrupt")
    assert report["closed"]


@pytest.mark.parametrize("scenario", ["get", "pipeline"])
def test_ctrl_c_leaves_the_client_usable(implementation, scenario):
    report = run_child(implementation, scenario, 0, None)
    assert_ended(report, "KeyboardInterrupt")
    assert report["after"] == "v"


@pytest.mark.parametrize("scenario", ["get", "pipeline"])
def test_a_handler_that_does_not_raise_runs_at_once_and_the_call_goes_on(implementation,
                                                                          scenario):
    # The reply comes after 1 s; the handler must run when the signal comes,
    # not when the reply does, and the call must then go on to its reply.
    report = run_child(implementation, scenario + "-handler-continues", 0, 5000, sig=signal.SIGUSR1)
    assert report["raised"] is None
    assert report["handled"], "the handler never ran"
    handled_after = report["handled"][0] - (report["t"] - report["latency"])
    assert handled_after < PROMPT / 2
    assert report["t"] - report["handled"][0] > 0.2  # then it waited on
    assert report["result"] in ("b'v'", "[None, b'v']")


@pytest.mark.parametrize("scenario", ["get", "pipeline"])
def test_a_handler_calling_the_busy_client_raises_instead_of_deadlocking(implementation, scenario):
    # The handler runs inside the call it interrupted, which holds the
    # client: a call on the same client from there would wait for itself.
    report = run_child(implementation, scenario + "-reentrant", 0, None, sig=signal.SIGUSR1)
    assert_ended(report, "RuntimeError", "signal handler")
    assert report["after"] == "v"


@pytest.mark.parametrize("scenario", ["get", "pipeline"])
def test_close_from_another_thread_ends_a_hung_call(implementation, scenario, silent_port):
    report = run_child(implementation, scenario + "-close-from-thread", silent_port, None, sig=None)
    assert_ended(report, "ConnectionError", "the client was closed")
    assert report["close_took"] < PROMPT
    assert report["closed"]


@pytest.mark.parametrize("scenario", ["get", "pipeline"])
def test_close_from_another_thread_leaves_the_client_usable(implementation, scenario):
    report = run_child(implementation, scenario + "-close-from-thread", 0, 10_000, sig=None)
    assert_ended(report, "ConnectionError")
    assert report["after"] == "v"


@pytest.mark.parametrize("scenario", ["get", "pipeline"])
def test_a_signal_handler_may_close_the_client_to_end_the_call(implementation, scenario):
    report = run_child(implementation, scenario + "-close-in-handler", 0, None, sig=signal.SIGUSR1)
    assert_ended(report, "ConnectionError", "the client was closed")
    assert report["after"] == "v"
