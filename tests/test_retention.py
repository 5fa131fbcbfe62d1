import numpy as np
import pandas as pd
import pytest
from conftest import reference_data, reference_json

import allyscale as al
from allyscale.retention import ekc, scree

REF = reference_json("sim60")
X = reference_data("sim60")[REF["items"]]


def test_map_matches_psych_vss():
    # R: psych::VSS(X, n = 10, plot = FALSE)$map
    result = al.map_test(X)
    np.testing.assert_allclose(result.values.to_numpy(), REF["map"]["vss_map"], atol=1e-10, rtol=0)
    assert result.n_factors == REF["map"]["nfact_map"] == 6
    assert list(result.values.index) == list(range(1, 11))


def test_parallel_analysis_observed_eigenvalues_and_decision():
    # R: set.seed(1); psych::fa.parallel(X, fa = "both", n.iter = 100)$fa.values, $pc.values, $nfact, $ncomp
    result = al.parallel_analysis(X, seed=1, n_iter=20)
    np.testing.assert_allclose(
        result.eigenvalues["pc_observed"].to_numpy(), REF["parallel"]["pc_values"], atol=1e-10, rtol=0
    )
    np.testing.assert_allclose(
        result.eigenvalues["fa_observed"].to_numpy(), REF["parallel"]["fa_values"], atol=1e-6, rtol=0
    )
    assert result.n_factors == REF["parallel"]["nfact"] == 6
    assert result.n_components == REF["parallel"]["ncomp"] == 6
    # simulated eigenvalues of normal data at N = 500, p = 60 hover around the Marchenko-Pastur edge
    assert 1.3 < result.eigenvalues["pc_simulated_q"].iloc[0] < 1.9


def test_parallel_analysis_is_reproducible():
    a = al.parallel_analysis(X.iloc[:, :15], seed=3, n_iter=10)
    b = al.parallel_analysis(X.iloc[:, :15], seed=3, n_iter=10)
    pd.testing.assert_frame_equal(a.eigenvalues, b.eigenvalues)


def test_scree_and_ekc():
    values = scree(X)
    np.testing.assert_allclose(values.to_numpy(), REF["parallel"]["pc_values"], atol=1e-10)
    result = ekc(X)
    # reference eigenvalue of the first factor: (1 + sqrt(p/n))^2 = (1 + sqrt(60/500))^2
    assert result.eigenvalues["reference"].iloc[0] == pytest.approx((1 + np.sqrt(60 / 500)) ** 2)
    assert result.n_factors >= 6  # EKC is known to retain generously at this p/n
    noise = pd.DataFrame(np.random.default_rng(0).standard_normal((500, 20)))
    assert ekc(noise).n_factors == 0


def test_polychoric_input(allyship_pool):
    data = al.simulate(allyship_pool, n=800, seed=4)
    result = al.map_test(data, corr="polychoric")
    assert result.n_factors == 6
