"""Fit indices, one function each, against lavaan 0.6.14's internal functions (values printed by Rscript)."""

from __future__ import annotations

import numpy as np
from numpy.testing import assert_allclose

from allyscale._core import fitindices as fi


def test_cfi_tli_plain_and_robust():
    # R: lavaan:::lav_fit_cfi(X2 = 85.3, df = 24, X2.null = 918.85, df.null = 36)
    assert_allclose(fi.cfi(85.3, 24, 918.85, 36), 0.930565781276548, rtol=1e-12)
    # R: lavaan:::lav_fit_tli(X2 = 85.3, df = 24, X2.null = 918.85, df.null = 36)
    assert_allclose(fi.tli(85.3, 24, 918.85, 36), 0.895848671914821, rtol=1e-12)
    # R: lavaan:::lav_fit_cfi(..., c.hat = 1.2, c.hat.null = 1.5)  (Brosseau-Liard & Savalei, 2014)
    assert_allclose(fi.cfi(85.3, 24, 918.85, 36, 1.2, 1.5), 0.934670752153553, rtol=1e-12)
    # R: lavaan:::lav_fit_tli(..., c.hat = 1.2, c.hat.null = 1.5)
    assert_allclose(fi.tli(85.3, 24, 918.85, 36, 1.2, 1.5), 0.902006128230329, rtol=1e-12)
    assert fi.cfi(10, 24, 918.85, 36) == 1.0
    assert np.isnan(fi.cfi(np.nan, 24, 918.85, 36))


def test_rmsea_and_ci():
    # R: lavaan:::lav_fit_rmsea(X2 = 85.3, df = 24, N = 301, G = 2)
    assert_allclose(fi.rmsea(85.3, 24, 301, 2), 0.130273585532471, rtol=1e-12)
    # R: lavaan:::lav_fit_rmsea(X2 = 85.3, df = 24, N = 301, c.hat = 1.2)  (Brosseau-Liard, Savalei & Li, 2012)
    assert_allclose(fi.rmsea(85.3, 24, 301, 1, c=1.2), 0.0884372756053722, rtol=1e-12)
    # R: lavaan:::lav_fit_rmsea_ci(X2 = 85.3, df = 24, N = 301, G = 1)
    assert_allclose(fi.rmsea_ci(85.3, 24, 301, 1), (0.0714141710023027, 0.1136740145600971), rtol=1e-7)
    # R: lavaan:::lav_fit_rmsea_ci(X2 = 20, df = 24, N = 301, G = 1): lower bound 0
    assert_allclose(fi.rmsea_ci(20, 24, 301, 1), (0.0, 0.0369533278004889), rtol=1e-7, atol=1e-12)
    # R: lavaan:::lav_fit_rmsea_ci(X2 = 115.85, df = 48, N = 301, G = 2)
    assert_allclose(fi.rmsea_ci(115.85, 48, 301, 2), (0.0745042542479583, 0.1195819159870431), rtol=1e-7)
    assert fi.rmsea(10, 0, 301) == 0.0


def test_rmsea_pvalue():
    # R: lavaan:::lav_fit_rmsea_closefit(X2 = 85.3, df = 24, N = 301, G = 1)
    assert_allclose(fi.rmsea_pvalue(85.3, 24, 301, 1), 0.000661999504282584, rtol=1e-8)
    # R: lavaan:::lav_fit_rmsea_closefit(X2 = 115.85, df = 48, N = 301, G = 2)
    assert_allclose(fi.rmsea_pvalue(115.85, 48, 301, 2), 0.000592690742706403, rtol=1e-8)


def test_srmr_bentler_by_hand():
    s = np.array([[1.0, 0.5, 0.3], [0.5, 2.0, 0.4], [0.3, 0.4, 1.5]])
    sig = np.array([[1.0, 0.4, 0.3], [0.4, 2.0, 0.5], [0.3, 0.5, 1.5]])
    sd = np.sqrt(np.diag(s))
    r = (s - sig) / np.outer(sd, sd)
    want = np.sqrt(np.mean(r[np.tril_indices(3)] ** 2))
    assert_allclose(fi.srmr_bentler([(s, None)], [(sig, None)], [1.0]), want, rtol=1e-12)
    # with a mean structure the mean residuals (ybar - mu) / sd join the average (lavaan's "total")
    m, mu = np.array([0.0, 1.0, 0.0]), np.array([0.0, 0.8, 0.0])
    vals = np.concatenate([r[np.tril_indices(3)], (m - mu) / sd])
    assert_allclose(fi.srmr_bentler([(s, m)], [(sig, mu)], [1.0]), np.sqrt(np.mean(vals**2)), rtol=1e-12)


def test_information_criteria():
    assert_allclose(fi.aic(-3737.745, 21), 2 * 3737.745 + 42)
    assert_allclose(fi.bic(-3737.745, 21, 301), 2 * 3737.745 + 21 * np.log(301))
    assert np.isnan(fi.pvalue(3.0, 0))
