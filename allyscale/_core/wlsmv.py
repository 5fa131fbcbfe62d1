"""WLSMV: diagonally weighted least squares on polychoric correlations (lavaan 0.6.14's default).

Owned code; semopy's ordinal path is unusable (it calls ``scipy.stats.mvn.mvnun``, removed
in SciPy 1.17, and its DWLS weights come from raw-data products rather than the polychoric
asymptotic covariance). The steps, for one group of complete ordinal responses:

1. Sample statistics ``s = (tau, rho)``: thresholds from each item's margins and two-step
   polychoric correlations (:func:`allyscale.polychoric`), thresholds first (item order,
   t1, t2, ...), correlations in lavaan's ``vech(COR, diagonal = FALSE)`` order.
2. Their asymptotic covariance ``Gamma = IF' IF / N`` from the casewise influence
   functions of the two-step estimator (Muthén, 1984; Muthén & Satorra, 1995): threshold
   influences ``A_j^-1 s_j`` from each item's scores and information, correlation
   influences ``(s_rho - A_rho,tau IF_tau) / A_rho,rho`` from each pair's scores, with
   lavaan's empirical (outer-product) ``A`` matrices (``muthen1984``).
   ``Gamma`` itself is never needed beyond its diagonal: every product with it is taken
   through the N × q influence matrix.
3. DWLS with ``W = diag(Gamma)^-1``: ``F = (s - sigma)' W (s - sigma)``, minimised by
   Gauss-Newton; the delta parameterization (unit latent-response variances, residual
   variances ``1 - communality``, intercepts 0) comes from :class:`ModelSpec`. With free,
   unconstrained thresholds the threshold part is fitted exactly.
4. Robust ("sandwich") covariance ``(D'WD)^-1 D'W Gamma W D (D'WD)^-1 / N``; the test
   ``T = N F`` and the mean-and-variance adjusted (scaled-shifted) statistic
   ``a T + df - a tr(U Gamma)`` with ``a = sqrt(df / tr((U Gamma)^2))``,
   ``U = W - W D (D'WD)^-1 D' W`` (Asparouhov & Muthén, 2010), the traces computed from
   the N × N matrix ``IF U IF'``; the same for the independence baseline.

Not implemented (reported as NaN with a note in ``diagnostics``): lavaan 0.6.14's
``cfi.robust``, ``tli.robust`` and ``rmsea.robust`` for categorical data, which refit the
model by ML to the polychoric matrix (Savalei, 2021); multiple groups.

References
----------
Muthén, B. (1984). A general structural equation model with dichotomous, ordered
categorical, and continuous latent variable indicators. Psychometrika, 49, 115-132.
Muthén, B., du Toit, S. H. C., & Spisic, D. (1997). Robust inference using weighted least
squares and quadratic estimating equations in latent variable modeling with categorical
and continuous outcomes. Unpublished manuscript.
Asparouhov, T., & Muthén, B. (2010). Simple second order chi-square correction. Mplus note.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from allyscale._core import fitindices as fi
from allyscale._core import polychoric as _pc
from allyscale._core.model import ModelSpec
from allyscale.errors import ConvergenceWarning, DataError, SpecificationError

__all__ = ["estimate", "influence", "expand_thresholds"]


# ----------------------------------------------------------------------------- statistics
def influence(y: np.ndarray, *, tol: float = 1e-10) -> dict[str, Any]:
    """Thresholds, polychoric correlations and the N × q influence matrix of (tau, rho).

    Parameters
    ----------
    y : (N, p) array of complete ordinal responses (any integer coding).

    Returns
    -------
    dict with ``th`` (list of arrays per item), ``rho`` (P,), ``IF`` (N, q) with columns
    thresholds (item order, t1..) then correlations (row-major upper triangle = lavaan's
    column-wise lower triangle), ``n_cat`` (p,), ``pairs``.
    """
    codes, cats = _pc.encode(y)
    n, p = codes.shape
    n_cat = np.array([len(c) for c in cats])
    if (n_cat < 2).any():
        raise DataError("WLSMV needs every ordered item to have at least two observed categories")
    kmax = int(n_cat.max())
    th = _pc.thresholds(codes, n_cat)
    bounds = _pc._bounds(th)
    iu = np.triu_indices(p, 1)
    tables = _pc.pair_tables(codes, kmax, iu).astype(float)
    npair = tables.sum(axis=(1, 2))
    fit = _pc.polychoric_pairs(tables, bounds[iu[0]], bounds[iu[1]], 1.1 * _pc.pearson_start(tables), tol=tol)
    rho = fit.rho
    # ---- threshold influences: A_j^-1 s_ij
    if_th = []
    for j in range(p):
        k = n_cat[j]
        t = th[j, : k - 1]
        b = np.concatenate([[-np.inf], t, [np.inf]])
        prob = ndtr(b[1:]) - ndtr(b[:-1])  # (k,)
        dens = np.exp(-t**2 / 2) / np.sqrt(2 * np.pi)  # (k-1,)
        c = codes[:, j]
        s = np.zeros((n, k - 1))
        for m in range(k - 1):
            s[:, m] = dens[m] * ((c == m) / prob[m] - (c == m + 1) / prob[m + 1])
        a = np.diag(dens**2 * (1 / prob[:-1] + 1 / prob[1:]))
        for m in range(k - 2):
            a[m, m + 1] = a[m + 1, m] = -dens[m] * dens[m + 1] / prob[m + 1]
        if_th.append(s @ np.linalg.inv(a))
    # ---- correlation influences
    prob, dprob = _pc.cell_probs(bounds[iu[0]], bounds[iu[1]], rho)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(prob > 0, dprob / prob, 0.0)  # (P, K, K)
        # lavaan (muthen1984) uses empirical "A" matrices: case averages of score products, which the
        # contingency tables give exactly; q_ab = phat_ab * (dpi/drho / pi)_ab / pi_ab
        phat = tables / npair[:, None, None]
        qmat = np.where(prob > 0, phat * ratio / prob, 0.0)
    i_rr = (phat * ratio**2).sum(axis=(1, 2))  # mean squared rho score
    s_rho = ratio[np.arange(len(rho))[None, :], codes[:, iu[0]], codes[:, iu[1]]]  # (N, P)
    s_ = np.sqrt(1 - rho**2)
    # d pi_ab / d u_k (first item's threshold k) = D_k(b) (delta_a,k - delta_a,k+1)
    u = bounds[iu[0]][:, 1:-1]  # (P, K-1)
    v = bounds[iu[1]]  # (P, K+1)
    du = np.exp(-u**2 / 2) / np.sqrt(2 * np.pi)
    cu = ndtr((v[:, None, 1:] - rho[:, None, None] * u[:, :, None]) / s_[:, None, None]) - \
        ndtr((v[:, None, :-1] - rho[:, None, None] * u[:, :, None]) / s_[:, None, None])
    d_u = du[:, :, None] * cu  # (P, K-1, K)
    i_ru = (d_u * (qmat[:, :-1, :] - qmat[:, 1:, :])).sum(axis=2)  # (P, K-1): mean(s_rho * dlog pi / du_k)
    uu = bounds[iu[1]][:, 1:-1]
    vv = bounds[iu[0]]
    dv = np.exp(-uu**2 / 2) / np.sqrt(2 * np.pi)
    cv = ndtr((vv[:, None, 1:] - rho[:, None, None] * uu[:, :, None]) / s_[:, None, None]) - \
        ndtr((vv[:, None, :-1] - rho[:, None, None] * uu[:, :, None]) / s_[:, None, None])
    d_v = dv[:, :, None] * cv  # (P, K-1, Ka) over the first item's categories a
    i_rv = (d_v * (qmat[:, :, :-1] - qmat[:, :, 1:]).transpose(0, 2, 1)).sum(axis=2)  # (P, K-1)
    # padded thresholds (items with fewer categories) carry zero weight: BIG bounds give zero density
    if_rho = s_rho.copy()
    for m in range(kmax - 1):
        has_u = m < n_cat[iu[0]] - 1
        has_v = m < n_cat[iu[1]] - 1
        ifu = np.zeros((n, len(rho)))
        ifv = np.zeros((n, len(rho)))
        for j in range(p):
            if m < n_cat[j] - 1:
                sel_u = np.flatnonzero((iu[0] == j) & has_u)
                ifu[:, sel_u] = if_th[j][:, [m]]
                sel_v = np.flatnonzero((iu[1] == j) & has_v)
                ifv[:, sel_v] = if_th[j][:, [m]]
        if_rho -= ifu * np.where(has_u, i_ru[:, m], 0.0) + ifv * np.where(has_v, i_rv[:, m], 0.0)
    if_rho /= i_rr
    IF = np.hstack(if_th + [if_rho])
    return {"th": [th[j, : n_cat[j] - 1] for j in range(p)], "rho": rho, "IF": IF, "n_cat": n_cat,
            "pairs": iu, "converged": bool(fit.converged.all())}


_CACHE = None  # an OrderedDict of recent sample statistics, created on first use
_CACHE_SIZE = 4


def sample_statistics(y: np.ndarray) -> dict[str, Any]:
    """:func:`influence` plus the DWLS weights and the N × N Gram matrices every model needs.

    The statistics depend on the data only, so competing models fitted to the same data
    (``compare``, Monte Carlo replications) share them: results are cached by the data's
    bytes (the last four data sets). ``gram_th`` and ``gram_rho`` are ``Z Z'`` for the
    weighted influence ``Z = IF W^1/2`` restricted to thresholds and to correlations.
    """
    import hashlib
    from collections import OrderedDict

    global _CACHE
    if _CACHE is None:
        _CACHE = OrderedDict()
    y = np.ascontiguousarray(y, dtype=float)
    key = (y.shape, hashlib.sha1(y.tobytes()).hexdigest())
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    stats = influence(y)
    IF = stats["IF"]
    n = IF.shape[0]
    w = n / (IF**2).sum(axis=0)
    n_th = sum(len(t) for t in stats["th"])
    z = IF * np.sqrt(w)
    stats.update(w=w, n_th=n_th, gram_th=z[:, :n_th] @ z[:, :n_th].T, gram_rho=z[:, n_th:] @ z[:, n_th:].T)
    _CACHE[key] = stats
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return stats


# ------------------------------------------------------------------------ parameter table
def expand_thresholds(pt: pd.DataFrame, n_cat: dict[str, int]) -> pd.DataFrame:
    """Replace each ``x | t*`` placeholder by rows ``x | t1 .. t(K-1)`` and renumber ``free``."""
    rows = []
    for r in pt.to_dict("records"):
        if r["op"] == "|" and r["rhs"] == "t*":
            for k in range(1, n_cat[r["lhs"]]):
                nr = dict(r)
                nr["rhs"] = f"t{k}"
                nr["label"] = "" if not r["label"] else f"{r['label']}.t{k}"
                rows.append(nr)
        else:
            rows.append(r)
    out = pd.DataFrame(rows, columns=pt.columns)
    number, by_label = 0, {}
    free = []
    for r in out.itertuples(index=False):
        if r.free == 0:
            free.append(0)
            continue
        lab = r.label
        if lab and lab in by_label:
            free.append(by_label[lab])
            continue
        number += 1
        free.append(number)
        if lab:
            by_label[lab] = number
    out["free"] = free
    out["id"] = np.arange(1, len(out) + 1)
    out.attrs.update(pt.attrs)
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------- estimation
def _offdiag_rows(p: int) -> np.ndarray:
    from allyscale._core.model import vech_indices

    r, c = vech_indices(p)
    return np.flatnonzero(r != c)


def estimate(prep) -> Any:
    """The WLSMV branch of :func:`allyscale.cfa` (see the module docstring)."""
    from allyscale._core import ml as _ml
    from allyscale.cfa import _Estimation

    if prep.ngroups > 1:
        raise SpecificationError("WLSMV with several groups (ordinal invariance) is not available in this version; "
                                 "use ML or MLR for multi-group models")
    ov = prep.ov
    p = len(ov)
    ordered = prep.ordered or list(ov)
    if set(ordered) != set(ov):
        raise SpecificationError("WLSMV here needs every indicator ordered (mixed continuous/ordinal items are not "
                                 "supported)")
    y = prep.y[0]
    n = y.shape[0]
    stats = sample_statistics(y)
    n_cat = {v: int(k) for v, k in zip(ov, stats["n_cat"])}
    # the parameter table with thresholds and every indicator ordered (delta parameterization)
    if not prep.ordered:
        from allyscale.syntax import lavaanify, parse_model

        pt = lavaanify(parse_model(prep.model), ordered=ov, std_lv=prep.std_lv, meanstructure=True)
    else:
        pt = prep.partable
    pt = expand_thresholds(pt, n_cat)
    spec = ModelSpec.from_partable(pt, ov, prep.lv, meanstructure=True)
    prep.partable, prep.spec, prep.ordered, prep.meanstructure = pt, spec, list(ov), True
    th_rows = [i for i, r in enumerate(pt.itertuples(index=False)) if r.op == "|"]
    th_obs = np.concatenate(stats["th"])
    s = np.concatenate([th_obs, stats["rho"]])
    IF = stats["IF"]
    q = s.size
    n_th = th_obs.size
    w = stats["w"]
    off = _offdiag_rows(p)
    # which free parameter is each threshold (x index), in s order
    th_param = []
    for i in th_rows:
        th_param.append(int(pt.iloc[i]["free"]) - 1 if pt.iloc[i]["free"] > 0 else -1)
    th_param = np.array(th_param)

    def sigma_and_jac(x):
        sig = spec.implied(x)[0][0]
        jac_full = spec.dsigma(x)[0][off]  # (P, n_free)
        model_sig = sig[np.triu_indices(p, 1)]
        sig_vec = np.concatenate([np.where(th_param >= 0, x[np.maximum(th_param, 0)],
                                           pt.iloc[th_rows]["ustart"].to_numpy(float)), model_sig])
        jac = np.zeros((q, spec.n_free))
        for row, k in enumerate(th_param):
            if k >= 0:
                jac[row, k] = 1.0
        jac[n_th:] = jac_full
        return sig_vec, jac

    # starting values: the ML starts on standardized responses, thresholds at their sample values
    z = (y - y.mean(axis=0)) / y.std(axis=0)
    gd = _ml.GroupData.from_array(z)
    spec_ml = ModelSpec.from_partable(pt, ov, prep.lv, meanstructure=False)
    x = np.asarray(_ml.start_values(spec_ml, [gd]), dtype=float)
    for row, k in enumerate(th_param):
        if k >= 0:
            x[k] = th_obs[row]
    diagnostics: dict[str, Any] = {"polychoric_converged": stats["converged"]}

    def objective(xv):
        sig, jac = sigma_and_jac(xv)
        r = s - sig
        return float(r @ (w * r)), r, jac

    f, r, jac = objective(x)
    converged, it = False, 0
    for it in range(1, 201):
        jw = jac.T * w
        h = jw @ jac
        g = jw @ r
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, g, rcond=None)[0]
        t = 1.0
        ok = False
        for _ in range(30):
            xn = x + t * step
            try:
                fn, rn, jn = objective(xn)
            except np.linalg.LinAlgError:
                t /= 2
                continue
            if np.isfinite(fn) and fn <= f + 1e-14:
                ok = True
                break
            t /= 2
        if not ok:
            break
        df_ = f - fn
        x, f, r, jac = xn, fn, rn, jac if False else jn
        if np.max(np.abs(jac.T @ (w * r))) < 1e-9 or df_ < 1e-15:
            converged = True
            break
    if not converged:
        warnings.warn("the WLSMV (DWLS) estimation did not converge", ConvergenceWarning, stacklevel=4)
    # ---- robust covariance, tests
    jw = jac.T * w  # (k, q)
    bread = np.linalg.inv(jw @ jac)
    b = jw @ IF.T  # (k, N)
    meat = b @ b.T / n
    # lavaan uses N - 1 for categorical data: T = (N - 1) F and the sandwich divided by N - 1
    vcov = bread @ meat @ bread / (n - 1)
    stat = (n - 1) * f
    n_free_model = spec.n_free
    df = float(q - n_free_model)
    if df < 0:
        raise SpecificationError(f"the model has {n_free_model} free parameters but only {q} sample statistics: "
                                 "it is not identified")
    # IF U IF' = IF W IF' - (IF W D) M (IF W D)'; IF W IF' is the cached Gram of the weighted influences
    c_mat = stats["gram_th"] + stats["gram_rho"] - (b.T @ bread) @ b
    tr_ug = float(np.trace(c_mat)) / n
    tr_ug2 = float((c_mat**2).sum()) / n**2
    test = {"standard": {"stat": stat, "df": df, "pvalue": fi.pvalue(stat, df)}}
    scaled = _scaled_shifted(stat, df, tr_ug, tr_ug2)
    test["scaled.shifted"] = scaled
    # ---- baseline: thresholds saturated, correlations zero
    r0 = stats["rho"]
    stat0 = float((n - 1) * (r0 @ (w[n_th:] * r0)))
    df0 = float(len(r0))
    c0 = stats["gram_rho"]
    tr0 = float(np.trace(c0)) / n
    tr0_2 = float((c0**2).sum()) / n**2
    baseline = {"standard": {"stat": stat0, "df": df0, "pvalue": fi.pvalue(stat0, df0)},
                "scaled.shifted": _scaled_shifted(stat0, df0, tr0, tr0_2)}
    pc = np.eye(p)
    pc[np.triu_indices(p, 1)] = stats["rho"]
    pc[np.tril_indices(p, -1)] = pc.T[np.tril_indices(p, -1)]
    diagnostics.update(trace_ugamma=tr_ug, trace_ugamma2=tr_ug2,
                       robust_indices="cfi.robust, tli.robust and rmsea.robust for categorical data (lavaan's "
                                      "catML refit, Savalei 2021) are not implemented: NaN")
    extra = {"cfi.robust": np.nan, "tli.robust": np.nan, "rmsea.robust": np.nan,
             "rmsea.ci.lower.robust": np.nan, "rmsea.ci.upper.robust": np.nan, "rmsea.pvalue.robust": np.nan}
    # RMSEA family with lavaan's N - 1 for categorical data
    n1 = n - 1
    extra["rmsea"] = fi.rmsea(stat, df, n1)
    extra["rmsea.ci.lower"], extra["rmsea.ci.upper"] = fi.rmsea_ci(stat, df, n1)
    extra["rmsea.pvalue"] = fi.rmsea_pvalue(stat, df, n1)
    if np.isfinite(scaled["stat"]):
        extra["rmsea.scaled"] = fi.rmsea(scaled["stat"], df, n1)
        extra["rmsea.ci.lower.scaled"], extra["rmsea.ci.upper.scaled"] = fi.rmsea_ci(scaled["stat"], df, n1)
        extra["rmsea.pvalue.scaled"] = fi.rmsea_pvalue(scaled["stat"], df, n1)
    sig_hat = spec.implied(x)[0][0]
    internals = {"s": s, "w": w, "jac": jac, "IF": IF, "n": n, "n_th": n_th, "sigma": sig_hat, "bread": bread}
    return _Estimation(x, vcov, converged, it, stat / (2 * n), test, baseline, [(pc, None)], None, extra, diagnostics,
                       "scaled.shifted", None, internals)


def _scaled_shifted(stat: float, df: float, tr_ug: float, tr_ug2: float) -> dict[str, float]:
    """Mean-and-variance adjusted statistic, as lavaan's ``scaled.shifted`` test."""
    if df <= 0 or tr_ug2 <= 0:
        return {"stat": np.nan, "df": df, "pvalue": np.nan, "scaling_factor": np.nan, "shift": np.nan,
                "trace_ugamma": tr_ug}
    a = np.sqrt(df / tr_ug2)
    shift = df - a * tr_ug
    scaled = stat * a + shift
    return {"stat": scaled, "df": df, "pvalue": fi.pvalue(scaled, df), "scaling_factor": 1 / a, "shift": shift,
            "trace_ugamma": tr_ug}


def difference_test(fit0, fit1) -> dict[str, Any]:
    """Difference test of two WLSMV fits: not available (reported, never approximated).

    lavaan's default for WLSMV (``lavTestLRT(method = "satorra.2000")``) needs the scaled
    and shifted difference built from both models' Jacobians and Gamma; it is not
    implemented, so the p-value is NaN and ``method`` says why. The unscaled DWLS
    difference is given for information only: it does not follow a chi-square distribution.
    """
    f0, f1 = fit0.fit_measures, fit1.fit_measures
    return {"chisq_diff": f0["chisq"] - f1["chisq"], "df_diff": f0["df"] - f1["df"], "pvalue": np.nan,
            "scaling": np.nan,
            "method": "not available for WLSMV (lavaan's satorra.2000 scaled difference is not implemented); "
                      "chisq_diff is the unscaled DWLS difference"}
