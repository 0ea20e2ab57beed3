"""Private seam of :mod:`patchatlas.models.glif`: GLIF parameters, the Allen ``neuron_config``
dictionary, and the per-step propagator the kernels run.

Internal API (used by ``model``, ``fit``, ``_kernel``, ``_numpy``):

* :class:`GlifParameters` -- one GLIF model in library units (mV, pA, MΩ, pF, s) with the Allen
  optimisation coefficients kept apart from the values measured from data;
* :func:`from_allen_dict` / :func:`to_allen_dict` -- the Allen ``neuron_config`` layout (SI units,
  voltages relative to E_L), lossless for the fields the simulator uses;
* :func:`step_vector` -- the float64 vector of propagator coefficients and reset rules that the
  kernels (:mod:`._kernel`, :mod:`._numpy`) take, indexed by the ``P_*`` constants below.

Equations (Teeter et al. 2018, eqs. 1-8; V, Θ relative to E_L):

    C dV/dt = I_e + I_1 + I_2 - G V          dI_j/dt = -k_j I_j
    dΘ_s/dt = -b_s Θ_s                        dΘ_v/dt = a_v V - b_v Θ_v
    spike when V > Θ_∞ + Θ_s + Θ_v; after the spike cut δt:
    V ← f_v V + δV (GLIF2/4/5; GLIF1/3: V ← 0),  Θ_s ← Θ_s e^{-b_s δt} + δΘ_s,
    I_j ← r_j I_j e^{-k_j δt} + δI_j,  Θ_v unchanged.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.linalg import expm

from patchatlas.errors import ParameterError

FloatArray = npt.NDArray[np.float64]
Method = Literal["exact", "euler"]

METHODS: tuple[str, ...] = ("exact", "euler")
LEVELS: tuple[int, ...] = (1, 2, 3, 4, 5)
LEVEL_NAMES: dict[int, str] = {
    1: "LIF",
    2: "LIF-R",
    3: "LIF-ASC",
    4: "LIF-R-ASC",
    5: "LIF-R-ASC-A",
}
#: Allen neuronal-model template id of each level (GlifApi)
TEMPLATE_IDS: dict[int, int] = {
    1: 395310469,
    2: 395310479,
    3: 395310475,
    4: 471355161,
    5: 395310498,
}

# mechanisms per level: (biological reset + spike threshold Θ_s, after-spike currents, Θ_v)
MECHANISMS: dict[int, tuple[bool, bool, bool]] = {
    1: (False, False, False),
    2: (True, False, False),
    3: (False, True, False),
    4: (True, True, False),
    5: (True, True, True),
}

# ----------------------------------------------------------------------- kernel vector layout
P_VV, P_VI, P_V1, P_V2 = 0, 1, 2, 3  # V' = P_VV V + (P_VI I + P_V1 I1 + P_V2 I2)
P_TV, P_TI, P_T1, P_T2, P_TT = (
    4,
    5,
    6,
    7,
    8,
)  # Θv' = (((P_TV V + P_TI I) + P_T1 I1) + P_T2 I2) + P_TT Θv
P_D1, P_D2, P_DS = 9, 10, 11  # per-step decay of I1, I2, Θs
P_THINF = 12  # Θ∞ (mV, relative to E_L)
P_FV, P_DV = 13, 14  # V ← P_FV V + P_DV at reset
P_ATH = 15  # δΘs (mV)
P_A1, P_A2 = 16, 17  # δI_j (pA)
P_R1, P_R2 = 18, 19  # r_j
P_C1, P_C2, P_CS = 20, 21, 22  # decay of I1, I2, Θs through the spike cut
P_OFFSET = 23  # samples from the sample a spike is detected at to the reset sample
P_V0, P_I10, P_I20 = 24, 25, 26  # initial state
N_P = 27


@dataclass(frozen=True)
class GlifParameters:
    """One GLIF model: the values measured from data and the Allen coefficients applied to them.

    The effective value of a coefficient-scaled parameter is ``value × coefficient`` (Allen's
    ``coeffs``: ``th_inf``, ``asc_amp_array``, ``C``, ``G`` = 1/R, ``a`` = a_v, ``b`` = b_v).

    Attributes
    ----------
    level
        1 (LIF) … 5 (LIF-R-ASC-A).
    El
        Resting potential E_L (mV, absolute); all other voltages are relative to it.
    R
        Input resistance (MΩ).
    C
        Capacitance (pF).
    th_inf
        Instantaneous threshold Θ∞ (mV above E_L), before its coefficient.
    spike_cut
        Spike cut δt (s): time from a threshold crossing to the reset.
    reset_fraction, reset_add
        Biological reset V ← E_L + f_v (V − E_L) + reset_add (reset_add in mV; Allen's
        ``voltage_reset_method`` ``v_before`` with a = f_v, b = reset_add); levels 2, 4, 5.
    th_spike_amp, th_spike_decay
        Spike-induced threshold δΘ_s (mV) and its decay rate b_s (1/s); levels 2, 4, 5.
    asc_amp, asc_k, asc_r
        After-spike current amplitudes δI_j (pA, before the coefficients), decay rates k_j (1/s)
        and reset factors r_j; levels 3, 4, 5.
    a_v, b_v
        Voltage-dependent threshold: dΘ_v/dt = a_v V − b_v Θ_v (1/s, before the coefficients);
        level 5.
    coeff_th_inf, coeff_asc, coeff_C, coeff_G, coeff_a, coeff_b
        Allen's optimised coefficients.
    init_v, init_asc
        Initial V (mV above E_L) and after-spike currents (pA).
    """

    level: int
    El: float
    R: float
    C: float
    th_inf: float
    spike_cut: float = 0.0
    reset_fraction: float = 0.0
    reset_add: float = 0.0
    th_spike_amp: float = 0.0
    th_spike_decay: float = 0.0
    asc_amp: tuple[float, float] = (0.0, 0.0)
    asc_k: tuple[float, float] = (1.0 / 0.3, 1.0 / 0.01)
    asc_r: tuple[float, float] = (1.0, 1.0)
    a_v: float = 0.0
    b_v: float = 0.0
    coeff_th_inf: float = 1.0
    coeff_asc: tuple[float, float] = (1.0, 1.0)
    coeff_C: float = 1.0
    coeff_G: float = 1.0
    coeff_a: float = 1.0
    coeff_b: float = 1.0
    init_v: float = 0.0
    init_asc: tuple[float, float] = (0.0, 0.0)
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ParameterError(f"GLIF level must be one of {LEVELS}, got {self.level!r}")
        checks = {
            "R (MΩ)": self.R * self.coeff_G,
            "C (pF)": self.C * self.coeff_C,
        }
        for name, val in checks.items():
            if not (math.isfinite(val) and val > 0):
                raise ParameterError(
                    f"GLIF{self.level}: {name} must be a positive number, got {val!r}"
                )
        if not (math.isfinite(self.spike_cut) and self.spike_cut >= 0):
            raise ParameterError(
                f"GLIF{self.level}: spike_cut must be >= 0 s, got {self.spike_cut}"
            )
        vals = [self.th_inf, self.reset_fraction, self.reset_add, self.th_spike_amp]
        vals += [self.th_spike_decay, self.a_v, self.b_v, *self.asc_amp, *self.asc_k]
        if not all(math.isfinite(float(v)) for v in vals):
            raise ParameterError(f"GLIF{self.level}: parameters must be finite, got {self}")
        if min(self.asc_k) < 0 or self.th_spike_decay < 0 or self.b_v < 0:
            raise ParameterError(f"GLIF{self.level}: decay rates must be >= 0 (1/s)")

    # effective values ---------------------------------------------------------------------
    @property
    def name(self) -> str:
        """``"GLIF<level> (<short name>)"``."""
        return f"GLIF{self.level} ({LEVEL_NAMES[self.level]})"

    @property
    def mechanisms(self) -> tuple[bool, bool, bool]:
        """(biological reset and Θ_s, after-spike currents, Θ_v) of this level."""
        return MECHANISMS[self.level]

    @property
    def threshold(self) -> float:
        """Effective Θ∞ (mV above E_L)."""
        return self.th_inf * self.coeff_th_inf

    @property
    def g(self) -> float:
        """Effective leak conductance (nS)."""
        return 1e3 / self.R * self.coeff_G

    @property
    def capacitance(self) -> float:
        """Effective capacitance (pF)."""
        return self.C * self.coeff_C

    @property
    def tau_m(self) -> float:
        """Membrane time constant (s)."""
        return self.capacitance / self.g * 1e-3

    @property
    def asc_amplitudes(self) -> tuple[float, float]:
        """Effective after-spike current amplitudes (pA; zero below level 3)."""
        if not self.mechanisms[1]:
            return (0.0, 0.0)
        return (
            self.asc_amp[0] * self.coeff_asc[0],
            self.asc_amp[1] * self.coeff_asc[1],
        )

    def with_(self, **changes: Any) -> GlifParameters:
        """A copy with some fields changed.

        Parameters
        ----------
        **changes
            Field names and their new values.

        Returns
        -------
        GlifParameters
            The changed copy (validated again).
        """
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain values (JSON-friendly), ``extra`` left out.

        Returns
        -------
        dict
            Field name → value (tuples as lists).
        """
        out: dict[str, Any] = {}
        for k in self.__dataclass_fields__:
            if k == "extra":
                continue
            v = getattr(self, k)
            out[k] = list(v) if isinstance(v, tuple) else v
        return out


