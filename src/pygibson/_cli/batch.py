"""gibson-cli without a prompt: one command from the command line, or a
stream of commands from standard input.

Exit status: 0 when every command succeeded, 1 when one was refused (by
the client, before sending, or by the server: ``get`` of a missing key
exits 1), 2 when the server could not be reached or the connection broke,
130 after Ctrl-C.
"""

import os
import select

from .commands import help_command, help_overview, parse, split_line
from .session import CONNECTION_ERRORS, Cancelled
from ..exceptions import ArgumentError

__all__ = ["EXIT_OK", "EXIT_REFUSED", "EXIT_CONNECTION", "EXIT_INTERRUPTED",
           "exit_status", "help_text", "run_one_shot", "run_pipe"]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_CONNECTION = 2
EXIT_INTERRUPTED = 130

#: Commands queued in one pipeline at most; more wait for the next one.
BATCH_SIZE = 10000


def exit_status(exc: BaseException) -> int:
    return EXIT_CONNECTION if isinstance(exc, CONNECTION_ERRORS) else EXIT_REFUSED


def help_text(words, extra=()) -> str:
    """``help`` or ``help COMMAND``; raises ArgumentError for an unknown
    command."""
    if len(words) > 2:
        raise ArgumentError("usage: help [COMMAND]")
    return help_command(words[1]) if len(words) == 2 else help_overview(extra)


def run_one_shot(session, formatter, words, err, out) -> int:
    """Run the command ``words`` (already split by the shell), write its
    reply to ``out`` or its error to ``err`` (binary streams), and return
    the exit status."""
    try:
        if words[0].lower() == "help":
            out.write(help_text(words).encode("utf-8") + b"\n")
            return EXIT_OK
        operation, args = parse(words)
        value = session.call(operation.name, *args)
    except Cancelled:
        return EXIT_INTERRUPTED
    except Exception as exc:  # whatever it is, the user gets one line
        err.write(formatter.block(None, exc))
        return exit_status(exc)
    out.write(formatter.block(operation, value))
    return EXIT_OK


# -- pipe mode -----------------------------------------------------------------

def read_batches(fd: int, size: int = BATCH_SIZE):
    """Lists of lines (bytes) read from ``fd``: as many as have arrived, up
    to ``size``, so that a slow writer (a person, ``tail -f``) sees each
    reply as soon as its line is complete, and a file goes by thousands."""
    pending = b""
    batch = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            batch.append(line)
            if len(batch) >= size:
                yield batch
                batch = []
        if batch and not _readable(fd):
            yield batch
            batch = []
    if pending:
        batch.append(pending)
    if batch:
        yield batch


def _readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], 0)[0])


_QUEUED = object()


class _Batch:
    """Lines turned into commands on one pipeline, in input order; a line
    refused before sending keeps its place with its error."""

    def __init__(self, session):
        self.entries = []  # (operation, its reply, its error, or _QUEUED)
        self.pipe = session.client.pipeline()
        self.ends_session = False  # END was queued: the server will hang up
        self.methods = {}  # the pipeline's bound methods, looked up once

    def add(self, text: str):
        entries = self.entries
        try:
            words = split_line(text)
            if words[0].lower() == "help":
                raise ArgumentError("help is not a pipe command; run: gibson-cli help [COMMAND]")
            operation, args = parse(words)
            method = self.methods.get(operation.name)
            if method is None:
                method = self.methods[operation.name] = getattr(self.pipe, operation.name)
            method(*args)
        except Exception as exc:  # refused before sending: its line says why
            entries.append((None, exc))
            return
        entries.append((operation, _QUEUED))
        if operation.result == "quit":
            self.ends_session = True

    def execute(self, _client):
        """Send what is queued (in a worker); returns the entries with the
        replies in their places."""
        results = iter(self.pipe.execute(raise_on_error=False) if len(self.pipe) else ())
        return [(operation, next(results) if value is _QUEUED else value)
                for operation, value in self.entries]


class _PipeMode:
    """Runs batches one at a time on the session's client, while the main
    thread reads and encodes the next: the server's work and ours overlap."""

    def __init__(self, session, formatter, out):
        self.session = session
        self.formatter = formatter
        self.out = out
        self.in_flight = None
        self.status = EXIT_OK

    def run(self, fd: int) -> int:
        batch = _Batch(self.session)
        for lines in read_batches(fd):
            for raw in lines:
                text = raw.decode("utf-8", "surrogateescape").strip()
                if not text or text.startswith("#"):
                    continue
                batch.add(text)
                if batch.ends_session:
                    # The server closes the connection after END: what
                    # follows goes on a new pipeline, which reconnects.
                    self._send(batch)
                    batch = _Batch(self.session)
            self._send(batch)
            batch = _Batch(self.session)
        self._collect()
        return self.status

    def _send(self, batch):
        if not batch.entries:
            return
        self._collect()
        self.in_flight = self.session.start(batch.execute)

    def _collect(self):
        """Wait for the batch in flight and write its replies."""
        if self.in_flight is None:
            return
        call, self.in_flight = self.in_flight, None
        chunks = []
        for operation, value in self.session.wait(call):
            chunks.append(self.formatter.line(operation, value))
            if isinstance(value, BaseException):
                self.status = max(self.status, exit_status(value))
        self.out.write(b"".join(chunks))
        self.out.flush()


def run_pipe(session, formatter, fd: int, out) -> int:
    """Run each line read from ``fd`` (blank lines and ``#`` comments
    skipped), pipelined, writing one reply per line to ``out``. Stops at
    the first broken connection, whose error is the last line."""
    try:
        return _PipeMode(session, formatter, out).run(fd)
    except Cancelled:
        return EXIT_INTERRUPTED
    except CONNECTION_ERRORS as exc:
        out.write(formatter.line(None, exc))
        return EXIT_CONNECTION
