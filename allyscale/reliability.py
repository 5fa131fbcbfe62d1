"""Reliability: coefficient alpha, the omega family, composite reliability, split-half and ICC.

Every coefficient reproduces a named R reference (psych 2.2.9, semTools 0.5.6) and states
its formula and conventions in its docstring:

* :func:`alpha` — ``psych::alpha(x, check.keys = FALSE)`` (Cronbach, 1951; Guttman, 1945),
  with Feldt (1987) and bootstrap intervals; ordinal alpha (Zumbo et al., 2007) on request.
* :func:`omega` — ``psych::omega(x, nfactors)`` (Schmid–Leiman omega-hierarchical and
  omega-total; McDonald, 1999; Revelle & Zinbarg, 2009), or from a fitted bifactor /
  second-order CFA: omega_h, omega_hs, H, ECV, PUC (Rodriguez, Reise & Haviland, 2016).
* :func:`reliability` — per factor ``alpha``, ``omega`` as ``semTools::compRelSEM`` (its
  defaults ``obs.var = TRUE``, ``tau.eq = FALSE``; categorical omega of Green & Yang, 2009
  for ordered indicators) and ``ave`` as ``semTools::AVE``.
* :func:`split_half`, :func:`icc` — Spearman–Brown split halves; ``psych::ICC`` (Shrout &
  Fleiss, 1979; McGraw & Wong, 1996).

Numbers are computed here with numpy/scipy (no R-package port exists in Python);
:mod:`allyscale.efa` supplies the exploratory solution behind :func:`omega` and
:mod:`allyscale.cfa` the confirmatory one behind :func:`reliability`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from allyscale._threads import blas_limited
from allyscale.results import Result, Summary, jsonable
from allyscale.scoring import reverse_score
from allyscale.errors import (ConvergenceWarning, DataError, DataWarning, SpecificationError,
                              StatisticalWarning)

if TYPE_CHECKING:  # pragma: no cover
    from allyscale.cfa import CFAResult
    from allyscale.pool import ItemPool

__all__ = [
    "AlphaResult", "OmegaResult", "BifactorResult", "SplitHalfResult", "ICCResult", "ReliabilityResult",
    "alpha", "omega", "bifactor_indices", "reliability", "split_half", "icc",
    "composite_reliability", "categorical_omega", "average_variance_extracted",
]


# --------------------------------------------------------------------------- helpers
def _jsonable(value: Any) -> Any:
    """JSON values with DataFrames as ``{row: {column: value}}`` (the shape of this module's ``to_dict``)."""
    return jsonable(value, frames="index")


def _select_items(data: pd.DataFrame, items: list[str] | None, pool: ItemPool | None) -> tuple[pd.DataFrame, list]:
    """Item columns (reverse-scored with a pool) as a float frame; the reversed items' names."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if items is None:
        items = list(pool.item_ids) if pool is not None else list(data.columns)
    items = list(items)
    missing = [i for i in items if i not in data.columns]
    if missing:
        raise DataError(f"item(s) {missing} are not columns of the data")
    if len(items) < 2:
        raise SpecificationError(f"a reliability coefficient needs at least two items, got {items}")
    x = data[items].copy()
    x.attrs = {}
    for col, dtype in zip(items, x.dtypes):  # the dtypes at once (column access copies metadata)
        if not pd.api.types.is_numeric_dtype(dtype):
            raise DataError(f"item {col!r} is not numeric (dtype {dtype})")
    x = x.astype(float)
    reversed_: list[str] = []
    if pool is not None:
        x = reverse_score(x, pool, present_only=True)
        reversed_ = list(x.attrs.pop("reverse_scored"))
    values = x[items].to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: NaN, constant below
        varies = (np.nanmax(values, axis=0) > np.nanmin(values, axis=0) if len(values)  # two or more values
                  else np.zeros(len(items), dtype=bool))
    if not varies.all():
        raise DataError(f"item {items[int(np.flatnonzero(~varies)[0])]!r} is constant; reliability is undefined")
    return x, reversed_


def smc(r: np.ndarray) -> np.ndarray:
    """Squared multiple correlations ``1 - 1 / diag(R^+)`` (pseudo-inverse), as ``psych::smc``."""
    inv = np.linalg.pinv(r)
    return 1.0 - 1.0 / np.diag(inv)


def _alpha_core(c: np.ndarray) -> dict[str, float]:
    """psych's ``alpha.1``: raw alpha, standardized alpha, G6(smc), average r, S/N, Q."""
    n = c.shape[0]
    d = np.sqrt(np.diag(c))
    r = c / np.outer(d, d)
    sum_c, tr_c, sum_r = c.sum(), np.trace(c), r.sum()
    raw = (1 - tr_c / sum_c) * n / (n - 1)
    std = (1 - n / sum_r) * n / (n - 1)
    g6 = 1 - (n - smc(r).sum()) / sum_r
    av_r = (sum_r - n) / (n * (n - 1))
    q = (2 * n**2 / ((n - 1) ** 2 * sum_c**3)) * (sum_c * (np.trace(c @ c) + tr_c**2) - 2 * tr_c * (c @ c).sum())
    off = r[~np.eye(n, dtype=bool)]
    return {"raw_alpha": raw, "std_alpha": std, "G6": g6, "average_r": av_r,
            "s_n": n * av_r / (1 - av_r), "Q": q, "var_r": float(np.var(off, ddof=1)) if off.size > 1 else np.nan,
            "median_r": float(np.median(off))}


# --------------------------------------------------------------------------- alpha
@dataclass(frozen=True)
class AlphaResult(Result):
    """Coefficient alpha and item analysis, as ``psych::alpha``.

    Attributes
    ----------
    alpha, std_alpha, g6, average_r : float
        Raw alpha, standardized alpha, Guttman's lambda-6 from SMCs, mean inter-item r.
    ci : DataFrame
        Rows ``feldt`` (and ``bootstrap``) with ``lower, estimate, upper``.
    item_stats : DataFrame
        Per item: ``n, raw_r, std_r, r_cor, r_drop, mean, sd``, the ``alpha_if_dropped``
        block (``alpha_if_dropped, std_alpha_if_dropped, g6_if_dropped, average_r_if_dropped``)
        and response frequencies (columns ``freq_<value>`` and ``freq_miss``).
    total : dict
        ``raw_alpha, std_alpha, G6, average_r, s_n, ase, mean, sd, median_r``.
    diagnostics : dict
        ``n_obs``, ``n_missing``, ``reversed`` items, ``corr`` used, bootstrap settings.
    """

    alpha: float
    std_alpha: float
    g6: float
    average_r: float
    ci: pd.DataFrame
    item_stats: pd.DataFrame
    total: dict
    corr: str
    diagnostics: dict = field(default_factory=dict)
    boot: np.ndarray | None = field(default=None, repr=False)

    def summary(self) -> Summary:
        """Alpha, its intervals and the item analysis."""
        lab = "Ordinal alpha (polychoric)" if self.corr == "polychoric" else "Coefficient alpha"
        out = Summary(f"{lab}: {len(self.item_stats)} items, N = {self.diagnostics.get('n_obs')}")
        out.text(f"raw alpha = {self.alpha:.4f}, standardized alpha = {self.std_alpha:.4f}, "
                 f"G6(smc) = {self.g6:.4f}, average r = {self.average_r:.4f}")
        if self.diagnostics.get("reversed"):
            out.text(f"reverse-scored: {', '.join(self.diagnostics['reversed'])}")
        return out.table(self.ci, title="Confidence intervals", digits=4).table(self.item_stats, title="Item statistics")

    def to_frame(self) -> pd.DataFrame:
        """The item statistics (one row per item)."""
        return self.item_stats

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({"alpha": self.alpha, "std_alpha": self.std_alpha, "g6": self.g6,
                          "average_r": self.average_r, "corr": self.corr, "ci": self.ci,
                          "item_stats": self.item_stats, "total": self.total, "diagnostics": self.diagnostics})


@blas_limited
def alpha(data: pd.DataFrame, *, items: list[str] | None = None, pool: ItemPool | None = None,
          ordinal: bool = False, n_boot: int = 0, seed: int | None = None, level: float = 0.95,
          max_categories: int = 10) -> AlphaResult:
    """Coefficient alpha with item analysis, as ``psych::alpha(x, check.keys = FALSE)``.

    Formulas (psych's ``alpha.1``), with ``C`` the pairwise-complete covariance matrix
    (N - 1 denominator), ``R`` its correlation matrix and ``n`` items:

    * raw alpha = ``n / (n - 1) * (1 - tr(C) / sum(C))`` (Cronbach, 1951);
    * standardized alpha = ``n / (n - 1) * (1 - n / sum(R))``;
    * G6(smc) = ``1 - sum(1 - smc_i) / sum(R)`` with squared multiple correlations from
      the pseudo-inverse of ``R`` (Guttman, 1945);
    * average r = mean off-diagonal correlation; ``ase = sqrt(Q / N)`` (Duhachek &
      Iacobucci, 2004);
    * ``r_drop``: correlation of each item with the sum of the other items (from ``C``);
      ``r_cor``: item-whole correlation corrected with SMCs on the diagonal; ``raw_r``:
      correlation with the mean score (available items); ``std_r``: ``colSums(R)/sqrt(sum(R))``;
    * ``alpha_if_dropped``: raw alpha of the other items.

    Confidence intervals: Feldt (1987), ``1 - (1 - alpha) F`` quantiles with
    ``df1 = N - 1``, ``df2 = (N - 1)(n - 1)`` (``psych::alpha.ci``; ``N`` = rows); with
    ``n_boot > 0`` also the percentile bootstrap of raw alpha (rows resampled with
    ``seed``; psych's ``n.iter``).

    Parameters
    ----------
    data : DataFrame
        Item responses.
    items : list of str, optional
        Items to use (default: the pool's items, else every column).
    pool : ItemPool, optional
        Reverse-keyed items of the pool are reverse-scored first (``min + max - x``).
    ordinal : bool
        Ordinal alpha (Zumbo, Gadermann & Zeisser, 2007): every coefficient is computed
        on the polychoric correlation matrix (:func:`allyscale.polychoric`), so raw and
        standardized alpha coincide. Item means/SDs stay on the raw responses.
    n_boot : int
        Bootstrap replications (0: none).
    seed : int, optional
        Seed of the bootstrap's ``numpy.random.default_rng``.
    level : float
        Confidence level of the intervals.
    max_categories : int
        Response frequencies are tabulated when items have at most this many distinct
        values (psych's ``max = 10``).

    Returns
    -------
    AlphaResult

    Raises
    ------
    DataError
        Missing, non-numeric or constant items.
    SpecificationError
        Fewer than two items, fewer than three rows, a bad ``level``.

    References
    ----------
    Cronbach, L. J. (1951). Coefficient alpha and the internal structure of tests.
    Psychometrika, 16, 297-334.
    Guttman, L. (1945). A basis for analyzing test-retest reliability. Psychometrika, 10, 255-282.
    Feldt, L. S., Woodruff, D. J., & Salih, F. A. (1987). Statistical inference for
    coefficient alpha. Applied Psychological Measurement, 11, 93-103.
    Duhachek, A., & Iacobucci, D. (2004). Alpha's standard error (ASE). Journal of Applied
    Psychology, 89, 792-808.
    Zumbo, B. D., Gadermann, A. M., & Zeisser, C. (2007). Ordinal versions of coefficients
    alpha and theta for Likert rating scales. Journal of Modern Applied Statistical Methods, 6, 21-29.
    Revelle, W. (2022). psych: Procedures for psychological, psychometric, and personality
    research (version 2.2.9).
    """
    if not 0 < level < 1:
        raise SpecificationError(f"level must be between 0 and 1, got {level}")
    x, reversed_ = _select_items(data, items, pool)
    names = list(x.columns)
    nsub, nvar = x.shape
    if nsub < 3:
        raise SpecificationError(f"alpha needs at least three rows of data, got {nsub}")
    n_missing = int(x.isna().sum().sum())
    if ordinal:
        from allyscale.polychoric import polychoric

        pc = polychoric(x, items=names, smooth=False)
        c = pc.corr.loc[names, names].to_numpy(dtype=float)
        corr = "polychoric"
    else:
        c = x.cov().to_numpy(dtype=float)  # pairwise complete, N - 1
        corr = "pearson"
    if not np.all(np.isfinite(c)):
        raise DataError("some pairs of items have no complete observations; the covariance matrix is undefined")
    core = _alpha_core(c)
    dsd = np.sqrt(np.diag(c))
    r = c / np.outer(dsd, dsd)
    # item statistics
    vt = r.sum()
    std_r = r.sum(axis=0) / math.sqrt(vt)
    rc = r.copy()
    np.fill_diagonal(rc, smc(r))
    r_cor = rc.sum(axis=0) / math.sqrt(rc.sum())
    r_drop = np.empty(nvar)
    for i in range(nvar):
        keep = np.arange(nvar) != i
        v_drop = c[np.ix_(keep, keep)].sum()
        c_drop = c[:, i].sum() - c[i, i]
        r_drop[i] = c_drop / math.sqrt(c[i, i] * v_drop)
    total = x.mean(axis=1)
    raw_r = np.array([total.corr(x[col]) for col in names])
    drops = []
    for i in range(nvar):
        keep = np.arange(nvar) != i
        if nvar > 2:
            drops.append(_alpha_core(c[np.ix_(keep, keep)]))
        else:  # psych's two-item special case: alpha of a single item is undefined
            drops.append({"raw_alpha": c[0, 1] / c[1 - i, 1 - i], "std_alpha": r[0, 1], "G6": smc(r)[0],
                          "average_r": r[0, 1]})
    stats_ = pd.DataFrame({
        "n": x.notna().sum().to_numpy(), "raw_r": raw_r, "std_r": std_r, "r_cor": r_cor, "r_drop": r_drop,
        "mean": x.mean().to_numpy(), "sd": x.std().to_numpy(),
        "alpha_if_dropped": [d["raw_alpha"] for d in drops], "std_alpha_if_dropped": [d["std_alpha"] for d in drops],
        "g6_if_dropped": [d["G6"] for d in drops], "average_r_if_dropped": [d["average_r"] for d in drops],
    }, index=pd.Index(names, name="item"))
    xv = x.to_numpy()
    values = np.unique(xv[~np.isnan(xv)])
    if len(values) <= max_categories:
        counts = (xv[:, :, None] == values[None, None, :]).sum(axis=0) / (~np.isnan(xv)).sum(axis=0)[:, None]
        for j, v in enumerate(values):
            lab = f"freq_{int(v)}" if float(v).is_integer() else f"freq_{v:g}"
            stats_[lab] = counts[:, j]
        stats_["freq_miss"] = np.isnan(xv).mean(axis=0)
    # intervals
    a = (1 - level) / 2
    df1, df2 = nsub - 1, (nsub - 1) * (nvar - 1)
    raw = core["raw_alpha"]
    ci_rows = {"feldt": [1 - (1 - raw) * stats.f.ppf(1 - a, df1, df2), raw, 1 - (1 - raw) * stats.f.ppf(a, df1, df2)]}
    boot = None
    diag: dict[str, Any] = {"n_obs": nsub, "n_missing": n_missing, "reversed": reversed_, "corr": corr}
    if n_boot:
        if ordinal:
            raise SpecificationError("the bootstrap interval is available for raw alpha only (ordinal=False)")
        rng = np.random.default_rng(seed)
        xv = x.to_numpy()
        boot = np.empty(n_boot)
        for b in range(n_boot):
            xb = pd.DataFrame(xv[rng.integers(0, nsub, nsub)])
            cb = xb.cov().to_numpy()
            boot[b] = (1 - np.trace(cb) / cb.sum()) * nvar / (nvar - 1)
        lo, mid, hi = np.quantile(boot, [a, 0.5, 1 - a])
        ci_rows["bootstrap"] = [lo, mid, hi]
        diag.update({"n_boot": n_boot, "seed": seed})
    ci = pd.DataFrame.from_dict(ci_rows, orient="index", columns=["lower", "estimate", "upper"])
    tot = {"raw_alpha": raw, "std_alpha": core["std_alpha"], "G6": core["G6"], "average_r": core["average_r"],
           "s_n": core["s_n"], "ase": math.sqrt(core["Q"] / nsub), "mean": float(total.mean()),
           "sd": float(total.std()), "median_r": core["median_r"]}
    if raw < 0:
        warnings.warn(f"alpha is negative ({raw:.3f}); some items are probably keyed in the opposite "
                      "direction", StatisticalWarning, stacklevel=2)
        diag["negative_alpha"] = True
    return AlphaResult(alpha=raw, std_alpha=core["std_alpha"], g6=core["G6"], average_r=core["average_r"],
                       ci=ci, item_stats=stats_, total=tot, corr=corr, diagnostics=diag, boot=boot)


# --------------------------------------------------------------------------- omega (EFA, Schmid-Leiman)
@dataclass(frozen=True)
class OmegaResult(Result):
    """Omega coefficients from a Schmid–Leiman solution, as ``psych::omega``.

    Attributes
    ----------
    omega_h, omega_t, alpha, g6, ecv, omega_lim : float
        Omega-hierarchical, omega-total, alpha and lambda-6 of the whole set, explained
        common variance of g, and ``omega_h / omega_t`` (psych's ``omega.lim``).
    groups : DataFrame
        psych's ``omega.group``: rows ``g`` and each group factor; columns ``total``
        (omega of the subscale), ``general`` (omega_h of the subscale) and ``group``
        (omega of the group factor alone), plus ``n_items``.
    loadings : DataFrame
        The Schmid–Leiman loadings (``g``, group factors) with ``h2, u2, p2``, items
        reverse-signed when their g loading is negative (psych's ``flip``).
    assignment : Series
        Item → group factor with its largest absolute group loading.
    """

    omega_h: float
    omega_t: float
    alpha: float
    g6: float
    ecv: float
    omega_lim: float
    groups: pd.DataFrame
    loadings: pd.DataFrame
    assignment: pd.Series
    n_factors: int
    diagnostics: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame({"value": {"omega_h": self.omega_h, "omega_t": self.omega_t, "alpha": self.alpha,
                                       "G6": self.g6, "ECV": self.ecv, "omega_lim": self.omega_lim}})

    def summary(self) -> Summary:
        """Omega coefficients, omega by group and the Schmid-Leiman loadings."""
        e = self.diagnostics.get("efa", {})
        out = Summary(f"Omega (Schmid-Leiman, {self.n_factors} group factors)")
        if e.get("extraction_converged") is False or e.get("rotation_converged") is False:
            out.text("WARNING: the exploratory solution did not converge; omega is not trustworthy", strong=True)
        if e.get("heywood"):
            out.text(f"Heywood case(s): {e['heywood']}", strong=True)
        return (out.table(self.table(), title="Coefficients", digits=4).table(self.groups, title="Omega by group")
                .table(self.loadings, title="Schmid-Leiman loadings"))

    def to_frame(self) -> pd.DataFrame:
        """The coefficients (omega_h, omega_t, alpha, G6, ECV, omega_lim)."""
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({"omega_h": self.omega_h, "omega_t": self.omega_t, "alpha": self.alpha, "g6": self.g6,
                          "ecv": self.ecv, "omega_lim": self.omega_lim, "groups": self.groups,
                          "loadings": self.loadings, "assignment": self.assignment,
                          "n_factors": self.n_factors, "diagnostics": self.diagnostics})


def omega_from_schmid(r: np.ndarray, sl: np.ndarray, h2: np.ndarray, names: list[str],
                      group_names: list[str]) -> dict[str, Any]:
    """psych's ``omegah`` arithmetic on a correlation matrix and Schmid–Leiman loadings.

    ``sl`` is items × (1 + k) (g first), ``h2`` the communalities of the extraction
    (psych's ``u2 = 1 - h2`` uses these, not the Schmid–Leiman sums of squares).
    Items with a negative g loading are reverse-signed in ``r`` and ``sl`` first.
    ``omega_h = (sum g)^2 / sum(R)``, ``omega_t = (sum(R) - sum(u2)) / sum(R)``;
    group rows as ``psych::omega``'s ``omega.group``.
    """
    sl = np.array(sl, dtype=float)
    r = np.array(r, dtype=float)
    k = sl.shape[1] - 1
    key = np.sign(sl[:, 0])
    key[key == 0] = 1
    r = r * np.outer(key, key)
    sl = sl * key[:, None]
    vt = r.sum()
    n = r.shape[0]
    u2 = np.diag(r) - h2
    gsq = sl[:, 0].sum() ** 2
    om_tot = (vt - u2.sum()) / vt
    alpha_ = (vt - np.trace(r)) / vt * n / (n - 1)
    g6 = (vt + smc(r).sum() - np.trace(r)) / vt
    ev = (sl**2).sum(axis=0)
    sub = np.argmax(np.abs(sl[:, 1:]), axis=1)
    rows = {"total": [om_tot], "general": [gsq / vt], "group": [np.nan], "n_items": [n]}
    grs = 0.0
    for j in range(k):
        idx = np.flatnonzero(sub == j)
        if idx.size == 0:
            for c in ("total", "general", "group"):
                rows[c].append(np.nan)
            rows["n_items"].append(0)
            continue
        vgr = r[np.ix_(idx, idx)].sum()
        gr = sl[idx, j + 1].sum()
        gg = sl[idx, 0].sum()
        grs += gr**2
        rows["total"].append((gr**2 + gg**2) / vgr)
        rows["general"].append(gg**2 / vgr)
        rows["group"].append(gr**2 / vgr)
        rows["n_items"].append(int(idx.size))
    rows["group"][0] = grs / vt
    groups = pd.DataFrame(rows, index=["g", *group_names])
    return {"omega_h": gsq / vt, "omega_t": om_tot, "alpha": alpha_, "g6": g6, "ecv": ev[0] / ev.sum(),
            "omega_lim": gsq / (vt - u2.sum()), "groups": groups, "key": key, "sl": sl,
            "assignment": pd.Series([group_names[j] for j in sub], index=names, name="group")}


@blas_limited
def omega(data: pd.DataFrame | CFAResult, n_factors: int | None = None, *, items: list[str] | None = None,
          pool: ItemPool | None = None, method: str = "minres", rotation: str = "oblimin",
          corr: str = "pearson", general: str | None = None, n_starts: int = 10,
          seed: int | None = 1) -> OmegaResult | BifactorResult:
    """Omega-hierarchical and omega-total, as ``psych::omega(x, nfactors = n_factors)``.

    With a DataFrame: an exploratory ``n_factors`` solution (``method``/``rotation``,
    psych's defaults minres/oblimin, :func:`allyscale.efa`) is orthogonalised by
    Schmid–Leiman (:func:`allyscale.schmid_leiman`; the factor correlations are factored
    by minres, psych's ``option = "equal"`` for two factors). Then, with ``R`` the
    correlation matrix (items whose g loading is negative reverse-signed, psych's
    ``flip = TRUE``), ``V = sum(R)``, ``g`` the general loadings and ``u2 = 1 - h2`` the
    uniquenesses of the extraction:

    * ``omega_h = (sum g)^2 / V`` (McDonald, 1999; Zinbarg et al., 2005);
    * ``omega_t = (V - sum u2) / V``; ``ECV = sum g^2 / sum of all squared SL loadings``;
    * each item is assigned to the group factor on which it has its largest absolute
      loading; per group ``omega`` of the subscale ``((sum g)^2 + (sum s)^2) / V_sub``,
      omega_h of the subscale ``(sum g)^2 / V_sub`` and the group factor's own
      ``(sum s)^2 / V_sub`` (psych's ``omega.group``).

    With a fitted :class:`allyscale.cfa.CFAResult` (bifactor or second-order model):
    model-based indices from its standardized solution, see :func:`bifactor_indices`.

    Parameters
    ----------
    data : DataFrame or CFAResult
    n_factors : int, optional
        Number of group factors of the exploratory solution. Default: the pool's number of
        factors when ``pool`` is given (the hypothesised structure), else psych's default 3.
    items : list of str, optional
    pool : ItemPool, optional
        Reverse-keyed items are reverse-scored first.
    method, rotation, corr : str
        Passed to :func:`allyscale.efa` (``corr="polychoric"`` is psych's ``poly = TRUE``).
    general : str, optional
        Name of the general factor of a bifactor CFA (default: the factor loading on most items).
    n_starts, seed : int
        Random starts (and their seed) of the oblique rotation, passed to :func:`allyscale.efa`;
        psych rotates once from the varimax solution, the extra starts guard against a local optimum.

    Returns
    -------
    OmegaResult or BifactorResult

    Raises
    ------
    SpecificationError
        Fewer than two factors, a CFA without a general or second-order factor.

    References
    ----------
    McDonald, R. P. (1999). Test theory: A unified treatment. Erlbaum.
    Schmid, J., & Leiman, J. M. (1957). The development of hierarchical factor solutions.
    Psychometrika, 22, 53-61.
    Zinbarg, R. E., Revelle, W., Yovel, I., & Li, W. (2005). Cronbach's alpha, Revelle's
    beta, and McDonald's omega_h. Psychometrika, 70, 123-133.
    Revelle, W., & Zinbarg, R. E. (2009). Coefficients alpha, beta, omega, and the glb.
    Psychometrika, 74, 145-154.
    """
    from allyscale.cfa import CFAResult as _CFA

    if isinstance(data, _CFA):
        return _omega_from_cfa(data, general=general)
    if n_factors is None:
        n_factors = len(pool.factors) if pool is not None else 3
    if n_factors < 2:
        raise SpecificationError(f"omega needs at least two group factors (n_factors >= 2), got {n_factors}")
    from allyscale.efa import efa, schmid_leiman

    x, reversed_ = _select_items(data, items, pool)
    names = list(x.columns)
    fa = efa(x, n_factors, method=method, rotation=rotation, corr=corr, n_starts=n_starts, seed=seed)
    if fa.correlation is not None:
        r = fa.correlation.loc[names, names].to_numpy(dtype=float)
    elif corr == "pearson":
        r = x.corr().to_numpy(dtype=float)
    else:  # pragma: no cover - efa always returns its correlation matrix
        raise SpecificationError("the exploratory solution did not return its correlation matrix")
    sl = schmid_leiman(fa, method=method)
    lo = sl.loadings.loc[names]
    slm = lo.to_numpy(dtype=float)
    if sl.gamma.sum() < 0:  # psych's one-factor fa of Phi returns positive loadings
        slm[:, 0] = -slm[:, 0]
    h2 = fa.communalities.loc[names].to_numpy(dtype=float)
    res = omega_from_schmid(r, slm, h2, names, list(lo.columns[1:]))
    load = pd.DataFrame(res["sl"], index=names, columns=lo.columns)
    load["h2"] = h2
    load["u2"] = 1 - h2
    load["p2"] = load["g"] ** 2 / h2
    diag = {"efa": fa.diagnostics, "reversed": reversed_, "flipped": [n for n, k in zip(names, res["key"]) if k < 0],
            "corr": corr, "method": method, "rotation": rotation}
    if (h2 > 1).any():
        diag["heywood"] = [n for n, v in zip(names, h2) if v > 1]
    return OmegaResult(omega_h=res["omega_h"], omega_t=res["omega_t"], alpha=res["alpha"], g6=res["g6"],
                       ecv=res["ecv"], omega_lim=res["omega_lim"], groups=res["groups"], loadings=load,
                       assignment=res["assignment"], n_factors=n_factors, diagnostics=diag)


# --------------------------------------------------------------------------- model-based (bifactor)
@dataclass(frozen=True)
class BifactorResult(Result):
    """Model-based indices of a bifactor (or Schmid–Leiman-transformed second-order) model.

    Attributes
    ----------
    omega, omega_h, ecv, puc : float
    factors : DataFrame
        Per factor (general first): ``omega`` (omega of the subscale; total for g),
        ``omega_h`` (omega_h for g, omega_hs for group factors), ``H`` (construct
        replicability), ``ecv`` (share of common variance; for a group factor, its share
        within its own items: ``ECV_SS``), ``n_items``.
    loadings : DataFrame
        Standardized loadings used (general and group factors) with ``theta``.
    """

    omega: float
    omega_h: float
    ecv: float
    puc: float
    factors: pd.DataFrame
    loadings: pd.DataFrame
    general: str
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The model-based indices and the per-factor table."""
        out = Summary(f"Model-based indices (general factor {self.general!r})")
        out.text(f"omega = {self.omega:.4f}, omega_h = {self.omega_h:.4f}, ECV = {self.ecv:.4f}, PUC = {self.puc:.4f}")
        return out.table(self.factors, title="Factors", digits=4)

    def to_frame(self) -> pd.DataFrame:
        """Per factor: omega, omega_h, H, ECV, number of items."""
        return self.factors

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({"omega": self.omega, "omega_h": self.omega_h, "ecv": self.ecv, "puc": self.puc,
                          "general": self.general, "factors": self.factors, "loadings": self.loadings,
                          "diagnostics": self.diagnostics})


def bifactor_indices(loadings: pd.DataFrame, general: str, *, theta: pd.Series | None = None) -> BifactorResult:
    """omega, omega_h, omega_hs, H, ECV and PUC from standardized bifactor loadings.

    Conventions (Rodriguez, Reise & Haviland, 2016; the formulas of their Table 1 and of
    the ``BifactorIndicesCalculator`` R package): loadings are completely standardized
    and factors orthogonal; ``theta_i = 1 - h2_i`` unless given; the variance of a unit-
    weighted sum is model-implied, ``V = (sum g)^2 + sum_k (sum s_k)^2 + sum theta``.

    * ``omega = (V - sum theta) / V``, ``omega_h = (sum g)^2 / V``;
    * for group factor ``k`` with its items ``I_k`` (non-zero loading):
      ``omega_k = ((sum_{I_k} g)^2 + (sum s_k)^2) / V_k``, ``omega_hs = (sum s_k)^2 / V_k``;
    * ``H = 1 / (1 + 1 / sum(l^2 / (1 - l^2)))`` (Hancock & Mueller, 2001);
    * ``ECV = sum g^2 / (sum g^2 + sum s^2)``; for group k, ``sum_{I_k} s_k^2 / (sum_{I_k} g^2 + sum s_k^2)``;
    * ``PUC = 1 - sum_k C(n_k, 2) / C(n, 2)`` (Reise, Scheines, Widaman & Haviland, 2013).

    Parameters
    ----------
    loadings : DataFrame
        Items × factors, standardized, zero (or NaN) where an item does not load.
    general : str
        Column of the general factor.
    theta : Series, optional
        Standardized residual variances (default ``1 - h2``).

    Raises
    ------
    SpecificationError
        ``general`` is not a column, or an item does not load on it.

    References
    ----------
    Hancock, G. R., & Mueller, R. O. (2001). Rethinking construct reliability within latent
    variable systems. In R. Cudeck et al. (Eds.), Structural equation modeling: Present and
    future (pp. 195-216). Scientific Software International.
    Reise, S. P., Scheines, R., Widaman, K. F., & Haviland, M. G. (2013). Multidimensionality
    and structural coefficient bias in structural equation modeling. Educational and
    Psychological Measurement, 73, 5-26.
    Rodriguez, A., Reise, S. P., & Haviland, M. G. (2016). Evaluating bifactor models:
    Calculating and interpreting statistical indices. Psychological Methods, 21, 137-150.
    """
    if general not in loadings.columns:
        raise SpecificationError(f"general factor {general!r} is not a column of the loadings "
                                 f"({list(loadings.columns)})")
    lam = loadings.fillna(0.0).astype(float)
    g = lam[general]
    if (g == 0).any():
        raise SpecificationError(f"item(s) {list(g.index[g == 0])} do not load on the general factor {general!r}")
    groups = [c for c in lam.columns if c != general]
    h2 = (lam**2).sum(axis=1)
    th = (1 - h2) if theta is None else theta.loc[lam.index].astype(float)
    v = g.sum() ** 2 + sum(lam[k].sum() ** 2 for k in groups) + th.sum()
    ssg = (g**2).sum()
    sss = sum((lam[k] ** 2).sum() for k in groups)

    def _h(l: pd.Series) -> float:
        l = l[l != 0]
        s = (l**2 / (1 - l**2)).sum()
        return float(1 / (1 + 1 / s))

    rows = {general: {"omega": (v - th.sum()) / v, "omega_h": g.sum() ** 2 / v, "H": _h(g),
                      "ecv": ssg / (ssg + sss), "n_items": len(g)}}
    n = len(g)
    pairs = 0
    for k in groups:
        idx = lam.index[lam[k] != 0]
        sk, gk = lam.loc[idx, k], g.loc[idx]
        vk = gk.sum() ** 2 + sk.sum() ** 2 + th.loc[idx].sum()
        rows[k] = {"omega": (gk.sum() ** 2 + sk.sum() ** 2) / vk if len(idx) else np.nan,
                   "omega_h": sk.sum() ** 2 / vk if len(idx) else np.nan, "H": _h(sk) if len(idx) else np.nan,
                   "ecv": (sk**2).sum() / ((gk**2).sum() + (sk**2).sum()) if len(idx) else np.nan,
                   "n_items": len(idx)}
        pairs += len(idx) * (len(idx) - 1) / 2
    puc = 1 - pairs / (n * (n - 1) / 2)
    factors = pd.DataFrame.from_dict(rows, orient="index")
    out = lam.copy()
    out["theta"] = th
    diag: dict[str, Any] = {}
    if (th < 0).any():
        warnings.warn(f"negative standardized residual variances for {list(th.index[th < 0])}",
                      StatisticalWarning, stacklevel=2)
        diag["negative_theta"] = list(th.index[th < 0])
    return BifactorResult(omega=float(factors.loc[general, "omega"]), omega_h=float(factors.loc[general, "omega_h"]),
                          ecv=float(ssg / (ssg + sss)), puc=float(puc), factors=factors, loadings=out,
                          general=general, diagnostics=diag)


def _omega_from_cfa(fit: CFAResult, *, general: str | None) -> BifactorResult:
    """Bifactor indices from a CFA: a bifactor model directly, a second-order model through
    its Schmid–Leiman form (item on g: ``l_ik * gamma_k``; on group k: ``l_ik sqrt(1 - gamma_k^2)``)."""
    if not fit.converged:
        raise SpecificationError("the CFA did not converge; model-based omega would describe a non-solution")
    est = fit.estimates
    if "group" in est.columns:
        raise SpecificationError("model-based omega is available for single-group models")
    load = est[est["op"] == "=~"]
    latent = list(dict.fromkeys(load["lhs"]))
    items = [i for i in dict.fromkeys(load["rhs"]) if i not in latent]
    second = [f for f in latent if set(load.loc[load["lhs"] == f, "rhs"]) <= set(latent)]
    if second:
        g = general or second[0]
        first = list(load.loc[load["lhs"] == g, "rhs"])
        gamma = load[(load["lhs"] == g)].set_index("rhs")["std_all"]
        lam = pd.DataFrame(0.0, index=items, columns=[g, *first])
        for _, row in load[load["lhs"].isin(first)].iterrows():
            gm = float(gamma[row["lhs"]])
            lam.loc[row["rhs"], g] += row["std_all"] * gm
            lam.loc[row["rhs"], row["lhs"]] = row["std_all"] * math.sqrt(max(1 - gm**2, 0.0))
        theta = None
    else:
        lam = load.pivot_table(index="rhs", columns="lhs", values="std_all", aggfunc="sum").reindex(
            index=items, columns=latent).fillna(0.0)
        g = general or max(latent, key=lambda f: (lam[f] != 0).sum())
        if (lam[g] != 0).sum() < len(items):
            raise SpecificationError(f"factor {g!r} does not load on every item: not a bifactor model "
                                     "(give general= or fit a bifactor / second-order model)")
        cov = est[(est["op"] == "~~") & est["lhs"].isin(latent) & est["rhs"].isin(latent) & (est["lhs"] != est["rhs"])]
        if (cov["std_all"].abs() > 1e-8).any():
            raise SpecificationError("the factors of a bifactor model must be orthogonal (fix their covariances to 0)")
        res = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"]) & est["lhs"].isin(items)].set_index("lhs")
        theta = res["std_all"].reindex(items)
    return bifactor_indices(lam, g, theta=theta)


# --------------------------------------------------------------------------- composite reliability
def composite_reliability(loadings: pd.Series, psi: float, total_cov: pd.DataFrame) -> float:
    """Composite reliability (omega) of one factor, as ``semTools::compRelSEM`` defaults.

    ``omega = (sum lambda)^2 psi / sum(S)``, with ``S`` the *observed* (sample) covariance
    matrix of the factor's indicators (``obs.var = TRUE``; lavaan's ML sample covariance
    uses the N denominator) and congeneric loadings (``tau.eq = FALSE``) (Raykov, 1997;
    Bentler, 2009).

    Parameters
    ----------
    loadings : Series
        Unstandardized loadings of the factor's indicators (index: item names).
    psi : float
        Factor variance.
    total_cov : DataFrame
        Observed covariance matrix (containing at least the indicators).

    References
    ----------
    Raykov, T. (1997). Estimation of composite reliability for congeneric measures.
    Applied Psychological Measurement, 21, 173-184.
    Bentler, P. M. (2009). Alpha, dimension-free, and model-based internal consistency
    reliability. Psychometrika, 74, 137-143.
    """
    idx = list(loadings.index)
    return float(loadings.sum() ** 2 * psi / total_cov.loc[idx, idx].to_numpy().sum())


def categorical_omega(loadings: pd.Series, psi: float, thresholds: pd.DataFrame, polychoric: pd.DataFrame) -> float:
    """Categorical omega on the response scale (Green & Yang, 2009), as ``compRelSEM`` with
    ordered indicators (``ord.scale = TRUE``, ``obs.var = TRUE``, delta parameterization).

    With thresholds ``tau_jc`` and ``P_jj'(rho) = sum_c sum_c' Phi2(tau_jc, tau_j'c'; rho) -
    sum_c Phi(tau_jc) sum_c' Phi(tau_j'c')``, the covariance of the item scores implied by
    correlation ``rho`` between their latent responses:

    ``omega = sum_jj' P_jj'(lambda_j psi lambda_j') / sum_jj' P_jj'(rho*_jj')``

    with ``rho*`` the sample polychoric correlations (``rho*_jj = 1``).

    References
    ----------
    Green, S. B., & Yang, Y. (2009). Reliability of summed item scores using structural
    equation modeling: An alternative to coefficient alpha. Psychometrika, 74, 155-167.
    """
    idx = list(loadings.index)
    lam = loadings.to_numpy(dtype=float)
    return _green_yang(np.outer(lam, lam) * psi, idx, thresholds, polychoric)


def average_variance_extracted(loadings: pd.Series, psi: float, variances: pd.Series) -> float:
    """Average variance extracted, as ``semTools::AVE`` (default ``obs.var = TRUE``).

    ``AVE = psi sum(lambda^2) / sum(observed variances)`` (Fornell & Larcker, 1981);
    the denominator uses the sample variances (N denominator, lavaan's ``sampstat``),
    for ordered indicators the latent-response variances (1 in the delta
    parameterization).

    References
    ----------
    Fornell, C., & Larcker, D. F. (1981). Evaluating structural equation models with
    unobservable variables and measurement error. Journal of Marketing Research, 18, 39-50.
    """
    idx = list(loadings.index)
    return float((loadings**2).sum() * psi / variances.loc[idx].sum())


def _factor_items(model: str) -> dict[str, list[str]]:
    """Factor → observed items (:func:`allyscale.syntax.factor_items`)."""
    from allyscale.syntax import factor_items

    return factor_items(model)


def _model_parts(fit: CFAResult) -> tuple[dict[str, pd.Series], pd.DataFrame, pd.DataFrame | None]:
    """Unstandardized loadings per factor, latent covariance matrix and thresholds of a fit."""
    est = fit.estimates
    if "group" in est.columns:
        raise SpecificationError("composite reliability is implemented for single-group models")
    load = est[est["op"] == "=~"]
    latent = list(dict.fromkeys(load["lhs"]))
    lams = {f: load[load["lhs"] == f].set_index("rhs")["est"].astype(float) for f in latent}
    phi = pd.DataFrame(0.0, index=latent, columns=latent)
    cov = est[(est["op"] == "~~") & est["lhs"].isin(latent) & est["rhs"].isin(latent)]
    for _, row in cov.iterrows():
        phi.loc[row["lhs"], row["rhs"]] = phi.loc[row["rhs"], row["lhs"]] = float(row["est"])
    th = est[est["op"] == "|"]
    thresholds = None
    if len(th):
        k = th["rhs"].astype(str).str.extract(r"(\d+)$")[0].astype(int)
        thresholds = th.assign(k=k).pivot(index="lhs", columns="k", values="est")
    return lams, phi, thresholds


@blas_limited
def reliability(data: pd.DataFrame, model: str, *, estimator: str | None = None, ordinal_alpha: bool = False,
                pool: ItemPool | None = None, fit: CFAResult | None = None) -> pd.DataFrame:
    """Per-factor reliability: alpha, composite reliability (omega), AVE and item count.

    * ``alpha``: :func:`alpha` of the factor's items (``ordinal_alpha=True``: on
      polychoric correlations);
    * ``omega``: ``semTools::compRelSEM(fit)`` with its defaults — for ML/MLR
      :func:`composite_reliability` with the observed covariance matrix; for WLSMV (items
      ordered) :func:`categorical_omega` (Green & Yang, 2009) with the model's thresholds
      and the sample polychoric correlations;
    * ``ave``: ``semTools::AVE(fit)`` (:func:`average_variance_extracted`);
    * the ``total`` row: alpha of all items and ``compRelSEM(return.total = TRUE)``,
      ``sum(Lambda Phi Lambda') / sum(S)``; no AVE. For ordered items the total is Green &
      Yang's omega with the full true-score matrix ``Lambda Phi Lambda'`` (semTools 0.5.6 stops
      with an error for this case, so it has no R counterpart).

    The CFA is fitted with :func:`allyscale.cfa` unless ``fit`` is given. Only loadings on
    observed indicators count; factors with one indicator are dropped (``dropSingle``).
    The observed covariance (or polychoric) matrix comes from the rows complete on the
    model's items; with missing data and a FIML fit semTools would use lavaan's EM
    estimate instead, so the two differ in that case.

    Parameters
    ----------
    data : DataFrame
    model : str
        lavaan syntax of the measurement model.
    estimator : {"ML", "MLR", "WLSMV"}, optional
        Default: the estimator of ``fit`` when given, else allyscale's estimator rule
        (:func:`allyscale.fitpolicy.default_estimator`: WLSMV for ordered items).
    ordinal_alpha : bool
    pool : ItemPool, optional
        Reverse-keyed items are reverse-scored before anything is computed.
    fit : CFAResult, optional
        An existing fit of ``model`` to ``data`` (same estimator).

    Returns
    -------
    ReliabilityResult
        ``table``: index factors and ``total``, columns ``n_items, alpha, omega, ave``;
        ``diagnostics``: the CFA's convergence and warnings, dropped rows, polychoric checks.

    Raises
    ------
    DataError, SpecificationError
        As :func:`allyscale.cfa`; an item of the model missing from ``data``.
    """
    from allyscale.cfa import cfa

    fi = _factor_items(model)
    items = list(dict.fromkeys(i for its in fi.values() for i in its))
    missing = [i for i in items if i not in data.columns]
    if missing:
        raise DataError(f"item(s) {missing} of the model are not columns of the data")
    x = reverse_score(data, pool, present_only=True) if pool is not None else data.copy()
    from allyscale.fitpolicy import resolve_estimator

    estimator = resolve_estimator(estimator, x, model, fit=fit)
    categorical = estimator == "WLSMV"
    if fit is None:
        fit = cfa(x, model, estimator=estimator, **({"ordered": items} if categorical else {}))
    diag: dict[str, Any] = {"estimator": estimator, "converged": fit.converged}
    if not fit.converged:
        warnings.warn("the CFA did not converge; omega and AVE come from a non-converged solution",
                      ConvergenceWarning, stacklevel=2)
    if fit.diagnostics.get("heywood"):
        diag["heywood"] = fit.diagnostics["heywood"]
    lams, phi, thr = _model_parts(fit)
    xi = x[items].dropna()
    if len(xi) < len(x):
        warnings.warn(f"{len(x) - len(xi)} rows with missing responses were dropped (listwise)", DataWarning,
                      stacklevel=2)
        diag["dropped_rows"] = len(x) - len(xi)
    if categorical:
        from allyscale.polychoric import polychoric

        if getattr(fit, "estimator", None) == "WLSMV" and getattr(fit, "_est", None) is not None \
                and fit.ngroups == 1 and len(fit._prep.y[0]) == len(xi):
            # the fit's own sample polychorics (same rows, same two-step estimates)
            s = pd.DataFrame(fit._est.sample[0][0], index=fit._prep.ov, columns=fit._prep.ov).loc[items, items]
            diag["polychoric"] = {"converged": bool(fit._est.diagnostics.get("polychoric_converged", True)),
                                  "smoothed": False, "min_eigenvalue": float(np.linalg.eigvalsh(s.to_numpy())[0])}
        else:
            pc = polychoric(xi, items=items, smooth=False)  # lavaan's sample statistics are not smoothed
            s = pc.corr
            diag["polychoric"] = {k: v for k, v in pc.diagnostics.items()
                                  if k in ("converged", "smoothed", "min_eigenvalue")}
        if thr is None:
            thr = pc.thresholds
        variances = pd.Series(1.0, index=items)
    else:
        s = xi.cov(ddof=0)
        variances = pd.Series(np.diag(s), index=items)
    rows = {}
    for f, its in fi.items():
        if f not in lams:
            continue
        lam = lams[f].loc[[i for i in lams[f].index if i in items]]
        if len(lam) < 2:
            continue
        psi = float(phi.loc[f, f])
        a = _alpha_value(x, list(lam.index), ordinal_alpha)
        om = (categorical_omega(lam, psi, thr, s) if categorical else composite_reliability(lam, psi, s))
        # semTools::AVE leaves a factor out (NA) when one of its indicators loads on another factor
        cross = any(i in lams[g].index for i in lam.index for g in lams if g != f)
        ave_f = np.nan if cross else average_variance_extracted(lam, psi, variances)
        if cross:
            diag.setdefault("ave_undefined_cross_loadings", []).append(f)
        rows[f] = {"n_items": len(lam), "alpha": a, "omega": om, "ave": ave_f}
    if len(rows) > 1:
        lam_m = pd.DataFrame({f: lams[f] for f in rows}).reindex(items).fillna(0.0)
        fs = list(rows)
        common = lam_m.to_numpy() @ phi.loc[fs, fs].to_numpy() @ lam_m.to_numpy().T
        if categorical:
            tot = _green_yang(common, items, thr, s)
        else:
            tot = common.sum() / s.loc[items, items].to_numpy().sum()
        rows["total"] = {"n_items": len(items), "alpha": _alpha_value(x, items, ordinal_alpha),
                         "omega": tot, "ave": np.nan}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out["n_items"] = out["n_items"].astype(int)
    out.index.name = "factor"
    return ReliabilityResult(out, diag, estimator)


@dataclass(frozen=True)
class ReliabilityResult(Result):
    """Alpha, model-based omega and AVE per subscale and for the total score (:func:`reliability`).

    Attributes
    ----------
    table : DataFrame
        Index: factors and ``total``; columns ``n_items, alpha, omega, ave``.
    diagnostics : dict
        ``estimator``, ``converged``, ``heywood``, ``dropped_rows``, ``polychoric`` checks,
        ``ave_undefined_cross_loadings``.
    estimator : str
    """

    table: pd.DataFrame
    diagnostics: dict
    estimator: str

    def summary(self) -> Summary:
        """The reliability table with its sources."""
        omega_source = ("categorical omega (Green & Yang, 2009), as semTools::compRelSEM"
                        if self.estimator == "WLSMV" else "omega as semTools::compRelSEM")
        out = Summary(f"Reliability ({self.estimator}; {omega_source}; AVE as semTools::AVE)")
        if not self.diagnostics.get("converged", True):
            out.text("WARNING: the CFA did not converge; omega and AVE are not trustworthy", strong=True)
        if self.diagnostics.get("heywood"):
            out.text("Heywood case(s): " + "; ".join(map(str, self.diagnostics["heywood"])), strong=True)
        return out.table(self.table, title="Subscales and total score", digits=4)

    def to_frame(self) -> pd.DataFrame:
        """The reliability table."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({"estimator": self.estimator, "table": self.table, "diagnostics": self.diagnostics})


def _alpha_value(x: pd.DataFrame, items: list[str], ordinal: bool) -> float:
    """Raw alpha alone (the coefficient of :func:`alpha`, without its item analysis and intervals)."""
    if ordinal:
        return alpha(x, items=items, ordinal=True).alpha
    xs, _ = _select_items(x, items, None)
    c = xs.cov().to_numpy(dtype=float)  # pairwise complete, N - 1, as alpha()
    if not np.all(np.isfinite(c)):
        raise DataError("some pairs of items have no complete observations; the covariance matrix is undefined")
    n = c.shape[0]
    return float((1 - np.trace(c) / c.sum()) * n / (n - 1))


def _green_yang(true_r: np.ndarray, idx: list[str], thresholds: pd.DataFrame, polychoric: pd.DataFrame) -> float:
    """Green & Yang's ratio for an explicit true-score correlation matrix of the items ``idx``."""
    from scipy.special import ndtr

    from allyscale._core.bivnorm import bvn_cdf

    den_r = polychoric.loc[idx, idx].to_numpy(dtype=float)
    missing = [i for i in idx if i not in thresholds.index]
    if missing:
        raise SpecificationError(f"no thresholds for item(s) {missing}")
    tau = thresholds.loc[idx].to_numpy(dtype=float)  # items x max thresholds, NaN padded
    p, m = tau.shape
    valid = ~np.isnan(tau)
    t = np.where(valid, tau, 0.0)
    s1 = np.where(valid, ndtr(t), 0.0).sum(axis=1)
    # the double sum is symmetric in (i, j): evaluate the pairs i <= j once, off-diagonal ones twice
    ii, jj = np.triu_indices(p)
    weight = np.where(ii == jj, 1.0, 2.0)
    h = np.broadcast_to(t[ii][:, :, None], (len(ii), m, m))
    k = np.broadcast_to(t[jj][:, None, :], (len(ii), m, m))
    mask = valid[ii][:, :, None] & valid[jj][:, None, :]

    def _pairs(rho: np.ndarray) -> float:
        rr = np.broadcast_to(rho[ii, jj][:, None, None], h.shape)
        one = np.abs(rr) >= 1.0
        out = np.zeros(h.shape)
        if (~one).any():
            out[~one] = bvn_cdf(h[~one], k[~one], rr[~one])
        pos, neg = one & (rr > 0), one & (rr < 0)
        out[pos] = ndtr(np.minimum(h, k)[pos])
        out[neg] = np.maximum(ndtr(h) + ndtr(k) - 1, 0)[neg]
        cov = np.where(mask, out, 0.0).sum(axis=(1, 2)) - s1[ii] * s1[jj]
        return float(weight @ cov)

    return _pairs(true_r) / _pairs(den_r)


# --------------------------------------------------------------------------- split-half
@dataclass(frozen=True)
class SplitHalfResult(Result):
    """Split-half reliabilities.

    ``table`` has rows ``odd_even`` and ``first_second`` and columns ``r_halves`` (Pearson
    correlation of the two half sums), ``spearman_brown`` (``2r / (1 + r)``),
    ``guttman`` (Flanagan–Rulon, ``2 (1 - (v1 + v2) / v_total)``), ``n_items_1``,
    ``n_items_2``; ``halves`` names the items of each half.
    """

    table: pd.DataFrame
    halves: dict
    n_obs: int
    diagnostics: dict = field(default_factory=dict)
    all_splits: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The split-half table and, when computed, the distribution over all splits."""
        out = Summary(f"Split-half reliability (N = {self.n_obs})").table(self.table, title="Splits", digits=4)
        if self.all_splits:
            a = self.all_splits
            out.text(f"Over {a['n_splits']} splits ({a['mode']}): maximum (lambda4) = {a['max']:.4f}, "
                     f"minimum (beta) = {a['min']:.4f}, mean = {a['mean']:.4f}")
        return out

    def to_frame(self) -> pd.DataFrame:
        """Rows odd_even and first_second."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({"table": self.table, "halves": self.halves, "n_obs": self.n_obs,
                          "all_splits": self.all_splits, "diagnostics": self.diagnostics})


