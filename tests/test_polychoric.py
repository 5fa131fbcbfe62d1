import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, reference_data, reference_json

import allyscale as al
from allyscale import PopulationModel, polychoric, simulate
from allyscale._core.bivnorm import bvn_cdf
from allyscale.errors import DataError, NotPositiveDefiniteWarning, StatisticalWarning


@pytest.fixture(scope="module")
def sim60():
    ref = reference_json("sim60")
    data = reference_data("sim60")[ref["items"]]
    return data, ref


def _thresholds_diff(result, ref_th):
    return max(abs(result.thresholds.loc[k.split("|")[0], k.split("|")[1]] - v) for k, v in ref_th.items())


def test_sim60_matches_lavcor(sim60):
    # R: fit <- lavCor(X, ordered = names(X), output = "fit"); lavInspect(fit, "cor.ov"); lavInspect(fit, "th")
    data, ref = sim60
    result = polychoric(data)
    np.testing.assert_allclose(result.corr.to_numpy(), np.array(ref["polychoric"]["corr"]), atol=2e-4, rtol=0)
    # the engine is in fact far closer than the acceptance tolerance
    assert np.abs(result.corr.to_numpy() - np.array(ref["polychoric"]["corr"])).max() < 1e-6
    assert _thresholds_diff(result, ref["polychoric"]["thresholds"]) < 1e-6
    assert result.diagnostics["converged"] and not result.diagnostics["smoothed"]
    assert list(result.corr.columns) == ref["items"]
    assert list(result.thresholds.columns) == ["t1", "t2", "t3", "t4"]


def test_pairwise_missing_matches_lavcor():
    # R: lavCor(X, ordered = names(X), missing = "pairwise", output = "fit")  (make_polychoric.R)
    ref = reference_json("polychoric")["missing"]
    data = pd.read_csv(REFERENCE / "polychoric" / "missing.csv")
    result = polychoric(data)
    np.testing.assert_allclose(result.corr.to_numpy(), np.array(ref["corr"]), atol=1e-6, rtol=0)
    assert _thresholds_diff(result, ref["th"]) < 1e-6
    counts = data.notna().astype(int)
    np.testing.assert_array_equal(result.n_pairwise.to_numpy(), (counts.T @ counts).to_numpy())


def test_sparse_binary_tables_match_lavcor():
    # R: lavCor(B, ordered = names(B), output = "fit"); 2 x 2 tables with an empty cell get zero.add
    ref = reference_json("polychoric")["binary"]
    data = pd.read_csv(REFERENCE / "polychoric" / "binary.csv")
    result = polychoric(data)
    np.testing.assert_allclose(result.corr.to_numpy(), np.array(ref["corr"]), atol=1e-6, rtol=0)
    assert ("b1", "b2") in result.diagnostics["zero_add_pairs"]


def test_two_empty_cells_give_unit_correlation_with_a_warning():
    data = pd.DataFrame({"a": [0] * 30 + [1] * 20, "b": [0] * 30 + [1] * 20, "c": [0, 1] * 25})
    with pytest.warns(StatisticalWarning, match="two empty cells"):
        result = polychoric(data, smooth=False)
    assert result.corr.loc["a", "b"] == 1.0
    assert result.diagnostics["fixed_pairs"] == [("a", "b")]


def test_recovers_population_correlations_of_the_allyship_pool(allyship_pool):
    # foundation acceptance: simulated data recover implied_corr() (mean |diff| < .02 at N = 4,000)
    pm = PopulationModel.from_pool(allyship_pool, structure="second_order", thresholds="skewed")
    data = simulate(pm, n=4_000, seed=2023)
    est = polychoric(data).corr.to_numpy()
    true = pm.implied_corr().to_numpy()
    iu = np.triu_indices(len(pm.items), 1)
    diff = np.abs(est[iu] - true[iu])
    assert diff.mean() < 0.02
    assert diff.max() < 0.1
    # thresholds too (as answered: reverse-keyed items reversed)
    th = polychoric(data).thresholds.to_numpy()
    assert np.abs(th - pm.answered_thresholds().to_numpy()).mean() < 0.03


def test_recovery_with_missing_values(mini_pool):
    pm = PopulationModel.from_pool(mini_pool, missing=0.1)
    data = simulate(pm, n=4_000, seed=5)
    est = polychoric(data).corr.to_numpy()
    iu = np.triu_indices(18, 1)
    assert np.abs(est[iu] - pm.implied_corr().to_numpy()[iu]).mean() < 0.02


