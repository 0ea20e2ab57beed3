"""The spike-detector backend seam (``patchatlas.ephys._backend``): one place chooses numba or
numpy, ``PATCHATLAS_NUMBA=0`` is read at the first choice, numba compiles one specialisation
per function whatever arrays it is given, and any numba failure falls back to NumPy with one
logged warning instead of an exception."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import patchatlas.ephys._backend as backend
from patchatlas.core.recording import Stimulus, StimulusKind, Sweep
from patchatlas.core.table import FeatureTable
from patchatlas.ephys import backend_info, warm_up
from patchatlas.ephys.spikes import detect_spikes
from patchatlas.ephys.train import analyze_sweep, analyze_sweeps
from patchatlas.errors import ParameterError

needs_numba = pytest.mark.skipif(
    not backend.numba_available(), reason="numba not installed (the kernel is optional)"
)
LOGGER = "patchatlas.ephys._backend"


@pytest.fixture(autouse=True)
def _fresh_choice() -> Iterator[None]:
    """Each test starts from, and leaves, a process that has not failed over to numpy."""
    backend.reset()
    yield
    backend.reset()


def _spiky(fs: float = 50e3, n_spikes: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    t = np.arange(int(1.0 * fs)) / fs
    v = -70.0 + rng.normal(0, 0.05, t.size)
    for t0 in 0.2 + 0.035 * np.arange(n_spikes):
        x = (t - t0) / 0.0004
        v += 90.0 * np.exp(-(x**2)) * (x > -6)
        v -= 10.0 * np.exp(-np.maximum(t - t0 - 0.001, 0) / 0.004) * (t > t0 + 0.001)
    i = np.where((t > 0.1) & (t < 0.7), 200.0, 0.0)
    return t, v, i


def _sweep(v: np.ndarray, i: np.ndarray | None = None, fs: float = 50e3) -> Sweep:
    stim = Stimulus(StimulusKind.LONG_SQUARE, 200.0, 0.1, 0.7)
    return Sweep(v, i, fs, number=2, stimulus=stim)


def _same_table(a: FeatureTable, b: FeatureTable) -> None:
    assert list(a) == list(b)
    assert a.n_rows == b.n_rows > 0
    for c in a:
        x, y = np.asarray(a[c]), np.asarray(b[c])
        if x.dtype == object:
            assert list(x) == list(y), c
        else:
            np.testing.assert_allclose(x, y, rtol=1e-9, atol=1e-12, err_msg=c)


def _same_feats(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for k, x in a.items():
        y = b[k]
        if isinstance(x, float) and np.isnan(x):
            assert isinstance(y, float) and np.isnan(y), k
        else:
            assert x == y, (k, x, y)


def _run_child(code: str, **env: str) -> str:
    src = str(Path(__file__).resolve().parents[2] / "src")
    full_env = dict(os.environ, **env)
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (src, full_env.get("PYTHONPATH", "")) if p)
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=full_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


# --------------------------------------------------------------------------------------------
# the choice
# --------------------------------------------------------------------------------------------


def test_use_forces_a_backend_for_the_block_only() -> None:
    before = backend.active()
    with backend.use("numpy"):
        assert backend.active() == "numpy"
        assert backend_info() == {
            "backend": "numpy",
            "reason": "forced by use('numpy')",
            "numba": backend_info()["numba"],
        }
        assert backend.lazy_filter()
    with backend.use(lazy_filter=False):
        assert not backend.lazy_filter()
    assert backend.active() == before
    with pytest.raises(ParameterError, match="fortran"), backend.use("fortran"):
        pass


def test_numpy_backend_gives_the_tables_of_the_default_one() -> None:
    t, v, i = _spiky()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = detect_spikes(t, v, start=0.1, end=0.7, i=i)
        with backend.use("numpy"):
            got = detect_spikes(t, v, start=0.1, end=0.7, i=i)
    _same_table(ref, got)


def test_env_switch_is_read_at_the_first_choice_not_at_import() -> None:
    out = _run_child(
        """
        import os, sys
        import numpy as np
        from patchatlas.ephys import backend_info
        from patchatlas.ephys.spikes import detect_spikes
        os.environ["PATCHATLAS_NUMBA"] = "off"  # after the import: still honoured
        t = np.arange(4000) / 20e3
        detect_spikes(t, -70.0 + 0.0 * t)
        info = backend_info()
        print(info["backend"], info["reason"], "numba" in sys.modules)
        """
    )
    assert out.splitlines()[-1] == "numpy PATCHATLAS_NUMBA=off False"


BROKEN_COMPILE = """
from numba.core.dispatcher import Dispatcher
from numba.core.errors import LoweringError
def compile(self, sig):
    raise LoweringError("injected: Failed in nopython mode pipeline (step: native lowering)")
