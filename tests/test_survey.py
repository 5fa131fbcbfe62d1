"""Reading survey exports: formats give identical data; every bad cell is named."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from allyscale import simulate
from allyscale.errors import DataError, DataWarning
from allyscale.survey import parse_missing_codes, read_responses


@pytest.fixture(scope="module")
def answers(mini_pool):
    data = simulate(mini_pool, 40, seed=5)
    data.insert(0, "pid", [f"p{i:03d}" for i in range(len(data))])
    return data


def _qualtrics(path, frame, labels):
    meta = ["StartDate", "Finished", "ResponseId"]
    header = meta + list(frame.columns)
    lines = [
        ",".join(header),
        ",".join(["Start Date", "Finished", "Response ID"] + [f'"{labels.get(c, c)}"' for c in frame.columns]),
        ",".join(
            ['"{""ImportId"":""startDate""}"', '"{""ImportId"":""finished""}"', '"{""ImportId"":""_recordId""}"']
            + [f'"{{""ImportId"":""QID{i}""}}"' for i in range(len(frame.columns))]
        ),
    ]
    for i, row in enumerate(frame.itertuples(index=False)):
        lines.append(",".join(["2026-11-01 10:00:00", "True", f"R_{i}"] + [str(v) for v in row]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_csv_tsv_xlsx_sav_and_qualtrics_give_identical_items(tmp_path, answers, mini_pool):
    import pyreadstat

    items = mini_pool.item_ids
    answers.to_csv(tmp_path / "d.csv", index=False)
    answers.to_csv(tmp_path / "d.tsv", index=False, sep="\t")
    answers.to_excel(tmp_path / "d.xlsx", index=False)
    labels = {"a1": "I listen to others.", "b1": "I speak up about unfair treatment."}
    scale = {1: "Strongly disagree", 5: "Strongly agree"}
    pyreadstat.write_sav(
        answers,
        str(tmp_path / "d.sav"),
        column_labels={c: labels.get(c, c) for c in answers},
        variable_value_labels={i: scale for i in items},
    )
    _qualtrics(tmp_path / "q.csv", answers, labels)
    frames = {
        name: read_responses(tmp_path / name, mini_pool) for name in ("d.csv", "d.tsv", "d.xlsx", "d.sav", "q.csv")
    }
    base = frames["d.csv"][items]
    assert base.dtypes.eq(float).all() and len(base) == 40
    np.testing.assert_array_equal(base.to_numpy(), answers[items].to_numpy(dtype=float))
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame[items], base, obj=name)
        assert list(frame["pid"]) == list(answers["pid"])
    assert frames["q.csv"].attrs["format"] == "qualtrics"
    assert frames["q.csv"].attrs["read_report"].header_rows_dropped == 2
    assert frames["q.csv"].attrs["variable_labels"]["b1"] == "I speak up about unfair treatment."
    assert frames["d.sav"].attrs["variable_labels"]["a1"] == "I listen to others."
    assert frames["d.sav"].attrs["value_labels"]["a1"][5.0] == "Strongly agree"


def test_same_data_in_every_format_gives_identical_analysis(tmp_path, mini_pool):
    import pyreadstat

    from allyscale import cfa, reliability

    data = simulate(mini_pool, 250, seed=11)
    data.to_csv(tmp_path / "d.csv", index=False)
    pyreadstat.write_sav(data, str(tmp_path / "d.sav"))
    _qualtrics(tmp_path / "q.csv", data, {})
    data.to_excel(tmp_path / "d.xlsx", index=False)
    model = mini_pool.model_syntax("correlated")
    fits = {}
    for name in ("d.csv", "d.sav", "q.csv", "d.xlsx"):
        frame = read_responses(tmp_path / name, mini_pool)
        fits[name] = (cfa(frame, model, estimator="MLR").fit_measures, reliability(frame, model, pool=mini_pool).table)
    for name, (fm, rel) in fits.items():
        for k in ("chisq", "chisq.scaled", "cfi.robust", "rmsea", "srmr"):
            assert fm[k] == fits["d.csv"][0][k], (name, k)
        pd.testing.assert_frame_equal(rel, fits["d.csv"][1], obj=name)


def test_missing_codes_become_missing_and_are_counted(tmp_path):
    (tmp_path / "d.csv").write_text("id,x1,x2,x3\n1,1,2,3\n2,-99,4,999\n3,2,-99,4\n4,5,5,5\n")
    frame = read_responses(tmp_path / "d.csv", items=["x1", "x2", "x3"], missing="-99,999", scale=(1, 5))
    rep = frame.attrs["read_report"]
    assert frame[["x1", "x2", "x3"]].isna().sum().tolist() == [1, 1, 1]
    assert rep.code_counts == {-99.0: {"x1": 1, "x2": 1}, 999.0: {"x3": 1}}
    assert rep.n_coded_missing == 3
    assert "missing-value code -99: 2 cell(s)" in rep.summary()
    assert json.loads(json.dumps(rep.to_dict()))["code_counts"]["999"] == {"x3": 1}
    assert parse_missing_codes([-99, "8"]) == [-99.0, 8.0]
    with pytest.raises(DataError, match="'abc' is not a number"):
        parse_missing_codes("-99,abc")


@pytest.mark.parametrize(
    "content, match",
    [
        ("id,x1,x2\n1,1,2\n2,three,4\n", r"column 'x1': not a number: row 2 \[line 3\] = 'three'"),
        ("id,x1,x2\n1,1,2\n2,3,7\n", r"column 'x2': outside the response scale 1-5: row 2 \[line 3\] = '7'"),
        ("id,x1,x2\n1,1,2.5\n2,3,4\n", r"column 'x2': not a point of the response scale 1-5: row 1 \[line 2\] = '2.5'"),
        ("id,x1,x2\n\n1,1,2\n\n2,-99,4\n", r"column 'x1': outside the response scale 1-5: row 2 \[line 5\] = '-99'"),
        ("id,x1,x1\n1,1,2\n", r"duplicate column name\(s\) 'x1'"),
        ("id,x1\n1,1\n", r"1 of the requested items are not columns of the file: x2"),
        ("", r"the file is empty"),
        ("id,x1,x2\n", r"no data rows"),
        ("id,x1,x2\n1,,3\n2,,4\n", r"no answer at all: x1"),
        ("id,x1,x2\n1,2,3,4,5\n", r"line 2 has 5 fields but the header has 3"),
    ],
)
def test_bad_cells_are_named(tmp_path, content, match):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=match) as info:
        read_responses(path, items=["x1", "x2"], scale=(1, 5))
    assert str(path) in str(info.value)


def test_invalid_cells_as_missing_are_warned_and_reported(tmp_path):
    (tmp_path / "d.csv").write_text("id,x1,x2\n1,1,2\n2,three,9\n3,4,4\n")
    with pytest.warns(DataWarning, match="2 invalid cell"):
        frame = read_responses(tmp_path / "d.csv", items=["x1", "x2"], scale=(1, 5), invalid="missing")
    assert frame["x1"].isna().tolist() == [False, True, False]
    assert frame["x2"].isna().tolist() == [False, True, False]
    inv = frame.attrs["read_report"].invalid
    assert [(d["column"], d["row"], d["value"]) for d in inv] == [("x1", 2, "three"), ("x2", 2, "9")]


def test_pool_items_missing_from_file_are_listed(tmp_path, mini_pool):
    (tmp_path / "d.csv").write_text("a1,a2\n1,2\n")
    with pytest.raises(DataError, match=r"of the pool's items are not columns of the file: a3, a4"):
        read_responses(tmp_path / "d.csv", mini_pool)


def test_unreadable_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_responses(tmp_path / "none.csv")
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(DataError, match="unknown file type '.json'"):
        read_responses(tmp_path / "d.json")
    (tmp_path / "d.xlsx").write_text("not a workbook")
    with pytest.raises(DataError, match="cannot read as an Excel"):
        read_responses(tmp_path / "d.xlsx")
    (tmp_path / "d.sav").write_bytes(b"\x00\x01garbage")
    with pytest.raises(DataError, match="cannot read as an SPSS"):
        read_responses(tmp_path / "d.sav")


def test_spss_user_missing_values(tmp_path):
    import pyreadstat

    frame = pd.DataFrame({"x1": [1.0, 2.0, 9.0, 3.0], "x2": [2.0, 8.0, 3.0, 4.0]})
    pyreadstat.write_sav(frame, str(tmp_path / "d.sav"), missing_ranges={"x1": [9], "x2": [{"lo": 8, "hi": 9}]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = read_responses(tmp_path / "d.sav", items=["x1", "x2"], scale=(1, 5))
    assert out["x1"].isna().tolist() == [False, False, True, False]
    assert out["x2"].isna().tolist() == [False, True, False, False]
    assert out.attrs["read_report"].user_missing == {"x1": 1, "x2": 1}


def test_unnamed_extra_columns_are_allowed(tmp_path):
    # spreadsheets often carry trailing empty columns; they cannot be items, so they are not duplicates
    (tmp_path / "d.csv").write_text("id,x1,x2,,\n1,1,2,,\n2,3,4,,\n")
    frame = read_responses(tmp_path / "d.csv", items=["x1", "x2"], scale=(1, 5))
    assert frame[["x1", "x2"]].to_numpy().tolist() == [[1, 2], [3, 4]]
    assert list(frame.columns[-2:]) == ["unnamed_4", "unnamed_5"]


# ---------------------------------------------------------------- encodings, delimiters, rows, cells
def test_utf16_files_read_identically(tmp_path, answers, mini_pool):
    ref = tmp_path / "utf8.csv"
    answers.to_csv(ref, index=False)
    expected = read_responses(ref, mini_pool)
    for enc in ("utf-16", "utf-16-le", "utf-16-be"):
        path = tmp_path / f"{enc}.csv"
        path.write_bytes(ref.read_text().encode(enc))
        got = read_responses(path, mini_pool)
        pd.testing.assert_frame_equal(got[mini_pool.item_ids], expected[mini_pool.item_ids])
        assert got["pid"].tolist() == expected["pid"].tolist()


def test_semicolon_separated_csv_is_named_as_such(tmp_path, answers, mini_pool):
    path = tmp_path / "semi.csv"
    answers.to_csv(path, index=False, sep=";")
    with pytest.raises(DataError, match="is the file semicolon-separated"):
        read_responses(path, mini_pool)
    mixed = tmp_path / "mixed.csv"
    answers.to_csv(mixed, index=False)
    lines = mixed.read_text().splitlines()
    lines[3] = lines[3].replace(",", ";", 3)  # a row with fewer fields, separated by semicolons
    mixed.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 4 has \d+ field\(s\) but the header has 19.*semicolon"):
        read_responses(mixed, mini_pool)


def test_short_row_is_an_error_like_a_long_one(tmp_path, answers, mini_pool):
    path = tmp_path / "short.csv"
    answers.to_csv(path, index=False)
    lines = path.read_text().splitlines()
    lines[5] = lines[5].rsplit(",", 2)[0]  # the last two answers of data row 5 are cut off
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"short\.csv: line 6 has 17 field\(s\) but the header has 19"):
        read_responses(path, mini_pool)


@pytest.mark.parametrize(
    "value, reason",
    [("inf", "not a finite number"), ("-inf", "not a finite number"), ("1e308", "too large to be an answer")],
)
def test_non_finite_and_absurd_values_are_invalid_cells(tmp_path, answers, value, reason):
    frame = answers.astype(object).copy()
    frame.loc[2, "b3"] = value
    path = tmp_path / "v.csv"
    frame.to_csv(path, index=False)
    items = [c for c in answers.columns if c != "pid"]
    with pytest.raises(DataError, match=rf"column 'b3': {reason}.*row 3 \[line 4\] = '{value}'"):
        read_responses(path, items=items)
    with pytest.warns(DataWarning):
        got = read_responses(path, items=items, invalid="missing")
    assert np.isnan(got.loc[2, "b3"]) and got["b3"].notna().sum() == len(answers) - 1


def test_missing_codes_must_be_finite():
    with pytest.raises(DataError, match="missing-value code 'inf' is not a finite number"):
        parse_missing_codes("-99,inf")


def test_xlsx_formula_without_saved_value_is_an_error(tmp_path, answers, mini_pool):
    import openpyxl

    path = tmp_path / "f.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(answers.columns))
    for row in answers.itertuples(index=False):
        ws.append(list(row))
    ws["C5"] = "=B5+1"  # written by a program: the formula, no cached result
    wb.save(path)
    with pytest.raises(DataError, match=r"1 formula cell\(s\) without a saved value: C5 \(column 'a2'\)"):
        read_responses(path, mini_pool)


def test_identical_and_dependent_items_are_named(answers, mini_pool):
    from allyscale.survey import linear_dependencies

    frame = answers[mini_pool.item_ids].astype(float)
    assert linear_dependencies(frame, mini_pool.item_ids) == []
    copy = frame.assign(a2=frame["a1"])
    assert linear_dependencies(copy, mini_pool.item_ids) == [
        "items a1, a2 are identical in all 40 complete rows (a copied column?)"
    ]
    summed = frame.assign(b3=frame["b1"] + frame["b2"])
    (msg,) = linear_dependencies(summed, mini_pool.item_ids)
    assert msg.startswith("items b1, b2, b3 are linearly dependent")
