"""Content-validity indices against published worked examples and independent implementations.

References in tests/reference/content/ (make_content.R: R 4.2.2, irr 0.84.1, ValContent 0.1.0;
make_krippendorff.py: krippendorff 0.9.0 from PyPI).
"""

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE
from numpy.testing import assert_allclose
from scipy.stats import binomtest

from allyscale.content import (
    aiken_v,
    aiken_v_pvalue,
    content_validity,
    cvr,
    cvr_critical,
    cvr_critical_table,
    fleiss_kappa,
    i_cvi,
    kappa_label,
    krippendorff_alpha,
    modified_kappa,
    read_ratings,
    substantive_validity,
)
from allyscale.pool import parse_pool

REF = REFERENCE / "content"
R = json.loads((REF / "reference.json").read_text())
KD = json.loads((REF / "krippendorff.json").read_text())


@pytest.fixture(scope="module")
def panel_pool():
    """Twelve items i1..i12 in four subcategories s1..s4 (the layout of the reference panels)."""
    facets = "".join(
        f"      - id: s{f}\n        label: Sub {f}\n        items:\n"
        + "".join(
            f'          - {{id: i{i}, text: "I do thing {i}.", informant_text: "This person does thing {i}."}}\n'
            for i in range(3 * f - 2, 3 * f + 1)
        )
        for f in range(1, 5)
    )
    text = (
        "name: Panel test\nresponse_scale: {min: 1, max: 5}\nforms: {informant: {label: Informant}}\n"
        "factors:\n  - id: fa\n    label: A\n    facets:\n"
        + facets.split("      - id: s3")[0]
        + "  - id: fb\n    label: B\n    facets:\n      - id: s3"
        + facets.split("      - id: s3")[1]
    )
    return parse_pool(text)


# ------------------------------------------------------------------ published worked examples
def test_fleiss_kappa_fleiss_1971_table_1():
    """Fleiss (1971), Table 1: 30 patients, 6 psychiatrists, 5 diagnoses: kappa = .430 (also irr::kappam.fleiss)."""
    d = pd.read_csv(REF / "fleiss1971_diagnoses.csv")
    cats = sorted(set(d.to_numpy().ravel()))
    counts = np.array([[sum(v == c for v in row) for c in cats] for row in d.to_numpy()])
    fk = fleiss_kappa(counts)
    assert round(fk["kappa"], 3) == 0.430
    assert_allclose(fk["kappa"], R["fleiss1971"]["kappa"], rtol=0, atol=1e-12)
    assert_allclose(fk["z"], R["fleiss1971"]["z"], rtol=1e-10)


@pytest.mark.parametrize(
    "level, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)]
)
def test_krippendorff_alpha_krippendorff_2011_example(level, published):
    """Krippendorff (2011), the 4 observers x 12 units example with missing values; irr and krippendorff agree."""
    x = pd.read_csv(REF / "krippendorff2011.csv").to_numpy(dtype=float)
    a = krippendorff_alpha(x, level)
    assert round(a, 3) == published
    assert_allclose(a, R["krippendorff2011"][level], rtol=0, atol=1e-12)
    assert_allclose(a, KD["krippendorff2011"][level], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "n, a, pc, kappa",
    [
        (3, 2, 0.375, 0.47),
        (4, 3, 0.250, 0.67),
        (5, 4, 0.156, 0.76),
        (6, 5, 0.094, 0.82),
        (6, 4, 0.234, 0.56),
        (7, 6, 0.055, 0.85),
        (8, 7, 0.031, 0.87),
        (8, 6, 0.109, 0.72),
        (9, 8, 0.018, 0.89),
        (9, 7, 0.070, 0.76),
        (3, 3, 0.125, 1.00),
        (9, 9, 0.002, 1.00),
    ],
)
def test_modified_kappa_formula_at_small_panels(n, a, pc, kappa):
    """Polit, Beck & Owen's (2007) formula, pc = C(N, A) / 2^N and k* = (I-CVI - pc) / (1 - pc), at small panels.

    These pairs are worked from the formula; they are not checked against the paper's own table, which no
    stored source reproduces. The published values that are checked are in
    ``test_modified_kappa_published_worked_examples``.
    """
    from scipy.special import comb

    assert round(comb(n, a) * 0.5**n, 3) == pc
    assert round(float(modified_kappa(a, n)), 2) == kappa


