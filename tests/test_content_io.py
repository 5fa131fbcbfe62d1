"""Rating sheets, reading returned sheets (and their errors), the content CLI, the report and the revised pool."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ALLYSHIP_POOL, MINI_POOL

from allyscale import load_pool
from allyscale.content import (
    RatingSet,
    content_validity,
    rating_sheet,
    read_ratings,
    revised_pool_yaml,
    write_sheet,
)
from allyscale.errors import DataError, PoolError
from allyscale.pool import parse_pool


def cli(*args):
    """The command line in a subprocess (exit code, stderr and no traceback as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "allyscale.cli", *map(str, args)], capture_output=True, text=True)


def run(*args):
    """The command line in-process (faster)."""
    from click.testing import CliRunner

    from allyscale.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def filled(pool, rater, rng, task="relevance", seed=1, relevant=None):
    s = rating_sheet(pool, task, rater=rater, seed=seed)
    if task == "relevance":
        s["relevance"] = rng.choice([3, 4], len(s))
        s["essential"] = 3
        for iid in relevant or ():
            s.loc[s["item"] == iid, ["relevance", "essential"]] = [1, 1]
    else:
        s["subcategory"] = [pool.item(i).facet for i in s["item"]]
    return s


# ------------------------------------------------------------------------------ sheets
def test_relevance_sheet_lists_every_item_in_pool_order(allyship_pool):
    s = rating_sheet(allyship_pool, "relevance", form="both")
    assert list(s["item"]) == allyship_pool.item_ids
    assert {
        "rater",
        "item",
        "subcategory_label",
        "self_text",
        "informant_text",
        "relevance",
        "essential",
        "comment",
    } <= set(s.columns)
    assert s.loc[0, "subcategory_label"] == "Practice empathy"


def test_sort_sheet_is_shuffled_reproducibly_and_hides_the_subcategory(allyship_pool):
    a = rating_sheet(allyship_pool, "sort", seed=7)
    b = rating_sheet(allyship_pool, "sort", seed=7)
    c = rating_sheet(allyship_pool, "sort", seed=8)
    assert list(a["item"]) == list(b["item"]) != list(c["item"])
    assert sorted(a["item"]) == sorted(allyship_pool.item_ids)
    assert list(a["item"]) != allyship_pool.item_ids
    assert "subcategory_label" not in a.columns and "factor" not in a.columns and "informant_text" not in a.columns


def test_xlsx_sheet_has_instructions_choices_and_dropdowns(tmp_path, allyship_pool):
    from openpyxl import load_workbook

    path = write_sheet(tmp_path / "sort.xlsx", allyship_pool, "sort", seed=3)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Ratings", "Subcategories", "Instructions"]
    assert [c.value for c in wb["Subcategories"]["A"]][1:] == [fc.id for fc in allyship_pool.facets] + ["none"]
    assert any("subcategory" in str(c.value) for c in wb["Instructions"]["A"])
    dv = wb["Ratings"].data_validations.dataValidation
    assert len(dv) == 1 and "Subcategories" in dv[0].formula1


def test_sheets_are_spreadsheet_safe(tmp_path):
    from openpyxl import load_workbook

    pool = parse_pool(
        "name: t\nresponse_scale: {min: 1, max: 5}\nfactors:\n  - id: f1\n    items:\n"
        '      - {id: x1, text: "=HYPERLINK(\\"http://x\\") I listen."}\n'
        '      - {id: x2, text: "-1 I ask."}\n      - {id: x3, text: "I help."}\n'
    )
    write_sheet(tmp_path / "s.csv", pool, "relevance")
    text = (tmp_path / "s.csv").read_text()
    assert "'=HYPERLINK" in text and "'-1 I ask." in text
    write_sheet(tmp_path / "s.xlsx", pool, "relevance")
    ws = load_workbook(tmp_path / "s.xlsx")["Ratings"]
    cells = [c for row in ws.iter_rows() for c in row if isinstance(c.value, str) and "HYPERLINK" in c.value]
    assert cells and all(c.data_type == "s" and c.value.startswith("'") for c in cells)


