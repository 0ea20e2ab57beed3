"""Axon Binary Format (ABF 1 and 2) via pyabf.

The command waveform comes from the header's epoch table (pyabf's ``sweepC``); when the file also
records the membrane current on an ADC channel, it is kept as ``Sweep.i_recorded``. Voltage
traces are views into pyabf's data array (no copy). Units are converted from the channel units
(``mV``/``V``, ``pA``/``nA``) to mV and pA.
"""

from __future__ import annotations

import io
import logging
import math
import struct
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from patchatlas.core.recording import ClampMode, Recording, Stimulus, Sweep
from patchatlas.errors import CorruptFileError, UnsupportedFormatError
from patchatlas.io._common import check_file, quantity_of, unit_factor, wrap_errors

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


def read_abf(path: str | Path, *, cell_id: str | None = None) -> Recording:
    """Read an ABF 1 or ABF 2 file.

    Parameters
    ----------
    path
        The ``.abf`` file.
    cell_id
        Identifier for the recording (defaults to the file stem).

    Returns
    -------
    Recording
        One sweep per ABF sweep; stimuli inferred from the command waveforms.
    """
    p = Path(path)
    check_file(p)
    version = _sniff(p)
    _check_header(p, version)
    with wrap_errors(p, "ABF"):
        abf = _load(p)
        recording = _to_recording(abf, p, version, cell_id)
    return recording


def _channel_roles(abf: Any, path: Path) -> tuple[int, ClampMode, int | None]:
    units = [str(u) for u in abf.adcUnits]
    qty = [quantity_of(u) for u in units]
    if "voltage" in qty:
        v_ch = qty.index("voltage")
        mode = ClampMode.CURRENT_CLAMP
        i_ch = qty.index("current") if "current" in qty else None
        # In voltage clamp the first channel is the current; voltage would come second.
        if qty[0] == "current":
            mode = ClampMode.VOLTAGE_CLAMP
            i_ch = 0
        return v_ch, mode, i_ch
    if "current" in qty:
        return -1, ClampMode.VOLTAGE_CLAMP, qty.index("current")
    raise CorruptFileError(
        path,
        f"no channel with voltage or current units (ADC units {units})",
        "patchatlas reads current- and voltage-clamp ABF files",
    )


def _to_recording(abf: Any, path: Path, version: str, cell_id: str | None) -> Recording:
    if abf.sweepCount < 1 or abf.sweepPointCount < 1:
        raise CorruptFileError(path, "the file holds no sweeps")
    fs = float(abf.dataRate)
    if not (math.isfinite(fs) and fs > 0):
        raise CorruptFileError(path, f"invalid sampling rate {fs!r} in the header")
    v_ch, mode, i_ch = _channel_roles(abf, path)
    data: npt.NDArray[np.float32] = abf.data
    n = int(abf.sweepPointCount)
    if data.shape[1] < n * abf.sweepCount:
        raise CorruptFileError(
            path,
            f"data block holds {data.shape[1]} samples per channel, header promises "
            f"{n * abf.sweepCount}",
            "the file is truncated",
        )
    adc_units = [str(u) for u in abf.adcUnits]
    dac_unit = str(abf.dacUnits[0]) if len(abf.dacUnits) else ""
    protocol = str(abf.protocol or "")

    def scaled(ch: int, qty: str, sweep: int) -> npt.NDArray[np.floating[Any]]:
        f = unit_factor(adc_units[ch], qty)
        seg = data[ch, sweep * n : (sweep + 1) * n]
        return seg if f == 1.0 or f is None else seg * f

    sweeps: list[Sweep] = []
    for k in range(abf.sweepCount):
        abf.setSweep(k, channel=0)
        command = np.asarray(abf.sweepC)
        cmd_qty = quantity_of(dac_unit)
        cmd_f = unit_factor(dac_unit, cmd_qty) if cmd_qty else None
        if cmd_f not in (None, 1.0):
            command = command * cmd_f
        if mode is ClampMode.CURRENT_CLAMP:
            v = scaled(v_ch, "voltage", k)
            i_rec = scaled(i_ch, "current", k) if i_ch is not None else None
            i = command if cmd_qty == "current" else i_rec
        else:
            assert i_ch is not None
            i = scaled(i_ch, "current", k)
            i_rec = None
            v = scaled(v_ch, "voltage", k) if v_ch >= 0 else command
        sweeps.append(
            Sweep(
                v=v,
                i=i,
                sampling_rate=fs,
                number=k,
                clamp_mode=mode,
                stimulus=Stimulus(name=protocol or None),
                i_recorded=i_rec,
                metadata={"protocol": protocol, "channel_units": adc_units},
            )
        )
    meta: dict[str, Any] = {
        "protocol": protocol,
        "abf_version": str(abf.abfVersionString),
        "recorded": str(getattr(abf, "abfDateTimeString", "")),
        "comment": str(getattr(abf, "abfFileComment", "") or ""),
        "channels": list(zip(abf.adcNames, adc_units, strict=False)),
    }
    return Recording(
        sweeps=sweeps,
        cell_id=cell_id or path.stem,
        source=path,
        format=version,
        metadata=meta,
    )
