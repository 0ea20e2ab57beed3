"""A synthetic atlas for the portal's tests, demos and load benchmark.

:func:`build_synthetic_atlas` writes ``n_cells`` cells with annotations drawn from a handful of
cell classes, cell-level ephys features whose means differ by class, morphology features for a
fraction of the cells, and, for the first few cells, real trace files (plain-text current-clamp
long-square sweeps with action potentials) and SWC reconstructions, plus GLIF-like model records
and multipatch pairs. The trace files are analysed by :func:`patchatlas.ephys.analyze` and stored
as the ingest stores them (spikes, sweep features, QC); the cell-level ephys features stay the
synthetic ones. Everything is random but seeded: the same arguments give the same atlas.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from patchatlas.atlas import Atlas
from patchatlas.atlas import portal as Q
from patchatlas.atlas.records import (
    CellRecord,
    EngineOutput,
    FileRecord,
    MorphologyRecord,
)

__all__ = ["CLASSES", "EPHYS_FEATURES", "SyntheticAtlas", "build_synthetic_atlas"]

# class -> (species, region, layers, cre line, dendrite type, t-types, feature means)
CLASSES: dict[str, dict[str, Any]] = {
    "Sst": {
        "species": "mouse",
        "region": "VISp",
        "layers": ["2/3", "4", "5"],
        "cre": "Sst-IRES-Cre",
        "dend": "aspiny",
        "t_types": ["Sst Calb2 Pdlim5", "Sst Chodl", "Sst Hpse Cbln4"],
        "means": {
            "rheobase": 60,
            "input_resistance": 250,
            "tau": 0.018,
            "v_rest": -66,
            "ap_width": 0.0006,
            "upstroke_downstroke_ratio": 2.0,
            "adaptation_index": 0.05,
            "f_i_slope": 0.35,
            "sag": 0.15,
        },
    },
    "Pvalb": {
        "species": "mouse",
        "region": "VISp",
        "layers": ["2/3", "4", "5", "6"],
        "cre": "Pvalb-IRES-Cre",
        "dend": "aspiny",
        "t_types": ["Pvalb Reln Itm2a", "Pvalb Sema3e Kank4"],
        "means": {
            "rheobase": 150,
            "input_resistance": 110,
            "tau": 0.008,
            "v_rest": -70,
            "ap_width": 0.00035,
            "upstroke_downstroke_ratio": 1.3,
            "adaptation_index": 0.01,
            "f_i_slope": 0.6,
            "sag": 0.05,
        },
    },
    "Vip": {
        "species": "mouse",
        "region": "VISp",
        "layers": ["1", "2/3"],
        "cre": "Vip-IRES-Cre",
        "dend": "aspiny",
        "t_types": ["Vip Sncg", "Vip Crispld2 Htr2c"],
        "means": {
            "rheobase": 40,
            "input_resistance": 400,
            "tau": 0.022,
            "v_rest": -63,
            "ap_width": 0.0007,
            "upstroke_downstroke_ratio": 2.3,
            "adaptation_index": 0.08,
            "f_i_slope": 0.4,
            "sag": 0.1,
        },
    },
    "L5 IT": {
        "species": "mouse",
        "region": "MOp",
        "layers": ["5"],
        "cre": "Rbp4-Cre_KL100",
        "dend": "spiny",
        "t_types": ["L5 IT Tcap", "L5 IT Rspo1"],
        "means": {
            "rheobase": 180,
            "input_resistance": 130,
            "tau": 0.02,
            "v_rest": -72,
            "ap_width": 0.0009,
            "upstroke_downstroke_ratio": 3.5,
            "adaptation_index": 0.1,
            "f_i_slope": 0.2,
            "sag": 0.08,
        },
    },
    "LAMP5": {
        "species": "human",
        "region": "MTG",
        "layers": ["1", "2", "3"],
        "cre": None,
        "dend": "aspiny",
        "t_types": ["Inh L1-2 LAMP5 DBP", "Inh L1 LAMP5 NMBR"],
        "means": {
            "rheobase": 90,
            "input_resistance": 180,
            "tau": 0.02,
            "v_rest": -65,
            "ap_width": 0.0008,
            "upstroke_downstroke_ratio": 2.4,
            "adaptation_index": 0.04,
            "f_i_slope": 0.3,
            "sag": 0.12,
        },
    },
}
EPHYS_FEATURES: dict[str, str] = {
    "rheobase": "pA",
    "input_resistance": "MΩ",
    "tau": "s",
    "v_rest": "mV",
    "ap_width": "s",
    "upstroke_downstroke_ratio": "",
    "adaptation_index": "",
    "f_i_slope": "Hz/pA",
    "sag": "",
}
MORPH_FEATURES: dict[str, str] = {"total_length": "µm", "max_branch_order": "", "soma_depth": "µm"}


@dataclass
class SyntheticAtlas:
    """What :func:`build_synthetic_atlas` made."""

    url: str
    folder: Path
    cells: pd.DataFrame  # the annotations as written, indexed by cell name
    ephys: pd.DataFrame  # wide cell-level features as written
    trace_cells: list[str]
    morph_cells: list[str]
    swc_cells: list[str]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _trace(
    amp: float, means: dict[str, float], rng: np.random.Generator, *, rate: float = 10_000.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A current-clamp long-square sweep: t (s), v (mV), i (pA); spikes above rheobase."""
    dur, start, end = 0.8, 0.1, 0.7
    t = np.arange(int(dur * rate)) / rate
    i = np.where((t >= start) & (t < end), amp, 0.0)
    on = (t >= start) & (t < end)
    r_gohm = means["input_resistance"] / 1000.0
    tau = means["tau"]
    dv = np.where(on, amp * r_gohm * (1 - np.exp(-(t - start) / tau)), 0.0)
    off = t >= end
    dv[off] = amp * r_gohm * np.exp(-(t[off] - end) / tau) * (1 - np.exp(-(end - start) / tau))
    v = means["v_rest"] + dv + rng.normal(0, 0.15, t.size)
    f = means["f_i_slope"] * (amp - means["rheobase"])
    if f > 0:
        v = np.minimum(v, means["v_rest"] + 20.0)
        times = start + 0.01 + np.arange(0, end - start - 0.01, 1.0 / max(f, 1.0))
        train = np.zeros_like(t)
        train[np.searchsorted(t, times)] = 1.0
        k = np.arange(int(0.006 * rate)) / rate
        w = means["ap_width"]
        shape = 95 * np.exp(-0.5 * ((k - 0.0008) / (w / 2.355)) ** 2) - 12 * np.exp(-k / 0.002) * (
            k > 0.0012
        )
        v = v + np.convolve(train, shape)[: t.size]
    return t, v, i


