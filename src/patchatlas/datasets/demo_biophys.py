"""The demo's ``biophys`` step: fit a small biophysical model to one demo cell, in seconds.

A ball-and-stick cell (a 20 µm soma, one 200 µm dendrite, the Allen 60 µm stub axon) with three
Allen somatic conductances (``NaTs``, ``Kv3_1``, ``Im``) and a leak is fitted to the first demo
cell's long squares (two spiking amplitudes, the Allen feature list, SD-normalised errors) by a
few NSGA-II generations on Arbor. The fitted model and its scores go into the demo atlas, where
the portal's Models page lists them and the cell page overlays model and data sweeps. A small
budget on a toy model: it shows the workflow, not a good fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from patchatlas.datasets.demo import DemoResult, Step

__all__ = ["biophys_step", "demo_model"]

#: fitted parameters and their ranges (S/cm²)
DEMO_BOUNDS = {
    "gbar_NaTs.soma": (0.05, 2.0),
    "gbar_Kv3_1.soma": (0.01, 1.0),
    "gbar_Im.soma": (1e-4, 0.05),
    "g_pas.soma": (2e-5, 1e-3),
}


def demo_model() -> Any:
    """The demo's ball-and-stick model (before fitting).

    Returns
    -------
    patchatlas.models.biophys.BiophysModel
        Soma, one dendrite, stub axon; ``NaTs``, ``Kv3_1``, ``Im`` and ``pas`` on the soma,
        ``pas`` elsewhere; 34 °C.
    """
    from patchatlas.models.biophys import BiophysModel, Conditions, Mechanism, ball_and_stick

    geo = ball_and_stick(dendrite_length_um=200.0, dendrite_diameter_um=1.0, axon=True)
    mechs = [Mechanism("pas", g, {"g": 1e-4, "e": -70.0}, "demo") for g in geo.groups]
    mechs += [
        Mechanism("NaTs", "soma", {"gbar": 0.3}, "demo"),
        Mechanism("Kv3_1", "soma", {"gbar": 0.1}, "demo"),
        Mechanism("Im", "soma", {"gbar": 0.002}, "demo"),
    ]
    return BiophysModel(
        geometry=geo,
        mechanisms=tuple(mechs),
        cm=dict.fromkeys(geo.groups, 1.0),
        ra=dict.fromkeys(geo.groups, 100.0),
        conditions=Conditions(celsius=34.0, v_init=-70.0, reversal={"soma": {"na": 53, "k": -107}}),
        name="demo ball-and-stick",
        kind="custom",
    )


def biophys_step(result: DemoResult, done: Callable[[Step], None], seed: int) -> None:
    """Fit the demo model to the first analysed demo cell and store it in the demo atlas.

    Parameters
    ----------
    result
        The demo so far (its ``analyses`` and ``atlas_url`` are used).
    done
        Reports the step.
    seed
        The fit's seed.
    """
    import pandas as pd

    from patchatlas.datasets.demo import Step
    from patchatlas.models.biophys import fit

    cells = [a for a in result.analyses if any(s.n_spikes for s in a.sweeps)]
    if not cells:
        done(Step("biophys", "skipped: no analysed cell with spikes", None))
        return
    data = cells[0]
    res = fit(
        demo_model(),
        data,
        parameters=DEMO_BOUNDS,
        generations=3,
        population=8,
        seed=seed,
        delay_s=0.1,
    )
    stored = ""
    if result.atlas_url:
        from patchatlas.atlas import Atlas
        from patchatlas.atlas.models_biophys import store_biophys_model

        with Atlas(result.atlas_url, mode="a") as atlas:
            store_biophys_model(atlas, data.cell_id, res.model, name="demo biophys fit", fit=res)
        stored = "; stored in the atlas (Models page, overlay on the cell page)"
    p = res.provenance
    params = pd.DataFrame(
        {"value": list(res.parameters.values())},
        index=pd.Index(list(res.parameters), name="parameter"),
    )
    feats = res.feature_table().set_index(["amplitude_pa", "feature"])[
        ["data_mean", "model", "error_sd"]
    ]
    done(
        Step(
            "biophys",
            f"fitted a ball-and-stick model (4 conductances, Arbor) to {data.cell_id}: "
            f"{p['evaluations']} evaluations in {p['seconds']:.1f} s, total error "
            f"{res.total_error:.3g} SD{stored}",
            res,
            tables=[("fitted conductances (S/cm²)", params), ("model vs data", feats)],
        )
    )
