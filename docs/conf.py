"""Sphinx configuration of pygibson's documentation site.

Build: ``pip install '.[docs]'`` then ``sphinx-build -W docs docs/_build/html``
(warnings are errors, as in .ci/run). ``-b doctest`` runs every example, the
docstrings' included, against an embedded server (see doctest_global_setup).
Nothing here reaches the network: no intersphinx, no external link check.
"""

import importlib.util
import re

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

import pygibson

project = "pygibson"
author = "pygibson developers"
copyright = "pygibson developers"
release = pygibson.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# Every cross-reference must resolve: a renamed class or function breaks the
# build instead of leaving a dead link.
nitpicky = True
nitpick_ignore = [
    # Builtins and standard library names, which would need intersphinx
    # (and so the network) to link.
    ("py:class", name)
    for name in ("bytes", "str", "int", "float", "bool", "dict", "list", "tuple",
                 "object", "Exception", "ValueError", "TypeError", "ConnectionError",
                 "TimeoutError", "builtins.ConnectionError", "builtins.TimeoutError",
                 "typing.NamedTuple", "NamedTuple", "None", "optional", "callable")
]

# docs/protocol.md is included as it is written, and its command reference
# puts level-4 headings under level-2 ones on purpose.
suppress_warnings = ["myst.header"]

# Headings of docs/protocol.md get anchors, so that its table of contents and
# its "see section N" links resolve (and are checked) within the site.
myst_heading_anchors = 4

autodoc_member_order = "bysource"
autodoc_default_options = {"members": True, "show-inheritance": True}

html_theme = "furo"
html_title = "pygibson %s" % release
html_static_path = []


def rubric_sections(app, what, name, obj, options, lines):
    """Docstring section headings (a title over a line of -, = or ~) become
    rubrics: reST allows no section inside a docstring's body, and the
    docstrings are written to read well in help() and in the source first."""
    underline = re.compile(r"^\s*([-=~^])\1{2,}\s*$")
    out = []
    for line in lines:
        if out and underline.match(line) and out[-1].strip() and len(line.strip()) >= len(out[-1].strip()):
            title = out.pop().strip()
            out.extend([".. rubric:: %s" % title, ""])
            continue
        out.append(line)
    lines[:] = out


def reexported(name):
    """The names module NAME exports that are the very objects pygibson
    exports (PoolTimeoutError, say): they have a page of their own, and a
    second description of one object is a warning."""
    try:
        module = importlib.import_module(name)
    except Exception:
        return []  # automodule reports the failure itself
    return [member for member in getattr(module, "__all__", ())
            if getattr(pygibson, member, None) is getattr(module, member, object())]


class OptionalAutomodule(SphinxDirective):
    """``.. optional-automodule:: NAME`` documents module NAME with its
    members when it exists, and shows the directive's content (a "being
    built" note) when it does not, so that a page can stand in the table of
    contents before its module lands. A module that exists but fails to
    import still fails the build."""

    required_arguments = 1
    has_content = True

    def run(self):
        name = self.arguments[0]
        try:
            present = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # a missing parent package
            present = False
        if present:
            lines = [".. automodule:: %s" % name, "   :members:"]
            shared = reexported(name)
            if shared:
                lines.append("   :exclude-members: " + ", ".join(shared))
            text = StringList(lines, source=self.get_source_info()[0])
        else:
            text = self.content
        node = nodes.container()
        self.state.nested_parse(text, self.content_offset, node)
        return node.children


def setup(app):
    app.connect("autodoc-process-docstring", rubric_sections)
    app.add_directive("optional-automodule", OptionalAutomodule)


# doctest: every example runs against pygibson's embedded server on a free
# loopback port, never a real Gibson server. The examples are written as a
# user writes them, with Client() on its default address; for the run, the
# clients (pygibson.Client, and pygibson.asyncio.AsyncClient when present)
# are subclasses whose default address is the embedded server's, so that no
# example can reach whatever listens on the real port.
doctest_global_setup = """
import importlib

import pygibson
import pygibson.server

_docs_server = pygibson.server.GibsonServer("127.0.0.1", 0)
_docs_server.start()


def _to_docs_server(cls):
    class Client(cls):
        def __init__(self, addr=None, port=None, *args, **kwargs):
            default = (addr is None and port is None and not args
                       and not kwargs.get("unix_socket") and "host" not in kwargs)
            if default:
                addr, port = _docs_server.host, _docs_server.port
            super().__init__("127.0.0.1" if addr is None else addr,
                             10128 if port is None else port, *args, **kwargs)

    Client.__name__ = Client.__qualname__ = cls.__name__
    Client.__module__ = cls.__module__
    return Client


_docs_patched = []
for _module_name, _name in (("pygibson", "Client"), ("pygibson.asyncio", "AsyncClient")):
    try:
        _module = importlib.import_module(_module_name)
    except ImportError:
        continue
    _docs_patched.append((_module, _name, getattr(_module, _name)))
    setattr(_module, _name, _to_docs_server(getattr(_module, _name)))
"""
doctest_global_cleanup = """
for _module, _name, _original in _docs_patched:
    setattr(_module, _name, _original)
_docs_server.stop()
"""
