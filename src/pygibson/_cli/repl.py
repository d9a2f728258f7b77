"""The interactive prompt of gibson-cli.

readline (where Python has it) gives line editing, history kept in
``~/.gibson_cli_history`` across runs, and tab completion of command names
and META's field names. Ctrl-C cancels the line being typed or the command
being waited for (see ``session``), Ctrl-D leaves.

One limit comes from CPython's readline: it notices a SIGINT only while it
waits for a key. A Ctrl-C that lands in the microseconds it spends on the
key before (after a paste, say) shows nothing at once; the line is then
cancelled, not run, when Enter is pressed.
"""

import os
import time

from .batch import help_text
from .commands import completions, parse, split_line
from .session import Cancelled

__all__ = ["Repl", "HISTORY_FILE", "PROMPT_COMMANDS"]

HISTORY_FILE = ".gibson_cli_history"
HISTORY_LENGTH = 1000

#: The prompt's own commands, for ``help`` and completion.
PROMPT_COMMANDS = (
    ("help [COMMAND]", "this list, or one command in detail"),
    ("\\timing [on|off]", "show how long each command takes"),
    ("exit, quit", "leave (so does Ctrl-D); the END operation is sent with end"),
)
_PROMPT_WORDS = ("help", "exit", "quit", "\\timing")

_CANCELLED = (b"(cancelled: the reply was abandoned with its connection; "
              b"the server may still have run the command)\n")


def history_path() -> str:
    return os.path.join(os.path.expanduser("~"), HISTORY_FILE)


class Repl:
    """Reads commands at a prompt showing the server's address, or
    ``not connected`` while there is no connection (the next command
    connects again)."""

    def __init__(self, session, formatter, out, readline=None):
        self.session = session
        self.formatter = formatter
        self.out = out
        self.readline = readline
        self.timing = False
        self._matches = []

    # -- the loop -----------------------------------------------------------

    def run(self) -> int:
        self._setup_readline()
        try:
            self._connect()
            while self._step():
                pass
        finally:
            self._save_history()
        return 0

    def prompt(self) -> str:
        where = self.session.address if self.session.connected else "not connected"
        return where + "> "

    def _step(self) -> bool:
        """Read and run one line; False to leave."""
        try:
            line = input(self.prompt())
        except EOFError:
            self._write(b"\n")
            return False
        except KeyboardInterrupt:
            self._write(b"\n")
            return True
        except UnicodeDecodeError as exc:
            self._write(self.formatter.block(None, exc))
            return True
        try:
            return self.handle(line)
        except (KeyboardInterrupt, Cancelled):
            self._write(_CANCELLED)
            return True

    def _connect(self):
        try:
            self.session.run(lambda client: client.connect())
        except Cancelled:
            self._write(_CANCELLED)
        except Exception as exc:  # one line, and the prompt all the same
            self._write(self.formatter.block(None, exc))

    # -- one line -----------------------------------------------------------

    def handle(self, line: str) -> bool:
        """Run one typed line; False when it asks to leave."""
        text = line.strip()
        if not text:
            return True
        if text.startswith("\\") and not text.startswith("\\\\"):
            self._backslash_command(text.split())
            return True
        try:
            words = split_line(text)
            name = words[0].lower() if words else ""
            if name in ("exit", "quit"):
                return False
            if name == "help":
                self._write(help_text(words, PROMPT_COMMANDS).encode("utf-8") + b"\n")
                return True
            operation, args = parse(words)
        except Exception as exc:  # refused before anything was sent
            self._write(self.formatter.block(None, exc))
            return True
        self._execute(operation, args)
        return True

    def _execute(self, operation, args):
        elapsed = []
        try:
            value = self.session.run(_timed_call, operation.name, args, elapsed)
        except Cancelled:
            raise
        except Exception as exc:
            value = exc
        self._write(self.formatter.block(operation, value))
        if self.timing and elapsed:
            self._write(b"Time: %.3f ms\n" % (elapsed[0] * 1000.0))

    def _backslash_command(self, words):
        if words[0] != "\\timing" or words[1:] not in ([], ["on"], ["off"]):
            self._write(b"(error) ArgumentError: the prompt knows \\timing [on|off]\n")
            return
        self.timing = words[1] == "on" if len(words) == 2 else not self.timing
        self._write(b"Timing is %s.\n" % (b"on" if self.timing else b"off"))

    def _write(self, data: bytes):
        self.out.write(data)
        self.out.flush()

    # -- readline -------------------------------------------------------------

    def _setup_readline(self):
        if self.readline is None:
            return
        try:
            self._configure(self.readline)
        except Exception:  # e.g. PyPy's pyrepl on a terminal it cannot drive
            self.readline = None  # input() then reads plain lines

    def _configure(self, readline):
        readline.set_completer(self._complete)
        readline.set_completer_delims(" \t\n")
        if "libedit" in (readline.__doc__ or ""):
            readline.parse_and_bind("bind ^I rl_complete")  # macOS's readline
        else:
            readline.parse_and_bind("tab: complete")
        readline.set_history_length(HISTORY_LENGTH)
        try:
            readline.read_history_file(history_path())
        except OSError:  # none yet, or unreadable: start without
            pass

    def _save_history(self):
        if self.readline is None:
            return
        try:
            self.readline.write_history_file(history_path())
        except OSError:  # a read-only home must not spoil leaving
            pass

    def _complete(self, text, state):
        if state == 0:
            readline = self.readline
            before = readline.get_line_buffer()[:readline.get_begidx()]
            # Python's readline appends nothing to a completed word: the
            # space that lets the next word be typed at once is ours.
            self._matches = [word + " " for word in completions(before, text, _PROMPT_WORDS)]
        return self._matches[state] if state < len(self._matches) else None


def _timed_call(client, method, args, elapsed):
    # Timed in the worker thread, so that the figure is the round trip and
    # not the thread's start.
    start = time.perf_counter()
    try:
        return getattr(client, method)(*args)
    finally:
        elapsed.append(time.perf_counter() - start)
