"""Benchmarks for the broker: `python -m bench` (what `make bench` runs). See bench/README.md."""
