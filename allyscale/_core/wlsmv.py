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

5. lavaan 0.6.14's robust indices for categorical data (``cfi.robust``, ``tli.robust``,
   ``rmsea.robust`` and its interval; Savalei, 2021) from the ML discrepancy of the DWLS
   solution against the polychoric matrix (:func:`_catml`), and the nested-model difference
   test ``satorra.2000`` (:func:`difference_test`).

Several groups (:func:`_estimate_groups`): per-group statistics and weights, lavaan's
multi-group conventions, scale factors for threshold invariance and the Wu & Estabrook
(2016) identification (``cfa(id_cat=)``). Not available: items mixing ordinal and
continuous indicators (a :class:`SpecificationError` says so) and the theta
parameterization (there is no option for it).

References
----------
Muthén, B. (1984). A general structural equation model with dichotomous, ordered
categorical, and continuous latent variable indicators. Psychometrika, 49, 115-132.
Muthén, B., du Toit, S. H. C., & Spisic, D. (1997). Robust inference using weighted least
squares and quadratic estimating equations in latent variable modeling with categorical
and continuous outcomes. Unpublished manuscript.
Asparouhov, T., & Muthén, B. (2010). Simple second order chi-square correction. Mplus note.
Satorra, A. (2000). Scaled and adjusted restricted tests in multi-sample analysis of moment
structures. In Heijmans et al. (Eds.), Innovations in multivariate statistical analysis.
Savalei, V. (2021). Improving fit indices in structural equation modeling with categorical
data. Multivariate Behavioral Research, 56, 390-407.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse as _sparse
from scipy.special import ndtr

from allyscale._core import fitindices as fi
from allyscale._core import polychoric as _pc
from allyscale._core.model import ModelSpec
from allyscale.errors import ConvergenceWarning, DataError, SpecificationError

__all__ = ["estimate", "influence", "expand_thresholds", "subset_statistics", "finish_statistics"]


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
    n_th = int((n_cat - 1).sum())
    npairs = len(rho)
    # the influence matrix is built transposed, (q, N): every pair's row is contiguous
    ift = np.empty((n_th + npairs, n))
    if_rho = ift[n_th:]
    codes_t = np.ascontiguousarray(codes.T, dtype=np.intp)
    cell = codes_t[iu[0]] * kmax  # (P, N) index of each case's cell in the pair's K x K table
    cell += codes_t[iu[1]]
    if_rho[:] = np.take_along_axis(ratio.reshape(npairs, kmax * kmax), cell, axis=1)  # rho scores (P, N)
    del cell
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
    # minus the thresholds' share: pairs (j, .) form one block of rows, pairs (., j) are gathered
    first = np.searchsorted(iu[0], np.arange(p + 1))
    for j in range(p):
        k = n_cat[j] - 1
        blk = slice(first[j], first[j + 1])
        if blk.stop > blk.start:
            if_rho[blk] -= i_ru[blk, :k] @ if_th[j].T
        rows = np.flatnonzero(iu[1] == j)
        if rows.size:
            if_rho[rows] -= i_rv[rows, :k] @ if_th[j].T
    if_rho /= i_rr[:, None]
    ift[:n_th] = np.hstack(if_th).T
    IF = ift.T  # (N, q), a view
    return {"th": [th[j, : n_cat[j] - 1] for j in range(p)], "rho": rho, "IF": IF, "n_cat": n_cat,
            "pairs": iu, "converged": bool(fit.converged.all())}


_CACHE = None  # an OrderedDict of recent sample statistics, created on first use
_CACHE_SIZE = 4


