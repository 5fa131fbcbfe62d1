"""Polychoric correlations of ordinal items: ``allyscale.polychoric``.

Owned code (numpy/scipy): the two-step estimator of ``lavaan::lavCor(X, ordered = ...)``
— thresholds from each item's margins, then each correlation by maximum likelihood with
the thresholds fixed — vectorised over every item pair at once (no Python loop over
pairs). semopy's ordinal routines are not used: they call ``scipy.stats.mvn.mvnun``,
removed in SciPy 1.17.

Conventions (as lavaan 0.6.14):

- missing responses: pairwise presence; each item's thresholds use every case observed
  on that item, each correlation the cases observed on both items;
- empty cells: no correction for tables larger than 2 × 2; a 2 × 2 table with one empty
  cell gets 0.5 moved onto the empty cell and its diagonal partner with the margins kept
  (lavaan's ``zero.add = c(0.5, 0)``, ``zero.keep.margins = TRUE``), listed in
  ``diagnostics["zero_add_pairs"]``; with two empty cells the correlation is +/-1, as in
  lavaan, with a :class:`StatisticalWarning` (``diagnostics["fixed_pairs"]``);
- a matrix that is not positive definite is reported and, with ``smooth=True``,
  smoothed as ``psych::cor.smooth`` does (small eigenvalues raised to a small positive
  value, rescaled to unit diagonal); see :func:`smooth_corr`.

References
----------
Olsson, U. (1979). Maximum likelihood estimation of the polychoric correlation
coefficient. Psychometrika, 44(4), 443-460.
Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. Journal of
Statistical Software, 48(2), 1-36.
"""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from allyscale._core import polychoric as _pc
from allyscale._threads import blas_limited
from allyscale.errors import ConvergenceWarning, DataError, NotPositiveDefiniteWarning, StatisticalWarning
from allyscale.results import Result, Summary, jsonable

__all__ = ["polychoric", "PolychoricResult", "smooth_corr"]


def smooth_corr(r: np.ndarray, eig_tol: float = 1e-12) -> np.ndarray:
    """Smooth a non-positive-definite correlation matrix as ``psych::cor.smooth``.

    Eigenvalues below ``eig_tol`` are set to ``100 * eig_tol``, the eigenvalues are
    rescaled to sum to p, the matrix is rebuilt and rescaled to unit diagonal.
    """
    vals, vecs = np.linalg.eigh(r)
    vals = np.where(vals < eig_tol, 100 * eig_tol, vals)
    vals = vals * r.shape[0] / vals.sum()
    out = (vecs * vals) @ vecs.T
    d = 1 / np.sqrt(np.diag(out))
    out = out * np.outer(d, d)
    np.fill_diagonal(out, 1.0)
    return out


