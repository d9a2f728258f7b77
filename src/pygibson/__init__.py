"""pygibson: a fast client for the Gibson cache server (placeholder until the
extension lands)."""

from ._version import __version__
