"""NeuroM side of the cross-check and benchmark (run with .venv-neurom/bin/python).

Usage: neurom_reference.py [--time] [--sholl STEP] FILE...  → JSON on stdout:
{file: {"features": {...}, "sholl": [...], "seconds": float} | {"error": "..."}}
The feature names are those of patchatlas' convention="neurom" registry.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np


def neurom_features(path: str, sholl_step: float | None) -> dict[str, object]:
    import neurom as nm

    m = nm.load_morphology(path)

    def mean(x: object) -> float:
        a = np.asarray(list(x), dtype=float)  # type: ignore[call-overload]
        return float(a.mean()) if a.size else float("nan")

    out = {
        "number_of_neurites": nm.get("number_of_neurites", m),
        "number_of_sections": nm.get("number_of_sections", m),
        "number_of_bifurcations": nm.get("number_of_bifurcations", m),
        "number_of_forking_points": nm.get("number_of_forking_points", m),
        "number_of_leaves": nm.get("number_of_leaves", m),
        "total_length": nm.get("total_length", m),
        "total_area": nm.get("total_area", m),
        "total_volume": nm.get("total_volume", m),
        "max_branch_order": max(nm.get("section_branch_orders", m), default=0),
        "max_radial_distance": nm.get("max_radial_distance", m),
        "max_path_distance": max(nm.get("section_path_distances", m), default=0.0),
        "mean_local_bifurcation_angle": mean(nm.get("local_bifurcation_angles", m)),
        "mean_remote_bifurcation_angle": mean(nm.get("remote_bifurcation_angles", m)),
        "mean_contraction": mean(1.0 / np.asarray(nm.get("section_tortuosity", m), dtype=float)),
        "mean_partition_asymmetry": mean(nm.get("partition_asymmetry", m)),
        "total_width": nm.get("total_width", m),
        "total_height": nm.get("total_height", m),
        "total_depth": nm.get("total_depth", m),
        "soma_radius": nm.get("soma_radius", m),
        "soma_surface_area": nm.get("soma_surface_area", m),
    }
    res: dict[str, object] = {"features": {k: float(v) for k, v in out.items()}}
    if sholl_step:
        res["sholl"] = [int(v) for v in nm.get("sholl_frequency", m, step_size=sholl_step)]
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--sholl", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    import morphio

    morphio.set_maximum_warnings(0)
    result: dict[str, object] = {}
    for f in args.files:
        try:
            best = float("inf")
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                res = neurom_features(f, args.sholl)
                best = min(best, time.perf_counter() - t0)
            res["seconds"] = best
            result[f] = res
        except Exception as exc:  # the reference tool refuses some files: record why
            result[f] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