@dataclass(frozen=True)
class PolychoricResult(Result):
    """Polychoric correlations and thresholds.

    Attributes
    ----------
    corr : DataFrame
        Items × items polychoric correlations (smoothed if ``diagnostics["smoothed"]``).
    thresholds : DataFrame
        Items × ``t1..t(K-1)`` (NaN where an item has fewer categories).
    n_pairwise : DataFrame
        Cases observed on both items of each pair.
    n : int
        Number of rows in the data.
    categories : dict
        Item → sorted observed response values.
    diagnostics : dict
        ``converged``, ``iterations``, ``max_step``, ``zero_cell_pairs`` (pairs whose
        table has an empty cell), ``zero_add_pairs``, ``min_eigenvalue`` (before
        smoothing), ``smoothed``.
    """

    corr: pd.DataFrame
    thresholds: pd.DataFrame
    n_pairwise: pd.DataFrame
    n: int
    categories: dict[str, list]
    diagnostics: dict[str, Any] = field(default_factory=dict)
    _x: np.ndarray | None = field(default=None, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, repr=False, compare=False)  # the WLS statistics, computed once

    @property
    def items(self) -> list[str]:
        return list(self.corr.columns)

    def _influence_stats(self) -> dict:
        """Thresholds, correlations and their casewise influences (``allyscale._core.wlsmv.influence``),
        computed on first use and kept: :meth:`subset` and ``cfa(polychoric=)`` reuse them."""
        if "stats" not in self._cache:
            if self._x is None:
                raise DataError("this polychoric result holds no responses to compute influences from")
            from allyscale._core.wlsstats import influence

            self._cache["stats"] = influence(self._x)
        return self._cache["stats"]

    def subset(self, items: list[str]) -> PolychoricResult:
        """The result for some of the items (in the order given), without recomputation.

        The correlation, threshold and pairwise-count sub-blocks, and the thresholds,
        correlations and casewise influences (hence the asymptotic covariance and the DWLS
        weights) of the WLS statistics: in the two-step estimator each threshold depends on
        its own item and each correlation on its own pair, so the sub-blocks equal a fresh
        computation on the items' columns (the statistics of the full set are computed once,
        on first use, and shared). ``cfa(data, model, estimator="WLSMV", polychoric=sub)``
        fits from them. ``diagnostics`` are restricted to the items' pairs, with the smallest
        eigenvalue of the sub-matrix.

        Raises
        ------
        DataError
            Items not in the result, duplicated, or fewer than two.
        """
        items = list(items)
        unknown = [i for i in items if i not in self.corr.columns]
        if unknown:
            raise DataError(f"item(s) not in the polychoric result: {unknown}")
        dup = sorted({i for i in items if items.count(i) > 1})
        if dup:
            raise DataError(f"item(s) given more than once: {dup}")
        if len(items) < 2:
            raise DataError("a polychoric subset needs at least two items")
        pos = [self.items.index(i) for i in items]
        cache: dict = {}
        if self._x is not None:
            from allyscale._core.wlsstats import subset_statistics

            cache["stats"] = subset_statistics(self._influence_stats(), pos)
        chosen = set(items)
        d = dict(self.diagnostics)
        for key in ("zero_cell_pairs", "zero_add_pairs", "fixed_pairs"):
            if key in d:
                d[key] = [pr for pr in d[key] if pr[0] in chosen and pr[1] in chosen]
        corr = self.corr.loc[items, items]
        d["min_eigenvalue"] = float(np.linalg.eigvalsh(corr.to_numpy())[0])
        th = self.thresholds.loc[items]
        kmax = max(len(self.categories[i]) for i in items)
        th = th.iloc[:, : kmax - 1]
        return PolychoricResult(
            corr=corr,
            thresholds=th,
            n_pairwise=self.n_pairwise.loc[items, items],
            n=self.n,
            categories={i: self.categories[i] for i in items},
            diagnostics=d,
            _x=None if self._x is None else self._x[:, pos],
            _cache=cache,
        )

    def influence(self) -> pd.DataFrame:
        """Casewise influence functions of (thresholds, correlations), N × q.

        Columns in lavaan's WLS order: every item's thresholds (``item|t1``, ...), then the
        correlations (``item1~~item2``, lavaan's ``vech(COR, diagonal = FALSE)`` order), so
        that ``influence().T @ influence() / N`` is lavaan's ``lavInspect(fit, "gamma")``
        (Muthén, 1984; lavaan's empirical ``muthen1984`` form). Missing responses are
        pairwise, as lavaan's ``missing = "pairwise"`` (a missing response scores zero; rows
        answering no item are left out, so N is the number of the others).
        """
        stats = self._influence_stats()
        items = self.items
        th_cols = [f"{v}|t{k + 1}" for v, th in zip(items, stats["th"]) for k in range(len(th))]
        iu = stats["pairs"]
        cor_cols = [f"{items[i]}~~{items[j]}" for i, j in zip(*iu)]
        return pd.DataFrame(stats["IF"], columns=th_cols + cor_cols)

    def gamma(self) -> pd.DataFrame:
        """Asymptotic covariance of sqrt(N) (thresholds, correlations): ``IF' IF / N``."""
        inf = self.influence()
        return inf.T @ inf / len(inf)  # len(inf): the cases answering at least one item

    def wls_stats(self) -> pd.Series:
        """The sample statistics in the same order as :meth:`influence` (thresholds, correlations)."""
        stats = self._influence_stats()
        return pd.Series(np.concatenate(stats["th"] + [stats["rho"]]), index=self.influence().columns)

    def summary(self) -> Summary:
        """Convergence, empty cells, the smallest eigenvalue, the correlations and the thresholds."""
        d = self.diagnostics
        out = Summary(
            f"Polychoric correlations: {len(self.items)} items, N = {self.n} "
            f"(pairwise N {int(self.n_pairwise.values.min())}-{int(self.n_pairwise.values.max())})"
        )
        out.text(
            f"converged: {d['converged']} ({d['iterations']} Fisher-scoring iterations); "
            f"pairs with empty cells: {len(d['zero_cell_pairs'])}; "
            f"smallest eigenvalue {d['min_eigenvalue']:.4f}" + ("; smoothed" if d["smoothed"] else "")
        )
        off = self.corr.to_numpy()[np.triu_indices(len(self.items), 1)]
        if off.size:
            out.text(f"correlations: mean {off.mean():.3f}, range {off.min():.3f} to {off.max():.3f}")
        return out.table(self.corr, title="Polychoric correlations").table(self.thresholds, title="Thresholds")

    def to_frame(self) -> pd.DataFrame:
        """The correlation matrix (items × items)."""
        return self.corr

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "items": self.items,
                "n": self.n,
                "corr": self.corr.to_numpy(),
                "thresholds": {i: list(row) for i, row in zip(self.thresholds.index, self.thresholds.to_numpy())},
                "diagnostics": self.diagnostics,
            }
        )


