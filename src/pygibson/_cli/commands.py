"""From a typed line to an operation and its arguments, and the help and
completion that go with them.

Everything about commands comes from ``pygibson.OPERATIONS``: the names a
command answers to (method, alias, wire name, in any case), how many
arguments it takes, which of them are integers, its help and its
completion. Nothing here checks what the client checks (an empty key, a
TTL out of range...): the client refuses those itself, with the same
words for the command line as for Python code.
"""

import re
from typing import Dict, List, Sequence, Tuple

from .._operations import OPERATIONS, Operation, Parameter
from ..exceptions import ArgumentError

__all__ = ["split_line", "parse", "resolve", "usage", "command_names",
           "field_names", "completions", "help_overview", "help_command"]

#: Parameter kinds that are numbers on the wire: the client wants ints.
INTEGER_KINDS = frozenset(("ttl", "seconds", "limit"))

# -- splitting a line into words ---------------------------------------------

# Lines without quotes or backslashes (nearly all of them, in a pipe) are
# split by str.split(), which is many times faster than the loop below.

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v", "e": "\x1b", "\\": "\\", '"': '"', "'": "'",
            " ": " "}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def split_line(line: str) -> List[str]:
    """The words of ``line``, with shell-like quoting: ``"a b"`` and
    ``'a b'`` are one word, adjacent quoted and bare parts join, ``""`` is
    an empty word. Backslash escapes work outside quotes and inside double
    quotes: ``\\n \\t \\r \\0 \\e \\\\ \\" \\' \\<space>``, ``\\xHH`` (one byte,
    so ``\\x80`` is the byte 0x80, not U+0080), ``\\uXXXX`` and
    ``\\UXXXXXXXX`` (a character, sent as UTF-8). Inside single quotes only
    ``\\'`` is an escape. Raises ArgumentError for an unclosed quote, a
    lone backslash at the end or an unknown escape."""
    if '"' in line or "'" in line or "\\" in line:
        return _Splitter(line).words()
    return line.split()


class _Splitter:
    def __init__(self, line: str):
        self.line = line
        self.pos = 0
        self.result: List[str] = []
        self.word: List[str] = []
        self.in_word = False

    def words(self) -> List[str]:
        line = self.line
        while self.pos < len(line):
            char = line[self.pos]
            if char.isspace():
                self._end_word()
                self.pos += 1
            elif char in "\"'":
                self.in_word = True
                self._quoted(char)
            elif char == "\\":
                self.in_word = True
                self.word.append(self._escape())
            else:
                self.in_word = True
                self.word.append(char)
                self.pos += 1
        self._end_word()
        return self.result

    def _end_word(self):
        if self.in_word:
            self.result.append("".join(self.word))
        self.word = []
        self.in_word = False

    def _quoted(self, quote: str):
        start = self.pos
        self.pos += 1
        line = self.line
        while self.pos < len(line):
            char = line[self.pos]
            if char == quote:
                self.pos += 1
                return
            if char == "\\" and quote == '"':
                self.word.append(self._escape())
            elif char == "\\" and line.startswith("\\'", self.pos):
                self.word.append("'")
                self.pos += 2
            else:
                self.word.append(char)
                self.pos += 1
        raise ArgumentError("the quote opened at column %d is not closed" % (start + 1))

    def _escape(self) -> str:
        line, pos = self.line, self.pos
        if pos + 1 >= len(line):
            raise ArgumentError("the line ends with a lone backslash; write \\\\ for one")
        code = line[pos + 1]
        if code in _ESCAPES:
            self.pos += 2
            return _ESCAPES[code]
        if code not in _HEX_ESCAPES:
            raise ArgumentError("unknown escape \\%s at column %d; write \\\\ for a backslash"
                                % (code, pos + 1))
        digits = line[pos + 2:pos + 2 + _HEX_ESCAPES[code]]
        if len(digits) != _HEX_ESCAPES[code] or not _is_hex(digits):
            raise ArgumentError("\\%s at column %d needs %d hex digits"
                                % (code, pos + 1, _HEX_ESCAPES[code]))
        self.pos += 2 + len(digits)
        return _escaped_char(code, int(digits, 16), pos)


