"""The download layer of the data clients, against the loopback stand-in (fake_services.py):
retries with backoff on injected 5xx answers and dropped or reset connections, resume of an
interrupted download with ``Range``, size and checksum checks, the cache manifest, the
concurrency limit and the offline errors."""

from __future__ import annotations

import hashlib
import json
import socket
import urllib.error
from pathlib import Path

import pytest
from fake_services import FakeServer, Fault

from patchatlas.datasets._download import (
    Downloader,
    FileRequest,
    RetryPolicy,
    dandi_etag,
    resolve_base_url,
)
from patchatlas.errors import ChecksumError, DownloadError, ParameterError

NWB = 464198958  # specimen whose files the tests download


def _wkf(server: FakeServer, kind: str = "NWBDownload") -> tuple[str, bytes]:
    rec = server.services.links[NWB][kind]
    data = server.services.file_bytes(server.services.files[int(rec["id"])])
    return server.allen_url + rec["download_link"], data


def _dl(tmp_path: Path, sleeps, *, attempts: int = 5, concurrency: int = 2) -> Downloader:
    return Downloader(
        tmp_path / "cache",
        service="test service",
        env_var="PATCHATLAS_TEST_API",
        retry=RetryPolicy(attempts=attempts, backoff=0.5, timeout=10),
        concurrency=concurrency,
        sleep=sleeps,
    )


def _file_requests(server: FakeServer) -> list[dict]:
    return [e for e in server.services.log if "download" in e["path"] or "blobs" in e["path"]]


def test_download_and_manifest(server, tmp_path, sleeps):
    url, data = _wkf(server)
    dl = _dl(tmp_path, sleeps)
    got = dl.download(FileRequest(url, "a/ephys.nwb", source={"specimen_id": NWB}))
    assert got.path.read_bytes() == data
    assert got.sha256 == hashlib.sha256(data).hexdigest() and got.size == len(data)
    assert not got.cached and got.bytes_downloaded == len(data)
    doc = json.loads((tmp_path / "cache/manifest.json").read_text())
    entry = doc["files"]["a/ephys.nwb"]
    assert entry["sha256"] == got.sha256 and entry["url"] == url
    assert entry["source"] == {"specimen_id": NWB}
    assert not list((tmp_path / "cache/a").glob("*.part*"))
    # a second fetch uses the cache: no request
    n = len(server.services.log)
    again = dl.fetch([FileRequest(url, "a/ephys.nwb")])[0]
    assert again.cached and again.path == got.path and len(server.services.log) == n
    assert sleeps == []


def test_retries_injected_500s_with_growing_backoff(server, tmp_path, sleeps):
    url, data = _wkf(server)
    server.services.faults.append(Fault("well_known_file_download", "status", times=3))
    got = _dl(tmp_path, sleeps).download(FileRequest(url, "x.nwb"))
    assert got.path.read_bytes() == data
    statuses = [e["status"] for e in _file_requests(server)]
    assert statuses == [500, 500, 500, 200]
    assert len(sleeps) == 3 and sleeps[0] < sleeps[1] < sleeps[2]  # exponential, ±25 % jitter


def test_retry_after_is_honoured_and_json_is_retried(server, tmp_path, sleeps):
    server.services.faults.append(Fault("query.json", "status", status=503, retry_after=2.0))
    dl = _dl(tmp_path, sleeps)
    doc = dl.get_json(f"{server.allen_url}/api/v2/data/query.json?criteria=model::EphysSweep")
    assert doc["success"] and sleeps == [2.0]


def test_gives_up_after_the_attempts_with_a_clear_error(server, tmp_path, sleeps):
    url, _ = _wkf(server)
    server.services.faults.append(Fault("well_known_file_download", "status", times=10))
    with pytest.raises(DownloadError, match=r"HTTP 500.*after 3 tries.*PATCHATLAS_TEST_API"):
        _dl(tmp_path, sleeps, attempts=3).download(FileRequest(url, "x.nwb"))
    assert len(sleeps) == 2


def test_client_errors_are_not_retried(server, tmp_path, sleeps):
    with pytest.raises(DownloadError, match="HTTP 404"):
        _dl(tmp_path, sleeps).download(
            FileRequest(f"{server.allen_url}/api/v2/well_known_file_download/1", "missing.nwb")
        )
    assert sleeps == []


