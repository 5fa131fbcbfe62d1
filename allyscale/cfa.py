"""Confirmatory factor analysis (ML, MLR, FIML, WLSMV) matching lavaan 0.6.14: ``cfa(data, model, ...)``.

``cfa(data, model, estimator=...)`` fits lavaan syntax to a data frame and returns a :class:`CFAResult` whose
numbers follow lavaan's ``cfa()`` defaults and names (``fitMeasures()``, ``parameterEstimates()``,
``standardizedSolution()``, ``modindices()``); models with EFA blocks (``efa("b")*f1 + efa("b")*f2 =~ ...``) are
fitted as ESEM and return an :class:`allyscale.esem.ESEMResult`. The engine behind it — prepared input,
estimators, the result builder, difference tests — is :mod:`allyscale.sem` (its estimator contract is documented
there); this module re-exports what callers import from it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd

from allyscale._threads import blas_limited
from allyscale.errors import SpecificationError
from allyscale.sem import (  # re-exported: callers import these from allyscale.cfa
    _ESTIMATORS,
    COMPARE_COLUMNS,
    ESTIMATORS,
    CFAResult,
    _build,
    _given_polychoric,
    _prepare,
    _rule_estimator,
    difference_test,
)

__all__ = ["cfa", "CFAResult", "difference_test", "ESTIMATORS", "COMPARE_COLUMNS"]
from allyscale.sem import _fit_indices as _fit_indices
from allyscale.sem import _partable as _partable


@blas_limited
def cfa(
    data: pd.DataFrame,
    model: str,
    *,
    estimator: str | None = None,
    group: str | None = None,
    group_equal: Sequence[str] | None = None,
    missing: str = "listwise",
    ordered: Sequence[str] | None = None,
    std_lv: bool = False,
    meanstructure: bool | None = None,
    id_cat: str = "lavaan",
    polychoric=None,
    rotation: str | None = None,
    rotation_args: Mapping[str, Any] | None = None,
    rotation_se: str = "bordered",
) -> CFAResult:
    """Fit a confirmatory factor model with lavaan 0.6.14's ``cfa()`` defaults.

    Parameters
    ----------
    data : DataFrame
        Item responses (one column per item named in ``model``); not modified.
    model : str
        lavaan model syntax (e.g. ``ItemPool.model_syntax()``).
    estimator : {"ML", "MLR", "WLSMV"}, optional
        Default: allyscale's estimator rule (:func:`allyscale.fitpolicy.default_estimator`):
        WLSMV when every item of the model has integer answers with at most 7 categories,
        else ML; the choice is recorded in ``result.estimator`` and
        ``diagnostics["estimator_rule"]``.
        ``"ML"``: normal-theory ML with the divisor-N covariance, expected-information
        standard errors, ``chisq = N F_ML``. ``"MLR"``: the same estimates with Huber-White
        sandwich standard errors (observed information as bread) and the Yuan-Bentler
        (Mplus) scaled test, plus lavaan's ``.scaled`` and ``.robust`` fit measures
        (Brosseau-Liard & Savalei, 2014; Brosseau-Liard, Savalei & Li, 2012).
        ``"WLSMV"``: DWLS on polychoric correlations for ordered items.
    group : str, optional
        Column defining groups (multi-group model; group order = order of first appearance).
    group_equal : sequence of str, optional
        lavaan's ``group.equal`` (``"loadings"``, ``"intercepts"``, ``"residuals"``, ...).
    missing : {"listwise", "fiml", "pairwise"}
        ``"fiml"``: casewise (full-information) ML over missing-data patterns, observed-
        information standard errors and the EM saturated model for the test (lavaan's
        ``missing = "ml"``); ML and MLR. ``"pairwise"`` (WLSMV): every threshold from the
        cases answering its item, every polychoric correlation from the cases answering
        both items, and their asymptotic covariance with zero scores for missing responses
        (lavaan 0.6.14's ``missing = "pairwise"``); cases answering no item are dropped.
    ordered : sequence of str, optional
        Ordered-categorical items (WLSMV).
    std_lv : bool
        Identify factors by unit variance instead of a unit first loading.
    meanstructure : bool, optional
        Default as lavaan 0.6.14: on for several groups, FIML and ordered items.
    id_cat : {"lavaan", "Wu.Estabrook.2016"}
        Identification of ordered items in several groups (WLSMV, delta parameterization),
        as semTools' ``measEq.syntax(ID.cat=)``. ``"lavaan"``: lavaan 0.6.14's
        ``cfa(group.equal=)``: item intercepts 0 everywhere; with equal thresholds the scale
        factors and the latent means are free in every group but the first.
        ``"Wu.Estabrook.2016"``: the same, except that equal thresholds without equal
        ``"intercepts"`` free the item intercepts (not the latent means) in every group but
        the first, so that thresholds, then loadings, then intercepts form a nested
        sequence (Wu & Estabrook, 2016). Both give the same configural model and the same
        model with loadings, thresholds and intercepts equal.
    polychoric : PolychoricResult, optional
        WLSMV only, one group: fit from these precomputed sample statistics (thresholds,
        polychoric correlations and their casewise influences) instead of computing them
        from ``data``, e.g. ``allyscale.polychoric(data).subset(items)`` when many models
        are fitted to subsets of one pool's items. Its items must be the model's ordered
        items (any order) and its N the number of cases used; ``data`` still supplies the
        start values.
    rotation : str, optional
        Models with EFA blocks (``efa("e1")*f1 + efa("e1")*f2 =~ ...``, exploratory SEM;
        :mod:`allyscale.esem`): the rotation, lavaan 0.6.14's ``rotation`` (default
        ``"geomin"``; ``"oblimin"``, ``"quartimin"``, ``"target"``, ``"bigeomin"``,
        ``"biquartimin"``, ``"varimax"``, ``"quartimax"``, ``"orthomax"``, ``"none"``).
    rotation_args : dict, optional
        lavaan's ``rotation.args`` (``orthogonal``, ``geomin_epsilon`` = 0.001, ``oblimin_gamma``,
        ``target`` (items x factors, NaN = unspecified), ``rstarts`` = 30, ``std_ov``,
        ``row_weights``, ``order_lv_by``, ``gpa_tol``, ...; dotted names accepted) and ``seed``
        of the random starts.
    rotation_se : {"bordered", "delta"}
        Standard errors of the rotated parameters, lavaan's ``rotation.se``.

    Returns
    -------
    CFAResult
        With EFA blocks an :class:`allyscale.esem.ESEMResult` (a CFAResult with ``rotation``).

    Raises
    ------
    DataError
        Items of the model missing from the data (all listed), non-numeric or constant items,
        too few cases, a group column with one group or missing values, a singular sample
        covariance matrix.
    SpecificationError
        Unknown estimator or option, a model with negative degrees of freedom.
    ModelSyntaxError
        Unparseable model syntax.

    Warns
    -----
    ConvergenceWarning, HeywoodWarning, NotPositiveDefiniteWarning, DataWarning

    References
    ----------
    Rosseel (2012); Jöreskog (1969); Arbuckle (1996); Yuan & Bentler (2000).
    """
    by_rule = estimator is None
    if by_rule:
        estimator = _rule_estimator(data, model, missing=missing, ordered=ordered, polychoric=polychoric)
    esem = None
    if isinstance(model, str) and "efa(" in model.replace(" ", "") and _partable(model, copy=False).attrs.get("efa"):
        from allyscale.esem import rotation_options

        esem = rotation_options(rotation, rotation_args)
        if rotation_se not in ("bordered", "delta"):
            raise SpecificationError(f"rotation_se must be 'bordered' or 'delta', got {rotation_se!r}")
    elif rotation is not None or rotation_args:
        raise SpecificationError(
            'rotation= and rotation_args= apply to EFA blocks (efa("block")*f =~ ...); the model has none'
        )
    prep = _prepare(
        data,
        model,
        estimator=estimator,
        group=group,
        group_equal=group_equal,
        missing=missing,
        ordered=ordered,
        std_lv=std_lv,
        meanstructure=meanstructure,
        id_cat=id_cat,
        orthogonal_efa=bool(esem and esem["orthogonal"]),
    )
    prep.diagnostics["estimator_rule"] = (
        f"{prep.estimator} chosen by allyscale's estimator rule" if by_rule else f"{prep.estimator} as requested"
    )
    if polychoric is not None:
        prep = replace(prep, wls_stats=[_given_polychoric(prep, polychoric)])
    if esem is not None:
        from allyscale.esem import build_result, start_values

        prep = start_values(prep)
    est = _ESTIMATORS[prep.estimator](prep)
    if esem is not None:
        return build_result(prep, est, rotation, rotation_args, rotation_se)
    return _build(prep, est)


from allyscale._callable import make_callable  # noqa: E402 - after the function it makes the module call

make_callable(__name__, cfa)
