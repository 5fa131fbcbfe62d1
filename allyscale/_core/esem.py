"""Rotation of EFA blocks inside a structural equation model (ESEM), as lavaan 0.6.14.

Owned code (numpy only) following lavaan 0.6.14's published algorithm (``lav_model_efa.R``,
``lav_matrix_rotate.R``, ``lav_matrix_rotate_methods.R``) and the papers behind it:

1. The unrotated model is identified by the echelon pattern (see ``allyscale.syntax``); each
   EFA block's loadings ``A`` (items of the block x its factors) are rotated after the fit.
2. Rotation of ``A``: rows divided by the model-implied standard deviations of the items
   (``std.ov``; ``diag(A A' + Theta)`` of the block), optionally row weights (Kaiser or
   Cureton-Mulaik), the gradient projection algorithm (Jennrich, 2001, 2002; Bernaards &
   Jennrich, 2005) from ``rstarts`` random orthonormal starts (the best criterion kept), the
   weights undone, columns reflected to positive sums and ordered by the index of their
   large loadings (Asparouhov & Muthén, 2009, Appendix D).
3. The whole model is rotated with the block-diagonal matrix ``H``: ``Lambda H'^-1``,
   ``H' Psi H``, ``H' B H'^-1``, ``H' alpha``.
4. Standard errors by lavaan's default ``rotation.se = "bordered"``: the rotated model with the
   echelon zeros and within-block covariances freed, and the rotation's stationarity
   conditions as equality constraints (Jennrich, 1973; Archer & Jennrich, 1973): the
   constrained covariance ``K (K' B K)^-1 K' M K (K' B K)^-1 K'`` with ``K`` a basis of the
   null space of the constraints' Jacobian (the top-left block of the inverse of lavaan's
   bordered information matrix). The constraints are those of lavaan 0.6.14's
   ``lav_model_efa_rotate_border_x``: with ``Z = A' G(A)`` (``A`` the rotated block loadings
   after std.ov and row weights, ``G`` the criterion's gradient), the off-diagonal elements
   of ``Z - Z'`` (orthogonal) or of ``Z - diag(Z) Phi`` (oblique). As in lavaan, the std.ov
   variances used there are ``diag(A A' + Theta)`` of the rotated loadings.

Criteria (``f``, gradient ``dF/dL``): geomin ``sum_i (prod_j (l_ij^2 + eps))^(1/m)``
(Yates, 1987; Browne, 2001; lavaan's default epsilon 0.001), oblimin with gamma (Jennrich,
2002; quartimin gamma = 0), target and partially specified target ``sum W (L - T)^2``
(Browne, 2001), varimax / orthomax / quartimax (Kaiser, 1958; Jennrich, 2001), and the
bifactor criteria bi-geomin and bi-quartimin (the criterion on the group factors, columns 2..m;
Jennrich & Bentler, 2011, 2012).

References
----------
Asparouhov, T., & Muthén, B. (2009). Exploratory structural equation modeling. Structural
Equation Modeling, 16, 397-438.
Bernaards, C. A., & Jennrich, R. I. (2005). Gradient projection algorithms and software for
arbitrary rotation criteria in factor analysis. Educational and Psychological Measurement, 65.
Browne, M. W. (2001). An overview of analytic rotation in exploratory factor analysis.
Multivariate Behavioral Research, 36, 111-150.
Jennrich, R. I. (1973). Standard errors for obliquely rotated factor loadings. Psychometrika, 38.
Jennrich, R. I., & Bentler, P. M. (2011, 2012). Exploratory bi-factor analysis (orthogonal;
oblique). Psychometrika, 76, 537-549; 77, 442-454.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "METHODS",
    "ORTHOGONAL_ONLY",
    "criterion",
    "gpa",
    "rotate_block",
    "BlockRotation",
    "Block",
    "border_constraints",
    "constrained_inverse",
]

Criterion = Callable[[np.ndarray], tuple[float, np.ndarray]]

METHODS = (
    "geomin",
    "oblimin",
    "quartimin",
    "target",
    "pst",
    "bigeomin",
    "biquartimin",
    "varimax",
    "quartimax",
    "orthomax",
)
#: rotations lavaan forces to be orthogonal
ORTHOGONAL_ONLY = ("varimax",)
BIFACTOR = ("bigeomin", "biquartimin")


def _geomin(L: np.ndarray, eps: float) -> tuple[float, np.ndarray]:
    m = L.shape[1]
    L2 = L * L + eps
    pro = np.exp(np.log(L2).sum(axis=1) / m)
    return float(pro.sum()), (2.0 / m) * L / L2 * pro[:, None]


def _oblimin(L: np.ndarray, gamma: float) -> tuple[float, np.ndarray]:
    p, m = L.shape
    L2 = L * L
    LR = L2.sum(axis=1, keepdims=True) - L2  # L2 (1 1' - I)
    if gamma != 0:
        LR = LR - gamma * LR.mean(axis=0, keepdims=True)
    return float((L2 * LR).sum() / 4), L * LR


def _orthomax(L: np.ndarray, gamma: float, absolute: bool = False) -> tuple[float, np.ndarray]:
    L2 = L * L
    c = L2 - gamma * L2.mean(axis=0, keepdims=True)
    f = float((L2 * c).sum())
    return -(abs(f) if absolute else f) / 4, -L * c


def criterion(
    method: str,
    *,
    geomin_epsilon: float = 0.001,
    oblimin_gamma: float = 0.0,
    orthomax_gamma: float = 1.0,
    target: np.ndarray | None = None,
    target_mask: np.ndarray | None = None,
) -> Criterion:
    """The criterion ``L -> (f, dF/dL)`` of a rotation method (lavaan 0.6.14's formulas).

    ``target``: the target matrix (``"target"``); ``"pst"`` uses ``target_mask`` (1 = specified).
    """
    if method == "geomin":
        return lambda L: _geomin(L, geomin_epsilon)
    if method == "oblimin":
        return lambda L: _oblimin(L, oblimin_gamma)
    if method == "quartimin":
        return lambda L: _oblimin(L, 0.0)
    if method == "varimax":
        return lambda L: _orthomax(L, 1.0, absolute=True)
    if method == "orthomax":
        return lambda L: _orthomax(L, orthomax_gamma)
    if method == "quartimax":
        return lambda L: _orthomax(L, 0.0)
    if method in ("target", "pst"):
        tgt = np.asarray(target, dtype=float)
        mask = np.ones_like(tgt) if method == "target" else np.asarray(target_mask, dtype=float)
        t0 = np.where(mask > 0, tgt, 0.0)

        def vgq(L):
            d = mask * L - t0
            return float((d * d).sum()), 2.0 * d

        return vgq
    if method in BIFACTOR:
        inner = (lambda L: _geomin(L, geomin_epsilon)) if method == "bigeomin" else (lambda L: _oblimin(L, 0.0))

        def vgq(L):
            f, g = inner(L[:, 1:])
            return f, np.hstack([np.zeros((L.shape[0], 1)), g])

        return vgq
    raise ValueError(f"unknown rotation method {method!r}")


def gpa(
    A: np.ndarray, vgq: Criterion, *, orthogonal: bool, T0: np.ndarray, tol: float = 1e-5, max_iter: int = 10000
) -> tuple[np.ndarray, float, bool, int]:
    """Gradient projection rotation (Jennrich, 2001, 2002), as lavaan's ``lav_matrix_rotate_gpa``:
    the step doubled each iteration and halved (up to 1000 times) until the criterion decreases
    by ``0.5 |Gp|^2 alpha``; converged when ``|Gp|_F < tol``. Returns ``(T, f, converged, iterations)``
    with loadings ``A T`` (orthogonal) or ``A T'^-1`` (oblique)."""
    T = T0.copy()
    alpha = 1.0
    inv = np.linalg.inv

    if orthogonal:
        L = A @ T
    else:
        Ti = inv(T)
        L = A @ Ti.T
    f, Gq = vgq(L)
    G = A.T @ Gq if orthogonal else -Ti.T @ (Gq.T @ L)
    converged = False
    it = 0
    for it in range(max_iter + 1):
        if orthogonal:
            M = T.T @ G
            Gp = G - T @ ((M + M.T) / 2)
        else:
            Gp = G - T * (T * G).sum(axis=0)[None, :]
        frob = float(np.sqrt((Gp * Gp).sum()))
        if frob < tol:
            converged = True
            break
        alpha *= 2
        for _ in range(1000):
            X = T - alpha * Gp
            if orthogonal:
                U, _, Vt = np.linalg.svd(X)
                Tt = U @ Vt
                L = A @ Tt
            else:
                Tt = X / np.sqrt((X * X).sum(axis=0))[None, :]
                Ti = inv(Tt)
                L = A @ Ti.T
            f_new, Gq = vgq(L)
            if f_new < f - 0.5 * frob * frob * alpha:
                break
            alpha /= 2
        T, f = Tt, f_new
        G = A.T @ Gq if orthogonal else -Ti.T @ (Gq.T @ L)
    return T, float(f), converged, it


def _random_rotation(m: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthonormal start (Q of the QR decomposition of a Gaussian matrix)."""
    q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    return q


def _row_weights(A: np.ndarray, kind: str) -> np.ndarray:
    if kind == "none":
        return np.ones(A.shape[0])
    kaiser = 1.0 / np.sqrt((A * A).sum(axis=1))
    if kind == "kaiser":
        return kaiser
    # Cureton & Mulaik (1975), times the Kaiser weights (Browne, 2001)
    p, m = A.shape
    vals, vecs = np.linalg.eigh(A @ A.T)
    a = vecs[:, -1] * np.sqrt(vals[-1])
    a_star = np.abs(a * kaiser)
    ms = 1.0 / np.sqrt(m)
    acm = np.arccos(ms)
    delta = np.where(a_star < ms, np.pi / 2, 0.0)
    tmp = (acm - np.arccos(np.clip(a_star, -1, 1))) / (acm - delta) * (np.pi / 2)
    return (np.cos(tmp) ** 2 + 0.001) * kaiser


@dataclass
class BlockRotation:
    """One block's rotation: ``rot`` (lavaan's ``H``, columns reflected and ordered),
    ``loadings`` ``A H'^-1``, ``phi`` ``H'H``, the criterion value, convergence, the order
    of the factors and the criteria of every start."""

    rot: np.ndarray
    loadings: np.ndarray
    phi: np.ndarray
    value: float
    converged: bool
    iterations: int
    order: np.ndarray
    start_values: np.ndarray = field(default_factory=lambda: np.zeros(0))


def rotate_block(
    A: np.ndarray,
    method: str,
    *,
    orthogonal: bool,
    ov_var: np.ndarray | None,
    row_weights: str = "none",
    rstarts: int = 30,
    rng: np.random.Generator | None = None,
    init: np.ndarray | None = None,
    reflect: bool = True,
    order_by: str = "index",
    gpa_tol: float = 1e-5,
    max_iter: int = 10000,
    **crit_args: Any,
) -> BlockRotation:
    """Rotate one block's unrotated loadings ``A`` as lavaan's ``lav_matrix_rotate`` (see module)."""
    p, m = A.shape
    vgq = criterion(method, **crit_args)
    sd = np.sqrt(ov_var) if ov_var is not None else np.ones(p)
    As = A / sd[:, None]
    w = _row_weights(As, row_weights)
    Aw = As * w[:, None]
    if init is not None or rstarts <= 0:
        T0s = [np.eye(m) if init is None else init]
    else:
        rng = rng if rng is not None else np.random.default_rng(0)
        T0s = [_random_rotation(m, rng) for _ in range(rstarts)]
    best: tuple[np.ndarray, float, bool, int] | None = None
    values = []
    for T0 in T0s:
        T, f, conv, it = gpa(Aw, vgq, orthogonal=orthogonal, T0=T0, tol=gpa_tol, max_iter=max_iter)
        values.append(f)
        if best is None or f < best[1]:
            best = (T, f, conv, it)
    if best is None:  # T0s always holds at least one start
        raise ValueError("no rotation start")
    T, f, conv, it = best
    L = Aw @ T if orthogonal else np.linalg.solve(T, Aw.T).T
    L = L / w[:, None] * sd[:, None]
    T = T.copy()
    if reflect:
        neg = L.sum(axis=0) < 0
        L[:, neg] *= -1
        T[:, neg] *= -1
    if order_by == "index":
        mx = np.abs(L).max(axis=0)
        avg = [np.mean(np.flatnonzero(np.abs(L[:, j]) >= 0.8 * mx[j]) + 1) for j in range(m)]
        order = np.argsort(avg, kind="stable")
    elif order_by == "sumofsquares":
        order = np.argsort(-(L * L).sum(axis=0), kind="stable")
    else:
        order = np.arange(m)
    L, T = L[:, order], T[:, order]
    phi = np.eye(m) if orthogonal else T.T @ T
    return BlockRotation(T, L, phi, f, conv, it, order, np.array(values))


@dataclass
class Block:
    """An EFA block of one group: its item and factor indices in the model matrices."""

    name: str
    ov_idx: np.ndarray
    lv_idx: np.ndarray


def border_constraints(
    lam: np.ndarray,
    theta: np.ndarray,
    psi: np.ndarray,
    blocks: list[Block],
    method: str,
    *,
    orthogonal: bool,
    std_ov: bool,
    row_weights: str,
    **crit_args: Any,
) -> np.ndarray:
    """The rotation's stationarity conditions at a rotated solution, lavaan 0.6.14's
    ``lav_model_efa_rotate_border_x`` (see the module docstring), stacked over blocks."""
    vgq = criterion(method, **crit_args)
    out = []
    for b in blocks:
        if len(b.lv_idx) < 2 or not len(b.ov_idx):
            continue
        A = lam[np.ix_(b.ov_idx, b.lv_idx)]
        if std_ov:
            var = np.einsum("ij,ij->i", A, A) + np.diag(theta)[b.ov_idx]
            A = A / np.sqrt(var)[:, None]
        A = A * _row_weights(A, row_weights)[:, None]
        _, Gq = vgq(A)
        Z = A.T @ Gq
        m = Z.shape[0]
        il = np.tril_indices(m, -1)
        if orthogonal:
            out.append((Z - Z.T)[il])
        else:
            P = psi[np.ix_(b.lv_idx, b.lv_idx)]
            tmp = Z - P * np.diag(Z)[:, None]
            out.append(tmp[il])
            out.append(tmp.T[il])
    return np.concatenate(out) if out else np.zeros(0)


def constrained_inverse(info: np.ndarray, jac: np.ndarray) -> np.ndarray:
    """``K (K' I K)^-1 K'``, ``K`` an orthonormal basis of the null space of ``jac``: the top-left
    block of the inverse of the bordered matrix ``[[I + J'J, J'], [J, 0]]`` (lavaan's
    ``lav_model_information_augment_invert``)."""
    if jac.size == 0:
        return np.linalg.inv(info)
    u, s, vt = np.linalg.svd(jac, full_matrices=True)
    rank = int((s > s.max() * max(jac.shape) * np.finfo(float).eps).sum())
    K = vt[rank:].T  # (q, q - rank)
    inner = K.T @ info @ K
    return K @ np.linalg.inv(inner) @ K.T
