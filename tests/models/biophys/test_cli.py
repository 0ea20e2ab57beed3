"""``patchatlas biophys simulate`` and ``patchatlas biophys fit``."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from patchatlas.cli.main import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_simulate_writes_a_figure(capsys, tmp_path: Path, peri_paths, arbor_ok) -> None:
    fig = tmp_path / "sweep.png"
    code, out, err = run(
        capsys,
        "biophys",
        "simulate",
        str(peri_paths[0]),
        "--morphology",
        str(peri_paths[1]),
        "--protocol",
        "long_square:90",
        "--tstop",
        "2.2",
        "--out",
        str(fig),
    )
    assert code == 0, err
    assert fig.stat().st_size > 10_000
    assert "perisomatic" in out and "spikes" in out and "-14" in out


def test_simulate_rejects_a_bad_protocol(capsys, peri_paths, arbor_ok) -> None:
    code, _, err = run(
        capsys,
        "biophys",
        "simulate",
        str(peri_paths[0]),
        "--morphology",
        str(peri_paths[1]),
        "--protocol",
        "noise:3",
    )
    assert code == 2 and "unknown protocol" in err and "Traceback" not in err


def test_fit_writes_its_outputs(capsys, tmp_path: Path, peri_paths, arbor_ok) -> None:
    """A tiny fit of the perisomatic template to a simulated cell (one NWB file)."""
    from patchatlas.datasets.simulate import demo_dataset
    from patchatlas.io import write_nwb

    rec = demo_dataset(
        n_cells=1, protocols=("long_square",), amplitudes={"long_square": [-50.0, 150.0, 250.0]}
    )[0]
    nwb = tmp_path / "cell.nwb"
    write_nwb(rec, nwb)
    out_dir = tmp_path / "fit"
    code, out, err = run(
        capsys,
        "biophys",
        "fit",
        str(nwb),
        "--morphology",
        str(peri_paths[1]),
        "--generations",
        "1",
        "--population",
        "4",
        "--amplitudes",
        "250",
        "--out",
        str(out_dir),
    )
    assert code == 0, err
    params = json.loads((out_dir / "best_parameters.json").read_text())
    assert len(params) == 10 and all(k.startswith("gbar_") for k in params)
    hist = pd.read_csv(out_dir / "history.csv")
    assert list(hist["generation"]) == [0, 1] and hist["evaluations"].iloc[-1] == 8
    feats = pd.read_csv(out_dir / "features.csv")
    assert set(feats["amplitude_pa"]) == {250.0}
    assert (out_dir / "fit.png").stat().st_size > 10_000
    assert "8 evaluations" in out and "best parameters" in out
