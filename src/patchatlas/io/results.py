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
    as ``figures/<name>.png`` under ``out_dir``; returns the written paths."""
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
    ``patchatlas crossmodal benchmark --out results_dir``."""
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
