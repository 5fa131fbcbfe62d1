"""WLSMV from precomputed sample statistics: ``PolychoricResult.subset`` and ``cfa(polychoric=)``."""

import pickle

import numpy as np
import pytest
from conftest import reference_data

import allyscale as al
from allyscale.errors import DataError, SpecificationError

DATA = reference_data("sim60")
SUB_ITEMS = ["i03", "i01", "i07", "i10", "i12", "i17", "i16", "i20", "i22", "i25"]
SUB_MODEL = "f1 =~ i03 + i01 + i07 + i10 + i12\nf2 =~ i17 + i16 + i20 + i22 + i25"


@pytest.fixture(scope="module")
def poly():
    return al.polychoric(DATA)


def test_subset_blocks_equal_a_fresh_computation(poly):
    sub = poly.subset(SUB_ITEMS)
    fresh = al.polychoric(DATA[SUB_ITEMS])
    assert sub.items == SUB_ITEMS
    np.testing.assert_allclose(sub.corr.to_numpy(), fresh.corr.to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(sub.thresholds.to_numpy(), fresh.thresholds.to_numpy(), rtol=0, atol=1e-12)
    assert list(sub.influence().columns) == list(fresh.influence().columns)
    np.testing.assert_allclose(sub.influence().to_numpy(), fresh.influence().to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_allclose(sub.gamma().to_numpy(), fresh.gamma().to_numpy(), rtol=0, atol=1e-8)
    np.testing.assert_array_equal(sub.n_pairwise.to_numpy(), fresh.n_pairwise.to_numpy())
    assert sub.diagnostics["min_eigenvalue"] == pytest.approx(fresh.diagnostics["min_eigenvalue"], abs=1e-8)


def test_subset_fit_equals_fresh_fit_on_the_subset_data(poly):
    sub = poly.subset(SUB_ITEMS)
    a = al.cfa(DATA[SUB_ITEMS], SUB_MODEL, estimator="WLSMV", polychoric=sub)
    b = al.cfa(DATA[SUB_ITEMS], SUB_MODEL, estimator="WLSMV")
    assert a.converged and b.converged
    for key, value in b.fit_measures.items():
        np.testing.assert_allclose(a.fit_measures[key], value, rtol=1e-8, atol=1e-8, err_msg=key)
    for col in ("est", "se", "std_all"):
        np.testing.assert_allclose(a.estimates[col], b.estimates[col], rtol=1e-8, atol=1e-8, err_msg=col)
    # the whole result may be given too: its items are reordered and cut to the model's
    c = al.cfa(DATA, SUB_MODEL, estimator="WLSMV", polychoric=poly.subset(SUB_ITEMS[::-1]))
    np.testing.assert_allclose(c.fit_measures["chisq.scaled"], b.fit_measures["chisq.scaled"], rtol=1e-10)


def test_polychoric_argument_is_checked(poly):
    with pytest.raises(SpecificationError, match="do not match.*not in the model"):
        al.cfa(DATA, SUB_MODEL, estimator="WLSMV", polychoric=poly)
    with pytest.raises(SpecificationError, match="not in the polychoric result: \\['i25'\\]"):
        al.cfa(DATA, SUB_MODEL, estimator="WLSMV", polychoric=poly.subset(SUB_ITEMS[:-1] + ["i30"]))
    with pytest.raises(SpecificationError, match="estimator is 'ML'"):
        al.cfa(DATA, SUB_MODEL, estimator="ML", polychoric=poly.subset(SUB_ITEMS))
    with pytest.raises(SpecificationError, match="computed on 500 cases but the model is fitted to 400"):
        al.cfa(DATA.iloc[:400], SUB_MODEL, estimator="WLSMV", polychoric=poly.subset(SUB_ITEMS))
    with pytest.raises(SpecificationError, match="PolychoricResult"):
        al.cfa(DATA, SUB_MODEL, estimator="WLSMV", polychoric=np.eye(10))
    with pytest.raises(DataError, match="not in the polychoric result: \\['zz'\\]"):
        poly.subset(["i01", "zz"])
    with pytest.raises(DataError, match="more than once"):
        poly.subset(["i01", "i01", "i02"])


def test_polychoric_result_pickles_with_its_statistics(poly):
    sub = poly.subset(SUB_ITEMS)
    back = pickle.loads(pickle.dumps(sub))
    np.testing.assert_array_equal(back.gamma().to_numpy(), sub.gamma().to_numpy())


def test_fit_indices_equal_the_full_fit():
    # the fit-only path of dfi: the same standard and scaled measures as cfa(); .robust NaN unless asked for
    from allyscale.cfa import _fit_indices

    full = al.cfa(DATA[SUB_ITEMS], SUB_MODEL, estimator="WLSMV", std_lv=True)
    ok, fm = _fit_indices(DATA[SUB_ITEMS], SUB_MODEL, estimator="WLSMV", std_lv=True, robust=False)
    assert ok
    for key in ("chisq", "chisq.scaled", "cfi.scaled", "rmsea.scaled", "srmr", "tli.scaled"):
        assert fm[key] == pytest.approx(full.fit_measures[key], rel=1e-12), key
    assert np.isnan(fm["cfi.robust"])
    ok, fm = _fit_indices(DATA[SUB_ITEMS], SUB_MODEL, estimator="WLSMV", std_lv=True)
    assert fm["cfi.robust"] == pytest.approx(full.fit_measures["cfi.robust"], rel=1e-12)
    ok, fm = _fit_indices(DATA[SUB_ITEMS], SUB_MODEL, estimator="ML")
    assert fm["chisq"] == pytest.approx(al.cfa(DATA[SUB_ITEMS], SUB_MODEL, estimator="ML").fit_measures["chisq"])