# --------------------------------------------------------------------------------- Allen I/O

_REQUIRED = (
    "R_input",
    "C",
    "th_inf",
    "El_reference",
    "spike_cut_length",
    "dt",
    "voltage_reset_method",
    "threshold_dynamics_method",
    "AScurrent_dynamics_method",
)
_THRESHOLD_NAMES = {"inf": 0, "spike_component": 1, "three_components_exact": 2}


def unwrap_allen(config: Any, where: str = "config") -> dict[str, Any]:
    """The neuron_config dict itself: Allen's download wraps it in ``{"<model id>": {...}}``.

    Parameters
    ----------
    config
        A neuron_config dict, possibly wrapped under a single model-id key.
    where
        Name of the source for messages (a file name).

    Returns
    -------
    dict
        The unwrapped config (the same object, not a copy).
    """
    if not isinstance(config, dict):
        raise ParameterError(
            f"{where}: a GLIF neuron_config must be a JSON object, got {type(config).__name__}"
        )
    if len(config) == 1:
        ((key, inner),) = config.items()
        if isinstance(inner, dict) and str(key).isdigit():
            return inner
    return config


def _method(cfg: dict[str, Any], key: str, where: str) -> tuple[str, dict[str, Any]]:
    m = cfg[key]
    if isinstance(m, str):
        return m, {}
    if not isinstance(m, dict) or "name" not in m:
        raise ParameterError(
            f"{where}: {key} must be {{'name': ..., 'params': {{...}}}}, got {m!r}"
        )
    return str(m["name"]), dict(m.get("params") or {})