def test_sheet_refuses_bad_paths(tmp_path, allyship_pool):
    with pytest.raises(DataError, match="xlsx or .csv"):
        write_sheet(tmp_path / "s.txt", allyship_pool)
    with pytest.raises(DataError, match="does not exist"):
        write_sheet(tmp_path / "nope" / "s.csv", allyship_pool)


def test_informant_sheet_needs_informant_wording(tmp_path):
    pool = parse_pool(
        "name: t\nresponse_scale: {min: 1, max: 5}\nfactors:\n  - id: f1\n    items:\n"
        '      - {id: x1, text: "I listen."}\n      - {id: x2, text: "I ask."}\n'
    )
    with pytest.raises(PoolError, match="without informant wording"):
        rating_sheet(pool, "relevance", form="informant")


# ------------------------------------------------------------------------------ round trip
def test_returned_xlsx_and_csv_sheets_round_trip(tmp_path, mini_pool):
    from openpyxl import load_workbook

    rng = np.random.default_rng(1)
    write_sheet(tmp_path / "a.xlsx", mini_pool, "relevance", rater="ana")
    wb = load_workbook(tmp_path / "a.xlsx")
    ws = wb["Ratings"]
    cols = [c.value for c in ws[1]]
    for r in range(2, ws.max_row + 1):
        ws.cell(r, cols.index("relevance") + 1, 4)
        ws.cell(r, cols.index("essential") + 1, 3)
    ws.cell(2, cols.index("relevance") + 1, 1)  # a1 judged not relevant by ana
    ws.cell(2, cols.index("comment") + 1, "too vague")
    wb.save(tmp_path / "a.xlsx")
    for k, name in enumerate(["ben", "cy", "dee", "eli"]):
        filled(mini_pool, name, rng, relevant=["a1"] if k < 2 else None).to_csv(tmp_path / f"{name}.csv", index=False)
    rs = read_ratings([tmp_path / "a.xlsx", *sorted(tmp_path.glob("*.csv"))], mini_pool)
    assert rs.raters == ["ana", "ben", "cy", "dee", "eli"]
    assert rs.relevance.shape == (len(mini_pool.items), 5)
    assert rs.relevance.loc[("a1", "item"), "ana"] == 1
    assert rs.comments.iloc[0].to_dict() == {"rater": "ana", "item": "a1", "form": "item", "comment": "too vague"}
    res = content_validity(rs, mini_pool)
    a1 = res.items.set_index("item").loc["a1"]
    assert (a1["n_relevant"], a1["n_raters"]) == (2, 5)
    assert res.decisions.loc["a1", "decision"] == "drop"
    assert res.decisions.loc["a2", "decision"] == "keep"


def test_file_without_rater_column_uses_the_file_name(tmp_path, mini_pool):
    pd.DataFrame({"item": mini_pool.item_ids, "relevance": 4}).to_csv(tmp_path / "expert7.csv", index=False)
    rs = read_ratings([tmp_path / "expert7.csv"], mini_pool)
    assert rs.raters == ["expert7"] and any("file name" in n for n in rs.notes)


def test_rater_id_written_once_fills_the_column(tmp_path, mini_pool):
    s = rating_sheet(mini_pool, "relevance")
    s["relevance"] = 4
    s.loc[0, "rater"] = "zoe"
    s.to_csv(tmp_path / "z.csv", index=False)
    assert read_ratings([tmp_path / "z.csv"], mini_pool).raters == ["zoe"]


def test_wide_files_need_the_task(tmp_path, mini_pool):
    pd.DataFrame({"item": mini_pool.item_ids, "R1": 4, "R2": 3}).to_csv(tmp_path / "w.csv", index=False)
    with pytest.raises(DataError, match="task="):
        read_ratings([tmp_path / "w.csv"], mini_pool)
    rs = read_ratings([tmp_path / "w.csv"], mini_pool, task="relevance")
    assert rs.raters == ["R1", "R2"]


