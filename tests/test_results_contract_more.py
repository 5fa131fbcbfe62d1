"""Every public result of the validity, screening, pairs, survey, MTMM, IRT, short-form, content, DFI, Monte
Carlo and report modules passes the results contract (tests/contract.py): a :class:`allyscale.results.Result`
with one printer (text, HTML, LaTeX), a tidy ``to_frame()``, plain-JSON ``to_dict()`` and a ``diagnostics``
dict, and user text (an item, group, study or rater name) escaped in HTML and LaTeX."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import MINI_POOL
from contract import HOSTILE, check_contract

import allyscale as al


@pytest.fixture(scope="module")
def responses(mini_pool) -> pd.DataFrame:
    """300 simulated answers to the mini pool."""
    data = al.simulate(mini_pool, 300, seed=11)
    data.attrs = {}
    return data


# --------------------------------------------------------------------------- screening
def test_screen_result(responses, mini_pool):
    from allyscale.quality import ScreenResult

    data = responses.copy()
    data.insert(0, "rid", [f"r{i}" for i in range(len(data))])
    data.loc[0, mini_pool.item_ids] = 3  # a straight-liner, flagged
    data.loc[0, "rid"] = HOSTILE
    res = al.screen(data, mini_pool, id_column="rid")
    assert isinstance(res, ScreenResult) and res.persons.loc[0, "id"] == HOSTILE
    check_contract(res, user_text=HOSTILE)
    assert "Flagged respondents" in str(res.summary())


# --------------------------------------------------------------------------- validity beyond structure
VALIDITY = Path(__file__).parent / "reference" / "validity_ext"
MODEL2 = "ally_a =~ a1 + a2 + a3 + a4\nally_b =~ b1 + b2 + b3 + b4"


@pytest.fixture(scope="module")
def validity_data() -> pd.DataFrame:
    return pd.read_csv(VALIDITY / "data.csv")


def test_latent_correlation_result(validity_data):
    from allyscale.validity_ext import LatentCorrelationResult

    d = validity_data.assign(**{HOSTILE: validity_data["sds_total"]})
    res = al.latent_correlations(d, MODEL2, {HOSTILE: HOSTILE}, expect={HOSTILE: "< .5"}, estimator="ML")
    assert isinstance(res, LatentCorrelationResult)
    check_contract(res, user_text=HOSTILE)
    assert set(res.to_frame()["external"]) == {HOSTILE}


def test_incremental_validity_result(validity_data):
    from allyscale.validity_ext import IncrementalValidityResult

    d = validity_data.rename(columns={"y": HOSTILE})
    res = al.incremental_validity(d, outcome=HOSTILE, baseline=["sds_total"], added=["ally_a", "ally_b"], model=MODEL2)
    assert isinstance(res, IncrementalValidityResult)
    check_contract(res, user_text=HOSTILE)
    assert res.to_dict()["steps"]["full"]["delta_r2"] == pytest.approx(res.delta_r2, rel=1e-12)


def test_known_groups_result(validity_data):
    from allyscale.validity_ext import KnownGroupsResult

    d = validity_data.assign(g=validity_data["g"].replace({"ally": HOSTILE}))
    res = al.known_groups(d, MODEL2, group="g", reference="other", latent=False)
    assert isinstance(res, KnownGroupsResult) and res.groups == ("other", HOSTILE)
    check_contract(res, user_text=HOSTILE)


def test_test_retest_result(validity_data):
    from allyscale.validity_ext import TestRetestResult

    w2 = pd.read_csv(VALIDITY / "retest.csv")
    with pytest.warns(al.DataWarning, match="no match"):  # three unmatched respondents: a note
        res = al.test_retest(validity_data, w2.iloc[3:], model=MODEL2, id="id")
    assert isinstance(res, TestRetestResult)
    # the scale names are model identifiers (no markup possible); LaTeX still escapes their underscores
    check_contract(res)
    assert "ally\\_a" in res.to_latex() and "ally_a" not in res.to_latex()
    assert "no match" in res.summary() and res.to_dict()["table"]["ally_a"]["n"] == 397


# --------------------------------------------------------------------------- paired data
def test_collapse_result():
    from allyscale.pairs import CollapseResult

    d = pd.DataFrame(
        {
            "g": ["a"] * 6 + [HOSTILE] * 6,
            "x": [1, 2, 3, 4, 4, 2, 2, 2, 3, 4, 3, 4],
            "y": [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3],
        }
    )
    res = al.collapse_categories(d, items=["x", "y"], group="g")
    assert isinstance(res, CollapseResult) and res.table["groups"].tolist() == [HOSTILE]
    check_contract(res, user_text=HOSTILE)
    assert res.to_dict()["table"] == [{"item": "x", "from": 1, "to": 2, "count": 0, "groups": HOSTILE}]
    check_contract(al.collapse_categories(d, items=["y"], group="g"))  # nothing collapsed


# --------------------------------------------------------------------------- reading survey files
def test_read_report(tmp_path):
    from allyscale.survey import ReadReport, read_responses

    (tmp_path / "d.csv").write_text(f"id,x1,x2,x3\n1,1,2,3\n2,-99,4,{HOSTILE}\n3,2,,4\n4,5,5,5\n")
    with pytest.warns(al.DataWarning, match="invalid cell"):
        frame = read_responses(
            tmp_path / "d.csv", items=["x1", "x2", "x3"], missing="-99", scale=(1, 5), invalid="missing"
        )
    rep = frame.attrs["read_report"]
    assert isinstance(rep, ReadReport)
    check_contract(rep, user_text=HOSTILE)
    assert rep.to_frame().set_index("item").loc[["x1", "x2", "x3"]].to_numpy().tolist() == [
        [0, 1, 0, 0],
        [1, 0, 0, 0],
        [0, 0, 0, 1],
    ]
    assert rep.diagnostics["warnings"][0].endswith(f"value '{HOSTILE}')")


# --------------------------------------------------------------------------- multitrait-multimethod
PAIRS = Path(__file__).parent / "reference" / "pairs"


def test_mtmm_result():
    from allyscale.mtmm import MTMMResult

    res = al.mtmm(pd.read_csv(PAIRS / "data.csv"), (PAIRS / "model.lav").read_text())
    assert isinstance(res, MTMMResult)
    check_contract(res)  # forms and items are model identifiers (no markup possible)
    tex = res.to_latex()
    assert "method\\_specificity" in tex and "method_specificity" not in tex
    assert res.to_dict()["factors"][0]["factor"] == res.factors.index[0]


# --------------------------------------------------------------------------- item response theory
def test_irt_result():
    from allyscale.irt import IRTResult, from_standardized

    items = ["i1", HOSTILE, "i3"]
    lam = pd.DataFrame({"f": [0.7, 0.6, 0.5]}, index=items)
    tau = pd.DataFrame({"t1": [-1.0, -0.5, 0.0], "t2": [0.5, 0.8, 1.2]}, index=items)
    res = from_standardized(lam, tau)
    assert isinstance(res, IRTResult)
    check_contract(res, user_text=HOSTILE)
    assert res.to_frame()["item"].tolist() == items
    assert res.to_dict()["marginal_reliability"]["f"] == pytest.approx(float(res.marginal_reliability()["f"]))


# --------------------------------------------------------------------------- short forms
@pytest.fixture(scope="module")
def short_form(responses, mini_pool):
    """Two candidates only: a5 or a6 joins the four forced items of fa."""
    return al.shorten(
        responses,
        pool=mini_pool,
        items_per_factor={"fa": 5, "fb": 6, "fc": 6},
        force_in=["a1", "a2", "a3", "a4"],
        method="exhaustive",
        seed=1,
        progress=False,
    )


def test_short_form_result(short_form):
    from allyscale.shorten import ShortFormResult

    res = short_form
    assert isinstance(res, ShortFormResult) and res.diagnostics["evaluations"] == 2
    check_contract(res)  # pool ids are identifiers (no markup possible)
    frame = res.to_frame()
    assert int((~frame["kept"]).sum()) == 1 and frame.loc[~frame["kept"]].index[0] in {"a5", "a6"}
    assert "Short vs full form" in res.summary()


# --------------------------------------------------------------------------- content validity
@pytest.fixture(scope="module")
def hostile_pool(tmp_path_factory):
    """The mini pool under a name with markup."""
    text = MINI_POOL.read_text(encoding="utf-8").replace("name: Mini test scale", f'name: "{HOSTILE}"', 1)
    path = tmp_path_factory.mktemp("pool") / "pool.yaml"
    path.write_text(text, encoding="utf-8")
    pool = al.load_pool(path)
    assert pool.name == HOSTILE
    return pool


@pytest.fixture(scope="module")
def content_result(tmp_path_factory, hostile_pool):
    from allyscale.content import content_validity, rating_sheet

    folder = tmp_path_factory.mktemp("ratings")
    for k, (rater, score) in enumerate((("<i>r1</i>", 2), ("ana", 4), ("ben", 4))):
        s = rating_sheet(hostile_pool, "relevance", rater=rater)
        s["relevance"] = score
        s.to_csv(folder / f"{k}.csv", index=False)
    return content_validity(sorted(folder.glob("*.csv")), hostile_pool)


def test_content_validity_result(content_result, mini_pool):
    from allyscale.content import ContentValidityResult

    res = content_result
    assert isinstance(res, ContentValidityResult)
    check_contract(res, user_text=HOSTILE)  # the pool's name
    check_contract(res, user_text="<i>r1</i>")  # a rater's id
    assert len(res.to_frame()) == len(mini_pool.item_ids)
    assert set(res.to_dict()["decisions"]) == set(mini_pool.item_ids)


# --------------------------------------------------------------------------- dynamic fit index cutoffs
def test_dfi_result():
    from allyscale.dfi import DFIResult
    from allyscale.simulate import PopulationModel

    data = al.simulate(PopulationModel.from_lavaan("f =~ .7*a + .6*b + .5*c + .6*d"), 300, seed=8)
    res = al.dfi(al.cfa(data, "f =~ a + b + c + d"), reps=20, seed=5)
    assert isinstance(res, DFIResult)
    check_contract(res)  # the statements hold model identifiers only (no markup possible)
    assert "level-1: " in res.summary() and "~~" not in res.to_latex()  # lavaan's operators escaped in LaTeX
    assert set(res.to_dict()["cutoffs"]) == set(res.to_frame().index)


# --------------------------------------------------------------------------- Monte Carlo studies
MC_STUDY = {
    "name": HOSTILE,
    "population": "f1 =~ .7*a1 + .7*a2 + .6*a3 + .6*a4\nf2 =~ .7*b1 + .7*b2 + .6*b3 + .6*b4\nf1 ~~ .3*f2\n",
    "analysis": {
        "models": {
            "two": "f1 =~ a1 + a2 + a3 + a4\nf2 =~ b1 + b2 + b3 + b4\n",
            "one": "g =~ a1 + a2 + a3 + a4 + b1 + b2 + b3 + b4\n",
        },
        "estimator": "ML",
    },
    "conditions": {"n": [200]},
    "reps": 2,
    "seed": 5,
}


@pytest.fixture(scope="module")
def mc_store(tmp_path_factory):
    from allyscale.montecarlo import run_study

    store = tmp_path_factory.mktemp("mc") / "study.sqlite"
    return store, run_study(MC_STUDY, store, progress=False)


def test_run_report(mc_store):
    from allyscale.montecarlo import RunReport

    store, rep = mc_store
    assert isinstance(rep, RunReport) and rep.ran == 2
    check_contract(rep)  # the store's path is shown; a study name appears only in the summary
    assert rep.diagnostics == {"failed_replications": 0, "nonconverged_fits": 0, "errors": []}
    assert rep.to_frame().loc[0, "ran"] == 2 and rep.to_dict()["total"] == 2


def test_study_summary(mc_store):
    from allyscale.montecarlo import StudySummary, summarize_study

    store, _ = mc_store
    with pytest.warns(al.StatisticalWarning, match="replications per condition"):
        s = summarize_study(store)
    assert isinstance(s, StudySummary)
    check_contract(s, user_text=HOSTILE)
    assert set(s.to_frame()["model"]) == {"two", "one"} and s.to_dict()["spec"]["name"] == HOSTILE


# --------------------------------------------------------------------------- reports
def test_validation_report(short_form):
    from allyscale.report.bundle import ValidationReport
    from allyscale.report.shortform_section import shortform_report

    rep = shortform_report(short_form, source=HOSTILE)
    assert type(rep) is ValidationReport
    check_contract(rep, user_text=HOSTILE)
    assert rep.to_frame()[["id", "status"]].values.tolist() == [[s.id, s.status] for s in rep.sections]
    assert rep.diagnostics["failed"] == [] and rep.to_dict()["meta"]["source"] == HOSTILE
    assert rep.html().startswith("<!DOCTYPE html>")  # the full report stays .html()


def test_content_report(content_result):
    from allyscale.report.content_section import ContentReport, content_report

    rep = content_report(content_result)
    assert isinstance(rep, ContentReport)
    check_contract(rep, user_text=HOSTILE)  # the pool's name, in the title
    assert rep.to_dict()["meta"]["raters"][0] == "<i>r1</i>"
    assert rep.to_frame()["id"].tolist() == ["content", "references"]


#: the result classes this file puts through the contract (``_Tables``, the shared summary of the four validity
#: results, through those four)
COVERED = {
    "_Tables",
    "ScreenResult",
    "LatentCorrelationResult",
    "IncrementalValidityResult",
    "KnownGroupsResult",
    "TestRetestResult",
    "CollapseResult",
    "ReadReport",
    "MTMMResult",
    "IRTResult",
    "ShortFormResult",
    "ContentValidityResult",
    "DFIResult",
    "RunReport",
    "StudySummary",
    "ValidationReport",
    "ContentReport",
}
