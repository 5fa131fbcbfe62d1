import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE

from allyscale import describe_items, simulate
from allyscale.errors import DataError

SIM60 = REFERENCE / "sim60"


@pytest.fixture(scope="module")
def sim60():
    return pd.read_csv(SIM60 / "data.csv")


def test_matches_psych_describe(sim60):
    # R: psych::describe(X)  (tests/reference/sim60/make_describe.R)
    ref = json.loads((SIM60 / "describe.json").read_text())
    table = describe_items(sim60[ref["items"]])
    for key in ("mean", "sd", "median", "skew", "kurtosis"):
        np.testing.assert_allclose(table[key].to_numpy(), ref[key], atol=1e-10, rtol=0)


def test_r_drop_matches_psych_alpha(sim60):
    # R: psych::alpha(X[, trust items], check.keys = FALSE)$item.stats$r.drop
    ref = json.loads((SIM60 / "reference.json").read_text())
    trust = [f"i{k:02d}" for k in range(1, 16)]
    table = describe_items(sim60[trust])
    np.testing.assert_allclose(table["r_drop"].to_numpy(), ref["alpha"]["trust"]["r_drop"], atol=1e-10)


def test_reverse_keyed_items_are_reversed_for_r_drop(mini_pool):
    data = simulate(mini_pool, n=2_000, seed=1)
    table = describe_items(data, mini_pool)
    assert (table["r_drop"] > 0.3).all()  # a3, b3, c3 answered in reverse still correlate positively once keyed
    assert table.loc["a1", "factor"] == "fa"
    np.testing.assert_allclose(table.loc["a1", "floor"], (data["a1"] == 1).mean())


def test_missing_items_named(mini_pool):
    data = simulate(mini_pool, n=50, seed=1).drop(columns=["b2"])
    with pytest.raises(DataError, match=r"\['b2'\]"):
        describe_items(data, mini_pool)


def test_careless_indices_find_simulated_careless_respondents(mini_pool):
    from allyscale.descriptives import careless_indices

    data = simulate(mini_pool, n=600, seed=7, careless=0.05, careless_style="longstring")
    ci = careless_indices(data, mini_pool.item_ids)
    truth = data.attrs["careless_rows"]
    assert (ci.loc[truth, "longstring"] == 18).all()
    assert ci.loc[truth, "flags"].str.contains("longstring").all()
    assert (ci["flags"] != "").sum() < 0.1 * len(data)
    random = simulate(mini_pool, n=600, seed=8, careless=0.05)
    ci2 = careless_indices(random, mini_pool.item_ids)
    hits = ci2.loc[random.attrs["careless_rows"], "d2_p"] < 0.001
    assert hits.mean() > 0.5  # random answering breaks the correlation structure


def test_careless_indices_irv_and_missing():
    from allyscale.descriptives import careless_indices

    frame = pd.DataFrame({"a": [1, 5, np.nan], "b": [1, 1, 2], "c": [1, 5, 3]})
    ci = careless_indices(frame, ["a", "b", "c"])
    assert list(ci["longstring"]) == [3, 1, 1]
    np.testing.assert_allclose(ci["irv"].iloc[1], np.std([5, 1, 5], ddof=1))
    assert np.isnan(ci["d2"].iloc[2])
