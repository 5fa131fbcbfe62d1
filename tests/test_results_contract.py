"""Every public result passes one contract (allyscale.results): summary as text/HTML/LaTeX from one printer,
to_dict round-trips through JSON, to_frame is a plain DataFrame, diagnostics present, user text escaped."""

from __future__ import annotations

import html
import importlib
import pkgutil

import numpy as np
import pandas as pd
import pytest
from contract import HOSTILE, check_contract

import allyscale as al
from allyscale.results import Result, Summary, jsonable, latex_escape


@pytest.fixture(scope="module")
def likert():
    """Four-category answers of 300 respondents to six items in two factors; one item named hostilely."""
    rng = np.random.default_rng(7)
    f = rng.standard_normal((300, 2)) @ np.linalg.cholesky([[1, 0.4], [0.4, 1]]).T
    x = np.column_stack([0.7 * f[:, j // 3] + 0.71 * rng.standard_normal(300) for j in range(6)])
    cats = np.digitize(x, [-1.0, 0.0, 1.0]) + 1
    return pd.DataFrame(cats, columns=["a1", "a2", HOSTILE, "b1", "b2", "b3"]).astype(float)


@pytest.fixture(scope="module")
def hs(hs_data):
    return hs_data


MODEL3 = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


@pytest.fixture(scope="module")
def hs_fit(hs):
    return al.cfa(hs, MODEL3, estimator="ML")


def test_summary_printer_escapes_in_one_place():
    s = Summary(f"Title {HOSTILE}").text(f"line {HOSTILE}", strong=True)
    s.table(
        pd.DataFrame({HOSTILE: [0.5, np.nan], "n": [3.0, 10.0]}, index=[HOSTILE, "b"]),
        title=HOSTILE,
        note=f"note {HOSTILE} 50% _x_",
    )
    text, page, tex = s.as_text(), s.as_html(), s.as_latex()
    assert HOSTILE in text and "NA" in text and "Note. note" in text
    assert HOSTILE not in page and page.count(html.escape(HOSTILE)) == 6
    assert HOSTILE not in tex and tex.count(latex_escape(HOSTILE)) == 6 and r"50\% \_x\_" in tex
    assert r"\toprule" in tex and r"\bottomrule" in tex
    # whole-number float columns print without decimals, others with the block's digits
    assert "  3" in text and "0.500" in text
    assert f"line {HOSTILE}" in s and "absent" not in s


def test_jsonable_is_plain_json():
    value = {
        ("a", "b"): np.float64("nan"),
        "m": np.arange(3),
        "t": (np.int64(1), np.bool_(True)),
        "f": pd.DataFrame({"x": [1.0, np.inf]}, index=["r1", "r2"]),
        "s": pd.Series({"k": np.float32(0.5)}),
    }
    out = jsonable(value)
    assert out == {"('a', 'b')": None, "m": [0, 1, 2], "t": [1, True], "f": [{"x": 1.0}, {"x": None}], "s": {"k": 0.5}}
    assert jsonable(value["f"], frames="index") == {"r1": {"x": 1.0}, "r2": {"x": None}}


def test_cfa_compare_and_verdicts(hs, hs_fit):
    check_contract(hs_fit)
    one = "g =~ " + " + ".join(f"x{i}" for i in range(1, 10))
    cmp = al.compare(hs, {"one": one, "three": MODEL3}, estimator="ML")
    check_contract(cmp)
    check_contract(cmp.choice)
    check_contract(cmp.verdicts["three"])
    assert "Preferred structure: three" in cmp.summary()
    assert cmp.to_dict()["preferred"] == "three"


def test_cfa_group_labels_are_escaped(hs):
    d = hs.assign(school=hs["school"].map({"Pasteur": HOSTILE, "Grant-White": "GW"}))
    fit = al.cfa(d, MODEL3, estimator="ML", group="school")
    check_contract(fit, user_text=HOSTILE)


def test_invariance(hs):
    res = al.invariance(
        hs.assign(school=hs["school"].map({"Pasteur": "P", "Grant-White": "GW"})),
        MODEL3,
        group="school",
        estimator="ML",
    )
    check_contract(res)
    assert res.to_frame().index[0] == "configural"


def test_reliability_results(likert, hs):
    model = f"fa =~ a1 + a2 + {HOSTILE}\nfb =~ b1 + b2 + b3".replace(HOSTILE, "a3")
    data = likert.rename(columns={HOSTILE: "a3"})
    rel = al.reliability(data, model, estimator="ML")
    check_contract(rel)
    assert list(rel.to_frame().index) == ["fa", "fb", "total"] and not rel.table.attrs
    check_contract(al.alpha(likert), user_text=HOSTILE)
    check_contract(al.split_half(likert), user_text=None)
    check_contract(al.omega(hs[[f"x{i}" for i in range(1, 10)]], 3))
    check_contract(al.icc(likert[["a1", "a2"]]))
    check_contract(al.fornell_larcker(hs, MODEL3, estimator="ML"))
    both = al.scale_reliability(hs, MODEL3, estimator="ML")
    check_contract(both)
    assert both.omega.n_factors == 3 and both.to_dict()["reliability"]["visual"]["n_items"] == 3


def test_bifactor_indices():
    from allyscale.reliability import bifactor_indices

    load = pd.DataFrame(
        {"g": [0.6] * 6, "s1": [0.4, 0.4, 0.4, 0, 0, 0], "s2": [0, 0, 0, 0.4, 0.4, 0.4]},
        index=[f"i{k}" for k in range(6)],
    )
    check_contract(bifactor_indices(load, "g"))


def test_exploratory_results(likert):
    e = al.efa(likert, 2, rotation="oblimin")
    check_contract(e, user_text=HOSTILE)
    check_contract(al.parallel_analysis(likert, n_iter=20, seed=1), user_text=None)
    check_contract(al.map_test(likert))
    from allyscale.retention import ekc

    check_contract(ekc(likert))
    check_contract(al.kmo(likert), user_text=HOSTILE)
    check_contract(al.bartlett(likert))
    check_contract(al.polychoric(likert), user_text=HOSTILE)
    check_contract(al.schmid_leiman(al.efa(likert, 2, rotation="oblimin")))


def _result_classes() -> set[type]:
    for mod in pkgutil.walk_packages(al.__path__, "allyscale."):
        if mod.name.startswith("allyscale.cli"):
            continue
        importlib.import_module(mod.name)
    found: set[type] = set()
    todo = list(Result.__subclasses__())
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return {c for c in found if c.__module__.startswith("allyscale.")}


#: the classes the tests in this file build and check
COVERED = {
    "CFAResult",
    "CompareResult",
    "FitVerdict",
    "StructureChoice",
    "InvarianceResult",
    "ReliabilityResult",
    "AlphaResult",
    "SplitHalfResult",
    "OmegaResult",
    "ICCResult",
    "FornellLarckerResult",
    "BifactorResult",
    "EFAResult",
    "ParallelResult",
    "MAPResult",
    "EKCResult",
    "KMOResult",
    "BartlettResult",
    "PolychoricResult",
    "SchmidLeiman",
    "ScaleReliability",
}


def test_every_result_class_is_checked():
    import test_results_contract_more as more

    covered = COVERED | {c if isinstance(c, str) else c.__name__ for c in more.COVERED}
    unchecked = sorted(c.__name__ for c in _result_classes() if c.__name__ not in covered)
    assert not unchecked, f"result classes without a contract test: {unchecked}"


def test_public_results_implement_the_contract():
    """Every public *Result name is a Result, and so is every class a public function is annotated to return."""
    import inspect
    import types
    import typing

    from allyscale.pool import ItemPool
    from allyscale.sem import CFAResult

    names = [n for n in al.__all__ if n.endswith("Result") or n in ("ReadReport",)]
    for n in names:
        assert issubclass(getattr(al, n), Result), n
    checked = 0
    for n in al.__all__:
        obj = getattr(al, n)
        if isinstance(obj, types.ModuleType):  # a module named like its function calls that function
            obj = obj.__wrapped__
        if not inspect.isfunction(obj):
            continue
        # names some modules import for annotations only (TYPE_CHECKING) are given here
        ret = typing.get_type_hints(obj, localns={"ItemPool": ItemPool, "CFAResult": CFAResult}).get("return")
        if isinstance(ret, type) and ret.__module__.startswith("allyscale."):
            checked += 1
            assert issubclass(ret, Result) or not hasattr(ret, "summary"), f"{n} returns {ret.__name__}"
    assert checked >= 25


def test_to_docx_writes_the_summary_tables(hs_fit, tmp_path):
    import docx

    path = hs_fit.to_docx(tmp_path / "fit.docx")
    doc = docx.Document(str(path))
    assert len(doc.tables) == 2  # fit measures and parameter estimates
    assert doc.tables[1].rows[0].cells[0].text == "lhs" and len(doc.tables[1].rows) == len(hs_fit.estimates) + 1
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "Confirmatory factor analysis (ML), N = 301" in text and "Parameter estimates" in text
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file, nothing left behind


def test_jupyter_tables_use_the_report_table_style():
    """The summary's HTML carries the report's APA table rules (template: allyscale/report/templates)."""
    import re
    from pathlib import Path

    from allyscale.results import TABLE_CSS

    template = (Path(al.__file__).parent / "report" / "templates" / "report.html.j2").read_text(encoding="utf-8")
    page = Summary("t").table(pd.DataFrame({"a": [1.0]})).as_html()
    assert '<table class="apa">' in page and TABLE_CSS in page
    for rule in ("border-top: 2px solid #111", "border-bottom: 1px solid #111", "text-align: right"):
        assert rule in template and rule.replace(": ", ":") in TABLE_CSS, rule
    assert re.search(r"font-family: \"Times New Roman\"", template) and "'Times New Roman'" in TABLE_CSS


def test_esem_result(hs):
    model = 'efa("b")*f1 + efa("b")*f2 + efa("b")*f3 =~ ' + " + ".join(f"x{i}" for i in range(1, 10))
    fit = al.cfa(hs, model, estimator="ML", rotation="geomin")
    check_contract(fit)
    assert "Exploratory SEM" in fit.summary() and "Rotated standardized loadings" in fit.summary()
    assert fit.to_dict()["fit_measures"]["df"] == 12


COVERED.add("ESEMResult")
