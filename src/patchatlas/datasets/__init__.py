"""Datasets: the built-in simulator that generates the offline demo data, synthetic
morphologies, and dataset clients (with ``io``, the only packages that touch files or the network).

Submodules are imported on first use (``from patchatlas.datasets import simulate``).
"""
