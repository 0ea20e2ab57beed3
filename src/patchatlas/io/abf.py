"""Axon Binary Format (ABF 1 and 2) via pyabf.

Channel roles and the clamp mode come from all the header's evidence: the units and names of the
analog inputs, the units of the outputs and which output's epoch table actually changes
(:mod:`patchatlas.io._abf_channels`). A header that contradicts itself is refused with what is
inconsistent; ``channels=`` / ``clamp_mode=`` / ``units=`` read it as the user knows it was
recorded. The command waveform is the chosen output's epoch table as pyabf draws it (``sweepC``),
or the external stimulus file (``.atf`` / ``.abf``) the header names, found beside the file
(scaled by the header's file scale and offset). When the file also records the membrane current
on an input, it is kept as ``Sweep.i_recorded``. Traces are views into pyabf's data array (no
copy) where no unit conversion is needed; units are converted to mV and pA. Variable-length
(event-triggered) sweeps keep their own lengths. Every recording then goes through the
plausibility checks of :mod:`patchatlas.io._plausibility`.
"""

from __future__ import annotations

import io
import logging
import math
import struct
from collections.abc import Mapping
from contextlib import redirect_stdout
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import ClampMode, PlausibilityFinding, Recording, Stimulus, Sweep
from patchatlas.errors import (
    CorruptFileError,
    ImplausibleDataError,
    ParameterError,
    ReadError,
    UnsupportedFormatError,
)
from patchatlas.io._abf_channels import Adc, Dac, Roles, check_overrides, decide_roles
from patchatlas.io._common import check_file, clean_label, quantity_of, unit_factor, wrap_errors
from patchatlas.io._plausibility import check_mode, check_recording, membrane_like

__all__ = ["read_abf"]

log = logging.getLogger("patchatlas.io.abf")


def _sniff(path: Path) -> str:
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"ABF2":
        return "abf2"
    if magic == b"ABF ":
        return "abf1"
    raise UnsupportedFormatError(
        path,
        f"not an ABF file (signature {magic!r}, expected b'ABF ' or b'ABF2')",
        "check the extension",
    )


# ABF2 section map: 18 entries of (block index uint32, entry size uint32, entry count int32, pad)
# from byte 76; the names follow the Axon ABF2 header layout.
_ABF2_SECTIONS = (
    "Protocol", "ADC", "DAC", "Epoch", "ADCPerDAC", "EpochPerDAC", "UserList", "StatsRegion",
    "Math", "Strings", "Data", "Tag", "Scope", "Delta", "VoiceTag", "SynchArray", "Annotation",
    "Stats",
)  # fmt: skip


def _check_header(path: Path, version: str) -> None:
    """Reject headers whose counts point past the end of the file before pyabf allocates them.

    A damaged count (a flipped bit) otherwise makes pyabf build lists or arrays of billions of
    entries, which can exhaust the machine's memory instead of raising an error.
    """
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(6144)
    if version == "abf2":
        if len(head) < 76 + 16 * len(_ABF2_SECTIONS):
            raise CorruptFileError(path, f"ABF2 header is truncated ({len(head)} bytes)")
        for k, name in enumerate(_ABF2_SECTIONS):
            block, entry, count = struct.unpack_from("<IIi", head, 76 + 16 * k)
            if count < 0 or (count > 0 and (entry == 0 or block * 512 + entry * count > size)):
                raise CorruptFileError(
                    path,
                    f"ABF2 {name} section ({count} entries of {entry} bytes at block {block}) "
                    f"does not fit in the {size}-byte file",
                    "the file is truncated or its header is damaged",
                )
        return
    if len(head) < 2048:
        raise CorruptFileError(path, f"ABF1 header is truncated ({len(head)} bytes)")
    (acq_len,) = struct.unpack_from("<i", head, 10)
    (episodes,) = struct.unpack_from("<i", head, 16)
    (data_ptr,) = struct.unpack_from("<i", head, 40)
    (fmt,) = struct.unpack_from("<h", head, 100)
    (n_adc,) = struct.unpack_from("<h", head, 120)
    sample_bytes = 4 if fmt == 1 else 2
    if not 1 <= n_adc <= 16:
        raise CorruptFileError(path, f"ABF1 header declares {n_adc} ADC channels (1-16 allowed)")
    if acq_len < 0 or episodes < 0 or data_ptr < 0 or episodes > max(acq_len, 1):
        raise CorruptFileError(
            path, f"ABF1 header has inconsistent counts ({acq_len} samples, {episodes} sweeps)"
        )
    if data_ptr * 512 + acq_len * sample_bytes > size:
        raise CorruptFileError(
            path,
            f"ABF1 header declares {acq_len} samples, more than the {size}-byte file holds",
            "the file is truncated or its header is damaged",
        )


