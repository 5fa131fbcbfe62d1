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
    pm = PopulationModel.from_pool(
        mini_pool,
        structure="second_order",
        cross_loadings={("a1", "fb"): 0.2},
        residual_corr={("b4", "b5"): 0.3},
        method_loading=0.3,
    )
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


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"loadings": 1.2}, "communality >= 1"),
        ({"factor_corr": 1.5}, "not positive definite"),
        ({"careless": 1.5}, "careless must be a proportion"),
        ({"missing_mechanism": "NMAR", "missing": 0.1}, "MCAR or MAR"),
        ({"thresholds": [0.5, 0.1, 1, 2]}, "strictly increasing"),
        ({"thresholds": [0.1, 0.2]}, "need 4 values"),
        ({"cross_loadings": {("zz", "fa"): 0.2}}, "item 'zz' is not in the pool"),
        ({"structure": "network"}, "unknown population structure"),
    ],
)
def test_impossible_population_options(mini_pool, kwargs, fragment):
    with pytest.raises(SpecificationError, match=fragment):
        PopulationModel.from_pool(mini_pool, **kwargs)


def test_population_syntax_without_values_is_refused():
    with pytest.raises(ModelSyntaxError, match="has no value"):
        PopulationModel.from_lavaan("f =~ 0.7*a + b + 0.5*c")


def test_bad_n(mini_pool):
    with pytest.raises(SpecificationError, match="n must be a positive integer"):
        simulate(mini_pool, n=0, seed=1)


# --------------------------------------------------------------------------- validity designs
from allyscale.simulate import (  # noqa: E402
    ExternalSpec,
    GroupSpec,
    OutcomeSpec,
    RetestSpec,
    ValiditySpec,
    simulate_study,
    validity_design,
)

_TWO = "ally_a =~ .75*a1 + .7*a2 + .65*a3 + .6*a4\nally_b =~ .75*b1 + .7*b2 + .65*b3 + .6*b4\nally_a ~~ .5*ally_b"


def _validity_model(categories=None, **kw):
    pm = PopulationModel.from_lavaan(_TWO, categories=categories)
    parts = dict(
        external=[
            ExternalSpec("arbi", {"ally_a": 0.6, "ally_b": 0.4}, items=3, loadings=0.7),
            ExternalSpec("sds", {"ally_a": 0.2}, items=0, reliability=0.8),
        ],
        outcome=OutcomeSpec({"ally_a": 0.3, "arbi": 0.3}),
        groups=GroupSpec({"ally_a": 0.5, "ally_b": 0.5}),
        retest=RetestSpec({"ally_a": 0.8, "ally_b": 0.6}, residual_corr=0.3),
    )
    parts.update(kw)
    return pm.with_validity(**parts)


def test_validity_design_population_values():
    d = validity_design(_validity_model())
    t = d.truth()
    assert t["correlations"]["arbi"] == pytest.approx({"ally_a": 0.6, "ally_b": 0.4})
    # sds names ally_a only: its correlation with ally_b is implied through ally_a (.2 x .5)
    assert t["correlations"]["sds"] == pytest.approx({"ally_a": 0.2, "ally_b": 0.1})
    assert t["external_correlations"]["arbi"]["sds"] == pytest.approx(0.2 * 0.6)  # only through ally_a
    # arbi differs as the named factors imply: (.6, .4) Phi^-1 (.5, .5) = (.6 + .4) / 3
    assert t["latent_d"]["ally_a"] == 0.5 and t["latent_d"]["arbi"] == pytest.approx(1 / 3, rel=1e-12)
    assert t["stability"] == {"ally_a": 0.8, "ally_b": 0.6}
    # R2 = w' S w with w = (.3 ally_a, .3 arbi): .09 + .09 + 2 * .09 * .6
    assert t["outcome"]["r2"] == pytest.approx(0.09 + 0.09 + 2 * 0.09 * 0.6)
    assert np.linalg.eigvalsh(d.sigma).min() > 0
    # pooled over the two groups: Σ + π(1 - π) δδ'
    shift = d.shift
    pooled = d.sigma + 0.25 * np.outer(shift, shift)
    sd = np.sqrt(np.diag(pooled))
    assert t["correlations_pooled"]["arbi"]["ally_a"] == pytest.approx(pooled[2, 0] / sd[2] / sd[0])


