# Above the old pygibson's 0.2.1 on the package index, so that pip upgrades it;
# a major version because the API changed (see "Differences from the old
# pygibson" in README.rst). CHANGELOG.rst has a section for every version.
__version__ = "1.0.0"
