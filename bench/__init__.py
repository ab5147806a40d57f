"""Benchmarks: ``make bench`` (or ``python -m bench [name …]``).

Each module in :data:`bench.__main__.BENCH_MODULES` exposes ``run() -> str``,
returning a Markdown section with its figures; the runner writes them all to
BENCHMARKS.md under a header naming the machine and the date.
"""
