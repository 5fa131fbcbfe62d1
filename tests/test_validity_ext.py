"""Tests of allyscale/validity_ext.py against lavaan 0.6.14, psych 2.2.9 and statsmodels.

References: tests/reference/validity_ext/ (data from make_data.py, R outputs from make_reference.R).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import allyscale as al
from allyscale.errors import DataError, DataWarning, SpecificationError

REF = Path(__file__).parent / "reference" / "validity_ext"
MODEL = "ally_a =~ a1 + a2 + a3 + a4\nally_b =~ b1 + b2 + b3 + b4"
EXTERNAL = {"arbi": ["x1", "x2", "x3"], "sdes": ["s1", "s2", "s3"]}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REF / "data.csv")


@pytest.fixture(scope="module")
def latent(data):
    return al.latent_correlations(
        data,
        MODEL,
        {**EXTERNAL, "sds": "sds_total"},
        reliability={"sds": 0.8},
        expect={"arbi": "> .50", "sdes": "< .30", "ally_b ~~ sds": "|r| < .30"},
    )


# --------------------------------------------------------------------------- latent correlations
def test_latent_correlations_match_lavaan_wlsmv(latent):
    # R: cfa(m_lat, d, ordered = items, estimator = "WLSMV", std.lv = TRUE); parameterEstimates()
    ref = pd.read_csv(REF / "latent_wlsmv.csv")
    assert latent.estimator == "WLSMV" and latent.diagnostics["estimator_rule"] is True
    got = latent.factor_correlations.set_index(["lhs", "rhs"])
    ref = ref.set_index(["lhs", "rhs"]).loc[got.index]
    assert_allclose(got["r"], ref["est"], rtol=1e-5, atol=1e-6)
    assert_allclose(got["se"], ref["se"], rtol=1e-4)
    assert_allclose(got["ci_lower"], ref["ci.lower"], rtol=1e-4, atol=1e-6)
    assert_allclose(got["ci_upper"], ref["ci.upper"], rtol=1e-4, atol=1e-6)
    fm = pd.read_csv(REF / "latent_wlsmv_fit.csv").set_index("measure")["value"]
    assert_allclose(latent.fit.fit_measures["chisq.scaled"], fm["chisq.scaled"], rtol=1e-5)
    lat = latent.correlations[latent.correlations["kind"] == "latent"].set_index(["factor", "external"])
    assert_allclose(lat.loc[("ally_a", "arbi"), "r"], 0.563395728881267, rtol=1e-5)
    assert_allclose(lat.loc[("ally_b", "sdes"), "r"], 0.130858941145943, rtol=1e-5)


def test_disattenuated_correlations_match_psych(latent):
    # R: psych::alpha(items)$total$raw_alpha; cor.test(rowMeans(items), sds_total)$conf.int
    ref = pd.read_csv(REF / "observed_scores.csv").set_index("scale")
    obs = latent.correlations[latent.correlations["kind"] == "observed"].set_index("factor")
    assert_allclose(obs["reliability_scale"], ref["alpha"], rtol=1e-10)
    assert_allclose(obs["r_observed"], ref["r"], rtol=1e-10)
    assert_allclose(obs["r_observed_lower"], ref["r_lower"], rtol=1e-8)
    assert_allclose(obs["r_observed_upper"], ref["r_upper"], rtol=1e-8)
    c = np.sqrt(ref["alpha"] * 0.8)
    assert_allclose(obs["r"], ref["r"] / c, rtol=1e-10)
    assert_allclose(obs["ci_upper"], ref["r_upper"] / c, rtol=1e-8)


def test_expectation_table(latent):
    e = latent.expectations.set_index(["factor", "external"])
    assert len(e) == 5
    # ally_a-arbi .563 > .50 met, CI [.453, .673] does not lie above .50; ally_b-arbi .383 not met
    assert e.loc[("ally_a", "arbi"), "met"] and not e.loc[("ally_a", "arbi"), "ci_supports"]
    assert not e.loc[("ally_b", "arbi"), "met"]
    assert e.loc[("ally_b", "sdes"), "met"] and e.loc[("ally_b", "sdes"), "ci_supports"]  # CI [.005, .256]
    assert e.loc[("ally_b", "sds"), "met"] and e.loc[("ally_b", "sds"), "expected"] == "|r| < .30"
    text = latent.summary()
    assert "Expected patterns" in text and "WLSMV" in text
    json.dumps(latent.to_dict())
    assert "<h5>Expected patterns</h5>" in latent._repr_html_()


def test_latent_correlations_errors(data):
    with pytest.raises(SpecificationError, match="'nope'"):
        al.latent_correlations(data, MODEL, EXTERNAL, expect={"nope": "> .5"})
    with pytest.raises(SpecificationError, match="'> half'"):
        al.latent_correlations(data, MODEL, {"sds": "sds_total"}, expect={"sds": "> half"})
    with pytest.raises(DataError, match="'zz'"):
        al.latent_correlations(data, MODEL, {"arbi": ["x1", "zz"]})
    with pytest.raises(SpecificationError, match="ally_a"):
        al.latent_correlations(data, MODEL, {"ally_a": "sds_total"})
    with pytest.raises(SpecificationError, match="one item|1 item"):
        al.latent_correlations(data, MODEL, {"arbi": ["x1"]})
    bad = data.assign(sds_total=data["sds_total"].astype(str))
    with pytest.raises(DataError, match="sds_total"):
        al.latent_correlations(bad, MODEL, {"sds": "sds_total"})


# --------------------------------------------------------------------------- incremental validity
def test_incremental_validity_matches_statsmodels(data):
    import statsmodels.api as sm  # the test extra's reference (pyproject.toml)

    d = data.assign(arbi_score=data[["x1", "x2", "x3"]].mean(axis=1))
    res = al.incremental_validity(
        d, outcome="y", baseline=["arbi_score", "sds_total"], added=["ally_a", "ally_b"], model=MODEL
    )
    sa, sb = d[["a1", "a2", "a3", "a4"]].mean(axis=1), d[["b1", "b2", "b3", "b4"]].mean(axis=1)
    X = pd.DataFrame({"arbi_score": d["arbi_score"], "sds_total": d["sds_total"], "ally_a": sa, "ally_b": sb})
    m1 = sm.OLS(d["y"], sm.add_constant(X[["arbi_score", "sds_total"]])).fit()
    m2 = sm.OLS(d["y"], sm.add_constant(X)).fit()
    f, p, q = m2.compare_f_test(m1)
    s = res.steps
    assert_allclose(s.loc["baseline", "r2"], m1.rsquared, rtol=1e-10)
    assert_allclose(s.loc["full", "r2"], m2.rsquared, rtol=1e-10)
    assert_allclose(s.loc["full", "adj_r2"], m2.rsquared_adj, rtol=1e-10)
    assert_allclose(s.loc["full", "F"], m2.fvalue, rtol=1e-10)
    assert_allclose(res.delta_r2, m2.rsquared - m1.rsquared, rtol=1e-10)
    assert_allclose([s.loc["full", "F_change"], s.loc["full", "p_change"]], [f, p], rtol=1e-8)
    assert s.loc["full", "df1_change"] == q == 2 and s.loc["full", "df2_change"] == 395
    # standardized coefficients: OLS on z-scores (ddof = 1)
    zd = pd.concat([d["y"], X], axis=1)
    zd = (zd - zd.mean()) / zd.std(ddof=1)
    mz = sm.OLS(zd["y"], sm.add_constant(zd[X.columns])).fit()
    c = res.coefficients[res.coefficients["step"] == "full"].set_index("predictor").loc[X.columns]
    assert_allclose(c["beta"], mz.params[X.columns], rtol=1e-8)
    assert_allclose(c["beta_se"], mz.bse[X.columns], rtol=1e-8)
    ci = mz.conf_int().loc[X.columns]
    assert_allclose(c["ci_lower"], ci[0], rtol=1e-8)
    assert_allclose(c["ci_upper"], ci[1], rtol=1e-8)
    assert_allclose(c["b"], m2.params[X.columns], rtol=1e-8)
    assert_allclose(c["se"], m2.bse[X.columns], rtol=1e-8)
    assert res.delta_r2 > 0.02 and s.loc["full", "p_change"] < 1e-3  # the data were made with ally effects on y
    assert "delta R2" in res.summary()
    json.dumps(res.to_dict())


def test_incremental_validity_errors_and_missing(data):
    with pytest.raises(SpecificationError, match="both"):
        al.incremental_validity(data, outcome="y", baseline=["x1"], added=["x1"])
    with pytest.raises(DataError, match="'nope'"):
        al.incremental_validity(data, outcome="y", baseline=["x1"], added=["nope"])
    with pytest.raises(SpecificationError, match="collinear"):
        al.incremental_validity(data.assign(x1b=2 * data["x1"]), outcome="y", baseline=["x1"], added=["x1b"])
    d = data.copy()
    d.loc[:9, "y"] = np.nan
    with pytest.warns(DataWarning, match="10 rows"):
        res = al.incremental_validity(d, outcome="y", baseline=[], added=["x1", "x2"])
    assert res.n == 390 and res.diagnostics["dropped_rows"] == 10
    assert_allclose(res.delta_r2, res.steps.loc["full", "r2"], rtol=1e-12)


# --------------------------------------------------------------------------- known groups
@pytest.fixture(scope="module")
def groups(data):
    return al.known_groups(data, MODEL, group="g")


@pytest.mark.parametrize("estimator", ["WLSMV", "ML"])
def test_latent_means_match_lavaan(data, groups, estimator):
    # R: cfa(m_kg, d, group = "g", ordered = items, estimator = "WLSMV",
    #        group.equal = c("thresholds", "loadings", "intercepts"))   (ML: c("loadings", "intercepts"))
    res = groups if estimator == "WLSMV" else al.known_groups(data, MODEL, group="g", estimator="ML")
    ref = pd.read_csv(REF / f"known_groups_{estimator.lower()}.csv")
    assert res.groups == ("ally", "other") and res.latent_refused is None
    assert res.diagnostics["latent_level"] == "scalar"
    mean = ref[(ref["op"] == "~1") & (ref["group"] == 2)].set_index("lhs").loc[["ally_a", "ally_b"]]
    assert_allclose(res.latent["mean_difference"], mean["est"], rtol=1e-5)
    assert_allclose(res.latent["se"], mean["se"], rtol=1e-4)
    assert_allclose(res.latent["ci_lower"], mean["ci.lower"], rtol=1e-4)
    var = ref[ref["op"] == "~~"].set_index(["lhs", "group"])["est"]
    assert_allclose(res.latent["var_focal"], var.loc[[("ally_a", 2), ("ally_b", 2)]], rtol=1e-5)
    pooled = (
        199 * var.loc[[("ally_a", 1), ("ally_b", 1)]].to_numpy()
        + 199 * var.loc[[("ally_a", 2), ("ally_b", 2)]].to_numpy()
    ) / 398
    assert_allclose(res.latent["d_latent"], mean["est"].to_numpy() / np.sqrt(pooled), rtol=1e-5)
    # R (make_reference.R, part 8): the delta-method SE of d from vcov(fit) of the scalar model
    d = pd.read_csv(REF / "known_groups_d.csv")
    d = d[d["estimator"] == estimator].set_index("factor").loc[["ally_a", "ally_b"]]
    assert_allclose(res.latent["d_latent"], d["d_latent"], rtol=1e-5)
    assert_allclose(res.latent["d_latent_se"], d["se"], rtol=1e-4)
    assert_allclose(res.latent[["d_latent_lower", "d_latent_upper"]], d[["ci.lower", "ci.upper"]], rtol=1e-4)


def test_observed_hedges_g(data, groups):
    from scipy import special, stats

    obs = groups.observed
    sa = data[["a1", "a2", "a3", "a4"]].mean(axis=1)
    x, y = sa[data["g"] == "other"], sa[data["g"] == "ally"]
    t, p = stats.ttest_ind(x, y)  # Student's t, pooled variance
    assert_allclose([obs.loc["ally_a", "t"], obs.loc["ally_a", "pvalue"]], [t, p], rtol=1e-10)
    sp = np.sqrt((199 * x.var() + 199 * y.var()) / 398)
    d = (x.mean() - y.mean()) / sp
    j = np.exp(special.gammaln(199) - special.gammaln(198.5)) / np.sqrt(199)
    assert_allclose(obs.loc["ally_a", ["d", "J", "g"]].astype(float), [d, j, j * d], rtol=1e-10)
    assert_allclose(j, 1 - 3 / (4 * 398 - 1), rtol=1e-5)  # Hedges' approximation
    # the bounds are noncentrality parameters at which the observed t is the 97.5% / 2.5% quantile
    s = np.sqrt(1 / 200 + 1 / 200)
    assert_allclose(stats.nct.cdf(t, 398, obs.loc["ally_a", "g_lower"] / j / s), 0.975, rtol=1e-8)
    assert_allclose(stats.nct.cdf(t, 398, obs.loc["ally_a", "g_upper"] / j / s), 0.025, rtol=1e-8)
    assert_allclose(obs.loc["ally_a", "g"], -0.5152, atol=1e-4)
    assert obs.loc["ally_a", "n_focal"] == 200 and "Hedges" in groups.summary()
    json.dumps(groups.to_dict())


def test_known_groups_refuses_latent_means_without_scalar_invariance(data):
    d = data.copy()
    other = d["g"] == "other"
    for item in ("a1", "a2"):  # a uniform shift of two items' answers in one group: intercept non-invariance
        d.loc[other, item] = d.loc[other, item] + 1.0
    with pytest.warns(al.StatisticalWarning, match="latent means not compared"):
        res = al.known_groups(d, MODEL, group="g", estimator="ML")
    assert res.latent is None
    assert res.latent_refused.startswith("scalar invariance does not hold across 'g'")
    assert "latent means not compared" in res.summary()
    assert res.observed.loc["ally_b", "g"] == pytest.approx(-0.4467, abs=1e-4)  # observed scores still given


def test_known_groups_errors(data):
    with pytest.raises(DataError, match="'nope'"):
        al.known_groups(data, MODEL, group="nope")
    with pytest.raises(DataError, match="exactly two groups"):
        al.known_groups(data.assign(g3=np.arange(len(data)) % 3), MODEL, group="g3")
    with pytest.raises(DataError, match="'zz'"):
        al.known_groups(data, MODEL, group="g", reference="zz")


# --------------------------------------------------------------------------- test-retest
@pytest.fixture(scope="module")
def retest(data):
    w2 = pd.read_csv(REF / "retest.csv")  # the same 400 ids in another order
    return al.test_retest(data, w2, model=MODEL, id="id")


def test_retest_icc_matches_psych(retest):
    # R: merge(d, w2, by = "id"); psych::ICC(cbind(rowMeans(t1 items), rowMeans(t2 items)), lmer = FALSE)
    ref = pd.read_csv(REF / "retest_icc.csv").set_index(["scale", "type"])
    t = retest.table
    for sc in ("ally_a", "ally_b"):
        assert_allclose(
            t.loc[sc, ["icc2", "icc2_lower", "icc2_upper"]].astype(float),
            ref.loc[(sc, "ICC2"), ["icc", "lower", "upper"]].astype(float),
            rtol=1e-8,
        )
        assert_allclose(
            t.loc[sc, ["icc3", "icc3_lower", "icc3_upper"]].astype(float),
            ref.loc[(sc, "ICC3"), ["icc", "lower", "upper"]].astype(float),
            rtol=1e-8,
        )
        assert_allclose(
            t.loc[sc, ["r", "sd1"]].astype(float), ref.loc[(sc, "ICC2"), ["r", "sd1"]].astype(float), rtol=1e-10
        )
    assert_allclose(t.loc["ally_a", "icc2"], 0.599013202848207, rtol=1e-8)
    assert t.loc["ally_a", "n"] == 400


def test_retest_sem_and_reliable_change(data, retest):
    t = retest.table.loc["ally_a"]
    sem = t["sd1"] * math.sqrt(1 - t["r"])  # Jacobson & Truax (1991), r_xx = test-retest r
    assert_allclose([t["rxx"], t["sem"], t["s_diff"]], [t["r"], sem, math.sqrt(2) * sem], rtol=1e-12)
    w2 = pd.read_csv(REF / "retest.csv").set_index("id")
    x1 = data.set_index("id")[["a1", "a2", "a3", "a4"]].mean(axis=1)
    x2 = w2.loc[x1.index, ["a1", "a2", "a3", "a4"]].mean(axis=1)
    ch = retest.change[retest.change["scale"] == "ally_a"].set_index("id").loc[x1.index]
    assert_allclose(ch["rci"], (x2 - x1) / (math.sqrt(2) * sem), rtol=1e-10)
    n_inc = int(((x2 - x1) / (math.sqrt(2) * sem) > 1.959963984540054).sum())
    assert n_inc == t["reliable_increase"] and (ch["change"] == "reliable increase").sum() == n_inc
    # the alpha variant: r_xx = wave-1 alpha (psych's raw alpha of a1-a4, tests/reference/validity_ext)
    a = al.test_retest(data, w2.reset_index(), model=MODEL, rxx="alpha").table.loc["ally_a"]
    alpha = pd.read_csv(REF / "observed_scores.csv").set_index("scale").loc["ally_a", "alpha"]
    assert_allclose([a["rxx"], a["sem"]], [alpha, t["sd1"] * math.sqrt(1 - alpha)], rtol=1e-10)
    assert "Test-retest" in retest.summary() and "<h4>" in retest._repr_html_()
    json.dumps(retest.to_dict())


def test_retest_long_format_unmatched_and_errors(data):
    w2 = pd.read_csv(REF / "retest.csv")
    long = pd.concat([data.drop(columns=["g", "sds_total", "y"]).assign(t=1), w2.iloc[5:].assign(t=2)])
    with pytest.warns(DataWarning, match="5 respondent"):
        res = al.test_retest(long, model=MODEL, id="id", wave="t")
    assert res.table.loc["ally_a", "n"] == 395 and res.diagnostics["unmatched"] == {"wave1": 5, "wave2": 0}
    with pytest.raises(DataError, match="id 3 occurs more than once"):
        al.test_retest(data, pd.concat([w2, w2[w2["id"] == 3]]), model=MODEL)
    with pytest.raises(DataError, match="'pid'"):
        al.test_retest(data, w2, model=MODEL, id="pid")
    with pytest.raises(SpecificationError, match="rxx"):
        al.test_retest(data, w2, model=MODEL, rxx="omega")


def test_latent_incremental_validity_matches_lavaan(data):
    # R: sem(m_inc + "Y ~ arbi + ally_a + ally_b"); R2 of arbi alone from lavInspect(fit, "cov.lv");
    #    anova(fit with 0*ally_a + 0*ally_b, fit)   (make_reference.R, part 6)
    model = MODEL + "\narbi =~ x1 + x2 + x3"
    res = al.incremental_validity(
        data, outcome="y", baseline=["arbi"], added=["ally_a", "ally_b"], model=model, latent=True
    )
    ref = pd.read_csv(REF / "incremental_latent.csv").iloc[0]
    paths = pd.read_csv(REF / "incremental_latent_paths.csv").set_index("rhs")
    assert res.kind == "latent" and res.fit.estimator == "ML"  # y is continuous: the rule gives ML
    assert_allclose(res.steps.loc["full", "r2"], ref["r2_full"], rtol=1e-5)
    assert_allclose(res.steps.loc["baseline", "r2"], ref["r2_base"], rtol=1e-5)
    assert_allclose(res.delta_r2, ref["r2_full"] - ref["r2_base"], rtol=1e-4)
    assert_allclose(res.difference_test["chisq_diff"], ref["chisq_diff"], rtol=1e-5)
    assert res.difference_test["df_diff"] == ref["df_diff"] == 2
    assert_allclose(res.difference_test["pvalue"], ref["p_diff"], rtol=1e-4)
    c = res.coefficients.set_index("predictor").loc[paths.index]
    assert_allclose(c["b"], paths["est"], rtol=1e-5)
    assert_allclose(c["se"], paths["se"], rtol=1e-4)
    assert_allclose(c["ci_lower"], paths["ci.lower"], rtol=1e-4)
    assert_allclose(c["beta"], paths["std.all"], rtol=1e-5)
    assert "latent, ML" in res.summary()
    json.dumps(res.to_dict())
    with pytest.raises(SpecificationError, match="'sdes'"):
        al.incremental_validity(data, outcome="y", baseline=["sdes"], added=["ally_a"], model=model, latent=True)


def test_validate_cli_latent_incremental_validity_matches_lavaan(tmp_path):
    # --criterion-latent: the report's incremental validity is the SEM version of
    # test_latent_incremental_validity_matches_lavaan (make_reference.R, part 6)
    from click.testing import CliRunner

    from allyscale.cli import main

    model = tmp_path / "m.lav"
    model.write_text(MODEL + "\n")
    cli = ["validate", str(REF / "data.csv"), "--model", str(model)]
    base = [*cli, "--criterion", "y"]
    out = tmp_path / "rep"
    r = CliRunner().invoke(main, [*base, "--external", "arbi=x*", "--criterion-latent", "--out", str(out)])
    assert r.exit_code == 0, r.output
    steps = pd.read_csv(out / "tables" / "incremental_steps.csv", index_col=0)
    ref = pd.read_csv(REF / "incremental_latent.csv").iloc[0]
    assert_allclose(steps.loc["full", "r2"], ref["r2_full"], rtol=1e-5)
    assert_allclose(steps.loc["baseline", "r2"], ref["r2_base"], rtol=1e-5)
    assert_allclose(steps.loc["full", "chisq_diff"], ref["chisq_diff"], rtol=1e-5)
    assert steps.loc["full", "df_diff"] == ref["df_diff"] == 2
    paths = pd.read_csv(REF / "incremental_latent_paths.csv").set_index("rhs")
    coef = pd.read_csv(out / "tables" / "incremental_coefficients.csv").set_index("predictor").loc[paths.index]
    assert_allclose(coef["b"], paths["est"], rtol=1e-5)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Incremental validity for y (latent, ML)" in page
    # the observed-score version stays the default
    obs = tmp_path / "obs"
    r = CliRunner().invoke(main, [*base, "--external", "arbi=x*", "--out", str(obs)])
    assert r.exit_code == 0, r.output
    assert "chisq_diff" not in pd.read_csv(obs / "tables" / "incremental_steps.csv").columns
    # bad input: exit 2 with the reason, nothing written
    cases = (
        (
            [*base, "--external", "arbi=x*", "--external", "sds_total", "--criterion-latent"],
            "'sds_total' is a single column",
        ),
        ([*base, "--criterion-latent"], "needs external measures"),
        ([*cli, "--external", "arbi=x*", "--criterion-latent"], "needs a criterion (--criterion)"),
    )
    for k, (args, msg) in enumerate(cases):
        bad = tmp_path / f"bad{k}"
        r = CliRunner().invoke(main, [*args, "--out", str(bad)])
        assert r.exit_code == 2, (args, r.output)
        assert msg in r.output and not (bad / "report.html").exists()


# --------------------------------------------------------------------------- report sections
def test_report_sections(data, latent, groups, retest):
    from types import SimpleNamespace

    from allyscale.report.references import missing
    from allyscale.report.validity_section import (
        SECTION_ID,
        add_to_sections,
        build,
        criterion_section,
        stability_section,
    )

    inc = al.incremental_validity(data, outcome="y", baseline=["sds_total"], added=["ally_a", "ally_b"], model=MODEL)
    sec = criterion_section(latent=latent, known=groups, incremental=inc)
    names = [t.name for t in sec.tables]
    assert names == [
        "criterion_correlations",
        "criterion_expectations",
        "known_groups_observed",
        "known_groups_latent",
        "incremental_steps",
        "incremental_coefficients",
    ]
    assert sec.numbers["expectations_met"] == 4 and sec.numbers["expectations"] == 5
    assert sec.status == "warning" and "ally_b-arbi (> .50, r = 0.38)" in sec.flags[0]
    st = stability_section(retest)
    assert st.tables[0].data.loc["ally_a", "icc2"] == pytest.approx(0.599013202848207, rel=1e-8)
    texts = [t for s in (sec, st) for t in [*s.paragraphs, *(tab.note for tab in s.tables)]]
    assert missing(texts) == []  # every work these sections cite has a reference entry
    # the pipeline hook: a criterion section before the conclusion when validate(external=...) is given
    base = [("cfa", "CFA", None), ("conclusion", "Conclusion", None)]
    ctx = SimpleNamespace(external=["sds_total"], analysis_data=data, models={"m": MODEL}, main_model="m", results={})
    assert [s[0] for s in add_to_sections(base, ctx)] == ["cfa", SECTION_ID, "conclusion"]
    assert add_to_sections(base, SimpleNamespace(external=[])) == base
    from allyscale.report.document import Section

    s = Section(SECTION_ID, "x")
    build(ctx, s)
    assert s.tables[0].data["kind"].tolist() == ["observed", "observed"]
    assert_allclose(s.tables[0].data["r_observed"], pd.read_csv(REF / "observed_scores.csv")["r"], rtol=1e-10)


def test_latent_stability_matches_semtools_lavaan(data):
    # R: measEq.syntax(paired, ordered = cols, parameterization = "delta", ID.fac = "std.lv",
    #    ID.cat = "Wu.Estabrook.2016", longFacNames = lf, longIndNames = li, long.equal = "thresholds");
    #    cfa(..., estimator = "WLSMV"); standardizedSolution()   (make_reference.R, part 7)
    w2 = pd.read_csv(REF / "retest.csv")
    res = al.test_retest(data, w2, model=MODEL, latent=True)
    ref = pd.read_csv(REF / "latent_stability.csv")
    lv = res.table.loc["ally_a", "latent_level"]
    assert lv == "thresholds"  # the fit policy rejects equal loadings across the waves on these data
    assert res.invariance.table.loc["metric", "decision"] == "not supported"
    r = ref[ref["level"] == lv].set_index("factor")
    assert_allclose(res.table["latent_stability"], r.loc[["ally_a", "ally_b"], "std_all"], rtol=1e-5)
    # the delta-method SE of the stability correlation equals standardizedSolution's
    assert_allclose(res.table["latent_stability_se"], r.loc[["ally_a", "ally_b"], "se"], rtol=1e-4)
    assert_allclose(
        res.table["latent_stability_lower"],
        r.loc[["ally_a", "ally_b"], "std_all"] - 1.959963984540054 * r.loc[["ally_a", "ally_b"], "se"],
        rtol=1e-4,
    )
    assert_allclose(res.invariance.fits[lv].fit_measures["chisq.scaled"], r["chisq_scaled"].iloc[0], rtol=1e-5)
    assert any("thresholds level" in n for n in res.diagnostics["notes"])


# --------------------------------------------------------------------------- recovery (slow)
def _simulate(rng, n, shift=0.0):
    """Latent-response data like make_data.py: ally_a, ally_b, arbi, sdes; group 'ally' +shift on ally_a/b."""
    phi = np.array([[1.0, 0.5, 0.6, 0.2], [0.5, 1.0, 0.4, 0.1], [0.6, 0.4, 1.0, 0.15], [0.2, 0.1, 0.15, 1.0]])
    g = np.repeat(["ally", "other"], n // 2)
    eta = rng.multivariate_normal(np.zeros(4), phi, size=n)
    eta[g == "ally", :2] += shift
    cuts, lam = np.array([-1.5, -0.5, 0.4, 1.3]), [0.75, 0.7, 0.65, 0.6]
    out = {"g": g}
    for f, p in enumerate("abxs"):
        for j in range(4 if f < 2 else 3):
            ystar = lam[j] * eta[:, f] + np.sqrt(1 - lam[j] ** 2) * rng.standard_normal(n)
            out[f"{p}{j + 1}"] = np.searchsorted(cuts, ystar) + 1
    return pd.DataFrame(out), phi


@pytest.mark.slow
def test_recovery_latent_correlations_and_latent_means():
    """N = 500, 200 replications: bias < 5% and 95% Wald coverage for correlations and latent means (WLSMV)."""
    import warnings

    rng = np.random.default_rng(2026)
    est, cover, md, md_cover, dl = [], [], [], [], []
    for _ in range(200):
        d, phi = _simulate(rng, 500, shift=0.5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lc = al.latent_correlations(d, MODEL, EXTERNAL)
            kg = al.known_groups(d, MODEL, group="g")
        c = lc.correlations.set_index(["factor", "external"])
        keys = [("ally_a", "arbi"), ("ally_b", "arbi"), ("ally_a", "sdes")]
        truth = np.array([phi[0, 2], phi[1, 2], phi[0, 3]])
        est.append(c.loc[keys, "r"].to_numpy())
        cover.append((c.loc[keys, "ci_lower"].to_numpy() <= truth) & (truth <= c.loc[keys, "ci_upper"].to_numpy()))
        if kg.latent is not None:  # the population is scalar invariant
            # marker metric (delta parameterization): the ally - other difference is -0.5 * lambda_marker
            t = np.array([-0.5 * 0.75, -0.5 * 0.75])
            md.append(kg.latent["mean_difference"].to_numpy())
            md_cover.append((kg.latent["ci_lower"].to_numpy() <= t) & (t <= kg.latent["ci_upper"].to_numpy()))
            dl.append(kg.latent["d_latent"].to_numpy())
    est, cover = np.array(est), np.array(cover)
    rel_bias = est.mean(axis=0) / np.array([0.6, 0.4, 0.2]) - 1
    print("correlations: mean", est.mean(axis=0), "relative bias", rel_bias, "coverage", cover.mean(axis=0))
    md, md_cover, dl = np.array(md), np.array(md_cover), np.array(dl)
    print(
        f"latent means in {len(md)} replications: mean",
        md.mean(axis=0),
        "coverage",
        md_cover.mean(axis=0),
        "d_latent",
        dl.mean(axis=0),
    )
    assert np.all(np.abs(rel_bias[:2]) < 0.05) and abs(est[:, 2].mean() - 0.2) < 0.02
    # the population is invariant, but three invariance tests at alpha = .05 reject some level in about
    # 1 - .95^3 = 14% of samples, and latent means are then (rightly, by the rule) not compared
    assert len(md) >= 150
    assert np.all(np.abs(md.mean(axis=0) / -0.375 - 1) < 0.05) and np.all(np.abs(dl.mean(axis=0) / -0.5 - 1) < 0.05)
    # 200 replications: a true 95% coverage lies in [.90, .99] with probability > .99
    assert np.all((cover.mean(axis=0) >= 0.90) & (cover.mean(axis=0) <= 0.99))
    assert np.all((md_cover.mean(axis=0) >= 0.90) & (md_cover.mean(axis=0) <= 0.99))


def test_hedges_g_interval_where_scipy_nct_returns_nan():
    # scipy 1.17's nct.cdf(-4.157, 498, 3.74) is NaN; the interval must still be found (a replication of the
    # recovery study hit it)
    from scipy import stats

    from allyscale.validity_ext import hedges_g

    rng = np.random.default_rng(5)
    x, y = rng.normal(0, 1, 250), rng.normal(0, 1, 250)
    x, y = (x - x.mean()) / x.std(ddof=1), (y - y.mean()) / y.std(ddof=1)
    y = y + 4.157482373724308 * np.sqrt(2 / 250)  # Student's t = -4.1575 exactly (pooled SD 1)
    g = hedges_g(x, y)
    assert_allclose(g["t"], -4.157482373724308, rtol=1e-10)
    s = np.sqrt(2 / 250)
    assert_allclose(stats.nct.cdf(g["t"], 498, g["g_lower"] / g["J"] / s), 0.975, rtol=1e-8)
    assert_allclose(stats.nct.cdf(g["t"], 498, g["g_upper"] / g["J"] / s), 0.025, rtol=1e-8)


@pytest.mark.slow
def test_recovery_latent_stability():
    """N = 500, 100 replications: the latent stability (.8 and .6 in the population) recovered within 5%."""
    import warnings

    rng = np.random.default_rng(7)
    cuts, lam = np.array([-1.5, -0.5, 0.4, 1.3]), [0.75, 0.7, 0.65, 0.6]
    stab = np.array([0.8, 0.6])
    out = []
    for _ in range(100):
        eta1 = rng.multivariate_normal(np.zeros(2), [[1, 0.5], [0.5, 1]], size=500)
        eta2 = stab * eta1 + np.sqrt(1 - stab**2) * rng.multivariate_normal(np.zeros(2), [[1, 0.5], [0.5, 1]], size=500)
        waves = []
        for eta in (eta1, eta2):
            w = {"id": np.arange(500)}
            for f, p in enumerate("ab"):
                for j in range(4):
                    ystar = lam[j] * eta[:, f] + np.sqrt(1 - lam[j] ** 2) * rng.standard_normal(500)
                    w[f"{p}{j + 1}"] = np.searchsorted(cuts, ystar) + 1
            waves.append(pd.DataFrame(w))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = al.test_retest(waves[0], waves[1], model=MODEL, latent=True)
        out.append(res.table["latent_stability"].to_numpy())
    out = np.array(out)
    print("latent stability: mean", out.mean(axis=0), "relative bias", out.mean(axis=0) / stab - 1)
    assert np.all(np.abs(out.mean(axis=0) / stab - 1) < 0.05)


def test_html_escapes_user_text(data):
    res = al.latent_correlations(
        data.assign(**{"<b>sd": data["sds_total"]}), MODEL, {"<i>sds": "<b>sd"}, expect={"<i>sds": "< .5"}
    )
    page = res._repr_html_()
    assert "<i>sds" not in page and "&lt;i&gt;sds" in page


# --------------------------------------------------------------------------- validate inputs (CLI)
def test_validate_cli_external_items_expectations_known_groups_retest(tmp_path, data):
    from click.testing import CliRunner

    from allyscale.cli import main

    model = tmp_path / "m.lav"
    model.write_text(MODEL + "\n")
    w2 = pd.read_csv(REF / "retest.csv")
    out = tmp_path / "rep"
    r = CliRunner().invoke(
        main,
        [
            "validate",
            str(REF / "data.csv"),
            "--model",
            str(model),
            "--external",
            "arbi=x*",
            "--external",
            "sdes=s1,s2,s3",
            "--external",
            "sds_total",
            "--expect",
            "arbi=> .50",
            "--expect",
            "sdes=< .30",
            "--known-groups",
            "g",
            "--retest",
            str(REF / "retest.csv"),
            "--criterion",
            "y",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Convergent, discriminant and criterion validity" in page and "Stability" in page
    # the joint CFA of the report is lavaan's (make_reference.R, part 1)
    corr = pd.read_csv(out / "tables" / "criterion_correlations.csv")
    lat = corr[corr["kind"] == "latent"].set_index(["factor", "external"])
    ref = pd.read_csv(REF / "latent_wlsmv.csv").set_index(["lhs", "rhs"])
    assert_allclose(lat.loc[("ally_a", "arbi"), "r"], ref.loc[("ally_a", "arbi"), "est"], rtol=1e-5)
    assert_allclose(lat.loc[("ally_b", "sdes"), "ci_upper"], ref.loc[("ally_b", "sdes"), "ci.upper"], rtol=1e-4)
    assert (corr["kind"] == "observed").sum() == 2
    exp = pd.read_csv(out / "tables" / "criterion_expectations.csv")
    assert len(exp) == 4 and exp["met"].sum() == 3  # ally_b-arbi is .38, below .50
    kg = pd.read_csv(out / "tables" / "known_groups_latent.csv").set_index("factor")
    dref = pd.read_csv(REF / "known_groups_d.csv").query("estimator == 'WLSMV'").set_index("factor")
    assert_allclose(kg.loc[["ally_a", "ally_b"], "d_latent_se"], dref.loc[["ally_a", "ally_b"], "se"], rtol=1e-4)
    st = pd.read_csv(out / "tables" / "stability.csv").set_index("scale")
    icc = pd.read_csv(REF / "retest_icc.csv").set_index(["scale", "type"])
    assert_allclose(st.loc["ally_a", "icc2"], icc.loc[("ally_a", "ICC2"), "icc"], rtol=1e-8)
    stab = pd.read_csv(REF / "latent_stability.csv").query("level == 'thresholds'").set_index("factor")
    assert_allclose(
        st.loc[["ally_a", "ally_b"], "latent_stability"], stab.loc[["ally_a", "ally_b"], "std_all"], rtol=1e-5
    )
    # incremental validity beyond the external measures (item means of arbi, sdes; the observed sds_total)
    steps = pd.read_csv(out / "tables" / "incremental_steps.csv", index_col=0)
    joint = MODEL + "\narbi =~ x1 + x2 + x3\nsdes =~ s1 + s2 + s3"
    inc = al.incremental_validity(
        data, outcome="y", baseline=["arbi", "sdes", "sds_total"], added=["ally_a", "ally_b"], model=joint
    )
    assert_allclose(steps.loc["full", "delta_r2"], inc.delta_r2, rtol=1e-10)
    assert steps.loc["full", "df1_change"] == 2 and steps.loc["baseline", "k"] == 3
    # the same waves as one file with a wave column and --id
    long = pd.concat([data.assign(time=1), w2.assign(time=2)], ignore_index=True)
    long.to_csv(tmp_path / "long.csv", index=False)
    r = CliRunner().invoke(
        main,
        [
            "validate",
            str(tmp_path / "long.csv"),
            "--model",
            str(model),
            "--wave",
            "time",
            "--id",
            "id",
            "--no-retest-latent",
            "--out",
            str(tmp_path / "rep2"),
        ],
    )
    assert r.exit_code == 0, r.output
    st2 = pd.read_csv(tmp_path / "rep2" / "tables" / "stability.csv").set_index("scale")
    assert_allclose(st2["icc2"], st["icc2"], rtol=1e-12)
    assert "latent_stability" not in st2.columns
    assert "Convergent" not in (tmp_path / "rep2" / "report.html").read_text(encoding="utf-8")
    # bad input: exit 2 naming the column, nothing written
    for k, (args, msg) in enumerate(
        (
            (["--external", "arbi=zz*"], "'zz*'"),
            (["--known-groups", "nope"], "'nope'"),
            (["--wave", "x1"], "two waves"),
            (["--expect", "arbi"], "NAME=PATTERN"),
            (["--retest", str(REF / "retest.csv"), "--id", "nope"], "'nope'"),
        )
    ):
        bad = tmp_path / f"bad{k}"
        r = CliRunner().invoke(
            main, ["validate", str(REF / "data.csv"), "--model", str(model), *args, "--out", str(bad)]
        )
        assert r.exit_code == 2, (args, r.output)
        assert msg in r.output and not (bad / "report.html").exists()