def test_non_positive_definite_is_reported_and_smoothed():
    # pairwise presence makes inconsistent correlations possible: a ~ b and b ~ c strongly positive on
    # different respondents, a ~ c strongly negative on a third set
    rng = np.random.default_rng(0)
    blocks = []
    for pair, sign in ((("a", "b"), 1), (("b", "c"), 1), (("a", "c"), -1)):
        z = rng.integers(0, 3, size=60)
        w = np.where(rng.random(60) < 0.1, rng.integers(0, 3, size=60), z)
        block = pd.DataFrame(np.nan, index=range(60), columns=["a", "b", "c"])
        block[pair[0]] = z
        block[pair[1]] = w if sign > 0 else 2 - w
        blocks.append(block)
    data = pd.concat(blocks, ignore_index=True)
    with pytest.warns(NotPositiveDefiniteWarning, match="not positive definite"):
        result = polychoric(data)
    assert result.diagnostics["min_eigenvalue"] < 0
    assert result.diagnostics["smoothed"]
    assert np.linalg.eigvalsh(result.corr.to_numpy()).min() > 0
    np.testing.assert_allclose(np.diag(result.corr.to_numpy()), 1.0)
    with pytest.warns(NotPositiveDefiniteWarning):
        raw = polychoric(data, smooth=False)
    assert not raw.diagnostics["smoothed"] and np.linalg.eigvalsh(raw.corr.to_numpy()).min() < 0


def test_smooth_corr_returns_pd_unit_diagonal():
    from allyscale.polychoric import smooth_corr

    bad = np.array([[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1.0]])
    out = smooth_corr(bad)
    assert np.linalg.eigvalsh(out).min() > 0
    np.testing.assert_allclose(np.diag(out), 1.0)


@pytest.mark.parametrize(
    "frame, fragment",
    [
        (pd.DataFrame({"a": [1, 2, 3, 2], "b": [1, 1, 1, 1]}), r"single observed response category.*\['b'\]"),
        (pd.DataFrame({"a": [1, 2, 3, 2], "b": [1, 2.5, 1, 2]}), r"item 'b' has a non-integer value 2.5 at row 1"),
        (pd.DataFrame({"a": [1, 2, 3, 2], "b": ["1", "x", "2", "1"]}), r"item 'b' has a non-numeric value"),
        (pd.DataFrame({"a": [1, 2, np.nan, np.nan], "b": [np.nan, np.nan, 1, 2]}), "never answered by the same"),
    ],
)
def test_bad_input_names_item_and_value(frame, fragment):
    with pytest.raises(DataError, match=fragment):
        polychoric(frame)


def test_public_name_and_result_forms(sim60):
    data, _ = sim60
    result = al.polychoric(data.iloc[:, :5])
    assert "Polychoric correlations: 5 items, N = 500" in result.summary()
    assert "<table" in result._repr_html_()
    json.dumps(result.to_dict())


def test_bvn_cdf_against_numerical_integration():
    from scipy import integrate
    from scipy.stats import norm

    def plackett(h, k, r):
        f = lambda t: np.exp(-(h * h - 2 * t * h * k + k * k) / (2 * (1 - t * t))) / (2 * np.pi * np.sqrt(1 - t * t))
        return norm.cdf(h) * norm.cdf(k) + integrate.quad(f, 0, r, epsabs=1e-14, epsrel=1e-13)[0]

    cases = [(0.3, -0.5, 0.6), (0, 0.4, -0.3), (0.7, 0, 0.9), (0, 0, 0.5), (-1.2, -0.8, 0.95), (1.5, 1.5, -0.9)]
    for h, k, r in cases:
        assert abs(bvn_cdf(h, k, r) - plackett(h, k, r)) < 1e-13


def test_influence_and_gamma_match_lavaan_nacov(sim60):
    # R: lavInspect(cfa(..., ordered = names(X), estimator = "WLSMV"), "gamma")  (reference/wlsmv/make_gamma.R)
    data, _ = sim60
    ref = reference_json("wlsmv", "gamma.json")
    result = polychoric(data.iloc[:, :6])
    gamma = result.gamma()
    assert list(gamma.columns[:5]) == ["i01|t1", "i01|t2", "i01|t3", "i01|t4", "i02|t1"]
    assert gamma.columns[24] == "i01~~i02"
    np.testing.assert_allclose(gamma.to_numpy(), np.array(ref["gamma"]), atol=1e-6, rtol=0)
    np.testing.assert_allclose(result.wls_stats().to_numpy(), ref["obs"], atol=1e-6, rtol=0)
    holey = data.iloc[:, :3].astype(float)
    holey.iloc[0, 0] = np.nan
    # missing responses are pairwise (lavaan's missing = "pairwise"; checked against lavaan in
    # test_engine_missing.py): the case keeps its other answers and a zero score for the missing one
    inf = polychoric(holey).influence()
    assert inf.shape[0] == 500 and np.isfinite(inf.to_numpy()).all()
    assert (inf.iloc[0][["i01|t1", "i01|t2", "i01|t3", "i01|t4"]] == 0).all() and inf.iloc[0]["i02~~i03"] != 0


