"""The ``patchatlas demo`` workflow, as a library function the CLI renders.

:func:`run_demo` runs the demo steps in order and hands each step's result to a ``report``
callback as soon as it is ready, so the command line can print while the demo goes on:

1. ``dataset`` — simulate a few conductance-based cells of different firing types driven by
   Allen-style long-square, short-square and ramp protocols, and write one NWB 2 file per cell
   (or, with ``data_dir``, take the real recordings found there);
2. ``recordings`` — read every file back through :func:`patchatlas.read` (the same path a user's
   files take) and report its sweep table.

Later steps (features, morphology, atlas, expression → physiology, portal) join this list as
their engines land.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patchatlas.ephys.model import Recording
from patchatlas.errors import PatchAtlasError

__all__ = ["DemoResult", "Step", "run_demo"]

log = logging.getLogger("patchatlas.demo")

EPHYS_EXTENSIONS = (".nwb", ".abf", ".ibw")


@dataclass
class Step:
    """One finished demo step: its name, a one-line summary and its payload."""

    name: str
    summary: str
    payload: Any = None


@dataclass
class DemoResult:
    """Everything the demo produced."""

    out_dir: Path
    files: list[Path] = field(default_factory=list)
    recordings: list[Recording] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)


def _ephys_files(data_dir: Path) -> list[Path]:
    return sorted(p for p in data_dir.rglob("*") if p.suffix.lower() in EPHYS_EXTENSIONS)


def run_demo(
    out_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    n_cells: int = 4,
    seed: int = 0,
    report: Callable[[Step], None] | None = None,
) -> DemoResult:
    """Run the demo end to end, offline.

    Parameters
    ----------
    out_dir
        Folder for the generated files (created; existing demo files are overwritten).
    data_dir
        Use the real recordings (``.nwb``, ``.abf``, ``.ibw``) found under this folder instead of
        simulating a dataset.
    n_cells, seed
        Size and seed of the simulated dataset.
    report
        Called with each :class:`Step` as soon as it finishes.

    Returns
    -------
    DemoResult
    """
    import patchatlas

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out_dir=out)

    def done(step: Step) -> None:
        result.steps.append(step)
        if report is not None:
            report(step)

    if data_dir is None:
        from patchatlas.datasets.simulate import demo_dataset
        from patchatlas.io import write_nwb

        cells = demo_dataset(n_cells=n_cells, seed=seed)
        nwb_dir = out / "nwb"
        nwb_dir.mkdir(exist_ok=True)
        for rec in cells:
            path = nwb_dir / f"{rec.cell_id}.nwb"
            write_nwb(rec, path, overwrite=True)
            result.files.append(path)
        n_sweeps = sum(len(r) for r in cells)
        done(
            Step(
                "dataset",
                f"simulated {len(cells)} cells ({n_sweeps} sweeps) and wrote NWB 2 files to "
                f"{nwb_dir}",
                list(result.files),
            )
        )
    else:
        result.files = _ephys_files(Path(data_dir))
        done(
            Step("dataset", f"found {len(result.files)} recordings under {data_dir}", result.files)
        )

    for path in result.files:
        try:
            rec = patchatlas.read(path)
        except PatchAtlasError as exc:
            result.failed.append((path, str(exc)))
            log.warning("skipped %s", exc)
            continue
        result.recordings.append(rec)
    done(
        Step(
            "recordings",
            f"read back {len(result.recordings)} recordings"
            + (f", {len(result.failed)} failed" if result.failed else ""),
            list(result.recordings),
        )
    )
    return result


def demo_summary(steps: Sequence[Step]) -> str:
    """One line per step, for logs."""
    return "\n".join(f"{s.name}: {s.summary}" for s in steps)
