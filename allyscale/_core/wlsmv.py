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

Not available: several groups (ordinal invariance), and items mixing ordinal and
continuous indicators; both raise a :class:`SpecificationError` that says so.

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
    stats = influence(y)
    IF = stats["IF"]
    n = IF.shape[0]
    w = n / (IF**2).sum(axis=0)
    n_th = sum(len(t) for t in stats["th"])
    z = IF[:, n_th:] * np.sqrt(w[n_th:])
    stats.update(w=w, n_th=n_th, gram_rho=z @ z.T)
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
    # ---- baseline: thresholds saturated, correlations zero
    stat0 = float((n - 1) * (rho @ (w_c * rho)))
    df0 = float(len(rho))
    c0 = stats["gram_rho"]
    tr0 = float(np.trace(c0)) / n
    tr0_2 = float(np.einsum("ij,ij->", c0, c0)) / n**2
    baseline = {"standard": {"stat": stat0, "df": df0, "pvalue": fi.pvalue(stat0, df0)},
                "scaled.shifted": _scaled_shifted(stat0, df0, tr0, tr0_2)}
    pc = np.eye(p)
    pc[np.triu_indices(p, 1)] = rho
    pc[np.tril_indices(p, -1)] = pc.T[np.tril_indices(p, -1)]
    diagnostics.update(trace_ugamma=tr_ug, trace_ugamma2=tr_ug2)
    sig_hat = spec.implied(x)[0][0]
    n1 = n - 1
    gm = spec.matrices(x)[0]
    catml = _catml(pc, sig_hat, if_c, delta_c, e_cc, n, df, float(len(rho)), (gm.lam @ gm.A, gm.psi, gm.theta))
    diagnostics["catml"] = catml
    extra = _robust_from_catml(catml, df, float(len(rho)), n1)
    if catml.get("note"):
        diagnostics["robust_indices"] = catml["note"]
    # RMSEA family with lavaan's N - 1 for categorical data
    extra["rmsea"] = fi.rmsea(stat, df, n1)
    extra["rmsea.ci.lower"], extra["rmsea.ci.upper"] = fi.rmsea_ci(stat, df, n1)
    extra["rmsea.pvalue"] = fi.rmsea_pvalue(stat, df, n1)
    if np.isfinite(scaled["stat"]):
        extra["rmsea.scaled"] = fi.rmsea(scaled["stat"], df, n1)
        extra["rmsea.ci.lower.scaled"], extra["rmsea.ci.upper.scaled"] = fi.rmsea_ci(scaled["stat"], df, n1)
        extra["rmsea.pvalue.scaled"] = fi.rmsea_pvalue(scaled["stat"], df, n1)
    internals = _Internals(s=s, w=w, jac=jac, IF=IF, n=n, n_th=n_th, sigma=sig_hat, bread=bread)
    return _Estimation(x, vcov, converged, it, stat / (2 * n), test, baseline, [(pc, None)], None, extra, diagnostics,
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


def _robust_from_catml(c: dict[str, Any], df: float, df_null: float, n1: int) -> dict[str, float]:
    """``cfi.robust``, ``tli.robust`` and the ``rmsea.*.robust`` family from the catML pieces,
    as lavaan 0.6.14 (N - 1 cases for categorical data; the interval and close-fit test use
    ``XX3 / c.hat3`` and ``c.hat3``)."""
    xx3, ch, xs = c["XX3"], c["c.hat3"], c["XX3.scaled"]
    out = {"cfi.robust": fi.cfi(xx3, df, c["XX3.null"], df_null, ch, c["c.hat3.null"]),
           "tli.robust": fi.tli(xx3, df, c["XX3.null"], df_null, ch, c["c.hat3.null"]),
           "rmsea.robust": fi.rmsea(xx3, df, n1, c=ch) if np.isfinite(xx3) else np.nan}
    if np.isfinite(xs) and np.isfinite(ch) and ch > 0:
        out["rmsea.ci.lower.robust"], out["rmsea.ci.upper.robust"] = fi.rmsea_ci(xs, df, n1 / ch)
        out["rmsea.pvalue.robust"] = fi.rmsea_pvalue(xs, df, n1 / ch)
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
    from scipy.linalg import null_space

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
    d1, d0 = i1["jac"], i0["jac"]
    w, IF, n = i1["w"], i1["IF"], i1["n"]
    h = np.linalg.pinv(d1) @ d0
    a_mat = null_space(h.T).T  # rows: the constraints on model 1's parameters
    p_inv = i1["bread"]
    apa = a_mat @ p_inv @ a_mat.T
    tol = np.sqrt(np.finfo(float).eps)
    keep = ~((np.abs(apa.sum(axis=0)) < tol) & (np.abs(apa.sum(axis=1)) < tol))
    a_mat = a_mat[keep]
    q = p_inv @ a_mat.T @ np.linalg.pinv(a_mat @ p_inv @ a_mat.T, rcond=tol, hermitian=True) @ a_mat @ p_inv
    b = (IF * w) @ d1  # (N, k1) = IF W D1
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
