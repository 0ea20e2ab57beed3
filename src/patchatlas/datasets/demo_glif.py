"""The demo's GLIF step: fit GLIF1–5 to demo cells, plot data vs model, store the models.

Appended to :data:`patchatlas.datasets.demo.DEMO_STEPS`. It fits the first ``DEMO_CELLS``
recordings (held-out sweeps: every other spiking amplitude), writes one figure per cell
(``figures/<cell>_glif.png``: a held-out sweep, data vs every level, and the rasters), and stores
the models in the demo atlas (when the atlas step ran) so that the portal's Models page and the
cell pages show them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["DEMO_CELLS", "glif_step"]

#: recordings the demo fits (a few seconds in all)
DEMO_CELLS = 2


def glif_step(result: Any, done: Callable[[Any], None], seed: int) -> None:
    """Fit GLIF models to the demo recordings and report the held-out scores.

    Parameters
    ----------
    result
        The :class:`~patchatlas.datasets.demo.DemoResult` so far (its recordings; the atlas URL
        when the atlas step ran).
    done
        Called with the finished :class:`~patchatlas.datasets.demo.Step`.
    seed
        Unused (the fits are deterministic).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    from patchatlas.datasets.demo import Step
    from patchatlas.models.glif import BASELINE, fit
    from patchatlas.plot.glif import plot_glif_fit

    fig_dir = result.out_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    rows, fits = [], []
    for rec in result.recordings[:DEMO_CELLS]:
        res = fit(rec, on_unidentifiable="skip", schedule=(10,), max_evals=40)
        fits.append(res)
        fig = plot_glif_fit(res)
        path = fig_dir / f"{rec.cell_id}_glif.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        result.figures.append(path)
        for label in [*(str(k) for k in sorted(res.models)), BASELINE]:
            rows.append(
                {
                    "cell · model": f"{rec.cell_id} · "
                    + (label if label == BASELINE else f"GLIF{label}"),
                    "spikes (data)": res.score(label, "n_spikes_data"),
                    "spikes (model)": res.score(label, "n_spikes_model"),
                    "count error": res.score(label, "count_relative"),
                    "Γ(4 ms)": res.score(label, "gamma_4ms"),
                    "EV(10 ms)": res.score(label, "ev_10ms"),
                }
            )
    stored = 0
    if result.atlas_url and fits:
        from patchatlas.atlas import Atlas

        with Atlas(result.atlas_url) as atlas:
            known = set(atlas.cells().index.astype(str))
            for res in fits:
                if res.cell_id in known:
                    atlas.store_models(
                        res.cell_id, res.model_records(), kind="glif", provenance=res.provenance
                    )
                    stored += 1
    table = pd.DataFrame(rows).set_index("cell · model") if rows else pd.DataFrame()
    done(
        Step(
            "glif",
            f"GLIF1–5 fitted to {len(fits)} cells (held-out sweeps: every other spiking "
            "amplitude); "
            f"data-vs-model figures in {fig_dir}"
            + (f"; {stored} cells' models stored in the atlas" if stored else ""),
            table,
            ok=bool(fits),
            error="" if fits else "no recording to fit",
            tables=[("GLIF on held-out sweeps", table)] if rows else [],
        )
    )
