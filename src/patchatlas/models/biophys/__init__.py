"""Biophysical (multi-compartment, conductance-based) models: Allen models on Arbor and NEURON.

Pure like every engine: parsed fit files, :class:`~patchatlas.core.Morphology` objects and
stimuli in; :class:`~patchatlas.core.Sweep` / :class:`~patchatlas.core.Recording` objects and
result tables out. (The one exception to "no files" is the NEURON backend's cache of compiled
``.mod`` files, a compiled-kernel cache like numba's.)

Entry points::

    model = patchatlas.load_allen_model("472450023_fit.json", "cell.swc")  # reads the files
    model = patchatlas.models.biophys.load_allen_model(fit_dict, morphology)  # parsed objects
    sweep = model.simulate_step(330.0)                    # 1 s step from 1 s, 3 s, on Arbor
    sweep = model.simulate_step(330.0, backend="neuron")  # the same on NEURON
    sweep = model.simulate(recorded_sweep)                # replay a recorded command current
    result = patchatlas.models.biophys.fit(model, patchatlas.ephys.analyze(recording),
                                           parameters={"gbar_NaTs.soma": (0.01, 1.0)})

Modules: :mod:`~patchatlas.models.biophys.geometry` (sections from a reconstruction, Allen axon
replacement and nseg rule), :mod:`~patchatlas.models.biophys.model` (the simulator-independent
description), :mod:`~patchatlas.models.biophys.allen` (Allen fit files),
:mod:`~patchatlas.models.biophys.protocols` (current clamps),
:mod:`~patchatlas.models.biophys.simulation` (running, backends),
:mod:`~patchatlas.models.biophys.objectives` (Allen fit features and SD-normalised errors),
:mod:`~patchatlas.models.biophys.fitting` (NSGA-II); the simulators are wrapped in the internal
``_arbor`` and ``_neuron`` modules.
"""

from __future__ import annotations

from patchatlas.models.biophys.allen import (
    load_allen_model,
    model_kind,
    perisomatic_bounds,
    perisomatic_template,
)
from patchatlas.models.biophys.fitting import (
    Evaluator,
    FitResult,
    ParameterSpec,
    default_bounds,
    fit,
)
from patchatlas.models.biophys.geometry import (
    CableTree,
    Section,
    allen_nseg,
    ball_and_stick,
    cable_tree,
)
from patchatlas.models.biophys.model import BACKENDS, BiophysModel, Conditions, Mechanism
from patchatlas.models.biophys.objectives import (
    ALLEN_FEATURES,
    FitTarget,
    sweep_fit_features,
    targets_from_ephys,
)
from patchatlas.models.biophys.protocols import (
    CurrentClamp,
    from_waveform,
    long_square,
    parse_protocol,
    ramp,
    short_square,
)
from patchatlas.models.biophys.simulation import backend_info, run_batch, simulate

__all__ = [
    "ALLEN_FEATURES",
    "BACKENDS",
    "BiophysModel",
    "CableTree",
    "Conditions",
    "CurrentClamp",
    "Evaluator",
    "FitResult",
    "FitTarget",
    "Mechanism",
    "ParameterSpec",
    "Section",
    "allen_nseg",
    "backend_info",
    "ball_and_stick",
    "cable_tree",
    "default_bounds",
    "fit",
    "from_waveform",
    "load_allen_model",
    "long_square",
    "model_kind",
    "parse_protocol",
    "perisomatic_bounds",
    "perisomatic_template",
    "ramp",
    "run_batch",
    "short_square",
    "simulate",
    "sweep_fit_features",
    "targets_from_ephys",
]


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
