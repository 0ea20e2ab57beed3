"""The Allen Cell Types client against the loopback stand-in of the Allen Brain Atlas API
(fake_services.py: the 117 real rows of the Allen specimen table, NWB 1 files in the Allen
download layout written from real traces, real SWC / marker / GLIF files), the ``ef__``/``nr__``
importer on the real table, and a fetch into an atlas with the cell-by-cell comparison."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from fake_services import SWC, Fault

from patchatlas.datasets.allen import (
    EF_TO_REGISTRY,
    NR_TO_REGISTRY,
    AllenCellTypes,
    compare_allen_features,
    fetch_allen,
    load_allen_celltypes,
    summarize_comparison,
)
from patchatlas.datasets.published import load_published
from patchatlas.errors import DownloadError, ParameterError


def _client(server, tmp_path, sleeps, **kw) -> AllenCellTypes:
    return AllenCellTypes(tmp_path / "cache", api=server.allen_url, sleep=sleeps, **kw)


def _queries(server, model: str) -> list[str]:
    return [e["query"] for e in server.services.log if f"model::{model}" in e["query"]]


def test_specimen_table_is_paged_and_cached(server, tmp_path, sleeps):
    allen = _client(server, tmp_path, sleeps, page_size=25)
    df = allen.specimens()
    rows = server.services.rows
    assert len(df) == len(rows) and df.index.is_unique
    pages = _queries(server, "ApiCellTypesSpecimenDetail")
    assert len(pages) == math.ceil(len(rows) / 25)
    assert all("[num_rows$eq25]" in q and "[order$eq'specimen__id']" in q for q in pages)
    assert [q.split("start_row$eq")[1].split("]")[0] for q in pages] == [
        str(25 * k) for k in range(len(pages))
    ]
    # the table is cached: a new client on the same cache asks nothing
    n = len(server.services.log)
    again = _client(server, tmp_path, sleeps).specimens()
    assert len(server.services.log) == n
    pd.testing.assert_frame_equal(df, again, check_like=True)


def test_paging_survives_injected_500s(server, tmp_path, sleeps):
    server.services.faults.append(Fault("start_row\\$eq50", "status", times=2))
    df = _client(server, tmp_path, sleeps, page_size=25).specimens()
    assert len(df) == len(server.services.rows) and len(sleeps) == 2


def test_select_filters(server, tmp_path, sleeps):
    allen = _client(server, tmp_path, sleeps)
    rows = server.services.rows
    l5 = allen.select(species="mouse", layer="5")
    assert sorted(l5.index) == sorted(
        r["specimen__id"] for r in rows if r["structure__layer"] == "5"
    )
    assert len(allen.select(species="mouse", layer="5", limit=4)) == 4
    assert list(allen.select(layer="5", limit=4).index) == sorted(l5.index)[:4]
    assert allen.select(species="human").empty
    sst = allen.select(cre_line="sst")
    assert len(sst) and all("Sst" in x for x in sst["line_name"])
    assert set(allen.select(has_reconstruction=True).index) == set(SWC)
    aspiny = allen.select(dendrite_type="aspiny", structure="VISp")
    assert len(aspiny) and set(aspiny["tag__dendrite_type"]) == {"aspiny"}
    models = allen.select(has_models=True)
    assert all(r["m__glif"] or r["m__biophys_perisomatic"] for _, r in models.iterrows())
    with pytest.raises(ParameterError):
        allen.select(limit=0)


def test_download_every_kind(server, tmp_path, sleeps):
    allen = _client(server, tmp_path, sleeps)
    ids = [464198958, next(s for s in server.services.by_id if s not in SWC)]
    table, files = allen.download(
        ids, kinds=("ephys", "reconstruction", "markers", "sweeps", "models")
    )
    swc, marker = SWC[464198958]
    base = Path(server.services.shared) / "morphology/allen_swc"
    assert Path(table.at[464198958, "reconstruction"]).read_bytes() == (base / swc).read_bytes()
    assert Path(table.at[464198958, "markers"]).read_bytes() == (base / marker).read_bytes()
    assert table.at[ids[1], "reconstruction"] is None
    sweeps = json.loads(Path(table.at[464198958, "sweeps"]).read_text())
    assert [r["sweep_number"] for r in sweeps] == sorted(
        r["sweep_number"] for r in server.services.sweep_table
    )
    assert len(table.at[464198958, "models"]) == 2 and table.at[ids[1], "models"] == []
    # one Specimen query for both specimens ($in), files fetched once each
    assert len(_queries(server, "Specimen,")) == 1
    assert len({f.path for f in files}) == len(files) == 6  # 3 + 2 models, 1 NWB


def test_fetch_into_an_atlas_then_compare(server, tmp_path, sleeps):
    pytest.importorskip("sqlalchemy")
    from patchatlas.atlas import Atlas
    from patchatlas.atlas.sources import features_by_engine

    allen = _client(server, tmp_path, sleeps)
    url = f"sqlite:///{tmp_path / 'atlas.db'}"
    ids = [464198958, 479704527, 313861608]
    events: list[tuple[str, int, int]] = []
    res = fetch_allen(
        url,
        specimen_ids=ids,
        client=allen,
        progress=lambda ev, name, done, total: events.append((ev, done, total)),
    )
    assert res.ingest is not None and (res.ingest.done, res.ingest.failed) == (3, 0)
    assert sorted(res.cells.index) == sorted(str(i) for i in ids)
    assert res.bytes_downloaded == sum(f.size for f in res.files) and res.bytes_cached == 0
    assert {"bytes", "file", "cell"} <= {e[0] for e in events}
    assert sum(e[1] for e in events if e[0] == "bytes") == res.bytes_downloaded
    assert res.provenance["base_url"] == server.allen_url

    atlas = Atlas(url, mode="r")
    cells = atlas.cells()
    assert set(cells.index) == {str(i) for i in ids}
    row = server.services.by_id[464198958]
    assert cells.loc["464198958", "layer"] == row["structure__layer"]
    assert cells.loc["464198958", "cre_line"] == row["line_name"]
    assert cells.loc["464198958", "species"] == "mouse"
    info = atlas.cell("464198958")
    src = info["metadata"]["source"]
    assert src["specimen_id"] == 464198958 and "464198958" in src["label"]
    assert set(info["metadata"]["source_files"]) == {"ephys", "reconstruction", "markers"}
    assert info["n_recordings"] == 1 and info["n_morphologies"] >= 1
    assert atlas.morphology("464198958").features["number_stems"] > 0

    # Allen's own values, stored under the import's provenance, keyed like the registry
    by_engine = features_by_engine(atlas, cells=["464198958"])
    imported = by_engine[by_engine["engine"] == "import:allen_celltypes"]
    vrest = imported[imported["name"] == "vrest"]
    assert vrest["value"].iloc[0] == pytest.approx(row["ef__vrest"])
    assert vrest["native_name"].iloc[0] == "ef__vrest"

    table = compare_allen_features(url)
    assert set(table["cell_id"]) == {str(i) for i in ids}
    v = table[(table["name"] == "vrest") & (table["cell_id"] == "464198958")].iloc[0]
    ours = by_engine[(by_engine["engine"] == "ephys") & (by_engine["name"] == "vrest")]
    assert v["allen"] == pytest.approx(row["ef__vrest"])
    assert v["patchatlas"] == pytest.approx(ours["value"].iloc[0])
    assert v["difference"] == pytest.approx(v["patchatlas"] - v["allen"])
    stems = table[(table["name"] == "number_stems") & (table["cell_id"] == "464198958")]
    assert stems["kind"].tolist() == ["morphology"]
    assert stems["allen"].iloc[0] == row["nr__number_stems"]
    summary = summarize_comparison(table)
    assert set(summary["name"]) == set(table["name"])
    assert (summary.set_index("name").loc["vrest", "cells"]) == 3

    # a second fetch of the same cells: everything from the cache, nothing recomputed
    n = len(server.services.log)
    again = fetch_allen(url, specimen_ids=ids, client=allen)
    assert again.bytes_downloaded == 0 and all(f.cached for f in again.files)
    assert again.ingest is not None and again.ingest.skipped == 3
    assert not [e for e in server.services.log[n:] if "well_known_file_download" in e["path"]]
    # a later fetch of another cell keeps the Allen values of the earlier ones
    fetch_allen(url, specimen_ids=[486111903], client=allen)
    assert set(compare_allen_features(url)["cell_id"]) == {str(i) for i in [*ids, 486111903]}


def test_fetch_with_no_match_is_a_clear_error(server, tmp_path, sleeps):
    with pytest.raises(ParameterError, match="no Allen specimen matches"):
        fetch_allen(None, species="human", client=_client(server, tmp_path, sleeps))


def test_importer_maps_the_real_allen_table(shared_data):
    """The 117-cell export of ApiCellTypesSpecimenDetail (its values one column right of the
    headers after the split specimen name): realigned, ef__/nr__ mapped to registry names."""
    folder = shared_data / "ephys/allen_metadata"
    ds = load_allen_celltypes(folder)
    assert ds.name == "allen_celltypes" and len(ds.cells) == 117
    raw = pd.read_csv(folder / "osb_allen_cell_data.csv", dtype=str, keep_default_na=False)
    first = raw.iloc[0]
    cell = str(first["specimen__id"])
    # after the split name, the value of column k sits under header k - 1
    cols = list(raw.columns)
    vrest_raw = float(first.iloc[cols.index("ef__vrest") + 1])
    e = ds.ephys[(ds.ephys["cell"] == cell) & (ds.ephys["name"] == "vrest")]
    assert e["value"].iloc[0] == pytest.approx(vrest_raw) and e["unit"].iloc[0] == "mV"
    assert ds.cells.loc[cell, "layer"] == first.iloc[cols.index("structure__layer") + 1]
    assert ds.cells.loc[cell, "source"]["specimen_name"] == (
        f"{first['specimen__name']};{first['specimen__hemisphere']}"
    )
    assert set(ds.ephys["native_name"]) <= set(EF_TO_REGISTRY)
    assert ds.morphology is not None
    assert set(ds.morphology["name"]) == {v[0] for v in NR_TO_REGISTRY.values()}
    # registered as a published dataset (patchatlas atlas import allen_celltypes FOLDER)
    assert len(load_published("allen", folder).cells) == 117


def test_mapped_names_and_units_are_the_registries():
    from patchatlas.ephys.registry import units_of
    from patchatlas.morphology.registry import feature_registry

    cell_units = units_of("cell")
    for native, (name, unit, _) in EF_TO_REGISTRY.items():
        assert name in cell_units, native
        assert cell_units[name] == unit, native
    morph = feature_registry("allen").set_index("name")["unit"]
    for native, (name, unit, _) in NR_TO_REGISTRY.items():
        assert morph[name] == unit, native


def test_fetched_cells_are_fetched_again_offline(server, tmp_path, sleeps, monkeypatch):
    """Everything a fetch needs is kept in the cache: with the service unreachable (no DNS),
    the same fetch succeeds from the cache and re-ingests nothing."""
    import socket
    import urllib.error

    pytest.importorskip("sqlalchemy")
    allen = _client(server, tmp_path, sleeps)
    url = f"sqlite:///{tmp_path / 'atlas.db'}"
    first = fetch_allen(url, specimen_ids=[464198958], client=allen)
    assert first.ingest is not None and first.ingest.done == 1

    def offline(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(allen.http._opener, "open", offline)
    again = fetch_allen(url, specimen_ids=[464198958], client=allen)
    assert all(f.cached for f in again.files) and again.ingest is not None
    assert again.ingest.skipped == 1
    with pytest.raises(DownloadError, match="offline"):
        fetch_allen(url, specimen_ids=[479704527], client=allen)  # never fetched
