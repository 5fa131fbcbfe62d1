"""Screening: Little's MCAR test against lavaan's ML moments, careless-responding rules."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE

from allyscale import simulate
from allyscale.errors import DataWarning, SpecificationError
from allyscale.quality import em_moments, littles_mcar, screen

MCAR = REFERENCE / "mcar"


@pytest.mark.parametrize("case", ["mcar", "mar"])
def test_littles_mcar_matches_lavaan_ml_moments(case):
    ref = json.loads((MCAR / "reference.json").read_text())[case]
    data = pd.read_csv(MCAR / f"data_{case}.csv")
    mu, sigma, _, converged = em_moments(data.to_numpy(dtype=float))
    assert converged
    # lavaan's optimiser stops at about 1e-6 of the ML solution; EM here runs to 1e-10
    np.testing.assert_allclose(mu, ref["mean"], atol=2e-5)
    np.testing.assert_allclose(sigma, np.array(ref["cov"]), atol=2e-5)
    out = littles_mcar(data)
    assert out["df"] == ref["df"] and out["patterns"] == ref["patterns"]
    np.testing.assert_allclose(out["chisq"], ref["chisq"], rtol=1e-5)
    np.testing.assert_allclose(out["pvalue"], ref["pvalue"], rtol=1e-3, atol=1e-6)


def test_littles_mcar_without_missing_values_is_undefined():
    data = pd.DataFrame(np.random.default_rng(1).normal(size=(50, 3)), columns=["a", "b", "c"])
    out = littles_mcar(data)
    assert np.isnan(out["chisq"]) and "no missing values" in out["note"]


@pytest.fixture(scope="module")
def planted(allyship_pool):
    """Allyship responses with planted careless respondents (row positions 0-5)."""
    data = simulate(allyship_pool, 400, seed=3).astype(float)
    items = allyship_pool.item_ids
    data.loc[0, items] = 3.0  # straight-liner
    data.loc[1, items] = np.tile([1.0, 5.0], len(items) // 2)  # alternating extremes: an outlier
    rng = np.random.default_rng(9)
    data.loc[2, items] = rng.integers(1, 6, len(items)).astype(float)  # random responder
    data.loc[3, items[:70]] = np.nan  # mostly missing
    data["attn1"] = 5.0
    data["attn2"] = 2.0
    data.loc[4, "attn1"] = 1.0  # failed attention check
    # inconsistent halves: odd-position items high in three factors and low in the others, even ones the reverse
    for f, (name, its) in enumerate(allyship_pool.factor_items().items()):
        for pos, it in enumerate(its):
            want = 5.0 if (pos % 2 == 0) == (f < 3) else 1.0
            data.loc[5, it] = 6 - want if it in allyship_pool.reverse_items else want
    return data


def test_screen_flags_planted_respondents_and_excludes_only_when_asked(planted, allyship_pool):
    res = screen(planted, allyship_pool)
    flags = res.persons["flags"]
    assert "longstring" in flags[0] and "irv" in flags[0]
    assert "mahalanobis" in flags[1]
    assert "mahalanobis" in flags[2]
    assert "even_odd" in flags[5] and res.persons.loc[5, "even_odd"] == -1.0
    assert "missing" in flags[3]
    assert flags[4] == "attention"
    assert res.persons.loc[4, "attention_failed"]
    # careful respondents have high even-odd consistency; few are flagged by chance
    assert res.persons["even_odd"].iloc[6:].median() > 0.8
    assert (flags.iloc[6:] != "").mean() < 0.03
    assert res.excluded == [] and len(res.data) == len(planted)
    assert res.counts["attention"] == 1
    assert res.mcar["patterns"] == 2 and np.isfinite(res.mcar["chisq"])
    with pytest.warns(DataWarning, match="2 respondent"):
        out = screen(planted, allyship_pool, exclude=["attention", "longstring"])
    assert out.excluded == [0, 4] and len(out.data) == len(planted) - 2
    with pytest.warns(DataWarning, match="excluded by screening"):
        everyone = screen(planted, allyship_pool, exclude="flagged")
    assert set(everyone.excluded) == set(res.flagged.index)
    assert "Excluded: 2" in out.summary()
    json.dumps(out.to_dict())
    assert "<table" in res._repr_html_()


def test_screen_rejects_unknown_rule(planted, allyship_pool):
    with pytest.raises(SpecificationError, match="unknown screening rule"):
        screen(planted, allyship_pool, exclude=["sloppy"])


def test_screen_notes_absent_attention_check(allyship_pool):
    data = simulate(allyship_pool, 60, seed=1)
    res = screen(data, allyship_pool)
    assert any("attention check 'attn1'" in n for n in res.diagnostics["notes"])
    assert res.counts["attention"] == 0


def test_screening_indices_equal_their_hand_computed_values():
    # known values computed by hand (careless::longstring, irv, mahad and evenodd define the same quantities)
    from allyscale.descriptives import careless_indices
    from allyscale.quality import even_odd

    rows = [[1, 1, 1, 2, 3, 3, 4, 5], [2, 4, 2, 4, 2, 4, 2, 4], [5, 5, 4, 4, 1, 1, 2, 2]]
    data = pd.DataFrame(rows, columns=[f"x{i}" for i in range(1, 9)], dtype=float)
    ci = careless_indices(data, list(data.columns))
    assert ci["longstring"].tolist() == [3, 1, 2]
    np.testing.assert_allclose(ci["irv"], [np.std(r, ddof=1) for r in rows], rtol=1e-12)
    np.testing.assert_allclose(ci["irv"].iloc[1], np.sqrt(8 / 7), rtol=1e-12)  # four 2s and four 4s around 3
    # even-odd over four two-item factors (x1 x2 | x3 x4 | x5 x6 | x7 x8): odd halves x1 x3 x5 x7, even x2 x4 x6 x8
    eo = even_odd(data, {"a": ["x1", "x2"], "b": ["x3", "x4"], "c": ["x5", "x6"], "d": ["x7", "x8"]})
    r0 = np.corrcoef([1, 1, 3, 4], [1, 2, 3, 5])[0, 1]
    np.testing.assert_allclose(eo.iloc[0], 2 * r0 / (1 + r0), rtol=1e-12)
    assert np.isnan(eo.iloc[1])  # odd halves all 2, even halves all 4: no variation, undefined
    np.testing.assert_allclose(eo.iloc[2], 1.0, rtol=1e-12)  # halves identical (5 4 1 2)
    # Mahalanobis D2 with the complete-case covariance (N - 1), against an explicit computation
    rng = np.random.default_rng(2)
    big = pd.DataFrame(rng.integers(1, 6, (40, 4)).astype(float), columns=list("abcd"))
    d2 = careless_indices(big, list("abcd"))["d2"].to_numpy()
    dev = big.to_numpy() - big.to_numpy().mean(axis=0)
    inv = np.linalg.inv(np.cov(big.to_numpy(), rowvar=False))
    np.testing.assert_allclose(d2, [v @ inv @ v for v in dev], rtol=1e-10)