def test_sort_accepts_ids_labels_and_none(tmp_path, mini_pool):
    s = rating_sheet(mini_pool, "sort", rater="pat")
    s["subcategory"] = "Facet A1"
    s.loc[0, "subcategory"] = "none"
    s.loc[1, "subcategory"] = "fb2"
    s.to_csv(tmp_path / "s.csv", index=False)
    rs = read_ratings([tmp_path / "s.csv"], mini_pool)
    assert set(rs.sort["pat"]) == {"fa1", "fb2", "none"}


# ------------------------------------------------------------------------------ bad rating files
def _sheet(tmp_path, pool, name, rater, edit=None):
    s = rating_sheet(pool, "relevance", rater=rater)
    s["relevance"] = 4
    if edit:
        edit(s)
    path = tmp_path / name
    s.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "edit, pattern",
    [
        (
            lambda s: s.__setitem__("item", ["zz9"] + list(s["item"][1:])),
            r"r1\.csv: line 2: rater 'kim': unknown item id 'zz9'",
        ),
        (
            lambda s: s.__setitem__("relevance", [7] + [4] * (len(s) - 1)),
            r"r1\.csv: line 2: rater 'kim', item 'a1': relevance rating '7' is off the scale 1-4",
        ),
        (
            lambda s: s.__setitem__("relevance", ["high"] + [4] * (len(s) - 1)),
            r"r1\.csv: line 2: rater 'kim', item 'a1': relevance rating 'high' is not a number",
        ),
        (
            lambda s: s.__setitem__("essential", [0] + [""] * (len(s) - 1)),
            r"rater 'kim', item 'a1': essential rating '0' is off the scale 1-3",
        ),
        (lambda s: s.__setitem__("relevance", ""), r"r1\.csv: rater 'kim' gave no ratings"),
        (
            lambda s: s.__setitem__("item", ["a1", "a1"] + list(s["item"][2:])),
            r"r1\.csv: line 3: rater 'kim', item 'a1': rated twice by this rater \(lines 2 and 3\)",
        ),
    ],
)
def test_bad_rating_files_name_file_rater_and_item(tmp_path, mini_pool, edit, pattern):
    path = _sheet(tmp_path, mini_pool, "r1.csv", "kim", edit)
    with pytest.raises(DataError, match=pattern):
        read_ratings([path], mini_pool)


def test_duplicate_raters_across_files(tmp_path, mini_pool):
    a = _sheet(tmp_path, mini_pool, "a.csv", "kim")
    b = _sheet(tmp_path, mini_pool, "b.csv", "kim")
    with pytest.raises(DataError, match=r"duplicate rater 'kim': relevance ratings in .*a\.csv and in .*b\.csv"):
        read_ratings([a, b], mini_pool)


def test_one_rater_may_do_both_tasks_in_two_files(tmp_path, mini_pool):
    a = _sheet(tmp_path, mini_pool, "a.csv", "kim")
    s = rating_sheet(mini_pool, "sort", rater="kim")
    s["subcategory"] = [mini_pool.item(i).facet for i in s["item"]]
    s.to_csv(tmp_path / "b.csv", index=False)
    rs = read_ratings([a, tmp_path / "b.csv"], mini_pool)
    assert rs.raters == ["kim"] and rs.sort is not None and rs.relevance is not None
    assert rs.sources["kim"].endswith("b.csv") and "a.csv" in rs.sources["kim"]


def test_duplicate_rater_columns_in_a_wide_file(tmp_path, mini_pool):
    (tmp_path / "w.csv").write_text("item,R1,R1\n" + "".join(f"{i},4,3\n" for i in mini_pool.item_ids))
    with pytest.raises(DataError, match=r"w\.csv: .*R1"):
        read_ratings([tmp_path / "w.csv"], mini_pool, task="relevance")


def test_unknown_subcategory_names_the_value(tmp_path, mini_pool):
    s = rating_sheet(mini_pool, "sort", rater="pat")
    s["subcategory"] = "fa1"
    s.loc[2, "subcategory"] = "Facet Z"
    s.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(DataError, match=r"s\.csv: line 4: rater 'pat', item '.*': subcategory 'Facet Z' is not"):
        read_ratings([tmp_path / "s.csv"], mini_pool)


