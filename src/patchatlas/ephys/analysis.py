"""One analysis of a cell's recording: :func:`analyze` → :class:`EphysResult`.

This is the entry point the pipeline, the CLI, the portal and the demo use: every current-clamp
sweep is analysed once (spikes in the stimulus window, the spike-train and subthreshold sweep
features), the Allen cell record is derived from those same sweeps, the Allen v1.1 sweep and
cell QC rules are evaluated, and everything is kept together with its provenance (package
version, profile, detection parameters, the dV/dt filter actually applied, the estimated
short-square parameters, notes such as a lowered filter) and the registry unit of every value.

So the spikes a user (or the atlas) sees are exactly the spikes behind the sweep features: each
sweep's spike table has an ``in_window`` column, and the spikes with ``in_window`` true are the
``n_spikes`` of that sweep. (With ``profile="allen"`` a threshold can fall a few samples before
the window start, as in IPFX: such a spike is detected, used for intervals and latency, and
flagged ``in_window=False``.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from patchatlas._version import __version__
from patchatlas.core.recording import ClampMode, Recording, StimulusKind, Sweep
from patchatlas.core.table import FeatureTable
from patchatlas.errors import IndexOutOfRangeError, ParameterError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from patchatlas.ephys.spikes import AllenParameters

__all__ = ["BOOKKEEPING", "EphysResult", "SweepAnalysis", "analyze"]

#: values of the cell record that describe the analysis rather than the cell (kept in
#: ``EphysResult.provenance["counts"]``, never stored as features)
BOOKKEEPING = (
    "n_sweeps",
    "n_sweeps_analyzed",
    "n_sweeps_failed",
    "n_long_square",
    "n_short_square",
    "n_ramp",
)
#: per-sweep bookkeeping returned by the sweep-feature functions (not features)
SWEEP_BOOKKEEPING = ("sweep_number", "stimulus_kind", "filter_khz_used")

LEVELS = ("cell", "sweep", "spike")


@dataclass
class SweepAnalysis:
    """One analysed current-clamp sweep.

    Attributes
    ----------
    sweep
        The sweep (its stimulus window was the analysis window).
    spikes
        The spikes behind the sweep features (:class:`~patchatlas.core.FeatureTable`, IPFX
        per-spike names, sample indexes into the sweep, plus ``in_window``); None when the
        analysis failed.
    features
        Sweep features by registry name (``avg_rate`` Hz, ``latency`` s, ...; NaN where
        undefined).
    filter_khz
        The dV/dt Bessel cutoff actually applied (kHz; None: not filtered).
    error
        Why the analysis failed (empty when it succeeded).
    """

    sweep: Sweep
    spikes: FeatureTable | None = None
    features: dict[str, float] = field(default_factory=dict)
    filter_khz: float | None = None
    error: str = ""

    @property
    def ok(self) -> bool:
        """Whether the analysis succeeded."""
        return self.spikes is not None

    @property
    def number(self) -> int:
        """The sweep number."""
        return self.sweep.number

    @property
    def n_spikes(self) -> int:
        """Spikes in the stimulus window (the ``n_spikes`` feature; 0 when failed)."""
        if self.spikes is None:
            return 0
        return int(np.count_nonzero(self.spikes["in_window"]))

    def rows(self, level: str) -> pd.DataFrame:
        """This sweep's ``"sweep"`` or ``"spike"`` rows of :meth:`EphysResult.features`.

        Parameters
        ----------
        level
            ``"sweep"`` (its features) or ``"spike"`` (its spikes' features).

        Returns
        -------
        pandas.DataFrame
            Columns :data:`FEATURE_ROW_COLUMNS`; empty when the analysis failed.
        """
        if level not in ("sweep", "spike"):
            raise ParameterError(f"SweepAnalysis.rows(level={level!r}): use 'sweep' or 'spike'")
        return _frame([_sweep_block(self, level)])


@dataclass
class EphysResult:
    """Everything :func:`analyze` computed for one cell.

    Attributes
    ----------
    cell_id
        The recording's cell id.
    profile
        ``"allen"`` or ``"robust"``.
    sweeps
        One :class:`SweepAnalysis` per current-clamp sweep, in recording order.
    cell
        The Allen cell record (registry names → value; NaN where not computable).
    qc
        Sweep and cell QC (a DataFrame with ``sweep_number`` (None for cell rules), ``check``,
        ``value``, ``unit``, ``limit``, ``passed``, ``message``); None when not requested.
    provenance
        ``package_version``, ``profile``, ``parameters`` (detection), ``filter_khz_used``,
        ``short_square_parameters``, ``notes`` and ``counts`` (sweeps analysed, failed, per
        stimulus kind).
    """

    cell_id: str
    profile: str
    sweeps: list[SweepAnalysis]
    cell: dict[str, float]
    qc: pd.DataFrame | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[SweepAnalysis]:
        return iter(self.sweeps)

    def __len__(self) -> int:
        return len(self.sweeps)

    def __repr__(self) -> str:
        n_ok = sum(s.ok for s in self.sweeps)
        return (
            f"EphysResult({self.cell_id!r}, profile={self.profile!r}, {n_ok}/{len(self.sweeps)} "
            f"sweeps analysed, {sum(s.n_spikes for s in self.sweeps)} spikes in window)"
        )

    def sweep(self, number: int) -> SweepAnalysis:
        """The analysis of the sweep with acquisition number ``number``.

        Parameters
        ----------
        number
            Sweep number.

        Returns
        -------
        SweepAnalysis
        """
        for s in self.sweeps:
            if s.number == number:
                return s
        raise IndexOutOfRangeError(
            f"{self.cell_id!r}: no analysed sweep number {number}; analysed: "
            f"{[s.number for s in self.sweeps]}"
        )

    def units(self, level: str) -> dict[str, str]:
        """Registry unit of every feature name of a level (``"cell"``, ``"sweep"``, ``"spike"``).

        Parameters
        ----------
        level
            Feature level.

        Returns
        -------
        dict
            Name → unit (``"1"`` dimensionless, ``"bool"`` flags, ``"sample"`` indexes).
        """
        from patchatlas.ephys.registry import units_of

        if level not in LEVELS:
            raise ParameterError(f"unknown feature level {level!r}; use one of {LEVELS}")
        return dict(units_of(level))

    # ------------------------------------------------------------------ tables
    def spike_table(self) -> pd.DataFrame:
        """Every spike of every sweep: ``sweep_number``, ``spike_index`` and the spike columns.

        Returns
        -------
        pandas.DataFrame
            One row per spike (``in_window`` says whether it counts in ``n_spikes``).
        """
        import pandas as pd

        frames = []
        for s in self.sweeps:
            if s.spikes is None or len(s.spikes) == 0:
                continue
            df = s.spikes.to_pandas()
            df.insert(0, "spike_index", np.arange(len(df)))
            df.insert(0, "sweep_number", s.number)
            frames.append(df)
        if not frames:
            return pd.DataFrame(columns=["sweep_number", "spike_index", "threshold_t"])
        out = pd.concat(frames, ignore_index=True)
        out.attrs = {}
        return out

    def sweep_table(self) -> pd.DataFrame:
        """One row per analysed sweep: stimulus, the sweep features, filter used and error.

        Returns
        -------
        pandas.DataFrame
            Columns ``sweep_number``, ``stimulus_kind``, ``amplitude_pa``, ``start_s``,
            ``end_s``, the sweep features, ``filter_khz_used``, ``error``.
        """
        import pandas as pd

        rows = []
        for s in self.sweeps:
            stim = s.sweep.stimulus
            rows.append(
                {
                    "sweep_number": s.number,
                    "stimulus_kind": stim.kind.value,
                    "amplitude_pa": stim.amplitude,
                    "start_s": stim.start,
                    "end_s": stim.end,
                    **s.features,
                    "filter_khz_used": s.filter_khz,
                    "error": s.error,
                }
            )
        return pd.DataFrame(rows)

    def fi_curve(self) -> pd.DataFrame:
        """The f-I curve: ``amplitude_pa`` and ``avg_rate`` (Hz) of the long-square sweeps.

        Returns
        -------
        pandas.DataFrame
            One row per analysed long square, sorted by amplitude.
        """
        import pandas as pd

        rows = [
            (s.number, float(s.features["stim_amp"]), float(s.features["avg_rate"]))
            for s in self.sweeps
            if s.ok and s.sweep.stimulus.kind == StimulusKind.LONG_SQUARE
        ]
        df = pd.DataFrame(rows, columns=["sweep_number", "amplitude_pa", "avg_rate"])
        return df.sort_values("amplitude_pa", kind="stable").reset_index(drop=True)

    def features(
        self, level: str | None = None, *, sweep_key: Callable[[Sweep], Any] | None = None
    ) -> pd.DataFrame:
        """The numeric results as one long table with registry names and units.

        Parameters
        ----------
        level
            ``"cell"``, ``"sweep"``, ``"spike"`` or None for all three.
        sweep_key
            Adds a column ``sweep_key`` with ``sweep_key(sweep)`` on every sweep and spike row
            (None on cell rows): e.g. which file each sweep of a multi-file cell came from.

        Returns
        -------
        pandas.DataFrame
            Columns ``level``, ``sweep_number``, ``spike_index``, ``name``, ``value``, ``unit``,
            ``in_window`` (spike rows only). Only registry names of that level appear; flags
            are 0/1.
        """
        levels = LEVELS if level is None else (level,)
        for lv in levels:
            if lv not in LEVELS:
                raise ParameterError(f"unknown feature level {lv!r}; use one of {LEVELS}")
        blocks: list[dict[str, np.ndarray]] = []
        if "cell" in levels:
            blocks.append(_mapping_block(self.cell, "cell", None, self.units("cell")))
        for lv in ("sweep", "spike"):
            if lv in levels:
                blocks += [_sweep_block(s, lv, sweep_key) for s in self.sweeps]
        if sweep_key is not None and blocks and "sweep_key" not in blocks[0]:
            n = blocks[0]["value"].size
            blocks[0]["sweep_key"] = np.full(n, None, dtype=object)
        return _frame(blocks, extra=("sweep_key",) if sweep_key is not None else ())


#: columns of :meth:`EphysResult.features`
FEATURE_ROW_COLUMNS = ("level", "sweep_number", "spike_index", "name", "value", "unit", "in_window")


def _number(v: Any) -> float | None:
    if isinstance(v, bool | np.bool_):
        return float(v)
    if isinstance(v, int | float | np.integer | np.floating):
        return float(v)
    return None


def _mapping_block(
    values: Mapping[str, Any], level: str, sweep: int | None, units: Mapping[str, str]
) -> dict[str, np.ndarray]:
    names, vals = [], []
    for k, v in values.items():
        f = _number(v)
        if f is None or k not in units:
            continue
        names.append(k)
        vals.append(f)
    n = len(names)
    nan = np.full(n, np.nan)
    return {
        "level": np.full(n, level, dtype=object),
        "sweep_number": nan if sweep is None else np.full(n, float(sweep)),
        "spike_index": nan,
        "name": np.array(names, dtype=object),
        "value": np.asarray(vals, dtype=float),
        "unit": np.array([units[k] for k in names], dtype=object),
        "in_window": nan,
    }


def _spike_block(spikes: FeatureTable, sweep: int, units: Mapping[str, str]) -> dict[str, Any]:
    n = len(spikes)
    inw = np.asarray(spikes["in_window"], dtype=bool)
    cols = [
        (k, np.asarray(a))
        for k, a in spikes.items()
        if k in units and k != "in_window" and np.asarray(a).dtype.kind in "biuf"
    ]
    k = len(cols)
    return {
        "level": np.full(n * k, "spike", dtype=object),
        "sweep_number": np.full(n * k, float(sweep)),
        "spike_index": np.tile(np.arange(n, dtype=float), k),
        "name": np.repeat(np.array([c for c, _ in cols], dtype=object), n),
        "value": np.concatenate([a.astype(float) for _, a in cols]) if k else np.zeros(0),
        "unit": np.repeat(np.array([units[c] for c, _ in cols], dtype=object), n),
        "in_window": np.tile(inw.astype(float), k),
    }


def _sweep_block(
    sa: SweepAnalysis, level: str, sweep_key: Callable[[Sweep], Any] | None = None
) -> dict[str, Any]:
    from patchatlas.ephys.registry import units_of

    if level == "sweep":
        block = _mapping_block(sa.features if sa.ok else {}, "sweep", sa.number, units_of("sweep"))
    elif sa.spikes is None or len(sa.spikes) == 0:
        block = _mapping_block({}, "spike", sa.number, {})
    else:
        block = _spike_block(sa.spikes, sa.number, units_of("spike"))
    if sweep_key is not None:
        key = sweep_key(sa.sweep)
        out = np.empty(block["value"].size, dtype=object)
        out.fill(key)
        block["sweep_key"] = out
    return block


def _frame(blocks: list[dict[str, Any]], extra: tuple[str, ...] = ()) -> pd.DataFrame:
    """One DataFrame from column blocks (one concatenation per column, no per-row pandas)."""
    import pandas as pd

    cols = [*FEATURE_ROW_COLUMNS, *extra]
    blocks = [b for b in blocks if b["value"].size]
    if not blocks:
        return pd.DataFrame(columns=cols)
    data: dict[str, Any] = {c: np.concatenate([b[c] for b in blocks]) for c in cols}
    # whole numbers and flags with holes: pandas' nullable types (missing = <NA>)
    data["sweep_number"] = pd.array(data["sweep_number"], dtype="Int64")
    data["spike_index"] = pd.array(data["spike_index"], dtype="Int64")
    inw = data["in_window"]
    data["in_window"] = pd.arrays.BooleanArray(inw == 1.0, np.isnan(inw))
    return pd.DataFrame(data, columns=cols)


def _with_in_window(spikes: FeatureTable, sweep: Sweep) -> FeatureTable:
    """``spikes`` with an ``in_window`` column: threshold inside the stimulus window (the
    spikes ``n_spikes`` counts). The robust profile already has it."""
    if "in_window" in spikes:
        return spikes
    from patchatlas.ephys.train import analysis_window

    s, e = analysis_window(sweep)
    th = np.asarray(spikes["threshold_t"], dtype=float)
    if math.isfinite(s) and math.isfinite(e):
        spikes["in_window"] = (th >= s) & (th <= e)
    else:
        spikes["in_window"] = np.ones(th.size, dtype=bool)
    return spikes


def analyze(
    recording: Recording,
    *,
    profile: str = "allen",
    parameters: AllenParameters | None = None,
    filter_khz: float | None = 10.0,
    adjust_short_squares: bool = True,
    detail: Literal["full", "cell"] = "full",
    qc: bool = True,
) -> EphysResult:
    """Analyse a cell's recording: spikes, sweep and cell features, QC, provenance, units.

    Parameters
    ----------
    recording
        The cell's sweeps with their stimuli (as :func:`patchatlas.read` gives them). Only
        current-clamp sweeps are analysed; voltage-clamp test-pulse sweeps feed the cell QC.
    profile
        ``"allen"`` (IPFX definitions) or ``"robust"`` (noise-adaptive detection, out-of-window
        spikes flagged); see :func:`patchatlas.ephys.detect_spikes`.
    parameters
        Detection parameters (:class:`~patchatlas.ephys.AllenParameters`; default: the IPFX
        defaults with ``filter_khz``).
    filter_khz
        dV/dt Bessel cutoff in kHz when ``parameters`` is not given (lowered, with a note,
        where the sampling rate cannot carry it).
    adjust_short_squares
        With the allen profile, detect short squares with the ``dv_cutoff`` / ``thresh_frac``
        estimated from them (the IPFX rule, :func:`patchatlas.ephys.short_square_parameters`).
    detail
        ``"full"``: every per-spike feature of every sweep. ``"cell"``: only what the cell
        record reads (long squares other than the rheobase sweep keep threshold and peak
        columns; spike counts, times and every sweep and cell feature are the same), about
        twice as fast.
    qc
        Evaluate the Allen v1.1 sweep rules (noise, baseline stability, integrity) and cell
        rules (:func:`patchatlas.ephys.cell_qc`).

    Returns
    -------
    EphysResult
        Per sweep the spikes and sweep features, the cell record, QC and provenance.

    Raises
    ------
    patchatlas.errors.ParameterError
        Unknown ``profile`` or ``detail``.

    Examples
    --------
    >>> res = patchatlas.ephys.analyze(patchatlas.read("cell.abf"))  # doctest: +SKIP
    >>> res.cell["ri"], res.fi_curve(), res.sweep(12).spikes        # doctest: +SKIP
    """
    import patchatlas.ephys._notes as _notes
    from patchatlas.ephys.cell import analyze_sweep_set, cell_record
    from patchatlas.ephys.spikes import PROFILES, AllenParameters, params_dict

    if profile not in PROFILES:
        raise ParameterError(f"unknown ephys profile {profile!r}; use one of {PROFILES}")
    if detail not in ("full", "cell"):
        raise ParameterError(f"analyze(detail={detail!r}): use 'full' or 'cell'")
    fk = parameters.filter_khz if parameters is not None else filter_khz
    with _notes.collecting() as notes:
        results, ssq = analyze_sweep_set(
            recording,
            profile=profile,
            filter_khz=fk,
            parameters=parameters,
            light=detail == "cell",
            adjust_short_squares=adjust_short_squares,
        )
        record = cell_record(results, n_sweeps=len(recording))
    sweeps = []
    for r in results:
        feats = {k: v for k, v in r.features.items() if k not in SWEEP_BOOKKEEPING}
        used = r.features.get("filter_khz_used") if r.ok else None
        spikes = _with_in_window(r.spikes, r.sweep) if r.spikes is not None else None
        sweeps.append(SweepAnalysis(r.sweep, spikes, feats, used, r.error))
    cell = {k: v for k, v in record.items() if k not in BOOKKEEPING}
    counts = {k: int(record[k]) for k in BOOKKEEPING}
    used_filters = sorted({s.filter_khz for s in sweeps if s.filter_khz is not None})
    prov: dict[str, Any] = {
        "engine": "patchatlas.ephys.analyze",
        "package_version": __version__,
        "profile": profile,
        "detail": detail,
        "parameters": params_dict(parameters or AllenParameters(filter_khz=fk)),
        "filter_khz_used": used_filters,
        "short_square_parameters": None if ssq is None else params_dict(ssq),
        "windows": "each sweep's stimulus window (primary epoch)",
        "notes": [f"{cat.__name__}: {msg}" for cat, msg in _notes.distinct(notes)],
        "counts": counts,
    }
    for cat, msg in _notes.distinct(notes):
        _notes.note(f"{recording.cell_id}: {msg}", cat, stacklevel=2)
    table = _qc_table(recording, sweeps, cell) if qc else None
    return EphysResult(recording.cell_id, profile, sweeps, cell, table, prov)


QC_COLUMNS = ("sweep_number", "check", "value", "unit", "limit", "passed", "message")


def _qc_table(recording: Recording, sweeps: list[SweepAnalysis], cell: Mapping[str, Any]) -> Any:
    """Sweep rules of the analysed sweeps (except the cell-QC test-pulse sweeps) and the cell
    rules, one row per rule."""
    import pandas as pd

    from patchatlas.ephys.qc import QCRules, cell_qc, qc_sweep_role, sweep_qc

    rules = QCRules()
    rows: list[dict[str, Any]] = []
    limits = {
        "pre_noise_rms_mv": rules.pre_noise_rms_mv,
        "post_noise_rms_mv": rules.post_noise_rms_mv,
        "slow_noise_rms_mv": rules.slow_noise_rms_mv,
        "vm_delta_mv": rules.vm_delta_mv,
    }
    for s in sweeps:
        if s.error:
            rows.append(
                {
                    "sweep_number": s.number,
                    "check": "analysis",
                    "value": math.nan,
                    "unit": "",
                    "limit": "",
                    "passed": False,
                    "message": s.error,
                }
            )
        if s.sweep.clamp_mode != ClampMode.CURRENT_CLAMP or qc_sweep_role(s.sweep, rules):
            continue
        q = sweep_qc(s.sweep, rules=rules, flags=False)
        for name in ("integrity_finite", "integrity_stimulus_in_sweep"):
            rows.append(
                {
                    "sweep_number": s.number,
                    "check": name,
                    "value": math.nan,
                    "unit": "",
                    "limit": "true",
                    "passed": bool(q[name]),
                    "message": "",
                }
            )
        for name, limit in limits.items():
            if name in q:
                rows.append(
                    {
                        "sweep_number": s.number,
                        "check": name,
                        "value": float(q[name]),
                        "unit": "mV",
                        "limit": f"<= {limit:g}",
                        "passed": q[f"{name}_pass"],
                        "message": "",
                    }
                )
        rows.append(
            {
                "sweep_number": s.number,
                "check": "sweep_passed",
                "value": math.nan,
                "unit": "",
                "limit": "",
                "passed": bool(q["passed"]),
                "message": "",
            }
        )
    ri = cell.get("ri", math.nan)
    res = cell_qc(recording, rules=rules, ri=float(ri) if ri is not None else math.nan)
    for row in res.rows:
        rows.append(
            {
                "sweep_number": row.get("sweep_number"),
                "check": row["rule"],
                "value": row["value"],
                "unit": row.get("unit", ""),
                "limit": str(row.get("limit", "")),
                "passed": row["passed"],
                "message": row.get("reason", ""),
            }
        )
    rows.append(
        {
            "sweep_number": None,
            "check": "cell_passed",
            "value": math.nan,
            "unit": "",
            "limit": "",
            "passed": bool(res.passed),
            "message": "",
        }
    )
    return pd.DataFrame(rows, columns=list(QC_COLUMNS))
