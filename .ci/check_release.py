"""Checks the release metadata agrees with itself. Run from the checkout:

    python .ci/check_release.py DIST_DIR

- the version (src/pygibson/_version.py) is above the old pygibson's 0.2.1,
  which pip must upgrade, and is the version of the sdist in DIST_DIR,
  which carries CHANGELOG.rst;
- CHANGELOG.rst has an "Unreleased" section on top and one for the version;
- the CPython versions agree everywhere they are stated: the classifiers,
  requires-python, cibuildwheel's build selector, the tests workflow's
  matrix and the README, and PyPy is in the classifiers and the matrix.

Needs Python 3.11+ (tomllib) and packaging, as .ci/run's tool venv has.
"""

import glob
import os
import re
import runpy
import sys
import tarfile
import tomllib

from packaging.version import Version

OLD_PYGIBSON = Version("0.2.1")


def fail(problems, text):
    problems.append(text)


def cpython_range(first, last):
    return ["3.%d" % minor for minor in range(int(first.split(".")[1]), int(last.split(".")[1]) + 1)]


def main(dist):
    problems = []
    version = runpy.run_path("src/pygibson/_version.py")["__version__"]
    if Version(version) <= OLD_PYGIBSON:
        fail(problems, "version %s is not above the old pygibson's %s" % (version, OLD_PYGIBSON))
    sdists = glob.glob(os.path.join(dist, "pygibson-*.tar.gz"))
    if [os.path.basename(s) for s in sdists] != ["pygibson-%s.tar.gz" % version]:
        fail(problems, "sdists in %s: %s, expected pygibson-%s.tar.gz" % (dist, sdists, version))

    for sdist in sdists:
        with tarfile.open(sdist) as tar:
            if not any(n.endswith("/CHANGELOG.rst") for n in tar.getnames()):
                fail(problems, "%s lacks CHANGELOG.rst" % os.path.basename(sdist))

    changelog = open("CHANGELOG.rst", encoding="utf-8").read()
    headings = re.findall(r"^(\S[^\n]*)\n-{3,}$", changelog, re.MULTILINE)
    if not headings or headings[0] != "Unreleased":
        fail(problems, "CHANGELOG.rst: the first section is %r, not 'Unreleased'" % headings[:1])
    if not any(h.split()[0] == version for h in headings[1:]):
        fail(problems, "CHANGELOG.rst has no section for %s" % version)

    with open("pyproject.toml", "rb") as f:
        project = tomllib.load(f)
    classifiers = project["project"]["classifiers"]
    versions = sorted((c.rsplit(" :: ", 1)[1] for c in classifiers
                       if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)),
                      key=Version)
    if not versions:
        fail(problems, "no Python version classifiers")
        versions = ["3.0"]
    expected = cpython_range(versions[0], versions[-1])
    if versions != expected:
        fail(problems, "classifiers skip versions: %s" % versions)
    if "Programming Language :: Python :: Implementation :: PyPy" not in classifiers:
        fail(problems, "no PyPy classifier")
    if project["project"]["requires-python"] != ">=%s" % versions[0]:
        fail(problems, "requires-python %r, classifiers from %s"
             % (project["project"]["requires-python"], versions[0]))

    build = project["tool"]["cibuildwheel"]["build"].split()
    built = sorted({"3.%s" % b[3:].split("-")[0].rstrip("t") for b in build}, key=Version)
    if built != versions:
        fail(problems, "cibuildwheel builds %s, classifiers say %s" % (built, versions))

    workflow = open(".github/workflows/tests.yml", encoding="utf-8").read()
    matrix = re.search(r"^\s*python: \[([^\]]*)\]", workflow, re.MULTILINE)
    tested = [v.strip().strip("\"'") for v in matrix.group(1).split(",")] if matrix else []
    if [v for v in tested if not v.startswith("pypy")] != versions:
        fail(problems, "tests.yml tests %s, classifiers say %s" % (tested, versions))
    if not any(v.startswith("pypy3") for v in tested):
        fail(problems, "tests.yml tests no PyPy")

    readme = open("README.rst", encoding="utf-8").read()
    for first, last in re.findall(r"(3\.\d+) *(?:to|–|-) *(3\.\d+)", readme):
        if (first, last) != (versions[0], versions[-1]):
            fail(problems, "README.rst says %s to %s, classifiers say %s to %s"
                 % (first, last, versions[0], versions[-1]))

    print("version %s; CPython %s; PyPy" % (version, " ".join(versions)))
    for problem in problems:
        print("problem:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
