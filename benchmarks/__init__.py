"""Benchmarks and load tests for payerkb; `make bench` runs benchmarks.run and writes docs/benchmarks.md."""
