"""WLSMV (DWLS on polychorics, scaled-shifted test) against lavaan 0.6.14."""

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data, reference_json, reference_model

import allyscale as al
from allyscale._core.wlsmv import influence
from allyscale.errors import DataError, SpecificationError

REF = reference_json("sim60")
DATA = reference_data("sim60")
MODEL = reference_model("sim60")


@pytest.fixture(scope="module")
def fit():
    # R: cfa(model, data = d, ordered = items, estimator = "WLSMV")
    return al.cfa(DATA, MODEL, estimator="WLSMV")


def test_gamma_matches_lavaan():
    # R: lavInspect(fit, "gamma"), "wls.obs", "wls.v" (tests/reference/wlsmv/make_gamma.R)
    ref = reference_json("wlsmv", "gamma.json")
    stats = influence(DATA.iloc[:, :6].to_numpy(float))
    n = len(DATA)
    gamma = stats["IF"].T @ stats["IF"] / n
    np.testing.assert_allclose(gamma, np.array(ref["gamma"]), atol=1e-6, rtol=0)
    obs = np.concatenate(stats["th"] + [stats["rho"]])
    np.testing.assert_allclose(obs, ref["obs"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(1 / np.diag(gamma), ref["wlsv"], rtol=1e-6)


def test_fit_measures_match_lavaan(fit):
    ref = REF["cfa_wlsmv"]["fit"]
    fm = fit.fit_measures
    assert fit.converged
    np.testing.assert_allclose(fm["chisq"], ref["chisq"], rtol=2e-3)
    np.testing.assert_allclose(fm["chisq.scaled"], ref["chisq.scaled"], rtol=2e-3)
    assert fm["df"] == ref["df"] and fm["df.scaled"] == ref["df.scaled"]
    for key in ("cfi.scaled", "tli.scaled", "rmsea.scaled", "pvalue.scaled", "srmr"):
        np.testing.assert_allclose(fm[key], ref[key], atol=1e-3, rtol=0, err_msg=key)
    # far closer than required: the implementation reproduces lavaan's conventions exactly
    assert abs(fm["chisq.scaled"] / ref["chisq.scaled"] - 1) < 1e-6
    assert abs(fm["rmsea.scaled"] - ref["rmsea.scaled"]) < 1e-7


def test_robust_indices_match_lavaan(fit):
    # lavaan 0.6.14's categorical cfi/tli/rmsea.robust (catML, Savalei 2021); acceptance: within 2e-3
    ref = REF["cfa_wlsmv"]["fit"]
    for key in ("cfi.robust", "tli.robust", "rmsea.robust"):
        np.testing.assert_allclose(fit.fit_measures[key], ref[key], atol=1e-6, rtol=0, err_msg=key)


CATML = reference_json("catml")


@pytest.mark.parametrize("case", ["two", "one", "three"])
def test_catml_pieces_and_robust_family_match_lavaan(case):
    # R: tests/reference/catml/make_catml.R (lav_fit_catml_dwls and fitMeasures)
    ref = CATML[case]
    res = al.cfa(DATA, ref["model"], estimator="WLSMV")
    pieces = res.diagnostics["catml"] if "catml" in res.diagnostics else res._est.diagnostics["catml"]
    for key in ("XX3", "XX3.scaled", "XX3.null"):
        np.testing.assert_allclose(pieces[key], ref["catml"][key], rtol=1e-6, err_msg=key)
    for key in ("df3", "df3.null"):
        assert pieces[key] == ref["catml"][key]
    for key in ("c.hat3", "c.hat3.null"):
        np.testing.assert_allclose(pieces[key], ref["catml"][key], rtol=1e-6, err_msg=key)
    for key in (
        "cfi.robust",
        "tli.robust",
        "rmsea.robust",
        "rmsea.ci.lower.robust",
        "rmsea.ci.upper.robust",
        "rmsea.pvalue.robust",
    ):
        np.testing.assert_allclose(res.fit_measures[key], ref["fit"][key], atol=1e-6, rtol=0, err_msg=key)


def test_robust_indices_match_lavaan_on_bfi():
    # R: tests/reference/bfi/make_bfi.R, WLSMV on the complete cases of psych::bfi
    bfi = reference_json("bfi")
    data = reference_data("bfi")
    items = bfi["items"]
    res = al.cfa(data[items].dropna(), reference_model("bfi"), estimator="WLSMV")
    ref = bfi["cfa_wlsmv"]["fit"]
    for key in ("chisq.scaled", "cfi.scaled", "cfi.robust", "tli.robust", "rmsea.robust"):
        np.testing.assert_allclose(res.fit_measures[key], ref[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_robust_indices_are_nan_with_a_reason_when_the_polychoric_matrix_is_not_pd():
    from allyscale._core.wlsmv import _catml

    cor = np.array([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1.0]])
    out = _catml([cor], [np.eye(3)], [None], [None], [None], None, None, np.array([5.0]), 2.0, [None])
    assert np.isnan(out["c.hat3"]) and "not positive definite" in out["note"]


def test_estimates_ses_and_standardized_loadings_match_lavaan(fit):
    est = fit.estimates
    std = pd.DataFrame(REF["cfa_wlsmv"]["std"])
    merged = est.merge(std, on=["lhs", "op", "rhs"])
    assert len(merged) == len(std)
    np.testing.assert_allclose(merged["std_all"], merged["est.std"], atol=1e-3, rtol=0)
    ref = pd.DataFrame(REF["cfa_wlsmv"]["est"])
    both = est.merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    free = both[both["se_r"] > 0]
    assert set(free["op"]) == {"=~", "|", "~~"}
    np.testing.assert_allclose(free["est"], free["est_r"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(free["se"], free["se_r"], rtol=2e-3)


def test_second_order_and_bifactor_models_fit(allyship_pool):
    pm = al.PopulationModel.from_pool(allyship_pool, structure="second_order", second_order=0.8)
    data = al.simulate(pm, n=800, seed=3)
    scored = al.reverse_score(data, allyship_pool)
    for structure in ("second_order", "bifactor"):
        res = al.cfa(scored, allyship_pool.model_syntax(structure), estimator="WLSMV")
        assert res.converged, structure
        assert res.fit_measures["cfi.scaled"] > 0.95
    so = al.cfa(scored, allyship_pool.model_syntax("second_order"), estimator="WLSMV").estimates
    gamma = so[(so["op"] == "=~") & (so["lhs"] == "commitment")]["std_all"]
    np.testing.assert_allclose(gamma.to_numpy(), 0.8, atol=0.08)


def test_real_data_with_six_categories_matches_lavaan():
    # R: cfa(model, data = complete bfi cases, ordered = items, estimator = "WLSMV")  (bfi/make_bfi.R)
    ref = reference_json("bfi")
    data = reference_data("bfi").dropna(subset=ref["items"])
    res = al.cfa(data, reference_model("bfi"), estimator="WLSMV")
    fm, rf = res.fit_measures, ref["cfa_wlsmv"]["fit"]
    for key in ("chisq", "chisq.scaled"):
        np.testing.assert_allclose(fm[key], rf[key], rtol=2e-3)
    for key in ("cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr"):
        np.testing.assert_allclose(fm[key], rf[key], atol=1e-3, rtol=0, err_msg=key)
    std = pd.DataFrame(ref["cfa_wlsmv"]["std"])
    merged = res.estimates.merge(std, on=["lhs", "op", "rhs"])
    np.testing.assert_allclose(merged["std_all"], merged["est.std"], atol=1e-3, rtol=0)


def test_low_rank_trace_equals_the_direct_one():
    from allyscale._core.wlsmv import _sum_trace_msms

    rng = np.random.default_rng(4)
    p, k, n = 9, 3, 40
    lam = rng.uniform(0.3, 0.8, (p, k))
    psi = np.array([[1, 0.4, 0.2], [0.4, 1, 0.3], [0.2, 0.3, 1.0]])
    theta = np.diag(rng.uniform(0.3, 0.7, p))
    s_inv = np.linalg.inv(lam @ psi @ lam.T + theta)
    iu = np.triu_indices(p, 1)
    m = rng.normal(size=(len(iu[0]), n))
    direct = _sum_trace_msms(m, iu, s_inv, None)
    np.testing.assert_allclose(_sum_trace_msms(m, iu, s_inv, (lam, psi, theta)), direct, rtol=1e-10)
    mats = np.zeros((n, p, p))
    mats[:, iu[0], iu[1]] = m.T
    mats[:, iu[1], iu[0]] = m.T
    np.testing.assert_allclose(direct, sum(np.trace(x @ s_inv @ x @ s_inv) for x in mats), rtol=1e-12)


DIFF = reference_json("wlsmv_diff")


@pytest.mark.parametrize("case", ["equal_loadings", "orthogonal", "one_vs_two"])
def test_difference_test_matches_lavtestlrt(case):
    # R: tests/reference/wlsmv_diff/make_wlsmv_diff.R (lavTestLRT, method = "satorra.2000")
    from allyscale.cfa import difference_test

    ref = DIFF[case]
    f0 = al.cfa(DATA, ref["m0"], estimator="WLSMV")
    f1 = al.cfa(DATA, ref["m1"], estimator="WLSMV")
    out = difference_test(f0, f1)
    assert out["df_diff"] == ref["df_diff"]
    np.testing.assert_allclose(out["chisq_diff"], ref["chisq_diff"], rtol=1e-6)
    np.testing.assert_allclose(out["pvalue"], ref["pvalue"], rtol=1e-5)
    np.testing.assert_allclose(
        [out["trace_ugamma"], out["trace_ugamma2"]], [ref["trace_ugamma"], ref["trace_ugamma2"]], rtol=1e-6
    )
    assert out["method"].startswith("satorra.2000")


def test_difference_test_refuses_fits_to_different_data():
    from allyscale.cfa import difference_test

    ref = DIFF["one_vs_two"]
    f0 = al.cfa(DATA.iloc[:400], ref["m0"], estimator="WLSMV")
    f1 = al.cfa(DATA, ref["m1"], estimator="WLSMV")
    with pytest.raises(SpecificationError, match="same data"):
        difference_test(f0, f1)


def test_compare_gives_wlsmv_difference_tests(allyship_pool):
    data = al.simulate(allyship_pool, 400, seed=8)
    res = al.compare(data, pool=allyship_pool, estimator="WLSMV")
    tests = res.tests
    assert len(tests) and np.isfinite(tests["pvalue"]).all(), tests


GROUPS = reference_json("wlsmv_groups")
EQUAL = {
    "configural": None,
    "metric": ["loadings"],
    "scalar": ["loadings", "thresholds"],
    "strict": ["loadings", "thresholds", "residuals"],
}
WU_ESTABROOK = {
    "configural": None,
    "thresholds": ["thresholds"],
    "metric": ["thresholds", "loadings"],
    "scalar": ["thresholds", "loadings", "intercepts"],
}


def _two_groups():
    data = DATA.copy()
    data["grp"] = np.where(np.arange(len(data)) < 300, "a", "b")  # as make_wlsmv_groups.R
    return data


def _na(value):
    return np.nan if value == "NA" else value


def _check_fit(res, ref):
    fm = res.fit_measures
    assert res.converged
    assert fm["df"] == ref["df"] and fm["df.scaled"] == ref["df.scaled"]
    # fmin: lavaan's chisq / (2 N), N the total over the groups
    for key in ("fmin", "chisq", "chisq.scaled", "baseline.chisq", "baseline.chisq.scaled"):
        np.testing.assert_allclose(fm[key], ref[key], rtol=1e-6, err_msg=key)
    for key in (
        "pvalue.scaled",
        "cfi.scaled",
        "tli.scaled",
        "rmsea.scaled",
        "srmr",
        "cfi.robust",
        "tli.robust",
        "rmsea.robust",
        "rmsea.ci.lower.robust",
        "rmsea.ci.upper.robust",
        "rmsea.pvalue.robust",
    ):
        want = _na(ref[key])
        if np.isnan(want):  # lavaan: undefined (free scale factors)
            assert np.isnan(fm[key]), key
        else:
            np.testing.assert_allclose(fm[key], want, atol=1e-6, rtol=0, err_msg=key)


def _check_estimates(res, ref_est):
    ref = pd.DataFrame(ref_est).replace("NA", np.nan)
    both = ref.merge(res.estimates, on=["lhs", "op", "rhs", "group"], suffixes=("_r", ""))
    assert len(both) == len(ref) == len(res.estimates)
    np.testing.assert_allclose(both["est"], both["est_r"].astype(float), atol=1e-5, rtol=0)
    np.testing.assert_allclose(both["se"], both["se_r"].astype(float), atol=1e-6, rtol=1e-4)
    np.testing.assert_allclose(both["std_all"], both["std.all"].astype(float), atol=1e-5, rtol=0)


@pytest.mark.parametrize("model", ["one", "two"])
@pytest.mark.parametrize("level", list(EQUAL))
def test_multigroup_fit_estimates_and_ses_match_lavaan(model, level):
    # R: tests/reference/wlsmv_groups/make_wlsmv_groups.R (cfa(..., group = "grp", group.equal = ...))
    ref = GROUPS[model][level]
    res = al.cfa(_two_groups(), GROUPS[model]["model"], estimator="WLSMV", group="grp", group_equal=EQUAL[level])
    _check_fit(res, ref["fit"])
    _check_estimates(res, ref["est"])
    pieces = res.diagnostics["catml"]
    for key in ("XX3", "XX3.scaled", "XX3.null", "c.hat3", "c.hat3.null"):
        want = _na(ref["catml"][key])
        if np.isnan(want):
            assert np.isnan(pieces[key]) and "free scale factors" in res.diagnostics["robust_indices"]
        else:
            np.testing.assert_allclose(pieces[key], want, rtol=1e-6, err_msg=key)


@pytest.mark.parametrize("model", ["one", "two"])
def test_multigroup_difference_tests_match_lavtestlrt(model):
    from allyscale.cfa import difference_test

    data = _two_groups()
    fits = {
        lv: al.cfa(data, GROUPS[model]["model"], estimator="WLSMV", group="grp", group_equal=EQUAL[lv])
        for lv in ("configural", "metric", "scalar")
    }
    lrt = GROUPS[model]["lrt"]
    for i, (restricted, free) in enumerate([("metric", "configural"), ("scalar", "metric")], start=1):
        out = difference_test(fits[restricted], fits[free])
        assert out["df_diff"] == lrt["df_diff"][i]
        np.testing.assert_allclose(out["chisq_diff"], lrt["chisq_diff"][i], rtol=1e-6)
        np.testing.assert_allclose(out["pvalue"], lrt["pvalue"][i], rtol=1e-5)


@pytest.mark.parametrize("model", ["one", "two"])
def test_wu_estabrook_sequence_matches_semtools(model):
    # R: semTools::measEq.syntax(ID.cat = "Wu.Estabrook.2016", ID.fac = "std.lv", parameterization = "delta")
    from allyscale.cfa import difference_test

    ref = GROUPS["wu_estabrook"][model]
    fits = {}
    for level in ref["order"]:
        fits[level] = al.cfa(
            _two_groups(),
            GROUPS[model]["model"],
            estimator="WLSMV",
            group="grp",
            std_lv=True,
            group_equal=WU_ESTABROOK[level],
            id_cat="Wu.Estabrook.2016",
        )
        _check_fit(fits[level], ref[level]["fit"])
        _check_estimates(fits[level], ref[level]["est"])
    for i in range(1, len(ref["order"])):
        out = difference_test(fits[ref["order"][i]], fits[ref["order"][i - 1]])
        assert out["df_diff"] == ref["lrt"]["df_diff"][i]
        np.testing.assert_allclose(out["chisq_diff"], ref["lrt"]["chisq_diff"][i], rtol=1e-6)


def test_wu_estabrook_identification_does_not_depend_on_the_factor_scaling():
    ref = GROUPS["wu_estabrook"]["two"]
    for level in ("thresholds", "metric"):
        res = al.cfa(
            _two_groups(),
            GROUPS["two"]["model"],
            estimator="WLSMV",
            group="grp",
            group_equal=WU_ESTABROOK[level],
            id_cat="wu.estabrook.2016",
        )  # marker variables
        np.testing.assert_allclose(res.fit_measures["chisq"], ref[level]["fit"]["chisq"], rtol=1e-6)
        assert res.fit_measures["df"] == ref[level]["fit"]["df"]


def test_unknown_identification_is_refused():
    with pytest.raises(SpecificationError, match="id_cat"):
        al.cfa(_two_groups(), GROUPS["one"]["model"], estimator="WLSMV", group="grp", id_cat="theta")


def test_ml_with_std_lv_frees_later_group_variances_under_equal_loadings():
    # lavaan frees the factor variances of groups 2.. when loadings are equal and std.lv = TRUE
    ref = GROUPS["ml_std_lv"]
    res = al.cfa(_two_groups(), ref["model"], group="grp", std_lv=True, group_equal=["loadings"], estimator="ML")
    assert res.fit_measures["df"] == ref["fit"]["df"]
    np.testing.assert_allclose(res.fit_measures["chisq"], ref["fit"]["chisq"], rtol=1e-6)
    est = pd.DataFrame(ref["est"]).merge(res.estimates, on=["lhs", "op", "rhs", "group"], suffixes=("_r", ""))
    np.testing.assert_allclose(est["est"], est["est_r"], atol=1e-5)


def test_multigroup_analytic_jacobian_equals_central_differences():
    res = al.cfa(
        _two_groups(),
        GROUPS["two"]["model"],
        estimator="WLSMV",
        group="grp",
        std_lv=True,
        group_equal=WU_ESTABROOK["thresholds"],
        id_cat="Wu.Estabrook.2016",
    )
    internals = res._est.internals
    np.testing.assert_allclose(internals["jac"], internals["jac_numeric"], atol=1e-7, rtol=1e-6)


def test_multigroup_needs_the_same_categories_in_every_group():
    data = _two_groups()
    data.loc[data["grp"] == "b", "i03"] = data.loc[data["grp"] == "b", "i03"].clip(upper=4)
    with pytest.raises(DataError, match=r"i03.*same observed categories"):
        al.cfa(data, GROUPS["one"]["model"], estimator="WLSMV", group="grp")


def test_ordinal_invariance_table_follows_wu_estabrook():
    result = al.invariance(_two_groups(), GROUPS["two"]["model"], group="grp", estimator="WLSMV")
    table = result.table
    ref = GROUPS["wu_estabrook"]["two"]
    assert list(table.index) == ["configural", "thresholds", "metric", "scalar", "strict"]
    for level in ref["order"]:
        for key in ("chisq", "cfi.scaled", "rmsea.scaled", "srmr"):
            np.testing.assert_allclose(table.loc[level, key], ref[level]["fit"][key], atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(table["delta_chisq"].iloc[1:4], ref["lrt"]["chisq_diff"][1:], rtol=1e-6)
    np.testing.assert_allclose(
        table.loc["metric", "delta_cfi"],
        ref["metric"]["fit"]["cfi.scaled"] - ref["thresholds"]["fit"]["cfi.scaled"],
        atol=1e-9,
    )
    assert table.loc["strict", "decision"] == "not testable" and np.isnan(table.loc["strict", "chisq"])
    assert "delta parameterization" in result.diagnostics["note"]
    # thresholds: the scaled difference test rejects (fit policy); later levels cannot be read after a failed one
    assert table.loc["thresholds", "decision"] == "not supported"
    assert table.loc["metric", "decision"] == "not interpretable"


_GRADIENT_MODELS = {
    "correlated": "f1 =~ i01 + i02 + i03 + i04 + i05\nf2 =~ i06 + i07 + i08 + i09 + i10\nf3 =~ i11 + i12 + i13 + i14",
    # a regression between factors, shared labels and a residual covariance
    "structural": "f1 =~ i01 + a*i02 + a*i03 + i04\nf2 =~ i05 + i06 + i07 + i08\nf2 ~ f1\ni01 ~~ i05",
    "second_order": "f1 =~ i01 + i02 + i03\nf2 =~ i04 + i05 + i06\nf3 =~ i07 + i08 + i09\ng =~ f1 + f2 + f3",
}


@pytest.mark.parametrize("name", sorted(_GRADIENT_MODELS))
def test_correlation_gradient_equals_the_jacobian_product(monkeypatch, name):
    # the chord iterations' gradient from the model matrices is J'c of the sparse Jacobian, at every
    # point the fit evaluates
    from allyscale._core import wlsmv

    rng = np.random.default_rng(4)
    checked = []
    call = wlsmv._CorrelationModel.__call__

    def spy(self, x, jacobian=True, gm=None):
        sig, jac = call(self, x, jacobian, gm)
        if jacobian:
            c = rng.standard_normal(sig.size)
            want = jac.T @ c
            np.testing.assert_allclose(self.gradient(x, c, gm), want, rtol=0, atol=1e-12 * np.abs(want).max())
            checked.append(1)
        return sig, jac

    monkeypatch.setattr(wlsmv._CorrelationModel, "__call__", spy)
    res = al.cfa(DATA, _GRADIENT_MODELS[name], estimator="WLSMV")
    assert res.converged and len(checked) >= 3


def test_chord_iterations_reach_the_gauss_newton_minimum(monkeypatch):
    # the kept Gauss-Newton matrix changes the path, not the minimum: estimates as with a Jacobian at
    # every iteration, from fewer Jacobians
    from allyscale._core import wlsmv

    builds = {"n": 0}
    call = wlsmv._CorrelationModel.__call__

    def counting(self, x, jacobian=True, gm=None):
        builds["n"] += bool(jacobian)
        return call(self, x, jacobian, gm)

    monkeypatch.setattr(wlsmv._CorrelationModel, "__call__", counting)
    chord = al.cfa(DATA, MODEL, estimator="WLSMV")
    n_chord = builds["n"]
    gauss_newton = wlsmv._gauss_newton
    monkeypatch.setattr(wlsmv, "_gauss_newton", lambda *a, gradient=None, **k: gauss_newton(*a, gradient=None, **k))
    builds["n"] = 0
    plain = al.cfa(DATA, MODEL, estimator="WLSMV")
    assert chord.converged and plain.converged
    assert n_chord < builds["n"]
    np.testing.assert_allclose(chord.estimates["est"], plain.estimates["est"], rtol=0, atol=1e-8)
    for key in ("chisq.scaled", "cfi.scaled", "rmsea.scaled", "srmr"):
        np.testing.assert_allclose(chord.fit_measures[key], plain.fit_measures[key], rtol=1e-9, err_msg=key)
