"""Build a tiny Allen Synaptic Physiology release in the schema-22 layout (tables and column names
of aisynphys' ``database/schema``, SI units, ``.npy`` blobs for arrays, JSON text for objects),
with one averaged response taken from a real Allen trace, for the importer tests."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

_TABLES = {
    "metadata": "id INTEGER PRIMARY KEY, meta TEXT",
    "slice": "id INTEGER PRIMARY KEY, ext_id TEXT, species TEXT, age INTEGER, meta TEXT",
    "experiment": ("id INTEGER PRIMARY KEY, ext_id TEXT, slice_id INTEGER, project_name TEXT, "
                   "acq_timestamp REAL, meta TEXT"),
    "cell": ("id INTEGER PRIMARY KEY, experiment_id INTEGER, ext_id TEXT, electrode_id INTEGER, "
             "cre_type TEXT, target_layer TEXT, position TEXT, depth REAL, cell_class TEXT, "
             "cell_class_nonsynaptic TEXT, meta TEXT"),
    "pair": ("id INTEGER PRIMARY KEY, experiment_id INTEGER, pre_cell_id INTEGER, "
             "post_cell_id INTEGER, has_synapse BOOLEAN, has_polysynapse BOOLEAN, "
             "has_electrical BOOLEAN, crosstalk_artifact REAL, n_ex_test_spikes INTEGER, "
             "n_in_test_spikes INTEGER, distance REAL, lateral_distance REAL, "
             "vertical_distance REAL, reciprocal_id INTEGER, meta TEXT"),
    "synapse": ("id INTEGER PRIMARY KEY, pair_id INTEGER, synapse_type TEXT, latency REAL, "
                "psp_amplitude REAL, psp_rise_time REAL, psp_decay_tau REAL, psc_amplitude REAL, "
                "psc_rise_time REAL, psc_decay_tau REAL, meta TEXT"),
    "avg_response_fit": ("id INTEGER PRIMARY KEY, synapse_id INTEGER, clamp_mode TEXT, "
                         "holding REAL, fit_xoffset REAL, fit_yoffset REAL, fit_amp REAL, "
                         "fit_rise_time REAL, fit_rise_power REAL, fit_decay_tau REAL, "
                         "nrmse REAL, avg_data BLOB, avg_data_start_time REAL, "
                         "n_averaged_responses INTEGER, meta TEXT"),
    "cortical_cell_location": "id INTEGER PRIMARY KEY, cell_id INTEGER, cortical_layer TEXT",
    "patch_seq": "id INTEGER PRIMARY KEY, cell_id INTEGER, tree_first_cluster TEXT",
    "dynamics": ("id INTEGER PRIMARY KEY, pair_id INTEGER, stp_initial_50hz REAL, "
                 "paired_pulse_ratio_50hz REAL, stp_all_stimuli TEXT"),
}  # fmt: skip


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return buf.getvalue()


def build_aisynphys_db(path: Path, psp_file: Path, version: str = "22") -> dict[str, Any]:
    """A tiny release with the schema-22 tables and columns the importer reads (SI units), one
    averaged response taken from a real Allen trace."""
    doc = json.loads(psp_file.read_text())
    avg = np.asarray(doc["input"]["data"], dtype=np.float64)  # V
    best = doc["out"]["best_values"]
    con = sqlite3.connect(path)
    for name, cols in _TABLES.items():
        con.execute(f"CREATE TABLE {name} ({cols})")
    con.execute("INSERT INTO metadata VALUES (1, ?)", (json.dumps({"db_version": version}),))
    con.execute("INSERT INTO slice VALUES (1, 's1', 'mouse', 50, '{}')")
    con.execute("INSERT INTO experiment VALUES (1, '1501101571.17', 1, 'mouse V1', 1.5e9, '{}')")
    con.execute("INSERT INTO experiment VALUES (2, '1501104688.89', 1, 'mouse V1', 1.6e9, '{}')")
    cells = [
        (1, 1, "1", "sst", "2/3", json.dumps([0.0, 0.0, 0.0]), 60e-6, "in", "in"),
        (2, 1, "5", "pvalb", "2/3", json.dumps([80e-6, 0.0, 0.0]), 70e-6, "in", "in"),
        (3, 1, "7", "sim1", "5", None, None, "ex", "ex"),
        (4, 2, "2", "tlx3", "5", json.dumps([0.0, 0.0, 0.0]), 50e-6, "ex", None),
    ]
    for c in cells:
        con.execute("INSERT INTO cell VALUES (?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, '{}')", c)
    pairs = [(1, 1, 1, 2, 1, 0, 0, 20, 0, 80e-6, 60e-6, 50e-6),
             (2, 1, 2, 1, 0, 0, 1, 20, 5, 80e-6, 60e-6, 50e-6),
             (3, 1, 1, 3, 0, 0, 0, 3, 0, 120e-6, 100e-6, 60e-6),
             (4, 1, 3, 1, 1, 0, 0, 30, 0, 120e-6, 100e-6, 60e-6)]  # fmt: skip
    for p in pairs:
        con.execute("INSERT INTO pair VALUES (?, ?, ?, ?, ?, ?, ?, 0.0, ?, ?, ?, ?, ?, NULL, '{}')",
                    p)  # fmt: skip
    con.execute("INSERT INTO synapse VALUES (1, 1, 'in', 1.1e-3, -0.3e-3, 3e-3, 20e-3, 15e-12, "
                "1e-3, 5e-3, '{}')")  # fmt: skip
    con.execute("INSERT INTO synapse VALUES (2, 4, 'ex', 1.7e-3, ?, ?, ?, NULL, NULL, NULL, "
                "'{}')", (best["amp"], best["rise_time"], best["decay_tau"]))  # fmt: skip
    con.execute("INSERT INTO avg_response_fit VALUES (1, 2, 'ic', -70, ?, ?, ?, ?, 2, ?, ?, ?, "
                "-0.01, 40, '{}')",
                (best["xoffset"] - 0.01, best["yoffset"], best["amp"], best["rise_time"],
                 best["decay_tau"], doc["out"]["nrmse"], _npy(avg)))  # fmt: skip
    con.execute("INSERT INTO cortical_cell_location VALUES (1, 1, '2/3')")
    con.execute("INSERT INTO patch_seq VALUES (1, 2, 'Pvalb Reln Itm2a')")
    con.execute("INSERT INTO dynamics VALUES (1, 4, -0.2, 0.8, '[]')")
    con.commit()
    con.close()
    return {"avg": avg, "best": best}