def test_cli_bad_rating_file_exits_2_and_writes_nothing(tmp_path, mini_pool):
    good = _sheet(tmp_path, mini_pool, "good.csv", "ann")
    bad = _sheet(tmp_path, mini_pool, "bad.csv", "bo", lambda s: s.__setitem__("relevance", [9] + [4] * (len(s) - 1)))
    out = tmp_path / "report"
    proc = cli("content", "analyze", good, bad, "--pool", MINI_POOL, "--out", out)
    assert proc.returncode == 2
    assert (
        proc.stderr.startswith("error: ")
        and "bad.csv" in proc.stderr
        and "'bo'" in proc.stderr
        and "'a1'" in proc.stderr
    )
    assert "Traceback" not in proc.stderr
    assert not out.exists()


# ------------------------------------------------------------------------------ CLI, report, revised pool
def test_cli_sheet_then_analyze_writes_report_and_revised_pool(tmp_path, mini_pool):
    proc = run("content", "sheet", "--pool", MINI_POOL, "--task", "sort", "--out", tmp_path / "sort.xlsx")
    assert proc.exit_code == 0, proc.output
    assert (tmp_path / "sort.xlsx").exists()
    rng = np.random.default_rng(2)
    for k in range(6):
        filled(mini_pool, f"e{k}", rng, relevant=["b5"] if k < 4 else None).to_csv(tmp_path / f"e{k}.csv", index=False)
        s = filled(mini_pool, f"p{k}", rng, task="sort")
        s.loc[s["item"] == "c1", "subcategory"] = "fa2"  # c1 is sorted elsewhere by everyone
        s.to_csv(tmp_path / f"p{k}.csv", index=False)
    files = sorted(tmp_path.glob("e*.csv")) + sorted(tmp_path.glob("p*.csv"))
    out = tmp_path / "content"
    proc = run("content", "analyze", *files, "--pool", MINI_POOL, "--out", out, "--json", tmp_path / "cv.json")
    assert proc.exit_code == 0, proc.output
    assert "[drop] b5" in proc.output and "[drop] c1" in proc.output
    for f in (
        "report.html",
        "results.json",
        "revised_pool.yaml",
        "tables/content_items.csv",
        "tables/content_confusion.csv",
        "tables/content_coverage.csv",
        "tables/content_agreement.csv",
    ):
        assert (out / f).exists(), f
    revised = load_pool(out / "revised_pool.yaml")
    assert "b5" not in revised.item_ids and "c1" not in revised.item_ids
    assert len(revised.items) == len(mini_pool.items) - 2
    conf = pd.read_csv(out / "tables" / "content_confusion.csv", index_col=0)
    assert conf.loc["fc1", "fa2"] == 6
    html = (out / "report.html").read_text()
    assert "Content validity" in html and "S-CVI/Ave" in html


def test_revised_pool_keeps_a_facet_that_would_be_emptied(mini_pool):
    rs = RatingSet(
        relevance=pd.DataFrame(
            1.0,
            index=pd.MultiIndex.from_tuples([(i, "item") for i in mini_pool.item_ids], names=["item", "form"]),
            columns=["r1", "r2", "r3"],
        ),
        sources={"r1": "x", "r2": "x", "r3": "x"},
    )
    res = content_validity(rs, mini_pool)
    assert set(res.decisions["decision"]) == {"drop"}
    text = revised_pool_yaml(mini_pool, res)
    pool = parse_pool(text)
    assert pool.item_ids == mini_pool.item_ids  # nothing removed: every facet would be empty
    assert all("kept because dropping it would empty" in it.notes for it in pool.items)
    assert res.coverage["gap"].all()