def _is_hex(text: str) -> bool:
    return all(char in "0123456789abcdefABCDEF" for char in text)


def _escaped_char(code: str, number: int, pos: int) -> str:
    if code == "x" and number >= 0x80:
        # A byte, not a character: the client encodes str arguments as
        # UTF-8 with surrogate escapes, so U+DC80..U+DCFF become 0x80..0xFF.
        return chr(0xDC00 + number)
    if number > 0x10FFFF:
        raise ArgumentError("\\U%08X at column %d is beyond U+10FFFF" % (number, pos + 1))
    return chr(number)


# -- commands ---------------------------------------------------------------

def _index() -> Dict[str, Operation]:
    index = {}
    for operation in OPERATIONS:
        for name in (operation.name, operation.command.lower()) + operation.aliases:
            index[name] = operation
    return index


_COMMANDS = _index()


def command_names() -> List[str]:
    """Every name a command answers to, lower case, sorted."""
    return sorted(_COMMANDS)


def resolve(name: str) -> Operation:
    """The operation a command word names, in any case."""
    operation = _COMMANDS.get(name.lower())
    if operation is None:
        raise ArgumentError("unknown command '%s'; type help for the list" % name)
    return operation


def usage(operation: Operation) -> str:
    """``set key value [ttl]``: the command and its arguments."""
    words = [operation.name]
    for param in operation.params:
        words.append(param.name if param.required else "[%s]" % param.name)
    return " ".join(words)


def parse(words: Sequence[str]) -> Tuple[Operation, tuple]:
    """The operation named by ``words[0]`` and the method arguments made
    from the rest (ints where the operation wants numbers)."""
    operation = resolve(words[0])
    return operation, bind(operation, words[1:])


def _arities() -> Dict[str, Tuple[int, int, Tuple[int, ...]]]:
    # Per operation: required and total argument counts, and the positions
    # of its integers; worked out once, since pipe mode binds every line.
    arities = {}
    for operation in OPERATIONS:
        params = operation.params
        arities[operation.name] = (
            sum(1 for param in params if param.required), len(params),
            tuple(i for i, param in enumerate(params) if param.kind in INTEGER_KINDS))
    return arities


_ARITIES = _arities()


def bind(operation: Operation, words: Sequence[str]) -> tuple:
    required, most, integers = _ARITIES[operation.name]
    if not required <= len(words) <= most:
        raise ArgumentError("%s takes %s, got %d; usage: %s"
                            % (operation.name, _count_text(required, most),
                               len(words), usage(operation)))
    if not integers:
        return tuple(words)
    args: List[object] = list(words)  # the integers' words become ints
    for i in integers:
        if i < len(args):
            args[i] = _integer(operation.params[i], words[i])
    return tuple(args)


def _count_text(least: int, most: int) -> str:
    if least == most:
        return "%d argument%s" % (least, "" if least == 1 else "s")
    return "%d to %d arguments" % (least, most)


def _integer(param: Parameter, word: str) -> int:
    try:
        return int(word)
    except ValueError:
        raise ArgumentError("%s must be an integer, not %r" % (param.name, word)) from None


# -- field names and completion --------------------------------------------

def field_names(operation: Operation) -> Tuple[str, ...]:
    """The names a ``field`` argument takes, read from the operation's doc
    (META's ends with ": size, encoding, ..., left or lock.")."""
    if not any(param.kind == "field" for param in operation.params):
        return ()
    listing = operation.doc.rpartition(":")[2].strip().rstrip(".")
    return tuple(name.strip() for name in re.split(r",| or ", listing) if name.strip())


def completions(before: str, text: str, extra: Sequence[str] = ()) -> List[str]:
    """What ``text`` may complete to, given the line ``before`` it: a
    command name (or one of ``extra``) first, a command after ``help``,
    a field name where an operation takes one."""
    words = before.split()
    if not words:
        pool = command_names() + list(extra)
    elif len(words) == 1 and words[0].lower() == "help":
        pool = command_names()
    else:
        pool = list(_argument_choices(words))
    matches = [name for name in pool if name.startswith(text.lower())]
    if text and text.isupper():
        matches = [name.upper() for name in matches]
    return sorted(set(matches))


