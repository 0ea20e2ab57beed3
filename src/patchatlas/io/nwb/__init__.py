"""Neurodata Without Borders (NWB 1 and NWB 2) intracellular recordings.

:func:`read_nwb` sniffs the file (HDF5 signature, then the ``nwb_version`` root attribute of
NWB 2 or the ``/nwb_version`` dataset of NWB 1) and reads one of four layouts:

``nwb2`` (icephys tables)
    NWB 2 with the ``IntracellularRecordingsTable`` hierarchy, read with pynwb
    (``load_namespaces=True``, so cached extensions load). Each table row is one sweep; the
    simultaneous / sequential (with its ``stimulus_type``) / repetition / experimental-condition
    rows it belongs to are kept in ``Sweep.metadata["icephys"]``.
``nwb2-legacy`` (MIES sweep table)
    NWB 2 without those tables: ``acquisition/data_XXXXX_ADn`` responses and
    ``stimulus/presentation/data_XXXXX_DAn`` stimuli paired by sweep number (the series'
    ``sweep_number`` or the ``general/intracellular_ephys/sweep_table``) and electrode. Read with
    pynwb, or with h5py when pynwb rejects the file (``SweepTable`` is deprecated).
``nwb1-allen``
    The Allen Cell Types Database download: ``acquisition/timeseries/Sweep_N``,
    ``stimulus/presentation/Sweep_N``, ``epochs/Sweep_N`` (index ranges), ``epochs/Experiment_N``
    (valid-data range), ``analysis/spike_times/Sweep_N``. Pipeline versions >= 1.1
    (``general/generated_by``) store ``data x conversion``; older files store SI values as is.
``nwb1-mies``
    NWB 1 written by MIES: ``data_XXXXX_ADn`` / ``data_XXXXX_DAn`` series and the lab notebook
    (``general/labnotebook/<device>``), read with h5py.

All values are converted to mV, pA and s (``data x conversion + offset`` in the series' unit).
The clamp mode comes from the series type (``CurrentClampSeries``, ``VoltageClampSeries`` ...; the
NWB 1 ``ancestry``), or from the units when the type says nothing. In voltage clamp ``v`` is the
command and ``i`` the recorded current. Sweep times are on the sweep's own clock (``t0 = 0``);
the series' ``starting_time`` (session clock) is kept in ``Sweep.metadata``.

Stimuli are inferred from the command waveform (:func:`~patchatlas.ephys.infer_recording_stimuli`)
and the kind is then overridden from names: the Allen ``aibs_stimulus_name``, or a MIES / Allen
stimulus code looked up in the ``ontology`` when one is given. Files written by
:func:`patchatlas.io.write_nwb` carry the stimulus description in extra table columns, which
restore it exactly.

NWB 1 needs only h5py; NWB 2 needs pynwb (``pip install patchatlas[nwb]``).

Layout of this package: this module sniffs (``_sniff``), dispatches to one reader per layout
(``_icephys``, ``_legacy``, ``_allen``, ``_mies``; each returns the response/stimulus
:class:`~patchatlas.io.nwb._series.Pair` of every sweep), adds the file metadata (``_metadata``)
and the MIES lab notebook, and builds the recording (``_sweeps``). ``_series`` holds the stored
series and the HDF5/pynwb helpers they share, ``_schema`` the ``patchatlas_*`` columns shared
with the writer (:mod:`patchatlas.io.nwb.write`, public as :func:`patchatlas.io.write_nwb`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from patchatlas.core.ontology import StimulusOntology
from patchatlas.core.recording import Recording
from patchatlas.errors import PatchAtlasError, ReadError
from patchatlas.io._common import wrap_errors
from patchatlas.io._plausibility import check_mode, check_recording
from patchatlas.io.nwb._allen import allen_pairs as _allen_pairs
from patchatlas.io.nwb._icephys import table_pairs as _table_pairs
from patchatlas.io.nwb._legacy import legacy_pairs_h5 as _legacy_pairs_h5
from patchatlas.io.nwb._legacy import legacy_pairs_pynwb as _legacy_pairs_pynwb
from patchatlas.io.nwb._metadata import file_metadata as _file_metadata
from patchatlas.io.nwb._mies import attach_labnotebook as _attach_labnotebook
from patchatlas.io.nwb._mies import mies1_pairs as _mies1_pairs
from patchatlas.io.nwb._schema import FILE_LAYOUT_KEYS, PATCHATLAS_COLUMNS
from patchatlas.io.nwb._series import LAZY as _LAZY
from patchatlas.io.nwb._series import Pair as _Pair
from patchatlas.io.nwb._sniff import sniff_nwb
from patchatlas.io.nwb._sweeps import build_recording as _build
from patchatlas.io.nwb._sweeps import pairing_findings as _pairing_findings

__all__ = ["FILE_LAYOUT_KEYS", "PATCHATLAS_COLUMNS", "read_nwb", "sniff_nwb"]

log = logging.getLogger("patchatlas.io.nwb")


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------


def read_nwb(
    path: str | os.PathLike[str],
    *,
    ontology: StimulusOntology | str | os.PathLike[str] | None = None,
    cell_id: str | None = None,
    electrode: str | None = None,
    lazy: bool = False,
    plausibility: str = "error",
) -> Recording:
    """Read the intracellular sweeps of an NWB 1 or NWB 2 file.

    Parameters
    ----------
    path
        The ``.nwb`` file.
    ontology
        A :class:`~patchatlas.ephys.StimulusOntology` (or the path of an Allen ontology JSON) to
        map MIES/Allen stimulus codes to names and kinds. Without one, only names the file
        spells out (``"Long Square"``) set kinds; otherwise the inferred kind stays.
    cell_id
        Identifier of the recording (defaults to the cell id stored by
        :func:`patchatlas.io.write_nwb`, else the file stem).
    electrode
        Name of the electrode / headstage to read in multi-electrode files (default: the first
        one; the names found are listed in ``Recording.metadata["electrodes"]``).
    lazy
        Map contiguous, uncompressed traces that need no scaling (values stored in mV / pA, the
        usual case) from the file with ``numpy.memmap`` instead of reading them: samples are
        read when used (stimulus inference still reads the command currents).
        Do not truncate or rewrite the file in place while such a recording is in use.
    plausibility
        ``"error"`` (default) refuses files whose values are implausible (a response in the
        wrong unit, an all-NaN trace); ``"warn"`` reads them and keeps the findings.

    Returns
    -------
    Recording
        One sweep per recorded series, ordered by sweep number; ``format`` names the layout
        (``"nwb2"``, ``"nwb2-legacy"``, ``"nwb1-allen"``, ``"nwb1-mies"``); plausibility
        findings in ``plausibility``.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, non-NWB, truncated or damaged file; NWB 2 without pynwb installed; implausible
        values (:class:`~patchatlas.errors.ImplausibleDataError`).
    """
    p = Path(path)
    check_mode(plausibility, p)
    onto = _ontology(ontology)
    version, layout = sniff_nwb(p)
    token = _LAZY.set(lazy)
    try:
        rec, findings = _read(p, onto, version, layout, cell_id, electrode)
    finally:
        _LAZY.reset(token)
    return check_recording(
        rec,
        p,
        plausibility=plausibility,
        findings=findings,
        hint="the series' unit or conversion factor is wrong",
    )


def _read(
    p: Path,
    onto: StimulusOntology | None,
    version: str,
    layout: str,
    cell_id: str | None,
    electrode: str | None,
) -> tuple[Recording, list[Any]]:
    import h5py

    with wrap_errors(p, "NWB"):
        with h5py.File(p, "r") as h5:
            meta = _file_metadata(h5)
            if layout == "nwb1-allen":
                pairs = _allen_pairs(h5, p)
            elif layout == "nwb1-mies":
                pairs = _mies1_pairs(h5, p)
            else:
                pairs = []
        if layout == "nwb2":
            layout, pairs = _nwb2_pairs(p)
        if layout in ("nwb1-mies", "nwb2-legacy"):
            with h5py.File(p, "r") as h5:
                _attach_labnotebook(h5, pairs)
        recording = _build(pairs, p, layout, version, meta, onto, cell_id, electrode)
    return recording, _pairing_findings(pairs, p)


def _ontology(
    ontology: StimulusOntology | str | os.PathLike[str] | None,
) -> StimulusOntology | None:
    if ontology is None or isinstance(ontology, StimulusOntology):
        return ontology
    from patchatlas.io.ontology import load_stimulus_ontology

    return load_stimulus_ontology(ontology)


# --------------------------------------------------------------------------------------------
# NWB 2: pynwb first, h5py for the legacy layout when pynwb rejects the file
# --------------------------------------------------------------------------------------------


def _require_pynwb(path: Path) -> Any:
    try:
        import pynwb
    except ImportError as exc:
        raise ReadError(
            path,
            "is an NWB 2 file and reading NWB 2 needs pynwb, which is not installed",
            "pip install 'patchatlas[nwb]'",
        ) from exc
    return pynwb


def _nwb2_pairs(path: Path) -> tuple[str, list[_Pair]]:
    pynwb = _require_pynwb(path)
    try:
        # pynwb's own warnings (cached namespaces ...) reach the caller: no filter here
        with pynwb.NWBHDF5IO(str(path), "r", load_namespaces=True) as io:
            nwb = io.read()
            irt = getattr(nwb, "intracellular_recordings", None)
            if irt is not None and len(irt) > 0:
                return "nwb2", _table_pairs(nwb, irt, path)
            return "nwb2-legacy", _legacy_pairs_pynwb(nwb, path)
    except PatchAtlasError:
        raise
    except Exception as exc:
        import h5py

        with h5py.File(path, "r") as h5:
            tables = "general/intracellular_ephys/intracellular_recordings" in h5
            pairs = [] if tables else _legacy_pairs_h5(h5, path)
        if not pairs:
            raise
        log.warning(
            "%s: pynwb could not read the file (%s: %s); read the sweep-table layout with h5py",
            path,
            type(exc).__name__,
            str(exc)[:200],
        )
        return "nwb2-legacy", pairs
