"""Factor extraction from a correlation matrix: minres, maximum likelihood, principal axis.

Owned code following ``psych::fa`` (Revelle, psych 2.2.9) so that solutions agree with it:

- minres (Harman & Jones, 1966): uniquenesses minimise the sum of squared off-diagonal
  residuals of ``R`` reproduced from the first k eigenvectors of ``R - diag(psi)``; the
  objective and gradient are psych's ``fit.residuals`` / ``FAgr.minres``; start
  ``psi = 1 - SMC``; bounds [.005, max(SMC, 1)] (psych's L-BFGS-B box). psych stops with
  L-BFGS-B's default tolerance; allyscale iterates to a tighter one, so the two agree to
  psych's own precision (about 1e-4);
- ML (Lawley & Maxwell, 1971): psych's ``FAfn`` / ``FAgr`` on the scaled matrix
  ``Psi^-1/2 R Psi^-1/2``;
- principal axis: SMCs on the diagonal, iterated until the total communality changes by
  less than ``min_err`` (.001) or 50 iterations, exactly psych's rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.optimize import OptimizeResult, minimize

__all__ = ["smc", "Extraction", "minres", "ml", "pa", "reduced_eigenvalues"]


def smc(r: np.ndarray) -> np.ndarray:
    """Squared multiple correlations ``1 - 1 / diag(R^-1)`` (psych::smc for a PD matrix)."""
    return 1 - 1 / np.diag(np.linalg.inv(r))


@dataclass
class Extraction:
    loadings: np.ndarray  # p × k, unrotated, columns signed to positive sums
    uniquenesses: np.ndarray  # the optimised psi (minres/ML) or 1 - communality (PA)
    converged: bool
    iterations: int
    objective: float
    message: str = ""


def _top_eigen(m: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest eigenvalues (descending) and their vectors of a symmetric matrix."""
    p = m.shape[0]
    if 4 * k < p:  # only the leading pairs: LAPACK's subset driver is several times faster
        vals, vecs = scipy.linalg.eigh(m, subset_by_index=[p - k, p - 1], driver="evr", check_finite=False)
    else:
        vals, vecs = np.linalg.eigh(m)
    order = np.argsort(vals)[::-1][:k]
    return vals[order], vecs[:, order]


def _minres_loadings(psi: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    s = r.copy()
    np.fill_diagonal(s, np.diag(r) - psi)
    vals, vecs = _top_eigen(s, k)
    return vecs * np.sqrt(np.maximum(vals, 0))


def _minres_objective(psi: np.ndarray, r: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """psych's ``fit.residuals`` (value) and ``FAgr.minres`` (gradient) for a correlation matrix."""
    s = r.copy()
    np.fill_diagonal(s, np.diag(r) - psi)
    vals, vecs = _top_eigen(s, k)
    load_g = vecs * np.sqrt(np.maximum(vals, 0))
    vals = np.where(vals < np.finfo(float).eps, 100 * np.finfo(float).eps, vals)
    load = vecs * np.sqrt(vals)
    resid = s - load @ load.T
    f = float((np.tril(resid, -1) ** 2).sum())
    g = (load_g**2).sum(axis=1) + psi - np.diag(r)
    return f, g


def _ml_objective(psi: np.ndarray, r: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    sc = 1 / np.sqrt(psi)
    sstar = r * np.outer(sc, sc)
    vals, vecs = np.linalg.eigh(sstar)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    e = vals[k:]
    f = -float((np.log(e) - e).sum() - k + r.shape[0])
    load = vecs[:, :k] * np.sqrt(np.maximum(vals[:k] - 1, 0))
    load = load * np.sqrt(psi)[:, None]
    g = np.diag(load @ load.T + np.diag(psi) - r) / psi**2
    return f, g


def _optimise(objective, r: np.ndarray, k: int, tol: float) -> tuple[np.ndarray, OptimizeResult]:
    s = smc(r)
    start = np.diag(r) - s
    upper = max(float(s.max()), 1.0)
    res = minimize(
        objective,
        start,
        args=(r, k),
        jac=True,
        method="L-BFGS-B",
        bounds=[(0.005, upper)] * r.shape[0],
        options={"ftol": tol, "gtol": 1e-10, "maxiter": 10_000, "maxcor": 20},
    )
    return res.x, res


def _signed(load: np.ndarray) -> np.ndarray:
    sign = np.sign(load.sum(axis=0))
    sign[sign == 0] = 1
    return load * sign


def minres(r: np.ndarray, k: int, *, tol: float = 1e-14) -> Extraction:
    """Minimum-residual factors (psych's fm = "minres")."""
    psi, res = _optimise(_minres_objective, r, k, tol)
    return Extraction(
        _signed(_minres_loadings(psi, r, k)), psi, bool(res.success), int(res.nit), float(res.fun), str(res.message)
    )


def ml(r: np.ndarray, k: int, *, tol: float = 1e-14) -> Extraction:
    """Maximum-likelihood factors (psych's fm = "ml")."""
    psi, res = _optimise(_ml_objective, r, k, tol)
    sc = 1 / np.sqrt(psi)
    vals, vecs = _top_eigen(r * np.outer(sc, sc), k)
    load = (vecs * np.sqrt(np.maximum(vals - 1, 0))) * np.sqrt(psi)[:, None]
    return Extraction(_signed(load), psi, bool(res.success), int(res.nit), float(res.fun), str(res.message))


def pa(r: np.ndarray, k: int, *, min_err: float = 0.001, max_iter: int = 50) -> Extraction:
    """Principal axis factors with psych's stopping rule (total communality change < ``min_err``)."""
    rm = r.copy()
    np.fill_diagonal(rm, smc(r))
    comm = float(np.trace(rm))
    err = comm
    it = 0
    converged = True
    load = np.zeros((r.shape[0], k))  # no common variance at all (all SMCs 0): no loadings
    while err > min_err:
        vals, vecs = _top_eigen(rm, k)
        load = vecs * np.sqrt(vals)
        new = (load**2).sum(axis=1)
        comm1 = float(new.sum())
        np.fill_diagonal(rm, new)
        err = abs(comm - comm1)
        comm = comm1
        it += 1
        if it >= max_iter:
            converged = err <= min_err
            break
    return Extraction(_signed(load), 1 - (load**2).sum(axis=1), converged, it, err)


def reduced_eigenvalues(r: np.ndarray, loadings: np.ndarray) -> np.ndarray:
    """Eigenvalues of R with the model communalities on the diagonal (psych's ``fa()$values``)."""
    s = r.copy()
    np.fill_diagonal(s, (loadings**2).sum(axis=1))
    return np.sort(np.linalg.eigvalsh(s))[::-1]
