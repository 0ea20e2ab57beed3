"""Neurolucida ASCII (``.asc``) reader.

The file is an S-expression: a ``("CellBody" ... (x y z d) ...)`` contour for the soma and one
``( (Color ...) (Axon|Dendrite|Apical) (x y z d) ... ( branch | branch ) )`` form per neurite.
Diameters are halved to radii. The soma becomes one node at the contour centroid with the mean
centroid distance as radius (the contour is kept in ``morph.soma_contour``); neurite roots hang
from it. A point may carry a label token after its numbers (``(1 1 0 1 S1)``, Neurolucida's
section/slice labels): it is a point all the same. Spines (``<( ... )>``) are not neurite points:
they are kept as annotations in ``meta["spines"]`` (the spine's points in µm, its radius and the
id of the neurite node it follows) and no feature counts them, as MorphIO drops them. Markers,
colours and names are skipped. The parser is iterative (no recursion), so deep trees cannot
overflow the stack.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from patchatlas.errors import CorruptFileError, ReadError
from patchatlas.io._common import check_file, wrap_errors

if TYPE_CHECKING:
    from patchatlas.core.morphology import Morphology

__all__ = ["parse_asc", "read_asc"]

_TOKEN = re.compile(r'"[^"]*"|\(|\)|\||<|>|[^\s()|"<>]+')
_SPINE = "<spine>"  # first item of the list a spine's forms are nested in
_TYPES = {"axon": 2, "dendrite": 3, "apical": 4, "basal": 3}
_MAX_BYTES = 256 * 1024 * 1024


def _tokenize(text: str) -> list[str]:
    text = re.sub(r";[^\n]*", "", text)
    return _TOKEN.findall(text)


def _nest(tokens: list[str], where: Path | None) -> list[Any]:
    root: list[Any] = []
    stack: list[list[Any]] = [root]
    for tok in tokens:
        if tok == "(":
            new: list[Any] = []
            stack[-1].append(new)
            stack.append(new)
        elif tok == ")":
            if len(stack) == 1 or stack[-1][:1] == [_SPINE]:
                raise CorruptFileError(where, "unbalanced ')' in the Neurolucida file")
            stack.pop()
        elif tok == "<":
            spine: list[Any] = [_SPINE]
            stack[-1].append(spine)
            stack.append(spine)
        elif tok == ">":
            if stack[-1][:1] != [_SPINE]:
                raise CorruptFileError(where, "a '>' closes no spine '<' in the Neurolucida file")
            stack.pop()
        else:
            stack[-1].append(tok)
    if len(stack) != 1:
        raise CorruptFileError(
            where, "the Neurolucida file ends inside an open '('", "the file may be truncated"
        )
    return root


def _as_point(item: Any) -> list[float] | None:
    """``[x, y, z, d]`` of a point form ``(x y z [d] [label])``, else None."""
    if not isinstance(item, list) or len(item) < 3:
        return None
    vals: list[float] = []
    for k, v in enumerate(item):
        if isinstance(v, list):
            break
        try:
            vals.append(float(v))
        except ValueError:
            # a label token after the numbers (S1, R3-1 ...) keeps the point a point
            if len(vals) >= 3 and all(isinstance(t, str) for t in item[k:]):
                break
            return None
        if len(vals) == 4:
            break
    if len(vals) < 3:
        return None
    if len(vals) == 3:
        vals.append(0.0)
    return vals[:4]


def _keyword(form: list[Any]) -> str | None:
    for item in form:
        if isinstance(item, list) and len(item) == 1 and isinstance(item[0], str):
            k = item[0].strip('"').lower()
            if k in _TYPES or k == "cellbody":
                return k
        if isinstance(item, str):
            k = item.strip('"').lower()
            if k == "cellbody":
                return k
    return None


def parse_asc(text: str, *, name: str = "", source: str | None = None) -> Morphology:
    """Parse Neurolucida ASCII text into a :class:`~patchatlas.morphology.Morphology`.

    Parameters
    ----------
    text
        The content of a ``.asc`` file.
    name
        Label of the morphology.
    source
        Path the text came from, named in error messages and kept in ``Morphology.source``.

    Returns
    -------
    Morphology
        Coordinates and radii in µm (diameters halved); the soma is one node at the centroid
        of the ``CellBody`` contour (its mean centroid distance as radius, the contour in
        ``soma_contour``), and ``meta`` holds ``format``, ``n_neurites``,
        ``section_start_ids`` and ``spines`` (annotations, not nodes; see the module docs).

    Raises
    ------
    patchatlas.errors.CorruptFileError
        Unbalanced parentheses or spine brackets, or neither a soma contour nor a neurite.
    """
    from patchatlas.core.morphology import Morphology

    where = Path(source) if source else None
    forms = _nest(_tokenize(text), where)
    contour: list[list[float]] = []
    rows: list[list[float]] = []  # id type x y z r parent (parent as row index, -1 = soma)
    block_starts: list[int] = []  # first point of each child section written in the file
    spines: list[tuple[int, list[list[float]]]] = []  # (row it follows, points)
    n_neurites = 0
    for form in forms:
        if not isinstance(form, list):
            continue
        kind = _keyword(form)
        if kind == "cellbody":
            contour.extend(p for p in (_as_point(i) for i in form) if p is not None)
            continue
        if kind not in _TYPES:
            continue
        n_neurites += 1
        ntype = _TYPES[kind]
        # iterative walk: (items, parent_row)
        work: list[tuple[list[Any], int, bool]] = [(form, -1, False)]
        while work:
            items, par, from_block = work.pop()
            last = par
            first = from_block
            for item in items:
                if item == "|":
                    continue
                if isinstance(item, list) and item[:1] == [_SPINE]:
                    pts = [q for q in (_as_point(i) for i in item[1:]) if q is not None]
                    if pts:
                        spines.append((last, pts))
                    continue
                pt = _as_point(item)
                if pt is not None:
                    rows.append([ntype, pt[0], pt[1], pt[2], pt[3] / 2.0, last])
                    last = len(rows) - 1
                    if first:
                        block_starts.append(last)
                        first = False
                    continue
                if isinstance(item, list) and item and isinstance(item[0], list):
                    # a branch block: children separated by '|'
                    child: list[Any] = []
                    children: list[list[Any]] = []
                    for sub in item:
                        if sub == "|":
                            children.append(child)
                            child = []
                        else:
                            child.append(sub)
                    children.append(child)
                    work.extend((c, last, True) for c in reversed(children) if c)
    if not rows and not contour:
        raise CorruptFileError(
            where, "no soma contour and no neurite found in the Neurolucida file"
        )
    table = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
    n = table.shape[0]
    have_soma = bool(contour)
    c = np.asarray(contour, dtype=np.float64)[:, :3] if have_soma else None
    ids = np.arange(1, n + 1 + int(have_soma), dtype=np.int64)
    types = [1] if have_soma else []
    xyz = [c.mean(axis=0)] if c is not None else []
    rad = [float(np.linalg.norm(c - c.mean(axis=0), axis=1).mean())] if c is not None else []
    shift = int(have_soma)
    par_rows = table[:, 5].astype(np.int64)
    parent_ids = np.where(par_rows >= 0, par_rows + 1 + shift, 1 if have_soma else -1)
    all_types = np.concatenate([np.asarray(types, dtype=np.int64), table[:, 0].astype(np.int64)])
    all_xyz = np.vstack([np.asarray(xyz).reshape(-1, 3), table[:, 1:4]])
    all_r = np.concatenate([np.asarray(rad, dtype=np.float64), table[:, 4]])
    all_par = np.concatenate([np.asarray([-1] if have_soma else [], dtype=np.int64), parent_ids])
    return Morphology.from_arrays(
        ids,
        all_types,
        all_xyz,
        all_r,
        all_par,
        name=name,
        source=source,
        soma_contour=c,
        meta={
            "format": "asc",
            "n_neurites": n_neurites,
            # ids of the first point of every child section written as a branch block: the
            # neurom convention starts a section there even with a single child (MorphIO does)
            "section_start_ids": (np.asarray(block_starts, dtype=np.int64) + 1 + shift).tolist(),
            # spines: annotations, not neurite nodes (points x, y, z and radius in µm)
            "spines": [
                {
                    "node_id": int(row + 1 + shift) if row >= 0 else (1 if have_soma else -1),
                    "points": [[p[0], p[1], p[2], p[3] / 2.0] for p in pts],
                }
                for row, pts in spines
            ],
        },
    )


def read_asc(
    path: str | Path, *, name: str | None = None, max_bytes: int | None = _MAX_BYTES
) -> Morphology:
    """Read a Neurolucida ``.asc`` file.

    Parameters
    ----------
    path
        The file.
    name
        Label (default: the file stem).
    max_bytes
        Refuse larger files before reading (``None``: no limit).

    Returns
    -------
    Morphology
        The node table in µm; see :func:`parse_asc`.

    Raises
    ------
    patchatlas.errors.ReadError
        Missing, empty, oversize or malformed file.
    """
    p = Path(path)
    check_file(p)
    size = p.stat().st_size
    if max_bytes is not None and size > max_bytes:
        raise ReadError(
            p,
            f"is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit",
            "pass max_bytes=None to read it anyway",
        )
    text = p.read_bytes().decode("utf-8", errors="replace")
    with wrap_errors(p, "a Neurolucida ASCII file"):
        return parse_asc(text, name=name if name is not None else p.stem, source=str(p))
