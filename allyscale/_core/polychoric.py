"""Two-step polychoric correlations, vectorised over all item pairs (pure numpy/scipy).

Step 1 (thresholds): for each item, ``tau_k = Phi^-1(P(X <= k))`` from the item's own
observed cases (lavaan's univariate step). Step 2 (correlations): for every pair, the
maximum-likelihood correlation of the bivariate contingency table with the thresholds
held fixed (Olsson, 1979), by Fisher scoring on all pairs at once.

All contingency tables come from one product of a padded one-hot matrix; a missing
response has an all-zero one-hot row, so each table counts exactly the cases observed
on both items (pairwise presence). Cell probabilities and their derivatives with
respect to rho are differences of the bivariate normal CDF and density on the
threshold grid (``bvn_cdf``, ``bvn_pdf``).

References
----------
Olsson, U. (1979). Maximum likelihood estimation of the polychoric correlation
coefficient. Psychometrika, 44(4), 443-460.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from allyscale._core.bivnorm import _GENZ_RHO, BIG, bvn_cdf

__all__ = ["encode", "thresholds", "pair_tables", "polychoric_pairs", "PairFit"]

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


_NODES = {n: np.polynomial.legendre.leggauss(n) for n in (6, 12, 20)}


def _gl_integral(h: np.ndarray, k: np.ndarray, rho: np.ndarray, n_nodes: int) -> np.ndarray:
    """(1/2pi) * integral_0^asin(rho) exp(-(h^2 + k^2 - 2hk sin t) / (2 cos^2 t)) dt on (P, a, b) grids.

    The quadrature nodes are summed one at a time on (P, a*b) buffers reused in place (small
    arrays that stay in cache; the (P, a, b, nodes) array and its temporaries cost more in
    memory traffic than the arithmetic).
    """
    x, w = _NODES[n_nodes]
    half = np.arcsin(rho) / 2
    theta = half[:, None] * (x + 1)
    c2 = np.cos(theta) ** 2
    a = 1 / (2 * c2)  # (P, nodes)
    b = np.sin(theta) / c2
    shape = np.broadcast_shapes(h.shape, k.shape)
    hh = np.broadcast_to(h * h + k * k, shape).reshape(shape[0], -1)
    hk = np.broadcast_to(h * k, shape).reshape(shape[0], -1)
    inner = np.broadcast_to((np.abs(h) < BIG) & (np.abs(k) < BIG), shape).reshape(shape[0], -1)
    every = bool(inner.all())
    acc = np.zeros(hh.shape)
    buf = np.empty(hh.shape)
    tmp = np.empty(hh.shape)
    for t in range(n_nodes):
        np.multiply(hk, b[:, t : t + 1], out=buf)
        np.multiply(hh, a[:, t : t + 1], out=tmp)
        buf -= tmp
        np.maximum(buf, -700.0, out=buf)  # no subnormals
        if not every:
            buf[~inner] = -np.inf  # exact zeros at the bounds
        np.exp(buf, out=buf)
        buf *= w[t]
        acc += buf
    acc *= (half / (2 * np.pi))[:, None]
    return acc.reshape(shape)


def grid_cdf(bi: np.ndarray, bj: np.ndarray, rho: np.ndarray, *, coarse: bool = False) -> np.ndarray:
    """Phi2 on every pair's threshold grid, shape (P, K+1, K+1).

    ``coarse``: 6 nodes for every |rho| below .925 (about 1e-6 instead of 1e-15), for the
    first scoring steps of :func:`polychoric_pairs`, which only need to get close.

    Borders (a bound at -/+infinity, held as -/+BIG) are exact: 0, Phi(h) or Phi(k).
    Interior points use the Gauss-Legendre form of
    :func:`allyscale._core.bivnorm.bvn_cdf_finite` with Genz's (2004) node counts (6, 12
    or 20 nodes for |rho| below .3, .75, .925) and the nodes computed once per pair;
    pairs with |rho| >= .925 use the Owen's T form (:func:`bvn_cdf`).
    """
    h = bi[:, 1:-1, None]
    k = bj[:, None, 1:-1]
    inner = np.broadcast_to(ndtr(h) * ndtr(k), (rho.size, h.shape[1], k.shape[2])).copy()
    arho = np.abs(rho)
    bands = ((0.0, _GENZ_RHO, 6),) if coarse else ((0.0, 0.3, 6), (0.3, 0.75, 12), (0.75, _GENZ_RHO, 20))
    for lo, hi, n_nodes in bands:
        sel = (arho >= lo) & (arho < hi)
        if sel.any():
            inner[sel] += _gl_integral(h[sel], k[sel], rho[sel], n_nodes)
    big = arho >= _GENZ_RHO
    if big.any():
        hb, kb = np.broadcast_arrays(h[big], k[big])
        rb = np.broadcast_to(rho[big][:, None, None], hb.shape)
        inner[big] = bvn_cdf(np.where(hb >= BIG, np.inf, hb), np.where(kb >= BIG, np.inf, kb), rb)
    out = np.zeros((rho.size, bi.shape[1], bj.shape[1]))
    out[:, 1:-1, 1:-1] = inner
    out[:, -1, 1:-1] = ndtr(bj[:, 1:-1])
    out[:, 1:-1, -1] = ndtr(bi[:, 1:-1])
    out[:, -1, -1] = 1.0
    return np.clip(out, 0.0, 1.0)


def cell_probs(
    bi: np.ndarray, bj: np.ndarray, rho: np.ndarray, *, deriv: bool = True, second: bool = False, coarse: bool = False
):
    """Cell probabilities (P, K, K) and their derivative with respect to rho (with ``second``
    also the second derivative: the grid's density derivative ``d phi2 / d rho``; ``coarse``:
    see :func:`grid_cdf`)."""
    grid = grid_cdf(bi, bj, rho, coarse=coarse)
    prob = grid[:, 1:, 1:] - grid[:, :-1, 1:] - grid[:, 1:, :-1] + grid[:, :-1, :-1]
    if not deriv:
        return prob, None
    # the density on the grid: zero on the outer bounds (-/+BIG), computed on the interior only
    hi = bi[:, 1:-1, None]
    ki = bj[:, None, 1:-1]
    ri = rho[:, None, None]
    one = 1.0 - ri * ri
    dens = np.zeros((rho.size, bi.shape[1], bj.shape[1]))
    quad = hi * hi - 2 * ri * hi * ki + ki * ki
    val = np.exp(-quad / (2 * one)) / (2 * np.pi * np.sqrt(one))
    inner = (np.abs(hi) < BIG) & (np.abs(ki) < BIG)
    dens[:, 1:-1, 1:-1] = val if inner.all() else np.where(inner, val, 0.0)
    dprob = dens[:, 1:, 1:] - dens[:, :-1, 1:] - dens[:, 1:, :-1] + dens[:, :-1, :-1]
    if not second:
        return prob, dprob
    # d phi2 / d rho = phi2 (rho / (1 - rho^2) + h k / (1 - rho^2) - rho Q' / (1 - rho^2)^2), Q' = h^2 - 2 rho h k + k^2
    dd = np.zeros_like(dens)
    dval = val * ((ri + hi * ki) / one - ri * quad / (one * one))
    dd[:, 1:-1, 1:-1] = dval if inner.all() else np.where(inner, dval, 0.0)
    d2prob = dd[:, 1:, 1:] - dd[:, :-1, 1:] - dd[:, 1:, :-1] + dd[:, :-1, :-1]
    return prob, dprob, d2prob


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
        inner = bounds[:, 1:-1]
        dens = np.where(np.abs(inner) < BIG, np.exp(-(inner**2) / 2) / np.sqrt(2 * np.pi), 0.0)
        return dens.sum(axis=1) / sd

    with np.errstate(divide="ignore", invalid="ignore"):
        rho = r / (c(tables.sum(axis=2), bi) * c(tables.sum(axis=1), bj))
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
    npair = tables.sum(axis=(1, 2))
    active = np.ones(rho.size, dtype=bool)
    converged = np.zeros(rho.size, dtype=bool)
    probs = np.zeros(tables.shape)
    dprobs = np.zeros(tables.shape)
    it = 0
    max_step = 0.0
    newton = np.zeros(rho.size, dtype=bool)  # pairs close enough for Newton steps
    for it in range(1, max_iter + 1):
        idx = np.flatnonzero(active)
        # the first step from the start values uses the coarse quadrature (it only needs to get close;
        # every later step and the convergence check use the full one)
        coarse = it == 1
        want2 = bool(newton[idx].any())
        out = cell_probs(bi[idx], bj[idx], rho[idx], second=want2, coarse=coarse)
        prob, dprob = out[0], out[1]
        n = tables[idx]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(prob > 0, dprob / prob, 0.0)
        score = (n * ratio).sum(axis=(1, 2))
        info = npair[idx] * (dprob * ratio).sum(axis=(1, 2))  # expected information (Fisher scoring)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.where(info > 0, score / info, 0.0)
        if want2:
            # Newton (observed information: quadratic convergence) once a pair is near its maximum and
            # the log-likelihood is concave there; Fisher scoring otherwise
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio2 = np.where(prob > 0, out[2] / prob, 0.0)
            hess = (n * (ratio2 - ratio * ratio)).sum(axis=(1, 2))  # the log-likelihood's second derivative
            use_newton = newton[idx] & (hess < 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(use_newton, -score / hess, step)
        newton[idx] = np.abs(step) < 0.05
        max_step = float(np.abs(step).max()) if step.size else 0.0
        # a pair whose step is below tol is converged at the rho just evaluated (the step is not
        # taken, so its cell probabilities are those of the returned estimate)
        done = (np.abs(step) < tol) & (not coarse)
        probs[idx[done]] = prob[done]
        dprobs[idx[done]] = dprob[done]
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
        probs[idx], dprobs[idx] = cell_probs(bi[idx], bj[idx], rho[idx])
    return PairFit(rho, converged, it, max_step, probs, dprobs)
