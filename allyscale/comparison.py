"""Comparing competing structures: fit of each, difference tests of the nested pairs, the preferred one.

:func:`compare` fits every model (the pool's structures by default) with one estimator, judges each by the
fit-evaluation policy (:mod:`allyscale.fitpolicy`), tests only the nested pairs (the pool's nesting table, else
the nesting-and-equivalence test) and names the preferred structure by :func:`allyscale.fitpolicy.choose_structure`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allyscale.cfa import COMPARE_COLUMNS, CFAResult, _partable, cfa, difference_test
from allyscale.errors import AllyscaleError, SpecificationError
from allyscale.pool import ESEM_STRUCTURES as _ESEM_STRUCTURES
from allyscale.results import Result, Summary, jsonable

__all__ = ["CompareResult", "compare", "nested_pairs"]


@dataclass(frozen=True)
class CompareResult(Result):
    """Side-by-side fit of competing models, their verdicts and the preferred structure.

    Attributes
    ----------
    table : DataFrame
        One row per model (index = model name, ordered by df, most restricted first):
        ``npar, chisq, df, pvalue, cfi, tli, rmsea, rmsea.ci.lower, rmsea.ci.upper, srmr``
        (+ scaled/robust measures with MLR and WLSMV), ``aic, bic`` when a likelihood exists,
        ``converged``, ``admissible`` and ``accepted`` (the fit policy's verdict,
        :mod:`allyscale.fitpolicy`).
    tests : DataFrame
        Difference tests of the *nested* pairs only (``model0`` nested in ``model1``):
        ``chisq_diff, df_diff, pvalue, scaling`` (lavTestLRT's methods: ML LRT, MLR
        Satorra-Bentler 2001, WLSMV satorra.2000). Nesting is known for the pool's structures
        (:data:`allyscale.fitpolicy.POOL_NESTING`) and checked by the nesting-and-equivalence
        test (Bentler & Satorra, 2010) for other models; non-nested pairs are never tested.
    fits : dict
        The :class:`CFAResult` of each model.
    preferred : str or None
        The preferred structure (:func:`allyscale.fitpolicy.choose_structure`).
    choice : StructureChoice
        The rule's table and reason (``choice.reason``).
    verdicts : dict
        Model → :class:`allyscale.fitpolicy.FitVerdict`.
    estimator : str
    """

    table: pd.DataFrame
    tests: pd.DataFrame
    fits: dict[str, CFAResult] = field(repr=False)
    preferred: str | None = None
    choice: Any = field(default=None, repr=False)
    verdicts: dict = field(default_factory=dict, repr=False)
    estimator: str = ""
    diagnostics: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.diagnostics:
            object.__setattr__(
                self,
                "diagnostics",
                {
                    name: {
                        "converged": f.converged,
                        "heywood": list(f.diagnostics.get("heywood", [])),
                        "warnings": list(f.diagnostics.get("warnings", [])),
                    }
                    for name, f in self.fits.items()
                },
            )

    def summary(self) -> Summary:
        """Model fit of every structure, difference tests of the nested pairs, the preferred structure."""
        out = Summary(f"Comparison of {len(self.table)} models ({self.estimator})")
        out.table(self.table, title="Model fit", digits=4)
        if len(self.tests):
            out.table(self.tests, title="Difference tests of nested models", digits=4, index=False)
        else:
            out.text("Difference tests of nested models: (no nested pairs)")
        if self.choice is not None:
            out.text(f"Preferred structure: {self.preferred}", strong=True).text(self.choice.reason)
        return out

    def to_frame(self) -> pd.DataFrame:
        """The model-fit table (one row per model)."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable ``table`` (records with ``model``), ``tests``, ``preferred``, ``choice`` and
        ``verdicts``; NaN becomes ``None``."""
        t = self.table.reset_index().rename(columns={"index": "model"})
        return jsonable(
            {
                "estimator": self.estimator,
                "table": t,
                "tests": self.tests,
                "preferred": self.preferred,
                "choice": self.choice.to_dict() if self.choice is not None else None,
                "verdicts": {k: v.to_dict() for k, v in self.verdicts.items()},
                "diagnostics": self.diagnostics,
            }
        )


def nested_pairs(fits: Mapping[str, CFAResult], models: Mapping[str, str], pool) -> set[tuple[str, str]]:
    """(restricted, general) pairs: the pool's structure nesting where the syntax is the pool's, else NET."""
    from allyscale.fitpolicy import POOL_NESTING, nested_by_net

    pool_syntax = pool.all_model_syntax(esem=True) if pool is not None else {}
    pairs: set[tuple[str, str]] = set()
    names = list(fits)
    for a in names:
        for b in names:
            if a == b:
                continue
            fa, fb = fits[a], fits[b]
            if not (fa.fit_measures.get("df", np.nan) > fb.fit_measures.get("df", np.nan)):
                continue
            if pool_syntax.get(a) == models[a] and pool_syntax.get(b) == models[b]:
                if (a, b) in POOL_NESTING:
                    pairs.add((a, b))
                continue
            if fa.converged and fa.ngroups == 1 and fb.ngroups == 1:
                try:
                    if nested_by_net(fa, models[b]):
                        pairs.add((a, b))
                except (AllyscaleError, np.linalg.LinAlgError, ValueError):
                    pass  # not shown to be nested: not tested
    return pairs


def compare(
    data: pd.DataFrame,
    models: Mapping[str, str] | None = None,
    *,
    pool=None,
    estimator: str | None = None,
    policy=None,
    rotations: Mapping[str, Mapping[str, Any]] | None = None,
    **kwargs,
) -> CompareResult:
    """Fit competing models to the same data, judge each and name the preferred structure.

    Parameters
    ----------
    data : DataFrame
    models : mapping name → lavaan syntax, optional
    pool : ItemPool, optional
        Fit every structure of the pool (``pool.all_model_syntax()``) when ``models`` is not
        given; with ``models`` too, entries whose syntax is a pool structure's use the pool's
        known nesting.
    estimator : str, optional
        As :func:`cfa` (default: the estimator rule, WLSMV for ordered items); further keyword
        arguments are passed to :func:`cfa`.
    policy : FitPolicy, optional
        The fit-evaluation policy (default :data:`allyscale.fitpolicy.DEFAULT_POLICY`).
    rotations : mapping name → dict, optional
        Per model with EFA blocks, the :func:`cfa` rotation keywords (``rotation``,
        ``rotation_args``, ``rotation_se``). A pool's ESEM structures (``"esem"``,
        ``"bifactor_esem"``, :data:`allyscale.pool.ESEM_STRUCTURES`) default to the pool's
        target rotation (``pool.esem_rotation``). Rotation does not change a model's fit.

    Returns
    -------
    CompareResult

    Raises
    ------
    SpecificationError
        Neither ``models`` nor ``pool``, fewer than two models.

    References
    ----------
    Satorra & Bentler (2001); Satorra (2000); Bentler & Satorra (2010); lavaan's
    ``lavTestLRT`` (Rosseel, 2012).
    """
    from allyscale.fitpolicy import DEFAULT_POLICY, choose_structure, evaluate_fit, test_statistic

    if models is None and pool is None:
        raise SpecificationError("give either models (name → syntax) or pool")
    if models is None:
        models = pool.all_model_syntax()
    models = dict(models)
    if len(models) < 2:
        raise SpecificationError(f"compare needs at least two models, got {len(models)}")
    policy = policy or DEFAULT_POLICY
    if estimator is None:
        from allyscale.estimator_rule import default_estimator

        first = _partable(next(iter(models.values())), copy=False).attrs["observed"]
        cols = [v for v in first if v in data.columns]
        estimator = default_estimator(data, cols) if cols and kwargs.get("missing") != "fiml" else "ML"
    fits = {}
    rotations = dict(rotations or {})
    for name, syntax in models.items():
        rot = dict(rotations.get(name, {}))
        if not rot and pool is not None and name in _ESEM_STRUCTURES and syntax == pool.model_syntax(name):
            rot = pool.esem_rotation(name)
        # re-emit each model's warnings with its name, so a report can say which model is affected
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fits[name] = cfa(data, syntax, estimator=estimator, **kwargs, **rot)
        for w in caught:
            warnings.warn(f"model {name!r}: {w.message}", w.category, stacklevel=2)
    order = sorted(fits, key=lambda k: (-fits[k].fit_measures["df"], list(fits).index(k)))
    verdicts = {name: evaluate_fit(fits[name], model=name, policy=policy) for name in order}
    rows = {}
    for name in order:
        fm = fits[name].fit_measures
        rows[name] = {c: fm.get(c, np.nan) for c in COMPARE_COLUMNS if c in fm}
        rows[name]["converged"] = fits[name].converged
        rows[name]["admissible"] = verdicts[name].statistics["admissible"]
        rows[name]["accepted"] = verdicts[name].accepted
    table = pd.DataFrame.from_dict(rows, orient="index")
    # measures no model provides (e.g. the categorical .robust indices) would be all-NaN columns
    table = table.drop(
        columns=[c for c in table.columns if c not in ("converged", "admissible", "accepted") and table[c].isna().all()]
    )
    if "cfi.robust" in table.columns and fits[order[0]].estimator == "MLR":
        # MLR: the robust indices supersede the scaled ones (lavaan 0.6.14)
        table = table.drop(columns=[c for c in ("cfi.scaled", "tli.scaled", "rmsea.scaled") if c in table])
    pairs = nested_pairs(fits, models, pool)
    tests, pvals = [], {}
    for a, b in sorted(pairs, key=lambda ab: (order.index(ab[0]), order.index(ab[1]))):
        if not (fits[a].converged and fits[b].converged):
            d = {
                "chisq_diff": np.nan,
                "df_diff": fits[a].fit_measures["df"] - fits[b].fit_measures["df"],
                "pvalue": np.nan,
                "scaling": np.nan,
            }
        else:
            d = difference_test(fits[a], fits[b])
        tests.append(
            {"model0": a, "model1": b, **{k: d.get(k, np.nan) for k in ("chisq_diff", "df_diff", "pvalue", "scaling")}}
        )
        pvals[(a, b)] = d.get("pvalue", np.nan)
    tests_df = pd.DataFrame(tests, columns=["model0", "model1", "chisq_diff", "df_diff", "pvalue", "scaling"])
    summary_rows = {}
    for name in order:
        fm = fits[name].fit_measures
        v = verdicts[name]
        summary_rows[name] = {
            "admissible": v.statistics["admissible"],
            "accepted": v.accepted,
            "reason": v.basis,
            "npar": fm.get("npar", np.nan),
            "bic": fm.get("bic", np.nan),
            "pvalue": test_statistic(fits[name])["pvalue"],
        }
    choice = choose_structure(
        summary_rows, pairs, pvals, estimator=fits[order[0]].estimator, policy=policy, test_rows=tests_df
    )
    return CompareResult(
        table,
        tests_df,
        fits,
        preferred=choice.preferred,
        choice=choice,
        verdicts=verdicts,
        estimator=fits[order[0]].estimator,
    )
