"""Shared helpers of the point-neuron tests.

Spikes are counted by upward crossings of -20 mV (independent of the ephys feature engine).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from patchatlas.core.recording import Recording
from patchatlas.ephys.stimulus import infer_recording_stimuli

FS = 50e3
#: small amplitude sets (pA) per protocol, for quick whole-cell simulations
SMALL = {"long_square": [-90.0, 50.0, 250.0], "short_square": [300.0, 900.0], "ramp": [60.0]}


def crossings(v: np.ndarray, fs: float = FS, t0: float = 0.0, t1: float = math.inf) -> np.ndarray:
    """Times (s) of upward -20 mV crossings within [t0, t1)."""
    k = np.flatnonzero((v[:-1] < -20.0) & (v[1:] >= -20.0)) + 1
    t = k / fs
    return t[(t >= t0) & (t < t1)]


def window(v: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return v[..., round(t0 * FS) : round(t1 * FS)]


def assert_inferred_matches(rec: Recording) -> None:
    """Stimulus inference on the command recovers every sweep's simulated description."""
    inferred = infer_recording_stimuli(rec.sweeps)
    for s, got in zip(rec.sweeps, inferred, strict=True):
        want = s.stimulus
        assert got.kind == want.kind, s.number
        assert got.amplitude == pytest.approx(want.amplitude, abs=1e-3), s.number
        # Ramp onsets are located where the line leaves the holding level: within a sample.
        assert got.start == pytest.approx(want.start, abs=1.5 / s.sampling_rate), s.number
        assert got.end == pytest.approx(want.end, abs=1.5 / s.sampling_rate), s.number
