"""Benchmarks (not tests): curation throughput, memory, registration cost, loader speed.

``python -m bench [--quick] [--out PATH]`` runs them all, prints a table and writes every raw
figure, ratio and a description of the machine to ``bench/results.json``. The machines this
runs on are shared and noisy, so every figure that matters is a ratio of two things measured
side by side in the same run. See ``bench/README.md``.
"""
