"""The SEM engine's Python face: prepared input, the estimators over a list of groups, :class:`CFAResult`, the
result builder and difference tests (lavaan 0.6.14). The public entry point is :func:`allyscale.cfa` (module
:mod:`allyscale.cfa`, which also handles ESEM blocks through :mod:`allyscale.esem`).

``cfa(data, model, estimator=...)`` fits lavaan syntax to a data frame and returns a
:class:`CFAResult` whose numbers follow lavaan's ``cfa()`` defaults and names
(``fitMeasures()``, ``parameterEstimates()``, ``standardizedSolution()``, ``modindices()``).

Estimator contract
------------------
Fitting has three stages, so that every estimator shares the same input checks and the same
result builder:

1. :func:`_prepare` validates the input and builds a frozen :class:`_Prepared`: the parameter
   table (``allyscale.syntax.lavaanify`` with lavaan's defaults), the
   :class:`~allyscale._core.model.ModelSpec` (free-parameter vector ↔ model matrices, implied
   moments, analytic Jacobians, ``std.all``), the observed-variable order, the groups and a
   list with each group's raw item matrix (one group = a list of one). No estimator changes it.
2. An estimator ``_estimate_<name>(prep) -> Estimation`` (registered in ``_ESTIMATORS``;
   :class:`allyscale._core.estimation.Estimation`) fits the model to the list of groups. It
   returns the free-parameter vector ``x``, its covariance ``vcov`` (``None`` if not
   available), ``converged``, ``iterations``, ``fmin``, ``test`` (lavaan's ``@test`` list:
   ``{"standard": {"stat", "df", "pvalue"}, <scaled name>: {"stat", "df", "pvalue",
   "scaling_factor", "shift", "trace_ugamma"}}``), the same for the baseline (independence)
   model in ``baseline``, the per-group sample moments the residuals and SRMR are computed
   from in ``sample`` (covariances for ML, correlations for WLSMV), ``logl`` (``None`` when
   not a likelihood), ``robust`` (lavaan's ``XX3``/``c.hat3`` pieces of the ``.robust``
   indices: catML for WLSMV, FIML-corrected for MLR with missing data), ``diagnostics``, and
   ``prepared`` when it extends the model (WLSMV: the ordinal table with its thresholds).
3. :func:`_build` turns it into the public :class:`CFAResult`: estimates table (lavaan row
   order, user rows first) with ``se, z, pvalue, ci_lower, ci_upper, std_all``, the fit
   measures from the one builder (:func:`allyscale._core.fitmeasures.build`), R², residuals
   and modification indices.

``estimator="WLSMV"``: :func:`_estimate_wlsmv` computes (or takes, ``cfa(polychoric=)``) each
group's sample statistics, builds the ordinal parameter table (:func:`_ordinal_model`) and
calls :func:`allyscale._core.wlsmv.estimate` on numpy arrays; ``compare``'s difference test
goes to :func:`allyscale._core.wlsmv.difference_test`. For ordered items the spec implements
lavaan's delta parameterization (residual variances ``1 - communality``, unit implied
variances; see ``ModelSpec.delta``), so ``spec.implied(x)`` is the model-implied
latent-response correlation matrix.

Where semopy is used and where it is not
----------------------------------------
semopy 2.3.11 is the project's SEM library, but its numbers differ from lavaan in ways that
matter here, so estimation and every statistic are owned code: its RMSEA uses N - 1, its
AIC/BIC are not on the log-likelihood scale, its GFI uses the NFI formula,
``Model(obj="FIML")`` gives wrong estimates on complete data, ``multigroup()`` has no
cross-group equality constraints, and it has no SRMR, RMSEA confidence interval or
modification indices. semopy serves as an independent cross-check of the number of free
parameters and of the ML chi-square in the tests.

References
----------
Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. Journal of
Statistical Software, 48(2), 1-36 (version 0.6.14 is the reference).
Jöreskog, K. G. (1969). A general approach to confirmatory maximum likelihood factor analysis.
Psychometrika, 34, 183-202.
Arbuckle, J. L. (1996). Full information estimation in the presence of incomplete data.
Satorra, A., & Bentler, P. M. (2001). A scaled difference chi-square test statistic for moment
structure analysis. Psychometrika, 66, 507-514.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

from allyscale import _caches
from allyscale._core import fitindices as fi
from allyscale._core import fitmeasures as _fitmeasures
from allyscale._core import ml as _ml
from allyscale._core import robust as _robust
from allyscale._core.estimation import Estimation, Tests, TestStatistic
from allyscale._core.model import ModelSpec
from allyscale._threads import kernel_threads
from allyscale.errors import (
    ConvergenceWarning,
    DataError,
    DataWarning,
    HeywoodWarning,
    NotPositiveDefiniteWarning,
    SpecificationError,
)
from allyscale.results import Result, Summary, jsonable
from allyscale.syntax import lavaanify, parse_model

__all__ = ["CFAResult", "difference_test", "ESTIMATORS"]

ESTIMATORS = ("ML", "MLR", "WLSMV")
#: Identification of ordered items in several groups (``cfa(id_cat=)``), keyed in lower case.
ID_CAT = {"lavaan": "lavaan", "wu.estabrook.2016": "Wu.Estabrook.2016", "wu.estabrook": "Wu.Estabrook.2016"}


# --------------------------------------------------------------------------------------
# contract
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Prepared:
    """Validated input shared by every estimator (see the module docstring); no estimator
    changes it (an estimator that extends the model returns the extended one)."""

    model: str
    estimator: str
    partable: pd.DataFrame
    spec: ModelSpec
    ov: list[str]
    lv: list[str]
    group: str | None
    group_labels: list[Any]
    y: list[np.ndarray]  # per group, (n_g, p) float, NaN = missing
    missing: str
    ordered: list[str]
    std_lv: bool
    group_equal: tuple[str, ...]
    meanstructure: bool
    data: pd.DataFrame  # the item (and group) columns after row selection, a copy
    diagnostics: dict[str, Any] = field(default_factory=dict)
    id_cat: str = "lavaan"  # identification of ordered items across groups (see cfa)
    wls_stats: list | None = None  # per group, precomputed WLS statistics (cfa(polychoric=))
    fit_only: bool = False  # only the fit measures are wanted (see _fit_indices)

    @property
    def ngroups(self) -> int:
        return len(self.y)

    @property
    def n_total(self) -> int:
        return int(sum(y.shape[0] for y in self.y))


_Estimation = Estimation  # every estimator returns the core container (allyscale._core.estimation)


# --------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------
_PARTABLES: dict[tuple, Any] = {}
_caches.register(
    "partables", "parsed model syntax: parameter table and model spec", lambda: len(_PARTABLES), _PARTABLES.clear
)


def _partable(model: str, *, ov: tuple[str, ...] | None = None, copy: bool = True, **options: Any):
    """``lavaanify(parse_model(model), **options)`` (and with ``ov`` the :class:`ModelSpec`), cached.

    Monte Carlo studies and ``compare`` fit the same syntax many times; the table depends on
    the syntax and options only. Callers get a copy of the table (a spec is never modified).
    """
    key = (model, ov, tuple(sorted(options.items())))
    hit = _PARTABLES.get(key)
    if hit is None:
        pt = lavaanify(parse_model(model), **options)
        hit = (
            pt
            if ov is None
            else (
                pt,
                ModelSpec.from_partable(
                    pt, list(ov), list(pt.attrs["latent"]), meanstructure=options.get("meanstructure", False)
                ),
            )
        )
        if len(_PARTABLES) > 64:
            _PARTABLES.clear()
        _PARTABLES[key] = hit
    if ov is None:
        table = cast(pd.DataFrame, hit)
        return table.copy() if copy else table
    pair = cast(tuple[pd.DataFrame, ModelSpec], hit)
    return pair[0].copy(), pair[1]


def _prepare(
    data: pd.DataFrame,
    model: str,
    *,
    estimator: str,
    group: str | None,
    group_equal: Sequence[str] | None,
    missing: str,
    ordered: Sequence[str] | None,
    std_lv: bool,
    meanstructure: bool | None = None,
    id_cat: str = "lavaan",
    orthogonal_efa: bool = False,
) -> _Prepared:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if not isinstance(model, str) or not model.strip():
        raise SpecificationError("model must be non-empty lavaan syntax")
    est = str(estimator).upper()
    if est not in ESTIMATORS:
        raise SpecificationError(f"unknown estimator {estimator!r}; expected one of {', '.join(ESTIMATORS)}")
    if missing not in ("listwise", "fiml", "pairwise"):
        raise SpecificationError(f"unknown missing={missing!r}; expected 'listwise', 'fiml' or 'pairwise'")
    if missing == "fiml" and est not in ("ML", "MLR"):
        raise SpecificationError(f"missing='fiml' is available with estimator='ML' or 'MLR' only (got {est!r})")
    if missing == "pairwise" and est != "WLSMV":
        raise SpecificationError(
            f"missing='pairwise' is available with estimator='WLSMV' only (got {est!r}); "
            "use missing='fiml' with ML or MLR"
        )
    if ordered and est != "WLSMV":
        raise SpecificationError(f"ordered items need estimator='WLSMV' (got {est!r})")
    id_key = str(id_cat).lower().replace("_", ".")
    if id_key not in ID_CAT:
        raise SpecificationError(f"unknown id_cat={id_cat!r}; expected 'lavaan' or 'Wu.Estabrook.2016'")
    # one name (lavaan's group.equal = "loadings") or a sequence of names
    group_equal = (group_equal,) if isinstance(group_equal, str) else tuple(group_equal or ())
    if group_equal and group is None:
        raise SpecificationError("group_equal needs a group column (group=...)")
    pt0 = _partable(model, copy=False)  # read only
    ov = list(pt0.attrs["observed"])
    absent = [v for v in ov if v not in data.columns]
    if absent:
        raise DataError(f"the model names item(s) not in the data: {', '.join(absent)}")
    ordered = list(ordered or [])
    bad_ord = [o for o in ordered if o not in ov]
    if bad_ord:
        raise DataError(f"ordered item(s) not in the model: {', '.join(bad_ord)}")
    if est == "WLSMV":
        if ordered and set(ordered) != set(ov):
            raise SpecificationError(
                "WLSMV here needs every indicator ordered (mixed continuous/ordinal items are not supported)"
            )
        ordered = list(ov)  # WLSMV treats every indicator as ordered, with a mean structure (thresholds)
        meanstructure = True
    diagnostics: dict[str, Any] = {}
    cols = ov + ([group] if group is not None else [])
    if group is not None and group not in data.columns:
        raise DataError(f"group column {group!r} is not in the data")
    frame = data.loc[:, cols]
    kinds = dict(zip(frame.columns, (dt.kind for dt in frame.dtypes)))
    if any(kinds[v] not in "fiu" for v in ov):
        frame = frame.copy()  # columns are converted below
    frame.attrs = {}  # the caller's metadata is not needed here (and pandas deep-copies it on every column access)
    for v in ov:
        if kinds[v] in "fiu":
            continue
        if not pd.api.types.is_numeric_dtype(frame[v]) and not pd.api.types.is_bool_dtype(frame[v]):
            conv = pd.to_numeric(frame[v], errors="coerce")
            bad = frame[v][conv.isna() & frame[v].notna()]
            if len(bad):
                raise DataError(f"item {v!r} has non-numeric value {bad.iloc[0]!r} in row {bad.index[0]!r}")
            frame[v] = conv
        frame[v] = frame[v].astype(float)
    values = frame[ov].to_numpy(dtype=float)  # every item is numeric now
    if any(kinds[v] in "iu" for v in ov):  # integer columns: the frame holds them as floats too
        items_f = pd.DataFrame(values, columns=ov, index=frame.index)
        frame = items_f if group is None else items_f.join(frame[[group]])
    if group is not None:
        na = frame[group].isna()
        if na.any():
            raise DataError(
                f"group column {group!r} is missing in {int(na.sum())} row(s), first at row {frame.index[na][0]!r}"
            )
    seen = ~np.isnan(values)
    if missing == "listwise":
        keep = seen.all(axis=1)
    else:  # FIML and pairwise: every case observing an item (lavaan drops the empty ones)
        keep = seen.any(axis=1)
    dropped = int((~keep).sum())
    if dropped:
        what = "with a missing item value (listwise deletion)" if missing == "listwise" else "with no item observed"
        warnings.warn(f"{dropped} row(s) {what} were dropped", DataWarning, stacklevel=3)
        diagnostics["dropped_rows"] = dropped
        frame = frame.loc[keep]
        values = values[keep]
    if group is not None:
        labels = list(pd.unique(frame[group]))
        if len(labels) < 2:
            raise DataError(
                f"group column {group!r} has a single group ({labels[0]!r} only)"
                if labels
                else f"group column {group!r} has no cases"
            )
        ys = [frame.loc[frame[group] == lab, ov].to_numpy(dtype=float) for lab in labels]
    else:
        labels = []
        ys = [values]
    for lab, y in zip(labels or [None], ys):
        where = f" in group {lab!r}" if lab is not None else ""
        sd = np.nanstd(y, axis=0)
        const = [ov[i] for i in np.flatnonzero(~(sd > 0))]
        if const:
            raise DataError(f"constant item(s){where}: {', '.join(const)}")
        if y.shape[0] < len(ov) + 1 and missing == "listwise":
            raise DataError(
                f"{y.shape[0]} complete case(s){where} but the model has {len(ov)} items: "
                f"at least {len(ov) + 1} are needed"
            )
    ngroups = len(ys)
    if meanstructure is None:
        meanstructure = ngroups > 1 or missing == "fiml" or bool(ordered)
    pt, spec = _partable(
        model,
        ngroups=ngroups,
        ordered=tuple(ordered),
        std_lv=bool(std_lv),
        meanstructure=bool(meanstructure),
        group_equal=group_equal,
        ov=tuple(ov),
        **({"orthogonal_efa": True} if orthogonal_efa else {}),
    )
    lv = list(pt.attrs["latent"])
    return _Prepared(
        model,
        est,
        pt,
        spec,
        ov,
        lv,
        group,
        labels,
        ys,
        missing,
        ordered,
        bool(std_lv),
        group_equal,
        meanstructure,
        frame,
        diagnostics,
        ID_CAT[id_key],
    )


# --------------------------------------------------------------------------------------
# ML and MLR
# --------------------------------------------------------------------------------------
def _fit_baseline(
    prep: _Prepared, data: list[_ml.GroupData], robust: bool, h1_dev: float, h1_traces: list[float] | None
) -> tuple[Tests, ModelSpec, np.ndarray]:
    """The independence model: free variances (and means) per group, no constraints; its
    tests, spec and estimates."""
    spec0 = _ml.baseline_spec(prep.ov, prep.ngroups, prep.meanstructure)
    if all(gd.complete for gd in data):
        x0 = np.concatenate(
            [
                np.concatenate([np.diag(gd.moments()[0])] + ([gd.moments()[1]] if prep.meanstructure else []))
                for gd in data
            ]
        )
        dev0 = _ml.deviance(spec0, data, x0, need_grad=False, need_info=False)[0]
    else:
        fit0 = _ml.fit_ml(spec0, data, _ml.start_values(spec0, data))
        x0, dev0 = fit0.x, fit0.deviance
    p = len(prep.ov)
    df0 = prep.ngroups * (p * (p + 1) // 2 + (p if prep.meanstructure else 0)) - spec0.n_free
    stat0 = dev0 - h1_dev
    out: Tests = {"standard": {"stat": stat0, "df": float(df0), "pvalue": fi.pvalue(stat0, df0)}}
    if robust:
        if h1_traces is None:
            raise ValueError("the robust baseline test needs the saturated model's traces")
        out["yuan.bentler.mplus"] = _yb_test(spec0, data, x0, stat0, df0, prep.n_total, h1_traces)
    return out, spec0, x0


def _yb_test(
    spec: ModelSpec,
    data: list[_ml.GroupData],
    x: np.ndarray,
    stat: float,
    df: float,
    n_total: int,
    h1_traces: list[float],
    info_obs: np.ndarray | None = None,
) -> TestStatistic:
    if info_obs is None:
        info_obs = _ml.observed_information(spec, data, x)
    e_inv = np.linalg.inv(info_obs / n_total)
    scores = _ml.casewise_scores(spec, data, x)
    tr_h0 = sum(_robust.h0_trace(e_inv, scores, n_total))
    tr_h1 = sum(h1_traces)
    c = _robust.scaling_factor(tr_h1, tr_h0, df)
    scaled = stat / c if np.isfinite(c) else np.nan
    return {
        "stat": scaled,
        "df": float(df),
        "pvalue": fi.pvalue(scaled, df),
        "scaling_factor": c,
        "trace_ugamma": tr_h1 - tr_h0,
        "shift": 0.0,
    }


def _estimate_ml(prep: _Prepared, *, robust: bool = False) -> _Estimation:
    spec = prep.spec
    data = [_ml.GroupData.from_array(y) for y in prep.y]
    n_total = prep.n_total
    diagnostics: dict[str, Any] = {}
    h1 = _ml.saturated(data)
    h1_dev = sum(d for _, _, d, _, _ in h1)
    if not all(ok for *_, ok, _ in h1):
        warnings.warn("the EM algorithm for the saturated model did not converge", ConvergenceWarning, stacklevel=3)
        diagnostics["h1_converged"] = False
    for g, (s, _, _, _, _) in enumerate(h1):
        if np.linalg.eigvalsh(s).min() <= 1e-10 * max(1.0, np.abs(s).max()):
            where = f" of group {prep.group_labels[g]!r}" if prep.group_labels else ""
            raise DataError(
                f"the sample covariance matrix{where} is not positive definite "
                "(collinear or duplicated items); ML cannot be used"
            )
    x0 = _ml.start_values(spec, data)
    fit = _ml.fit_ml(spec, data, x0)
    p = len(prep.ov)
    ndat = prep.ngroups * (p * (p + 1) // 2 + (p if prep.meanstructure else 0))
    df = ndat - spec.n_free
    if df < 0:
        raise SpecificationError(
            f"the model has {spec.n_free} free parameters but only {ndat} sample moments "
            f"(df = {df}): it is not identified"
        )
    stat = fit.deviance - h1_dev
    test: Tests = {"standard": {"stat": stat, "df": float(df), "pvalue": fi.pvalue(stat, df)}}
    logl = -0.5 * fit.deviance
    vcov = None
    info_obs = None
    h1_traces = None
    try:
        if robust:
            info_obs = _ml.observed_information(spec, data, fit.x)
            scores = _ml.casewise_scores(spec, data, fit.x)
            meat = sum(sc.T @ sc for sc in scores)
            vcov = _robust.sandwich(info_obs, meat)
        elif prep.missing == "fiml":
            info_obs = _ml.observed_information(spec, data, fit.x)
            vcov = np.linalg.inv(info_obs)
        else:
            vcov = np.linalg.inv(fit.information)
    except np.linalg.LinAlgError:
        warnings.warn(
            "the information matrix is singular: the model may not be identified; standard errors are not available",
            NotPositiveDefiniteWarning,
            stacklevel=3,
        )
        diagnostics["singular_information"] = True
        vcov = None
    scaled_name = None
    if robust:
        h1_info = [
            None if gd.complete else _robust.h1_missing_information(gd, s, mu, prep.ov)
            for gd, (s, mu, *_) in zip(data, h1)
        ]
        h1_traces = [
            _robust.h1_trace(gd.y, prep.meanstructure)
            if gd.complete
            else _robust.h1_trace_missing(gd, s, mu, prep.ov, info)
            for gd, (s, mu, *_), info in zip(data, h1, h1_info)
        ]
        if df > 0 and info_obs is not None:
            test["yuan.bentler.mplus"] = _yb_test(spec, data, fit.x, stat, df, n_total, h1_traces, info_obs)
        else:
            test["yuan.bentler.mplus"] = {
                "stat": stat,
                "df": float(df),
                "pvalue": fi.pvalue(stat, df),
                "scaling_factor": np.nan,
                "trace_ugamma": np.nan,
                "shift": 0.0,
            }
        scaled_name = "yuan.bentler.mplus"
    baseline, spec0, x0 = _fit_baseline(prep, data, robust, h1_dev, h1_traces)
    if robust and prep.missing == "fiml":
        diagnostics["fimlc"] = _fiml_corrected(
            spec, fit.x, spec0, x0, data, h1, h1_info, df, baseline["standard"]["df"]
        )
        if diagnostics["fimlc"].get("note"):
            diagnostics["robust_indices"] = diagnostics["fimlc"]["note"]
    sample = [(s, mu if prep.meanstructure else None) for s, mu, *_ in h1]
    extra = {"unrestricted.logl": -0.5 * h1_dev}
    diagnostics.update(
        message=fit.message, max_gradient=float(np.max(np.abs(fit.gradient)) / n_total) if spec.n_free else 0.0
    )
    # lavaan's fmin: chisq = 2 N fmin
    return _Estimation(
        fit.x,
        vcov,
        fit.converged,
        fit.iterations,
        stat / (2 * n_total),
        test,
        baseline,
        sample,
        logl,
        extra,
        diagnostics,
        scaled_name,
        fit.information / n_total,
        robust=diagnostics.get("fimlc"),
    )


def _fiml_corrected(
    spec: ModelSpec, x: np.ndarray, spec0: ModelSpec, x0: np.ndarray, data, h1, h1_info, df: float, df_null: float
) -> dict[str, Any]:
    """The FIML-corrected pieces of the robust CFI/TLI/RMSEA (:func:`allyscale._core.robust.fiml_corrected`)."""
    groups = []
    mats = spec.matrices(x)
    derivs = spec.derivatives(mats)
    implied0 = spec0.implied(x0)
    for g, (gd, (s_t, mu_t, *_)) in enumerate(zip(data, h1)):
        info = h1_info[g] if h1_info[g] is not None else _robust.h1_missing_information(gd, s_t, mu_t, list(spec.ov))
        ds, dm = derivs[g]
        groups.append(
            {
                "n": gd.n,
                "sigma_t": s_t,
                "mu_t": mu_t,
                "a1": info[0],
                "b1": info[1],
                "sigma": mats[g].sigma(),
                "mu": mats[g].mu(),
                "delta": _robust.saturated_jacobian(ds, dm),
                "sigma_b": implied0[g][0],
                "mu_b": implied0[g][1],
            }
        )
    try:
        return _robust.fiml_corrected(groups, float(df), float(df_null))
    except np.linalg.LinAlgError:
        return {
            "XX3": np.nan,
            "df3": df,
            "c.hat3": np.nan,
            "XX3.scaled": np.nan,
            "XX3.null": np.nan,
            "df3.null": df_null,
            "c.hat3.null": np.nan,
            "note": "a singular information matrix: the FIML-corrected robust indices are NaN",
        }


def _estimate_mlr(prep: _Prepared) -> _Estimation:
    return _estimate_ml(prep, robust=True)


def _estimate_wlsmv(prep: _Prepared) -> _Estimation:
    """WLSMV: the sample statistics of every group (``cfa(polychoric=)``'s if given), the ordinal
    parameter table (thresholds expanded to the observed categories), then
    :func:`allyscale._core.wlsmv.estimate` on numpy arrays."""
    from allyscale._core import (
        wlsmv,  # imported on first use (it is not needed for ML)
        wlsstats,
    )

    ov = prep.ov
    stats = prep.wls_stats
    if stats is None:
        stats = []
        for g, y in enumerate(prep.y):
            where = f" in group {prep.group_labels[g]!r}" if prep.group_labels else ""
            try:
                stats.append(wlsmv.sample_statistics(y))
            except wlsstats.TooFewCategories as exc:
                raise DataError(
                    f"WLSMV needs every ordered item to have at least two observed categories: "
                    f"{ov[int(exc.args[0])]!r}{where} has one"
                ) from None
            except wlsstats.PairNeverObserved as exc:
                i, j = exc.pair
                raise DataError(
                    f"items {ov[i]!r} and {ov[j]!r} are never answered by the same respondent{where}: "
                    "their polychoric correlation is not defined"
                ) from None
    cats = np.array([st["n_cat"] for st in stats])
    if len(stats) > 1:
        differ = [ov[j] for j in np.flatnonzero((cats != cats[0]).any(axis=0))]
        if differ:
            raise DataError(
                f"item(s) {differ[:10]} do not have the same observed categories in every group "
                f"({', '.join(str(lab) for lab in prep.group_labels)}); thresholds cannot be compared "
                "(collapse categories or drop the items)"
            )
    n_cat = {v: int(k) for v, k in zip(ov, cats[0])}
    pt, om = _ordinal_model(prep, n_cat)
    est = wlsmv.estimate(prep.y, stats, om, fit_only=prep.fit_only, threads=kernel_threads())
    if any(st.get("dropped") for st in stats):  # cases with no response among the model's items
        est.diagnostics["empty_cases"] = int(sum(st.get("dropped", 0) for st in stats))
    est.prepared = replace(prep, partable=pt, spec=om.spec, ordered=list(ov), meanstructure=True)
    return est


_ORDINAL: dict[tuple, tuple] = {}


def _expand_thresholds(pt: pd.DataFrame, n_cat: dict[str, int]) -> pd.DataFrame:
    """Replace each ``x | t*`` placeholder by rows ``x | t1 .. t(K-1)`` and renumber ``free``."""
    rows = []
    for r in pt.to_dict("records"):
        if r["op"] == "|" and r["rhs"] == "t*":
            for k in range(1, n_cat[r["lhs"]]):
                nr = dict(r)
                nr["rhs"] = f"t{k}"
                nr["label"] = "" if not r["label"] else f"{r['label']}.t{k}"
                rows.append(nr)
        else:
            rows.append(r)
    out = pd.DataFrame(rows, columns=pt.columns)
    number = 0
    by_label: dict[str, int] = {}
    free = []
    for r in out.itertuples(index=False):
        if r.free == 0:
            free.append(0)
            continue
        lab = r.label
        if lab and lab in by_label:
            free.append(by_label[lab])
            continue
        number += 1
        free.append(number)
        if lab:
            by_label[lab] = number
    out["free"] = free
    out["id"] = np.arange(1, len(out) + 1)
    out.attrs.update(pt.attrs)
    return out.reset_index(drop=True)


def append_rows(pt: pd.DataFrame, rows: list[dict]) -> pd.DataFrame:
    """``pt`` with ``rows`` (dicts of ``lhs, op, rhs, user, group, free, ustart, label, kind``)
    appended; other columns take the table's first value (text columns) or NaN, and the
    table's attrs are kept."""
    extra = pd.DataFrame(rows).reindex(columns=pt.columns)
    for c in pt.columns:
        if c not in ("lhs", "op", "rhs", "user", "group", "free", "ustart", "label", "kind"):
            extra[c] = pt[c].iloc[0] if pt[c].dtype == object else np.nan
    full = pd.concat([pt, extra], ignore_index=True)
    full.attrs.update(pt.attrs)
    for c in ("free", "user", "group"):
        full[c] = full[c].astype(int)
    return full


def ordinal_model_of(pt: pd.DataFrame, ov: list[str], lv: list[str], spec: ModelSpec | None = None):
    """The :class:`~allyscale._core.wlsmv.OrdinalModel` of an ordinal parameter table
    (thresholds in the order of the sample statistics); ``spec`` its meanstructure
    :class:`ModelSpec` if already built (also used for the start values then)."""
    from allyscale._core.wlsmv import OrdinalModel

    if spec is None:
        spec = ModelSpec.from_partable(pt, ov, lv, meanstructure=True)
        spec_ml = ModelSpec.from_partable(pt, ov, lv, meanstructure=False)
    else:
        spec_ml = spec
    op = pt["op"].to_numpy()
    lhs = pt["lhs"].to_numpy()
    free = pt["free"].to_numpy(dtype=int)
    pos = {v: i for i, v in enumerate(ov)}
    return OrdinalModel(
        spec=spec,
        spec_ml=spec_ml,
        free=free,
        is_th=op == "|",
        group=pt["group"].to_numpy(dtype=int) - 1 if "group" in pt else np.zeros(len(pt), dtype=int),
        item=np.array([pos.get(v, -1) for v in lhs], dtype=int),
        ustart=pt["ustart"].to_numpy(dtype=float),
        alpha_free=np.flatnonzero((op == "~1") & np.isin(lhs, lv) & (free > 0)),
    )


def _ordinal_model(prep: _Prepared, n_cat: dict[str, int]):
    """The ordinal parameter table (every indicator ordered, thresholds expanded) and its
    :class:`~allyscale._core.wlsmv.OrdinalModel`; cached by syntax, items, categories and
    options (replications of a study refit the same models).

    Several groups, as lavaan 0.6.14 (delta parameterization): thresholds per group (shared
    with ``group_equal`` "thresholds"), intercepts 0, latent-response scale factors
    ``x ~*~ x`` fixed at 1 in the first group and free in the others when thresholds are
    equal (then the latent means are free there too); the residual variances follow from
    the scale factors. With ``prep.id_cat == "Wu.Estabrook.2016"`` and equal thresholds but
    not intercepts, the item intercepts are free in the later groups and the latent means
    fixed at 0 instead (semTools' ``measEq.syntax(ID.cat = "Wu.Estabrook.2016")``).
    """
    ov = prep.ov
    key = (
        prep.model,
        tuple(ov),
        tuple(prep.lv),
        tuple(n_cat[v] for v in ov),
        prep.std_lv,
        prep.ngroups,
        tuple(prep.group_equal),
        prep.id_cat,
        bool(prep.partable.attrs.get("orthogonal_efa", False)),
        prep.partable["start"].to_numpy(dtype=float).tobytes() if "efa" in prep.partable else b"",
    )
    hit = _ORDINAL.get(key)
    if hit is not None:
        return hit
    pt = prep.partable
    if prep.ngroups > 1:
        free_scale = "thresholds" in prep.group_equal
        if free_scale and "intercepts" not in prep.group_equal and prep.id_cat != "lavaan":
            # Wu & Estabrook (2016): item intercepts free in later groups, latent means fixed at 0
            pt = pt.copy()
            op, grp = pt["op"].to_numpy(), pt["group"].to_numpy(dtype=int)
            is_ov = pt["lhs"].isin(ov).to_numpy()
            nu = (op == "~1") & is_ov & (grp > 1)
            alpha = (op == "~1") & ~is_ov
            pt.loc[nu, "free"], pt.loc[nu, "ustart"] = 1, np.nan
            pt.loc[alpha, "free"], pt.loc[alpha, "ustart"] = 0, 0.0
            pt.loc[nu | alpha, "label"] = ""
        rows = []
        for g in range(1, prep.ngroups + 1):
            for v in ov:
                scale_free = 1 if (free_scale and g > 1) else 0
                rows.append(
                    {
                        "lhs": v,
                        "op": "~*~",
                        "rhs": v,
                        "user": 0,
                        "group": g,
                        "free": scale_free,
                        "ustart": np.nan if scale_free else 1.0,
                        "label": "",
                        "kind": "scale",
                    }
                )
        pt = append_rows(pt, rows)
    pt = _expand_thresholds(pt, n_cat)
    om = ordinal_model_of(pt, ov, prep.lv)
    if len(_ORDINAL) > 32:
        _ORDINAL.clear()
    _ORDINAL[key] = hit = (pt, om)
    return hit


_ESTIMATORS: dict[str, Callable[[_Prepared], _Estimation]] = {
    "ML": _estimate_ml,
    "MLR": _estimate_mlr,
    "WLSMV": _estimate_wlsmv,
}


# --------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------
FIT_ORDER = _fitmeasures.ORDER


def _fit_measures(prep: _Prepared, est: _Estimation, implied) -> dict[str, float]:
    """The fit measures of an estimation: :func:`allyscale._core.fitmeasures.build`, the one builder."""
    n = prep.n_total
    return _fitmeasures.build(
        npar=prep.spec.n_free,
        n=n,
        ngroups=prep.ngroups,
        fmin=est.fmin,
        test=est.test,
        baseline=est.baseline,
        scaled_test=est.scaled_test,
        logl=est.logl,
        categorical=prep.estimator == "WLSMV",
        robust=est.robust,
        sample=est.sample,
        implied=[(s, m if prep.meanstructure else None) for s, m in implied],
        weights=[y.shape[0] / n for y in prep.y],
        extra=est.extra,
    )


def _build(prep: _Prepared, est: _Estimation) -> CFAResult:
    if est.prepared is not None:  # the estimator extended the model (WLSMV's thresholds)
        prep = est.prepared
    spec, pt = prep.spec, prep.partable
    diagnostics: dict[str, Any] = dict(prep.diagnostics)
    diagnostics.update(est.diagnostics)
    diagnostics["converged"] = bool(est.converged)
    diagnostics["iterations"] = int(est.iterations)
    if not est.converged:
        warnings.warn(
            f"the {prep.estimator} estimation did not converge after {est.iterations} iterations "
            f"({est.diagnostics.get('message', '')}); fit measures are reported as NaN",
            ConvergenceWarning,
            stacklevel=3,
        )
    x = est.x
    mats = spec.matrices(x)
    values = spec.estimates(x)
    se = np.full(len(pt), np.nan)
    free = pt["free"].to_numpy()
    if est.vcov is not None:
        var = np.diag(est.vcov)
        with np.errstate(invalid="ignore"):
            se_free = np.sqrt(np.where(var >= 0, var, np.nan))
        if (var < 0).any():
            diagnostics["negative_variance_of_estimates"] = int((var < 0).sum())
        se = np.where(free > 0, se_free[np.maximum(free, 1) - 1], 0.0)
    se = np.where(np.isnan(values), np.nan, se)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(free > 0, values / se, np.nan)
    pval = 2 * norm.sf(np.abs(z))
    q = norm.ppf(0.975)
    std_all = spec.standardized(x)
    table = pd.DataFrame({"lhs": pt["lhs"], "op": pt["op"], "rhs": pt["rhs"]})
    if prep.ngroups > 1:
        table["group"] = pt["group"].astype(int)
    if (pt["label"] != "").any():
        table["label"] = pt["label"]
    table["est"] = values
    table["se"] = se
    table["z"] = z
    table["pvalue"] = pval
    table["ci_lower"] = np.where(free > 0, values - q * se, values)
    table["ci_upper"] = np.where(free > 0, values + q * se, values)
    table["std_all"] = std_all
    if not prep.meanstructure:
        table = table[table["op"] != "~1"]
    table = table.reset_index(drop=True)
    # Heywood cases and non-positive-definite matrices
    heywood = []
    for g, gm in enumerate(mats):
        glab = f" (group {prep.group_labels[g]!r})" if prep.group_labels else ""
        for i, v in enumerate(prep.ov):
            if gm.theta[i, i] < 0:
                heywood.append(f"{v}{glab}: residual variance {gm.theta[i, i]:.4g}")
        for i, f in enumerate(prep.lv):
            if gm.psi[i, i] < 0:
                heywood.append(f"{f}{glab}: variance {gm.psi[i, i]:.4g}")
        try:
            np.linalg.cholesky(gm.latent_cov())
        except np.linalg.LinAlgError:
            diagnostics.setdefault("nonpd_latent", []).append(g + 1)
            warnings.warn(
                f"the latent covariance matrix{glab} is not positive definite", NotPositiveDefiniteWarning, stacklevel=3
            )
        try:
            np.linalg.cholesky(gm.sigma())
        except np.linalg.LinAlgError:
            diagnostics.setdefault("nonpd_implied", []).append(g + 1)
            warnings.warn(
                f"the model-implied covariance matrix{glab} is not positive definite",
                NotPositiveDefiniteWarning,
                stacklevel=3,
            )
    if heywood:
        warnings.warn("Heywood case(s): " + "; ".join(heywood), HeywoodWarning, stacklevel=3)
    diagnostics["heywood"] = heywood
    implied = spec.implied(x)  # (scaled latent responses for ordered items in several groups)
    fm = _fit_measures(prep, est, implied)
    if not est.converged:
        diagnostics["unconverged_fit_measures"] = dict(fm)
        fm = {k: (v if k in ("npar", "ntotal") else np.nan) for k, v in fm.items()}
    # R²
    r2_rows = []
    for g, gm in enumerate(mats):
        sig = np.diag(implied[g][0])
        loaded = set(pt.loc[(pt.op == "=~") & (pt.group == g + 1), "rhs"])
        for i, v in enumerate(prep.ov):
            if v in loaded:
                r2_rows.append((g + 1, v, 1.0 - gm.theta[i, i] / sig[i]))
        lcov = np.diag(gm.latent_cov())
        endo = set(pt.loc[(pt.op == "~") & (pt.group == g + 1), "lhs"]) | {r for r in loaded if r in prep.lv}
        for i, f in enumerate(prep.lv):
            if f in endo:
                r2_rows.append((g + 1, f, 1.0 - gm.psi[i, i] / lcov[i]))
    r2 = pd.DataFrame(r2_rows, columns=["group", "variable", "r2"])
    if prep.ngroups == 1:
        r2 = r2.drop(columns="group")
    return CFAResult(
        estimator=prep.estimator,
        fit_measures=fm,
        estimates=table,
        r2=r2,
        diagnostics=diagnostics,
        converged=bool(est.converged),
        model=prep.model,
        ngroups=prep.ngroups,
        group_labels=list(prep.group_labels),
        ntotal=prep.n_total,
        _prep=prep,
        _est=est,
    )


@dataclass(frozen=True)
class CFAResult(Result):
    """A fitted confirmatory factor model.

    Attributes
    ----------
    estimator : str
    fit_measures : dict
        lavaan ``fitMeasures()`` names (``chisq, df, pvalue, cfi, tli, rmsea, rmsea.ci.lower,
        rmsea.ci.upper, rmsea.pvalue, srmr, aic, bic, logl, npar, ntotal, baseline.chisq,
        baseline.df``; with MLR also the ``.scaled`` and ``.robust`` measures). NaN for every
        measure if the estimation did not converge (the values are kept in
        ``diagnostics["unconverged_fit_measures"]``).
    estimates : DataFrame
        ``lhs, op, rhs, [group], [label], est, se, z, pvalue, ci_lower, ci_upper, std_all`` in
        lavaan's row order (user rows first); Wald 95% intervals.
    r2 : DataFrame
        R² of every indicator (and endogenous factor), ``1 - residual variance / implied variance``.
    diagnostics : dict
        ``converged``, ``iterations``, ``heywood`` (list), ``nonpd_latent``/``nonpd_implied``
        (groups), ``dropped_rows``, optimiser message, ...
    converged : bool
    """

    estimator: str
    fit_measures: dict[str, float]
    estimates: pd.DataFrame
    r2: pd.DataFrame
    diagnostics: dict[str, Any]
    converged: bool
    model: str
    ngroups: int
    group_labels: list[Any]
    ntotal: int
    _prep: _Prepared = field(repr=False, compare=False)
    _est: _Estimation = field(repr=False, compare=False)

    # -- extractors --------------------------------------------------------------------
    def residuals(self) -> pd.DataFrame | dict[Any, pd.DataFrame]:
        """Residual correlations ``cor(S) - cor(Sigma_hat)`` (lavaan's ``residuals(fit, type = "cor")``,
        Bollen's standardisation); one DataFrame, or one per group label."""
        out = {}
        implied = self._prep.spec.implied(self._est.x)
        for g, ((s, _), (sig, _)) in enumerate(zip(self._est.sample, implied)):
            ds, dg = np.sqrt(np.diag(s)), np.sqrt(np.diag(sig))
            res = s / np.outer(ds, ds) - sig / np.outer(dg, dg)
            out[self.group_labels[g] if self.group_labels else g] = pd.DataFrame(
                res, index=self._prep.ov, columns=self._prep.ov
            )
        return out[0] if self.ngroups == 1 else out

    def modification_indices(self, *, minimum: float = 0.0) -> pd.DataFrame:
        """Modification indices with expected parameter changes (Sörbom, 1989), as ``lavaan::modindices``.

        Candidates are the cross-loadings and residual covariances not in the model and the
        fixed (non-identifying) parameters. ``mi`` is the score statistic ``N g_j^2 / V_jj`` with
        ``V = I_jj - I_j,free I_free^-1 I_free,j`` from the expected per-case information of the
        extended model; ``epc = g_j / V_jj`` (one-step change), ``sepc.all`` its std.all version
        under the fitted model. Only for ML/MLR with complete data (the information is the
        expected one, as lavaan's default for ML). Multi-group models get the candidates of
        every group (column ``group``); with cross-group equality constraints the score tests
        of releasing those constraints, which lavaan lists as extra rows, are not included.

        Returns
        -------
        DataFrame
            ``lhs, op, rhs, [group], mi, epc, sepc.all`` in lavaan's order.

        Raises
        ------
        SpecificationError
            Another estimator or FIML.

        References
        ----------
        Sörbom (1989); Saris, Satorra & Sörbom (1987).
        """
        from allyscale.modindices import modification_indices

        if self._prep.estimator not in ("ML", "MLR") or self._prep.missing != "listwise":
            raise SpecificationError("modification indices are available for ML/MLR with complete data")
        table = modification_indices(self._prep, self._est.x)
        return table[table["mi"] >= minimum].reset_index(drop=True)

    # -- output ------------------------------------------------------------------------
    _FIT_KEYS = (
        "chisq",
        "df",
        "pvalue",
        "cfi",
        "tli",
        "rmsea",
        "rmsea.ci.lower",
        "rmsea.ci.upper",
        "srmr",
        "aic",
        "bic",
        "chisq.scaled",
        "chisq.scaling.factor",
        "cfi.robust",
        "tli.robust",
        "rmsea.robust",
    )

    def summary(self) -> Summary:
        """Estimation, fit measures and parameter estimates (text, HTML and LaTeX)."""
        title = f"Confirmatory factor analysis ({self.estimator}), N = {self.ntotal}" + (
            f", {self.ngroups} groups: {', '.join(map(str, self.group_labels))}" if self.ngroups > 1 else ""
        )
        out = Summary(title)
        if self.converged:
            out.text(f"Converged after {self.diagnostics['iterations']} iterations")
        else:
            out.text("NOT CONVERGED: the fit measures are not trustworthy and are reported as NaN", strong=True)
        if self.diagnostics.get("heywood"):
            out.text("Heywood case(s): " + "; ".join(self.diagnostics["heywood"]), strong=True)
        fm = self.fit_measures
        counts = {"df", "npar", "ntotal", "baseline.df"}
        out.facts(
            {k: int(fm[k]) if k in counts and np.isfinite(fm[k]) else fm[k] for k in self._FIT_KEYS if k in fm},
            title="Fit measures",
            digits=4,
        )
        return out.table(self.estimates, title="Parameter estimates", index=False)

    def to_frame(self) -> pd.DataFrame:
        """The parameter estimates (lavaan's ``parameterEstimates()`` columns and row order)."""
        return self.estimates

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable: ``estimator``, ``converged``, ``fit_measures``, ``estimates`` (records), ``r2``,
        ``diagnostics``; NaN becomes ``None``."""
        return jsonable(
            {
                "estimator": self.estimator,
                "converged": self.converged,
                "ntotal": self.ntotal,
                "groups": [str(g) for g in self.group_labels],
                "fit_measures": self.fit_measures,
                "estimates": self.estimates,
                "r2": self.r2,
                "diagnostics": self.diagnostics,
            }
        )


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------


def _rule_estimator(data: pd.DataFrame, model: str, *, missing: str, ordered, polychoric) -> str:
    """``estimator=None``: the documented rule (ordered items -> WLSMV), FIML and ``ordered`` respected."""
    from allyscale.estimator_rule import default_estimator

    if ordered or polychoric is not None:
        return "WLSMV"
    if missing == "fiml":
        return "ML"
    if not isinstance(data, pd.DataFrame) or not isinstance(model, str) or not model.strip():
        return "ML"  # _prepare reports the bad input
    ov = [v for v in _partable(model, copy=False).attrs["observed"] if v in data.columns]
    if not ov or any(not pd.api.types.is_numeric_dtype(data[v]) for v in ov):
        return "ML"
    return default_estimator(data, ov)


def _fit_indices(
    data: pd.DataFrame, model: str, *, estimator: str, robust: bool = True, **options
) -> tuple[bool, dict[str, float]]:
    """``(converged, fit measures)`` of :func:`cfa` without the result object: for simulations
    that use the fit indices only (``dfi``). The measures are those of :func:`cfa`; with
    ``robust=False`` WLSMV's ``.robust`` indices are NaN (their catML pieces are skipped).
    No estimates table, standardized solution or Heywood check is built. The measures are
    NaN when the estimation did not converge, as in :func:`cfa`."""
    prep = _prepare(
        data,
        model,
        estimator=estimator,
        group=options.pop("group", None),
        group_equal=options.pop("group_equal", None),
        missing=options.pop("missing", "listwise"),
        ordered=options.pop("ordered", None),
        std_lv=options.pop("std_lv", False),
        meanstructure=options.pop("meanstructure", None),
        id_cat=options.pop("id_cat", "lavaan"),
    )
    if options:
        raise SpecificationError(f"unknown option(s): {', '.join(options)}")
    prep = replace(prep, fit_only=not robust)
    est = _ESTIMATORS[prep.estimator](prep)
    if est.prepared is not None:
        prep = est.prepared
    fm = _fit_measures(prep, est, prep.spec.implied(est.x))
    if not est.converged:
        fm = {k: (v if k in ("npar", "ntotal") else np.nan) for k, v in fm.items()}
    return bool(est.converged), fm


def _given_polychoric(prep: _Prepared, poly) -> dict[str, Any]:
    """The WLS sample statistics of ``cfa(polychoric=)``, checked against the prepared input."""
    from allyscale._core import wlsmv as _wlsmv
    from allyscale.polychoric import PolychoricResult

    if not isinstance(poly, PolychoricResult):
        raise SpecificationError(f"polychoric must be a PolychoricResult, got {type(poly).__name__}")
    if prep.estimator != "WLSMV":
        raise SpecificationError(f"polychoric= gives WLSMV sample statistics; estimator is {prep.estimator!r}")
    if prep.ngroups > 1:
        raise SpecificationError("polychoric= holds one group's statistics; it cannot be used with group=")
    ordered = list(prep.ov)  # WLSMV treats every indicator as ordered (in the model's item order)
    have = list(poly.items)
    if set(have) != set(ordered):
        extra = [i for i in have if i not in ordered]
        lacking = [i for i in ordered if i not in have]
        raise SpecificationError(
            "the polychoric result's items do not match the model's ordered items"
            + (f"; not in the model: {extra}" if extra else "")
            + (f"; not in the polychoric result: {lacking}" if lacking else "")
            + " (use PolychoricResult.subset(items))"
        )
    if have != ordered:
        poly = poly.subset(ordered)
    if "finished" not in poly._cache:
        poly._cache["finished"] = _wlsmv.finish_statistics(poly._influence_stats())
    stats = poly._cache["finished"]
    n = prep.y[0].shape[0]
    if stats["n"] != n:
        raise SpecificationError(
            f"the polychoric result was computed on {stats['n']} cases but the model is "
            f"fitted to {n} (after {prep.missing} deletion)"
        )
    return stats


# --------------------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------------------
COMPARE_COLUMNS = [
    "npar",
    "chisq",
    "df",
    "pvalue",
    "chisq.scaled",
    "pvalue.scaled",
    "cfi",
    "tli",
    "rmsea",
    "rmsea.ci.lower",
    "rmsea.ci.upper",
    "srmr",
    "cfi.scaled",
    "tli.scaled",
    "rmsea.scaled",
    "cfi.robust",
    "tli.robust",
    "rmsea.robust",
    "aic",
    "bic",
]


def difference_test(fit0: CFAResult, fit1: CFAResult) -> dict[str, float]:
    """Chi-square difference test of the more restricted ``fit0`` (larger df) against ``fit1``.

    ML: the likelihood-ratio test ``chisq0 - chisq1`` on ``df0 - df1``. MLR: the
    Satorra-Bentler (2001) scaled difference, lavTestLRT's default for scaled tests
    (``method = "satorra.bentler.2001"``): ``cd = (df0 c0 - df1 c1) / (df0 - df1)``,
    ``T = (chisq0 - chisq1) / cd`` with the unscaled statistics and Yuan-Bentler factors.
    A negative ``cd`` gives NaN (as lavaan, which warns). An estimator that defines its own
    difference test supplies ``_Estimation.extra["difference_test"]`` handling in this function.
    """
    f0, f1 = fit0.fit_measures, fit1.fit_measures
    ddf = f0["df"] - f1["df"]
    dchi = f0["chisq"] - f1["chisq"]
    out = {"chisq_diff": dchi, "df_diff": ddf, "pvalue": np.nan, "scaling": np.nan}
    if ddf <= 0:
        return out
    est = fit0.estimator
    if est == "ML":
        out["pvalue"] = float(chi2.sf(dchi, ddf))
    elif est == "MLR":
        c0, c1 = f0.get("chisq.scaling.factor", np.nan), f1.get("chisq.scaling.factor", np.nan)
        if f1["df"] == 0:
            c1 = 1.0
        cd = (f0["df"] * c0 - f1["df"] * c1) / ddf
        out["scaling"] = cd
        if cd > 0:
            out["chisq_diff"] = dchi / cd
            out["pvalue"] = float(chi2.sf(dchi / cd, ddf))
        else:
            out["chisq_diff"] = np.nan
    else:
        if est != "WLSMV":
            raise SpecificationError(f"no difference test for estimator {est!r}")
        from allyscale._core import wlsmv

        return wlsmv.difference_test(fit0, fit1)
    return out
