"""The first run a new user makes, as typed: the demo from another working directory with its
default (relative) output folder, and the README's ``make demo`` command line exactly.

Both run the installed ``patchatlas`` command in a subprocess from a temporary folder, so a
relative path that is resolved against the wrong folder (the demo's manifest once was) fails
here, where the library tests with absolute ``tmp_path`` folders cannot see it.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from patchatlas.atlas import Atlas

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow


def _run(cmd: str | list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        cmd,
        cwd=cwd,
        shell=isinstance(cmd, str),
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )


def _check_demo(proc: subprocess.CompletedProcess[str], cwd: Path, n_cells: int) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert f"ingested {n_cells} of {n_cells} cells" in out, out[-3000:]
    assert "failed" not in out.lower(), out[-3000:]
    db = cwd / "patchatlas_demo" / "atlas.db"
    atlas = Atlas(db, mode="r")
    cells = atlas.cells()
    multipatch = cells["dataset"] == "sim_multipatch"  # the synphys step's 4 simulated cells
    assert len(cells[~multipatch]) == n_cells and int(multipatch.sum()) == 4
    assert atlas.errors().empty
    assert len(atlas.ephys_features("cell")) == n_cells
    # the celltyping step stores the demo cells' t- and e-types (the portal's Cell types page)
    assert sorted(atlas.cell_types()["kind"].value_counts().items()) == [
        ("e", n_cells),
        ("t", n_cells),
    ]
    manifest = (cwd / "patchatlas_demo" / "manifest.csv").read_text()
    for line in manifest.splitlines()[1:]:
        assert line.split(",")[1].startswith("/"), line  # absolute paths only


def test_demo_with_the_default_out_from_another_folder(tmp_path: Path) -> None:
    proc = _run([str(BIN / "patchatlas"), "demo", "--no-serve", "--cells", "2"], tmp_path)
    _check_demo(proc, tmp_path, 2)


def test_the_make_demo_command_line(tmp_path: Path) -> None:
    """``make demo DEMO_ARGS=--no-serve`` runs ``.venv/bin/patchatlas demo $(DEMO_ARGS)``: take
    that line from the Makefile (``make -n``) and run it as written, in a fresh folder whose
    ``.venv`` is this test's environment."""
    plan = subprocess.run(
        ["make", "-s", "-n", "-C", str(ROOT), "demo", "DEMO_ARGS=--no-serve"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [ln for ln in plan.splitlines() if "patchatlas demo" in ln]
    assert len(lines) == 1, plan
    line = lines[0].split("#", 1)[0].strip()
    assert shlex.split(line) == [".venv/bin/patchatlas", "demo", "--no-serve"], line
    (tmp_path / ".venv").symlink_to(BIN.parent)
    proc = _run(line, tmp_path)
    _check_demo(proc, tmp_path, 4)
