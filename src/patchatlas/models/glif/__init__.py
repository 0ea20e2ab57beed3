"""Generalized leaky integrate-and-fire models (Teeter et al. 2018, GLIF1–5)."""

from __future__ import annotations

from patchatlas.models.glif._params import LEVEL_NAMES, LEVELS, GlifParameters
from patchatlas.models.glif.model import GlifModel, GlifSimulation, simulate_many

__all__ = ["LEVELS", "LEVEL_NAMES", "GlifModel", "GlifParameters", "GlifSimulation", "simulate_many"]
