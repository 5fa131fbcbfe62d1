"""Robust ML: Huber-White sandwich covariance and the Yuan-Bentler (Mplus variant) scaled test.

These follow lavaan 0.6.14's ``estimator = "MLR"``: ``se = "robust.huber.white"`` with
``information = "observed"`` (the Hessian, ``observed.information = "hessian"``) as the
bread and the first-order (casewise score cross-product) information as the meat
(Huber, 1967; White, 1982), and ``test = "yuan.bentler.mplus"`` (Yuan & Bentler, 2000;
Muthen & Muthen's variant), whose scaling factor is

    c = [ sum_g tr(A1_g^-1 B1_g) - sum_g f_g tr(E^-1 B0_g) ] / df,

A1/B1 the expected/first-order information of the saturated model per case (unstructured,
evaluated at the sample moments), B0_g the first-order information of the model per case in
group g, E the observed information per case of the model, f_g = N_g / N.

References
----------
Huber, P. J. (1967). The behavior of maximum likelihood estimates under nonstandard conditions.
White, H. (1982). Maximum likelihood estimation of misspecified models. Econometrica, 50, 1-25.
Yuan, K.-H., & Bentler, P. M. (2000). Three likelihood-based methods for mean and covariance
structure analysis with nonnormal missing data. Sociological Methodology, 30, 165-200.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sandwich", "h1_trace", "h1_trace_missing", "h0_trace", "scaling_factor"]


def sandwich(bread: np.ndarray, meat: np.ndarray) -> np.ndarray:
    """``A^-1 B A^-1`` (both summed over cases); raises LinAlgError when A is singular."""
    a_inv = np.linalg.inv(bread)
    return a_inv @ meat @ a_inv


def h1_trace(y: np.ndarray, meanstructure: bool = True) -> float:
    """``tr(A1^-1 B1)`` of the saturated mean-and-covariance model for complete data.

    With ``d_i = (y_i - ybar)' S^-1 (y_i - ybar)`` (S with divisor N) this is exactly
    ``mean(d_i^2) / 2 + p / 2`` (mean part ``mean(d_i) = p``, covariance part
    ``mean(d_i^2 - 2 d_i + p) / 2``): the saturated scores are A1 times the moment
    deviations, so the trace is their quadratic form (Mardia's kurtosis appears). Without a
    mean structure the mean part (``p``) is left out.
    """
    n, p = y.shape
    dev = y - y.mean(axis=0)
    s = dev.T @ dev / n
    d = np.einsum("ij,ij->i", dev @ np.linalg.inv(s), dev)
    return float(0.5 * np.mean(d**2) + (0.5 * p if meanstructure else -0.5 * p))


def h1_trace_missing(gd, sigma: np.ndarray, mu: np.ndarray, ov: list[str]) -> float:
    """``tr(A1^-1 B1)`` of the saturated model of one group with missing data (lavaan's
    ``h1.information = "unstructured"``, observed information): A1 the Hessian of the
    FIML log-likelihood of the saturated model at its EM estimates, B1 the cross-product of
    its casewise scores (both per case)."""
    from allyscale._core import ml as _ml

    spec = _ml.saturated_spec(ov)
    x = _ml.saturated_x(sigma, mu)
    a1 = _ml.observed_information(spec, [gd], x) / gd.n
    sc = _ml.casewise_scores(spec, [gd], x)[0]
    b1 = sc.T @ sc / gd.n
    return float(np.sum(b1 * np.linalg.inv(a1).T))


def h0_trace(e_inv: np.ndarray, scores: list[np.ndarray], n_total: int) -> list[float]:
    """Per group ``f_g tr(E^-1 B0_g)``; ``e_inv`` the inverse per-case observed information,
    ``scores`` the casewise scores of each group."""
    out = []
    for sc in scores:
        n_g = sc.shape[0]
        b0 = sc.T @ sc / n_g
        out.append(float(n_g / n_total * np.sum(b0 * e_inv.T)))
    return out


def scaling_factor(trace_h1: float, trace_h0: float, df: float) -> float:
    """Yuan-Bentler (Mplus) scaling factor ``(tr_h1 - tr_h0) / df`` (NaN if df <= 0 or negative)."""
    if df <= 0:
        return np.nan
    c = (trace_h1 - trace_h0) / df
    return float(c) if c > 0 else np.nan
