"""Brenda's benchmarks: `python -m bench` (or `make bench`); see bench/README.md for how to read them."""
