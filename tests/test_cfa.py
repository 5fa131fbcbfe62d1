"""CFA (ML, MLR, FIML) and model comparison against lavaan 0.6.14 (tests/reference/*/reference.json)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, reference_data, reference_json, reference_model
from numpy.testing import assert_allclose

import allyscale
from allyscale.cfa import difference_test
from allyscale.errors import ConvergenceWarning, DataError, DataWarning, SpecificationError


def _case(name):
    d = pd.read_csv(REFERENCE / name / "data.csv")
    model = (REFERENCE / name / "model.lav").read_text()
    ref = json.loads((REFERENCE / name / "reference.json").read_text())
    return d, model, ref


@pytest.fixture(scope="module")
def hs():
    return _case("hs")


@pytest.fixture(scope="module")
def sim60():
    return _case("sim60")


@pytest.fixture(scope="module")
def hs_ml(hs):
    d, model, _ = hs
    return allyscale.cfa(d, model)


@pytest.fixture(scope="module")
def sim60_ml(sim60):
    d, model, _ = sim60
    return allyscale.cfa(d, model, estimator="ML")  # the reference is ML (the default rule picks WLSMV)


@pytest.fixture(scope="module")
def sim60_mlr(sim60):
    d, model, _ = sim60
    return allyscale.cfa(d, model, estimator="MLR")


def _merge(table, rows, cols):
    ref = pd.DataFrame(rows)
    m = ref.merge(table, on=["lhs", "op", "rhs"], suffixes=("_ref", ""))
    assert len(m) == len(ref), "every reference row must be matched"
    return m


# --- ML ------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["hs", "sim60"])
def test_ml_fit_measures(case, request):
    # R: fitMeasures(cfa(model, data = d, estimator = "ML"), c("chisq","df","pvalue","cfi","tli","rmsea",
    #    "rmsea.ci.lower","rmsea.ci.upper","srmr","aic","bic"))
    (_, _, ref), fit = request.getfixturevalue(case), request.getfixturevalue(f"{case}_ml")
    want = ref["cfa_ml"]["fit"]
    assert fit.converged
    assert_allclose(fit.fit_measures["chisq"], want["chisq"], rtol=1e-5)
    for k, v in want.items():
        if k == "chisq":
            continue
        assert_allclose(fit.fit_measures[k], v, atol=1e-5, rtol=1e-7, err_msg=k)


@pytest.mark.parametrize("case", ["hs", "sim60"])
def test_ml_estimates_se_std(case, request):
    # R: parameterEstimates(fit)[, c("est", "se")]; standardizedSolution(fit)$est.std
    (_, _, ref), fit = request.getfixturevalue(case), request.getfixturevalue(f"{case}_ml")
    m = _merge(fit.estimates, ref["cfa_ml"]["est"], ["est", "se"])
    assert_allclose(m["est"], m["est_ref"], atol=1e-4)
    free = m["se_ref"] > 0
    assert_allclose(m.loc[free, "se"], m.loc[free, "se_ref"], rtol=2e-4)
    assert_allclose(m.loc[~free, "se"], 0.0, atol=0)
    s = _merge(fit.estimates, ref["cfa_ml"]["std"], ["est.std"])
    assert_allclose(s["std_all"], s["est.std"], atol=1e-4)


def test_row_order_as_lavaan(hs_ml, hs):
    # parameterEstimates(fit) row order: user rows, residual variances, factor variances, covariances
    ref = pd.DataFrame(hs[2]["cfa_ml"]["est"])
    got = hs_ml.estimates[["lhs", "op", "rhs"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref[["lhs", "op", "rhs"]].reset_index(drop=True))


def test_ml_against_semopy(hs, hs_ml):
    # semopy 2.3.11 is an independent ML implementation: same chi-square (N F_ML) and parameter count
    semopy = pytest.importorskip("semopy")
    d, model, _ = hs
    m = semopy.Model(model)
    m.fit(d[[f"x{i}" for i in range(1, 10)]])
    stats = semopy.calc_stats(m)
    assert_allclose(hs_ml.fit_measures["chisq"], stats["chi2"].iloc[0], rtol=1e-3)
    assert hs_ml.fit_measures["npar"] == len(m.param_vals)


def test_r2_residuals_and_outputs(hs_ml):
    # R²: lavInspect(fit, "r2") = 1 - std.all residual variance
    std = hs_ml.estimates.set_index(["lhs", "op", "rhs"])["std_all"]
    r2 = hs_ml.r2.set_index("variable")["r2"]
    assert_allclose(r2["x1"], 1 - std[("x1", "~~", "x1")], atol=1e-10)
    res = hs_ml.residuals()
    assert res.shape == (9, 9)
    assert_allclose(np.diag(res), 0.0, atol=1e-12)
    # residual correlations reproduce SRMR's off-diagonal part (diagonal residuals are 0 for ML)
    vals = res.to_numpy()[np.tril_indices(9)]
    assert_allclose(np.sqrt(np.mean(vals**2)), hs_ml.fit_measures["srmr"], rtol=1e-8)
    d = hs_ml.to_dict()
    json.dumps(d)
    assert d["fit_measures"]["chisq"] == pytest.approx(hs_ml.fit_measures["chisq"])
    assert "Fit measures" in hs_ml.summary() and "<table" in hs_ml._repr_html_()


# --- MLR -----------------------------------------------------------------------------
def test_mlr_fit_measures(sim60, sim60_mlr):
    # R: fitMeasures(cfa(model, data = d, estimator = "MLR"), c("chisq","df","chisq.scaled","df.scaled",
    #    "pvalue.scaled","cfi.scaled","tli.scaled","rmsea.scaled","cfi.robust","tli.robust","rmsea.robust","srmr"))
    want = sim60[2]["cfa_mlr"]["fit"]
    for k, v in want.items():
        if k.startswith("chisq"):
            assert_allclose(sim60_mlr.fit_measures[k], v, rtol=1e-5, err_msg=k)
        else:
            assert_allclose(sim60_mlr.fit_measures[k], v, atol=1e-5, err_msg=k)


def test_mlr_standard_errors(sim60, sim60_mlr):
    # R: parameterEstimates(cfa(model, data = d, estimator = "MLR"))[, c("est", "se")] (Huber-White sandwich)
    m = _merge(sim60_mlr.estimates, sim60[2]["cfa_mlr"]["est"], ["est", "se"])
    free = m["se_ref"] > 0
    assert_allclose(m["est"], m["est_ref"], atol=1e-4)
    assert_allclose(m.loc[free, "se"], m.loc[free, "se_ref"], rtol=2e-4)


# --- FIML ----------------------------------------------------------------------------
def test_fiml_against_lavaan():
    # R (tests/reference/fiml/make_fiml.R): cfa(model, data = d, missing = "ml"); fitMeasures(); parameterEstimates()
    d, model, ref = _case("fiml")
    assert d.isna().any().any()
    fit = allyscale.cfa(d, model, missing="fiml")
    for k, v in ref["fit"].items():
        if k == "chisq":
            assert_allclose(fit.fit_measures[k], v, rtol=1e-5)
        else:
            assert_allclose(fit.fit_measures[k], v, atol=1e-5, rtol=1e-7, err_msg=k)
    m = _merge(fit.estimates, ref["est"], ["est", "se"])
    free = m["se_ref"] > 0
    assert_allclose(m["est"], m["est_ref"], atol=1e-4)
    assert_allclose(m.loc[free, "se"], m.loc[free, "se_ref"], rtol=2e-4)
    s = _merge(fit.estimates, ref["std"], ["est.std"])  # includes the intercepts (est / sd)
    assert (s["op"] == "~1").sum() == 12
    assert_allclose(s["std_all"], s["est.std"], atol=1e-4)


def test_listwise_drops_rows_with_warning():
    d, model, _ = _case("fiml")
    with pytest.warns(DataWarning, match="dropped"):
        fit = allyscale.cfa(d, model)
    assert fit.ntotal == int(d.notna().all(axis=1).sum())
    assert fit.diagnostics["dropped_rows"] == len(d) - fit.ntotal


# --- input errors --------------------------------------------------------------------
def test_errors(hs):
    d, model, _ = hs
    with pytest.raises(DataError, match="x10, x11"):
        allyscale.cfa(d, model + "\nextra =~ x10 + x11 + x1")
    with pytest.raises(SpecificationError, match="unknown estimator"):
        allyscale.cfa(d, model, estimator="GLS")
    const = d.assign(x3=1.0)
    with pytest.raises(DataError, match="constant item.*x3"):
        allyscale.cfa(const, model)
    with pytest.raises(DataError, match="at least 10"):
        allyscale.cfa(d.head(6), model)
    with pytest.raises(DataError, match="single group"):
        allyscale.cfa(d.assign(g="a"), model, group="g")
    bad = d.copy()
    bad.loc[5, "school"] = None
    with pytest.raises(DataError, match="missing in 1 row"):
        allyscale.cfa(bad, model, group="school")
    with pytest.raises(DataError, match="non-numeric value 'abc'"):
        allyscale.cfa(d.assign(x1=d["x1"].astype(object).where(d.index != 3, "abc")), model)
    with pytest.raises(SpecificationError, match="not identified"):
        allyscale.cfa(d, "f =~ x1 + x2\nx1 ~~ x2")


def test_does_not_mutate_input(hs):
    d, model, _ = hs
    before = d.copy()
    allyscale.cfa(d, model, estimator="MLR")
    pd.testing.assert_frame_equal(d, before)


def test_nonconvergence_is_flagged(hs, monkeypatch):
    d, model, _ = hs
    import allyscale._core.ml as ml

    orig = ml.fit_ml
    monkeypatch.setattr(ml, "fit_ml", lambda *a, **k: orig(*a, **{**k, "max_iter": 1}))
    with pytest.warns(ConvergenceWarning):
        fit = allyscale.cfa(d, model)
    assert not fit.converged and fit.diagnostics["converged"] is False
    assert np.isnan(fit.fit_measures["chisq"]) and "NOT CONVERGED" in fit.summary()
    assert np.isfinite(fit.diagnostics["unconverged_fit_measures"]["chisq"])


def test_heywood_warning():
    # one factor, three items with r12 = r13 = .8, r23 = .5: lambda_1^2 = r12 r13 / r23 = 1.28 > 1,
    # so ML gives item a a negative residual variance (1 - 1.28) -- a Heywood case
    rng = np.random.default_rng(3)
    target = np.array([[1.0, 0.8, 0.8], [0.8, 1.0, 0.5], [0.8, 0.5, 1.0]])
    z = rng.normal(size=(300, 3))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, bias=True))).T  # exactly identity covariance
    d = pd.DataFrame(z @ np.linalg.cholesky(target).T, columns=["a", "b", "c"])
    with pytest.warns(allyscale.errors.HeywoodWarning, match="a: residual variance"):
        fit = allyscale.cfa(d, "f =~ a + b + c")
    assert fit.converged
    assert fit.diagnostics["heywood"] and fit.diagnostics["heywood"][0].startswith("a:")
    theta_a = fit.estimates.query("lhs == 'a' and op == '~~'")["est"].iloc[0]
    assert_allclose(theta_a, 1 - 1.28, atol=1e-6)


# --- comparison ----------------------------------------------------------------------
def test_compare_lrt(hs):
    # R: lavTestLRT(fit1, fit3): Chisq diff = chisq(one factor) - chisq(three factors), Df diff = 3
    d, model, _ = hs
    one = "g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9"
    res = allyscale.compare(d, {"three": model, "one": one})
    assert list(res.table.index) == ["one", "three"]
    t = res.tests.iloc[0]
    f1, f3 = res.fits["one"].fit_measures, res.fits["three"].fit_measures
    assert_allclose(t["chisq_diff"], f1["chisq"] - f3["chisq"], rtol=1e-12)
    assert t["df_diff"] == 3
    assert 0 <= t["pvalue"] < 1e-10
    json.dumps(res.to_dict())


def test_compare_satorra_bentler_2001(hs):
    # lavTestLRT(fit1, fit3) with MLR uses method = "satorra.bentler.2001":
    # cd = (df0 c0 - df1 c1) / (df0 - df1); T = (chisq0 - chisq1) / cd
    d, model, _ = hs
    one = "g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9"
    f0 = allyscale.cfa(d, one, estimator="MLR")
    f1 = allyscale.cfa(d, model, estimator="MLR")
    t = difference_test(f0, f1)
    a, b = f0.fit_measures, f1.fit_measures
    cd = (a["df"] * a["chisq.scaling.factor"] - b["df"] * b["chisq.scaling.factor"]) / (a["df"] - b["df"])
    assert_allclose(t["chisq_diff"], (a["chisq"] - b["chisq"]) / cd, rtol=1e-12)


def test_compare_needs_two_models(hs):
    d, model, _ = hs
    with pytest.raises(SpecificationError):
        allyscale.compare(d, {"only": model})


# --- R-generated extras (tests/reference/hs/make_compare.R -> compare.json) -------------
@pytest.fixture(scope="module")
def hs_compare():
    return reference_json("hs", "compare.json")


def test_lrt_ml_and_mlr_against_lavaan(hs, hs_compare):
    # R: lavTestLRT(cfa(one, estimator = est), cfa(three, estimator = est)), est = "ML", "MLR"
    d, model, _ = hs
    one = "g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9"
    for est in ("ML", "MLR"):
        res = allyscale.compare(d, {"one": one, "three": model}, estimator=est)
        t = res.tests.iloc[0]
        want = hs_compare[f"lrt_{est.lower()}"]
        assert_allclose(t["chisq_diff"], want["chisq_diff"], rtol=1e-5)
        assert t["df_diff"] == want["df_diff"]
        assert_allclose(t["pvalue"], want["pvalue"], rtol=1e-3)


def test_mlr_hs_against_lavaan(hs, hs_compare):
    # R: fitMeasures(cfa(three, data = d, estimator = "MLR"), ...); parameterEstimates(.)
    d, model, _ = hs
    fit = allyscale.cfa(d, model, estimator="MLR")
    for k, v in hs_compare["hs_mlr_fit"].items():
        assert_allclose(fit.fit_measures[k], v, atol=1e-5, rtol=1e-6, err_msg=k)
    m = _merge(fit.estimates, hs_compare["hs_mlr_est"], ["est", "se"])
    free = m["se_ref"] > 0
    assert_allclose(m.loc[free, "se"], m.loc[free, "se_ref"], rtol=2e-4)


def test_modification_indices_against_lavaan(hs_ml, hs_compare):
    # R: modindices(cfa(three, data = d))[, c("lhs", "op", "rhs", "mi", "epc", "sepc.all")]
    ref = pd.DataFrame(hs_compare["modindices"]["table"])
    mi = hs_ml.modification_indices()
    assert mi[["lhs", "op", "rhs"]].values.tolist() == ref[["lhs", "op", "rhs"]].values.tolist()
    assert_allclose(mi["mi"], ref["mi"], rtol=1e-4, atol=1e-4)
    assert_allclose(mi["epc"], ref["epc"], atol=1e-5)
    assert_allclose(mi["sepc.all"], ref["sepc.all"], atol=1e-5)
    assert len(hs_ml.modification_indices(minimum=10)) == int((ref["mi"] >= 10).sum())


def test_residual_covariance_and_regression(hs, hs_compare):
    # R: standardizedSolution(cfa(paste(three, "x1 ~~ x9", "speed ~ visual"), data = d)); lavInspect(., "r2")
    d, _, _ = hs
    ext = hs_compare["extended"]
    fit = allyscale.cfa(d, ext["model"])
    for k, v in ext["fit"].items():
        assert_allclose(fit.fit_measures[k], v, rtol=1e-5, atol=1e-6, err_msg=k)
    ref = pd.DataFrame(ext["std"])
    got = fit.estimates
    assert got[["lhs", "op", "rhs"]].values.tolist() == ref[["lhs", "op", "rhs"]].values.tolist()
    assert_allclose(got["std_all"], ref["est.std"], atol=1e-5)
    r2 = fit.r2.set_index("variable")["r2"]
    for k, v in ext["r2"].items():
        assert_allclose(r2[k], v, atol=1e-5, err_msg=k)


# --- the pool's competing structures (tests/reference/pool/make_pool.R -> compare.json) ---
@pytest.fixture(scope="module")
def pool_case(mini_pool):
    d = reference_data("pool")
    ref = reference_json("pool", "compare.json")
    assert reference_json("pool", "models.json") == mini_pool.all_model_syntax()
    return d, ref


@pytest.mark.parametrize("estimator", ["ML", "MLR"])
def test_compare_pool_structures_against_lavaan(mini_pool, pool_case, estimator):
    # R: for each structure, fitMeasures(cfa(models[[name]], data = d, estimator = est), keys)
    d, ref = pool_case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", allyscale.errors.NotPositiveDefiniteWarning)
        res = allyscale.compare(d, pool=mini_pool, estimator=estimator)
    assert set(res.table.index) == set(mini_pool.all_model_syntax())
    for name, fit in res.fits.items():
        want = ref["fits"][f"{name}.{estimator}"]
        assert fit.converged and want["converged"]
        if name == "one_factor":
            # lavaan stops in a local minimum here (chisq 2936.19); the minimum found here is lower
            # (2858.32): a better ML solution, so only the direction is checked.
            assert fit.fit_measures["chisq"] < want["chisq"] - 50
            continue
        for k, v in want.items():
            if k == "converged":
                continue
            if k in ("chisq", "chisq.scaled", "aic", "bic"):
                assert_allclose(fit.fit_measures[k], v, rtol=1e-6, err_msg=f"{name} {k}")
            else:
                assert_allclose(fit.fit_measures[k], v, atol=1e-4, err_msg=f"{name} {k}")
    if estimator == "MLR":
        # R: lavTestLRT(one_factor, correlated) with MLR: negative Satorra-Bentler scaling -> NA
        t = res.tests.set_index(["model0", "model1"]).loc[("one_factor", "correlated")]
        assert ref["lrt_one_vs_correlated.MLR"]["chisq_diff"] == "NA"
        assert np.isnan(t["chisq_diff"]) and t["scaling"] < 0


# --- CLI -----------------------------------------------------------------------------
def test_cli_cfa_and_compare(tmp_path):
    from click.testing import CliRunner

    from allyscale.cli import main

    data, model = REFERENCE / "hs" / "data.csv", REFERENCE / "hs" / "model.lav"
    out = tmp_path / "fit.json"
    r = CliRunner().invoke(main, ["cfa", str(data), "--model", str(model), "--json", str(out)])
    assert r.exit_code == 0, r.output
    got = json.loads(out.read_text())
    # R: fitMeasures(cfa(model, data = d), "chisq")
    assert_allclose(got["fit_measures"]["chisq"], 85.3055217699727, rtol=1e-6)
    assert {"lhs", "op", "rhs", "est", "se", "std_all"} <= set(got["estimates"][0])
    one = tmp_path / "one.lav"
    one.write_text("g =~ x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8 + x9\n")
    out2 = tmp_path / "cmp.json"
    r = CliRunner().invoke(
        main, ["compare", str(data), "--model", str(model), "--model", str(one), "--json", str(out2)]
    )
    assert r.exit_code == 0, r.output
    cmp = json.loads(out2.read_text())
    # R: lavTestLRT(cfa(one), cfa(three))
    assert_allclose(cmp["tests"][0]["chisq_diff"], 226.958637606573, rtol=1e-5)
    r = CliRunner().invoke(main, ["cfa", str(data), "--model", str(tmp_path / "missing.lav")])
    assert r.exit_code == 2 and "model file not found" in r.output
    r = CliRunner().invoke(main, ["cfa", str(data), "--model", str(model), "--group", "nope"])
    assert r.exit_code == 2 and "group column 'nope'" in r.output


def test_std_lv_against_lavaan(hs, hs_compare, hs_ml):
    # R: parameterEstimates(cfa(three, data = d, std.lv = TRUE))[, c("est", "se")]
    d, model, _ = hs
    fit = allyscale.cfa(d, model, std_lv=True)
    m = _merge(fit.estimates, hs_compare["std_lv"]["est"], ["est", "se"])
    free = m["se_ref"] > 0
    assert_allclose(m["est"], m["est_ref"], atol=1e-4)
    assert_allclose(m.loc[free, "se"], m.loc[free, "se_ref"], rtol=2e-4)
    assert_allclose(fit.fit_measures["chisq"], hs_ml.fit_measures["chisq"], rtol=1e-8)


def test_modification_indices_multigroup(hs):
    # R: modindices(cfa(three, data = d, group = "school")) (rows visual =~ x4, x5, x6, x7 of group 1)
    #    modindices(cfa(three, data = d, group = "school", group.equal = "loadings")) (visual =~ x5, x9, group 1)
    d, model, _ = hs
    mi = allyscale.cfa(d, model, group="school").modification_indices().head(4)
    assert_allclose(mi["mi"], [1.498, 9.593, 3.972, 5.182], atol=6e-4)
    assert_allclose(mi["epc"], [0.099, -0.281, 0.137, -0.227], atol=6e-4)
    assert_allclose(mi["sepc.all"], [0.090, -0.225, 0.146, -0.220], atol=6e-4)
    mi = allyscale.cfa(d, model, group="school", group_equal=["loadings"]).modification_indices()
    g1 = mi[(mi["group"] == 1) & (mi["lhs"] == "visual")].set_index("rhs")
    assert_allclose(g1.loc[["x5", "x9"], "mi"], [2.804, 9.533], atol=6e-4)
    assert_allclose(g1.loc[["x5", "x9"], "sepc.all"], [-0.119, 0.296], atol=6e-4)


def test_model_spec_delta_parameterization():
    # ordered items (delta parameterization): residual variances 1 - communality, implied diag(Sigma) = 1,
    # and the analytic Jacobian agrees with central differences
    from allyscale._core.model import ModelSpec
    from allyscale.syntax import lavaanify

    pt = lavaanify(reference_model("hs"), ordered=[f"x{i}" for i in range(1, 10)])
    spec = ModelSpec.from_partable(pt, pt.attrs["observed"], pt.attrs["latent"], meanstructure=True)
    assert len(spec.delta) == 9
    x = np.random.default_rng(1).uniform(0.3, 0.6, spec.n_free)
    sigma = spec.implied(x)[0][0]
    assert_allclose(np.diag(sigma), 1.0, atol=1e-12)
    jac = spec.dsigma(x)[0]
    h = 1e-6
    for k in range(spec.n_free):
        xp, xm = x.copy(), x.copy()
        xp[k] += h
        xm[k] -= h
        num = (spec.implied(xp)[0][0] - spec.implied(xm)[0][0]) / (2 * h)
        r, c = np.tril_indices(9)
        order = np.lexsort((r, c))  # vech: column by column
        assert_allclose(jac[:, k], num[r[order], c[order]], atol=1e-7)


def test_mlr_fiml_against_lavaan():
    # R (tests/reference/fiml/make_fiml.R): cfa(model, data = d, missing = "ml", estimator = "MLR")
    d, model, ref = _case("fiml")
    fit = allyscale.cfa(d, model, missing="fiml", estimator="MLR")
    want = ref["mlr"]["fit"]
    for k, v in want.items():
        if k.endswith(".robust"):
            # lavaan's FIML-corrected robust indices (Zhang & Savalei, 2023; lav_fit_fiml_corrected "V3")
            assert_allclose(fit.fit_measures[k], v, atol=1e-6, rtol=0, err_msg=k)
        elif k.startswith("chisq"):
            assert_allclose(fit.fit_measures[k], v, rtol=1e-5, err_msg=k)
        else:
            assert_allclose(fit.fit_measures[k], v, atol=1e-5, err_msg=k)
    m = _merge(fit.estimates, ref["mlr"]["est"], ["est", "se"])
    free = m["se_ref"] > 0
    assert_allclose(m.loc[free, "se"], m.loc[free, "se_ref"], rtol=2e-4)


@pytest.mark.filterwarnings("ignore::allyscale.errors.NotPositiveDefiniteWarning")  # as lavaan: facets model
def test_cli_compare_pool(tmp_path, pool_case):
    # the pool's structures from the command line; chisq of "correlated" as lavaan
    # R (tests/reference/pool/make_pool.R): fitMeasures(cfa(models$correlated, data = d), "chisq")
    from click.testing import CliRunner
    from conftest import MINI_POOL

    from allyscale.cli import main

    _, ref = pool_case
    out = tmp_path / "cmp.json"
    r = CliRunner().invoke(
        main,
        [
            "compare",
            str(REFERENCE / "pool" / "data.csv"),
            "--pool",
            str(MINI_POOL),
            "--estimator",
            "ML",
            "--json",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    table = {row["model"]: row for row in json.loads(out.read_text())["table"]}
    assert_allclose(table["correlated"]["chisq"], ref["fits"]["correlated.ML"]["chisq"], rtol=1e-6)
    r = CliRunner().invoke(main, ["compare", str(REFERENCE / "pool" / "data.csv")])
    assert r.exit_code == 2 and "--pool or at least two --model" in r.output