def _argument_choices(words: Sequence[str]) -> Tuple[str, ...]:
    operation = _COMMANDS.get(words[0].lower())
    position = len(words) - 1
    if operation is None or position >= len(operation.params):
        return ()
    if operation.params[position].kind != "field":
        return ()
    return field_names(operation)


# -- help ---------------------------------------------------------------------

_KIND_HELP = {
    "key": "non-empty, no spaces, at most 512 bytes (the server's max_key_size)",
    "value": "non-empty bytes",
    "ttl": "seconds, 0 to 32767 (0: never expires)",
    "seconds": "seconds, -1 to lock until unlocked",
    "limit": "1 or more",
}

_RESULT_HELP = {
    "none": "OK",
    "set": "OK (the server's echo is checked: a shorter value raises ValueTruncatedError)",
    "value": "the value as a bytes literal (b'...'), or (integer) N for a number",
    "number": "(integer) N",
    "count": "(integer) N: how many keys it touched (0 when none matches)",
    "dict": "a table of names and values",
    "list": "a numbered list",
    "quit": "OK; the server closes the connection and the next command reconnects",
}


def _first_sentence(doc: str) -> str:
    head, dot, _rest = doc.partition(". ")
    return head + "." if dot else doc


def help_overview(extra: Sequence[Tuple[str, str]] = ()) -> str:
    """One line per operation (usage and what it does), then ``extra``
    (pairs of usage and description, for the prompt's own commands)."""
    rows = [(usage(op), _first_sentence(op.doc)) for op in OPERATIONS]
    width = max(len(left) for left, _right in list(rows) + list(extra))
    lines = ["Commands (any case; help COMMAND for details):"]
    lines += ["  %-*s  %s" % (width, left, right) for left, right in rows]
    if extra:
        lines.append("At the prompt:")
        lines += ["  %-*s  %s" % (width, left, right) for left, right in extra]
    return "\n".join(lines)


def help_command(name: str) -> str:
    """Everything about one operation: usage, doc, names, arguments, reply
    and errors."""
    operation = resolve(name)
    names = [operation.command] + [alias for alias in operation.aliases]
    lines = [usage(operation), "  " + operation.doc,
             "  Sent as %s (opcode %d)%s." % (operation.command, operation.opcode,
                                            "; also " + ", ".join(names[1:])
                                            if names[1:] else "")]
    if operation.params:
        lines.append("  Arguments:")
        lines += ["    %-8s %s" % (param.name, _param_help(operation, param))
                  for param in operation.params]
    lines.append("  Reply: " + _RESULT_HELP[operation.result])
    lines.append("  Errors: " + "; ".join(_error_help(operation)))
    return "\n".join(lines)


def _param_help(operation: Operation, param: Parameter) -> str:
    if param.kind == "field":
        text = "one of " + ", ".join(field_names(operation))
    elif param.kind == "key" and operation.prefix:
        text = "a prefix: every key starting with it; " + _KIND_HELP["key"]
    else:
        text = _KIND_HELP[param.kind]
    if not param.required:
        text += "; optional%s" % ("" if param.default is None
                                  else ", default %r" % (param.default,))
    return text


def _error_help(operation: Operation) -> List[str]:
    errors = []
    if operation.params:
        errors.append("ArgumentError for an argument refused before sending")
    named = sorted(set(re.findall(r"\b(\w+Error)\b", operation.doc)))
    if named:
        errors.append(", ".join(named) + " (see above)")
    if operation.prefix:
        errors.append("a prefix that matches nothing is not an error")
    if any(param.kind == "key" for param in operation.params):
        errors.append("the server's refusals: NotFoundError, LockedError, NaNError, "
                      "NoMemoryError, as they apply")
    errors.append("ConnectionError or TimeoutError when the server does not answer")
    return errors
