import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from allyscale import PopulationModel, simulate
from allyscale.errors import ModelSyntaxError, SpecificationError


def test_same_seed_same_data_and_different_seed_different(mini_pool):
    a = simulate(mini_pool, n=300, seed=11)
    b = simulate(mini_pool, n=300, seed=11)
    c = simulate(mini_pool, n=300, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert list(a.columns) == mini_pool.item_ids
    assert a.dtypes.unique().tolist() == [np.dtype("int64")]
    assert a.to_numpy().min() >= 1 and a.to_numpy().max() <= 5


def test_category_proportions_match_thresholds(mini_pool):
    # symmetric thresholds for 5 categories are -1.5, -0.5, 0.5, 1.5 on the latent-response scale
    pm = PopulationModel.from_pool(mini_pool)
    np.testing.assert_allclose(pm.thresholds[0], [-1.5, -0.5, 0.5, 1.5])
    data = simulate(pm, n=40_000, seed=3)
    expected = np.diff(norm.cdf(np.r_[-np.inf, -1.5, -0.5, 0.5, 1.5, np.inf]))
    observed = data["a1"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(observed, expected, atol=0.008)


def test_reverse_keyed_items_are_answered_in_reverse(mini_pool):
    pm = PopulationModel.from_pool(mini_pool, thresholds="skewed")
    data = simulate(pm, n=5_000, seed=5)
    r = data.corr()
    assert r.loc["a1", "a3"] < -0.2  # a3 is reverse-keyed on the same factor
    assert r.loc["a1", "a2"] > 0.2
    # skewed thresholds push keyed items up and reverse-keyed answers down
    assert data["a1"].mean() > 3.3 and data["a3"].mean() < 2.7
    implied = pm.implied_corr()
    assert implied.loc["a1", "a3"] < 0 and pm.implied_corr(scored=True).loc["a1", "a3"] > 0


def test_implied_corr_of_correlated_model(mini_pool):
    pm = PopulationModel.from_pool(mini_pool, loadings=0.7, factor_corr=0.4)
    r = pm.implied_corr(scored=True)
    np.testing.assert_allclose(r.loc["a1", "a2"], 0.49)
    np.testing.assert_allclose(r.loc["a1", "b1"], 0.7 * 0.7 * 0.4)
    np.testing.assert_allclose(np.diag(r), 1.0)


def test_second_order_and_bifactor_populations(mini_pool):
    so = PopulationModel.from_pool(mini_pool, structure="second_order", loadings=0.6, second_order=0.8)
    np.testing.assert_allclose(so.implied_corr(scored=True).loc["a1", "b1"], 0.6 * 0.8 * 0.8 * 0.6)
    bf = PopulationModel.from_pool(mini_pool, structure="bifactor", loadings=0.5, general_loadings=0.6)
    r = bf.implied_corr(scored=True)
    np.testing.assert_allclose(r.loc["a1", "a2"], 0.6 * 0.6 + 0.5 * 0.5)
    np.testing.assert_allclose(r.loc["a1", "b1"], 0.36)


def test_to_lavaan_round_trip(mini_pool):
    pm = PopulationModel.from_pool(mini_pool, structure="second_order", cross_loadings={("a1", "fb"): 0.2},
                                   residual_corr={("b4", "b5"): 0.3}, method_loading=0.3)
    back = PopulationModel.from_lavaan(pm.to_lavaan())
    pd.testing.assert_frame_equal(back.implied_corr(), pm.implied_corr(), atol=1e-5)
    pd.testing.assert_frame_equal(back.answered_thresholds(), pm.answered_thresholds(), atol=1e-5)


def test_from_lavaan_with_thresholds_and_continuous():
    syntax = """
    f1 =~ 0.8*y1 + 0.7*y2 + 0.6*y3
    f2 =~ 0.7*y4 + 0.7*y5 + 0.5*y6
    f1 ~~ 0.3*f2
    y1 | -1*t1 + 0*t2 + 1*t3
    """
    pm = PopulationModel.from_lavaan(syntax, categories=4)
    np.testing.assert_allclose(pm.thresholds[0], [-1, 0, 1])
    np.testing.assert_allclose(pm.thresholds[1], [-1.5, 0, 1.5])
    np.testing.assert_allclose(pm.implied_corr().loc["y1", "y4"], 0.8 * 0.7 * 0.3)
    cont = PopulationModel.from_lavaan("f =~ 0.8*a + 0.6*b + 0.5*c")
    data = simulate(cont, n=20_000, seed=1)
    assert data.dtypes.unique().tolist() == [np.dtype("float64")]
    np.testing.assert_allclose(data.corr().loc["a", "b"], 0.48, atol=0.015)
    np.testing.assert_allclose(data.var().to_numpy(), 1.0, atol=0.03)


def test_pearson_recovery_of_continuous_population():
    pm = PopulationModel.from_lavaan("f =~ 0.8*a + 0.7*b + 0.6*c + 0.5*d\ng =~ 0.7*e + 0.6*f2\nf ~~ 0.5*g")
    data = simulate(pm, n=4_000, seed=9)
    diff = np.abs(data.corr().to_numpy() - pm.implied_corr().to_numpy())
    assert diff[np.triu_indices(6, 1)].mean() < 0.02


def test_careless_and_mcar_missing(mini_pool):
    data = simulate(mini_pool, n=2_000, seed=2, careless=0.1, missing=0.05)
    assert len(data.attrs["careless_rows"]) == 200
    assert str(data.dtypes.iloc[0]) == "Int64"
    rate = data.isna().to_numpy().mean()
    assert abs(rate - 0.05) < 0.006
    assert data.attrs["n_missing"] == int(data.isna().to_numpy().sum())
    # careless (random) respondents answer uniformly: their answers barely correlate
    careless = data.iloc[data.attrs["careless_rows"]].astype(float)
    assert abs(careless["a1"].corr(careless["a2"])) < 0.2


def test_mar_missingness_depends_on_the_cause(mini_pool):
    data = simulate(mini_pool, n=6_000, seed=4, missing=0.1, missing_mechanism="MAR", missing_cause="a1")
    assert data["a1"].isna().sum() == 0
    miss_rate = data.drop(columns="a1").isna().mean(axis=1)
    high = data["a1"] >= 4
    assert miss_rate[high].mean() > 2 * miss_rate[~high].mean()


def test_longstring_careless(mini_pool):
    data = simulate(mini_pool, n=500, seed=8, careless=0.2, careless_style="longstring")
    rows = data.iloc[data.attrs["careless_rows"]]
    assert (rows.nunique(axis=1) == 1).all()


@pytest.mark.parametrize("kwargs, fragment", [
    ({"loadings": 1.2}, "communality >= 1"),
    ({"factor_corr": 1.5}, "not positive definite"),
    ({"careless": 1.5}, "careless must be a proportion"),
    ({"missing_mechanism": "NMAR", "missing": 0.1}, "MCAR or MAR"),
    ({"thresholds": [0.5, 0.1, 1, 2]}, "strictly increasing"),
    ({"thresholds": [0.1, 0.2]}, "need 4 values"),
    ({"cross_loadings": {("zz", "fa"): 0.2}}, "item 'zz' is not in the pool"),
    ({"structure": "network"}, "unknown population structure"),
])
def test_impossible_population_options(mini_pool, kwargs, fragment):
    with pytest.raises(SpecificationError, match=fragment):
        PopulationModel.from_pool(mini_pool, **kwargs)


def test_population_syntax_without_values_is_refused():
    with pytest.raises(ModelSyntaxError, match="has no value"):
        PopulationModel.from_lavaan("f =~ 0.7*a + b + 0.5*c")


def test_bad_n(mini_pool):
    with pytest.raises(SpecificationError, match="n must be a positive integer"):
        simulate(mini_pool, n=0, seed=1)
