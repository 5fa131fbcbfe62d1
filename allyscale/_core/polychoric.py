"""Two-step polychoric correlations, vectorised over all item pairs (pure numpy/scipy).

Step 1 (thresholds): for each item, ``tau_k = Phi^-1(P(X <= k))`` from the item's own
observed cases (lavaan's univariate step). Step 2 (correlations): for every pair, the
maximum-likelihood correlation of the bivariate contingency table with the thresholds
held fixed (Olsson, 1979), by Fisher scoring and then Newton steps on all pairs at once.

All contingency tables come from one product of a padded one-hot matrix; a missing
response has an all-zero one-hot row, so each table counts exactly the cases observed
on both items (pairwise presence). Cell probabilities and their derivatives with
respect to rho are differences of the bivariate normal CDF and density on the
threshold grid (:class:`PairGrid`: Gauss-Legendre integrals of the CDF's derivative in
``asin(rho)``, the Owen's T form of ``bvn_cdf`` above |rho| = .925).

References
----------
Olsson, U. (1979). Maximum likelihood estimation of the polychoric correlation
coefficient. Psychometrika, 44(4), 443-460.
Drezner, Z., & Wesolowsky, G. O. (1990). On the computation of the bivariate normal
integral. Journal of Statistical Computation and Simulation, 35(1-2), 101-107.
Genz, A. (2004). Numerical computation of rectangular bivariate and trivariate normal and
t probabilities. Statistics and Computing, 14(3), 251-260.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from allyscale._core.bivnorm import _GENZ_RHO, BIG, bvn_cdf

__all__ = ["encode", "thresholds", "pair_tables", "polychoric_pairs", "PairFit", "PairGrid", "cell_probs", "cell_ratio"]

RHO_MAX = 0.9999


def encode(x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """Recode each column's observed values to 0..K_j-1 (NaN → -1); return codes and category values."""
    n, p = x.shape
    codes = np.full((n, p), -1, dtype=np.int64)
    cats: list[np.ndarray] = []
    ok_all = ~np.isnan(x)
    small = ok_all.all() and np.array_equal(x, np.round(x)) and x.size and 0 <= x.min() and x.max() < 1000
    for j in range(p):
        col = x[:, j]
        if small:  # complete small integer codes (Likert answers): counting is much faster than sorting
            seen = np.bincount(col.astype(np.intp))
            values = np.flatnonzero(seen)
            lookup = np.cumsum(seen > 0) - 1
            codes[:, j] = lookup[col.astype(np.intp)]
            cats.append(values.astype(float))
            continue
        ok = ok_all[:, j]
        values, inv = np.unique(col[ok], return_inverse=True)
        codes[ok, j] = inv
        cats.append(values)
    return codes, cats


def thresholds(codes: np.ndarray, n_cat: np.ndarray) -> np.ndarray:
    """Thresholds (p × (Kmax - 1), +inf padded) from each item's marginal proportions."""
    p = codes.shape[1]
    kmax = int(n_cat.max())
    th = np.full((p, kmax - 1), np.inf)
    for j in range(p):
        c = codes[:, j]
        c = c[c >= 0]
        counts = np.bincount(c, minlength=n_cat[j])
        cum = np.cumsum(counts)[:-1] / c.size
        th[j, : n_cat[j] - 1] = ndtri(cum)
    return th


def onehot(codes: np.ndarray, kmax: int) -> np.ndarray:
    """N × (p·Kmax) indicator matrix (float64); missing responses give all-zero blocks."""
    n, p = codes.shape
    out = np.zeros((n, p * kmax))
    rows, cols = np.nonzero(codes >= 0)
    out[rows, cols * kmax + codes[rows, cols]] = 1.0
    return out


