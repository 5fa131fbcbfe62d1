"""One replication: simulate a sample, fit the models, run retention and reliability."""

from __future__ import annotations

import importlib
import math
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

from allyscale.errors import AllyscaleError, SpecificationError
from allyscale.montecarlo.spec import FIT_MEASURES, StudySpec, _load_pool_cached, load_study


def _cfa_function():
    try:
        module = importlib.import_module("allyscale.cfa")
    except ModuleNotFoundError:
        raise SpecificationError(
            "this study fits CFA models but allyscale.cfa is not available in this "
            "installation; remove analysis.models or install a version with cfa()"
        ) from None
    return module.cfa


def _reliability_function():
    try:
        module = importlib.import_module("allyscale.reliability")
    except ModuleNotFoundError:
        raise SpecificationError(
            "analysis.reliability is true but allyscale.reliability is not available in this installation"
        ) from None
    return module.reliability


def replication_seed(seed: int, condition: int, rep: int) -> np.random.SeedSequence:
    """The seed sequence of one replication: a function of (seed, condition, rep) alone."""
    return np.random.SeedSequence(seed, spawn_key=(condition, rep))


def _scalar(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    return x


def _column(col: pd.Series) -> list:
    """A column as JSON values, as :func:`_scalar` gives them (non-finite numbers to None), at once."""
    if col.dtype.kind == "f":
        v = col.to_numpy()
        out = v.astype(object)
        out[~np.isfinite(v)] = None
        return out.tolist()
    return [_scalar(x) for x in col.tolist()]


def _fit_model(cfa, data: pd.DataFrame, syntax: str, estimator: str, options: dict) -> tuple[dict, Any]:
    t0 = time.perf_counter()
    rec: dict[str, Any] = {"converged": False, "proper": None, "error": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = cfa(data, syntax, estimator=estimator, **{"std_lv": True, **options})
        except (AllyscaleError, np.linalg.LinAlgError, ValueError, FloatingPointError, ArithmeticError) as exc:
            rec["error"] = f"{type(exc).__name__}: {exc}"
            rec["seconds"] = time.perf_counter() - t0
            return rec, None
    rec["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})[:5]
    rec["converged"] = bool(getattr(res, "converged", False))
    fm = res.fit_measures
    fm = dict(fm.items()) if hasattr(fm, "items") else dict(fm)
    rec["measures"] = {k: _scalar(fm.get(k)) for k in FIT_MEASURES if k in fm}
    est = res.estimates
    cols = [c for c in ("lhs", "op", "rhs", "est", "se", "pvalue", "std_all") if c in est.columns]
    rows = est[cols]
    rec["estimates"] = [dict(zip(cols, r)) for r in zip(*(_column(rows[c]) for c in cols))]
    diag = getattr(res, "diagnostics", {}) or {}
    rec["proper"] = _proper(rows) and not diag.get("heywood") and not diag.get("nonpd_latent")
    if diag.get("heywood"):
        rec["heywood"] = [str(v) for v in diag["heywood"]]
    rec["seconds"] = time.perf_counter() - t0
    return rec, res


def _nested_tests(spec: StudySpec, results: dict[str, Any]) -> list[dict]:
    """Difference tests of the nested pairs of converged fits (the fit policy's nesting: the pool's
    structures by their known nesting, other models by the nesting-and-equivalence test)."""
    from allyscale.cfa import difference_test
    from allyscale.comparison import nested_pairs

    ok = {k: r for k, r in results.items() if r is not None and r.converged}
    if len(ok) < 2:
        return []
    pool = _load_pool_cached(spec.pool) if spec.pool is not None else None
    rows = []
    for a, b in sorted(nested_pairs(ok, {k: spec.models[k] for k in ok}, pool)):
        try:
            d = difference_test(ok[a], ok[b])
        except (AllyscaleError, np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
            rows.append({"model0": a, "model1": b, "error": f"{type(exc).__name__}: {exc}"})
            continue
        rows.append({"model0": a, "model1": b, **{k: _scalar(d.get(k)) for k in ("chisq_diff", "df_diff", "pvalue")}})
    return rows


#: the invariance level a population change violates first (for ordered items, Wu & Estabrook's sequence:
#: a uniform shift of an item's thresholds is absorbed by its intercept until intercepts are held equal)
_VIOLATED_BY = {"threshold_shift": "scalar"}


def _invariance(spec: StudySpec, data: pd.DataFrame) -> list[dict]:
    """Each invariance level's decision by the fit policy (``allyscale.invariance``)."""
    from allyscale.invariance import invariance

    violated = {_VIOLATED_BY[k] for ch in spec.groups["changes"].values() for k, v in ch.items() if v}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = invariance(
                data, spec.models[spec.true_model], group=spec.groups["variable"], estimator=spec.estimator
            )
    except (AllyscaleError, np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        return [{"level": None, "error": f"{type(exc).__name__}: {exc}"}]
    tests = res.tests.set_index("level") if len(res.tests) else pd.DataFrame()
    rows = []
    for i, level in enumerate(res.table.index):
        if i == 0 or "(partial)" in str(level):
            continue  # the configural baseline is not a decision
        t = tests.loc[level] if level in tests.index else pd.Series(dtype=object)  # not tested after a failure
        rows.append(
            {
                "level": str(level),
                "held": None if t.get("held") is None or pd.isna(t.get("held")) else bool(t["held"]),
                "pvalue": _scalar(t.get("pvalue")),
                "chisq_diff": _scalar(t.get("chisq_diff")),
                "df_diff": _scalar(t.get("df_diff")),
                "delta_cfi": _scalar(t.get("delta_cfi")),
                "delta_rmsea": _scalar(t.get("delta_rmsea")),
                "population_noninvariant": str(level) in violated,
            }
        )
    return rows


def _proper(est: pd.DataFrame) -> bool:
    """No Heywood case: no negative variance estimate and no standardized loading beyond ±1."""
    var = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"])]
    if (pd.to_numeric(var["est"], errors="coerce") < 0).any():
        return False
    if "std_all" in est.columns:
        lam = pd.to_numeric(est.loc[est["op"] == "=~", "std_all"], errors="coerce")
        if (lam.abs() > 1).any():
            return False
    return True


def replicate(spec: StudySpec | dict, condition: int, rep: int) -> dict:
    """Run one replication (pure: its result depends on (spec, condition, rep) only).

    Returns a JSON-serialisable payload with the per-model fits, the retention
    decisions, reliability, timing and any error. Analysis failures are recorded in the
    payload, never raised, so a failed replication is stored as such.
    """
    from threadpoolctl import threadpool_limits

    # BLAS threading makes these small problems many times slower (and the result is the same)
    with threadpool_limits(1):
        return _replicate(spec, condition, rep)


def _replicate(spec: StudySpec | dict, condition: int, rep: int) -> dict:
    from allyscale.simulate import simulate

    if isinstance(spec, dict):
        spec = load_study(spec)
    t0 = time.perf_counter()
    cond = spec.condition_list[condition]
    ss = replication_seed(spec.seed, condition, rep)
    data_seq, pa_seq = ss.spawn(2)
    out: dict[str, Any] = {
        "condition": condition,
        "rep": rep,
        "fits": {},
        "retention": {},
        "reliability": [],
        "error": None,
    }
    try:
        if spec.groups is None:
            pm = spec.population_model(cond)
            data = simulate(pm, int(cond["n"]), rng=np.random.default_rng(data_seq))
        else:  # every group from its own population, one stream each
            from allyscale.montecarlo.spec import group_populations

            parts = []
            streams = data_seq.spawn(len(spec.groups["levels"]))
            for (level, size, gpm), seq in zip(group_populations(spec, cond), streams):
                part = simulate(gpm, size, rng=np.random.default_rng(seq))
                part[spec.groups["variable"]] = level
                parts.append(part)
            data = pd.concat(parts, ignore_index=True)
        if spec.pool is not None:
            from allyscale.scoring import reverse_score

            data = reverse_score(data, _load_pool_cached(spec.pool))
    except AllyscaleError as exc:
        out["error"] = f"simulation: {type(exc).__name__}: {exc}"
        out["seconds"] = time.perf_counter() - t0
        return out
    timing = {"simulate": time.perf_counter() - t0}
    t1 = time.perf_counter()
    items = data.drop(columns=[spec.groups["variable"]]) if spec.groups is not None else data
    for rule in spec.retention:
        from allyscale import retention

        try:
            if rule == "parallel":
                pa_seed = int(pa_seq.generate_state(1)[0])
                out["retention"]["parallel"] = int(
                    retention.parallel_analysis(
                        items, seed=pa_seed, corr=spec.retention_corr, n_iter=spec.parallel_iter
                    ).n_factors
                )
            else:
                out["retention"]["map"] = int(retention.map_test(items, corr=spec.retention_corr).n_factors)
        except (AllyscaleError, np.linalg.LinAlgError, ValueError) as exc:
            out["retention"][rule] = None
            out.setdefault("retention_errors", {})[rule] = f"{type(exc).__name__}: {exc}"
    timing["retention"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    true_fit = None
    if spec.models:
        cfa = _cfa_function()
        results = {}
        for name, syntax in spec.models.items():
            out["fits"][name], res = _fit_model(cfa, data, syntax, spec.estimator, spec.fit_options)
            results[name] = res
            if name == spec.true_model:
                true_fit = res
        out["tests"] = _nested_tests(spec, results)
    timing["fits"] = time.perf_counter() - t1
    if spec.invariance:
        t1 = time.perf_counter()
        out["invariance"] = _invariance(spec, data)
        timing["invariance"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    if spec.reliability:
        rel = _reliability_function()
        if true_fit is None or not out["fits"][spec.true_model]["converged"]:
            out["reliability_error"] = "the true model did not converge; no reliability computed"
        else:
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    table = rel(data, spec.models[spec.true_model], estimator=spec.estimator, fit=true_fit).table
                if caught:
                    out["reliability_warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})[:5]
                table = table.rename_axis("factor").reset_index()
                out["reliability"] = [{str(k): _scalar(v) for k, v in row.items()} for row in table.to_dict("records")]
            except (AllyscaleError, np.linalg.LinAlgError, ValueError) as exc:
                out["reliability_error"] = f"{type(exc).__name__}: {exc}"
    timing["reliability"] = time.perf_counter() - t1
    out["timing"] = timing
    out["seconds"] = time.perf_counter() - t0
    return out
