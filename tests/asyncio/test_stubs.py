"""asyncio.pyi types every method that pygibson.asyncio makes from the
operation table, with the table's parameters."""

import ast
import pathlib

import pygibson
from pygibson import OPERATIONS
from pygibson.asyncio import AsyncClient, AsyncPipeline, AsyncPooledClient

from ..stubs import stub_methods

STUB = pathlib.Path(pygibson.__file__).with_name("asyncio.pyi")


def test_stub_matches_the_operation_table():
    for cls in (AsyncClient, AsyncPipeline, AsyncPooledClient):
        # Each class's stub is in its defining module's (asyncio.pyi
        # re-exports the pipeline's and the pool's); bases included.
        methods = stub_methods(cls.__module__, cls.__name__)
        for op in OPERATIONS:
            if cls is AsyncPooledClient and op.result == "quit":
                continue
            for name in (op.name,) + op.aliases:
                assert hasattr(cls, name), (cls, name)
                extra = ["default"] if op.result == "value" and cls is not AsyncPipeline else []
                assert methods[name] == [p.name for p in op.params] + extra, (cls, name)


def test_py_typed_ships():
    assert STUB.with_name("py.typed").exists()


def test_aio_stubs_list_every_gibson_command_with_its_parameters():
    from pygibson.aio import Gibson

    tree = ast.parse(STUB.with_name("aio").joinpath("commands.pyi").read_text(encoding="utf-8"))
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Gibson"]
    stubbed = {f.name: [a.arg for a in f.args.args[1:]] for f in cls.body
               if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for name in dir(Gibson):
        method = getattr(Gibson, name)
        if name.startswith("_") or not callable(method) or isinstance(method, property):
            continue
        import inspect
        assert stubbed.get(name) == list(inspect.signature(method).parameters)[1:], name


def test_aio_stubs_ship_for_every_module():
    import pygibson.aio as aio

    folder = STUB.with_name("aio")
    for module in ("__init__", "commands", "connection", "errors", "pool"):
        assert folder.joinpath(module + ".pyi").exists(), module
    for name in aio.__all__:
        assert hasattr(aio, name)
