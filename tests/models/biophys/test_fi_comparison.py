"""The perisomatic model of specimen 464198958 driven by the long-square amplitudes of that
cell's Allen sweep table: its f-I spike counts beside the recorded ones.

This is a comparison, not a verdict on the model (``benchmarks/RESULTS-biophys.md`` shows the
table); the test checks the comparison is built from the right sweeps and that the model's f-I
curve is a proper one (silent below rheobase and on hyperpolarising steps, counts that do not
fall as the current grows, firing on the sweep the fit was made on).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from patchatlas.ephys import analyze
from patchatlas.io.allen_models import read_allen_fit, read_allen_sweep_table
from tests.models.biophys.conftest import PERI_SWEEPS


def test_fi_counts_side_by_side(peri_model, peri_paths, shared_data: Path, arbor_ok) -> None:
    table = read_allen_sweep_table(shared_data / PERI_SWEEPS)
    ls = table[table.stimulus_name == "Long Square"]
    amps = sorted(set(np.round(ls.amplitude_pa, 1)))
    start, duration = float(ls.start_s.iloc[0]), float(ls.duration_s.iloc[0])
    rec = peri_model.simulate_steps(amps, delay_s=start, duration_s=duration, tstop_s=start + 1.2)
    res = analyze(rec, qc=False)
    model = np.array([s.n_spikes for s in res.sweeps])
    recorded = [
        ls[np.round(ls.amplitude_pa, 1) == a].num_spikes.fillna(0).astype(int).tolist()
        for a in amps
    ]
    assert len(model) == len(amps) == 14 and sum(len(r) for r in recorded) == len(ls)
    assert (model[np.array(amps) <= 10] == 0).all()
    assert (np.diff(model) >= -1).all()
    # the sweep the Allen fit was made on (fitting.sweeps) makes the model fire
    fit_sweep = read_allen_fit(peri_paths[0])["fitting"][0]["sweeps"][0]
    fit_amp = round(float(ls[ls.sweep_number == fit_sweep].amplitude_pa.iloc[0]), 1)
    assert model[amps.index(fit_amp)] > 0
    assert model.max() > 20
