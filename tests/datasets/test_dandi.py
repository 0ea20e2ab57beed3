"""The DANDI client against the loopback stand-in of the DANDI API (fake_services.py: dandiset
000008 with the real BluePyEfe NWB 2 file and NWB 2 files written from real pyABF recordings)."""

from __future__ import annotations

import hashlib
import math

import pytest
from fake_services import DANDISET, VERSION, Fault

from patchatlas.datasets.dandi import Dandi, dandiset_id, fetch_dandi
from patchatlas.errors import ChecksumError, DownloadError, ParameterError


def _client(server, tmp_path, sleeps, **kw) -> Dandi:
    return Dandi(tmp_path / "cache", api=server.dandi_url, sleep=sleeps, **kw)


def test_dandiset_identifiers():
    assert dandiset_id(8) == dandiset_id("DANDI:000008") == dandiset_id("000008") == "000008"
    with pytest.raises(ParameterError):
        dandiset_id("not-a-dandiset")


def test_asset_listing_follows_next_pages(server, tmp_path, sleeps):
    d = _client(server, tmp_path, sleeps, page_size=2)
    assets = d.assets(DANDISET)
    served = server.services.assets
    nwb = sorted(a["path"] for a in served if a["path"].endswith(".nwb"))
    assert list(assets["path"]) == nwb
    assert assets.attrs["version"] == VERSION  # the most recent published version
    pages = [e for e in server.services.log if e["path"].endswith("/assets/")]
    assert len(pages) == math.ceil(len(served) / 2)
    everything = d.assets(DANDISET, match=None)
    assert len(everything) == len(served)
    assert len(d.assets(DANDISET, limit=2)) == 2
    assert d.assets(DANDISET, version="draft").attrs["version"] == "draft"


def test_unknown_dandiset_is_a_clear_error(server, tmp_path, sleeps):
    with pytest.raises(DownloadError, match="HTTP 404"):
        _client(server, tmp_path, sleeps).assets("999999")


def test_download_checks_digests_and_survives_faults(server, tmp_path, sleeps):
    d = _client(server, tmp_path, sleeps)
    assets = d.assets(DANDISET, limit=2)
    server.services.faults += [
        Fault("/api/assets/.*/download/", "status", status=502),
        Fault("/blobs/", "drop"),
    ]
    table, files = d.download(DANDISET, assets)
    for (_, a), f in zip(table.iterrows(), files, strict=True):
        served = next(x for x in server.services.assets if x["asset_id"] == a["asset_id"])
        assert f.sha256 == served["metadata"]["digest"]["dandi:sha2-256"]
        assert f.path.relative_to(tmp_path / "cache/dandi").as_posix() == f"{DANDISET}/{a['path']}"
    assert len(sleeps) == 2
    assert any(e["range"] for e in server.services.log if e["path"].startswith("/blobs/"))


def test_corrupt_download_is_refused(server, tmp_path, sleeps):
    d = _client(server, tmp_path, sleeps)
    assets = d.assets(DANDISET, limit=1)
    server.services.faults.append(Fault("/blobs/", "corrupt"))
    with pytest.raises(ChecksumError):
        d.download(DANDISET, assets)
    _table, files = d.download(DANDISET, assets)  # the fault is spent: the rerun succeeds
    assert hashlib.sha256(files[0].path.read_bytes()).hexdigest() == files[0].sha256


def test_fetch_dandi_into_an_atlas(server, tmp_path, sleeps):
    pytest.importorskip("sqlalchemy")
    from patchatlas.atlas import Atlas

    url = f"sqlite:///{tmp_path / 'atlas.db'}"
    res = fetch_dandi(url, "000008", limit=2, client=_client(server, tmp_path, sleeps))
    assert res.ingest is not None and res.ingest.done == 2 and res.ingest.failed == 0
    atlas = Atlas(url, mode="r")
    cells = atlas.cells()
    assert list(cells.index) == list(res.cells.index)
    first = res.cells.index[0]
    assert first.startswith(f"{DANDISET}/sub-") and not first.endswith(".nwb")
    info = atlas.cell(first)
    src = info["metadata"]["source"]
    asset = next(a for a in server.services.assets if a["asset_id"] == src["asset_id"])
    subject = asset["metadata"]["wasAttributedTo"][0]
    assert src["path"] == asset["path"] and src["version"] == VERSION
    assert info["dataset"] == f"dandi:{DANDISET}"
    assert info["species"] in ("mouse", "rat") and info["donor"]["name"] == subject["identifier"]
    assert info["n_recordings"] == 1 and info["n_ephys_features"] > 0
    again = fetch_dandi(url, "000008", limit=2, client=_client(server, tmp_path, sleeps))
    assert again.bytes_downloaded == 0 and again.ingest is not None and again.ingest.skipped == 2


def test_listing_and_metadata_are_kept_for_offline_use(server, tmp_path, sleeps, monkeypatch):
    import socket
    import urllib.error

    d = _client(server, tmp_path, sleeps)
    assets = d.assets(DANDISET)
    _, files = d.download(DANDISET, assets)

    def offline(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(d.http._opener, "open", offline)
    again = d.assets(DANDISET)
    assert list(again["asset_id"]) == list(assets["asset_id"])
    assert again.attrs["version"] == VERSION
    _, files2 = d.download(DANDISET, again)
    assert all(f.cached for f in files2) and [f.path for f in files2] == [f.path for f in files]
