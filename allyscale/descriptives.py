"""Item descriptives: distribution, floor/ceiling, skew, kurtosis, corrected item-total r."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from allyscale.errors import DataError
from allyscale.pool import ItemPool
from allyscale.scoring import reverse_score

__all__ = ["describe_items", "careless_indices"]


def _skew_kurt(x: np.ndarray) -> tuple[float, float]:
    """psych::describe's default (type 3) skew and excess kurtosis (Joanes & Gill, 1998).

    ``b1 = m3 / s^3`` and ``b2 = m4 / s^4 - 3`` with ``s`` the sample SD (n - 1).
    """
    x = x[~np.isnan(x)]
    n = x.size
    if n < 3:
        return np.nan, np.nan
    d = x - x.mean()
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    if m2 == 0:
        return np.nan, np.nan
    f = (n - 1) / n
    return m3 / m2**1.5 * f**1.5, m4 / m2**2 * f**2 - 3


def describe_items(
    data: pd.DataFrame,
    pool: ItemPool | None = None,
    *,
    items: list[str] | None = None,
    scale: tuple[int, int] | None = None,
    groups: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """One row per item: n, missing, mean, sd, median, skew, kurtosis, floor %, ceiling %, r_drop.

    Parameters
    ----------
    data : DataFrame
        Responses as answered (reverse-keyed items are reversed here when ``pool``
        is given, before the item-total correlations).
    pool : ItemPool, optional
        Supplies items, their factors, keying and the response scale.
    items : list of str, optional
        Columns to describe (default: the pool's items, else every numeric column).
    scale : (min, max), optional
        Response scale for floor/ceiling when there is no pool (default: observed range).
    groups : dict factor → items, optional
        Item groups for the corrected item-total correlations when there is no pool
        (e.g. a model's factors); default: the pool's factors, else all items.

    Returns
    -------
    pandas.DataFrame
        Indexed by item. ``floor``/``ceiling`` are the proportions at the scale's lowest
        and highest point *as answered*; ``r_drop`` is the corrected item-total
        correlation with the other items of the same factor, after reverse scoring
        (with no pool: with all other items). ``skew`` and ``kurtosis`` (excess) are
        psych::describe's type 3.
    """
    if items is None:
        items = pool.item_ids if pool is not None else list(data.select_dtypes("number").columns)
    missing_cols = [i for i in items if i not in data.columns]
    if missing_cols:
        raise DataError(f"item(s) missing from the data: {missing_cols}")
    if not items:
        raise DataError("no numeric item columns to describe")
    raw = data[items].astype(float)
    scored = reverse_score(raw, pool) if pool is not None else raw
    if pool is not None:
        lo, hi = pool.scale.min, pool.scale.max
    elif scale is not None:
        lo, hi = scale
    else:
        lo, hi = np.nanmin(raw.to_numpy()), np.nanmax(raw.to_numpy())
    if groups is None:
        groups = pool.factor_items() if pool is not None else {"all": items}
    group_of = {i: g for g, its in groups.items() for i in its}
    for item in items:
        if item not in group_of:
            group_of[item] = "(other)"
            groups.setdefault("(other)", []).append(item)
    rows = []
    for item in items:
        x = raw[item].to_numpy()
        ok = ~np.isnan(x)
        sk, ku = _skew_kurt(x)
        others = [i for i in groups[group_of[item]] if i != item and i in scored.columns]
        r_drop = np.nan
        if others:
            rest = scored[others].sum(axis=1, min_count=len(others))
            r_drop = scored[item].corr(rest)
        rows.append(
            {
                "item": item,
                "factor": group_of[item],
                "n": int(ok.sum()),
                "missing": int((~ok).sum()),
                "mean": float(np.nanmean(x)) if ok.any() else np.nan,
                "sd": float(np.nanstd(x, ddof=1)) if ok.sum() > 1 else np.nan,
                "median": float(np.nanmedian(x)) if ok.any() else np.nan,
                "skew": sk,
                "kurtosis": ku,
                "floor": float((x[ok] == lo).mean()) if ok.any() else np.nan,
                "ceiling": float((x[ok] == hi).mean()) if ok.any() else np.nan,
                "r_drop": float(r_drop),
            }
        )
    out = pd.DataFrame(rows).set_index("item")
    if pool is None and set(groups) == {"all"}:
        out = out.drop(columns="factor")
    return out


def careless_indices(
    data: pd.DataFrame, items: list[str], *, alpha: float = 0.001, longstring_share: float = 0.5
) -> pd.DataFrame:
    """Careless-responding indices per respondent.

    * ``longstring``: the longest run of identical consecutive answers (Johnson, 2005);
      flagged when it covers at least ``longstring_share`` of the items; a missing answer
      ends a run;
    * ``irv``: intra-individual response variability, the SD (``n - 1``) of a respondent's
      answers (Dunn et al., 2018); a very low IRV with a long string suggests straight-lining;
    * ``d2`` and ``d2_p``: Mahalanobis distance from the item means with the complete-case
      covariance matrix (divisor ``n - 1``), and its p-value; flagged when
      ``d2_p < alpha`` (Meade & Craig, 2012). Respondents with missing answers get NaN.

    The p-value uses the exact reference distribution of a distance computed *within* the
    sample it belongs to: for multivariate-normal data, ``n D2 / (n - 1)^2`` follows
    ``Beta(p / 2, (n - p - 1) / 2)`` (Wilks, 1963; Gnanadesikan & Kettenring, 1972), with
    ``n`` the complete cases. Respondents who gave the same answer to every item are left out
    of the mean and covariance (they are flagged by longstring and IRV; kept in, 5% of them
    raised the share of attentive respondents flagged from 0.07% to 0.3%); their own D2 is
    referred to the distribution of a new observation, ``(m - p) m / (p (m + 1)(m - 1)) D2
    ~ F(p, m - p)`` with ``m`` the respondents used. The chi-square(p) approximation is only
    the large-n limit: an in-sample D2 can never exceed ``(n - 1)^2 / n``, so with many
    items and few respondents chi-square p-values are far too large (100 items, N = 250:
    random responders were caught at 94% against 100% with the exact reference;
    ``docs/screening.md``). NaN when ``m <= p + 1``.

    Longstring and IRV describe the answer sheet, so pass the responses as answered
    (before reverse scoring); D2 is unchanged by reverse scoring.

    References
    ----------
    Wilks, S. S. (1963). Multivariate statistical outliers. Sankhya A, 25, 407-426.
    Gnanadesikan, R., & Kettenring, J. R. (1972). Robust estimates, residuals, and outlier
    detection with multiresponse data. Biometrics, 28, 81-124.

    Returns
    -------
    DataFrame
        One row per respondent (the data's index) with the four indices and ``flags``
        naming the rules that fired (empty when none).
    """
    from scipy.stats import beta
    from scipy.stats import f as f_dist

    x = data[items].to_numpy(dtype=float)
    n, p = x.shape
    longest = np.ones(n, dtype=int)
    run = np.ones(n, dtype=int)
    for j in range(1, p):
        same = (x[:, j] == x[:, j - 1]) & ~np.isnan(x[:, j])
        run = np.where(same, run + 1, 1)
        longest = np.maximum(longest, run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a respondent with one answer has no SD: NaN
        irv = np.nanstd(x, axis=1, ddof=1)
    complete = ~np.isnan(x).any(axis=1)
    # respondents who gave one answer to every item say nothing about how the items covary, and 5% of them
    # quadrupled the share of attentive respondents flagged (docs/screening.md): the moments leave them out
    constant = complete & (np.nanmax(x, axis=1) == np.nanmin(x, axis=1))
    basis = complete & ~constant
    n_c = int(basis.sum())
    d2 = np.full(n, np.nan)
    d2_p = np.full(n, np.nan)
    if n_c > p + 1:
        xc = x[basis]
        mean = xc.mean(axis=0)
        inv = np.linalg.pinv(np.cov(xc, rowvar=False))
        dev = x[complete] - mean
        d2[complete] = np.einsum("ij,jk,ik->i", dev, inv, dev)
        u = np.clip(n_c * d2[basis] / (n_c - 1) ** 2, 0.0, 1.0)
        d2_p[basis] = beta.sf(u, p / 2, (n_c - p - 1) / 2)
        if constant.any():
            # a respondent outside the estimation sample: (m - p) m / (p (m + 1)(m - 1)) D2 ~ F(p, m - p)
            m = n_c
            d2_p[constant] = f_dist.sf((m - p) * m / (p * (m + 1) * (m - 1)) * d2[constant], p, m - p)
    flags = []
    for i in range(n):
        rules = []
        if longest[i] >= longstring_share * p:
            rules.append(f"longstring {longest[i]} >= {longstring_share:.0%} of items")
        if complete[i] and d2_p[i] < alpha:
            rules.append(f"Mahalanobis p < {alpha:g}")
        flags.append("; ".join(rules))
    return pd.DataFrame({"longstring": longest, "irv": irv, "d2": d2, "d2_p": d2_p, "flags": flags}, index=data.index)
