"""The Python API of an atlas: :class:`Atlas`."""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import pandas as pd
from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from patchatlas.atlas import schema as S
from patchatlas.atlas import store
from patchatlas.atlas.db import make_engine, normalize_url, sqlite_path
from patchatlas.atlas.migrate import (
    current_revision,
    drop_all,
    head_revision,
    revisions,
    upgrade,
)
from patchatlas.atlas.records import CELL_FIELDS, CellFailure, CellRecord
from patchatlas.errors import AtlasError, MissingDependencyError

__all__ = ["MODES", "Atlas", "CellMorphology", "CellSweeps", "upgrade_atlas"]

T = S.Base.metadata.tables
EXPORT_FORMATS = ("parquet", "csv", "anndata", "nwb")


@dataclass
class CellSweeps:
    """A cell's sweeps: metadata now (:attr:`table`), traces on first access (from the source).

    ``len(sweeps)``, ``sweeps[i]`` (a :class:`~patchatlas.ephys.Sweep`, read from its file the
    first time), iteration, and :meth:`load` for a whole recording.
    """

    cell_id: str
    table: pd.DataFrame
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.table)

    def _recording(self, path: str) -> Any:
        if path not in self._cache:
            from patchatlas.reading import read as read_file

            self._cache[path] = read_file(path)
        return self._cache[path]

    def __getitem__(self, index: int) -> Any:
        if not -len(self) <= index < len(self):
            raise AtlasError(
                f"cell {self.cell_id!r} has {len(self)} sweeps; index {index} is out of range"
            )
        row = self.table.iloc[index]
        return self._recording(str(row["path"])).sweep(int(row["number"]))

    def __iter__(self) -> Iterator[Any]:
        for i in range(len(self)):
            yield self[i]

    def load(self, path: str | None = None) -> Any:
        """The full :class:`~patchatlas.ephys.Recording` of one source file (the first by
        default).

        Parameters
        ----------
        path
            The source file, as in ``table["path"]`` (default: the first row's file).

        Returns
        -------
        Recording
            The recording read with :func:`patchatlas.read` (cached: read once per file).

        Raises
        ------
        patchatlas.errors.AtlasError
            The cell has no recordings.
        patchatlas.errors.ReadError
            The file cannot be read (moved, deleted, changed ...).
        """
        if len(self) == 0:
            raise AtlasError(f"cell {self.cell_id!r} has no recordings")
        return self._recording(path or str(self.table["path"].iloc[0]))


@dataclass
class CellMorphology:
    """A cell's reconstruction as stored: features, validation issues, source file."""

    cell_id: str
    features: pd.Series
    issues: pd.DataFrame
    source: str | None = None

    def load(self) -> Any:
        """Read the reconstruction from its source file (:func:`patchatlas.read`).

        Returns
        -------
        Morphology
            The node table.
        """
        if self.source is None:
            raise AtlasError(f"cell {self.cell_id!r}: the morphology has no source file")
        from patchatlas.reading import read as read_file

        return read_file(self.source)


#: how :class:`Atlas` opens a database
MODES = ("r", "a", "w")


