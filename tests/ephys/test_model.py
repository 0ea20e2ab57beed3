"""The Recording / Sweep / Stimulus data model."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from patchatlas.ephys import ClampMode, Recording, Stimulus, StimulusKind, Sweep
from patchatlas.errors import DataError, PatchAtlasError, ReadError


def make_sweep(n=1000, fs=10_000.0, number=0, **kw):
    return Sweep(v=np.linspace(-70, -60, n), i=np.zeros(n), sampling_rate=fs, number=number, **kw)


def test_uniform_time_is_built_lazily_and_exact():
    s = make_sweep(n=5, fs=4.0, t0=1.0)
    np.testing.assert_array_equal(s.t, [1.0, 1.25, 1.5, 1.75, 2.0])
    assert s.uniform and s.duration == 1.25 and s.dt == 0.25
    assert s.index_of(1.5) == 2 and s.index_of(1.6) == 3
    assert s.index_of(-10) == 0 and s.index_of(100) == 5


def test_nonuniform_time():
    t = np.array([0.0, 0.1, 0.15, 0.4])
    s = Sweep(v=np.zeros(4), i=None, sampling_rate=10.0, time=t)
    assert not s.uniform and s.t is t
    assert s.index_of(0.12) == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"v": np.zeros((2, 3)), "i": None, "sampling_rate": 1.0},
        {"v": np.zeros(3), "i": np.zeros(4), "sampling_rate": 1.0},
        {"v": np.zeros(3), "i": None, "sampling_rate": 0.0},
        {"v": np.zeros(3), "i": None, "sampling_rate": float("nan")},
    ],
)
def test_bad_sweeps_raise_data_error(kwargs):
    with pytest.raises(DataError):
        Sweep(**kwargs)


def test_clamp_mode_coerced_from_string():
    s = make_sweep(clamp_mode="voltage_clamp")
    assert s.clamp_mode is ClampMode.VOLTAGE_CLAMP


def test_recording_selection_and_table():
    long = Stimulus(StimulusKind.LONG_SQUARE, 50.0, 0.1, 0.6)
    short = Stimulus(StimulusKind.SHORT_SQUARE, 500.0, 0.1, 0.103)
    rec = Recording(
        [make_sweep(number=3, stimulus=long), make_sweep(number=7, stimulus=short)], cell_id="c1"
    )
    assert len(rec) == 2 and rec.sweep_numbers == [3, 7]
    assert rec.sweep(7).stimulus is short
    assert [s.number for s in rec.select(kind="long_square")] == [3]
    assert rec.select(kind=["long_square", "short_square"], clamp_mode="voltage_clamp") == []
    with pytest.raises(DataError, match="no sweep number 5"):
        rec.sweep(5)
    table = rec.sweep_table()
    assert list(table["kind"]) == ["long_square", "short_square"]
    assert table.loc[1, "amplitude_pa"] == 500.0


def test_stimulus_defaults_and_copy():
    st = Stimulus()
    assert st.kind is StimulusKind.UNKNOWN and math.isnan(st.duration)
    st2 = st.with_(amplitude=5.0)
    assert st2.amplitude == 5.0 and math.isnan(st.amplitude)


def test_read_error_message_and_pickle(tmp_path):
    err = ReadError(tmp_path / "x.abf", "is truncated", "re-copy it")
    assert str(err) == f"{tmp_path / 'x.abf'}: is truncated (re-copy it)"
    assert isinstance(err, PatchAtlasError)
    back = pickle.loads(pickle.dumps(err))
    assert str(back) == str(err) and type(back) is ReadError
