import json

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data, reference_json
from scipy.optimize import linear_sum_assignment

import allyscale as al
from allyscale.efa import congruence, schmid_leiman
from allyscale.errors import DataError, SpecificationError

REF = reference_json("sim60")
MORE = reference_json("sim60", "efa.json")
X = reference_data("sim60")[REF["items"]]


def aligned(loadings: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Reorder and sign the columns of ``loadings`` to match ``reference`` (arbitrary in EFA)."""
    c = congruence(loadings, reference)
    rows, cols = linear_sum_assignment(-np.abs(c))
    perm = np.empty(loadings.shape[1], dtype=int)
    perm[cols] = rows
    out = loadings[:, perm]
    return out * np.sign(np.diag(congruence(out, reference)))


def test_minres_oblimin_matches_psych():
    # R: psych::fa(X, nfactors = 6, rotate = "oblimin", fm = "minres")
    result = al.efa(X, 6)
    ref = REF["efa_minres_oblimin"]
    np.testing.assert_allclose(
        aligned(result.loadings.to_numpy(), np.array(ref["loadings"])), ref["loadings"], atol=2e-3, rtol=0
    )
    assert np.abs(result.loadings.to_numpy() - np.array(ref["loadings"])).max() < 1e-4  # same order and signs
    np.testing.assert_allclose(result.phi.to_numpy(), ref["phi"], atol=2e-3, rtol=0)
    np.testing.assert_allclose(result.communalities.to_numpy(), ref["communalities"], atol=2e-3, rtol=0)
    assert result.diagnostics["extraction_converged"] and result.diagnostics["rotation_converged"]


def test_ml_promax_matches_psych():
    # R: psych::fa(X, nfactors = 6, rotate = "promax", fm = "ml")
    result = al.efa(X, 6, method="ml", rotation="promax")
    np.testing.assert_allclose(
        aligned(result.loadings.to_numpy(), np.array(REF["efa_ml_promax"]["loadings"])),
        REF["efa_ml_promax"]["loadings"],
        atol=2e-3,
        rtol=0,
    )


def test_polychoric_minres_oblimin_matches_psych():
    # R: psych::fa(X, nfactors = 6, rotate = "oblimin", fm = "minres", cor = "poly")
    result = al.efa(X, 6, corr="polychoric")
    ref = REF["efa_poly_minres_oblimin"]
    np.testing.assert_allclose(
        aligned(result.loadings.to_numpy(), np.array(ref["loadings"])), ref["loadings"], atol=5e-3, rtol=0
    )
    np.testing.assert_allclose(result.phi.to_numpy(), ref["phi"], atol=5e-3, rtol=0)


@pytest.mark.parametrize(
    "key, method, rotation",
    [
        ("minres_geomin", "minres", "geomin"),
        ("minres_varimax", "minres", "varimax"),
        ("pa_promax", "pa", "promax"),
        ("ml_oblimin", "ml", "oblimin"),
    ],
)
def test_other_rotations_and_methods_match_psych(key, method, rotation):
    # R: psych::fa(X, 6, rotate = <rotation>, fm = <method>)  (tests/reference/sim60/make_efa.R)
    result = al.efa(X, 6, method=method, rotation=rotation)
    ref = MORE[key]
    np.testing.assert_allclose(
        aligned(result.loadings.to_numpy(), np.array(ref["loadings"])), ref["loadings"], atol=2e-3, rtol=0
    )
    for stat in ("df", "tli", "rmsea", "rms"):
        np.testing.assert_allclose(result.fit[stat], ref["fit"][stat], atol=1e-5, rtol=0)
    np.testing.assert_allclose(result.fit["chisq"], ref["fit"]["chisq"], rtol=1e-5)


def test_target_rotation_matches_gparotation():
    # R: GPArotation::targetQ(fa(X, 6, rotate = "none")$loadings, Target = Tg)  (make_efa.R)
    ref = MORE["minres_target"]
    target = np.array(ref["target"], dtype=float)
    result = al.efa(X, 6, rotation="target", target=target)
    load = result.loadings.to_numpy()
    signs = np.sign((load * np.array(ref["loadings"])).sum(axis=0))
    np.testing.assert_allclose(load * signs, ref["loadings"], atol=2e-3, rtol=0)
    assert (result.target_congruence["congruence"] > 0.95).all()


def test_target_rotation_toward_a_pool(allyship_pool):
    pm = al.PopulationModel.from_pool(allyship_pool, loadings=0.7, factor_corr=0.3)
    data = al.simulate(pm, n=1500, seed=11)
    result = al.efa(data, 6, rotation="target", pool=allyship_pool, corr="polychoric")
    assert list(result.loadings.columns) == [f.id for f in allyship_pool.factors]
    assert (result.target_congruence["congruence"] > 0.9).all()
    # reverse-keyed items are answered in reverse: negative loadings on their own factor
    assert result.loadings.loc["tr_emp5", "trust"] < -0.4
    primary = result.loadings.abs().idxmax(axis=1)
    expected = {it.id: it.factor for it in allyship_pool.items}
    assert (primary == pd.Series(expected)).mean() > 0.95


def test_item_flags_name_their_rule():
    result = al.efa(X, 6)
    flags = result.item_flags
    assert set(flags.columns) == {"primary_factor", "primary_loading", "flags"}
    for item, row in flags.iterrows():
        assert any(rule in row["flags"] for rule in ("primary loading", "cross-loading", "gap", "communality"))
        if "communality" in row["flags"]:
            assert result.communalities[item] < 0.30


def test_random_starts_report_local_optima():
    result = al.efa(X, 6, n_starts=5, seed=2)
    assert result.diagnostics["starts"] == 6
    assert result.diagnostics["local_optima"] >= 1
    # the flag says whether the identity start alone reaches the best criterion found over all starts
    identity_only = al.efa(X, 6, n_starts=0)
    crit_identity = identity_only.diagnostics["criteria"][0]
    best = min(result.diagnostics["criteria"])
    assert result.diagnostics["identity_start_best"] == (abs(crit_identity - best) < 1e-6)
    assert best <= crit_identity + 1e-9


def test_schmid_leiman_structure():
    result = al.efa(X, 6)
    sl = schmid_leiman(result)
    assert list(sl.loadings.columns) == ["g", *result.loadings.columns]
    # the SL transformation preserves each item's communality
    np.testing.assert_allclose(
        sl.h2.to_numpy(),
        np.einsum("ij,jk,ik->i", result.loadings.to_numpy(), result.phi.to_numpy(), result.loadings.to_numpy()),
        atol=0.02,
    )
    assert (sl.gamma > 0.4).all() and (sl.loadings["g"] > 0).mean() > 0.95


def test_results_render():
    result = al.efa(X.iloc[:, :15], 1)
    assert "EFA: 1 factors" in result.summary()
    assert "<table" in result._repr_html_()
    json.dumps(result.to_dict(), default=float)


@pytest.mark.parametrize(
    "kwargs, error, fragment",
    [
        ({"method": "wls"}, SpecificationError, "unknown extraction method 'wls'"),
        ({"rotation": "quartimax"}, SpecificationError, "unknown rotation 'quartimax'"),
        ({"corr": "spearman"}, SpecificationError, "unknown correlation type 'spearman'"),
        ({"n_factors": 55}, SpecificationError, "too many for 60 items"),
        ({"rotation": "target"}, SpecificationError, "needs a target matrix or a pool"),
    ],
)
def test_impossible_requests(kwargs, error, fragment):
    args = {"n_factors": 6, **kwargs}
    with pytest.raises(error, match=fragment):
        al.efa(X, **args)


def test_ml_needs_more_cases_than_items():
    with pytest.raises(DataError, match=r"more cases \(30\) than items \(60\)"):
        al.efa(X.iloc[:30], 2, method="ml")