def test_revised_allyship_pool_round_trips(allyship_pool):
    rs = RatingSet(
        relevance=pd.DataFrame(
            4.0,
            index=pd.MultiIndex.from_tuples([(i, "item") for i in allyship_pool.item_ids], names=["item", "form"]),
            columns=[f"r{k}" for k in range(6)],
        ),
        sources={f"r{k}": "x" for k in range(6)},
    )
    rs.relevance.loc[("tr_emp1", "item")] = [1, 1, 1, 1, 2, 4]
    rs.relevance.loc[("tr_emp2", "item")] = [4, 4, 4, 4, 2, 2]
    res = content_validity(rs, allyship_pool)
    assert res.decisions.loc["tr_emp1", "decision"] == "drop"
    assert res.decisions.loc["tr_emp2", "decision"] == "revise"
    pool = parse_pool(res.revised_pool_yaml())
    assert "tr_emp1" not in pool.item_ids and len(pool.items) == 99
    assert pool.item("tr_emp2").notes.startswith("content review: revise (I-CVI 4/6")
    assert pool.item("aw_slf4").keep == allyship_pool.item("aw_slf4").keep
    kept = [it for it in allyship_pool.items if it.id != "tr_emp1"]
    assert [(i.id, i.text, i.informant_text, i.reverse, i.facet) for i in pool.items] == [
        (i.id, i.text, i.informant_text, i.reverse, i.facet) for i in kept
    ]
    assert pool.scale == allyship_pool.scale and pool.forms == allyship_pool.forms


def test_forms_are_analysed_separately(tmp_path, mini_pool):
    rows = []
    for r in ("a", "b", "c"):
        for iid in mini_pool.item_ids:
            rows.append({"rater": r, "item": iid, "form": "self", "relevance": 4})
            rows.append({"rater": r, "item": iid, "form": "informant", "relevance": 1 if iid == "a2" else 4})
    pd.DataFrame(rows).to_csv(tmp_path / "f.csv", index=False)
    res = content_validity([tmp_path / "f.csv"], mini_pool)
    assert set(res.scale) == {"self", "informant"}
    assert res.decisions.loc["a2", "decision"] == "drop"
    assert res.decisions.loc["a2", "reason"].startswith("informant: I-CVI 0/3")
    assert res.scale["self"]["s_cvi_ave"] == 1.0


def test_validate_adds_the_content_section(tmp_path, mini_pool):
    import allyscale as al

    rng = np.random.default_rng(5)
    for k in range(5):
        filled(mini_pool, f"e{k}", rng).to_csv(tmp_path / f"e{k}.csv", index=False)
    data = al.simulate(al.PopulationModel.from_pool(mini_pool), n=200, seed=3)
    report = al.validate(data, pool=mini_pool, content_ratings=sorted(tmp_path.glob("e*.csv")))
    sec = report.section("content")
    assert report.sections[0].id == "content" and sec.status in ("ok", "warning")
    assert sec.numbers["n_raters"] == 5 and sec.numbers["decisions"]["keep"] == len(mini_pool.items)
    assert "content_decisions" in report.tables()


def test_result_summary_html_and_dict_escape_and_serialise(tmp_path, mini_pool):
    import json

    s = rating_sheet(mini_pool, "relevance", rater="<b>x</b>")
    s["relevance"] = 2
    s.to_csv(tmp_path / "x.csv", index=False)
    res = content_validity([tmp_path / "x.csv"], mini_pool)
    assert "<b>x</b>" not in res._repr_html_()
    json.dumps(res.to_dict(), allow_nan=False)
    assert "drop 18" in res.summary()


def test_allyship_pool_loads_with_its_review_notes():
    pool = load_pool(ALLYSHIP_POOL)
    assert dict(pool.item("aw_slf4").keep)["inner_state"].startswith("Performing allyship")


def test_cli_sheet_bad_output_exits_2_and_refuses_the_pool(tmp_path):
    proc = run("content", "sheet", "--pool", MINI_POOL, "--out", tmp_path / "sheet.txt")
    assert proc.exit_code == 2 and "error: " in proc.output and ".xlsx or .csv" in proc.output
    assert not (tmp_path / "sheet.txt").exists()
    copy = tmp_path / "pool.csv"
    copy.write_text(MINI_POOL.read_text())
    proc = run("content", "sheet", "--pool", copy, "--out", copy)
    assert proc.exit_code == 2 and copy.read_text() == MINI_POOL.read_text()


