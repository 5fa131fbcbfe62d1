"""Measurement invariance against lavaan 0.6.14 (tests/reference/hs/reference.json, key invariance_ml)."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import reference_data, reference_json, reference_model
from numpy.testing import assert_allclose

import allyscale
from allyscale.errors import DataError, SpecificationError


@pytest.fixture(scope="module")
def hs():
    d = reference_data("hs")
    model = reference_model("hs")
    ref = reference_json("hs")["invariance_ml"]
    return d, model, ref


@pytest.fixture(scope="module")
def result(hs):
    d, model, _ = hs
    return allyscale.invariance(d, model, group="school")


@pytest.fixture(scope="module")
def table(result):
    return result.table


def test_levels_against_lavaan(hs, table):
    # R: cfa(model, data = d, group = "school", group.equal = ...) with none, "loadings",
    #    c("loadings","intercepts"), c("loadings","intercepts","residuals");
    #    fitMeasures(chisq, df, cfi, tli, rmsea, srmr)
    _, _, ref = hs
    assert list(table.index) == ["configural", "metric", "scalar", "strict"]
    for level, want in ref.items():
        for k, v in want.items():
            if k == "chisq":
                assert_allclose(table.loc[level, k], v, rtol=1e-6, err_msg=f"{level} {k}")
            else:
                assert_allclose(table.loc[level, k], v, atol=1e-6, err_msg=f"{level} {k}")


def test_deltas_and_decisions(hs, table):
    _, _, ref = hs
    chis = [ref[k]["chisq"] for k in ("configural", "metric", "scalar", "strict")]
    assert_allclose(table["delta_chisq"].iloc[1:], np.diff(chis), rtol=1e-6)
    assert table["delta_df"].iloc[1:].tolist() == [6, 6, 9]
    d_cfi = ref["scalar"]["cfi"] - ref["metric"]["cfi"]
    assert_allclose(table.loc["scalar", "delta_cfi"], d_cfi, atol=1e-8)
    # Cheung & Rensvold (2002): ΔCFI = -.038 < -.01 rejects scalar invariance; metric (ΔCFI = -.002) holds
    assert table.loc["metric", "decision"] == "supported"
    assert table.loc["scalar", "decision"] == "not supported"
    assert table.loc["configural", "decision"] == ""
    assert table["converged"].all()


def test_metric_constraints_hold(result):
    fit = result.fits["metric"]
    est = fit.estimates
    load = est[est["op"] == "=~"].pivot_table(index=["lhs", "rhs"], columns="group", values="est")
    assert_allclose(load[1], load[2], rtol=1e-12)
    scalar = result.fits["scalar"].estimates
    means = scalar[(scalar["op"] == "~1") & scalar["lhs"].isin(["visual", "textual", "speed"])]
    assert (means.loc[means["group"] == 1, "est"] == 0).all()
    assert (means.loc[means["group"] == 2, "se"] > 0).all()


def test_mlr_invariance_against_lavaan(hs):
    # R (tests/reference/hs/make_compare.R): cfa(three, data = d, group = "school", group.equal = ...,
    #    estimator = "MLR"); fitMeasures(...); lavTestLRT(level, previous)  (Satorra-Bentler 2001)
    d, model, _ = hs
    ref = reference_json("hs", "compare.json")["invariance_mlr"]["levels"]
    res = allyscale.invariance(d, model, group="school", estimator="MLR")
    tab = res.table
    for level, want in ref.items():
        fm = res.fits[level].fit_measures
        for k, v in want.items():
            got = tab.loc[level, k] if k in tab.columns else fm[k]
            if k in ("chisq", "chisq.scaled", "delta_chisq"):
                assert_allclose(got, v, rtol=1e-5, err_msg=f"{level} {k}")
            else:
                assert_allclose(got, v, atol=1e-5, err_msg=f"{level} {k}")


def test_invariance_errors(hs):
    d, model, _ = hs
    with pytest.raises(DataError, match="single group"):
        allyscale.invariance(d.assign(school="one"), model, group="school")
    with pytest.raises(DataError, match="not in the data"):
        allyscale.invariance(d, model, group="sex")
    with pytest.raises(SpecificationError):
        allyscale.cfa(d, model, group_equal=["loadings"])
