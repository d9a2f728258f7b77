"""Every public callable of pygibson has a signature that inspect can read
and a docstring (issue #17 item 6), on both implementations, so that help()
and IDEs show what it takes and what it does: the C methods through their
text signatures ("name($self, ...)\\n--\\n\\n" docstrings), the Python ones
through their definitions or the __signature__ they are given when made from
the operation table."""

import importlib
import inspect

import pytest

#: The modules users import, each walked through its __all__.
PUBLIC_MODULES = [
    "pygibson",
    "pygibson.exceptions",
    "pygibson.pool",
    "pygibson.hash",
    "pygibson.asyncio",
    "pygibson.aio",
    "pygibson.aio.commands",
    "pygibson.aio.connection",
    "pygibson.aio.errors",
    "pygibson.aio.pool",
    "pygibson.server",
    "pygibson.server.clock",
    "pygibson.server.config",
    "pygibson.server.faults",
    "pygibson.serializers",
    "pygibson.testing",
]

#: Dunders that are how the classes are used (with, async with, await), so
#: are as public as the named methods.
USED_DUNDERS = ("__enter__", "__exit__", "__aenter__", "__aexit__", "__await__")


def _own_callables(cls):
    """(name, callable) of the public methods that pygibson defines on cls
    or its bases (not those of object, Exception or tuple)."""
    for name in sorted(dir(cls)):
        if name.startswith("_") and name not in USED_DUNDERS:
            continue
        owner = next((base for base in cls.__mro__ if name in vars(base)), None)
        if owner is None or not owner.__module__.startswith("pygibson"):
            continue
        static = inspect.getattr_static(cls, name)
        if isinstance(static, (property, type)) or not callable(getattr(cls, name)):
            continue
        yield name, getattr(cls, name)


def _problems(obj, where):
    problems = []
    try:
        inspect.signature(obj)
    except (TypeError, ValueError) as error:
        problems.append("%s: no signature (%s)" % (where, error))
    if not (getattr(obj, "__doc__", None) or "").strip():
        problems.append("%s: no docstring" % where)
    return problems


def _class_problems(cls, where):
    problems = []
    if not (cls.__doc__ or "").strip():
        problems.append("%s: no docstring" % where)
    # An exception that keeps a builtin exception's constructor has no
    # signature to show (CPython gives those none); its message is its
    # argument.
    init_owner = next(base for base in cls.__mro__ if "__init__" in vars(base))
    if not (issubclass(cls, BaseException) and init_owner.__module__ == "builtins"):
        try:
            inspect.signature(cls)
        except (TypeError, ValueError) as error:
            problems.append("%s: no constructor signature (%s)" % (where, error))
    for name, method in _own_callables(cls):
        problems += _problems(method, "%s.%s" % (where, name))
    return problems


def _walk(module):
    problems = []
    for name in module.__all__:
        obj = getattr(module, name)
        where = "%s.%s" % (module.__name__, name)
        if inspect.isclass(obj):
            problems += _class_problems(obj, where)
        elif callable(obj):
            problems += _problems(obj, where)
    return problems


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_callable_has_a_signature_and_a_docstring(module_name):
    module = importlib.import_module(module_name)
    assert _walk(module) == []


def test_the_client_and_pipeline_of_each_implementation(implementation):
    problems = []
    for cls in (implementation.Client, implementation.Pipeline):
        problems += _class_problems(cls, "%s.%s" % (implementation.__name__, cls.__name__))
    assert problems == []


def test_the_reader_and_encoder_of_each_implementation(protocol):
    problems = _class_problems(protocol.Reader, protocol.__name__ + ".Reader")
    problems += _problems(protocol.encode_command, protocol.__name__ + ".encode_command")
    assert problems == []


def test_the_classes_that_public_methods_return():
    # Not in any __all__, but what pipeline(), connection() and the pools
    # hand out: users call their methods as much as the others'.
    from pygibson._async_pool import AsyncPooledPipeline
    from pygibson.hash import AsyncHashPipeline, HashPipeline

    problems = []
    for cls in (AsyncPooledPipeline, HashPipeline, AsyncHashPipeline):
        problems += _class_problems(cls, cls.__name__)
    assert problems == []


def test_help_on_get_shows_its_signature_what_it_returns_and_raises(implementation):
    text = inspect.getdoc(implementation.Client.get)
    assert str(inspect.signature(implementation.Client.get)) == \
        "(self, /, key, default=Ellipsis)"
    for words in ("bytes", "str", "int", "NotFoundError", "default"):
        assert words in text, words


def test_pipeline_queueing_methods_have_the_operation_signatures(implementation):
    # They had neither docstrings nor signatures (issue #17 item 6).
    from pygibson import OPERATIONS

    for op in OPERATIONS:
        method = getattr(implementation.Pipeline, op.name)
        assert str(inspect.signature(method)) == \
            "(self, /%s" % (", " + op.signature[1:] if op.signature != "()" else ")")
        assert op.command in method.__doc__


def test_the_package_exports_every_exception_once():
    # The exception tree is written in pygibson.exceptions; the package
    # lists each name by hand (type checkers need it so): nothing missing,
    # nothing twice.
    import pygibson
    from pygibson import exceptions
    assert len(pygibson.__all__) == len(set(pygibson.__all__))
    assert set(exceptions.__all__) <= set(pygibson.__all__)
    for name in exceptions.__all__:
        assert getattr(pygibson, name) is getattr(exceptions, name)
