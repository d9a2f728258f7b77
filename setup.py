"""Builds the C extension; every other setting lives in pyproject.toml."""

import os

from setuptools import Extension, setup

LIBRARY = os.path.join("vendor", "libgibsonclient")

# CI sets PYGIBSON_STRICT=1 so that any compiler warning fails the build.
strict = os.environ.get("PYGIBSON_STRICT") == "1"
compile_args = ["-O2", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
if strict:
    compile_args.append("-Werror")

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
            "_pipeline.c",
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
        os.path.join("src", "pygibson", "_module.h"),
        os.path.join("src", "pygibson", "_ops.h"),
        os.path.join("src", "pygibson", "_client.h"),
    ],
    extra_compile_args=compile_args,
)

setup(ext_modules=[extension])
