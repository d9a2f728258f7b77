"""Reads pygibson's stubs as the tests that hold them to the operation table
need: a class's methods and their parameters, its stub-only bases included
(_pygibson.pyi writes the operations once, in _Operations and _Queue, and
the clients and pipelines derive from those)."""

import ast
import pathlib

import pygibson

PACKAGE = pathlib.Path(pygibson.__file__).parent


def _classes():
    classes = {}
    for stub in sorted(PACKAGE.glob("**/*.pyi")):
        module = ".".join(stub.relative_to(PACKAGE.parent).with_suffix("").parts)
        tree = ast.parse(stub.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                classes[(module, node.name)] = node
    return classes


def _base_name(base):
    # _Operations[_V] -> _Operations
    node = base.value if isinstance(base, ast.Subscript) else base
    return node.id if isinstance(node, ast.Name) else None


def stub_methods(module, class_name):
    """{method name: its positional parameters after self} of the class
    named class_name in the stub of module (e.g. "pygibson.pool"), bases
    found in any of the package's stubs included; of overloads, the last."""
    classes = _classes()
    node = classes.get((module, class_name))
    if node is None:
        raise AssertionError("no class %s in the stub of %s" % (class_name, module))
    methods = {}
    for base in node.bases:
        name = _base_name(base)
        owners = [key for key in classes if key[1] == name]
        if owners:
            methods.update(stub_methods(owners[0][0], name))
    methods.update({item.name: [a.arg for a in item.args.args[1:]] for item in node.body
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))})
    return methods
