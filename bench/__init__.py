"""Benchmarks and long reliability runs; ``python bench/run.py`` runs them all."""
