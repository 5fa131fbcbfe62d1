"""Data screening before a scale is analysed: missing data, Little's MCAR test, careless responding.

Owned code (no dependency offers these for Python). Respondents are flagged and listed;
they are removed only when the caller asks for it (``exclude=``), and the result says who
was removed and why.

References
----------
Little, R. J. A. (1988). A test of missing completely at random for multivariate data with
missing values. Journal of the American Statistical Association, 83, 1198-1202.
Johnson, J. A. (2005). Ascertaining the validity of individual protocols from Web-based
personality inventories. Journal of Research in Personality, 39, 103-129.
Meade, A. W., & Craig, S. B. (2012). Identifying careless responses in survey data.
Psychological Methods, 17, 437-455.
Curran, P. G. (2016). Methods for the detection of carelessly invalid responses in survey
data. Journal of Experimental Social Psychology, 66, 4-19.
Dunn, A. M., Heggestad, E. D., Shanock, L. R., & Theilgard, N. (2018). Intra-individual
response variability as an indicator of insufficient effort responding. Journal of Business
and Psychology, 33, 105-121.
Wilks, S. S. (1963). Multivariate statistical outliers. Sankhya A, 25, 407-426.
Gnanadesikan, R., & Kettenring, J. R. (1972). Robust estimates, residuals, and outlier
detection with multiresponse data. Biometrics, 28, 81-124.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2

from allyscale._threads import blas_limited
from allyscale.errors import DataError, DataWarning, SpecificationError
from allyscale.pool import ItemPool
from allyscale.results import Result, Summary, jsonable

__all__ = [
    "screen",
    "littles_mcar",
    "ScreenResult",
    "em_moments",
    "even_odd",
    "even_odd_parts",
    "even_odd_critical",
    "RULES",
]

#: The screening rules a respondent can be flagged (and excluded) by.
RULES = ("attention", "longstring", "irv", "mahalanobis", "even_odd", "missing")


# ----------------------------------------------------------------------------- EM and MCAR
def em_moments(x: np.ndarray, *, tol: float = 1e-10, max_iter: int = 5000) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Maximum-likelihood mean and covariance of multivariate-normal data with missing values (EM).

    Rows with no observed value carry no information and must be removed first.

    Returns
    -------
    mu (p,), sigma (p, p) (divisor N), iterations, converged
    """
    n, p = x.shape
    miss = np.isnan(x)
    mu = np.nanmean(x, axis=0)
    sigma = np.diag(np.nanvar(x, axis=0))
    keys, inverse = np.unique(miss, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    groups = [(~k, k, x[inverse == g]) for g, k in enumerate(keys)]
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        t1 = np.zeros(p)
        t2 = np.zeros((p, p))
        for o, m, rows in groups:
            xo = rows[:, o]
            full = np.empty((len(rows), p))
            full[:, o] = xo
            if m.any():
                s_oo = sigma[np.ix_(o, o)]
                s_mo = sigma[np.ix_(m, o)]
                b = np.linalg.solve(s_oo, s_mo.T).T  # Sigma_mo Sigma_oo^-1
                full[:, m] = mu[m] + (xo - mu[o]) @ b.T
                t2[np.ix_(m, m)] += len(rows) * (sigma[np.ix_(m, m)] - b @ s_mo.T)
            t1 += full.sum(axis=0)
            t2 += full.T @ full
        mu_new = t1 / n
        sigma_new = t2 / n - np.outer(mu_new, mu_new)
        change = max(np.max(np.abs(mu_new - mu)), np.max(np.abs(sigma_new - sigma)))
        mu, sigma = mu_new, sigma_new
        if change < tol:
            converged = True
            break
    return mu, sigma, it, converged


def littles_mcar(data: pd.DataFrame, items: Sequence[str] | None = None) -> dict[str, Any]:
    """Little's (1988) chi-square test that the data are missing completely at random.

    ``d2 = sum_j n_j (ybar_j - mu_j)' Sigma_j^-1 (ybar_j - mu_j)`` over the missing-data
    patterns ``j``, with ``mu`` and ``Sigma`` the ML (EM) estimates restricted to the
    pattern's observed items; ``df = sum_j p_j - p``. Rows with no observed item are left
    out (counted in ``rows_all_missing``).

    Returns
    -------
    dict
        ``chisq, df, pvalue, patterns, n, rows_all_missing, em_iterations, em_converged``
        and ``note`` (e.g. no missing data: the test is undefined and its values are NaN).
    """
    items = list(items) if items is not None else list(data.columns)
    absent = [i for i in items if i not in data.columns]
    if absent:
        raise DataError(f"item(s) not in the data: {absent}")
    x = data[items].to_numpy(dtype=float)
    none = np.isnan(x).all(axis=1)
    x = x[~none]
    n, p = x.shape
    out: dict[str, Any] = {
        "chisq": np.nan,
        "df": np.nan,
        "pvalue": np.nan,
        "patterns": 0,
        "n": int(n),
        "rows_all_missing": int(none.sum()),
        "em_iterations": 0,
        "em_converged": None,
        "note": "",
    }
    miss = np.isnan(x)
    if n == 0:
        out["note"] = "no row has an observed item"
        return out
    keys, inverse = np.unique(miss, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    out["patterns"] = int(len(keys))
    if not miss.any():
        out["note"] = "no missing values: the test is undefined"
        return out
    if n <= p:
        out["note"] = f"{n} rows for {p} items: too few for the test"
        return out
    mu, sigma, it, conv = em_moments(x)
    out.update(em_iterations=int(it), em_converged=bool(conv))
    if not conv:
        warnings.warn("Little's MCAR test: the EM estimates did not converge", DataWarning, stacklevel=2)
    d2, df = 0.0, 0
    for g, k in enumerate(keys):
        o = ~k
        rows = x[inverse == g][:, o]
        diff = rows.mean(axis=0) - mu[o]
        d2 += len(rows) * float(diff @ np.linalg.solve(sigma[np.ix_(o, o)], diff))
        df += int(o.sum())
    df -= p
    out.update(chisq=d2, df=df, pvalue=float(chi2.sf(d2, df)) if df > 0 else np.nan)
    return out


# ----------------------------------------------------------------------------- even-odd
#: Correlations within this distance of a value are that value: a correlation that is 0 in exact arithmetic
#: comes out of floating point as, e.g., -7.8e-16 and must not count as below 0.
_EO_DECIMALS = 12


def even_odd_parts(data: pd.DataFrame, factors: Mapping[str, Sequence[str]], *, min_factors: int = 4) -> pd.DataFrame:
    """Even-odd consistency per respondent, with the uncorrected correlation and its scales.

    Each factor's items (already reverse-scored, in their order) are split into odd and
    even positions; the respondent's mean of each half is taken per factor, and the odd-half
    and even-half means are correlated across the factors both halves of which were
    answered (Johnson, 2005; Curran, 2016).

    Returns
    -------
    DataFrame
        ``even_odd_r`` (the correlation, rounded to 12 decimals so that an exact 0 stays 0),
        ``even_odd`` (Spearman-Brown corrected, ``2r / (1 + r)``, kept at or above -1 as
        ``careless::evenodd`` does) and ``even_odd_scales`` (the number of factors used).
        NaN when fewer than ``min_factors`` factors have both halves answered or the half
        means do not vary.
    """
    usable = {f: list(its) for f, its in factors.items() if len(its) >= 2}
    n = len(data)
    out = pd.DataFrame(
        {"even_odd": np.full(n, np.nan), "even_odd_r": np.full(n, np.nan), "even_odd_scales": np.zeros(n, dtype=int)},
        index=data.index,
    )
    if len(usable) < min_factors:
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a half with no answer is NaN, handled below
        odd = np.column_stack([np.nanmean(data[its[0::2]].to_numpy(dtype=float), axis=1) for its in usable.values()])
        even = np.column_stack([np.nanmean(data[its[1::2]].to_numpy(dtype=float), axis=1) for its in usable.values()])
    ok = ~np.isnan(odd) & ~np.isnan(even)
    k = ok.sum(axis=1)
    a = np.where(ok, odd, 0.0)
    b = np.where(ok, even, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        da = np.where(ok, a - a.sum(axis=1, keepdims=True) / np.maximum(k, 1)[:, None], 0.0)
        db = np.where(ok, b - b.sum(axis=1, keepdims=True) / np.maximum(k, 1)[:, None], 0.0)
        saa, sbb, sab = (da * da).sum(axis=1), (db * db).sum(axis=1), (da * db).sum(axis=1)
        r = sab / np.sqrt(saa * sbb)
    # half means that do not vary (all equal up to rounding) leave the correlation undefined
    flat = (saa <= 1e-20) | (sbb <= 1e-20)
    r = np.where((k >= min_factors) & ~flat, np.clip(np.round(r, _EO_DECIMALS), -1.0, 1.0), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        sb = np.where(r > -1.0 / 3.0, 2 * r / (1 + r), -1.0)
    sb = np.where(np.isnan(r), np.nan, np.round(sb, _EO_DECIMALS))
    out["even_odd"] = sb
    out["even_odd_r"] = r
    out["even_odd_scales"] = np.where(k >= min_factors, k, 0)
    return out


def even_odd(data: pd.DataFrame, factors: Mapping[str, Sequence[str]], *, min_factors: int = 4) -> pd.Series:
    """Even-odd consistency per respondent (Johnson, 2005; Curran, 2016).

    The Spearman-Brown corrected correlation of odd-half and even-half factor means (see
    :func:`even_odd_parts`). Attentive respondents give high values; values near or below
    zero suggest careless answering. NaN when fewer than ``min_factors`` factors have both
    halves answered, or the half means do not vary: a correlation over three points says
    little.
    """
    return even_odd_parts(data, factors, min_factors=min_factors)["even_odd"].rename("even_odd")


def even_odd_critical(scales: int | np.ndarray, alpha: float = 0.05) -> np.ndarray | float:
    """The lower one-sided critical value of a correlation over ``scales`` points.

    ``r_crit = -t / sqrt(df + t^2)`` with ``t`` the ``1 - alpha`` quantile of Student's t
    on ``df = scales - 2`` degrees of freedom: an odd-even correlation below it means the
    two halves of the questionnaire contradict each other beyond chance (NaN below 3
    scales). Six scales: -0.729; five: -0.805; twenty: -0.378 (alpha = .05).
    """
    from scipy.stats import t as student_t

    k = np.asarray(scales, dtype=float)
    df = k - 2
    with np.errstate(invalid="ignore", divide="ignore"):
        tq = student_t.ppf(1 - alpha, np.where(df > 0, df, np.nan))
        out = -tq / np.sqrt(df + tq**2)
    return float(out) if out.ndim == 0 else out


_ID_NAMES = (
    "id",
    "respondent",
    "respondent_id",
    "respondentid",
    "participant",
    "participant_id",
    "participantid",
    "responseid",
    "response_id",
    "subject",
    "subject_id",
    "subjectid",
    "case",
    "case_id",
    "caseid",
    "pid",
)


def _find_id_column(data: pd.DataFrame, items: Sequence[str]) -> str | None:
    """The first column named like a respondent identifier whose values are unique, if any."""
    taken = set(items)
    for col in data.columns:
        if col in taken or str(col).strip().lower() not in _ID_NAMES:
            continue
        values = data[col].dropna()
        if len(values) == len(data) and values.is_unique:
            return col
    return None


# ----------------------------------------------------------------------------- result
@dataclass
class ScreenResult(Result):
    """The screening of a data set (see :func:`screen`).

    Attributes
    ----------
    items : DataFrame
        Per item: ``missing`` (cells), ``percent``.
    persons : DataFrame
        Per respondent (the data's index): ``row`` (data row counted from 1), ``id`` (the
        value of the data's ID column, when there is one), ``flags`` (the rules that fired,
        ``;`` separated; empty when none), ``n_missing, percent_missing, longstring, irv,
        d2, d2_p, even_odd, even_odd_r, even_odd_scales, attention_failed``.
    flagged : DataFrame
        The rows of ``persons`` of every flagged respondent.
    mcar : dict
        :func:`littles_mcar`.
    excluded : list
        Index labels removed (only with ``exclude=``), with ``data`` the remaining rows.
    diagnostics : dict
        Settings (cutoffs, reverse-scored items, ID column), counts per rule, notes.
    """

    items: pd.DataFrame
    persons: pd.DataFrame
    flagged: pd.DataFrame
    mcar: dict[str, Any]
    excluded: list[Any]
    data: pd.DataFrame
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        """Respondents flagged by each rule."""
        return dict(self.diagnostics.get("counts", {}))

    def summary(self) -> Summary:
        """Counts, Little's MCAR test, the flags per rule, the exclusions and the flagged respondents."""
        n = len(self.persons)
        complete = int((self.persons["n_missing"] == 0).sum())
        lines = [
            f"{n} respondents, {len(self.items)} items; {complete} answered every item; "
            f"{int(self.items['missing'].sum())} missing responses."
        ]
        m = self.mcar
        if np.isfinite(m.get("chisq", np.nan)):
            lines.append(
                f"Little's MCAR test: chi2({m['df']}) = {m['chisq']:.2f}, p = {m['pvalue']:.4f} "
                f"({m['patterns']} missing-data patterns)."
            )
        elif m.get("note"):
            lines.append(f"Little's MCAR test: {m['note']}.")
        settings = self.diagnostics.get("settings", {})
        if settings.get("reverse_scored"):
            lines.append(f"Reverse-scored before screening: {', '.join(settings['reverse_scored'])}.")
        counts = self.counts
        lines.append(
            "Flagged: "
            + ", ".join(f"{k} {v}" for k, v in counts.items())
            + f"; {len(self.flagged)} respondent(s) flagged by at least one rule."
        )
        lines.append(
            f"Excluded: {len(self.excluded)}"
            + (
                f" ({', '.join(map(str, self.excluded[:20]))}" + (" ..." if len(self.excluded) > 20 else "") + ")"
                if self.excluded
                else " (flagged respondents are kept)"
            )
        )
        out = Summary("Data screening").text(*lines)
        shown = 50
        if len(self.flagged):
            note = (
                f"The first {shown} of {len(self.flagged)} flagged respondents are shown; .flagged holds them all."
                if len(self.flagged) > shown
                else None
            )
            out.table(self.flagged.head(shown), title="Flagged respondents", note=note)
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per respondent (the data's index): the indices and the flags that fired."""
        return self.persons

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: every flagged respondent (``index``, ``row``, ``id`` when there is an ID column)."""
        return jsonable(
            {
                "items": {str(k): dict(row) for k, row in self.items.iterrows()},
                "n_flagged": int(len(self.flagged)),
                "flagged": [{"index": k, **dict(row)} for k, row in self.flagged.iterrows()],
                "mcar": self.mcar,
                "excluded": list(self.excluded),
                "counts": self.counts,
                "settings": self.diagnostics.get("settings", {}),
                "notes": self.diagnostics.get("notes", []),
            }
        )


# ----------------------------------------------------------------------------- entry
@blas_limited
def screen(
    data: pd.DataFrame,
    pool: ItemPool | None = None,
    *,
    items: Sequence[str] | None = None,
    factors: Mapping[str, Sequence[str]] | None = None,
    reverse: Sequence[str] | None = None,
    scale: tuple[float, float] | None = None,
    id_column: str | None = None,
    exclude: str | Iterable[str] | None = None,
    alpha: float = 0.001,
    longstring_share: float = 0.5,
    even_odd_cutoff: float | None = None,
    even_odd_alpha: float = 0.05,
    max_missing: float = 0.5,
) -> ScreenResult:
    """Screen survey responses: missing data, Little's MCAR test and careless responding.

    The screen looks at what is analysed: reverse-keyed items (the pool's, and
    ``reverse``) are reverse-scored before the consistency index, so that a respondent who
    answers a reversed item in line with the others is consistent. Longstring and IRV
    describe the answer sheet and are computed on the answers as given (reverse scoring
    would break a straight-liner's run); Mahalanobis D² is the same either way.

    Rules (each respondent's ``flags`` names those that fired):

    * ``attention``: an attention-check item of the pool answered other than expected
      (a check missing from the data is noted, not an error);
    * ``longstring``: the longest run of identical consecutive answers covers at least
      ``longstring_share`` of the items (Johnson, 2005);
    * ``irv``: no variability at all across the answered items (IRV = 0; Dunn et al., 2018);
    * ``mahalanobis``: Mahalanobis D² of a complete respondent with p < ``alpha`` against
      its exact in-sample (Beta) reference (Meade & Craig, 2012; see
      :func:`allyscale.descriptives.careless_indices`);
    * ``even_odd``: the odd-half and even-half factor means correlate negatively beyond
      chance: ``even_odd_r`` below the one-sided ``even_odd_alpha`` critical value for
      the number of factors used (:func:`even_odd_critical`; -0.73 for six factors), from
      the pool's factors or ``factors``. With ``even_odd_cutoff`` given, the rule is
      instead the Spearman-Brown index below that value (e.g. 0, as often used after
      Curran, 2016; on simulated attentive respondents to a six-factor scale that flags
      about 3%, see ``docs/screening.md``). Correlations are rounded to 12 decimals, so
      an exact 0 computed as -7.8e-16 is not below 0;
    * ``missing``: more than ``max_missing`` of the items unanswered.

    The default cutoffs were chosen on simulated data whose careless respondents are
    known (``studies/screening_calibration.py``, tables in ``docs/screening.md``): no rule
    flags more than 1% of attentive respondents (mean over replications, N = 250-800);
    with the 100-item allyship pool, 5% random or straight-lining respondents are caught
    with recall 1.00 and mean precision .92-.99. With 25 items (five factors of five)
    random responders are caught only at 53-61%: short scales need attention checks.

    Parameters
    ----------
    data : DataFrame
        Responses as answered (reverse-keyed items not reversed).
    pool : ItemPool, optional
        Items, reverse keys, factors, response scale and attention checks.
    items : list of str, optional
        Item columns without a pool (default: every numeric column).
    factors : mapping, optional
        Factor → items for the even-odd index without a pool (e.g. a model's factors).
    reverse : list of str, optional
        Items to reverse-score (``min + max - x``) before screening, for data without a
        pool (e.g. a model file's reverse-keyed items).
    scale : (min, max), optional
        Response scale for ``reverse``; default the pool's, else the observed range.
    id_column : str, optional
        Column identifying respondents, reported with each flagged respondent. Default: a
        column named like an identifier (``id``, ``respondent_id``, ``ResponseId``,
        ``participant``, ...) whose values are unique, if there is one.
    exclude : "flagged", or rule names, optional
        Remove respondents flagged by these rules from ``result.data``. By default
        nobody is removed.
    alpha, longstring_share, even_odd_cutoff, even_odd_alpha, max_missing
        The rules' cutoffs (above).

    Returns
    -------
    ScreenResult

    Raises
    ------
    DataError
        Items, ``reverse`` items or ``id_column`` not in the data; non-numeric items.
    SpecificationError
        An unknown rule in ``exclude``; a ``reverse`` item the pool already reverses.
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if pool is not None:
        items = list(pool.item_ids)
    elif items is None:
        items = [c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
    items = list(items)
    absent = [i for i in items if i not in data.columns]
    if absent:
        raise DataError(f"item(s) not in the data: {', '.join(absent[:20])}")
    if len(items) < 2:
        raise DataError("screening needs at least two item columns")
    nonnum = [i for i in items if not pd.api.types.is_numeric_dtype(data[i])]
    if nonnum:
        raise DataError(f"item column(s) are not numeric: {nonnum[:10]} (read the file with read_responses)")
    reverse = list(reverse or [])
    bad = [i for i in reverse if i not in items]
    if bad:
        raise DataError(f"reverse-keyed item(s) not among the screened items: {', '.join(map(str, bad[:20]))}")
    if pool is not None:
        twice = [i for i in reverse if i in pool.reverse_items]
        if twice:
            raise SpecificationError(
                f"item(s) {twice} are reverse-keyed in the pool already; "
                "reverse= is for items the pool does not reverse"
            )
    if id_column is not None and id_column not in data.columns:
        raise DataError(f"ID column {id_column!r} is not in the data")
    if exclude is None:
        rules_out: set[str] = set()
    elif isinstance(exclude, str):
        rules_out = set(RULES) if exclude == "flagged" else {exclude}
    else:
        rules_out = set(exclude)
    unknown = rules_out - set(RULES)
    if unknown:
        raise SpecificationError(f"unknown screening rule(s) {sorted(unknown)}; use 'flagged' or {list(RULES)}")
    notes: list[str] = []
    x = data[items]
    miss = x.isna()
    n, p = x.shape
    item_table = pd.DataFrame({"missing": miss.sum().astype(int), "percent": 100 * miss.mean()}).rename_axis("item")
    from allyscale.descriptives import careless_indices

    # longstring and IRV on the answers as given; D2 is invariant to reverse scoring
    ci = careless_indices(data, items, alpha=alpha, longstring_share=longstring_share)
    if id_column is None:
        id_column = _find_id_column(data, items)
    persons = pd.DataFrame({"row": np.arange(1, n + 1)}, index=data.index)
    if id_column is not None:
        persons["id"] = data[id_column].to_numpy()
    persons["flags"] = ""
    persons["n_missing"] = miss.sum(axis=1).astype(int).to_numpy()
    persons["percent_missing"] = (100 * miss.mean(axis=1)).to_numpy()
    for col in ("longstring", "irv", "d2", "d2_p"):  # by position: index labels need not be unique
        persons[col] = ci[col].to_numpy()
    # even-odd consistency on reverse-scored items
    scored = data[items].astype(float)
    reversed_items: list[str] = []
    if pool is not None:
        from allyscale.scoring import reverse_score

        scored = reverse_score(scored, pool)
        reversed_items += list(pool.reverse_items)
        fac = pool.factor_items()
    else:
        fac = {f: list(its) for f, its in factors.items()} if factors is not None else {}
    if reverse:
        if scale is not None:
            lo, hi = float(scale[0]), float(scale[1])
        elif pool is not None:
            lo, hi = float(pool.scale.min), float(pool.scale.max)
        else:
            lo, hi = float(np.nanmin(scored[reverse].to_numpy())), float(np.nanmax(scored[reverse].to_numpy()))
            notes.append(f"reverse scoring used the observed range {lo:g}-{hi:g} of the items (give scale= to set it)")
        for item in reverse:
            scored[item] = lo + hi - scored[item]
        reversed_items += reverse
    fac_absent = sorted({i for its in fac.values() for i in its if i not in scored.columns})
    if fac_absent:
        raise DataError(f"factor item(s) not among the screened items: {', '.join(map(str, fac_absent[:20]))}")
    eo = even_odd_parts(scored, fac) if fac else None
    if eo is not None:
        for col in eo.columns:
            persons[col] = eo[col].to_numpy()
    else:
        persons["even_odd"], persons["even_odd_r"], persons["even_odd_scales"] = np.nan, np.nan, 0
    if not fac:
        notes.append("even-odd consistency needs the items' factors (a pool or factors=); not computed")
    elif len([f for f, its in fac.items() if len(its) >= 2]) < 4:
        notes.append("even-odd consistency needs at least four factors with two or more items; not computed")
    if even_odd_cutoff is None:
        crit = even_odd_critical(persons["even_odd_scales"].to_numpy(), even_odd_alpha)
        eo_mask = persons["even_odd_r"].to_numpy() < crit
        eo_rule = (
            f"odd-even correlation below the one-sided p < {even_odd_alpha:g} critical value for the number "
            "of factors used"
        )
    else:
        eo_mask = persons["even_odd"].to_numpy() < float(even_odd_cutoff)
        eo_rule = f"Spearman-Brown even-odd index below {even_odd_cutoff:g}"
    eo_mask = np.nan_to_num(eo_mask.astype(float), nan=0.0).astype(bool)
    # attention checks
    failed = pd.Series(False, index=data.index)
    checks = list(pool.attention_checks) if pool is not None else []
    present = [c for c in checks if c.id in data.columns]
    for c in checks:
        if c.id not in data.columns:
            notes.append(f"attention check {c.id!r} is not a column of the data; not screened")
    for c in present:
        ans = pd.to_numeric(data[c.id], errors="coerce")
        failed |= ans.notna() & (ans != c.expected)
    persons["attention_failed"] = failed.to_numpy()
    # flags
    rule_masks = {
        "attention": failed.to_numpy(),
        "longstring": (persons["longstring"] >= longstring_share * p).to_numpy(),
        "irv": ((persons["irv"] == 0) & (persons["n_missing"] < p - 1)).to_numpy(),
        "mahalanobis": (persons["d2_p"] < alpha).to_numpy(dtype=bool),
        "even_odd": eo_mask,
        "missing": (persons["n_missing"] > max_missing * p).to_numpy(),
    }
    persons["flags"] = [";".join(r for r in RULES if rule_masks[r][i]) for i in range(n)]
    flagged = persons[persons["flags"] != ""]
    counts = {r: int(rule_masks[r].sum()) for r in RULES}
    out_mask = np.zeros(n, dtype=bool)
    for r in rules_out:
        out_mask |= rule_masks[r]
    excluded = list(data.index[out_mask])
    kept = data.loc[~out_mask].copy()
    kept.attrs = dict(data.attrs)
    mcar = (
        littles_mcar(data, items)
        if miss.to_numpy().any()
        else {
            "chisq": np.nan,
            "df": np.nan,
            "pvalue": np.nan,
            "patterns": 1,
            "n": int(n),
            "rows_all_missing": 0,
            "em_iterations": 0,
            "em_converged": None,
            "note": "no missing values: the test is undefined",
        }
    )
    diagnostics = {
        "counts": counts,
        "notes": notes,
        "settings": {
            "alpha": alpha,
            "mahalanobis_reference": "exact in-sample Beta(p/2, (n-p-1)/2)",
            "longstring_share": longstring_share,
            "even_odd_rule": eo_rule,
            "even_odd_cutoff": even_odd_cutoff,
            "even_odd_alpha": even_odd_alpha,
            "max_missing": max_missing,
            "exclude": sorted(rules_out),
            "attention_checks": [c.id for c in present],
            "reverse_scored": reversed_items,
            "id_column": id_column,
        },
    }
    if excluded:
        warnings.warn(
            f"{len(excluded)} respondent(s) excluded by screening rule(s) {sorted(rules_out)}",
            DataWarning,
            stacklevel=2,
        )
    return ScreenResult(item_table, persons, flagged, mcar, excluded, kept, diagnostics)
