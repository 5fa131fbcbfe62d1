"""Item statistics for selection: one table per factor, with the flags a developer reads first.

Columns (``item_statistics``):

``loading``, ``communality``
    Standardized loading on the item's factor and its square, from the correlated-factors
    WLSMV model of the whole pool (each item on its own factor).
``cross_loading``, ``cross_factor``
    The largest absolute loading on another factor in an exploratory solution (minres on the
    polychoric correlations, oblique target rotation toward the pool's structure), and that factor.
``item_rest_r``, ``alpha_if_deleted``
    Corrected item–total (item–rest) correlation and coefficient α of the factor's other items
    (Pearson, reverse-keyed items reversed; psych's ``r.drop`` and ``alpha.drop``).
``omega_if_deleted``
    ω of the factor's latent responses without the item, the other loadings held at their
    values in the whole-pool model.
``information``
    The item's mean graded-response information over ``theta_range`` (:mod:`allyscale.irt`).
``dif``, ``dif_threshold``, ``dif_slope``
    With groups: the item's differential functioning. Per group a one-factor WLSMV model of
    the factor's items gives graded-response slopes ``a`` and locations ``b`` on that group's
    standardized θ; the groups' metrics are linked per factor by a robust line ``b_g = A·b_ref
    + B`` through all items' locations (Theil–Sen slope, median-residual intercept; robust to a minority of DIF items, as in
    iterative purification of DIF linking, Candell & Drasgow, 1988); ``dif_threshold`` is the
    mean absolute location residual in the reference θ metric times the item's standardized
    loading (the threshold shift in standard deviations of the latent response, less noisy for
    weak items than a shift in θ), ``dif_slope`` the difference between the standardized loadings
    implied by the linked slopes, ``|λ(a_g·A) − λ(a_ref)|`` with ``λ(a) = a / sqrt(1 + a²)``, and
    ``dif`` their sum (the largest over groups).
``method_loading``, ``method_z``
    With at least three reverse-keyed items: the item's standardized loading on a method factor
    of the reverse-keyed items, orthogonal to the correlated traits (the correlated-traits /
    uncorrelated-method model of wording effects; Marsh, 1996; DiStefano & Motl, 2006), and its
    z value (factors of unit variance); NaN for forward-keyed items.
``flags``
    ``low loading`` (loading < .40), ``cross-loading`` (|cross-loading| ≥ .30), ``DIF`` (dif ≥
    .40), ``method factor`` (|method loading| ≥ .30 with |z| ≥ 1.96), ``alpha rises`` (α if
    deleted above the factor's α). These are screening rules: the
    rates at which they flag known-bad and known-good items are measured by
    ``studies/shorten_error_rates.py`` (table in ``docs/short_forms.md``); the search itself uses
    the continuous objective, not the flags.

References
----------
Marsh, H. W. (1996). Positive and negative global self-esteem: A substantively meaningful
distinction or artifactors? Journal of Personality and Social Psychology, 70, 810-819.
DiStefano, C., & Motl, R. W. (2006). Further investigating method effects associated with
negatively worded items on self-report surveys. Structural Equation Modeling, 13, 440-464.
Candell, G. L., & Drasgow, F. (1988). An iterative procedure for linking metrics and assessing
item bias in item response theory. Applied Psychological Measurement, 12, 253-260.
Sen, P. K. (1968). Estimates of the regression coefficient based on Kendall's tau. JASA, 63, 1379-1389.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from allyscale.errors import AllyscaleWarning

__all__ = ["FLAG_RULES", "compute_item_statistics", "dif_index"]

FLAG_RULES = {
    "low loading": "standardized loading < .40",
    "cross-loading": "|EFA cross-loading| >= .30",
    "DIF": "DIF index >= .40 (threshold shift in latent SD units + loading difference)",
    "method factor": "|loading on the reverse-keyed method factor| >= .30 with |z| >= 1.96",
    "alpha rises": "alpha if deleted exceeds the factor's alpha",
}
LOW_LOADING, CROSS_LOADING, DIF_FLAG, METHOD_FLAG = 0.40, 0.30, 0.40, 0.30


def _alpha(x: np.ndarray) -> float:
    k = x.shape[1]
    if k < 2:
        return float("nan")
    c = np.cov(x, rowvar=False)
    return float(k / (k - 1) * (1 - np.trace(c) / c.sum()))


def _grm_params(fit) -> tuple[pd.Series, pd.DataFrame]:
    from allyscale.irt import irt

    p = irt(fit).parameters.set_index("item")
    bcols = [c for c in p.columns if c.startswith("b") and c[1:].isdigit()]
    return p["a"].astype(float), p[bcols].astype(float)


def dif_index(data: pd.DataFrame, factors: Mapping[str, Sequence[str]], group: str) -> pd.DataFrame:
    """Item-level differential functioning between the groups of ``group`` (see the module docstring).

    Returns
    -------
    DataFrame
        Index items; ``dif``, ``dif_threshold``, ``dif_slope``, ``dif_group`` (the group where the
        item differs most from the reference group, the first).
    """
    from scipy.stats import theilslopes

    from allyscale.cfa import cfa
    from allyscale.polychoric import polychoric

    labels = list(dict.fromkeys(data[group].dropna()))
    items = [i for v in factors.values() for i in v]
    polys = {g: polychoric(data.loc[data[group] == g, items]) for g in labels}
    rows: dict[str, dict[str, Any]] = {}
    for f, its in factors.items():
        its = list(its)
        model = f"{f} =~ " + " + ".join(its)
        params = {}
        for g in labels:
            sub = data.loc[data[group] == g, its]
            fit = cfa(sub, model, estimator="WLSMV", ordered=its, polychoric=polys[g].subset(its))
            params[g] = _grm_params(fit)
        a_ref, b_ref = params[labels[0]]
        best = {i: {"dif": 0.0, "dif_threshold": 0.0, "dif_slope": 0.0, "dif_group": None} for i in its}
        for g in labels[1:]:
            a_g, b_g = params[g]
            common = [c for c in b_ref.columns if c in b_g.columns]
            x = b_ref.loc[its, common].to_numpy().ravel()
            y = b_g.loc[its, common].to_numpy().ravel()
            ok = np.isfinite(x) & np.isfinite(y)
            slope = float(theilslopes(y[ok], x[ok])[0])
            slope = slope if slope > 0 else 1.0
            intercept = float(np.median(y[ok] - slope * x[ok]))  # the median residual (Sen, 1968)
            for i in its:
                bx = b_ref.loc[i, common].to_numpy(float)
                by = b_g.loc[i, common].to_numpy(float)
                m = np.isfinite(bx) & np.isfinite(by)
                lam_ref = a_ref[i] / np.sqrt(1.0 + a_ref[i] ** 2)  # standardized loading, reference
                a_link = a_g[i] * slope  # slope in the reference metric
                # threshold shift in latent-response SD units: location shift (reference θ) × loading
                thr = (
                    float(np.mean(np.abs(by[m] - (slope * bx[m] + intercept)))) / slope * lam_ref if m.any() else np.nan
                )
                slo = float(abs(a_link / np.sqrt(1.0 + a_link**2) - lam_ref))  # loading difference
                total = thr + slo
                if total > best[i]["dif"]:
                    best[i] = {"dif": total, "dif_threshold": thr, "dif_slope": slo, "dif_group": g}
        rows.update(best)
    return pd.DataFrame.from_dict(rows, orient="index")


def method_loadings(data: pd.DataFrame, pool, factors: Mapping[str, Sequence[str]], poly) -> pd.DataFrame | None:
    """Loadings of the reverse-keyed items on an orthogonal method factor (see the module docstring).

    Returns
    -------
    DataFrame or None
        Index the reverse-keyed items; ``method_loading`` (standardized), ``method_z``. None
        with fewer than three reverse-keyed items, or when the model does not converge or is
        inadmissible (the caller records why).
    """
    from allyscale.cfa import cfa
    from allyscale.selection.objective import model_syntax

    items = [i for v in factors.values() for i in v]
    rev = [i for i in items if pool.item(i).reverse]
    if len(rev) < 3:
        return None
    syntax = (
        model_syntax(factors)
        + "\nmethod_reverse =~ "
        + " + ".join(rev)
        + "\n"
        + "\n".join(f"method_reverse ~~ 0*{f}" for f in factors)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllyscaleWarning)
        fit = cfa(data, syntax, estimator="WLSMV", ordered=items, polychoric=poly.subset(items), std_lv=True)
    if not fit.converged or fit.diagnostics.get("heywood") or caught:
        return None
    est = fit.estimates
    m = est[(est["op"] == "=~") & (est["lhs"] == "method_reverse")].set_index("rhs")
    return pd.DataFrame({"method_loading": m["std_all"].astype(float), "method_z": m["z"].astype(float)})


def compute_item_statistics(
    data: pd.DataFrame,
    pool,
    *,
    poly,
    factors: Mapping[str, Sequence[str]],
    group: str | None = None,
    theta_range: tuple[float, float] = (-2.0, 2.0),
    dif: pd.DataFrame | None = None,
    method: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The per-factor item-statistics tables (see the module docstring).

    ``data`` holds reverse-scored responses; ``poly`` the polychoric result of ``data``'s items.
    """
    from allyscale.cfa import cfa
    from allyscale.efa import efa
    from allyscale.irt import from_standardized
    from allyscale.selection.objective import latent_omega, model_syntax

    items = [i for v in factors.values() for i in v]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllyscaleWarning)
        fit = cfa(data, model_syntax(factors), estimator="WLSMV", ordered=items, polychoric=poly.subset(items))
    est = fit.estimates
    lam = pd.DataFrame(0.0, index=items, columns=list(factors))
    for r in est[est["op"] == "=~"].itertuples():
        lam.loc[r.rhs, r.lhs] = float(r.std_all)
    th = est[est["op"] == "|"]
    kmax = int(th["rhs"].str[1:].astype(int).max())
    tau = pd.DataFrame(np.nan, index=items, columns=[f"t{k + 1}" for k in range(kmax)])
    for r in th.itertuples():
        tau.loc[r.lhs, r.rhs] = float(r.std_all)
    grid = np.linspace(theta_range[0], theta_range[1], 41)
    info = from_standardized(lam, tau).information(grid)
    cross = pd.Series(np.nan, index=items)
    cross_f = pd.Series(None, index=items, dtype=object)
    if len(factors) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AllyscaleWarning)
            sub = poly.subset(items)
            ex = efa(
                sub.corr,
                len(factors),
                corr="polychoric",
                n=poly.n,
                rotation="target",
                pool=_pool_view(pool, factors),
                reverse_scored=True,
            )
        L = ex.loadings.reindex(index=items)
        for i in items:
            own = next(f for f, v in factors.items() if i in v)
            others = L.loc[i].drop(labels=[own], errors="ignore")
            j = others.abs().idxmax()
            cross[i] = float(others[j])
            cross_f[i] = j
    if group is not None and dif is None:
        dif = dif_index(data, factors, group)
    out = {}
    for f, its in factors.items():
        its = list(its)
        x = data[its].to_numpy(dtype=float)
        x = x[~np.isnan(x).any(axis=1)]
        alpha_f = _alpha(x)
        rows = []
        for j, i in enumerate(its):
            rest = np.delete(x, j, axis=1)
            r_rest = float(np.corrcoef(x[:, j], rest.sum(axis=1))[0, 1])
            lam_f = lam.loc[its, f].to_numpy()
            flags = []
            row = {
                "item": i,
                "facet": pool.item(i).facet if i in pool.item_ids else None,
                "reverse": bool(pool.item(i).reverse) if i in pool.item_ids else False,
                "loading": float(lam.loc[i, f]),
                "communality": float(lam.loc[i, f] ** 2),
                "cross_loading": float(cross[i]),
                "cross_factor": cross_f[i],
                "item_rest_r": r_rest,
                "alpha_if_deleted": _alpha(rest),
                "omega_if_deleted": latent_omega(np.delete(lam_f, j)),
                "information": float(info[i].mean()),
            }
            if dif is not None:
                row.update({k: dif.loc[i, k] for k in ("dif", "dif_threshold", "dif_slope")})
            if method is not None:
                row["method_loading"] = float(method["method_loading"].get(i, np.nan))
                row["method_z"] = float(method["method_z"].get(i, np.nan))
                if abs(row["method_loading"]) >= METHOD_FLAG and abs(row["method_z"]) >= 1.96:
                    flags.append("method factor")
            if row["loading"] < LOW_LOADING:
                flags.append("low loading")
            if np.isfinite(row["cross_loading"]) and abs(row["cross_loading"]) >= CROSS_LOADING:
                flags.append("cross-loading")
            if dif is not None and row["dif"] >= DIF_FLAG:
                flags.append("DIF")
            if row["alpha_if_deleted"] > alpha_f:
                flags.append("alpha rises")
            row["flags"] = "; ".join(flags)
            rows.append(row)
        out[f] = pd.DataFrame(rows).set_index("item")
    return out


def _pool_view(pool, factors: Mapping[str, Sequence[str]]):
    """The pool restricted to ``factors``' items (for the EFA target)."""
    from dataclasses import replace

    keep = {i for v in factors.values() for i in v}
    new_factors = []
    for f in pool.factors:
        if f.id not in factors:
            continue
        facets = tuple(replace(fc, items=tuple(it for it in fc.items if it.id in keep)) for fc in f.facets)
        new_factors.append(
            replace(
                f, items=tuple(it for it in f.items if it.id in keep), facets=tuple(fc for fc in facets if fc.items)
            )
        )
    return replace(pool, factors=tuple(new_factors))
