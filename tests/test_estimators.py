"""Every scikit-learn estimator patchatlas exports passes scikit-learn's common checks.

The estimators are *collected*: every public ``patchatlas.*`` subpackage (and ``patchatlas``
itself) is imported and each class named in its ``__all__`` that subclasses
:class:`sklearn.base.BaseEstimator` is checked, so a newly exported estimator is checked without
editing this file. Each is tested as its default instance unless :data:`INSTANCES` says otherwise
(with the reason). Expected failures are listed, with their reasons, in :data:`XFAIL`.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import numpy as np
import pytest
import sklearn
from sklearn.base import BaseEstimator, clone
from sklearn.model_selection import KFold, cross_val_predict, cross_validate
from sklearn.pipeline import Pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

import patchatlas
from patchatlas.crossmodal import (
    REGIMES,
    CrossModalRegressor,
    LookupRegressor,
    RidgeLOO,
    SparseRRR,
    make_estimator,
)
from patchatlas.synphys.classifier import ConnectionClassifier
from patchatlas.transcriptomics import GeneSetSelector, make_preprocessor

#: Estimators that must be among the collected ones (the collector must not lose them).
KNOWN = {
    "CPM",
    "Log",
    "HighlyVariableGenes",
    "MeanDropoutSelector",
    "GeneSetSelector",
    "ZScore",
    "LookupRegressor",
    "CrossModalRegressor",
    "SparseRRR",
    "RidgeLOO",
    "DepthProfilePCA",
    "ConnectionClassifier",
}

#: Instances tested instead of ``cls()``, and why.
INSTANCES: dict[type, tuple[list[BaseEstimator], str]] = {
    GeneSetSelector: (
        [GeneSetSelector(genes=("x0", "x1"))],
        "the default (empty) set selects no gene; the checks' arrays have no column names, so "
        "the columns are named x0, x1, ... as in get_feature_names_out",
    ),
    LookupRegressor: (
        [LookupRegressor(level="global")],
        "levels 'type' and 'family' need per-cell labels (types=/families=) that the common "
        "checks cannot pass; they are covered by test_labels_are_routed_like_sklearn_metadata "
        "below and tests/crossmodal/test_regimes.py",
    ),
    CrossModalRegressor: (
        [
            CrossModalRegressor(),
            # a model instance and a preprocessing pipeline as parameters (cloned, nested params)
            CrossModalRegressor(
                SparseRRR(rank=1, n_genes=2), preprocess=make_preprocessor(select="hvg")
            ),
        ],
        "regimes other than single_cell need per-cell t-type labels (see LookupRegressor); the "
        "second instance has a model instance and a preprocessing pipeline as parameters",
    ),
}

_OPERATING_POINT = (
    "predict calls at the operating point threshold_ (a target false-positive rate), not at "
    "the 0.5 that argmax(predict_proba) implies; the calibrated probabilities are unchanged "
    "(tests/synphys/test_detection.py checks the operating point)"
)

#: Checks expected to fail, per class, with the reason.
XFAIL: dict[type, dict[str, str]] = {
    ConnectionClassifier: {
        "check_classifiers_train": _OPERATING_POINT,
        "check_classifiers_train(readonly_memmap=True)": _OPERATING_POINT,
        "check_classifiers_train(readonly_memmap=True,X_dtype=float32)": _OPERATING_POINT,
    },
    RidgeLOO: {
        # Leave-one-out on duplicated rows leaves a copy in the training set, so the chosen α
        # differs from the weighted fit (the fit at a fixed α is equivalent: tested in
        # tests/crossmodal/test_models.py::test_ridge_loo_matches_sklearn_ridgecv).
        "check_sample_weight_equivalence_on_dense_data": (
            "LOO α is not invariant to duplicating rows (the fit at fixed α is)"
        ),
    },
}


def _public_packages() -> list[Any]:
    """``patchatlas`` and its importable public subpackages (optional extras may be absent)."""
    mods: list[Any] = [patchatlas]
    for info in pkgutil.iter_modules(patchatlas.__path__, "patchatlas."):
        if not info.ispkg or info.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        try:
            mods.append(importlib.import_module(info.name))
        except ModuleNotFoundError as exc:  # an optional dependency (not ours) is missing
            if (exc.name or "").startswith("patchatlas"):
                raise
    return mods


def _exported_estimators() -> set[type]:
    found: set[type] = set()
    for mod in _public_packages():
        for name in getattr(mod, "__all__", ()):
            try:
                obj = getattr(mod, name)
            except ImportError:  # lazily imported name whose optional dependency is missing
                continue
            if isinstance(obj, type) and issubclass(obj, BaseEstimator):
                found.add(obj)
    return found


ESTIMATORS = sorted(_exported_estimators(), key=lambda c: (c.__name__, c.__module__))


def _instances() -> list[BaseEstimator]:
    out: list[BaseEstimator] = []
    for cls in ESTIMATORS:
        if cls in INSTANCES:
            out.extend(INSTANCES[cls][0])
            continue
        try:
            out.append(cls())
        except TypeError as exc:
            raise TypeError(
                f"{cls.__name__}() needs arguments: add the instances to check (and why) to "
                "INSTANCES in tests/test_estimators.py"
            ) from exc
    return out


def _expected_failures(est: BaseEstimator) -> dict[str, str]:
    return XFAIL.get(type(est), {})


def test_collected_estimators() -> None:
    assert ESTIMATORS, "no estimator collected from the patchatlas packages"
    names = [c.__name__ for c in ESTIMATORS]
    assert len(set(names)) == len(names), f"two exported estimators share a name: {names}"
    missing = KNOWN - set(names)
    assert not missing, f"exported estimators not collected: {sorted(missing)}"
    # every collected class is really tested, and the mappings name no stale class
    tested = {type(e) for e in _instances()}
    assert tested == set(ESTIMATORS)
    assert set(INSTANCES) <= tested and set(XFAIL) <= tested


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator: BaseEstimator, check: Any) -> None:
    check(estimator)


# ----------------------------------------------------------------------- labels as metadata


def _typed(n_types: int = 6, per: int = 12, seed: int = 0) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    types = np.repeat([f"t{i}" for i in range(n_types)], per)
    fams = np.array([f"F{int(t[1:]) % 2}" for t in types])
    idx = np.repeat(np.arange(n_types), per)
    x = rng.normal(size=(n_types, 8))[idx] + 0.5 * rng.normal(size=(len(types), 8))
    y = rng.normal(size=(n_types, 2))[idx] + x[:, :2] + 0.1 * rng.normal(size=(len(types), 2))
    return x, y, types, fams


SPECS = [f"{r}:ridge" for r in REGIMES] + ["type_lookup", "family_lookup", "global_mean"]


@pytest.mark.parametrize("spec", SPECS)
def test_labels_are_routed_like_sklearn_metadata(spec: str) -> None:
    """``types``/``families`` travel through scikit-learn tools by metadata routing."""
    x, y, t, f = _typed()
    direct = make_estimator(spec).fit(x, y, types=t, families=f)
    expected = direct.predict(x, types=t, families=f)
    with sklearn.config_context(enable_metadata_routing=True):
        est = make_estimator(spec)
        est.set_fit_request(types=True, families=True)
        est.set_predict_request(types=True, families=True)
        pipe = Pipeline([("model", est)]).fit(x, y, types=t, families=f)
        np.testing.assert_allclose(pipe.predict(x, types=t, families=f), expected)
        # cross-validation with fit-time labels (predictions need no labels in these regimes)
        if spec in ("single_cell:ridge", "type_average:ridge", "global_mean"):
            cv = KFold(3, shuffle=True, random_state=0)
            params = {"types": t, "families": f}
            res = cross_validate(clone(est), x, y, cv=cv, params=params)
            assert np.all(np.isfinite(res["test_score"]))
            pred = cross_val_predict(clone(est), x, y, cv=cv, params=params)
            assert pred.shape == y.shape


def test_morphology_engine_does_not_import_sklearn() -> None:
    """DepthProfilePCA is imported on first use: the rest of the engine works without sklearn."""
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['sklearn'] = None\n"  # makes `import sklearn` fail
        "import patchatlas.morphology as m, patchatlas.morphology.depth as d\n"
        "assert callable(m.features_table) and callable(d.depth_profiles)\n"
        "try:\n    m.DepthProfilePCA\nexcept ImportError:\n    pass\n"
        "else:\n    raise SystemExit('DepthProfilePCA without sklearn')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
