"""Allen side of the Gouwens-set benchmark (run with .venv-allenmorph/bin/python).

The Allen Institute's own code computes the per-compartment Gouwens (skeleton_keys) features
with ``neuron_morphology``'s feature functions. skeleton_keys itself is not on PyPI (and no
other index is reachable here), so this worker calls those same ``neuron_morphology`` functions
directly, one per column of patchatlas' ``convention="gouwens"`` set that needs no
layer-aligned input, and applies the column definitions of ../shared/notes/morphology.md §3
(``log10(n + 1)`` for outer bifurcations, stem-exit fractions with thresholds 1/3 and 2/3,
the axon exit of the axon root closest to the soma). The code is only run, never copied
(non-commercial licence); the environment is made by benchmarks/setup_allen_refs.sh.

Usage: allen_reference.py [--repeat N] FILE...  → JSON on stdout:
{file: {"features": {...}, "seconds": float (min of N: load + every feature)} | {"error": "..."}}
"""

from __future__ import annotations

import argparse
import json
import math
import time
import warnings
from typing import Any

COMPARTMENTS = {
    "axon": [2],
    "basal_dendrite": [3],
    "apical_dendrite": [4],
    "dendrite": [3, 4],
}


def allen_gouwens(path: str) -> dict[str, float]:
    from neuron_morphology.feature_extractor.data import Data
    from neuron_morphology.features.branching.bifurcations import num_outer_bifurcations
    from neuron_morphology.features.dimension import dimension
    from neuron_morphology.features.intrinsic import max_branch_order, num_branches
    from neuron_morphology.features.path import (
        early_branch_path,
        max_path_distance,
        mean_contraction,
    )
    from neuron_morphology.features.size import (
        max_euclidean_distance,
        mean_diameter,
        total_length,
        total_surface_area,
    )
    from neuron_morphology.features.soma import (
        calculate_number_of_stems,
        calculate_soma_surface,
        calculate_stem_exit_and_distance,
        soma_percentile,
    )
    from neuron_morphology.features.statistics.moments_along_max_distance_projection import (
        moments_along_max_distance_projection,
    )
    from neuron_morphology.swc_io import morphology_from_swc

    morph = morphology_from_swc(path)
    data = Data(morph)
    types_present = {int(n["type"]) for n in morph.nodes()}
    out: dict[str, float] = {}
    for comp, types in COMPARTMENTS.items():
        if not types_present.intersection(types):
            continue
        p = comp + "_"
        dim: Any = dimension(data, node_types=types)
        out[p + "extent_x"] = dim["width"]
        out[p + "extent_y"] = dim["height"]
        out[p + "bias_x"] = dim["bias_xyz"][0]
        out[p + "bias_y"] = dim["bias_xyz"][1]
        pct = soma_percentile(data, node_types=types)
        out[p + "soma_percentile_x"] = pct[0]
        out[p + "soma_percentile_y"] = pct[1]
        out[p + "total_length"] = total_length(data, node_types=types)
        out[p + "max_euclidean_distance"] = max_euclidean_distance(data, node_types=types)
        out[p + "max_path_distance"] = max_path_distance(data, node_types=types)
        out[p + "max_branch_order"] = max_branch_order(data, node_types=types)
        out[p + "num_branches"] = num_branches(data, node_types=types)
        out[p + "mean_contraction"] = mean_contraction(data, node_types=types)
        n_outer = num_outer_bifurcations(data, node_types=types)
        out[p + "num_outer_bifurcations"] = math.log10(n_outer + 1)
        if comp != "axon":  # the published set has these for dendrites only
            out[p + "total_surface_area"] = total_surface_area(data, node_types=types)
            out[p + "mean_diameter"] = mean_diameter(data, node_types=types)
        exits = calculate_stem_exit_and_distance(data, node_types=types)
        if comp == "axon":
            if exits:
                theta, dist = min(exits, key=lambda e: e[1])
                out[p + "exit_theta"] = theta
                out[p + "exit_distance"] = dist
        else:
            out[p + "calculate_number_of_stems"] = calculate_number_of_stems(data, node_types=types)
            if exits:
                th = [e[0] for e in exits]
                out[p + "stem_exit_down"] = sum(t <= 1 / 3 for t in th) / len(th)
                out[p + "stem_exit_side"] = sum(1 / 3 < t <= 2 / 3 for t in th) / len(th)
                out[p + "stem_exit_up"] = sum(t > 2 / 3 for t in th) / len(th)
        if comp == "apical_dendrite":
            mom: Any = moments_along_max_distance_projection(data, node_types=types)
            out[p + "mean_moments_along_max_distance_projection"] = mom[0]
            out[p + "std_moments_along_max_distance_projection"] = mom[1]
    out["none_early_branch_path"] = early_branch_path(data)
    out["soma_surface_area"] = calculate_soma_surface(data)
    return {k: float(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.CRITICAL)
    result: dict[str, object] = {}
    for f in args.files:
        try:
            best = float("inf")
            feats: dict[str, float] = {}
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                feats = allen_gouwens(f)
                best = min(best, time.perf_counter() - t0)
            result[f] = {"features": feats, "seconds": best}
        except Exception as exc:  # record why the reference failed on a file
            result[f] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