def test_simulate_study_recovers_the_design_on_continuous_data():
    st = simulate_study(_validity_model(), 60_000, seed=4)
    d, w2 = st.data, st.retest
    assert list(d.columns) == [
        "id",
        "a1",
        "a2",
        "a3",
        "a4",
        "b1",
        "b2",
        "b3",
        "b4",
        "arbi1",
        "arbi2",
        "arbi3",
        "sds",
        "outcome",
        "group",
    ]
    assert list(w2.columns) == ["id", "a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"]
    assert (d["group"] == "focal").sum() == 30_000 and d["group"].iloc[-1] == "focal"
    ref, foc = d[d["group"] == "reference"], d[d["group"] == "focal"]
    # within a group: cov(arbi1, a1) = .7 * .75 * .6; cov(sds, a1) = sqrt(.8) * .75 * .2
    assert np.cov(ref["arbi1"], ref["a1"])[0, 1] == pytest.approx(0.7 * 0.75 * 0.6, abs=0.015)
    assert np.cov(ref["sds"], ref["a1"])[0, 1] == pytest.approx(np.sqrt(0.8) * 0.75 * 0.2, abs=0.015)
    # known groups: the item mean differs by lambda * d
    assert foc["a1"].mean() - ref["a1"].mean() == pytest.approx(0.75 * 0.5, abs=0.02)
    assert foc["b4"].mean() - ref["b4"].mean() == pytest.approx(0.6 * 0.5, abs=0.02)
    # retest: cov(a1_t1, a1_t2) = lambda^2 s + rc theta; variances unchanged
    r2 = w2[w2.index.isin(ref.index)]
    assert np.cov(ref["a1"], r2["a1"])[0, 1] == pytest.approx(0.75**2 * 0.8 + 0.3 * (1 - 0.75**2), abs=0.015)
    assert np.cov(ref["b1"], r2["b1"])[0, 1] == pytest.approx(0.75**2 * 0.6 + 0.3 * (1 - 0.75**2), abs=0.015)
    assert r2["a1"].var() == pytest.approx(1.0, abs=0.02) and np.cov(r2["a1"], r2["b1"])[0, 1] == pytest.approx(
        0.75**2 * 0.5, abs=0.015
    )
    # outcome: cov(Y, a1) = .75 * (.3 + .3 * .6); variance 1 within groups
    assert np.cov(ref["outcome"], ref["a1"])[0, 1] == pytest.approx(0.75 * (0.3 + 0.3 * 0.6), abs=0.015)
    assert ref["outcome"].var() == pytest.approx(1.0, abs=0.03)


def test_simulate_study_ordinal_same_seed_and_plain_simulate():
    pm = _validity_model(categories=5)
    a, b = simulate_study(pm, 300, seed=9), simulate_study(pm, 300, seed=9)
    pd.testing.assert_frame_equal(a.data, b.data)
    pd.testing.assert_frame_equal(a.retest, b.retest)
    assert set(np.unique(a.data[["a1", "arbi1"]])) <= {1, 2, 3, 4, 5}
    with pytest.raises(SpecificationError, match="simulate_study"):
        simulate(pm, 100, seed=1)  # a retest wave is a second frame
    plain = simulate(_validity_model(categories=5, retest=None), 100, seed=1)
    assert "id" not in plain.columns and {"arbi1", "sds", "outcome", "group"} <= set(plain.columns)
    # the items-only model is untouched by a validity spec elsewhere
    base = PopulationModel.from_lavaan(_TWO, categories=5)
    pd.testing.assert_frame_equal(simulate(base, 50, seed=2), simulate(base.with_options(careless=0.0), 50, seed=2))
    assert "validity" in pm.to_dict() and pm.with_options(careless=0.1).validity is pm.validity


def test_validity_design_errors():
    pm = PopulationModel.from_lavaan(_TWO, categories=5)
    with pytest.raises(SpecificationError, match="'zz'"):
        pm.with_validity(external=[ExternalSpec("arbi", {"zz": 0.5})])
    with pytest.raises(SpecificationError, match="impossible"):  # .9 and -.9 with factors correlating .5
        pm.with_validity(external=[ExternalSpec("arbi", {"ally_a": 0.9, "ally_b": -0.9})])
    with pytest.raises(SpecificationError, match="'a1'"):
        pm.with_validity(external=[ExternalSpec("a1", {"ally_a": 0.5}, items=0)])
    with pytest.raises(SpecificationError, match="positive-definite innovation"):
        pm.with_validity(retest=RetestSpec({"ally_a": 0.99, "ally_b": 0.0}))
    with pytest.raises(SpecificationError, match="R²"):
        pm.with_validity(outcome=OutcomeSpec({"ally_a": 0.8, "ally_b": 0.8}))
    with pytest.raises(SpecificationError, match="need 4 values"):
        pm.with_validity(external=[ExternalSpec("arbi", {"ally_a": 0.5}, thresholds=[0, 1])])
    with pytest.raises(SpecificationError, match="at least 2"):
        ExternalSpec("x", {"ally_a": 0.5}, items=1)
    with pytest.raises(SpecificationError, match="two different labels"):
        GroupSpec({"ally_a": 0.5}, labels=("g", "g"))
    with pytest.raises(SpecificationError, match="not both"):
        pm.with_validity(ValiditySpec(), retest=RetestSpec())
    with pytest.raises(SpecificationError, match="empty"):
        simulate_study(pm.with_validity(groups=GroupSpec({"ally_a": 0.5}, focal=0.1)), 4, seed=1)


