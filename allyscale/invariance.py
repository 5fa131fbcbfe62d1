"""Measurement invariance across groups: configural, metric, scalar and strict models.

Each level is a multi-group :func:`allyscale.cfa.cfa` fit with lavaan's ``group.equal``
(Meredith, 1993; Vandenberg & Lance, 2000): configural (same pattern, everything free),
metric (``"loadings"``), scalar (``"loadings", "intercepts"``; latent means free in every
group but the first), strict (``+ "residuals"``). Cross-group equality constraints are own
code (shared entries of the free-parameter vector): semopy's ``multigroup()`` has none.

Ordered items (``estimator="WLSMV"``, delta parameterization) follow Wu & Estabrook
(2016) (:data:`ORDINAL_LEVELS`, ``cfa(id_cat="Wu.Estabrook.2016")``, as semTools'
``measEq.syntax``): configural; thresholds equal (item intercepts and scale factors free in
every group but the first); + loadings (metric); + intercepts (scalar; the latent means
become free instead). The sequence is nested, unlike lavaan's plain ``group.equal =
"loadings"`` for ordered items, whose metric model fixes the scale factors. Strict
invariance (equal residual variances) cannot be tested in the delta parameterization
(residual variances are not parameters there; semTools refuses it too): the table has a
"strict" row without fit values and says so. Decisions use the scaled CFI and RMSEA, and
the difference tests are lavaan's ``satorra.2000``.

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

__all__ = ["invariance", "LEVELS", "ORDINAL_LEVELS"]

LEVELS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}

#: The sequence for ordered items (WLSMV, delta parameterization; Wu & Estabrook, 2016).
ORDINAL_LEVELS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "thresholds": ("thresholds",),
    "metric": ("thresholds", "loadings"),
    "scalar": ("thresholds", "loadings", "intercepts"),
}

_NO_STRICT = ("strict invariance (equal residual variances) is not testable for ordered items in the delta "
              "parameterization, where residual variances are not parameters (Wu & Estabrook, 2016)")

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
        Level name → ``group_equal``; default :data:`LEVELS` (:data:`ORDINAL_LEVELS` with
        WLSMV, fitted with ``id_cat="Wu.Estabrook.2016"`` unless ``id_cat`` is given).
    delta_cfi, delta_rmsea : float
        Cut-offs: a level is supported when ``ΔCFI >= delta_cfi`` (Cheung & Rensvold, 2002)
        and ``ΔRMSEA <= delta_rmsea`` (Chen, 2007), each relative to the previous level.

    Returns
    -------
    DataFrame
        Indexed by level: ``chisq, df, pvalue, cfi, tli, rmsea, srmr`` (with MLR also
        ``chisq.scaled, cfi.robust, rmsea.robust``; with WLSMV ``chisq.scaled, cfi.scaled,
        tli.scaled, rmsea.scaled``, used for the decisions), then ``delta_chisq, delta_df,
        delta_pvalue, delta_cfi, delta_rmsea`` against the previous level, ``decision``
        (``"supported"``/``"not supported"``, empty for the configural level) and
        ``converged``. The fitted models are in ``table.attrs["fits"]``. With WLSMV and the
        default levels the index is ``configural, thresholds, metric, scalar, strict``; the
        strict row has no fit values, the decision "not testable", and
        ``table.attrs["note"]`` gives the reason.

    Raises
    ------
    DataError, SpecificationError
        As :func:`allyscale.cfa`.
    """
    ordinal = estimator.upper() == "WLSMV"
    default_levels = levels is None
    levels = dict(levels or (ORDINAL_LEVELS if ordinal else LEVELS))
    if ordinal:
        kwargs.setdefault("id_cat", "Wu.Estabrook.2016")
    fits = {name: cfa(data, model, estimator=estimator, group=group, group_equal=list(eq) or None, **kwargs)
            for name, eq in levels.items()}
    robust = estimator.upper() == "MLR"
    cfi_key = "cfi.robust" if robust else "cfi.scaled" if ordinal else "cfi"
    rmsea_key = "rmsea.robust" if robust else "rmsea.scaled" if ordinal else "rmsea"
    rows = []
    prev = None
    for name, fit in fits.items():
        fm = fit.fit_measures
        row = {k: fm.get(k, np.nan) for k in ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr")}
        if robust:
            row.update({k: fm.get(k, np.nan) for k in ("chisq.scaled", "cfi.robust", "rmsea.robust")})
        if ordinal:
            row.update({k: fm.get(k, np.nan) for k in ("chisq.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled")})
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
    index = list(fits)
    if ordinal and default_levels:
        rows.append({**{k: np.nan for k in rows[-1] if k not in ("decision", "converged")},
                     "decision": "not testable", "converged": np.nan})
        index.append("strict")
    table = pd.DataFrame(rows, index=index)
    table.attrs["fits"] = fits
    if ordinal and default_levels:
        table.attrs["note"] = _NO_STRICT
    return table
