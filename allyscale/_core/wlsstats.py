"""WLS sample statistics of ordinal items and their asymptotic covariance (numpy/scipy only).

The statistics ``s = (tau, rho)`` are lavaan's two-step thresholds and polychoric
correlations (thresholds first, item order, then the correlations in lavaan's
``vech(COR, diagonal = FALSE)`` order). Their asymptotic covariance ``Gamma`` (lavaan's
``NACOV``, ``lavInspect(fit, "gamma")``) is ``IF' IF / N`` for the casewise influence
functions of the two-step estimator (Muthén, 1984; lavaan's ``muthen1984``):

* threshold influences ``N A_j^-1 s_ij`` from each item's scores ``s_ij`` and the sum
  ``A_j`` of their outer products over the cases;
* correlation influences ``N (s_rho - A_rho,tau_i A_i^-1 s_tau_i - A_rho,tau_j A_j^-1 s_tau_j)
  / A_rho,rho`` from each pair's scores, with the empirical sums ``A`` of lavaan.

Missing responses (lavaan's ``missing = "pairwise"``): a missing response contributes a zero
score (lavaan sums scores with ``na.rm = TRUE``), so each item's ``A_j`` sums over the
``N_j`` cases observing it and each pair's over the ``N_jk`` cases observing both, and ``N``
is every case observing at least one item. With complete data this is the usual
formula.

``Gamma`` is held by :class:`ACov` in whichever form is cheaper: the N x q influence matrix
when ``N <= q`` (every product with ``Gamma`` goes through it), otherwise ``Gamma`` itself,
accumulated from blocks of cases so that the N x q matrix is never stored.

References
----------
Muthén, B. (1984). A general structural equation model with dichotomous, ordered
categorical, and continuous latent variable indicators. Psychometrika, 49, 115-132.
Muthén, B., & Satorra, A. (1995). Technical aspects of Muthén's LISCOMP approach to
estimation of latent variable relations with a comprehensive measurement model.
Psychometrika, 60, 489-503.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import sparse as _sparse
from scipy.linalg.blas import dsyrk
from scipy.special import ndtr

from allyscale._core import polychoric as _pc

__all__ = ["ACov", "influence", "statistics", "subset_statistics", "PairNeverObserved", "TooFewCategories"]

#: Gamma is formed (q x q) when N > q and q is at most this (q^2 doubles of memory)
GAMMA_MAX_Q = 7000
_BLOCK = 4_000_000  # doubles per block of cases when Gamma is accumulated
#: below this share of nonzeros a weighted Jacobian multiplies the influence matrix as a sparse
#: matrix (measured, one thread: p = 200, N = 2,000, 1.4% nonzero: 0.14 s against 0.34 s for the
#: dense BLAS product; p = 100, N = 500, 2.5%: 8 against 26 ms; p = 60, N = 500, 3.7%: 1.1 against
#: 7.4 ms; p = 30, N = 200, one factor, 9.8%: 0.11 against 0.17 ms)
_SPARSE_DENSITY = 0.10
#: N^2 q above which the Gram matrix is split between threads (about a second of one core)
_SPLIT_WORK = 5e9


class PairNeverObserved(ValueError):
    """Two items with no case observing both (the caller names them)."""

    def __init__(self, i: int, j: int):
        super().__init__(f"items {i} and {j} are never observed together")
        self.pair = (i, j)


class TooFewCategories(ValueError):
    """An item with fewer than two observed categories."""


class ACov:
    """The asymptotic covariance ``Gamma`` of ``sqrt(N) s`` for one group, as the influence
    matrix (``Gamma = IF' IF / N``) or as the q x q matrix. Picklable (arrays only)."""

    def __init__(self, n: int, IF: np.ndarray | None = None, gamma: np.ndarray | None = None):
        if (IF is None) == (gamma is None):
            raise ValueError("ACov needs exactly one of IF and gamma")
        self.n = int(n)
        self.IF = IF
        self.gamma = gamma
        self._grams: dict = {}
        self._diag: np.ndarray | None = None

    def __getstate__(self):  # the Gram cache and the diagonal are rebuilt on demand
        return {"n": self.n, "IF": self.IF, "gamma": self.gamma, "_grams": {}, "_diag": None}

    @property
    def _IF(self) -> np.ndarray:
        """The influence matrix (N x q) of an ACov held in that form."""
        if self.IF is None:
            raise ValueError("this ACov holds Gamma, not the influence matrix")
        return self.IF

    @property
    def q(self) -> int:
        held = self.IF if self.IF is not None else self.gamma
        assert held is not None  # exactly one is set (__init__)
        return int(held.shape[1])

    @property
    def form(self) -> str:
        return "influence" if self.IF is not None else "gamma"

    def diag(self) -> np.ndarray:
        """``diag(Gamma)`` (computed once; a copy)."""
        if self._diag is None:
            if self.gamma is not None:
                self._diag = np.diag(self.gamma).copy()
            else:
                self._diag = np.einsum("ij,ij->j", self._IF, self._IF) / self.n
        return self._diag.copy()

    def dense(self) -> np.ndarray:
        """``Gamma`` (q x q)."""
        if self.gamma is not None:
            return self.gamma
        return self._IF.T @ self._IF / self.n

    def sub(self, cols: np.ndarray) -> ACov:
        cols = np.asarray(cols, dtype=int)
        if self.gamma is not None:
            return ACov(self.n, gamma=self.gamma[np.ix_(cols, cols)])
        return ACov(self.n, IF=np.asarray(self._IF[:, cols], order="F"))

    def block(self, cols) -> np.ndarray:
        """``Gamma[cols, cols]`` (dense; ``cols`` a slice or index array)."""
        if isinstance(cols, slice):
            if self.gamma is not None:
                return self.gamma[cols, cols]
            part = self._IF[:, cols]
            return part.T @ part / self.n
        cols = np.asarray(cols, dtype=int)
        if self.gamma is not None:
            return self.gamma[np.ix_(cols, cols)]
        part = self._IF[:, cols]
        return part.T @ part / self.n

    def times(self, a, cols=None) -> np.ndarray:
        """``Gamma[:, cols] a`` for a dense or sparse ``a`` (rows = ``cols``, all by default);
        dense (q x m)."""
        if cols is None:
            cols = slice(None)
        if self.gamma is not None:
            g = self.gamma[cols] if isinstance(cols, slice) else self.gamma[np.asarray(cols, dtype=int)]
            return np.asarray(a.T @ g).T  # Gamma symmetric: Gamma[:, c] a = (a' Gamma[c, :])'
        part = self._IF[:, cols]
        ifa = part @ a
        ifa = np.asarray(ifa.toarray() if _sparse.issparse(ifa) else ifa)
        return self._IF.T @ ifa / self.n

    def _key(self, cols) -> tuple:
        if cols is None:
            return (None,)
        if isinstance(cols, slice):
            return ("slice", cols.start, cols.stop)
        return ("idx", np.asarray(cols).tobytes())

    def gram(self, w: np.ndarray, cols=None, threads: int = 1) -> np.ndarray:
        """``IF_c W IF_c'`` (N x N) of the influence form, built from blocks of columns and kept
        (the weights are the data's, fixed per statistics). Large ones (N^2 q above
        ``_SPLIT_WORK``) are split into ranges of columns, each summed by one of ``threads``
        Python threads (the public layer passes :func:`allyscale._threads.kernel_threads`;
        single-threaded BLAS calls; the partial matrices are added at the end)."""
        if not hasattr(self, "_grams"):
            self._grams = {}
        key = self._key(cols)
        if key not in self._grams:
            IF = self._IF if cols is None else self._IF[:, cols]
            n, q = IF.shape
            if w.size != q:
                raise ValueError("weights and statistics differ in length")
            sw = np.sqrt(w)
            step = min(2048, max(1, _BLOCK // max(n, 1)))  # at most 2,048 columns: the block stays small
            starts = list(range(0, q, step))
            threads = min(threads, len(starts)) if float(n) * n * q > _SPLIT_WORK else 1

            def part(block_starts) -> np.ndarray:
                gram = np.zeros((n, n), order="F")
                for a in block_starts:
                    z = np.asfortranarray(IF[:, a : a + step] * sw[a : a + step])
                    # symmetric rank-m update (upper triangle): half the operations of z @ z.T
                    gram = dsyrk(1.0, z, beta=1.0, c=gram, trans=0, lower=0, overwrite_c=1)
                return gram

            if threads > 1:
                from concurrent.futures import ThreadPoolExecutor

                chunks = [starts[i::threads] for i in range(threads)]
                with ThreadPoolExecutor(threads) as pool:
                    parts = list(pool.map(part, chunks))
                gram = parts[0]
                for other in parts[1:]:
                    gram += other
            else:
                gram = part(starts)
            iu = np.tril_indices(n, -1)
            gram[iu] = gram.T[iu]
            self._grams[key] = gram
        return self._grams[key]

    def trace_wgwg(self, w: np.ndarray, cols=None, threads: int = 1) -> float:
        """``tr((W Gamma)^2)`` for ``W = diag(w)`` (restricted to ``cols`` if given), through the
        smaller of the q x q and N x N Gram matrices."""
        if self.gamma is not None:
            g = (
                self.gamma
                if cols is None
                else (self.gamma[cols, cols] if isinstance(cols, slice) else self.gamma[np.ix_(cols, cols)])
            )
            sw = np.sqrt(w)
            m = g * sw[:, None] * sw[None, :]
            return float(np.einsum("ij,ij->", m, m))
        IF = self._IF if cols is None else self._IF[:, cols]
        n, q = IF.shape
        if w.size != q:
            raise ValueError("weights and statistics differ in length")
        if n <= q:
            gram = self.gram(w, cols, threads)
            return float(np.einsum("ij,ij->", gram, gram)) / n**2
        z = IF * np.sqrt(w)
        g = z.T @ z
        return float(np.einsum("ij,ij->", g, g)) / n**2

    def products(self, a, w: np.ndarray, cols=None, threads: int = 1) -> tuple[np.ndarray, np.ndarray, Any]:
        """``M = a' Gamma_cc a`` and ``a' Gamma_cc W Gamma_cc a`` for the rows ``cols`` (all by
        default; ``a`` dense or sparse, ``len(cols) x m``), and a handle for :meth:`cross`.

        Influence form: with ``Y = IF_c a`` (N x m), ``M = Y'Y / N`` and the second product
        ``Y' (IF_c W IF_c') Y / N^2`` (the N x N Gram of :meth:`gram`, shared by every model
        fitted to the data), never a q x m product; matrix form: ``H = Gamma[:, c] a``.
        """
        if (
            _sparse.issparse(a)
            and a.shape[0] * a.shape[1] <= 20_000_000
            and (self.gamma is not None or a.nnz > _SPARSE_DENSITY * a.shape[0] * a.shape[1])
        ):
            a = a.toarray()  # dense BLAS products beat sparse-times-dense at these sizes
        if self.gamma is not None:
            h = self.times(a, cols)
            hc = h if cols is None else h[cols]
            return np.asarray(a.T @ hc), hc.T @ (w[:, None] * hc), ("h", h)
        IF = self._IF if cols is None else self._IF[:, cols]
        y = IF @ a
        y = np.asarray(y.toarray() if _sparse.issparse(y) else y)
        n = self.n
        if n <= IF.shape[1]:
            hwh = y.T @ (self.gram(w, cols, threads) @ y) / n**2
        else:
            h = IF.T @ y / n
            hwh = h.T @ (w[:, None] * h)
        return y.T @ y / n, hwh, ("y", y)

    def cross(self, handle, rows) -> np.ndarray:
        """``Gamma[rows, c] a`` from the handle of :meth:`products`."""
        kind, arr = handle
        if kind == "h":
            return arr[rows]
        return self._IF[:, rows].T @ arr / self.n

    def trace_wg(self, w: np.ndarray) -> float:
        return float(w @ self.diag())


def _encode(y: np.ndarray):
    codes, cats = _pc.encode(y)
    n_cat = np.array([len(c) for c in cats])
    return codes, cats, n_cat


def _conditional_cells(u: np.ndarray, v: np.ndarray, rho: np.ndarray, s: np.ndarray) -> np.ndarray:
    """``P(v_b < Y <= v_(b+1) | X = u_a)`` for standard bivariate normal (X, Y) with correlation
    ``rho`` and ``s = sqrt(1 - rho^2)``: (P, K-1, K) from the pairs' interior thresholds ``u``,
    ``v`` (P, K-1); the outer bounds contribute exactly 0 and 1."""
    z = ndtr((v[:, None, :] - rho[:, None, None] * u[:, :, None]) / s[:, None, None])
    shape = (z.shape[0], z.shape[1], 1)
    cdf = np.concatenate([np.zeros(shape), z, np.ones(shape)], axis=2)
    return cdf[:, :, 1:] - cdf[:, :, :-1]


def _threshold_influence_tables(th: np.ndarray, n_cat: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Each item's threshold influences as a function of the case's category: ``scale_j s_j A_j^-1``
    with the scores ``s_j`` (categories x thresholds) and their information ``A_j`` (tridiagonal),
    zero-padded to (p, Kmax + 1, Kmax - 1) (the last row for a missing response)."""
    p, km1 = th.shape
    kmax = km1 + 1
    valid = np.arange(km1)[None, :] < (n_cat - 1)[:, None]  # (p, Kmax - 1): the item's own thresholds
    t = np.where(valid, th, 0.0)
    cdf = np.concatenate([np.zeros((p, 1)), np.where(valid, ndtr(t), 1.0), np.ones((p, 1))], axis=1)
    prob = np.diff(cdf, axis=1)  # (p, Kmax): zero for the padding categories
    dens = np.where(valid, np.exp(-(t**2) / 2) / np.sqrt(2 * np.pi), 0.0)
    with np.errstate(divide="ignore"):
        inv_p = np.where(prob > 0, 1.0 / prob, 0.0)
    info = np.zeros((p, km1, km1))
    m = np.arange(km1)
    info[:, m, m] = np.where(valid, dens**2 * (inv_p[:, :-1] + inv_p[:, 1:]), 1.0)
    off = -dens[:, :-1] * dens[:, 1:] * inv_p[:, 1:-1]  # (p, Kmax - 2), zero past the item's thresholds
    info[:, m[:-1], m[1:]] = off
    info[:, m[1:], m[:-1]] = off
    scores = np.zeros((p, kmax, km1))
    scores[:, m, m] = dens * inv_p[:, :-1]
    scores[:, m + 1, m] = -dens * inv_p[:, 1:]
    out = np.zeros((p, kmax + 1, km1))
    out[:, :kmax] = scale[:, None, None] * (scores @ np.linalg.inv(info))
    return out


def _setup(y: np.ndarray, tol: float) -> dict[str, Any]:
    """Everything the influences need that does not depend on the individual case."""
    codes, cats, n_cat = _encode(y)
    if (n_cat < 2).any():
        raise TooFewCategories(int(np.flatnonzero(n_cat < 2)[0]))
    observed = codes >= 0
    keep = observed.any(axis=1)
    if not keep.all():  # cases observing no item carry no information (lavaan drops them)
        codes = codes[keep]
        observed = observed[keep]
    n, p = codes.shape
    kmax = int(n_cat.max())
    th = _pc.thresholds(codes, n_cat)
    bounds = _pc._bounds(th)
    iu = np.triu_indices(p, 1)
    tables = _pc.pair_tables(codes, kmax, iu).astype(float)
    npair = tables.sum(axis=(1, 2))
    never = np.flatnonzero(npair == 0)
    if never.size:
        raise PairNeverObserved(int(iu[0][never[0]]), int(iu[1][never[0]]))
    if observed.all():
        start = _pc.olsson_start_complete(codes, bounds, iu)
    else:
        start = _pc.olsson_start(tables, bounds[iu[0]], bounds[iu[1]])
    fit = _pc.polychoric_pairs(tables, bounds[iu[0]], bounds[iu[1]], start, tol=tol)
    rho = fit.rho
    n_obs = observed.sum(axis=0)
    # ---- thresholds: A_j / N_j (the observed cases' mean outer product of the scores) and its inverse,
    # for every item at once on the padded (p, Kmax - 1) thresholds (padding: a unit diagonal, zero scores)
    t_all = _threshold_influence_tables(th, n_cat, n / n_obs)
    # ---- correlations
    prob, dprob = fit.prob, fit.dprob  # at the estimates (polychoric_pairs)
    assert prob is not None and dprob is not None
    ratio = _pc.cell_ratio(dprob, prob)  # rho score of each cell (P, K, K)
    phat = tables / npair[:, None, None]
    qmat = _pc.cell_ratio(phat * ratio, prob)
    i_rr = (phat * ratio**2).sum(axis=(1, 2))
    s_ = np.sqrt(1 - rho**2)
    u = bounds[iu[0]][:, 1:-1]
    uu = bounds[iu[1]][:, 1:-1]
    du = np.exp(-(u**2) / 2) / np.sqrt(2 * np.pi)
    i_ru = (du[:, :, None] * _conditional_cells(u, uu, rho, s_) * (qmat[:, :-1, :] - qmat[:, 1:, :])).sum(axis=2)
    dv = np.exp(-(uu**2) / 2) / np.sqrt(2 * np.pi)
    cv = _conditional_cells(uu, u, rho, s_)
    i_rv = (dv[:, :, None] * cv * (qmat[:, :, :-1] - qmat[:, :, 1:]).transpose(0, 2, 1)).sum(axis=2)
    # a pair's influence is a function of the case's two categories (and is zero-scored where one is
    # missing): the (K + 1) x (K + 1) table, the last row/column for "missing"
    P = len(rho)
    tab = np.zeros((P, kmax + 1, kmax + 1))
    tab[:, :kmax, :kmax] = ratio * (n / npair)[:, None, None]
    # every item's threshold influence table, zero-padded to (K + 1) x (K - 1): the pairs' threshold
    # corrections in two products over all pairs (the padded thresholds' i_ru, i_rv are zero)
    th_tab = [t_all[j, :, : n_cat[j] - 1] for j in range(p)]
    tab -= np.einsum("pm,pam->pa", i_ru, t_all[iu[0]])[:, :, None]
    tab -= np.einsum("pm,pbm->pb", i_rv, t_all[iu[1]])[:, None, :]
    tab /= i_rr[:, None, None]
    return {
        "codes": codes,
        "n": n,
        "p": p,
        "kmax": kmax,
        "n_cat": n_cat,
        "th": [th[j, : n_cat[j] - 1] for j in range(p)],
        "rho": rho,
        "pairs": iu,
        "converged": bool(fit.converged.all()),
        "pair_tab_flat": tab.ravel(),
        "pair_off": np.arange(P, dtype=np.intp) * (kmax + 1) ** 2,
        "th_tab": th_tab,
        "n_obs": n_obs,
        "n_pair": npair,
        "dropped": int((~keep).sum()),
    }


def _all_rows(setup: dict[str, Any]) -> np.ndarray:
    """The influence matrix transposed, (q, N), filled from blocks of cases (bounded scratch memory)."""
    n = setup["n"]
    kmax = setup["kmax"]
    th_tab = setup["th_tab"]
    n_th = int(sum(t.shape[1] for t in th_tab))
    P = len(setup["rho"])
    out = np.empty((n_th + P, n))
    c = np.where(setup["codes"] >= 0, setup["codes"], kmax).T.astype(np.intp)  # (p, n): missing -> the zero row
    r = 0
    for j, t_j in enumerate(th_tab):
        out[r : r + t_j.shape[1]] = t_j[c[j]].T
        r += t_j.shape[1]
    # the pairs (i, j > i) of item i are consecutive rows: filled a block of rows at a time, each a
    # contiguous slice of ``out`` (positions in the stacked (P, K+1, K+1) tables, at most _BLOCK at once)
    iu0 = setup["pairs"][0]
    flat, off = setup["pair_tab_flat"], setup["pair_off"]
    step = max(1, _BLOCK // max(n, 1))
    for a in range(0, P, step):
        b = min(P, a + step)
        i_first, i_last = int(iu0[a]), int(iu0[b - 1])
        for i in range(i_first, i_last + 1):
            lo = max(a, int(np.searchsorted(iu0, i, side="left")))
            hi = min(b, int(np.searchsorted(iu0, i, side="right")))
            j0 = i + 1 + (lo - int(np.searchsorted(iu0, i, side="left")))
            cell = c[j0 : j0 + hi - lo] + (c[i] * (kmax + 1))[None, :]
            cell += off[lo:hi, None]
            np.take(flat, cell, out=out[n_th + lo : n_th + hi], mode="clip")  # in range by construction
    return out


def _rows(setup: dict[str, Any], rows: slice, out: np.ndarray | None = None) -> np.ndarray:
    """The influence rows of some cases: (q, n_rows), row-major per statistic."""
    codes = setup["codes"][rows]
    kmax = setup["kmax"]
    c = np.where(codes >= 0, codes, kmax).T.astype(np.intp)  # (p, n): missing -> the zero row
    iu = setup["pairs"]
    n_th = int(sum(t.shape[1] for t in setup["th_tab"]))
    P = len(setup["rho"])
    if out is None:
        out = np.empty((n_th + P, c.shape[1]))
    r = 0
    for j, t_j in enumerate(setup["th_tab"]):
        out[r : r + t_j.shape[1]] = t_j[c[j]].T
        r += t_j.shape[1]
    cell = c[iu[0]] * (kmax + 1)
    cell += c[iu[1]]
    cell += setup["pair_off"][:, None]  # flat positions in the stacked (P, K+1, K+1) tables
    # the positions are in range by construction: mode="clip" writes straight into ``out`` (with
    # the default mode="raise" numpy buffers the whole result first)
    if out[n_th:].flags.c_contiguous:
        np.take(setup["pair_tab_flat"], cell, out=out[n_th:], mode="clip")
    else:
        out[n_th:] = np.take(setup["pair_tab_flat"], cell, mode="clip")
    return out


def influence(y: np.ndarray, *, tol: float = 1e-10) -> dict[str, Any]:
    """Thresholds, polychoric correlations and the N x q influence matrix of (tau, rho).

    Parameters
    ----------
    y : (N, p) array of ordinal responses (any integer coding; NaN = missing, pairwise).

    Returns
    -------
    dict with ``th`` (list of arrays per item), ``rho`` (P,), ``IF`` (N, q) with columns
    thresholds (item order, t1..) then correlations (row-major upper triangle = lavaan's
    column-wise lower triangle), ``n_cat`` (p,), ``pairs``, ``converged``, ``n``.
    """
    setup = _setup(np.asarray(y, dtype=float), tol)
    ift = _all_rows(setup)
    out = {k: setup[k] for k in ("th", "rho", "n_cat", "pairs", "converged", "n", "n_obs", "n_pair", "dropped")}
    out["IF"] = ift.T
    return out


def statistics(y: np.ndarray, *, tol: float = 1e-10, form: str = "auto") -> dict[str, Any]:
    """The statistics of :func:`influence` with their :class:`ACov` (``acov``), the DWLS weights
    ``w = 1 / diag(Gamma)`` and ``n_th``.

    ``form``: ``"influence"`` keeps the N x q influence matrix (also as ``IF``), ``"gamma"``
    accumulates the q x q ``Gamma`` from blocks of cases, ``"auto"`` the second when
    ``N > q`` (and ``q <= GAMMA_MAX_Q``), the cheaper form for every product the estimator
    needs.
    """
    setup = _setup(np.asarray(y, dtype=float), tol)
    n = setup["n"]
    n_th = int(sum(len(t) for t in setup["th"]))
    q = n_th + len(setup["rho"])
    if form == "auto":
        form = "gamma" if (n > q and q <= GAMMA_MAX_Q) else "influence"
    out = {k: setup[k] for k in ("th", "rho", "n_cat", "pairs", "converged", "n", "n_obs", "n_pair", "dropped")}
    if form == "influence":
        ift = _all_rows(setup)
        IF = ift.T
        acov = ACov(n, IF=IF)
        out["IF"] = IF
    else:
        g = np.zeros((q, q), order="F")
        step = max(1, _BLOCK // q)
        for a in range(0, n, step):
            blk = _rows(setup, slice(a, a + step))  # (q, m): blk blk' accumulates
            g = dsyrk(1.0, blk.T, beta=1.0, c=g, trans=1, lower=0, overwrite_c=1)
        g = np.triu(g) + np.triu(g, 1).T
        g /= n
        acov = ACov(n, gamma=g)
    out["acov"] = acov
    out["w"] = 1.0 / acov.diag()
    out["n_th"] = n_th
    return out


def subset_statistics(stats: dict[str, Any], idx) -> dict[str, Any]:
    """The statistics of the items ``idx`` (positions, in the new order), taken from ``stats``
    without recomputation.

    Each threshold and its influence depend on its own item only, each polychoric
    correlation and its influence on its own pair (the two-step estimator), so the
    sub-blocks equal a fresh computation on those items' columns (with missing data, only if
    no case is left without any of the chosen items). Pairs are renumbered in lavaan's
    ``vech(COR, diagonal = FALSE)`` order of the new item order.
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
    out = {
        "th": [stats["th"][j] for j in idx],
        "rho": np.asarray(stats["rho"])[pair_cols],
        "n_cat": n_cat[idx],
        "pairs": iu,
        "converged": stats["converged"],
        "n": stats["n"],
    }
    for key in ("n_obs",):
        if key in stats:
            out[key] = np.asarray(stats[key])[idx]
    if "n_pair" in stats:
        out["n_pair"] = np.asarray(stats["n_pair"])[pair_cols]
    out["dropped"] = stats.get("dropped", 0)
    n_obs = np.asarray(stats.get("n_obs", np.full(p, stats["n"])))
    if (n_obs[idx] < stats["n"]).any():
        # missing responses: cases answering none of the chosen items drop out (as in a fresh
        # computation); every influence carries the factor N, so the rest are rescaled
        IF = stats["acov"].IF if "acov" in stats else stats.get("IF")
        if IF is None:
            raise ValueError("a subset of pairwise statistics needs the influence form")
        sub = IF[:, cols]
        keep = np.any(sub != 0, axis=1)
        if not keep.all():
            n_new = int(keep.sum())
            sub = sub[keep] * (n_new / stats["n"])
            out.update(n=n_new, dropped=out["dropped"] + int((~keep).sum()))
            out["IF"] = np.asarray(sub, order="F")
            if "acov" in stats:
                out["acov"] = ACov(n_new, IF=out["IF"])
                out["w"] = 1.0 / out["acov"].diag()
                out["n_th"] = int(th_cols.size)
            return out
    if "acov" in stats:
        out["acov"] = stats["acov"].sub(cols)
        if out["acov"].IF is not None:
            out["IF"] = out["acov"].IF
        out["w"] = np.asarray(stats["w"])[cols]
        out["n_th"] = int(th_cols.size)
    elif "IF" in stats:
        out["IF"] = np.ascontiguousarray(stats["IF"][:, cols])
    return out
