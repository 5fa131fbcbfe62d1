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

__all__ = [
    "sandwich",
    "h1_trace",
    "h1_trace_missing",
    "h1_missing_information",
    "h0_trace",
    "scaling_factor",
    "fiml_corrected",
    "complete_information",
    "saturated_jacobian",
]


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


def h1_missing_information(gd, sigma: np.ndarray, mu: np.ndarray, ov: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(A1, B1)`` of the saturated model of one group with missing data (lavaan's
    ``h1.information = "unstructured"``, observed information), per case, in the
    coordinates of :func:`allyscale._core.ml.saturated_spec` (means, then the lower
    triangle of Sigma column by column): A1 the Hessian of the FIML log-likelihood at the EM
    estimates, B1 the cross-product of the casewise scores."""
    from allyscale._core import ml as _ml

    spec = _ml.saturated_spec(ov)
    x = _ml.saturated_x(sigma, mu)
    a1 = _ml.observed_information(spec, [gd], x) / gd.n
    sc = _ml.casewise_scores(spec, [gd], x)[0]
    b1 = sc.T @ sc / gd.n
    return a1, b1


def h1_trace_missing(
    gd, sigma: np.ndarray, mu: np.ndarray, ov: list[str], info: tuple[np.ndarray, np.ndarray] | None = None
) -> float:
    """``tr(A1^-1 B1)`` of :func:`h1_missing_information` (computed unless given as ``info``)."""
    a1, b1 = info if info is not None else h1_missing_information(gd, sigma, mu, ov)
    return float(np.sum(b1 * np.linalg.inv(a1).T))


def _lower(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the saturated covariance coordinates (lower triangle, column by column)."""
    rows, cols = [], []
    for j in range(p):
        for i in range(j, p):
            rows.append(i)
            cols.append(j)
    return np.array(rows), np.array(cols)


def complete_information(sigma: np.ndarray) -> np.ndarray:
    """Per-case information of complete normal data at ``(Sigma, mu)`` in the saturated
    coordinates: ``Sigma^-1`` for the means, ``D' (V x V) D / 2`` for the covariances (``D``
    the duplication matrix of the lower-triangle coordinates, ``V = Sigma^-1``), no cross
    block. At the saturated estimates observed and expected information coincide."""
    p = sigma.shape[0]
    v = np.linalg.inv(sigma)
    r, c = _lower(p)
    cov = v[r][:, r] * v[c][:, c] + v[r][:, c] * v[c][:, r]
    mult = np.where(r == c, 0.5, 1.0)
    cov = cov * mult[:, None] * mult[None, :]  # = tr(V dSigma_a V dSigma_b) / 2
    ps = p + r.size
    out = np.zeros((ps, ps))
    out[:p, :p] = v
    out[p:, p:] = cov
    return out


def saturated_jacobian(ds: np.ndarray, dm: np.ndarray) -> np.ndarray:
    """The model Jacobian in the saturated coordinates, ``(p + p(p+1)/2) x k``, from
    :meth:`ModelSpec.derivatives`' ``dSigma`` (k, p, p) and ``dmu`` (k, p)."""
    p = dm.shape[1]
    r, c = _lower(p)
    return np.vstack([dm.T, ds[:, r, c].T])


def _ml_discrepancy(sigma: np.ndarray, mu: np.ndarray, s: np.ndarray, m: np.ndarray) -> float:
    """``log|Sigma| - log|S| + tr(S Sigma^-1) - p + (m - mu)' Sigma^-1 (m - mu)``."""
    inv = np.linalg.inv(sigma)
    d = m - mu
    return float(np.linalg.slogdet(sigma)[1] - np.linalg.slogdet(s)[1] + np.sum(s * inv) - len(mu) + d @ inv @ d)


def fiml_corrected(groups: list[dict], df: float, df_null: float) -> dict[str, float]:
    """lavaan 0.6.14's FIML-corrected pieces of the robust CFI/TLI/RMSEA with missing data
    (``lav_fit_fiml_corrected``, version "V3" for a scaled test; Zhang & Savalei, 2023).

    Each group gives ``n``, the saturated EM moments ``sigma_t, mu_t``, the per-case observed
    and first-order information of the saturated FIML model ``a1, b1``
    (:func:`h1_missing_information`), the model's implied moments ``sigma, mu`` and its
    Jacobian ``delta`` in the saturated coordinates (:func:`saturated_jacobian`), and the
    independence model's implied moments ``sigma_b, mu_b``.

    ``XX3 = sum_g N_g F_ML(model; Sigma~, mu~)`` (the FIML estimates' complete-data ML
    statistic against the EM moments), ``c.hat3 = tr(U Wm^-1 Wc Wm^-1 U Gamma) / df`` with
    ``Wm = blockdiag(f_g A1_g)`` the missing-data and ``Wc = blockdiag(f_g I_c,g)`` the
    complete-data h1 information (:func:`complete_information` at the EM moments),
    ``Gamma = blockdiag(A1_g^-1 B1_g A1_g^-1 / f_g)``, ``U = Wm - Wm D E^-1 D' Wm``,
    ``E = D' Wm D``; the same with the independence model's ``D_B`` for ``XX3.null`` and
    ``c.hat3.null``.

    References
    ----------
    Zhang, X., & Savalei, V. (2023). New computations for RMSEA and CFI following FIML and TS
    estimation with missing data. Psychological Methods, 28, 263-283.
    """
    from scipy.linalg import block_diag

    n = np.array([float(g["n"]) for g in groups])
    f = n / n.sum()
    wm = block_diag(*[fg * g["a1"] for fg, g in zip(f, groups)])
    a1_inv = [np.linalg.inv(g["a1"]) for g in groups]
    wmi = block_diag(*[ai / fg for ai, fg in zip(a1_inv, f)])
    wc = block_diag(*[fg * complete_information(g["sigma_t"]) for fg, g in zip(f, groups)])
    gam = block_diag(*[ai @ g["b1"] @ ai / fg for ai, g, fg in zip(a1_inv, groups, f)])
    middle = wmi @ wc @ wmi

    def trace(delta):
        e_inv = np.linalg.inv(delta.T @ wm @ delta)
        wd = wm @ delta
        u = wm - wd @ e_inv @ wd.T
        return float(np.sum((u @ middle @ u) * gam.T))

    delta = np.vstack([g["delta"] for g in groups])
    xx3 = float(sum(g["n"] * _ml_discrepancy(g["sigma"], g["mu"], g["sigma_t"], g["mu_t"]) for g in groups))
    xx3_null = float(sum(g["n"] * _ml_discrepancy(g["sigma_b"], g["mu_b"], g["sigma_t"], g["mu_t"]) for g in groups))
    p = groups[0]["mu"].size
    ps = wm.shape[0] // len(groups)
    r, c = _lower(p)
    sel = np.zeros((ps, 2 * p))
    sel[np.arange(p), np.arange(p)] = 1.0  # means
    sel[p + np.flatnonzero(r == c), p + np.arange(p)] = 1.0  # variances
    delta_b = block_diag(*[sel for _ in groups])
    c_hat = trace(delta) / df if df > 0 else np.nan
    c_null = trace(delta_b) / df_null
    return robust_pieces(xx3, df, c_hat, xx3_null, df_null, c_null)


def robust_pieces(xx3: float, df: float, c_hat: float, xx3_null: float, df_null: float, c_null: float) -> dict:
    """lavaan's pieces of the ``.robust`` indices (``XX3, df3, c.hat3, XX3.scaled, XX3.null,
    df3.null, c.hat3.null``), as both the FIML-corrected and the catML versions return them."""
    return {
        "XX3": xx3,
        "df3": df,
        "c.hat3": c_hat,
        "XX3.scaled": xx3 / c_hat if df > 0 else np.nan,
        "XX3.null": xx3_null,
        "df3.null": df_null,
        "c.hat3.null": c_null,
    }


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
