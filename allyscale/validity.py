"""Validity evidence: HTMT, AVE, Fornell–Larcker, factor correlations and external correlations.

* :func:`htmt` — heterotrait–monotrait ratio as ``semTools::htmt(model, data)``
  (Henseler, Ringle & Sarstedt, 2015; the geometric-mean HTMT2 of Roemer, Schuberth &
  Henseler, 2021).
* :func:`ave`, :func:`fornell_larcker` — ``semTools::AVE`` and the Fornell & Larcker
  (1981) criterion (sqrt(AVE) against factor correlations).
* :func:`factor_correlations` — latent correlations of a CFA fitted with unit factor
  variances, with their Wald intervals (lavaan's ``parameterEstimates`` CIs).
* :func:`external_correlations` — convergent / discriminant correlations of scale scores
  with external measures, with Fisher-z intervals.

Computed with numpy/pandas/scipy; the CFA comes from :func:`allyscale.cfa`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from allyscale.errors import ConvergenceWarning, DataError, DataWarning, SpecificationError
from allyscale.results import Result, Summary, jsonable

if TYPE_CHECKING:  # pragma: no cover
    from allyscale.cfa import CFAResult
    from allyscale.pool import ItemPool

__all__ = [
    "htmt",
    "ave",
    "fornell_larcker",
    "factor_correlations",
    "external_correlations",
    "scale_reliability",
    "ScaleReliability",
    "FornellLarckerResult",
]


def _rel():
    """The reliability module (imported on first use)."""
    import allyscale.reliability as rel

    return rel


def _check_items(data: pd.DataFrame, items: list[str]) -> None:
    missing = [i for i in items if i not in data.columns]
    if missing:
        raise DataError(f"item(s) {missing} of the model are not columns of the data")
    for i in items:
        if not pd.api.types.is_numeric_dtype(data[i]):
            raise DataError(f"item {i!r} is not numeric (dtype {data[i].dtype})")


def htmt(
    data: pd.DataFrame, model: str, *, htmt2: bool = True, absolute: bool = True, ordinal: bool = False
) -> pd.DataFrame:
    """Heterotrait–monotrait ratio of correlations, as ``semTools::htmt(model, data = d)``.

    With ``R`` the item correlation matrix (Pearson, listwise deletion as lavCor's
    ``missing = "listwise"``; ``ordinal=True``: polychoric), absolute values taken
    (``absolute = TRUE``; always with HTMT2), ``m_ii`` the mean of the off-diagonal
    correlations among factor i's items and ``m_ij`` the mean correlation between the
    items of factors i and j: ``HTMT_ij = m_ij / sqrt(m_ii m_jj)``. With ``htmt2=True``
    (semTools' default) the means are geometric (Roemer et al., 2021), otherwise arithmetic
    (Henseler et al., 2015). The diagonal is 1.

    Parameters
    ----------
    data : DataFrame
    model : str
        lavaan syntax; only ``=~`` lines are used.
    htmt2, absolute, ordinal : bool

    Returns
    -------
    DataFrame
        Factors × factors.

    Raises
    ------
    DataError
        An item of the model is not a numeric column of the data.

    References
    ----------
    Henseler, J., Ringle, C. M., & Sarstedt, M. (2015). A new criterion for assessing
    discriminant validity in variance-based structural equation modeling. Journal of the
    Academy of Marketing Science, 43, 115-135.
    Roemer, E., Schuberth, F., & Henseler, J. (2021). HTMT2 - an improved criterion for
    assessing discriminant validity in structural equation modeling. Industrial Management
    & Data Systems, 121, 2637-2650.
    """
    fi = _rel()._factor_items(model)
    items = list(dict.fromkeys(i for its in fi.values() for i in its))
    _check_items(data, items)
    x = data[items].astype(float).dropna()
    if len(x) < len(data):
        warnings.warn(
            f"htmt: {len(data) - len(x)} rows with missing responses dropped (listwise)", DataWarning, stacklevel=2
        )
    if ordinal:
        from allyscale.polychoric import polychoric

        r = polychoric(x, items=items, smooth=False).corr.loc[items, items].to_numpy(dtype=float)
    else:
        r = np.corrcoef(x.to_numpy(), rowvar=False)
    if absolute or htmt2:
        r = np.abs(r)
    pos = {i: n for n, i in enumerate(items)}
    factors = list(fi)

    def _mean(v: np.ndarray) -> float:
        return float(np.exp(np.mean(np.log(v)))) if htmt2 else float(np.mean(v))

    within = {}
    for f in factors:
        idx = [pos[i] for i in fi[f]]
        block = r[np.ix_(idx, idx)]
        off = block[~np.eye(len(idx), dtype=bool)]
        within[f] = _mean(off) if off.size else np.nan
    out = pd.DataFrame(np.nan, index=factors, columns=factors)
    for a in factors:
        for b in factors:
            between = r[np.ix_([pos[i] for i in fi[a]], [pos[i] for i in fi[b]])]
            if a == b:
                between = between[~np.eye(len(fi[a]), dtype=bool)]
            out.loc[a, b] = _mean(between.ravel()) / math.sqrt(within[a] * within[b])
    return out


def _fit(data: pd.DataFrame, model: str, estimator: str | None, fit: CFAResult | None, **kw) -> CFAResult:
    if fit is not None:
        return fit
    from allyscale.cfa import cfa
    from allyscale.fitpolicy import resolve_estimator

    estimator = resolve_estimator(estimator, data, model)  # None: allyscale's estimator rule
    if estimator == "WLSMV":
        fi = _rel()._factor_items(model)
        kw["ordered"] = list(dict.fromkeys(i for its in fi.values() for i in its))
    res = cfa(data, model, estimator=estimator, **kw)
    if not res.converged:
        warnings.warn(
            "the CFA did not converge; the validity statistics come from a non-converged solution",
            ConvergenceWarning,
            stacklevel=3,
        )
    return res


def ave(data: pd.DataFrame, model: str, *, estimator: str | None = None, fit: CFAResult | None = None) -> pd.Series:
    """Average variance extracted of each factor, as ``semTools::AVE(fit)``.

    ``AVE = psi sum(lambda^2) / sum of the indicators' sample variances`` (Fornell &
    Larcker, 1981; semTools' default ``obs.var = TRUE``, N-denominator variances; with
    WLSMV the latent-response variances, 1). Factors with cross-loading indicators get
    NaN, as semTools.

    Raises
    ------
    DataError, SpecificationError
        As :func:`allyscale.reliability`.

    References
    ----------
    Fornell, C., & Larcker, D. F. (1981). Evaluating structural equation models with
    unobservable variables and measurement error. Journal of Marketing Research, 18, 39-50.
    """
    table = _rel().reliability(data, model, estimator=estimator, fit=_fit(data, model, estimator, fit)).table
    return table.loc[table.index != "total", "ave"].rename("ave")


@dataclass(frozen=True)
class FornellLarckerResult(Result):
    """The Fornell–Larcker criterion.

    ``table``: factors × factors with ``sqrt(AVE)`` on the diagonal and the factor
    correlations off it; ``passes``: per factor, whether ``sqrt(AVE)`` exceeds its largest
    absolute correlation with another factor.
    """

    table: pd.DataFrame
    passes: pd.Series
    ave: pd.Series
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The matrix and, per factor, whether sqrt(AVE) exceeds its largest correlation."""
        return (
            Summary("Fornell-Larcker: sqrt(AVE) on the diagonal, factor correlations off it")
            .table(self.table, title="sqrt(AVE) and factor correlations")
            .table(self.passes.rename("passes").to_frame(), title="sqrt(AVE) > max |r|")
        )

    def to_frame(self) -> pd.DataFrame:
        """The matrix (factors × factors)."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {"table": self.table, "passes": self.passes, "ave": self.ave, "diagnostics": self.diagnostics},
            frames="index",
        )


def _latent_corr(fit: CFAResult) -> pd.DataFrame:
    est = fit.estimates
    load = est[est["op"] == "=~"]
    latent = list(dict.fromkeys(load["lhs"]))
    out = pd.DataFrame(np.eye(len(latent)), index=latent, columns=latent)
    cov = est[(est["op"] == "~~") & est["lhs"].isin(latent) & est["rhs"].isin(latent) & (est["lhs"] != est["rhs"])]
    for _, row in cov.iterrows():
        out.loc[row["lhs"], row["rhs"]] = out.loc[row["rhs"], row["lhs"]] = float(row["std_all"])
    return out


def fornell_larcker(
    data: pd.DataFrame, model: str, *, estimator: str | None = None, fit: CFAResult | None = None
) -> FornellLarckerResult:
    """Fornell–Larcker criterion: ``sqrt(AVE)`` of each factor vs its correlations with the others.

    AVE as :func:`ave`; factor correlations are the completely standardized latent
    covariances (lavaan's ``std.all``). A factor passes when ``sqrt(AVE)`` is larger than
    every absolute correlation with another factor (Fornell & Larcker, 1981).

    References
    ----------
    Fornell, C., & Larcker, D. F. (1981). Evaluating structural equation models with
    unobservable variables and measurement error. Journal of Marketing Research, 18, 39-50.
    """
    res = _fit(data, model, estimator, fit)
    a = ave(data, model, estimator=estimator, fit=res)
    corr = _latent_corr(res).loc[a.index, a.index]
    table = corr.copy()
    for f in a.index:
        table.loc[f, f] = math.sqrt(a[f]) if a[f] >= 0 else np.nan
    off = corr.abs().where(~np.eye(len(a), dtype=bool))
    passes = pd.Series({f: bool(np.sqrt(a[f]) > off.loc[f].max()) for f in a.index}, name="passes")
    return FornellLarckerResult(table=table, passes=passes, ave=a, diagnostics={"converged": res.converged})


def factor_correlations(
    data: pd.DataFrame | None = None,
    model: str | None = None,
    *,
    estimator: str | None = None,
    fit: CFAResult | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Factor correlations with standard errors and Wald confidence intervals.

    The model is fitted with unit factor variances (``std_lv=True``, lavaan's
    ``std.lv = TRUE``), so the latent covariances are the correlations and their
    intervals are lavaan's ``parameterEstimates`` ``est ± z se`` (delta-method free:
    the correlation is itself a parameter). Give ``fit`` to reuse a fit made with
    ``std_lv=True``.

    Returns
    -------
    DataFrame
        ``lhs, rhs, r, se, z, pvalue, ci_lower, ci_upper``.

    Raises
    ------
    SpecificationError
        ``fit`` has free factor variances (it was not fitted with ``std_lv=True``), or
        neither data and model nor fit are given.
    """
    if fit is None:
        if data is None or model is None:
            raise SpecificationError("factor_correlations needs data and model, or a fit")
        fit = _fit(data, model, estimator, None, std_lv=True)
    est = fit.estimates
    latent = list(dict.fromkeys(est.loc[est["op"] == "=~", "lhs"]))
    var = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"]) & est["lhs"].isin(latent)]
    if not np.allclose(var["est"].astype(float), 1.0):
        raise SpecificationError(
            "the fit has free factor variances; fit the model with std_lv=True (or pass data "
            "and model) to get factor correlations with their standard errors"
        )
    cov = est[(est["op"] == "~~") & est["lhs"].isin(latent) & est["rhs"].isin(latent) & (est["lhs"] != est["rhs"])]
    zq = stats.norm.ppf(1 - (1 - level) / 2)
    se = cov["se"].astype(float).to_numpy()
    r = cov["est"].astype(float).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = r / se
    return pd.DataFrame(
        {
            "lhs": cov["lhs"].to_numpy(),
            "rhs": cov["rhs"].to_numpy(),
            "r": r,
            "se": se,
            "z": z,
            "pvalue": 2 * stats.norm.sf(np.abs(z)),
            "ci_lower": r - zq * se,
            "ci_upper": r + zq * se,
        }
    )


def external_correlations(
    data: pd.DataFrame,
    external: list[str],
    *,
    scales: dict[str, list[str]] | None = None,
    model: str | None = None,
    pool: ItemPool | None = None,
    method: str = "pearson",
    level: float = 0.95,
) -> pd.DataFrame:
    """Correlations of scale scores with external measures, with Fisher-z intervals.

    Scale scores are the means of each scale's items (available-item mean; reverse-keyed
    items of ``pool`` reversed first). Scales come from ``scales`` (name → items), the
    ``=~`` lines of ``model`` or the pool's factors. Each correlation uses the rows where
    both the score and the external measure are present; the interval is
    ``tanh(atanh(r) ± z / sqrt(n - 3))`` (Fisher, 1921) and the p-value the t test of
    ``r = 0`` with ``n - 2`` df. ``method="spearman"`` correlates ranks (the Fisher-z
    interval is then approximate).

    Returns
    -------
    DataFrame
        ``scale, external, r, n, ci_lower, ci_upper, pvalue`` (convergent measures should
        correlate highly, discriminant ones weakly).

    Raises
    ------
    DataError
        An external column or an item is missing or not numeric.
    SpecificationError
        No scales given; an unknown method.

    References
    ----------
    Fisher, R. A. (1921). On the "probable error" of a coefficient of correlation deduced
    from a small sample. Metron, 1, 3-32.
    Campbell, D. T., & Fiske, D. W. (1959). Convergent and discriminant validation by the
    multitrait-multimethod matrix. Psychological Bulletin, 56, 81-105.
    """
    if method not in ("pearson", "spearman"):
        raise SpecificationError(f"unknown correlation method {method!r}; use 'pearson' or 'spearman'")
    if scales is None:
        if model is not None:
            scales = _rel()._factor_items(model)
        elif pool is not None:
            scales = pool.factor_items()
        else:
            raise SpecificationError("external_correlations needs scales, a model or a pool")
    for e in external:
        if e not in data.columns:
            raise DataError(f"external measure {e!r} is not a column of the data")
        if not pd.api.types.is_numeric_dtype(data[e]):
            raise DataError(f"external measure {e!r} is not numeric (dtype {data[e].dtype})")
    items = list(dict.fromkeys(i for its in scales.values() for i in its))
    _check_items(data, items)
    x = data[items].astype(float)
    if pool is not None:
        from allyscale.scoring import reverse_score

        x = reverse_score(x, pool, present_only=True)
    scores = pd.DataFrame({s: x[its].mean(axis=1) for s, its in scales.items()})
    zq = stats.norm.ppf(1 - (1 - level) / 2)
    rows = []
    for s in scores.columns:
        for e in external:
            pair = pd.concat([scores[s], data[e].astype(float)], axis=1).dropna()
            n = len(pair)
            if n < 4:
                raise DataError(f"fewer than four complete rows for scale {s!r} and {e!r}")
            r = float(pair.corr(method=method).iloc[0, 1])
            zr, se = math.atanh(max(min(r, 1 - 1e-15), -1 + 1e-15)), 1 / math.sqrt(n - 3)
            t = r * math.sqrt((n - 2) / max(1 - r * r, 1e-300))
            rows.append(
                {
                    "scale": s,
                    "external": e,
                    "r": r,
                    "n": n,
                    "ci_lower": math.tanh(zr - zq * se),
                    "ci_upper": math.tanh(zr + zq * se),
                    "pvalue": float(2 * stats.t.sf(abs(t), n - 2)),
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the analyses the report and CLI share
@dataclass(frozen=True)
class ScaleReliability(Result):
    """Reliability and discriminant validity of a measurement model (:func:`scale_reliability`).

    Attributes
    ----------
    reliability : ReliabilityResult
        Alpha, omega and AVE per subscale and for the total score.
    htmt : DataFrame
        Heterotrait–monotrait ratios (polychoric correlations for ordered items).
    fornell_larcker : FornellLarckerResult
    omega : OmegaResult or None
        Schmid–Leiman omega with ``omega_factors`` group factors (None when not computed).
    estimator : str
    diagnostics : dict
        The reliability's diagnostics (convergence, Heywood cases, dropped rows) and ``reversed`` items.
    """

    reliability: Any
    htmt: pd.DataFrame
    fornell_larcker: FornellLarckerResult
    omega: Any
    estimator: str
    fit: CFAResult = field(repr=False)
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The reliability table, HTMT, Fornell–Larcker and (when computed) Schmid–Leiman omega."""
        out = Summary(self.reliability.summary().title)
        if not self.fit.converged:
            out.text("WARNING: the CFA did not converge; omega and AVE are not trustworthy", strong=True)
        out.table(self.reliability.table, title="Subscales and total score", digits=4)
        out.table(self.htmt, title="HTMT (HTMT2, geometric means)")
        out.table(self.fornell_larcker.table, title="Fornell-Larcker: sqrt(AVE) on the diagonal")
        if self.omega is not None:
            o = self.omega
            out.text(
                f"Schmid-Leiman omega ({o.n_factors} group factors; psych::omega): omega_h = {o.omega_h:.3f}, "
                f"omega_t = {o.omega_t:.3f}, ECV = {o.ecv:.3f}"
            )
        return out

    def to_frame(self) -> pd.DataFrame:
        """The reliability table."""
        return self.reliability.table

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "estimator": self.estimator,
                "converged": self.fit.converged,
                "reliability": self.reliability.table,
                "diagnostics": self.diagnostics,
                "htmt": self.htmt,
                "fornell_larcker": self.fornell_larcker.to_dict(),
                "omega": None if self.omega is None else self.omega.to_dict(),
            },
            frames="index",
        )


def scale_reliability(
    data: pd.DataFrame,
    model: str,
    *,
    estimator: str | None = None,
    pool: Any = None,
    fit: CFAResult | None = None,
    ordinal_alpha: bool = False,
    omega_factors: int | str | None = "auto",
) -> ScaleReliability:
    """Reliability and discriminant validity as the report computes them, in one call (the report and
    ``allyscale reliability`` both use it, so they cannot differ).

    One CFA (by the estimator rule unless ``estimator`` is given; ordered items for WLSMV) feeds omega, AVE and
    the Fornell–Larcker criterion; HTMT uses polychoric correlations when the items are analysed as ordered.

    Parameters
    ----------
    data : DataFrame
    model : str
        lavaan syntax of the measurement model.
    estimator : {"ML", "MLR", "WLSMV"}, optional
    pool : ItemPool, optional
        Its reverse-keyed items are reverse-scored first.
    fit : CFAResult, optional
        An existing fit of ``model`` to the (reverse-scored) data.
    ordinal_alpha : bool
        Alpha on polychoric correlations (Zumbo, Gadermann & Zeisser, 2007).
    omega_factors : int, "auto" or None
        Group factors of Schmid–Leiman omega (psych::omega); ``"auto"``: the number of first-order factors when
        there are at least three; None: not computed.
    """
    from allyscale.estimator_rule import resolve_estimator
    from allyscale.scoring import reverse_score
    from allyscale.syntax import factor_items

    x = reverse_score(data, pool, present_only=True) if pool is not None else data
    reversed_ = list(x.attrs.get("reverse_scored", [])) if pool is not None else []
    est = resolve_estimator(estimator, x, model, fit=fit)
    factors = factor_items(model)
    items = list(dict.fromkeys(i for its in factors.values() for i in its))
    if fit is None:
        fit = _cfa(x, model, estimator=est, **({"ordered": items} if est == "WLSMV" else {}))
    rel = _rel().reliability(x, model, estimator=est, ordinal_alpha=ordinal_alpha, fit=fit)
    ht = htmt(x, model, ordinal=est == "WLSMV")
    fl = fornell_larcker(x, model, estimator=est, fit=fit)
    k = (len(factors) if len(factors) >= 3 else None) if omega_factors == "auto" else omega_factors
    om = _rel().omega(x[items], int(k)) if k else None
    return ScaleReliability(rel, ht, fl, om, est, fit, {**rel.diagnostics, "reversed": reversed_})


def _cfa(data: pd.DataFrame, model: str, **kwargs: Any) -> CFAResult:
    from allyscale.cfa import cfa

    return cfa(data, model, **kwargs)