# (N experts, A rating 3 or 4, pc at 3 decimals, k* at 2 decimals) as printed in the source's table
_KAPPA_PUBLISHED = {
    "BMC Health Serv Res 2017, doi:10.1186/s12913-017-2469-8, Tables 8 and 10": [
        (10, 10, 0.001, 1.00),
        (10, 9, 0.010, 0.90),
        (10, 8, 0.044, 0.79),
        (10, 7, 0.117, 0.66),
        (9, 8, 0.018, 0.89),
        (9, 7, 0.070, 0.76),
        (9, 6, 0.164, 0.60),
    ],
    "Chew, van Merrienboer & Durning (2016), BMC Res Notes 9:445, Table 4": [(7, 7, 0.008, 1.00), (7, 6, 0.055, 0.85)],
}


@pytest.mark.parametrize(
    "source, n, a, pc, kappa", [(src, *row) for src, rows in _KAPPA_PUBLISHED.items() for row in rows]
)
def test_modified_kappa_published_worked_examples(source, n, a, pc, kappa):
    """Published tables of I-CVI, pc and modified kappa* computed with Polit, Beck & Owen's (2007) formula.

    BMC Health Services Research (2017), doi:10.1186/s12913-017-2469-8, Tables 8 and 10 (10 and 9 experts);
    Chew, van Merrienboer & Durning (2016), A portable mnemonic to facilitate checking for cognitive errors,
    BMC Research Notes 9:445, Table 4 (7 experts). Compared at the printed precision.
    """
    from scipy.special import comb

    assert round(float(comb(n, a)) * 0.5**n, 3) == pc
    assert round(float(modified_kappa(a, n)), 2) == kappa
    assert round(float(i_cvi(a, n)), 2) == round(a / n, 2)


def test_kappa_labels_follow_cicchetti_sparrow():
    assert [kappa_label(k) for k in (0.39, 0.40, 0.59, 0.60, 0.74, 0.75)] == [
        "poor",
        "fair",
        "fair",
        "good",
        "good",
        "excellent",
    ]


def test_cvr_lawshe_1975_formula():
    """Lawshe (1975): CVR = (ne - N/2)/(N/2); 3 of 5 essential -> .20 (psychometric::CVratio(5, 3))."""
    assert_allclose(cvr(3, 5), 0.2)
    assert_allclose(cvr([0, 5, 10], [10, 10, 10]), [-1.0, 0.0, 1.0])


def test_cvr_critical_values_ayre_scally_2014():
    """Ayre & Scally (2014): exact one-tailed binomial critical values, N = 5..40; N = 8 needs 7 (CVR .75).

    7 of 8 is the count behind Lawshe's .75 that Ayre & Scally identify (as quoted in contentvalidR's
    documentation; the published table itself is checked in
    ``test_cvr_critical_against_lawshe_1975_table_1_as_read_by_ayre_scally_2014``); p = .035 is computed here.
    Checked against ValContent::CVRcut.Ayres for every N (an independent implementation).
    """
    ne, crit = cvr_critical(8)
    assert (ne, round(crit, 3)) == (7, 0.750)
    tab = cvr_critical_table(5, 40)
    ref = pd.DataFrame(R["cvr_critical"])
    assert_allclose(tab["cvr_critical"].to_numpy(), ref["CritVal"].to_numpy(), rtol=0, atol=1e-12)
    assert (tab["ne_critical"].to_numpy() == ref["MinJudges"].to_numpy()).all()
    assert (tab["p_exact"] < 0.05).all()
    # one fewer essential rating would not be significant
    for n, row in tab.iterrows():
        assert binomtest(int(row["ne_critical"]) - 1, n, 0.5, alternative="greater").pvalue >= 0.05
    assert cvr_critical(4)[0] == 5 and np.isnan(cvr_critical(4)[1])  # no panel of 4 can be significant


