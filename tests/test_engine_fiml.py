"""MLR with FIML: lavaan 0.6.14's FIML-corrected robust CFI/TLI/RMSEA (lav_fit_fiml_corrected, "V3";
Zhang & Savalei, 2023). R: tests/reference/missing_ordinal/make_missing_ordinal.R"""

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, reference_data, reference_model

import allyscale as al

HERE = REFERENCE / "missing_ordinal"
REF = json.loads((HERE / "reference.json").read_text())
ABILITY = pd.read_csv(HERE / "ability.csv")
ROBUST = ("cfi.robust", "tli.robust", "rmsea.robust", "rmsea.ci.lower.robust", "rmsea.ci.upper.robust")


def _check(fit, ref, atol):
    fm = fit.fit_measures
    assert fit.converged
    for key in ("npar", "df", "baseline.df"):
        assert fm[key] == ref["fit"][key], key
    for key in ("chisq", "chisq.scaled", "baseline.chisq", "chisq.scaling.factor", "logl"):
        np.testing.assert_allclose(fm[key], ref["fit"][key], rtol=1e-6, err_msg=key)
    for key in ROBUST + ("cfi", "tli", "cfi.scaled", "tli.scaled", "rmsea", "rmsea.scaled", "srmr"):
        np.testing.assert_allclose(fm[key], ref["fit"][key], rtol=0, atol=atol, err_msg=key)


def test_fiml_robust_indices_match_lavaan_on_a_small_case():
    ref = REF["ability_small_fiml"]
    fit = al.cfa(ABILITY[ref["items"]], ref["model"], estimator="MLR", missing="fiml")
    assert fit.ntotal == ref["nobs"]
    _check(fit, ref, 1e-6)
    pieces = fit.diagnostics["fimlc"]
    assert pieces["df3"] == ref["fit"]["df"] and pieces["df3.null"] == ref["fit"]["baseline.df"]
    assert pieces["c.hat3"] > 0 and pieces["XX3"] > fit.fit_measures["chisq"] * 0.5
    back = pickle.loads(pickle.dumps(fit))
    assert back.fit_measures["cfi.robust"] == fit.fit_measures["cfi.robust"]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["bfi", "ability"])
def test_fiml_robust_indices_match_lavaan(case):
    # bfi: lavaan cfi.robust 0.7774, tli.robust 0.7480, rmsea.robust 0.0772 (issue 14)
    if case == "bfi":
        data = reference_data("bfi")[REF["bfi"]["items"]]
        model = reference_model("bfi")
    else:
        data, model = ABILITY, (HERE / "ability.lav").read_text()
    fit = al.cfa(data, model, estimator="MLR", missing="fiml")
    _check(fit, REF[case]["mlr_fiml"], 1e-6)
