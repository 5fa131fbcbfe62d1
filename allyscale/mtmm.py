"""Self-other agreement and method effects: the CT-C(M-1) model and latent self-informant correlations.

For a measure with a self-report and an informant form, the correlated-trait-correlated-
method-minus-one model (CT-C(M-1); Eid, Lischetzke, Nussbeck & Trierweiler, 2003) takes the
self-report as the *reference method*: each trait factor ``T_f`` is measured by the items of
factor ``f`` under both forms, and the informant items of ``f`` load in addition on a
*method factor* ``M_f``, uncorrelated with every trait factor, which holds what informants
see in the target beyond what the target reports (method factors correlate among
themselves). With loadings ``lambda_T`` and ``lambda_M`` of an informant indicator:

* consistency ``CO = lambda_T^2 Var(T) / (lambda_T^2 Var(T) + lambda_M^2 Var(M))``: the share
  of its true-score variance shared with the self-report;
* method specificity ``MS = 1 - CO``;
* reliability ``lambda_T^2 Var(T) + lambda_M^2 Var(M)`` over its total variance;

per item, and per factor for the informant scale score (sums of loadings). The latent
self-informant correlation of each factor, with a Wald confidence interval, comes from the
correlated-trait model (both forms' factors with variance 1, each item's residuals
correlated across forms; the paired configural model of :func:`allyscale.invariance`).

Several informants per target (long data, one row per target-informant pair): the models are
fitted to all rows and the standard errors (and the Yuan-Bentler scaled test) are made
robust to the clustering of rows within targets, as lavaan's ``cluster =`` (the first-order
information from score sums within clusters, times ``C / (C - 1)``); ML/MLR only.

References
----------
Eid, M., Lischetzke, T., Nussbeck, F. W., & Trierweiler, L. I. (2003). Separating trait
effects from trait-specific method effects in multitrait-multimethod models: A multiple-
indicator CT-C(M-1) model. Psychological Methods, 8, 38-60.
Geiser, C., Eid, M., & Nussbeck, F. W. (2008). On the meaning of the latent variables in the
CT-C(M-1) model. Psychological Methods, 13, 49-57.
Williams, R. L. (2000). A note on robust variance estimation for cluster-correlated data.
Biometrics, 56, 645-646.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from allyscale.cfa import CFAResult, cfa
from allyscale.errors import DataError, SpecificationError
from allyscale.results import Result, Summary, jsonable

__all__ = ["mtmm", "MTMMResult", "ctcm1_syntax", "cluster_robust"]


def ctcm1_syntax(
    model: str, *, forms: Sequence[str] = ("self", "informant"), reference: str = "self", sep: str = "_"
) -> str:
    """lavaan syntax of the CT-C(M-1) model for a base measurement model (``=~`` only).

    Trait factors keep the base names; method factors are ``M_<factor>``; every trait-method
    covariance is fixed at 0 (lavaan's default marker identification otherwise).
    """
    from allyscale.invariance import _base_structure

    factors, loads, _ = _base_structure(model)
    forms = tuple(forms)
    if reference not in forms or len(forms) != 2:
        raise SpecificationError(f"reference {reference!r} must be one of the two forms {forms}")
    other = forms[1] if reference == forms[0] else forms[0]
    method = {f: f"M_{f}" for f in factors}
    clash = [m for m in method.values() if m in factors]
    if clash:
        raise SpecificationError(f"factor name {clash[0]!r} is used for a method factor; rename the factor")
    lines = []
    for f in factors:
        items = [f"{i}{sep}{reference}" for i in loads[f]] + [f"{i}{sep}{other}" for i in loads[f]]
        lines.append(f"{f} =~ " + " + ".join(items))
    for f in factors:
        lines.append(f"{method[f]} =~ " + " + ".join(f"{i}{sep}{other}" for i in loads[f]))
    for f in factors:
        lines.append(f"{f} ~~ " + " + ".join(f"0*{m}" for m in method.values()))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# cluster-robust ML
# --------------------------------------------------------------------------------------
def cluster_robust(fit: CFAResult, cluster: Sequence[Any]) -> CFAResult:
    """Standard errors and the scaled test of an ML/MLR fit made robust to clustered rows.

    As lavaan's ``cluster =`` for a single-level model: the meat of the sandwich and the
    first-order information of the Yuan-Bentler (Mplus) scaled test use the casewise scores
    summed within clusters, times ``C / (C - 1)`` (``C`` clusters); the bread is the observed
    information (MLR). Point estimates and the ML chi-square are unchanged; ``chisq.scaled``,
    ``chisq.scaling.factor``, ``pvalue.scaled``, ``cfi.robust``, ``tli.robust`` and
    ``rmsea.robust`` are recomputed.

    Parameters
    ----------
    fit : CFAResult
        One group, complete data, estimator ML or MLR, fitted with a mean structure.
    cluster : sequence
        Cluster id of every row of the data the fit used (in their order).

    Returns
    -------
    CFAResult
        A copy with ``se, z, pvalue, ci_lower, ci_upper`` replaced and
        ``diagnostics["clusters"]``.

    Raises
    ------
    SpecificationError
        Several groups, FIML, WLSMV, or a cluster vector of the wrong length.
    """
    from allyscale._core import fitindices as fi
    from allyscale._core import ml as _ml
    from allyscale._core import robust as _robust

    prep, est = fit._prep, fit._est
    if prep.estimator not in ("ML", "MLR") or prep.ngroups != 1 or prep.missing != "listwise":
        raise SpecificationError(
            "cluster-robust standard errors are available for one-group ML/MLR fits with complete data"
        )
    cl = pd.Series(list(cluster))
    n = prep.n_total
    if len(cl) != n:
        raise SpecificationError(f"cluster has {len(cl)} values but the fit used {n} rows")
    if cl.isna().any():
        raise DataError(f"cluster ids are missing in {int(cl.isna().sum())} row(s)")
    codes = pd.factorize(cl)[0]
    n_c = int(codes.max()) + 1
    if n_c < 2:
        raise DataError("cluster-robust standard errors need at least two clusters")
    corr = n_c / (n_c - 1)
    spec = prep.spec
    data = [_ml.GroupData.from_array(prep.y[0])]
    x = est.x

    def summed(sc):
        out = np.zeros((n_c, sc.shape[1]))
        np.add.at(out, codes, sc)
        return out * np.sqrt(corr)

    info_obs = _ml.observed_information(spec, data, x)
    sc = summed(_ml.casewise_scores(spec, data, x)[0])
    meat = sc.T @ sc
    vcov = _robust.sandwich(info_obs, meat)
    free = prep.partable["free"].to_numpy(dtype=int)
    values = spec.estimates(x)
    var = np.diag(vcov)
    se_free = np.sqrt(np.where(var >= 0, var, np.nan))
    se = np.where(free > 0, se_free[np.maximum(free, 1) - 1], 0.0)
    table = fit.estimates.copy()
    # the estimates table holds the partable's rows in order (without "~1" rows when there is no mean structure)
    keep = np.ones(len(free), dtype=bool) if prep.meanstructure else prep.partable["op"].to_numpy() != "~1"
    se = se[keep]
    values = values[keep]
    fr = free[keep]
    q = norm.ppf(0.975)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(fr > 0, values / se, np.nan)
    table["se"] = np.where(np.isnan(values), np.nan, se)
    table["z"] = z
    table["pvalue"] = 2 * norm.sf(np.abs(z))
    table["ci_lower"] = np.where(fr > 0, values - q * se, values)
    table["ci_upper"] = np.where(fr > 0, values + q * se, values)
    # the Yuan-Bentler (Mplus) test with clustered first-order information
    fm = dict(fit.fit_measures)
    y = prep.y[0]
    s_mat = np.cov(y, rowvar=False, bias=True)
    mean = y.mean(axis=0)
    sat = _ml.saturated_spec(prep.ov)
    xs = _ml.saturated_x(s_mat, mean)
    if not prep.meanstructure:
        raise SpecificationError("cluster-robust tests need a mean structure (as lavaan with cluster=)")
    a1 = _ml.observed_information(sat, data, xs) / n
    b1s = summed(_ml.casewise_scores(sat, data, xs)[0])
    tr_h1 = float(np.sum((b1s.T @ b1s / n) * np.linalg.inv(a1).T))

    def h0(spec_, x_, info_):
        s_ = summed(_ml.casewise_scores(spec_, data, x_)[0])
        return float(np.sum((s_.T @ s_ / n) * np.linalg.inv(info_ / n).T))

    df = fm["df"]
    c = _robust.scaling_factor(tr_h1, h0(spec, x, info_obs), df)
    spec0 = _ml.baseline_spec(prep.ov, 1, True)
    x0 = np.concatenate([np.diag(s_mat), mean])
    dfb = fm["baseline.df"]
    cb = _robust.scaling_factor(tr_h1, h0(spec0, x0, _ml.observed_information(spec0, data, x0)), dfb)
    x2, x2b = fm["chisq"], fm["baseline.chisq"]
    fm.update(
        {
            "chisq.scaled": x2 / c,
            "pvalue.scaled": fi.pvalue(x2 / c, df),
            "chisq.scaling.factor": c,
            "baseline.chisq.scaled": x2b / cb,
            "baseline.chisq.scaling.factor": cb,
            "cfi.robust": fi.cfi(x2, df, x2b, dfb, c, cb),
            "tli.robust": fi.tli(x2, df, x2b, dfb, c, cb),
            "rmsea.robust": fi.rmsea(x2, df, n, 1, c),
            "cfi.scaled": fi.cfi(x2 / c, df, x2b / cb, dfb),
            "tli.scaled": fi.tli(x2 / c, df, x2b / cb, dfb),
        }
    )
    diagnostics = {
        **fit.diagnostics,
        "clusters": n_c,
        "cluster_correction": corr,
        "cluster_note": "standard errors and the scaled test are robust to the clustering of rows "
        "within targets (lavaan's cluster=)",
    }
    return replace(fit, estimates=table, fit_measures=fm, diagnostics=diagnostics)


# --------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MTMMResult(Result):
    """Self-other agreement and method effects.

    Attributes
    ----------
    items : DataFrame
        One row per indicator: ``factor, item, form, lambda_trait, lambda_method,
        consistency, method_specificity, reliability`` (reference items: consistency 1,
        method specificity 0).
    factors : DataFrame
        One row per factor: ``consistency, method_specificity`` of the informant scale
        score (sums of loadings), ``self_other_r`` (latent correlation of the two forms'
        factors), ``se, ci_lower, ci_upper`` (Wald, 95%).
    fit : CFAResult
        The CT-C(M-1) model.
    agreement : CFAResult
        The correlated-trait model giving the latent correlations.
    diagnostics : dict
    """

    items: pd.DataFrame
    factors: pd.DataFrame
    fit: CFAResult = field(repr=False)
    agreement: CFAResult = field(repr=False)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> Summary:
        """The model's fit, the factors' consistency and self-other correlations, the items' decomposition."""
        d = self.diagnostics
        out = Summary(
            f"CT-C(M-1) model (Eid et al., 2003), reference method {d.get('reference')!r}, "
            f"{d.get('estimator')}" + (f", {d['clusters']} targets (cluster-robust)" if d.get("clusters") else "")
        )
        fm = self.fit.fit_measures
        keys = [k for k in ("chisq", "df", "pvalue", "chisq.scaled", "cfi", "rmsea", "srmr") if k in fm]
        out.text(", ".join(f"{k} = {fm[k]:.3f}" for k in keys))
        out.table(self.factors, title="Factors", index=True)
        return out.table(self.items, title="Items", index=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per indicator: trait and method loadings, consistency, method specificity, reliability."""
        return self.items

    def to_dict(self) -> dict[str, Any]:
        f = self.factors.reset_index().rename(columns={"index": "factor"})
        return jsonable(
            {
                "items": self.items,
                "factors": f,
                "fit_measures": self.fit.fit_measures,
                "agreement_fit_measures": self.agreement.fit_measures,
                "diagnostics": self.diagnostics,
            }
        )


def _loading(est: pd.DataFrame, f: str, item: str) -> float:
    r = est[(est["lhs"] == f) & (est["op"] == "=~") & (est["rhs"] == item)]
    return float(r["est"].iloc[0]) if len(r) else 0.0


def _var(est: pd.DataFrame, a: str, b: str | None = None) -> float:
    b = b or a
    r = est[(est["op"] == "~~") & (((est["lhs"] == a) & (est["rhs"] == b)) | ((est["lhs"] == b) & (est["rhs"] == a)))]
    return float(r["est"].iloc[0])


def mtmm(
    data: pd.DataFrame,
    model: str,
    *,
    forms: Sequence[str] = ("self", "informant"),
    reference: str = "self",
    sep: str = "_",
    estimator: str = "ML",
    cluster: str | None = None,
    level: float = 0.95,
) -> MTMMResult:
    """CT-C(M-1) consistency and method specificity, and latent self-informant correlations.

    Parameters
    ----------
    data : DataFrame
        Paired data, ``<item><sep><form>`` columns (wide: one row per target; long: one row
        per target-informant pair with ``cluster`` naming the target id).
    model : str
        Base measurement model (``=~`` only) naming the base items.
    forms : (str, str)
    reference : str
        The reference method (the self-report).
    sep : str
    estimator : {"ML", "MLR", "WLSMV"}
        WLSMV: ordered items, coefficients on the latent-response scale.
    cluster : str, optional
        Target id column of long data (several informants): cluster-robust standard errors
        and test (ML/MLR; lavaan's ``cluster =``).
    level : float
        Confidence level of the correlation intervals.

    Returns
    -------
    MTMMResult

    Raises
    ------
    DataError
        Missing columns, a cluster column absent.
    SpecificationError
        ``cluster`` with WLSMV, a reference not among the forms.

    References
    ----------
    Eid et al. (2003); Geiser, Eid & Nussbeck (2008).
    """
    from allyscale.invariance import _base_structure, paired_syntax
    from allyscale.pairs import fit_wlsmv_scaled, paired_columns

    est_name = str(estimator).upper()
    forms = tuple(forms)
    factors, loads, items = _base_structure(model)
    cols = paired_columns(data, items, forms, sep)
    if not 0 < level < 1:
        raise SpecificationError(f"level must be in (0, 1), got {level}")
    if cluster is not None:
        if cluster not in data.columns:
            raise DataError(f"cluster column {cluster!r} is not in the data")
        if est_name == "WLSMV":
            raise SpecificationError(
                "cluster-robust standard errors are available with ML or MLR, not WLSMV "
                "(lavaan's cluster= for a single-level model); use estimator='MLR'"
            )
    other = forms[1] if reference == forms[0] else forms[0]
    syntax = ctcm1_syntax(model, forms=forms, reference=reference, sep=sep)
    used = [c for pair in cols.values() for c in pair]
    work = data.dropna(subset=used) if cluster is not None else data
    if est_name == "WLSMV":
        fit = cfa(work, syntax, estimator="WLSMV", ordered=used)
        # the configural model: each form's thresholds from its own categories
        n_cat = {c: int(work[c].dropna().nunique()) for c in used}
        agree_syntax, _ = paired_syntax(model, [], forms=forms, sep=sep, ordered=True, n_cat=n_cat)
        agreement = fit_wlsmv_scaled(work, agree_syntax)
    else:
        fit = cfa(work, syntax, estimator=est_name, meanstructure=True if cluster is not None else None)
        agree_syntax, _ = paired_syntax(model, [], forms=forms, sep=sep)
        agreement = cfa(work, agree_syntax, estimator=est_name, std_lv=True, meanstructure=True)
        if cluster is not None:
            ids = work.loc[fit._prep.data.index, cluster]
            fit = cluster_robust(fit, ids)
            agreement = cluster_robust(agreement, work.loc[agreement._prep.data.index, cluster])
    est = fit.estimates
    implied = {v: float(s) for v, s in zip(fit._prep.ov, np.diag(fit._prep.spec.implied(fit._est.x)[0][0]))}
    rows = []
    for f in factors:
        vt = _var(est, f)
        vm = _var(est, f"M_{f}")
        for i in loads[f]:
            for form in forms:
                c = f"{i}{sep}{form}"
                lt = _loading(est, f, c)
                lm = _loading(est, f"M_{f}", c) if form == other else 0.0
                t_part, m_part = lt**2 * vt, lm**2 * vm
                true = t_part + m_part
                rows.append(
                    {
                        "factor": f,
                        "item": i,
                        "form": form,
                        "lambda_trait": lt,
                        "lambda_method": lm if form == other else np.nan,
                        "consistency": t_part / true if true > 0 else np.nan,
                        "method_specificity": m_part / true if true > 0 else np.nan,
                        "reliability": true / implied[c],
                    }
                )
    items_tab = pd.DataFrame(rows)
    q = norm.ppf(0.5 + level / 2)
    aest = agreement.estimates
    frows = {}
    for f in factors:
        sub = items_tab[(items_tab["factor"] == f) & (items_tab["form"] == other)]
        vt, vm = _var(est, f), _var(est, f"M_{f}")
        t_sum = sub["lambda_trait"].sum() ** 2 * vt
        m_sum = sub["lambda_method"].sum() ** 2 * vm
        a, b = f"{f}{sep}{forms[0]}", f"{f}{sep}{forms[1]}"
        r = aest[
            (aest["op"] == "~~")
            & (((aest["lhs"] == a) & (aest["rhs"] == b)) | ((aest["lhs"] == b) & (aest["rhs"] == a)))
        ].iloc[0]
        frows[f] = {
            "consistency": t_sum / (t_sum + m_sum),
            "method_specificity": m_sum / (t_sum + m_sum),
            "self_other_r": float(r["est"]),
            "se": float(r["se"]),
            "ci_lower": float(r["est"] - q * r["se"]),
            "ci_upper": float(r["est"] + q * r["se"]),
        }
    factors_tab = pd.DataFrame.from_dict(frows, orient="index")
    diagnostics = {
        "estimator": est_name,
        "reference": reference,
        "forms": list(forms),
        "syntax": syntax,
        "agreement_syntax": agree_syntax,
        "n": fit.ntotal,
        "converged": fit.converged and agreement.converged,
        "heywood": list(fit.diagnostics.get("heywood", [])) + list(agreement.diagnostics.get("heywood", [])),
        "level": level,
    }
    if cluster is not None:
        diagnostics.update(clusters=fit.diagnostics["clusters"], cluster=cluster)
    return MTMMResult(items_tab, factors_tab, fit, agreement, diagnostics)


from allyscale._callable import make_callable  # noqa: E402 - after the function it makes the module call

make_callable(__name__, mtmm)