# Lawshe (1975), Table 1 (minimum CVR, one-tailed .05) and the minimum number of "essential" ratings it implies
# as Ayre & Scally (2014) read it, both quoted in contentvalidR's tests (JUhalt/contentvalidR,
# tests/testthat/test-earlier-methods.R), which state that the exact test needs the same count at every
# tabled size except 13 panelists.
_LAWSHE_TABLE = {
    5: 0.99,
    6: 0.99,
    7: 0.99,
    8: 0.75,
    9: 0.78,
    10: 0.62,
    11: 0.59,
    12: 0.56,
    13: 0.54,
    14: 0.51,
    15: 0.49,
    20: 0.42,
    25: 0.37,
    30: 0.33,
    35: 0.31,
    40: 0.29,
}
_LAWSHE_COUNTS = {
    5: 5,
    6: 6,
    7: 7,
    8: 7,
    9: 8,
    10: 9,
    11: 9,
    12: 10,
    13: 11,
    14: 11,
    15: 12,
    20: 15,
    25: 18,
    30: 20,
    35: 23,
    40: 26,
}


def test_cvr_critical_against_lawshe_1975_table_1_as_read_by_ayre_scally_2014():
    """Lawshe (1975), Table 1, and the counts Ayre & Scally (2014) read from it (quoted in contentvalidR's tests).

    The exact one-tailed binomial count equals the count implied by Lawshe's table at every tabled size but
    N = 13, where the exact test needs 10 of 13 (CVR .538, p = .046) and the table's .54 was read as 11.
    Lawshe's .99 for 5-7 panelists stands for unanimity. Every exact critical CVR meets Lawshe's printed minimum
    at its two decimals, and one "essential" rating fewer falls below it.
    """
    for n, count in _LAWSHE_COUNTS.items():
        ne, crit = cvr_critical(n)
        assert ne == (10 if n == 13 else count), n
        if n <= 7:
            assert ne == n and crit == 1.0
        else:
            assert round(crit, 2) >= _LAWSHE_TABLE[n], n
        assert float(cvr(ne - 1, n)) < _LAWSHE_TABLE[n], n
    assert_allclose(
        binomtest(10, 13, 0.5, alternative="greater").pvalue, cvr_critical_table(13, 13)["p_exact"].iloc[0], rtol=1e-12
    )


def test_aiken_v_and_score_interval_match_valcontent():
    """Aiken's V with the Penfield & Giacobbi (2004) score interval, against ValContent::Vaiken (3 decimals)."""
    rel = pd.read_csv(REF / "relevance.csv").set_index("item").to_numpy(dtype=float)
    for conf, lo_key, hi_key in ((0.95, "aiken_lower", "aiken_upper"), (0.90, "aiken_lower90", "aiken_upper90")):
        got = np.array([aiken_v(r, 1, 4, conf) for r in rel])
        assert_allclose(got[:, 0], R["relevance"]["aiken_v"], rtol=0, atol=5e-4)
        assert_allclose(got[:, 1], R["relevance"][lo_key], rtol=0, atol=5e-4)
        assert_allclose(got[:, 2], R["relevance"][hi_key], rtol=0, atol=5e-4)


def test_aiken_v_is_the_wilson_interval_of_nk_trials():
    """V = S/(n k) and its interval is Wilson's (1927) score interval with n k trials (Penfield & Giacobbi, 2004)."""
    r = [4, 4, 3, 4, 2, 4, 3, 4, 4, 3]  # S = 25 of nk = 30
    v, lo, hi = aiken_v(r, 1, 4)
    assert_allclose(v, 25 / 30)
    ci = binomtest(25, 30).proportion_ci(0.95, method="wilson")
    assert_allclose([lo, hi], [ci.low, ci.high], rtol=0, atol=1e-12)


