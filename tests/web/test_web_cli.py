"""``patchatlas serve``: parses its options and hands the app to uvicorn."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from patchatlas.cli.main import main
from patchatlas.web.synthetic import SyntheticAtlas


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
