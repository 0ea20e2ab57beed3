"""Neuron-model engines: simulate cells from model parameters.

Each model family is a subpackage, pure like every engine (parameters and numpy arrays in,
:mod:`patchatlas.core` recordings and arrays out; no files, no database, never prints; it imports
nothing from ``io``, ``atlas``, ``pipeline``, ``web``, ``cli``, ``datasets`` or ``plot``):

:mod:`patchatlas.models.pointneuron`
    Single-compartment conductance-based neurons (Pospischil et al. 2008, plus Ih) under
    Allen-style protocols, integrated by a vectorised exponential-Euler scheme. It generates
    the offline demo data (:func:`patchatlas.datasets.simulate.demo_dataset`).

Generalized leaky integrate-and-fire models (``models/glif/``) and biophysical multi-compartment
models (``models/biophys/``) will live beside it, each with its own entry point.
"""

from __future__ import annotations

__all__: list[str] = []
