"""Reliability coefficients against psych 2.2.9 and semTools 0.5.6.

References: tests/reference/sim60/reference.json (see tests/reference/README.md) and
tests/reference/reliability/reference.json (made by make_reliability.R in that folder).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE
from numpy.testing import assert_allclose

import allyscale
import allyscale.reliability as rel
from allyscale.errors import DataError, SpecificationError

SIM = REFERENCE / "sim60"
RELREF = REFERENCE / "reliability"


@pytest.fixture(scope="module")
def ref():
    return json.loads((SIM / "reference.json").read_text())


@pytest.fixture(scope="module")
def ref2():
    return json.loads((RELREF / "reference.json").read_text())


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(SIM / "data.csv")


@pytest.fixture(scope="module")
def model():
    return (SIM / "model.lav").read_text()


@pytest.fixture(scope="module")
def factor_items(model):
    return rel._factor_items(model)


@pytest.fixture(scope="module")
def polycor(ref):
    items = ref["items"]
    c = ref["polychoric"]["corr"]
    return pd.DataFrame(c, index=items, columns=items) if isinstance(c, list) else pd.DataFrame(c).loc[items, items]


def _parts(est: pd.DataFrame, factor_items: dict) -> dict:
    out = {}
    for f in factor_items:
        lam = est[(est.op == "=~") & (est.lhs == f)].set_index("rhs")["est"]
        psi = float(est[(est.op == "~~") & (est.lhs == f) & (est.rhs == f)]["est"].iloc[0])
        out[f] = (lam, psi)
    return out


# --------------------------------------------------------------------------- alpha
def test_alpha_matches_psych_for_every_factor(data, ref, factor_items):
    # R: psych::alpha(X[, items of factor], check.keys = FALSE): total$raw_alpha, total$std.alpha,
    #    total$"G6(smc)", item.stats$r.drop, alpha.drop$raw_alpha
    for f, items in factor_items.items():
        a = allyscale.alpha(data, items=items)
        r = ref["alpha"][f]
        assert_allclose(a.alpha, r["raw_alpha"], atol=1e-10, rtol=0)
        assert_allclose(a.std_alpha, r["std_alpha"], atol=1e-10, rtol=0)
        assert_allclose(a.g6, r["G6"], atol=1e-10, rtol=0)
        assert_allclose(a.item_stats["r_drop"], r["r_drop"], atol=1e-10, rtol=0)
        assert_allclose(a.item_stats["alpha_if_dropped"], r["alpha_if_dropped"], atol=1e-10, rtol=0)


def test_alpha_item_statistics_and_feldt_interval(data, ref2):
    # R: a <- psych::alpha(trust, check.keys = FALSE): item.stats (raw.r, std.r, r.cor, mean, sd),
    #    total$average_r, total$ase, total$mean, total$sd, feldt, response.freq, alpha.drop
    r = ref2["alpha_trust"]
    a = allyscale.alpha(data, items=[f"i{j:02d}" for j in range(1, 16)])
    st = a.item_stats
    for col, key in [
        ("raw_r", "raw_r"),
        ("std_r", "std_r"),
        ("r_cor", "r_cor"),
        ("mean", "mean"),
        ("sd", "sd"),
        ("std_alpha_if_dropped", "drop_std_alpha"),
        ("g6_if_dropped", "drop_G6"),
    ]:
        assert_allclose(st[col], r[key], atol=1e-10, rtol=0, err_msg=col)
    assert_allclose(a.average_r, r["average_r"], atol=1e-12, rtol=0)
    assert_allclose(a.total["ase"], r["ase"], atol=1e-12, rtol=0)
    assert_allclose([a.total["mean"], a.total["sd"]], [r["total_mean"], r["total_sd"]], atol=1e-12, rtol=0)
    assert_allclose(
        a.ci.loc["feldt", ["lower", "upper"]], [r["feldt"]["lower"], r["feldt"]["upper"]], atol=1e-10, rtol=0
    )
    freq = st[[c for c in st.columns if c.startswith("freq_")]].to_numpy()
    assert_allclose(freq, np.asarray(r["freq"]), atol=1e-12, rtol=0)


def test_alpha_with_missing_responses_uses_pairwise_covariances(data, ref2):
    # R: tm <- trust; tm[seq(1, 500, 7), "i03"] <- NA; tm[seq(2, 500, 11), c("i05", "i09")] <- NA
    #    psych::alpha(tm, check.keys = FALSE)
    r = ref2["alpha_missing"]
    t = data[[f"i{j:02d}" for j in range(1, 16)]].copy()
    t.loc[np.arange(0, 500, 7), "i03"] = np.nan
    t.loc[np.arange(1, 500, 11), ["i05", "i09"]] = np.nan
    a = allyscale.alpha(t)
    assert_allclose([a.alpha, a.std_alpha, a.g6], [r["raw_alpha"], r["std_alpha"], r["G6"]], atol=1e-10, rtol=0)
    for col in ["r_drop", "raw_r", "alpha_if_dropped", "n"]:
        assert_allclose(a.item_stats[col], r[col], atol=1e-10, rtol=0, err_msg=col)
    assert_allclose(
        a.ci.loc["feldt", ["lower", "upper"]], [r["feldt"]["lower"], r["feldt"]["upper"]], atol=1e-10, rtol=0
    )
    assert a.diagnostics["n_missing"] == int(t.isna().sum().sum())


def test_alpha_bootstrap_is_seeded_and_brackets_alpha(data):
    items = [f"i{j:02d}" for j in range(40, 46)]
    a1 = allyscale.alpha(data, items=items, n_boot=200, seed=3)
    a2 = allyscale.alpha(data, items=items, n_boot=200, seed=3)
    assert_allclose(a1.boot, a2.boot, atol=0, rtol=0)
    lo, mid, hi = a1.ci.loc["bootstrap", ["lower", "estimate", "upper"]]
    assert lo < a1.alpha < hi
    assert abs(mid - a1.alpha) < 0.01
    # the bootstrap and Feldt intervals describe the same sampling variability
    feldt = a1.ci.loc["feldt"]
    assert abs((hi - lo) - (feldt["upper"] - feldt["lower"])) < 0.03


def test_alpha_reverse_scores_pool_items(mini_pool):
    rng = np.random.default_rng(5)
    z = rng.normal(size=(300, 1))
    cols = {}
    for i in mini_pool.item_ids:
        x = z[:, 0] * (-1 if i in mini_pool.reverse_items else 1) + rng.normal(size=300)
        cols[i] = np.clip(np.round(3 + x), 1, 5)
    d = pd.DataFrame(cols)
    items = mini_pool.factor_items()["fa"]
    a = allyscale.alpha(d, items=items, pool=mini_pool)
    manual = d[items].copy()
    manual["a3"] = 6 - manual["a3"]
    b = allyscale.alpha(manual, items=items)
    assert_allclose(a.alpha, b.alpha, atol=1e-14, rtol=0)
    assert a.diagnostics["reversed"] == ["a3"]
    assert d.loc[0, "a3"] == cols["a3"][0]  # caller's data untouched
    unreversed = allyscale.alpha(d, items=items)
    assert unreversed.alpha < a.alpha
    assert unreversed.item_stats.loc["a3", "r_drop"] < 0 < a.item_stats.loc["a3", "r_drop"]


def test_ordinal_alpha_uses_polychoric_correlations(data, polycor):
    items = [f"i{j:02d}" for j in range(40, 46)]
    a = allyscale.alpha(data, items=items, ordinal=True)
    r = polycor.loc[items, items].to_numpy()
    n = len(items)
    expected = (1 - n / r.sum()) * n / (n - 1)  # standardized alpha of lavCor's polychoric matrix (Zumbo et al.)
    assert_allclose(a.alpha, expected, atol=2e-4, rtol=0)
    assert_allclose(a.alpha, a.std_alpha, atol=1e-12, rtol=0)
    assert a.corr == "polychoric"


def test_alpha_bad_input_names_the_culprit(data):
    with pytest.raises(DataError, match="i99"):
        allyscale.alpha(data, items=["i01", "i99"])
    d = data[["i01", "i02"]].copy()
    d["i02"] = 3
    with pytest.raises(DataError, match="i02"):
        allyscale.alpha(d)
    d = data[["i01", "i02"]].astype(str)
    with pytest.raises(DataError, match="i01"):
        allyscale.alpha(d)
    with pytest.raises(SpecificationError):
        allyscale.alpha(data, items=["i01"])


def test_alpha_result_renders(data):
    a = allyscale.alpha(data, items=["i40", "i41", "i42", "i43"])
    assert "raw alpha" in a.summary() and "<table" in a._repr_html_()
    json.dumps(a.to_dict())


# --------------------------------------------------------------------------- omega (Schmid-Leiman)
@pytest.fixture(scope="module")
def omega6(data, ref):
    return allyscale.omega(data[ref["items"]], 6)


def test_omega_sl_matches_psych(omega6, ref, ref2):
    # R: psych::omega(X, nfactors = 6, plot = FALSE): omega_h, omega.tot, alpha, G6, ECV, omega.lim
    r = ref["omega_sl"]
    assert_allclose(omega6.omega_h, r["omega_h"], atol=1e-4, rtol=0)
    assert_allclose(omega6.omega_t, r["omega_t"], atol=1e-6, rtol=0)
    assert_allclose(omega6.alpha, r["alpha"], atol=1e-10, rtol=0)
    r2 = ref2["omega6"]
    assert_allclose(
        [omega6.g6, omega6.ecv, omega6.omega_lim], [r2["G6"], r2["ECV"], r2["omega_lim"]], atol=1e-4, rtol=0
    )


def test_omega_group_table_matches_psych(omega6, ref2):
    # R: psych::omega(X, nfactors = 6)$omega.group (total, general, group); factor order is arbitrary,
    # so rows are matched by their omega total
    r = ref2["omega6"]
    mine = omega6.groups[["total", "general", "group"]].to_numpy()
    theirs = np.column_stack([r["group_total"], r["group_general"], r["group_group"]])
    assert_allclose(mine[0], theirs[0], atol=1e-4, rtol=0)
    assert_allclose(mine[1:][np.argsort(mine[1:, 0])], theirs[1:][np.argsort(theirs[1:, 0])], atol=1e-4, rtol=0)
    assert omega6.groups["n_items"].iloc[1:].sort_values().tolist() == [6, 6, 9, 12, 12, 15]


def test_omega_three_factors_psych_default(data, ref, ref2):
    # R: psych::omega(X, nfactors = 3, plot = FALSE)
    om = allyscale.omega(data[ref["items"]], 3)
    r = ref2["omega3"]
    assert_allclose([om.omega_h, om.omega_t, om.ecv], [r["omega_h"], r["omega_t"], r["ECV"]], atol=1e-4, rtol=0)


def test_omega_two_factors_and_two_item_alpha(data, ref2):
    # R: psych::omega(X[, c(i40:i45, i55:i60)], nfactors = 2, plot = FALSE) (option = "equal");
    #    psych::alpha(trust[, 1:2], check.keys = FALSE) (psych's two-item alpha-if-dropped)
    items = [f"i{j:02d}" for j in [*range(40, 46), *range(55, 61)]]
    om = allyscale.omega(data[items], 2)
    r = ref2["omega2"]
    assert_allclose([om.omega_h, om.omega_t, om.ecv], [r["omega_h"], r["omega_t"], r["ECV"]], atol=1e-4, rtol=0)
    assert_allclose(om.groups["total"], r["group_total"], atol=1e-4, rtol=0)
    a = allyscale.alpha(data, items=["i01", "i02"])
    t = ref2["alpha_two"]
    assert_allclose([a.alpha, a.std_alpha], [t["raw_alpha"], t["std_alpha"]], atol=1e-12, rtol=0)
    assert_allclose(a.item_stats["alpha_if_dropped"], t["alpha_if_dropped"], atol=1e-12, rtol=0)
    assert_allclose(a.item_stats["r_drop"], t["r_drop"], atol=1e-12, rtol=0)


def test_omega_formulas_on_given_loadings():
    # two groups of two items, g loadings .6, group loadings .4 and .5: R implied by the loadings
    sl = np.array([[0.6, 0.4, 0], [0.6, 0.4, 0], [0.6, 0, 0.5], [-0.6, 0, -0.5]])
    h2 = (sl**2).sum(axis=1)
    r = sl @ sl.T
    np.fill_diagonal(r, 1)
    res = rel.omega_from_schmid(r, sl, h2, ["a", "b", "c", "d"], ["F1", "F2"])
    v = 2.4**2 + 0.8**2 + 1.0**2 + (4 - h2.sum())  # item d flipped
    assert_allclose(res["omega_h"], 2.4**2 / v, atol=1e-12, rtol=0)
    assert_allclose(res["omega_t"], (v - (4 - h2.sum())) / v, atol=1e-12, rtol=0)
    assert_allclose(res["ecv"], 4 * 0.36 / (4 * 0.36 + 2 * 0.16 + 2 * 0.25), atol=1e-12, rtol=0)
    vg1 = 1.2**2 + 0.8**2 + 2 * (1 - 0.52)
    assert_allclose(res["groups"].loc["F1", "general"], 1.2**2 / vg1, atol=1e-12, rtol=0)
    assert list(res["assignment"]) == ["F1", "F1", "F2", "F2"]


def test_omega_needs_two_factors(data):
    with pytest.raises(SpecificationError, match="n_factors"):
        allyscale.omega(data[["i01", "i02", "i03"]], 1)


# --------------------------------------------------------------------------- model-based (bifactor)
def test_bifactor_indices_match_comprelsem_on_standardized_bifactor(ref2):
    # R: bfit <- cfa(bmod, data = scale(X), std.lv = TRUE, orthogonal = TRUE);
    #    compRelSEM(bfit, obs.var = FALSE, return.total = TRUE) -> g: omega_h, groups: omega_hs, total: omega
    b = ref2["bifactor_sim60"]
    ss = pd.DataFrame(b["std"])
    load = ss[ss.op == "=~"].pivot_table(index="rhs", columns="lhs", values="est.std").fillna(0.0)
    theta = ss[(ss.op == "~~") & (ss.lhs == ss.rhs) & ss.lhs.isin(load.index)].set_index("lhs")["est.std"]
    res = rel.bifactor_indices(load, "g", theta=theta)
    cr = b["comp_rel_implied"]
    assert_allclose(res.omega_h, cr["g"], atol=1e-6, rtol=0)
    assert_allclose(res.omega, cr["total"], atol=1e-6, rtol=0)
    for f in ["trust", "action", "awareness", "knowledge", "accountability", "communication"]:
        assert_allclose(res.factors.loc[f, "omega_h"], cr[f], atol=1e-6, rtol=0, err_msg=f)
    # PUC of blocks 15, 12, 12, 6, 9, 6 of 60 items
    pairs = sum(k * (k - 1) / 2 for k in [15, 12, 12, 6, 9, 6])
    assert_allclose(res.puc, 1 - pairs / (60 * 59 / 2), atol=1e-12, rtol=0)


def test_bifactor_h_and_ecv_by_hand():
    load = pd.DataFrame({"g": [0.7, 0.7, 0.5, 0.5], "s1": [0.3, 0.3, 0, 0], "s2": [0, 0, 0.6, 0.6]}, index=list("abcd"))
    res = rel.bifactor_indices(load, "g")
    s = 2 * 0.49 / 0.51 + 2 * 0.25 / 0.75
    assert_allclose(res.factors.loc["g", "H"], 1 / (1 + 1 / s), atol=1e-12, rtol=0)
    assert_allclose(res.ecv, (2 * 0.49 + 2 * 0.25) / (2 * 0.49 + 2 * 0.25 + 2 * 0.09 + 2 * 0.36), atol=1e-12, rtol=0)
    assert_allclose(res.puc, 1 - 2 / 6, atol=1e-12, rtol=0)
    with pytest.raises(SpecificationError, match="zzz"):
        rel.bifactor_indices(load, "zzz")


# --------------------------------------------------------------------------- composite reliability, AVE
def test_comprelsem_and_ave_formulas_with_lavaan_estimates(data, ref, factor_items, polycor):
    # R: semTools::compRelSEM(fit_ml), semTools::AVE(fit_ml), compRelSEM(fit_wlsmv) with the
    #    estimates of lavaan (cfa_ml.est, cfa_wlsmv.est) fed to the formulas
    s = data[ref["items"]].cov(ddof=0)
    var = pd.Series(np.diag(s), index=s.index)
    for f, (lam, psi) in _parts(pd.DataFrame(ref["cfa_ml"]["est"]), factor_items).items():
        assert_allclose(rel.composite_reliability(lam, psi, s), ref["comp_rel_ml"][f], atol=1e-10, rtol=0)
        assert_allclose(rel.average_variance_extracted(lam, psi, var), ref["ave_ml"][f], atol=1e-10, rtol=0)
    est = pd.DataFrame(ref["cfa_wlsmv"]["est"])
    th = est[est.op == "|"]
    th = th.assign(k=th.rhs.str.slice(1).astype(int)).pivot(index="lhs", columns="k", values="est")
    for f, (lam, psi) in _parts(est, factor_items).items():
        assert_allclose(rel.categorical_omega(lam, psi, th, polycor), ref["comp_rel_wlsmv"][f], atol=1e-10, rtol=0)


def test_categorical_omega_with_allyscale_polychoric(data, ref, factor_items):
    # R: compRelSEM(cfa(model, d, ordered = items, estimator = "WLSMV")); the denominator here is
    #    allyscale.polychoric (unsmoothed, as lavaan's sample statistics), loadings/thresholds lavaan's
    from allyscale.polychoric import polychoric

    pc = polychoric(data[ref["items"]], smooth=False)
    est = pd.DataFrame(ref["cfa_wlsmv"]["est"])
    for f, (lam, psi) in _parts(est, factor_items).items():
        assert_allclose(
            rel.categorical_omega(lam, psi, pc.thresholds, pc.corr),
            ref["comp_rel_wlsmv"][f],
            atol=1e-6,
            rtol=0,
            err_msg=f,
        )


@pytest.fixture(scope="module")
def table_ml(data, model):
    return allyscale.reliability(data, model, estimator="ML").table  # the R references are ML fits


def test_reliability_ml_end_to_end(table_ml, ref, ref2):
    # R: compRelSEM(cfa(model, d)), AVE(cfa(model, d)), psych::alpha per factor
    for f in ref["comp_rel_ml"]:
        assert_allclose(table_ml.loc[f, "omega"], ref["comp_rel_ml"][f], atol=1e-5, rtol=0)
        assert_allclose(table_ml.loc[f, "ave"], ref["ave_ml"][f], atol=1e-5, rtol=0)
        assert_allclose(table_ml.loc[f, "alpha"], ref["alpha"][f]["raw_alpha"], atol=1e-10, rtol=0)
    assert table_ml.loc["total", "n_items"] == 60
    assert table_ml.loc["trust", "n_items"] == 15
    assert np.isnan(table_ml.loc["total", "ave"])
    # R: compRelSEM(cfa(model, d), return.total = TRUE)["total"]
    assert_allclose(table_ml.loc["total", "omega"], ref2["comp_rel_total_ml"], atol=1e-5, rtol=0)


def test_reliability_wlsmv_end_to_end(data, model, ref):
    # R: compRelSEM(cfa(model, d, ordered = items, estimator = "WLSMV")) (Green & Yang on the response scale)
    tab = allyscale.reliability(data, model, estimator="WLSMV").table
    for f, v in ref["comp_rel_wlsmv"].items():
        assert_allclose(tab.loc[f, "omega"], v, atol=2e-3, rtol=0)


def test_reliability_missing_item_is_named(data, model):
    with pytest.raises(DataError, match="i60"):
        allyscale.reliability(data.drop(columns=["i60"]), model)


# --------------------------------------------------------------------------- split-half, ICC
def test_split_half_matches_r(data, ref2):
    # R: A, B = rowSums of odd/even (first 8 / last 7) trust items; cor(A, B), 2r/(1+r),
    #    2 * (1 - (var(A) + var(B)) / var(A + B))
    sh = allyscale.split_half(data, items=[f"i{j:02d}" for j in range(1, 16)])
    for row in ["odd_even", "first_second"]:
        for col in ["r_halves", "spearman_brown", "guttman"]:
            assert_allclose(sh.table.loc[row, col], ref2["split_half"][row][col], atol=1e-12, rtol=0)
    json.dumps(sh.to_dict())


def test_icc_matches_psych(ref2):
    # R: psych::ICC(retest, lmer = FALSE)$results; ICC2/ICC3 also equal the default lmer = TRUE
    d = pd.read_csv(RELREF / "retest.csv")
    res = allyscale.icc(d, ["time1", "time2"])
    r = ref2["icc"]
    t = res.table.loc[r["type"]]
    for col, key in [
        ("icc", "icc"),
        ("F", "F"),
        ("df1", "df1"),
        ("df2", "df2"),
        ("lower", "lower"),
        ("upper", "upper"),
    ]:
        assert_allclose(t[col], r[key], atol=1e-9, rtol=0, err_msg=col)
    assert_allclose(t["p"], r["p"], rtol=1e-6, atol=0)
    assert_allclose(t["icc"].iloc[[1, 2, 4, 5]], np.asarray(r["lmer_icc"])[[1, 2, 4, 5]], atol=1e-6, rtol=0)
    assert res.agreement == t.loc["ICC2", "icc"] and res.consistency == t.loc["ICC3", "icc"]


def test_icc_bad_input():
    d = pd.DataFrame({"t1": [1.0, 2, 3, 4], "t2": [1.0, 2, np.nan, 5]})
    with pytest.raises(DataError, match="t3"):
        allyscale.icc(d, ["t1", "t3"])
    with pytest.warns(allyscale.DataWarning, match="1 rows"):
        res = allyscale.icc(d)
    assert res.diagnostics["dropped_rows"] == 1 and res.n_obs == 3


# --------------------------------------------------------------------------- CLI
def test_cli_reliability_writes_json(tmp_path, ref):
    from click.testing import CliRunner

    from allyscale.cli import main

    out = tmp_path / "rel.json"
    res = CliRunner().invoke(
        main,
        [
            "reliability",
            str(SIM / "data.csv"),
            "--model",
            str(SIM / "model.lav"),
            "--omega-factors",
            "6",
            "--estimator",
            "ML",
            "--json",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "HTMT" in res.output and "Fornell-Larcker" in res.output
    payload = json.loads(out.read_text())
    # R: semTools::compRelSEM(fit), semTools::htmt(model, data = d)
    assert_allclose(
        [payload["reliability"][f]["omega"] for f in ref["comp_rel_ml"]],
        list(ref["comp_rel_ml"].values()),
        atol=1e-5,
        rtol=0,
    )
    assert_allclose(payload["htmt"]["trust"]["action"], ref["htmt"][0][1], atol=1e-10, rtol=0)
    # R: psych::omega(X, nfactors = 6)
    assert_allclose(
        [payload["omega"]["omega_h"], payload["omega"]["omega_t"]],
        [ref["omega_sl"]["omega_h"], ref["omega_sl"]["omega_t"]],
        atol=1e-4,
        rtol=0,
    )


def test_cli_reliability_errors(tmp_path):
    from click.testing import CliRunner

    from allyscale.cli import main

    res = CliRunner().invoke(main, ["reliability", str(SIM / "data.csv")])
    assert res.exit_code == 2 and "error: give --model" in res.output
    res = CliRunner().invoke(main, ["reliability", str(SIM / "data.csv"), "--model", str(tmp_path / "none.lav")])
    assert res.exit_code == 2 and "none.lav" in res.output and "Traceback" not in res.output


# --------------------------------------------------------------------------- model-based omega through cfa()
@pytest.fixture(scope="module")
def z_items(data):
    x = data.filter(regex="^i")
    return (x - x.mean()) / x.std()


def test_omega_from_second_order_cfa(z_items, ref2):
    # R: sfit <- cfa(smod, data = scale(X), std.lv = TRUE); compRelSEM(sfit, obs.var = FALSE, higher = "g")
    #    -> g: omega_h of the higher-order factor; first-order factors: omega of each subscale
    sec = ref2["second_order_sim60"]
    fit = allyscale.cfa(z_items, sec["model"], std_lv=True)
    res = allyscale.omega(fit)
    assert res.general == "g"
    cr = sec["comp_rel_implied"]
    assert_allclose(res.omega_h, cr["g"], atol=1e-5, rtol=0)
    for f in ["trust", "action", "awareness", "knowledge", "accountability", "communication"]:
        assert_allclose(res.factors.loc[f, "omega"], cr[f], atol=1e-5, rtol=0, err_msg=f)
    assert "omega_h" in res.summary() and "<table" in res._repr_html_()
    json.dumps(res.to_dict())


def test_omega_from_bifactor_cfa(z_items, ref2):
    # R: cfa(bmod, data = scale(X), std.lv = TRUE, orthogonal = TRUE); compRelSEM(., obs.var = FALSE,
    #    return.total = TRUE)
    bif = ref2["bifactor_sim60"]
    lv = ["trust", "action", "awareness", "knowledge", "accountability", "communication", "g"]
    orth = "\n".join(f"{a} ~~ 0*{b}" for i, a in enumerate(lv) for b in lv[i + 1 :])
    fit = allyscale.cfa(z_items, bif["model"] + "\n" + orth, std_lv=True)
    res = allyscale.omega(fit)
    cr = bif["comp_rel_implied"]
    assert_allclose([res.omega_h, res.omega], [cr["g"], cr["total"]], atol=1e-5, rtol=0)
    assert_allclose([res.factors.loc[f, "omega_h"] for f in lv[:-1]], [cr[f] for f in lv[:-1]], atol=2e-5, rtol=0)


def test_reliability_with_pool_reverse_scores_first(mini_pool):
    rng = np.random.default_rng(11)
    f = rng.multivariate_normal(np.zeros(3), [[1, 0.4, 0.3], [0.4, 1, 0.35], [0.3, 0.35, 1]], size=400)
    cols = {}
    for i in mini_pool.item_ids:
        k = "abc".index(i[0])
        x = 0.8 * f[:, k] * (-1 if i in mini_pool.reverse_items else 1) + 0.6 * rng.normal(size=400)
        cols[i] = np.clip(np.round(3 + 1.2 * x), 1, 5)
    d = pd.DataFrame(cols)
    model = mini_pool.model_syntax("correlated")
    tab = allyscale.reliability(d, model, pool=mini_pool).table
    manual = d.copy()
    for i in mini_pool.reverse_items:
        manual[i] = 6 - manual[i]
    tab2 = allyscale.reliability(manual, model).table
    assert_allclose(tab.to_numpy(dtype=float), tab2.to_numpy(dtype=float), atol=1e-8, rtol=0)
    assert_allclose(
        tab.loc["fa", "alpha"],
        allyscale.alpha(d, items=mini_pool.factor_items()["fa"], pool=mini_pool).alpha,
        atol=1e-14,
        rtol=0,
    )
    assert (tab.loc[["fa", "fb", "fc"], "omega"] > 0.7).all()
    assert d.loc[0, "a3"] == cols["a3"][0]


def test_ave_is_undefined_with_cross_loadings(data, ref2):
    # R: xfit <- cfa(xmod, data = d); compRelSEM(xfit); AVE(xfit) (NA for factors with a cross-loading item)
    model = ref2["cross_loading"]["model"]
    res = allyscale.reliability(data, model, estimator="ML")
    tab = res.table
    assert_allclose(
        tab.loc[["f1", "f2"], "omega"], [ref2["cross_loading"]["omega"][f] for f in ["f1", "f2"]], atol=1e-5, rtol=0
    )
    assert np.isnan(tab.loc["f1", "ave"]) and np.isnan(tab.loc["f2", "ave"])
    assert res.diagnostics["ave_undefined_cross_loadings"] == ["f1", "f2"]
    assert np.isfinite(tab.loc["f1", "omega"])


def test_all_splits_match_psych_splithalf(data, ref2):
    # R: psych::splitHalf(trust, check.keys = FALSE), psych::splitHalf(X[, i16:i27], check.keys = FALSE):
    #    maxrb (lambda4), minrb (beta), meanr
    r = ref2["split_all"]
    t = allyscale.split_half(data, items=[f"i{j:02d}" for j in range(1, 16)]).all_splits
    assert_allclose([t["max"], t["min"]], [r["trust"]["max"], r["trust"]["min"]], atol=1e-12, rtol=0)
    # psych divides the sum of its 3218 splits by choose(15, 7) / 2 = 3217.5
    assert t["n_splits"] == 3218
    assert_allclose(t["mean"] * 3218 / 3217.5, r["trust"]["mean"], atol=1e-12, rtol=0)
    a = allyscale.split_half(data, items=[f"i{j:02d}" for j in range(16, 28)]).all_splits
    assert a["n_splits"] == 462
    assert_allclose(
        [a["max"], a["min"], a["mean"]],
        [r["action"]["max"], r["action"]["min"], r["action"]["mean"]],
        atol=1e-12,
        rtol=0,
    )
    # mean of all splits of an even number of items is standardized alpha (Cronbach, 1951)
    assert_allclose(
        a["mean"], allyscale.alpha(data, items=[f"i{j:02d}" for j in range(16, 28)]).std_alpha, atol=1e-12, rtol=0
    )


def test_random_splits_are_seeded(data):
    items = [f"i{j:02d}" for j in range(1, 16)]
    s1 = allyscale.split_half(data, items=items, n_sample=500, seed=4).all_splits
    s2 = allyscale.split_half(data, items=items, n_sample=500, seed=4).all_splits
    assert s1 == s2 and s1["n_splits"] == 500 and "random" in s1["mode"]


def test_reliability_wlsmv_path_with_lavaans_estimates(data, model, ref, ref2):
    # The categorical path of reliability() (polychoric denominator computed here, thresholds and
    # loadings from the fit) fed with lavaan's own WLSMV estimates:
    # R: compRelSEM(fit_w) and AVE(fit_w), fit_w <- cfa(model, d, ordered = items, estimator = "WLSMV")
    from types import SimpleNamespace

    est = pd.DataFrame(ref["cfa_wlsmv"]["est"])[["lhs", "op", "rhs", "est"]]
    fit = SimpleNamespace(estimates=est, converged=True, diagnostics={})
    res = allyscale.reliability(data, model, estimator="WLSMV", fit=fit)
    tab = res.table
    for f, v in ref["comp_rel_wlsmv"].items():
        assert_allclose(tab.loc[f, "omega"], v, atol=1e-6, rtol=0, err_msg=f)
        assert_allclose(tab.loc[f, "ave"], ref2["wlsmv"]["ave"][f], atol=1e-10, rtol=0, err_msg=f)
    assert res.diagnostics["polychoric"]["smoothed"] is False
    assert 0.9 < tab.loc["total", "omega"] < 1


def test_omega_on_polychoric_correlations(data, ref, ref2):
    # R: psych::omega(X, nfactors = 6, poly = TRUE, plot = FALSE)
    om = allyscale.omega(data[ref["items"]], 6, corr="polychoric")
    r = ref2["omega6_poly"]
    assert_allclose(
        [om.omega_h, om.omega_t, om.ecv, om.alpha],
        [r["omega_h"], r["omega_t"], r["ECV"], r["alpha"]],
        atol=1e-4,
        rtol=0,
    )


def test_omega_uses_the_pools_factors_by_default():
    pool = allyscale.load_pool("item_pools/allyship.yaml")
    data = allyscale.simulate(pool, 400, seed=3)
    om = allyscale.omega(data, pool=pool)
    # the Schmid-Leiman loadings: g, six group factors (the pool's factors, not psych's default 3), h2, u2, p2
    assert om.loadings.shape[1] == 1 + 6 + 3, list(om.loadings.columns)
