"""Content-validity indices against published worked examples and independent implementations.

References in tests/reference/content/ (make_content.R: R 4.2.2, irr 0.84.1, ValContent 0.1.0;
make_krippendorff.py: krippendorff 0.9.0 from PyPI).
"""

import itertools
import json

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from scipy.stats import binomtest

from allyscale.content import (
    aiken_v, aiken_v_pvalue, content_validity, cvr, cvr_critical, cvr_critical_table, fleiss_kappa, i_cvi,
    kappa_label, krippendorff_alpha, modified_kappa, read_ratings, substantive_validity,
)
from allyscale.pool import parse_pool
from conftest import REFERENCE

REF = REFERENCE / "content"
R = json.loads((REF / "reference.json").read_text())
KD = json.loads((REF / "krippendorff.json").read_text())


@pytest.fixture(scope="module")
def panel_pool():
    """Twelve items i1..i12 in four subcategories s1..s4 (the layout of the reference panels)."""
    facets = "".join(
        f"      - id: s{f}\n        label: Sub {f}\n        items:\n"
        + "".join(f"          - {{id: i{i}, text: \"I do thing {i}.\", informant_text: \"This person does thing "
                  f"{i}.\"}}\n" for i in range(3 * f - 2, 3 * f + 1))
        for f in range(1, 5))
    text = ("name: Panel test\nresponse_scale: {min: 1, max: 5}\nforms: {informant: {label: Informant}}\n"
            "factors:\n  - id: fa\n    label: A\n    facets:\n" + facets.split("      - id: s3")[0]
            + "  - id: fb\n    label: B\n    facets:\n      - id: s3" + facets.split("      - id: s3")[1])
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


@pytest.mark.parametrize("level, published", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849),
                                              ("ratio", 0.797)])
def test_krippendorff_alpha_krippendorff_2011_example(level, published):
    """Krippendorff (2011), the 4 observers x 12 units example with missing values; irr and krippendorff agree."""
    x = pd.read_csv(REF / "krippendorff2011.csv").to_numpy(dtype=float)
    a = krippendorff_alpha(x, level)
    assert round(a, 3) == published
    assert_allclose(a, R["krippendorff2011"][level], rtol=0, atol=1e-12)
    assert_allclose(a, KD["krippendorff2011"][level], rtol=0, atol=1e-12)


@pytest.mark.parametrize("n, a, pc, kappa", [
    (3, 2, 0.375, 0.47), (4, 3, 0.250, 0.67), (5, 4, 0.156, 0.76), (6, 5, 0.094, 0.82), (6, 4, 0.234, 0.56),
    (7, 6, 0.055, 0.85), (8, 7, 0.031, 0.87), (8, 6, 0.109, 0.72), (9, 8, 0.018, 0.89), (9, 7, 0.070, 0.76),
    (3, 3, 0.125, 1.00), (9, 9, 0.002, 1.00)])
def test_modified_kappa_polit_beck_owen_2007_table(n, a, pc, kappa):
    """Polit, Beck & Owen (2007), their table evaluating I-CVIs (Table 4): pc and kappa* for N experts, A agreeing."""
    from scipy.special import comb

    assert round(comb(n, a) * 0.5 ** n, 3) == pc
    assert round(float(modified_kappa(a, n)), 2) == kappa


def test_kappa_labels_follow_cicchetti_sparrow():
    assert [kappa_label(k) for k in (0.39, 0.40, 0.59, 0.60, 0.74, 0.75)] == \
        ["poor", "fair", "fair", "good", "good", "excellent"]


def test_cvr_lawshe_1975_formula():
    """Lawshe (1975): CVR = (ne - N/2)/(N/2); 3 of 5 essential -> .20 (psychometric::CVratio(5, 3))."""
    assert_allclose(cvr(3, 5), 0.2)
    assert_allclose(cvr([0, 5, 10], [10, 10, 10]), [-1.0, 0.0, 1.0])


def test_cvr_critical_values_ayre_scally_2014():
    """Ayre & Scally (2014): exact one-tailed binomial critical values, N = 5..40; N = 8 needs 7 (CVR .75, p = .035).

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
    """Anderson & Gerbing (1991): 10 raters, 7 to the intended construct, 2 to the most-chosen other, 1 none."""
    sv = substantive_validity(["a"] * 7 + ["b"] * 2 + ["none"], "a", n_choices=5)
    assert (sv["nc"], sv["no"], sv["most_other"], sv["n_none"]) == (7, 2, "b", 1)
    assert_allclose([sv["psa"], sv["csv"]], [0.7, 0.5])
    assert_allclose(sv["p_ag"], binomtest(7, 10, 0.5, alternative="greater").pvalue, rtol=1e-12)
    assert_allclose(sv["p_hm"], binomtest(7, 10, 0.2, alternative="greater").pvalue, rtol=1e-12)
    neg = substantive_validity(["b"] * 6 + ["a"] * 4, "a", n_choices=5)
    assert_allclose(neg["csv"], -0.2)


def test_agreement_on_reference_panels_matches_irr_and_krippendorff(panel_pool):
    """Fleiss' kappa against irr::kappam.fleiss; Krippendorff's alpha against the krippendorff package.

    (irr 0.84.1's kripp.alpha does not divide coincidences by m_u - 1 when no value is missing, so on
    these complete panels it is not a valid reference; see make_krippendorff.py.)
    """
    rel = pd.read_csv(REF / "relevance.csv").set_index("item")
    assert_allclose(krippendorff_alpha(rel.to_numpy(dtype=float), "ordinal", values=[1, 2, 3, 4]),
                    KD["relevance"]["ordinal"], rtol=0, atol=1e-12)
    assert_allclose(krippendorff_alpha(rel.to_numpy(dtype=float), "interval"), KD["relevance"]["interval"],
                    rtol=0, atol=1e-12)
    dich = (rel.to_numpy() >= 3)
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
    long = [pd.DataFrame({"rater": r, "item": rel["item"], "relevance": rel[r], "essential": ess[r]})
            for r in rel.columns[1:]]
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
    assert_allclose(ag[("relevance (relevant vs not)", "Fleiss' kappa")], R["relevance"]["fleiss_dichotomous"],
                    atol=1e-12)
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
