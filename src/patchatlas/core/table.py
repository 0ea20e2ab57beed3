"""A small columnar table: equal-length numpy columns plus a provenance record.

:class:`FeatureTable` is what per-item results (spikes of a sweep, ...) come back as. It behaves
like a minimal :class:`pandas.DataFrame`: ``len(table)`` is the number of **rows**,
``table["threshold_v"]`` is a column (a numpy array), iteration and ``in`` go over column names,
and :meth:`FeatureTable.to_pandas` gives the DataFrame (pandas is imported only then).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import TYPE_CHECKING, Any

import numpy as np

from patchatlas.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["FeatureTable"]


class FeatureTable:
    """Columns (name → 1-D numpy array, all of one length) with a ``provenance`` dict.

    Parameters
    ----------
    columns
        Column name → 1-D array-like; every column must have the same length.
    provenance
        How the table was computed (package version, profile, parameters, window, filter ...).

    Examples
    --------
    >>> t = FeatureTable({"threshold_v": np.array([-40.0, -38.5])}, provenance={"profile": "allen"})
    >>> len(t), t.columns, float(t["threshold_v"][1])
    (2, ('threshold_v',), -38.5)
    """

    __slots__ = ("_cols", "provenance")

    def __init__(
        self,
        columns: Mapping[str, Any] | None = None,
        *,
        provenance: Mapping[str, Any] | None = None,
    ) -> None:
        self._cols: dict[str, np.ndarray] = {}
        self.provenance: dict[str, Any] = dict(provenance or {})
        for name, col in (columns or {}).items():
            self[name] = col

    # ------------------------------------------------------------------ shape
    @property
    def n_rows(self) -> int:
        """Number of rows (0 for a table without columns)."""
        for col in self._cols.values():
            return int(col.shape[0])
        return 0

    def __len__(self) -> int:
        return self.n_rows

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names, in order."""
        return tuple(self._cols)

    @property
    def empty(self) -> bool:
        """True when the table has no rows."""
        return self.n_rows == 0

    # ------------------------------------------------------------------ column access
    def __getitem__(self, name: str) -> np.ndarray:
        try:
            return self._cols[name]
        except KeyError:
            raise KeyError(
                f"no column {name!r}; columns: {', '.join(self._cols) or '(none)'}"
            ) from None

    def __setitem__(self, name: str, values: Any) -> None:
        arr = np.asarray(values)
        if arr.ndim != 1:
            raise DataError(f"FeatureTable column {name!r} must be 1-D, got shape {arr.shape}")
        others = [c for k, c in self._cols.items() if k != name]
        if others and arr.shape[0] != others[0].shape[0]:
            raise DataError(
                f"FeatureTable column {name!r} has {arr.shape[0]} rows, the table has "
                f"{others[0].shape[0]}"
            )
        self._cols[name] = arr

    def __contains__(self, name: object) -> bool:
        return name in self._cols

    def __iter__(self) -> Iterator[str]:
        return iter(self._cols)

    def get(self, name: str, default: Any = None) -> Any:
        """Column ``name``, or ``default`` when there is none.

        Parameters
        ----------
        name
            Column name.
        default
            What to return when the table has no such column.

        Returns
        -------
        numpy.ndarray or object
            The column (not a copy), or ``default``.
        """
        return self._cols.get(name, default)

    def keys(self) -> KeysView[str]:
        """Column names (a view).

        Returns
        -------
        KeysView of str
            The column names, in order.
        """
        return self._cols.keys()

    def values(self) -> ValuesView[np.ndarray]:
        """Columns (a view).

        Returns
        -------
        ValuesView of numpy.ndarray
            The columns, in order (not copies).
        """
        return self._cols.values()

    def items(self) -> ItemsView[str, np.ndarray]:
        """``(name, column)`` pairs (a view).

        Returns
        -------
        ItemsView of (str, numpy.ndarray)
            Column name and column, in order (not copies).
        """
        return self._cols.items()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FeatureTable):
            return NotImplemented
        return self.columns == other.columns and all(
            np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
            for a, b in zip(self._cols.values(), other._cols.values(), strict=True)
        )

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------------ rows and conversion
    def row(self, k: int) -> dict[str, Any]:
        """Row ``k`` as a dict of Python scalars.

        Parameters
        ----------
        k
            Row position (negative counts from the end).

        Returns
        -------
        dict
            Column name → value.
        """
        n = self.n_rows
        if not -n <= k < n:
            from patchatlas.errors import IndexOutOfRangeError

            raise IndexOutOfRangeError(f"FeatureTable has {n} rows; row {k} is out of range")
        return {
            name: col[k].item() if hasattr(col[k], "item") else col[k]
            for name, col in self._cols.items()
        }

    def select(self, mask: Any) -> FeatureTable:
        """The rows where ``mask`` is true (or at integer positions ``mask``), same provenance.

        Parameters
        ----------
        mask
            Boolean array of length ``len(self)`` or integer row positions.

        Returns
        -------
        FeatureTable
            A new table (columns are copies).
        """
        m = np.asarray(mask)
        return FeatureTable({k: v[m] for k, v in self._cols.items()}, provenance=self.provenance)

    def to_dict(self) -> dict[str, np.ndarray]:
        """The columns as a plain ``dict``.

        Returns
        -------
        dict of str to numpy.ndarray
            Column name → column; the arrays are not copied, the provenance is left out.
        """
        return dict(self._cols)

    def to_pandas(self) -> pd.DataFrame:
        """The table as a :class:`pandas.DataFrame`.

        Returns
        -------
        pandas.DataFrame
            One column per table column, one row per table row; the provenance is in
            ``DataFrame.attrs["provenance"]``.
        """
        import pandas as pd

        df = pd.DataFrame({k: np.asarray(v) for k, v in self._cols.items()})
        df.attrs["provenance"] = dict(self.provenance)
        return df

    def __repr__(self) -> str:
        cols = ", ".join(self._cols)
        return f"FeatureTable({self.n_rows} rows: {cols})"
