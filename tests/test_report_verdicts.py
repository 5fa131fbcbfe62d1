"""The report's verdicts (issue: trustworthy verdicts): the fit verdict and the preferred structure in the
Conclusion and results.json, the scaled test in the prose, a reference list that holds every cited work."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import allyscale as al
from allyscale.cli import main
from allyscale.report.references import REFERENCES, cited, missing, reference_list


def _rows(table: dict) -> list[dict]:
    """A results.json table ({columns, index, data}) as records."""
    return [dict(zip(table["columns"], row)) for row in table["data"]]


@pytest.fixture(scope="module")
def report_250(tmp_path_factory):
    # the reproduction: allyscale simulate --pool item_pools/allyship.yaml --n 250 --seed 5 --out sim250.csv
    #                   allyscale validate sim250.csv --pool item_pools/allyship.yaml --out r250
    tmp = tmp_path_factory.mktemp("r250")
    runner = CliRunner()
    r = runner.invoke(
        main,
        [
            "simulate",
            "--pool",
            "item_pools/allyship.yaml",
            "--n",
            "250",
            "--seed",
            "5",
            "--out",
            str(tmp / "sim250.csv"),
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        main, ["validate", str(tmp / "sim250.csv"), "--pool", "item_pools/allyship.yaml", "--out", str(tmp / "r250")]
    )
    assert r.exit_code in (0, 1), r.output
    return json.loads((tmp / "r250" / "results.json").read_text())


def test_true_model_is_accepted_in_the_report(report_250):
    v = report_250["verdict"]["fit"]
    assert v["model"] == "correlated" and v["accepted"] is True
    assert v["policy"]["rule"] == "exact"
    test = v["statistics"]["test"]
    assert test["name"] == "chisq.scaled" and test["df"] == 4835 and test["pvalue"] > 0.05
    conclusion = " ".join(report_250["sections"]["conclusion"]["paragraphs"])
    assert "The correlated model is accepted" in conclusion
    assert "meets 2 of 4" not in conclusion
    # the prose gives the scaled test statistic and says which it is
    cfa_text = " ".join(report_250["sections"]["cfa"]["paragraphs"])
    assert "scaled-shifted χ²(4835)" in cfa_text


def test_preferred_structure_is_named_with_its_reason(report_250):
    pref = report_250["verdict"]["preferred_structure"]
    # equal factor correlations in the simulated population: the second-order model is exact and simpler
    assert pref["model"] == "second_order"
    conclusion = " ".join(report_250["sections"]["conclusion"]["paragraphs"])
    assert "the preferred structure is second_order" in conclusion
    pairs = {(r["model0"], r["model1"]) for r in _rows(report_250["sections"]["cfa"]["tables"]["cfa_difference_tests"])}
    assert ("correlated", "bifactor") not in pairs and ("bifactor", "facets") not in pairs
    # the facets model's non-positive-definite latent matrix is reported as a finding
    assert any("facets of one category are not separable" in p for p in report_250["sections"]["cfa"]["paragraphs"])


def test_every_cited_work_is_in_the_reference_list(report_250):
    texts = [
        t
        for s in report_250["sections"].values()
        for t in s["paragraphs"]
        + [x["note"] or "" for x in s["tables"].values()]
        + [f["caption"] for f in s.get("figures", {}).values()]
    ]
    refs = [r["reference"] for r in _rows(report_250["sections"]["methods"]["tables"]["references"])]
    keys = cited(texts)
    for work in ["Cronbach", "Curran", "Dunn", "Johnson", "Jorgensen", "Lorenzo-Seva", "Meade", "Nunnally", "Roemer"]:
        assert any(k[0] == work for k in keys), work
    assert missing(texts) == []
    for surname, year in keys:
        assert any(r.startswith(surname) and f"({year})" in r for r in refs), (surname, year)
    # and nothing uncited (the pool's source, Hinger et al., 2023, is listed as the items' source)
    source = al.load_pool("item_pools/allyship.yaml").source
    assert source in refs
    assert sorted(refs) == sorted(reference_list(texts, [source]))


def test_citation_finder():
    text = (
        "as Hu and Bentler's (1999) cutoffs; omega (McDonald, 1999; Zinbarg et al., 2005); the Fornell-Larcker "
        "(1981) criterion; Wu and Estabrook (2016); (Green & Yang, 2009); Lorenzo-Seva & ten Berge, 2006"
    )
    assert cited([text]) == {
        ("Hu", "1999"),
        ("McDonald", "1999"),
        ("Zinbarg", "2005"),
        ("Fornell", "1981"),
        ("Wu", "2016"),
        ("Green", "2009"),
        ("Lorenzo-Seva", "2006"),
    }
    assert missing(["Nobody (1901) said so"]) == [("Nobody", "1901")]
    assert all(k in REFERENCES for k in cited([text]))
