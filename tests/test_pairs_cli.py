"""The paired design from the command line and in the report: simulate --dyads, validate --pairs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import MINI_POOL

import allyscale as al
from allyscale.cli import main


@pytest.fixture(scope="module")
def pairs_csv(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs") / "pairs.csv"
    res = CliRunner().invoke(
        main,
        [
            "simulate",
            "--pool",
            str(MINI_POOL),
            "--dyads",
            "300",
            "--seed",
            "7",
            "--leniency",
            "a2=0.8",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    return out


def test_simulate_dyads_writes_pairs_and_sidecar(pairs_csv, tmp_path):
    d = pd.read_csv(pairs_csv)
    pool = al.load_pool(MINI_POOL)
    assert d.shape == (300, 1 + 2 * len(pool.item_ids))
    assert d.columns[0] == "target" and f"{pool.item_ids[0]}_self" in d and f"{pool.item_ids[0]}_informant" in d
    side = json.loads(pairs_csv.with_name("pairs.population.json").read_text())
    assert side["pairs"]["leniency"] == {"a2": 0.8} and side["pairs"]["lenient_form"] == "informant"
    # the same seed gives the same data (the Python API is what the command calls)
    pm = al.PopulationModel.from_pool(pool)
    again = al.simulate_pairs(pm, 300, seed=7, leniency={"a2": 0.8}, residual_corr=0.2)
    pd.testing.assert_frame_equal(d, again, check_dtype=False)
    out = tmp_path / "long.csv"
    res = CliRunner().invoke(
        main,
        ["simulate", "--pool", str(MINI_POOL), "--dyads", "20", "--informants", "3", "--seed", "1", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    long = pd.read_csv(out)
    assert len(long) == 60 and list(long.columns[:2]) == ["target", "informant"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--n", "10", "--dyads", "10"], "exactly one of --n"),
        (["--dyads", "10", "--forms"], "--forms"),
        (["--n", "10", "--informants", "2"], "--informants needs --dyads"),
        (["--dyads", "10", "--leniency", "x=abc"], "--leniency"),
    ],
)
def test_simulate_dyads_errors(tmp_path, args, message):
    res = CliRunner().invoke(
        main, ["simulate", "--pool", str(MINI_POOL), "--seed", "1", "--out", str(tmp_path / "x.csv"), *args]
    )
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "x.csv").exists()


def test_validate_pairs_report_section(pairs_csv, tmp_path):
    out = tmp_path / "report"
    res = CliRunner().invoke(
        main,
        [
            "validate",
            str(pairs_csv),
            "--pool",
            str(MINI_POOL),
            "--pairs",
            "--target-id",
            "target",
            "--collapse",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    sec = results["sections"]["paired"]
    assert sec["status"] in ("ok", "warning")
    assert set(sec["tables"]) >= {"paired_agreement", "paired_method_effects", "paired_invariance"}
    inv = sec["tables"]["paired_invariance"]
    assert inv["index"][:4] == ["configural", "thresholds", "metric", "scalar"]
    decision = inv["columns"].index("decision")
    decisions = [row[decision] for row in inv["data"]]
    # a2 is lenient in the informant form: scalar fails and its intercept is released
    assert "not supported" in decisions and "supported (partial)" in decisions
    rel = sec["tables"]["paired_released"]
    assert [row[rel["columns"].index("item")] for row in rel["data"]] == ["a2"]
    text = " ".join(sec["paragraphs"])
    assert "CT-C(M-1)" in text and "Eid et al., 2003" in text and "measEq.syntax" in text
    agree = sec["tables"]["paired_agreement"]
    r = agree["columns"].index("self_other_r")
    assert all(0.2 < row[r] < 0.8 for row in agree["data"])  # simulated .5
    conclusion = " ".join(results["sections"]["conclusion"]["paragraphs"])
    assert "across the self and informant forms (paired)" in conclusion and "a2" in conclusion
    html = (out / "report.html").read_text()
    assert "Paired self-informant design" in html
    # the other sections analyse the self-report, one row per target
    assert results["sections"]["sample"]["numbers"]["n"] == 300


def test_validate_pairs_errors(pairs_csv, tmp_path):
    res = CliRunner().invoke(
        main, ["validate", str(pairs_csv), "--pool", str(MINI_POOL), "--pairs", "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2 and "--target-id" in res.output
    res = CliRunner().invoke(
        main,
        [
            "validate",
            str(pairs_csv),
            "--pool",
            str(MINI_POOL),
            "--pairs",
            "--target-id",
            "person",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 2 and "'person'" in res.output
    d = pd.read_csv(pairs_csv).drop(columns=["a2_informant"])
    d.to_csv(tmp_path / "broken.csv", index=False)
    res = CliRunner().invoke(
        main,
        [
            "validate",
            str(tmp_path / "broken.csv"),
            "--pool",
            str(MINI_POOL),
            "--pairs",
            "--target-id",
            "target",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert res.exit_code == 2 and "a2_informant" in res.output
    assert "Traceback" not in res.output
