"""Measurement invariance across groups: configural, metric, scalar and strict models.

Each level is a multi-group :func:`allyscale.cfa.cfa` fit with lavaan's ``group.equal``
(Meredith, 1993; Vandenberg & Lance, 2000): configural (same pattern, everything free),
metric (``"loadings"``), scalar (``"loadings", "intercepts"``; latent means free in every
group but the first), strict (``+ "residuals"``). Cross-group equality constraints are own
code (shared entries of the free-parameter vector): semopy's ``multigroup()`` has none.

The table builder is estimator-agnostic: the levels, their ``group_equal`` and the
difference test come from ``LEVELS`` and :func:`allyscale.cfa.difference_test`, so an
estimator for ordinal items can supply its own levels (e.g. thresholds, Wu & Estabrook,
2016) through the ``levels`` argument.

References
----------
Meredith, W. (1993). Measurement invariance, factor analysis and factorial invariance.
Psychometrika, 58, 525-543.
Cheung, G. W., & Rensvold, R. B. (2002). Evaluating goodness-of-fit indexes for testing
measurement invariance. Structural Equation Modeling, 9, 233-255.
Chen, F. F. (2007). Sensitivity of goodness of fit indexes to lack of measurement
invariance. Structural Equation Modeling, 14, 464-504.
Wu, H., & Estabrook, R. (2016). Identification of confirmatory factor analysis models of
different levels of invariance for ordered categorical outcomes. Psychometrika, 81, 1014-1045.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from allyscale.cfa import cfa, difference_test

__all__ = ["invariance", "LEVELS"]

LEVELS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}

#: Cheung & Rensvold (2002): a drop in CFI of at most .01; Chen (2007): a rise in RMSEA of at most .015.
DELTA_CFI = -0.01
DELTA_RMSEA = 0.015


def invariance(data: pd.DataFrame, model: str, *, group: str, estimator: str = "ML",
               levels: Mapping[str, Sequence[str]] | None = None, delta_cfi: float = DELTA_CFI,
               delta_rmsea: float = DELTA_RMSEA, **kwargs) -> pd.DataFrame:
    """Fit the invariance sequence and tabulate fit, differences and decisions.

    Parameters
    ----------
    data : DataFrame
    model : str
        lavaan syntax of the (configural) model.
    group : str
        Group column.
    estimator : str
        As :func:`allyscale.cfa`; with ``"MLR"`` the scaled chi-square difference
        (Satorra & Bentler, 2001) and the robust CFI/RMSEA are used.
    levels : mapping, optional
        Level name → ``group_equal``; default :data:`LEVELS`.
    delta_cfi, delta_rmsea : float
        Cut-offs: a level is supported when ``ΔCFI >= delta_cfi`` (Cheung & Rensvold, 2002)
        and ``ΔRMSEA <= delta_rmsea`` (Chen, 2007), each relative to the previous level.

    Returns
    -------
    DataFrame
        Indexed by level: ``chisq, df, pvalue, cfi, tli, rmsea, srmr`` (with MLR also
        ``chisq.scaled, cfi.robust, rmsea.robust``), then ``delta_chisq, delta_df,
        delta_pvalue, delta_cfi, delta_rmsea`` against the previous level, ``decision``
        (``"supported"``/``"not supported"``, empty for the configural level) and
        ``converged``. The fitted models are in ``table.attrs["fits"]``.

    Raises
    ------
    DataError, SpecificationError
        As :func:`allyscale.cfa`.
    """
    levels = dict(levels or LEVELS)
    fits = {name: cfa(data, model, estimator=estimator, group=group, group_equal=list(eq) or None, **kwargs)
            for name, eq in levels.items()}
    robust = estimator.upper() == "MLR"
    cfi_key = "cfi.robust" if robust else "cfi"
    rmsea_key = "rmsea.robust" if robust else "rmsea"
    rows = []
    prev = None
    for name, fit in fits.items():
        fm = fit.fit_measures
        row = {k: fm.get(k, np.nan) for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr")}
        if robust:
            row.update({k: fm.get(k, np.nan) for k in ("chisq.scaled", "cfi.robust", "rmsea.robust")})
        if prev is None:
            row.update(delta_chisq=np.nan, delta_df=np.nan, delta_pvalue=np.nan, delta_cfi=np.nan,
                       delta_rmsea=np.nan, decision="")
        else:
            test = difference_test(fit, prev)
            d_cfi = fm[cfi_key] - prev.fit_measures[cfi_key]
            d_rmsea = fm[rmsea_key] - prev.fit_measures[rmsea_key]
            ok = bool(d_cfi >= delta_cfi and d_rmsea <= delta_rmsea)
            row.update(delta_chisq=test["chisq_diff"], delta_df=test["df_diff"], delta_pvalue=test["pvalue"],
                       delta_cfi=d_cfi, delta_rmsea=d_rmsea,
                       decision="supported" if ok else "not supported")
        row["converged"] = fit.converged
        rows.append(row)
        prev = fit
    table = pd.DataFrame(rows, index=list(fits))
    table.attrs["fits"] = fits
    return table
