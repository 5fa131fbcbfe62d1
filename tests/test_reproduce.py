"""reproduce.R: lavaan refits every model of a report on the saved data.csv and gets the report's fit measures.

The R part needs ``Rscript`` with lavaan 0.6.14 and semTools (ordered items across groups); CI has no R,
so it is skipped there, with the reason. Run by hand: ``cd report/ && Rscript reproduce.R fits.csv``.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import allyscale as al
from allyscale.report.reproduce import reproduce_script, reproduce_targets

RSCRIPT = shutil.which("Rscript")
needs_r = pytest.mark.skipif(
    RSCRIPT is None,
    reason="Rscript is not installed (R with lavaan 0.6.14 and semTools is needed to run reproduce.R; CI has no R)",
)


def _r_has(package: str) -> bool:
    if RSCRIPT is None:
        return False
    done = subprocess.run(
        [RSCRIPT, "-e", f"cat(requireNamespace('{package}', quietly = TRUE))"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout.strip().endswith("TRUE")


@pytest.fixture(scope="module")
def ordinal_report(mini_pool, tmp_path_factory):
    """WLSMV (ordered items), five competing models, ordinal invariance across form."""
    pm = al.PopulationModel.from_pool(mini_pool, structure="correlated")
    data = al.simulate(pm, n=300, seed=1)
    data["form"] = np.where(np.arange(len(data)) % 2 == 0, "self", "informant")
    report = al.validate(data, pool=mini_pool, group="form")
    out = tmp_path_factory.mktemp("ordinal") / "report"
    report.save(out)
    return report, out


@pytest.fixture(scope="module")
def continuous_report(mini_pool, tmp_path_factory):
    """ML on continuous scores, one hypothesised model, ML invariance (group.equal) across form."""
    pm = al.PopulationModel.from_pool(mini_pool, structure="correlated")
    data = al.simulate(pm, n=300, seed=2).astype(float)
    rng = np.random.default_rng(2)
    data[mini_pool.item_ids] = data[mini_pool.item_ids] + rng.normal(0, 0.3, (len(data), len(mini_pool.item_ids)))
    data["form"] = np.where(np.arange(len(data)) % 2 == 0, "self", "informant")
    model = mini_pool.model_syntax("correlated")
    report = al.validate(data, model=model, group="form", estimator="MLR")
    out = tmp_path_factory.mktemp("continuous") / "report"
    report.save(out)
    return report, out


def test_report_folder_holds_data_and_script(ordinal_report):
    report, out = ordinal_report
    assert (out / "reproduce.R").is_file() and (out / "data.csv").is_file()
    saved = pd.read_csv(out / "data.csv")
    meta = json.loads((out / "results.json").read_text())["meta"]
    assert meta["analysed_data"] == {"file": "data.csv", "rows": len(saved), "columns": list(saved.columns)}
    assert list(saved.columns) == [*report.meta["items"], "form"]
    # reverse-keyed items are saved reversed (as analysed): the script must not reverse them again
    np.testing.assert_array_equal(saved[report.meta["items"]].to_numpy(), report.data[report.meta["items"]].to_numpy())
    script = (out / "reproduce.R").read_text()
    assert 'estimator <- "WLSMV"' in script and "ordered <- items" in script
    assert 'ID.cat = "Wu.Estabrook.2016"' in script
    for name in report.meta["models"]:
        assert f'"{name}" = ' in script


def test_targets_are_the_reports_fit_measures(ordinal_report):
    report, _ = ordinal_report
    targets = pd.DataFrame(reproduce_targets(report))
    comp = report.section("cfa").tables[0].data
    got = targets[(targets["table"] == "cfa_comparison") & (targets["row"] == "correlated")].set_index("measure")
    assert got.loc["chisq.scaled", "value"] == comp.at["correlated", "chisq.scaled"]
    assert set(targets["table"]) == {"cfa_comparison", "main_fit", "invariance_fit"}
    assert "strict" not in set(targets.loc[targets["table"] == "invariance_fit", "row"])  # not testable (delta)


def test_script_for_ml_uses_group_equal(continuous_report):
    report, out = continuous_report
    script = reproduce_script(report)
    assert 'estimator <- "MLR"' in script and "ordered <- NULL" in script
    assert 'group.equal = c("loadings", "intercepts", "residuals")' in script


def _run(out, tmp_path):
    fits = tmp_path / "fits.csv"
    done = subprocess.run(
        [RSCRIPT, str(out / "reproduce.R"), str(fits)], capture_output=True, text=True, timeout=600, cwd=tmp_path
    )  # from another folder: the script finds data.csv itself
    assert done.returncode == 0, done.stderr[-3000:]
    assert "largest relative difference" in done.stdout
    return pd.read_csv(fits)


@needs_r
def test_reproduce_r_matches_ordinal(ordinal_report, tmp_path):
    if not _r_has("semTools"):
        pytest.skip("R package semTools is not installed (needed for ordinal invariance)")
    report, out = ordinal_report
    res = _run(out, tmp_path)
    assert len(res) == len(reproduce_targets(report))
    assert set(res["table"]) == {"cfa_comparison", "main_fit", "invariance_fit"}
    np.testing.assert_allclose(res["lavaan"], res["allyscale"], rtol=1e-6, atol=1e-10)


@pytest.fixture(scope="module")
def continuous_refit(continuous_report, tmp_path_factory):
    report, out = continuous_report
    return report, _run(out, tmp_path_factory.mktemp("refit"))


@needs_r
def test_reproduce_r_matches_continuous(continuous_refit):
    report, res = continuous_refit
    assert len(res) == len(reproduce_targets(report))
    assert {"main_fit", "invariance_fit"} <= set(res["table"])
    # SRMR of the multi-group models is checked separately below (known difference of ~1e-6)
    strict = ~((res["table"] == "invariance_fit") & (res["measure"] == "srmr"))
    np.testing.assert_allclose(res.loc[strict, "lavaan"], res.loc[strict, "allyscale"], rtol=1e-6, atol=1e-10)
    srmr = res[~strict]
    np.testing.assert_allclose(srmr["lavaan"], srmr["allyscale"], rtol=1e-5)


@needs_r
@pytest.mark.xfail(
    reason="multi-group MLR SRMR differs from lavaan's by up to 1.3e-6 relative (configural, "
    "simulated N = 300): chi-square, which is stationary at the optimum, agrees to 1e-10, "
    "so the estimates converge to a slightly different point than lavaan's; SRMR, linear in "
    "them, shows it",
    strict=False,
)
def test_multigroup_srmr_to_1e6(continuous_refit):
    _, res = continuous_refit
    srmr = res[(res["table"] == "invariance_fit") & (res["measure"] == "srmr")]
    np.testing.assert_allclose(srmr["lavaan"], srmr["allyscale"], rtol=1e-6)
