"""The synapse measurements :func:`patchatlas.synphys.analyze` reports: name, unit, definition.

Every value stored per pair (``synapse_measurements`` in the atlas) has an entry here; the
convention tag is ``allen`` where the definition is the Allen Synaptic Physiology one and
``patchatlas`` where it is ours. Names of the averaged-response fits are
``<mode>_<holding>_<parameter>`` with mode ``ic``/``vc`` and holding ``70``/``55`` (mV below 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["MEASUREMENTS", "Measurement", "measurement_table"]


@dataclass(frozen=True)
class Measurement:
    """One registered synapse measurement.

    Attributes
    ----------
    name
        Registry name.
    unit
        Unit (``s``, ``mV``, ``pA``, ``1``, ``µm``).
    definition
        One line.
    convention
        ``"allen"`` or ``"patchatlas"``.
    """

    name: str
    unit: str
    definition: str
    convention: str = "allen"


def _m(name: str, unit: str, definition: str, convention: str = "allen") -> Measurement:
    return Measurement(name, unit, definition, convention)


_BASE = [
    _m("latency", "s", "onset of the averaged response after the presynaptic spike's max dV/dt; "
       "weighted n x amp^2 over categories, NaN unless all lie within 200 µs", "patchatlas"),
    _m("psp_amplitude", "mV", "resting-state PSP amplitude (responses > 8 s after the previous "
       "presynaptic spike), current clamp"),
    _m("psp_rise_time", "s", "time to peak of the averaged PSP (IC categories, n x amp^2 "
       "weighted)", "patchatlas"),
    _m("psp_decay_tau", "s", "decay constant of the averaged PSP (IC categories, n x amp^2 "
       "weighted)", "patchatlas"),
    _m("psc_amplitude", "pA", "resting-state PSC amplitude, voltage clamp"),
    _m("psc_rise_time", "s", "time to peak of the averaged PSC (VC categories)", "patchatlas"),
    _m("psc_decay_tau", "s", "decay constant of the averaged PSC (VC categories)", "patchatlas"),
    _m("n_ex_test_spikes", "1", "presynaptic spikes whose responses passed the excitatory QC"),
    _m("n_in_test_spikes", "1", "presynaptic spikes whose responses passed the inhibitory QC"),
    _m("p_value", "1", "Bonferroni-corrected one-sided rank-test p-value, deconvolved peaks of "
       "foreground against matched background", "patchatlas"),
    _m("detection_power", "1", "log10(sqrt(min(n test spikes, 800)) / baseline noise SD in mV)"),
    _m("crosstalk", "mV", "median |crosstalk| of the IC responses (200 µs after - before onset)"),
    _m("crosstalk_excess", "mV", "|median crosstalk of the IC responses - that of their matched "
       "baselines| (the crosstalk QC's statistic)", "patchatlas"),
    _m("a90", "mV", "90th (excitatory) or 10th (inhibitory) percentile of response amplitudes"),
    _m("stp_initial_50hz", "1", "median (A2 - A1) / A90 at 50 Hz"),
    _m("stp_induction_50hz", "1", "median (median(A6, A7, A8) - A1) / A90 at 50 Hz"),
    _m("stp_recovery_250ms", "1", "median_k (A_k+8 - A_k) / A90, 250 ms recovery delay"),
    _m("stp_recovery_single_250ms", "1", "median (A9 - A1) / A90, 250 ms recovery delay"),
    _m("paired_pulse_ratio_50hz", "1", "median A2 / A1 at 50 Hz"),
    _m("cv_resting", "1", "adjusted CV of resting-state amplitudes (log scale)"),
    _m("cv_pulse2_50hz", "1", "adjusted CV of the second pulse at 50 Hz"),
    _m("cv_pulses5_8_50hz", "1", "adjusted CV of pulses 5-8 at 50 Hz"),
    _m("r_pulse1_2_50hz", "1", "Pearson r of A1 and A2 across sweeps at 50 Hz"),
    _m("r_pulses12_34_50hz", "1", "Pearson r of median(A1, A2) and median(A3, A4) at 50 Hz"),
    _m("r_pulses1_4_5_8_50hz", "1", "Pearson r of median(A1..A4) and median(A5..A8) at 50 Hz"),
    _m("tm_amp", "mV", "Tsodyks-Markram absolute efficacy A (first PSP = A U)", "patchatlas"),
    _m("tm_U", "1", "Tsodyks-Markram baseline release fraction", "patchatlas"),
    _m("tm_tau_rec", "s", "Tsodyks-Markram recovery time constant", "patchatlas"),
    _m("tm_tau_facil", "s", "Tsodyks-Markram facilitation time constant", "patchatlas"),
    _m("tm_r2", "1", "variance of the mean pulse amplitudes explained by the TM fit",
       "patchatlas"),
]  # fmt: skip

_CATEGORY = [
    ("amp", "{u}", "peak of the averaged response's template fit"),
    ("latency", "s", "template onset after the spike"),
    ("rise_time", "s", "template time to peak"),
    ("decay_tau", "s", "template decay constant"),
    ("nrmse", "1", "normalised RMS error of the fit"),
    ("n", "1", "responses averaged"),
]

#: name → :class:`Measurement`
MEASUREMENTS: dict[str, Measurement] = {m.name: m for m in _BASE}
for _mode, _u in (("ic", "mV"), ("vc", "pA")):
    for _hold in ("70", "55"):
        for _key, _unit, _what in _CATEGORY:
            _name = f"{_mode}_{_hold}_{_key}"
            MEASUREMENTS[_name] = Measurement(
                _name, _unit.format(u=_u), f"{_what} ({_mode.upper()}, holding -{_hold} mV)"
            )


def measurement_table() -> pd.DataFrame:
    """The registry as a table.

    Returns
    -------
    pandas.DataFrame
        One row per measurement: ``name, unit, definition, convention``.
    """
    return pd.DataFrame([m.__dict__ for m in MEASUREMENTS.values()])