def test_dropped_connection_resumes_with_range(server, tmp_path, sleeps):
    url, data = _wkf(server)
    server.services.faults.append(Fault("well_known_file_download", "drop"))
    got = _dl(tmp_path, sleeps).download(FileRequest(url, "x.nwb"))
    assert got.path.read_bytes() == data
    reqs = _file_requests(server)
    assert len(reqs) == 2 and reqs[0]["range"] is None
    half = len(data) // 2
    assert reqs[0]["status"] == f"drop@{half}"
    assert reqs[1]["range"] == f"bytes={half}-" and reqs[1]["status"] == 206
    assert got.bytes_downloaded == len(data) and len(sleeps) == 1


def test_connection_reset_before_an_answer_is_retried(server, tmp_path, sleeps):
    url, data = _wkf(server)
    server.services.faults.append(Fault("well_known_file_download", "reset", times=2))
    got = _dl(tmp_path, sleeps).download(FileRequest(url, "x.nwb"))
    assert got.path.read_bytes() == data and len(sleeps) == 2


def test_interrupted_run_resumes_in_the_next_run(server, tmp_path, sleeps):
    url, data = _wkf(server)
    server.services.faults.append(Fault("well_known_file_download", "drop"))
    with pytest.raises(DownloadError, match="connection dropped"):
        _dl(tmp_path, sleeps, attempts=1).download(FileRequest(url, "x.nwb"))
    part = tmp_path / "cache/x.nwb.part"
    half = len(data) // 2
    assert part.stat().st_size == half and not (tmp_path / "cache/x.nwb").exists()
    # a new process (new Downloader) finishes the file from where the first stopped
    got = _dl(tmp_path, sleeps).download(FileRequest(url, "x.nwb"))
    assert got.path.read_bytes() == data
    assert got.bytes_downloaded == len(data) - half
    assert _file_requests(server)[-1]["range"] == f"bytes={half}-"
    assert not part.exists()


def test_a_server_that_ignores_range_restarts_from_zero(server, tmp_path, sleeps):
    url, data = _wkf(server)
    server.services.faults += [
        Fault("well_known_file_download", "drop"),
        Fault("well_known_file_download", "no-range"),
    ]
    got = _dl(tmp_path, sleeps).download(FileRequest(url, "x.nwb"))
    assert got.path.read_bytes() == data
    assert [e["status"] for e in _file_requests(server)][-1] == 200


def test_a_changed_remote_file_is_not_resumed(server, tmp_path, sleeps):
    """If-Range: the partial file's validator no longer matches, so the server sends it all."""
    url, data = _wkf(server)
    dest = tmp_path / "cache/x.nwb"
    dest.parent.mkdir(parents=True)
    dest.with_name("x.nwb.part").write_bytes(b"stale bytes of an older version")
    dest.with_name("x.nwb.part.json").write_text(json.dumps({"url": url, "validator": '"old"'}))
    got = _dl(tmp_path, sleeps).download(FileRequest(url, "x.nwb"))
    assert got.path.read_bytes() == data
    assert _file_requests(server)[-1]["status"] == 200


def test_checksum_mismatch_removes_the_file_and_a_rerun_succeeds(server, tmp_path, sleeps):
    asset = server.services.assets[0]
    url = f"{server.dandi_url}/assets/{asset['asset_id']}/download/"
    digest = asset["metadata"]["digest"]
    req = FileRequest(url, "d.nwb", size=asset["size"], sha256=digest["dandi:sha2-256"])
    server.services.faults.append(Fault("/blobs/", "corrupt"))
    dl = _dl(tmp_path, sleeps)
    with pytest.raises(ChecksumError, match="SHA-256"):
        dl.download(req)
    assert not list((tmp_path / "cache").glob("d.nwb*"))
    assert dl.manifest.get("d.nwb") is None
    got = dl.download(req)
    assert got.sha256 == digest["dandi:sha2-256"]