def from_allen_dict(config: dict[str, Any], *, where: str = "config") -> GlifParameters:
    """Parse an Allen ``neuron_config`` (SI units, voltages relative to E_L).

    Parameters
    ----------
    config
        The neuron_config dict (wrapped under its model id or not).
    where
        Name of the source for messages (a file name).

    Returns
    -------
    GlifParameters
        The model; the config itself is kept in ``extra["allen_config"]``.

    Raises
    ------
    patchatlas.errors.ParameterError
        The dict is not a GLIF neuron_config (a biophysical ``fit.json``, a model-metadata file,
        missing fields), or its method combination is not one of the five GLIF levels.
    """
    cfg = unwrap_allen(config, where)
    if "genome" in cfg or "passive" in cfg or "conditions" in cfg:
        raise ParameterError(
            f"{where}: this is an Allen biophysical model (fit.json: genome/passive/conditions), "
            "not a GLIF neuron_config; load it with the biophysical models, or pass a "
            "*_neuron_config.json"
        )
    if "neuronal_model_template_id" in cfg or "well_known_files" in cfg:
        raise ParameterError(
            f"{where}: this is Allen model metadata, not the model's parameters; pass the "
            "model's *_neuron_config.json"
        )
    if cfg.get("type", "GLIF") != "GLIF":
        raise ParameterError(f"{where}: type is {cfg.get('type')!r}, not 'GLIF'")
    missing = [k for k in _REQUIRED if k not in cfg]
    if missing:
        raise ParameterError(
            f"{where}: not a GLIF neuron_config: missing {', '.join(missing)} (an Allen GLIF "
            "config has R_input, C, th_inf, El_reference, spike_cut_length, dt and the "
            "voltage_reset/threshold_dynamics/AScurrent_dynamics methods)"
        )
    v_name, v_par = _method(cfg, "voltage_reset_method", where)
    t_name, t_par = _method(cfg, "threshold_dynamics_method", where)
    a_name, _ = _method(cfg, "AScurrent_dynamics_method", where)
    if v_name not in ("zero", "v_before"):
        raise ParameterError(
            f"{where}: voltage_reset_method {v_name!r} is not a GLIF reset; use 'zero' "
            "(GLIF1/3) or 'v_before' (GLIF2/4/5)"
        )
    if t_name not in _THRESHOLD_NAMES:
        raise ParameterError(
            f"{where}: threshold_dynamics_method {t_name!r} is not supported; use 'inf' "
            "(GLIF1/3), 'spike_component' (GLIF2/4) or 'three_components_exact' (GLIF5)"
        )
    if a_name not in ("exp", "none"):
        raise ParameterError(
            f"{where}: AScurrent_dynamics_method {a_name!r} is not supported; use 'exp' or 'none'"
        )
    key = (v_name == "v_before", a_name == "exp", _THRESHOLD_NAMES[t_name])
    levels = {
        (False, False, 0): 1,
        (True, False, 1): 2,
        (False, True, 0): 3,
        (True, True, 1): 4,
        (True, True, 2): 5,
    }
    if key not in levels:
        raise ParameterError(
            f"{where}: the combination voltage_reset={v_name!r}, AScurrent_dynamics={a_name!r}, "
            f"threshold_dynamics={t_name!r} is none of the five GLIF levels (GLIF1: zero/none/inf, "
            "GLIF2: v_before/none/spike_component, GLIF3: zero/exp/inf, GLIF4: "
            "v_before/exp/spike_component, GLIF5: v_before/exp/three_components_exact)"
        )
    level = levels[key]
    coeffs = dict(cfg.get("coeffs") or {})
    asc_amp = [float(x) for x in cfg.get("asc_amp_array") or (0.0, 0.0)]
    asc_tau = [float(x) for x in cfg.get("asc_tau_array") or (0.3, 0.01)]
    if len(asc_amp) != 2 or len(asc_tau) != 2:
        raise ParameterError(
            f"{where}: asc_amp_array and asc_tau_array must have 2 entries (two after-spike "
            f"currents), got {len(asc_amp)} and {len(asc_tau)}"
        )
    r_par = {}
    if isinstance(cfg.get("AScurrent_reset_method"), dict):
        r_par = dict(cfg["AScurrent_reset_method"].get("params") or {})
    asc_r = [float(x) for x in r_par.get("r", (1.0, 1.0))]
    c_asc = coeffs.get("asc_amp_array", (1.0, 1.0))
    if np.ndim(c_asc) == 0:
        c_asc = (float(c_asc), float(c_asc))
    init_asc = [float(x) for x in cfg.get("init_AScurrents") or (0.0, 0.0)]
    try:
        dt_cfg = float(cfg["dt"])
        params = GlifParameters(
            level=level,
            El=float(cfg["El_reference"]) * 1e3,
            R=float(cfg["R_input"]) * 1e-6,
            C=float(cfg["C"]) * 1e12,
            th_inf=float(cfg["th_inf"]) * 1e3,
            spike_cut=int(cfg["spike_cut_length"]) * dt_cfg,
            reset_fraction=float(v_par.get("a", 0.0)) if level in (2, 4, 5) else 0.0,
            reset_add=float(v_par.get("b", 0.0)) * 1e3 if level in (2, 4, 5) else 0.0,
            th_spike_amp=float(t_par.get("a_spike", 0.0)) * 1e3,
            th_spike_decay=float(t_par.get("b_spike", 0.0)),
            asc_amp=(asc_amp[0] * 1e12, asc_amp[1] * 1e12),
            asc_k=(1.0 / asc_tau[0], 1.0 / asc_tau[1]),
            asc_r=(asc_r[0], asc_r[1]),
            a_v=float(t_par.get("a_voltage", 0.0)),
            b_v=float(t_par.get("b_voltage", 0.0)),
            coeff_th_inf=float(coeffs.get("th_inf", 1.0)),
            coeff_asc=(float(c_asc[0]), float(c_asc[1])),
            coeff_C=float(coeffs.get("C", 1.0)),
            coeff_G=float(coeffs.get("G", 1.0)),
            coeff_a=float(coeffs.get("a", 1.0)),
            coeff_b=float(coeffs.get("b", 1.0)),
            init_v=float(cfg.get("init_voltage", 0.0)) * 1e3,
            init_asc=(init_asc[0] * 1e12, init_asc[1] * 1e12),
            extra={"allen_config": copy.deepcopy(cfg)},
        )
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        if isinstance(exc, ParameterError):
            raise
        raise ParameterError(
            f"{where}: a GLIF neuron_config field has a bad value ({exc})"
        ) from exc
    return params