def pair_tables(codes: np.ndarray, kmax: int, pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Contingency tables of all pairs, shape (P, Kmax, Kmax), pairwise-complete counts."""
    oh = onehot(codes, kmax)
    p = codes.shape[1]
    full = (oh.T @ oh).reshape(p, kmax, p, kmax)
    i, j = pairs
    return full[i, :, j, :]


def _bounds(th: np.ndarray) -> np.ndarray:
    """Per item: [-BIG, tau_1, ..., tau_{K-1}, +BIG, ...] of length Kmax + 1.

    Infinite bounds (and the padding of items with fewer categories) are +/-``BIG``
    (40), which is exactly infinite for the normal CDF and density in double precision.
    """
    p = th.shape[0]
    inner = np.where(np.isinf(th), BIG, th)
    return np.hstack([np.full((p, 1), -BIG), inner, np.full((p, 1), BIG)])


_NODES = {n: np.polynomial.legendre.leggauss(n) for n in (2, 3, 6, 12, 20)}
# Gauss-Legendre nodes for Phi2's change over a step of at most ``d`` in asin(rho) (both ends below
# Genz's .925): 2 nodes to 1e-3, 3 to .01, 6 to .1 integrate it to rounding error (2e-16 to 3e-16 against
# the Owen's T form on 200,000 random (h, k, rho) with |h|, |k| <= 3.5 and again with |h|, |k| <= 6)
_STEP_NODES = ((1e-3, 2), (1e-2, 3), (0.1, 6))


def _gl_segment(hh, hk, inner, t0, t1, n_nodes: int) -> np.ndarray:
    """(1/2pi) * integral_t0^t1 exp(-(h^2 + k^2 - 2hk sin t) / (2 cos^2 t)) dt, the change of the
    bivariate normal CDF between the correlations ``sin(t0)`` and ``sin(t1)`` (Drezner &
    Wesolowsky, 1990), for every grid point (rows of ``hh = h^2 + k^2`` and ``hk = h k``) and pair
    (columns; ``t0``, ``t1`` (P,)); ``inner`` is False where a bound is infinite (None when every
    point is finite).

    The quadrature nodes are summed one at a time on (m, P) buffers reused in place (the pairs
    the long, contiguous axis; the (nodes, m, P) array and its temporaries cost more in memory
    traffic than the arithmetic).
    """
    x, w = _NODES[n_nodes]
    half = (t1 - t0) / 2
    theta = ((t0 + t1) / 2)[None, :] + x[:, None] * half[None, :]  # (nodes, P)
    c2 = np.cos(theta) ** 2
    a = 1 / (2 * c2)
    b = np.sin(theta) / c2
    acc = np.zeros(hh.shape)
    buf = np.empty(hh.shape)
    tmp = np.empty(hh.shape)
    for t in range(n_nodes):
        np.multiply(hk, b[t], out=buf)
        np.multiply(hh, a[t], out=tmp)
        buf -= tmp
        np.maximum(buf, -700.0, out=buf)  # no subnormals
        if inner is not None:
            buf[~inner] = -np.inf  # exact zeros at the bounds
        np.exp(buf, out=buf)
        buf *= w[t]
        acc += buf
    acc *= half / (2 * np.pi)
    return acc


def _cells(x: np.ndarray, a: int, b: int) -> np.ndarray:
    """The cells' second differences of values on the interior grid points (a*b, P), zero on the
    borders: (a + 1, b + 1, P)."""
    z = np.zeros((a + 2, b + 2, x.shape[1]))
    z[1:-1, 1:-1] = x.reshape(a, b, -1)
    return z[1:, 1:] - z[:-1, 1:] - z[1:, :-1] + z[:-1, :-1]


class PairGrid:
    """Every pair's threshold grid for the cell probabilities at changing correlations.

    Arrays hold the pairs on their last axis (grid points x pairs, cells (K, K, P)): the
    element-wise work then runs over long contiguous rows instead of K x K blocks.

    What does not depend on rho is computed once: ``h^2 + k^2``, ``h k``, ``Phi(h) Phi(k)`` on
    the interior points and the cells' share of the borders (a bound at -/+infinity, held as
    -/+``BIG``, contributes exactly 0, Phi(h) or Phi(k)). ``Phi2`` on the interior is kept at the
    last correlations evaluated, so a later evaluation integrates only the change, over
    ``[asin(rho_old), asin(rho_new)]`` with 2 to 6 Gauss-Legendre nodes (``_STEP_NODES``); a
    pair's first evaluation, a step above .1 in ``asin(rho)`` and ``|rho| >= .925`` use the full
    forms: the Gauss-Legendre form of :func:`allyscale._core.bivnorm.bvn_cdf_finite` with Genz's
    (2004) node counts (6, 12 or 20 nodes for |rho| below .3, .75, .925) and Owen's T form
    (:func:`bvn_cdf`) above.
    """

    def __init__(self, bi: np.ndarray, bj: np.ndarray):
        h = bi[:, 1:-1].T[:, None, :]  # (a, 1, P)
        k = bj[:, 1:-1].T[None, :, :]  # (1, b, P)
        self.a, self.b, n_pairs = h.shape[0], k.shape[1], bi.shape[0]
        m = self.a * self.b
        self._h, self._k = h, k
        self.hh = (h * h + k * k).reshape(m, n_pairs)
        self.hk = (h * k).reshape(m, n_pairs)
        inner = ((np.abs(h) < BIG) & (np.abs(k) < BIG)).reshape(m, n_pairs)
        self.inner = None if inner.all() else inner
        ph, pk = ndtr(h), ndtr(k)
        self.base = (ph * pk).reshape(m, n_pairs)
        grid = np.zeros((self.a + 2, self.b + 2, n_pairs))
        grid[-1, 1:-1] = pk[0]
        grid[1:-1, -1] = ph[:, 0]
        grid[-1, -1] = 1.0
        self.border = grid[1:, 1:] - grid[:-1, 1:] - grid[1:, :-1] + grid[:-1, :-1]
        self.theta = np.full(n_pairs, np.nan)  # asin(rho) at which ``cdf`` holds
        self.cdf = np.zeros((m, n_pairs))

    def _inner(self, ix):
        return None if self.inner is None else self.inner[:, ix]

    def _full(self, idx: np.ndarray, rho: np.ndarray) -> np.ndarray:
        out = self.base[:, idx]
        arho = np.abs(rho)
        for lo, hi, n_nodes in ((0.0, 0.3, 6), (0.3, 0.75, 12), (0.75, _GENZ_RHO, 20)):
            sel = (arho >= lo) & (arho < hi)
            if sel.any():
                s = idx[sel]
                t = np.arcsin(rho[sel])
                out[:, sel] += _gl_segment(self.hh[:, s], self.hk[:, s], self._inner(s), np.zeros_like(t), t, n_nodes)
        big = arho >= _GENZ_RHO
        if big.any():
            s = idx[big]
            rb = np.broadcast_to(rho[big], (self.a * self.b, s.size))
            hb, kb = np.broadcast_arrays(self._h[:, :, s], self._k[:, :, s])
            out[:, big] = bvn_cdf(
                np.where(hb >= BIG, np.inf, hb).reshape(rb.shape), np.where(kb >= BIG, np.inf, kb).reshape(rb.shape), rb
            )
        return out

    def update(self, idx: np.ndarray, rho: np.ndarray) -> np.ndarray:
        """``Phi2`` on the interior grid points of the pairs ``idx`` at ``rho`` (a*b, P_idx); kept."""
        ix = slice(None) if idx.size == self.theta.size else idx
        theta = np.arcsin(rho)
        old = self.theta[ix]
        with np.errstate(invalid="ignore"):
            step = np.abs(theta - old)  # NaN (no earlier evaluation) compares False
            near = (np.abs(rho) < _GENZ_RHO) & (np.abs(old) < np.arcsin(_GENZ_RHO))
        out = np.empty((self.a * self.b, idx.size))
        todo = np.ones(idx.size, dtype=bool)
        lo = -1.0
        for d, n_nodes in _STEP_NODES:
            sel = near & (step > lo) & (step <= d)
            lo = d
            if sel.any():
                s = idx[sel]
                inc = _gl_segment(self.hh[:, s], self.hk[:, s], self._inner(s), old[sel], theta[sel], n_nodes)
                out[:, sel] = self.cdf[:, s] + inc
                todo[sel] = False
        if todo.any():
            out[:, todo] = self._full(idx[todo], rho[todo])
        self.theta[ix] = theta
        self.cdf[:, ix] = out
        return out

    def probs(self, idx: np.ndarray, rho: np.ndarray, *, deriv: bool = True, second: bool = False):
        """Cell probabilities (K, K, P_idx) of the pairs ``idx`` at ``rho``, with ``deriv`` their
        derivative in rho and with ``second`` also the second derivative (the cells' differences of
        the density and of ``d phi2 / d rho``)."""
        ix = slice(None) if idx.size == self.theta.size else idx
        a, b = self.a, self.b
        # the values on the interior grid points, zero-padded: one set of second differences for all
        z = np.zeros((1 + int(deriv) + int(second), a + 2, b + 2, idx.size))
        np.clip(self.update(idx, rho).reshape(a, b, -1), 0.0, 1.0, out=z[0, 1:-1, 1:-1])
        if deriv:
            one = 1.0 - rho * rho
            hk = self.hk[:, ix]
            quad = self.hh[:, ix] - 2 * rho * hk
            val = np.exp(-quad / (2 * one))
            val *= 1 / (2 * np.pi * np.sqrt(one))
            inner = self._inner(ix)
            if inner is not None:
                val[~inner] = 0.0
            z[1, 1:-1, 1:-1] = val.reshape(a, b, -1)
            if second:
                # d phi2 / d rho = phi2 (rho / (1 - rho^2) + h k / (1 - rho^2) - rho Q' / (1 - rho^2)^2),
                # Q' = h^2 - 2 rho h k + k^2
                quad *= rho / (one * one)
                hk = (rho + hk) / one
                hk -= quad
                hk *= val
                z[2, 1:-1, 1:-1] = hk.reshape(a, b, -1)
        cells = z[:, 1:, 1:] - z[:, :-1, 1:]
        cells -= z[:, 1:, :-1]
        cells += z[:, :-1, :-1]
        cells[0] += self.border[:, :, ix]
        return tuple(cells) if deriv else (cells[0], None)


def cell_probs(bi: np.ndarray, bj: np.ndarray, rho: np.ndarray, *, deriv: bool = True, second: bool = False):
    """Cell probabilities (P, K, K) at ``rho`` and their derivatives in rho (:meth:`PairGrid.probs`)."""
    out = PairGrid(bi, bj).probs(np.arange(rho.size), np.asarray(rho, dtype=float), deriv=deriv, second=second)
    return tuple(None if x is None else np.ascontiguousarray(x.transpose(2, 0, 1)) for x in out)


def pearson_start(tables: np.ndarray) -> np.ndarray:
    """Pearson correlations of the category codes within each (P, K, K) table: Fisher-scoring starts."""
    npair = tables.sum(axis=(1, 2))
    ki = np.arange(tables.shape[1], dtype=float)
    ma = (tables.sum(axis=2) * ki).sum(axis=1) / npair
    mb = (tables.sum(axis=1) * ki).sum(axis=1) / npair
    va = (tables.sum(axis=2) * ki**2).sum(axis=1) / npair - ma**2
    vb = (tables.sum(axis=1) * ki**2).sum(axis=1) / npair - mb**2
    cov = np.einsum("pab,a,b->p", tables, ki, ki) / npair - ma * mb
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.nan_to_num(cov / np.sqrt(va * vb))


def _threshold_density(bounds: np.ndarray) -> np.ndarray:
    """``sum_k phi(tau_k)`` over each row's finite thresholds (rows of threshold bounds)."""
    inner = bounds[:, 1:-1]
    return np.where(np.abs(inner) < BIG, np.exp(-(inner**2) / 2) / np.sqrt(2 * np.pi), 0.0).sum(axis=1)


