"""Fit results pickle (they can travel through joblib or Dask) and the core never imports the public layer."""

import ast
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import reference_data

import allyscale as al

DATA = reference_data("sim60")
MODEL = "f1 =~ i01 + i02 + i03 + i04 + i05\nf2 =~ i16 + i17 + i18 + i19 + i20"


@pytest.mark.parametrize(
    "kw",
    [
        dict(estimator="ML"),
        dict(estimator="MLR"),
        dict(estimator="WLSMV"),
        dict(estimator="WLSMV", group="g", group_equal=["thresholds", "loadings"]),
    ],
)
def test_fit_results_pickle_and_keep_their_numbers(kw):
    data = DATA.assign(g=np.where(np.arange(len(DATA)) < 250, "a", "b"))
    fit = al.cfa(data, MODEL, **kw)
    back = pickle.loads(pickle.dumps(fit))
    assert list(back.fit_measures) == list(fit.fit_measures)
    np.testing.assert_array_equal(list(back.fit_measures.values()), list(fit.fit_measures.values()))  # NaN == NaN
    pd.testing.assert_frame_equal(back.estimates, fit.estimates)
    # what travels is enough for the difference test and residuals
    if kw["estimator"] == "WLSMV" and "group" not in kw:
        restricted = al.cfa(data, MODEL.replace("f1 =~ i01", "f1 =~ a*i01").replace("+ i02", "+ a*i02"), **kw)
        from allyscale.cfa import difference_test

        a = difference_test(pickle.loads(pickle.dumps(restricted)), back)
        b = difference_test(restricted, fit)
        assert a["chisq_diff"] == pytest.approx(b["chisq_diff"], rel=1e-12) and a["df_diff"] == 1
    np.testing.assert_allclose(
        np.asarray(pd.DataFrame(back.residuals() if fit.ngroups == 1 else back.residuals()["a"])),
        np.asarray(pd.DataFrame(fit.residuals() if fit.ngroups == 1 else fit.residuals()["a"])),
    )


def test_core_imports_no_public_module():
    core = Path(al.__file__).parent / "_core"
    for path in core.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                if name.startswith("allyscale"):
                    # the core may use the foundation modules errors and _caches (ARCHITECTURE.md), nothing public
                    assert name.startswith("allyscale._core") or name in ("allyscale.errors", "allyscale._caches"), (
                        path.name,
                        name,
                    )
