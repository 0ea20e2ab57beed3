"""Synthetic neuron morphologies for demos and tests (plausible sizes, reproducible by seed).

``pyramidal``: soma (r ≈ 8 µm) at the origin, 4–7 basal dendrites (≈ 150 µm), an apical
dendrite toward pia (+y, ≈ 450 µm) with an oblique and a tuft, an axon toward white matter (−y)
with collaterals. ``interneuron``: soma (r ≈ 6 µm), 4–7 dendrites, a dense local axon.
Coordinates are upright (pia = +y), µm; nodes every ≈ 2–3 µm.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from patchatlas.core.morphology import APICAL, AXON, BASAL, SOMA, Morphology
from patchatlas.errors import DataError

__all__ = ["synthetic_morphology", "write_demo_morphologies"]


def _grow(
    rng: np.random.Generator,
    rows: list[tuple[int, float, float, float, float, int]],
    *,
    start: int,
    direction: np.ndarray,
    ntype: int,
    radius: float,
    seg_len: float,
    branch_len: float,
    max_order: int,
    persistence: float,
    bias: np.ndarray,
    branch_prob: float,
) -> None:
    """Grow a branching tree from row ``start`` (explicit stack, no recursion)."""
    stack = [(start, direction / np.linalg.norm(direction), radius, 1)]
    while stack:
        parent, d, r, order = stack.pop()
        length = rng.gamma(4.0, branch_len / 4.0)
        n = max(2, int(length / seg_len))
        pos = np.array(rows[parent][1:4])
        for _ in range(n):
            d = persistence * d + (1 - persistence) * rng.normal(size=3) + bias
            d[2] *= 0.5  # flatter in z, like a slice
            d /= np.linalg.norm(d)
            pos = pos + seg_len * d
            r = max(0.15, r * 0.995)
            rows.append((ntype, *pos, r, parent))
            parent = len(rows) - 1
        if order < max_order and (order <= 2 or rng.random() < branch_prob):
            for sign in (1.0, -1.0):
                turn = rng.normal(size=3)
                turn -= turn.dot(d) * d
                turn /= np.linalg.norm(turn) + 1e-12
                nd = d * np.cos(0.5) + sign * turn * np.sin(0.5)
                stack.append((parent, nd, r * 0.8, order + 1))


def synthetic_morphology(
    kind: Literal["pyramidal", "interneuron"] = "pyramidal",
    *,
    seed: int = 0,
    name: str | None = None,
) -> Morphology:
    """Generate a synthetic neuron.

    Parameters
    ----------
    kind
        ``"pyramidal"`` (soma, axon, basal and apical dendrites) or ``"interneuron"`` (soma,
        axon, basal dendrites).
    seed
        Random seed (same seed, same cell).
    name
        Label (default ``"synthetic_<kind>_<seed>"``).

    Returns
    -------
    Morphology
        Upright (pia = +y), soma at the origin, rows in topological order.
    """
    if kind not in ("pyramidal", "interneuron"):
        raise DataError(f"unknown synthetic morphology kind {kind!r}; use pyramidal or interneuron")
    rng = np.random.default_rng(seed)
    soma_r = 8.0 if kind == "pyramidal" else 6.0
    rows: list[tuple[int, float, float, float, float, int]] = [(SOMA, 0.0, 0.0, 0.0, soma_r, -1)]
    zero = np.zeros(3)

    def stem(d: np.ndarray, ntype: int, r: float) -> int:
        d = d / np.linalg.norm(d)
        p = d * soma_r
        rows.append((ntype, *p, r, 0))
        return len(rows) - 1

    n_basal = int(rng.integers(4, 8))
    for k in range(n_basal):
        ang = 2 * np.pi * (k + rng.random() * 0.5) / n_basal
        d = np.array(
            [
                np.cos(ang),
                np.sin(ang) * (0.6 if kind == "pyramidal" else 1.0) - 0.2,
                rng.normal(0, 0.3),
            ]
        )
        s = stem(d, BASAL, 1.2)
        _grow(
            rng,
            rows,
            start=s,
            direction=d,
            ntype=BASAL,
            radius=1.0,
            seg_len=2.5,
            branch_len=35.0,
            max_order=4,
            persistence=0.9,
            bias=zero,
            branch_prob=0.8,
        )
    if kind == "pyramidal":
        s = stem(np.array([0.0, 1.0, 0.0]), APICAL, 2.5)
        up = np.array([0.0, 0.15, 0.0])
        # trunk: long, then tuft
        _grow(
            rng,
            rows,
            start=s,
            direction=np.array([0.0, 1.0, 0.0]),
            ntype=APICAL,
            radius=2.2,
            seg_len=3.0,
            branch_len=110.0,
            max_order=4,
            persistence=0.95,
            bias=up,
            branch_prob=0.9,
        )
        s = stem(np.array([0.1, -1.0, 0.0]), AXON, 0.8)
        _grow(
            rng,
            rows,
            start=s,
            direction=np.array([0.0, -1.0, 0.0]),
            ntype=AXON,
            radius=0.6,
            seg_len=3.0,
            branch_len=90.0,
            max_order=5,
            persistence=0.93,
            bias=np.array([0.0, -0.05, 0.0]),
            branch_prob=0.85,
        )
    else:
        s = stem(np.array([0.2, -1.0, 0.0]), AXON, 0.7)
        _grow(
            rng,
            rows,
            start=s,
            direction=np.array([0.2, -1.0, 0.0]),
            ntype=AXON,
            radius=0.5,
            seg_len=2.5,
            branch_len=45.0,
            max_order=8,
            persistence=0.85,
            bias=zero,
            branch_prob=0.9,
        )
    arr = np.asarray(rows, dtype=np.float64)
    n = arr.shape[0]
    ids = np.arange(1, n + 1)
    parent_ids = np.where(arr[:, 5] >= 0, arr[:, 5] + 1, -1).astype(np.int64)
    return Morphology.from_arrays(
        ids,
        arr[:, 0].astype(np.int64),
        arr[:, 1:4],
        arr[:, 4],
        parent_ids,
        name=name or f"synthetic_{kind}_{seed}",
        meta={"synthetic": kind, "seed": seed},
    )


def write_demo_morphologies(out_dir: str | Path, *, n: int = 3, seed: int = 0) -> list[Path]:
    """Write ``n`` pyramidal and ``n`` interneuron synthetic cells as SWC files for the demo.

    Parameters
    ----------
    out_dir
        Output folder (created if missing); existing files of the same names are replaced.
    n
        Cells of each kind.
    seed
        Seed of the first pair; cell ``k`` of each kind uses ``seed + k``.

    Returns
    -------
    list of Path
        The written paths (``pyramidal_0.swc``, ``interneuron_0.swc``, ...), coordinates in
        µm.

    Raises
    ------
    patchatlas.errors.WriteError
        A file cannot be written.
    """
    from patchatlas.io.swc import write_swc

    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        for kind in ("pyramidal", "interneuron"):
            m = synthetic_morphology(kind, seed=seed + k)
            paths.append(
                write_swc(
                    m, folder / f"{kind}_{k}.swc", header=f"synthetic {kind}, seed {seed + k}"
                )
            )
    return paths
