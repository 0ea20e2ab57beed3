"""NeuroM side of the cross-check and benchmark (run with .venv-neurom/bin/python).

Usage: neurom_reference.py [--sholl STEP] [--neurite-types] [--repeat N] FILE...  → JSON on
stdout: {file: {"features": {...}, "sholl": [...], "seconds": float,
"by_type": {type: {...}}, "points": int} | {"error": "..."}}
The feature names are those of patchatlas' convention="neurom" registry; ``--neurite-types``
adds the same features for neurite_type = all, axon, basal_dendrite, apical_dendrite
(``by_type``) and the number of neurite points MorphIO loads (``points``).

``--workload per-type`` times only the benchmark workload of benchmarks/neurom_per_type.py:
load the file, then 7 features x 4 neurite types + the soma surface area (``seconds``).
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

NEURITE_TYPES = ("all", "axon", "basal_dendrite", "apical_dendrite")
#: the per-type benchmark workload: 7 features (scalars, or the max / mean of a per-section list)
WORKLOAD = (
    "number_of_sections",
    "number_of_bifurcations",
    "total_length",
    "total_area",
    "section_branch_orders",
    "section_path_distances",
    "max_radial_distance",
)


def per_type_workload(path: str) -> dict[str, float]:
    """Load + 7 features x 4 neurite types + soma surface area, as a NeuroM user writes it."""
    import neurom as nm

    m = nm.load_morphology(path)
    out: dict[str, float] = {"soma_surface_area": float(nm.get("soma_surface_area", m))}
    for t in NEURITE_TYPES:
        nt = getattr(nm.NeuriteType, t)
        for f in WORKLOAD:
            v = nm.get(f, m, neurite_type=nt)
            if f.startswith("section_"):
                v = max(v, default=0)
            out[f"{t}.{f}"] = float(v)
    return out


def neurom_features(
    path: str, sholl_step: float | None, neurite_type: str = "all", m: object = None
) -> dict[str, object]:
    import neurom as nm

    if m is None:
        m = nm.load_morphology(path)
    nt = getattr(nm.NeuriteType, neurite_type)

    def get(name: str, **kw: object) -> object:
        return nm.get(name, m, neurite_type=nt, **kw)

    def mean(x: object) -> float:
        a = np.asarray(list(x), dtype=float)  # type: ignore[call-overload]
        return float(a.mean()) if a.size else float("nan")

    out = {
        "number_of_neurites": get("number_of_neurites"),
        "number_of_sections": get("number_of_sections"),
        "number_of_bifurcations": get("number_of_bifurcations"),
        "number_of_forking_points": get("number_of_forking_points"),
        "number_of_leaves": get("number_of_leaves"),
        "total_length": get("total_length"),
        "total_area": get("total_area"),
        "total_volume": get("total_volume"),
        "max_branch_order": max(get("section_branch_orders"), default=0),  # type: ignore[call-overload]
        "max_radial_distance": get("max_radial_distance"),
        "max_path_distance": max(get("section_path_distances"), default=0.0),  # type: ignore[call-overload]
        "mean_local_bifurcation_angle": mean(get("local_bifurcation_angles")),
        "mean_remote_bifurcation_angle": mean(get("remote_bifurcation_angles")),
        "mean_contraction": mean(1.0 / np.asarray(get("section_tortuosity"), dtype=float)),
        "mean_partition_asymmetry": mean(get("partition_asymmetry")),
        "total_width": get("total_width"),
        "total_height": get("total_height"),
        "total_depth": get("total_depth"),
        "soma_radius": nm.get("soma_radius", m),
        "soma_surface_area": nm.get("soma_surface_area", m),
    }
    res: dict[str, object] = {"features": {k: float(v) for k, v in out.items()}}  # type: ignore[arg-type]
    if sholl_step:
        res["sholl"] = [int(v) for v in nm.get("sholl_frequency", m, step_size=sholl_step)]
        res["sholl_step"] = sholl_step
    return res


def sholl_step_for(path: str, step: float, large: tuple[float, int] | None) -> float:
    """The Sholl step for one file: ``large = (step, points)`` uses the coarser step on cells of
    at least that many points (NeuroM's sholl_frequency costs one pass over every segment per
    radius: ~27 s at 10 µm on a 26 k-point cell)."""
    if large is None:
        return step
    import neurom as nm

    m = nm.load_morphology(path)
    points = sum(len(s.points) for s in nm.iter_sections(m))
    return large[0] if points >= large[1] else step


def by_type(path: str, whole: dict[str, float] | None = None) -> dict[str, object]:
    """The features per neurite type, and the neurite point count (one load); ``whole``: the
    features of the whole cell when already computed (they are those of type ``all``)."""
    import neurom as nm

    m = nm.load_morphology(path)
    values: dict[str, object] = {}
    for t in NEURITE_TYPES:
        if t == "all" and whole is not None:
            values[t] = whole
        else:
            values[t] = neurom_features(path, None, t, m)["features"]
    return {
        "by_type": values,
        "points": int(sum(len(s.points) for s in nm.iter_sections(m))),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--sholl", type=float, default=10.0)
    ap.add_argument(
        "--sholl-large",
        nargs=2,
        metavar=("STEP", "POINTS"),
        help="a coarser Sholl step on cells of at least POINTS points (result: sholl_step)",
    )
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--neurite-types", action="store_true")
    ap.add_argument("--workload", choices=["all", "per-type"], default="all")
    args = ap.parse_args()
    large = None
    if args.sholl_large:
        large = (float(args.sholl_large[0]), int(args.sholl_large[1]))
    warnings.simplefilter("ignore")
    import morphio

    morphio.set_maximum_warnings(0)
    result: dict[str, object] = {}
    for f in args.files:
        try:
            step = sholl_step_for(f, args.sholl, large) if args.workload == "all" else None
            best = float("inf")
            res: dict[str, object] = {}
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                if args.workload == "per-type":
                    res = {"values": per_type_workload(f)}
                else:
                    res = neurom_features(f, step)
                best = min(best, time.perf_counter() - t0)
            res["seconds"] = best
            if args.neurite_types:
                whole = res.get("features") if args.workload == "all" else None
                res.update(by_type(f, whole if isinstance(whole, dict) else None))
            result[f] = res
        except Exception as exc:  # the reference tool refuses some files: record why
            result[f] = {"error": f"{type(exc).__name__}: {exc}"[:300]}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
