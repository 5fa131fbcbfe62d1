"""Short forms: constraints, objective, search methods, holdout confirmation, outputs and the CLI."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data, reference_json
from numpy.testing import assert_allclose

import allyscale as al
from allyscale.errors import DataError, SpecificationError
from allyscale.pool import parse_pool
from allyscale.selection.constraints import Constraints
from allyscale.selection.objective import Objective, evaluate_candidate, latent_omega

REF = Path(__file__).parent / "reference"
ROOT = Path(__file__).parent.parent

SMALL_POOL = """
name: Small test pool
id: small
response_scale: {min: 1, max: 5}
forms:
  self: {label: Self-report}
  informant: {label: Informant report}
factors:
  - id: fa
    label: Factor A
    facets:
      - id: fa1
        label: Facet A1
        items:
          - {id: a1, text: "I listen to others.", informant_text: "This person listens to others."}
          - {id: a2, text: "I ask how others feel.", informant_text: "This person asks how I feel."}
          - {id: a3, text: "I ignore how others feel.", informant_text: "This person ignores how I feel.", reverse: true}
      - id: fa2
        label: Facet A2
        items:
          - {id: a4, text: "I admit my mistakes.", informant_text: "This person admits their mistakes."}
          - {id: a5, text: "I accept criticism.", informant_text: "This person accepts criticism."}
          - {id: a6, text: "I learn from feedback.", informant_text: "This person learns from feedback."}
  - id: fb
    label: Factor B
    facets:
      - id: fb1
        label: Facet B1
        items:
          - {id: b1, text: "I speak up about unfairness.", informant_text: "This person speaks up about unfairness."}
          - {id: b2, text: "I support fair policies.", informant_text: "This person supports fair policies."}
          - {id: b3, text: "I stay silent about unfairness.", informant_text: "This person stays silent.", reverse: true}
      - id: fb2
        label: Facet B2
        items:
          - {id: b4, text: "I share what I know.", informant_text: "This person shares what they know."}
          - {id: b5, text: "I invite others to join.", informant_text: "This person invites others to join."}
          - {id: b6, text: "I organise events.", informant_text: "This person organises events."}