def test_etag_mismatch_and_size_mismatch(server, tmp_path, sleeps):
    asset = server.services.assets[0]
    url = f"{server.dandi_url}/assets/{asset['asset_id']}/download/"
    dl = _dl(tmp_path, sleeps)
    with pytest.raises(ChecksumError, match="etag"):
        dl.download(FileRequest(url, "d.nwb", dandi_etag="0" * 32 + "-1"))
    with pytest.raises(ChecksumError, match="size"):
        dl.download(FileRequest(url, "d.nwb", size=asset["size"] + 1))
    got = dl.download(
        FileRequest(url, "d.nwb", dandi_etag=asset["metadata"]["digest"]["dandi:dandi-etag"])
    )
    assert got.size == asset["size"]


def test_a_damaged_cached_file_is_downloaded_again(server, tmp_path, sleeps):
    url, data = _wkf(server)
    dl = _dl(tmp_path, sleeps)
    got = dl.download(FileRequest(url, "x.nwb"))
    raw = bytearray(got.path.read_bytes())
    raw[100] ^= 0xFF
    got.path.write_bytes(bytes(raw))
    n = len(_file_requests(server))
    again = dl.fetch([FileRequest(url, "x.nwb")])[0]
    assert not again.cached and again.path.read_bytes() == data
    assert len(_file_requests(server)) == n + 1


def test_concurrency_limit(server, tmp_path, sleeps):
    """At most ``concurrency`` downloads are in flight (the server counts open file answers)."""
    services = server.services
    reqs = []
    for sid in list(services.by_id)[:6]:
        rec = services.links[sid]["NWBDownload"]
        services.file_bytes(services.files[int(rec["id"])])  # built before timing matters
        reqs.append(FileRequest(server.allen_url + rec["download_link"], f"{sid}.nwb"))
    services.max_inflight = 0
    services.throttle = 0.002
    try:
        got = _dl(tmp_path, sleeps, concurrency=2).fetch(reqs)
    finally:
        services.throttle = 0.0
    assert len(got) == 6 and all(g.path.is_file() for g in got)
    assert services.max_inflight == 2


def test_connection_refused_is_retried_then_explained(tmp_path, sleeps):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dl = _dl(tmp_path, sleeps, attempts=2)
    with pytest.raises(DownloadError, match=r"ConnectionRefused.*PATCHATLAS_TEST_API"):
        dl.get_json(f"http://127.0.0.1:{port}/api")
    assert len(sleeps) == 1


def test_offline_name_resolution_fails_at_once(tmp_path, sleeps, monkeypatch):
    dl = _dl(tmp_path, sleeps)

    def no_dns(*args, **kwargs):
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(dl._opener, "open", no_dns)
    with pytest.raises(DownloadError, match=r"offline.*PATCHATLAS_TEST_API.*cache"):
        dl.get_json("http://api.brain-map.org/api/v2/data/query.json")
    assert sleeps == []


def test_unsafe_cache_paths_are_refused(tmp_path, sleeps):
    with pytest.raises(DownloadError, match="unsafe"):
        _dl(tmp_path, sleeps).download(FileRequest("http://127.0.0.1:9/x", "../outside.nwb"))


def test_base_url_from_option_then_environment(monkeypatch):
    monkeypatch.delenv("PATCHATLAS_TEST_API", raising=False)
    assert resolve_base_url(None, "PATCHATLAS_TEST_API", "http://a.org/") == "http://a.org"
    monkeypatch.setenv("PATCHATLAS_TEST_API", "http://mirror:8080/api/")
    assert resolve_base_url(None, "PATCHATLAS_TEST_API", "http://a.org") == "http://mirror:8080/api"
    assert resolve_base_url("http://b.org", "PATCHATLAS_TEST_API", "http://a.org") == "http://b.org"
    with pytest.raises(ParameterError, match="PATCHATLAS_TEST_API"):
        resolve_base_url("ftp://x", "PATCHATLAS_TEST_API", "http://a.org")


def test_dandi_etag_single_part_and_empty(tmp_path):
    f = tmp_path / "f.bin"
    data = bytes(range(256)) * 1000
    f.write_bytes(data)
    inner = hashlib.md5(data).digest()
    assert dandi_etag(f) == hashlib.md5(inner).hexdigest() + "-1"
    f.write_bytes(b"")
    assert dandi_etag(f) == hashlib.md5(b"").hexdigest() + "-0"
