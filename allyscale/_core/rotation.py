"""Factor rotations: gradient projection (GPArotation's algorithms), varimax and promax.

Owned code following the published algorithms and GPArotation's / psych's conventions:

- oblique rotations by the gradient projection algorithm of Jennrich (2002), as
  ``GPArotation::GPFoblq`` (step doubling and halving, convergence when the norm of the
  projected gradient is below ``eps`` = 1e-5, at most 1000 iterations), with the
  criteria oblimin (gamma = 0: quartimin; Jennrich, 2002), geomin (delta = .01; Yates,
  1987) and target / partially specified target (Browne, 2001);
- orthogonal rotations by ``GPForth`` (Jennrich, 2001);
- varimax as ``stats::varimax`` (Kaiser, 1958; Kaiser normalisation, eps = 1e-5);
- promax as ``psych::Promax`` behind ``psych::kaiser``: rows normalised by the square
  root of their communality, varimax, target ``x |x|^(m - 1)`` with m = 4, least-squares
  fit, rescaling (Hendrickson & White, 1964), rows de-normalised.

References
----------
Bernaards, C. A., & Jennrich, R. I. (2005). Gradient projection algorithms and software
for arbitrary rotation criteria in factor analysis. Educational and Psychological
Measurement, 65, 676-696.
Jennrich, R. I. (2002). A simple general method for oblique rotation. Psychometrika, 67, 7-19.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Rotation",
    "gpf_oblique",
    "gpf_orthogonal",
    "oblimin",
    "geomin",
    "target",
    "varimax",
    "promax",
    "random_orthonormal",
]

Criterion = Callable[[np.ndarray], tuple[float, np.ndarray]]


@dataclass
class Rotation:
    """Rotated loadings ``L = A (T')^-1`` (oblique) or ``A T`` (orthogonal), ``phi = T'T``."""

    loadings: np.ndarray
    phi: np.ndarray
    T: np.ndarray
    criterion: float
    converged: bool
    iterations: int


def oblimin(gamma: float = 0.0) -> Criterion:
    """Oblimin criterion ``f = sum(L^2 * (L^2 N)) / 4`` with ``N`` = 1 off the diagonal (gamma-centred)."""

    def vgq(L: np.ndarray) -> tuple[float, np.ndarray]:
        k = L.shape[1]
        X = (L**2) @ (np.ones((k, k)) - np.eye(k))
        if gamma != 0:
            p = L.shape[0]
            X = (np.eye(p) - gamma / p) @ X
        return float((L**2 * X).sum() / 4), L * X

    return vgq


def geomin(delta: float = 0.01) -> Criterion:
    """Geomin criterion ``f = sum_i (prod_j (L_ij^2 + delta))^(1/k)``."""

    def vgq(L: np.ndarray) -> tuple[float, np.ndarray]:
        k = L.shape[1]
        L2 = L**2 + delta
        pro = np.exp(np.log(L2).sum(axis=1) / k)
        return float(pro.sum()), (2 / k) * (L / L2) * pro[:, None]

    return vgq


def target(target_matrix: np.ndarray) -> Criterion:
    """(Partially specified) target criterion ``f = sum((L - Target)^2)`` over specified (non-NaN) cells."""
    W = ~np.isnan(target_matrix)
    tgt = np.where(W, target_matrix, 0.0)

    def vgq(L: np.ndarray) -> tuple[float, np.ndarray]:
        d = np.where(W, L - tgt, 0.0)
        return float((d**2).sum()), 2 * d

    return vgq


def gpf_oblique(
    A: np.ndarray, vgq: Criterion, T0: np.ndarray | None = None, *, eps: float = 1e-5, maxit: int = 1000
) -> Rotation:
    """Oblique gradient projection rotation (GPArotation's GPFoblq)."""
    k = A.shape[1]
    T = np.eye(k) if T0 is None else T0.copy()
    al = 1.0
    Ti = np.linalg.inv(T)
    L = A @ Ti.T
    f, Gq = vgq(L)
    G = -(L.T @ Gq @ Ti).T
    converged = False
    it = 0
    for it in range(maxit + 1):
        Gp = G - T @ np.diag((T * G).sum(axis=0))
        s = np.sqrt((Gp**2).sum())
        if s < eps:
            converged = True
            break
        al *= 2
        for _ in range(11):
            X = T - al * Gp
            Tt = X / np.sqrt((X**2).sum(axis=0))
            Ti = np.linalg.inv(Tt)
            L = A @ Ti.T
            ft, Gqt = vgq(L)
            if f - ft > 0.5 * s**2 * al:
                break
            al /= 2
        T, f, Gq = Tt, ft, Gqt
        G = -(L.T @ Gq @ Ti).T
    L = A @ np.linalg.inv(T).T
    return Rotation(L, T.T @ T, T, f, converged, it)


def gpf_orthogonal(
    A: np.ndarray, vgq: Criterion, T0: np.ndarray | None = None, *, eps: float = 1e-5, maxit: int = 1000
) -> Rotation:
    """Orthogonal gradient projection rotation (GPArotation's GPForth)."""
    k = A.shape[1]
    T = np.eye(k) if T0 is None else T0.copy()
    al = 1.0
    L = A @ T
    f, Gq = vgq(L)
    G = A.T @ Gq
    converged = False
    it = 0
    for it in range(maxit + 1):
        M = T.T @ G
        S = (M + M.T) / 2
        Gp = G - T @ S
        s = np.sqrt((Gp**2).sum())
        if s < eps:
            converged = True
            break
        al *= 2
        for _ in range(11):
            X = T - al * Gp
            U, _, Vt = np.linalg.svd(X)
            Tt = U @ Vt
            L = A @ Tt
            ft, Gqt = vgq(L)
            if f - ft > 0.5 * s**2 * al:
                break
            al /= 2
        T, f, Gq = Tt, ft, Gqt
        G = A.T @ Gq
    return Rotation(A @ T, np.eye(k), T, f, converged, it)


def varimax(A: np.ndarray, *, normalize: bool = True, eps: float = 1e-5, maxit: int = 1000) -> Rotation:
    """Varimax as ``stats::varimax`` (Kaiser normalisation by default)."""
    k = A.shape[1]
    x = A.copy()
    sc = np.sqrt((x**2).sum(axis=1)) if normalize else np.ones(x.shape[0])
    x = x / sc[:, None]
    p = x.shape[0]
    TT = np.eye(k)
    d = 0.0
    converged = False
    it = 0
    for it in range(1, maxit + 1):
        z = x @ TT
        B = x.T @ (z**3 - z @ np.diag((z**2).sum(axis=0)) / p)
        U, sv, Vt = np.linalg.svd(B)
        TT = U @ Vt
        dpast, d = d, sv.sum()
        if d < dpast * (1 + eps):
            converged = True
            break
    z = (x @ TT) * sc[:, None]
    crit = float(((z**2) ** 2).sum() - ((z**2).sum(axis=0) ** 2).sum() / p)
    return Rotation(z, np.eye(k), TT, crit, converged, it)


def promax(A: np.ndarray, *, m: int = 4) -> Rotation:
    """Promax as ``psych::kaiser(f, rotate = "Promax")``: Kaiser-normalised ``psych::Promax``."""
    h2 = (A**2).sum(axis=1)
    w = A / np.sqrt(h2)[:, None]
    vm = varimax(w)
    x = vm.loadings
    Q = x * np.abs(x) ** (m - 1)
    U = np.linalg.lstsq(x, Q, rcond=None)[0]
    d = np.diag(np.linalg.inv(U.T @ U))
    U = U @ np.diag(np.sqrt(d))
    z = x @ U
    U = vm.T @ U
    ui = np.linalg.inv(U)
    phi = ui @ ui.T
    return Rotation(z * np.sqrt(h2)[:, None], phi, U, np.nan, vm.converged, vm.iterations)


def random_orthonormal(k: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthonormal k × k matrix (QR of a Gaussian matrix with sign fix), a rotation start."""
    q, r = np.linalg.qr(rng.standard_normal((k, k)))
    return q * np.sign(np.diag(r))