class Atlas:
    """A cell-types atlas in SQLite (one file) or PostgreSQL (shared).

    Parameters
    ----------
    url
        ``"sqlite:///atlas.db"``, a plain path (SQLite), or ``"postgresql://user@host/db"``.
    mode
        ``"r"``: read an existing atlas; every write is refused (by the database connection
        too). ``"a"`` (default): read and write; an empty database (or a new SQLite file in an
        existing folder) becomes a new atlas. ``"w"``: a new, empty atlas, replacing what the
        database holds.

        No mode migrates: an atlas written by an older patchatlas raises :class:`AtlasError`
        until it is upgraded with ``patchatlas atlas upgrade URL`` (:func:`upgrade_atlas`).

    Raises
    ------
    AtlasError
        No atlas at ``url`` (``"r"``), a SQLite file in a folder that does not exist, a database
        that is not a patchatlas atlas, or a schema from another patchatlas version.

    Examples
    --------
    >>> atlas = Atlas("sqlite:///atlas.db")                      # doctest: +SKIP
    >>> atlas.cells(species="mouse", layer="5")                  # doctest: +SKIP
    >>> Atlas("atlas.db", mode="r").ephys_features(level="cell")  # doctest: +SKIP
    """

    _workers: ClassVar[dict[str, Atlas]] = {}

    def __init__(self, url: str | os.PathLike[str], mode: str = "a") -> None:
        if mode not in MODES:
            raise AtlasError(f"Atlas(mode={mode!r}): use 'r' (read), 'a' (read/write) or 'w' (new)")
        self.url = normalize_url(url)
        self.mode = mode
        path = sqlite_path(self.url)
        if path is not None:
            if mode == "r" and not path.is_file():
                raise AtlasError(
                    f"no atlas at {path}: the file does not exist (check the path, or build one "
                    "with `patchatlas ingest` / `patchatlas demo`)"
                )
            if not path.parent.is_dir():
                raise AtlasError(
                    f"cannot create the atlas {path}: the folder {path.parent} does not exist "
                    "(create it first)"
                )
            if mode == "w":
                for f in (path, *(path.with_name(path.name + x) for x in ("-wal", "-shm"))):
                    f.unlink(missing_ok=True)
        self.engine = make_engine(self.url, read_only=mode == "r")
        try:
            current = current_revision(self.engine)
        except DBAPIError as exc:
            raise AtlasError(f"cannot open the atlas at {self._safe_url}: {exc.orig}") from exc
        head = head_revision()
        if mode == "w" and path is None and current is not None:
            drop_all(self.engine)
            current = None
        if current is None:
            if mode == "r":
                raise AtlasError(f"{self._safe_url} is not a patchatlas atlas (no schema)")
            if _user_tables(self.engine):
                raise AtlasError(
                    f"{self._safe_url} holds tables that are not a patchatlas atlas; use an "
                    "empty database (or mode='w' to replace its contents)"
                )
            upgrade(self.engine)  # a new atlas: create the schema
        elif current != head:
            self.engine.dispose()
            known = current in revisions()
            raise AtlasError(
                f"the atlas at {self._safe_url} is at schema revision {current}; this patchatlas "
                f"uses {head}: "
                + (
                    f"upgrade it with `patchatlas atlas upgrade {self._safe_url}`"
                    if known
                    else "it was written by a newer patchatlas; upgrade patchatlas"
                )
            )

    def require_writable(self, what: str) -> None:
        """Raise :class:`AtlasError` when the atlas is open read-only.

        Parameters
        ----------
        what
            The operation, for the message.
        """
        if self.mode == "r":
            raise AtlasError(
                f"{what}: the atlas at {self._safe_url} is open read-only (mode='r'); open it "
                "with mode='a' to write"
            )

    @property
    def _safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @classmethod
    def for_worker(cls, url: str) -> Atlas:
        """One shared read-write :class:`Atlas` per process and URL (for Dask workers).

        Parameters
        ----------
        url
            Atlas URL.

        Returns
        -------
        Atlas
        """
        if url not in cls._workers:
            cls._workers[url] = cls(url, mode="a")
        return cls._workers[url]

    def __repr__(self) -> str:
        return f"Atlas({self._safe_url!r})"

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Atlas:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------------------- writing

    def write_cell(self, record: CellRecord, *, retries: int = 5) -> int:
        """Store one cell in one transaction (retried on PostgreSQL deadlock/serialisation).

        Parameters
        ----------
        record
            The cell and its engine outputs.
        retries
            Attempts after a deadlock or serialisation failure.

        Returns
        -------
        int
            The cell's database id.
        """
        self.require_writable("write_cell")
        for attempt in range(retries + 1):
            try:
                with self.engine.begin() as conn:
                    return store.write_cell(conn, record)
            except OperationalError as exc:
                code = getattr(exc.orig, "sqlstate", None)
                retriable = code in ("40P01", "40001") or "locked" in str(exc.orig)
                if not retriable or attempt == retries:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    def record_failure(self, failure: CellFailure) -> None:
        """Record a failed cell in ``ingest_errors``.

        Parameters
        ----------
        failure
            Which cell, file, stage and why.
        """
        self.require_writable("record_failure")
        with self.engine.begin() as conn:
            store.record_failure(conn, failure)

    def content_keys(self) -> dict[str, str | None]:
        """``{cell name: content key}`` of every stored cell (the ingest skips a cell whose key
        is unchanged).

        Returns
        -------
        dict
        """
        with self.engine.connect() as conn:
            return store.content_keys(conn)

    def start_run(self, source: str, parameters: dict[str, Any]) -> int:
        """Record the start of an ingest run.

        Parameters
        ----------
        source
            What is ingested (folder, manifest).
        parameters
            Workers, engines, engine parameters.

        Returns
        -------
        int
            The run id (for :meth:`finish_run`).
        """
        from patchatlas._version import __version__
        from patchatlas.atlas.records import json_safe

        self.require_writable("start_run")
        with self.engine.begin() as conn:
            res = conn.execute(
                T["ingest_runs"]
                .insert()
                .values(
                    source=source,
                    started_at=S._now(),
                    parameters=json_safe(parameters),
                    package_version=__version__,
                    n_done=0,
                    n_skipped=0,
                    n_failed=0,
                )
            )
            pk = res.inserted_primary_key
            assert pk is not None
            return int(pk[0])

    def finish_run(self, run_id: int, done: int, skipped: int, failed: int) -> None:
        """Record the outcome of an ingest run.

        Parameters
        ----------
        run_id
            From :meth:`start_run`.
        done, skipped, failed
            Cell counts.
        """
        with self.engine.begin() as conn:
            conn.execute(
                update(T["ingest_runs"])
                .where(T["ingest_runs"].c.id == run_id)
                .values(finished_at=S._now(), n_done=done, n_skipped=skipped, n_failed=failed)
            )

    # ------------------------------------------------------------------------------- reading

    def _read(self, stmt: Select[Any]) -> pd.DataFrame:
        with self.engine.connect() as conn:
            res = conn.execute(stmt)
            return pd.DataFrame(res.fetchall(), columns=list(res.keys()))

    def _cell_pk(self, cell_id: str | int) -> tuple[int, str]:
        c = T["cells"]
        cond = c.c.id == cell_id if isinstance(cell_id, int) else c.c.name == str(cell_id)
        with self.engine.connect() as conn:
            row = conn.execute(select(c.c.id, c.c.name).where(cond)).first()
        if row is None:
            raise AtlasError(
                f"no cell {cell_id!r} in the atlas at {self._safe_url}; list them with "
                "atlas.cells()"
            )
        return int(row.id), str(row.name)

    _CELL_COLUMNS: ClassVar[tuple[str, ...]] = ("id", *CELL_FIELDS)

    def cells(self, **filters: Any) -> pd.DataFrame:
        """The cells and their annotations, indexed by ``cell_id``, optionally filtered.

        Parameters
        ----------
        **filters
            Column = value (``species="mouse"``), a list for any of several values
            (``layer=["5", "6"]``), ``None`` for missing. Columns: ``cell_id``, ``donor``,
            ``dataset``, ``species``, ``region``, ``layer``, ``depth_um``, ``normalized_depth``,
            ``cre_line``, ``reporter``, ``dendrite_type``, ``subclass``, ``t_type``,
            ``t_type_confidence``.

        Returns
        -------
        pandas.DataFrame
            One row per matching cell (in ingest order), indexed by ``cell_id``; columns ``id``
            (database id), the annotations above and ``donor``.

        Raises
        ------
        AtlasError
            An unknown filter column.
        """
        c, d = T["cells"], T["donors"]
        cols: dict[str, Any] = {"cell_id": c.c.name}
        cols.update({k: c.c[k] for k in self._CELL_COLUMNS})
        cols["donor"] = d.c.name
        stmt = select(*[col.label(k) for k, col in cols.items()]).select_from(
            c.outerjoin(d, c.c.donor_id == d.c.id)
        )
        conds = []
        for key, value in filters.items():
            if key not in cols:
                raise AtlasError(
                    f"atlas.cells(): unknown filter {key!r}; filter on {', '.join(sorted(cols))}"
                )
            col = cols[key]
            if value is None:
                conds.append(col.is_(None))
            elif isinstance(value, list | tuple | set | frozenset):
                conds.append(col.in_(list(value)))
            else:
                conds.append(col == value)
        if conds:
            stmt = stmt.where(and_(*conds))
        df = self._read(stmt.order_by(c.c.id))
        return df.set_index("cell_id")

    def cell(self, cell_id: str | int) -> dict[str, Any]:
        """Everything stored about one cell: annotations, donor, files, counts.

        Parameters
        ----------
        cell_id
            The cell's name (``"slice1/cell03"``) or its integer database id.

        Returns
        -------
        dict
            ``cell_id`` (the name), the cell row's columns, ``donor`` (the donor row, when there
            is one), ``files`` (path, size, sha256, format, role of each source file) and
            ``n_recordings``, ``n_ephys_features``, ``n_qc_results``, ``n_morphologies``,
            ``n_models``.

        Raises
        ------
        patchatlas.errors.AtlasError
            No such cell.
        """
        pk, name = self._cell_pk(cell_id)
        c, sf = T["cells"], T["source_files"]
        with self.engine.connect() as conn:
            row = conn.execute(select(c).where(c.c.id == pk)).mappings().one()
            out: dict[str, Any] = {"cell_id": name, **dict(row)}
            out.pop("name", None)
            if row["donor_id"] is not None:
                donor = (
                    conn.execute(select(T["donors"]).where(T["donors"].c.id == row["donor_id"]))
                    .mappings()
                    .one()
                )
                out["donor"] = dict(donor)
            out["files"] = [
                dict(r)
                for r in conn.execute(
                    select(sf.c.path, sf.c.size, sf.c.sha256, sf.c.format, sf.c.role).where(
                        sf.c.cell_id == pk
                    )
                ).mappings()
            ]
            for table in ("recordings", "ephys_features", "qc_results", "morphologies", "models"):
                t = T[table]
                out[f"n_{table}"] = int(
                    conn.execute(
                        select(func.count()).select_from(t).where(t.c.cell_id == pk)
                    ).scalar_one()
                )
        return out

    def sweeps(self, cell_id: str | int) -> CellSweeps:
        """A cell's sweeps: the metadata table, and traces loaded lazily from the source files.

        Parameters
        ----------
        cell_id
            The cell's name or its integer database id.

        Returns
        -------
        CellSweeps
            ``table``: one row per stored sweep (number, clamp_mode, kind, amplitude_pa,
            start_s, end_s, sampling_rate_hz, duration_s, stimulus_name, recording_id, path);
            indexing reads the traces from the files.

        Raises
        ------
        patchatlas.errors.AtlasError
            No such cell.
        """
        pk, name = self._cell_pk(cell_id)
        sw, rec, sf = T["sweeps"], T["recordings"], T["source_files"]
        stmt = (
            select(
                sw.c.number,
                sw.c.clamp_mode,
                sw.c.stimulus_kind.label("kind"),
                sw.c.amplitude_pa,
                sw.c.start_s,
                sw.c.end_s,
                sw.c.sampling_rate_hz,
                sw.c.duration_s,
                sw.c.stimulus_name,
                rec.c.id.label("recording_id"),
                sf.c.path,
            )
            .select_from(sw.join(rec, sw.c.recording_id == rec.c.id))
            .outerjoin(sf, rec.c.source_file_id == sf.c.id)
            .where(rec.c.cell_id == pk)
            .order_by(rec.c.id, sw.c.number)
        )
        return CellSweeps(name, self._read(stmt))

    def ephys_features(
        self,
        level: Literal["cell", "sweep", "spike"] = "cell",
        *,
        wide: bool | None = None,
        cells: Sequence[str] | None = None,
        names: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Electrophysiology features.

        Parameters
        ----------
        level
            ``"cell"``, ``"sweep"`` or ``"spike"``.
        wide
            One row per cell (per recording and sweep, per spike) and one column per feature
            (default for ``level="cell"``); otherwise the long table (``cell_id, level,
            recording_id, sweep_number, spike_index, name, value, unit, native_name, in_window,
            provenance_id, source``; ``source`` is the engine that stored the value: ``ephys``,
            or ``import:<dataset>`` for a published table). In the wide table a value computed
            by patchatlas wins over an imported value of the same name.
        cells, names
            Restrict to these cells / feature names.

        Returns
        -------
        pandas.DataFrame
        """
        if level not in ("cell", "sweep", "spike"):
            raise AtlasError(f"ephys_features(level={level!r}): use 'cell', 'sweep' or 'spike'")
        f, c, pv = T["ephys_features"], T["cells"], T["provenance"]
        stmt = (
            select(
                c.c.name.label("cell_id"),
                f.c.level,
                f.c.recording_id,
                f.c.sweep_number,
                f.c.spike_index,
                f.c.name,
                f.c.value,
                f.c.unit,
                f.c.native_name,
                f.c.in_window,
                f.c.provenance_id,
                pv.c.engine.label("source"),
            )
            .select_from(
                f.join(c, f.c.cell_id == c.c.id).outerjoin(pv, f.c.provenance_id == pv.c.id)
            )
            .where(f.c.level == level)
            .order_by(f.c.id)
        )
        if cells is not None:
            stmt = stmt.where(c.c.name.in_(list(cells)))
        if names is not None:
            stmt = stmt.where(f.c.name.in_(list(names)))
        df = self._read(stmt)
        df["value"] = pd.to_numeric(df["value"], errors="coerce").astype(float)
        if wide is None:
            wide = level == "cell"
        if not wide:
            return df
        index = ["cell_id"] if level == "cell" else ["cell_id", "recording_id", "sweep_number"]
        if level == "spike":
            index.append("spike_index")
        for col in index[1:]:
            df[col] = df[col].astype("Int64")
        # one value per cell and name: what patchatlas computed wins over an imported table's
        # value of the same name (the long table keeps both, with their ``source``)
        imported = df["source"].fillna("").str.startswith("import:")
        df = df.assign(_imported=imported).sort_values("_imported", kind="stable")
        # groupby keeps rows without a recording (features stored by other engines)
        out = df.groupby([*index, "name"], dropna=False, sort=True)["value"].first().unstack()
        out.columns.name = None
        return out

    def spikes(
        self,
        cell_id: str | int,
        *,
        recording_id: int | None = None,
        sweep_number: int | None = None,
    ) -> pd.DataFrame:
        """A cell's stored spikes: one row per spike, one column per spike feature.

        These are the spikes behind the stored sweep features: those with ``in_window`` true are
        each sweep's ``n_spikes``.

        Parameters
        ----------
        cell_id
            Cell name or database id.
        recording_id, sweep_number
            Only this recording / sweep number.

        Returns
        -------
        pandas.DataFrame
            Columns ``recording_id``, ``sweep_number``, ``spike_index``, ``in_window`` and the
            spike features (``threshold_t`` s, ``threshold_v`` mV, ``peak_t`` ...), sorted.
        """
        pk, _ = self._cell_pk(cell_id)
        f = T["ephys_features"]
        stmt = select(
            f.c.recording_id,
            f.c.sweep_number,
            f.c.spike_index,
            f.c.in_window,
            f.c.name,
            f.c.value,
        ).where(f.c.cell_id == pk, f.c.level == "spike")
        if recording_id is not None:
            stmt = stmt.where(f.c.recording_id == recording_id)
        if sweep_number is not None:
            stmt = stmt.where(f.c.sweep_number == sweep_number)
        df = self._read(stmt)
        keys = ["recording_id", "sweep_number", "spike_index"]
        if df.empty:
            return pd.DataFrame(columns=[*keys, "in_window", "threshold_t"])
        df["value"] = pd.to_numeric(df["value"], errors="coerce").astype(float)
        df["recording_id"] = df["recording_id"].astype("Int64")
        flags = df.groupby(keys, dropna=False)["in_window"].first()
        out = df.pivot_table(index=keys, columns="name", values="value", aggfunc="first")
        out.columns.name = None
        out.insert(0, "in_window", flags.reindex(out.index).astype("boolean"))
        return out.reset_index().sort_values(keys, kind="stable").reset_index(drop=True)

    def fi_curve(self, cell_id: str | int) -> pd.DataFrame:
        """A cell's f-I curve from its stored sweep features: long-square sweeps only.

        Parameters
        ----------
        cell_id
            Cell name or database id.

        Returns
        -------
        pandas.DataFrame
            ``recording_id``, ``sweep_number``, ``amplitude_pa`` (pA), ``avg_rate`` (Hz), sorted
            by amplitude.
        """
        pk, _ = self._cell_pk(cell_id)
        f, sw, rec = T["ephys_features"], T["sweeps"], T["recordings"]
        stmt = (
            select(
                f.c.recording_id,
                f.c.sweep_number,
                sw.c.amplitude_pa,
                f.c.value.label("avg_rate"),
            )
            .select_from(
                f.join(rec, f.c.recording_id == rec.c.id).join(
                    sw, (sw.c.recording_id == rec.c.id) & (sw.c.number == f.c.sweep_number)
                )
            )
            .where(
                f.c.cell_id == pk,
                f.c.level == "sweep",
                f.c.name == "avg_rate",
                sw.c.stimulus_kind == "long_square",
            )
        )
        df = self._read(stmt)
        df["avg_rate"] = pd.to_numeric(df["avg_rate"], errors="coerce").astype(float)
        return df.sort_values(["amplitude_pa", "sweep_number"], kind="stable").reset_index(
            drop=True
        )

    def morphology(self, cell_id: str | int) -> CellMorphology:
        """A cell's (first) reconstruction: features, validation issues, source file.

        Parameters
        ----------
        cell_id
            The cell's name or its integer database id.

        Returns
        -------
        CellMorphology
            ``features`` (name → value, registry units), ``issues`` (severity, code, message)
            and ``source`` (the file, for :meth:`CellMorphology.load`).

        Raises
        ------
        patchatlas.errors.AtlasError
            No such cell, or the cell has no morphology.
        """
        pk, name = self._cell_pk(cell_id)
        m, mf, mi, sf = (
            T["morphologies"],
            T["morphology_features"],
            T["morphology_issues"],
            T["source_files"],
        )
        with self.engine.connect() as conn:
            row = conn.execute(
                select(m.c.id, sf.c.path)
                .select_from(m.outerjoin(sf, m.c.source_file_id == sf.c.id))
                .where(m.c.cell_id == pk)
                .order_by(m.c.id)
            ).first()
        if row is None:
            raise AtlasError(f"cell {name!r} has no morphology in the atlas")
        feats = self._read(select(mf.c.name, mf.c.value).where(mf.c.morphology_id == row.id))
        issues = self._read(
            select(mi.c.severity, mi.c.code, mi.c.message).where(mi.c.morphology_id == row.id)
        )
        series = pd.Series(
            pd.to_numeric(feats["value"], errors="coerce").to_numpy(dtype=float),
            index=feats["name"].astype(str),
            name=name,
        )
        return CellMorphology(name, series, issues, row.path)

    def errors(self) -> pd.DataFrame:
        """Cells that failed to ingest: cell, file, stage, error type, reason.

        Returns
        -------
        pandas.DataFrame
            Columns ``cell_name``, ``path``, ``stage``, ``error_type``, ``reason`` and
            ``created_at``, oldest first (empty when nothing failed).
        """
        e = T["ingest_errors"]
        return self._read(
            select(
                e.c.cell_name, e.c.path, e.c.stage, e.c.error_type, e.c.reason, e.c.created_at
            ).order_by(e.c.id)
        )

    def store_crossmodal(
        self,
        results: Any,
        predictions: pd.DataFrame | None = None,
        *,
        cells: Any = None,
        name: str | None = None,
    ) -> int:
        """Store expression → physiology results and return the run id.

        ``results`` is a :class:`patchatlas.crossmodal.BenchmarkReport` (its scores and the
        out-of-fold predictions of repeat 0 are stored; ``cells`` names its rows) or the tidy
        score table (``results.csv``), then with optional ``predictions``
        (:func:`patchatlas.crossmodal.prediction_table`). A run with the same ``name`` (default:
        the dataset) is replaced.

        Parameters
        ----------
        results
            A :class:`~patchatlas.crossmodal.BenchmarkReport`, or the tidy score table.
        predictions
            With a score table: the long prediction table (optional); ignored for a report.
        cells
            With a report: the cell names in the dataset's row order (default ``cell_0`` ...).
        name
            Run name (default: the dataset name).

        Returns
        -------
        int
            The run id (see :func:`patchatlas.atlas.crossmodal.crossmodal_runs`).

        Raises
        ------
        patchatlas.errors.AtlasError
            The atlas is open read-only, or a table lacks required columns.
        """
        from patchatlas.atlas import crossmodal as X

        self.require_writable("store_crossmodal")
        if isinstance(results, pd.DataFrame):
            return X.store_crossmodal(self, results, predictions, name=name)
        return X.store_crossmodal_report(self, results, cells=cells, name=name)

    def store_cell_types(
        self, assignments: pd.DataFrame, *, name: str, kind: str, level: str, method: str, **kw: Any
    ) -> dict[str, Any]:
        """Store a typing run (see :func:`patchatlas.atlas.celltypes.store_cell_types`).

        Parameters
        ----------
        assignments
            Columns ``cell``, ``label`` and optionally ``confidence``.
        name, kind, level, method
            Run name, kind (``t``/``e``/``m``/``me``), level and method.
        **kw
            ``model``, ``scores``, ``parameters``, ``source`` (provenance).

        Returns
        -------
        dict
            ``run_id``, ``n_stored``, ``n_unknown``, ``unknown``.
        """
        from patchatlas.atlas import celltypes as CT

        self.require_writable("store_cell_types")
        return CT.store_cell_types(
            self, assignments, name=name, kind=kind, level=level, method=method, **kw
        )

    def cell_types(self, run: str | int | None = None, **filters: Any) -> pd.DataFrame:
        """Stored type assignments (see :func:`patchatlas.atlas.celltypes.cell_type_assignments`).

        Parameters
        ----------
        run
            Run name or id (default: all runs).
        **filters
            ``cell=`` (name or id), ``kind=`` (``t``/``e``/``m``/``me``).

        Returns
        -------
        pandas.DataFrame
            run, kind, level, method, cell, label, confidence.
        """
        from patchatlas.atlas import celltypes as CT

        return CT.cell_type_assignments(self, run, **filters)

    def store_models(
        self,
        cell_id: str,
        records: Any,
        *,
        kind: str,
        provenance: dict[str, Any] | None = None,
    ) -> list[int]:
        """Store a cell's fitted models of one kind (replacing earlier ones of that kind); see
        :func:`patchatlas.atlas.models.store_models`.

        Parameters
        ----------
        cell_id
            The cell's name.
        records
            Model records (``name``, ``parameters``, ``fit_scores``), e.g.
            :meth:`patchatlas.models.glif.GlifFit.model_records`.
        kind
            The model family (``"glif"``).
        provenance
            How the models were fitted.

        Returns
        -------
        list of int
            The new model ids.
        """
        from patchatlas.atlas.models import store_models

        return store_models(self, cell_id, records, kind=kind, provenance=provenance)

    def models(self, cell_id: str | int | None = None, *, kind: str | None = None) -> pd.DataFrame:
        """Stored models with provenance; see :func:`patchatlas.atlas.models.read_models`.

        Parameters
        ----------
        cell_id
            A cell (default: all).
        kind
            Only this model family (``"glif"``).

        Returns
        -------
        pandas.DataFrame
            One row per model: ``model_id, cell_id, kind, name, parameters, fit_scores,
            package_version, fitted_with, created_at``.
        """
        from patchatlas.atlas.models import read_models

        return read_models(self, cell_id, kind=kind)

    def summary(self) -> dict[str, Any]:
        """URL, schema revision and the number of rows in each table.

        Returns
        -------
        dict
            ``url`` (password hidden), ``revision`` (the Alembic revision) and ``counts``
            (table name → rows).
        """
        with self.engine.connect() as conn:
            counts = store.counts(conn)
        return {
            "url": self._safe_url,
            "revision": current_revision(self.engine),
            "counts": counts,
        }

    # ------------------------------------------------------------------------------- exports

    def _tables_for_export(self) -> dict[str, pd.DataFrame]:
        c, sw, rec, sf = T["cells"], T["sweeps"], T["recordings"], T["source_files"]
        m, mf = T["morphologies"], T["morphology_features"]
        sweeps = self._read(
            select(
                c.c.name.label("cell_id"),
                sf.c.path,
                sw.c.number,
                sw.c.clamp_mode,
                sw.c.stimulus_kind,
                sw.c.stimulus_name,
                sw.c.amplitude_pa,
                sw.c.start_s,
                sw.c.end_s,
                sw.c.sampling_rate_hz,
                sw.c.duration_s,
            )
            .select_from(
                sw.join(rec, sw.c.recording_id == rec.c.id).join(c, rec.c.cell_id == c.c.id)
            )
            .outerjoin(sf, rec.c.source_file_id == sf.c.id)
            .order_by(rec.c.id, sw.c.number)
        )
        morph = self._read(
            select(c.c.name.label("cell_id"), mf.c.name, mf.c.value)
            .select_from(mf.join(m, mf.c.morphology_id == m.c.id).join(c, m.c.cell_id == c.c.id))
            .order_by(mf.c.id)
        )
        return {
            "cells": self.cells().reset_index(),
            "ephys_cell_features": self.ephys_features("cell").reset_index(),
            "ephys_features": pd.concat(
                [self.ephys_features(lv, wide=False) for lv in ("cell", "sweep", "spike")],
                ignore_index=True,
            ),
            "sweeps": sweeps,
            "morphology_features": morph,
            "ingest_errors": self.errors(),
        }

    def export(
        self,
        path: str | os.PathLike[str],
        format: Literal["parquet", "csv", "anndata", "nwb"] = "parquet",
    ) -> list[Path]:
        """Export the atlas.

        Parameters
        ----------
        path
            ``parquet``/``csv``: a folder that receives ``cells``, ``ephys_cell_features`` (wide),
            ``ephys_features`` (long), ``sweeps``, ``morphology_features`` and ``ingest_errors``.
            ``anndata``: an ``.h5ad`` file (``obs`` = cells, ``X`` = cell-level ephys features;
            needs ``anndata``). ``nwb``: an NWB file with the cell and feature tables (needs
            ``pynwb``).
        format
            ``"parquet"``, ``"csv"``, ``"anndata"`` or ``"nwb"``.

        Returns
        -------
        list of Path
            The files written.
        """
        if format not in EXPORT_FORMATS:
            raise AtlasError(f"export format {format!r} is not one of {', '.join(EXPORT_FORMATS)}")
        needs = {"anndata": "anndata", "nwb": "pynwb", "parquet": "pyarrow"}.get(format)
        if needs is not None and importlib.util.find_spec(needs) is None:
            extra = {"anndata": "anndata", "pynwb": "nwb", "pyarrow": "atlas"}[needs]
            raise MissingDependencyError(
                f"export(format={format!r}) needs {needs}; install it with "
                f"`pip install {needs}` (or the patchatlas[{extra}] extra)"
            )
        from patchatlas.io.atlas_export import write_anndata, write_nwb, write_tables

        out = Path(path)
        if format == "anndata":
            cells = self.cells()
            feats = self.ephys_features("cell").reindex(cells.index)
            return [write_anndata(out, cells, feats)]
        tables = self._tables_for_export()
        if format == "nwb":
            return [write_nwb(out, tables, source=self._safe_url)]
        return write_tables(out, tables, format=format)


def _user_tables(engine: Any) -> list[str]:
    from sqlalchemy import inspect

    return [t for t in inspect(engine).get_table_names() if t != "alembic_version"]


def upgrade_atlas(url: str | os.PathLike[str]) -> tuple[str | None, str]:
    """Migrate an atlas written by an older patchatlas to this version's schema.

    The migrations ship in :mod:`patchatlas.atlas.migrations`; each says what it changes (and
    which stored results it marks for recomputation). On PostgreSQL concurrent callers are
    serialised.

    Parameters
    ----------
    url
        The atlas.

    Returns
    -------
    (from_revision, to_revision)
        The schema revision before and after.

    Raises
    ------
    AtlasError
        No atlas at ``url``, or an atlas from a newer patchatlas.
    """
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        raise AtlasError(f"no atlas at {path}: the file does not exist")
    engine = make_engine(url)
    try:
        before = current_revision(engine)
        if before is None:
            raise AtlasError(f"{normalize_url(url)} is not a patchatlas atlas (no schema)")
        if before not in revisions():
            raise AtlasError(
                f"the atlas is at schema revision {before}, unknown to this patchatlas (newer?)"
            )
        upgrade(engine)
        return before, head_revision()
    finally:
        engine.dispose()
