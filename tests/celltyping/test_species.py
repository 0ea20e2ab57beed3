"""Cross-species transfer with the human-only baseline."""

from __future__ import annotations

import numpy as np
import pandas as pd

from patchatlas.celltyping import cross_species, harmonize_subclass, rank_normal


def test_transfer_and_baseline() -> None:
    rng = np.random.default_rng(0)
    lab = np.array(["PVALB", "SST", "VIP"])
    centers = rng.normal(scale=2.0, size=(3, 5))

    def cells(n: int, shift: float) -> tuple[pd.DataFrame, np.ndarray]:
        y = rng.integers(0, 3, n)
        x = centers[y] + rng.normal(size=(n, 5)) + shift
        return pd.DataFrame(x, columns=list("abcde")), lab[y]

    xm, ym = cells(300, 0.0)
    xh, yh = cells(150, 1.5)  # human cells shifted on every feature
    xh["only_human"] = 1.0
    res = cross_species(xm, ym, xh, yh, n_repeats=1, n_folds=3)
    assert res.features == list("abcde") and res.classes == list(lab)
    assert res.metric("human-only CV") > 0.8
    assert res.metric("mouse→human (per_species)") > res.metric("majority (mouse)")
    assert set(res.confusion) == {"none", "per_species"}
    assert res.provenance["n_test"] == 150


def test_vocabulary_and_rank_normal() -> None:
    out = harmonize_subclass(["Pvalb", "SST", "Sncg", "LAMP5/PAX6/Other", "Serpinf1"])
    assert list(out) == ["PVALB", "SST", "LAMP5/PAX6", "LAMP5/PAX6", None]
    r = rank_normal(pd.DataFrame({"a": [3.0, 1.0, np.nan, 2.0]}))
    assert np.isnan(r.loc[2, "a"]) and r.loc[0, "a"] > r.loc[3, "a"] > r.loc[1, "a"]
