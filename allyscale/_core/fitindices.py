"""Fit indices, one function per index, with lavaan 0.6.14's definitions.

N is the total sample size (lavaan's ML uses N, not N - 1); G the number of groups.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import chdtr, chndtr
from scipy.stats import chi2, ncx2

__all__ = ["pvalue", "cfi", "tli", "rmsea", "rmsea_ci", "rmsea_pvalue", "srmr_bentler", "aic", "bic"]


def pvalue(chisq: float, df: float) -> float:
    """Upper-tail chi-square probability (NaN for df = 0)."""
    return float(chi2.sf(chisq, df)) if df > 0 else np.nan


def cfi(chisq: float, df: float, chisq_base: float, df_base: float, c: float = 1.0, c_base: float = 1.0) -> float:
    """Comparative fit index (Bentler, 1990): ``1 - max(X2 - c df, 0) / max(X2 - c df, X2_0 - c_0 df_0, 0)``.

    With ``c, c_0`` the scaling factors of the model and baseline tests and the *unscaled*
    statistics this is the robust CFI of Brosseau-Liard & Savalei (2014), as lavaan's
    ``cfi.robust`` (used only when both factors differ from 1); ``cfi.scaled`` is this
    function applied to the scaled statistics with ``c = c_0 = 1``.
    """
    if np.isnan([chisq, df, chisq_base, df_base, c, c_base]).any():
        return np.nan
    if not (df > 0 and c != 1 and c_base != 1):
        c = c_base = 1.0
    t1 = max(chisq - c * df, 0.0)
    t2 = max(chisq - c * df, chisq_base - c_base * df_base, 0.0)
    if np.isclose(t1, 0.0, atol=1.5e-8) and np.isclose(t2, 0.0, atol=1.5e-8):
        return 1.0
    return 1.0 - t1 / t2


def tli(chisq: float, df: float, chisq_base: float, df_base: float, c: float = 1.0, c_base: float = 1.0) -> float:
    """Tucker-Lewis index (Tucker & Lewis, 1973): ``1 - (X2 - c df) df_0 / ((X2_0 - c_0 df_0) df)``.

    With scaling factors this is lavaan's ``tli.robust`` (Brosseau-Liard & Savalei, 2014);
    ``c = c_0 = 1`` gives the usual ``(X2_0/df_0 - X2/df) / (X2_0/df_0 - 1)``.
    """
    if np.isnan([chisq, df, chisq_base, df_base, c, c_base]).any():
        return np.nan
    if not (df > 0 and c != 1 and c_base != 1):
        c = c_base = 1.0
    t1 = (chisq - c * df) * df_base
    t2 = (chisq_base - c_base * df_base) * df
    if df > 0 and abs(t2) > 0:
        return 1.0 - t1 / t2
    return 1.0


def rmsea(chisq: float, df: float, n: float, ngroups: int = 1, c: float = 1.0) -> float:
    """RMSEA (Steiger, 1990) as lavaan: ``sqrt(max(X2 / (N df) - c / N, 0)) * sqrt(G)`` (N, not N - 1).

    ``c`` is 1 for the ordinary RMSEA; the scaling factor for lavaan's ``rmsea.robust``
    (Brosseau-Liard, Savalei & Li, 2012). lavaan's ``rmsea.scaled`` is this function with
    the unscaled X2 and ``df = tr(UGamma)`` (the scaling factor times df).
    """
    if np.isnan([chisq, df, c]).any():
        return np.nan
    if not df > 0:
        return 0.0
    return float(np.sqrt(max(chisq / (n * df) - c / n, 0.0)) * np.sqrt(ngroups))


def _ncp(chisq: float, df: float, prob: float) -> float:
    """Noncentrality lambda with P(X2_df(lambda) <= chisq) = prob (0 when even lambda = 0 is below)."""
    f = lambda lam: chndtr(chisq, df, lam) - prob if lam > 0 else chdtr(df, chisq) - prob
    if f(0.0) < 0:
        return 0.0
    hi = max(chisq, 1.0)
    while f(hi) > 0:
        hi *= 2
    return brentq(f, 0.0, hi, xtol=1e-12)


def rmsea_ci(chisq: float, df: float, n: float, ngroups: int = 1, level: float = 0.90) -> tuple[float, float]:
    """Confidence interval of the RMSEA by inverting the noncentral chi-square (Browne & Cudeck, 1993);
    NaN for a statistic or df that is not a finite number (an unconverged or undefined test)."""
    if not (np.isfinite(chisq) and np.isfinite(df) and np.isfinite(n)):
        return np.nan, np.nan
    if df == 0:
        return 0.0, 0.0
    alpha = (1 - level) / 2
    lo = _ncp(chisq, df, 1 - alpha)
    hi = _ncp(chisq, df, alpha)
    scale = lambda lam: float(np.sqrt(lam / (n * df)) * np.sqrt(ngroups))
    return scale(lo), scale(hi)


def rmsea_pvalue(chisq: float, df: float, n: float, ngroups: int = 1, close: float = 0.05) -> float:
    """P(RMSEA <= close): ``1 - F_ncx2(X2; df, close^2 N df / G)`` (test of close fit)."""
    if df == 0:
        return np.nan
    lam = close**2 * n * df / ngroups
    return float(ncx2.sf(chisq, df, lam))


def srmr_bentler(
    samples: list[tuple[np.ndarray, np.ndarray | None]],
    implied: list[tuple[np.ndarray, np.ndarray | None]],
    weights: list[float],
) -> float:
    """Standardized root mean square residual, Bentler's version (lavaan's ``srmr`` for ML).

    Residuals ``(s_ij - sigma_ij) / sqrt(s_ii s_jj)`` over the lower triangle including the
    diagonal (and mean residuals ``(ybar_i - mu_i) / sqrt(s_ii)`` with a mean structure),
    root of their mean; groups combined with weights ``N_g / N``.
    """
    total = 0.0
    for (s, ybar), (sig, mu), w in zip(samples, implied, weights):
        sd = np.sqrt(np.diag(s))
        res = (s - sig) / np.outer(sd, sd)
        vals = res[np.tril_indices(s.shape[0])]
        if ybar is not None and mu is not None:
            vals = np.concatenate([vals, (ybar - mu) / sd])
        total += w * np.sqrt(np.mean(vals**2))
    return float(total)


def aic(logl: float, npar: int) -> float:
    """Akaike information criterion ``-2 logL + 2 npar`` (Akaike, 1974)."""
    return -2 * logl + 2 * npar


def bic(logl: float, npar: int, n: float) -> float:
    """Bayesian information criterion ``-2 logL + npar log N`` (Schwarz, 1978)."""
    return -2 * logl + npar * np.log(n)