def _as_matrix(data: pd.DataFrame, items: list[str] | None) -> tuple[np.ndarray, list[str]]:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"polychoric needs a pandas DataFrame (items as columns), got {type(data).__name__}")
    items = list(data.columns) if items is None else list(items)
    missing = [i for i in items if i not in data.columns]
    if missing:
        raise DataError(f"item(s) not in the data: {missing}")
    if len(items) < 2:
        raise DataError("polychoric correlations need at least two items")
    cols = []
    for item in items:
        col = data[item]
        if not (pd.api.types.is_numeric_dtype(col) or col.isna().all()):
            bad = col[pd.to_numeric(col, errors="coerce").isna() & col.notna()]
            row = bad.index[0]
            raise DataError(f"item {item!r} has a non-numeric value {bad.iloc[0]!r} at row {row}")
        x = col.to_numpy(dtype=float, na_value=np.nan)
        frac = ~np.isnan(x) & (x != np.round(x))
        if frac.any():
            pos = int(np.flatnonzero(frac)[0])
            raise DataError(
                f"item {item!r} has a non-integer value {float(x[pos])!r} at row {data.index[pos]}; "
                "polychoric correlations need ordered categories"
            )
        cols.append(x)
    return np.column_stack(cols), items


#: recent results of :func:`polychoric` with the warnings they raised, keyed by the items, the data's
#: bytes and the options (the report and its sections ask for the same matrix several times)
_RESULTS: OrderedDict = OrderedDict()
_RESULTS_SIZE = 4


def _register_cache() -> None:
    from allyscale import _caches

    _caches.register("polychorics", "al.polychoric results and their warnings", lambda: len(_RESULTS), _RESULTS.clear)


_register_cache()


@blas_limited
def polychoric(
    data: pd.DataFrame, *, items: list[str] | None = None, smooth: bool = True, tol: float = 1e-9, max_iter: int = 100
) -> PolychoricResult:
    """Polychoric correlation matrix and thresholds of ordinal items.

    Parameters
    ----------
    data : DataFrame
        Ordinal responses (integer-valued; NaN or pandas NA for missing).
    items : list of str, optional
        Columns to use (default: all).
    smooth : bool
        Smooth a non-positive-definite result (:func:`smooth_corr`); a
        :class:`NotPositiveDefiniteWarning` is raised either way.
    tol, max_iter
        Convergence criterion (absolute Fisher-scoring step) and iteration limit.

    Returns
    -------
    PolychoricResult

    Raises
    ------
    DataError
        Non-numeric or non-integer values (naming item, row and value), an item with a
        single observed category, a pair of items never observed together.

    References
    ----------
    Olsson (1979); lavaan's ``lavCor`` (Rosseel, 2012).

    Examples
    --------
    >>> import allyscale as al
    >>> pool = al.load_pool("item_pools/allyship.yaml")  # doctest: +SKIP
    >>> r = al.polychoric(al.simulate(pool, n=500, seed=1))  # doctest: +SKIP
    >>> r.corr.iloc[:3, :3]  # doctest: +SKIP
    """
    x, items = _as_matrix(data, items)
    x = np.ascontiguousarray(x, dtype=float)
    key = (tuple(items), x.shape, hashlib.sha1(x.tobytes()).hexdigest(), bool(smooth), float(tol), int(max_iter))
    hit = _RESULTS.get(key)
    if hit is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = _polychoric(x, items, smooth, tol, max_iter)
        hit = (result, [(w.message, w.category) for w in caught])
        _RESULTS[key] = hit
        while len(_RESULTS) > _RESULTS_SIZE:
            _RESULTS.popitem(last=False)
    else:
        _RESULTS.move_to_end(key)
    result, raised = hit
    for message, category in raised:  # the same warnings on every call, cached or not
        warnings.warn(message, category, stacklevel=3)
    # the caller gets its own frames (the cached result stays as computed)
    return replace(
        result,
        corr=result.corr.copy(),
        thresholds=result.thresholds.copy(),
        n_pairwise=result.n_pairwise.copy(),
        categories=dict(result.categories),
        diagnostics=dict(result.diagnostics),
    )


