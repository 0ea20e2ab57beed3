"""Registry, QC rules, plots and the `patchatlas ephys` CLI."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import patchatlas
from patchatlas.cli.main import cli
from patchatlas.ephys.cell import CELL_RECORD_FIELDS
from patchatlas.ephys.qc import QCRules, sweep_qc
from patchatlas.ephys.registry import FEATURES, get_feature, list_features
from patchatlas.ephys.spikes import SPIKE_COLUMNS
from patchatlas.ephys.train import SWEEP_FEATURES
from patchatlas.errors import DataError

matplotlib.use("Agg")


def test_registry_covers_every_output() -> None:
    names = {(f.level, f.name) for f in FEATURES}
    assert len(names) == len(FEATURES), "duplicate registry entries"
    for c in SPIKE_COLUMNS:
        assert ("spike", c) in names, c
    for c in SWEEP_FEATURES:
        assert ("sweep", c) in names, c
    for c in CELL_RECORD_FIELDS:
        if not c.startswith("n_"):
            assert ("cell", c) in names, c
    for f in FEATURES:
        assert f.unit is not None and f.definition and f.window
        assert f.convention in ("allen", "patchatlas", "efel")
    assert get_feature("ri").unit == "MΩ"
    from patchatlas.ephys.efel_names import EFEL_FEATURES

    for c in EFEL_FEATURES:
        assert get_feature(c, "efel").convention == "efel"
    assert len(list_features("vector")) == 12
    assert list_features("spike")
    with pytest.raises(DataError, match="list-features"):
        get_feature("nope")


def _quiet_sweep(fs: float = 20e3, noise: float = 0.01):
    from patchatlas.core.recording import Stimulus, StimulusKind, Sweep

    t = np.arange(int(2 * fs)) / fs
    v = -70 + np.random.default_rng(0).normal(0, noise, t.size)
    return Sweep(
        v, np.zeros(t.size), fs, stimulus=Stimulus(StimulusKind.LONG_SQUARE, 0.0, 0.6, 1.6)
    )


def test_qc_rules_pass_and_fail() -> None:
    good = sweep_qc(_quiet_sweep())
    assert good["passed"] is True
    assert good["pre_noise_rms_mv"] < 0.07 and good["pre_noise_rms_mv_pass"] is True
    assert good["slow_noise_rms_mv_pass"] is True and good["vm_delta_mv"] < 1
    noisy = sweep_qc(_quiet_sweep(noise=0.2))
    assert noisy["passed"] is False and noisy["pre_noise_rms_mv_pass"] is False
    lenient = sweep_qc(
        _quiet_sweep(noise=0.2), rules=QCRules().with_(pre_noise_rms_mv=1.0, post_noise_rms_mv=1.0)
    )
    assert lenient["passed"] is True
    sw = _quiet_sweep()
    sw.v[5000] = np.nan
    assert sweep_qc(sw)["passed"] is False


def test_qc_on_real_cell(ephys_data: Path) -> None:
    rec = patchatlas.read(ephys_data / "abf_pyabf" / "171116sh_0018.abf")
    from patchatlas.ephys.qc import recording_qc

    rows = recording_qc(rec)
    assert len(rows) == len(rec)
    assert all(isinstance(r["passed"], bool) for r in rows)
    assert all(r["n_spikes_robust"] >= r["n_spikes_allen"] for r in rows)


def test_plots_return_axes(ephys_data: Path) -> None:
    import matplotlib.pyplot as plt

    from patchatlas.ephys import detect_spikes
    from patchatlas.plot.ephys import plot_fi_curve, plot_phase, plot_sweep

    rec = patchatlas.read(ephys_data / "abf_pyabf" / "2019_07_24_0055_fsi.abf")
    sw = rec[8]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sp = detect_spikes(sw.t, sw.v, start=sw.stimulus.start, end=sw.stimulus.end)
    fig, axes = plt.subplots(1, 3)
    assert (
        plot_sweep(sw.t, sw.v, sp, window=(sw.stimulus.start, sw.stimulus.end), ax=axes[0])
        is axes[0]
    )
    assert len(axes[0].lines) >= 4
    assert plot_fi_curve([0, 50, 100], [0, 10, 20], slope=0.2, ax=axes[1]) is axes[1]
    assert plot_phase(sw.t, sw.v, sp, ax=axes[2]) is axes[2]
    assert len(axes[2].lines) >= 1
    plt.close(fig)


def test_cli_ephys(ephys_data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    f = ephys_data / "abf_pyabf" / "2019_07_24_0055_fsi.abf"
    res = runner.invoke(cli, ["ephys", "list-features", "--level", "sweep"])
    assert res.exit_code == 0 and "avg_rate" in res.output
    assert "[start, end]" in res.output  # windows are printed, not eaten as markup
    out = tmp_path / "cell.csv"
    res = runner.invoke(cli, ["ephys", "features", str(f), "--out", str(out)])
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert len(df) == 1 and df["ri"].iloc[0] == pytest.approx(338, rel=0.02)
    out2 = tmp_path / "spikes.csv"
    res = runner.invoke(cli, ["ephys", "features", str(f), "--level", "spike", "--out", str(out2)])
    assert res.exit_code == 0, res.output
    sp = pd.read_csv(out2)
    assert {"sweep_number", "threshold_v", "width"} <= set(sp.columns) and len(sp) > 100
    res = runner.invoke(cli, ["ephys", "qc", str(f)])
    assert res.exit_code == 0 and "passed" in res.output
    png = tmp_path / "fig.png"
    res = runner.invoke(cli, ["ephys", "plot", str(f), "--sweep", "8", "--out", str(png)])
    assert res.exit_code == 0, res.output
    assert png.stat().st_size > 10_000
    res = runner.invoke(cli, ["ephys", "plot", str(f), "--sweep", "999", "--out", str(png)])
    assert res.exit_code != 0