def _pair_inputs(seed=3, n=400, missing=0.0):
    """Tables and threshold bounds of 12 items with 2 to 5 categories and correlations up to .96."""
    from allyscale._core import polychoric as pc

    rng = np.random.default_rng(seed)
    load = np.array([0.97, 0.96, 0.9, 0.5, 0.3, -0.8, 0.95, 0.7, 0.2, 0.99, 0.6, 0.85])
    z = rng.standard_normal(n)[:, None] * load + rng.standard_normal((n, 12)) * np.sqrt(1 - load**2)
    cuts = [[-1, 0, 1.0], [0.0], [-1.5, -0.5, 0.5, 1.5], [-0.3, 0.8]]
    y = np.column_stack([np.digitize(z[:, j], cuts[j % 4]) for j in range(12)]).astype(float)
    y[rng.random(y.shape) < missing] = np.nan
    codes, cats = pc.encode(y)
    n_cat = np.array([len(c) for c in cats])
    bounds = pc._bounds(pc.thresholds(codes, n_cat))
    iu = np.triu_indices(12, 1)
    return pc, codes, bounds, iu, pc.pair_tables(codes, int(n_cat.max()), iu).astype(float)


@pytest.mark.parametrize("missing", [0.0, 0.1])
def test_cell_probabilities_after_incremental_steps_equal_owens_t(missing):
    # the fit integrates only each step's change of Phi2; at the estimates (pairs up to .96, Owen's T
    # beyond .925) the cell probabilities equal the bivariate normal CDF's cells to rounding
    pc, codes, bounds, iu, tables = _pair_inputs(missing=missing)
    bi, bj = bounds[iu[0]], bounds[iu[1]]
    fit = pc.polychoric_pairs(tables, bi, bj, pc.olsson_start(tables, bi, bj), tol=1e-10)
    assert fit.converged.all() and (np.abs(fit.rho) >= 0.925).sum() >= 4
    h = np.where(np.abs(bi) >= 40, np.sign(bi) * np.inf, bi)
    k = np.where(np.abs(bj) >= 40, np.sign(bj) * np.inf, bj)
    grid = bvn_cdf(h[:, :, None], k[:, None, :], fit.rho[:, None, None])
    cells = grid[:, 1:, 1:] - grid[:, :-1, 1:] - grid[:, 1:, :-1] + grid[:, :-1, :-1]
    np.testing.assert_allclose(fit.prob, cells, rtol=0, atol=2e-15)
    # and the same probabilities from a fresh grid at those correlations (full quadrature)
    np.testing.assert_allclose(pc.cell_probs(bi, bj, fit.rho)[0], cells, rtol=0, atol=2e-15)


def test_incremental_steps_of_every_size_agree_with_a_fresh_evaluation():
    pc, codes, bounds, iu, tables = _pair_inputs()
    bi, bj = bounds[iu[0]], bounds[iu[1]]
    rho0 = np.clip(pc.olsson_start(tables, bi, bj), -0.9, 0.9)
    idx = np.arange(rho0.size)
    for step in (1e-4, 5e-3, 0.05, 0.3):  # 2, 3 and 6 nodes, and a full evaluation
        grid = pc.PairGrid(bi, bj)
        grid.probs(idx, rho0)
        rho1 = np.clip(rho0 + step * np.sign(0.5 - rho0), -0.92, 0.92)
        got = grid.probs(idx, rho1, second=True)
        want = pc.PairGrid(bi, bj).probs(idx, rho1, second=True)
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, rtol=0, atol=2e-15, err_msg=f"step {step}")


def test_olsson_start_from_codes_equals_the_tables_version():
    pc, codes, bounds, iu, tables = _pair_inputs()
    np.testing.assert_allclose(
        pc.olsson_start_complete(codes, bounds, iu), pc.olsson_start(tables, bounds[iu[0]], bounds[iu[1]]), atol=1e-14
    )
