import numpy as np
import pytest
from conftest import reference_data, reference_json

import allyscale as al
from allyscale.errors import DataError

REF = reference_json("sim60")
X = reference_data("sim60")[REF["items"]]


def test_kmo_matches_psych():
    # R: psych::KMO(X)$MSA, $MSAi
    result = al.kmo(X)
    np.testing.assert_allclose(result.overall, REF["kmo"]["overall"], atol=1e-10, rtol=0)
    np.testing.assert_allclose(result.items.to_numpy(), REF["kmo"]["item"], atol=1e-10, rtol=0)
    assert result.label(result.overall) == "marvelous"
    assert list(result.items.index) == REF["items"]


def test_bartlett_matches_psych():
    # R: psych::cortest.bartlett(cor(X), n = nrow(X))
    result = al.bartlett(X)
    np.testing.assert_allclose(result.chisq, REF["bartlett"]["chisq"], rtol=1e-10)
    assert result.df == REF["bartlett"]["df"] == 1770
    assert result.pvalue == 0.0


def test_from_a_correlation_matrix_needs_n():
    r = X.corr()
    assert al.bartlett(r, n=500).chisq == pytest.approx(REF["bartlett"]["chisq"], rel=1e-10)
    with pytest.raises(al.SpecificationError, match="pass the number of cases"):
        al.bartlett(r)


def test_constant_item_is_refused():
    bad = X.iloc[:, :5].copy()
    bad["i03"] = 3
    with pytest.raises(DataError, match=r"constant item\(s\).*\['i03'\]"):
        al.kmo(bad)