"""


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    path = tmp_path_factory.mktemp("pool") / "small.yaml"
    path.write_text(SMALL_POOL, encoding="utf-8")
    return al.load_pool(path)


LOADINGS = {
    "a1": 0.8,
    "a2": 0.75,
    "a3": 0.7,
    "a4": 0.72,
    "a5": 0.25,
    "a6": 0.78,
    "b1": 0.8,
    "b2": 0.74,
    "b3": 0.7,
    "b4": 0.76,
    "b5": 0.72,
    "b6": 0.3,
}


@pytest.fixture(scope="module")
def data(pool):
    pm = al.PopulationModel.from_pool(pool, loadings=LOADINGS, factor_corr=0.4, thresholds="symmetric")
    d = al.simulate(pm, n=800, seed=11)
    d["form"] = np.where(np.arange(len(d)) % 2 == 0, "self", "informant")
    return d


SMALL_K = {"fa": 3, "fb": 5}  # fa: a1 forced + 2 of 5 with facet fa2 covered (9 ways); fb: 5 of 6 (6 ways)


@pytest.fixture(scope="module")
def exhaustive_result(data, pool):
    return al.shorten(
        data, pool=pool, items_per_factor=SMALL_K, force_in=["a1"], method="exhaustive", seed=3, progress=False
    )


# ------------------------------------------------------------------------ constraints
def test_constraints_sampling_is_always_feasible(pool):
    c = Constraints.build(
        pool, {"fa": 3, "fb": 4}, min_per_facet=1, force_in=["a4"], force_out=["b2"], reverse_keyed=(0, 1)
    )
    rng = np.random.default_rng(1)
    for _ in range(200):
        sel = c.sample(rng, {"a1": 5.0})
        assert c.feasible(sel)
        assert "a4" in sel["fa"] and "b2" not in sel["fb"]
        assert len(sel["fa"]) == 3 and len(sel["fb"]) == 4
        for fac in ("fa1", "fa2"):
            assert set(sel["fa"]) & set(pool.facet_items()[fac])
        assert sum(pool.item(i).reverse for i in sel["fa"]) <= 1
    # every feasible selection of the exhaustive enumeration is feasible and distinct
    combos = list(c.rule("fa").combinations())
    assert len(combos) == len(set(combos)) and all(c.rule("fa").feasible(s) for s in combos)
    # fa: a4 forced; 2 of the other 5 with facet fa1 covered and at most one reverse item (a3)
    expected = [
        s
        for s in __import__("itertools").combinations(["a1", "a2", "a3", "a5", "a6"], 2)
        if set(s) & {"a1", "a2", "a3"}
    ]
    assert len(combos) == len(expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"items_per_factor": 1}, "at least 2"),
        ({"items_per_factor": 7}, "factor 'fa': 7 items asked for, only 6 eligible"),
        ({"items_per_factor": {"fa": 3}}, "no number for factor"),
        ({"items_per_factor": {"fa": 3, "fb": 3, "fc": 2}}, "unknown factor"),
        ({"items_per_factor": 3, "force_in": ["zz"]}, "force_in: item"),
        ({"items_per_factor": 3, "force_in": ["a1"], "force_out": ["a1"]}, "both forced in and forced out"),
        ({"items_per_factor": 3, "reverse_keyed": 2}, "at least 2 reverse-keyed"),
        ({"items_per_factor": 2, "min_per_facet": 2}, "needs 4 items, more than the 2"),
        ({"items_per_factor": 3, "force_out": ["a1", "a2", "a3"]}, "facet(s) fa1 have no eligible item"),
    ],
)
def test_impossible_constraints_are_named(pool, kwargs, message):
    with pytest.raises(SpecificationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Constraints.build(pool, **kwargs)


# ------------------------------------------------------------------------ candidate evaluation
def test_candidate_fit_from_pool_statistics_equals_lavaan():
    """A candidate fitted from the sub-blocks of a 60-item pool's polychoric statistics equals lavaan's fit of
    the candidate alone (tests/reference/irt: lavaan 0.6.14 WLSMV on 12 sim60 items)."""
    ref = reference_json("irt")
    data = reference_data("sim60")
    poly = al.polychoric(data)  # all 60 items, computed once
    sel = {"knowledge": tuple(ref["items"][:6]), "communication": tuple(ref["items"][6:])}
    ev = evaluate_candidate(sel, data=data, poly=poly, objective=Objective(), facets={}, dif=None, grouped=False)
    fm = ref["fit"]
    assert_allclose(ev.statistic["chisq"], fm["chisq.scaled"], rtol=1e-6)
    assert_allclose(ev.statistic["df"], fm["df.scaled"], rtol=1e-12)
    assert_allclose(ev.statistic["pvalue"], fm["pvalue.scaled"], rtol=1e-5)
    assert_allclose(ev.statistic["cfi.scaled"], fm["cfi.scaled"], rtol=1e-6)
    assert_allclose(ev.statistic["rmsea.scaled"], fm["rmsea.scaled"], rtol=1e-5)
    assert_allclose(ev.statistic["srmr"], fm["srmr"], rtol=1e-6)
    lam = np.asarray(ref["loadings"])
    assert_allclose(ev.omega["knowledge"], latent_omega(lam[:6, 0]), rtol=1e-5)
    assert_allclose(ev.omega["communication"], latent_omega(lam[6:, 1]), rtol=1e-5)
    assert ev.accepted == (fm["pvalue.scaled"] >= 0.05)
    # the objective is the documented weighted mean of its components
    w = {"fit": 1, "reliability": 1, "information": 1, "invariance": 0, "coverage": 0.25}
    assert_allclose(ev.objective, sum(w[c] * ev.components[c] for c in w) / sum(w.values()), rtol=1e-12)
    z = (ev.statistic["chisq"] - ev.statistic["df"]) / math.sqrt(2 * ev.statistic["df"])
    assert_allclose(ev.components["fit"], 0.5 * ev.accepted + 0.5 / (1 + max(0.0, z) / 2), rtol=1e-12)


def test_latent_omega_formula():
    lam = np.array([0.8, 0.7, 0.6])
    assert_allclose(latent_omega(lam), 2.1**2 / (2.1**2 + 0.36 + 0.51 + 0.64), rtol=1e-14)


# ------------------------------------------------------------------------ search
def test_exhaustive_finds_the_optimum_and_drops_weak_items(exhaustive_result, data, pool):
    r = exhaustive_result
    d = r.diagnostics
    assert d["method"] == "exhaustive" and d["stopped"] == "complete"
    assert d["space_size"] == 10 * 6 and d["evaluations"] == 9 * 6
    assert "a5" not in r.kept and "b6" not in r.kept  # the two weak items (loadings .25 and .30)
    assert r.best.objective == max(r.trace["iteration_best"])
    assert all(
        set(r.selection[f]) & set(pool.facet_items()[fc])
        for f, fcs in {"fa": ["fa1", "fa2"], "fb": ["fb1", "fb2"]}.items()
        for fc in fcs
    )
    assert d["n_calibration"] + d["n_holdout"] == len(data)
    assert d["n_holdout"] == 400


def test_aco_is_reproducible_and_reaches_the_exhaustive_optimum(exhaustive_result, data, pool):
    kw = dict(
        pool=pool,
        items_per_factor=SMALL_K,
        force_in=["a1"],
        method="aco",
        seed=3,
        progress=False,
        search_options={"ants": 6, "patience": 4, "max_iterations": 30},
    )
    r1 = al.shorten(data, **kw)
    r2 = al.shorten(data, **kw, workers=2)  # candidates fitted in two forked workers: the same run
    assert r1.selection == r2.selection
    pd.testing.assert_frame_equal(r1.trace, r2.trace)
    assert r2.diagnostics["workers"] == 2
    # same seed, same calibration sample as the exhaustive run: ACO finds the exact optimum
    assert r1.selection == exhaustive_result.selection
    assert_allclose(r1.best.objective, exhaustive_result.best.objective, rtol=1e-12)
    assert r1.diagnostics["stopped"] in ("converged", "no improvement")
    assert r1.diagnostics["evaluations"] < exhaustive_result.diagnostics["evaluations"]
    assert (np.diff(r1.trace["best"].to_numpy()) >= 0).all()


def test_simulated_annealing_and_auto(exhaustive_result, data, pool):
    r = al.shorten(
        data,
        pool=pool,
        items_per_factor=SMALL_K,
        force_in=["a1"],
        method="sa",
        seed=3,
        progress=False,
        max_evaluations=30,
        search_options={"steps_per_temperature": 5, "patience": 10},
    )
    assert r.diagnostics["method"] == "sa" and r.diagnostics["evaluations"] <= 30
    assert Constraints.build(pool, SMALL_K, force_in=["a1"]).feasible(r.selection)
    assert r.best.objective <= exhaustive_result.best.objective + 1e-12
    assert r.best.objective >= exhaustive_result.best.objective - 0.05
    auto = al.shorten(
        data, pool=pool, items_per_factor={"fa": 5, "fb": 6}, method="auto", seed=3, progress=False, exhaustive_limit=10
    )
    assert auto.diagnostics["method"] == "exhaustive" and auto.diagnostics["method_requested"] == "auto"
    assert auto.diagnostics["evaluations"] == 6 and "a5" not in auto.kept


def test_dif_item_is_found_and_avoided(pool):
    base = al.PopulationModel.from_pool(pool, loadings=0.75, factor_corr=0.4, thresholds="symmetric")
    shifted = {"a2": [-0.2, 0.6, 1.4, 2.2]}  # a2's thresholds 1.0 higher in the informant form
    other = al.PopulationModel.from_pool(pool, loadings=0.75, factor_corr=0.4, thresholds=shifted)
    d1, d2 = al.simulate(base, n=500, seed=1), al.simulate(other, n=500, seed=2)
    d1["form"], d2["form"] = "self", "informant"
    data = pd.concat([d1, d2], ignore_index=True)
    stats = al.item_statistics(data, pool=pool, group="form")
    dif = stats["fa"]["dif"]
    assert dif.idxmax() == "a2" and dif["a2"] > 0.5 > dif.drop("a2").max()
    assert "DIF" in stats["fa"].loc["a2", "flags"]
    r = al.shorten(
        data,
        pool=pool,
        items_per_factor={"fa": 3, "fb": 6},
        force_in=["a1"],
        group="form",
        method="exhaustive",
        seed=1,
        progress=False,
    )
    assert r.diagnostics["evaluations"] == 9 and "a2" not in r.kept
    # the short form's invariance across forms, on the holdout, decided by the fit policy
    assert r.invariance is not None and r.invariance.index[0] == "configural"
    inv_target = r.targets[r.targets["target"].str.startswith("invariance across form")]
    assert len(inv_target) == 1
    # the holdout split is stratified by form
    assert r.diagnostics["n_holdout"] == 500


def test_item_statistics_match_alpha_item_analysis(data, pool):
    stats = al.item_statistics(data, pool=pool)
    scored = al.reverse_score(data[pool.item_ids], pool)
    for f, items in pool.factor_items().items():
        a = al.alpha(scored, items=items)
        assert_allclose(stats[f]["item_rest_r"].to_numpy(), a.item_stats["r_drop"].to_numpy(), rtol=1e-10)
        assert_allclose(
            stats[f]["alpha_if_deleted"].to_numpy(), a.item_stats["alpha_if_dropped"].to_numpy(), rtol=1e-10
        )
    assert "low loading" in stats["fa"].loc["a5", "flags"]
    assert stats["fa"].loc["a5", "loading"] < 0.4 < stats["fa"].drop("a5")["loading"].min()
    fit = al.cfa(
        scored,
        "fa =~ a1 + a2 + a3 + a4 + a5 + a6\nfb =~ b1 + b2 + b3 + b4 + b5 + b6",
        estimator="WLSMV",
        ordered=pool.item_ids,
    )
    std = fit.estimates[fit.estimates["op"] == "=~"].set_index("rhs")["std_all"]
    assert_allclose(stats["fa"]["loading"].to_numpy(), std.loc[pool.factor_items()["fa"]].to_numpy(), rtol=1e-8)


# ------------------------------------------------------------------------ outputs
def test_outputs_pool_yaml_and_report(exhaustive_result, pool, tmp_path):
    r = exhaustive_result
    text = r.to_pool_yaml()
    short = parse_pool(text)
    assert short.item_ids == [i for i in pool.item_ids if i in r.kept]
    for it in short.items:
        orig = pool.item(it.id)
        assert (it.text, it.informant_text, it.reverse, it.facet, it.factor) == (
            orig.text,
            orig.informant_text,
            orig.reverse,
            orig.facet,
            orig.factor,
        )
    assert set(short.forms) == {"self", "informant"}
    path = r.save_pool(tmp_path / "short.yaml")
    assert al.load_pool(path).item_ids == short.item_ids
    with pytest.raises(DataError, match="refusing to overwrite"):
        r.save_pool(pool.path)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["kept"] == r.kept and len(d["trace"]) == len(r.trace)
    assert set(r.items.loc[~r.items["kept"], "reason"].str.startswith("not selected")) == {True}
    assert set(r.comparison.index) == {"short / calibration", "full / calibration", "short / holdout", "full / holdout"}
    assert list(r.targets["target"])[0] == "model fit accepted by the fit policy"
    assert r.part_whole.loc["fa", "r"] > r.part_whole.loc["fa", "r_corrected"]
    assert set(r.coverage.index) == {"fa1", "fa2", "fb1", "fb2"} and (r.coverage["kept"] >= 1).all()
    assert "<table" in r._repr_html_() and "Short form" in r.summary()
    assert r.plot_trace().axes[0].get_xlabel() == "candidate short forms fitted"
    assert len([ax for ax in r.plot_information().axes if ax.get_visible()]) == 2
    from allyscale.report.shortform_section import shortform_report, shortform_section

    sec = shortform_section(r)
    assert sec.title == "From 12 to 8 items: the short form"
    assert {t.name for t in sec.tables} >= {
        "shortform_comparison",
        "shortform_targets",
        "shortform_items",
        "shortform_coverage",
        "shortform_part_whole",
    }
    assert sec.figures[0].svg.startswith("<svg")
    html = shortform_report(r).save(tmp_path / "report")
    assert "From 12 to 8 items" in html.read_text()


def test_unmet_targets_are_reported(exhaustive_result):
    r = exhaustive_result
    for _, row in r.targets.iterrows():
        if row["target"].startswith("omega"):
            f = row["target"][6 : row["target"].index(")")]
            assert row["met"] == (r.comparison.loc["short / holdout", f"omega.{f}"] >= 0.80)
    assert r.unmet_targets == [t for t, m in zip(r.targets["target"], r.targets["met"]) if not m]


def test_bad_input(data, pool):
    with pytest.raises(DataError, match="missing from the data: a1"):
        al.shorten(data.drop(columns=["a1"]), pool=pool, items_per_factor=3, progress=False)
    with pytest.raises(DataError, match="group column 'nope'"):
        al.shorten(data, pool=pool, items_per_factor=3, group="nope", progress=False)
    with pytest.raises(SpecificationError, match="unknown method"):
        al.shorten(data, pool=pool, items_per_factor=3, method="ga", progress=False)
    with pytest.raises(SpecificationError, match="holdout"):
        al.shorten(data, pool=pool, items_per_factor=3, holdout=1.5, progress=False)
    with pytest.raises(SpecificationError, match="unknown option"):
        al.shorten(data, pool=pool, items_per_factor=3, search_options={"antz": 3}, progress=False)
    with pytest.raises(SpecificationError, match="objective weights"):
        Objective(weights={"fitness": 1})
    bad = data.copy()
    bad["a1"] = bad["a1"].astype(object)
    bad.loc[5, "a1"] = "x"
    with pytest.raises(DataError, match="item 'a1' has a non-numeric value 'x' at row 5"):
        al.shorten(bad, pool=pool, items_per_factor=3, progress=False)


def test_missing_responses_are_dropped_with_a_warning(data, pool):
    d = data.copy().astype({"a1": "float"})
    d.loc[[3, 7], "a1"] = np.nan
    with pytest.warns(al.DataWarning, match="2 respondent"):
        r = al.shorten(d, pool=pool, items_per_factor={"fa": 5, "fb": 6}, method="exhaustive", progress=False, seed=2)
    assert r.diagnostics["dropped_rows"] == {"data": 2}
    assert r.diagnostics["n_calibration"] + r.diagnostics["n_holdout"] == len(d) - 2


# ------------------------------------------------------------------------ CLI
def _cli(*args, cwd):
    """The command in this process (click's runner), from folder ``cwd``."""
    import os

    from click.testing import CliRunner

    from allyscale.cli import main

    old = os.getcwd()
    os.chdir(cwd)
    try:
        res = CliRunner().invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)
    res.returncode = res.exit_code
    return res


