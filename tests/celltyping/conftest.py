"""Small synthetic typing problems shared by the cell-typing tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def typed_features(
    n_per: int = 60, n_types: int = 4, n_feat: int = 8, seed: int = 0, missing: float = 0.1
) -> tuple[pd.DataFrame, np.ndarray]:
    """Cells × features with type-specific means, skewed positive columns and NaNs."""
    rng = np.random.default_rng(seed)
    types = np.repeat([f"T{i}" for i in range(n_types)], n_per)
    centers = rng.normal(scale=2.0, size=(n_types, n_feat))
    idx = np.repeat(np.arange(n_types), n_per)
    x = centers[idx] + rng.normal(size=(len(types), n_feat))
    x[:, 0] = np.exp(x[:, 0])  # a skewed positive feature (like input resistance)
    x[rng.random(x.shape) < missing] = np.nan
    df = pd.DataFrame(x, columns=[f"f{i}" for i in range(n_feat)])
    df.index = [f"c{i}" for i in range(len(df))]
    return df, types


@pytest.fixture()
def typed() -> tuple[pd.DataFrame, np.ndarray]:
    return typed_features()
