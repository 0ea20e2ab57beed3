"""Multipatch experiments on disk: patchatlas's simple layout, and one entry point for all layouts.

:func:`read_experiment` dispatches by extension:

* ``.mpx`` — the **simple layout** (:func:`read_multipatch` / :func:`write_multipatch`), one HDF5
  file per experiment;
* ``.nwb`` — a MIES-style NWB 2 file, one series per headstage per sweep
  (:func:`patchatlas.io.multipatch_nwb.read_mies_multipatch`);
* ``.syn`` — a connection matrix with its ``.dist`` distance matrix
  (:func:`patchatlas.io.connection_matrix.read_connection_matrix`).

The simple layout (HDF5, version 1; every string attribute UTF-8; units mV, pA, s, µm)::

    /                      attrs: format="patchatlas-multipatch", version=1, name,
                                  species (optional), metadata (JSON text)
    /cells/<electrode>     attrs: cell_id, layer, cell_class, cre_line, t_type (optional text),
                                  position_um (3 floats), pia_direction (3 floats),
                                  depth_um (float), metadata (JSON text)
    /sweeps/<number>       attrs: number (int), start_time (s, optional)
      <electrode>/         attrs: sampling_rate (Hz), t0 (s), clamp_mode
                                  ("current_clamp" | "voltage_clamp"), metadata (JSON text)
        v                  membrane potential (IC) or command potential (VC), mV
        i                  command current (IC) or recorded current (VC), pA (optional)
        i_recorded         recorded current when a file has both (optional)
      trains/<electrode>/  onsets (s, sweep clock), durations (s), amplitudes (pA),
                           spike_times (s, NaN: no spike; optional)
    /calls                 attrs: json — a JSON list of {pre, post, connected, synapse_type,
                                  electrical, source}
    /distances             attrs: json — a JSON list of [pre, post, distance_um]

Electrodes under ``/sweeps`` without a ``/cells`` entry are headstages without a cell (kept,
reported by the analysis). Traces are stored as float32 (LZF-compressed, which h5py always
has); they are read as float64.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from patchatlas.core.multipatch import (
    ConnectionCall,
    MultipatchCell,
    MultipatchExperiment,
    PulseTrain,
    SyncSweep,
)
from patchatlas.core.recording import ClampMode, Sweep
from patchatlas.errors import (
    CorruptFileError,
    DataError,
    ReadError,
    UnsupportedFormatError,
    WriteError,
)

__all__ = [
    "EXPERIMENT_EXTENSIONS",
    "TRACE_EXTENSIONS",
    "PspTrace",
    "read_experiment",
    "read_multipatch",
    "read_psp_trace",
    "write_multipatch",
]

FORMAT = "patchatlas-multipatch"
VERSION = 1
#: extensions :func:`read_experiment` reads
EXPERIMENT_EXTENSIONS: tuple[str, ...] = (".mpx", ".nwb", ".syn")


def read_experiment(path: str | os.PathLike[str], **options: Any) -> MultipatchExperiment:
    """Read a multipatch experiment in any supported layout (chosen by extension).

    Parameters
    ----------
    path
        A ``.mpx`` (simple layout), ``.nwb`` (MIES multipatch) or ``.syn`` (connection
        matrix) file.
    **options
        Passed to the layout's reader.

    Returns
    -------
    MultipatchExperiment
        The experiment.

    Raises
    ------
    patchatlas.errors.UnsupportedFormatError
        Another extension.
    patchatlas.errors.ReadError
        The file cannot be read (the message says why).
    """
    p = Path(path)
    ext = p.suffix.lower()
    if ext == ".mpx":
        return read_multipatch(p, **options)
    if ext == ".nwb":
        from patchatlas.io.multipatch_nwb import read_mies_multipatch

        return read_mies_multipatch(p, **options)
    if ext == ".syn":
        from patchatlas.io.connection_matrix import read_connection_matrix

        return read_connection_matrix(p, **options)
    raise UnsupportedFormatError(
        p,
        f"{ext or 'no extension'} is not a multipatch layout",
        "give a .mpx (patchatlas), .nwb (MIES multipatch) or .syn (connection matrix) file",
    )


#: extensions :func:`read_psp_trace` reads
TRACE_EXTENSIONS: tuple[str, ...] = (".json", ".csv", ".tsv", ".txt")


@dataclass
class PspTrace:
    """One (averaged) postsynaptic response read from a file (:func:`read_psp_trace`).

    Attributes
    ----------
    t
        Time (s).
    y
        The response (mV or pA).
    weights
        Per-sample fit weights (None: all 1).
    sign
        +1, -1 or 0 (when the file says which way the response goes).
    clamp_mode
        ``"ic"`` or ``"vc"``.
    name
        The file stem.
    """

    t: np.ndarray
    y: np.ndarray
    weights: np.ndarray | None
    sign: int
    clamp_mode: str
    name: str


def read_psp_trace(path: str | os.PathLike[str], *, clamp_mode: str = "ic") -> PspTrace:
    """Read one response to fit: a two- or three-column text table or an Allen test JSON.

    * ``.csv`` / ``.tsv`` / ``.txt``: columns ``time_s``, the response (mV in current clamp,
      pA in voltage clamp) and optionally ``weight``; a header line is skipped.
    * ``.json``: the neuroanalysis ``test_psp_fit`` layout (``input.data`` in V or A,
      ``input.dt`` in s, optional ``input.weight`` and ``input.amp_sign``), converted to mV
      (or pA with ``clamp_mode="vc"``); time starts at 0.

    Parameters
    ----------
    path
        The file.
    clamp_mode
        ``"ic"`` or ``"vc"``.

    Returns
    -------
    PspTrace
        Time, response, weights, sign.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing file, another extension, or content that is not such a table.
    """
    p = Path(path)
    if not p.is_file():
        raise ReadError(p, "no such file", "check the path")
    ext = p.suffix.lower()
    if ext == ".json":
        try:
            doc = json.loads(p.read_text())
            inp = doc["input"]
            scale = 1e12 if clamp_mode == "vc" else 1e3
            y = np.asarray(inp["data"], dtype=np.float64) * scale
            t = np.arange(y.size) * float(inp["dt"])
            w = np.asarray(inp["weight"], dtype=np.float64) if "weight" in inp else None
            sign = {"+": 1, "-": -1}.get(str(inp.get("amp_sign", "")), 0)
        except (OSError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ReadError(
                p, f"not a test_psp_fit JSON ({exc})", "give input.data and input.dt"
            ) from exc
        return PspTrace(t, y, w, sign, clamp_mode, p.stem)
    if ext in (".csv", ".tsv", ".txt"):
        delim = "," if ext == ".csv" else None
        try:
            arr = np.genfromtxt(p, delimiter=delim, dtype=np.float64)
        except ValueError as exc:
            raise ReadError(p, f"not a numeric table ({exc})") from exc
        if arr.ndim == 2 and np.isnan(arr[0]).all():
            arr = arr[1:]
        if arr.ndim != 2 or arr.shape[1] < 2 or len(arr) < 8:
            raise ReadError(p, "needs columns time_s and the response (and optionally weight)")
        w = arr[:, 2] if arr.shape[1] > 2 else None
        return PspTrace(arr[:, 0], arr[:, 1], w, 0, clamp_mode, p.stem)
    raise UnsupportedFormatError(p, f"{ext} is not a response table", "use .csv or .json")


def _text(value: Any, default: str | None = None) -> str | None:
    if value is None:
        return default
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    s = str(value)
    return s if s else default


def _json(value: Any, path: Path, what: str) -> Any:
    txt = _text(value, "")
    if not txt:
        return {}
    try:
        return json.loads(txt)
    except json.JSONDecodeError as exc:
        raise CorruptFileError(path, f"{what} is not valid JSON ({exc})") from exc


def _triple(value: Any) -> tuple[float, float, float] | None:
    if value is None:
        return None
    arr = np.asarray(value, dtype=np.float64).ravel()
    if arr.size != 3 or not np.isfinite(arr).all():
        return None
    return (float(arr[0]), float(arr[1]), float(arr[2]))


def read_multipatch(path: str | os.PathLike[str]) -> MultipatchExperiment:
    """Read a multipatch experiment in the simple layout (``.mpx``, HDF5).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    MultipatchExperiment
        Cells, synchronous sweeps (float64 traces), pulse trains, calls and distances.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing file, not HDF5, not this layout, or a newer layout version.
    patchatlas.errors.CorruptFileError
        Inconsistent content (the message names the group).
    """
    import h5py

    p = Path(path)
    if not p.is_file():
        raise ReadError(p, "no such file", "check the path")
    try:
        h5 = h5py.File(p, "r")
    except OSError as exc:
        raise ReadError(p, f"not an HDF5 file ({exc})", "the simple layout is HDF5") from exc
    with h5:
        fmt = _text(h5.attrs.get("format"))
        if fmt != FORMAT:
            raise ReadError(
                p, f"format attribute is {fmt!r}, not {FORMAT!r}", "write it with write_multipatch"
            )
        version = int(h5.attrs.get("version", 0))
        if version > VERSION:
            raise ReadError(
                p,
                f"layout version {version} is newer than this reader ({VERSION})",
                "upgrade patchatlas",
            )
        name = _text(h5.attrs.get("name"), p.stem) or p.stem
        cells = []
        for el, g in (h5.get("cells") or {}).items():
            a = g.attrs
            depth = a.get("depth_um")
            cells.append(
                MultipatchCell(
                    electrode=str(el),
                    cell_id=_text(a.get("cell_id"), "") or "",
                    position_um=_triple(a.get("position_um")),
                    pia_direction=_triple(a.get("pia_direction")),
                    layer=_text(a.get("layer")),
                    cell_class=_text(a.get("cell_class")),
                    cre_line=_text(a.get("cre_line")),
                    t_type=_text(a.get("t_type")),
                    depth_um=float(depth) if depth is not None else math.nan,
                    metadata=_json(a.get("metadata"), p, f"/cells/{el} metadata"),
                )
            )
        sweeps = []
        groups = h5.get("sweeps") or {}
        for key in sorted(groups, key=lambda k: int(groups[k].attrs.get("number", 0))):
            sg = groups[key]
            number = int(sg.attrs.get("number", 0))
            traces: dict[str, Sweep] = {}
            trains: dict[str, PulseTrain] = {}
            for el, eg in sg.items():
                if el == "trains":
                    continue
                where = f"/sweeps/{key}/{el}"
                if "v" not in eg:
                    raise CorruptFileError(p, f"{where} has no 'v' trace")
                v = np.asarray(eg["v"][()], dtype=np.float64)
                arrays = {
                    k: (np.asarray(eg[k][()], dtype=np.float64) if k in eg else None)
                    for k in ("i", "i_recorded")
                }
                mode = _text(eg.attrs.get("clamp_mode"), "current_clamp")
                try:
                    traces[str(el)] = Sweep(
                        v=v,
                        i=arrays["i"],
                        i_recorded=arrays["i_recorded"],
                        sampling_rate=float(eg.attrs["sampling_rate"]),
                        number=number,
                        t0=float(eg.attrs.get("t0", 0.0)),
                        clamp_mode=ClampMode(mode or "current_clamp"),
                        metadata=_json(eg.attrs.get("metadata"), p, f"{where} metadata"),
                    )
                except (KeyError, ValueError, DataError) as exc:
                    raise CorruptFileError(p, f"{where}: {exc}") from exc
            for el, tg in (sg.get("trains") or {}).items():
                try:
                    trains[str(el)] = PulseTrain(
                        str(el),
                        np.asarray(tg["onsets"][()], dtype=np.float64),
                        *(
                            np.asarray(tg[k][()], dtype=np.float64) if k in tg else None
                            for k in ("durations", "amplitudes", "spike_times")
                        ),
                    )
                except (KeyError, DataError) as exc:
                    raise CorruptFileError(p, f"/sweeps/{key}/trains/{el}: {exc}") from exc
            start = sg.attrs.get("start_time")
            try:
                sweeps.append(
                    SyncSweep(
                        number,
                        traces,
                        trains,
                        start_time=float(start) if start is not None else math.nan,
                    )
                )
            except DataError as exc:
                raise CorruptFileError(p, f"/sweeps/{key}: {exc}") from exc
        calls = []
        if "calls" in h5:
            for c in _json(h5["calls"].attrs.get("json"), p, "/calls") or []:
                calls.append(
                    ConnectionCall(
                        str(c["pre"]),
                        str(c["post"]),
                        c.get("connected"),
                        c.get("synapse_type"),
                        c.get("electrical"),
                        str(c.get("source", "manual")),
                    )
                )
        distances: dict[tuple[str, str], float] = {}
        if "distances" in h5:
            for a, b, d in _json(h5["distances"].attrs.get("json"), p, "/distances") or []:
                distances[(str(a), str(b))] = float(d)
        try:
            return MultipatchExperiment(
                name,
                cells,
                sweeps,
                species=_text(h5.attrs.get("species")),
                metadata=_json(h5.attrs.get("metadata"), p, "root metadata"),
                source=str(p),
                calls=calls,
                distances_um=distances,
            )
        except DataError as exc:
            raise CorruptFileError(p, str(exc)) from exc


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, str | int | float | bool) or obj is None:
        return obj
    return str(obj)


def write_multipatch(experiment: MultipatchExperiment, path: str | os.PathLike[str]) -> Path:
    """Write an experiment in the simple layout (``.mpx``).

    Parameters
    ----------
    experiment
        The experiment.
    path
        Destination (overwritten).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    patchatlas.errors.WriteError
        The file cannot be written.
    """
    import h5py

    p = Path(path)
    comp = {"compression": "lzf", "shuffle": True}
    try:
        with h5py.File(p, "w") as h5:
            h5.attrs["format"] = FORMAT
            h5.attrs["version"] = VERSION
            h5.attrs["name"] = experiment.name
            if experiment.species:
                h5.attrs["species"] = experiment.species
            h5.attrs["metadata"] = json.dumps(_jsonable(experiment.metadata))
            cg = h5.create_group("cells")
            for c in experiment.cells:
                g = cg.create_group(c.electrode)
                g.attrs["cell_id"] = c.cell_id
                for key in ("layer", "cell_class", "cre_line", "t_type"):
                    val = getattr(c, key)
                    if val is not None:
                        g.attrs[key] = str(val)
                if c.position_um is not None:
                    g.attrs["position_um"] = np.asarray(c.position_um, dtype=np.float64)
                if c.pia_direction is not None:
                    g.attrs["pia_direction"] = np.asarray(c.pia_direction, dtype=np.float64)
                if math.isfinite(c.depth_um):
                    g.attrs["depth_um"] = float(c.depth_um)
                g.attrs["metadata"] = json.dumps(_jsonable(dict(c.metadata)))
            sg = h5.create_group("sweeps")
            for sync in experiment.sweeps:
                g = sg.create_group(f"{sync.number:06d}")
                g.attrs["number"] = int(sync.number)
                if math.isfinite(sync.start_time):
                    g.attrs["start_time"] = float(sync.start_time)
                for el, sw in sync.sweeps.items():
                    eg = g.create_group(el)
                    eg.attrs["sampling_rate"] = float(sw.sampling_rate)
                    eg.attrs["t0"] = float(sw.t0)
                    eg.attrs["clamp_mode"] = ClampMode(sw.clamp_mode).value
                    eg.attrs["metadata"] = json.dumps(_jsonable(sw.metadata))
                    eg.create_dataset("v", data=np.asarray(sw.v, dtype=np.float32), **comp)
                    for key in ("i", "i_recorded"):
                        arr = getattr(sw, key)
                        if arr is not None:
                            eg.create_dataset(key, data=np.asarray(arr, np.float32), **comp)
                if sync.trains:
                    tg = g.create_group("trains")
                    for el, tr in sync.trains.items():
                        t = tg.create_group(el)
                        t.create_dataset("onsets", data=tr.onsets)
                        for key in ("durations", "amplitudes", "spike_times"):
                            arr = getattr(tr, key)
                            if arr is not None:
                                t.create_dataset(key, data=arr)
            if experiment.calls:
                h5.create_group("calls").attrs["json"] = json.dumps(
                    [_jsonable(c.__dict__) for c in experiment.calls]
                )
            if experiment.distances_um:
                h5.create_group("distances").attrs["json"] = json.dumps(
                    [[a, b, float(d)] for (a, b), d in experiment.distances_um.items()]
                )
    except OSError as exc:
        raise WriteError(f"{p}: cannot write the multipatch file ({exc})") from exc
    return p
