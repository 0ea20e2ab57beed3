"""Schema migrations: create at the first revision, fill, upgrade to head, data intact."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy import inspect, text

from patchatlas.atlas import (
    Atlas,
    AtlasError,
    current_revision,
    head_revision,
    upgrade,
    upgrade_atlas,
)
from patchatlas.atlas.db import make_engine


def test_first_revision_to_head_keeps_data(atlas_url: str) -> None:
    engine = make_engine(atlas_url)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    assert "ingest_runs" not in inspect(engine).get_table_names()
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO cells (name, species, layer, t_type, t_type_confidence, metadata, "
                "created_at, updated_at) VALUES ('old1', 'mouse', '5', 'L5 ET_1', 0.88, '{}', "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        cell_id = conn.execute(text("SELECT id FROM cells WHERE name = 'old1'")).scalar_one()
        conn.execute(
            text(
                "INSERT INTO provenance (engine, package_version, parameters, created_at) "
                "VALUES ('ephys', '0.0.1', '{}', CURRENT_TIMESTAMP)"
            )
        )
        for level, name, value in (
            ("cell", "vrest", -71.5),
            ("cell", "n_sweeps", 16.0),  # bookkeeping, not a feature
            ("sweep", "filter_khz_used", 10.0),  # bookkeeping, not a feature
            ("spike", "threshold_v", -40.0),  # whole-sweep re-detection: inconsistent
        ):
            conn.execute(
                text(
                    "INSERT INTO ephys_features (cell_id, level, name, value, provenance_id) "
                    "VALUES (:c, :l, :n, :v, 1)"
                ),
                {"c": cell_id, "l": level, "n": name, "v": value},
            )
        conn.execute(text("UPDATE cells SET content_key = 'old-key' WHERE id = :c"), {"c": cell_id})
    engine.dispose()

    # opening never migrates, in any mode
    for mode in ("a", "r"):
        with pytest.raises(AtlasError, match=r"revision 0001.*patchatlas atlas upgrade"):
            Atlas(atlas_url, mode=mode)
    assert upgrade_atlas(atlas_url) == ("0001", head_revision())
    atlas = Atlas(atlas_url)
    assert current_revision(atlas.engine) == head_revision() != "0001"
    long = pd.concat([atlas.ephys_features(lv, wide=False) for lv in ("cell", "sweep", "spike")])
    assert list(long["name"]) == ["vrest"] and list(long["unit"]) == ["mV"]
    assert atlas.content_keys() == {"old1": None}  # recomputed by the next ingest
    tables = inspect(atlas.engine).get_table_names()
    assert {"ingest_runs", "crossmodal_runs", "crossmodal_scores"} <= set(tables)
    cells = atlas.cells()
    assert cells.loc["old1", "t_type"] == "L5 ET_1"
    assert cells.loc["old1", "t_type_confidence"] == pytest.approx(0.88)
    assert atlas.ephys_features().loc["old1", "vrest"] == -71.5


def test_head_matches_the_orm_schema(atlas_url: str) -> None:
    """The migrations build exactly the tables the ORM describes (no drift)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from patchatlas.atlas.schema import Base

    atlas = Atlas(atlas_url)
    with atlas.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_downgrade_to_first_revision(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from alembic import command

    from patchatlas.atlas.migrate import alembic_config

    atlas = Atlas(tmp_path / "a.db")
    cfg = alembic_config()
    with atlas.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0001")
    assert current_revision(atlas.engine) == "0001"
    tables = inspect(atlas.engine).get_table_names()
    assert "ingest_runs" not in tables and "crossmodal_scores" not in tables
