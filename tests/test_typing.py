"""The typing targets of issue #17 item 5 that the suite can hold without
the checkers: the README's examples make a module (tests/readme_examples.py)
that compiles, and that mypy --strict accepts when mypy is installed. The
full checks (pyright --verifytypes at 100 %, stubtest, mypy --strict and
pyright on the examples) are .ci/run's "typing" step, which installs the
checkers from PyPI."""

import pytest

from .readme_examples import README, examples, module


@pytest.fixture(autouse=True)
def readme_here():
    if not README.is_file():
        pytest.skip("no README.rst beside tests/ (%s): the tests are running outside a "
                    "pygibson checkout or sdist" % README)


def test_every_python_example_of_the_readme_is_taken():
    text = README.read_text(encoding="utf-8")
    found = examples(text)
    assert len(found) == text.count(".. code-block:: python")
    assert all(code.strip() for _, _, code in found)


def test_the_examples_make_a_module_that_compiles():
    compile(module(README.read_text(encoding="utf-8")), "readme_examples.py", "exec")


def test_an_example_that_goes_on_from_another_is_given_its_names():
    text = ("Intro.\n\n.. readme-types: client: pygibson.Client\n\n"
            ".. code-block:: python\n\n    client.get('k')\n\nAfter.\n\n"
            ".. code-block:: python\n\n    x = 1\n")
    assert [(context, code) for _, context, code in examples(text)] == [
        ("client: pygibson.Client", "client.get('k')"), ("", "x = 1")]


def test_mypy_strict_accepts_the_readme_examples(tmp_path):
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (.ci/run has it)")
    path = tmp_path / "readme_examples.py"
    path.write_text(module(README.read_text(encoding="utf-8")), encoding="utf-8")
    out, err, status = api.run(["--strict", "--cache-dir", str(tmp_path / "cache"), str(path)])
    assert status == 0, out + err