def to_allen_dict(p: GlifParameters, *, dt: float = 5e-5) -> dict[str, Any]:
    """The Allen ``neuron_config`` of a model (SI units, voltages relative to E_L).

    Parameters
    ----------
    p
        The model.
    dt
        The config's ``dt`` (s); ``spike_cut_length`` is the spike cut in samples of it.

    Returns
    -------
    dict
        A neuron_config that :func:`from_allen_dict` (and the Allen SDK) read back.
    """
    base = dict(p.extra.get("allen_config") or {})
    r5 = p.level in (2, 4, 5)
    asc = p.mechanisms[1]
    th_par: dict[str, float] = {}
    if p.level in (2, 4):
        th_name = "spike_component"
        th_par = {
            "a_spike": p.th_spike_amp * 1e-3,
            "b_spike": p.th_spike_decay,
            "a_voltage": 0.0,
            "b_voltage": 0.0,
        }
    elif p.level == 5:
        th_name = "three_components_exact"
        th_par = {
            "a_spike": p.th_spike_amp * 1e-3,
            "b_spike": p.th_spike_decay,
            "a_voltage": p.a_v,
            "b_voltage": p.b_v,
        }
    else:
        th_name = "inf"
    th = p.th_inf * 1e-3
    cfg: dict[str, Any] = {
        **base,
        "type": "GLIF",
        "El_reference": p.El * 1e-3,
        "El": 0.0,
        "R_input": p.R * 1e6,
        "C": p.C * 1e-12,
        "th_inf": th,
        "init_threshold": th,
        "init_voltage": p.init_v * 1e-3,
        "init_AScurrents": [p.init_asc[0] * 1e-12, p.init_asc[1] * 1e-12],
        "spike_cut_length": round(p.spike_cut / dt),
        "dt": dt,
        "asc_amp_array": [p.asc_amp[0] * 1e-12, p.asc_amp[1] * 1e-12],
        "asc_tau_array": [1.0 / p.asc_k[0], 1.0 / p.asc_k[1]],
        "voltage_dynamics_method": base.get(
            "voltage_dynamics_method", {"name": "linear_forward_euler", "params": {}}
        ),
        "voltage_reset_method": (
            {"name": "v_before", "params": {"a": p.reset_fraction, "b": p.reset_add * 1e-3}}
            if r5
            else {"name": "zero", "params": {}}
        ),
        "threshold_dynamics_method": {"name": th_name, "params": th_par},
        "threshold_reset_method": (
            {
                "name": "three_components",
                "params": {"a_spike": p.th_spike_amp * 1e-3, "b_spike": p.th_spike_decay},
            }
            if r5
            else {"name": "inf", "params": {}}
        ),
        "AScurrent_dynamics_method": {"name": "exp" if asc else "none", "params": {}},
        "AScurrent_reset_method": (
            {"name": "sum", "params": {"r": list(p.asc_r)}}
            if asc
            else {"name": "none", "params": {}}
        ),
        "extrapolation_method_name": base.get("extrapolation_method_name", "endpoints"),
        "dt_multiplier": base.get("dt_multiplier", 10),
        "th_adapt": base.get("th_adapt"),
        "coeffs": {
            "a": p.coeff_a,
            "b": p.coeff_b,
            "C": p.coeff_C,
            "G": p.coeff_G,
            "th_inf": p.coeff_th_inf,
            "asc_amp_array": list(p.coeff_asc),
        },
    }
    return cfg