def test_cli_shorten(data, pool, tmp_path):
    data.to_csv(tmp_path / "d.csv", index=False)
    res = _cli(
        "shorten",
        "d.csv",
        "--pool",
        str(pool.path),
        "--items-per-factor",
        "fa=5,fb=6",
        "--method",
        "exhaustive",
        "--out",
        "short.yaml",
        "--json",
        "short.json",
        "--report",
        "rep",
        "--quiet",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.output
    assert (tmp_path / "short.yaml").is_file() and (tmp_path / "rep" / "report.html").is_file()
    check = _cli("pool", "check", "short.yaml", cwd=tmp_path)
    assert check.returncode == 0, check.output
    kept = json.loads((tmp_path / "short.json").read_text())["kept"]
    assert al.load_pool(tmp_path / "short.yaml").item_ids == kept
    for args, message in [
        (["--items-per-factor", "x"], "--items-per-factor: expected a number"),
        (["--items-per-factor", "9"], "factor 'fa': 9 items asked for"),
        (["--items-per-factor", "3", "--holdout", "nofile.csv"], "--holdout"),
        (["--items-per-factor", "3", "--out", "short.txt"], "give a .yaml"),
        (["--items-per-factor", "3", "--out", "d.csv"], "refusing to overwrite"),
    ]:
        extra = [] if "--out" in args else ["--out", "s2.yaml"]
        r = _cli("shorten", "d.csv", "--pool", str(pool.path), *args, *extra, "--quiet", cwd=tmp_path)
        assert r.returncode == 2, (args, r.output)
        assert r.stderr.startswith("error: ") and message in r.stderr and "Traceback" not in r.output
    assert not (tmp_path / "s2.yaml").exists()


@pytest.mark.slow
def test_validate_adds_the_short_form_section(data, pool):
    """The whole report pipeline with the short-form section (about 30 s)."""
    report = al.validate(
        data, pool=pool, group="form", shorten={"items_per_factor": {"fa": 5, "fb": 6}, "method": "exhaustive"}
    )
    ids = [s.id for s in report.sections]
    assert ids.index("short-form") == ids.index("conclusion") - 1
    sec = report.section("short-form")
    assert sec.status in ("ok", "warning"), sec.flags
    assert sec.title == "From 12 to 11 items: the short form"
    items = next(t.data for t in sec.tables if t.name == "shortform_items")
    assert sec.numbers["n_short"] == 11 and "a5" not in items.index[items["kept"]]
    assert "short-form" not in [s.id for s in al.validate(data, pool=pool).sections]
    with pytest.raises(SpecificationError, match="items_per_factor"):
        al.validate(data, pool=pool, shorten={"method": "aco"})


@pytest.mark.slow
def test_acceptance_known_bad_items_are_excluded():
    """Issue 17's acceptance: on a population with a low-loading item, a cross-loading item, an item with shifted
    thresholds in one form and a method factor on the reverse-keyed items, the selected short forms exclude those
    items in >= 90% of 50 replications, with every facet covered (studies/shorten_error_rates.py; ~20-40 min)."""
    sys.path.insert(0, str(ROOT / "studies"))
    import shorten_error_rates as study

    res = study.run(50, workers=2)
    assert len(res) == 50
    assert res["facets_covered"].all()
    for item in list(study.BAD) + study.REVERSE:
        assert res[f"excluded.{item}"].mean() >= 0.90, item
    assert res["all_bad_excluded"].mean() >= 0.90


def test_holdout_none_and_second_sample(data, pool):
    k = {"fa": 5, "fb": 6}
    none = al.shorten(data, pool=pool, items_per_factor=k, method="exhaustive", holdout=None, progress=False)
    assert none.diagnostics["n_holdout"] == 0 and none.diagnostics["confirmed_on"] == "calibration"
    assert set(none.comparison.index) == {"short / calibration", "full / calibration"}
    assert none.targets["holdout"].isna().all()
    assert "optimistic" in " ".join(
        __import__("allyscale.report.shortform_section", fromlist=["x"]).shortform_section(none).paragraphs
    )
    second = al.shorten(
        data.iloc[:400], pool=pool, items_per_factor=k, method="exhaustive", holdout=data.iloc[400:], progress=False
    )
    assert second.diagnostics["n_calibration"] == 400 and second.diagnostics["n_holdout"] == 400
    assert second.diagnostics["split"] == "second data set"
    assert "Short form: 11 of 12 items" in second.summary()