def _polychoric(x: np.ndarray, items: list[str], smooth: bool, tol: float, max_iter: int) -> PolychoricResult:
    """:func:`polychoric` on the checked response matrix."""
    codes, cats = _pc.encode(x)
    n_cat = np.array([len(c) for c in cats])
    single = [items[j] for j in np.flatnonzero(n_cat < 2)]
    if single:
        raise DataError(f"item(s) with a single observed response category (constant): {single}")
    p = len(items)
    kmax = int(n_cat.max())
    th = _pc.thresholds(codes, n_cat)
    bounds = _pc._bounds(th)
    iu = np.triu_indices(p, 1)
    tables = _pc.pair_tables(codes, kmax, iu)
    npair = tables.sum(axis=(1, 2))
    never = np.flatnonzero(npair == 0)
    if never.size:
        a, b = items[iu[0][never[0]]], items[iu[1][never[0]]]
        raise DataError(f"items {a!r} and {b!r} are never answered by the same respondent")
    # empty cells (within each pair's real categories)
    real = (np.arange(kmax)[None, :] < n_cat[iu[0]][:, None])[:, :, None] & (
        np.arange(kmax)[None, :] < n_cat[iu[1]][:, None]
    )[:, None, :]
    zero_cells = ((tables == 0) & real).any(axis=(1, 2))
    binary = (n_cat[iu[0]] == 2) & (n_cat[iu[1]] == 2) & zero_cells
    tables = tables.astype(float)
    fixed_rho: dict[int, float] = {}
    for k in map(int, np.flatnonzero(binary)):
        t = tables[k, :2, :2]
        empty = t == 0
        if empty.sum() == 1:
            # lavaan's zero.add = 0.5 with zero.keep.margins: move 0.5 onto the empty cell's diagonal
            sign = 1.0 if empty[0, 0] or empty[1, 1] else -1.0
            t += sign * 0.5 * np.array([[1.0, -1.0], [-1.0, 1.0]])
        elif empty.sum() == 2:
            fixed_rho[k] = 1.0 if t[0, 0] > 0 else -1.0
    if fixed_rho:
        names = [f"{items[iu[0][k]]}-{items[iu[1][k]]}" for k in fixed_rho]
        warnings.warn(
            f"two empty cells in the 2 x 2 table of {names}: correlation set to +/-1 (as lavaan)",
            StatisticalWarning,
            stacklevel=2,
        )
    npair = tables.sum(axis=(1, 2))
    start = _pc.olsson_start(tables, bounds[iu[0]], bounds[iu[1]])
    fit = _pc.polychoric_pairs(tables, bounds[iu[0]], bounds[iu[1]], start, tol=tol, max_iter=max_iter)
    for k, value in fixed_rho.items():
        fit.rho[k] = value
        fit.converged[k] = True
    r = np.eye(p)
    r[iu] = fit.rho
    r[(iu[1], iu[0])] = fit.rho
    not_conv = np.flatnonzero(~fit.converged)
    if not_conv.size:
        names = [f"{items[iu[0][k]]}-{items[iu[1][k]]}" for k in not_conv[:10]]
        warnings.warn(
            f"polychoric correlation did not converge for {not_conv.size} pair(s): {names}",
            ConvergenceWarning,
            stacklevel=2,
        )
    min_eig = float(np.linalg.eigvalsh(r).min())
    smoothed = False
    if min_eig <= 0:
        warnings.warn(
            f"the polychoric correlation matrix is not positive definite (smallest eigenvalue "
            f"{min_eig:.3g})" + ("; it was smoothed (psych::cor.smooth)" if smooth else ""),
            NotPositiveDefiniteWarning,
            stacklevel=2,
        )
        if smooth:
            r = smooth_corr(r)
            smoothed = True
    n_pw = np.zeros((p, p))
    present = (codes >= 0).astype(float)
    n_pw = present.T @ present
    th_df = pd.DataFrame(
        np.where(np.isinf(th), np.nan, th), index=items, columns=[f"t{k + 1}" for k in range(kmax - 1)]
    )
    diagnostics = {
        "converged": bool(fit.converged.all()),
        "iterations": fit.iterations,
        "max_step": fit.max_step,
        "zero_cell_pairs": [(items[iu[0][k]], items[iu[1][k]]) for k in np.flatnonzero(zero_cells)],
        "zero_add_pairs": [(items[iu[0][k]], items[iu[1][k]]) for k in np.flatnonzero(binary) if k not in fixed_rho],
        "fixed_pairs": [(items[iu[0][k]], items[iu[1][k]]) for k in fixed_rho],
        "min_eigenvalue": min_eig,
        "smoothed": smoothed,
    }
    return PolychoricResult(
        corr=pd.DataFrame(r, index=items, columns=items),
        thresholds=th_df,
        n_pairwise=pd.DataFrame(n_pw.astype(int), index=items, columns=items),
        n=int(x.shape[0]),
        categories={i: c.tolist() for i, c in zip(items, cats)},
        diagnostics=diagnostics,
        _x=x,
    )


from allyscale._callable import make_callable  # noqa: E402 - after the function it makes the module call

make_callable(__name__, polychoric)
