"""Benchmarks of the knowledge-base assistant: run with ``python bench/run.py`` (see bench/run.py)."""
