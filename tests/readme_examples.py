"""The README's Python examples as one module that type checkers can read:
``python -m tests.readme_examples OUT.py`` writes it (.ci/run's typing step
runs ``mypy --strict`` and pyright on it), and tests/test_typing.py checks
that it still compiles.

Each ``.. code-block:: python`` becomes the body of a coroutine of its own,
so that the asyncio examples' top-level ``await`` is valid. An example that
goes on from an earlier one says which names it uses in an rST comment just
before it, which the reader of the README does not see::

    .. readme-types: client: pygibson.Client, Client: type[pygibson.Client]

and those become the coroutine's parameters.
"""

import pathlib
import re
import sys
import textwrap

README = pathlib.Path(__file__).resolve().parent.parent / "README.rst"
_CONTEXT = re.compile(r"^\.\. readme-types: (.+)$")


def examples(text):
    """(line number, the names it is given as 'name: type, ...', code) of
    each Python block of the README."""
    lines = text.splitlines()
    found = []
    context = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _CONTEXT.match(line)
        if match:
            context = match.group(1).strip()
        elif line.strip() == ".. code-block:: python":
            start = i + 1
            indent = len(line) - len(line.lstrip())
            body = []
            i += 1
            # The block: the lines indented more than the directive (blank
            # lines inside it included), up to the next text that is not.
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) > indent):
                body.append(lines[i])
                i += 1
            found.append((start, context, textwrap.dedent("\n".join(body)).strip("\n")))
            context = ""
            continue
        elif line.strip():
            context = "" if not line.startswith(".. ") else context
        i += 1
    return found


def module(text):
    """The examples as the source of one module."""
    parts = ['"""Made from README.rst by tests/readme_examples.py: do not edit."""',
             "", "import pygibson", "import pygibson.asyncio", ""]
    for line, context, code in examples(text):
        parts += ["", "async def readme_line_%d(%s) -> None:" % (line, context),
                  textwrap.indent(code, "    "), ""]
    return "\n".join(parts)


def main(argv):
    if len(argv) != 2:
        sys.exit("usage: python -m tests.readme_examples OUT.py")
    pathlib.Path(argv[1]).write_text(module(README.read_text(encoding="utf-8")),
                                     encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv)
