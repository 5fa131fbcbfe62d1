"""Tests of allyscale.montecarlo: spec validation, reproducible streams, resumable store, summaries."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from allyscale.errors import SpecificationError, StatisticalWarning
from allyscale.montecarlo import export_study, load_study, population_values, run_study, summarize_study

ROOT = Path(__file__).resolve().parents[1]

TWO_FACTOR = """
f1 =~ .7*a1 + .7*a2 + .6*a3 + .6*a4
f2 =~ .7*b1 + .7*b2 + .6*b3 + .6*b4
f1 ~~ .3*f2
"""

RETENTION_STUDY = {
    "name": "retention",
    "population": TWO_FACTOR,
    "categories": 5,
    "analysis": {"retention": ["parallel", "map"], "parallel_iter": 5},
    "conditions": {"n": [80, 150]},
    "reps": 4,
    "seed": 11,
}


def _exported(store) -> pd.DataFrame:
    reps = export_study(store)["reps"]
    return reps.drop(columns=[c for c in reps.columns if c.endswith("seconds")]).reset_index(drop=True)


# ----------------------------------------------------------------------- spec
def test_spec_defaults_and_conditions():
    spec = load_study({**RETENTION_STUDY, "conditions": {"n": [100, 200], "thresholds": ["symmetric", "skewed"]}})
    assert spec.condition_list == [
        {"n": 100, "thresholds": "symmetric"},
        {"n": 100, "thresholds": "skewed"},
        {"n": 200, "thresholds": "symmetric"},
        {"n": 200, "thresholds": "skewed"},
    ]
    assert spec.retention == ("parallel", "map")
    # the hash ignores reps (a study can be extended) but not the seed
    assert spec.hash() == load_study({**RETENTION_STUDY, "conditions": spec.conditions, "reps": 9}).hash()
    assert spec.hash() != load_study({**RETENTION_STUDY, "conditions": spec.conditions, "seed": 12}).hash()


@pytest.mark.parametrize(
    "change, message",
    [
        ({"bogus": 1}, "unknown key"),
        ({"reps": 0}, "'reps'"),
        ({"seed": None}, "'seed'"),
        ({"conditions": {"n": [10, "many"]}}, "conditions.n"),
        ({"conditions": {"n": [100], "flavour": [1]}}, "conditions.flavour"),
        ({"analysis": {"retention": ["kaiser"]}}, "analysis.retention"),
        ({"analysis": {"retention": ["map"], "estimator": "GLS"}}, "analysis.estimator"),
        ({"analysis": {"retention": ["map"], "colour": 1}}, "analysis"),
        ({"analysis": {}}, "nothing to do"),
        ({"pool": "nowhere.yaml"}, "exactly one of"),
        ({"conditions": {"n": [100], "skew": [0.5, 9.0]}, "thresholds": "skewed", "categories": 5}, None),
        ({"categories": 5, "conditions": {"n": [100], "categories": [3]}}, "both as a fixed option"),
    ],
)
def test_spec_errors_name_the_key(change, message):
    raw = {**RETENTION_STUDY, **change}
    if message is None:
        load_study(raw)  # valid: any population option may be a condition
        return
    with pytest.raises(SpecificationError, match=message):
        load_study(raw)


def test_spec_impossible_population_names_condition():
    raw = {**RETENTION_STUDY, "population": "f1 =~ .9*a1 + 1.2*a2 + .7*a3"}
    with pytest.raises(SpecificationError, match="communality"):
        load_study(raw)


def test_pool_study_models_from_structures():
    spec = load_study(ROOT / "studies" / "allyship.yaml")
    assert set(spec.models) == {"correlated", "second_order", "bifactor", "one_factor"}
    assert spec.true_model == "correlated" and spec.estimator == "WLSMV"
    assert spec.conditions["n"] == [120, 150, 200, 300, 500, 800] and spec.reps == 100
    assert set(spec.correct_structures) == {"second_order", "correlated"}
    assert "=~" in spec.models["bifactor"]


def test_population_values_std_lv_metric():
    spec = load_study(
        {**RETENTION_STUDY, "population": TWO_FACTOR + "g =~ .8*f1 + .6*f2\n", "analysis": {"retention": ["map"]}}
    )
    pop = population_values(spec, {"n": 100})
    # f1 = .8 g + d, var(d) = .36: unit disturbance scaling multiplies loadings by .6, divides .8 by .6
    assert_allclose(pop[("f1", "=~", "a1")], 0.7 * 0.6, rtol=1e-12)
    assert_allclose(pop[("g", "=~", "f1")], 0.8 / 0.6, rtol=1e-12)
    assert_allclose(pop[("a1", "~~", "a1")], 1 - 0.49, rtol=1e-12)


# ---------------------------------------------------------------- reproducibility
def test_same_results_any_worker_count_and_rep_extension(tmp_path):
    run_study(RETENTION_STUDY, tmp_path / "w1.sqlite", workers=1, progress=False)
    run_study(RETENTION_STUDY, tmp_path / "w2.sqlite", workers=2, progress=False)
    a, b = _exported(tmp_path / "w1.sqlite"), _exported(tmp_path / "w2.sqlite")
    assert len(a) == 8 and a["rep_error"].isna().all()
    pd.testing.assert_frame_equal(a, b)
    # extending 2 -> 4 replications gives the same table as running 4 at once
    run_study({**RETENTION_STUDY, "reps": 2}, tmp_path / "ext.sqlite", progress=False)
    rep = run_study(RETENTION_STUDY, tmp_path / "ext.sqlite", progress=False)
    assert (rep.already_done, rep.ran) == (4, 4)
    pd.testing.assert_frame_equal(a, _exported(tmp_path / "ext.sqlite"))


def test_streams_differ_between_replications(tmp_path):
    from allyscale.montecarlo import replication_seed

    s = {replication_seed(1, c, r).generate_state(2).tobytes() for c in range(3) for r in range(50)}
    assert len(s) == 150


def test_dask_local_matches_processes(tmp_path):
    pytest.importorskip("distributed")
    run_study(RETENTION_STUDY, tmp_path / "p.sqlite", workers=1, progress=False)
    rep = run_study(RETENTION_STUDY, tmp_path / "d.sqlite", workers=2, dask="local", progress=False)
    assert rep.engine == "dask" and rep.ran == 8
    pd.testing.assert_frame_equal(_exported(tmp_path / "p.sqlite"), _exported(tmp_path / "d.sqlite"))


def test_store_rejects_other_spec(tmp_path):
    store = tmp_path / "s.sqlite"
    run_study({**RETENTION_STUDY, "reps": 1}, store, progress=False)
    with pytest.raises(SpecificationError, match="different study spec"):
        run_study({**RETENTION_STUDY, "seed": 99}, store, progress=False)
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE x (a)")
    con.close()
    with pytest.raises(SpecificationError, match="not an allyscale results store"):
        run_study(RETENTION_STUDY, other, progress=False)


def test_kill9_and_resume_identical(tmp_path):
    """Start the CLI, SIGKILL it once some replications are stored, resume, compare with an uninterrupted run."""
    import yaml

    study = {
        **RETENTION_STUDY,
        "reps": 10,
        "conditions": {"n": [150]},
        "analysis": {"retention": ["parallel", "map"], "parallel_iter": 20},
    }
    spec_path = tmp_path / "study.yaml"
    spec_path.write_text(yaml.safe_dump(study))
    store = tmp_path / "killed.sqlite"
    cmd = [
        sys.executable,
        "-m",
        "allyscale.cli",
        "montecarlo",
        "run",
        str(spec_path),
        "--store",
        str(store),
        "--workers",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stored = 0
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if store.exists():
            try:
                con = sqlite3.connect(store, timeout=5)
                stored = con.execute("SELECT count(*) FROM results").fetchone()[0]
                con.close()
            except sqlite3.OperationalError:
                continue
            if stored >= 3:
                break
    assert proc.poll() is None, "the run finished before it could be killed; make the study longer"
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    workers = [int(c) for c in children.read_text().split()] if children.exists() else []
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # the killed run's workers notice that their parent is gone and end (no orphans left waiting)
    deadline = time.time() + 15
    while time.time() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
        time.sleep(0.25)
    alive = [
        w
        for w in workers
        if Path(f"/proc/{w}").exists() and "spawn" in Path(f"/proc/{w}/cmdline").read_bytes().decode(errors="replace")
    ]
    assert not alive, f"worker process(es) {alive} outlived the killed run"
    con = sqlite3.connect(store)
    at_kill = con.execute("SELECT count(*) FROM results").fetchone()[0]
    con.close()
    assert 3 <= at_kill < 10
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{10 - at_kill} run now" in done.stdout
    resumed = _exported(store)
    assert len(resumed) == 10 and not resumed.duplicated(["condition", "rep"]).any()
    run_study(study, tmp_path / "clean.sqlite", progress=False)
    pd.testing.assert_frame_equal(resumed, _exported(tmp_path / "clean.sqlite"))


# ------------------------------------------------------------------ summaries
def test_summary_retention_and_cli(tmp_path):
    store = tmp_path / "s.sqlite"
    run_study({**RETENTION_STUDY, "analysis": {"retention": ["map"]}, "reps": 6}, store, progress=False)
    s = summarize_study(store)
    exp = _exported(store)
    by_n = exp.groupby("n")["n_factors_map"].apply(lambda x: (x == 2).mean())
    assert_allclose(s.retention.set_index("n")["correct"].to_numpy(), by_n.to_numpy(), atol=0)
    assert "Retention" in s.summary()
    out = tmp_path / "csv" / "reps.csv"
    out.parent.mkdir()
    from click.testing import CliRunner

    from allyscale.cli import main

    r = CliRunner().invoke(main, ["montecarlo", "export", str(store), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(out)) == 12
    r = CliRunner().invoke(main, ["montecarlo", "summarize", str(store), "--json", str(tmp_path / "s.json")])
    assert r.exit_code == 0 and (tmp_path / "s.json").exists()
    r = CliRunner().invoke(main, ["montecarlo", "summarize", str(tmp_path / "missing.sqlite")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_cli_bad_spec_exits_2(tmp_path):
    from click.testing import CliRunner

    from allyscale.cli import main

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "population: 'f =~ .7*a + .7*b + .7*c'\nconditions: {n: [100]}\nreps: 2\nseed: 1\n"
        "analysis: {retention: [map], wobble: 1}\n"
    )
    r = CliRunner().invoke(main, ["montecarlo", "run", str(bad), "--store", str(tmp_path / "x.sqlite")])
    assert r.exit_code == 2 and "analysis" in r.output and "wobble" in r.output


# ---------------------------------------------------------------- CFA studies
ML_STUDY = {
    "name": "ml",
    "population": TWO_FACTOR,
    "analysis": {
        "models": {
            "two": "f1 =~ a1 + a2 + a3 + a4\nf2 =~ b1 + b2 + b3 + b4\n",
            "one": "g =~ a1 + a2 + a3 + a4 + b1 + b2 + b3 + b4\n",
        },
        "estimator": "ML",
    },
    "conditions": {"n": [300]},
    "reps": 4,
    "seed": 5,
}


def test_cfa_study_records_fits_and_selection(tmp_path):
    store = tmp_path / "ml.sqlite"
    run_study(ML_STUDY, store, workers=2, progress=False)
    exp = _exported(store)
    assert set(exp["model"]) == {"two", "one"} and len(exp) == 8
    assert exp["converged"].all()
    two = exp[exp["model"] == "two"]
    assert (two["df"] == 19).all() and (exp.loc[exp["model"] == "one", "df"] == 20).all()
    s = summarize_study(store)
    pair = s.pairs.iloc[0]
    assert pair["competitor"] == "one" and pair["both_converged"] == 4 and pair["nesting"] == "one in two"
    # with factor correlation .3 at N = 300 the one-factor model is always rejected against two factors
    assert pair["true_wins_diff"] == 1.0
    # ... so the fit policy's rule prefers the true structure in every replication
    sel = s.selection.iloc[0]
    assert sel["preferred_two"] == 1.0 and sel["preferred_right"] == 1.0 and sel["preferred_one"] == 0.0
    # the difference tests stored per replication are those of the nested pair only
    t = export_study(store)["tests"]
    assert len(t) == 4 and set(zip(t["model0"], t["model1"])) == {("one", "two")}
    assert s.answer["n_min"] is None or s.answer["n_min"] == 300
    assert "replications" in s.answer["warning"]
    est = export_study(store)["estimates"]
    assert {"lhs", "op", "rhs", "est", "se"} <= set(est.columns)
    assert set(s.parameters["parameter"]) >= {"f1=~a1", "f1~~f2", "a1~~a1"}


@pytest.mark.slow
def test_ml_statistical_validity(tmp_path):
    """ML on continuous normal data, N = 500, 500 replications: loadings unbiased (< 5%) and
    95% Wald intervals covering the population value .92-.98 of the time."""
    study = {
        **ML_STUDY,
        "analysis": {"models": {"two": ML_STUDY["analysis"]["models"]["two"]}, "estimator": "ML"},
        "conditions": {"n": [500]},
        "reps": 500,
        "seed": 2023,
    }
    store = tmp_path / "valid.sqlite"
    run_study(study, store, workers=2, progress=False)
    s = summarize_study(store)
    lam = s.parameters[s.parameters["op"] == "=~"]
    assert len(lam) == 8 and (lam["replications"] >= 495).all()
    assert (lam["rel_bias"].abs() < 0.05).all(), lam[["parameter", "rel_bias"]]
    assert lam["coverage"].between(0.92, 0.98).all(), lam[["parameter", "coverage"]]
    assert (lam["se_bias"].abs() < 0.10).all(), lam[["parameter", "se_bias"]]
    assert s.models.iloc[0]["converged"] == 1.0


@pytest.mark.slow
def test_canonical_study_replication(tmp_path):
    """One replication of studies/allyship.yaml (ML when WLSMV is not available): four models, reverse-keyed
    items scored before fitting (all true-model loadings positive), retention and reliability recorded."""
    from allyscale.montecarlo import replicate

    spec = load_study(ROOT / "studies" / "allyship.yaml")
    raw = {**spec.raw, "pool": spec.pool, "reps": 1, "conditions": {"n": [300]}}
    try:
        run_study(raw, tmp_path / "probe.sqlite", progress=False)
        wlsmv = True
    except SpecificationError as exc:
        assert "analysis.estimator WLSMV" in str(exc)  # a clear error, nothing faked
        wlsmv = False
        assert not (tmp_path / "probe.sqlite").exists()
    if not wlsmv:
        raw["analysis"] = {**raw["analysis"], "estimator": "ML"}
    out = replicate(load_study(raw), 0, 0)
    assert set(out["fits"]) == {"correlated", "second_order", "bifactor", "one_factor"}
    fit = out["fits"]["correlated"]
    assert fit["converged"] and fit["error"] is None
    lam = [e["est"] for e in fit["estimates"] if e["op"] == "=~"]
    assert len(lam) == 100 and min(lam) > 0.2
    assert fit["measures"]["df"] == 100 * 101 / 2 - (100 + 100 + 15)  # moments - loadings, residuals, corr.
    assert set(out["retention"]) == {"parallel", "map"}
    assert {r["factor"] for r in out["reliability"]} >= {"total"}


def test_muthen_sample_size_rule():
    """Smallest N from which every larger N meets Muthén & Muthén (2002): bias, SE bias < .10, coverage
    .91-.98; for parameters of interest SE bias < .05 and power >= .80."""
    from allyscale.montecarlo.summary import _muthen_n

    spec = load_study(
        {
            **RETENTION_STUDY,
            "conditions": {"n": [100, 200, 300], "skew": [0.5, 1.0]},
            "thresholds": "skewed",
            "analysis": {"retention": ["map"], "interest": ["f1=~a1"]},
        }
    )
    rows = []
    for skew in (0.5, 1.0):
        for n, power, cov in ((100, 0.60, 0.95), (200, 0.85, 0.90 if skew == 1.0 else 0.95), (300, 0.95, 0.95)):
            for par, op in (("f1=~a1", "=~"), ("f1~~f2", "~~")):
                rows.append(
                    {
                        "n": n,
                        "skew": skew,
                        "parameter": par,
                        "op": op,
                        "lhs": par[:2],
                        "rhs": par[-2:],
                        "population": 0.5,
                        "rel_bias": 0.01,
                        "se_bias": 0.02,
                        "coverage": cov,
                        "power": power if par == "f1=~a1" else 0.1,
                    }
                )
    out = _muthen_n(pd.DataFrame(rows), spec).set_index("skew")
    # skew .5: N = 200 is the first with power >= .80; skew 1: coverage .90 at N = 200 fails, so 300
    assert out.loc[0.5, "n_min"] == 200 and out.loc[1.0, "n_min"] == 300
    # with the replication count known, a criterion fails only beyond its Monte Carlo error (Bonferroni over
    # the condition's parameters): coverage .90 from 100 replications is within error of .91, .80 is not
    from allyscale.montecarlo.summary import _parameter_ok

    base = {
        "condition": 0,
        "n": 200,
        "op": "=~",
        "lhs": "f1",
        "rhs": "a1",
        "population": 0.5,
        "rel_bias": 0.01,
        "se_bias": 0.02,
        "power": 0.9,
        "replications": 100,
    }
    tab = pd.DataFrame(
        [{**base, "parameter": "f1=~a1", "coverage": 0.90}, {**base, "parameter": "f1=~a2", "coverage": 0.80}]
    )
    ok = _parameter_ok(tab, spec).set_index("parameter")["ok"]
    assert ok["f1=~a1"] and not ok["f1=~a2"]


def test_summary_save_writes_tables_and_plots(tmp_path):
    store = tmp_path / "ml.sqlite"
    run_study({**ML_STUDY, "reps": 2, "conditions": {"n": [200, 300]}}, store, progress=False)
    s = summarize_study(store)
    written = {p.name for p in s.save(tmp_path / "out")}
    assert {
        "models.csv",
        "parameters.csv",
        "summary.json",
        "power.png",
        "power.svg",
        "acceptance.png",
        "acceptance.svg",
    } <= written
    assert set(s.models["n"]) == {200, 300} and (s.models["replications"] == 2).all()
    page = s._repr_html_()  # the shared printer: its block, the study's name as the heading
    assert page.startswith('<div class="allyscale-summary">') and "<h4>Monte Carlo study &#x27;ml&#x27;" in page


@pytest.mark.slow
def test_dask_existing_scheduler(tmp_path):
    """--dask ADDRESS joins a running scheduler; results identical to the serial run."""
    distributed = pytest.importorskip("distributed")
    run_study(RETENTION_STUDY, tmp_path / "p.sqlite", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl:
        rep = run_study(RETENTION_STUDY, tmp_path / "d.sqlite", dask=cl.scheduler_address, progress=False)
    assert rep.engine == "dask" and rep.ran == 8
    pd.testing.assert_frame_equal(_exported(tmp_path / "p.sqlite"), _exported(tmp_path / "d.sqlite"))
    with pytest.raises(SpecificationError, match="cannot reach the Dask scheduler"):
        run_study(RETENTION_STUDY, tmp_path / "x.sqlite", dask="tcp://127.0.0.1:9", progress=False)


def test_failed_fit_is_recorded_not_dropped(tmp_path):
    models = {**ML_STUDY["analysis"]["models"], "bad": "f =~ a1 + a2 + zz\n"}
    store = tmp_path / "f.sqlite"
    run_study({**ML_STUDY, "analysis": {"models": models, "estimator": "ML"}, "reps": 2}, store, progress=False)
    exp = _exported(store)
    bad = exp[exp["model"] == "bad"]
    assert len(bad) == 2 and not bad["converged"].any() and bad["error"].str.contains("zz").all()
    with pytest.warns(StatisticalWarning, match="failed"):
        s = summarize_study(store)
    row = s.models.set_index("model").loc["bad"]
    assert row["failed"] == 2 and row["converged"] == 0.0
    assert s.diagnostics["failed"] == {"0/bad": 2} and s.diagnostics["non_converged"] == {"0/bad": 2}


# ---------------------------------------------------------------- groups and invariance
GROUPS_STUDY = {
    "name": "groups",
    "population": "f1 =~ .7*a1 + .7*a2 + .6*a3 + .6*a4\nf2 =~ .7*b1 + .7*b2 + .6*b3 + .6*b4\nf1 ~~ .4*f2\n",
    "categories": 4,
    "groups": {
        "variable": "form",
        "levels": ["self", "informant"],
        "shares": [0.5, 0.5],
        "changes": {"informant": {"threshold_shift": {"a1": -1.0, "b1": -1.0}}},
    },
    "analysis": {
        "models": {"two": "f1 =~ a1 + a2 + a3 + a4\nf2 =~ b1 + b2 + b3 + b4\n"},
        "estimator": "WLSMV",
        "invariance": True,
    },
    "conditions": {"n": [600]},
    "reps": 3,
    "seed": 9,
}


def test_groups_study_gives_invariance_rejection_rates(tmp_path):
    from allyscale.montecarlo import replicate
    from allyscale.montecarlo.spec import group_populations

    spec = load_study(GROUPS_STUDY)
    (l0, n0, p0), (l1, n1, p1) = group_populations(spec, spec.condition_list[0])
    assert (l0, n0, l1, n1) == ("self", 300, "informant", 300)
    i = p1.items.index("a1")
    np.testing.assert_allclose(p1.thresholds[i], p0.thresholds[i] - 1.0)
    np.testing.assert_allclose(p1.thresholds[p1.items.index("a2")], p0.thresholds[p0.items.index("a2")])
    out = replicate(spec, 0, 0)
    levels = {r["level"]: r for r in out["invariance"]}
    assert set(levels) >= {"thresholds", "metric", "scalar"}
    assert levels["scalar"]["population_noninvariant"] and not levels["metric"]["population_noninvariant"]
    store = tmp_path / "g.sqlite"
    run_study(GROUPS_STUDY, store, workers=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = summarize_study(store)
    inv = s.invariance.set_index("level")
    # a threshold shift of one unit on two items of eight, 300 per group: scalar invariance rejected every time
    assert inv.loc["scalar", "rejected"] == 1.0 and inv.loc["scalar", "population_noninvariant"]
    # one replication leaves a category of a1 empty in one group: recorded as failed, never silently dropped
    assert inv.loc["scalar", "replications"] == 3 and inv.loc["scalar", "failed"] == 1
    assert inv.loc["scalar", "decided"] == 2
    crit = {c["criterion"]: c for c in s.answer["criteria"]["600"]}
    power = crit["power to reject scalar invariance (of all replications)"]
    assert power["rate"] == 2 / 3 and not power["met"]  # the failed replication detected nothing
    assert inv.loc["scalar", "rejected_of_all"] == 2 / 3


def test_groups_spec_errors_name_the_key():
    bad = {**GROUPS_STUDY, "groups": {**GROUPS_STUDY["groups"], "shares": [0.7, 0.7]}}
    with pytest.raises(SpecificationError, match="groups.shares"):
        load_study(bad)
    bad = {**GROUPS_STUDY, "groups": {**GROUPS_STUDY["groups"], "changes": {"other": {}}}}
    with pytest.raises(SpecificationError, match="groups.changes.other"):
        load_study(bad)
    bad = {
        **GROUPS_STUDY,
        "groups": {**GROUPS_STUDY["groups"], "changes": {"informant": {"threshold_shift": {"zz": 1.0}}}},
    }
    with pytest.raises(SpecificationError, match="'zz' is not an item"):
        load_study(bad)
    no_groups = {k: v for k, v in GROUPS_STUDY.items() if k != "groups"}
    with pytest.raises(SpecificationError, match="analysis.invariance needs 'groups'"):
        load_study(no_groups)


def test_ties_are_not_wins_and_wlsmv_selection_is_tested(tmp_path):
    # two copies of the true model tie on every index in every replication: a tie is never a win
    two = "f1 =~ a1 + a2 + a3 + a4\nf2 =~ b1 + b2 + b3 + b4\n"
    study = {
        **ML_STUDY,
        "analysis": {
            "models": {"two": two, "copy": two, "one": "g =~ a1 + a2 + a3 + a4 + b1 + b2 + b3 + b4\n"},
            "true_model": "two",
            "estimator": "WLSMV",
        },
        "categories": 5,
        "reps": 3,
    }
    store = tmp_path / "ties.sqlite"
    run_study(study, store, workers=1, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = summarize_study(store)
    pairs = s.pairs.set_index("competitor")
    assert pairs.loc["copy", "true_wins_cfi.scaled"] == 0.0 and pairs.loc["copy", "ties_cfi.scaled"] == 1.0
    # WLSMV: the nested one-factor competitor is tested by satorra.2000 every replication (not NaN)
    assert pairs.loc["one", "nesting"] == "one in two" and pairs.loc["one", "true_wins_diff"] == 1.0
    # rejection rates use the policy's index version and test statistic, not the naive WLSMV ones
    assert {"reject_pvalue.scaled", "reject_cfi.scaled", "reject_rmsea.scaled"} <= set(s.models.columns)
    assert "reject_cfi" not in s.models.columns


def test_summary_save_is_atomic_spreadsheet_safe_and_refuses_the_store(tmp_path):
    store = tmp_path / "ml.sqlite"
    run_study({**ML_STUDY, "reps": 2, "name": "=cmd|' /C calc'!A0"}, store, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = summarize_study(store)
    out = tmp_path / "summary"
    out.mkdir()
    (out / "mine.txt").write_text("kept")
    (out / "invariance.csv").write_text("stale")
    written = {p.name for p in s.save(out)}
    assert {"models.csv", "pairs.csv", "summary.json", "acceptance.png"} <= written
    assert (out / "mine.txt").read_text() == "kept"  # a user's file survives
    assert (out / "invariance.csv").read_text() != "stale"  # the summary's own stale table is replaced
    with pytest.raises(Exception, match="not a folder|input"):
        s.save(store, inputs=[store])
    assert sqlite3.connect(store).execute("select count(*) from results").fetchone()[0] == 2