# ------------------------------------------------------------------------------- propagator


def step_vector(p: GlifParameters, dt: float, method: Method) -> FloatArray:
    """A fresh copy of :func:`_step_vector` (cached per model, dt and method)."""
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
    if not (math.isfinite(dt) and dt > 0):
        raise ParameterError(f"dt must be a positive number of seconds, got {dt!r}")
    return _step_vector(p, float(dt), method).copy()


def step_vectors(params: list[GlifParameters], dt: float, method: Method) -> FloatArray:
    """:func:`step_vector` of many models at once (one batched matrix exponential).

    Parameters
    ----------
    params
        The models.
    dt
        Time step (s).
    method
        ``"exact"`` or ``"euler"``.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(params), N_P)``.
    """
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
    if not (math.isfinite(dt) and dt > 0):
        raise ParameterError(f"dt must be a positive number of seconds, got {dt!r}")
    if not params:
        return np.zeros((0, N_P))
    props = _propagators(params, float(dt), method)
    return np.stack(
        [_fill(p, float(dt), method, prop) for p, prop in zip(params, props, strict=True)]
    )


def _e1(x: FloatArray, y: FloatArray, dt: float) -> FloatArray:
    """(e^{−x dt} − e^{−y dt}) / (y − x), stable for y → x (→ dt e^{−x dt})."""
    h = (x - y) * dt
    small = np.abs(h) < 1e-8
    phi = np.where(small, 1.0 + h / 2, np.expm1(np.where(small, 1.0, h)) / np.where(small, 1.0, h))
    return np.asarray(np.exp(-x * dt) * dt * phi)


