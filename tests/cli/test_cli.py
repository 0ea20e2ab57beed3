"""The patchatlas command line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from patchatlas import __version__
from patchatlas.cli.main import main


def run(capsys, *args):
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_version(capsys):
    code, out, _ = run(capsys, "--version")
    assert code == 0 and __version__ in out


def test_help_lists_commands(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "info" in out and "demo" in out


def test_info_prints_sweep_table(capsys, ephys_data):
    code, out, _ = run(capsys, "info", str(ephys_data / "abf_pyabf/190619B_0003.abf"))
    assert code == 0
    assert "190619B_0003" in out and "abf1" in out and "long_square" in out
    # one row per sweep with its amplitude
    for amp in (-120, -60, 420):
        assert f" {amp} " in out


def test_info_bad_file_is_one_line_error(capsys, tmp_path):
    bad = tmp_path / "bad.abf"
    bad.write_bytes(b"ABF2" + b"\0" * 10)
    code, out, _ = run(capsys, "info", str(bad))
    assert code == 2 and "bad.abf" in out and "Traceback" not in out


def test_entry_point_installed():
    res = subprocess.run(
        [sys.executable, "-m", "patchatlas.cli.main", "--version"], capture_output=True, text=True
    )
    assert res.returncode == 0 and __version__ in res.stdout


@pytest.mark.parametrize("cmd", ["info", "demo"])
def test_subcommand_help(capsys, cmd):
    code, out, _ = run(capsys, cmd, "--help")
    assert code == 0 and "Usage" in out


def _ephys_files():
    from tests.conftest import SHARED, curated

    root = SHARED / "ephys"
    files = curated(
        p
        for p in sorted(root.rglob("*"))
        if p.suffix.lower() in (".abf", ".nwb", ".ibw", ".txt", ".csv")
        and "allen_metadata" not in p.parts  # tables of metadata, not traces
    )
    return files or [root / "missing"]


@pytest.mark.parametrize("path", _ephys_files(), ids=lambda p: p.name)
def test_info_on_every_real_file(capsys, ephys_data, path):
    code, out, err = run(capsys, "info", str(path))
    assert code == 0, err
    assert "sweep" in out and "kind" in out


def test_demo_command_end_to_end_without_serving(capsys, tmp_path):
    """`patchatlas demo --no-serve` on one simulated cell prints every step and exits 0."""
    code, out, err = run(capsys, "demo", "--cells", "1", "--out", str(tmp_path / "d"), "--no-serve")
    assert code == 0, err
    for step in (
        "dataset",
        "recordings",
        "ephys",
        "morphology",
        "atlas",
        "crossmodal",
        "celltyping",
    ):
        assert step in out
    assert "threshold_i_long_square" in out and "total_length" in out
    assert "skipped: needs at least 2 cells" in out  # one cell is not a cohort
    assert "skipped: needs at least 2 cell types" in out  # nor a set of types to learn
    assert (tmp_path / "d" / "atlas.db").exists()
    assert "Serving" not in out
