"""WLSMV (DWLS on polychorics, scaled-shifted test) against lavaan 0.6.14."""

import json

import numpy as np
import pandas as pd
import pytest

import allyscale as al
from allyscale._core.wlsmv import influence
from allyscale.errors import SpecificationError
from conftest import REFERENCE

REF = json.loads((REFERENCE / "sim60" / "reference.json").read_text())
DATA = pd.read_csv(REFERENCE / "sim60" / "data.csv")
MODEL = (REFERENCE / "sim60" / "model.lav").read_text()


@pytest.fixture(scope="module")
def fit():
    # R: cfa(model, data = d, ordered = items, estimator = "WLSMV")
    return al.cfa(DATA, MODEL, estimator="WLSMV")


def test_gamma_matches_lavaan():
    # R: lavInspect(fit, "gamma"), "wls.obs", "wls.v" (tests/reference/wlsmv/make_gamma.R)
    ref = json.loads((REFERENCE / "wlsmv" / "gamma.json").read_text())
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


CATML = json.loads((REFERENCE / "catml" / "reference.json").read_text())


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
    for key in ("cfi.robust", "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust",
                "rmsea.pvalue.robust"):
        np.testing.assert_allclose(res.fit_measures[key], ref["fit"][key], atol=1e-6, rtol=0, err_msg=key)


def test_robust_indices_match_lavaan_on_bfi():
    # R: tests/reference/bfi/make_bfi.R, WLSMV on the complete cases of psych::bfi
    bfi = json.loads((REFERENCE / "bfi" / "reference.json").read_text())
    data = pd.read_csv(REFERENCE / "bfi" / "data.csv")
    items = bfi["items"]
    res = al.cfa(data[items].dropna(), (REFERENCE / "bfi" / "model.lav").read_text(), estimator="WLSMV")
    ref = bfi["cfa_wlsmv"]["fit"]
    for key in ("chisq.scaled", "cfi.scaled", "cfi.robust", "tli.robust", "rmsea.robust"):
        np.testing.assert_allclose(res.fit_measures[key], ref[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_robust_indices_are_nan_with_a_reason_when_the_polychoric_matrix_is_not_pd():
    from allyscale._core.wlsmv import _catml

    cor = np.array([[1, .9, -.9], [.9, 1, .9], [-.9, .9, 1.0]])
    out = _catml(cor, np.eye(3), np.zeros((5, 3)), np.zeros((3, 1)), np.zeros((1, 5)), 5, 2.0, 3.0)
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


def test_multiple_groups_refused_clearly():
    data = DATA.iloc[:, :6].copy()
    data["g"] = np.repeat(["a", "b"], 250)
    with pytest.raises(SpecificationError, match="several groups"):
        al.cfa(data, "f =~ i01 + i02 + i03 + i04 + i05 + i06", estimator="WLSMV", group="g")


def test_real_data_with_six_categories_matches_lavaan():
    # R: cfa(model, data = complete bfi cases, ordered = items, estimator = "WLSMV")  (bfi/make_bfi.R)
    ref = json.loads((REFERENCE / "bfi" / "reference.json").read_text())
    data = pd.read_csv(REFERENCE / "bfi" / "data.csv").dropna(subset=ref["items"])
    res = al.cfa(data, (REFERENCE / "bfi" / "model.lav").read_text(), estimator="WLSMV")
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
    psi = np.array([[1, .4, .2], [.4, 1, .3], [.2, .3, 1.0]])
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


DIFF = json.loads((REFERENCE / "wlsmv_diff" / "reference.json").read_text())


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
    np.testing.assert_allclose([out["trace_ugamma"], out["trace_ugamma2"]], [ref["trace_ugamma"],
                                                                             ref["trace_ugamma2"]], rtol=1e-6)
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
