"""REST API: every endpoint against the ground truth of the synthetic atlas."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from patchatlas.datasets.synthetic_atlas import EPHYS_FEATURES, SyntheticAtlas
from patchatlas.web import create_app
from patchatlas.web.service import t_type_family

N_CELLS = 120  # size of the synthetic atlas built in conftest.py


def _family(cells: pd.DataFrame) -> pd.Series:
    sub = cells["subclass"] if "subclass" in cells else pd.Series(None, index=cells.index)
    return t_type_family(sub, cells["t_type"])


def test_atlas_summary(client: TestClient) -> None:
    r = client.get("/api/atlas")
    assert r.status_code == 200
    body = r.json()
    assert body["counts"]["cells"] == N_CELLS
    assert body["writable"] is False
    assert body["data_version"]


def test_cells_paging_and_total(client: TestClient, synth: SyntheticAtlas) -> None:
    seen: list[str] = []
    offset = 0
    while offset is not None:
        r = client.get("/api/cells", params={"limit": 50, "offset": offset})
        assert r.status_code == 200
        body = r.json()
        assert body["total"] == N_CELLS
        seen += [x["cell_id"] for x in body["items"]]
        offset = body["next_offset"]
    assert sorted(seen) == sorted(synth.cells.index)
    assert len(seen) == len(set(seen))


def test_cells_facet_filters_match_ground_truth(client: TestClient, synth: SyntheticAtlas) -> None:
    cells = synth.cells
    r = client.get("/api/cells", params={"species": "human", "limit": 1000})
    assert r.json()["total"] == int((cells["species"] == "human").sum())
    r = client.get("/api/cells", params=[("layer", "1"), ("layer", "5"), ("limit", "1000")])
    assert r.json()["total"] == int(cells["layer"].isin(["1", "5"]).sum())
    assert {x["layer"] for x in r.json()["items"]} <= {"1", "5"}
    fam = _family(cells)
    r = client.get("/api/cells", params={"t_type_family": "Sst"})
    assert r.json()["total"] == int((fam == "Sst").sum()) > 0
    # facet counts describe the filtered selection
    facets = r.json()["facets"]
    assert sum(facets["species"].values()) == r.json()["total"]
    # missing values: human cells have no Cre line
    r = client.get("/api/cells", params={"cre_line": "(unknown)"})
    assert r.json()["total"] == int(cells["cre_line"].isna().sum())


def test_cells_availability_filter(client: TestClient, synth: SyntheticAtlas) -> None:
    r = client.get("/api/cells", params={"has_morphology": "true", "limit": 1000})
    assert sorted(x["cell_id"] for x in r.json()["items"]) == sorted(synth.morph_cells)
    r = client.get("/api/cells", params={"has_sweeps": "true"})
    assert r.json()["total"] == len(synth.trace_cells)
    r = client.get("/api/cells", params={"has_sweeps": "false"})
    assert r.json()["total"] == N_CELLS - len(synth.trace_cells)


def test_cells_range_filter_and_sort(client: TestClient, synth: SyntheticAtlas) -> None:
    x = synth.ephys["rheobase"]
    lo, hi = np.percentile(x, [25, 60])
    r = client.get(
        "/api/cells",
        params={
            "range": f"rheobase:{lo}..{hi}",
            "sort": "rheobase",
            "limit": 1000,
            "features": "rheobase",
        },
    )
    body = r.json()
    assert body["total"] == int(((x >= lo) & (x <= hi)).sum())
    vals = [it["rheobase"] for it in body["items"]]
    assert vals == sorted(vals)
    assert all(lo <= v <= hi for v in vals)
    r = client.get(
        "/api/cells",
        params={
            "range": "rheobase:..50",
            "sort": "rheobase",
            "desc": "true",
            "features": "rheobase",
        },
    )
    vals = [it["rheobase"] for it in r.json()["items"]]
    assert vals == sorted(vals, reverse=True) and all(v <= 50 for v in vals)


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"range": "nonexistent:1..2"}, 400),
        ({"range": "rheobase-1..2"}, 400),
        ({"range": "rheobase:a..b"}, 400),
        ({"range": "rheobase:nan..1"}, 400),
        ({"sort": "nonexistent"}, 400),
        ({"features": "nonexistent"}, 400),
        ({"limit": "0"}, 422),
        ({"limit": "100000"}, 422),
        ({"offset": "-1"}, 422),
    ],
)
def test_cells_bad_parameters_are_refused(
    client: TestClient, params: dict[str, str], status: int
) -> None:
    r = client.get("/api/cells", params=params)
    assert r.status_code == status
    assert r.json()["detail"]


def test_one_cell_and_404(client: TestClient, synth: SyntheticAtlas) -> None:
    cid = synth.trace_cells[0]
    r = client.get(f"/api/cells/{cid}")
    assert r.status_code == 200
    body = r.json()
    assert body["cell_id"] == cid
    assert body["t_type"] == synth.cells.loc[cid, "t_type"]
    assert body["has_sweeps"] is True and body["n_recordings"] == 7
    assert all("/" not in f["path"] for f in body["files"])  # no server paths leak
    r = client.get("/api/cells/does-not-exist")
    assert r.status_code == 404
    assert "does-not-exist" in r.json()["detail"]


def test_sweeps_trace_spikes_phase_fi(client: TestClient, synth: SyntheticAtlas) -> None:
    cid = synth.trace_cells[0]
    table = client.get(f"/api/cells/{cid}/sweeps").json()
    assert table["total"] == 7
    amps = [s["amplitude_pa"] for s in table["items"]]
    assert amps == sorted(amps)
    top = client.get(f"/api/cells/{cid}/sweeps/6", params={"points": 500}).json()
    assert top["n_samples"] == 8000 and top["n_points"] <= 500
    assert len(top["t"]) == len(top["v"]) == len(top["i"]) == top["n_points"]
    assert max(top["v"]) > 0  # the decimation keeps the AP peaks
    assert top["stimulus"]["amplitude_pa"] == pytest.approx(250)
    # spike markers: the stored spikes (all in the stimulus window here)
    assert len(top["spike_times_s"]) > 3 and len(top["spikes"]) == len(top["spike_times_s"])
    assert all(0.1 <= t <= 0.7 for t in top["spike_times_s"])
    assert top["n_spikes"] == sum(s["in_window"] for s in top["spikes"])
    neg = client.get(f"/api/cells/{cid}/sweeps/0").json()
    assert neg["spike_times_s"] == [] and neg["n_spikes"] == 0
    assert client.get(f"/api/cells/{cid}/sweeps/99").status_code == 404
    body = client.get(f"/api/cells/{cid}/sweeps/6/phase").json()
    ph = body["phase"]
    assert body["units"] == {"v": "mV", "dvdt": "V/s"}
    assert max(ph["dvdt"]) > 50 and len(ph["v"]) == len(ph["dvdt"])
    assert client.get(f"/api/cells/{cid}/sweeps/0/phase").json()["phase"] is None
    fi = client.get(f"/api/cells/{cid}/fi").json()
    rates = [p["rate_hz"] for p in fi["points"]]
    n_steps = sum(1 for s in table["items"] if s["kind"] == "long_square")
    assert len(rates) == n_steps >= 5 and rates[0] == 0 and rates[-1] > rates[2]
    assert np.all(np.diff(rates) >= 0)


def test_sweeps_of_cell_without_recordings(client: TestClient, synth: SyntheticAtlas) -> None:
    cid = next(c for c in synth.cells.index if c not in synth.trace_cells)
    assert client.get(f"/api/cells/{cid}/sweeps").json()["total"] == 0
    assert client.get(f"/api/cells/{cid}/sweeps/0").status_code == 404
    fi = client.get(f"/api/cells/{cid}/fi").json()
    assert fi["points"] == [] and fi["message"] == "no stored features"


def test_nwb_download_501_without_writer(
    client: TestClient, synth: SyntheticAtlas, monkeypatch: pytest.MonkeyPatch
) -> None:
    import patchatlas.web.api.sweeps as api

    monkeypatch.setattr(api, "_nwb_writer", lambda: None)
    r = client.get(f"/api/cells/{synth.trace_cells[0]}/nwb")
    assert r.status_code == 501
    assert "write_nwb" in r.json()["detail"]


def test_nwb_download_with_writer(
    client: TestClient, synth: SyntheticAtlas, monkeypatch: pytest.MonkeyPatch
) -> None:
    import patchatlas.web.api.sweeps as api

    calls = []

    def fake_writer(rec, path, *, overwrite=False):  # stands in for patchatlas.io.write_nwb
        calls.append(len(rec))
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + b"0" * 100)
        return path

    monkeypatch.setattr(api, "_nwb_writer", lambda: fake_writer)
    r = client.get(f"/api/cells/{synth.trace_cells[0]}/nwb", params={"recording": 2})
    assert r.status_code == 200
    assert r.content.startswith(b"\x89HDF") and calls == [1]
    assert "attachment" in r.headers["content-disposition"]
    r = client.get(f"/api/cells/{synth.trace_cells[0]}/nwb", params={"recording": 50})
    assert r.status_code == 404


def test_cell_features_match_ground_truth(client: TestClient, synth: SyntheticAtlas) -> None:
    cid = synth.cells.index[5]
    body = client.get(f"/api/cells/{cid}/features").json()
    got = {f["name"]: f["value"] for f in body["ephys"]}
    assert set(got) == set(EPHYS_FEATURES)
    for name, value in got.items():
        assert value == pytest.approx(synth.ephys.loc[cid, name])
    units = {f["name"]: f["unit"] for f in body["ephys"]}
    assert units["rheobase"] == "pA"
    assert client.get(f"/api/cells/{cid}/features", params={"level": "bogus"}).status_code == 422


def test_registry_and_feature_table(client: TestClient, synth: SyntheticAtlas) -> None:
    reg = client.get("/api/features/registry").json()["features"]
    eph = {f["name"]: f for f in reg if f["kind"] == "ephys" and f["level"] == "cell"}
    assert set(eph) == set(EPHYS_FEATURES)
    assert all(f["n_cells"] == N_CELLS for f in eph.values())
    morph = {f["name"] for f in reg if f["kind"] == "morphology"}
    assert "total_length" in morph
    tab = client.get("/api/features", params={"names": ["rheobase", "tau"], "limit": 10}).json()
    assert tab["total"] == N_CELLS and len(tab["items"]) == 10
    row = tab["items"][0]
    assert row["rheobase"] == pytest.approx(synth.ephys.loc[row["cell_id"], "rheobase"])
    assert client.get("/api/features", params={"names": "nope"}).status_code == 400
    m = client.get("/api/features", params={"kind": "morphology"}).json()
    assert m["total"] == len(synth.morph_cells)


def test_morphology_json_swc_and_404(client: TestClient, synth: SyntheticAtlas) -> None:
    cid = synth.swc_cells[0]
    body = client.get(f"/api/cells/{cid}/morphology").json()
    assert body["features"]["soma_depth"] == pytest.approx(synth.cells.loc[cid, "depth_um"])
    assert body["issues"][0]["code"] == "thin_radius"
    swc = client.get(body["swc_url"])
    assert swc.status_code == 200
    lines = [ln for ln in swc.text.splitlines() if ln and not ln.startswith("#")]
    assert lines[0].split()[1] == "1" and len(lines) > 300
    feature_only = next(c for c in synth.morph_cells if c not in synth.swc_cells)
    body = client.get(f"/api/cells/{feature_only}/morphology").json()
    assert body["swc_url"] is None
    assert client.get(f"/api/cells/{feature_only}/morphology.swc").status_code == 404
    none = next(c for c in synth.cells.index if c not in synth.morph_cells)
    assert client.get(f"/api/cells/{none}/morphology").status_code == 404


def test_models(client: TestClient) -> None:
    body = client.get("/api/models", params={"limit": 1000}).json()
    assert body["total"] == len(body["items"]) > 0
    m = body["items"][0]
    assert m["kind"] == "GLIF" and 0 < m["fit_scores"]["explained_variance"] < 1
    per_cell = client.get(f"/api/cells/{m['cell_id']}/models").json()["models"]
    assert per_cell[0]["parameters"] == m["parameters"]
    assert client.get("/api/models", params={"kind": "biophysical"}).json()["total"] == 0


def test_types_and_type_physiology(client: TestClient, synth: SyntheticAtlas) -> None:
    fam = _family(synth.cells).value_counts()
    body = client.get("/api/types").json()
    got = {x["name"]: x["n_cells"] for x in body["t_type_family"]}
    assert got == {str(k): int(v) for k, v in fam.items()}
    phys = client.get("/api/types/physiology", params={"feature": "input_resistance"}).json()
    assert {g["name"] for g in phys["groups"]} == set(fam.index)
    # the synthetic classes differ strongly in input resistance
    assert 0.5 < phys["r2"] <= 1.0
    sst = next(g for g in phys["groups"] if g["name"] == "Sst")
    truth = synth.ephys.loc[_family(synth.cells) == "Sst", "input_resistance"]
    assert sst["median"] == pytest.approx(float(np.median(truth)))
    r = client.get("/api/types/physiology", params={"feature": "nope"})
    assert r.status_code == 400


def test_pairs_and_connectivity(client: TestClient) -> None:
    pairs = client.get("/api/pairs", params={"limit": 1000}).json()
    assert pairs["total"] == len(pairs["items"]) > 100
    n_conn = sum(1 for p in pairs["items"] if p["connected"])
    assert client.get("/api/pairs", params={"connected": "true"}).json()["total"] == n_conn
    one = client.get(f"/api/pairs/{pairs['items'][0]['pair_id']}").json()
    assert one["pre_cell"] == pairs["items"][0]["pre_cell"] and one["measurements"] == []
    assert client.get("/api/pairs/999999").status_code == 404
    mx = client.get("/api/connectivity", params={"by": "t_type"}).json()
    assert sum(c["n_tested"] for c in mx["matrix"]) == pairs["total"]
    assert sum(c["n_connected"] for c in mx["matrix"]) == n_conn
    for c in mx["matrix"]:
        if c["n_tested"]:
            assert c["ci_low"] <= c["probability"] <= c["ci_high"]
    d = client.get("/api/connectivity/distance", params={"bin_um": 50}).json()
    assert sum(b["n_tested"] for b in d["bins"]) == pairs["total"]
    # the synthetic connection probability falls with distance
    assert d["bins"][0]["probability"] > d["bins"][-1]["probability"]


def test_etag_and_cache_headers(client: TestClient) -> None:
    r = client.get("/api/cells", params={"limit": 5})
    etag = r.headers["etag"]
    assert "max-age" in r.headers["cache-control"]
    r2 = client.get("/api/cells", params={"limit": 5}, headers={"If-None-Match": etag})
    assert r2.status_code == 304 and r2.content == b""
    r3 = client.get("/api/cells", params={"limit": 6}, headers={"If-None-Match": etag})
    assert r3.status_code == 200 and r3.headers["etag"] != etag


def test_search_payload(client: TestClient, synth: SyntheticAtlas) -> None:
    r = client.get("/api/search", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    again = client.get("/api/search", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    plain = client.get("/api/search", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.json() == r.json()
    body = r.json()
    assert body["n"] == N_CELLS
    ids = body["columns"]["cell_id"]
    k = ids.index(synth.cells.index[3])
    assert body["values"]["tau"][k] == pytest.approx(synth.ephys.loc[ids[k], "tau"], rel=1e-4)
    assert sum(body["columns"]["has_sweeps"]) == len(synth.trace_cells)


def test_cors_off_by_default_and_on_when_asked(client: TestClient, synth: SyntheticAtlas) -> None:
    r = client.get("/api/atlas", headers={"Origin": "https://example.org"})
    assert "access-control-allow-origin" not in r.headers
    c2 = TestClient(create_app(synth.url, cors_origins=["https://example.org"]))
    r = c2.get("/api/atlas", headers={"Origin": "https://example.org"})
    assert r.headers["access-control-allow-origin"] == "https://example.org"


PAGES = ["/", "/types", "/models", "/connectivity", "/features", "/docs"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_render_and_load_nothing_from_other_hosts(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    srcs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert srcs, "a page links its assets"
    assert not [s for s in srcs if s.startswith(("http:", "https:", "//"))]
    for s in srcs:
        if s.startswith("/static/"):
            assert client.get(s).status_code == 200, s


def test_cell_and_morphology_pages(client: TestClient, synth: SyntheticAtlas) -> None:
    cid = synth.swc_cells[0]
    r = client.get(f"/cells/{cid}")
    assert r.status_code == 200 and cid in r.text and 'id="sweep-plot"' in r.text
    assert synth.cells.loc[cid, "t_type"] in r.text
    r = client.get(f"/cells/{cid}/morphology")
    assert r.status_code == 200 and 'id="proj-xy"' in r.text
    assert client.get("/cells/nope").status_code == 404


def test_openapi_lists_the_endpoints(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for p in (
        "/api/cells",
        "/api/cells/{cell_id}",
        "/api/cells/{cell_id}/sweeps/{index}",
        "/api/cells/{cell_id}/morphology.swc",
        "/api/features/registry",
        "/api/connectivity",
        "/api/pairs",
        "/api/models",
        "/api/types",
        "/api/uploads",
    ):
        assert p in paths, p


def test_cell_names_with_slashes(tmp_path) -> None:
    from patchatlas.atlas import Atlas
    from patchatlas.atlas.records import CellRecord, EngineOutput

    url = f"sqlite:///{tmp_path / 'a.db'}"
    feats = pd.DataFrame({"level": ["cell"], "name": ["rheobase"], "value": [42.0], "unit": ["pA"]})
    with Atlas(url) as atlas:
        atlas.write_cell(
            CellRecord(
                "slice1/cell03", {"species": "mouse"}, [], [EngineOutput("x", {}, features=feats)]
            )
        )
    c = TestClient(create_app(url))
    assert c.get("/api/cells/slice1/cell03").json()["cell_id"] == "slice1/cell03"
    assert c.get("/api/cells/slice1%2Fcell03").json()["cell_id"] == "slice1/cell03"
    f = c.get("/api/cells/slice1/cell03/features").json()["ephys"]
    assert f[0]["value"] == 42.0
    assert c.get("/api/cells/slice1/cell03/sweeps").json()["total"] == 0
    page = c.get("/cells/slice1/cell03")
    assert page.status_code == 200 and 'data-cell="slice1/cell03"' in page.text
    assert c.get("/api/cells/slice1/cell03/morphology").status_code == 404


def test_nwb_download_with_the_real_writer(
    client: TestClient, synth: SyntheticAtlas, tmp_path: Path
) -> None:
    """The endpoint uses ``patchatlas.io.write_nwb``: the file reads back with the same sweeps."""
    pytest.importorskip("pynwb")
    import patchatlas

    cid = synth.trace_cells[0]
    r = client.get(f"/api/cells/{cid}/nwb", params={"recording": 0})
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"\x89HDF")
    out = tmp_path / "dl.nwb"
    out.write_bytes(r.content)
    back = patchatlas.read(out)
    from patchatlas.atlas import Atlas

    paths = Atlas(synth.url).sweeps(cid).table["path"].dropna()
    original = patchatlas.read(str(paths.iloc[0]))
    assert len(back) == len(original) >= 1
    np.testing.assert_allclose(back[0].v, original[0].v, rtol=1e-5, atol=1e-3)
    assert back[0].sampling_rate == pytest.approx(original[0].sampling_rate)


def test_cell_features_carry_registry_definitions(
    client: TestClient, synth: SyntheticAtlas
) -> None:
    """Features the ephys registry defines get its definition; the others get none."""
    from patchatlas.ephys import feature_registry

    reg = feature_registry().drop_duplicates("name").set_index("name")["definition"]
    body = client.get(f"/api/cells/{synth.cells.index[5]}/features").json()
    defs = {f["name"]: f["definition"] for f in body["ephys"]}
    known = [n for n in defs if n in reg.index]
    assert known, "no synthetic feature is in the ephys registry"
    for n in known:
        assert defs[n] == reg[n]
    for n in set(defs) - set(reg.index):
        assert defs[n] is None


def test_morphology_layer_layout(client: TestClient, synth: SyntheticAtlas) -> None:
    """A reconstruction stored as layer-aligned reports the reference layer tops it was aligned
    to; one without alignment metadata reports none."""
    from patchatlas.morphology.alignment import MOUSE_LAYER_DEPTHS

    aligned = client.get(f"/api/cells/{synth.swc_cells[0]}/morphology").json()
    assert aligned["layer_aligned"] is True and aligned["pia_y"] == 0.0
    tops = {b["layer"]: b["top_um"] for b in aligned["layer_boundaries"]}
    assert tops == {"1": 0.0, **MOUSE_LAYER_DEPTHS}
    assert [b["top_um"] for b in aligned["layer_boundaries"]] == sorted(tops.values())
    plain = client.get(f"/api/cells/{synth.swc_cells[1]}/morphology").json()
    assert plain["layer_aligned"] is False and plain["layer_boundaries"] == []
    assert plain["pia_y"] is None
