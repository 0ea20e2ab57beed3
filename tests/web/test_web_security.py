"""Writes: token checks, upload limits, type checks, traversal, atomicity, confinement."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from patchatlas.datasets.synthetic_atlas import SyntheticAtlas
from patchatlas.errors import PatchAtlasError
from patchatlas.web import create_app
from patchatlas.web.security import UploadRejected, load_token, safe_filename

SWC = b"# tiny\n1 1 0 0 0 5 -1\n2 3 10 0 0 1 1\n3 3 20 5 0 1 2\n"


def _tree(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm", ".db"))
    }


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_read_only_portal_refuses_writes(client: TestClient, synth: SyntheticAtlas) -> None:
    cid = synth.cells.index[0]
    r = client.post(f"/api/annotations/{cid}", json={"key": "note", "value": "x"})
    assert r.status_code == 403
    r = client.post("/api/uploads", files={"file": ("a.swc", SWC)}, headers=_auth("x" * 32))
    assert r.status_code == 403
    assert "note" not in client.get(f"/api/cells/{cid}").json()["annotations"]


def test_annotations_need_the_token(token_portal) -> None:
    c, token, _ = token_portal
    cid = c.get("/api/cells", params={"limit": 1}).json()["items"][0]["cell_id"]
    body = {"key": "quality", "value": "nice spikes"}
    assert c.post(f"/api/annotations/{cid}", json=body).status_code == 401
    r = c.post(f"/api/annotations/{cid}", json=body, headers=_auth(token + "x"))
    assert r.status_code == 401
    r = c.post(f"/api/annotations/{cid}", json=body, headers={"Authorization": token})
    assert r.status_code == 401
    assert c.get(f"/api/cells/{cid}").json()["annotations"] == {}
    r = c.post(f"/api/annotations/{cid}", json=body, headers=_auth(token))
    assert r.status_code == 200 and r.json()["annotations"] == {"quality": "nice spikes"}
    assert c.get(f"/api/cells/{cid}").json()["annotations"] == {"quality": "nice spikes"}
    bad = {"key": "../../x", "value": "y"}
    assert c.post(f"/api/annotations/{cid}", json=bad, headers=_auth(token)).status_code == 422
    r = c.post("/api/annotations/nope", json=body, headers=_auth(token))
    assert r.status_code == 404


def test_upload_ok_is_atomic_and_confined(token_portal, tmp_path: Path) -> None:
    c, token, atlas_dir = token_portal
    before = _tree(tmp_path)
    assert c.post("/api/uploads", files={"file": ("cell.swc", SWC)}).status_code == 401
    assert _tree(tmp_path) == before
    r = c.post("/api/uploads", files={"file": ("cell.swc", SWC)}, headers=_auth(token))
    assert r.status_code == 201, r.text
    assert r.json()["stored"] == "cell.swc"
    target = atlas_dir / "uploads" / "cell.swc"
    assert target.read_bytes() == SWC
    after = _tree(tmp_path)
    assert set(after) - set(before) == {str(target.relative_to(tmp_path))}
    assert not list((atlas_dir / "uploads").glob(".upload-*"))
    # a second upload of the same name does not overwrite
    r = c.post("/api/uploads", files={"file": ("cell.swc", b"#x\n")}, headers=_auth(token))
    assert r.status_code == 409 and target.read_bytes() == SWC


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("../evil.swc", SWC, 400),
        ("..\\evil.swc", SWC, 400),
        ("/etc/evil.swc", SWC, 400),
        ("sub/../../evil.swc", SWC, 400),
        ("..", SWC, 400),
        ("evil.exe", b"MZ\x90\x00", 415),
        ("evil.py", b"import os\n", 415),
        ("noext", b"abc", 415),
        ("fake.abf", b"this is not an ABF file", 415),
        ("fake.nwb", b"not hdf5", 415),
        ("binary.swc", b"\x00\x01\x02\xff\xfe", 415),
        ("big.swc", b"# " + b"x" * 5000 + b"\n", 413),
        ("empty.swc", b"", 400),
    ],
)
def test_bad_uploads_are_refused(token_portal, tmp_path: Path, name, content, status) -> None:
    c, token, _ = token_portal
    before = _tree(tmp_path)
    outside = tmp_path.parent / "evil.swc"
    r = c.post("/api/uploads", files={"file": (name, content)}, headers=_auth(token))
    assert r.status_code == status, r.text
    assert 400 <= r.status_code < 500
    assert _tree(tmp_path) == before  # nothing written anywhere, no partial file left
    assert not outside.exists()
    assert not Path("/etc/evil.swc").exists()


def test_upload_needs_a_file_field(token_portal) -> None:
    c, token, _ = token_portal
    r = c.post("/api/uploads", data={"x": "1"}, headers=_auth(token))
    assert r.status_code == 422


def test_upload_and_ingest_a_real_abf(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "ephys" / "abf_pyabf" / "17o05028_ic_steps.abf"
    atlas_dir = tmp_path / "atlas"
    atlas_dir.mkdir()
    token = secrets.token_urlsafe(24)
    (tmp_path / "tok").write_text(token)
    c = TestClient(create_app(f"sqlite:///{atlas_dir / 'a.db'}", token_file=tmp_path / "tok"))
    assert c.get("/api/cells").json()["total"] == 0
    r = c.post(
        "/api/uploads",
        files={"file": (src.name, src.read_bytes())},
        data={"ingest": "true"},
        headers=_auth(token),
    )
    assert r.status_code == 201, r.text
    assert r.json()["ingest"]["done"] == 1
    cells = c.get("/api/cells").json()
    assert cells["total"] == 1
    cid = cells["items"][0]["cell_id"]
    sweeps = c.get(f"/api/cells/{cid}/sweeps").json()
    assert sweeps["total"] == 16
    trace = c.get(f"/api/cells/{cid}/sweeps/15", params={"points": 1000}).json()
    assert trace["n_points"] <= 1000 and trace["n_samples"] > 1000
    assert (atlas_dir / "uploads").is_dir()


def test_safe_filename_and_token_file(tmp_path: Path) -> None:
    assert safe_filename("cell 1 (final).swc") == "cell_1_final_.swc"
    assert safe_filename(".hidden.swc") == "hidden.swc"
    with pytest.raises(UploadRejected):
        safe_filename("a/b.swc")
    short = tmp_path / "short"
    short.write_text("abc")
    with pytest.raises(PatchAtlasError, match="shorter than 16"):
        load_token(short)
    with pytest.raises(PatchAtlasError, match="cannot be read"):
        load_token(tmp_path / "missing")
    good = tmp_path / "good"
    good.write_text("  " + "k" * 20 + "\n")
    assert load_token(good) == "k" * 20
    assert load_token(None) is None
    assert os.access(good, os.R_OK)


def test_response_cache_serves_repeats_and_follows_writes(token_portal) -> None:
    from patchatlas.web.cache import ResponseCache

    c, token, _ = token_portal
    cid = c.get("/api/cells", params={"limit": 1}).json()["items"][0]["cell_id"]
    first = c.get(f"/api/cells/{cid}").json()
    assert c.get(f"/api/cells/{cid}").json() == first
    mw = c.app.middleware_stack
    while not isinstance(mw, ResponseCache):
        mw = mw.app
    assert mw.hits >= 1
    body = {"key": "k", "value": "v"}
    assert c.post(f"/api/annotations/{cid}", json=body, headers=_auth(token)).status_code == 200
    assert c.get(f"/api/cells/{cid}").json()["annotations"] == {"k": "v"}


def test_response_cache_keeps_the_search_page_and_scripts(token_portal) -> None:
    """``/`` and ``/static/...`` are answered from memory after the first request (same bytes);
    other pages are not cached."""
    from patchatlas.web.cache import ResponseCache

    c, _, _ = token_portal
    assert c.get("/api/atlas").status_code == 200  # builds the middleware stack
    mw = c.app.middleware_stack
    while not isinstance(mw, ResponseCache):
        mw = mw.app
    for path in ("/", "/static/js/search.js", "/static/app.css"):
        first = c.get(path)
        assert first.status_code == 200
        hits = mw.hits
        again = c.get(path)
        assert again.content == first.content and mw.hits == hits + 1, path
        assert again.headers["content-type"] == first.headers["content-type"]
    hits = mw.hits
    c.get("/features")
    c.get("/features")
    assert mw.hits == hits
    assert c.get("/static/js/nope.js").status_code == 404
    assert c.get("/static/js/nope.js").status_code == 404
    assert mw.hits == hits
