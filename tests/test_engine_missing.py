"""Missing ordinal data: WLSMV with missing="pairwise" against lavaan 0.6.14 (psych's bfi with its
missing values; psychTools' ability, 16 binary items). R: tests/reference/missing_ordinal/make_missing_ordinal.R"""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, reference_data, reference_model

import allyscale as al
from allyscale._core.wlsstats import influence
from allyscale.errors import SpecificationError

HERE = REFERENCE / "missing_ordinal"
REF = json.loads((HERE / "reference.json").read_text())
BFI = reference_data("bfi")[REF["bfi"]["items"]]
BFI_MODEL = reference_model("bfi")
ABILITY = pd.read_csv(HERE / "ability.csv")
ABILITY_MODEL = (HERE / "ability.lav").read_text()
CASES = {"bfi": (BFI, BFI_MODEL), "ability": (ABILITY, ABILITY_MODEL)}


@pytest.fixture(scope="module", params=["bfi", "ability"])
def pairwise(request):
    data, model = CASES[request.param]
    return request.param, al.cfa(data, model, estimator="WLSMV", missing="pairwise")


@pytest.mark.parametrize("case", ["bfi_small", "ability_small"])
def test_pairwise_gamma_and_statistics_match_lavaan(case):
    # R: lavInspect(cfa(..., ordered = items, estimator = "WLSMV", missing = "pairwise"), "gamma" / "wls.obs")
    ref = REF[case]
    data = (BFI if case.startswith("bfi") else ABILITY)[ref["items"]]
    stats = influence(data.to_numpy(float))
    obs = np.concatenate(stats["th"] + [stats["rho"]])
    np.testing.assert_allclose(obs, ref["wls_obs"], rtol=0, atol=1e-7)
    gamma = stats["IF"].T @ stats["IF"] / stats["n"]
    np.testing.assert_allclose(gamma, np.array(ref["gamma"]), rtol=1e-6, atol=1e-7)
    fit = al.cfa(data, ref["model"], estimator="WLSMV", missing="pairwise")
    for key in ("chisq", "chisq.scaled", "cfi.robust", "rmsea.robust"):
        np.testing.assert_allclose(fit.fit_measures[key], ref["fit"][key], rtol=1e-6, atol=1e-8, err_msg=key)


def test_pairwise_fit_matches_lavaan(pairwise):
    name, fit = pairwise
    ref = REF[name]["wlsmv"]
    assert fit.converged
    assert fit.ntotal == REF[name]["nobs_wlsmv"]  # lavaan drops the cases that answer no item
    fm = fit.fit_measures
    for key in ("npar", "df", "baseline.df", "df.scaled"):
        assert fm[key] == ref["fit"][key], key
    for key in ("chisq", "chisq.scaled", "baseline.chisq", "baseline.chisq.scaled", "chisq.scaling.factor"):
        np.testing.assert_allclose(fm[key], ref["fit"][key], rtol=1e-7, err_msg=key)
    for key in (
        "cfi",
        "tli",
        "cfi.scaled",
        "tli.scaled",
        "cfi.robust",
        "tli.robust",
        "rmsea",
        "rmsea.scaled",
        "rmsea.robust",
        "rmsea.ci.lower.robust",
        "rmsea.ci.upper.robust",
        "srmr",
    ):
        np.testing.assert_allclose(fm[key], ref["fit"][key], rtol=0, atol=1e-7, err_msg=key)
    est = pd.DataFrame(ref["est"])
    both = fit.estimates.merge(est, on=["lhs", "op", "rhs"], suffixes=("", "_r"))
    free = both[both["se_r"] > 0]
    assert len(free) == ref["fit"]["npar"]
    # lavaan stops at its optimiser's tolerance (bfi: 1e-5 on the estimates)
    np.testing.assert_allclose(free["est"], free["est_r"], rtol=0, atol=2e-5)
    np.testing.assert_allclose(free["se"], free["se_r"], rtol=2e-5)


def test_pairwise_uses_cases_that_listwise_deletion_drops():
    complete = ABILITY.dropna()
    lw = al.cfa(complete, ABILITY_MODEL, estimator="WLSMV")
    assert lw.ntotal == REF["ability"]["n_complete"] < REF["ability"]["nobs_wlsmv"]
    with pytest.raises(SpecificationError, match="pairwise' is available with estimator='WLSMV' only"):
        al.cfa(ABILITY, ABILITY_MODEL, estimator="ML", missing="pairwise")


def test_pairwise_subset_fit_equals_a_fresh_fit():
    # cases answering none of the subset's items drop out of the subset, as in a fresh computation
    items = ["reason_4", "reason_16", "reason_17", "letter_7", "letter_33", "letter_34"]
    model = "r =~ reason_4 + reason_16 + reason_17\nl =~ letter_7 + letter_33 + letter_34"
    sub = al.polychoric(ABILITY).subset(items)
    with pytest.warns(al.errors.DataWarning, match="no item observed"):
        a = al.cfa(ABILITY[items], model, estimator="WLSMV", missing="pairwise", polychoric=sub)
        b = al.cfa(ABILITY[items], model, estimator="WLSMV", missing="pairwise")
    for key in ("chisq", "chisq.scaled", "cfi.robust", "rmsea.robust", "srmr"):
        np.testing.assert_allclose(a.fit_measures[key], b.fit_measures[key], rtol=1e-9, err_msg=key)
    np.testing.assert_allclose(a.estimates["se"], b.estimates["se"], rtol=1e-9)
    np.testing.assert_allclose(sub.gamma().to_numpy(), np.array(REF["ability_small"]["gamma"]), rtol=1e-6, atol=1e-7)


