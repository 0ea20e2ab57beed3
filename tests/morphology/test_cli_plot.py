"""CLI `patchatlas morph ...` and the matplotlib renders (Agg)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from patchatlas import read
from patchatlas.cli.main import main
from patchatlas.datasets.morphology import synthetic_morphology, write_demo_morphologies
from patchatlas.morphology import depth_profiles, sholl_frequency
from patchatlas.plot.morphology import (
    plot_depth_profile,
    plot_layer_aligned,
    plot_morphology,
    plot_sholl,
)


def _run(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_features_csv(tmp_path: Path, morph_data: Path) -> None:
    files = [
        str(f) for f in sorted((morph_data / "allen_swc").glob("*_m.swc")) if "marker" not in f.name
    ]
    out = tmp_path / "f.csv"
    assert _run(["morph", "features", *files, "--convention", "neurom", "--out", str(out)]) == 0
    df = pd.read_csv(out, index_col=0)
    assert len(df) == len(files) and "total_length" in df.columns


def test_cli_validate_json_and_exit_code(
    tmp_path: Path, edge: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js = tmp_path / "v.json"
    rc = _run(
        [
            "morph",
            "validate",
            str(edge / "multiple_somata.swc"),
            str(edge / "simple.swc"),
            "--json",
            str(js),
        ]
    )
    assert rc == 1
    rep = json.loads(js.read_text())
    codes = {i["code"] for issues in rep.values() for i in issues}
    assert "MULTIPLE_SOMATA" in codes
    assert _run(["morph", "validate", str(edge / "simple.swc")]) == 0
    assert "ZERO_RADIUS" in capsys.readouterr().out


def test_cli_align_and_plot(tmp_path: Path, sk: Path) -> None:
    out = tmp_path / "al.swc"
    rc = _run(
        [
            "morph",
            "align",
            str(sk / "Vip-IRES-Cre_Ai14-387150.05.02.01_811371030_m.swc"),
            "--layers",
            str(sk / "694146546_surfaces_and_layers.json"),
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    al = read(out)
    assert al.xyz[0, 1] < -300
    assert _run(["morph", "plot", str(out), "--aligned", "--out", str(tmp_path / "png")]) == 0
    png = tmp_path / "png" / "al.png"
    assert png.exists() and png.stat().st_size > 10_000


def test_cli_list_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(["morph", "features", "--list", "--convention", "gouwens"]) == 0
    assert "axon_exit_theta" in capsys.readouterr().out


def test_plots_return_axes(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt

    m = synthetic_morphology("pyramidal", seed=2)
    fig, axes = plt.subplots(1, 4)
    assert plot_morphology(m, ax=axes[0], projection="xz") is axes[0]
    assert len(axes[0].collections) == 1
    # colours follow the compartment types
    cols = axes[0].collections[0].get_colors()
    assert len({tuple(c) for c in np.round(cols, 3)}) == 3
    aligned = m.translated((0, -400, 0))
    assert plot_layer_aligned(aligned, ax=axes[1]) is axes[1]
    assert len(axes[1].lines) >= 6  # pia + 6 boundaries
    f = sholl_frequency(m, step=20, convention="patchatlas")
    assert plot_sholl(np.arange(f.size) * 20.0, f, ax=axes[2]) is axes[2]
    prof = {t: v[0] for t, v in depth_profiles([aligned]).items()}
    assert plot_depth_profile(prof, ax=axes[3]) is axes[3]
    fig.savefig(tmp_path / "x.png")
    plt.close(fig)


def test_demo_morphologies(tmp_path: Path) -> None:
    files = write_demo_morphologies(tmp_path, n=2)
    assert len(files) == 4
    cells = [read(f) for f in files]
    assert {c.meta.get("format") for c in cells} == {"swc"}
    assert all(len(c) > 500 for c in cells)
