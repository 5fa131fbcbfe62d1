"""The paired self-informant design against lavaan 0.6.14 / semTools 0.5.6.

References: tests/reference/pairs (make_data.py writes the data, make_pairs.R the lavaan
outputs): measEq.syntax(longFacNames=, longIndNames=, ID.fac = "std.lv",
ID.cat = "Wu.Estabrook.2016") fitted with cfa(estimator = "WLSMV") and "ML", lavTestLRT,
lavTestScore, a partial scalar model, and lavTestScore on the multi-group HS scalar model.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, reference_data, reference_model
from numpy.testing import assert_allclose

import allyscale as al
from allyscale.errors import DataError, SpecificationError
from allyscale.invariance import paired_syntax, score_tests

PAIRS = REFERENCE / "pairs"
FORMS = ("self", "informant")


@pytest.fixture(scope="module")
def ref():
    return json.loads((PAIRS / "reference.json").read_text())


@pytest.fixture(scope="module")
def wide():
    return pd.read_csv(PAIRS / "data.csv")


@pytest.fixture(scope="module")
def model():
    return (PAIRS / "model.lav").read_text()


@pytest.fixture(scope="module")
def ordinal(wide, model):
    return al.invariance(wide, model, pairs=FORMS, estimator="WLSMV", partial=True)


@pytest.fixture(scope="module")
def continuous(wide, model):
    return al.invariance(wide, model, pairs=FORMS, estimator="ML")


def _est_key(df: pd.DataFrame) -> pd.Series:
    return df["lhs"] + " " + df["op"] + " " + df["rhs"].fillna("")


def _compare_estimates(fit, want: list[dict], *, atol: float = 2e-5):
    got = fit.estimates.assign(key=lambda t: _est_key(t)).set_index("key")
    want = pd.DataFrame(want)
    want = want.assign(key=_est_key(want)).set_index("key")
    common = want.index.intersection(got.index)
    assert len(common) >= len(want) - 1, sorted(set(want.index) - set(got.index))
    assert_allclose(got.loc[common, "est"], want.loc[common, "est"], atol=atol, rtol=1e-5)
    se_w = want.loc[common, "se"].astype(float)
    ok = se_w.notna() & (se_w > 0)
    assert_allclose(got.loc[common[ok.to_numpy()], "se"], se_w[ok], atol=atol, rtol=1e-4)


FIT_KEYS_ORD = ["chisq", "df", "chisq.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr", "cfi", "rmsea"]


@pytest.mark.parametrize("level", ["configural", "thresholds", "metric", "scalar"])
def test_paired_ordinal_levels_match_semtools(ordinal, ref, level):
    # R: measEq.syntax(paired, ordered = cols, ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016",
    #    longFacNames = lf, longIndNames = li, long.equal = ...); cfa(syntax, estimator = "WLSMV")
    want = ref["ordinal"][level]
    fm = ordinal.fits[level].fit_measures
    for k in FIT_KEYS_ORD:
        assert_allclose(fm[k], want["fit"][k], rtol=1e-6, atol=1e-7, err_msg=f"{level} {k}")
    assert fm["npar"] == want["fit"]["npar"]
    if level != "configural":  # lavaan: robust (catML) indices NaN with free scale factors
        assert np.isnan(fm["cfi.robust"]) and want["fit"]["cfi.robust"] is None
        assert "scale factors" in ordinal.fits[level].diagnostics["robust_indices"]
    else:
        assert_allclose(fm["cfi.robust"], want["fit"]["cfi.robust"], rtol=1e-6)
    _compare_estimates(ordinal.fits[level], want["est"])
    if "lrt" in want:  # lavTestLRT(level, previous): satorra.2000
        row = ordinal.table.loc[level]
        assert_allclose(row["delta_chisq"], want["lrt"]["chisq_diff"], rtol=1e-6)
        assert row["delta_df"] == want["lrt"]["df_diff"]
        assert_allclose(row["delta_pvalue"], want["lrt"]["pvalue"], rtol=1e-5, atol=1e-30)


def test_paired_ordinal_table_and_partial_search(ordinal, ref):
    t = ordinal.table
    assert list(t.index) == ["configural", "thresholds", "metric", "scalar", "scalar (partial)", "strict"]
    assert t["decision"].tolist() == [
        "",
        "supported",
        "supported",
        "not supported",
        "supported (partial)",
        "not testable",
    ]
    # the data were simulated with leniency on b2 and b3 only: exactly their informant intercepts are released
    rel = ordinal.released
    assert sorted(rel["item"]) == ["b2", "b3"]
    assert set(rel["lhs"]) == {"b2_informant", "b3_informant"} and set(rel["op"]) == {"~1"}
    assert rel["step"].tolist() == [1, 2] and (rel["pvalue"] < 0.05 / 8).all()
    # the partially invariant model equals lavaan's with those two intercepts free
    want = ref["ordinal"]["scalar_partial"]
    fm = ordinal.fits["scalar (partial)"].fit_measures
    for k in FIT_KEYS_ORD:
        assert_allclose(fm[k], want["fit"][k], rtol=1e-6, atol=1e-7, err_msg=k)
    _compare_estimates(ordinal.fits["scalar (partial)"], want["est"])
    assert_allclose(t.loc["scalar (partial)", "delta_chisq"], want["lrt"]["chisq_diff"], rtol=1e-6)
    assert t.loc["scalar (partial)", "delta_df"] == want["lrt"]["df_diff"]
    # decisions come from the fit policy: the scaled difference test at .05
    tests = ordinal.tests.set_index("level")
    assert not tests.loc["scalar", "held"] and tests.loc["scalar (partial)", "held"]
    assert "Δχ²" in tests.loc["scalar", "basis"]
    assert ordinal.highest_level() == "scalar (partial)"
    assert "partial: 2 equality constraints released for item(s) b3, b2" in ordinal.statement("across forms")


@pytest.mark.parametrize("level", ["thresholds", "scalar"])
def test_score_tests_match_lavtestscore(ordinal, ref, level):
    # R: lavTestScore(fit)$uni (lavaan maps labels to "==" constraints; rows matched by parameter)
    st = score_tests(ordinal.fits[level], forms=FORMS)
    uni = pd.DataFrame(ref["ordinal"][level]["score"]["uni"])
    got = dict(zip(st["first"] + " | " + (st["lhs"] + " " + st["op"] + " " + st["rhs"]).str.strip(), st["X2"]))
    want = dict(zip(uni["lhs_par"].str.strip() + " | " + uni["rhs_par"].str.strip(), uni["X2"]))
    assert set(got) == set(want)
    keys = sorted(want)
    assert_allclose([got[k] for k in keys], [want[k] for k in keys], rtol=1e-5, atol=1e-5)
    assert set(st["kind"]) == ({"loadings", "thresholds"} if level == "scalar" else {"thresholds"})
    assert (st["df"] == 1).all()


def test_freeing_fixed_intercepts_matches_modindices(ordinal, ref):
    # the scalar model fixes both forms' intercepts at 0; the search frees the informant's (lavTestScore(add=)),
    # whose score tests are lavaan's modification indices: modindices(scalar, op = "~1")
    fit = ordinal.fits["scalar"]
    pt = fit._prep.partable
    rows = pt.index[(pt["op"] == "~1") & pt["lhs"].str.endswith("_informant") & (pt["free"] == 0)].tolist()
    st = score_tests(fit, add=rows, forms=FORMS)
    added = st[st["constraint"].astype(str).str.startswith("add")].set_index("lhs")
    mi = pd.DataFrame(ref["ordinal"]["scalar"]["mi_intercepts"]).set_index("lhs")["mi"]
    want = mi[mi.index.str.endswith("_informant")]
    assert sorted(added.index) == sorted(want.index) and (added["first"] == "0 (fixed)").all()
    assert_allclose(added.loc[want.index, "X2"], want, rtol=1e-5, atol=5e-5)  # convergence-level differences
    assert added["X2"].idxmax() == "b3_informant"  # the first release of the search (test above)


def test_joint_score_test_matches_release(ordinal, ref):
    # R: lavTestScore(thresholds model, release = <the three b2 threshold constraints>)$test
    st = score_tests(ordinal.fits["thresholds"], forms=FORMS)
    idx = st.index[(st["item"] == "b2") & (st["kind"] == "thresholds")].tolist()
    want = ref["ordinal"]["thresholds"]["score_b2"]
    # releasing all three thresholds with the item's intercept and scale factor free is not identified:
    # lavaan's ginv gives a number anyway; the score test here says NaN, with a warning
    with pytest.warns(al.StatisticalWarning, match="unidentified"):
        joint = score_tests(ordinal.fits["thresholds"], release=[st.loc[idx, "constraint"].tolist()], forms=FORMS)
    assert joint["df"].iloc[0] == want["df"] == 3
    assert np.isnan(joint["X2"].iloc[0])
    # with its intercept and scale factor free, an item's three equal thresholds impose one constraint: releasing
    # any one of them frees the item, so its three univariate tests are equal (as lavaan's)
    assert_allclose(st.loc[idx, "X2"], st.loc[idx[0], "X2"], rtol=1e-6)


@pytest.mark.parametrize("level", ["configural", "metric", "scalar", "strict"])
def test_paired_continuous_levels_match_semtools(continuous, ref, level):
    # R: measEq.syntax(paired, ID.fac = "std.lv", longFacNames, longIndNames, long.equal = ...); cfa(ML)
    want = ref["continuous"][level]
    fm = continuous.fits[level].fit_measures
    for k in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic", "bic"):
        assert_allclose(fm[k], want["fit"][k], rtol=1e-6, atol=1e-7, err_msg=f"{level} {k}")
    _compare_estimates(continuous.fits[level], want["est"], atol=1e-4)
    if "lrt" in want:
        assert_allclose(continuous.table.loc[level, "delta_chisq"], want["lrt"]["chisq_diff"], rtol=1e-5)


def test_paired_continuous_decisions(continuous):
    # without partial=True, a failed scalar level makes strict "not interpretable", never "supported"
    dec = continuous.table["decision"].to_dict()
    assert dec == {"configural": "", "metric": "supported", "scalar": "not supported", "strict": "not interpretable"}
    assert continuous.first_failure() == "scalar"
    assert continuous.released.empty


@pytest.mark.parametrize("level", ["metric", "scalar"])
def test_continuous_score_tests_match_lavtestscore(continuous, ref, level):
    st = score_tests(continuous.fits[level], forms=FORMS)
    uni = pd.DataFrame(ref["continuous"][level]["score"]["uni"])
    got = dict(zip(st["first"] + " | " + (st["lhs"] + " " + st["op"] + " " + st["rhs"]).str.strip(), st["X2"]))
    want = dict(zip(uni["lhs_par"].str.strip() + " | " + uni["rhs_par"].str.strip(), uni["X2"]))
    keys = sorted(want)
    assert set(got) == set(want)
    assert_allclose([got[k] for k in keys], [want[k] for k in keys], rtol=1e-4, atol=1e-5)


def test_group_score_tests_match_lavtestscore(ref):
    # R: lavTestScore(cfa(HS model, group = "school", group.equal = c("loadings", "intercepts")))
    hs = reference_data("hs")
    fit = al.cfa(hs, reference_model("hs"), group="school", group_equal=["loadings", "intercepts"])
    st = score_tests(fit)
    uni = pd.DataFrame(ref["hs_scalar_score"]["uni"])
    got = dict(
        zip(
            (st["lhs"] + " " + st["op"] + " " + st["rhs"].fillna("") + " " + st["group"].astype(str))
            .str.split()
            .str.join(" "),
            st["X2"],
        )
    )
    want = dict(zip(uni["rhs_par"].str.split().str.join(" "), uni["X2"]))
    assert set(got) == set(want)
    keys = sorted(want)
    assert_allclose([got[k] for k in keys], [want[k] for k in keys], rtol=1e-4, atol=1e-5)
    # the intercepts of x3 and x7 are the known non-invariant ones in these data (lavaan's largest tests)
    top = st.sort_values("X2", ascending=False).head(2)
    assert set(top["lhs"]) == {"x3", "x7"} and set(top["op"]) == {"~1"}


def test_group_partial_invariance_releases_x3_and_x7():
    hs = reference_data("hs")
    res = al.invariance(hs, reference_model("hs"), group="school", partial=True)
    assert "scalar (partial)" in res.table.index
    rel = res.released
    assert set(rel.loc[rel["level"] == "scalar", "item"]) >= {"x3", "x7"}
    assert (rel["op"] == "~1").all()
    part = res.fits["scalar (partial)"].estimates
    x3 = part[(part["lhs"] == "x3") & (part["op"] == "~1")]
    assert x3["est"].nunique() == 2  # free in each school
    assert res.table.loc["scalar", "decision"] == "not supported"


def test_group_ordinal_partial_releases_intercepts(wide, model):
    # the two forms stacked as if they were independent groups: Wu & Estabrook's scalar level fixes the
    # later group's intercepts at 0, so the search frees them (score tests as lavTestScore(add=))
    items = ["a1", "a2", "a3", "a4", "b1", "b2", "b3", "b4"]
    two = pd.concat(
        [wide[[f"{i}_{f}" for i in items]].set_axis(items, axis=1).assign(form=f) for f in FORMS], ignore_index=True
    )
    res = al.invariance(two, model, group="form", estimator="WLSMV", partial=True)
    assert res.table.loc["scalar", "decision"] == "not supported"
    assert res.table.loc["scalar (partial)", "decision"] == "supported (partial)"
    assert sorted(res.released["item"]) == ["b2", "b3"] and set(res.released["group"]) == {"informant"}
    est = res.fits["scalar (partial)"].estimates
    nu = est[est["lhs"].isin(["b2", "b3"]) & (est["op"] == "~1")].set_index(["lhs", "group"])["est"]
    # simulated: informants lenient on b2 (+0.6 latent SD), strict on b3 (-0.5)
    assert nu[("b2", 1)] == nu[("b3", 1)] == 0 and nu[("b2", 2)] > 0.3 and nu[("b3", 2)] < -0.3


def test_result_object(ordinal):
    d = ordinal.to_dict()
    json.dumps(d)
    assert d["table"][0]["level"] == "configural" and d["released"][0]["item"] == "b3"
    assert not ordinal.table.attrs
    assert "Released equality constraints" in ordinal.summary()
    assert "<table" in ordinal._repr_html_()
    assert ordinal.to_frame() is not ordinal.table and ordinal.to_frame().equals(ordinal.table)
    assert ordinal.diagnostics["design"] == "pairs" and "not testable" in ordinal.table["decision"].tolist()


def test_paired_syntax_identification():
    syn, free_scales = paired_syntax(
        "F =~ x + y + z",
        ["thresholds", "loadings"],
        ordered=True,
        n_cat={"x": 3, "y": 3, "z": 3},
        released=[("thresholds", "z")],
    )
    assert "F_informant ~~ NA*F_informant" in syn and "F_self ~~ 1*F_self" in syn
    assert "x_informant | thr.x.1*t1 + thr.x.2*t2" in syn and "z_informant | thr.z.informant.1*t1" in syn
    assert free_scales == ["x_informant", "y_informant"]  # the released item keeps its scale fixed
    assert "x_informant ~ nu.x.informant*1" in syn and "z_informant ~ 0*1" in syn
    assert "x_self ~~ x_informant" in syn


def test_paired_errors(wide, model):
    with pytest.raises(SpecificationError, match="group= .* or pairs="):
        al.invariance(wide, model, estimator="WLSMV")
    with pytest.raises(DataError, match="a1_other"):
        al.invariance(wide, model, pairs=("self", "other"))
    with pytest.raises(SpecificationError, match="'=~' only"):
        al.invariance(wide, model + "a1 ~~ a2\n", pairs=FORMS)
    sparse = wide.copy()
    sparse.loc[sparse["a1_informant"] == 1, "a1_informant"] = 2
    with pytest.raises(DataError, match="a1.*collapse"):
        al.invariance(sparse, model, pairs=FORMS, estimator="WLSMV")
    res = al.invariance(sparse, model, pairs=FORMS, estimator="WLSMV", collapse=True)
    assert res.diagnostics["collapsed"][0]["item"] == "a1" and "merged" in res.note


def test_simulate_pairs_design():
    pm = al.PopulationModel.from_lavaan("F =~ 0.8*x1 + 0.8*x2 + 0.8*x3 + 0.8*x4\n", categories=5)
    d = al.simulate_pairs(pm, 4000, seed=3, self_other_corr=0.6, leniency={"x1": 1.0})
    assert list(d.columns) == [
        "target",
        "x1_self",
        "x2_self",
        "x3_self",
        "x4_self",
        "x1_informant",
        "x2_informant",
        "x3_informant",
        "x4_informant",
    ]
    assert d["target"].is_unique and d.shape[0] == 4000
    assert (d["x1_informant"].mean() - d["x1_self"].mean()) > 0.5  # lenient informants on x1 only
    assert abs(d["x2_informant"].mean() - d["x2_self"].mean()) < 0.1
    # latent self-other correlation .6: the items' latent responses correlate .6 * .64
    pc = al.polychoric(d[["x2_self", "x2_informant"]]).corr.iloc[0, 1]
    assert abs(pc - 0.6 * 0.64) < 0.05
    again = al.simulate_pairs(pm, 4000, seed=3, self_other_corr=0.6, leniency={"x1": 1.0})
    assert again.equals(d)
    long = al.simulate_pairs(pm, 50, informants=3, seed=4)
    assert long.shape[0] == 150 and list(long.columns[:2]) == ["target", "informant"]
    assert (long.groupby("target")["x1_self"].nunique() == 1).all()
    with pytest.raises(SpecificationError, match="self_other_corr"):
        al.simulate_pairs(pm, 10, self_other_corr=1.5)
    with pytest.raises(SpecificationError, match="leniency names"):
        al.simulate_pairs(pm, 10, leniency={"zz": 1})


def test_collapse_categories_table():
    d = pd.DataFrame(
        {
            "g": ["a"] * 6 + ["b"] * 6,
            "x": [1, 2, 3, 4, 4, 2, 2, 2, 3, 4, 3, 4],
            "y": [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3],
        }
    )
    res = al.collapse_categories(d, items=["x", "y"], group="g")
    assert res.table.to_dict("records") == [{"item": "x", "from": 1, "to": 2, "count": 0, "groups": "b"}]
    assert sorted(res.data["x"].unique()) == [2, 3, 4] and res.data["y"].equals(d["y"])
    assert d["x"].min() == 1  # the input is not modified
    assert "Collapsed 1 sparse category" in res.summary()
    with pytest.raises(DataError, match="non-integer"):
        al.collapse_categories(d.assign(x=d["x"] + 0.5), items=["x"], group="g")


def test_group_invariance_collapses_sparse_categories_on_request():
    # six skewed categories, 300 per group: item c3's top category is never chosen in one group
    from conftest import MINI_POOL

    pool = al.load_pool(MINI_POOL)
    d = al.simulate(pool, 600, seed=5, thresholds="skewed", categories=6)
    d["form"] = ["self"] * 300 + ["informant"] * 300
    model = pool.model_syntax("correlated")
    with pytest.raises(DataError, match="c3.*collapse"):
        al.invariance(d, model, group="form", estimator="WLSMV")
    res = al.invariance(d, model, group="form", estimator="WLSMV", collapse=True)
    assert res.diagnostics["collapsed"] == [{"item": "c3", "from": 6, "to": 5, "count": 0, "groups": "self"}]
    assert "merged" in res.note and res.table.loc["thresholds", "decision"] == "supported"
    assert d["c3"].max() == 6  # the caller's data are not changed
