"""Bad input at the command line: one ``error:`` line naming the fault, a non-zero exit, no
traceback, nothing overwritten; and the same data in any format gives the same results."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import MINI_POOL

from allyscale import load_pool, simulate
from allyscale.cli import main

MODEL = "fa =~ a1 + a2 + a3 + a4 + a5 + a6\nfb =~ b1 + b2 + b3 + b4 + b5 + b6\n"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A clean data file of the mini pool (N = 300) and a two-factor model file."""
    folder = tmp_path_factory.mktemp("cli")
    pool = load_pool(MINI_POOL)
    data = simulate(pool, 300, seed=21)
    data.to_csv(folder / "data.csv", index=False)
    (folder / "model.lav").write_text(MODEL)
    return folder, data


def _bad_copy(folder, data, tmp_path, edit):
    frame = data.astype(object).copy()
    edit(frame)
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    return path


def _assert_error(result, *fragments):
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert err.startswith("error: "), err
    assert "Traceback" not in result.output
    for f in fragments:
        assert f in err, (f, err)


@pytest.mark.parametrize(
    "command",
    [
        ["describe", "{data}", "--pool", MINI_POOL],
        ["cfa", "{data}", "--model", "{model}"],
        ["efa", "{data}", "--pool", MINI_POOL, "--factors", 2],
        ["reliability", "{data}", "--pool", MINI_POOL],
        ["screen", "{data}", "--pool", MINI_POOL],
    ],
)
def test_non_numeric_cell_is_named_by_every_command(files, tmp_path, command):
    folder, data = files
    bad = _bad_copy(folder, data, tmp_path, lambda f: f.__setitem__("a2", f["a2"].where(f.index != 6, "agree")))
    args = [str(a).format(data=bad, model=folder / "model.lav") for a in command]
    _assert_error(run(*args), "bad.csv", "column 'a2'", "row 7 [line 8]", "'agree'")


def test_out_of_scale_value_names_column_row_value(files, tmp_path):
    folder, data = files
    bad = _bad_copy(folder, data, tmp_path, lambda f: f.__setitem__("b4", f["b4"].where(f.index != 0, 7)))
    _assert_error(
        run("describe", bad, "--pool", MINI_POOL),
        "column 'b4'",
        "outside the response scale 1-5",
        "row 1 [line 2]",
        "'7'",
    )


def test_invalid_as_missing_is_reported(files, tmp_path):
    folder, data = files
    bad = _bad_copy(folder, data, tmp_path, lambda f: f.__setitem__("b4", f["b4"].where(f.index != 0, 7)))
    result = run("describe", bad, "--pool", MINI_POOL, "--invalid", "missing")
    assert result.exit_code == 0, result.output
    assert "1 invalid cell(s) set to missing: b4 row 1 ('7', outside the response scale 1-5)" in result.stderr


def test_duplicate_columns(files, tmp_path):
    folder, data = files
    frame = data.copy()
    frame.insert(3, "a1_copy", frame["a1"])
    path = tmp_path / "dup.csv"
    frame.to_csv(path, index=False)
    text = path.read_text().replace("a1_copy", "a1", 1)
    path.write_text(text)
    _assert_error(run("describe", path, "--pool", MINI_POOL), "dup.csv", "duplicate column name(s) 'a1'")


def test_items_missing_from_the_file(files, tmp_path):
    folder, data = files
    path = tmp_path / "short.csv"
    data.drop(columns=["a3", "c2"]).to_csv(path, index=False)
    _assert_error(
        run("describe", path, "--pool", MINI_POOL), "short.csv", "2 of the pool's items are not columns", "a3, c2"
    )
    _assert_error(run("cfa", path, "--model", folder / "model.lav"), "1 of the model's items are not columns", "a3")


def test_constant_item(files, tmp_path):
    folder, data = files
    path = _bad_copy(folder, data, tmp_path, lambda f: f.__setitem__("a4", 3))
    _assert_error(run("cfa", path, "--model", folder / "model.lav"), "constant item(s): a4")


def test_too_few_cases(files, tmp_path):
    folder, data = files
    path = tmp_path / "few.csv"
    data.head(9).to_csv(path, index=False)
    _assert_error(
        run("cfa", path, "--model", folder / "model.lav"), "9 complete case(s)", "12 items", "at least 13 are needed"
    )


def test_unknown_estimator_rotation_and_model_errors(files, tmp_path):
    folder, data = files
    csv = folder / "data.csv"
    _assert_error(run("cfa", csv, "--model", folder / "model.lav", "--estimator", "GLS"), "'--estimator'", "'GLS'")
    _assert_error(run("efa", csv, "--factors", 2, "--rotation", "quartimax"), "'--rotation'", "'quartimax'")
    _assert_error(run("cfa", csv, "--model", tmp_path / "none.lav"), "none.lav: model file not found")
    broken = tmp_path / "broken.lav"
    broken.write_text("fa =~ a1 + + a2\n")
    _assert_error(run("cfa", csv, "--model", broken), "broken.lav")
    _assert_error(run("cfa", tmp_path / "nodata.csv", "--model", folder / "model.lav"), "nodata.csv: file not found")
    _assert_error(run("screen", csv, "--pool", MINI_POOL, "--exclude", "sloppy"), "unknown screening rule")


def test_outputs_never_overwrite_inputs(files, tmp_path):
    folder, data = files
    csv = tmp_path / "in.csv"
    data.to_csv(csv, index=False)
    before = csv.read_bytes()
    _assert_error(run("cfa", csv, "--model", folder / "model.lav", "--json", csv), "refusing to overwrite")
    _assert_error(run("screen", csv, "--pool", MINI_POOL, "--out", csv), "refusing to overwrite")
    assert csv.read_bytes() == before


