"""Connection matrices of simultaneous recordings (Espinoza, Guzman, Zhang & Jonas 2018 layout).

One recording of 2-8 cells is two whitespace-separated text matrices with the same stem:

* ``<nA>_<yymmdd>_<nn>.syn`` — rows are presynaptic, columns postsynaptic cells; ``0`` no
  connection, ``1`` chemical, ``2`` electrical, ``3`` both. The first ``nA`` cells are of the
  first class (``PV`` interneurons in the dentate data), the others of the second (``GC``
  granule cells); the classes can be renamed.
* ``<same stem>.dist`` (optional) — the signed intersomatic distance of each pair (µm); its
  absolute value is the distance.

:func:`read_connection_matrix` returns a :class:`~patchatlas.core.MultipatchExperiment` with
cells, the published calls (source ``"published"``) and the distances, and no sweeps. Every
ordered pair of the matrix counts as tested; a gap junction is recorded for both directions when
either entry marks it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt

from patchatlas.core.multipatch import ConnectionCall, MultipatchCell, MultipatchExperiment
from patchatlas.errors import CorruptFileError, ReadError

__all__ = ["read_connection_matrices", "read_connection_matrix"]

_NAME = re.compile(r"^(\d+)_")


def _matrix(path: Path, kind: type) -> npt.NDArray[np.float64]:
    try:
        rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
        values = [[float(x) for x in r] for r in rows]
    except (OSError, UnicodeDecodeError) as exc:
        raise ReadError(path, f"cannot read the matrix ({exc})") from exc
    except ValueError as exc:
        raise CorruptFileError(path, f"a matrix entry is not a number ({exc})") from exc
    n = len(values)
    if n == 0 or any(len(r) != n for r in values):
        raise CorruptFileError(
            path, f"not a square matrix (rows of lengths {[len(r) for r in values]})"
        )
    arr = np.asarray(values, dtype=np.float64)
    if kind is int and not np.isin(arr, [0, 1, 2, 3]).all():
        raise CorruptFileError(path, "connection codes must be 0, 1, 2 or 3")
    return arr


def read_connection_matrix(
    path: str | os.PathLike[str],
    *,
    classes: tuple[str, str] = ("PV", "GC"),
    n_first: int | None = None,
    species: str | None = "mouse",
) -> MultipatchExperiment:
    """Read one recording's connection matrix (``.syn``) and its distances (``.dist``).

    Parameters
    ----------
    path
        The ``.syn`` file; a ``.dist`` file with the same stem is read when present.
    classes
        Names of the first and second cell class.
    n_first
        Cells of the first class (default: the number before the first ``_`` of the name).
    species
        Species recorded in the experiment.

    Returns
    -------
    MultipatchExperiment
        Cells ``"1"``..``"n"`` with their class, the published calls and the distances (µm).

    Raises
    ------
    patchatlas.errors.ReadError
        Missing file, bad numbers, matrices that are not square or do not match.
    """
    p = Path(path)
    if not p.is_file():
        raise ReadError(p, "no such file", "give a .syn connection matrix")
    syn = _matrix(p, int).astype(int)
    n = syn.shape[0]
    if n_first is None:
        m = _NAME.match(p.name)
        if m is None:
            raise ReadError(
                p,
                "the name does not start with the number of first-class cells (<n>_...)",
                "pass n_first=",
            )
        n_first = int(m.group(1))
    if not 0 <= n_first <= n:
        raise CorruptFileError(p, f"{n_first} first-class cells but the matrix has {n} cells")
    els = [str(k + 1) for k in range(n)]
    cells = [
        MultipatchCell(e, cell_class=classes[0] if k < n_first else classes[1])
        for k, e in enumerate(els)
    ]
    dist_path = p.with_suffix(".dist")
    distances: dict[tuple[str, str], float] = {}
    if dist_path.is_file():
        dist = _matrix(dist_path, float)
        if dist.shape != syn.shape:
            raise CorruptFileError(
                dist_path,
                f"distance matrix {dist.shape} does not match the connections {syn.shape}",
            )
        for i in range(n):
            for j in range(n):
                if i != j:
                    distances[(els[i], els[j])] = float(abs(dist[i, j]))
    gap = np.isin(syn, [2, 3])
    gap = gap | gap.T
    calls = [
        ConnectionCall(
            els[i],
            els[j],
            connected=bool(syn[i, j] in (1, 3)),
            electrical=bool(gap[i, j]),
            source="published",
        )
        for i in range(n)
        for j in range(n)
        if i != j
    ]
    return MultipatchExperiment(
        p.stem,
        cells,
        [],
        species=species,
        metadata={
            "layout": "connection-matrix",
            "n_first_class": n_first,
            "classes": list(classes),
        },
        source=str(p),
        calls=calls,
        distances_um=distances,
    )


def read_connection_matrices(
    folder: str | os.PathLike[str], **options: object
) -> list[MultipatchExperiment]:
    """Read every ``.syn`` matrix of a folder (sorted by name).

    Parameters
    ----------
    folder
        Folder holding ``.syn`` (and ``.dist``) files.
    **options
        Passed to :func:`read_connection_matrix`.

    Returns
    -------
    list of MultipatchExperiment
        One per recording.

    Raises
    ------
    patchatlas.errors.ReadError
        The folder does not exist or holds no ``.syn`` file.
    """
    d = Path(folder)
    if not d.is_dir():
        raise ReadError(d, "not a folder", "give the folder of .syn files")
    files = sorted(d.glob("*.syn"))
    if not files:
        raise ReadError(d, "holds no .syn connection matrix")
    return [read_connection_matrix(f, **options) for f in files]  # type: ignore[arg-type]