def _propagators(params: list[GlifParameters], dt: float, method: Method) -> FloatArray:
    """The rows of exp(A dt) the step uses (V and Θ_v rows), vectorised in closed form:
    V' = e^{−g dt} V + α E(0, g) I + α E(k_j, g) I_j and
    Θ_v' = e^{−b dt} Θ_v + a [E(g, b) V + α (E(0, b) − E(g, b))/g I
    + α (E(k_j, b) − E(g, b))/(g − k_j) I_j] with E(x, y) = (e^{−x dt} − e^{−y dt})/(y − x).
    Models whose rates nearly coincide (|g − k_j| dt < 1e-7 with after-spike currents, or
    g ≈ 0) use scipy's expm."""
    m = len(params)
    alpha = np.array([1e3 / p.capacitance for p in params])
    g = alpha * np.array([p.g for p in params])
    tv = np.array([p.mechanisms[2] for p in params])
    asc = np.array([p.mechanisms[1] for p in params])
    a = np.where(tv, [p.a_v * p.coeff_a for p in params], 0.0)
    b = np.where(tv, [p.b_v * p.coeff_b for p in params], 0.0)
    ks = np.array([p.asc_k for p in params]) if method == "exact" else np.zeros((m, 2))
    zero = np.zeros(m)
    out = np.zeros((m, 5, 5))
    out[:, 0, 0] = np.exp(-g * dt)
    out[:, 0, 4] = alpha * _e1(zero, g, dt)
    out[:, 3, 3] = np.exp(-b * dt)
    egb = _e1(g, b, dt)
    out[:, 3, 0] = a * egb
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 3, 4] = a * alpha * (_e1(zero, b, dt) - egb) / g
        bad = (g * dt < 1e-6) | (tv & ~np.isfinite(out[:, 3, 4]))
        for j in (0, 1):
            k = ks[:, j]
            out[:, 0, 1 + j] = alpha * _e1(k, g, dt)
            out[:, 3, 1 + j] = a * alpha * (_e1(k, b, dt) - egb) / (g - k)
            near = (np.abs(g - k) * dt < 1e-7) | ~np.isfinite(out[:, 3, 1 + j])
            bad |= asc & near  # without after-spike currents these columns multiply zero
            out[:, 3, 1 + j] = np.where(np.isfinite(out[:, 3, 1 + j]), out[:, 3, 1 + j], 0.0)
    for r in np.flatnonzero(bad):
        out[r] = expm(_system(params[r], method) * dt)
    return out


