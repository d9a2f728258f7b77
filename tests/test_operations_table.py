"""operations.def is the one list of operations: everything that lists them
must agree with it (the C method tables, the stubs, the pool, the server)."""

import inspect

import pytest

import pygibson
from pygibson import OPERATIONS, Operation, Parameter
from pygibson._operations import lookup

from .stubs import stub_methods

METHOD_NAMES = [name for op in OPERATIONS for name in (op.name,) + op.aliases]


def test_the_table_holds_the_22_operations_in_opcode_order():
    assert [op.opcode for op in OPERATIONS] == list(range(1, 22)) + [255]
    assert len({op.name for op in OPERATIONS}) == 22
    assert all(isinstance(op, Operation) for op in OPERATIONS)
    assert OPERATIONS[0].wire_params == (
        Parameter("ttl", "ttl", False, 0), Parameter("key", "key", True, None),
        Parameter("value", "value", True, None))


@pytest.mark.parametrize("op", OPERATIONS, ids=[op.name for op in OPERATIONS])
def test_signature_column_matches_the_parameters(op):
    shown = ", ".join(p.name if p.required else "%s=%r" % (p.name, p.default)
                      for p in op.params)
    assert op.signature == "(%s)" % shown


@pytest.mark.parametrize("name", METHOD_NAMES)
def test_client_and_pipeline_have_each_method_with_its_signature(name):
    op = lookup(name)
    for cls in (pygibson.Client, pygibson.Pipeline):
        method = getattr(cls, name)
        signature = inspect.signature(method)
        names = [p for p in signature.parameters if p != "self"]
        assert names == [p.name for p in op.params] + CLIENT_EXTRAS.get((cls, name), []), \
            (cls, name)
        assert method.__doc__, (cls, name)


#: Parameters a Client method has beyond the table's: get(key, default).
CLIENT_EXTRAS = {(pygibson.Client, "get"): ["default"]}


@pytest.mark.parametrize("module,class_name,model", [
    ("pygibson._pygibson", "Client", "Client"),
    ("pygibson._pygibson", "Pipeline", "Pipeline"),
    ("pygibson.pool", "PooledClient", "Client"),
    ("pygibson.pool", "PooledPipeline", "Pipeline"),
])
def test_stubs_list_every_operation_with_its_parameters(module, class_name, model):
    stubbed = stub_methods(module, class_name)  # of overloads, the last
    cls = getattr(pygibson, model)
    for name in METHOD_NAMES:
        if (class_name, name) == ("PooledClient", "quit"):
            assert name not in stubbed
            continue
        assert stubbed.get(name) == [p.name for p in lookup(name).params] + \
            CLIENT_EXTRAS.get((cls, name), []), name


def test_pooled_client_offers_every_operation_but_quit():
    from pygibson.pool import PooledClient, PooledPipeline

    for name in METHOD_NAMES:
        assert hasattr(PooledClient, name) == (name != "quit"), name
        assert hasattr(PooledPipeline, name), name


def test_the_embedded_server_handles_every_opcode():
    from pygibson.server import protocol
    from pygibson.server.commands import Engine

    assert protocol.OPCODES == {op.opcode: op.command for op in OPERATIONS}
    assert set(vars(Engine)) >= {"op_" + op.command.lower() for op in OPERATIONS}


@pytest.mark.parametrize("name,expected", [
    ("dl", "DEL"), ("delete", "DEL"), ("DEL", "DEL"), (b"del", "DEL"), (4, "DEL"),
    ("quit", "END"), (b"END", "END"), (255, "END"), ("mdelete", "MDEL"),
])
def test_lookup_by_method_alias_wire_name_or_opcode(name, expected):
    assert lookup(name).command == expected


@pytest.mark.parametrize("name", ["nope", b"", 0, 22, 256, -1, "g\u00e9t"])
def test_lookup_refuses_what_is_not_an_operation(name):
    with pytest.raises(ValueError, match="not a Gibson operation"):
        lookup(name)


@pytest.mark.parametrize("name", [True, None, 1.5, bytearray(b"get")])
def test_lookup_refuses_other_kinds_of_object(name):
    with pytest.raises(TypeError, match="an operation is named by"):
        lookup(name)
