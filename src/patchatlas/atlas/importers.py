"""Import published Patch-seq tables into an atlas (one transaction per dataset).

Cells are keyed by their published id (Allen specimen ids, Scala ``20180918_sample_1`` ids), so
importing two datasets that share specimens annotates the same cells. Every row written carries a
provenance record with engine ``import:<dataset>``; importing a dataset again replaces what its
previous import wrote and nothing else.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Connection, delete, insert, select

from patchatlas.atlas import schema as S
from patchatlas.atlas.api import Atlas
from patchatlas.atlas.store import as_float, insert_provenance, upsert_cells

__all__ = ["import_published"]

T = S.Base.metadata.tables


def _delete_previous(conn: Connection, engine: str) -> None:
    prov = select(T["provenance"].c.id).where(T["provenance"].c.engine == engine)
    for name in ("ephys_features", "qc_results", "cell_labels", "cell_datasets"):
        t = T[name]
        conn.execute(delete(t).where(t.c.provenance_id.in_(prov)))
    m = T["morphologies"]
    m_ids = select(m.c.id).where(m.c.provenance_id.in_(prov))
    for name in ("morphology_features", "morphology_issues"):
        t = T[name]
        conn.execute(delete(t).where(t.c.morphology_id.in_(m_ids)))
    conn.execute(delete(m).where(m.c.provenance_id.in_(prov)))


def _text(v: Any) -> str | None:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    s = str(v).strip()
    return s[:300] or None


def _meta(row: pd.Series, dataset: str) -> dict[str, Any]:
    out: dict[str, Any] = {"dataset": dataset}
    for k, v in row.items():
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            continue
        out[str(k)] = v
    return out


def import_published(atlas: Atlas, ds: Any) -> dict[str, int]:
    """Write a :class:`~patchatlas.datasets.published.PublishedDataset` into ``atlas``.

    One transaction; the feature, QC, label and morphology rows of an earlier import of the same
    dataset are replaced, cells are created or updated (a cell already labelled with another
    dataset keeps that label in ``cells.dataset``; every dataset that names a cell is recorded in
    ``cell_datasets``, and each annotation as the dataset gave it in ``cell_labels``). The
    provenance row keeps the dataset's tables, citation and licence.

    Parameters
    ----------
    atlas
        The open atlas (writable).
    ds
        The loaded dataset (:func:`patchatlas.datasets.published.load_published`).

    Returns
    -------
    dict
        Counts: cells, ephys feature values, cells with ephys, morphologies, QC values,
        transcriptome links, labels.
    """
    engine = f"import:{ds.name}"
    counts = {
        "cells": 0,
        "ephys_values": 0,
        "ephys_cells": 0,
        "morphologies": 0,
        "qc": 0,
        "transcriptome_links": 0,
        "labels": 0,
    }
    atlas.require_writable("import_published")
    with atlas.engine.begin() as conn:
        _delete_previous(conn, engine)
        prov = insert_provenance(
            conn,
            engine,
            {
                "dataset": ds.name,
                "sources": ds.sources,
                "tables": dict(getattr(ds, "tables", {}) or {}),
                **dict(getattr(ds, "info", {}) or {}),
            },
        )
        c = T["cells"]
        # a cell shared with an earlier dataset keeps its first dataset label
        labelled = {r.name for r in conn.execute(select(c.c.name).where(c.c.dataset.is_not(None)))}
        metas: dict[str, dict[str, Any]] = {}
        for name, row in ds.cells.iterrows():
            meta = _meta(row, ds.name)
            if str(name) in labelled:
                meta.pop("dataset")
            metas[str(name)] = meta
        extra_names = set()
        for table in (ds.ephys, ds.qc, ds.morphology):
            if table is not None:
                extra_names |= set(table["cell"].astype(str))
        if ds.transcriptome is not None:
            extra_names |= set(ds.transcriptome.samples.index.astype(str))
        for name in sorted(extra_names - set(metas)):
            metas[name] = {} if name in labelled else {"dataset": ds.name}
        ids = upsert_cells(conn, metas)
        counts["cells"] = len(ids)

        def cell_id(name: str) -> int:
            return ids[name]

        if ds.ephys is not None and len(ds.ephys):
            e = ds.ephys
            rows = [
                {
                    "cell_id": cell_id(str(c)),
                    "level": "cell",
                    "name": str(n),
                    "value": as_float(v),
                    "unit": u if isinstance(u, str) else None,
                    "native_name": str(nn),
                    "provenance_id": prov,
                }
                for c, n, v, u, nn in zip(
                    e["cell"], e["name"], e["value"], e["unit"], e["native_name"], strict=True
                )
            ]
            conn.execute(insert(T["ephys_features"]), rows)
            counts["ephys_values"] = len(rows)
            counts["ephys_cells"] = int(e["cell"].nunique())
        conn.execute(
            insert(T["cell_datasets"]),
            [{"cell_id": i, "dataset": ds.name, "provenance_id": prov} for i in ids.values()],
        )
        labels = getattr(ds, "labels", None)
        if labels is not None and len(labels):
            conn.execute(
                insert(T["cell_labels"]),
                [
                    {
                        "cell_id": cell_id(str(c)),
                        "field": str(f),
                        "value": _text(v),
                        "native": _text(n),
                        "dataset": ds.name,
                        "source": _text(s),
                        "provenance_id": prov,
                    }
                    for c, f, v, n, s in zip(
                        labels["cell"],
                        labels["field"],
                        labels["value"],
                        labels["native"],
                        labels["source"],
                        strict=True,
                    )
                ],
            )
            counts["labels"] = len(labels)
        if ds.qc is not None and len(ds.qc):
            q = ds.qc
            passed = q["passed"] if "passed" in q else pd.Series(None, index=q.index)
            message = q["message"] if "message" in q else pd.Series(None, index=q.index)
            qrows = [
                {
                    "cell_id": cell_id(str(c)),
                    "check": str(k),
                    "value": as_float(v),
                    "passed": None if p is None or p is pd.NA or p != p else bool(p),
                    "message": _text(m),
                    "provenance_id": prov,
                }
                for c, k, v, p, m in zip(
                    q["cell"], q["check"], q["value"], passed, message, strict=True
                )
            ]
            conn.execute(insert(T["qc_results"]), qrows)
            counts["qc"] = len(qrows)
        if ds.morphology is not None and len(ds.morphology):
            m = T["morphologies"]
            morph_cells = list(dict.fromkeys(ds.morphology["cell"].astype(str)))
            conn.execute(
                insert(m),
                [
                    {
                        "cell_id": ids[c],
                        "convention": ds.name,
                        "metadata": {},
                        "provenance_id": prov,
                    }
                    for c in morph_cells
                ],
            )
            mid = {
                int(r.cell_id): int(r.id)
                for r in conn.execute(select(m.c.id, m.c.cell_id).where(m.c.provenance_id == prov))
            }
            mf = ds.morphology
            frows = [
                {
                    "morphology_id": mid[ids[str(c)]],
                    "name": str(n),
                    "value": as_float(v),
                    "unit": None,
                    "native_name": str(nn),
                    "provenance_id": prov,
                }
                for c, n, v, nn in zip(
                    mf["cell"], mf["name"], mf["value"], mf["native_name"], strict=True
                )
            ]
            conn.execute(insert(T["morphology_features"]), frows)
            counts["morphologies"] = len(morph_cells)
        tr = ds.transcriptome
        if tr is not None:
            td = T["transcriptome_datasets"]
            conn.execute(delete(td).where(td.c.name == tr.name))
            res = conn.execute(
                insert(td).values(
                    name=tr.name,
                    path=tr.path,
                    format=tr.format,
                    sha256=tr.sha256,
                    n_cells=len(tr.samples),
                    n_genes=tr.n_genes,
                    metadata={"dataset": ds.name},
                )
            )
            pk = res.inserted_primary_key
            assert pk is not None
            lib = tr.library_size if tr.library_size is not None else pd.Series(dtype=float)
            genes = tr.genes_detected if tr.genes_detected is not None else pd.Series(dtype=float)
            links = []
            for c, sample in tr.samples.items():
                g = as_float(genes.get(c))
                links.append(
                    {
                        "cell_id": cell_id(str(c)),
                        "dataset_id": int(pk[0]),
                        "sample_id": str(sample),
                        "library_size": as_float(lib.get(c)),
                        "genes_detected": None if g is None else int(g),
                    }
                )
            if links:
                conn.execute(insert(T["cell_transcriptomes"]), links)
            counts["transcriptome_links"] = len(links)
    return counts
