"""The portal shows stored results and computes no science: spike markers are the stored spikes,
the f-I curve holds long squares only, the phase plot is ``phase_plane`` at the stored first
spike, connectivity statistics are the synphys engine's, and an atlas whose ingest failed says
so on the search page."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import patchatlas
from patchatlas.atlas import Atlas
from patchatlas.atlas import portal as Q
from patchatlas.atlas.records import CellRecord, EngineOutput, FileRecord, RecordingRecord
from patchatlas.datasets.synthetic_atlas import SyntheticAtlas
from patchatlas.ephys import phase_plane
from patchatlas.synphys import connectivity_by_distance, connectivity_matrix
from patchatlas.web import create_app
from patchatlas.web.service import t_type_family

SPIKE_KEYS = ["spike_index", "in_window", "threshold_t", "threshold_v", "peak_t", "peak_v"]


def _sweeps(synth: SyntheticAtlas, cid: str) -> pd.DataFrame:
    return Atlas(synth.url, mode="r").sweeps(cid).table.reset_index(drop=True)


def test_spike_markers_are_the_stored_spikes(client: TestClient, synth: SyntheticAtlas) -> None:
    atlas = Atlas(synth.url, mode="r")
    n_seen = 0
    for cid in synth.trace_cells:
        table = _sweeps(synth, cid)
        for index, row in table.iterrows():
            body = client.get(f"/api/cells/{cid}/sweeps/{index}").json()
            stored = atlas.spikes(cid, recording_id=int(row["recording_id"]), sweep_number=0)
            assert body["recording_id"] == row["recording_id"]
            got = pd.DataFrame(body["spikes"], columns=SPIKE_KEYS)
            assert len(got) == len(stored)
            n_seen += len(got)
            if not len(got):
                assert body["spike_times_s"] == []
                continue
            for col in SPIKE_KEYS:
                np.testing.assert_allclose(
                    got[col].to_numpy(float), stored[col].to_numpy(float), rtol=1e-12
                )
            np.testing.assert_allclose(
                body["spike_times_s"], stored["threshold_t"].to_numpy(float), atol=1e-6
            )
            # the in-window spikes are the sweep's stored n_spikes
            assert body["n_spikes"] == int(stored["in_window"].sum())
    assert n_seen > 20


def test_fi_curve_is_the_stored_long_square_rates(
    client: TestClient, synth: SyntheticAtlas
) -> None:
    cid = synth.trace_cells[0]
    atlas = Atlas(synth.url, mode="r")
    fi = client.get(f"/api/cells/{cid}/fi").json()
    want = atlas.fi_curve(cid)
    assert fi["source"].startswith("stored") and fi["message"] is None
    assert [p["rate_hz"] for p in fi["points"]] == pytest.approx(want["avg_rate"].tolist())
    assert [p["amplitude_pa"] for p in fi["points"]] == want["amplitude_pa"].tolist()
    kinds = _sweeps(synth, cid).set_index("recording_id")["kind"]
    assert {kinds[p["recording_id"]] for p in fi["points"]} == {"long_square"}
    # the 0 pA sweep is no long square but has a stored rate: it stays out
    rates = atlas.ephys_features("sweep", wide=False, cells=[cid], names=["avg_rate"])
    assert len(rates) == len(kinds) > len(fi["points"])


def test_phase_plot_is_phase_plane_at_the_stored_first_spike(
    client: TestClient, synth: SyntheticAtlas
) -> None:
    cid = synth.trace_cells[0]
    table = _sweeps(synth, cid)
    index = len(table) - 1
    row = table.iloc[index]
    spikes = Atlas(synth.url, mode="r").spikes(cid, recording_id=int(row["recording_id"]))
    first = spikes[spikes["in_window"].astype(bool)].sort_values("threshold_t").iloc[0]
    sweep = patchatlas.read(str(row["path"])).sweep(int(row["number"]))
    v, dvdt = phase_plane(sweep.t, sweep.v, float(first["threshold_t"]))
    body = client.get(f"/api/cells/{cid}/sweeps/{index}/phase").json()
    ph = body["phase"]
    assert ph["threshold_t"] == pytest.approx(first["threshold_t"])
    assert ph["spike_index"] == first["spike_index"]
    np.testing.assert_allclose(ph["v"], v, atol=5e-4)
    np.testing.assert_allclose(ph["dvdt"], dvdt, atol=5e-4)
    assert body["units"]["dvdt"] == "V/s"


def _handmade(tmp_path: Path, trace: Path) -> str:
    """One cell whose single sweep (the synthetic 250 pA trace) has stored spikes of which the
    earliest is flagged outside the stimulus window, plus stored rates on a long square, a short
    square and a ramp."""
    url = f"sqlite:///{tmp_path / 'hand.db'}"
    sweeps = patchatlas.read(trace).sweep_table()
    kinds = pd.DataFrame(
        {
            "number": [0, 1, 2],
            "clamp_mode": "current_clamp",
            "kind": ["long_square", "short_square", "ramp"],
            "amplitude_pa": [250.0, 800.0, 1000.0],
            "start_s": 0.1,
            "end_s": 0.7,
            "sampling_rate_hz": 10_000.0,
            "duration_s": 0.8,
            "stimulus_name": None,
        }
    )
    spikes = pd.DataFrame(
        {
            "level": "spike",
            "sweep_number": 0,
            "spike_index": np.repeat([0, 1, 2], 2),
            "name": ["threshold_t", "peak_t"] * 3,
            "value": [0.05, 0.0508, 0.15, 0.1508, 0.25, 0.2508],
            "unit": "s",
            "in_window": np.repeat([False, True, True], 2),
            "recording": 0,
        }
    )
    rates = pd.DataFrame(
        {
            "level": "sweep",
            "sweep_number": [0, 1, 2, 0],
            "name": ["avg_rate", "avg_rate", "avg_rate", "n_spikes"],
            "value": [10.0, 333.0, 333.0, 2.0],
            "unit": ["Hz", "Hz", "Hz", None],
            "recording": [0, 1, 1, 0],
        }
    )
    digest = hashlib.sha256(trace.read_bytes()).hexdigest()
    files = [
        FileRecord(str(trace), trace.stat().st_size, digest, "text"),
        FileRecord(str(tmp_path / "other.txt"), 1, "0" * 64, "text"),
    ]
    out = EngineOutput(
        "ephys",
        {},
        recordings=[
            RecordingRecord(0, "text", sweeps),
            RecordingRecord(1, "text", kinds.iloc[1:].reset_index(drop=True)),
        ],
        features=pd.concat([spikes, rates], ignore_index=True),
    )
    with Atlas(url) as atlas:
        atlas.write_cell(CellRecord("hand", {"species": "mouse"}, files, [out]))
    return url


def test_out_of_window_spikes_are_flagged_and_skipped_by_the_phase_plot(
    synth: SyntheticAtlas, tmp_path: Path
) -> None:
    trace = Path(str(_sweeps(synth, synth.trace_cells[0])["path"].iloc[-1]))
    c = TestClient(create_app(_handmade(tmp_path, trace)))
    body = c.get("/api/cells/hand/sweeps/0").json()
    assert [s["in_window"] for s in body["spikes"]] == [False, True, True]
    assert body["spike_times_s"] == [0.05, 0.15, 0.25] and body["n_spikes"] == 2
    ph = c.get("/api/cells/hand/sweeps/0/phase").json()["phase"]
    assert ph["threshold_t"] == 0.15 and ph["spike_index"] == 1
    # f-I: the short square and the ramp have stored rates (333 Hz) but are no long squares
    fi = c.get("/api/cells/hand/fi").json()
    assert [(p["amplitude_pa"], p["rate_hz"]) for p in fi["points"]] == [(250.0, 10.0)]


def test_fi_without_long_squares_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ramp.db'}"
    sweeps = pd.DataFrame(
        {
            "number": [0],
            "clamp_mode": "current_clamp",
            "kind": ["ramp"],
            "amplitude_pa": [500.0],
            "start_s": 0.1,
            "end_s": 1.1,
            "sampling_rate_hz": 10_000.0,
            "duration_s": 2.0,
            "stimulus_name": None,
        }
    )
    rates = pd.DataFrame(
        {"level": "sweep", "sweep_number": [0], "name": ["avg_rate"], "value": [3.0]}
    ).assign(unit="Hz", recording=0)
    out = EngineOutput("ephys", {}, recordings=[RecordingRecord(0, "text", sweeps)], features=rates)
    files = [FileRecord(str(tmp_path / "x.txt"), 1, "1" * 64, "text")]
    with Atlas(url) as atlas:
        atlas.write_cell(CellRecord("ramp_only", {}, files, [out]))
    fi = TestClient(create_app(url)).get("/api/cells/ramp_only/fi").json()
    assert fi["points"] == [] and fi["source"] == "none"
    assert "long-square" in fi["message"]


def test_connectivity_answers_are_the_engine_tables(
    client: TestClient, synth: SyntheticAtlas
) -> None:
    pairs = Q.connections(Atlas(synth.url, mode="r"))
    fam = pairs.assign(
        pre_t_type_family=t_type_family(pairs["pre_subclass"], pairs["pre_t_type"]),
        post_t_type_family=t_type_family(pairs["post_subclass"], pairs["post_t_type"]),
    )
    want = connectivity_matrix(fam, by="t_type_family")
    got = pd.DataFrame(client.get("/api/connectivity").json()["matrix"])
    pd.testing.assert_frame_equal(
        got[want.columns].astype({"probability": float, "ci_low": float, "ci_high": float}),
        want,
        check_dtype=False,
    )
    want_d = connectivity_by_distance(pairs, bin_um=40)
    body = client.get("/api/connectivity/distance", params={"bin_um": 40}).json()
    got_d = pd.DataFrame(body["bins"])
    pd.testing.assert_frame_equal(got_d[want_d.columns], want_d, check_dtype=False)
    assert "Clopper-Pearson" in body["interval"]
    r = client.get("/api/connectivity/distance", params={"bin_um": 1e-9})
    assert r.status_code == 400 and "bin_um" in r.json()["detail"]


def test_portal_has_no_spike_detector() -> None:
    import patchatlas.web.traces as traces

    assert not hasattr(traces, "crossings") and not hasattr(traces, "phase_plot")
    src = Path(traces.__file__).parent
    text = "\n".join(p.read_text() for p in src.rglob("*.py"))
    assert "-20" not in text and "detect_spikes" not in text


def test_empty_atlas_with_failures_says_so(failed_url: str) -> None:
    c = TestClient(create_app(failed_url))
    body = c.get("/api/atlas").json()
    assert body["counts"]["cells"] == 0
    info = body["ingest_failures"]
    assert info["n_failed"] == 1 and info["last_run"]["n_failed"] == 1
    assert info["message"] == (
        f"1 file failed to ingest; list them with `patchatlas atlas errors {body['url']}`"
    )
    assert "/" not in info["last_run"]["source"]  # no server paths
    page = c.get("/").text
    assert 'id="ingest-failures"' in page and "1 file failed to ingest" in page
    assert f"patchatlas atlas errors {body['url']}" in page
    assert 'id="atlas-empty"' not in page


def test_empty_atlas_without_failures_says_how_to_fill_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    Atlas(url).close()
    c = TestClient(create_app(url))
    assert c.get("/api/atlas").json()["ingest_failures"] == {
        "n_failed": 0,
        "n_runs": 0,
        "last_run": None,
        "message": None,
    }
    page = c.get("/").text
    assert 'id="atlas-empty"' in page and "patchatlas ingest" in page
    assert 'id="ingest-failures"' not in page


def test_full_atlas_shows_no_notice(client: TestClient) -> None:
    page = client.get("/").text
    assert 'id="ingest-failures"' not in page and 'id="atlas-empty"' not in page
    assert client.get("/api/atlas").json()["ingest_failures"]["n_failed"] == 0