def test_each_form_sheet_rates_the_two_wordings_separately(tmp_path, mini_pool):
    s = rating_sheet(mini_pool, "relevance", form="each", rater="kai")
    assert len(s) == 2 * len(mini_pool.items) and list(s["form"][:2]) == ["self", "informant"]
    assert s.loc[1, "text"] == mini_pool.items[0].informant_text
    s["relevance"] = 4
    s.loc[(s["item"] == "a3") & (s["form"] == "informant"), "relevance"] = 1
    s.to_csv(tmp_path / "k.csv", index=False)
    s2 = s.assign(rater="lu")
    s2.to_csv(tmp_path / "l.csv", index=False)
    res = content_validity([tmp_path / "k.csv", tmp_path / "l.csv"], mini_pool)
    assert set(res.scale) == {"self", "informant"}
    assert res.decisions.loc["a3", "decision"] == "drop" and res.decisions.loc["a3", "reason"].startswith("informant")
    srt = rating_sheet(mini_pool, "sort", form="each", seed=4)
    assert sorted(zip(srt["item"], srt["form"])) == sorted(
        (i, f) for i in mini_pool.item_ids for f in ("self", "informant")
    )


def test_cli_cutoff_overrides(tmp_path, mini_pool):
    for k in range(6):  # 5 of 6 raters find a1 relevant: kappa* .82, kept by default, revised with kappa_keep=.9
        s = rating_sheet(mini_pool, "relevance", rater=f"r{k}")
        s["relevance"] = 4
        if k == 0:
            s.loc[s["item"] == "a1", "relevance"] = 1
        s.to_csv(tmp_path / f"r{k}.csv", index=False)
    files = sorted(tmp_path.glob("r*.csv"))
    assert "[revise] a1" not in run("content", "analyze", *files, "--pool", MINI_POOL, "--out", tmp_path / "o1").output
    res = run("content", "analyze", *files, "--pool", MINI_POOL, "--out", tmp_path / "o2", "--cutoff", "kappa_keep=0.9")
    assert res.exit_code == 0 and "[revise] a1" in res.output
    bad = run("content", "analyze", *files, "--pool", MINI_POOL, "--out", tmp_path / "o3", "--cutoff", "kapa=1")
    assert bad.exit_code == 2 and "unknown cutoff" in bad.output and not (tmp_path / "o3").exists()
    bad = run("content", "analyze", *files, "--pool", MINI_POOL, "--out", tmp_path / "o4", "--cutoff", "kappa_keep")
    assert bad.exit_code == 2 and "NAME=VALUE" in bad.output


def test_informant_rating_of_an_item_without_informant_wording(tmp_path):
    pool = parse_pool(
        "name: t\nresponse_scale: {min: 1, max: 5}\nfactors:\n  - id: f1\n    items:\n"
        '      - {id: x1, text: "I listen."}\n      - {id: x2, text: "I ask."}\n'
    )
    pd.DataFrame({"rater": "r", "item": ["x1"], "form": ["informant"], "relevance": [4]}).to_csv(
        tmp_path / "f.csv", index=False
    )
    with pytest.raises(DataError, match=r"f\.csv: line 2: rater 'r', item 'x1': rated in the informant form"):
        read_ratings([tmp_path / "f.csv"], pool)


def test_validate_command_takes_content_ratings(tmp_path, mini_pool):
    import json

    from click.testing import CliRunner
    from conftest import MINI_POOL

    import allyscale as al
    from allyscale.cli import main

    rng = np.random.default_rng(5)
    for k in range(5):
        filled(mini_pool, f"e{k}", rng).to_csv(tmp_path / f"e{k}.csv", index=False)
    al.simulate(al.PopulationModel.from_pool(mini_pool), n=200, seed=3).to_csv(tmp_path / "d.csv", index=False)
    args = ["validate", str(tmp_path / "d.csv"), "--pool", str(MINI_POOL), "--out", str(tmp_path / "rep")]
    for k in range(5):
        args += ["--content-ratings", str(tmp_path / f"e{k}.csv")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert res["sections"]["content"]["numbers"]["n_raters"] == 5
    r = CliRunner().invoke(
        main,
        [
            "validate",
            str(tmp_path / "d.csv"),
            "--model",
            str(tmp_path / "m.lav"),
            "--content-ratings",
            str(tmp_path / "e0.csv"),
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert r.exit_code == 2
