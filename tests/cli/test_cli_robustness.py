"""The command line on real files from other labs: overrides, plausibility findings, exit codes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.cli.test_cli import run as _run


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The CLI's exit code, stdout and stderr, with the console's line wrapping undone."""
    code, out, err = _run(capsys, *args)
    return code, " ".join(out.split()), " ".join(err.split())


@pytest.fixture(scope="module")
def robust(ephys_data: Path) -> Path:
    return ephys_data / "robustness"


def test_info_refuses_a_contradictory_header_then_reads_it_with_overrides(
    capsys: pytest.CaptureFixture[str], robust: Path
) -> None:
    path = str(robust / "18807005.abf")
    code, out, _ = run(capsys, "info", path)
    assert code == 2 and "no input is a membrane voltage" in out and "--channels" in out
    code, out, _ = run(
        capsys, "info", path, "--channels", "v=0", "--units", "v=mV", "--plausibility", "warn"
    )
    assert code == 0 and "ramp" in out
    assert "channels (user)" in out and "membrane_voltage_range" in out


def test_info_clamp_mode_and_units(capsys: pytest.CaptureFixture[str], robust: Path) -> None:
    path = str(robust / "2018_12_09_pCLAMP11_0001.abf")
    code, out, _ = run(capsys, "info", path)
    assert code == 2 and "current_scale" in out
    code, out, _ = run(capsys, "info", path, "--units", "i=pA", "--clamp-mode", "voltage_clamp")
    assert code == 0 and "voltage" in out
    code, _, err = run(capsys, "info", path, "--channels", "v=one")
    assert code == 2 and "not a channel index" in err


def test_ephys_qc_lists_the_reader_findings(
    capsys: pytest.CaptureFixture[str], robust: Path, tmp_path: Path
) -> None:
    path = str(robust / "invalidDate-abf1.abf")
    code, out, _ = run(capsys, "ephys", "qc", path)
    assert code == 0
    assert "reader plausibility findings" in out and "command_unavailable" in out
    found = tmp_path / "findings.csv"
    code, out, _ = run(capsys, "ephys", "qc", path, "--findings-out", str(found))
    assert code == 0 and "reader plausibility findings" not in out
    df = pd.read_csv(found)
    assert list(df.columns) == ["cell_id", "check", "severity", "sweeps", "message"]
    assert (df["check"] == "command_unavailable").all() and path in df["message"].iloc[0]
    # a refused file is read with --plausibility warn, and its errors listed
    code, out, _ = run(
        capsys, "ephys", "qc", str(robust / "2018_12_09_pCLAMP11_0001.abf"), "--plausibility",
        "warn",
    )  # fmt: skip
    assert code == 0 and "current_scale" in out and "error" in out


def test_analysis_commands_take_the_reader_overrides(
    capsys: pytest.CaptureFixture[str], robust: Path, tmp_path: Path
) -> None:
    """ephys features / qc / plot refuse a contradictory header (exit 2, naming the options) and
    read it with the overrides that info takes."""
    path = str(robust / "18807005.abf")
    overrides = ("--channels", "v=0", "--units", "v=mV", "--plausibility", "warn")
    code, out, _ = run(capsys, "ephys", "features", "--level", "sweep", path)
    assert code == 2 and "no input is a membrane voltage" in out and "--channels" in out
    table = tmp_path / "sweeps.csv"
    code, _, _ = run(
        capsys, "ephys", "features", "--level", "sweep", path, *overrides, "--out", str(table)
    )
    assert code == 0
    df = pd.read_csv(table)
    assert len(df) == 2 and set(df["stimulus_kind"]) == {"ramp"}  # the pA command, read as i
    code, out, _ = run(capsys, "ephys", "qc", path, *overrides)
    assert code == 0 and "membrane_voltage_range" in out
    code, out, _ = run(capsys, "ephys", "qc", path, "--channels", "v=0", "--units", "v=mV")
    assert code == 2 and "membrane_voltage_range" in out  # refused without 'warn'
    fig = tmp_path / "sweep.png"
    code, _, _ = run(capsys, "ephys", "plot", path, "--sweep", "0", *overrides, "--out", str(fig))
    assert code == 0 and fig.stat().st_size > 0
    code, _, err = run(capsys, "ephys", "features", path, "--units", "v")
    assert code == 2 and "role=value" in err


def test_morph_validate_exits_2_for_unreadable_files(
    capsys: pytest.CaptureFixture[str], shared_data: Path, tmp_path: Path
) -> None:
    morph_data = shared_data / "morphology"
    bad = tmp_path / "broken.swc"
    bad.write_text("1 1 0 0\n")
    good = morph_data / "neurom_edge_cases" / "simple.swc"
    code, out, _ = run(capsys, "morph", "validate", str(good), str(bad))
    assert code == 2 and "broken.swc" in out and "could not be read" in out
    # problems found in a readable file: 1
    code, _, _ = run(
        capsys, "morph", "validate", str(morph_data / "neurom_edge_cases/multiple_somata.swc")
    )
    assert code == 1
    # the HDF5 morphologies read and validate
    code, out, _ = run(capsys, "morph", "validate", str(morph_data / "robustness/Neuron_h5v1.h5"))
    assert code in (0, 1) and "Neuron_h5v1" in out