def _analysed_traces(paths: list[Path], file_indices: list[int]) -> EngineOutput:
    """The trace files of one cell as the ingest stores them: recordings and sweeps, and the
    spikes and sweep features of :func:`patchatlas.ephys.analyze` (through the ingest's ephys
    engine). Its cell-level features are left out: the synthetic ones are the ground truth."""
    from patchatlas.pipeline.engines import compute_ephys

    result = compute_ephys(paths, file_indices, {})
    if result.features is not None:
        result.features = result.features[result.features["level"] != "cell"]
    return result


def _swc(rng: np.random.Generator, soma_depth: float) -> str:
    """A small random reconstruction: soma, 4 basal dendrites, an apical dendrite, an axon."""
    rows = [f"1 1 0 {-soma_depth:.2f} 0 6 -1"]
    nid = 1
    for typ, n, direction in [
        (3, 40, (-1, -0.3)),
        (3, 40, (1, -0.3)),
        (3, 30, (-0.6, 0.4)),
        (3, 30, (0.6, 0.4)),
        (4, 80, (0, 1)),
        (2, 120, (0.1, -1)),
    ]:
        steps = rng.normal(0, 3.0, (n, 3)) + np.array([direction[0], direction[1], 0]) * 4.0
        xyz = np.cumsum(steps, axis=0) + np.array([0, -soma_depth, 0])
        parent = 1
        for p in xyz:
            nid += 1
            rows.append(f"{nid} {typ} {p[0]:.2f} {p[1]:.2f} {p[2]:.2f} 0.5 {parent}")
            parent = nid
    return "# synthetic reconstruction (patchatlas)\n" + "\n".join(rows) + "\n"


