"""Benchmarks: each operation timed against a baseline measured in the same run, printed as ratios."""
