"""A small columnar table: a dict of equal-length numpy arrays plus provenance."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


class FeatureTable(dict[str, np.ndarray]):
    """Columns (name → 1-D numpy array, all the same length) with a ``provenance`` dict.

    A plain ``dict`` subclass, so ``table["threshold_v"]`` is a numpy array and ``list(table)``
    gives the column names. :meth:`to_pandas` builds a DataFrame (pandas is imported only then).
    """

    provenance: dict[str, Any]

    def __init__(
        self,
        columns: dict[str, np.ndarray] | None = None,
        *,
        provenance: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(columns or {})
        self.provenance = dict(provenance or {})

    @property
    def n_rows(self) -> int:
        """Number of rows (0 for a table without columns)."""
        for col in self.values():
            return int(col.shape[0])
        return 0

    def to_pandas(self) -> pd.DataFrame:
        """The table as a :class:`pandas.DataFrame`; provenance goes to ``DataFrame.attrs``."""
        import pandas as pd

        df = pd.DataFrame({k: np.asarray(v) for k, v in self.items()})
        df.attrs["provenance"] = dict(self.provenance)
        return df

    def row(self, k: int) -> dict[str, Any]:
        """Row ``k`` as a dict of Python scalars."""
        return {
            name: col[k].item() if hasattr(col[k], "item") else col[k] for name, col in self.items()
        }

    def __repr__(self) -> str:
        cols = ", ".join(self)
        return f"FeatureTable({self.n_rows} rows: {cols})"