def test_debug_shows_the_traceback(files, tmp_path):
    folder, data = files
    bad = _bad_copy(folder, data, tmp_path, lambda f: f.__setitem__("a2", "x"))
    base = [sys.executable, "-m", "allyscale.cli"]
    plain = subprocess.run(base + ["describe", str(bad), "--pool", str(MINI_POOL)], capture_output=True, text=True)
    assert plain.returncode == 2 and plain.stderr.startswith("error: ") and "Traceback" not in plain.stderr
    debug = subprocess.run(
        base + ["--debug", "describe", str(bad), "--pool", str(MINI_POOL)], capture_output=True, text=True
    )
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_same_data_as_csv_sav_qualtrics_xlsx_gives_identical_cfa_json(files, tmp_path):
    import pyreadstat

    folder, data = files
    pyreadstat.write_sav(data, str(tmp_path / "d.sav"))
    data.to_excel(tmp_path / "d.xlsx", index=False)
    header = ["ResponseId", *data.columns]
    lines = [
        ",".join(header),
        ",".join(["Response ID"] + [f'"Question {c}"' for c in data.columns]),
        ",".join(['"{""ImportId"":""_recordId""}"'] + [f'"{{""ImportId"":""QID{i}""}}"' for i in range(data.shape[1])]),
    ]
    lines += [",".join([f"R_{i}"] + [str(v) for v in row]) for i, row in enumerate(data.itertuples(index=False))]
    (tmp_path / "q.csv").write_text("\n".join(lines) + "\n")
    out = {}
    for name, path in [
        ("csv", folder / "data.csv"),
        ("sav", tmp_path / "d.sav"),
        ("qualtrics", tmp_path / "q.csv"),
        ("xlsx", tmp_path / "d.xlsx"),
    ]:
        js = tmp_path / f"{name}.json"
        result = run("cfa", path, "--model", folder / "model.lav", "--estimator", "MLR", "--json", js)
        assert result.exit_code == 0, result.output
        out[name] = json.loads(js.read_text())
    for name in ("sav", "qualtrics", "xlsx"):
        assert out[name]["fit_measures"] == out["csv"]["fit_measures"], name
        assert out[name]["estimates"] == out["csv"]["estimates"], name


def test_missing_code_is_turned_into_missing_and_reported(files, tmp_path):
    folder, data = files
    frame = data.copy()
    rows = [3, 10, 11, 50, 120]
    for r in rows:
        frame.loc[r, "a1"] = -99
    frame.loc[7, "c3"] = 999
    path = tmp_path / "coded.csv"
    frame.to_csv(path, index=False)
    _assert_error(run("describe", path, "--pool", MINI_POOL), "column 'a1'", "'-99'")
    result = run("describe", path, "--pool", MINI_POOL, "--missing", "-99,999")
    assert result.exit_code == 0, result.output
    assert "missing-value code -99: 5 cell(s) set to missing in 1 item(s)" in result.stderr
    assert "missing-value code 999: 1 cell(s)" in result.stderr
    out = tmp_path / "report"
    result = run("validate", path, "--pool", MINI_POOL, "--missing", "-99,999", "--estimator", "ML", "--out", out)
    assert result.exit_code in (0, 1), result.output
    results = json.loads((out / "results.json").read_text())
    sample = results["sections"]["sample"]
    assert sample["numbers"]["coded_missing"] == 6
    assert sample["numbers"]["missing_responses"] == 6
    html = (out / "report.html").read_text()
    assert "missing-value code -99 turned 5 responses into missing values" in html
    assert "missing-value code 999 turned 1 responses into missing values" in html


def test_screen_lists_flagged_and_excludes_only_when_asked(files, tmp_path):
    folder, data = files
    frame = data.copy()
    frame.loc[0, load_pool(MINI_POOL).item_ids] = 3
    frame["attn1"] = 4
    frame.loc[5, "attn1"] = 1
    path = tmp_path / "scr.csv"
    frame.to_csv(path, index=False)
    result = run("screen", path, "--pool", MINI_POOL, "--out", tmp_path / "kept.csv", "--json", tmp_path / "s.json")
    assert result.exit_code == 0, result.output
    assert "Flagged respondents:" in result.output
    assert len(pd.read_csv(tmp_path / "kept.csv")) == 300
    payload = json.loads((tmp_path / "s.json").read_text())
    flagged = {d["index"]: d["flags"] for d in payload["flagged"]}  # index: the data row label (row counts from 1)
    assert "longstring" in flagged[0] and flagged[5] == "attention"
    result = run(
        "screen", path, "--pool", MINI_POOL, "--exclude", "attention,longstring", "--out", tmp_path / "kept2.csv"
    )
    assert result.exit_code == 0, result.output
    kept = pd.read_csv(tmp_path / "kept2.csv")
    out_rows = {r for r, f in flagged.items() if {"attention", "longstring"} & set(f.split(";"))}
    assert {0, 5} <= out_rows
    assert len(kept) == 300 - len(out_rows) and "300 respondents" in result.output
    assert f"Excluded: {len(out_rows)}" in result.output


def test_validate_leaves_other_files_in_its_output_folder(files, tmp_path):
    folder, data = files
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = run("validate", folder / "data.csv", "--pool", MINI_POOL, "--estimator", "ML", "--out", out)
    assert result.exit_code in (0, 1), result.output
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "report.html").exists()
