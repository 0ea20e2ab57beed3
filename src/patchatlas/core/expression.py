"""The Patch-seq data model: counts, cell metadata and ephys features of one dataset, joined.

:class:`PatchseqDataset` holds an :class:`anndata.AnnData` of raw counts (cells × genes, metadata
in ``obs``) and a cells × features ephys table with the same index; readers in
:mod:`patchatlas.io.expression` build them, :mod:`patchatlas.transcriptomics` and
:mod:`patchatlas.crossmodal` consume them. :class:`JoinReport` records how a per-cell table was
joined onto the cells (which ids did not join on either side).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from anndata import AnnData

__all__ = ["JoinReport", "PatchseqDataset"]


@dataclass
class JoinReport:
    """What happened when a per-cell table was joined onto the cells of an expression matrix.

    Attributes
    ----------
    what
        Name of the joined table (for messages).
    n_left, n_right
        Cells in the expression matrix and rows in the table.
    n_joined
        Cells present in both.
    only_left, only_right
        Ids present on one side only (sorted).
    duplicated_right
        Ids that occur more than once in the table (the first occurrence is used).
    """

    what: str
    n_left: int
    n_right: int
    n_joined: int
    only_left: list[str] = field(default_factory=list)
    only_right: list[str] = field(default_factory=list)
    duplicated_right: list[str] = field(default_factory=list)

    def summary(self, *, max_ids: int = 5) -> str:
        """One line per problem, ids abbreviated to ``max_ids`` examples.

        Parameters
        ----------
        max_ids
            How many ids to show per problem before ``… (+n)``.

        Returns
        -------
        str
            A headline (cells joined of cells, table rows) and one indented line each for
            cells without a row, rows without a cell and duplicated ids, when there are any.
        """

        def ex(ids: list[str]) -> str:
            more = f" … (+{len(ids) - max_ids})" if len(ids) > max_ids else ""
            return ", ".join(ids[:max_ids]) + more

        lines = [
            f"{self.what}: {self.n_joined} of {self.n_left} cells joined "
            f"({self.n_right} rows in the table)"
        ]
        if self.only_left:
            lines.append(f"  {len(self.only_left)} cells have no row: {ex(self.only_left)}")
        if self.only_right:
            lines.append(f"  {len(self.only_right)} rows match no cell: {ex(self.only_right)}")
        if self.duplicated_right:
            lines.append(
                f"  {len(self.duplicated_right)} ids are duplicated in the table "
                f"(first kept): {ex(self.duplicated_right)}"
            )
        return "\n".join(lines)


@dataclass
class PatchseqDataset:
    """Counts, cell metadata and ephys features of one Patch-seq dataset, joined by cell id.

    Attributes
    ----------
    name
        Short dataset name (``"m1_scala2021"`` ...).
    adata
        Cells × genes raw counts. ``obs`` holds the metadata, with standard columns ``t_type``,
        ``family`` and ``library_size`` (reads or UMIs used as CPM denominator).
    ephys
        Cells × features table (same index and order as ``adata.obs_names``).
    reports
        One :class:`JoinReport` per join that built the dataset.
    notes
        Free-text caveats (e.g. how genes were pre-selected upstream).
    """

    name: str
    adata: AnnData
    ephys: pd.DataFrame
    reports: list[JoinReport] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def t_types(self) -> np.ndarray[Any, np.dtype[np.str_]]:
        """Transcriptomic type of each cell."""
        return np.asarray(self.adata.obs["t_type"].astype(str).to_numpy(), dtype=str)

    @property
    def families(self) -> np.ndarray[Any, np.dtype[np.str_]]:
        """Family (subclass) of each cell."""
        return np.asarray(self.adata.obs["family"].astype(str).to_numpy(), dtype=str)

    def __repr__(self) -> str:
        return (
            f"PatchseqDataset({self.name!r}: {self.adata.n_obs} cells × {self.adata.n_vars} genes, "
            f"{self.ephys.shape[1]} ephys features, {self.adata.obs['t_type'].nunique()} t-types)"
        )
