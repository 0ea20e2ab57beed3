"""Regression models for expression → physiology, as scikit-learn estimators.

:class:`SparseRRR` is a clean-room implementation of sparse reduced-rank regression from the
formulation of Kobak et al. 2021 (JRSS-C, "Sparse reduced-rank regression for exploratory
visualisation of paired multivariate data")::

    minimise  1/(2n) ‖Y − X W Vᵀ‖²_F + λ (α Σ_g ‖W_g‖₂ + (1 − α)/2 ‖W‖²_F)   s.t.  VᵀV = I

with W (genes × rank) penalised row-wise (group lasso), so that whole genes enter or leave the
model. It alternates an elastic-net step for W (V fixed; proximal gradient on the training Gram
matrix with an active set) and an orthogonal-Procrustes step for V (W fixed; SVD of YᵀXW).
λ is chosen on the training data alone to reach a target number of genes; the *relaxed* variant
then refits a reduced-rank ridge regression on the selected genes.

:func:`make_model` gives the other models by name: ``ridge`` (RidgeCV, inner generalised CV over
α, one α per feature), ``enet`` (elastic net with inner CV, per feature), ``pca_ridge``,
``gbm`` (histogram gradient boosting, per feature) and ``srrr``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from patchatlas.errors import DataError

__all__ = ["MODEL_NAMES", "RidgeLOO", "SparseRRR", "make_model"]

Array = NDArray[np.float64]

MODEL_NAMES = ("ridge", "srrr", "enet", "pca_ridge", "gbm")


def _group_prox(z: Array, thresh: float, shrink: float) -> Array:
    """Row-wise group soft-threshold then ridge shrinkage."""
    norms = np.sqrt(np.einsum("ij,ij->i", z, z))
    scale = np.where(norms > thresh, 1.0 - thresh / np.where(norms > 0, norms, 1.0), 0.0)
    return np.asarray(z * (scale / shrink)[:, None], dtype=np.float64)


def _procrustes(m: Array) -> Array:
    """Orthonormal V (q × r) maximising tr(Vᵀ M) for M (q × r)."""
    u, _, vt = np.linalg.svd(m, full_matrices=False)
    return np.asarray(u @ vt, dtype=np.float64)


class SparseRRR(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Sparse reduced-rank regression (Kobak et al. 2021 formulation), sklearn estimator.

    Parameters
    ----------
    rank
        Rank of the coefficient matrix (number of latent components).
    n_genes
        Target number of selected genes; λ is lowered along a path (fitted on the training data
        only) until at least this many genes are selected, then refined by bisection. ``None``
        uses ``penalty`` as given.
    penalty
        Penalty strength when ``n_genes`` is None.
    alpha
        Mix between group lasso (1.0, as Scala et al. 2021) and ridge (0.0).
    relaxed
        Refit a reduced-rank ridge regression on the selected genes (less shrinkage).
    relaxed_ridge
        Ridge penalty of the relaxed refit, relative to n (added to ``XᵀX / n``).
    n_lambdas, lambda_min_ratio
        Geometric λ path from the smallest λ that selects no gene.
    max_iter, tol
        Limits of the alternating optimisation at each λ.

    Attributes
    ----------
    coef_
        Targets × genes coefficient matrix (``W Vᵀ`` transposed), like sklearn linear models.
    intercept_
        Per-target intercept.
    W_, V_
        Genes × rank and targets × rank factors (V orthonormal).
    support_
        Boolean mask of selected genes; ``n_genes_selected_`` its sum.
    lambda_selected_
        The λ used.
    n_iter_
        Total W/V alternations over the λ path.
    """

    def __init__(
        self,
        rank: int = 5,
        *,
        n_genes: int | None = 25,
        penalty: float = 0.1,
        alpha: float = 1.0,
        relaxed: bool = True,
        relaxed_ridge: float = 0.1,
        n_lambdas: int = 40,
        lambda_min_ratio: float = 1e-3,
        max_iter: int = 200,
        tol: float = 1e-5,
    ) -> None:
        self.rank = rank
        self.n_genes = n_genes
        self.penalty = penalty
        self.alpha = alpha
        self.relaxed = relaxed
        self.relaxed_ridge = relaxed_ridge
        self.n_lambdas = n_lambdas
        self.lambda_min_ratio = lambda_min_ratio
        self.max_iter = max_iter
        self.tol = tol

    # -- core solver --------------------------------------------------------------------------

    def _solve(self, g: Array, c: Array, lam: float, w: Array, v: Array) -> tuple[Array, Array]:
        """Alternate W (prox-gradient on an active set) and V (Procrustes) at one λ."""
        a = float(self.alpha)
        p = g.shape[0]
        for _ in range(self.max_iter):
            self.n_iter_ += 1
            w_old = w
            cv = c @ v  # p × r
            grad = g @ w - cv
            gnorm = np.sqrt(np.einsum("ij,ij->i", grad, grad))
            active = np.any(w != 0, axis=1) | (gnorm > a * lam)
            for _check in range(10):
                idx = np.flatnonzero(active)
                if idx.size == 0:
                    w = np.zeros_like(w)
                    break
                gs = g[np.ix_(idx, idx)]
                lip = float(np.linalg.eigvalsh(gs)[-1]) + lam * (1.0 - a)
                step = 1.0 / max(lip, 1e-12)
                ws = w[idx].copy()
                zs, t = ws.copy(), 1.0
                cvs = cv[idx]
                for _inner in range(500):
                    grad_s = gs @ zs - cvs
                    new = _group_prox(
                        zs - step * grad_s, step * a * lam, 1.0 + step * lam * (1 - a)
                    )
                    t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
                    zs = new + ((t - 1.0) / t_new) * (new - ws)
                    delta = float(np.max(np.abs(new - ws))) if new.size else 0.0
                    ws, t = new, t_new
                    if delta < self.tol:
                        break
                w = np.zeros((p, w.shape[1]))
                w[idx] = ws
                # KKT check for the genes left out of the active set
                grad = g[:, idx] @ ws - cv
                gnorm = np.sqrt(np.einsum("ij,ij->i", grad, grad))
                viol = (~active) & (gnorm > a * lam * (1.0 + 1e-6))
                if not viol.any():
                    break
                active = active | viol
            if not np.any(w):
                return w, v
            v = _procrustes(c.T @ w)
            if float(np.max(np.abs(w - w_old))) < self.tol * 10:
                break
        return w, v

    def fit(self, X: ArrayLike, y: ArrayLike) -> SparseRRR:
        """Fit on cells × genes ``X`` and cells × targets ``y`` (both centred internally).

        Parameters
        ----------
        X
            Cells × genes input (z-scored genes, usually).
        y
            Targets: 1-D, or cells × targets.

        Returns
        -------
        SparseRRR
            self, with ``coef_``, ``intercept_``, ``W_``, ``V_``, ``support_`` and
            ``lambda_selected_`` set.

        Raises
        ------
        patchatlas.errors.DataError
            ``rank`` < 1.
        """
        x, yy = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        y2 = yy.reshape(-1, 1) if yy.ndim == 1 else yy
        self.y_1d_ = yy.ndim == 1
        n, p = x.shape
        q = y2.shape[1]
        r = int(min(self.rank, q, p))
        if r < 1:
            raise DataError(f"SparseRRR: rank must be ≥ 1, got {self.rank}")
        self.n_iter_ = 0
        xm, ym = x.mean(axis=0), y2.mean(axis=0)
        xc, yc = x - xm, y2 - ym
        g = (xc.T @ xc) / n
        c = (xc.T @ yc) / n  # p × q
        _, _, bt = np.linalg.svd(c, full_matrices=False)
        v = np.asarray(bt[:r].T, dtype=np.float64)
        w = np.zeros((p, r))
        a = max(float(self.alpha), 1e-3)
        if self.n_genes is None:
            w, v = self._solve(g, c, float(self.penalty), w, v)
            lam_sel = float(self.penalty)
        else:
            target = min(int(self.n_genes), p)
            lam_max = float(np.max(np.sqrt(np.einsum("ij,ij->i", c @ v, c @ v)))) / a
            lams = lam_max * np.geomspace(0.999, self.lambda_min_ratio, self.n_lambdas)
            prev = (lams[0], w, v)
            lam_sel, found = lams[-1], False
            for lam in lams:
                w_new, v_new = self._solve(g, c, float(lam), w, v)
                k = int(np.any(w_new != 0, axis=1).sum())
                if k >= target:
                    lo_lam = float(lam)
                    hi_lam, hi_w, hi_v = prev
                    # bisection between the last two path points (log scale)
                    best = (abs(k - target), float(lam), w_new, v_new)
                    for _ in range(6):
                        if best[0] == 0:
                            break
                        mid = float(np.sqrt(lo_lam * hi_lam))
                        wm, vm = self._solve(g, c, mid, hi_w, hi_v)
                        km = int(np.any(wm != 0, axis=1).sum())
                        if abs(km - target) < best[0] or (
                            abs(km - target) == best[0] and km >= target
                        ):
                            best = (abs(km - target), mid, wm, vm)
                        if km >= target:
                            lo_lam = mid
                        else:
                            hi_lam, hi_w, hi_v = mid, wm, vm
                    _, lam_sel, w, v = best
                    found = True
                    break
                prev = (float(lam), w_new, v_new)
                w, v = w_new, v_new
            if not found:
                lam_sel = float(lams[-1])
        support = np.any(w != 0, axis=1)
        if self.relaxed and support.any():
            idx = np.flatnonzero(support)
            gs = g[np.ix_(idx, idx)] + self.relaxed_ridge * np.eye(idx.size)
            b = np.linalg.solve(gs, c[idx])  # genes × q, ridge solution on selected genes
            fitted = xc[:, idx] @ b
            _, _, vt = np.linalg.svd(fitted, full_matrices=False)
            rr = min(r, idx.size)
            v = np.asarray(vt[:rr].T, dtype=np.float64)
            w = np.zeros((p, rr))
            w[idx] = b @ v
        self.W_ = w
        self.V_ = v
        self.support_ = support
        self.n_genes_selected_ = int(support.sum())
        self.lambda_selected_ = float(lam_sel)
        coef = w @ v.T  # p × q
        self.coef_ = np.asarray(coef.T, dtype=np.float64)
        self.intercept_ = np.asarray(ym - xm @ coef, dtype=np.float64)
        return self

    def predict(self, X: ArrayLike) -> Array:
        """Predicted targets for cells × genes ``X``.

        Parameters
        ----------
        X
            Cells × genes, the columns seen in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            Cells × targets (1-D when fitted on a 1-D ``y``).
        """
        check_is_fitted(self, "coef_")
        x = validate_data(self, X, reset=False, dtype=np.float64)
        out = np.asarray(x @ self.coef_.T + self.intercept_, dtype=np.float64)
        return out.ravel() if self.y_1d_ else out

    def latent(self, X: ArrayLike) -> Array:
        """Latent scores ``X W`` (cells × rank) of the fitted model.

        Parameters
        ----------
        X
            Cells × genes, the columns seen in :meth:`fit` (not centred here).

        Returns
        -------
        numpy.ndarray
            Cells × rank scores; only the selected genes contribute.
        """
        check_is_fitted(self, "coef_")
        x = validate_data(self, X, reset=False, dtype=np.float64)
        return np.asarray(x @ self.W_, dtype=np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class RidgeLOO(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Ridge regression with α chosen per target by exact leave-one-out CV on the training data.

    One eigendecomposition of the smaller Gram matrix (genes × genes or cells × cells) gives the
    leave-one-out residuals ``(y − ŷ)/(1 − h_ii)`` for every α of the grid in closed form, so the
    inner CV costs little more than one fit. The intercept is not penalised (X and y are centred;
    the hat matrix includes the ``1/n`` of the intercept).

    Parameters
    ----------
    alphas
        Grid of penalties (sum-of-squares scale, as :class:`sklearn.linear_model.Ridge`).

    Attributes
    ----------
    coef_
        Targets × features (or features, for 1-D y).
    intercept_
        Per-target intercept.
    alpha_
        Chosen α per target (array, or float for 1-D y).
    loo_mse_
        Leave-one-out MSE, alphas × targets.
    """

    def __init__(self, alphas: ArrayLike = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)) -> None:
        self.alphas = alphas

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        groups: ArrayLike | None = None,
    ) -> RidgeLOO:
        """Fit on cells × genes ``X`` and ``y`` (1-D or cells × targets).

        ``sample_weight`` (optional, ≥ 0) weights the squared errors; the leave-one-out
        MSE used to choose α is weighted the same way. With ``groups``, α is chosen by
        leave-one-*group*-out CV instead (exact, from the blocks of the hat matrix:
        ``e_g = (I − H_gg)⁻¹ r_g``) — needed when rows of a group are not independent, e.g.
        residuals from the group's own mean.

        Parameters
        ----------
        X
            Cells × genes input.
        y
            Targets: 1-D, or cells × targets (α is chosen per target).
        sample_weight
            Weight of each cell (≥ 0, not all zero); default: equal weights.
        groups
            Group label of each cell, for leave-one-group-out selection of α.

        Returns
        -------
        RidgeLOO
            self, with ``coef_``, ``intercept_``, ``alpha_`` and ``loo_mse_`` set.

        Raises
        ------
        patchatlas.errors.DataError
            Non-positive ``alphas``, fewer than 2 cells, bad sample weights, or ``groups`` of
            the wrong length.
        """
        x, yy = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=np.float64)
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        if alphas.size == 0 or np.any(alphas <= 0):
            raise DataError("RidgeLOO: alphas must be positive numbers")
        y2 = yy.reshape(-1, 1) if yy.ndim == 1 else yy
        n, p = x.shape
        if n < 2:
            raise DataError(f"RidgeLOO needs at least 2 cells for leave-one-out, n_samples = {n}")
        if sample_weight is None:
            sw = np.ones(n)
        else:
            sw = np.asarray(sample_weight, dtype=np.float64).ravel()
            if sw.shape != (n,) or np.any(~np.isfinite(sw)) or np.any(sw < 0):
                raise DataError(f"RidgeLOO: sample_weight must hold {n} numbers ≥ 0")
            if not np.any(sw > 0):
                raise DataError("RidgeLOO: all sample weights are zero; give some cells weight")
        wn = sw / sw.sum()
        xm, ym = wn @ x, wn @ y2
        rt = np.sqrt(sw)[:, None]
        xc, yc = (x - xm) * rt, (y2 - ym) * rt
        if n >= p:
            s2, vec = np.linalg.eigh(xc.T @ xc)
            keep = s2 > max(float(s2.max()), 1e-300) * 1e-10
            s2, v = s2[keep], vec[:, keep]
            sv = np.sqrt(s2)
            u = (xc @ v) / sv
        else:
            s2, vec = np.linalg.eigh(xc @ xc.T)
            keep = s2 > max(float(s2.max()), 1e-300) * 1e-10
            s2, u = s2[keep], vec[:, keep]
            sv = np.sqrt(s2)
            v = (xc.T @ u) / sv
        uty = u.T @ yc
        u2 = u * u
        mse = np.empty((alphas.size, y2.shape[1]))
        blocks: list[NDArray[np.intp]] = []
        if groups is not None:
            g = np.asarray(groups).astype(str)
            if g.shape != (n,):
                raise DataError(f"RidgeLOO: groups must hold one label per row ({n})")
            _, inv = np.unique(g, return_inverse=True)
            order = np.argsort(inv, kind="stable")
            bounds = np.flatnonzero(np.diff(inv[order])) + 1
            blocks = [b for b in np.split(order, bounds) if b.size > 1]
        rw = np.sqrt(sw)
        q = y2.shape[1]
        dd = s2[None, :] / (s2[None, :] + alphas[:, None])  # alphas × k shrinkage factors
        # fitted values for every α at once: n × (α·q)
        yhat = (u @ (dd[:, :, None] * uty[None]).transpose(1, 0, 2).reshape(len(s2), -1)).reshape(
            n, alphas.size, q
        )
        res = yc[:, None, :] - yhat  # n × α × q (sqrt(w)-scaled residuals)
        h = np.minimum(u2 @ dd.T + wn[:, None], 1.0 - 1e-12)  # n × α leverages
        loo = res / (1.0 - h)[:, :, None]
        for b in blocks:
            ub = u[b]
            hb = (ub[None] * dd[:, None, :]) @ ub.T  # α × m × m
            hb += (np.outer(rw[b], rw[b]) / sw.sum())[None]
            lhs = np.eye(b.size)[None] - hb
            loo[b] = np.linalg.solve(lhs, res[b].transpose(1, 0, 2)).transpose(1, 0, 2)
        mse[:] = np.sum(loo * loo, axis=0) / sw.sum()
        best = alphas[np.argmin(mse, axis=0)]
        coef = v @ ((sv[:, None] / (s2[:, None] + best[None, :])) * uty)  # p × q
        self.loo_mse_ = mse
        if yy.ndim == 1:
            self.coef_ = np.asarray(coef[:, 0], dtype=np.float64)
            self.intercept_: Any = float(ym[0] - xm @ coef[:, 0])
            self.alpha_: Any = float(best[0])
        else:
            self.coef_ = np.asarray(coef.T, dtype=np.float64)
            self.intercept_ = np.asarray(ym - xm @ coef, dtype=np.float64)
            self.alpha_ = best
        return self

    def predict(self, X: ArrayLike) -> Array:
        """Predictions for cells × genes ``X``.

        Parameters
        ----------
        X
            Cells × genes, the columns seen in :meth:`fit`.

        Returns
        -------
        numpy.ndarray
            Cells × targets, or 1-D when fitted on a 1-D ``y``.
        """
        check_is_fitted(self, "coef_")
        x = validate_data(self, X, reset=False, dtype=np.float64)
        return np.asarray(x @ np.asarray(self.coef_).T + self.intercept_, dtype=np.float64)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def make_model(name: str, **params: Any) -> Any:
    """A fresh regression model by name.

    Parameters
    ----------
    name
        ``"ridge"`` (:class:`RidgeLOO`, α per target on a log grid by exact leave-one-out CV),
        ``"srrr"`` (:class:`SparseRRR`, rank 5, 25 genes), ``"enet"`` (ElasticNetCV per target,
        l1_ratio 0.5, 3-fold inner CV), ``"pca_ridge"`` (PCA(50) then RidgeCV), ``"gbm"``
        (HistGradientBoostingRegressor per target).
    **params
        Passed to the model's constructor (for ``pca_ridge``: ``n_components``).

    Returns
    -------
    sklearn estimator
        Unfitted; supports multi-output ``y``.
    """
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import ElasticNetCV, RidgeCV
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.pipeline import Pipeline

    alphas = np.logspace(-1, 5, 25)
    if name == "ridge":
        kw: dict[str, Any] = {"alphas": alphas}
        kw.update(params)
        return RidgeLOO(**kw)
    if name == "srrr":
        return SparseRRR(**params)
    if name == "enet":
        kw = {"l1_ratio": 0.5, "alphas": 20, "cv": 3, "max_iter": 2000}
        kw.update(params)
        return MultiOutputRegressor(ElasticNetCV(**kw))
    if name == "pca_ridge":
        n_comp = int(params.pop("n_components", 50))
        return Pipeline(
            [
                ("pca", PCA(n_components=n_comp, svd_solver="full")),
                ("ridge", RidgeCV(alphas=alphas, alpha_per_target=True, **params)),
            ]
        )
    if name == "gbm":
        kw = {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 15}
        kw.update(params)
        return MultiOutputRegressor(HistGradientBoostingRegressor(**kw))
    raise DataError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
