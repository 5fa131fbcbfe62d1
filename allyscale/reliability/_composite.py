"""Composite reliability (semTools::compRelSEM, categorical omega), AVE and the per-subscale reliability table."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allyscale._threads import blas_limited
from allyscale.errors import ConvergenceWarning, DataError, DataWarning, SpecificationError
from allyscale.results import Result, Summary
from allyscale.scoring import reverse_score

if TYPE_CHECKING:  # pragma: no cover
    from allyscale.cfa import CFAResult
    from allyscale.pool import ItemPool

from allyscale.reliability._alpha import alpha
from allyscale.reliability._common import _jsonable, _select_items


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
def reliability(
    data: pd.DataFrame,
    model: str,
    *,
    estimator: str | None = None,
    ordinal_alpha: bool = False,
    pool: ItemPool | None = None,
    fit: CFAResult | None = None,
) -> pd.DataFrame:
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
        warnings.warn(
            "the CFA did not converge; omega and AVE come from a non-converged solution",
            ConvergenceWarning,
            stacklevel=2,
        )
    if fit.diagnostics.get("heywood"):
        diag["heywood"] = fit.diagnostics["heywood"]
    lams, phi, thr = _model_parts(fit)
    xi = x[items].dropna()
    if len(xi) < len(x):
        warnings.warn(
            f"{len(x) - len(xi)} rows with missing responses were dropped (listwise)", DataWarning, stacklevel=2
        )
        diag["dropped_rows"] = len(x) - len(xi)
    if categorical:
        from allyscale.polychoric import polychoric

        if (
            getattr(fit, "estimator", None) == "WLSMV"
            and getattr(fit, "_est", None) is not None
            and fit.ngroups == 1
            and len(fit._prep.y[0]) == len(xi)
        ):
            # the fit's own sample polychorics (same rows, same two-step estimates)
            s = pd.DataFrame(fit._est.sample[0][0], index=fit._prep.ov, columns=fit._prep.ov).loc[items, items]
            diag["polychoric"] = {
                "converged": bool(fit._est.diagnostics.get("polychoric_converged", True)),
                "smoothed": False,
                "min_eigenvalue": float(np.linalg.eigvalsh(s.to_numpy())[0]),
            }
        else:
            pc = polychoric(xi, items=items, smooth=False)  # lavaan's sample statistics are not smoothed
            s = pc.corr
            diag["polychoric"] = {
                k: v for k, v in pc.diagnostics.items() if k in ("converged", "smoothed", "min_eigenvalue")
            }
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
        om = categorical_omega(lam, psi, thr, s) if categorical else composite_reliability(lam, psi, s)
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
        rows["total"] = {
            "n_items": len(items),
            "alpha": _alpha_value(x, items, ordinal_alpha),
            "omega": tot,
            "ave": np.nan,
        }
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
        omega_source = (
            "categorical omega (Green & Yang, 2009), as semTools::compRelSEM"
            if self.estimator == "WLSMV"
            else "omega as semTools::compRelSEM"
        )
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
