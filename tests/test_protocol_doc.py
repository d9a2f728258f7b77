"""Every section reference in the sources names a section of docs/protocol.md.

Code comments cite the protocol description by section number (a section
sign followed by a number such as 8 or 8.1). This test collects those
references from the project's sources and checks that docs/protocol.md has a
numbered heading for each, so renumbering the document or citing a section
that does not exist fails here.

It reads files only and imports nothing from pygibson. When the tests run
from a copy of tests/ outside a checkout (as CI does), there is no
docs/protocol.md above this file and the tests are skipped.
"""

import re
from pathlib import Path

import pytest

DOC = Path("docs") / "protocol.md"

# Where references are collected, relative to the repository root.
SOURCE_DIRS = ("src", "vendor/libgibsonclient", "benchmarks", "tests")
# Every text file there counts (C, Python, Markdown, the library's .def
# tables, ...); build output, caches and the fuzzers' binary seeds do not.
SKIPPED_DIRS = {"build", "corpus", "__pycache__", ".git", ".pytest_cache"}
SKIPPED_SUFFIXES = {".o", ".a", ".so", ".pyc", ".pyo", ".whl", ".gz", ".png"}

# The section sign (written as an escape so that this file cites nothing),
# an optional space, then N or N.M. "x" is accepted after the dot so that a
# placeholder such as N.x is reported instead of being overlooked.
REFERENCE = re.compile("\u00a7 ?([0-9]+(?:\\.[0-9x]+)?)")
# A numbered Markdown heading: "## 8. Title" or "### 8.1 Title".
HEADING = re.compile(r"^#{1,6}[ \t]+([0-9]+(?:\.[0-9]+)*)\.?[ \t]", re.MULTILINE)


def find_root():
    """The nearest folder above this file that holds docs/protocol.md."""
    for folder in Path(__file__).resolve().parents:
        if (folder / DOC).is_file():
            return folder
    return None


@pytest.fixture(scope="module")
def root():
    folder = find_root()
    if folder is None:
        pytest.skip(
            "no docs/protocol.md in any folder above %s: the tests are running "
            "outside a pygibson checkout or sdist" % Path(__file__).resolve().parent
        )
    return folder


@pytest.fixture(scope="module")
def sections(root):
    text = (root / DOC).read_text(encoding="utf-8")
    return HEADING.findall(text)


def source_files(root):
    for name in SOURCE_DIRS:
        top = root / name
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*")):
            relative = path.relative_to(root)
            if SKIPPED_DIRS.intersection(relative.parts[:-1]):
                continue
            if path.is_file() and path.suffix not in SKIPPED_SUFFIXES:
                yield path


def references(root):
    """(file, line number, section) for every reference in the sources."""
    found = []
    for path in source_files(root):
        data = path.read_bytes()
        if b"\0" in data:
            continue  # binary
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue  # not text
        for number, line in enumerate(text.splitlines(), 1):
            for section in REFERENCE.findall(line):
                found.append((path.relative_to(root).as_posix(), number, section))
    return found


def test_document_has_every_top_level_section(sections):
    top = [s for s in sections if "." not in s]
    assert top == [str(n) for n in range(1, 14)], top


def test_section_numbers_are_unique(sections):
    duplicates = sorted({s for s in sections if sections.count(s) > 1})
    assert not duplicates, "headings numbered twice in %s: %s" % (DOC, duplicates)


def test_sources_cite_sections(root):
    # Guards the scan itself: if the pattern or the folders went wrong, the
    # next test would pass without checking anything.
    assert len(references(root)) >= 20


def test_every_reference_names_a_section(root, sections):
    known = set(sections)
    missing = [
        "%s:%d: section %s" % (path, line, section)
        for path, line, section in references(root)
        if section not in known
    ]
    assert not missing, "no such section in %s:\n%s" % (DOC, "\n".join(missing))