def olsson_start(tables: np.ndarray, bi: np.ndarray, bj: np.ndarray) -> np.ndarray:
    """Starting correlations closer to the polychorics than the Pearson correlations: each pair's
    Pearson correlation of the category codes divided by ``c_i c_j``, with
    ``c = sum_k phi(tau_k) / sd(codes)`` the correlation of an item's codes with its latent
    response under normality (Olsson, Drasgow & Dorans, 1982, the polyserial relation);
    clipped to +-.95."""
    r = pearson_start(tables)
    npair = tables.sum(axis=(1, 2))
    ki = np.arange(tables.shape[1], dtype=float)

    def c(marg, bounds):
        m = (marg * ki).sum(axis=1) / npair
        sd = np.sqrt(np.maximum((marg * ki**2).sum(axis=1) / npair - m**2, 1e-12))
        return _threshold_density(bounds) / sd

    with np.errstate(divide="ignore", invalid="ignore"):
        rho = r / (c(tables.sum(axis=2), bi) * c(tables.sum(axis=1), bj))
    return np.clip(np.nan_to_num(rho), -0.95, 0.95)


def olsson_start_complete(codes: np.ndarray, bounds: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """:func:`olsson_start` for complete data (every case observes every item), from the item
    codes (N, p) and each item's bounds instead of the pairs' tables: the same starts in
    O(N p^2) BLAS work and O(p) for the items' ``c``."""
    x = codes.astype(float)
    n = x.shape[0]
    m = x.mean(axis=0)
    xc = x - m
    cov = xc.T @ xc / n
    sd = np.sqrt(np.maximum(np.diag(cov), 1e-12))
    c = _threshold_density(bounds) / sd
    i, j = pairs
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = cov[i, j] / (sd[i] * sd[j]) / (c[i] * c[j])
    return np.clip(np.nan_to_num(rho), -0.95, 0.95)


@dataclass
class PairFit:
    """Fisher-scoring estimates of every pair; ``prob`` and ``dprob`` (P, K, K) are the cell
    probabilities and their derivative at ``rho`` (the influence functions reuse them)."""

    rho: np.ndarray
    converged: np.ndarray
    iterations: int
    max_step: float
    prob: np.ndarray | None = None
    dprob: np.ndarray | None = None


def cell_ratio(num: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """``num / prob`` where the probability is positive, 0 elsewhere."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / prob
    pos = prob > 0
    if not pos.all():
        out[~pos] = 0.0
    return out


def polychoric_pairs(
    tables: np.ndarray, bi: np.ndarray, bj: np.ndarray, start: np.ndarray, *, tol: float = 1e-9, max_iter: int = 100
) -> PairFit:
    """Maximise each pair's bivariate ordinal likelihood in rho: Fisher scoring, then Newton
    steps (the observed information) once a pair's step is below .05 and its log-likelihood
    is concave there; converged when the step is below ``tol`` (not taken, so ``prob`` and
    ``dprob`` belong to the returned ``rho``).

    Parameters
    ----------
    tables : (P, K, K) counts
    bi, bj : (P, K+1) threshold bounds of the first and second item of each pair
    start : (P,) starting correlations
    """
    rho = np.clip(start, -0.95, 0.95).astype(float)
    tab = np.ascontiguousarray(tables.transpose(1, 2, 0))  # (K, K, P): see PairGrid
    npair = tab.sum(axis=(0, 1))
    active = np.ones(rho.size, dtype=bool)
    converged = np.zeros(rho.size, dtype=bool)
    probs = np.zeros(tab.shape)
    dprobs = np.zeros(tab.shape)
    it = 0
    max_step = 0.0
    newton = np.zeros(rho.size, dtype=bool)  # pairs close enough for Newton steps
    grid = PairGrid(bi, bj)
    for it in range(1, max_iter + 1):
        idx = np.flatnonzero(active)
        want2 = bool(newton[idx].any())
        out = grid.probs(idx, rho[idx], second=want2)
        prob, dprob = out[0], out[1]
        n = tab if idx.size == rho.size else tab[:, :, idx]
        ratio = cell_ratio(dprob, prob)
        score = np.einsum("abp,abp->p", n, ratio)
        info = npair[idx] * np.einsum("abp,abp->p", dprob, ratio)  # expected information (Fisher scoring)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(info > 0, score / info, 0.0)
        if want2:
            # Newton (observed information: quadratic convergence) once a pair is near its maximum and
            # the log-likelihood is concave there; Fisher scoring otherwise
            ratio2 = cell_ratio(out[2], prob)
            ratio2 -= ratio * ratio
            hess = np.einsum("abp,abp->p", n, ratio2)  # the log-likelihood's second derivative
            use_newton = newton[idx] & (hess < 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(use_newton, -score / hess, step)
        newton[idx] = np.abs(step) < 0.05
        max_step = float(np.abs(step).max()) if step.size else 0.0
        # a pair whose step is below tol is converged at the rho just evaluated (the step is not
        # taken, so its cell probabilities are those of the returned estimate)
        done = np.abs(step) < tol
        probs[:, :, idx[done]] = prob[:, :, done]
        dprobs[:, :, idx[done]] = dprob[:, :, done]
        converged[idx[done]] = True
        active[idx[done]] = False
        move = ~done
        new = rho[idx[move]] + step[move]
        # keep inside (-1, 1): move halfway to the bound instead of crossing it
        over = np.abs(new) >= RHO_MAX
        new[over] = (rho[idx[move]][over] + np.sign(new[over]) * RHO_MAX) / 2
        rho[idx[move]] = new
        if not active.any():
            break
    if active.any():  # not converged in max_iter: the probabilities at the last estimates
        idx = np.flatnonzero(active)
        probs[:, :, idx], dprobs[:, :, idx] = grid.probs(idx, rho[idx])
    probs = np.ascontiguousarray(probs.transpose(2, 0, 1))
    dprobs = np.ascontiguousarray(dprobs.transpose(2, 0, 1))
    return PairFit(rho, converged, it, max_step, probs, dprobs)
