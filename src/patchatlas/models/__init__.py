"""Neuron-model engines: simulate cells from model parameters.

Each model family is a subpackage, pure like every engine (parameters and numpy arrays in,
:mod:`patchatlas.core` recordings and arrays out; no files, no database, never prints; it imports
nothing from ``io``, ``atlas``, ``pipeline``, ``web``, ``cli``, ``datasets`` or ``plot``):

:mod:`patchatlas.models.pointneuron`
    Single-compartment conductance-based neurons (Pospischil et al. 2008, plus Ih) under
    Allen-style protocols, integrated by a vectorised exponential-Euler scheme. It generates
    the offline demo data (:func:`patchatlas.datasets.simulate.demo_dataset`).


:mod:`patchatlas.models.glif`
    Generalized leaky integrate-and-fire models (Teeter et al. 2018, GLIF1–5): Allen
    ``neuron_config`` simulation (numba kernel, equal NumPy path), fitting to a cell's sweeps
    (:func:`patchatlas.models.glif.fit`) and spike-train metrics.

Biophysical multi-compartment models (``models/biophys/``) will live beside them, each with its
own entry point.
"""

from __future__ import annotations

__all__: list[str] = []
