"""Benchmarks for pygibson against references measured in the same run.

Run ``python -m benchmarks --help``; the method is described in README.md
beside this file.
"""