def test_simulate_study_pairs():
    import allyscale as al

    pm = PopulationModel.from_lavaan(_TWO, categories=5).with_validity(
        external=[ExternalSpec("arbi", {"ally_a": 0.6})], retest=RetestSpec(0.7)
    )
    st = simulate_study(pm, 200, seed=3, pairs=dict(self_other_corr=0.5, residual_corr=0.2))
    assert {"target", "a1_self", "a1_informant", "arbi1", "arbi4"} <= set(st.data.columns)
    assert list(st.retest.columns) == ["target", "a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"]
    assert len(st.data) == len(st.retest) == 200
    long = simulate_study(pm, 50, seed=3, pairs=dict(informants=2))
    assert len(long.data) == 100 and (long.data.groupby("target")["arbi1"].nunique() == 1).all()
    with pytest.raises(SpecificationError, match="simulate_study"):
        al.simulate_pairs(pm, 50, seed=1)
    # without the retest the paired data carry the external measure's columns
    d = al.simulate_pairs(pm.with_validity(external=[ExternalSpec("arbi", {"ally_a": 0.6})]), 50, seed=1)
    assert "arbi2" in d.columns


def test_simulate_cli_validity_options(tmp_path):
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from allyscale.cli import main

    pool = str(Path(__file__).resolve().parent.parent / "item_pools" / "allyship.yaml")
    out = tmp_path / "d.csv"
    r = CliRunner().invoke(
        main,
        [
            "simulate",
            "--pool",
            pool,
            "--n",
            "300",
            "--seed",
            "3",
            "--structure",
            "second_order",
            "--external",
            "arbi=0.6",
            "--external",
            "sds=trust:0.1",
            "--external-items",
            "3",
            "--group-shift",
            "0.5",
            "--retest",
            "0.7",
            "--retest-residual-corr",
            "0.2",
            "--outcome",
            "arbi:0.3",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    d, w2 = pd.read_csv(out), pd.read_csv(tmp_path / "d_retest.csv")
    assert d.columns[0] == "id" and {"arbi1", "arbi3", "sds1", "outcome", "group"} <= set(d.columns)
    assert list(w2.columns[:2]) == ["id", "tr_emp1"] and len(w2) == 300
    side = json.loads((tmp_path / "d.population.json").read_text())["population"]["validity"]
    assert side["truth"]["correlations"]["arbi"]["commitment"] == pytest.approx(0.6)  # the general factor
    assert side["truth"]["stability"]["trust"] == pytest.approx(0.7)
    # the same study from the API, seed for seed
    pm = PopulationModel.from_pool(__import__("allyscale").load_pool(pool), structure="second_order").with_validity(
        external=[ExternalSpec("arbi", {"commitment": 0.6}, items=3), ExternalSpec("sds", {"trust": 0.1}, items=3)],
        groups=GroupSpec({"commitment": 0.5}),
        retest=RetestSpec(0.7, residual_corr=0.2),
        outcome=OutcomeSpec({"arbi": 0.3}),
    )
    st = simulate_study(pm, 300, seed=3)
    np.testing.assert_allclose(d["outcome"], st.data["outcome"], rtol=1e-12)
    assert (d["tr_emp1"] == st.data["tr_emp1"]).all() and (w2["cm_eng5"] == st.retest["cm_eng5"]).all()
    bad = CliRunner().invoke(
        main,
        [
            "simulate",
            "--pool",
            pool,
            "--n",
            "50",
            "--seed",
            "1",
            "--external",
            "arbi=trust:0.9,action:-0.9",
            "--out",
            str(tmp_path / "e.csv"),
        ],
    )
    assert bad.exit_code == 2 and "impossible" in bad.output and not (tmp_path / "e.csv").exists()
    bad = CliRunner().invoke(
        main,
        [
            "simulate",
            "--pool",
            pool,
            "--n",
            "50",
            "--seed",
            "1",
            "--retest",
            "zz:0.5",
            "--out",
            str(tmp_path / "e.csv"),
        ],
    )
    assert bad.exit_code == 2 and "'zz'" in bad.output
