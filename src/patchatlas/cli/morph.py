"""``patchatlas morph validate|features|align|plot PATH...``: morphology commands (no science
here: each command reads files, makes one library call per step and shows progress)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from patchatlas.cli._util import console, table


@contextmanager
def _progress(total: int, what: str) -> Iterator[Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    con = console()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=con,
        transient=True,
        disable=total < 2 or not con.is_terminal,
    ) as prog:
        task = prog.add_task(what, total=total)
        yield lambda: prog.advance(task)


def _read_all(paths: tuple[Path, ...]) -> tuple[list[Any], int]:
    from patchatlas.errors import PatchAtlasError
    from patchatlas.io import read_morphology

    con = console()
    morphs, failed = [], 0
    with _progress(len(paths), "reading") as step:
        for p in paths:
            try:
                morphs.append(read_morphology(p))
            except PatchAtlasError as exc:
                failed += 1
                con.print(f"[red]error[/red]: {exc}")
            step()
    return morphs, failed


@click.group()
def morph() -> None:
    """Neuron morphologies (SWC, Neurolucida ASC, MorphIO HDF5): validate, features, align,
    plot."""
    from patchatlas.morphology import tune_allocator

    tune_allocator()  # batch work: reuse freed blocks instead of re-faulting pages


@morph.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--profile",
    type=click.Choice(["lenient", "analysis", "neuron"]),
    default="analysis",
    show_default=True,
    help="Strictness: which findings are errors.",
)
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write issues as JSON.")
def validate(paths: tuple[Path, ...], profile: str, json_out: Path | None) -> None:
    """Check reconstructions; exit code 1 when validation finds errors in any file, 2 when a
    file cannot be read at all."""
    import patchatlas.morphology as pm

    con = console()
    morphs, failed = _read_all(paths)
    report: dict[str, Any] = {}
    n_err = 0
    for m in morphs:
        rep = pm.validate(m, profile=profile, raise_on_error=False)
        report[m.source or m.label] = rep.to_dicts()
        n_err += 0 if rep.ok else 1
        rows = [[i.severity, i.code, len(i.node_ids), i.message[:90]] for i in rep]
        status = "ok" if rep.ok else "ERRORS"
        con.print(
            table(
                f"{m.label}: {len(m)} nodes, {status}",
                ["severity", "code", "nodes", "message"],
                rows,
            )
        )
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=1))
    if failed:
        con.print(f"{failed} file(s) could not be read")
        raise SystemExit(2)
    if n_err:
        raise SystemExit(1)


@morph.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--convention",
    type=click.Choice(["allen", "gouwens", "neurom"]),
    default="allen",
    show_default=True,
)
@click.option("--out", type=click.Path(path_type=Path), help="Write the table (.csv or .parquet).")
@click.option("--list", "list_only", is_flag=True, help="List the registry for the convention.")
@click.option(
    "--neurite-type",
    "neurite_types",
    multiple=True,
    type=click.Choice(["all", "axon", "basal_dendrite", "apical_dendrite"]),
    help="neurom only: the neurites to measure (NeuroM's neurite_type); repeat it for a "
    "column group per type (columns <type>.<feature>).",
)
def features(
    paths: tuple[Path, ...],
    convention: str,
    out: Path | None,
    list_only: bool,
    neurite_types: tuple[str, ...],
) -> None:
    """Compute features of many cells at once (one batched call)."""
    import patchatlas.morphology as pm

    con = console()
    if list_only:
        reg = pm.feature_registry(convention)
        rows = [[r.name, r.unit, r.definition[:70]] for r in reg.itertuples()]
        con.print(table(f"{convention} features", ["name", "unit", "definition"], rows))
        return
    if not paths:
        raise click.UsageError("give at least one morphology file (or --list)")
    morphs, failed = _read_all(paths)
    if not morphs:
        raise SystemExit(2)
    if neurite_types and convention != "neurom":
        raise click.UsageError("--neurite-type needs --convention neurom")
    types: str | list[str] | None = None
    if len(neurite_types) == 1:
        types = neurite_types[0]
    elif neurite_types:
        types = list(neurite_types)
    df = pm.features_table(morphs, convention=convention, neurite_type=types)
    if isinstance(types, list):
        df.columns = [f"{t}.{f}" for t, f in df.columns]
    if out is not None:
        if out.suffix.lower() == ".parquet":
            df.to_parquet(out)
        else:
            df.to_csv(out)
        con.print(f"wrote {len(df)} cells × {df.shape[1]} features to {out}")
    if len(df) == 1 or out is None:
        shown = df.T if len(df) <= 4 else df.iloc[:, :6]
        cols = ["feature", *map(str, shown.columns)]
        rows = [
            [str(i), *[float(v) for v in r]]
            for i, r in zip(shown.index, shown.to_numpy(), strict=True)
        ]
        con.print(table(f"{convention} features", cols, rows))
    if failed:
        raise SystemExit(2)


@morph.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option(
    "--layers",
    "layers_json",
    required=True,
    type=click.Path(path_type=Path),
    help="*_surfaces_and_layers.json with pia, white matter, soma, layer polygons.",
)
@click.option(
    "--depths",
    "depths_json",
    type=click.Path(path_type=Path),
    help="Reference layer depths JSON (default: mouse ME/MET averages).",
)
@click.option("--out", type=click.Path(path_type=Path), help="Write the layer-aligned SWC.")
def align(path: Path, layers_json: Path, depths_json: Path | None, out: Path | None) -> None:
    """Layer-align a reconstruction and print its soma depth."""
    from patchatlas.io import read_morphology
    from patchatlas.io.layers import read_layer_depths, read_layer_drawings
    from patchatlas.io.swc import write_swc
    from patchatlas.morphology.alignment import MOUSE_LAYER_DEPTHS, layer_align

    con = console()
    m = read_morphology(path)
    drawings = read_layer_drawings(layers_json)
    depths = MOUSE_LAYER_DEPTHS if depths_json is None else read_layer_depths(depths_json)
    al = layer_align(m, drawings, reference_depths=depths)
    con.print(
        f"{m.label}: soma depth {-al.xyz[al.root, 1]:.2f} µm below pia, upright angle "
        f"{al.meta['upright_angle_rad'] * 57.29577951308232:.2f}°, "
        f"{al.meta['unaligned_nodes']} node(s) outside the layer drawings"
    )
    if out is not None:
        write_swc(al, out, header=f"{m.label} layer-aligned by patchatlas")
        con.print(f"wrote {out}")


@morph.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("."),
    show_default=True,
    help="Folder for the PNG files.",
)
@click.option("--projection", default="xy", show_default=True, help="Two of x, y, z.")
@click.option("--aligned", is_flag=True, help="Files are layer-aligned: draw layer boundaries.")
def plot(paths: tuple[Path, ...], out_dir: Path, projection: str, aligned: bool) -> None:
    """Render each morphology to PNG (compartments coloured by type)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from patchatlas.plot.morphology import plot_layer_aligned, plot_morphology

    con = console()
    out_dir.mkdir(parents=True, exist_ok=True)
    morphs, failed = _read_all(paths)
    with _progress(len(morphs), "rendering") as step:
        for m in morphs:
            fig, ax = plt.subplots(figsize=(5, 6))
            if aligned:
                plot_layer_aligned(m, ax=ax)
            else:
                plot_morphology(m, ax=ax, projection=projection)
            target = out_dir / f"{Path(m.source or m.label).stem}.png"
            fig.savefig(target, dpi=120, bbox_inches="tight")
            plt.close(fig)
            con.print(f"wrote {target}")
            step()
    if failed:
        raise SystemExit(2)