def _load(path: Path) -> Any:
    import pyabf

    # pyabf prints to stdout on some malformed headers; keep the terminal clean.
    with redirect_stdout(io.StringIO()):
        return pyabf.ABF(str(path), loadData=True)


_HINT = (
    "if you know how it was recorded, say so: channels={'v': 1, 'i': 0}, "
    "clamp_mode='current_clamp', units={'i': 'pA'} (CLI: --channels v=1,i=0 "
    "--clamp-mode current_clamp --units i=pA on info, ephys features/qc/plot)"
)


def read_abf(
    path: str | Path,
    *,
    cell_id: str | None = None,
    channels: Mapping[str, int] | None = None,
    clamp_mode: ClampMode | str | None = None,
    units: Mapping[str, str] | None = None,
    plausibility: str = "error",
) -> Recording:
    """Read an ABF 1 or ABF 2 file.

    Parameters
    ----------
    path
        The ``.abf`` file.
    cell_id
        Identifier for the recording (defaults to the file stem).
    channels
        Override the channel roles the header implies: ``{"v": 1, "i": 0}`` reads input 1 as
        the membrane voltage and input 0 as the current; ``"command"`` names the output (DAC)
        whose waveform is the command. Indexes count from 0 in file order.
    clamp_mode
        Override the clamp mode (``"current_clamp"`` or ``"voltage_clamp"``).
    units
        Override the unit of a role's channel (``{"i": "pA"}`` for a current labelled A that
        holds picoamperes; keys ``"v"``, ``"i"``, ``"command"``).
    plausibility
        ``"error"`` (default) refuses files whose values are implausible; ``"warn"`` reads them
        and keeps the findings in ``Recording.plausibility``.

    Returns
    -------
    Recording
        One sweep per ABF sweep in mV, pA and s; the roles chosen and why in
        ``metadata["channel_roles"]``, plausibility findings in ``plausibility``.

    Raises
    ------
    patchatlas.errors.ImplausibleDataError
        The header contradicts itself (no membrane-voltage input beside a current command, only
        a monitor channel, ...) or the values are implausible; the message names the
        inconsistency and the overrides that read the file anyway.
    patchatlas.errors.ReadError
        Missing, truncated or damaged file.
    patchatlas.errors.ParameterError
        An unknown role, channel index, clamp mode, unit or plausibility mode.
    """
    p = Path(path)
    check_file(p)
    check_mode(plausibility, p)
    mode = _clamp_option(clamp_mode, p)
    unit_over = _unit_option(units, p)
    version = _sniff(p)
    _check_header(p, version)
    with wrap_errors(p, "ABF"):
        abf = _load(p)
        recording, findings, labels = _to_recording(
            abf, p, version, cell_id, channels, mode, unit_over
        )
    return check_recording(
        recording, p, plausibility=plausibility, findings=findings, hint=_HINT, labels=labels
    )


def _clamp_option(clamp_mode: ClampMode | str | None, path: Path) -> ClampMode | None:
    if clamp_mode is None:
        return None
    try:
        return ClampMode(clamp_mode)
    except ValueError:
        choices = ", ".join(m.value for m in ClampMode)
        raise ParameterError(f"{path}: clamp_mode={clamp_mode!r}; use one of {choices}") from None


