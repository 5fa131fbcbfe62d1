"""Validity statistics against semTools 0.5.6 and lavaan 0.6.14.

References: tests/reference/sim60/reference.json and tests/reference/reliability/reference.json
(make_reliability.R).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE
from numpy.testing import assert_allclose

import allyscale
import allyscale.validity as val
from allyscale.errors import DataError, SpecificationError

SIM = REFERENCE / "sim60"
RELREF = REFERENCE / "reliability"
FACTORS = ["trust", "action", "awareness", "knowledge", "accountability", "communication"]


@pytest.fixture(scope="module")
def ref():
    return json.loads((SIM / "reference.json").read_text())


@pytest.fixture(scope="module")
def ref2():
    return json.loads((RELREF / "reference.json").read_text())


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(SIM / "data.csv")


@pytest.fixture(scope="module")
def model():
    return (SIM / "model.lav").read_text()


@pytest.fixture(scope="module")
def fit_ml(data, model):
    return allyscale.cfa(data, model, estimator="ML")


def test_htmt_matches_semtools(data, model, ref):
    # R: semTools::htmt(model, data = d)  (Pearson, htmt2 = TRUE)
    h = allyscale.htmt(data, model)
    assert list(h.index) == FACTORS and list(h.columns) == FACTORS
    assert_allclose(h.to_numpy(), np.asarray(ref["htmt"]), atol=1e-10, rtol=0)


def test_htmt_arithmetic_and_ordinal_match_semtools(data, model, ref2):
    # R: semTools::htmt(model, data = d, htmt2 = FALSE); semTools::htmt(model, data = d, ordered = names(X))
    assert_allclose(
        allyscale.htmt(data, model, htmt2=False).to_numpy(), np.asarray(ref2["htmt_arith"]), atol=1e-10, rtol=0
    )
    assert_allclose(
        allyscale.htmt(data, model, ordinal=True).to_numpy(), np.asarray(ref2["htmt_ordered"]), atol=1e-6, rtol=0
    )


def test_htmt_arithmetic_version_differs_and_is_symmetric(data, model):
    h1 = allyscale.htmt(data, model, htmt2=False)
    h2 = allyscale.htmt(data, model)
    assert_allclose(h1.to_numpy(), h1.to_numpy().T, atol=1e-14, rtol=0)
    assert_allclose(np.diag(h1), 1.0, atol=1e-14, rtol=0)
    assert np.abs(h1.to_numpy() - h2.to_numpy()).max() > 1e-3


def test_ave_matches_semtools(data, model, ref, fit_ml):
    # R: semTools::AVE(cfa(model, data = d))
    a = allyscale.ave(data, model, fit=fit_ml)
    assert_allclose(a.loc[FACTORS].to_numpy(), [ref["ave_ml"][f] for f in FACTORS], atol=1e-5, rtol=0)


def test_fornell_larcker(data, model, ref, fit_ml):
    # R: sqrt(semTools::AVE(fit)); standardizedSolution(fit) latent covariances (est.std)
    fl = allyscale.fornell_larcker(data, model, fit=fit_ml)
    assert_allclose(
        np.diag(fl.table.loc[FACTORS, FACTORS]), np.sqrt([ref["ave_ml"][f] for f in FACTORS]), atol=1e-5, rtol=0
    )
    std = pd.DataFrame(ref["cfa_ml"]["std"])
    lv = std[(std.op == "~~") & std.lhs.isin(FACTORS) & std.rhs.isin(FACTORS) & (std.lhs != std.rhs)]
    for _, row in lv.iterrows():
        assert_allclose(fl.table.loc[row.lhs, row.rhs], row["est.std"], atol=1e-5, rtol=0)
    expected = {f: np.sqrt(ref["ave_ml"][f]) > fl.table.loc[f].drop(f).abs().max() for f in FACTORS}
    assert fl.passes.to_dict() == expected
    json.dumps(fl.to_dict())
    assert "sqrt(AVE)" in fl.summary()


def test_factor_correlations_with_wald_cis(data, model, ref2):
    # R: parameterEstimates(cfa(model, data = d, std.lv = TRUE)) rows lv ~~ lv: est, se, ci.lower, ci.upper
    fc = val.factor_correlations(data, model, estimator="ML")  # the R reference is ML
    r = pd.DataFrame(ref2["factor_cor"])
    merged = fc.merge(r, on=["lhs", "rhs"])
    assert len(merged) == 15
    assert_allclose(merged["r"], merged["est"], atol=1e-5, rtol=0)
    assert_allclose(merged["se_x"], merged["se_y"], atol=1e-4, rtol=0)
    assert_allclose(merged["ci_lower_x"], merged["ci_lower_y"], atol=2e-4, rtol=0)
    assert_allclose(merged["ci_upper_x"], merged["ci_upper_y"], atol=2e-4, rtol=0)


def test_factor_correlations_refuse_marker_identified_fit(fit_ml):
    with pytest.raises(SpecificationError, match="std_lv"):
        val.factor_correlations(fit=fit_ml)


def test_external_correlation_fisher_interval(data, ref2):
    # R: cor.test(rowMeans(trust), retest$time2): estimate, conf.int (Fisher z), p.value
    retest = pd.read_csv(RELREF / "retest.csv")
    d = data.assign(time2=retest["time2"])
    items = [f"i{j:02d}" for j in range(1, 16)]
    out = val.external_correlations(d, ["time2"], scales={"trust": items})
    row = out.iloc[0]
    r = ref2["external"]
    assert_allclose([row["r"], row["ci_lower"], row["ci_upper"]], [r["r"], r["lower"], r["upper"]], atol=1e-12, rtol=0)
    assert_allclose(row["pvalue"], r["p"], rtol=1e-6, atol=0)
    assert row["n"] == 500


def test_external_correlations_from_model_and_errors(data, model):
    d = data.assign(ext=data["i01"] + 0.0)
    out = val.external_correlations(d, ["ext"], model=model)
    assert list(out["scale"]) == FACTORS
    assert out.set_index("scale").loc["trust", "r"] > out.set_index("scale").loc["knowledge", "r"]
    with pytest.raises(DataError, match="nope"):
        val.external_correlations(d, ["nope"], model=model)
    with pytest.raises(SpecificationError):
        val.external_correlations(d, ["ext"])


def test_htmt_missing_item_is_named(data, model):
    with pytest.raises(DataError, match="i07"):
        allyscale.htmt(data.drop(columns=["i07"]), model)
