"""A real terminal for gibson-cli's prompt: a pseudo-terminal from the
standard ``pty`` module, so that readline, completion, history and Ctrl-C
are exercised exactly as a person at a keyboard does.

Standard library only (no pexpect): the child is started by ``subprocess``
in a new session and makes the pty its controlling terminal before
exec'ing gibson-cli, so that ^C typed on the pty is a SIGINT to it, as at a
real terminal. ``pty.fork()`` would do the same, but forking a process that
runs server threads is what Python 3.12+ warns against.
"""

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time

# The pty becomes the child's controlling terminal; then gibson-cli runs.
_LAUNCHER = (
    "import fcntl, os, sys, termios\n"
    "fcntl.ioctl(0, termios.TIOCSCTTY, 0)\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'pygibson.cli'] + sys.argv[1:])\n"
)

# Terminal control sequences (bracketed paste, cursor moves) and carriage
# returns, which are not what a test is looking for.
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>]|\r|\x07")

#: Generous bound on any wait: it only turns a hang into a failure.
WAIT = 60.0

# Control keys are only sent once the prompt shows: readline switches the
# terminal to raw mode before it draws the prompt, and until then the
# terminal's own line discipline would take ^D and ^C (and lose them).
CTRL_C = "\x03"
CTRL_D = "\x04"
CTRL_P = "\x10"  # readline's previous-history, whatever the terminal type


class Terminal:
    """gibson-cli ``args`` on a pseudo-terminal of 50 rows by 200 columns."""

    def __init__(self, args, env):
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER] + list(args), stdin=slave, stdout=slave,
            stderr=slave, env=env, start_new_session=True, close_fds=True)
        os.close(slave)
        self.master = master
        self.text = ""   # everything shown so far, control sequences removed
        self.seen = 0    # where the next expect() starts looking

    def send(self, keys: str):
        os.write(self.master, keys.encode("utf-8"))

    def line(self, text: str):
        """Type ``text`` and Enter."""
        self.send(text + "\r")

    def interrupt(self, pattern: str):
        """Type Ctrl-C and wait for ``pattern``. CPython's readline notices
        a SIGINT only while it waits for a key, so one arriving while it is
        still handling the key before goes unseen: a second Ctrl-C then does
        it (bounded waits, nothing timed)."""
        self.send(CTRL_C)
        try:
            return self.expect(pattern, timeout=2.0)
        except AssertionError:
            self.send(CTRL_C)
            return self.expect(pattern)

    def expect(self, pattern: str, timeout: float = WAIT):
        """Wait until the output after the last match matches ``pattern``
        (a regular expression); returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.text, self.seen)
            if match:
                self.seen = match.end()
                return match
            if not self._read(deadline - time.monotonic()):
                raise AssertionError("no %r in the terminal; it shows:\n%s"
                                     % (pattern, self.text[-3000:]))

    def _read(self, timeout: float) -> bool:
        if timeout <= 0:
            return False
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return False
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: the child has gone and the pty is closed
            return False
        if not data:
            return False
        self.text += _CONTROL.sub("", data.decode("utf-8", "replace"))
        return True

    def wait(self, timeout: float = WAIT) -> int:
        """The exit status, once the child has ended (output is drained)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.05)
        while self._read(0.05):
            pass
        if self.proc.poll() is None:
            raise AssertionError("gibson-cli is still running; the terminal shows:\n%s"
                                 % self.text[-3000:])
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(WAIT)
        os.close(self.master)
