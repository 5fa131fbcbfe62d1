"""The tables of a report's ESEM section: CFA against ESEM (and bifactor-ESEM) of an item pool.

:func:`esem_tables` fits nothing: it takes fitted models (``allyscale.cfa`` results of the pool's
``correlated`` CFA and its ``esem`` / ``bifactor_esem`` structures, e.g. ``compare(...).fits``) and
returns the tables a validation report shows (Marsh et al., 2014, recommend all four): the fit of
each model judged by the fit-evaluation policy, the cross-loadings, the factor correlations of the
CFA next to the ESEM's, and the ESEM-based omega with its source. Rendering is left to the report.

References
----------
Marsh, H. W., Morin, A. J. S., Parker, P. D., & Kaur, G. (2014). Exploratory structural equation
modeling. Annual Review of Clinical Psychology, 10, 85-110.
Morin, A. J. S., Arens, A. K., & Marsh, H. W. (2016). A bifactor exploratory structural equation
modeling framework. Structural Equation Modeling, 23, 116-139.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from allyscale import esem as _esem

__all__ = ["esem_tables"]


def esem_tables(
    fits: Mapping[str, Any],
    pattern: Mapping[str, Sequence[str]],
    *,
    cfa: str = "correlated",
    esem: str = "esem",
    policy=None,
    threshold: float = 0.3,
) -> dict[str, Any]:
    """The ESEM section's tables from fitted models.

    Parameters
    ----------
    fits : mapping name → CFAResult
        Must hold ``cfa`` and ``esem``; a ``"bifactor_esem"`` fit adds its omega rows.
    pattern : mapping factor → items
        The hypothesised pattern (``{f.id: [items]}`` of the pool).
    cfa, esem : str
        Names of the CFA and ESEM fits in ``fits``.
    policy : FitPolicy, optional
        The fit-evaluation policy (default :data:`allyscale.fitpolicy.DEFAULT_POLICY`).
    threshold : float
        |λ| at which a cross-loading is counted (a reporting convention).

    Returns
    -------
    dict
        ``fit`` (one row per model: chisq, df, the policy's indices, accepted, the verdict's basis),
        ``cross_loadings`` (:func:`allyscale.esem.cross_loadings`), ``correlations``
        (:func:`allyscale.esem.compare_correlations`), ``omega`` (:func:`allyscale.esem.omega_esem`,
        with a ``model`` column) and ``omega_source`` (the solution the omegas come from).
    """
    from allyscale.fitpolicy import evaluate_fit

    rows = []
    for name, fit in fits.items():
        v = evaluate_fit(fit, model=name, policy=policy)
        fm = fit.fit_measures
        test = v.statistics["test"]
        rows.append(
            {
                "model": name,
                "npar": fm.get("npar"),
                "test": test["name"],
                "chisq": test["chisq"],
                "df": test["df"],
                "pvalue": test["pvalue"],
                **{ix["key"]: ix["value"] for ix in v.statistics["indices"].values()},
                "accepted": v.accepted,
                "basis": v.basis,
            }
        )
    omegas = []
    sources = []
    for name in (esem, "bifactor_esem"):
        if name in fits:
            o = _esem.omega_esem(fits[name], pattern if name == esem else None)
            o.insert(0, "model", name)
            omegas.append(o)
            sources.append(f"{name}: {o.attrs['source']}")
    return {
        "fit": pd.DataFrame(rows),
        "cross_loadings": _esem.cross_loadings(fits[esem], pattern, threshold=threshold),
        "correlations": _esem.compare_correlations(fits[cfa], fits[esem]),
        "omega": pd.concat(omegas, ignore_index=True) if omegas else pd.DataFrame(),
        "omega_source": "; ".join(sources),
    }
