"""Writing result tables, texts and figures of an analysis into a folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from patchatlas.errors import ReadError, WriteError

__all__ = ["read_crossmodal_results", "write_results"]


def write_results(
    out_dir: str | os.PathLike[str],
    *,
    tables: Mapping[str, pd.DataFrame] | None = None,
    texts: Mapping[str, str] | None = None,
    figures: Mapping[str, Any] | None = None,
    dpi: int = 120,
) -> list[Path]:
    """Write ``tables`` as ``<name>.csv``, ``texts`` as given file names, ``figures`` (matplotlib)
    as ``figures/<name>.png`` under ``out_dir``; returns the written paths.

    Parameters
    ----------
    out_dir
        Output folder (created if missing); existing files of the same names are replaced.
    tables
        Name → table, written as ``<name>.csv`` without the index.
    texts
        File name → text (UTF-8), e.g. ``{"report.md": ...}``.
    figures
        Name → matplotlib figure, saved as ``figures/<name>.png``.
    dpi
        Resolution of the PNG figures.

    Returns
    -------
    list of Path
        The files written: tables, then texts, then figures.

    Raises
    ------
    patchatlas.errors.WriteError
        A folder or file cannot be written.
    """
    out = Path(out_dir)
    written: list[Path] = []
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, df in (tables or {}).items():
            p = out / f"{name}.csv"
            df.to_csv(p, index=False)
            written.append(p)
        for name, text in (texts or {}).items():
            p = out / name
            p.write_text(text, encoding="utf-8")
            written.append(p)
        if figures:
            (out / "figures").mkdir(exist_ok=True)
            for name, fig in figures.items():
                p = out / "figures" / f"{name}.png"
                fig.savefig(p, dpi=dpi)
                written.append(p)
    except OSError as exc:
        raise WriteError(f"{out}: cannot write results ({exc})") from exc
    return written


def read_crossmodal_results(
    results_dir: str | os.PathLike[str],
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The ``results.csv`` (scores) and, when present, ``predictions.csv`` written by
    ``patchatlas crossmodal benchmark --out results_dir``.

    Parameters
    ----------
    results_dir
        The ``--out`` folder of the benchmark.

    Returns
    -------
    scores : pandas.DataFrame
        The out-of-fold scores (one row per spec, feature and repeat).
    predictions : pandas.DataFrame or None
        The out-of-fold predictions, or ``None`` when the folder has none.

    Raises
    ------
    patchatlas.errors.ReadError
        No ``results.csv`` in the folder, or a file cannot be read.
    """
    folder = Path(results_dir)
    scores_path = folder / "results.csv"
    if not scores_path.is_file():
        raise ReadError(
            folder,
            "no results.csv in this folder",
            "point at the --out folder of `patchatlas crossmodal benchmark`",
        )
    try:
        scores = pd.read_csv(scores_path)
        pred_path = folder / "predictions.csv"
        preds = pd.read_csv(pred_path) if pred_path.is_file() else None
    except (OSError, ValueError) as exc:
        raise ReadError(folder, f"cannot read the crossmodal results ({exc})") from exc
    return scores, preds
