"""Reproducible performance measurements of the mock: `python -m benchmarks` (see README, Performance)."""
