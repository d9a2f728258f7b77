"""Builds the C extension; every other setting lives in pyproject.toml."""

import os
import platform
import sys

from setuptools import Extension, setup

LIBRARY = os.path.join("vendor", "libgibsonclient")

# CI sets PYGIBSON_STRICT=1 so that any compiler warning fails the build.
strict = os.environ.get("PYGIBSON_STRICT") == "1"
# Hidden visibility: the module exports only PyInit__pygibson, so the
# vendored library's gb_* symbols cannot clash with another copy in the
# process, and calls between its files skip the PLT.
compile_args = ["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                "-fvisibility=hidden"]
if strict:
    compile_args.append("-Werror")

# No debug information and no local symbols in what we ship: they were three
# quarters of the module's size. To debug (gdb, valgrind, perf), build with
# PYGIBSON_DEBUG=1, which keeps both.
link_args = []
if os.environ.get("PYGIBSON_DEBUG") != "1":
    compile_args.append("-g0")  # after Python's own CFLAGS, so it wins over -g
    if sys.platform == "darwin":
        link_args.append("-Wl,-x")  # Apple's linker has no -s
    else:
        link_args.append("-s")

# PYGIBSON_LIMITED_API=1 builds against the Limited API (stable ABI, abi3):
# one wheel for CPython >= 3.11. PYGIBSON_LIMITED_API=0x030C0000 picks
# another minimum version.
limited = os.environ.get("PYGIBSON_LIMITED_API", "")
limited_hex = "0x030B0000" if limited == "1" else limited
define_macros = [("Py_LIMITED_API", limited_hex)] if limited_hex else []

extension = Extension(
    "pygibson._pygibson",
    sources=[
        os.path.join("src", "pygibson", name)
        for name in (
            "_pygibson.c",
            "_errors.c",
            "_convert.c",
            "_ops.c",
            "_client.c",
            "_forks.c",
            "_pipeline.c",
            "_reader.c",
            "_encode.c",
        )
    ]
    + [
        os.path.join(LIBRARY, "protocol.c"),
        os.path.join(LIBRARY, "transport.c"),
        os.path.join(LIBRARY, "client.c"),
    ],
    include_dirs=[LIBRARY],
    depends=[
        os.path.join(LIBRARY, "gibson.h"),
        os.path.join(LIBRARY, "operations.def"),
        os.path.join("src", "pygibson", "_module.h"),
        os.path.join("src", "pygibson", "_limited.h"),
        os.path.join("src", "pygibson", "_ops.h"),
        os.path.join("src", "pygibson", "_client.h"),
        os.path.join("src", "pygibson", "_forks.h"),
    ],
    extra_compile_args=compile_args,
    extra_link_args=link_args,
    define_macros=define_macros,
    py_limited_api=bool(limited_hex),
)

# The extension uses CPython's C API; elsewhere (PyPy) the package installs
# as pure Python and pygibson._compat picks the pure-Python twin.
setup(ext_modules=[extension] if platform.python_implementation() == "CPython" else [])