def build_synthetic_atlas(
    url: str | os.PathLike[str],
    folder: str | os.PathLike[str],
    *,
    n_cells: int = 200,
    n_trace_cells: int = 3,
    n_swc_cells: int = 3,
    morph_fraction: float = 0.3,
    model_fraction: float = 0.1,
    n_pairs: int = 300,
    seed: int = 0,
) -> SyntheticAtlas:
    """Build (or extend) a synthetic atlas at ``url`` with its files in ``folder``.

    Parameters
    ----------
    url
        Atlas URL or SQLite path.
    folder
        Where trace (``.txt``) and SWC files are written.
    n_cells, n_trace_cells, n_swc_cells
        Cells in all; how many of the first ones get sweep files; how many get SWC files.
    morph_fraction, model_fraction
        Share of cells with morphology features; with a GLIF-like model record.
    n_pairs
        Multipatch pairs among the cells (one experiment).
    seed
        Random seed.

    Returns
    -------
    SyntheticAtlas
        The URL, folder and the tables as written (ground truth for tests).
    """
    rng = np.random.default_rng(seed)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    atlas = Atlas(url)
    names = list(CLASSES)
    cls = rng.choice(names, size=n_cells, p=[0.3, 0.25, 0.15, 0.2, 0.1])
    rows, feats = [], []
    trace_cells, morph_cells, swc_cells = [], [], []
    for k in range(n_cells):
        c = CLASSES[str(cls[k])]
        name = f"syn{k:05d}"
        meta: dict[str, Any] = {
            "dataset": "synthetic",
            "species": c["species"],
            "region": c["region"],
            "layer": str(rng.choice(c["layers"])),
            "cre_line": c["cre"],
            "dendrite_type": c["dend"],
            "t_type": str(rng.choice(c["t_types"])),
            "t_type_confidence": float(np.round(rng.uniform(0.5, 1.0), 3)),
            "depth_um": float(np.round(rng.uniform(50, 900), 1)),
            "donor": f"donor{k % 37:03d}",
        }
        if c["species"] == "human":
            meta["subclass"] = "LAMP5"
        rows.append({"cell_id": name, **meta})
        values = {
            f: float(m * np.exp(rng.normal(0, 0.15))) if m > 0 else float(m + rng.normal(0, 3))
            for f, m in c["means"].items()
        }
        feats.append({"cell_id": name, **values})
        fdf = pd.DataFrame(
            {
                "level": "cell",
                "name": list(values),
                "value": list(values.values()),
                "unit": [EPHYS_FEATURES[f] or None for f in values],
                "native_name": list(values),
            }
        )
        outputs = [EngineOutput("synthetic_ephys", {"seed": seed}, features=fdf)]
        files: list[FileRecord] = []
        if k < n_trace_cells:
            paths = []
            for j, amp in enumerate([-50.0, 0.0, 50.0, 100.0, 150.0, 200.0, 250.0]):
                t, v, i = _trace(amp, c["means"], rng)
                path = out / f"{name}_sweep{j:02d}.txt"
                np.savetxt(
                    path,
                    np.column_stack([t, v, i]),
                    delimiter=",",
                    header="t_s,v_mV,i_pA",
                    comments="",
                    fmt=("%.5f", "%.3f", "%.2f"),
                )
                files.append(FileRecord(str(path), path.stat().st_size, _sha256(path), "text"))
                paths.append(path)
            outputs.append(
                _analysed_traces(paths, list(range(len(files) - len(paths), len(files))))
            )
            trace_cells.append(name)
        morph: list[MorphologyRecord] = []
        if k < n_swc_cells or rng.random() < morph_fraction:
            mvals = {
                "total_length": float(rng.uniform(1500, 9000)),
                "max_branch_order": float(rng.integers(3, 15)),
                "soma_depth": meta["depth_um"],
            }
            mdf = pd.DataFrame(
                {
                    "name": list(mvals),
                    "value": list(mvals.values()),
                    "unit": [MORPH_FEATURES[m] or None for m in mvals],
                    "native_name": list(mvals),
                }
            )
            file_index = None
            if k < n_swc_cells:
                path = out / f"{name}.swc"
                path.write_text(_swc(rng, meta["depth_um"]))
                files.append(
                    FileRecord(str(path), path.stat().st_size, _sha256(path), "swc", "morphology")
                )
                file_index = len(files) - 1
                swc_cells.append(name)
            issues = pd.DataFrame(
                [{"severity": "warning", "code": "thin_radius", "message": "radii set to 0.5 µm"}]
            )
            # the synthetic SWC has pia at y = 0 and depth = −y: the first one is declared
            # layer-aligned (to the default mouse reference depths), the others are not
            mmeta = {"layer_aligned": True} if k == 0 and file_index is not None else {}
            morph.append(
                MorphologyRecord(file_index, mdf, issues, convention="synthetic", metadata=mmeta)
            )
            morph_cells.append(name)
        if morph:
            outputs.append(EngineOutput("synthetic_morphology", {}, morphologies=morph))
        if rng.random() < model_fraction:
            outputs.append(
                EngineOutput(
                    "synthetic_models",
                    {},
                    models=[
                        {
                            "kind": "GLIF",
                            "name": "GLIF1 (LIF)",
                            "parameters": {
                                "R_input_mohm": values["input_resistance"],
                                "tau_s": values["tau"],
                                "El_mv": values["v_rest"],
                            },
                            "fit_scores": {"explained_variance": float(rng.uniform(0.6, 0.95))},
                        }
                    ],
                )
            )
        atlas.write_cell(CellRecord(name, meta, files, outputs))
    cells = pd.DataFrame(rows).set_index("cell_id")
    if n_pairs and n_cells > 1:
        pre = rng.integers(0, n_cells, n_pairs)
        post = (pre + rng.integers(1, n_cells, n_pairs)) % n_cells
        dist = rng.uniform(10, 200, n_pairs)
        p = np.clip(0.5 * np.exp(-dist / 80), 0, 1)
        pairs = pd.DataFrame(
            {
                "pre_cell": [f"syn{i:05d}" for i in pre],
                "post_cell": [f"syn{i:05d}" for i in post],
                "distance_um": dist.round(1),
                "connected": rng.random(n_pairs) < p,
            }
        ).drop_duplicates(["pre_cell", "post_cell"])
        Q.write_pairs(atlas, "synthetic_multipatch", pairs)
    atlas.close()
    return SyntheticAtlas(
        url=str(url),
        folder=out,
        cells=cells,
        ephys=pd.DataFrame(feats).set_index("cell_id"),
        trace_cells=trace_cells,
        morph_cells=morph_cells,
        swc_cells=swc_cells,
    )
