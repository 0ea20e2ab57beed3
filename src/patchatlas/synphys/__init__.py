"""Synaptic physiology of multipatch experiments (Allen Synaptic Physiology compatible).

One analysis, :func:`analyze`, turns a :class:`~patchatlas.core.MultipatchExperiment` into a
:class:`SynphysResult`: per ordered pair the responses to every presynaptic spike with matched
baselines and QC, the connection call (foreground against background, or the call the experiment
carries), averaged responses fitted with the Allen PSP template (:func:`fit_psp`, solved by
variable projection), latency and kinetics, resting-state amplitude, short-term plasticity
(Allen metrics and a Tsodyks–Markram fit), with units from :data:`MEASUREMENTS`.

Connectivity statistics work on pair tables: binomial intervals (:func:`proportion_ci`,
Clopper-Pearson by default), class × class matrices (:func:`connectivity_matrix`), probability
against distance (:func:`connectivity_by_distance`), the Gaussian distance profile
(:func:`fit_distance_profile`, :func:`distance_adjusted_connectivity`) and the bias-corrected
probability (:func:`fit_correction_model`, :func:`corrected_connectivity`) with
profile-likelihood intervals. Like every engine it takes and returns in-memory objects and never
touches files or the atlas. :class:`ConnectionClassifier` (scikit-learn) is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchatlas.synphys.analysis import (
    PAIR_COLUMNS,
    AverageResponse,
    PairAnalysis,
    STPResult,
    SynphysResult,
    analyze,
    prepare_trains,
)
from patchatlas.synphys.connectivity import (
    CI_METHODS,
    CorrectionModel,
    DistanceProfile,
    connectivity_by_distance,
    connectivity_matrix,
    corrected_connectivity,
    distance_adjusted_connectivity,
    fit_correction_model,
    fit_distance_profile,
    gaussian_weights,
    pair_was_probed,
    proportion_ci,
)
from patchatlas.synphys.detection import (
    FEATURE_COLUMNS,
    ConnectionCallResult,
    call_connection,
    norm_pvalue,
    pair_statistics,
    response_features,
)
from patchatlas.synphys.dynamics import (
    TMFit,
    adjusted_cv,
    fit_tsodyks_markram,
    response_amplitudes,
    stp_metrics,
    tsodyks_markram,
)
from patchatlas.synphys.psp import (
    CLAMP_DEFAULTS,
    PspFit,
    deconvolved_psp_params,
    exp_deconvolve,
    exp_reconvolve,
    fit_psp,
    psp_curve,
    rise_tau,
    weighted_nrmse,
)
from patchatlas.synphys.registry import MEASUREMENTS, Measurement, measurement_table
from patchatlas.synphys.responses import PairResponses, ResponseOptions, pair_responses
from patchatlas.synphys.stimulus import detect_evoked_spikes, find_pulses, protocol

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.synphys.classifier import ConnectionClassifier

__all__ = [
    "CI_METHODS",
    "CLAMP_DEFAULTS",
    "FEATURE_COLUMNS",
    "MEASUREMENTS",
    "PAIR_COLUMNS",
    "AverageResponse",
    "ConnectionCallResult",
    "ConnectionClassifier",
    "CorrectionModel",
    "DistanceProfile",
    "Measurement",
    "PairAnalysis",
    "PairResponses",
    "PspFit",
    "ResponseOptions",
    "STPResult",
    "SynphysResult",
    "TMFit",
    "adjusted_cv",
    "analyze",
    "call_connection",
    "connectivity_by_distance",
    "connectivity_matrix",
    "corrected_connectivity",
    "deconvolved_psp_params",
    "detect_evoked_spikes",
    "distance_adjusted_connectivity",
    "exp_deconvolve",
    "exp_reconvolve",
    "find_pulses",
    "fit_correction_model",
    "fit_distance_profile",
    "fit_psp",
    "fit_tsodyks_markram",
    "gaussian_weights",
    "measurement_table",
    "norm_pvalue",
    "pair_responses",
    "pair_statistics",
    "pair_was_probed",
    "prepare_trains",
    "proportion_ci",
    "protocol",
    "psp_curve",
    "response_amplitudes",
    "response_features",
    "rise_tau",
    "stp_metrics",
    "tsodyks_markram",
    "weighted_nrmse",
]


def __getattr__(name: str) -> Any:
    # ConnectionClassifier (a scikit-learn estimator) is imported on first use: the rest of the
    # engine does not need scikit-learn.
    if name == "ConnectionClassifier":
        from patchatlas.synphys.classifier import ConnectionClassifier

        return ConnectionClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
