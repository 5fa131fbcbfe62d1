"""``allyscale validate --shorten K``: the short-form section in the main report, its numbers, its bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import MINI_POOL
from numpy.testing import assert_allclose

import allyscale as al
from allyscale.cli import main
from allyscale.scoring import reverse_score
from allyscale.selection.objective import model_syntax

N, SEED, K, BUDGET = 400, 7, 4, 30


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The mini pool's data (N = 400) validated with a 4-per-factor short form (ACO, 30 candidate fits)."""
    folder = tmp_path_factory.mktemp("vshort")
    pool = al.load_pool(MINI_POOL)
    data = al.simulate(pool, N, seed=3)
    data.to_csv(folder / "data.csv", index=False)
    res = run(
        "validate",
        folder / "data.csv",
        "--pool",
        MINI_POOL,
        "--shorten",
        K,
        "--shorten-max-evaluations",
        BUDGET,
        "--shorten-seed",
        SEED,
        "--out",
        folder / "rep",
    )
    results = json.loads((folder / "rep" / "results.json").read_text()) if res.exit_code == 0 else None
    return pool, data, folder, res, results


def _section(results, sid="short-form"):
    return results["sections"][sid]


def test_the_report_holds_the_short_form_section(case):
    pool, data, folder, res, results = case
    assert res.exit_code == 0, res.output
    ids = list(results["sections"])
    assert ids.index("short-form") == ids.index("conclusion") - 1
    sec = _section(results)
    assert sec["title"] == "From 18 to 12 items: the short form"
    html = (folder / "rep" / "report.html").read_text(encoding="utf-8")
    assert "From 18 to 12 items: the short form" in html and 'id="short-form"' in html
    assert "The search saw only the calibration sample (N = 200" in html
    assert "confirmed on the holdout (N = 200)" in html
    assert (folder / "rep" / "tables" / "shortform_comparison.csv").is_file()
    short = al.load_pool(folder / "rep" / "short_form.yaml")
    kept = results["sections"]["short-form"]["tables"]["shortform_items"]
    rows = dict(zip(kept["index"], kept["data"]))
    column = kept["columns"].index("kept")
    assert short.item_ids == [i for i in pool.item_ids if rows[i][column]] and len(short.item_ids) == 12
    assert [len(f.items) for f in short.factors] == [K, K, K]
    assert "cited without a reference entry" not in " ".join(_section(results, "methods")["flags"])


