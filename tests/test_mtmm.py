"""CT-C(M-1) (Eid et al., 2003) and latent self-informant correlations against lavaan 0.6.14.

R (tests/reference/pairs/make_pairs.R): cfa(ctc, data = d, estimator = "ML" / "WLSMV") on the
wide data; cfa(ctc, data = long, estimator = "MLR", cluster = "target") on three informants
per target; the paired configural model for the latent correlations.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE
from numpy.testing import assert_allclose

import allyscale as al
from allyscale.errors import DataError, SpecificationError

PAIRS = REFERENCE / "pairs"


@pytest.fixture(scope="module")
def ref():
    return json.loads((PAIRS / "reference.json").read_text())


@pytest.fixture(scope="module")
def model():
    return (PAIRS / "model.lav").read_text()


def _merge(fit, want):
    w = pd.DataFrame(want["est"])
    return fit.estimates.merge(w, on=["lhs", "op", "rhs"], suffixes=("", "_r"))


def test_ctcm1_ml_matches_lavaan(ref, model):
    d = pd.read_csv(PAIRS / "data.csv")
    res = al.mtmm(d, model, estimator="ML")
    assert res.diagnostics["syntax"] == ref["ctcm1"]["syntax"]
    m = _merge(res.fit, ref["ctcm1"]["ml"])
    assert len(m) == len(ref["ctcm1"]["ml"]["est"])
    assert_allclose(m["est"], m["est_r"], atol=2e-5)
    assert_allclose(m["se"], m["se_r"], atol=2e-5)
    assert_allclose(m["std_all"], m["std.all"], atol=2e-5)
    for k in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic"):
        assert_allclose(res.fit.fit_measures[k], ref["ctcm1"]["ml"]["fit"][k], rtol=1e-6, err_msg=k)
    # the coefficients from the lavaan estimates (Eid et al., 2003, eq. 10-12)
    est = pd.DataFrame(ref["ctcm1"]["ml"]["est"]).set_index(["lhs", "op", "rhs"])["est"]
    lt, lm = est[("A", "=~", "a2_informant")], est[("M_A", "=~", "a2_informant")]
    vt, vm = est[("A", "~~", "A")], est[("M_A", "~~", "M_A")]
    row = res.items.set_index(["item", "form"]).loc[("a2", "informant")]
    assert_allclose(row["consistency"], lt**2 * vt / (lt**2 * vt + lm**2 * vm), rtol=1e-4)
    assert_allclose(row["consistency"] + row["method_specificity"], 1, rtol=1e-12)
    assert (res.items.loc[res.items["form"] == "self", "consistency"] == 1).all()
    lts = sum(est[("A", "=~", f"a{k}_informant")] for k in range(1, 5))
    lms = sum(est[("M_A", "=~", f"a{k}_informant")] for k in range(1, 5))
    assert_allclose(res.factors.loc["A", "consistency"], lts**2 * vt / (lts**2 * vt + lms**2 * vm), rtol=1e-4)


def test_self_other_correlations_match_lavaan(ref, model):
    # the paired configural model (std.lv): the factor correlation across forms and its Wald interval
    d = pd.read_csv(PAIRS / "data.csv")
    res = al.mtmm(d, model, estimator="ML")
    est = pd.DataFrame(ref["continuous"]["configural"]["est"])
    for f in ("A", "B"):
        r = est[(est["lhs"] == f"{f}_self") & (est["op"] == "~~") & (est["rhs"] == f"{f}_informant")].iloc[0]
        assert_allclose(res.factors.loc[f, "self_other_r"], r["est"], atol=2e-5)
        assert_allclose(res.factors.loc[f, "se"], r["se"], atol=2e-5)
        assert_allclose(res.factors.loc[f, "ci_lower"], r["est"] - 1.959964 * r["se"], atol=1e-4)


def test_ctcm1_wlsmv_matches_lavaan(ref, model):
    d = pd.read_csv(PAIRS / "data.csv")
    res = al.mtmm(d, model, estimator="WLSMV")
    want = ref["ctcm1"]["wlsmv"]
    for k in ("chisq", "df", "chisq.scaled", "cfi.scaled", "rmsea.scaled", "srmr", "cfi.robust"):
        assert_allclose(res.fit.fit_measures[k], want["fit"][k], rtol=1e-6, err_msg=k)
    m = _merge(res.fit, want)
    m = m[m["op"].isin(["=~", "~~"])]
    assert len(m) == sum(1 for r in want["est"] if r["op"] in ("=~", "~~"))
    assert_allclose(m["est"], m["est_r"], atol=1e-5)
    assert_allclose(m["se"], m["se_r"], atol=1e-5)
    assert np.allclose(res.items["reliability"].between(0, 1), True)
    # the agreement model is the paired ordinal configural model (checked in test_pairs)
    conf = pd.DataFrame(ref["ordinal"]["configural"]["est"])
    r = conf[(conf["lhs"] == "A_self") & (conf["op"] == "~~") & (conf["rhs"] == "A_informant")].iloc[0]
    assert_allclose(res.factors.loc["A", "self_other_r"], r["est"], atol=1e-5)


def test_several_informants_cluster_robust_as_lavaan(ref, model):
    # R: cfa(ctc, data = long, estimator = "MLR", cluster = "target")
    long = pd.read_csv(PAIRS / "long.csv")
    res = al.mtmm(long, model, estimator="MLR", cluster="target")
    want = ref["ctcm1"]["mlr_cluster"]
    m = _merge(res.fit, want)
    assert len(m) == len(want["est"]) == 70
    assert_allclose(m["est"], m["est_r"], atol=1e-5)
    assert_allclose(m["se"], m["se_r"], atol=1e-6, rtol=1e-5)
    for k in ("chisq", "chisq.scaled", "chisq.scaling.factor", "cfi.robust", "rmsea.robust", "srmr"):
        assert_allclose(res.fit.fit_measures[k], want["fit"][k], rtol=1e-6, err_msg=k)
    assert res.diagnostics["clusters"] == 120
    # ignoring the clustering understates the standard errors (lavaan's MLR without cluster=)
    plain = _merge(al.cfa(long, res.diagnostics["syntax"], estimator="MLR"), ref["ctcm1"]["mlr"])
    assert_allclose(plain["se"], plain["se_r"], atol=1e-6, rtol=1e-5)
    both = m.merge(plain[["lhs", "op", "rhs", "se"]], on=["lhs", "op", "rhs"], suffixes=("", "_plain"))
    load = both[(both["op"] == "=~") & (both["se"] > 0)]
    assert (load["se"] > load["se_plain"]).mean() > 0.8


def test_mtmm_result_and_errors(model):
    d = pd.read_csv(PAIRS / "data.csv")
    res = al.mtmm(d, model)
    json.dumps(res.to_dict())
    assert "CT-C(M-1)" in res.summary() and "<table" in res._repr_html_()
    with pytest.raises(SpecificationError, match="WLSMV"):
        al.mtmm(d, model, estimator="WLSMV", cluster="target")
    with pytest.raises(DataError, match="cluster column"):
        al.mtmm(d, model, cluster="id")
    with pytest.raises(SpecificationError, match="reference"):
        al.mtmm(d, model, reference="peer")


def test_wlsmv_forms_may_observe_different_categories(model):
    # the CT-C(M-1) and correlated-trait (configural) models compare no thresholds across forms
    d = pd.read_csv(PAIRS / "data.csv")
    d.loc[d["a1_informant"] == 1, "a1_informant"] = 2
    res = al.mtmm(d, model, estimator="WLSMV")
    assert res.diagnostics["converged"]
    assert "a1_informant | thr.a1.informant.1*t1 + thr.a1.informant.2*t2\n" in res.diagnostics["agreement_syntax"]