def sample_statistics(y: np.ndarray) -> dict[str, Any]:
    """:func:`influence` plus the DWLS weights and the N × N Gram matrices every model needs.

    The statistics depend on the data only, so competing models fitted to the same data
    (``compare``, Monte Carlo replications) share them: results are cached by the data's
    bytes (the last four data sets). ``gram_rho`` is ``Z Z'`` for the weighted influence
    ``Z = IF W^1/2`` restricted to the correlations.
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
    stats = finish_statistics(influence(y))
    _CACHE[key] = stats
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return stats


def finish_statistics(stats: dict[str, Any]) -> dict[str, Any]:
    """Add the DWLS weights ``w = 1 / diag(Gamma)``, ``n_th`` and ``gram_rho`` to the output
    of :func:`influence` (or of :func:`subset_statistics`); returns a new dict."""
    out = dict(stats)
    IF = out["IF"]
    n = IF.shape[0]
    w = n / (IF**2).sum(axis=0)
    n_th = sum(len(t) for t in out["th"])
    z = IF[:, n_th:] * np.sqrt(w[n_th:])
    out.update(w=w, n_th=n_th, gram_rho=z @ z.T)
    return out


def subset_statistics(stats: dict[str, Any], idx) -> dict[str, Any]:
    """The statistics of :func:`influence` for the items ``idx`` (positions, in the new order),
    taken from ``stats`` without recomputation.

    Each threshold and its influence depend on its own item only, each polychoric
    correlation and its influence on its own pair (the two-step estimator), so the
    sub-blocks equal a fresh computation on those items' columns. Pairs are renumbered in
    lavaan's ``vech(COR, diagonal = FALSE)`` order of the new item order.
    """
    idx = np.asarray(idx, dtype=int)
    n_cat = np.asarray(stats["n_cat"])
    p = n_cat.size
    m = idx.size
    th_off = np.concatenate([[0], np.cumsum(n_cat - 1)])
    n_th_all = int(th_off[-1])
    pidx = -np.ones((p, p), dtype=int)
    iu_all = np.triu_indices(p, 1)
    pidx[iu_all] = np.arange(iu_all[0].size)
    pidx[iu_all[1], iu_all[0]] = pidx[iu_all]
    iu = np.triu_indices(m, 1)
    pair_cols = pidx[idx[iu[0]], idx[iu[1]]]
    th_cols = np.concatenate([np.arange(th_off[j], th_off[j + 1]) for j in idx]).astype(int)
    cols = np.concatenate([th_cols, n_th_all + pair_cols])
    out = {"th": [stats["th"][j] for j in idx], "rho": np.asarray(stats["rho"])[pair_cols],
           "IF": np.ascontiguousarray(stats["IF"][:, cols]), "n_cat": n_cat[idx], "pairs": iu,
           "converged": stats["converged"]}
    return out


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
class _CorrelationModel:
    """Model-implied polychoric correlations (off-diagonal, lavaan's order) and their Jacobian
    with respect to the structural parameters, built directly from the model matrices.

    Only the entries the correlation rows depend on are computed: a loading ``lambda_ij``
    moves the ``p - 1`` correlations of item ``i`` by ``(Phi Lambda')_j``; a factor
    (co)variance, a regression between factors or a residual covariance moves the pairs
    through rank-one products. This replaces the dense ``(k, p, p)`` derivative array of
    :meth:`ModelSpec.derivatives`, which dominates the cost for a 100-item model.
    """

    def __init__(self, spec: ModelSpec, params: np.ndarray):
        p = len(spec.ov)
        self.spec = spec
        self.iu = np.triu_indices(p, 1)
        pidx = -np.ones((p, p), dtype=int)
        pidx[self.iu] = np.arange(len(self.iu[0]))
        pidx[self.iu[1], self.iu[0]] = pidx[self.iu]
        self.pidx = pidx
        col = {int(k): c for c, k in enumerate(params)}
        self.kc = len(params)
        ent = [(col[k], name, i, j) for k, g, name, i, j in spec.entries if name in ("lam", "psi", "beta", "theta")]
        self.n_ent = len(ent)
        self.ent_col = np.array([e[0] for e in ent], dtype=int)
        self.unique = len(set(self.ent_col.tolist())) == self.n_ent
        by = {name: np.array([(n, e[2], e[3]) for n, e in enumerate(ent) if e[1] == name], dtype=int).reshape(-1, 3)
              for name in ("lam", "psi", "beta", "theta")}
        self.lam, self.psi, self.beta = by["lam"], by["psi"], by["beta"]
        th = by["theta"]
        self.theta = th[th[:, 1] != th[:, 2]]
        if self.lam.size:
            rows = pidx[self.lam[:, 1]]  # (n_lam, p): the pairs of each loading's item
            self.lam_mask = rows >= 0
            self.lam_rows = rows[self.lam_mask]
            self.lam_cols = np.broadcast_to(self.lam[:, [0]], rows.shape)[self.lam_mask]

    def __call__(self, x: np.ndarray, jacobian: bool = True):
        gm = self.spec.matrices(x)[0]
        a = gm.A
        lam_a = gm.lam @ a
        phi = a @ gm.psi @ a.T
        sig = lam_a @ gm.psi @ lam_a.T + gm.theta
        i0, i1 = self.iu
        sig_vec = sig[i0, i1]
        if not jacobian:
            return sig_vec, None
        # the Jacobian is sparse (a loading moves only its item's pairs): collect (row, column, value)
        rows, cols, vals = [], [], []
        if self.lam.size:
            r = (phi @ gm.lam.T)[self.lam[:, 2]]  # (n_lam, p)
            rows.append(self.lam_rows)
            cols.append(self.ent_col[self.lam_cols])
            vals.append(r[self.lam_mask])

        def dense_block(d, which):
            nz_r, nz_c = np.nonzero(d)
            rows.append(nz_r)
            cols.append(self.ent_col[which[nz_c]])
            vals.append(d[nz_r, nz_c])

        if self.psi.size:
            u, v = lam_a[:, self.psi[:, 1]], lam_a[:, self.psi[:, 2]]
            d = u[i0] * v[i1] + v[i0] * u[i1]
            d[:, self.psi[:, 1] == self.psi[:, 2]] /= 2
            dense_block(d, self.psi[:, 0])
        if self.beta.size:
            la = lam_a[:, self.beta[:, 1]]
            w = (phi @ gm.lam.T)[self.beta[:, 2]].T  # (p, n_beta)
            dense_block(la[i0] * w[i1] + w[i0] * la[i1], self.beta[:, 0])
        if self.theta.size:
            rows.append(self.pidx[self.theta[:, 1], self.theta[:, 2]])
            cols.append(self.ent_col[self.theta[:, 0]])
            vals.append(np.ones(len(self.theta)))
        if not rows:
            return sig_vec, _sparse.csc_array((len(i0), self.kc))
        jac = _sparse.csc_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(len(i0), self.kc))  # shared labels: duplicates are summed
        return sig_vec, jac


def _jtwj(jac, w: np.ndarray) -> np.ndarray:
    """``J' diag(w) J`` for a dense or sparse Jacobian."""
    if _sparse.issparse(jac):
        return np.asarray((jac.T @ jac.multiply(w[:, None])).toarray())
    return (jac.T * w) @ jac


def _gauss_newton(x, objective, jacobian, w, *, max_iter: int = 200):
    """Minimise ``(s - sigma(x))' W (s - sigma(x))`` by Gauss-Newton with step halving.

    ``objective(x)`` returns ``(F, residual)`` (raising ``LinAlgError`` where the model is
    undefined) and ``jacobian(x)`` the Jacobian of sigma. Converged when the gradient's
    largest element is below 1e-9 or F stops decreasing (1e-15).
    """
    f, r = objective(x)
    jac = jacobian(x)
    converged, it = False, 0
    for it in range(1, max_iter + 1):
        h = _jtwj(jac, w)
        g = jac.T @ (w * r)
        try:
            step = np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(h, g, rcond=None)[0]
        t, ok = 1.0, False
        for _ in range(30):
            xn = x + t * step
            try:
                fn, rn = objective(xn)
            except np.linalg.LinAlgError:
                t /= 2
                continue
            if np.isfinite(fn) and fn <= f + 1e-14:
                ok = True
                break
            t /= 2
        if not ok:
            break
        decrease = f - fn
        x, f, r = xn, fn, rn
        jac = jacobian(x)
        if np.max(np.abs(jac.T @ (w * r))) < 1e-9 or decrease < 1e-15:
            converged = True
            break
    return x, f, r, jac, converged, it


_MODELS: dict[tuple, tuple] = {}


def _threshold_model(prep, n_cat: dict[str, int]) -> tuple:
    """The parameter table with every indicator ordered and its thresholds expanded, its
    :class:`ModelSpec` (and the one without mean structure, for start values), the structural
    parameters, whether thresholds are separable, and the correlation model; cached by
    syntax, items and category counts (replications of a study refit the same models)."""
    from allyscale.cfa import _partable

    ov = prep.ov
    key = (prep.model, tuple(ov), tuple(prep.lv), tuple(n_cat[v] for v in ov), prep.std_lv, tuple(prep.ordered or ()))
    hit = _MODELS.get(key)
    if hit is not None:
        return hit
    pt = prep.partable if prep.ordered else _partable(prep.model, ordered=tuple(ov), std_lv=prep.std_lv,
                                                       meanstructure=True)
    pt = expand_thresholds(pt, n_cat)
    spec = ModelSpec.from_partable(pt, ov, prep.lv, meanstructure=True)
    spec_ml = ModelSpec.from_partable(pt, ov, prep.lv, meanstructure=False)
    th_param = pt["free"].to_numpy(dtype=int)[pt["op"].to_numpy() == "|"] - 1
    struct = sorted({e[0] for e in spec.entries})
    separable = bool((th_param >= 0).all() and len(set(th_param.tolist())) == th_param.size
                     and not set(th_param.tolist()) & set(struct) and len(struct) + th_param.size == spec.n_free)
    corr_model = _CorrelationModel(spec, np.array(struct if separable else range(spec.n_free), dtype=int))
    if len(_MODELS) > 32:
        _MODELS.clear()
    _MODELS[key] = hit = (pt, spec, spec_ml, struct, separable, corr_model)
    return hit


def estimate(prep) -> Any:
    """The WLSMV branch of :func:`allyscale.cfa` (see the module docstring).

    When every threshold is its own free parameter (the default), the threshold rows are
    fitted exactly by the sample thresholds and the estimation, sandwich and traces reduce
    to the correlation block: Gauss-Newton runs over the structural parameters only, the
    threshold part of ``U`` vanishes, and the threshold covariance is ``Gamma_tt / (N - 1)``.
    Otherwise the full problem (thresholds and structure together) is solved.
    """
    from allyscale._core import ml as _ml
    from allyscale.cfa import _Estimation

    if prep.ngroups > 1:
        return _estimate_groups(prep)
    ov = prep.ov
    p = len(ov)
    ordered = prep.ordered or list(ov)
    if set(ordered) != set(ov):
        raise SpecificationError("WLSMV here needs every indicator ordered (mixed continuous/ordinal items are not "
                                 "supported)")
    y = prep.y[0]
    n = y.shape[0]
    stats = prep.wls_stats[0] if getattr(prep, "wls_stats", None) else sample_statistics(y)
    n_cat = {v: int(k) for v, k in zip(ov, stats["n_cat"])}
    pt, spec, spec_ml, struct, separable, corr_model = _threshold_model(prep, n_cat)
    prep.partable, prep.spec, prep.ordered, prep.meanstructure = pt.copy(), spec, list(ov), True
    th_rows = np.flatnonzero(pt["op"].to_numpy() == "|")
    free = pt["free"].to_numpy(dtype=int)
    th_param = free[th_rows] - 1  # -1: a fixed threshold
    th_fixed = pt["ustart"].to_numpy(dtype=float)[th_rows]
    th_obs = np.concatenate(stats["th"])
    s = np.concatenate([th_obs, stats["rho"]])
    IF = stats["IF"]
    q = s.size
    n_th = th_obs.size
    w = stats["w"]
    k = spec.n_free

    # starting values: the ML starts on standardized responses, thresholds at their sample values
    z = (y - y.mean(axis=0)) / y.std(axis=0)
    gd = _ml.GroupData.from_array(z)
    x = np.asarray(_ml.start_values(spec_ml, [gd]), dtype=float)
    x[th_param[th_param >= 0]] = th_obs[th_param >= 0]
    diagnostics: dict[str, Any] = {"polychoric_converged": stats["converged"], "separable_thresholds": separable}
    rho, w_c, if_c = stats["rho"], w[n_th:], IF[:, n_th:]
    if separable:
        sidx = np.array(struct, dtype=int)

        def full(xc):
            xf = x.copy()
            xf[sidx] = xc
            return xf

        def objective(xc):
            r = rho - corr_model(full(xc), jacobian=False)[0]
            return float(r @ (w_c * r)), r

        xc, f, _, jac_c, converged, it = _gauss_newton(x[sidx], objective, lambda xc: corr_model(full(xc))[1], w_c)
        x = full(xc)
        # sandwich pieces on the correlation block; thresholds: bread_t b_t = IF_t'
        bread_c = np.linalg.inv(_jtwj(jac_c, w_c))
        b_c = np.asarray(jac_c.multiply(w_c[:, None]).T.tocsr() @ if_c.T)  # (k_c, N)
        if_t = IF[:, :n_th]
        th_pos = th_param
        vcov = np.zeros((k, k))
        e_c = bread_c @ b_c  # (k_c, N)
        vcov[np.ix_(sidx, sidx)] = e_c @ e_c.T
        vcov[np.ix_(th_pos, th_pos)] = if_t.T @ if_t
        cross = if_t.T @ e_c.T  # (n_th, k_c)
        vcov[np.ix_(th_pos, sidx)] = cross
        vcov[np.ix_(sidx, th_pos)] = cross.T
        vcov /= n * (n - 1)
        c_mat = stats["gram_rho"] - b_c.T @ e_c
        delta_c, e_cc = jac_c, e_c  # for the catML pieces: WiU IF_c' = IF_c' - Delta_c E^-1 Delta_c' W_c IF_c'
        def full_jacobian():
            out = np.zeros((q, k))
            out[np.arange(n_th), th_pos] = 1.0
            out[np.ix_(np.arange(n_th, q), sidx)] = jac_c.toarray()
            return out

        jac = full_jacobian
        bread = np.zeros((k, k))
        bread[th_pos, th_pos] = 1 / w[:n_th]
        bread[np.ix_(sidx, sidx)] = bread_c
    else:
        def sig_full(xv, jacobian=True):
            sig_c, jc = corr_model(xv, jacobian)
            sig = np.concatenate([np.where(th_param >= 0, xv[np.maximum(th_param, 0)], th_fixed), sig_c])
            if not jacobian:
                return sig, None
            jf = np.zeros((q, k))
            rows = np.flatnonzero(th_param >= 0)
            jf[rows, th_param[rows]] = 1.0
            jf[n_th:] = jc.toarray()
            return sig, jf

        def objective(xv):
            r = s - sig_full(xv, False)[0]
            return float(r @ (w * r)), r

        x, f, _, jac, converged, it = _gauss_newton(x, objective, lambda xv: sig_full(xv)[1], w)
        jw = jac.T * w  # (k, q)
        bread = np.linalg.inv(jw @ jac)
        b = jw @ IF.T  # (k, N)
        e = bread @ b
        vcov = e @ e.T / (n * (n - 1))
        z_t = IF[:, :n_th] * np.sqrt(w[:n_th])
        c_mat = z_t @ z_t.T + stats["gram_rho"] - b.T @ e
        delta_c = jac[n_th:]
        e_cc = bread @ ((delta_c.T * w_c) @ if_c.T)
    if not converged:
        warnings.warn("the WLSMV (DWLS) estimation did not converge", ConvergenceWarning, stacklevel=4)
    # ---- tests. lavaan uses N - 1 for categorical data: T = (N - 1) F and the sandwich divided by N - 1
    stat = (n - 1) * f
    df = float(q - k)
    if df < 0:
        raise SpecificationError(f"the model has {k} free parameters but only {q} sample statistics: "
                                 "it is not identified")
    # IF U IF' = IF W IF' - (IF W D) M (IF W D)'; IF W IF' from the cached Gram of the weighted influences
    tr_ug = float(np.trace(c_mat)) / n
    tr_ug2 = float(np.einsum("ij,ij->", c_mat, c_mat)) / n**2
    test = {"standard": {"stat": stat, "df": df, "pvalue": fi.pvalue(stat, df)}}
    scaled = _scaled_shifted(stat, df, tr_ug, tr_ug2)
    test["scaled.shifted"] = scaled
    baseline = _baseline([stats], [n])
    pc = _cor_matrix(rho, p)
    diagnostics.update(trace_ugamma=tr_ug, trace_ugamma2=tr_ug2)
    sig_hat = spec.implied(x)[0][0]
    n1 = n - 1
    gm = spec.matrices(x)[0]
    catml = _catml(pc, sig_hat, if_c, delta_c, e_cc, n, df, float(len(rho)), (gm.lam @ gm.A, gm.psi, gm.theta))
    diagnostics["catml"] = catml
    extra = _robust_from_catml(catml, df, float(len(rho)), n1)
    if catml.get("note"):
        diagnostics["robust_indices"] = catml["note"]
    extra.update(_rmsea_family(stat, scaled["stat"], df, n1))
    internals = _Internals(s=s, w=w, jac=jac, IF=IF, n=n, n_th=n_th, sigma=sig_hat, bread=bread)
    return _Estimation(x, vcov, converged, it, stat / (2 * n), test, baseline, [(pc, None)], None, extra, diagnostics,
                       "scaled.shifted", None, internals)


def _baseline(stats: list[dict[str, Any]], ns) -> dict[str, dict[str, float]]:
    """The independence baseline of every group together: thresholds saturated, correlations
    zero; ``T = sum_g (N_g - 1) rho_g' W_g rho_g`` and its scaled-shifted version (the traces
    from each group's Gram matrix of the weighted correlation influences)."""
    stat0 = tr0 = tr0_2 = 0.0
    for n, st in zip(ns, stats):
        rho, gram = st["rho"], st["gram_rho"]
        stat0 += float((n - 1) * (rho @ (st["w"][st["n_th"]:] * rho)))
        tr0 += float(np.trace(gram)) / n
        tr0_2 += float(np.einsum("ij,ij->", gram, gram)) / n**2
    df0 = float(sum(len(st["rho"]) for st in stats))
    return {"standard": {"stat": stat0, "df": df0, "pvalue": fi.pvalue(stat0, df0)},
            "scaled.shifted": _scaled_shifted(stat0, df0, tr0, tr0_2)}


def _cor_matrix(rho: np.ndarray, p: int) -> np.ndarray:
    """The p x p polychoric matrix from its upper triangle (lavaan's vech order)."""
    iu = np.triu_indices(p, 1)
    out = np.eye(p)
    out[iu] = rho
    out[(iu[1], iu[0])] = rho
    return out


def _rmsea_family(stat: float, scaled: float, df: float, n1: float, ngroups: int = 1) -> dict[str, float]:
    """RMSEA, its 90% interval and close-fit p of the standard and (when finite) the
    scaled-shifted statistic, with lavaan's ``N - G`` for categorical data."""
    out = {"rmsea": fi.rmsea(stat, df, n1, ngroups)}
    out["rmsea.ci.lower"], out["rmsea.ci.upper"] = fi.rmsea_ci(stat, df, n1, ngroups)
    out["rmsea.pvalue"] = fi.rmsea_pvalue(stat, df, n1, ngroups)
    if np.isfinite(scaled):
        out["rmsea.scaled"] = fi.rmsea(scaled, df, n1, ngroups)
        out["rmsea.ci.lower.scaled"], out["rmsea.ci.upper.scaled"] = fi.rmsea_ci(scaled, df, n1, ngroups)
        out["rmsea.pvalue.scaled"] = fi.rmsea_pvalue(scaled, df, n1, ngroups)
    return out


def _group_model(prep, n_cat: dict[str, int]):
    """Parameter table and spec of a multi-group ordinal model (delta parameterization).

    As lavaan 0.6.14: thresholds per group (shared with ``group_equal`` "thresholds"),
    intercepts 0, latent-response scale factors ``x ~*~ x`` fixed at 1 in the first group
    and free in the others when thresholds are equal (then the latent means are free there
    too); the residual variances follow from the scale factors. With
    ``prep.id_cat == "Wu.Estabrook.2016"`` and equal thresholds but not intercepts, the item
    intercepts are free in the later groups and the latent means fixed at 0 instead
    (semTools' ``measEq.syntax(ID.cat = "Wu.Estabrook.2016")``).
    """
    from allyscale.cfa import _partable

    ov = prep.ov
    pt = _partable(prep.model, ngroups=prep.ngroups, ordered=tuple(ov), std_lv=prep.std_lv, meanstructure=True,
                   group_equal=tuple(prep.group_equal))
    free_scale = "thresholds" in prep.group_equal
    if free_scale and "intercepts" not in prep.group_equal and getattr(prep, "id_cat", "lavaan") != "lavaan":
        # Wu & Estabrook (2016): item intercepts free in later groups, latent means fixed at 0
        pt = pt.copy()
        op, grp = pt["op"].to_numpy(), pt["group"].to_numpy(dtype=int)
        is_ov = pt["lhs"].isin(ov).to_numpy()
        nu = (op == "~1") & is_ov & (grp > 1)
        alpha = (op == "~1") & ~is_ov
        pt.loc[nu, "free"], pt.loc[nu, "ustart"] = 1, np.nan
        pt.loc[alpha, "free"], pt.loc[alpha, "ustart"] = 0, 0.0
        pt.loc[nu | alpha, "label"] = ""
    rows = []
    for g in range(1, prep.ngroups + 1):
        for v in ov:
            free = 1 if (free_scale and g > 1) else 0
            rows.append({"lhs": v, "op": "~*~", "rhs": v, "user": 0, "group": g, "free": free,
                         "ustart": np.nan if free else 1.0, "label": "", "kind": "scale"})
    extra = pd.DataFrame(rows).reindex(columns=pt.columns)
    for c in pt.columns:
        if c not in ("lhs", "op", "rhs", "user", "group", "free", "ustart", "label", "kind"):
            extra[c] = pt[c].iloc[0] if pt[c].dtype == object else np.nan
    full = pd.concat([pt, extra], ignore_index=True)
    full.attrs.update(pt.attrs)
    full["free"] = full["free"].astype(int)
    full["user"] = full["user"].astype(int)
    full["group"] = full["group"].astype(int)
    full = expand_thresholds(full, n_cat)
    spec = ModelSpec.from_partable(full, ov, prep.lv, meanstructure=True)
    spec_ml = ModelSpec.from_partable(full, ov, prep.lv, meanstructure=False)
    return full, spec, spec_ml


def _catml_groups(spec, x, sample, stats, jac, e_inv, ns, n_th, q_g, df) -> dict[str, Any]:
    """:func:`_catml` for several groups, as lavaan 0.6.14's ``lav_fit_catml_dwls``: the ML
    discrepancies summed over groups (``N_g F_ML,g``), and ``c.hat3`` from the stacked
    correlation rows with ``W = blockdiag(f_g W_g)``, ``V = blockdiag(f_g V_g)`` and
    ``Gamma = blockdiag(Gamma_g / f_g)``, ``f_g = N_g / N``. lavaan returns NaN when scale
    factors are free (thresholds equal across groups); so does this."""
    G = len(stats)
    P = len(stats[0]["rho"])
    nan = {"XX3": np.nan, "df3": df, "c.hat3": np.nan, "XX3.scaled": np.nan, "XX3.null": np.nan,
           "df3.null": float(G * P), "c.hat3.null": np.nan}
    if any(k >= 0 for k, _ in spec.scales.values()):
        return {**nan, "note": "robust (catML) indices are undefined with free scale factors (thresholds equal "
                               "across groups): NaN, as lavaan"}
    f = ns / ns.sum()
    implied = spec.implied(x)
    p = sample[0][0].shape[0]
    iu = np.triu_indices(p, 1)
    xx3 = xx3_null = 0.0
    for g in range(G):
        cor, sig = sample[g][0], implied[g][0]
        if np.linalg.eigvalsh(cor)[0] < np.sqrt(np.finfo(float).eps):
            return {**nan, "note": "a group's polychoric matrix is not positive definite: the robust (catML) "
                                   "indices are undefined (NaN), as in lavaan"}
        ld_sig = np.linalg.slogdet(sig)
        if ld_sig[0] <= 0:
            return {**nan, "note": "a model-implied correlation matrix is not positive definite: robust indices "
                                   "are NaN"}
        ld_cor = np.linalg.slogdet(cor)[1]
        xx3 += ns[g] * float(ld_sig[1] - ld_cor + np.einsum("ij,ji->", cor, np.linalg.inv(sig)) - p)
        xx3_null -= ns[g] * float(ld_cor)
    # L' block g: IF_c,g' / sqrt(N_g f_g); D' W L' summed over groups
    rows = [slice(g * q_g + n_th, (g + 1) * q_g) for g in range(G)]
    lt = [np.ascontiguousarray(st["IF"][:, n_th:].T) / np.sqrt(ns[g] * f[g]) for g, st in enumerate(stats)]
    dwl = np.hstack([f[g] * (jac[rows[g]].T @ (stats[g]["w"][n_th:, None] * lt[g])) for g in range(G)])  # (k, N)
    proj = e_inv @ dwl
    ks = 0.0
    start = np.concatenate([[0], np.cumsum(ns).astype(int)])
    for h in range(G):
        m = -(jac[rows[h]] @ proj)  # (P, N_tot)
        m[:, start[h]:start[h + 1]] += lt[h]
        gm = spec.matrices(x)[h]
        ks += f[h] * _sum_trace_msms(m, iu, np.linalg.inv(implied[h][0]), (gm.lam @ gm.A, gm.psi, gm.theta)) / 2
    c_hat = ks / df if df > 0 else np.nan
    c_null = float(sum((st["IF"][:, n_th:] ** 2).sum() / ns[g] / f[g] for g, st in enumerate(stats))) / (G * P)
    return {"XX3": xx3, "df3": df, "c.hat3": c_hat, "XX3.scaled": xx3 / c_hat if df > 0 else np.nan,
            "XX3.null": xx3_null, "df3.null": float(G * P), "c.hat3.null": c_null}


def _estimate_groups(prep) -> Any:
    """Multi-group WLSMV (delta parameterization), as lavaan 0.6.14.

    Each group has its own thresholds, polychorics, weights and influences. The fit
    function is ``sum_g (N_g - 1) / (N - G) F_g``; the test ``T = sum_g (N_g - 1) F_g``;
    the information, the sandwich (divided by ``N - G``) and the test's ``U`` and ``Gamma``
    use the block matrices with weights ``W_g N_g / N`` and ``Gamma_g N / N_g``, so the traces
    of the scaled-shifted test are taken through the stacked influences.
    Implied statistics per group: thresholds ``delta_j (tau_jk - (Lambda (I - B)^-1 alpha)_j)``
    and correlations ``delta_i delta_j (Lambda Phi Lambda' + Theta)_ij``, with an analytic
    Jacobian (checked against central differences in the tests).
    """
    from allyscale._core import ml as _ml
    from allyscale.cfa import _Estimation

    ov = prep.ov
    p = len(ov)
    if set(prep.ordered or ov) != set(ov):
        raise SpecificationError("WLSMV here needs every indicator ordered (mixed continuous/ordinal items are not "
                                 "supported)")
    labels = prep.group_labels
    stats = [sample_statistics(y) for y in prep.y]
    cats = np.array([s["n_cat"] for s in stats])
    differ = [ov[j] for j in np.flatnonzero((cats != cats[0]).any(axis=0))]
    if differ:
        raise DataError(f"item(s) {differ[:10]} do not have the same observed categories in every group "
                        f"({', '.join(str(l) for l in labels)}); thresholds cannot be compared (collapse "
                        "categories or drop the items)")
    n_cat = {v: int(k) for v, k in zip(ov, cats[0])}
    pt, spec, spec_ml = _group_model(prep, n_cat)
    prep.partable, prep.spec, prep.ordered, prep.meanstructure = pt, spec, list(ov), True
    G = prep.ngroups
    ns = np.array([y.shape[0] for y in prep.y], dtype=float)
    n_tot = ns.sum()
    fg = (ns - 1) / (n_tot - len(ns))
    free = pt["free"].to_numpy(dtype=int)
    grp = pt["group"].to_numpy(dtype=int) - 1
    op = pt["op"].to_numpy()
    lhs = pt["lhs"].to_numpy()
    ustart = pt["ustart"].to_numpy(dtype=float)
    th_rows = [np.flatnonzero((op == "|") & (grp == g)) for g in range(G)]
    th_item = [np.array([ov.index(v) for v in lhs[r]]) for r in th_rows]
    s_g = [np.concatenate(st["th"] + [st["rho"]]) for st in stats]
    w_g = [st["w"] for st in stats]
    n_th = len(th_rows[0])
    q_g = len(s_g[0])
    s_all = np.concatenate(s_g)
    w_all = np.concatenate([f * w for f, w in zip(fg, w_g)])
    iu = np.triu_indices(p, 1)
    k = spec.n_free

    def implied(x):
        mats = spec.matrices(x)
        out = []
        for g, gm in enumerate(mats):
            d = spec.scale(x, g)
            sig = gm.sigma()
            corr = (d[iu[0]] * d[iu[1]]) * sig[iu]
            shift = gm.lam @ (gm.A @ gm.alpha) + gm.nu
            r = th_rows[g]
            tau = np.where(free[r] > 0, x[np.maximum(free[r] - 1, 0)], ustart[r])
            out.append(np.concatenate([d[th_item[g]] * (tau - shift[th_item[g]]), corr]))
        return np.concatenate(out)

    scale_param = {(g, i): kk for (g, i), (kk, _) in spec.scales.items() if kk >= 0}

    def jacobian(x):
        """Analytic: the structural part from :meth:`ModelSpec.derivatives` (Sigma and the
        latent-response means), scaled by the scale factors; thresholds and scale factors
        directly."""
        mats = spec.matrices(x)
        derivs = spec.derivatives(mats)
        jac = np.zeros((s_all.size, k))
        for g, gm in enumerate(mats):
            d = spec.scale(x, g)
            ds, dm = derivs[g]
            sig = gm.sigma()
            shift = gm.lam @ (gm.A @ gm.alpha) + gm.nu
            r0 = g * q_g
            items = th_item[g]
            rows = th_rows[g]
            # thresholds: delta_j (tau_jk - shift_j)
            jac[r0:r0 + n_th] = -(d[items][:, None] * dm[:, items].T)
            ok = free[rows] > 0
            jac[r0 + np.flatnonzero(ok), free[rows][ok] - 1] += d[items][ok]
            tau = np.where(free[rows] > 0, x[np.maximum(free[rows] - 1, 0)], ustart[rows])
            # correlations: delta_i delta_j Sigma_ij
            jac[r0 + n_th:r0 + q_g] = (d[iu[0]] * d[iu[1]])[:, None] * ds[:, iu[0], iu[1]].T
            for (gg, i), kk in scale_param.items():
                if gg != g:
                    continue
                sel = np.flatnonzero(items == i)
                jac[r0 + sel, kk] += tau[sel] - shift[i]
                first = np.flatnonzero(iu[0] == i)
                jac[r0 + n_th + first, kk] += d[iu[1][first]] * sig[i, iu[1][first]]
                second = np.flatnonzero(iu[1] == i)
                jac[r0 + n_th + second, kk] += d[iu[0][second]] * sig[iu[0][second], i]
        return jac

    def jacobian_numeric(x):
        jac = np.empty((s_all.size, k))
        for j in range(k):
            h = 1e-6 * max(1.0, abs(x[j]))
            xp, xm = x.copy(), x.copy()
            xp[j] += h
            xm[j] -= h
            jac[:, j] = (implied(xp) - implied(xm)) / (2 * h)
        return jac

    def objective(xv):
        r = s_all - implied(xv)
        return float(r @ (w_all * r)), r

    # start values: ML starts on standardized responses per group, thresholds from group 1's sample values,
    # scale factors 1, latent means 0
    gds = [_ml.GroupData.from_array((y - y.mean(axis=0)) / y.std(axis=0)) for y in prep.y]
    x = np.asarray(_ml.start_values(spec_ml, gds), dtype=float)
    for g in range(G):
        r = th_rows[g]
        ok = free[r] > 0
        x[free[r][ok] - 1] = np.concatenate(stats[g]["th"])[ok] if g == 0 else x[free[r][ok] - 1]
    for g in range(1, G):  # thresholds of later groups not shared with group 1
        r = th_rows[g]
        own = (free[r] > 0) & ~np.isin(free[r], free[th_rows[0]])
        x[free[r][own] - 1] = np.concatenate(stats[g]["th"])[own]
    for kk, _value in spec.scales.values():
        if kk >= 0:
            x[kk] = 1.0
    alpha_rows = np.flatnonzero((op == "~1") & np.isin(lhs, prep.lv) & (free > 0))
    x[free[alpha_rows] - 1] = 0.0
    # the Jacobian is block-sparse (each group's statistics depend on its own parameters; a
    # correlation on two loadings and a factor correlation): J'WJ is formed sparse
    x, f, _, jac_sp, converged, it = _gauss_newton(x, objective, lambda v: _sparse.csr_array(jacobian(v)), w_all)
    if not converged:
        warnings.warn("the WLSMV (DWLS) estimation did not converge", ConvergenceWarning, stacklevel=4)
    resid = s_all - implied(x)
    f_g = [float(resid[g * q_g:(g + 1) * q_g] @ (w_g[g] * resid[g * q_g:(g + 1) * q_g])) for g in range(G)]
    stat = float(sum((n - 1) * fv for n, fv in zip(ns, f_g)))
    df = float(G * q_g - k)
    if df < 0:
        raise SpecificationError(f"the model has {k} free parameters but only {G * q_g} sample statistics: "
                                 "it is not identified")
    # lavaan weights the fit function by (N_g - 1) / (N - G) but the information, the sandwich
    # and the test's U and Gamma by N_g / N
    fn = ns / n_tot
    w_inf = np.concatenate([f * w for f, w in zip(fn, w_g)])
    bread = np.linalg.inv(_jtwj(jac_sp, w_inf))
    # stacked influences L (rows: cases of each group, scaled by 1 / sqrt(N_g f_g)); B = J' W L'
    bs, grams = [], []
    for g, st in enumerate(stats):
        IFg = st["IF"]
        jg = jac_sp[g * q_g:(g + 1) * q_g]
        bs.append(np.sqrt(fn[g] / ns[g]) * (jg.T @ (w_g[g][:, None] * IFg.T)))  # (k, N_g)
        z = IFg * np.sqrt(w_g[g])
        grams.append(z @ z.T / ns[g])
    b = np.hstack(bs)
    e = bread @ b
    c_mat = -b.T @ e
    start = 0
    for g in range(G):
        m = int(ns[g])
        c_mat[start:start + m, start:start + m] += grams[g]
        start += m
    tr_ug = float(np.trace(c_mat))
    tr_ug2 = float(np.einsum("ij,ij->", c_mat, c_mat))
    meat = b @ b.T
    vcov = bread @ meat @ bread / (n_tot - G)  # lavaan: N - 1 per group for categorical data
    test = {"standard": {"stat": stat, "df": df, "pvalue": fi.pvalue(stat, df)},
            "scaled.shifted": _scaled_shifted(stat, df, tr_ug, tr_ug2)}
    baseline = _baseline(stats, ns)
    sample = [(_cor_matrix(st["rho"], p), None) for st in stats]
    n1 = n_tot - G
    scaled = test["scaled.shifted"]
    catml = _catml_groups(spec, x, sample, stats, jac_sp, bread, ns, n_th, q_g, df)
    extra = _robust_from_catml(catml, df, catml["df3.null"], n1, G)
    extra.update(_rmsea_family(stat, scaled["stat"], df, n1, G))
    diagnostics = {"polychoric_converged": all(st["converged"] for st in stats), "trace_ugamma": tr_ug,
                   "trace_ugamma2": tr_ug2, "catml": catml}
    if catml.get("note"):
        diagnostics["robust_indices"] = catml["note"]
    internals = _Internals(s=s_all, w=w_inf, jac=jac_sp.toarray, jac_sparse=jac_sp, n=int(n_tot), n_th=n_th, bread=bread, groups=G,
                           jac_numeric=lambda: jacobian_numeric(x),
                           IF_groups=[st["IF"] for st in stats], w_groups=w_g, n_groups=ns)
    return _Estimation(x, vcov, converged, it, f / 2, test, baseline, sample, None, extra, diagnostics,
                       "scaled.shifted", None, internals)


def _catml(cor: np.ndarray, sigma: np.ndarray, if_c: np.ndarray, delta_c, e_c: np.ndarray, n: int, df: float,
           df_null: float, factor: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict[str, Any]:
    """The pieces of lavaan 0.6.14's robust indices for categorical data (``lav_fit_catml_dwls``;
    Savalei, 2021), without a refit (all items ordered).

    * ``XX3``: the ML test statistic ``N F_ML`` of the model-implied correlations at the DWLS
      estimates against the polychoric matrix (``log|Sigma| - log|R| + tr(R Sigma^-1) - p``);
      ``XX3.null``: the same for the independence model, ``-N log|R|``;
    * ``c.hat3 = tr(WiU' V WiU Gamma) / df``, with ``V`` the ML (expected, structured) weight
      of the correlations, ``V_(ij),(kl) = s^ik s^jl + s^il s^jk`` for ``S = Sigma^-1``,
      ``WiU = I - Delta E^-1 Delta' W`` (the DWLS projection on the correlation rows) and
      ``Gamma`` the correlations' asymptotic covariance; ``c.hat3.null = tr(Gamma) / df_null``.

    ``V`` is never formed: with ``m = WiU if_n`` for case ``n`` written as a symmetric matrix
    ``M_n`` (zero diagonal), ``2 m' V m = tr(M_n S M_n S)``, so the trace is a mean over cases
    of ``p x p`` products. lavaan returns NaN when the polychoric matrix is not positive
    definite (smallest eigenvalue below ``sqrt(eps)``); so does this. ``factor`` =
    ``(Lambda*, Psi, Theta)`` with ``Sigma = Lambda* Psi Lambda*' + Theta`` lets the trace use
    ``S = D - U C U'`` (Woodbury; ``D = Theta^-1``) at ``O(N p m^2)`` instead of ``O(N p^3)``.
    """
    p = cor.shape[0]
    nan = {"XX3": np.nan, "df3": df, "c.hat3": np.nan, "XX3.scaled": np.nan, "XX3.null": np.nan,
           "df3.null": df_null, "c.hat3.null": np.nan}
    if np.linalg.eigvalsh(cor)[0] < np.sqrt(np.finfo(float).eps):
        return {**nan, "note": "the polychoric matrix is not positive definite: the robust (catML) indices are "
                               "undefined (NaN), as in lavaan"}
    try:
        s_inv = np.linalg.inv(sigma)
        ld_sig = np.linalg.slogdet(sigma)
    except np.linalg.LinAlgError:
        return {**nan, "note": "the model-implied correlation matrix is singular: robust indices are NaN"}
    ld_cor = np.linalg.slogdet(cor)[1]
    if ld_sig[0] <= 0:
        return {**nan, "note": "the model-implied correlation matrix is not positive definite: robust indices "
                               "are NaN"}
    xx3 = n * float(ld_sig[1] - ld_cor + np.einsum("ij,ji->", cor, s_inv) - p)
    xx3_null = -n * float(ld_cor)
    m = np.ascontiguousarray(if_c.T) - np.asarray(delta_c @ e_c)  # (P, N): WiU IF_c'
    iu = np.triu_indices(p, 1)
    ks = _sum_trace_msms(m, iu, s_inv, factor) / (2 * n)  # tr(M S M S) = 2 m' V m
    c_hat = ks / df if df > 0 else np.nan
    c_null = float((if_c**2).sum()) / n / df_null
    return {"XX3": xx3, "df3": df, "c.hat3": c_hat, "XX3.scaled": xx3 / c_hat if df > 0 else np.nan,
            "XX3.null": xx3_null, "df3.null": df_null, "c.hat3.null": c_null}


def _sum_trace_msms(m: np.ndarray, iu: tuple[np.ndarray, np.ndarray], s_inv: np.ndarray,
                    factor: tuple[np.ndarray, np.ndarray, np.ndarray] | None) -> float:
    """``sum_n tr(M_n S M_n S)`` for the columns of ``m`` (pairs x cases) written as symmetric
    matrices with zero diagonal.

    With a factor structure (diagonal, positive ``Theta``) ``S = D - U C U'`` and the trace
    splits into ``tr(MDMD) - 2 tr(C Y'DY) + tr(ZCZC)`` with ``Y = M U`` and ``Z = U'MU``; the
    result is checked against ``S`` and the direct computation is used otherwise.
    """
    p = s_inv.shape[0]
    n = m.shape[1]
    if factor is not None:
        lam, psi, theta = factor
        th = np.diag(theta)
        if np.count_nonzero(theta - np.diag(th)) == 0 and (th > 0).all():
            d = 1.0 / th
            u = d[:, None] * lam  # (p, k)
            k = u.shape[1]
            c = psi @ np.linalg.inv(np.eye(k) + lam.T @ u @ psi)
            if np.allclose(np.diag(d) - u @ c @ u.T, s_inv, rtol=1e-8, atol=1e-10 * np.abs(s_inv).max()):
                t1 = float((2 * d[iu[0]] * d[iu[1]]) @ np.einsum("an,an->a", m, m))
                # Y_n = M_n U, built column by column from the pairs: (k, p, N)
                npair = len(iu[0])
                cols = np.arange(k)
                rows = np.concatenate([(cols[:, None] * p + iu[0][None, :]).ravel(),
                                       (cols[:, None] * p + iu[1][None, :]).ravel()])
                pairs = np.tile(np.arange(npair), 2 * k)
                vals = np.concatenate([u[iu[1]].T.ravel(), u[iu[0]].T.ravel()])
                incidence = _sparse.csr_array((vals, (rows, pairs)), shape=(k * p, npair))
                y = np.asarray(incidence @ m).reshape(k, p, n)
                g = np.einsum("cin,i,ein->nce", y, d, y)  # Y'DY per case
                z = np.einsum("ic,ein->nce", u, y)  # U'MU per case
                t2 = float(np.einsum("ce,nec->", c, g))
                zc = z @ c
                t3 = float(np.einsum("nij,nji->", zc, zc))
                return t1 - 2 * t2 + t3
    total = 0.0
    block = max(1, int(2_000_000 // (p * p)))
    for start in range(0, n, block):
        chunk = m[:, start:start + block]
        mt = np.zeros((chunk.shape[1], p, p))
        mt[:, iu[0], iu[1]] = chunk.T
        mt[:, iu[1], iu[0]] = chunk.T
        a = mt @ s_inv  # M_n S
        total += float(np.einsum("nij,nji->", a, a))
    return total


def _robust_from_catml(c: dict[str, Any], df: float, df_null: float, n1: int, ngroups: int = 1) -> dict[str, float]:
    """``cfi.robust``, ``tli.robust`` and the ``rmsea.*.robust`` family from the catML pieces,
    as lavaan 0.6.14 (N - 1 cases for categorical data; the interval and close-fit test use
    ``XX3 / c.hat3`` and ``c.hat3``)."""
    xx3, ch, xs = c["XX3"], c["c.hat3"], c["XX3.scaled"]
    out = {"cfi.robust": fi.cfi(xx3, df, c["XX3.null"], df_null, ch, c["c.hat3.null"]),
           "tli.robust": fi.tli(xx3, df, c["XX3.null"], df_null, ch, c["c.hat3.null"]),
           "rmsea.robust": fi.rmsea(xx3, df, n1, ngroups, c=ch) if np.isfinite(xx3) else np.nan}
    if np.isfinite(xs) and np.isfinite(ch) and ch > 0:
        out["rmsea.ci.lower.robust"], out["rmsea.ci.upper.robust"] = fi.rmsea_ci(xs, df, n1 / ch, ngroups)
        out["rmsea.pvalue.robust"] = fi.rmsea_pvalue(xs, df, n1 / ch, ngroups)
    else:
        out.update({"rmsea.ci.lower.robust": np.nan, "rmsea.ci.upper.robust": np.nan, "rmsea.pvalue.robust": np.nan})
    return out


class _Internals(dict):
    """A dict whose callable values are computed on first access (the dense Jacobian of a
    100-item model is large and most fits never need it)."""

    def __getitem__(self, key):
        value = super().__getitem__(key)
        if callable(value):
            value = value()
            self[key] = value
        return value

    def get(self, key, default=None):
        return self[key] if key in self else default


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
    """Scaled-shifted difference test of two nested WLSMV fits, as lavaan 0.6.14's ``lavTestLRT``
    default for WLSMV (``method = "satorra.2000"``, ``A.method = "delta"``; Satorra, 2000;
    Asparouhov & Muthén, 2010). Owned code: semopy has no such test.

    ``fit0`` is the more restricted model (larger df), ``fit1`` the less restricted one, both
    fitted to the same data. With ``D1, D0`` the two models' Jacobians of the sample
    statistics (thresholds and polychorics) at their estimates, the constraints that turn
    model 1 into model 0 are the rows of ``A``, a basis of the orthogonal complement of
    ``H = D1^+ D0``; with ``P^-1 = (D1' W D1)^-1``,
    ``U = W D1 P^-1 A' (A P^-1 A')^+ A P^-1 D1' W`` and the traces of ``U Gamma`` and
    ``(U Gamma)^2`` (taken through the N x q influence matrix), the statistic is
    ``a (T0 - T1) + b`` on ``m = df0 - df1`` degrees of freedom, ``a = sqrt(m / tr((UG)^2))``,
    ``b = m - a tr(UG)``, where ``T0, T1`` are the unscaled DWLS statistics.

    Returns
    -------
    dict
        ``chisq_diff`` (the scaled-shifted statistic, lavaan's "Chisq diff"), ``df_diff``,
        ``pvalue``, ``scaling`` (``1 / a``), ``shift`` (``b``), ``chisq_diff_raw``
        (``T0 - T1``), ``trace_ugamma``, ``trace_ugamma2``, ``method``.
    """
    from scipy.linalg import cho_factor, cho_solve, null_space

    e0, e1 = fit0._est, fit1._est
    i0, i1 = e0.internals, e1.internals
    if not i0 or not i1:
        raise SpecificationError("the WLSMV difference test needs two WLSMV fits")
    if i0["s"].shape != i1["s"].shape or not np.allclose(i0["s"], i1["s"], rtol=0, atol=1e-10) \
            or i0["n"] != i1["n"]:
        raise SpecificationError("the two WLSMV fits do not use the same data (sample statistics differ)")
    t0, t1 = e0.test["standard"]["stat"], e1.test["standard"]["stat"]
    df0, df1 = e0.test["standard"]["df"], e1.test["standard"]["df"]
    m = df0 - df1
    method = "satorra.2000 (scaled and shifted)"
    base = {"chisq_diff_raw": t0 - t1, "df_diff": m, "trace_ugamma": np.nan, "trace_ugamma2": np.nan,
            "method": method}
    if m <= 0:
        return {**base, "chisq_diff": t0 - t1, "pvalue": np.nan, "scaling": np.nan, "shift": np.nan}
    # H = D1^+ D0 (lavaan: MASS::ginv(D1) %*% D0), through the normal equations on the sparse
    # Jacobians; the pseudo-inverse itself only if D1 lacks full column rank
    d1 = _sparse.csr_array(i1["jac_sparse"] if "jac_sparse" in i1 else i1["jac"])
    d0 = _sparse.csr_array(i0["jac_sparse"] if "jac_sparse" in i0 else i0["jac"])
    try:
        h = cho_solve(cho_factor((d1.T @ d1).toarray()), (d1.T @ d0).toarray())
    except np.linalg.LinAlgError:
        h = np.linalg.pinv(d1.toarray()) @ d0.toarray()
    a_mat = null_space(h.T).T  # rows: the constraints on model 1's parameters
    p_inv = i1["bread"]
    apa = a_mat @ p_inv @ a_mat.T
    tol = np.sqrt(np.finfo(float).eps)
    keep = ~((np.abs(apa.sum(axis=0)) < tol) & (np.abs(apa.sum(axis=1)) < tol))
    a_mat = a_mat[keep]
    q = p_inv @ a_mat.T @ np.linalg.pinv(a_mat @ p_inv @ a_mat.T, rcond=tol, hermitian=True) @ a_mat @ p_inv
    if "IF_groups" in i1:  # several groups: Gamma = blockdiag(f_g Gamma_g), V = blockdiag(W_g)
        ns = i1["n_groups"]
        q_g = len(i1["w_groups"][0])
        b = np.vstack([np.sqrt(ng / ns.sum() / ng) * (d1[g * q_g:(g + 1) * q_g].T @ (IFg * wg).T).T
                       for g, (IFg, wg, ng) in enumerate(zip(i1["IF_groups"], i1["w_groups"], ns))])
        c = b @ q @ b.T
        tr1 = float(np.trace(c))
        tr2 = float(np.einsum("ij,ij->", c, c))
    else:
        w, IF, n = i1["w"], i1["IF"], i1["n"]
        b = (d1.T @ (IF * w).T).T  # (N, k1) = IF W D1
        c = b @ q @ b.T  # IF U IF'
        tr1 = float(np.trace(c)) / n
        tr2 = float(np.einsum("ij,ij->", c, c)) / n**2
    if not tr2 > 0:
        return {**base, "chisq_diff": np.nan, "pvalue": np.nan, "scaling": np.nan, "shift": np.nan,
                "trace_ugamma": tr1, "trace_ugamma2": tr2}
    a = np.sqrt(m / tr2)
    shift = m - a * tr1
    stat = (t0 - t1) * a + shift
    return {**base, "chisq_diff": float(stat), "pvalue": fi.pvalue(stat, m), "scaling": float(1 / a),
            "shift": float(shift), "trace_ugamma": tr1, "trace_ugamma2": tr2}
