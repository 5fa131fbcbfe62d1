"""Normal-theory maximum likelihood (complete data and FIML) for (multi-group) factor models.

Everything is written for the deviance ``D = -2 log L`` summed over groups and, within a
group, over missing-data patterns (one pattern when the data are complete). For a pattern
with observed variables ``o``, ``n`` cases, mean ``ybar`` and covariance ``S`` (divisor n):

    D_pattern = n [ log|Sigma_oo| + tr(Sigma_oo^-1 (S + d d')) + p_o log(2 pi) ],  d = ybar - mu_o

which is the casewise ("full information") likelihood of Arbuckle (1996) grouped by pattern;
with complete data it is lavaan's "normal" likelihood with the divisor-N sample covariance.
Without a mean structure ``mu`` is the sample mean (d = 0). The test statistic is
``chisq = D(model) - D(h1)``: with complete data ``D(h1) = sum_g N_g (log|S_g| + p + p log 2 pi)``
(so ``chisq = N F_ML``), with missing data the saturated model is fitted by EM.

The minimiser is Fisher scoring (Gauss-Newton with the expected information of the
patterns, ``I_kl = sum n [tr(Sigma^-1 dSigma_k Sigma^-1 dSigma_l) / 2 + dmu_k' Sigma^-1 dmu_l]``)
with step halving; nothing is warm-started across calls. The observed information (Hessian of
``D / 2``) is obtained by central differences of the analytic gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
from scipy.linalg.lapack import dpotrf as _dpotrf
from scipy.linalg.lapack import dpotri as _dpotri

from allyscale._core.model import ModelSpec, table_columns

__all__ = [
    "Pattern",
    "GroupData",
    "MLFit",
    "fit_ml",
    "start_values",
    "deviance",
    "observed_information",
    "casewise_scores",
    "saturated",
    "baseline_spec",
    "LOG2PI",
]

LOG2PI = float(np.log(2 * np.pi))


@dataclass
class Pattern:
    """Cases of one group sharing a missing-data pattern: observed indices, n, mean, covariance (divisor n)."""

    idx: np.ndarray
    n: int
    ybar: np.ndarray
    s: np.ndarray
    rows: np.ndarray | None = None  # the cases' observed values, (n, len(idx))


@dataclass
class GroupData:
    """One group's data: raw matrix (NaN = missing), and its missing-data patterns."""

    y: np.ndarray
    patterns: list[Pattern] = field(default_factory=list)

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def complete(self) -> bool:
        return len(self.patterns) == 1 and len(self.patterns[0].idx) == self.y.shape[1]

    @classmethod
    def from_array(cls, y: np.ndarray) -> GroupData:
        y = np.asarray(y, dtype=float)
        obs = ~np.isnan(y)
        if obs.all():  # complete data: one pattern, no sort of the rows
            ybar = y.mean(axis=0)
            dev = y - ybar
            return cls(y, [Pattern(np.arange(y.shape[1]), y.shape[0], ybar, dev.T @ dev / y.shape[0], y)])
        keys, inverse = np.unique(obs, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        patterns = []
        for k, key in enumerate(keys):
            if not key.any():
                continue
            rows = y[inverse == k][:, key]
            ybar = rows.mean(axis=0)
            dev = rows - ybar
            patterns.append(Pattern(np.flatnonzero(key), rows.shape[0], ybar, dev.T @ dev / rows.shape[0], rows))
        return cls(y, patterns)

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Sample covariance (divisor N) and mean of complete data."""
        p = self.patterns[0]
        return p.s, p.ybar


@dataclass
class MLFit:
    x: np.ndarray
    deviance: float
    converged: bool
    iterations: int
    information: np.ndarray  # expected information of D/2 (sum over cases)
    gradient: np.ndarray
    message: str


def deviance(spec: ModelSpec, data: list[GroupData], x: np.ndarray, *, need_grad: bool = True, need_info: bool = True):
    """D = -2 log L, its gradient and the expected information of D / 2 (sums over all cases).

    When every free parameter fills one cell per group, ``dSigma_k = a_k b_k' + b_k a_k'``
    (:meth:`ModelSpec.lowrank`) and, with ``V = Sigma^-1``, the gradient term is
    ``<dSigma_k, W> = 2 a_k' W b_k`` and the information
    ``tr(V dSigma_k V dSigma_l) / 2 = (b_k'Va_l)(a_k'Vb_l) + (a_k'Va_l)(b_k'Vb_l)``.
    """
    mats = spec.matrices(x)
    need = need_grad or need_info
    lowrank = spec.lowrank(mats) if need else [None] * len(mats)
    dense: list[Any] | None = spec.derivatives(mats) if need and any(lr is None for lr in lowrank) else None
    q = spec.n_free
    dev = 0.0
    grad = np.zeros(q)
    info = np.zeros((q, q)) if need_info else None
    for g, (gm, gd) in enumerate(zip(mats, data)):
        sigma = gm.sigma()
        mu = gm.mu()
        lr = lowrank[g]
        p = sigma.shape[0]
        w_sum = np.zeros((p, p))  # sum over patterns of n * W embedded in p x p (gradient, rank-2 path)
        v_sum = np.zeros(p)
        for pat in gd.patterns:
            o = pat.idx
            full = len(o) == p
            sig = sigma if full else sigma[o[:, None], o]
            inv, logdet = _inv_logdet(sig)
            d = pat.ybar - mu[o] if spec.meanstructure else np.zeros(len(o))
            s_tot = pat.s + np.outer(d, d)
            dev += pat.n * (logdet + np.sum(s_tot * inv) + len(o) * LOG2PI)
            if not need:
                continue
            if lr is not None:
                a, b, dm = lr
                if need_grad:
                    w = inv - inv @ s_tot @ inv
                    vd = inv @ d
                    if full:
                        w_sum += pat.n * w
                        v_sum += pat.n * vd
                    else:
                        w_sum[o[:, None], o] += pat.n * w
                        v_sum[o] += pat.n * vd
                if need_info:
                    ao, bo, dmo = (a, b, dm) if full else (a[:, o], b[:, o], dm[:, o])
                    va, vb = ao @ inv, bo @ inv
                    ava, bvb, bva = va @ ao.T, vb @ bo.T, vb @ ao.T
                    blk = bva * bva.T + ava * bvb
                    if spec.meanstructure:
                        blk = blk + dmo @ inv @ dmo.T
                    info += pat.n * blk
                continue
            ds, dm = cast(list, dense)[g]  # dense holds every group without a low-rank form
            dso = ds if full else ds[:, o][:, :, o]
            dmo = dm if full else dm[:, o]
            if need_grad:
                w = inv - inv @ s_tot @ inv
                gr = dso.reshape(q, -1) @ w.ravel()
                if spec.meanstructure:
                    gr = gr - 2.0 * dmo @ (inv @ d)
                grad += pat.n * gr
            if need_info:
                m = np.einsum("ij,kjl->kil", inv, dso @ inv)
                blk = 0.5 * m.reshape(q, -1) @ dso.reshape(q, -1).T
                if spec.meanstructure:
                    blk = blk + dmo @ inv @ dmo.T
                info += pat.n * blk
        if need_grad and lr is not None:
            a, b, dm = lr
            grad += 2.0 * np.einsum("kp,kp->k", a @ w_sum, b)
            if spec.meanstructure:
                grad -= 2.0 * dm @ v_sum
    return float(dev), grad, info


def _inv_logdet(sig: np.ndarray) -> tuple[np.ndarray, float]:
    """Inverse and log-determinant of a symmetric positive-definite matrix by Cholesky
    (LAPACK dpotrf/dpotri for small blocks, whose call overhead dominates; numpy's blocked
    inverse for large ones); raises LinAlgError when it is not positive definite."""
    if sig.shape[0] >= 24:
        chol = np.linalg.cholesky(sig)
        return np.linalg.inv(sig), 2.0 * float(np.log(np.diagonal(chol)).sum())
    c, info = _dpotrf(sig, lower=1, clean=1)
    if info != 0:
        raise np.linalg.LinAlgError("matrix is not positive definite")
    logdet = 2.0 * float(np.log(np.diagonal(c)).sum())
    inv, info = _dpotri(c, lower=1)
    if info != 0:
        raise np.linalg.LinAlgError("matrix is singular")
    inv = np.tril(inv) + np.tril(inv, -1).T
    return inv, logdet


def start_values(spec: ModelSpec, data: list[GroupData], cov: list[np.ndarray] | None = None) -> np.ndarray:
    """Starting values: loadings from each factor's first principal component of its
    indicators (scaled to the marker loading, if any), factor variances from the same,
    residual variances half the observed variances (lavaan's rule), covariances 0,
    intercepts at the sample means, user ``start()`` values as given.

    ``cov`` (per group) replaces the responses' pairwise covariances (WLSMV passes the
    polychoric correlations); then the covariances of two first-order factors start at the
    least-squares fit of their items' cross-block ``s_ij = lambda_i lambda_j phi`` (clipped
    to correlations of +-.95), not 0: fewer Gauss-Newton steps when factors correlate."""
    x = np.zeros(spec.n_free)
    seen = np.zeros(spec.n_free, dtype=bool)
    pt = spec.partable
    records = spec.start_records
    if records is None:  # the table's rows as dicts, kept on the spec (refits of one model reuse them)
        cols = table_columns(pt)
        records = [dict(zip(cols, r)) for r in zip(*cols.values())]
        spec.start_records = records
    ov, lv = spec.ov, spec.lv
    higher = {r["rhs"] for r in records if r["op"] == "=~" and r["rhs"] in lv}
    for g, gd in enumerate(data):
        y = gd.y
        ybar = np.nanmean(y, axis=0) if cov is None else np.zeros(len(ov))
        s = _pairwise_cov(y) if cov is None else np.asarray(cov[g], dtype=float)
        grecs = [r for r in records if int(r["group"]) == g + 1]
        load_start: dict[tuple[str, str], float] = {}
        var_start: dict[str, float] = {}
        items_of: dict[str, list[str]] = {}
        for f in lv:
            rows = [r for r in grecs if r["op"] == "=~" and r["lhs"] == f]
            ind = [r["rhs"] for r in rows if r["rhs"] in ov]
            if not ind:
                var_start[f] = 0.05
                continue
            items_of[f] = ind
            idx = [ov.index(i) for i in ind]
            block = s[np.ix_(idx, idx)]
            vals, vecs = np.linalg.eigh(block)
            v = vecs[:, -1] * np.sqrt(max(vals[-1], 1e-6))
            if v.sum() < 0:
                v = -v
            marker = next(
                (
                    r
                    for r in rows
                    if r["free"] == 0 and not np.isnan(r["ustart"]) and r["ustart"] != 0 and r["rhs"] in ind
                ),
                None,
            )
            if marker is not None and abs(v[ind.index(marker["rhs"])]) > 1e-3:
                scale = v[ind.index(marker["rhs"])] / marker["ustart"]
                var_start[f] = scale**2
                for i, name in enumerate(ind):
                    load_start[(f, name)] = v[i] / scale
            else:
                var_start[f] = 1.0
                for i, name in enumerate(ind):
                    load_start[(f, name)] = v[i]
        for r in grecs:
            if r["free"] == 0:
                continue
            k = int(r["free"]) - 1
            if seen[k]:
                continue
            op, lhs, rhs = r["op"], r["lhs"], r["rhs"]
            if not np.isnan(r["start"]):
                val = r["start"]
            elif op == "=~":
                val = load_start.get((lhs, rhs), 1.0 if rhs in lv else 0.7)
            elif op == "~~" and lhs == rhs:
                if lhs in ov:
                    val = 0.5 * s[ov.index(lhs), ov.index(lhs)]
                else:
                    val = var_start.get(lhs, 0.5)
                    if lhs in higher:
                        val *= 0.5  # a factor under a higher-order factor: part is explained
            elif op == "~1":
                val = ybar[ov.index(lhs)] if lhs in ov else 0.0
            elif cov is not None and op == "~~" and lhs in items_of and rhs in items_of:
                val = _factor_cov_start(s, ov, items_of[lhs], items_of[rhs], load_start, lhs, rhs, var_start)
            else:
                val = 0.0
            x[k] = val
            seen[k] = True
    return x


def _factor_cov_start(s, ov, items_f, items_g, load_start, f, g, var_start) -> float:
    """Least-squares ``phi`` of ``s_ij = lambda_i lambda_j phi`` over items i of f and j of g
    (shared items skipped), clipped to a correlation of +-.95 given the factor variances."""
    li = np.array([load_start.get((f, i), 0.0) for i in items_f])
    lj = np.array([load_start.get((g, j), 0.0) for j in items_g])
    fi = [ov.index(i) for i in items_f]
    gj = [ov.index(j) for j in items_g]
    outer = np.outer(li, lj)
    block = s[np.ix_(fi, gj)]
    shared = np.equal.outer(np.array(items_f, dtype=object), np.array(items_g, dtype=object))
    outer = np.where(shared, 0.0, outer)
    den = float((outer * outer).sum())
    if den <= 0:
        return 0.0
    phi = float((outer * block).sum()) / den
    bound = 0.95 * np.sqrt(var_start.get(f, 1.0) * var_start.get(g, 1.0))
    return float(np.clip(phi, -bound, bound))


def _pairwise_cov(y: np.ndarray) -> np.ndarray:
    if not np.isnan(y).any():
        d = y - y.mean(axis=0)
        return d.T @ d / y.shape[0]
    # pairwise-complete covariances (divisor n_ij - 1): sums over the rows where both items are observed
    m = (~np.isnan(y)).astype(float)
    y0 = np.where(np.isnan(y), 0.0, y)
    n = m.T @ m
    sx = y0.T @ m  # sx[i, j] = sum of y_i over the rows where y_j is observed (and y_i, through y0)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = (y0.T @ y0 - sx * sx.T / n) / (n - 1)
    c[n < 2] = np.nan
    v = np.nanvar(y, axis=0)
    c[~np.isfinite(c)] = 0.0
    np.fill_diagonal(c, v)
    return c


def fit_ml(spec: ModelSpec, data: list[GroupData], x0: np.ndarray, *, tol: float = 1e-9, max_iter: int = 500) -> MLFit:
    """Minimise D by Fisher scoring with step halving (own code: no library optimiser)."""
    n_total = sum(gd.n for gd in data)
    x = np.array(x0, dtype=float)
    q = spec.n_free
    try:
        f, grad, info = deviance(spec, data, x)
    except np.linalg.LinAlgError:
        return MLFit(
            x,
            np.inf,
            False,
            0,
            np.full((q, q), np.nan),
            np.full(q, np.nan),
            "the starting values imply a covariance matrix that is not positive definite",
        )
    converged = False
    message = "iteration limit reached"
    it = 0
    for it in range(1, max_iter + 1):
        # Newton-type step on D/2 with the expected information
        try:
            step = np.linalg.solve(info, -0.5 * grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(info, -0.5 * grad, rcond=None)[0]
        t = 1.0
        improved = False
        for _ in range(40):
            cand = x + t * step
            try:
                f_new, g_new, i_new = deviance(spec, data, cand)
            except np.linalg.LinAlgError:
                t /= 2
                continue
            if f_new <= f + 1e-10 * n_total:
                improved = True
                break
            t /= 2
        if not improved:
            if q and np.max(np.abs(grad)) / n_total < 1e-6:
                converged = True
                message = "converged (no further decrease within rounding)"
            else:
                message = "no step decreased the discrepancy (line search failed)"
            break
        change = f - f_new
        x, f, grad, info = cand, f_new, g_new, i_new
        gmax = np.max(np.abs(grad)) / n_total if q else 0.0
        if gmax < 1e-8 or (change / n_total < tol and gmax < 1e-6):
            converged = True
            message = "converged"
            break
    return MLFit(x, f, converged, it, info, grad, message)


def observed_information(spec: ModelSpec, data: list[GroupData], x: np.ndarray, *, h: float = 1e-6) -> np.ndarray:
    """Hessian of D / 2 (the observed information, summed over cases) by central differences
    of the analytic gradient, symmetrised."""
    q = spec.n_free
    hess = np.zeros((q, q))
    for k in range(q):
        step = h * max(1.0, abs(x[k]))
        xp, xm = x.copy(), x.copy()
        xp[k] += step
        xm[k] -= step
        gp = deviance(spec, data, xp, need_info=False)[1]
        gm = deviance(spec, data, xm, need_info=False)[1]
        hess[:, k] = (gp - gm) / (4.0 * step)
    return 0.5 * (hess + hess.T)


def casewise_scores(spec: ModelSpec, data: list[GroupData], x: np.ndarray) -> list[np.ndarray]:
    """Per group: the casewise scores d log L_i / d theta, (n_g, n_free):
    ``<dSigma_k, V r r' V - V> / 2 + dmu_k' V r`` with ``r = y_i - mu`` on each case's observed
    variables (``V`` the inverse of their block of Sigma). Rows are ordered by missing-data
    pattern (the original order with complete data); only sums over cases are meaningful."""
    mats = spec.matrices(x)
    lowrank = spec.lowrank(mats)
    dense: list[Any] | None = spec.derivatives(mats) if any(lr is None for lr in lowrank) else None
    q = spec.n_free
    out = []
    for g, (gm, gd) in enumerate(zip(mats, data)):
        sigma = gm.sigma()
        mu_all = gm.mu() if spec.meanstructure else gd.y.mean(axis=0)
        blocks = []
        for pat in gd.patterns:
            o = pat.idx
            full = len(o) == sigma.shape[0]
            rows = gd.y if (full and len(gd.patterns) == 1) else pat.rows
            inv = np.linalg.inv(sigma if full else sigma[np.ix_(o, o)])
            vr = (rows - mu_all[o]) @ inv
            lr = lowrank[g]
            if lr is not None:
                a, b, dm = lr
                ao, bo, dmo = (a, b, dm) if full else (a[:, o], b[:, o], dm[:, o])
                sc = (vr @ ao.T) * (vr @ bo.T) - np.einsum("kp,kp->k", ao @ inv, bo)[None, :]
            else:
                ds, dm = cast(list, dense)[g]  # dense holds every group without a low-rank form
                dso = ds if full else ds[:, o][:, :, o]
                dmo = dm if full else dm[:, o]
                a3 = np.einsum("kij,ni->knj", dso, vr)
                quad = np.einsum("knj,nj->nk", a3, vr)
                tr = dso.reshape(q, -1) @ inv.ravel()
                sc = 0.5 * (quad - tr[None, :])
            if spec.meanstructure:
                sc = sc + vr @ dmo.T
            blocks.append(sc)
        out.append(np.vstack(blocks) if blocks else np.zeros((0, q)))
    return out


def saturated_spec(ov: list[str]) -> ModelSpec:
    """The saturated mean-and-covariance model of one group as a :class:`ModelSpec`
    (free means, then the lower triangle of Sigma column by column)."""
    rows = [dict(lhs=v, op="~1", rhs="", group=1, free=i + 1, ustart=np.nan, start=np.nan) for i, v in enumerate(ov)]
    k = len(ov)
    for j in range(len(ov)):
        for i in range(j, len(ov)):
            k += 1
            rows.append(dict(lhs=ov[i], op="~~", rhs=ov[j], group=1, free=k, ustart=np.nan, start=np.nan))
    return ModelSpec.from_partable(_records_table(rows), list(ov), [], meanstructure=True)


def saturated_x(sigma: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """Free-parameter vector of :func:`saturated_spec` for given moments."""
    p = len(mu)
    return np.concatenate([mu, [sigma[i, j] for j in range(p) for i in range(j, p)]])


def saturated(data: list[GroupData], *, max_iter: int = 2000, tol: float = 1e-10):
    """Saturated (h1) model per group: (Sigma, mu, deviance). Complete data: the sample
    moments; missing data: EM (Dempster, Laird & Rubin, 1977; Little & Rubin, 2002)."""
    out = []
    for gd in data:
        p = gd.y.shape[1]
        if gd.complete:
            s, ybar = gd.moments()
            sign, logdet = np.linalg.slogdet(s)
            dev = gd.n * (logdet + p + p * LOG2PI)
            out.append((s, ybar, float(dev), True, 0))
            continue
        y = gd.y
        mu = np.nanmean(y, axis=0)
        sigma = np.diag(np.nanvar(y, axis=0))
        allidx = np.arange(p)
        # sufficient statistics of each pattern's observed part
        stats = [
            (pat.idx, np.setdiff1d(allidx, pat.idx), pat.n, pat.ybar, pat.s + np.outer(pat.ybar, pat.ybar))
            for pat in gd.patterns
        ]
        converged = False
        it = 0
        for it in range(1, max_iter + 1):
            t1 = np.zeros(p)
            t2 = np.zeros((p, p))
            for o, m, n, ybar, moo in stats:
                # E-step with the pattern's moments: E[y_m | y_o] = mu_m + B (y_o - mu_o)
                t1_o = n * ybar
                t2_oo = n * moo
                if len(m):
                    soo = sigma[np.ix_(o, o)]
                    smo = sigma[np.ix_(m, o)]
                    b = np.linalg.solve(soo, smo.T).T
                    c = mu[m] - b @ mu[o]
                    t1_m = n * c + b @ t1_o
                    t2_mo = np.outer(c, t1_o) + b @ t2_oo
                    t2_mm = (
                        n * np.outer(c, c)
                        + np.outer(c, b @ t1_o)
                        + np.outer(b @ t1_o, c)
                        + b @ t2_oo @ b.T
                        + n * (sigma[np.ix_(m, m)] - b @ smo.T)
                    )
                    t1[m] += t1_m
                    t2[np.ix_(m, o)] += t2_mo
                    t2[np.ix_(o, m)] += t2_mo.T
                    t2[np.ix_(m, m)] += t2_mm
                t1[o] += t1_o
                t2[np.ix_(o, o)] += t2_oo
            mu_new = t1 / gd.n
            sigma_new = t2 / gd.n - np.outer(mu_new, mu_new)
            delta = max(np.max(np.abs(mu_new - mu)), np.max(np.abs(sigma_new - sigma)))
            mu, sigma = mu_new, sigma_new
            if delta < tol:
                converged = True
                break
        dev = 0.0
        for pat in gd.patterns:
            o = pat.idx
            sig = sigma[np.ix_(o, o)]
            d = pat.ybar - mu[o]
            dev += pat.n * (
                np.linalg.slogdet(sig)[1] + np.sum((pat.s + np.outer(d, d)) * np.linalg.inv(sig)) + len(o) * LOG2PI
            )
        out.append((sigma, mu, float(dev), converged, it))
    return out


def baseline_spec(ov: list[str], ngroups: int, meanstructure: bool) -> ModelSpec:
    """The independence (baseline) model of lavaan: free variances (and means), no covariances,
    no constraints across groups."""
    rows = []
    free = 0
    for g in range(1, ngroups + 1):
        for v in ov:
            free += 1
            rows.append(dict(lhs=v, op="~~", rhs=v, group=g, free=free, ustart=np.nan, start=np.nan))
        if meanstructure:
            for v in ov:
                free += 1
                rows.append(dict(lhs=v, op="~1", rhs="", group=g, free=free, ustart=np.nan, start=np.nan))
    return ModelSpec.from_partable(_records_table(rows), list(ov), [], meanstructure=meanstructure)


def _records_table(rows: list[dict]) -> dict[str, list]:
    """A parameter table (column → list) from its rows."""
    return {k: [r[k] for r in rows] for k in rows[0]}
