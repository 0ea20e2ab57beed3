"""Datasets: the built-in simulator that generates the offline demo data, and data clients.

Submodules are imported on first use (``from patchatlas.datasets import simulate``).
"""