@blas_limited
def split_half(data: pd.DataFrame, *, items: list[str] | None = None, pool: ItemPool | None = None,
               all_splits: bool = True, n_sample: int = 10000, seed: int | None = None) -> SplitHalfResult:
    """Odd–even and first–second-half split-half reliability with the Spearman–Brown correction.

    Halves are the sums of the items at odd and even positions (1st, 3rd, ... vs 2nd, 4th,
    ...) and of the first ``ceil(n/2)`` vs the remaining items, in the order given. Rows
    with a missing response are dropped (listwise, with a :class:`DataWarning`). Variances
    use N - 1 (the ratio does not depend on it).

    * Spearman–Brown: ``2 r / (1 + r)`` with ``r`` the Pearson correlation of the halves
      (Spearman, 1910; Brown, 1910);
    * Guttman / Flanagan–Rulon: ``2 (1 - (var(A) + var(B)) / var(A + B))`` (Guttman, 1945),
      which does not assume halves of equal variance.

    With ``all_splits`` (as ``psych::splitHalf(x, check.keys = FALSE)``): on the
    pairwise correlation matrix ``R`` (standardized items), every split into
    ``floor(n/2)`` and the remaining items gives ``4 R_AB / sum(R)``; reported are the
    maximum (Guttman's lambda4), the minimum (Revelle's beta) and the mean. As psych, the
    first ``round(C(n, floor(n/2))) / 2`` splits in lexicographic order are enumerated when
    that count is at most ``n_sample`` (for an even n these are all distinct splits),
    otherwise ``n_sample`` random splits are drawn (``seed``). The mean here divides by the
    number of splits evaluated; psych divides by ``C(n, floor(n/2)) / 2``, which for an odd
    n is half a split fewer (its mean is larger by the factor ``ceil(c) / c``).

    Parameters
    ----------
    data : DataFrame
    items : list of str, optional
        Items in the order that defines the halves (default: the pool's items, else all columns).
    pool : ItemPool, optional
        Reverse-keyed items are reverse-scored first.
    all_splits : bool
        Also evaluate every split (or ``n_sample`` random splits).
    n_sample : int
    seed : int, optional

    Returns
    -------
    SplitHalfResult

    Raises
    ------
    DataError, SpecificationError
        Bad items; fewer than two items or three complete rows.

    References
    ----------
    Spearman, C. (1910). Correlation calculated from faulty data. British Journal of
    Psychology, 3, 271-295. Brown, W. (1910). Some experimental results in the correlation
    of mental abilities. British Journal of Psychology, 3, 296-322.
    Guttman, L. (1945). A basis for analyzing test-retest reliability. Psychometrika, 10, 255-282.
    """
    x, reversed_ = _select_items(data, items, pool)
    diag: dict[str, Any] = {"reversed": reversed_}
    xc = x.dropna()
    if len(xc) < len(x):
        warnings.warn(f"split_half: {len(x) - len(xc)} rows with missing responses dropped (listwise)",
                      DataWarning, stacklevel=2)
        diag["dropped_rows"] = len(x) - len(xc)
    if len(xc) < 3:
        raise SpecificationError(f"split_half needs at least three complete rows, got {len(xc)}")
    names = list(x.columns)
    n = len(names)
    splits = {"odd_even": (names[0::2], names[1::2]), "first_second": (names[: (n + 1) // 2], names[(n + 1) // 2:])}
    rows = {}
    for lab, (h1, h2) in splits.items():
        a, b = xc[h1].sum(axis=1), xc[h2].sum(axis=1)
        rr = float(np.corrcoef(a, b)[0, 1])
        guttman = 2 * (1 - (a.var() + b.var()) / (a + b).var())
        rows[lab] = {"r_halves": rr, "spearman_brown": 2 * rr / (1 + rr), "guttman": float(guttman),
                     "n_items_1": len(h1), "n_items_2": len(h2)}
    allsp: dict[str, Any] = {}
    if all_splits:
        allsp = _all_splits(x.corr().to_numpy(dtype=float), n_sample, seed)
    return SplitHalfResult(table=pd.DataFrame.from_dict(rows, orient="index"),
                           halves={k: {"first": v[0], "second": v[1]} for k, v in splits.items()},
                           n_obs=len(xc), diagnostics=diag, all_splits=allsp)


def _all_splits(r: np.ndarray, n_sample: int, seed: int | None) -> dict[str, Any]:
    """psych::splitHalf's enumeration: ``4 R_AB / sum(R)`` over splits of floor(n/2) items."""
    import itertools

    n = r.shape[0]
    m = n // 2
    half = math.comb(n, m) / 2
    if half <= n_sample:
        k = int(math.ceil(half))  # psych loops while i < count + 1, i.e. ceil(count) splits
        combos = np.array(list(itertools.islice(itertools.combinations(range(n), m), k)))
        mode = "lexicographic enumeration"
    else:
        rng = np.random.default_rng(seed)
        combos = np.array([np.sort(rng.choice(n, m, replace=False)) for _ in range(n_sample)])
        mode = f"{n_sample} random splits"
    a = np.zeros((len(combos), n))
    a[np.arange(len(combos))[:, None], combos] = 1.0
    b = 1.0 - a
    rab = 4 * np.einsum("si,ij,sj->s", a, r, b) / r.sum()
    return {"max": float(rab.max()), "min": float(rab.min()), "mean": float(rab.mean()), "n_splits": len(combos),
            "mode": mode, "max_split": [int(i) for i in combos[np.argmax(rab)]]}


# --------------------------------------------------------------------------- ICC
@dataclass(frozen=True)
class ICCResult(Result):
    """Intraclass correlations as ``psych::ICC(x, lmer = FALSE)``.

    ``table``: rows ``ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k`` with ``icc, F, df1, df2, p,
    lower, upper``; ``anova``: the two-way mean squares (``MSB, MSJ, MSE, MSW``).
    """

    table: pd.DataFrame
    anova: dict
    n_obs: int
    n_occasions: int
    level: float
    diagnostics: dict = field(default_factory=dict)

    @property
    def agreement(self) -> float:
        """ICC(2,1): absolute agreement of single scores (two-way random effects)."""
        return float(self.table.loc["ICC2", "icc"])

    @property
    def consistency(self) -> float:
        """ICC(3,1): consistency of single scores (two-way mixed effects)."""
        return float(self.table.loc["ICC3", "icc"])

    def summary(self) -> Summary:
        """The six intraclass correlations with F tests and intervals."""
        return Summary(f"Intraclass correlations: N = {self.n_obs}, {self.n_occasions} occasions/raters, "
                       f"{self.level:.0%} CIs").table(self.table, title="ICC", digits=4)

    def to_frame(self) -> pd.DataFrame:
        """Rows ICC1 ... ICC3k."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        return _jsonable({"table": self.table, "anova": self.anova, "n_obs": self.n_obs,
                          "n_occasions": self.n_occasions, "level": self.level, "diagnostics": self.diagnostics})


def icc(data: pd.DataFrame, columns: list[str] | None = None, *, level: float = 0.95) -> ICCResult:
    """Intraclass correlations for test–retest (or inter-rater) data, as ``psych::ICC(x, lmer = FALSE)``.

    Rows are persons, ``columns`` the occasions (e.g. a scale score at time 1 and time 2).
    From the two-way ANOVA without interaction (mean squares for persons ``MSB``,
    occasions ``MSJ``, residual ``MSE``, within persons ``MSW``; ``n`` persons, ``k``
    occasions), following Shrout & Fleiss (1979) and McGraw & Wong (1996):

    * ``ICC1 = (MSB - MSW) / (MSB + (k-1) MSW)`` (one-way random);
    * ``ICC2 = (MSB - MSE) / (MSB + (k-1) MSE + k (MSJ - MSE) / n)`` — ICC(2,1), absolute
      agreement, two-way random effects; its interval uses Satterthwaite's df (McGraw & Wong);
    * ``ICC3 = (MSB - MSE) / (MSB + (k-1) MSE)`` — ICC(3,1), consistency, two-way mixed;
    * ``ICC1k, ICC2k, ICC3k``: the same for the mean of the k occasions;
    * F tests ``MSB/MSW`` and ``MSB/MSE`` and F-based intervals exactly as psych.

    psych's default ``lmer = TRUE`` estimates the variance components by REML; with
    complete data and non-negative components ICC2, ICC3 and their intervals coincide,
    while ICC1 uses the ANOVA ``MSW`` here (``lmer = FALSE``). Rows with a missing value
    are dropped (listwise) with a :class:`DataWarning`.

    Parameters
    ----------
    data : DataFrame
        One row per person.
    columns : list of str, optional
        The occasions (default: every column), e.g. ``["time1", "time2"]``.
    level : float
        Confidence level (psych's ``alpha = 1 - level``).

    Returns
    -------
    ICCResult
        ``.agreement`` is ICC(2,1), ``.consistency`` ICC(3,1).

    Raises
    ------
    DataError
        Missing or non-numeric columns; fewer than two occasions or complete rows.

    References
    ----------
    Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: Uses in assessing rater
    reliability. Psychological Bulletin, 86, 420-428.
    McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass
    correlation coefficients. Psychological Methods, 1, 30-46.
    """
    if not 0 < level < 1:
        raise SpecificationError(f"level must be between 0 and 1, got {level}")
    cols = list(data.columns) if columns is None else list(columns)
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataError(f"column(s) {missing} are not in the data")
    if len(cols) < 2:
        raise DataError(f"an ICC needs at least two occasions (columns), got {cols}")
    for c in cols:
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise DataError(f"column {c!r} is not numeric (dtype {data[c].dtype})")
    x = data[cols].astype(float)
    diag: dict[str, Any] = {}
    xc = x.dropna()
    if len(xc) < len(x):
        warnings.warn(f"icc: {len(x) - len(xc)} rows with a missing value dropped (listwise)", DataWarning,
                      stacklevel=2)
        diag["dropped_rows"] = len(x) - len(xc)
    y = xc.to_numpy()
    n, k = y.shape
    if n < 2:
        raise DataError(f"an ICC needs at least two complete rows, got {n}")
    grand = y.mean()
    ssb = k * ((y.mean(axis=1) - grand) ** 2).sum()
    ssj = n * ((y.mean(axis=0) - grand) ** 2).sum()
    sse = ((y - grand) ** 2).sum() - ssb - ssj
    dfb, dfj, dfe = n - 1, k - 1, (n - 1) * (k - 1)
    msb, msj, mse = ssb / dfb, ssj / dfj, sse / dfe
    msw = (ssj + sse) / (dfj + dfe)
    icc1 = (msb - msw) / (msb + (k - 1) * msw)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    icc3 = (msb - mse) / (msb + (k - 1) * mse)
    icc1k = (msb - msw) / msb
    icc2k = (msb - mse) / (msb + (msj - mse) / n)
    icc3k = (msb - mse) / msb
    f11, df11n, df11d = msb / msw, n - 1, n * (k - 1)
    f21, df21n, df21d = msb / mse, n - 1, (n - 1) * (k - 1)
    p11, p21 = stats.f.sf(f11, df11n, df11d), stats.f.sf(f21, df21n, df21d)
    q = 1 - (1 - level) / 2
    f1l, f1u = f11 / stats.f.ppf(q, df11n, df11d), f11 * stats.f.ppf(q, df11d, df11n)
    f3l, f3u = f21 / stats.f.ppf(q, df21n, df21d), f21 * stats.f.ppf(q, df21d, df21n)
    fj = msj / mse
    vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    fu, fl = stats.f.ppf(q, n - 1, v), stats.f.ppf(q, v, n - 1)
    l2 = n * (msb - fu * mse) / (fu * (k * msj + (k * n - k - n) * mse) + n * msb)
    u2 = n * (fl * msb - mse) / (k * msj + (k * n - k - n) * mse + n * fl * msb)
    rows = {
        "ICC1": [icc1, f11, df11n, df11d, p11, (f1l - 1) / (f1l + k - 1), (f1u - 1) / (f1u + k - 1)],
        "ICC2": [icc2, f21, df21n, df21d, p21, l2, u2],
        "ICC3": [icc3, f21, df21n, df21d, p21, (f3l - 1) / (f3l + k - 1), (f3u - 1) / (f3u + k - 1)],
        "ICC1k": [icc1k, f11, df11n, df11d, p11, 1 - 1 / f1l, 1 - 1 / f1u],
        "ICC2k": [icc2k, f21, df21n, df21d, p21, l2 * k / (1 + l2 * (k - 1)), u2 * k / (1 + u2 * (k - 1))],
        "ICC3k": [icc3k, f21, df21n, df21d, p21, 1 - 1 / f3l, 1 - 1 / f3u],
    }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["icc", "F", "df1", "df2", "p", "lower", "upper"])
    return ICCResult(table=table, anova={"MSB": msb, "MSJ": msj, "MSE": mse, "MSW": msw}, n_obs=n,
                     n_occasions=k, level=level, diagnostics=diag)


from allyscale._callable import make_callable  # noqa: E402 - after the function it makes the module call

make_callable(__name__, reliability)
