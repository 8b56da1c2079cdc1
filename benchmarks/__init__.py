"""Benchmarks of the hot paths, each against the strongest honest baseline in the same
run (``python -m benchmarks [--quick]``; results in docs/benchmarks.md). Not tests: they
measure and print a table; ``--quick`` runs the same code on tiny sizes so CI keeps
them working."""
