"""Benchmarks: ``python -m benchmarks`` (see benchmarks/README.md). Not a test suite."""
