"""``patchatlas serve``: parses its options and hands the app to uvicorn."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from patchatlas.cli.main import main
from patchatlas.datasets.synthetic_atlas import SyntheticAtlas


def test_serve_builds_the_app_and_runs_uvicorn(
    synth: SyntheticAtlas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}

    def fake_run(app: Any, **kw: Any) -> None:
        seen["app"], seen["kw"] = app, kw

    monkeypatch.setattr(uvicorn, "run", fake_run)
    tok = tmp_path / "token"
    tok.write_text(secrets.token_urlsafe(24))
    main(["serve", "--atlas", synth.url, "--port", "8123", "--token-file", str(tok)])
    assert seen["kw"]["host"] == "127.0.0.1" and seen["kw"]["port"] == 8123
    app = seen["app"]
    assert app.state.settings.token == tok.read_text()
    assert app.state.settings.cors_origins == ()
    assert "http://127.0.0.1:8123/" in capsys.readouterr().out


def test_serve_refuses_a_short_token(synth: SyntheticAtlas, tmp_path: Path) -> None:
    tok = tmp_path / "token"
    tok.write_text("short")
    with pytest.raises(SystemExit) as exc:
        main(["serve", "--atlas", synth.url, "--token-file", str(tok)])
    assert exc.value.code == 2


def test_serve_with_workers_uses_the_env_factory(
    synth: SyntheticAtlas, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--workers 2`` hands uvicorn the import string of a factory that rebuilds the same app
    (same atlas, token, limits) in each worker process."""
    import uvicorn
    from fastapi.testclient import TestClient

    from patchatlas.web.app import CONFIG_ENV, app_from_env

    seen: dict[str, Any] = {}

    def fake_run(app: Any, **kw: Any) -> None:
        seen["app"], seen["kw"] = app, kw

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    tok = tmp_path / "token"
    tok.write_text(secrets.token_urlsafe(24))
    main(
        ["serve", "--atlas", synth.url, "--workers", "2", "--token-file", str(tok),
         "--max-upload-mb", "3"]
    )  # fmt: skip
    assert seen["app"] == "patchatlas.web.app:app_from_env"
    assert seen["kw"]["workers"] == 2 and seen["kw"]["factory"] is True
    app = app_from_env()  # what each worker does
    assert app.state.settings.token == tok.read_text()
    assert app.state.settings.max_upload_bytes == 3 * 1024 * 1024
    r = TestClient(app).get("/api/cells", params={"limit": 1})
    assert r.status_code == 200 and r.json()["total"] == len(synth.cells)
    monkeypatch.delenv(CONFIG_ENV)
    from patchatlas.errors import PatchAtlasError

    with pytest.raises(PatchAtlasError, match=CONFIG_ENV):
        app_from_env()
