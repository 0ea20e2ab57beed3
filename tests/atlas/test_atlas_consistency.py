"""What the atlas stores for real recordings is consistent with itself and with the registry.

Every real ABF of ``../shared/data/ephys`` (robustness files aside) is ingested once; then for
every sweep the stored in-window spike rows are its stored ``n_spikes``, every stored feature
name is a registry name of its level, and every row carries its registry unit.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import curated

from patchatlas.atlas import Atlas
from patchatlas.ephys.registry import units_of
from patchatlas.pipeline import ingest

LEVELS = ("cell", "sweep", "spike")


@pytest.fixture(scope="module")
def real_atlas(ephys_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Atlas:
    folder = tmp_path_factory.mktemp("abfs")
    files = curated(sorted(ephys_data.rglob("*.abf")))
    assert len(files) >= 10
    for f in files:
        (folder / f.name).symlink_to(f)
    url = f"sqlite:///{tmp_path_factory.mktemp('atlas') / 'a.db'}"
    summary = ingest(folder, url, workers=2)
    assert (summary.done, summary.failed) == (len(files), 0), summary.failures
    return Atlas(url, mode="r")


def test_stored_spikes_are_the_spikes_behind_n_spikes(real_atlas: Atlas) -> None:
    sweep = real_atlas.ephys_features("sweep", wide=False)
    spikes = real_atlas.ephys_features("spike", wide=False)
    key = ["cell_id", "recording_id", "sweep_number"]
    n_spikes = sweep[sweep["name"] == "n_spikes"].set_index(key)["value"]
    one = spikes[spikes["name"] == "threshold_t"]
    in_window = one[one["in_window"].astype(bool)].groupby(key).size()
    both = pd.concat([n_spikes.rename("n"), in_window.rename("rows")], axis=1).fillna(0)
    assert len(both) == len(n_spikes) > 100  # every analysed sweep has its n_spikes
    assert both["n"].sum() > 500
    bad = both[both["n"] != both["rows"]]
    assert bad.empty, bad
    # every spike row of a sweep has a flag; each spike has the same flag in every column
    assert spikes["in_window"].notna().all()
    flags = spikes.groupby([*key, "spike_index"])["in_window"].nunique()
    assert (flags == 1).all()


def test_only_registry_names_with_their_units(real_atlas: Atlas) -> None:
    n_rows = n_unit = 0
    for level in LEVELS:
        long = real_atlas.ephys_features(level, wide=False)
        units = units_of(level)
        outside = sorted(set(long["name"]) - set(units))
        assert not outside, (level, outside)
        n_rows += len(long)
        n_unit += int((long["unit"] == long["name"].map(units)).sum())
    assert n_rows > 10_000
    assert n_unit / n_rows >= 0.99
    assert n_unit == n_rows  # in fact, all of them


def test_bookkeeping_is_sweep_metadata_and_provenance(real_atlas: Atlas) -> None:
    names = set(real_atlas.ephys_features("sweep", wide=False)["name"])
    names |= set(real_atlas.ephys_features("cell", wide=False)["name"])
    assert not names & {"sweep_number", "filter_khz_used", "n_sweeps", "n_sweeps_failed"}
    from sqlalchemy import text

    with real_atlas.engine.connect() as conn:
        meta = conn.execute(text("SELECT metadata FROM sweeps WHERE metadata IS NOT NULL")).all()
        prov = conn.execute(
            text("SELECT package_version, parameters FROM provenance WHERE engine = 'ephys'")
        ).all()
    assert meta
    assert all("filter_khz_used" in _json(m[0]) for m in meta)
    assert prov
    import patchatlas

    for version, params in prov:
        p = _json(params)
        assert version == patchatlas.__version__
        assert p["profile"] == "allen" and p["counts"]["n_sweeps"] > 0
        assert "filter_khz_used" in p and "parameters" in p


def _json(value: object) -> dict[str, object]:
    import json

    return dict(value) if isinstance(value, dict) else dict(json.loads(str(value)))
