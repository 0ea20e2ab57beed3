"""Cell-level parity: `cell_features` vs IPFX 2.1.2 `LongSquareAnalysis` on real long-square cells.

IPFX runs in .venv-ipfx (benchmarks/setup_reference_envs.sh; required under CI=true) through
tests/ephys/ipfx_lsa_runner.py, with the same stimulus window and filter cutoff. Identical to
1e-6: vrest, rheobase, f-I slope, sag, vm_for_sag, Ri, tau and the hero sweep.
"""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import patchatlas
from patchatlas.ephys import cell_features
from patchatlas.ephys._dvdt import effective_cutoff
from tests.conftest import ROOT, require_reference_env

PY = ROOT / ".venv-ipfx" / "bin" / "python"
RUNNER = Path(__file__).with_name("ipfx_lsa_runner.py")
CELLS = ("2019_07_24_0055_fsi", "17o05028_ic_steps", "171116sh_0018", "190619B_0003")


@pytest.fixture(scope="module")
def cells(ephys_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    require_reference_env(PY, "IPFX", "benchmarks/setup_reference_envs.sh")
    arrays: dict[str, np.ndarray] = {}
    ours: dict[str, Any] = {}
    for name in CELLS:
        rec = patchatlas.read(ephys_data / "abf_pyabf" / f"{name}.abf")
        s0 = rec[0].stimulus
        arrays[f"{name}_t"] = rec[0].t
        arrays[f"{name}_V"] = np.stack([np.asarray(sw.v, float) for sw in rec])
        arrays[f"{name}_I"] = np.stack([np.asarray(sw.i, float) for sw in rec])
        arrays[f"{name}_meta"] = np.array(
            [s0.start, s0.end, effective_cutoff(10.0, rec[0].sampling_rate)[0]]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            c = cell_features(rec)
        hero = c["thumbnail_sweep_num"]
        c["hero_amp"] = rec.sweep(int(hero)).stimulus.amplitude if hero == hero else None
        ours[name] = c
    tmp = tmp_path_factory.mktemp("lsa")
    np.savez(tmp / "in.npz", **arrays)
    subprocess.run([str(PY), str(RUNNER), str(tmp / "in.npz"), str(tmp / "out.json")], check=True)
    ref = json.loads((tmp / "out.json").read_text())
    return {"ours": ours, "ref": ref}


PAIRS = (
    ("vrest", "v_baseline", 1.0, 1e-6),
    ("threshold_i_long_square", "rheobase_i", 1.0, 1e-9),
    ("f_i_curve_slope", "fi_fit_slope", 1.0, 1e-6),
    ("sag", "sag", 1.0, 1e-6),
    ("vm_for_sag", "vm_for_sag", 1.0, 1e-6),
    ("ri", "input_resistance", 1.0, 1e-6),
    ("tau", "tau", 1e3, 1e-6),  # ms vs s
    ("hero_amp", "hero_amp", 1.0, 1e-9),
)


@pytest.mark.parametrize("name", CELLS)
def test_long_square_cell_matches_ipfx(cells: dict[str, Any], name: str) -> None:
    ours, ref = cells["ours"][name], cells["ref"][name]
    assert "error" not in ref, ref
    for mine, theirs, scale, rtol in PAIRS:
        assert ours[mine] == pytest.approx(ref[theirs] * scale, rel=rtol), (name, mine)
