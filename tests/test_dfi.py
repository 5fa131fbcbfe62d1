"""Tests of allyscale.dfi: misspecification levels as the R package dynamic builds them, the cutoff rule."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data, reference_json, reference_model
from numpy.testing import assert_allclose

from allyscale.dfi import _cutoff, _population_syntax, _std_solution, misspecifications, solution_from_syntax
from allyscale.errors import SpecificationError

HERE = Path(__file__).resolve().parent
REF = reference_json("dfi", "misspecifications.json")


def _parse(statement: str) -> tuple[str, str, str, float]:
    m = re.fullmatch(r"\s*(\w+)\s*(=~|~~)\s*([0-9.]+)\s*\*\s*(\w+)\s*", statement)
    assert m, statement
    return m.group(1), m.group(2), m.group(4), float(m.group(3))


def _levels(levels) -> list[list[tuple]]:
    return [[_parse(s) for s in ([lv] if isinstance(lv, str) else lv)] for lv in levels]


@pytest.mark.parametrize("case", ["hs", "four", "one6", "one9"])
def test_misspecification_levels_match_dynamic(case):
    # R: dynamic:::DGM_Multi_HB(model) / dynamic:::DGM_one(model) (tests/reference/dfi/make_dfi.R);
    # for hs the model is dynamic:::cfa_lavmod(lavaan::cfa(HS model, data = hs)), the rounded std solution
    model = REF[case]["model"].replace("~~0", "~~ 0").replace("=~0", "=~ 0")
    ours = misspecifications(solution_from_syntax(model))
    want = _levels(REF[case]["levels"])
    got = [[_parse(s) for s in stmts] for stmts in ours.values()]
    assert [[t[:3] for t in lv] for lv in got] == [[t[:3] for t in lv] for lv in want]
    assert_allclose([t[3] for lv in got for t in lv], [t[3] for lv in want for t in lv], atol=1e-12)


def test_std_solution_of_fitted_model_gives_dynamics_population():
    import allyscale

    data = reference_data("hs")
    fit = allyscale.cfa(data, reference_model("hs"))
    sol = _std_solution(fit)
    want = solution_from_syntax(REF["hs"]["model"].replace("~~0", "~~ 0").replace("=~0", "=~ 0"))
    keys = sorted(want["lambda"])
    # lavaan standardizedSolution(fit)$est.std rounded to 4 decimals, as dynamic:::cfa_lavmod
    assert_allclose([sol["lambda"][k] for k in keys], [want["lambda"][k] for k in keys], atol=1e-4)
    got_f = {frozenset(k): v for k, v in sol["fcor"].items()}
    assert_allclose([got_f[frozenset(k)] for k in want["fcor"]], list(want["fcor"].values()), atol=1e-4)
    lv = misspecifications(sol)
    assert lv["level-2"] == ["textual =~ 0.4236*x2", "textual =~ 0.5695*x7"]


def test_population_syntax_is_standardized():
    from allyscale.simulate import PopulationModel

    sol = solution_from_syntax(REF["four"]["model"])
    extra = misspecifications(sol)["level-3"]
    pm = PopulationModel.from_lavaan(_population_syntax(sol, extra))
    r = pm.implied_corr().to_numpy()
    assert_allclose(np.diag(r), 1.0, atol=1e-9)
    sol1 = solution_from_syntax(REF["one9"]["model"])
    pm1 = PopulationModel.from_lavaan(_population_syntax(sol1, misspecifications(sol1)["level-1"]))
    c = pm1.implied_corr()
    # residual correlation .3 between Y3 and Y5 on top of the common part .55 * .48
    assert_allclose(c.loc["Y3", "Y5"], 0.55 * 0.48 + 0.3 * np.sqrt((1 - 0.55**2) * (1 - 0.48**2)), rtol=1e-9)


def test_cutoff_rule():
    rng = np.random.default_rng(1)
    true = rng.normal(0.03, 0.005, 2000)
    far = rng.normal(0.08, 0.005, 2000)
    cut, power = _cutoff(far, true, "srmr")
    # the 95% rule holds: the misspecified 5th percentile is the cutoff
    assert power == 0.95
    assert_allclose(cut, np.quantile(far, 0.05), rtol=1e-12)
    near = rng.normal(0.042, 0.005, 2000)
    cut, power = _cutoff(near, true, "srmr")
    t95 = np.quantile(true, 0.95)
    assert 0.5 <= power < 0.95 and cut >= t95
    assert_allclose(cut, np.quantile(near, round(1 - power, 2)), rtol=1e-12)
    same = rng.normal(0.03, 0.005, 2000)
    cut, power = _cutoff(same, true, "srmr")
    assert np.isnan(cut) and power < 0.5
    # CFI runs the other way
    cut, power = _cutoff(1 - far, 1 - true, "cfi")
    assert power == 0.95
    assert_allclose(cut, np.quantile(1 - far, 0.95), rtol=1e-12)


def test_errors():
    with pytest.raises(SpecificationError, match="four items"):
        misspecifications(solution_from_syntax("f =~ .7*a + .6*b + .5*c"))
    with pytest.raises(SpecificationError, match="needs a standardized value"):
        solution_from_syntax("f =~ a + .6*b + .5*c")


def test_dfi_one_factor_small():
    import allyscale
    from allyscale.simulate import PopulationModel, simulate

    pm = PopulationModel.from_lavaan("f =~ .7*a + .6*b + .5*c + .6*d + .7*e + .4*g")
    data = simulate(pm, 400, seed=3)
    fit = allyscale.cfa(data, "f =~ a + b + c + d + e + g")
    res = allyscale.dfi(fit, reps=20, seed=5)
    assert list(res.cutoffs.index) == ["level-0", "level-1", "level-2", "level-3"]
    sim = res.simulated
    assert len(sim) == 80 and sim["converged"].all()
    true = sim[sim["level"] == 0]
    assert_allclose(res.cutoffs.loc["level-0", "srmr"], np.quantile(true["srmr"], 0.95), rtol=1e-12)
    assert_allclose(res.cutoffs.loc["level-0", "cfi"], np.quantile(true["cfi"], 0.05), rtol=1e-12)
    # more misspecification, larger SRMR: the level-3 cutoff is above level-0
    assert res.cutoffs.loc["level-3", "srmr"] > res.cutoffs.loc["level-0", "srmr"]
    assert "level-3" in res.summary() and json.dumps(res.to_dict())
    # reproducible
    again = allyscale.dfi(fit, reps=20, seed=5)
    pd.testing.assert_frame_equal(res.cutoffs, again.cutoffs)


def test_dfi_cli(tmp_path):
    from click.testing import CliRunner

    from allyscale.cli import main
    from allyscale.simulate import PopulationModel, simulate

    pm = PopulationModel.from_lavaan("f =~ .7*a + .6*b + .5*c + .6*d")
    simulate(pm, 300, seed=8).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "m.lav").write_text("f =~ a + b + c + d\n")
    r = CliRunner().invoke(
        main,
        [
            "dfi",
            str(tmp_path / "d.csv"),
            "--model",
            str(tmp_path / "m.lav"),
            "--reps",
            "20",
            "--json",
            str(tmp_path / "dfi.json"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert (
        re.search(r"level-1: \w ~~ 0.3\*\w", r.output) and json.loads((tmp_path / "dfi.json").read_text())["reps"] == 20
    )
    r = CliRunner().invoke(main, ["dfi", str(tmp_path / "d.csv"), "--model", str(tmp_path / "nope.lav")])
    assert r.exit_code == 2 and "nope.lav: model file not found" in r.output


@pytest.mark.slow
def test_dfi_hs_cutoffs_match_r_simulation():
    """Holzinger-Swineford 3-factor model, ML, N = 301, 500 samples per level: cutoffs agree with the same
    procedure run in R (tests/reference/dfi/make_dfi_cutoffs.R: lavaan::simulateData + lavaan::cfa, dynamic's
    levels and rule) within Monte Carlo error."""
    import allyscale

    ref = reference_json("dfi", "cutoffs_hs.json")
    data = reference_data("hs")
    fit = allyscale.cfa(data, reference_model("hs"))
    res = allyscale.dfi(fit, reps=500, seed=1, workers=2)
    tol = {"srmr": 0.004, "rmsea": 0.008, "cfi": 0.008}
    for idx, atol in tol.items():
        # R: quantile(true[, idx], .95) (.05 for CFI) of 500 correct-model fits
        assert_allclose(res.cutoffs.loc["level-0", idx], ref["level0"][idx], atol=atol)
        for lv in (1, 2):
            want = ref[f"level{lv}"][idx]
            got = res.cutoffs.loc[f"level-{lv}", idx]
            if want["cut"] is None:
                assert np.isnan(got)
            else:
                assert_allclose(got, want["cut"], atol=atol)
                assert abs(res.cutoffs.loc[f"level-{lv}", f"{idx}_power"] - want["power"]) <= 0.06
    # lavaan fitMeasures(fit, c("srmr", "rmsea", "cfi"))
    assert_allclose([res.fitted[k] for k in tol], [ref["fitted"][k] for k in tol], atol=1e-6)


def test_dfi_wlsmv_ordinal_uses_thresholds_and_scaled_indices():
    import allyscale
    from allyscale.simulate import PopulationModel, simulate

    pm = PopulationModel.from_lavaan("f =~ .7*a + .6*b + .5*c + .6*d", categories=4, thresholds="skewed")
    data = simulate(pm, 300, seed=4)
    fit = allyscale.cfa(data, "f =~ a + b + c + d", estimator="WLSMV")
    sol = _std_solution(fit)
    # the fitted (standardized, delta parameterization) thresholds define the simulated categories
    th = fit.estimates[fit.estimates["op"] == "|"]
    assert_allclose(sol["thresholds"]["a"], th.loc[th["lhs"] == "a", "est"].round(4), atol=1e-12)
    res = allyscale.dfi(fit, reps=20, seed=2)
    assert res.diagnostics["ordinal"] and res.diagnostics["indices"] == ["srmr", "rmsea.scaled", "cfi.scaled"]
    assert list(res.cutoffs.index) == ["level-0", "level-1"]
    true = res.simulated[res.simulated["level"] == 0]
    assert_allclose(res.cutoffs.loc["level-0", "rmsea"], np.quantile(true["rmsea.scaled"], 0.95), rtol=1e-12)
