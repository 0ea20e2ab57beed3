"""Time ``features(read(file), convention=...)`` with whatever ``patchatlas`` is importable.

Used by morphology_vs_anchors.py ``--baseline-src DIR`` to time another checkout's source tree
(``PYTHONPATH=DIR``) in the same run as the current one. Prints JSON
``{"patchatlas": path of the imported package, "seconds": {file: min of N}}``.
"""

from __future__ import annotations

import argparse
import json
import time

import patchatlas
from patchatlas import read
from patchatlas.morphology import features

try:  # the benchmark process tunes glibc's allocator the same way
    from patchatlas.morphology import tune_allocator
except ImportError:  # older checkouts
    pass
else:
    tune_allocator()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+")
    ap.add_argument("--convention", default="neurom")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    out: dict[str, float] = {}
    for f in args.files:
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            features(read(f), convention=args.convention)
            best = min(best, time.perf_counter() - t0)
        out[f] = best
    print(json.dumps({"patchatlas": patchatlas.__file__, "seconds": out}))


if __name__ == "__main__":
    main()
