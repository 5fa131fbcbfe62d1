"""The IRT view of a WLSMV fit: closed-form transformation (psych's fa2irt on lavaan's solution),
information as the derivative of the category probabilities, marginal reliability."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data, reference_json, reference_model
from numpy.testing import assert_allclose
from scipy.stats import norm

import allyscale as al
from allyscale.errors import SpecificationError
from allyscale.irt import category_probabilities, from_standardized, item_information, marginal_reliability

REF = Path(__file__).parent / "reference"


@pytest.fixture(scope="module")
def ref():
    return reference_json("irt")


@pytest.fixture(scope="module")
def fit(ref):
    data = reference_data("sim60")[ref["items"]]
    model = reference_model("irt")
    return al.cfa(data, model, estimator="WLSMV", ordered=ref["items"])


def test_parameters_equal_psych_fa2irt_of_lavaan_solution(ref):
    """The transformation alone, applied to lavaan's standardized solution: equal to psych's fa2irt."""
    lam = pd.DataFrame(ref["loadings"], index=ref["items"], columns=ref["factors"])
    tau = pd.DataFrame(ref["thresholds"], index=ref["items"], columns=["t1", "t2", "t3", "t4"])
    res = from_standardized(
        lam, tau, factor_corr=pd.DataFrame(ref["factor_corr"], index=ref["factors"], columns=ref["factors"])
    )
    p = res.parameters.set_index("item")
    disc = np.asarray(ref["discrimination"])
    for i, item in enumerate(ref["items"]):
        f = int(np.argmax(np.abs(disc[i])))
        assert p.loc[item, "factor"] == ref["factors"][f]
        assert_allclose(p.loc[item, "a"], disc[i, f], rtol=1e-12)
        d = np.asarray(ref["difficulty"][f])[i]
        assert_allclose(p.loc[item, ["d1", "d2", "d3", "d4"]].to_numpy(float), d, rtol=1e-12)
        assert_allclose(p.loc[item, ["b1", "b2", "b3", "b4"]].to_numpy(float), d / disc[i, f], rtol=1e-12)


def test_irt_of_allyscale_fit_matches_lavaan_based_reference(ref, fit):
    """End to end: allyscale's WLSMV solution turned into IRT parameters equals fa2irt of lavaan's."""
    p = al.irt(fit).parameters.set_index("item")
    disc = np.asarray(ref["discrimination"]).max(axis=1)
    assert_allclose(p.loc[ref["items"], "a"].to_numpy(float), disc, rtol=2e-5)
    tau = np.asarray(ref["thresholds"])
    lam = np.asarray(ref["loadings"]).max(axis=1)
    assert_allclose(
        p.loc[ref["items"], ["b1", "b2", "b3", "b4"]].to_numpy(float), tau / lam[:, None], rtol=2e-5, atol=1e-6
    )


def test_closed_form_on_the_fit(fit):
    est = fit.estimates
    res = al.irt(fit)
    p = res.parameters.set_index("item")
    for r in est[est["op"] == "=~"].itertuples():
        lam = r.std_all
        assert_allclose(p.loc[r.rhs, "a"], lam / np.sqrt(1 - lam**2), rtol=1e-12)
        th = est[(est["op"] == "|") & (est["lhs"] == r.rhs)]["std_all"].to_numpy()
        assert_allclose(p.loc[r.rhs, ["b1", "b2", "b3", "b4"]].to_numpy(float), th / lam, rtol=1e-12)
    assert res.factors == {
        "knowledge": [f"i{k}" for k in range(40, 46)],
        "communication": [f"i{k}" for k in range(55, 61)],
    }


def test_information_is_derivative_of_category_probabilities(fit):
    res = al.irt(fit)
    theta = np.linspace(-3.5, 3.5, 29)
    info = res.information(theta)
    h = 1e-5
    for item in res.items:
        row = res.parameters.set_index("item").loc[item]
        a, b = float(row["a"]), row[["b1", "b2", "b3", "b4"]].to_numpy(float)
        p = category_probabilities(a, b, theta)
        dp = (category_probabilities(a, b, theta + h) - category_probabilities(a, b, theta - h)) / (2 * h)
        numeric = np.sum(dp**2 / p, axis=1)
        assert_allclose(info[item].to_numpy(), numeric, rtol=1e-6)
        # the same as minus the expected second derivative of the log-likelihood
        d2 = (
            np.log(category_probabilities(a, b, theta + 1e-3))
            - 2 * np.log(p)
            + np.log(category_probabilities(a, b, theta - 1e-3))
        ) / 1e-6
        assert_allclose(info[item].to_numpy(), -np.sum(p * d2, axis=1), rtol=1e-4)
    for f, items in res.factors.items():
        assert_allclose(info[f].to_numpy(), info[items].sum(axis=1).to_numpy(), rtol=1e-14)
    se = res.standard_error(theta)
    assert_allclose(se.to_numpy(), 1 / np.sqrt(info[list(res.factors)].to_numpy()), rtol=1e-14)


def test_binary_item_information_closed_form():
    theta = np.linspace(-3, 3, 13)
    a, b = 1.7, 0.4
    z = a * (theta - b)
    closed = a**2 * norm.pdf(z) ** 2 / (norm.cdf(z) * norm.sf(z))
    assert_allclose(item_information(a, [b], theta), closed, rtol=1e-10)
    p = category_probabilities(a, [b], theta)
    assert_allclose(p.sum(axis=1), 1.0, rtol=1e-14)
    assert_allclose(p[:, 1], norm.cdf(z), rtol=1e-12)


def test_marginal_reliability_equals_direct_integration():
    # by direct numerical integration of I/(I+1) phi over a fine grid
    a, b = [1.2, 0.8, 2.0], [[-1.0, 0.0, 1.0], [-0.5, 0.5, 1.5], [-2.0, -1.0, 0.3]]
    grid = np.linspace(-9, 9, 20001)
    info = sum(item_information(aj, bj, grid) for aj, bj in zip(a, b))
    direct = np.trapezoid(info / (info + 1) * norm.pdf(grid), grid)
    assert_allclose(marginal_reliability(a, b), direct, rtol=1e-8)
    assert 0 < direct < 1


def test_more_information_for_higher_loadings():
    tau = pd.DataFrame([[-1.0, 0.0, 1.0]] * 2, index=["x", "y"], columns=["t1", "t2", "t3"])
    lam = pd.DataFrame({"f": [0.4, 0.8]}, index=["x", "y"])
    info = from_standardized(lam, tau).information([0.0])
    assert info.loc[0.0, "y"] > 3 * info.loc[0.0, "x"]


def test_errors_and_outputs(fit):
    data = reference_data("sim60")
    ml = al.cfa(data, "f =~ i40 + i41 + i42 + i43", estimator="ML")
    with pytest.raises(SpecificationError, match="WLSMV"):
        al.irt(ml)
    with pytest.raises(SpecificationError, match="group"):
        al.irt(fit, group="a")
    lam = pd.DataFrame({"f": [1.0]}, index=["x"])
    with pytest.raises(SpecificationError, match="Heywood"):
        from_standardized(lam, pd.DataFrame([[0.0]], index=["x"], columns=["t1"]))
    res = al.irt(fit)
    d = res.to_dict()
    json.dumps(d)
    assert set(d["marginal_reliability"]) == {"knowledge", "communication"}
    assert "<table" in res._repr_html_()
    assert "Marginal reliability" in res.summary()
    fig = res.plot_information()
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 4  # two panels, each with a twin axis
    fig2 = res.plot_standard_error()
    assert len(fig2.axes) == 1


def test_multi_group_fit_needs_group():
    data = reference_data("sim60")[["i40", "i41", "i42", "i43"]].copy()
    data["g"] = np.where(np.arange(len(data)) % 2, "odd", "even")
    items = ["i40", "i41", "i42", "i43"]
    fit = al.cfa(data, "f =~ i40 + i41 + i42 + i43", estimator="WLSMV", ordered=items, group="g")
    with pytest.raises(SpecificationError, match="group="):
        al.irt(fit)
    est = fit.estimates
    lam = est[(est["op"] == "=~") & (est["group"] == 2)]["std_all"].to_numpy()
    p = al.irt(fit, group="odd").parameters
    assert_allclose(p["a"].to_numpy(float), lam / np.sqrt(1 - lam**2), rtol=1e-12)