Dispatcher.compile = compile
"""


@pytest.mark.parametrize(
    ("setup", "reason", "n_warnings"),
    [
        # numba absent: optional, so no warning
        ("sys.modules['numba'] = None", "numba not installed", 0),
        # numba present but broken: its import raises (llvmlite, numpy mismatch ...)
        ("FAKE", "numba kernel unavailable (RuntimeError: LLVM is broken here)", 1),
        # numba imports but the kernel does not compile (or load from the cache)
        (
            "COMPILE",
            "numba kernel unavailable (KernelUnavailable: the kernel did not compile: "
            "LoweringError",
            1,
        ),
        # numba's JIT switched off: plain Python functions, far slower than NumPy
        (
            "NOJIT",
            "numba kernel unavailable (KernelUnavailable: numba's JIT is disabled",
            1,
        ),
    ],
    ids=["missing", "broken-import", "compile-error", "jit-disabled"],
)
def test_numba_import_failure_falls_back(
    setup: str, reason: str, n_warnings: int, tmp_path: Path
) -> None:
    if setup == "FAKE":
        (tmp_path / "numba").mkdir()
        (tmp_path / "numba" / "__init__.py").write_text(
            "raise RuntimeError('LLVM is broken here')\n"
        )
        setup = f"sys.path.insert(0, {str(tmp_path)!r})"
    elif setup == "COMPILE":
        if not backend.numba_available():
            pytest.skip("numba not installed")
        (tmp_path / "broken_compile.py").write_text(BROKEN_COMPILE)
        setup = f"sys.path.insert(0, {str(tmp_path)!r}); import broken_compile"
    env = {}
    if setup == "NOJIT":
        if not backend.numba_available():
            pytest.skip("numba not installed")
        setup, env = "pass", {"NUMBA_DISABLE_JIT": "1"}
    out = _run_child(
        f"""
        import logging, sys
        {setup}
        logging.basicConfig(level=logging.WARNING, stream=sys.stdout, format="LOG %(message)s")
        import numpy as np
        from patchatlas.ephys import backend_info, warm_up
        from patchatlas.ephys.spikes import detect_spikes
        t = np.arange(20000) / 20e3
        v = -70.0 + 90.0 * np.exp(-(((t - 0.5) / 0.0004) ** 2))
        n = [len(detect_spikes(t, v)["threshold_t"]) for _ in range(2)]
        print(warm_up(), n, backend_info()["reason"])
        """,
        **env,
    )
    lines = out.splitlines()
    assert lines[-1].startswith("numpy [1, 1] " + reason)
    logged = [ln for ln in lines if ln.startswith("LOG ")]
    assert len(logged) == n_warnings, logged
    assert all("NumPy path" in ln for ln in logged)


# --------------------------------------------------------------------------------------------
# numba: one specialisation per function, a warm-up
# --------------------------------------------------------------------------------------------


@needs_numba
def test_one_compiled_specialisation_whatever_the_arrays() -> None:
    import patchatlas.ephys._kernel_nb as nb

    assert warm_up() == "numba"
    assert backend_info()["reason"] == "compiled kernel loaded"
    t, v, i = _spiky()
    ro_v = v.copy()
    ro_v.flags.writeable = False
    both = np.stack([v, v], axis=1)
    tables = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for tt, vv in (
            (t, v),  # writable
            (t.astype(np.float32), v.astype(np.float32)),  # float32
            (np.stack([t, t], axis=1)[:, 0], both[:, 0]),  # strided
            (t, ro_v),  # read-only
        ):
            tables.append(detect_spikes(tt, vv, start=0.1, end=0.7))
        detect_spikes(t, v, start=0.1, end=0.7, i=i)
        detect_spikes(t, v, start=0.1, end=0.7, profile="robust")
        steps = np.random.default_rng(1).uniform(0.5, 1.5, t.size) / 50e3
        detect_spikes(np.cumsum(steps), v)  # not uniform: dV/dt not filtered
        analyze_sweep(_sweep(ro_v, i))
        analyze_sweep(_sweep(v), per_spike=False)
    from numba import types

    # read-only (accepting writable arrays too): everything but what the detection fills
    ro, rw = False, True
    expected = {
        nb.core: [ro, ro, rw, rw, ro, ro, ro, ro],  # t v y known co ip fp hco
        nb.assemble: [ro] * 12,  # t v y i, 8 index arrays
        nb.sweep_features: [ro] * 3,  # t v threshold_t
    }
    for fn, mutable in expected.items():
        assert len(fn.signatures) == 1, (fn, fn.signatures)
        arrays = [a for a in fn.signatures[0] if isinstance(a, types.Array)]
        assert all(a.layout == "C" and a.ndim == 1 for a in arrays)
        assert [a.mutable for a in arrays] == mutable, fn
    for tab in tables[1:]:
        assert tab.n_rows == tables[0].n_rows == 12


def test_warm_up_is_cheap_and_idempotent() -> None:
    first = warm_up()
    assert first in ("numba", "numpy")
    assert warm_up() == first == backend_info()["backend"]
    with backend.use("numpy"):
        assert warm_up() == "numpy"


# --------------------------------------------------------------------------------------------
# numba failures fall back to numpy (auto), or are raised (use("numba"))
# --------------------------------------------------------------------------------------------


def _typing_error() -> BaseException:
    from numba.core.errors import TypingError

    return TypingError("injected: cannot determine Numba type of <class 'object'>")


def _lowering_error() -> BaseException:
    from numba.core.errors import LoweringError

    return LoweringError("injected: failed in nopython mode pipeline")


def _raiser(make: Callable[[], BaseException]) -> Callable[..., Any]:
    def fn(*args: Any, **kwargs: Any) -> Any:
        raise make()

    return fn


def _really_untypable() -> Callable[..., Any]:
    """A compiled function whose first call fails in numba's type inference (not injected)."""
    import numba

    def bad(*args: Any) -> Any:
        return args[0].no_such_attribute

    return numba.njit(bad)  # type: ignore[no-any-return]


