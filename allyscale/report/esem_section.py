"""The tables of a report's ESEM section: CFA against ESEM (and bifactor-ESEM) of an item pool.

:func:`esem_tables` fits nothing: it takes fitted models (``allyscale.cfa`` results of the pool's
``correlated`` CFA and its ``esem`` / ``bifactor_esem`` structures, e.g. ``compare(...).fits``) and
returns the tables a validation report shows (Marsh et al., 2014, recommend all four): the fit of
each model judged by the fit-evaluation policy, the cross-loadings, the factor correlations of the
CFA next to the ESEM's, and the ESEM-based omega with its source. :func:`add_to_sections` and
:func:`build` put them in a validation report (``validate(..., esem=True)``, ``allyscale validate
--esem``), after the confirmatory section whose comparison fitted the ESEM structures.

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
from allyscale.report.document import Section, Table

__all__ = ["esem_tables", "add_to_sections", "build", "SECTION_ID", "SECTION_TITLE"]

SECTION_ID = "esem"
SECTION_TITLE = "Exploratory structural equation models"


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
            pat = dict(pattern)
            if name == "bifactor_esem":  # the general factor (the block's first) over every item: omega-h
                general = _esem.loadings(fits[name]).columns[0]
                pat = {general: [i for items in pattern.values() for i in items], **pat}
            o = _esem.omega_esem(fits[name], pat)
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


def add_to_sections(sections: list, ctx, esem: bool) -> list:
    """The pipeline's sections with this one right after the confirmatory section, when asked for."""
    if not esem:
        return list(sections)
    out = list(sections)
    at = next((k + 1 for k, s in enumerate(out) if s[0] == "cfa"), len(out))
    out.insert(at, (SECTION_ID, SECTION_TITLE, build))
    return out


def build(ctx, sec: Section) -> None:
    """Pipeline builder: the ESEM tables from the confirmatory section's comparison (which fitted
    the pool's ``esem`` and ``bifactor_esem`` structures with the pool's target rotation)."""
    cmp_res = ctx.results.get("compare")
    fits = dict(cmp_res.fits) if cmp_res is not None else {}
    if ctx.pool is None or "esem" not in fits or ctx.main_model not in fits:
        sec.status = "not run"
        why = (
            "ESEM needs an item pool (its hypothesised pattern is the rotation target)"
            if ctx.pool is None
            else "the ESEM structure was not fitted (see the confirmatory section)"
        )
        sec.paragraphs.append(_sentence(why))
        return
    pattern = {f.id: [it.id for it in f.items] for f in ctx.pool.factors}
    chosen = {k: fits[k] for k in (ctx.main_model, "esem", "bifactor", "bifactor_esem") if k in fits}
    t = esem_tables(chosen, pattern, cfa=ctx.main_model)
    rotation = fits["esem"].rotation
    method = rotation.method if rotation is not None else "none"
    sec.paragraphs.append(
        f"Exploratory structural equation models (ESEM; Asparouhov & Muthén, 2009; Marsh et al., 2014): "
        f"every item loads on every factor of one EFA block, estimated with {ctx.estimator} and rotated "
        f"({method}) towards the pool's hypothesised pattern as a partially specified target (cross-loadings "
        "targeted at zero; Browne, 2001), with lavaan's bordered standard errors. The bifactor-ESEM adds a "
        "general factor and is rotated orthogonally (Morin et al., 2016)."
        if "bifactor_esem" in fits
        else f"Exploratory structural equation model (ESEM; Asparouhov & Muthén, 2009; Marsh et al., 2014): "
        f"every item loads on every factor of one EFA block, estimated with {ctx.estimator} and rotated "
        f"({method}) towards the pool's hypothesised pattern as a partially specified target (cross-loadings "
        "targeted at zero; Browne, 2001), with lavaan's bordered standard errors."
    )
    sec.tables.append(
        Table(
            "esem_fit",
            "Fit of the CFA and ESEM structures",
            t["fit"].set_index("model"),
            note="accepted: the fit policy's verdict (the same rule as for the confirmatory models). The "
            "m-factor CFA is nested in the m-factor ESEM; their difference tests are in the comparison above.",
        )
    )
    cross = t["cross_loadings"].set_index("item")
    sec.tables.append(
        Table(
            "esem_cross_loadings",
            "Primary and largest cross-loadings in the ESEM (standardized)",
            cross,
            note="n_cross: cross-loadings with |λ| ≥ .30 (a reporting convention).",
        )
    )
    corr = pd.DataFrame(t["correlations"])  # without the function's attrs
    corr.attrs = {}
    corr.insert(0, "pair", [f"{a}–{b}" for a, b in zip(corr["factor1"], corr["factor2"])])
    corr = corr.drop(columns=["factor1", "factor2"]).set_index("pair")
    sec.tables.append(
        Table(
            "esem_factor_correlations",
            f"Factor correlations of the {ctx.main_model} CFA and of the ESEM",
            corr,
            note="Forcing cross-loadings to zero usually inflates the CFA's factor correlations (Marsh et al., 2014).",
        )
    )
    if not t["omega"].empty:
        sec.tables.append(
            Table(
                "esem_omega",
                "Omega from the ESEM solutions",
                t["omega"],
                index=False,
                note=f"Source: {t['omega_source']}.",
            )
        )
    # described, not flagged: the .30 convention decides nothing here, and its error rates on known
    # structures are not measured
    n_cross = int(cross["flagged"].sum())
    diff = corr["difference"]
    sec.numbers.update(
        items_with_cross_loadings=n_cross,
        mean_correlation_difference=float(diff.mean()) if len(diff) else None,
        accepted={str(m): bool(a) for m, a in zip(t["fit"]["model"], t["fit"]["accepted"])},
    )
    if len(diff):
        sec.paragraphs.append(
            f"The CFA's factor correlations exceed the ESEM's by {diff.mean():.2f} on average "
            f"(range {diff.min():.2f} to {diff.max():.2f}); {n_cross} of {len(cross)} items have a "
            "cross-loading of .30 or more."
        )


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")