def _system(p: GlifParameters, method: Method) -> FloatArray:
    """The 5×5 system matrix of z = [V, I1, I2, Θv, I_e] (the currents held in "euler")."""
    _, _, has_tv = p.mechanisms
    alpha = 1e3 / p.capacitance
    g = alpha * p.g
    a = np.zeros((5, 5))
    a[0, 0], a[0, 1], a[0, 2], a[0, 4] = -g, alpha, alpha, alpha
    if method == "exact":
        a[1, 1], a[2, 2] = -p.asc_k[0], -p.asc_k[1]
    if has_tv:
        a[3, 0], a[3, 3] = p.a_v * p.coeff_a, -p.b_v * p.coeff_b
    return a


@lru_cache(maxsize=256)
def _step_vector(p: GlifParameters, dt: float, method: Method) -> FloatArray:
    """The step coefficients of one model (cached)."""
    out = _fill(p, dt, method, expm(_system(p, method) * dt))
    out.flags.writeable = False
    return out


def _fill(p: GlifParameters, dt: float, method: Method, prop: FloatArray) -> FloatArray:
    """Coefficients of one time step of ``p`` at ``dt`` from the propagator ``prop`` (the
    matrix exponential of :func:`_system` × dt).

    ``"exact"``: the exact solution of the linear system over a step with the stimulus held
    constant (zero-order hold). ``"euler"``: the Allen simulator's scheme: V by forward Euler
    with the after-spike currents of the step's start, I_j and Θ_s decaying exactly, Θ_v by the
    exact solution with V driven by the step's start input. In both, the reset state is
    ``cut + 1`` samples after the sample whose value crossed, and the currents and Θ_s decay
    over ``cut`` samples before their reset amplitudes are added (the Allen simulator's and
    NEST's timing).
    """
    reset, has_asc, _ = p.mechanisms
    alpha = 1e3 / p.capacitance
    g = alpha * p.g
    k1, k2 = p.asc_k
    bs = p.th_spike_decay if reset else 0.0
    out = np.zeros(N_P)
    if method == "exact":
        out[P_VV], out[P_V1], out[P_V2], out[P_VI] = prop[0, 0], prop[0, 1], prop[0, 2], prop[0, 4]
    else:
        out[P_VV] = 1.0 - g * dt
        out[P_VI] = out[P_V1] = out[P_V2] = alpha * dt
    out[P_TV], out[P_T1], out[P_T2], out[P_TI] = prop[3, 0], prop[3, 1], prop[3, 2], prop[3, 4]
    out[P_TT] = prop[3, 3]
    out[P_D1], out[P_D2], out[P_DS] = math.exp(-k1 * dt), math.exp(-k2 * dt), math.exp(-bs * dt)
    out[P_THINF] = p.threshold
    out[P_FV], out[P_DV] = (p.reset_fraction, p.reset_add) if reset else (0.0, 0.0)
    out[P_ATH] = p.th_spike_amp if reset else 0.0
    amps = p.asc_amplitudes
    out[P_A1], out[P_A2] = amps
    out[P_R1], out[P_R2] = p.asc_r if has_asc else (0.0, 0.0)
    n_cut = round(p.spike_cut / dt)
    out[P_C1], out[P_C2] = math.exp(-k1 * dt * n_cut), math.exp(-k2 * dt * n_cut)
    out[P_CS] = math.exp(-bs * dt * n_cut)
    out[P_OFFSET] = n_cut + 1
    out[P_V0] = p.init_v
    out[P_I10], out[P_I20] = p.init_asc if has_asc else (0.0, 0.0)
    return out
