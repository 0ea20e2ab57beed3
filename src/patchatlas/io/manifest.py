"""Ingest inputs: folder scans, manifests (CSV/TSV/YAML) and content hashes of source files."""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from patchatlas.errors import ReadError

__all__ = ["MANIFEST_SUFFIXES", "file_digest", "read_manifest", "scan_folder"]

MANIFEST_SUFFIXES = (".csv", ".tsv", ".yaml", ".yml")
_CELL_KEYS = ("cell_id", "cell", "name", "specimen_id")
_FILE_KEYS = ("files", "file", "path", "paths", "ephys")


def file_digest(path: str | os.PathLike[str]) -> tuple[int, str]:
    """Size in bytes and SHA-256 (hex) of a file.

    Parameters
    ----------
    path
        The file (read in 1 MiB chunks).

    Returns
    -------
    size : int
        Size in bytes.
    digest : str
        SHA-256 of the content, as 64 hex digits.

    Raises
    ------
    ReadError
        The file is missing or cannot be read.
    """
    p = Path(path)
    h = hashlib.sha256()
    try:
        with p.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        size = p.stat().st_size
    except OSError as exc:
        raise ReadError(p, f"cannot be read ({exc.strerror or exc})", "check the path") from exc
    return size, h.hexdigest()


def scan_folder(root: str | os.PathLike[str], extensions: Iterable[str]) -> list[Path]:
    """Files under ``root`` (recursively, sorted) whose extension is in ``extensions``.

    Hidden files and folders (``.name``) are ignored.

    Parameters
    ----------
    root
        The folder to scan.
    extensions
        Extensions with the leading dot (``".nwb"``, ``".swc"`` ...); case is ignored.

    Returns
    -------
    list of Path
        The matching files, sorted by path.
    """
    r = Path(root)
    exts = {e.lower() for e in extensions}
    out = [
        p
        for p in r.rglob("*")
        if p.suffix.lower() in exts
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(r).parts)
    ]
    return sorted(out)


def _split_files(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if str(v).strip()]
    return [s.strip() for s in str(value).split(";") if s.strip()]


def read_manifest(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read an ingest manifest: one entry per cell with its files and annotations.

    A CSV/TSV manifest has a cell column (``cell_id``, ``cell``, ``name`` or ``specimen_id``), a
    file column (``file``/``files``/``path``; several files separated by ``;``), optionally a
    ``morphology`` column, and any other columns as annotations (``species``, ``region``,
    ``layer``, ``depth_um``, ``cre_line``, ``reporter``, ``dendrite_type``, ``t_type``,
    ``t_type_confidence``, ``donor`` ...). Several rows with the same cell id add files to that
    cell. A YAML manifest is a list of such mappings (or a mapping with a ``cells`` list). Relative
    paths are resolved against the manifest's folder.

    Parameters
    ----------
    path
        The manifest: ``.csv``, ``.tsv``, ``.yaml`` or ``.yml``.

    Returns
    -------
    list of dict
        ``{"cell_id": str, "files": [absolute paths], "metadata": {...}}`` per cell, in order.

    Raises
    ------
    ReadError
        The manifest is missing, malformed, or lacks a cell or file column.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ReadError(p, f"cannot read the manifest ({exc.strerror or exc})") from exc
    rows: list[dict[str, Any]]
    if suffix in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ReadError(p, f"is not valid YAML ({exc})") from exc
        if isinstance(doc, dict):
            doc = doc.get("cells")
        if not isinstance(doc, list) or not all(isinstance(d, dict) for d in doc):
            raise ReadError(
                p, "a YAML manifest must be a list of cells", "or a mapping with a 'cells' list"
            )
        rows = [dict(d) for d in doc]
    elif suffix in (".csv", ".tsv"):
        delimiter = "\t" if suffix == ".tsv" else ","
        rows = [dict(r) for r in csv.DictReader(text.splitlines(), delimiter=delimiter)]
    else:
        raise ReadError(p, f"unknown manifest type {suffix!r}", "use .csv, .tsv, .yaml or .yml")
    if not rows:
        raise ReadError(p, "the manifest lists no cells")
    keys = {k.strip().lower() for r in rows for k in r if k is not None}
    cell_key = next((k for k in _CELL_KEYS if k in keys), None)
    file_key = next((k for k in _FILE_KEYS if k in keys), None)
    if cell_key is None or file_key is None:
        raise ReadError(
            p,
            f"the manifest needs a cell column ({'/'.join(_CELL_KEYS)}) and a file column "
            f"({'/'.join(_FILE_KEYS)}); it has {sorted(keys)}",
        )
    cells: dict[str, dict[str, Any]] = {}
    for n, raw in enumerate(rows, start=1):
        r = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
        cid = str(r.pop(cell_key) or "").strip()
        if not cid:
            raise ReadError(p, f"entry {n} has no {cell_key}")
        files = _split_files(r.pop(file_key, None)) + _split_files(r.pop("morphology", None))
        resolved = [
            str((p.parent / f).resolve()) if not Path(f).is_absolute() else f for f in files
        ]
        meta = {k: v for k, v in r.items() if v not in (None, "")}
        entry = cells.setdefault(cid, {"cell_id": cid, "files": [], "metadata": {}})
        entry["files"].extend(f for f in resolved if f not in entry["files"])
        entry["metadata"].update(meta)
    return list(cells.values())
