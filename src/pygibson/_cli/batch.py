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
        self.session = session
        self.entries = []  # (operation, value, exception or _QUEUED)
        self.pipe = session.client.pipeline()
        self.queued = []

    def add(self, text: str):
        try:
            words = split_line(text)
            if words[0].lower() == "help":
                raise ArgumentError("help is not a pipe command; run: gibson-cli help [COMMAND]")
            operation, args = parse(words)
            getattr(self.pipe, operation.name)(*args)
        except Exception as exc:  # refused before sending: its line says why
            self.entries.append((None, exc))
            return None
        self.entries.append((operation, _QUEUED))
        return operation

    def execute(self):
        """Send what is queued; the replies take their places."""
        if not len(self.pipe):
            return
        pipe = self.pipe
        results = iter(self.session.run(lambda _client: pipe.execute(raise_on_error=False)))
        self.entries = [(operation, next(results) if value is _QUEUED else value)
                        for operation, value in self.entries]


def _run_batch(session, formatter, lines, out) -> int:
    batch = _Batch(session)
    for raw in lines:
        text = raw.decode("utf-8", "surrogateescape").strip()
        if not text or text.startswith("#"):
            continue
        operation = batch.add(text)
        if operation is not None and operation.result == "quit":
            # The server closes the connection after END: what follows goes
            # on a new pipeline, which reconnects.
            batch.execute()
            _write(formatter, batch.entries, out)
            batch = _Batch(session)
    batch.execute()
    return _write(formatter, batch.entries, out)


def _write(formatter, entries, out) -> int:
    status = EXIT_OK
    chunks = []
    for operation, value in entries:
        chunks.append(formatter.line(operation, value))
        if isinstance(value, BaseException):
            status = max(status, exit_status(value))
    out.write(b"".join(chunks))
    out.flush()
    return status


def run_pipe(session, formatter, fd: int, out) -> int:
    """Run each line read from ``fd`` (blank lines and ``#`` comments
    skipped), pipelined, writing one reply per line to ``out``. Stops at
    the first broken connection, whose error is the last line."""
    status = EXIT_OK
    try:
        for lines in read_batches(fd):
            status = max(status, _run_batch(session, formatter, lines, out))
    except Cancelled:
        return EXIT_INTERRUPTED
    except CONNECTION_ERRORS as exc:
        out.write(formatter.line(None, exc))
        return EXIT_CONNECTION
    return status