def _unit_option(units: Mapping[str, str] | None, path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, unit in dict(units or {}).items():
        if key not in ("v", "i", "command"):
            raise ParameterError(
                f"{path}: units= has an unknown role {key!r}; use 'v', 'i' or 'command'"
            )
        if not isinstance(unit, str) or quantity_of(unit) not in ("voltage", "current"):
            raise ParameterError(
                f"{path}: units[{key!r}] = {unit!r} is not a voltage or current unit "
                "(mV, V, pA, nA, A ...)"
            )
        out[key] = unit
    return out


# --------------------------------------------------------------------------------------------
# the header: inputs, outputs and their waveforms
# --------------------------------------------------------------------------------------------


def _quantity(unit: str) -> str | None:
    q = quantity_of(unit)
    return q if q in ("voltage", "current") else None


def _sweep_bounds(abf: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Start and length (samples per channel) of every sweep, variable-length sweeps included."""
    n_sweeps = int(abf.sweepCount)
    synch = getattr(abf, "_synchArraySection", None)
    lengths_raw = list(getattr(synch, "lLength", []) or [])
    if n_sweeps > 1 and len(lengths_raw) >= n_sweeps and len(set(lengths_raw[:n_sweeps])) > 1:
        lengths = np.asarray(lengths_raw[:n_sweeps], dtype=np.int64) // max(abf.channelCount, 1)
    else:
        lengths = np.full(n_sweeps, int(abf.sweepPointCount), dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return starts, lengths


class _Waveform:
    """The waveform one output (DAC) plays, sweep by sweep (in the output's unit)."""

    def __init__(
        self, abf: Any, path: Path, index: int, variable: bool, findings: list[PlausibilityFinding]
    ) -> None:
        self.index = index
        self.usable = False
        self.active = False
        self.constant: float | None = None  # a flat waveform (disabled output, holding level)
        self.table: Any = None  # pyabf EpochTable
        self.file_data: list[npt.NDArray[np.float64]] | None = None
        self.file_scale = (1.0, 0.0)
        self.file_episode = (0, 1)
        self.source = -1
        self.abf = abf
        self.path = path
        major = int(abf.abfVersion["major"])
        if major == 1:
            if index > 1:  # ABF1 headers describe the waveforms of two outputs only: unusable
                return
            hdr = abf._headerV1
            enable, source = int(hdr.nWaveformEnable[index]), int(hdr.nWaveformSource[index])
        else:
            dacs = abf._dacSection
            enable, source = int(dacs.nWaveformEnable[index]), int(dacs.nWaveformSource[index])
        holding = float(abf.holdingCommand[index]) if index < len(abf.holdingCommand) else math.nan
        if enable not in (0, 1) or source not in (0, 1, 2):
            return  # an ABF1 header without a usable DAC / epoch section (old file versions)
        self.usable = True
        self.source = source
        if enable == 0 or source == 0 or (variable and source == 1):
            # disabled (or variable-length sweeps, which play no epoch table): the holding level
            self.constant = holding
            return
        if source == 1:
            import pyabf.waveform

            self.table = pyabf.waveform.EpochTable(abf, index)
            self.active = any(
                (e.duration > 0 or e.durationDelta > 0)
                and (e.level != holding or e.levelDelta != 0)
                for e in self.table.epochs
            )
            if major == 1:
                trains = [
                    e
                    for e in self.table.epochs
                    if e.epochTypeStr in ("Pulse", "Tri", "Cos", "BiPhsc") and e.duration > 0
                ]
                if trains:
                    findings.append(
                        PlausibilityFinding(
                            "command_incomplete",
                            "warning",
                            f"{path}: the command's epoch table has pulse-train epochs "
                            f"({', '.join(sorted({e.epochTypeStr for e in trains}))}) whose pulse "
                            "period and width ABF 1 headers do not give: those epochs show their "
                            "baseline level in the command (a recorded current input, if any, "
                            "shows the pulses)",
                        )
                    )
            return
        self.active = True  # an external stimulus file
        self._load_file(findings)

    def _load_file(self, findings: list[PlausibilityFinding]) -> None:
        abf, path, k = self.abf, self.path, self.index
        header_path = ""
        if int(abf.abfVersion["major"]) == 2:
            dacs = abf._dacSection
            strings = abf._stringsSection._indexedStrings
            idx = int(dacs.lDACFilePathIndex[k])
            header_path = str(strings[idx]) if 0 <= idx < len(strings) else ""
            self.file_scale = (float(dacs.fDACFileScale[k]), float(dacs.fDACFileOffset[k]))
            self.file_episode = (int(dacs.lDACFileEpisodeNum[k]), int(dacs.lDACFileNumEpisodes[k]))
        name = PureWindowsPath(header_path).name if header_path else ""
        found = _find_stimulus_file(path, header_path, name)
        if found is None:
            looked = f"{name!r} (as .atf or .abf)" if name else "a stimulus file"
            findings.append(
                PlausibilityFinding(
                    "stimulus_file_missing",
                    "warning",
                    f"{path}: the command of output DAC{k} comes from the stimulus file "
                    f"{header_path or '(no path in the header)'}; {looked} is not beside the "
                    f"file in {path.parent}: the command is unknown (copy the stimulus file next "
                    "to the ABF)",
                )
            )
            return
        try:
            with wrap_errors(found, "a stimulus file (ATF or ABF)"):
                import pyabf

                with redirect_stdout(io.StringIO()):
                    atf = found.suffix.lower() == ".atf"
                    stim = pyabf.ATF(str(found)) if atf else _load(found)
                data = []
                for sweep in range(int(stim.sweepCount)):
                    stim.setSweep(sweep)
                    data.append(np.asarray(stim.sweepY, dtype=np.float64).copy())
        except ReadError as exc:  # name the ABF being read, and the stimulus file
            raise CorruptFileError(
                path, f"its stimulus file {found}: {exc.problem}", exc.hint
            ) from exc
        if not data:
            raise CorruptFileError(path, f"its stimulus file {found} holds no sweeps")
        self.file_data = data
        self.stimulus_file = found

    def sweep(self, k: int, n: int) -> npt.NDArray[np.float64] | None:
        """The waveform of sweep ``k`` (``n`` samples), in the output's unit; None: unknown."""
        if not self.usable:
            return None
        if self.constant is not None:
            if not math.isfinite(self.constant):
                return None
            return np.full(n, self.constant)
        if self.table is not None:
            w = np.asarray(self.table.epochWaveformsBySweep[k].getWaveform(), dtype=np.float64)
        elif self.file_data is not None:
            first, count = self.file_episode
            ep = (first + k) % len(self.file_data) if count > 1 else first
            scale, offset = self.file_scale
            w = self.file_data[min(max(ep, 0), len(self.file_data) - 1)] * scale + offset
        else:
            return None
        if w.shape[0] >= n:
            return w[:n]
        return np.concatenate([w, np.full(n - w.shape[0], w[-1] if w.size else np.nan)])


def _find_stimulus_file(path: Path, header_path: str, name: str) -> Path | None:
    """The stimulus file the header names: at its stored path, or beside the ABF (the stem with
    ``.atf`` or ``.abf``; case ignored)."""
    if header_path:
        stored = Path(header_path)
        if stored.is_file():
            return stored
    if not name:
        return None
    stem = PureWindowsPath(name).stem.lower()
    wanted = {name.lower(), f"{stem}.atf", f"{stem}.abf"}
    try:
        entries = sorted(path.parent.iterdir())
    except OSError:
        return None
    matches = [e for e in entries if e.is_file() and e.name.lower() in wanted and e != path]
    # the exact name first, then an .atf, then an .abf
    matches.sort(key=lambda e: (e.name.lower() != name.lower(), e.suffix.lower() != ".atf"))
    return matches[0] if matches else None


def _inputs(abf: Any, starts: Any, lengths: Any) -> list[Adc]:
    data: npt.NDArray[np.float32] = abf.data
    total = int(starts[-1] + lengths[-1]) if len(starts) else 0
    out = []
    for ch in range(int(abf.channelCount)):
        name = clean_label(str(abf.adcNames[ch])) if ch < len(abf.adcNames) else ""
        unit = clean_label(str(abf.adcUnits[ch])) if ch < len(abf.adcUnits) else ""
        qty = _quantity(unit)
        like, rng = False, None
        if qty == "voltage":
            like, rng = membrane_like(data[ch, :total], unit_factor(unit, "voltage") or 1.0)
        out.append(Adc(ch, name, unit, qty, like, rng))
    return out


def _outputs(abf: Any, waves: list[_Waveform]) -> list[Dac]:
    out = []
    for w in waves:
        k = w.index
        name = clean_label(str(abf.dacNames[k])) if k < len(abf.dacNames) else ""
        unit = clean_label(str(abf.dacUnits[k])) if k < len(abf.dacUnits) else ""
        out.append(Dac(k, name, unit, _quantity(unit), w.usable, w.active))
    return out


def _listing(adcs: list[Adc], dacs: list[Dac]) -> str:
    ins = ", ".join(a.label for a in adcs) or "no inputs"
    outs = ", ".join(d.label for d in dacs) or "no outputs"
    return f"inputs {ins}; outputs {outs}"


# --------------------------------------------------------------------------------------------
# the recording
# --------------------------------------------------------------------------------------------


def _to_recording(
    abf: Any,
    path: Path,
    version: str,
    cell_id: str | None,
    channels: Mapping[str, int] | None,
    clamp_mode: ClampMode | None,
    units: dict[str, str],
) -> tuple[Recording, list[PlausibilityFinding], dict[str, str]]:
    if abf.sweepCount < 1 or abf.sweepPointCount < 1:
        raise CorruptFileError(path, "the file holds no sweeps")
    fs = float(abf.dataRate)
    if not (math.isfinite(fs) and fs > 0):
        raise CorruptFileError(path, f"invalid sampling rate {fs!r} in the header")
    data: npt.NDArray[np.float32] = abf.data
    starts, lengths = _sweep_bounds(abf)
    if np.any(lengths < 1) or data.shape[1] < int(starts[-1] + lengths[-1]):
        raise CorruptFileError(
            path,
            f"data block holds {data.shape[1]} samples per channel, header promises "
            f"{int(lengths.sum())}",
            "the file is truncated",
        )
    variable = bool(np.any(lengths != lengths[0]))
    findings: list[PlausibilityFinding] = []
    n_dac = len(abf.dacUnits)
    waves = [_Waveform(abf, path, k, variable, findings) for k in range(n_dac)]
    adcs = _inputs(abf, starts, lengths)
    dacs = _outputs(abf, waves)
    listing = _listing(adcs, dacs)
    try:
        chosen = check_overrides(channels, len(adcs), len(dacs), listing)
    except ValueError as exc:
        raise ParameterError(f"{path}: {exc}") from None
    roles = decide_roles(adcs, dacs, channels=chosen, clamp_mode=clamp_mode)
    if roles.problems:
        outputs = ", ".join(d.label for d in dacs) or "none"
        raise ImplausibleDataError(
            path,
            "the header contradicts itself: " + "; ".join(roles.problems) + f"; outputs: {outputs}",
            _HINT,
        )
    for note in roles.notes:
        log.info("%s: %s", path, note)
    sweeps, labels = _sweeps(abf, path, roles, adcs, dacs, waves, starts, lengths, units, findings)
    protocol = str(abf.protocol or "")
    if protocol == "None":
        protocol = ""
    meta: dict[str, Any] = {
        "protocol": protocol,
        "abf_version": str(abf.abfVersionString),
        "recorded": str(getattr(abf, "abfDateTimeString", "")),
        "comment": str(getattr(abf, "abfFileComment", "") or ""),
        "channels": [(a.name, a.unit) for a in adcs],
        "outputs": [(d.name, d.unit) for d in dacs],
        "channel_roles": roles.describe(adcs, dacs),
    }
    if variable:
        meta["variable_length_sweeps"] = True
    if roles.command is not None and getattr(waves[roles.command], "stimulus_file", None):
        meta["stimulus_file"] = str(waves[roles.command].stimulus_file)
    rec = Recording(
        sweeps=sweeps,
        cell_id=cell_id or path.stem,
        source=path,
        format=version,
        metadata=meta,
    )
    return rec, findings, labels


def _sweeps(
    abf: Any,
    path: Path,
    roles: Roles,
    adcs: list[Adc],
    dacs: list[Dac],
    waves: list[_Waveform],
    starts: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    units: dict[str, str],
    findings: list[PlausibilityFinding],
) -> tuple[list[Sweep], dict[str, str]]:
    data: npt.NDArray[np.float32] = abf.data
    fs = float(abf.dataRate)
    cc = roles.mode is ClampMode.CURRENT_CLAMP

    def factor(role: str, unit: str, qty: str) -> float:
        u = units.get(role, unit)
        f = unit_factor(u, qty)
        return 1.0 if f is None else f  # a channel read against its unit (channels=): as is

    f_v = factor("v", adcs[roles.v].unit, "voltage") if roles.v is not None else 1.0
    f_i = factor("i", adcs[roles.i].unit, "current") if roles.i is not None else 1.0
    cmd = dacs[roles.command] if roles.command is not None else None
    cmd_qty = _quantity(units.get("command", cmd.unit)) if cmd is not None else None
    want = "current" if cc else "voltage"
    if cmd is not None and cmd_qty != want:
        if cmd_qty is not None or cmd.unit:
            findings.append(
                PlausibilityFinding(
                    "channel_roles",
                    "warning",
                    f"{path}: the command {cmd.label} is not a "
                    f"{'current' if cc else 'voltage'} in "
                    f"{roles.mode.value.replace('_', ' ')}: it is not used",
                )
            )
        cmd = None
    f_cmd = (unit_factor(units.get("command", cmd.unit), want) or 1.0) if cmd is not None else 1.0
    protocol = str(abf.protocol or "")
    if protocol == "None":
        protocol = ""
    channel_units = [a.unit for a in adcs]
    adc_label = {a.index: a.label for a in adcs}
    labels: dict[str, str] = {}
    if cc:
        labels["v"] = adc_label.get(roles.v if roles.v is not None else -1, "")
        if cmd is not None:
            labels["i"] = cmd.label
            labels["i_recorded"] = adc_label.get(roles.i if roles.i is not None else -1, "")
        else:
            labels["i"] = adc_label.get(roles.i if roles.i is not None else -1, "")
    else:
        labels["i"] = adc_label.get(roles.i if roles.i is not None else -1, "")
        labels["v"] = (
            adc_label[roles.v] if roles.v is not None else (cmd.label if cmd is not None else "")
        )

    def trace(ch: int, f: float, a: int, b: int) -> npt.NDArray[np.floating[Any]]:
        seg = data[ch, a:b]
        return seg if f == 1.0 else seg * f

    sweeps: list[Sweep] = []
    for k in range(int(abf.sweepCount)):
        a, n = int(starts[k]), int(lengths[k])
        b = a + n
        command = waves[cmd.index].sweep(k, n) if cmd is not None else None
        if command is not None and f_cmd != 1.0:
            command = command * f_cmd
        i_rec = trace(roles.i, f_i, a, b) if roles.i is not None else None
        if cc:
            assert roles.v is not None
            v = trace(roles.v, f_v, a, b)
            i = command if command is not None else i_rec
            if command is None:
                i_rec = None
        else:
            i = i_rec
            i_rec = None
            if roles.v is not None:
                v = trace(roles.v, f_v, a, b)
            elif command is not None:
                v = command
            else:
                v = np.full(n, np.nan)
        meta: dict[str, Any] = {"protocol": protocol, "channel_units": channel_units}
        if len(set(lengths.tolist())) > 1:
            meta["start_sample"] = a
        sweeps.append(
            Sweep(
                v=v,
                i=i,
                sampling_rate=fs,
                number=k,
                clamp_mode=roles.mode,
                stimulus=Stimulus(name=protocol or None),
                i_recorded=i_rec,
                metadata=meta,
            )
        )
    return sweeps, labels
