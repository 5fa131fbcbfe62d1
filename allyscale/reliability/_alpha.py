"""Coefficient alpha with its item analysis and intervals (psych::alpha), and split-half reliabilities."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from allyscale._threads import blas_limited
from allyscale.errors import DataError, DataWarning, SpecificationError, StatisticalWarning
from allyscale.results import Result, Summary

if TYPE_CHECKING:  # pragma: no cover
    from allyscale.pool import ItemPool

from allyscale.reliability._common import _alpha_core, _jsonable, _select_items, smc


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
        out.text(
            f"raw alpha = {self.alpha:.4f}, standardized alpha = {self.std_alpha:.4f}, "
            f"G6(smc) = {self.g6:.4f}, average r = {self.average_r:.4f}"
        )
        if self.diagnostics.get("reversed"):
            out.text(f"reverse-scored: {', '.join(self.diagnostics['reversed'])}")
        return out.table(self.ci, title="Confidence intervals", digits=4).table(
            self.item_stats, title="Item statistics"
        )

    def to_frame(self) -> pd.DataFrame:
        """The item statistics (one row per item)."""
        return self.item_stats

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "alpha": self.alpha,
                "std_alpha": self.std_alpha,
                "g6": self.g6,
                "average_r": self.average_r,
                "corr": self.corr,
                "ci": self.ci,
                "item_stats": self.item_stats,
                "total": self.total,
                "diagnostics": self.diagnostics,
            }
        )


@blas_limited
def alpha(
    data: pd.DataFrame,
    *,
    items: list[str] | None = None,
    pool: ItemPool | None = None,
    ordinal: bool = False,
    n_boot: int = 0,
    seed: int | None = None,
    level: float = 0.95,
    max_categories: int = 10,
) -> AlphaResult:
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
            drops.append(
                {"raw_alpha": c[0, 1] / c[1 - i, 1 - i], "std_alpha": r[0, 1], "G6": smc(r)[0], "average_r": r[0, 1]}
            )
    stats_ = pd.DataFrame(
        {
            "n": x.notna().sum().to_numpy(),
            "raw_r": raw_r,
            "std_r": std_r,
            "r_cor": r_cor,
            "r_drop": r_drop,
            "mean": x.mean().to_numpy(),
            "sd": x.std().to_numpy(),
            "alpha_if_dropped": [d["raw_alpha"] for d in drops],
            "std_alpha_if_dropped": [d["std_alpha"] for d in drops],
            "g6_if_dropped": [d["G6"] for d in drops],
            "average_r_if_dropped": [d["average_r"] for d in drops],
        },
        index=pd.Index(names, name="item"),
    )
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
    tot = {
        "raw_alpha": raw,
        "std_alpha": core["std_alpha"],
        "G6": core["G6"],
        "average_r": core["average_r"],
        "s_n": core["s_n"],
        "ase": math.sqrt(core["Q"] / nsub),
        "mean": float(total.mean()),
        "sd": float(total.std()),
        "median_r": core["median_r"],
    }
    if raw < 0:
        warnings.warn(
            f"alpha is negative ({raw:.3f}); some items are probably keyed in the opposite direction",
            StatisticalWarning,
            stacklevel=2,
        )
        diag["negative_alpha"] = True
    return AlphaResult(
        alpha=raw,
        std_alpha=core["std_alpha"],
        g6=core["G6"],
        average_r=core["average_r"],
        ci=ci,
        item_stats=stats_,
        total=tot,
        corr=corr,
        diagnostics=diag,
        boot=boot,
    )


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
            out.text(
                f"Over {a['n_splits']} splits ({a['mode']}): maximum (lambda4) = {a['max']:.4f}, "
                f"minimum (beta) = {a['min']:.4f}, mean = {a['mean']:.4f}"
            )
        return out

    def to_frame(self) -> pd.DataFrame:
        """Rows odd_even and first_second."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "table": self.table,
                "halves": self.halves,
                "n_obs": self.n_obs,
                "all_splits": self.all_splits,
                "diagnostics": self.diagnostics,
            }
        )


@blas_limited
def split_half(
    data: pd.DataFrame,
    *,
    items: list[str] | None = None,
    pool: ItemPool | None = None,
    all_splits: bool = True,
    n_sample: int = 10000,
    seed: int | None = None,
) -> SplitHalfResult:
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
        warnings.warn(
            f"split_half: {len(x) - len(xc)} rows with missing responses dropped (listwise)", DataWarning, stacklevel=2
        )
        diag["dropped_rows"] = len(x) - len(xc)
    if len(xc) < 3:
        raise SpecificationError(f"split_half needs at least three complete rows, got {len(xc)}")
    names = list(x.columns)
    n = len(names)
    splits = {"odd_even": (names[0::2], names[1::2]), "first_second": (names[: (n + 1) // 2], names[(n + 1) // 2 :])}
    rows = {}
    for lab, (h1, h2) in splits.items():
        a, b = xc[h1].sum(axis=1), xc[h2].sum(axis=1)
        rr = float(np.corrcoef(a, b)[0, 1])
        guttman = 2 * (1 - (a.var() + b.var()) / (a + b).var())
        rows[lab] = {
            "r_halves": rr,
            "spearman_brown": 2 * rr / (1 + rr),
            "guttman": float(guttman),
            "n_items_1": len(h1),
            "n_items_2": len(h2),
        }
    allsp: dict[str, Any] = {}
    if all_splits:
        allsp = _all_splits(x.corr().to_numpy(dtype=float), n_sample, seed)
    return SplitHalfResult(
        table=pd.DataFrame.from_dict(rows, orient="index"),
        halves={k: {"first": v[0], "second": v[1]} for k, v in splits.items()},
        n_obs=len(xc),
        diagnostics=diag,
        all_splits=allsp,
    )


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
    return {
        "max": float(rab.max()),
        "min": float(rab.min()),
        "mean": float(rab.mean()),
        "n_splits": len(combos),
        "mode": mode,
        "max_split": [int(i) for i in combos[np.argmax(rab)]],
    }
