"""Patch-seq QC by normalised marker sums (Tripathy et al. 2018 definitions)."""

from __future__ import annotations

import numpy as np
import pytest

from patchatlas.celltyping import class_markers, log_cpm, marker_sums, patchseq_qc
from patchatlas.errors import DataError


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    classes = np.repeat(["Pvalb", "Sst", "Astro"], 40)
    mu = np.full((len(classes), 60), 20.0)
    mu[:, :30] = 0.3  # marker genes are nearly off outside their class
    mu[classes == "Pvalb", 0:10] = 400.0
    mu[classes == "Sst", 10:20] = 400.0
    mu[classes == "Astro", 20:30] = 400.0
    x = rng.poisson(mu).astype(float)
    return x, classes, [f"g{i}" for i in range(60)]


def test_markers_and_sums() -> None:
    x, c, genes = _data()
    mk = class_markers(log_cpm(x), genes, c, n_markers=5)
    assert set(mk) == {"Astro", "Pvalb", "Sst"}
    assert all(int(g[1:]) in range(10) for g in mk["Pvalb"]) and len(mk["Pvalb"]) == 5
    s = marker_sums(log_cpm(x), [g.upper() for g in genes], {"P": ["g0", "g1", "nope"]})
    assert s.attrs["n_markers"] == {"P": 2}
    np.testing.assert_allclose(s["P"], log_cpm(x)[:, :2].sum(axis=1))


def test_contaminated_cells_score_worse() -> None:
    x, c, genes = _data()
    ref = log_cpm(x)
    q, qc_class = x[:40].copy(), c[:40]  # Pvalb cells
    q[:10, 20:30] += 300.0  # the first 10 carry astrocyte transcripts
    res = patchseq_qc(
        log_cpm(q), genes, qc_class, ref, genes, c, cells=[f"q{i}" for i in range(40)]
    )
    sc = res.scores
    assert sc["contamination"].iloc[:10].min() > sc["contamination"].iloc[10:].max()
    assert sc["quality"].iloc[:10].mean() < sc["quality"].iloc[10:].mean()
    assert sc["on_type_nms"].iloc[10:].median() == pytest.approx(1.0, abs=0.1)
    assert res.nms.loc["q0", "Astro"] > 0.5 > res.nms.loc["q20", "Astro"]
    assert res.provenance["markers_from_reference"] is True
    with pytest.raises(DataError, match="no markers"):
        patchseq_qc(log_cpm(q), genes, np.full(40, "Vip"), ref, genes, c)