@needs_numba
@pytest.mark.parametrize("target", ["core", "assemble", "sweep_features"])
@pytest.mark.parametrize(
    "failure",
    [
        lambda: _raiser(_typing_error),
        lambda: _raiser(_lowering_error),
        lambda: _raiser(lambda: RuntimeError("LLVM ERROR: out of registers (injected)")),
        _really_untypable,
    ],
    ids=["TypingError", "LoweringError", "LLVM", "real-TypingError"],
)
def test_numba_failure_falls_back_to_numpy_with_one_warning(
    target: str,
    failure: Callable[[], Callable[..., Any]],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import patchatlas.ephys._kernel_nb as nb

    t, v, i = _spiky()
    sweep = _sweep(v, i)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with backend.use("numpy"):
            ref_table = detect_spikes(t, v, start=0.1, end=0.7, i=i)
            ref_sweep = analyze_sweep(sweep)
            ref_many = analyze_sweeps([sweep, sweep])
        assert backend.active() == "numba"
        monkeypatch.setattr(nb, target, failure())
        with caplog.at_level(logging.WARNING, logger=LOGGER):
            got_table = detect_spikes(t, v, start=0.1, end=0.7, i=i)
            got_sweep = analyze_sweep(sweep)
            got_many = analyze_sweeps([sweep, sweep])
    _same_table(ref_table, got_table)
    _same_table(ref_sweep[0], got_sweep[0])
    _same_feats(ref_sweep[1], got_sweep[1])
    for r, g in zip(ref_many, got_many, strict=True):
        assert not isinstance(r, Exception) and not isinstance(g, Exception)
        _same_table(r[0], g[0])
        _same_feats(r[1], g[1])
    records = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert "NumPy path" in records[0].getMessage()
    info = backend_info()
    assert info["backend"] == backend.active() == "numpy"
    assert info["reason"].startswith("numba failed: ")
    assert warm_up() == "numpy"


@needs_numba
def test_forced_numba_raises_the_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    from numba.core.errors import TypingError

    import patchatlas.ephys._kernel_nb as nb

    t, v, _ = _spiky()
    monkeypatch.setattr(nb, "core", _raiser(_typing_error))
    with backend.use("numba"), pytest.raises(TypingError, match="injected"):
        detect_spikes(t, v)
    assert backend.active() == "numba"  # a strict failure does not switch the process


@needs_numba
def test_kernel_table_from_numpy_indices() -> None:
    """The compiled table assembly takes spike indices as they are: those of every path fit."""
    from patchatlas.ephys._detect import prepare

    t, v, i = _spiky()
    with backend.use("numpy"):
        pr = prepare(t, v, start=0.1, end=0.7, i=i)
        assert not isinstance(pr, FeatureTable)
        idx = backend.indices(pr)
        ref = backend.assemble_table(pr, idx)
        (many,) = backend.indices_many([prepare(t, v, start=0.1, end=0.7, i=i)])
    with backend.use("numba"):
        _same_table(ref, backend.assemble_table(pr, idx))
        _same_table(ref, backend.assemble_table(pr, many))