def test_influence_and_matrix_forms_of_gamma_agree(monkeypatch):
    # N > q: Gamma is held q x q (the form lavaan is matched in above); the influence form gives the same fit
    from allyscale._core import wlsmv, wlsstats

    model = "r =~ reason_4 + reason_16 + reason_17 + reason_19\nl =~ letter_7 + letter_33 + letter_34 + letter_58"
    items = ["reason_4", "reason_16", "reason_17", "reason_19", "letter_7", "letter_33", "letter_34", "letter_58"]
    data = ABILITY[items].dropna()
    monkeypatch.setattr(wlsmv, "_CACHE", None)
    a = al.cfa(data, model, estimator="WLSMV")
    assert a.diagnostics["gamma_form"] == "gamma"
    monkeypatch.setattr(wlsstats, "GAMMA_MAX_Q", 0)
    monkeypatch.setattr(wlsmv, "_CACHE", None)
    b = al.cfa(data, model, estimator="WLSMV")
    assert b.diagnostics["gamma_form"] == "influence"
    for key in ("chisq", "chisq.scaled", "cfi.robust", "rmsea.robust", "tli.robust", "baseline.chisq.scaled"):
        np.testing.assert_allclose(a.fit_measures[key], b.fit_measures[key], rtol=1e-10, err_msg=key)
    np.testing.assert_allclose(a.estimates["se"], b.estimates["se"], rtol=1e-10)


@pytest.mark.parametrize("groups", [1, 2])
def test_influence_form_below_q_agrees_with_matrix_form(monkeypatch, groups):
    # N <= q: the products go through the N x N Gram of the weighted influences (symmetric rank-k
    # updates) and, for a sparse weighted Jacobian, a sparse product; the catML trace is a sum over
    # cases. The q x q form of Gamma gives the same fit.
    import functools

    from allyscale._core import wlsmv, wlsstats

    sys_path = REFERENCE.parent.parent / "benchmarks"
    monkeypatch.syspath_prepend(str(sys_path))
    from _ordinal_data import ordinal_data

    data, model = ordinal_data(160 * groups, 24, factors=3, seed=5)
    kw = {}
    if groups == 2:
        data["g"] = np.repeat(["a", "b"], 160)
        kw["group"] = "g"
    q = 24 * 4 + 24 * 23 // 2
    assert 160 < q
    fits = {}
    for name, density, form in (("sparse", 1.0, "auto"), ("dense", 0.0, "auto"), ("matrix", 0.0, "gamma")):
        monkeypatch.setattr(wlsmv, "_CACHE", None)
        monkeypatch.setattr(wlsstats, "_SPARSE_DENSITY", density)
        monkeypatch.setattr(wlsstats, "statistics", functools.partial(_STATISTICS, form=form))
        fits[name] = al.cfa(data, model, estimator="WLSMV", **kw)
    forms = fits["sparse"].diagnostics["gamma_form"]
    assert (forms if groups == 2 else [forms]) == ["influence"] * groups
    assert fits["matrix"].diagnostics["gamma_form"] == ("gamma" if groups == 1 else ["gamma"] * 2)
    for name in ("sparse", "dense"):
        for key in (
            "chisq",
            "chisq.scaled",
            "cfi.scaled",
            "cfi.robust",
            "rmsea.robust",
            "tli.robust",
            "baseline.chisq.scaled",
        ):
            np.testing.assert_allclose(
                fits[name].fit_measures[key], fits["matrix"].fit_measures[key], rtol=1e-10, err_msg=f"{name} {key}"
            )
        np.testing.assert_allclose(fits[name].estimates["se"], fits["matrix"].estimates["se"], rtol=1e-9)


def test_groups_on_both_sides_of_q(monkeypatch):
    # one group with N_g <= q (influence form), one with N_g > q (q x q form): the groups are fitted with
    # one form of Gamma, and the fit equals the fit with both groups in either form
    import functools

    from allyscale._core import wlsmv, wlsstats

    monkeypatch.syspath_prepend(str(REFERENCE.parent.parent / "benchmarks"))
    from _ordinal_data import ordinal_data

    data, model = ordinal_data(1500, 20, factors=2, seed=4)
    data["g"] = ["a"] * 150 + ["b"] * 1350  # q = 20 * 4 + 190 = 270
    fits = {}
    for form in ("auto", "gamma", "influence"):
        monkeypatch.setattr(wlsmv, "_CACHE", None)
        monkeypatch.setattr(wlsstats, "statistics", functools.partial(_STATISTICS, form=form))
        fits[form] = al.cfa(data, model, estimator="WLSMV", group="g")
    assert fits["auto"].diagnostics["gamma_form"] == ["gamma", "gamma"]
    assert fits["influence"].diagnostics["gamma_form"] == ["influence", "influence"]
    for form in ("gamma", "influence"):
        for key in ("chisq", "chisq.scaled", "cfi.scaled", "cfi.robust", "rmsea.robust", "tli.robust"):
            np.testing.assert_allclose(
                fits["auto"].fit_measures[key], fits[form].fit_measures[key], rtol=1e-10, err_msg=f"{form} {key}"
            )
        np.testing.assert_allclose(fits["auto"].estimates["se"], fits[form].estimates["se"], rtol=1e-9)


from allyscale._core.wlsstats import statistics as _STATISTICS  # noqa: E402 - the unpatched function
