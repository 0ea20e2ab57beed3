"""``patchatlas info PATH``: the sweep table of a recording; ``patchatlas info --deps``: the
environment (versions of the optional dependencies, the active spike-detection backend)."""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path

import click

from patchatlas.cli._read_options import read_kwargs, reader_options
from patchatlas.cli._util import console, table

#: (distribution, the extra that needs it): what ``--deps`` reports, core dependencies first
DEPENDENCIES: tuple[tuple[str, str], ...] = (
    ("numpy", "core"),
    ("scipy", "core"),
    ("pandas", "core"),
    ("h5py", "core"),
    ("pyabf", "core"),
    ("numba", "ephys (compiled spike detection)"),
    ("pyarrow", "ephys, morphology, atlas"),
    ("pynwb", "nwb"),
    ("hdmf", "nwb"),
    ("matplotlib", "plot"),
    ("anndata", "transcriptomics"),
    ("scikit-learn", "transcriptomics"),
    ("sqlalchemy", "atlas"),
    ("alembic", "atlas"),
    ("psycopg", "postgres"),
    ("dask", "dask"),
    ("distributed", "dask"),
    ("fastapi", "web"),
    ("uvicorn", "web"),
    ("jinja2", "web"),
    ("arbor", "models (biophysical models, default backend)"),
    ("deap", "models (biophysical fitting)"),
    ("neuron", "neuron (biophysical models, reference backend)"),
)


def dependency_versions() -> list[tuple[str, str, str]]:
    """Installed version of each package of :data:`DEPENDENCIES` (package metadata only:
    nothing is imported).

    Returns
    -------
    list of (str, str, str)
        ``(package, version or "not installed", extra)``.
    """
    rows = []
    for name, extra in DEPENDENCIES:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append((name, version, extra))
    return rows


def print_deps() -> None:
    """Print the dependency table and the active ephys backend (loading the kernel first)."""
    from patchatlas._version import __version__
    from patchatlas.ephys import backend_info, warm_up

    con = console()
    con.print(
        f"patchatlas {__version__} (Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()})"
    )
    rows = [list(r) for r in dependency_versions()]
    con.print(table("dependencies", ["package", "version", "needed for"], rows))
    with con.status("loading the spike-detection kernel (compiled on first use) ..."):
        warm_up()
    info = backend_info()
    con.print(f"ephys backend: {info['backend']} ({info['reason']})")


def recording_table(rec: object) -> object:
    """Rich table of a recording's sweeps (number, kind, amplitude, window, rate, duration)."""
    from patchatlas.core.recording import Recording

    assert isinstance(rec, Recording)

    def sec(x: float) -> str:
        return "–" if x != x else f"{x:.4f}"

    rows = [
        [
            s.number,
            s.clamp_mode.value.replace("_clamp", ""),
            s.stimulus.kind.value,
            s.stimulus.amplitude,
            sec(s.stimulus.start),
            sec(s.stimulus.end),
            s.sampling_rate / 1e3,
            sec(s.duration),
        ]
        for s in rec
    ]
    title = f"{rec.cell_id}  ({rec.format}, {len(rec)} sweeps)"
    cols = ["sweep", "clamp", "kind", "amp (pA)", "start (s)", "end (s)", "rate (kHz)", "dur (s)"]
    return table(title, cols, rows)


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--deps",
    is_flag=True,
    help="Print the versions of the optional dependencies and the active spike-detection "
    "backend (numba or numpy, and why).",
)
@reader_options()
def info(
    paths: tuple[Path, ...],
    deps: bool,
    channels: str | None,
    clamp_mode: str | None,
    units: str | None,
    plausibility: str | None,
) -> None:
    """Print the sweep table of each recording in PATHS (with --deps: the environment)."""
    from patchatlas.errors import PatchAtlasError
    from patchatlas.reading import read as read_file

    if not paths and not deps:
        raise click.UsageError("give one or more recording PATHS, or --deps")
    options = read_kwargs(
        channels=channels, clamp_mode=clamp_mode, units=units, plausibility=plausibility
    )
    if deps:
        print_deps()
    con = console()
    failed = 0
    for p in paths:
        try:
            rec = read_file(p, **options)
        except PatchAtlasError as exc:
            failed += 1
            con.print(f"[red]error[/red]: {exc}")
            continue
        con.print(recording_table(rec))
        roles = rec.metadata.get("channel_roles")
        if isinstance(roles, dict):
            con.print(
                f"channels ({roles.get('source')}): v = {roles.get('v')}, i = {roles.get('i')}, "
                f"command = {roles.get('command')}"
            )
        for f in rec.plausibility:
            con.print(f"[yellow]{f.severity}[/yellow] ({f.check}): {f.message}")
        con.print()
    if failed:
        raise SystemExit(2)
