"""Bad input and injected faults (issue: "Nothing lost, nothing silently wrong").

Each case either gives the right result or stops with one ``error:`` line naming the
file, key, column, row or value (exit 2; exit 1 for an analysis that ran and failed),
without a traceback and without losing anything.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import MINI_POOL

from allyscale import limits, load_pool, simulate
from allyscale._files import brief, publish_folder, spreadsheet_safe, write_csv
from allyscale.cli import main
from allyscale.errors import DataError, PoolError, SpecificationError
from allyscale.montecarlo import export_study, load_study, run_study
from allyscale.report.bundle import ValidationReport
from allyscale.report.document import Section, Table

TWO_FACTOR = """
f1 =~ .7*a1 + .7*a2 + .6*a3 + .6*a4
f2 =~ .7*b1 + .7*b2 + .6*b3 + .6*b4
f1 ~~ .3*f2
"""
#: a study that runs in well under a second (retention only, 2 x 3 replications)
TINY_STUDY = {
    "name": "tiny",
    "population": TWO_FACTOR,
    "categories": 5,
    "analysis": {"retention": ["map"]},
    "conditions": {"n": [60, 80]},
    "reps": 3,
    "seed": 5,
}


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _error(result, *fragments, code=2):
    assert result.exit_code == code, result.output
    err = result.stderr
    assert err.startswith("error: "), err
    assert "Traceback" not in result.output and "internal error" not in err, err
    for f in fragments:
        assert f in err, (f, err)
    return err


@pytest.fixture()
def store(tmp_path):
    path = tmp_path / "st.sqlite"
    run_study(TINY_STUDY, path, progress=False)
    return path


def _digest(path: Path) -> bytes:
    return path.read_bytes()


# ------------------------------------------------------------------ data lost or overwritten
@pytest.mark.parametrize(
    "args",
    [
        ["montecarlo", "export", "{st}", "--out", "{st}"],
        ["montecarlo", "export", "{st}", "--out", "{dir}/x.csv", "--estimates", "{st}"],
        ["montecarlo", "export", "{st}", "--out", "{st}-wal"],
        ["montecarlo", "summarize", "{st}", "--json", "{st}"],
        ["montecarlo", "summarize", "{st}", "--out", "{st}"],
    ],
)
def test_store_is_never_overwritten_by_its_exports(store, args):
    before = _digest(store)
    result = run(*[a.format(st=store, dir=store.parent) for a in args])
    _error(result, str(store.name))
    assert _digest(store) == before
    assert len(export_study(store)["reps"]) == 6
    assert not (store.parent / "x.csv").exists()  # nothing half-written before the refusal


def test_export_and_summarize_write_complete_files(store, tmp_path):
    result = run("montecarlo", "export", store, "--out", tmp_path / "reps.csv")
    assert result.exit_code == 0, result.output
    reps = pd.read_csv(tmp_path / "reps.csv")
    assert len(reps) == 6 and (tmp_path / "reps_estimates.csv").exists()
    result = run("montecarlo", "summarize", store, "--json", tmp_path / "s.json", "--out", tmp_path / "mc")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "s.json").read_text())
    assert (tmp_path / "mc" / "summary.txt").exists() and (tmp_path / "mc" / "retention.csv").exists()
    assert not list(tmp_path.glob(".*staging*")) and not list(tmp_path.glob(".*.tmp"))


def test_simulate_sidecar_never_overwrites_the_input_pool(tmp_path):
    pool = tmp_path / "scale.population.json"
    pool.write_text(Path(MINI_POOL).read_text())
    before = pool.read_bytes()
    result = run("simulate", "--pool", pool, "--n", 20, "--seed", 1, "--out", tmp_path / "scale.csv")
    _error(result, "scale.population.json", "sidecar")
    assert pool.read_bytes() == before and not (tmp_path / "scale.csv").exists()


def test_outputs_refuse_an_inputs_sidecar(tmp_path):
    data = tmp_path / "d.csv"
    assert run("simulate", "--pool", MINI_POOL, "--n", 60, "--seed", 1, "--out", data).exit_code == 0
    sidecar = tmp_path / "d.population.json"
    before = sidecar.read_bytes()
    result = run("describe", data, "--pool", MINI_POOL, "--json", sidecar)
    _error(result, "d.population.json", "belongs to the input")
    assert sidecar.read_bytes() == before


def test_json_path_under_a_file_is_a_clear_error(tmp_path):
    data = tmp_path / "d.csv"
    assert run("simulate", "--pool", MINI_POOL, "--n", 60, "--seed", 1, "--out", data).exit_code == 0
    _error(run("describe", data, "--pool", MINI_POOL, "--json", data / "x.json"), "is a file, not a folder")


def test_validate_same_named_files_get_their_own_reports(tmp_path):
    pool = load_pool(MINI_POOL)
    for folder, seed in (("ga", 1), ("gb", 2)):
        (tmp_path / folder).mkdir()
        simulate(pool, 100, seed=seed).to_csv(tmp_path / folder / "data.csv", index=False)
    model = tmp_path / "m.lav"
    model.write_text(pool.model_syntax("correlated"))
    result = run(
        "validate",
        tmp_path / "ga" / "data.csv",
        tmp_path / "gb" / "data.csv",
        "--model",
        model,
        "--estimator",
        "ML",
        "--out",
        tmp_path / "rep",
    )
    assert result.exit_code in (0, 1), result.output
    a = json.loads((tmp_path / "rep" / "ga_data" / "results.json").read_text())
    b = json.loads((tmp_path / "rep" / "gb_data" / "results.json").read_text())
    assert a["meta"]["n"] == b["meta"]["n"] == 100
    assert a["sections"]["items"]["tables"] != b["sections"]["items"]["tables"]
    assert not (tmp_path / "rep" / "data").exists()


def _report(tables: dict[str, pd.DataFrame]) -> ValidationReport:
    sec = Section("items", "Items", tables=[Table(name, name, df) for name, df in tables.items()])
    return ValidationReport([sec], title="t")


def test_interrupted_save_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    import allyscale._files as files

    out = tmp_path / "rep"
    first = _report({"items": pd.DataFrame({"x": [1.0]}), "invariance": pd.DataFrame({"y": [2.0]})})
    first.save(out)
    (out / "notes.txt").write_text("mine")
    snapshot = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}

    def crash(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files, "_exchange", crash)
    with pytest.raises(OSError):
        _report({"items": pd.DataFrame({"x": [9.0]})}).save(out)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot
    assert not list(tmp_path.glob(".rep*"))  # the staging folder is cleaned up
    monkeypatch.undo()

    # a crash while the report is being written (the third table) changes nothing either
    calls = {"n": 0}
    real = pd.DataFrame.to_csv

    def fail_third(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(5, "Input/output error")
        return real(self, *a, **k)

    monkeypatch.setattr(pd.DataFrame, "to_csv", fail_third)
    with pytest.raises(OSError):
        _report({f"t{i}": pd.DataFrame({"x": [float(i)]}) for i in range(4)}).save(out)
    monkeypatch.undo()
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == snapshot


def test_a_new_report_clears_stale_tables_and_keeps_foreign_files(tmp_path):
    out = tmp_path / "rep"
    _report({"items": pd.DataFrame({"x": [1.0]}), "invariance": pd.DataFrame({"y": [2.0]})}).save(out)
    (out / "notes.txt").write_text("mine")
    _report({"items": pd.DataFrame({"x": [3.0]})}).save(out)
    assert sorted(p.name for p in (out / "tables").iterdir()) == ["items.csv"]
    assert (out / "notes.txt").read_text() == "mine"
    assert pd.read_csv(out / "tables" / "items.csv")["x"].tolist() == [3.0]


def test_report_folder_may_not_replace_an_input(tmp_path):
    out = tmp_path / "rep"
    (out / "tables").mkdir(parents=True)
    data = out / "tables" / "data.csv"
    data.write_text("a\n1\n")
    with pytest.raises(DataError, match="would replace the input file"):
        _report({"items": pd.DataFrame({"x": [1.0]})}).save(out, inputs=[data])
    assert data.read_text() == "a\n1\n"
    with pytest.raises(DataError, match="working folder"):
        publish_folder(Path.cwd(), lambda s: None, owned=())


# ------------------------------------------------------------------ silently wrong study
def test_resume_after_the_pools_content_changed_is_refused(tmp_path):
    pool = tmp_path / "pool.yaml"
    pool.write_text(Path(MINI_POOL).read_text())
    study = {
        "name": "p",
        "pool": str(pool),
        "analysis": {"retention": ["map"]},
        "conditions": {"n": [60]},
        "reps": 2,
        "seed": 3,
    }
    store = tmp_path / "p.sqlite"
    run_study(study, store, progress=False)
    pool.write_text(Path(MINI_POOL).read_text().replace("max: 5", "max: 7"))
    with pytest.raises(SpecificationError, match="belongs to a different study spec"):
        run_study({**study, "reps": 3}, store, progress=False)
    pool.write_text(
        Path(MINI_POOL)
        .read_text()
        .replace("I welcome feedback.", "I seek feedback.")
        .replace("reverse: true", "reverse: false", 1)
    )
    with pytest.raises(SpecificationError, match="belongs to a different study spec"):
        run_study({**study, "reps": 3}, store, progress=False)
    pool.write_text(Path(MINI_POOL).read_text())
    assert run_study({**study, "reps": 3}, store, progress=False).ran == 1


def test_an_edited_payload_is_detected_on_resume_and_export(store, tmp_path):
    con = sqlite3.connect(store)
    (text,) = con.execute("SELECT payload FROM results WHERE condition = 1 AND rep = 2").fetchone()
    edited = text.replace('"rep": 2', '"rep": 2 ', 1) if '"rep": 2' in text else text + " "
    with con:
        con.execute("UPDATE results SET payload = ? WHERE condition = 1 AND rep = 2", (edited,))
    con.close()
    with pytest.raises(SpecificationError, match=r"condition 1, rep 2\) fails its SHA-256 checksum"):
        run_study({**TINY_STUDY, "reps": 4}, store, progress=False)
    _error(
        run("montecarlo", "run", _study_file(tmp_path, TINY_STUDY), "--store", store, "--no-progress"),
        "fails its SHA-256 checksum",
    )
    _error(run("montecarlo", "export", store, "--out", tmp_path / "r.csv"), "condition 1, rep 2")
    assert not (tmp_path / "r.csv").exists()


def _study_file(tmp_path: Path, study: dict, text: str | None = None) -> Path:
    path = tmp_path / "study.yaml"
    path.write_text(text if text is not None else yaml.safe_dump(study))
    return path


def test_store_of_an_older_format_is_refused(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    with con:
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        con.execute("CREATE TABLE results (condition INTEGER, rep INTEGER, payload TEXT)")
        con.executemany("INSERT INTO meta VALUES (?, ?)", [("spec_hash", "x"), ("spec", "{}"), ("store_version", "1")])
    con.close()
    with pytest.raises(SpecificationError, match="format version 1"):
        run_study(TINY_STUDY, path, progress=False)


@pytest.mark.parametrize(
    "edit, fragment",
    [
        ({"categories": 0}, "categories: 0 is not a number of response categories"),
        ({"thresholds": [0.5, -0.5, 1.0]}, "are not in increasing order"),
        ({"conditions": {"n": [60], "categories": [5, 1]}}, "conditions.categories[1]: 1 is not a number"),
    ],
)
def test_study_values_read_loosely_before_are_errors(edit, fragment):
    study = {k: v for k, v in TINY_STUDY.items() if k != "categories"}
    with pytest.raises(SpecificationError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        load_study({**study, **edit})


def test_duplicated_key_in_a_study_file_is_an_error(tmp_path):
    text = yaml.safe_dump(TINY_STUDY) + "seed: 99\n"
    _error(
        run("montecarlo", "run", _study_file(tmp_path, TINY_STUDY, text), "--store", tmp_path / "s.sqlite"),
        "duplicate key 'seed'",
    )
    assert not (tmp_path / "s.sqlite").exists()


# ------------------------------------------------------------------ hangs and resource exhaustion
def _bomb(levels: int = 9) -> str:
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("where", ["response_scale: {min: 1, max: *l8}", "factors: [{id: *l8, items: []}]"])
def test_yaml_alias_bomb_fails_fast_naming_the_limit(tmp_path, where):
    pool = tmp_path / "bomb.yaml"
    pool.write_text(_bomb() + "name: x\n" + where + "\n")
    t0 = time.perf_counter()
    err = _error(run("pool", "check", pool), "bomb.yaml", "aliases are expanded", "MAX_YAML_NODES")
    assert time.perf_counter() - t0 < 5 and len(err) < 400


def test_small_alias_bomb_under_the_limit_is_echoed_briefly(tmp_path):
    pool = tmp_path / "b.yaml"
    labels = ", ".join(f"{i + 1}: {line.split(': ', 1)[1]}" for i, line in enumerate(_bomb(5).splitlines()))
    pool.write_text("name: x\nresponse_scale: {labels: {" + labels + "}, min: 1, max: *l4}\n")
    err = _error(run("pool", "check", pool), "response_scale min and max must be integers")
    assert len(err) < 400


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", "nesting deeper than 64 levels"),
        ("name: x\nresponse_scale: {min: 1, max: " + "9" * 5000 + "}\n", "a number of 5,000 characters at line 2"),
        ("name: x\nresponse_scale: {min: 1, max: 1e308}\n", "max='1e308'"),
        ("name: x\nresponse_scale: {min: 1, max: 100000000000}\n", "max = 100000000000 is outside -1000..1000"),
    ],
)
def test_hostile_pool_values_are_named_not_internal_errors(tmp_path, text, fragment):
    pool = tmp_path / "p.yaml"
    pool.write_text(text)
    _error(run("pool", "check", pool), "p.yaml", fragment)


def test_yaml_size_limit(monkeypatch):
    from allyscale.pool import parse_pool

    monkeypatch.setattr(limits, "MAX_YAML_BYTES", 100)
    with pytest.raises(PoolError, match="above the limit of 100 for a YAML file"):
        parse_pool("name: x\n" + "# padding\n" * 20, source="p.yaml")


def test_huge_reps_fail_before_any_work(tmp_path):
    t0 = time.perf_counter()
    with pytest.raises(SpecificationError, match=r"reps = 1,000,000,000 exceeds the limit of 100,000"):
        load_study({**TINY_STUDY, "reps": 1_000_000_000})
    _error(
        run(
            "montecarlo",
            "run",
            _study_file(tmp_path, TINY_STUDY),
            "--store",
            tmp_path / "s.sqlite",
            "--reps",
            1_000_000_000,
        ),
        "MAX_REPS",
    )
    assert not (tmp_path / "s.sqlite").exists()
    assert time.perf_counter() - t0 < 10


def test_grid_and_sample_size_limits():
    with pytest.raises(SpecificationError, match="conditions.n = 5,000,000 respondents exceeds the limit"):
        load_study({**TINY_STUDY, "conditions": {"n": [5_000_000]}})
    with pytest.raises(SpecificationError, match="MAX_REPLICATIONS"):
        load_study({**TINY_STUDY, "reps": 100_000, "conditions": {"n": list(range(50, 250))}})


def test_huge_n_is_refused_naming_the_limit(tmp_path, monkeypatch):
    _error(
        run("simulate", "--pool", MINI_POOL, "--n", 10**12, "--seed", 1, "--out", tmp_path / "x.csv"),
        "--n = 1,000,000,000,000 respondents exceeds the limit",
        "MAX_N",
    )
    monkeypatch.setattr(limits, "MAX_CELLS", 1000)
    _error(
        run("simulate", "--pool", MINI_POOL, "--n", 100, "--seed", 1, "--out", tmp_path / "x.csv"),
        "100 respondents x 18 items = 1,800 responses exceeds the limit of 1,000",
        "MAX_CELLS",
    )
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.slow
def test_kill9_while_workers_start_leaves_no_process(tmp_path):
    study = {**TINY_STUDY, "reps": 50, "conditions": {"n": [150]}}
    cmd = [
        sys.executable,
        "-m",
        "allyscale.cli",
        "montecarlo",
        "run",
        str(_study_file(tmp_path, study)),
        "--store",
        str(tmp_path / "k.sqlite"),
        "--workers",
        "2",
        "--no-progress",
    ]
    for _ in range(3):  # kill at slightly different moments of the start-up
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        seen: set[int] = set()
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if children.exists():
                seen |= {int(c) for c in children.read_text().split()}
            if len(seen) >= 3:  # the resource tracker and both workers exist, still starting
                break
            time.sleep(0.01)
        assert proc.poll() is None and len(seen) >= 2, "the run ended before its workers started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 20
        while time.time() < deadline and any(Path(f"/proc/{p}").exists() for p in seen):
            time.sleep(0.25)
        alive = []
        for p in seen:
            try:
                status = Path(f"/proc/{p}/status").read_text()
            except OSError:
                continue
            if "State:\tZ" not in status:
                alive.append((p, Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")[:120]))
        assert not alive, f"processes outlived the killed run: {alive}"


# ------------------------------------------------------------------ injection
FORMULAS = [
    '=HYPERLINK("http://x.example","click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "\tTAB",
    "\rCR",
]


def test_spreadsheet_safe_prefixes_every_formula_start():
    frame = pd.DataFrame(
        {"text": FORMULAS + ["plain", "-1.5"], "x": np.arange(8.0) - 4},
        index=pd.Index(["=i"] + [f"i{k}" for k in range(7)], name="item"),
    )
    safe = spreadsheet_safe(frame)
    assert safe["text"].tolist()[:6] == ["'" + f for f in FORMULAS]
    assert safe["text"].tolist()[6:] == ["plain", "-1.5"]  # a number is not a formula
    assert safe["x"].tolist() == frame["x"].tolist()
    assert safe.index[0] == "'=i"
    assert frame["text"].tolist()[0] == FORMULAS[0]  # the caller's frame is not changed


def test_report_tables_and_exports_are_spreadsheet_safe(tmp_path):
    items = pd.DataFrame({"factor": ["fa"] * 4, "text": FORMULAS[:4]}, index=pd.Index(list("abcd"), name="item"))
    _report({"items": items}).save(tmp_path / "rep")
    cells = pd.read_csv(tmp_path / "rep" / "tables" / "items.csv")["text"].tolist()
    assert cells == ["'" + f for f in FORMULAS[:4]]
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "=HYPERLINK(&#34;" in html or "=HYPERLINK(&quot;" in html  # HTML shows the text, escaped
    write_csv(tmp_path / "x.csv", items.reset_index())
    assert all(not str(c).startswith(("=", "+", "-", "@")) for c in pd.read_csv(tmp_path / "x.csv")["text"])


@pytest.mark.slow
def test_pool_item_text_formula_lands_quoted_in_items_csv(tmp_path):
    pool_text = Path(MINI_POOL).read_text().replace('"I listen to others."', '"=HYPERLINK(\\"http://x\\")"')
    pool = tmp_path / "pool.yaml"
    pool.write_text(pool_text)
    data = tmp_path / "d.csv"
    simulate(load_pool(pool), 150, seed=1).to_csv(data, index=False)
    result = run("validate", data, "--pool", pool, "--estimator", "ML", "--out", tmp_path / "rep")
    assert result.exit_code in (0, 1), result.output
    items = pd.read_csv(tmp_path / "rep" / "tables" / "items.csv", index_col=0)
    assert items.loc["a1", "text"] == '\'=HYPERLINK("http://x")'


# ------------------------------------------------------------------ lost labels
def test_qualtrics_question_texts_reach_the_reports_item_list(tmp_path):
    import allyscale as al

    pool = load_pool(MINI_POOL)
    frame = simulate(pool, 120, seed=4)
    texts = {c: f"How true is statement {c}?" for c in frame.columns}
    header = ",".join(frame.columns)
    lines = [
        header,
        ",".join(texts[c] for c in frame.columns),
        ",".join(
            json.dumps({"ImportId": f"QID{k}"}).replace(",", ";").replace('"', '""').join('""')
            for k, _ in enumerate(frame.columns)
        ),
    ]
    lines += [",".join(str(v) for v in row) for row in frame.itertuples(index=False)]
    path = tmp_path / "qualtrics.csv"
    path.write_text("\n".join(lines) + "\n")
    data = al.read_responses(path, items=list(frame.columns))
    assert data.attrs["format"] == "qualtrics"
    report = al.validate(data, model=pool.model_syntax("correlated"), estimator="ML")
    listed = report.tables()["items"]["text"]
    assert listed.to_dict() == texts


# ------------------------------------------------------------------ exit codes and echoed values
def test_cfa_exits_1_when_the_model_does_not_converge(tmp_path):
    rng = np.random.default_rng(1)
    data = tmp_path / "noise.csv"
    pd.DataFrame(rng.normal(size=(30, 6)), columns=[f"y{i}" for i in range(6)]).to_csv(data, index=False)
    model = tmp_path / "m.lav"
    model.write_text("f =~ y0 + y1 + y2 + y3 + y4 + y5\n")
    result = run("cfa", data, "--model", model, "--estimator", "ML", "--json", tmp_path / "fit.json")
    assert result.exit_code == 1, result.output
    assert "did not converge" in result.stderr and "Traceback" not in result.output
    assert json.loads((tmp_path / "fit.json").read_text())["converged"] is False


def test_echoed_values_are_truncated(tmp_path):
    assert len(brief("x" * 100_000)) <= 80
    assert "digits" in brief(10**5000)
    assert brief([[list(range(100))] * 100] * 100).endswith("...")
    # a value whose repr fails (an integer too long for str inside a list) gives its type, not a second error
    assert brief([10**5000]) == "<list>"
    data = tmp_path / "d.csv"
    frame = simulate(load_pool(MINI_POOL), 60, seed=1).astype(object)
    frame.loc[3, "a1"] = "y" * 50_000
    frame.to_csv(data, index=False)
    err = _error(run("describe", data, "--pool", MINI_POOL), "'a1'", "row 4")
    assert len(err) < 1000


@pytest.fixture(scope="module")
def mini_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("mini")
    pool = load_pool(MINI_POOL)
    simulate(pool, 200, seed=1).to_csv(folder / "d.csv", index=False)
    (folder / "m.lav").write_text(pool.model_syntax("correlated"))
    return folder


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["simulate", "--pool", MINI_POOL, "--n", 50, "--seed", -1, "--out", "{f}/s.csv"], "-1 is not in the range"),
        (
            [
                "simulate",
                "--pool",
                MINI_POOL,
                "--n",
                50,
                "--seed",
                1,
                "--out",
                "{f}/s.csv",
                "--thresholds",
                "nan,0,1,2",
            ],
            "--thresholds: nan is not a finite number",
        ),
        (
            ["simulate", "--pool", MINI_POOL, "--n", 50, "--seed", 1, "--out", "{f}/s.csv", "--thresholds", "1,0,2,3"],
            "are not in increasing order",
        ),
        (["efa", "{f}/d.csv", "--factors", 2, "--items", "a1,a1,a2"], "--items: item 'a1' is given twice"),
        (
            ["validate", "{f}/d.csv", "--model", "{f}/m.lav", "--scale", "nan,5", "--reverse", "a3", "--out", "{f}/v"],
            "--scale: 'nan,5' is not a response scale",
        ),
        (["validate", "{f}/d.csv", "--model", "{f}/m.lav", "--out", "."], "is the working folder"),
        (
            ["validate", "{f}/d.csv", "--model", "{f}/m.lav", "--group", "a1", "--out", "{f}/v"],
            "--group a1: is an item",
        ),
        (["cfa", "{f}/d.csv", "--model", "{f}/m.lav", "--group", "a1"], "--group a1: is an item of the model"),
        (["describe", "{f}/d.csv", "--missing", "inf"], "missing-value code 'inf' is not a finite number"),
        (["montecarlo", "run", "{f}/m.lav", "--store", "{f}/x.sqlite"], "a study spec is a .yaml"),
        (["montecarlo", "run", "{f}/none.yaml", "--store", "{f}/x.sqlite"], "none.yaml: study file not found"),
    ],
)
def test_more_bad_input_is_named_with_exit_2(mini_files, args, fragment):
    _error(run(*[str(a).format(f=mini_files) for a in args]), fragment)
    assert not (mini_files / "v").exists() and not (mini_files / "s.csv").exists()


def test_duplicated_or_dependent_items_are_named_before_fitting(mini_files, tmp_path):
    frame = pd.read_csv(mini_files / "d.csv")
    frame.assign(a2=frame["a1"]).to_csv(tmp_path / "dup.csv", index=False)
    for cmd in (
        ["cfa", tmp_path / "dup.csv", "--model", mini_files / "m.lav"],
        ["efa", tmp_path / "dup.csv", "--factors", 2, "--pool", MINI_POOL],
        ["reliability", tmp_path / "dup.csv", "--pool", MINI_POOL],
    ):
        _error(run(*cmd), "dup.csv: items a1, a2 are identical in all 200 complete rows")


def test_machine_failures_are_one_error_line_exit_1(mini_files, tmp_path, monkeypatch):
    import allyscale._files as files

    real = files.os.replace

    def full(src, dst):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(files.os, "replace", full)
    out = tmp_path / "o.json"
    err = _error(
        run("describe", mini_files / "d.csv", "--pool", MINI_POOL, "--json", out), "No space left on device", code=1
    )
    assert "o.json" in err and not out.exists() and not list(tmp_path.iterdir())
    monkeypatch.setattr(files.os, "replace", real)


def test_long_messages_are_cut(monkeypatch):
    import allyscale.cli.pool_cmd as pool_cmd

    def huge(path):
        raise PoolError("x" * 100_000)

    monkeypatch.setattr(pool_cmd, "load_pool", huge)
    err = _error(run("pool", "check", MINI_POOL), "more characters")
    assert len(err) < 2200


def test_report_into_a_linked_folder_keeps_the_link(tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    _report({"items": pd.DataFrame({"x": [1.0]})}).save(link)
    assert link.is_symlink() and (real / "report.html").exists() and (real / "tables" / "items.csv").exists()
    _report({"items": pd.DataFrame({"x": [2.0]})}).save(link)
    assert link.is_symlink() and pd.read_csv(real / "tables" / "items.csv")["x"].tolist() == [2.0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "real"]


@pytest.mark.parametrize(
    "analysis, fragment",
    [
        ({"retention": ["map"], "true_factors": "two"}, "analysis.true_factors must be a positive integer, got 'two'"),
        (
            {"models": {"m": "f1 =~ a1 + a2 + a3 + a4"}, "fit_options": {"bogus": 1}},
            "analysis.fit_options: unknown cfa() keyword(s) ['bogus']",
        ),
    ],
)
def test_analysis_values_are_checked_before_any_replication(tmp_path, analysis, fragment):
    path = _study_file(tmp_path, {**TINY_STUDY, "analysis": analysis})
    _error(run("montecarlo", "run", path, "--store", tmp_path / "s.sqlite"), fragment)
    assert not (tmp_path / "s.sqlite").exists()


def test_store_may_not_be_the_studys_pool(tmp_path):
    pool = tmp_path / "empty_pool.sqlite"
    pool.write_text(Path(MINI_POOL).read_text())
    study = {
        "name": "p",
        "pool": str(pool),
        "analysis": {"retention": ["map"]},
        "conditions": {"n": [60]},
        "reps": 1,
        "seed": 3,
    }
    before = pool.read_bytes()
    with pytest.raises(SpecificationError, match="is the input file"):
        run_study(study, pool, progress=False)
    assert pool.read_bytes() == before


def test_dfi_reps_are_bounded(mini_files):
    _error(
        run("dfi", mini_files / "d.csv", "--model", mini_files / "m.lav", "--reps", 10**9),
        "--reps = 1,000,000,000 exceeds the limit",
    )


@pytest.mark.slow
def test_spss_variable_labels_reach_the_reports_item_list(tmp_path):
    import pyreadstat

    import allyscale as al

    pool = load_pool(MINI_POOL)
    frame = simulate(pool, 120, seed=6).astype(float)
    labels = {c: f"SPSS label of {c}" for c in frame.columns}
    path = tmp_path / "survey.sav"
    pyreadstat.write_sav(frame, str(path), column_labels=[labels[c] for c in frame.columns])
    data = al.read_responses(path, items=list(frame.columns))
    report = al.validate(data, model=pool.model_syntax("correlated"), estimator="ML")
    assert report.tables()["items"]["text"].to_dict() == labels
    report.save(tmp_path / "rep")
    saved = pd.read_csv(tmp_path / "rep" / "tables" / "items.csv", index_col=0)
    assert saved["text"].to_dict() == labels


def test_a_hard_or_symbolic_link_to_an_input_is_the_input(mini_files, tmp_path):
    data = mini_files / "d.csv"
    before = data.read_bytes()
    os.link(data, tmp_path / "hard.json")
    (tmp_path / "soft.json").symlink_to(data)
    for out in ("hard.json", "soft.json"):
        _error(run("describe", data, "--pool", MINI_POOL, "--json", tmp_path / out), "refusing to overwrite the input")
    assert data.read_bytes() == before


def test_recursive_alias_is_refused():
    from allyscale.pool import parse_pool

    with pytest.raises(PoolError, match=r"p.yaml: a recursive alias \*f at line 2"):
        parse_pool("name: x\nfactors: &f [{id: a, items: *f}]\n", source="p.yaml")


def test_limits_describe_huge_integers_without_failing():
    with pytest.raises(SpecificationError, match="reps = an integer of about 5001 digits exceeds the limit"):
        load_study({**TINY_STUDY, "reps": 10**5000})


def test_screen_refuses_one_file_for_two_outputs(mini_files, tmp_path):
    same = tmp_path / "x.csv"
    _error(
        run("screen", mini_files / "d.csv", "--pool", MINI_POOL, "--out", same, "--json", same),
        "--out and --json are the same file",
    )