def test_aiken_v_right_tail_probability_by_enumeration():
    """Aiken (1985): exact P(V >= v) when each rating is uniform on the scale; checked by enumerating all panels."""
    for n, c in ((3, 4), (4, 5)):
        sums = np.array([sum(p) for p in itertools.product(range(c), repeat=n)])
        for s in range(0, n * (c - 1) + 1, 2):
            ratings = [1 + s // n + (1 if i < s % n else 0) for i in range(n)]
            assert_allclose(aiken_v_pvalue(ratings, 1, c), (sums >= s).mean(), rtol=1e-12)


def test_modified_kappa_matches_valcontent():
    rel = pd.read_csv(REF / "relevance.csv").set_index("item").to_numpy(dtype=float)
    k = modified_kappa((rel >= 3).sum(axis=1), rel.shape[1])
    assert_allclose(k, R["relevance"]["kappa"], rtol=0, atol=5e-4)
    assert_allclose(i_cvi([7, 0], [7, 7]), [1.0, 0.0])


def test_cvr_matches_valcontent():
    ess = pd.read_csv(REF / "essential.csv").set_index("item").to_numpy()
    assert_allclose(cvr((ess == 3).sum(axis=1), ess.shape[1]), R["relevance"]["cvr"], rtol=0, atol=5e-4)


def test_substantive_validity_anderson_gerbing_hand_example():
    """A hand-made example of Anderson & Gerbing's (1991) psa and csv: 10 raters, 7 intended, 2 to one other, 1 none.

    Not a published example (theirs could not be consulted); the published critical value is checked in
    ``test_substantive_validity_anderson_gerbing_critical_value_for_20_raters``.
    """
    sv = substantive_validity(["a"] * 7 + ["b"] * 2 + ["none"], "a", n_choices=5)
    assert (sv["nc"], sv["no"], sv["most_other"], sv["n_none"]) == (7, 2, "b", 1)
    assert_allclose([sv["psa"], sv["csv"]], [0.7, 0.5])
    assert_allclose(sv["p_ag"], binomtest(7, 10, 0.5, alternative="greater").pvalue, rtol=1e-12)
    assert_allclose(sv["p_hm"], binomtest(7, 10, 0.2, alternative="greater").pvalue, rtol=1e-12)
    neg = substantive_validity(["b"] * 6 + ["a"] * 4, "a", n_choices=5)
    assert_allclose(neg["csv"], -0.2)


def test_substantive_validity_anderson_gerbing_critical_value_for_20_raters():
    """Anderson & Gerbing (1991), Equations 5 and 6: with 20 respondents the critical csv is .50 (15 of 20).

    Their two pretest samples of 20 respondents used the critical value .5 (quoted in contentvalidR's tests,
    JUhalt/contentvalidR, tests/testthat/test-earlier-methods.R): 15 of 20 to the intended construct is the
    fewest with P(X >= nc | 20, 1/2) < .05, and csv = (2 * 15 - 20) / 20 = .5 when the other 5 go to one rival.
    """
    at = substantive_validity(["a"] * 15 + ["b"] * 5, "a", n_choices=2)
    below = substantive_validity(["a"] * 14 + ["b"] * 6, "a", n_choices=2)
    assert at["p_ag"] < 0.05 <= below["p_ag"]
    assert_allclose(at["csv"], 0.5)
    assert_allclose([at["psa"], below["csv"]], [0.75, 0.4])


def test_fleiss_kappa_cardillo_2007_worked_example():
    """Cardillo (2007), fleiss.m worked example (dnafinder/Fleiss README): 10 patients, 14 psychiatrists, 5 diagnoses.

    Published: kappa = 0.2099, kappa error = 0.0170, z = 12.3743 (to 4 decimals).
    """
    x = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    fk = fleiss_kappa(x)
    assert (round(fk["kappa"], 4), round(fk["se0"], 4), round(fk["z"], 4)) == (0.2099, 0.0170, 12.3743)


# PMC7253559, Table 4: 12 items rated by 6 experts on Lynn's 1-4 relevance scale
_PMC7253559_TABLE_4 = [
    [4, 4, 4, 4, 4, 4],
    [4, 3, 4, 4, 3, 4],
    [4, 4, 4, 4, 4, 4],
    [4, 4, 4, 4, 4, 4],
    [3, 4, 4, 4, 4, 4],
    [2, 3, 4, 3, 3, 4],
    [4, 4, 4, 4, 4, 4],
    [4, 4, 4, 4, 4, 4],
    [3, 3, 4, 2, 3, 4],
    [4, 4, 4, 3, 4, 4],
    [4, 4, 4, 3, 4, 4],
    [4, 4, 4, 3, 4, 4],
]


def test_s_cvi_published_worked_example(panel_pool, tmp_path):
    """I-CVI, S-CVI/Ave and S-CVI/UA (Polit & Beck, 2006) on a published rating table, through the pipeline.

    PMC7253559 (pmc.ncbi.nlm.nih.gov/articles/PMC7253559), Table 4: 12 items x 6 experts; I-CVI 1.00 for ten
    items and 0.83 for items 6 and 9; S-CVI/Ave = 0.97, S-CVI/UA = 0.83.
    """
    x = np.array(_PMC7253559_TABLE_4)
    long = pd.DataFrame(
        [{"rater": f"e{j + 1}", "item": f"i{i + 1}", "relevance": int(x[i, j])} for i in range(12) for j in range(6)]
    )
    long.to_csv(tmp_path / "experts.csv", index=False)
    res = content_validity([tmp_path / "experts.csv"], panel_pool)
    items = res.items.set_index("item").loc[[f"i{i + 1}" for i in range(12)]]
    assert list(items["i_cvi"].round(2)) == [1.0] * 5 + [0.83] + [1.0] * 2 + [0.83] + [1.0] * 3
    assert round(res.scale["item"]["s_cvi_ave"], 2) == 0.97
    assert round(res.scale["item"]["s_cvi_ua"], 2) == 0.83


def test_agreement_on_reference_panels_matches_irr_and_krippendorff(panel_pool):
    """Fleiss' kappa against irr::kappam.fleiss; Krippendorff's alpha against the krippendorff package.

    (irr 0.84.1's kripp.alpha does not divide coincidences by m_u - 1 when no value is missing, so on
    these complete panels it is not a valid reference; see make_krippendorff.py.)
    """
    rel = pd.read_csv(REF / "relevance.csv").set_index("item")
    assert_allclose(
        krippendorff_alpha(rel.to_numpy(dtype=float), "ordinal", values=[1, 2, 3, 4]),
        KD["relevance"]["ordinal"],
        rtol=0,
        atol=1e-12,
    )
    assert_allclose(
        krippendorff_alpha(rel.to_numpy(dtype=float), "interval"), KD["relevance"]["interval"], rtol=0, atol=1e-12
    )
    dich = rel.to_numpy() >= 3
    counts = np.column_stack([(~dich).sum(axis=1), dich.sum(axis=1)])
    fk = fleiss_kappa(counts)
    assert_allclose(fk["kappa"], R["relevance"]["fleiss_dichotomous"], rtol=0, atol=1e-12)
    assert_allclose(fk["z"], R["relevance"]["fleiss_dichotomous_z"], rtol=1e-10)
    srt = pd.read_csv(REF / "sort.csv").set_index("item").drop(columns="intended")
    cats = sorted(set(srt.to_numpy().ravel()))
    counts = np.array([[sum(v == c for v in row) for c in cats] for row in srt.to_numpy()])
    assert_allclose(fleiss_kappa(counts)["kappa"], R["sort"]["fleiss"], rtol=0, atol=1e-12)
    assert_allclose(krippendorff_alpha(srt.to_numpy(dtype=object), "nominal"), KD["sort_nominal"], rtol=0, atol=1e-12)


def test_content_validity_on_reference_panels(panel_pool, tmp_path):
    """The whole pipeline on the reference panels: indices per item, S-CVI, agreement, decisions and coverage."""
    rel = pd.read_csv(REF / "relevance.csv")
    ess = pd.read_csv(REF / "essential.csv")
    srt = pd.read_csv(REF / "sort.csv").drop(columns="intended")
    long = [
        pd.DataFrame({"rater": r, "item": rel["item"], "relevance": rel[r], "essential": ess[r]})
        for r in rel.columns[1:]
    ]
    pd.concat(long).to_csv(tmp_path / "experts.csv", index=False)
    srt.to_csv(tmp_path / "sort_wide.csv", index=False)
    rs_rel = read_ratings([tmp_path / "experts.csv"], panel_pool)
    rs_srt = read_ratings([tmp_path / "sort_wide.csv"], panel_pool, task="sort")
    rs_rel.sort, rs_rel.sources = rs_srt.sort, {**rs_rel.sources, **{f"s_{k}": v for k, v in rs_srt.sources.items()}}
    res = content_validity(rs_rel, panel_pool)
    items = res.items.set_index("item")
    relv = rel.set_index("item").to_numpy()
    icvi = (relv >= 3).mean(axis=1)
    assert_allclose(items["i_cvi"].to_numpy(), icvi)
    assert_allclose(items["kappa"].to_numpy(), R["relevance"]["kappa"], atol=5e-4)
    assert_allclose(items["aiken_v"].to_numpy(), R["relevance"]["aiken_v"], atol=5e-4)
    assert_allclose(items["cvr"].to_numpy(), R["relevance"]["cvr"], atol=5e-4)
    assert_allclose(res.scale["item"]["s_cvi_ave"], icvi.mean())
    assert_allclose(res.scale["item"]["s_cvi_ua"], (icvi == 1).mean())
    ag = res.agreement.set_index(["task", "index"])["value"]
    assert_allclose(ag[("sort", "Fleiss' kappa")], R["sort"]["fleiss"], atol=1e-12)
    assert_allclose(
        ag[("relevance (relevant vs not)", "Fleiss' kappa")], R["relevance"]["fleiss_dichotomous"], atol=1e-12
    )
    assert_allclose(ag[("relevance", "Krippendorff's alpha (ordinal)")], KD["relevance"]["ordinal"], atol=1e-12)
    # confusion matrix: every sort counted once, rows = intended subcategory
    assert res.confusion.to_numpy().sum() == srt.shape[0] * (srt.shape[1] - 1)
    assert res.confusion.loc["s1"].sum() == 27
    # decisions follow the documented rules
    for iid, row in items.iterrows():
        expected = []
        expected.append("keep" if row["kappa"] > 0.74 else "drop" if row["kappa"] < 0.40 else "revise")
        if not row["cvr_significant"]:
            expected.append("revise")
        expected.append("drop" if row["csv"] < 0 else "keep" if row["p_ag"] < 0.05 else "revise")
        worst = max(expected, key=["keep", "revise", "drop"].index)
        assert row["decision"] == worst, (iid, row["reason"])
    cov = res.coverage
    assert (cov["keep"] + cov["revise"] + cov["drop"] == cov["items"]).all()
    assert (cov["retained"] == cov["items"] - cov["drop"]).all()
    assert (cov["gap"] == (cov["retained"] < 3)).all()


def test_cutoffs_are_validated(panel_pool, tmp_path):
    pd.DataFrame({"item": ["i1"], "relevance": [4]}).to_csv(tmp_path / "r1.csv", index=False)
    with pytest.raises(Exception, match="unknown cutoff"):
        content_validity([tmp_path / "r1.csv"], panel_pool, cutoffs={"kapa_keep": 0.8})
