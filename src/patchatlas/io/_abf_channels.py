"""Channel roles of an ABF file from all the header's evidence (internal seam of ``io.abf``).

An ABF header names and labels its analog inputs (ADC channels: recorded signals) and outputs
(DAC channels: commands), and each DAC has an epoch table (or an external stimulus file) that
may or may not change. No single field says which input is the membrane voltage or whether the
cell was in current or voltage clamp, and real files contradict themselves. :func:`decide_roles`
weighs all of it:

1. **Recorded channels.** An ADC in voltage units is a *membrane-voltage candidate* only when its
   values can be a membrane potential (:func:`patchatlas.io._plausibility.membrane_like`) and its
   name is not that of a monitor (``stim``, ``trig``, ``TTL``, ``temp``, ``cmd`` ...); among
   candidates, names such as ``Vm``, ``memb``, ``potential`` come first, then file order. ADCs in
   current units are current candidates. Anything else (``°C``, ``V`` stimulus monitors, empty
   units) is ignored and listed.
2. **The command.** The DAC whose waveform changes (its epoch table steps or ramps within or
   across sweeps, or it plays a stimulus file) is the command; when several change, the one
   whose unit fits the recorded channels (a current command beside a voltage channel) wins,
   then the lowest index. When none changes, DAC 0 (the one Clampex pairs with the first input).
3. **Clamp mode.** A command in current units (pA, nA) means current clamp, in voltage units
   (mV) voltage clamp. Without a command unit, the recorded channels decide: a voltage channel
   alone means current clamp, a current channel alone voltage clamp, both the first input's
   quantity (the amplifier's primary output).
4. **Consistency.** Current clamp needs a membrane-voltage channel and voltage clamp a current
   channel. A header that contradicts itself (no voltage channel beside a current command, a
   "voltage" channel outside any membrane range, only a monitor channel) is refused with what is
   inconsistent, unless the caller names the channels (``channels={"v": 1, "i": 0}``) and/or
   the clamp mode (``clamp_mode=``).

A current is never stored as ``v``: a channel in current units only becomes ``v`` when the caller
says so (then it is read as mV, and the choice is reported).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from patchatlas.core.recording import ClampMode

#: names of recorded signals that are not a membrane potential
_MONITOR = re.compile(
    r"stim|trig|ttl|temp|sync|cmd|command|laser|led|light|opto|photo|pressure|puff|marker|"
    r"event|digital|^aux",
    re.I,
)
#: names of membrane-voltage channels (preferred among candidates)
_MEMBRANE = re.compile(r"vm|memb|potential|volt|^v\b|^v_|vcell|vrec", re.I)

#: what ``channels=`` takes
ROLE_KEYS = ("v", "i", "command")


@dataclass(frozen=True)
class Adc:
    """One analog input as the header states it (units without NUL padding)."""

    index: int
    name: str
    unit: str
    quantity: str | None  # "voltage" / "current" / None
    membrane_like: bool = False  # values (in mV) can be a membrane potential
    value_range: tuple[float, float] | None = None  # mV or pA, for messages

    @property
    def label(self) -> str:
        """``ADC1 '10_Vm' (mV)``."""
        return f"ADC{self.index} {self.name!r} ({self.unit or 'no unit'})"


@dataclass(frozen=True)
class Dac:
    """One analog output: its unit and whether (and how) it drives a waveform."""

    index: int
    name: str
    unit: str
    quantity: str | None
    usable: bool  # the header's waveform fields are valid
    active: bool  # its waveform changes within or across sweeps (or comes from a file)

    @property
    def label(self) -> str:
        """``DAC1 'ME1' (nA)``."""
        return f"DAC{self.index} {self.name!r} ({self.unit or 'no unit'})"


@dataclass
class Roles:
    """What each channel is: the decision :func:`decide_roles` made and why."""

    mode: ClampMode
    v: int | None  # ADC index of v (None: voltage clamp, v is the command)
    i: int | None  # ADC index of the recorded current
    command: int | None  # DAC index of the command (None: unknown)
    from_user: bool = False
    notes: list[str] = field(default_factory=list)  # decisions worth reporting
    problems: list[str] = field(default_factory=list)  # contradictions: refuse unless overridden

    def describe(self, adcs: Sequence[Adc], dacs: Sequence[Dac]) -> dict[str, Any]:
        """JSON-friendly summary for ``Recording.metadata["channel_roles"]``."""
        return {
            "clamp_mode": self.mode.value,
            "v": adcs[self.v].label if self.v is not None else "command",
            "i": adcs[self.i].label if self.i is not None else None,
            "command": dacs[self.command].label if self.command is not None else None,
            "source": "user" if self.from_user else "header",
            "notes": list(self.notes),
        }


def _membrane_candidates(adcs: Sequence[Adc], notes: list[str]) -> list[Adc]:
    out = []
    for a in adcs:
        if a.quantity != "voltage":
            continue
        if _MONITOR.search(a.name):
            notes.append(f"{a.label} is named like a monitor, not a membrane potential: ignored")
            continue
        if not a.membrane_like:
            rng = ""
            if a.value_range is not None:
                rng = f" ({a.value_range[0]:.4g} to {a.value_range[1]:.4g} mV)"
            notes.append(f"{a.label} holds values no membrane potential takes{rng}: ignored")
            continue
        out.append(a)
    # names that say "membrane voltage" first, then file order
    return sorted(out, key=lambda a: (not _MEMBRANE.search(a.name), a.index))


def _pick_command(dacs: Sequence[Dac], has_v: bool, has_i: bool, notes: list[str]) -> Dac | None:
    usable = [d for d in dacs if d.usable]
    active = [d for d in usable if d.active]
    if len(active) == 1:
        return active[0]
    if len(active) > 1:
        want = "current" if has_v else ("voltage" if has_i else None)
        best = sorted(active, key=lambda d: (d.quantity != want, d.index))[0]
        notes.append(
            f"several outputs change ({', '.join(d.label for d in active)}); the command is "
            f"{best.label}"
        )
        return best
    return next((d for d in usable if d.index == 0), usable[0] if usable else None)


def check_overrides(
    channels: Mapping[str, int] | None, n_adc: int, n_dac: int, listing: str
) -> dict[str, int]:
    """Validate ``channels=``; return it as a plain dict. Raises ``ValueError`` with a message
    for the caller to wrap (unknown role, index out of range)."""
    if channels is None:
        return {}
    out: dict[str, int] = {}
    for key, val in dict(channels).items():
        if key not in ROLE_KEYS:
            raise ValueError(
                f"channels= has an unknown role {key!r}; roles are 'v' and 'i' (ADC inputs) "
                f"and 'command' (a DAC output); this file has {listing}"
            )
        if isinstance(val, bool) or not isinstance(val, int):
            raise ValueError(f"channels[{key!r}] must be a channel index (int), got {val!r}")
        limit = n_dac if key == "command" else n_adc
        if not 0 <= val < limit:
            kind = "DAC outputs" if key == "command" else "ADC inputs"
            raise ValueError(
                f"channels[{key!r}] = {val} is out of range: the file has {limit} {kind} "
                f"({listing})"
            )
        out[key] = val
    if "v" in out and "i" in out and out["v"] == out["i"]:
        raise ValueError(f"channels= gives ADC{out['v']} as both 'v' and 'i'")
    return out


def decide_roles(
    adcs: Sequence[Adc],
    dacs: Sequence[Dac],
    *,
    channels: Mapping[str, int] | None = None,
    clamp_mode: ClampMode | None = None,
) -> Roles:
    """Decide the clamp mode and the role of each channel (see the module docs).

    ``channels`` must have been validated by :func:`check_overrides`. The returned
    :class:`Roles` lists, in ``problems``, every contradiction left after the overrides; the
    reader refuses the file when there is any.
    """
    chosen = dict(channels or {})
    notes: list[str] = []
    v_cands = _membrane_candidates(adcs, notes)
    i_cands = [a for a in adcs if a.quantity == "current"]
    has_v = "v" in chosen or bool(v_cands)
    has_i = "i" in chosen or bool(i_cands)
    if "command" in chosen:
        cmd: Dac | None = dacs[chosen["command"]]
    else:
        cmd = _pick_command(dacs, has_v, has_i, notes)
    cmd_qty = cmd.quantity if cmd is not None and cmd.usable else None
    problems: list[str] = []
    why = ""
    if clamp_mode is not None:
        mode = clamp_mode
        why = "as given"
    elif cmd_qty == "current":
        mode, why = ClampMode.CURRENT_CLAMP, f"the command {cmd.label if cmd else ''} is a current"
    elif cmd_qty == "voltage":
        mode, why = ClampMode.VOLTAGE_CLAMP, f"the command {cmd.label if cmd else ''} is a voltage"
    elif has_v and not has_i:
        mode, why = ClampMode.CURRENT_CLAMP, "the only recorded signal is a membrane voltage"
    elif has_i and not has_v:
        mode, why = ClampMode.VOLTAGE_CLAMP, "the only recorded signal is a current"
    elif has_v and has_i:
        first = adcs[0]
        cc = first.quantity != "current"
        mode = ClampMode.CURRENT_CLAMP if cc else ClampMode.VOLTAGE_CLAMP
        why = f"the first input {first.label} is the amplifier's primary output"
    else:
        units = ", ".join(a.label for a in adcs)
        problems.append(f"no input is a membrane voltage or a current ({units})")
        return Roles(ClampMode.CURRENT_CLAMP, None, None, None, notes=notes, problems=problems)

    v = chosen.get("v", v_cands[0].index if v_cands else None)
    i = chosen.get("i", i_cands[0].index if i_cands else None)
    if v is not None and v == i:
        i = next((a.index for a in i_cands if a.index != v), None)
    cmd_index = cmd.index if cmd is not None and cmd.usable else None
    if mode is ClampMode.CURRENT_CLAMP and v is None:
        inputs = ", ".join(a.label for a in adcs)
        problems.append(
            f"current clamp ({why}) but no input is a membrane voltage (inputs: {inputs}"
            + (f"; {'; '.join(notes)}" if notes else "")
            + ")"
        )
    if mode is ClampMode.VOLTAGE_CLAMP and i is None:
        inputs = ", ".join(a.label for a in adcs)
        problems.append(f"voltage clamp ({why}) but no input is a current (inputs: {inputs})")
    for role, idx in (("v", v), ("i", i)):
        if idx is None or role not in chosen:
            continue
        a = adcs[idx]
        want = "voltage" if role == "v" else "current"
        if a.quantity != want:
            as_what = "membrane voltage in mV" if role == "v" else "current in pA"
            notes.append(
                f"{a.label} is read as the {as_what} as asked (channels=), although its unit "
                "says otherwise"
            )
    if why and clamp_mode is None:
        notes.insert(0, f"{mode.value.replace('_', ' ')}: {why}")
    return Roles(
        mode,
        v,
        i,
        cmd_index,
        from_user=bool(chosen) or clamp_mode is not None,
        notes=notes,
        problems=problems,
    )
