"""``patchatlas info --deps``: dependency versions and the active spike-detection backend."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from patchatlas.cli.main import main
from patchatlas.ephys import backend_info

OPTIONAL = (
    "numba",
    "pynwb",
    "sqlalchemy",
    "fastapi",
    "anndata",
    "scikit-learn",
    "matplotlib",
    "dask",
    "psycopg",
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def _row(out: str, package: str) -> str:
    rows = [ln for ln in out.splitlines() if ln.split("│")[0].strip() == package]
    assert len(rows) == 1, (package, out)
    return rows[0]


def test_info_deps_lists_versions_and_the_backend(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "info", "--deps")
    assert code == 0
    for pkg in OPTIONAL:
        try:
            version = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            version = "not installed"
        assert f" {version} " in _row(out, pkg) + " "
    info = backend_info()  # after the command: what it printed
    assert f"ephys backend: {info['backend']} ({info['reason']})" in out
    assert info["backend"] in ("numba", "numpy")


def test_info_deps_says_not_installed(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = metadata.version

    def version(name: str) -> str:
        if name in ("dask", "psycopg"):
            raise metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(metadata, "version", version)
    code, out, _ = run(capsys, "info", "--deps")
    assert code == 0
    assert "not installed" in _row(out, "dask")
    assert "not installed" in _row(out, "psycopg")
    assert "not installed" not in _row(out, "numpy")


def test_info_deps_reports_the_environment_switch() -> None:
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = dict(os.environ, PATCHATLAS_NUMBA="0")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    res = subprocess.run(
        [sys.executable, "-c", "from patchatlas.cli.main import main; main(['info', '--deps'])"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    assert "ephys backend: numpy (PATCHATLAS_NUMBA=0)" in res.stdout


def test_info_needs_a_path_or_deps(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "info")
    assert code == 2
    assert "--deps" in err


def test_info_deps_and_a_path(capsys: pytest.CaptureFixture[str], ephys_data: Path) -> None:
    code, out, _ = run(capsys, "info", "--deps", str(ephys_data / "abf_pyabf/190619B_0003.abf"))
    assert code == 0
    assert "ephys backend:" in out and "190619B_0003" in out and "long_square" in out
