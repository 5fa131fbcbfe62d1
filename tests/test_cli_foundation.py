"""The foundation commands: pool check, pool syntax, simulate, describe."""

import json
import subprocess
import sys

import pandas as pd
from click.testing import CliRunner
from conftest import MINI_POOL

from allyscale.cli import main


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_help_lists_commands():
    result = run("--help")
    assert result.exit_code == 0
    for cmd in ("simulate", "pool", "describe"):
        assert cmd in result.output


def test_simulate_writes_data_and_sidecar(tmp_path):
    out = tmp_path / "sim.csv"
    result = run("simulate", "--pool", MINI_POOL, "--n", 150, "--seed", 7, "--out", out, "--careless", "0.1")
    assert result.exit_code == 0, result.output
    data = pd.read_csv(out)
    assert data.shape == (150, 18)
    sidecar = json.loads((tmp_path / "sim.population.json").read_text())
    assert sidecar["seed"] == 7 and sidecar["n"] == 150
    assert len(sidecar["careless_rows"]) == 15
    assert "fa =~" in sidecar["population"]["population_syntax"]
    # same seed, same file
    out2 = tmp_path / "sim2.csv"
    run("simulate", "--pool", MINI_POOL, "--n", 150, "--seed", 7, "--out", out2, "--careless", "0.1")
    assert out.read_bytes() == out2.read_bytes()


def test_simulate_with_forms_splits_respondents_over_the_pools_forms(tmp_path):
    from allyscale import load_pool

    out = tmp_path / "forms.csv"
    result = run("simulate", "--pool", MINI_POOL, "--n", 101, "--seed", 3, "--out", out, "--forms")
    assert result.exit_code == 0, result.output
    assert "101 respondents x 18 items" in result.output
    data = pd.read_csv(out)
    forms = list(load_pool(MINI_POOL).forms)
    assert len(forms) == 2 and list(pd.unique(data["form"])) == forms
    assert data["form"].value_counts()[forms].tolist() == [51, 50]
    # the item responses are those of the same seed without forms
    plain = tmp_path / "plain.csv"
    run("simulate", "--pool", MINI_POOL, "--n", 101, "--seed", 3, "--out", plain)
    pd.testing.assert_frame_equal(data.drop(columns="form"), pd.read_csv(plain))
    model = tmp_path / "pop.lav"
    model.write_text("f =~ 0.8*a + 0.7*b + 0.6*c\n")
    bad = run("simulate", "--model", model, "--n", 50, "--seed", 1, "--out", tmp_path / "x.csv", "--forms")
    assert bad.exit_code == 2 and "error: --forms needs a pool" in bad.output
    assert not (tmp_path / "x.csv").exists()


def test_simulate_from_lavaan_model(tmp_path):
    model = tmp_path / "pop.lav"
    model.write_text("f =~ 0.8*a + 0.7*b + 0.6*c\na | -1*t1 + 0*t2 + 1*t3\n")
    out = tmp_path / "d.csv"
    result = run("simulate", "--model", model, "--n", 50, "--seed", 1, "--out", out, "--categories", 4)
    assert result.exit_code == 0, result.output
    assert set(pd.read_csv(out).stack().unique()) <= {1, 2, 3, 4}


def test_pool_check_ok_and_strict(tmp_path):
    result = run("pool", "check", MINI_POOL)
    assert result.exit_code == 0
    assert "3 factors, 6 facets, 18 items (3 reverse-keyed)" in result.output
    assert "readability" in result.output  # c5 is hard to read
    assert run("pool", "check", MINI_POOL, "--strict").exit_code == 1


def test_bad_pool_is_an_error_without_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: t\nresponse_scale: {min: 1, max: 5}\nfactors:\n  - id: f\n    items:\n"
        "      - {id: a, text: x}\n      - {id: a, text: y}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "allyscale.cli", "pool", "check", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and "duplicate id 'a'" in proc.stderr and "bad.yaml" in proc.stderr
    assert "Traceback" not in proc.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "allyscale.cli", "--debug", "pool", "check", str(bad)], capture_output=True, text=True
    )
    assert "Traceback" in debug.stderr and debug.returncode == 2


def test_simulate_refuses_to_overwrite_its_input(tmp_path):
    pool_copy = tmp_path / "pool.yaml"
    pool_copy.write_text(MINI_POOL.read_text())
    before = pool_copy.read_text()
    result = run("simulate", "--pool", pool_copy, "--n", 10, "--seed", 1, "--out", pool_copy)
    assert result.exit_code == 2
    assert "refusing to overwrite the input file" in result.output
    assert pool_copy.read_text() == before


def test_describe_summarises(tmp_path):
    out = tmp_path / "d.csv"
    run("simulate", "--pool", MINI_POOL, "--n", 200, "--seed", 3, "--out", out)
    result = run("describe", out, "--pool", MINI_POOL)
    assert result.exit_code == 0, result.output
    assert "200 respondents, 18 items" in result.output
    assert "Correlations of scale scores" in result.output


def test_describe_json(tmp_path):
    out = tmp_path / "d.csv"
    run("simulate", "--pool", MINI_POOL, "--n", 120, "--seed", 4, "--out", out)
    js = tmp_path / "d.json"
    result = run("describe", out, "--pool", MINI_POOL, "--json", js)
    assert result.exit_code == 0, result.output
    payload = json.loads(js.read_text())
    assert payload["n"] == 120
    assert set(payload["items"]) == {f"{f}{i}" for f in "abc" for i in range(1, 7)}
    assert 0 < payload["items"]["a1"]["sd"] < 2
