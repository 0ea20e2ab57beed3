"""``patchatlas fetch allen|dandi|compare`` against the loopback stand-ins, and the cell page
showing where a fetched cell came from."""

from __future__ import annotations

import socket

import pandas as pd
import pytest

from patchatlas.cli.main import main


def run(capsys, *args):
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def env(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHATLAS_ALLEN_API", server.allen_url)
    monkeypatch.setenv("PATCHATLAS_DANDI_API", server.dandi_url)
    monkeypatch.setenv("PATCHATLAS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("PATCHATLAS_ATLAS", raising=False)
    return f"sqlite:///{tmp_path / 'atlas.db'}"


def test_fetch_allen_then_compare(capsys, env, tmp_path):
    code, out, err = run(
        capsys, "fetch", "allen", "--species", "mouse", "--layer", "5", "--limit", "2",
        "--atlas", env,
    )  # fmt: skip
    assert code == 0, err
    assert "fetch allen" in out and "ingested" in out
    from patchatlas.atlas import Atlas

    cells = Atlas(env, mode="r").cells()
    assert len(cells) == 2 and set(cells["layer"]) == {"5"}
    csv = tmp_path / "compare.csv"
    code, out, err = run(capsys, "fetch", "compare", "--atlas", env, "--out", str(csv))
    assert code == 0, err
    assert "Allen vs patchatlas (2 cells)" in out and "vrest" in out
    table = pd.read_csv(csv)
    assert set(table["cell_id"].astype(str)) == set(cells.index)
    # again: all from the cache, nothing recomputed
    code, out, _ = run(capsys, "fetch", "allen", "--species", "mouse", "--layer", "5",
                       "--limit", "2", "--atlas", env)  # fmt: skip
    assert code == 0
    row = out.split("fetch allen")[1]
    assert " 0.0 " in row  # MiB downloaded


def test_fetch_dandi(capsys, env):
    code, out, err = run(capsys, "fetch", "dandi", "000008", "--limit", "1", "--atlas", env)
    assert code == 0, err
    assert "fetch dandi" in out
    from patchatlas.atlas import Atlas

    assert len(Atlas(env, mode="r").cells(dataset="dandi:000008")) == 1


def test_download_only_needs_no_atlas(capsys, env, tmp_path):
    code, _, err = run(capsys, "fetch", "dandi", "000008", "--limit", "1", "--download-only")
    assert code == 0, err
    assert list((tmp_path / "cache/dandi/000008").rglob("*.nwb"))
    code, _, err = run(capsys, "fetch", "allen", "--limit", "1")
    assert code == 2 and "--atlas" in err


def test_unreachable_service_exits_with_a_clear_message(capsys, env, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, _, err = run(
        capsys, "fetch", "allen", "--api", f"http://127.0.0.1:{port}", "--retries", "1",
        "--cache", str(tmp_path / "empty"), "--atlas", env,
    )  # fmt: skip
    assert code == 2
    assert "PATCHATLAS_ALLEN_API" in err and "Connection" in err


def test_compare_without_allen_cells_fails(capsys, env):
    from patchatlas.atlas import Atlas

    Atlas(env)
    code, out, _ = run(capsys, "fetch", "compare", "--atlas", env)
    assert code == 1 and "fetch Allen cells first" in out


def test_cell_page_shows_the_source(server, tmp_path, sleeps):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from patchatlas.datasets.allen import AllenCellTypes, fetch_allen
    from patchatlas.web.app import create_app

    url = f"sqlite:///{tmp_path / 'atlas.db'}"
    allen = AllenCellTypes(tmp_path / "cache", api=server.allen_url, sleep=sleeps)
    fetch_allen(url, specimen_ids=[464198958], client=allen, import_features=False)
    page = TestClient(create_app(url)).get("/cells/464198958")
    assert page.status_code == 200
    assert "Allen Cell Types Database, specimen 464198958" in page.text