def test_the_numbers_are_the_holdout_fit_and_omega(case):
    """The section's holdout numbers equal al.shorten's on the same data and options, and ω is McDonald's
    omega of the holdout's standardized loadings (a fresh WLSMV fit of the kept items on the held-out rows)."""
    pool, data, folder, res, results = case
    assert res.exit_code == 0, res.output
    nums = _section(results)["numbers"]
    direct = al.shorten(data, pool=pool, items_per_factor=K, seed=SEED, max_evaluations=BUDGET, progress=False)
    assert nums["n_short"] == 12 and nums["evaluations"] == direct.diagnostics["evaluations"]
    for form in ("short", "full"):
        row = direct.comparison.loc[f"{form} / holdout"]
        got = nums[f"{form}_holdout"]
        assert got["N"] == N // 2 and got["items"] == (12 if form == "short" else 18)
        assert_allclose(
            [got[k] for k in ("chisq", "df", "pvalue", "cfi.scaled", "rmsea.scaled", "srmr")],
            [row[k] for k in ("chisq", "df", "pvalue", "cfi.scaled", "rmsea.scaled", "srmr")],
            rtol=1e-10,
        )
        assert_allclose(
            [got["omega"][f] for f in ("fa", "fb", "fc")], [row[f"omega.{f}"] for f in ("fa", "fb", "fc")], rtol=1e-10
        )
        assert got["accepted"] == bool(row["accepted"])
    assert nums["short_holdout"]["omega"] != nums["full_holdout"]["omega"]
    # the held-out rows: shorten's documented split (the seed's first permutation, half held out)
    perm = np.random.default_rng(SEED).permutation(N)
    hold = data.iloc[np.sort(perm[: N // 2])].copy()
    hold[pool.item_ids] = reverse_score(hold[pool.item_ids], pool)
    kept = {f: list(v) for f, v in direct.selection.items()}
    fit = al.cfa(hold, model_syntax(kept), estimator="WLSMV", ordered=direct.kept)
    est = fit.estimates
    for f, items in kept.items():
        lam = est[(est["op"] == "=~") & (est["lhs"] == f)].set_index("rhs").loc[items, "std_all"].to_numpy(float)
        omega = lam.sum() ** 2 / (lam.sum() ** 2 + (1 - lam**2).sum())
        assert_allclose(nums["short_holdout"]["omega"][f], omega, rtol=1e-8)
    assert_allclose(nums["short_holdout"]["chisq"], fit.fit_measures["chisq.scaled"], rtol=1e-8)
    text = " ".join(_section(results)["paragraphs"])
    r = direct.comparison.loc["short / holdout"]
    assert f"the short form χ²({r['df']:.0f}) = {r['chisq']:.1f}" in text


@pytest.mark.parametrize(
    "args, message",
    [
        (["--shorten", "x"], "--shorten: expected items per factor"),
        (["--shorten", "1"], "--shorten '1': items_per_factor for 'fa' must be an integer of at least 2"),
        (["--shorten", "9"], "--shorten '9': "),
        (["--shorten", "fa=3,fb=3"], "--shorten 'fa=3,fb=3': items_per_factor: no number for factor(s) fc"),
        (["--shorten", "fa=3,fb=3,fc=3,fz=3"], "unknown factor(s) fz"),
        (["--shorten", "3", "--shorten-group", "a1"], "--shorten-group a1: is an item"),
        (["--shorten", "3", "--shorten-group", "nocol"], "--shorten-group nocol: data.csv has no such column"),
        (["--shorten-seed", "3"], "--shorten-seed is for the short form; give --shorten K as well"),
        (["--shorten", "3", "--shorten-max-evaluations", "0"], "'--shorten-max-evaluations'"),
        (["--shorten", "3", "--shorten-workers", "0"], "'--shorten-workers'"),
    ],
)
def test_bad_shorten_values_exit_2_naming_the_option(case, tmp_path, args, message):
    pool, data, folder, res, results = case
    r = run("validate", folder / "data.csv", "--pool", MINI_POOL, *args, "--out", tmp_path / "rep")
    assert r.exit_code == 2, r.output
    assert r.stderr.startswith("error: ") and message in r.stderr, r.stderr
    assert "Traceback" not in r.output
    assert not (tmp_path / "rep").exists()


def test_shorten_needs_a_pool(case, tmp_path):
    pool, data, folder, res, results = case
    (tmp_path / "m.lav").write_text("fa =~ a1 + a2 + a3 + a4 + a5 + a6\n")
    r = run("validate", folder / "data.csv", "--model", tmp_path / "m.lav", "--shorten", "3", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "--shorten needs --pool" in r.stderr, r.output


@pytest.mark.slow
def test_paired_data_search_the_calibration_targets_self_reports(tmp_path):
    """With --pairs the short form is searched on the reference form of half the targets and confirmed on the
    other half (the whole paired pipeline: about a minute)."""
    sim = run("simulate", "--pool", MINI_POOL, "--dyads", 300, "--seed", 4, "--out", tmp_path / "pairs.csv")
    assert sim.exit_code == 0, sim.output
    res = run(
        "validate",
        tmp_path / "pairs.csv",
        "--pool",
        MINI_POOL,
        "--pairs",
        "--target-id",
        "target",
        "--shorten",
        K,
        "--shorten-max-evaluations",
        BUDGET,
        "--shorten-seed",
        SEED,
        "--out",
        tmp_path / "rep",
    )
    assert res.exit_code == 0, res.output
    sec = json.loads((tmp_path / "rep" / "results.json").read_text())["sections"]["short-form"]
    assert sec["numbers"]["paired"] == {"search_form": "self", "n_targets": 300}
    assert sec["numbers"]["short_holdout"]["N"] == 150 and sec["numbers"]["full_holdout"]["N"] == 150
    text = " ".join(sec["paragraphs"])
    assert "searched on the self responses of the calibration targets only (N = 150)" in text
    assert "no target's answers informed both the search and the confirmation" in text
    pairs = pd.read_csv(tmp_path / "pairs.csv")
    selfs = pairs[["target"]].join(
        pairs[[f"{i}_self" for i in al.load_pool(MINI_POOL).item_ids]].rename(columns=lambda c: c.removesuffix("_self"))
    )
    direct = al.shorten(
        selfs, pool=al.load_pool(MINI_POOL), items_per_factor=K, seed=SEED, max_evaluations=BUDGET, progress=False
    )
    assert_allclose(
        sec["numbers"]["short_holdout"]["chisq"], direct.comparison.loc["short / holdout", "chisq"], rtol=1e-10
    )
