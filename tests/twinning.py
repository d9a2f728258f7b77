"""What the twin tests compare of an exception: its type and its words.

The interpreter's own argument parsing words its TypeError for a
non-integer differently from one Python version to the next ("integer
argument expected, got float" on 3.9, "'float' object cannot be
interpreted as an integer" later); where the extension lets CPython's
parser speak, the pure twin cannot match every version word for word, so
those messages are compared as one.
"""

import re

_NOT_AN_INTEGER = re.compile(
    r"integer argument expected, got \w+|an integer is required \(got type \w+\)"
    r"|'\w+' object cannot be interpreted as an integer")


def words(error):
    """The message of ``error`` as the twin tests compare it."""
    message = str(error)
    if isinstance(error, TypeError) and _NOT_AN_INTEGER.fullmatch(message):
        return "<the interpreter's: not an integer>"
    return message
