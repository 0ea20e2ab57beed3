"""Allen Cell Types model downloads: biophysical fit files and the Allen sweep table (I/O only).

An Allen biophysical model download (``BiophysicalApi.cache_data``) holds ``manifest.json``,
``<id>_fit.json``, the reconstruction (SWC) and ``modfiles/`` (NMODL). :func:`read_allen_fit`
reads and checks the fit's layout (the science of turning it into a model is
:func:`patchatlas.models.biophys.load_allen_model`); :func:`find_modfiles` locates the
``modfiles/`` folder of a download; :func:`read_allen_sweep_table` reads a specimen's
``ephys_sweeps.json`` (one row per sweep with the Allen spike count).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchatlas.errors import CorruptFileError, ReadError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["find_modfiles", "read_allen_fit", "read_allen_sweep_table"]

_FIT_BLOCKS = ("passive", "conditions", "genome")


def _load_json(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    if not p.is_file():
        raise ReadError(p, "no such file")
    try:
        with p.open("rb") as fh:
            return json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CorruptFileError(p, f"not valid JSON ({exc})") from exc
    except OSError as exc:
        raise ReadError(p, f"cannot be read ({exc})") from exc


def read_allen_fit(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read an Allen biophysical fit file (``<id>_fit.json``).

    Parameters
    ----------
    path
        The fit file.

    Returns
    -------
    dict
        The parsed JSON, with ``passive``, ``conditions`` and ``genome`` present (``genome`` a
        list of ``{section, name, value, mechanism}``).

    Raises
    ------
    patchatlas.errors.ReadError
        Missing or unreadable file.
    patchatlas.errors.CorruptFileError
        Not JSON, or not the layout of an Allen fit (the message names the missing block).
    """
    p = Path(path)
    data = _load_json(p)
    if not isinstance(data, dict):
        raise CorruptFileError(p, "an Allen fit file is a JSON object with 'genome', 'passive' ...")
    missing = [k for k in _FIT_BLOCKS if k not in data]
    if missing:
        raise CorruptFileError(
            p,
            f"not an Allen biophysical fit: no {', '.join(repr(m) for m in missing)} block",
            "the fit is the <id>_fit.json of an Allen model download",
        )
    genome = data["genome"]
    if not isinstance(genome, list) or not all(isinstance(g, dict) for g in genome):
        raise CorruptFileError(p, "'genome' must be a list of {section, name, value, mechanism}")
    return data


def find_modfiles(fit_path: str | os.PathLike[str]) -> Path | None:
    """The ``modfiles/`` folder of an Allen model download (beside the fit file), if any.

    Parameters
    ----------
    fit_path
        The fit file.

    Returns
    -------
    Path or None
        The folder when it exists and holds ``.mod`` files.
    """
    d = Path(fit_path).resolve().parent / "modfiles"
    if d.is_dir() and any(d.glob("*.mod")):
        return d
    return None


def read_allen_sweep_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an Allen specimen's sweep table (``<specimen>_ephys_sweeps.json``).

    Parameters
    ----------
    path
        The JSON list of sweeps the Allen API returns (``EphysSweep`` rows).

    Returns
    -------
    pandas.DataFrame
        Columns ``sweep_number``, ``stimulus_name``, ``amplitude_pa`` (absolute amplitude),
        ``start_s``, ``duration_s``, ``num_spikes`` (nullable: Allen leaves it empty for
        subthreshold sweeps), sorted by sweep number.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing or unreadable file.
    patchatlas.errors.CorruptFileError
        Not a JSON list of sweep rows.
    """
    import pandas as pd

    p = Path(path)
    data = _load_json(p)
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise CorruptFileError(p, "an Allen sweep table is a JSON list of sweep objects")
    need = ("sweep_number", "stimulus_name", "stimulus_absolute_amplitude")
    for k, r in enumerate(data):
        if not all(n in r for n in need):
            raise CorruptFileError(p, f"row {k} lacks one of {need}")
    df = pd.DataFrame(
        {
            "sweep_number": [int(r["sweep_number"]) for r in data],
            "stimulus_name": [str(r["stimulus_name"]) for r in data],
            "amplitude_pa": [float(r["stimulus_absolute_amplitude"]) for r in data],
            "start_s": [float(r.get("stimulus_start_time") or float("nan")) for r in data],
            "duration_s": [float(r.get("stimulus_duration") or float("nan")) for r in data],
            "num_spikes": pd.array([r.get("num_spikes") for r in data], dtype="Int64"),
        }
    )
    return df.sort_values("sweep_number", kind="stable").reset_index(drop=True)
