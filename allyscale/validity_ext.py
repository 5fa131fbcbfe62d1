"""Validity beyond structure: other measures, known groups, incremental validity, test–retest.

* :func:`latent_correlations` — convergent and discriminant correlations of the scale's
  factors with external measures in one CFA (external measures given by their items, each
  with its own factor, as lavaan would fit them), plus disattenuated correlations with
  external measures given as observed scores, and a table of pre-registered expectations
  marked met or not.
* :func:`known_groups` — observed-score group differences with Hedges' g and its exact
  (noncentral-t) interval; latent mean differences only when scalar invariance holds.
* :func:`incremental_validity` — hierarchical OLS regression: ΔR² with its F test and
  standardized coefficients with t intervals (as ``statsmodels`` OLS on z-scores).
* :func:`test_retest` — ICC(2,1)/ICC(3,1) per scale (:func:`allyscale.reliability.icc`),
  the standard error of measurement and the reliable change index (Jacobson & Truax, 1991).

Every result implements :class:`allyscale.results.Result` (``summary()`` as text, HTML and LaTeX with user
text escaped by one printer, ``to_frame()``, ``to_dict()``); warnings are named (:mod:`allyscale.errors`) and
recorded in ``diagnostics``.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from allyscale.errors import DataError, DataWarning, SpecificationError, StatisticalWarning
from allyscale.results import Result, Summary, jsonable
from allyscale.scoring import reverse_score

if TYPE_CHECKING:  # pragma: no cover
    from allyscale.cfa import CFAResult
    from allyscale.pool import ItemPool

__all__ = [
    "latent_correlations",
    "LatentCorrelationResult",
    "incremental_validity",
    "IncrementalValidityResult",
    "known_groups",
    "KnownGroupsResult",
    "hedges_g",
    "test_retest",
    "TestRetestResult",
]


# --------------------------------------------------------------------------- helpers
def _mod(name: str):
    """A submodule, imported on first use."""
    import importlib

    return importlib.import_module(name)


class _Tables(Result):
    """Shared summary of the result classes below: a title, named tables and notes."""

    _title: str = ""

    def _tables(self) -> dict[str, pd.DataFrame]:  # pragma: no cover - overridden
        return {}

    def _notes(self) -> list[str]:
        return [str(n) for n in self.diagnostics.get("notes", [])]  # type: ignore[attr-defined]

    def summary(self) -> Summary:
        """The title, every non-empty table (4 decimals) and the notes."""
        out = Summary(self._title)
        for name, tab in self._tables().items():
            if tab is not None and len(tab):
                out.table(tab, title=name, digits=4)
        return out.text(*(f"note: {n}" for n in self._notes()))


def _check_columns(data: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    for c in cols:
        if c not in data.columns:
            raise DataError(f"{what} {c!r} is not a column of the data")
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise DataError(f"{what} {c!r} is not numeric (dtype {data[c].dtype})")


def _scales(model: str | None, pool: ItemPool | None) -> dict[str, list[str]]:
    if model is not None:
        return _mod("allyscale.reliability")._factor_items(model)
    if pool is not None:
        return pool.factor_items()
    raise SpecificationError("give a model or a pool to define the scales")


def _scale_scores(data: pd.DataFrame, scales: Mapping[str, list[str]], pool: ItemPool | None) -> pd.DataFrame:
    """Available-item means of each scale's items (reverse-keyed items of ``pool`` reversed first)."""
    items = list(dict.fromkeys(i for its in scales.values() for i in its))
    _check_columns(data, items, "item")
    x = data[items].astype(float)
    if pool is not None:
        x = reverse_score(x, pool, present_only=True)
    return pd.DataFrame({s: x[list(its)].mean(axis=1) for s, its in scales.items()}, index=data.index)


def _zq(level: float) -> float:
    if not 0 < level < 1:
        raise SpecificationError(f"level must be between 0 and 1, got {level}")
    return float(stats.norm.ppf(1 - (1 - level) / 2))


def _raw_alpha(x: pd.DataFrame) -> float:
    """Cronbach's (1951) alpha from the pairwise covariance matrix (psych's raw alpha)."""
    c = x.cov().to_numpy()
    k = c.shape[0]
    if k < 2:
        return float("nan")
    return float(k / (k - 1) * (1 - np.trace(c) / c.sum()))


def _delta_se(fit: CFAResult, params: Sequence[tuple[str, str, str, int]], grad: Sequence[float]) -> float:
    """Delta-method standard error of a function of free parameters (Rao, 1973, 6a.2).

    ``params`` are ``(lhs, op, rhs, group)`` rows of the fitted parameter table and ``grad``
    the function's partial derivatives with respect to them; fixed parameters contribute
    nothing. The covariance matrix is the fit's (robust, for WLSMV/MLR) ``vcov``, as
    lavaan's ``standardizedSolution`` uses.
    """
    vcov = fit._est.vcov
    if vcov is None:
        return float("nan")
    pt = fit._prep.partable
    g = np.zeros(vcov.shape[0])
    for (lhs, op, rhs, grp), dv in zip(params, grad):
        hit = pt[(pt["lhs"] == lhs) & (pt["op"] == op) & (pt["rhs"] == rhs) & (pt["group"] == grp)]
        if hit.empty:
            hit = pt[(pt["lhs"] == rhs) & (pt["op"] == op) & (pt["rhs"] == lhs) & (pt["group"] == grp)]
        if hit.empty:
            raise SpecificationError(f"no parameter {lhs} {op} {rhs} (group {grp}) in the fitted model")
        free = int(hit["free"].iloc[0])
        if free > 0:
            g[free - 1] += float(dv)
    var = float(g @ vcov @ g)
    return math.sqrt(var) if var >= 0 else float("nan")


# --------------------------------------------------------------------------- expectations
_EXPECT = re.compile(r"^\s*(\|r\|)?\s*(<=|>=|<|>)\s*([+-]?(?:\d+\.?\d*|\.\d+))\s*$")
_OPS = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}


def _parse_expectation(key: Any, text: Any) -> tuple[bool, str, float]:
    m = _EXPECT.match(str(text))
    if m is None:
        raise SpecificationError(f"expectation {text!r} for {key!r} is not of the form '> .50', '< .30' or '|r| < .30'")
    return bool(m.group(1)), m.group(2), float(m.group(3))


def _holds(absolute: bool, op: str, bound: float, value: float) -> bool:
    v = abs(value) if absolute else value
    return bool(_OPS[op](v, bound))


# --------------------------------------------------------------------------- latent correlations
@dataclass(frozen=True)
class LatentCorrelationResult(_Tables):
    """Convergent and discriminant correlations of the scale's factors with external measures.

    Attributes
    ----------
    correlations : DataFrame
        One row per scale factor × external measure: ``factor, external, kind`` (``"latent"``:
        the external measure is a factor of its items in the joint CFA; ``"observed"``: an
        observed score), ``r`` (latent correlation, or for observed scores the
        disattenuated correlation), ``se, z, pvalue, ci_lower, ci_upper``, and for observed
        scores ``r_observed`` with its Fisher-z interval, ``reliability_scale`` (alpha of
        the scale's items), ``reliability_external`` and ``n``.
    factor_correlations : DataFrame
        Every latent correlation of the joint model (``lhs, rhs, r, se, z, pvalue,
        ci_lower, ci_upper``), or empty without item-level external measures.
    expectations : DataFrame
        ``factor, external, expected, r, ci_lower, ci_upper, met, ci_supports``: ``met``
        when the estimate satisfies the expectation, ``ci_supports`` when the whole interval
        does.
    fit : CFAResult or None
        The joint CFA (``std_lv=True``).
    estimator : str
    diagnostics : dict
    """

    correlations: pd.DataFrame
    factor_correlations: pd.DataFrame
    expectations: pd.DataFrame
    fit: CFAResult | None
    estimator: str
    level: float
    diagnostics: dict = field(default_factory=dict)

    @property
    def _title(self) -> str:  # type: ignore[override]
        return f"Convergent and discriminant correlations ({self.estimator}, {self.level:.0%} intervals)"

    def _tables(self) -> dict[str, pd.DataFrame]:
        return {"Correlations with external measures": self.correlations, "Expected patterns": self.expectations}

    def to_frame(self) -> pd.DataFrame:
        """The correlations with the external measures (one row per factor × external measure)."""
        return self.correlations

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "correlations": self.correlations.to_dict("records"),
                "factor_correlations": self.factor_correlations.to_dict("records"),
                "expectations": self.expectations.to_dict("records"),
                "estimator": self.estimator,
                "level": self.level,
                "fit_measures": None if self.fit is None else self.fit.fit_measures,
                "diagnostics": self.diagnostics,
            }
        )


def latent_correlations(
    data: pd.DataFrame,
    model: str,
    external: Mapping[str, Sequence[str] | str],
    *,
    expect: Mapping[Any, str] | None = None,
    estimator: str | None = None,
    reliability: Mapping[str, float] | None = None,
    pool: ItemPool | None = None,
    level: float = 0.95,
) -> LatentCorrelationResult:
    """Latent convergent / discriminant correlations of the scale's factors with external measures.

    External measures given by their items (``external={"arbi": ["x1", "x2", "x3"]}``) get
    their own factor ``arbi =~ x1 + x2 + x3`` in one CFA with ``model``, fitted with unit
    factor variances (lavaan's ``std.lv = TRUE``) by allyscale's estimator rule
    (:func:`allyscale.fitpolicy.default_estimator`: ordered items → WLSMV, else ML) on all
    items of the joint model, so the latent covariances are the correlations and their
    intervals are lavaan's Wald ``est ± z se`` (``parameterEstimates``).

    External measures given as an observed score (``external={"sds": "sds_total"}``) are
    correlated with each scale's available-item mean score (Pearson, complete pairs,
    Fisher-z interval), and the correlation is disattenuated for unreliability,
    ``r / sqrt(r_xx r_yy)`` (Spearman, 1904), with ``r_xx`` the raw coefficient alpha of
    the scale's items (Cronbach, 1951) and ``r_yy`` the external score's reliability from
    ``reliability`` (1, i.e. no correction of the external side, when not given). The
    interval's bounds are corrected by the same factor (Hunter & Schmidt, 2004, ch. 3).

    Parameters
    ----------
    data : DataFrame
        Item responses and external measures; not modified.
    model : str
        lavaan syntax of the scale's measurement model (``=~`` lines).
    external : mapping
        External measure name → its items (a list: a factor) or a column (a str: an
        observed score).
    expect : mapping, optional
        Expected pattern per external measure (applies to every factor of ``model``) or per
        ``"factor ~~ external"`` / ``(factor, external)``: ``"> .50"``, ``"< .30"``,
        ``">= .4"``, ``"|r| < .30"``.
    estimator : {"ML", "MLR", "WLSMV"}, optional
        Default: allyscale's estimator rule on the joint model's items.
    reliability : mapping, optional
        Reliability of each observed external score (e.g. its published alpha).
    pool : ItemPool, optional
        Reverse-keys the scale's items for the observed-score correlations.
    level : float
        Confidence level.

    Returns
    -------
    LatentCorrelationResult

    Raises
    ------
    DataError
        An item or external column is missing or not numeric; fewer than four complete rows.
    SpecificationError
        An external name that is already a factor of ``model``; an external measure with
        fewer than two items (one item gives no factor); a malformed or unknown expectation.

    References
    ----------
    Campbell, D. T., & Fiske, D. W. (1959). Convergent and discriminant validation by the
    multitrait-multimethod matrix. Psychological Bulletin, 56, 81-105.
    Spearman, C. (1904). The proof and measurement of association between two things.
    American Journal of Psychology, 15, 72-101.
    Hunter, J. E., & Schmidt, F. L. (2004). Methods of meta-analysis (2nd ed.). Sage.
    Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. Journal of
    Statistical Software, 48(2), 1-36.

    Examples
    --------
    >>> res = al.latent_correlations(data, model, {"arbi": ["x1", "x2", "x3"], "sds": "sds_total"},
    ...                              expect={"arbi": "> .50", "sds": "|r| < .30"})  # doctest: +SKIP
    >>> res.expectations[["factor", "external", "expected", "r", "met"]]  # doctest: +SKIP
    """
    zq = _zq(level)
    scales = _scales(model, None)
    if not scales:
        raise SpecificationError("the model defines no factors (no '=~' lines)")
    if not isinstance(external, Mapping) or not external:
        raise SpecificationError("external must be a non-empty mapping: name -> items (list) or column (str)")
    reliability = dict(reliability or {})
    latent_ext: dict[str, list[str]] = {}
    observed_ext: dict[str, str] = {}
    for name, spec in external.items():
        if name in scales:
            raise SpecificationError(f"external measure {name!r} has the name of a factor of the model")
        if isinstance(spec, str):
            _check_columns(data, [spec], f"external measure {name!r}: column")
            observed_ext[name] = spec
        else:
            its = list(spec)
            if len(its) < 2:
                raise SpecificationError(
                    f"external measure {name!r} has {len(its)} item(s); give at least two "
                    "items for a factor, or its score as a column name (a str)"
                )
            _check_columns(data, its, f"external measure {name!r}: item")
            clash = [i for i in its if any(i in s for s in scales.values())]
            if clash:
                raise SpecificationError(f"external measure {name!r} uses the scale's item(s) {clash}")
            latent_ext[name] = its
    for name in reliability:
        if name not in observed_ext:
            raise SpecificationError(
                f"reliability given for {name!r}, which is not an observed-score external "
                f"measure ({sorted(observed_ext)})"
            )
        if not 0 < float(reliability[name]) <= 1:
            raise SpecificationError(f"reliability of {name!r} must be in (0, 1], got {reliability[name]}")
    diag: dict[str, Any] = {"notes": []}
    rows: list[dict[str, Any]] = []
    fit = None
    fcor = pd.DataFrame(columns=["lhs", "rhs", "r", "se", "z", "pvalue", "ci_lower", "ci_upper"])
    est_name = "observed"
    if latent_ext:
        validity = _mod("allyscale.validity")
        from allyscale.fitpolicy import resolve_estimator

        joint = model.rstrip() + "\n" + "\n".join(f"{f} =~ {' + '.join(its)}" for f, its in latent_ext.items())
        chosen = estimator is None
        est_name = resolve_estimator(estimator, data, joint)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = validity._fit(data, joint, est_name, None, std_lv=True)
            fcor = validity.factor_correlations(fit=fit, level=level)
        for w in caught:
            warnings.warn(w.message, w.category, stacklevel=2)
            diag.setdefault("warnings", []).append(f"{w.category.__name__}: {w.message}")
        diag.update(
            {"converged": bool(fit.converged), "estimator_rule": chosen, "model": joint, "ntotal": int(fit.ntotal)}
        )
        est_name = fit.estimator
        for f in scales:
            for e in latent_ext:
                hit = fcor[((fcor["lhs"] == f) & (fcor["rhs"] == e)) | ((fcor["lhs"] == e) & (fcor["rhs"] == f))]
                if hit.empty:
                    raise SpecificationError(
                        f"the model fixes the covariance of {f!r} and {e!r}; no correlation to report"
                    )
                h = hit.iloc[0]
                rows.append(
                    {
                        "factor": f,
                        "external": e,
                        "kind": "latent",
                        "r": h["r"],
                        "se": h["se"],
                        "z": h["z"],
                        "pvalue": h["pvalue"],
                        "ci_lower": h["ci_lower"],
                        "ci_upper": h["ci_upper"],
                        "n": int(fit.ntotal),
                    }
                )
    if observed_ext:
        scores = _scale_scores(data, scales, pool)
        x = data[list(dict.fromkeys(i for its in scales.values() for i in its))].astype(float)
        for f, its in scales.items():
            for e, col in observed_ext.items():
                pair = pd.concat([scores[f], data[col].astype(float)], axis=1).dropna()
                n = len(pair)
                if n < 4:
                    raise DataError(f"fewer than four complete rows for scale {f!r} and {col!r}")
                r = float(np.corrcoef(pair.to_numpy().T)[0, 1])
                rxx = _raw_alpha(x.loc[pair.index, its])
                ryy = float(reliability.get(e, 1.0))
                c = math.sqrt(rxx * ryy) if rxx > 0 else float("nan")
                zr, se_z = math.atanh(max(min(r, 1 - 1e-15), -1 + 1e-15)), 1 / math.sqrt(n - 3)
                lo, hi = math.tanh(zr - zq * se_z), math.tanh(zr + zq * se_z)
                t = r * math.sqrt((n - 2) / max(1 - r * r, 1e-300))
                rc = r / c
                if abs(rc) > 1:
                    msg = (
                        f"the disattenuated correlation of {f!r} with {e!r} is {rc:.3f}, beyond ±1 "
                        "(a reliability is underestimated or the measures are not distinct)"
                    )
                    warnings.warn(msg, StatisticalWarning, stacklevel=2)
                    diag["notes"].append(msg)
                rows.append(
                    {
                        "factor": f,
                        "external": e,
                        "kind": "observed",
                        "r": rc,
                        "se": np.nan,
                        "z": np.nan,
                        "pvalue": float(2 * stats.t.sf(abs(t), n - 2)),
                        "ci_lower": lo / c,
                        "ci_upper": hi / c,
                        "n": n,
                        "r_observed": r,
                        "r_observed_lower": lo,
                        "r_observed_upper": hi,
                        "reliability_scale": rxx,
                        "reliability_external": ryy,
                    }
                )
            for e in observed_ext:
                if e not in reliability:
                    note = (
                        f"no reliability given for the observed score {e!r}: its correlations are "
                        "disattenuated for the scale's unreliability only"
                    )
                    if note not in diag["notes"]:
                        diag["notes"].append(note)
    corr = pd.DataFrame(rows)
    # expectations
    ext_names = list(external)
    exp_rows = []
    for key, text in (expect or {}).items():
        absolute, op, bound = _parse_expectation(key, text)
        if isinstance(key, tuple):
            pairs = [tuple(key)]
        elif isinstance(key, str) and "~~" in key:
            pairs = [tuple(p.strip() for p in key.split("~~", 1))]
        else:
            pairs = [(f, key) for f in scales]
        for f, e in pairs:
            if f not in scales or e not in ext_names:
                raise SpecificationError(
                    f"expectation {key!r}: {e!r} is not an external measure "
                    f"({ext_names}) or {f!r} not a factor ({list(scales)})"
                )
            row = corr[(corr["factor"] == f) & (corr["external"] == e)].iloc[0]
            lo, hi = float(row["ci_lower"]), float(row["ci_upper"])
            if absolute:
                inside = lo <= 0 <= hi
                far = max(abs(lo), abs(hi))
                near = 0.0 if inside else min(abs(lo), abs(hi))
                ci_ok = all(_OPS[op](v, bound) for v in (near, far))
            else:
                ci_ok = all(_OPS[op](v, bound) for v in (lo, hi))
            exp_rows.append(
                {
                    "factor": f,
                    "external": e,
                    "expected": str(text).strip(),
                    "r": float(row["r"]),
                    "ci_lower": lo,
                    "ci_upper": hi,
                    "met": _holds(absolute, op, bound, float(row["r"])),
                    "ci_supports": bool(ci_ok),
                }
            )
    expectations = pd.DataFrame(
        exp_rows, columns=["factor", "external", "expected", "r", "ci_lower", "ci_upper", "met", "ci_supports"]
    )
    return LatentCorrelationResult(
        correlations=corr,
        factor_correlations=fcor.reset_index(drop=True),
        expectations=expectations,
        fit=fit,
        estimator=est_name,
        level=level,
        diagnostics=diag,
    )


# --------------------------------------------------------------------------- incremental validity
def _ols(y: np.ndarray, x: np.ndarray) -> dict[str, Any]:
    """OLS with an intercept: coefficients, classical SEs, R², F test (as statsmodels ``OLS(...).fit()``)."""
    n = len(y)
    xd = np.column_stack([np.ones(n), x])
    coef, *_ = np.linalg.lstsq(xd, y, rcond=None)
    resid = y - xd @ coef
    k = xd.shape[1] - 1
    df_resid = n - k - 1
    ssr = float(resid @ resid)
    tss = float(((y - y.mean()) ** 2).sum())
    s2 = ssr / df_resid
    cov = s2 * np.linalg.inv(xd.T @ xd)
    r2 = 1 - ssr / tss
    f = (r2 / k) / ((1 - r2) / df_resid) if k else float("nan")
    return {
        "coef": coef,
        "se": np.sqrt(np.diag(cov)),
        "df_resid": df_resid,
        "k": k,
        "r2": r2,
        "ssr": ssr,
        "adj_r2": 1 - (1 - r2) * (n - 1) / df_resid,
        "F": f,
        "F_pvalue": float(stats.f.sf(f, k, df_resid)) if k else float("nan"),
    }


@dataclass(frozen=True)
class IncrementalValidityResult(_Tables):
    """Hierarchical regression of an outcome on baseline measures, then the added ones.

    Attributes
    ----------
    steps : DataFrame
        Index ``baseline``, ``full``: ``k, r2, adj_r2, F, df1, df2, pvalue``, and for ``full``
        ``delta_r2, F_change, df1_change, df2_change, p_change``.
    coefficients : DataFrame
        Per step and predictor: ``b, se`` (raw) and ``beta, beta_se, t, pvalue, ci_lower,
        ci_upper`` (standardized: all variables z-scored with their N - 1 SDs).
    n : int
    diagnostics : dict
    """

    steps: pd.DataFrame
    coefficients: pd.DataFrame
    outcome: str
    n: int
    level: float
    diagnostics: dict = field(default_factory=dict)
    kind: str = "observed"
    fit: Any = None
    difference_test: dict | None = None

    @property
    def _title(self) -> str:  # type: ignore[override]
        s = self.steps.loc["full"]
        if self.kind == "latent":
            t = self.difference_test or {}
            return (
                f"Incremental validity for {self.outcome} (latent, {self.fit.estimator}): N = {self.n}, "
                f"delta R2 = {s['delta_r2']:.3f}, chi2 difference({int(t.get('df_diff', 0))}) = "
                f"{t.get('chisq_diff', float('nan')):.2f}, p = {t.get('pvalue', float('nan')):.3g}"
            )
        return (
            f"Incremental validity for {self.outcome}: N = {self.n}, delta R2 = {s['delta_r2']:.3f}, "
            f"F({int(s['df1_change'])}, {int(s['df2_change'])}) = {s['F_change']:.2f}, p = {s['p_change']:.3g}"
        )

    @property
    def delta_r2(self) -> float:
        return float(self.steps.loc["full", "delta_r2"])

    def _tables(self) -> dict[str, pd.DataFrame]:
        return {"Steps": self.steps, "Coefficients": self.coefficients}

    def to_frame(self) -> pd.DataFrame:
        """The two steps (index ``baseline``, ``full``) with R², ΔR² and their tests."""
        return self.steps

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "outcome": self.outcome,
                "kind": self.kind,
                "n": self.n,
                "level": self.level,
                "steps": self.steps.to_dict("index"),
                "coefficients": self.coefficients.to_dict("records"),
                "difference_test": self.difference_test,
                "fit_measures": None if self.fit is None else self.fit.fit_measures,
                "diagnostics": self.diagnostics,
            }
        )


def incremental_validity(
    data: pd.DataFrame,
    *,
    outcome: str,
    baseline: Sequence[str],
    added: Sequence[str],
    model: str | None = None,
    pool: ItemPool | None = None,
    latent: bool = False,
    estimator: str | None = None,
    level: float = 0.95,
) -> IncrementalValidityResult:
    """Incremental validity: does ``added`` predict ``outcome`` beyond ``baseline``?

    Two nested OLS regressions with an intercept on the complete rows (listwise): step 1
    ``outcome ~ baseline``, step 2 ``outcome ~ baseline + added``. The increment is
    ``ΔR² = R²_2 - R²_1`` with ``F = (ΔR² / q) / ((1 - R²_2) / (N - k_2 - 1))`` on
    ``(q, N - k_2 - 1)`` df (Cohen, Cohen, West & Aiken, 2003, eq. 5.5.1; statsmodels'
    ``compare_f_test``). Standardized coefficients are the OLS coefficients of the z-scored
    variables (N - 1 SDs), with classical SEs and ``t(N - k - 1)`` intervals.

    Parameters
    ----------
    data : DataFrame
    outcome : str
        The criterion column.
    baseline, added : sequence of str
        Columns, or factors of ``model`` / ``pool`` (their available-item mean scores,
        reverse-keyed items of ``pool`` reversed).
    model : str, optional
    pool : ItemPool, optional
    latent : bool
        The latent-variable version (``model`` required): ``baseline`` and ``added`` are
        factors of ``model`` and ``outcome`` a column (entered as a single-indicator factor,
        ``Y =~ 1*outcome; outcome ~~ 0*outcome``, the same model as lavaan's ``Y ~ ...`` on
        the observed outcome) or a factor. One SEM regresses the outcome on all predictors,
        by allyscale's estimator rule on the model's observed variables;
        ``R²_full`` is lavaan's ``lavInspect(fit, "r2")`` and ``R²_baseline`` the R² of the
        baseline factors alone from the same model-implied latent covariance matrix
        ``c_b' Phi_bb^-1 c_b / var(Y)`` (one measurement model for both steps). The
        increment is tested by the chi-square difference test against the same model with
        the added paths fixed at 0 (:func:`allyscale.cfa.difference_test`; lavaan's
        ``anova``). Coefficients: the full model's paths with Wald intervals and ``beta`` =
        lavaan's ``std.all`` (no interval).
    estimator : str, optional
        Latent version only; default: allyscale's estimator rule.
    level : float

    Returns
    -------
    IncrementalValidityResult

    Raises
    ------
    DataError
        A column is missing or not numeric; too few complete rows.
    SpecificationError
        Empty ``added``; a predictor in both lists or equal to the outcome; collinear predictors.

    References
    ----------
    Cohen, J., Cohen, P., West, S. G., & Aiken, L. S. (2003). Applied multiple
    regression/correlation analysis for the behavioral sciences (3rd ed.). Erlbaum.
    Hunsley, J., & Meyer, G. J. (2003). The incremental validity of psychological testing and
    assessment. Psychological Assessment, 15, 446-455.

    Examples
    --------
    >>> res = al.incremental_validity(data, outcome="y", baseline=["arbi_score"], added=["ally_a", "ally_b"],
    ...                               model=model)  # doctest: +SKIP
    >>> res.delta_r2, res.steps.loc["full", "p_change"]  # doctest: +SKIP
    """
    tq = 1 - (1 - level) / 2
    _zq(level)
    baseline, added = list(baseline), list(added)
    if not added:
        raise SpecificationError("added must name at least one predictor")
    both = sorted(set(baseline) & set(added))
    if both:
        raise SpecificationError(f"predictor(s) {both} are in both baseline and added")
    if outcome in baseline or outcome in added:
        raise SpecificationError(f"the outcome {outcome!r} is also a predictor")
    if latent:
        return _latent_incremental(data, outcome, baseline, added, model, estimator, level)
    scales = {}
    if model is not None or pool is not None:
        scales = {k: v for k, v in _scales(model, pool).items() if k not in data.columns}
    need = [c for c in [outcome, *baseline, *added] if c not in scales]
    _check_columns(data, need, "column")
    frame = data[need].astype(float)
    used = {c: scales[c] for c in [*baseline, *added] if c in scales}
    if used:
        frame = pd.concat([frame, _scale_scores(data, used, pool)], axis=1)
    diag: dict[str, Any] = {"notes": [], "scored_from_items": sorted(used)}
    cols = [outcome, *baseline, *added]
    full = frame[cols].dropna()
    if len(full) < len(frame):
        msg = f"incremental_validity: {len(frame) - len(full)} rows with a missing value dropped (listwise)"
        warnings.warn(msg, DataWarning, stacklevel=2)
        diag["dropped_rows"] = len(frame) - len(full)
        diag["notes"].append(msg)
    n = len(full)
    if n < len(cols) + 2:
        raise DataError(f"{n} complete rows are too few for {len(cols) - 1} predictors")
    x_all = full[[*baseline, *added]].to_numpy()
    if np.linalg.matrix_rank(np.column_stack([np.ones(n), x_all])) < x_all.shape[1] + 1:
        raise SpecificationError("the predictors are collinear (one is a linear combination of the others)")
    sd = full.std(ddof=1)
    zero = [c for c in cols if not sd[c] > 0]
    if zero:
        raise DataError(f"column(s) {zero} have no variance in the complete rows")
    z = (full - full.mean()) / sd
    y, yz = full[outcome].to_numpy(), z[outcome].to_numpy()
    steps, coefs = {}, []
    fits = {}
    for step, preds in (("baseline", baseline), ("full", [*baseline, *added])):
        raw = _ols(y, full[preds].to_numpy()) if preds else None
        std = _ols(yz, z[preds].to_numpy()) if preds else None
        if raw is None:
            fits[step] = {"r2": 0.0, "k": 0, "df_resid": n - 1}
            steps[step] = {"k": 0, "r2": 0.0, "adj_r2": 0.0, "F": np.nan, "df1": 0, "df2": n - 1, "pvalue": np.nan}
            continue
        fits[step] = raw
        steps[step] = {
            "k": raw["k"],
            "r2": raw["r2"],
            "adj_r2": raw["adj_r2"],
            "F": raw["F"],
            "df1": raw["k"],
            "df2": raw["df_resid"],
            "pvalue": raw["F_pvalue"],
        }
        tcrit = stats.t.ppf(tq, std["df_resid"])
        for j, p in enumerate(preds, start=1):
            b, se = std["coef"][j], std["se"][j]
            t = b / se
            coefs.append(
                {
                    "step": step,
                    "predictor": p,
                    "set": "baseline" if p in baseline else "added",
                    "b": raw["coef"][j],
                    "se": raw["se"][j],
                    "beta": b,
                    "beta_se": se,
                    "t": t,
                    "pvalue": float(2 * stats.t.sf(abs(t), std["df_resid"])),
                    "ci_lower": b - tcrit * se,
                    "ci_upper": b + tcrit * se,
                }
            )
    f1, f2 = fits["baseline"], fits["full"]
    q = f2["k"] - f1["k"]
    dr2 = f2["r2"] - f1["r2"]
    fch = (dr2 / q) / ((1 - f2["r2"]) / f2["df_resid"])
    steps["full"].update(
        {
            "delta_r2": dr2,
            "F_change": fch,
            "df1_change": q,
            "df2_change": f2["df_resid"],
            "p_change": float(stats.f.sf(fch, q, f2["df_resid"])),
        }
    )
    steps["baseline"].update(
        {
            "delta_r2": f1["r2"],
            "F_change": steps["baseline"]["F"],
            "df1_change": f1["k"],
            "df2_change": f1["df_resid"],
            "p_change": steps["baseline"]["pvalue"],
        }
    )
    return IncrementalValidityResult(
        steps=pd.DataFrame.from_dict(steps, orient="index"),
        coefficients=pd.DataFrame(coefs),
        outcome=outcome,
        n=n,
        level=level,
        diagnostics=diag,
    )


def _latent_incremental(
    data: pd.DataFrame,
    outcome: str,
    baseline: list[str],
    added: list[str],
    model: str | None,
    estimator: str | None,
    level: float,
) -> IncrementalValidityResult:
    from allyscale.cfa import cfa, difference_test
    from allyscale.fitpolicy import resolve_estimator

    if model is None:
        raise SpecificationError("the latent incremental model needs model= (the factors' measurement model)")
    zq = _zq(level)
    factors = _scales(model, None)
    bad = [f for f in [*baseline, *added] if f not in factors]
    if bad:
        raise SpecificationError(f"predictor(s) {bad} are not factors of the model ({list(factors)})")
    base = model.rstrip() + "\n"
    yname = outcome
    if outcome not in factors:
        _check_columns(data, [outcome], "outcome")
        yname = f"{outcome}_lv"
        if yname in factors or yname in data.columns:
            raise SpecificationError(f"the name {yname!r} for the outcome's factor is taken")
        base += f"{yname} =~ 1*{outcome}\n{outcome} ~~ 0*{outcome}\n"
    full_syntax = base + f"{yname} ~ " + " + ".join([*baseline, *added])
    restricted = base + f"{yname} ~ " + " + ".join([*baseline, *(f"0*{a}" for a in added)])
    chosen = estimator is None
    est_name = resolve_estimator(estimator, data, full_syntax)
    kw: dict[str, Any] = {}
    if est_name == "WLSMV":
        kw["ordered"] = list(dict.fromkeys(i for its in factors.values() for i in its))
    diag: dict[str, Any] = {"notes": [], "estimator_rule": chosen, "model": full_syntax}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f1 = cfa(data, full_syntax, estimator=est_name, **kw)
        f0 = cfa(data, restricted, estimator=est_name, **kw)
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=3)
        diag["notes"].append(f"{w.category.__name__}: {w.message}")
    diag["converged"] = bool(f1.converged and f0.converged)
    est = f1.estimates
    lv = [*baseline, *added]
    phi = pd.DataFrame(np.nan, index=lv, columns=lv)
    for _, r in est[(est["op"] == "~~") & est["lhs"].isin(lv) & est["rhs"].isin(lv)].iterrows():
        phi.loc[r["lhs"], r["rhs"]] = phi.loc[r["rhs"], r["lhs"]] = float(r["est"])
    paths = est[(est["op"] == "~") & (est["lhs"] == yname)].set_index("rhs").loc[lv]
    b = paths["est"].astype(float).to_numpy()
    zeta = float(est[(est["op"] == "~~") & (est["lhs"] == yname) & (est["rhs"] == yname)]["est"].iloc[0])
    p = phi.to_numpy()
    var_y = float(b @ p @ b + zeta)
    c = p @ b  # cov(predictors, Y)
    nb = len(baseline)
    r2_full = float(b @ p @ b / var_y)
    r2_base = float(c[:nb] @ np.linalg.solve(p[:nb, :nb], c[:nb]) / var_y) if nb else 0.0
    dt = difference_test(f0, f1)
    steps = pd.DataFrame.from_dict(
        {
            "baseline": {"k": nb, "r2": r2_base, "delta_r2": r2_base},
            "full": {
                "k": len(lv),
                "r2": r2_full,
                "delta_r2": r2_full - r2_base,
                "chisq_diff": dt["chisq_diff"],
                "df_diff": dt["df_diff"],
                "p_change": dt["pvalue"],
            },
        },
        orient="index",
    )
    coefs = []
    for f in lv:
        r = paths.loc[f]
        coefs.append(
            {
                "step": "full",
                "predictor": f,
                "set": "baseline" if f in baseline else "added",
                "b": float(r["est"]),
                "se": float(r["se"]),
                "z": float(r["z"]),
                "pvalue": float(r["pvalue"]),
                "ci_lower": float(r["est"]) - zq * float(r["se"]),
                "ci_upper": float(r["est"]) + zq * float(r["se"]),
                "beta": float(r["std_all"]),
            }
        )
    return IncrementalValidityResult(
        steps=steps,
        coefficients=pd.DataFrame(coefs),
        outcome=outcome,
        n=int(f1.ntotal),
        level=level,
        diagnostics=diag,
        kind="latent",
        fit=f1,
        difference_test=dict(dt),
    )


# --------------------------------------------------------------------------- known groups
def hedges_g(x: Sequence[float], y: Sequence[float], *, level: float = 0.95) -> dict[str, float]:
    """Hedges' g of ``mean(x) - mean(y)`` with its exact noncentral-t interval.

    ``d = (m_x - m_y) / s_p`` with the pooled SD ``s_p² = ((n_x-1)s_x² + (n_y-1)s_y²)/(n_x+n_y-2)``
    (Cohen, 1988); ``g = J d`` with the exact small-sample correction
    ``J = Γ(ν/2) / (sqrt(ν/2) Γ((ν-1)/2))``, ``ν = n_x + n_y - 2`` (Hedges, 1981). The interval
    inverts the noncentral t distribution of Student's ``t = d / sqrt(1/n_x + 1/n_y)``
    (Steiger & Fouladi, 1997) and applies ``J`` to its bounds.

    References
    ----------
    Hedges, L. V. (1981). Distribution theory for Glass's estimator of effect size and related
    estimators. Journal of Educational Statistics, 6, 107-128.
    Steiger, J. H., & Fouladi, R. T. (1997). Noncentrality interval estimation and the
    evaluation of statistical models. In L. Harlow et al. (Eds.), What if there were no
    significance tests? (pp. 221-257). Erlbaum.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    n1, n2 = len(x), len(y)
    if n1 < 2 or n2 < 2:
        raise DataError(f"Hedges' g needs at least two scores per group, got {n1} and {n2}")
    df = n1 + n2 - 2
    sp = math.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / df)
    if not sp > 0:
        raise DataError("the scores have no variance within the groups")
    d = (x.mean() - y.mean()) / sp
    j = math.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / math.sqrt(df / 2)
    scale = math.sqrt(1 / n1 + 1 / n2)
    t = d / scale
    a = (1 - level) / 2

    def ncp(p: float) -> float:
        def f(nc: float) -> float:
            v = float(stats.nct.cdf(t, df, nc))
            if not math.isfinite(v):  # scipy's nct.cdf can return NaN far in a tail, where it is 0 or 1
                v = 0.0 if nc > t else 1.0
            return v - p

        w = 8 * math.sqrt(1 + t * t / (2 * df))  # the ncp's sampling SD is about sqrt(1 + t²/2ν)
        lo, hi = t - w, t + w
        return float(optimize.brentq(f, lo, hi, xtol=1e-12))

    return {
        "n1": n1,
        "n2": n2,
        "mean1": float(x.mean()),
        "mean2": float(y.mean()),
        "sd1": float(x.std(ddof=1)),
        "sd2": float(y.std(ddof=1)),
        "difference": float(x.mean() - y.mean()),
        "t": t,
        "df": df,
        "pvalue": float(2 * stats.t.sf(abs(t), df)),
        "d": d,
        "J": j,
        "g": j * d,
        "g_lower": j * ncp(1 - a) * scale,
        "g_upper": j * ncp(a) * scale,
    }


@dataclass(frozen=True)
class KnownGroupsResult(_Tables):
    """Known-groups validity: observed-score and latent mean differences between two groups.

    Differences are ``focal - reference`` (``groups = (reference, focal)``).

    Attributes
    ----------
    observed : DataFrame
        Per scale: ``n_focal, n_reference, mean_focal, mean_reference, sd_focal, sd_reference,
        difference, t, df, pvalue, d, J, g, g_lower, g_upper`` (focal - reference).
    latent : DataFrame or None
        Per factor: ``mean_difference, se, z, pvalue, ci_lower, ci_upper`` (the focal group's
        latent mean, the reference group's fixed at 0), ``var_reference, var_focal`` and
        ``d_latent`` (the difference over the pooled latent SD) with its delta-method
        ``d_latent_se`` and Wald interval ``d_latent_lower, d_latent_upper``; None when refused.
    latent_refused : str or None
        Why latent means were not compared (the invariance level that failed).
    invariance : InvarianceResult or None
    diagnostics : dict
    """

    observed: pd.DataFrame
    latent: pd.DataFrame | None
    latent_refused: str | None
    groups: tuple
    invariance: Any
    estimator: str | None
    level: float
    diagnostics: dict = field(default_factory=dict)

    @property
    def _title(self) -> str:  # type: ignore[override]
        ref, foc = self.groups
        return f"Known groups: {foc} - {ref} ({self.level:.0%} intervals)"

    def _tables(self) -> dict[str, pd.DataFrame]:
        return {"Observed scores (Hedges' g)": self.observed, "Latent means": self.latent}

    def _notes(self) -> list[str]:
        out = super()._notes()
        return out + ([f"latent means not compared: {self.latent_refused}"] if self.latent_refused else [])

    def to_frame(self) -> pd.DataFrame:
        """The observed-score differences per scale (Hedges' g)."""
        return self.observed

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "groups": [str(g) for g in self.groups],
                "estimator": self.estimator,
                "level": self.level,
                "observed": self.observed.to_dict("records"),
                "latent": None if self.latent is None else self.latent.to_dict("records"),
                "latent_refused": self.latent_refused,
                "invariance": None if self.invariance is None else self.invariance.table.to_dict("index"),
                "diagnostics": self.diagnostics,
            }
        )


def known_groups(
    data: pd.DataFrame,
    model: str,
    *,
    group: str,
    reference: Any = None,
    pool: ItemPool | None = None,
    estimator: str | None = None,
    latent: bool = True,
    level: float = 0.95,
    **invariance_kwargs: Any,
) -> KnownGroupsResult:
    """Known-groups validity: do two groups that should differ, differ?

    Observed scores: each factor's available-item mean score (reverse-keyed items of
    ``pool`` reversed), compared by Student's t with Hedges' g and its exact interval
    (:func:`hedges_g`). Latent means: the invariance sequence across the groups is fitted
    first (:func:`allyscale.invariance`, by allyscale's estimator rule, WLSMV for ordered
    items: Wu & Estabrook, 2016); only when scalar invariance holds (or partial scalar
    invariance, reported) are the latent means of the scalar model compared — the
    reference group's mean is fixed at 0, so the focal group's mean is the difference, as
    lavaan's ``cfa(group.equal = c("loadings", "intercepts"))`` (ordered items: also
    ``"thresholds"``). Without scalar invariance latent means are not comparable and are
    refused, with the failing level as the reason (Meredith, 1993). ``d_latent`` is the
    difference over the pooled latent SD, ``sqrt(((n_r-1) psi_r + (n_f-1) psi_f)/(n_r+n_f-2))``
    (the latent d; for ordered items on the latent-response scale), with a delta-method
    standard error from the covariance of the focal mean and the two latent variances
    (Rao, 1973) and a Wald interval.

    Parameters
    ----------
    data : DataFrame
    model : str
        lavaan syntax of the measurement model.
    group : str
        Column with exactly two groups.
    reference : optional
        The reference group (default: the first in the data's order, lavaan's first group).
    pool : ItemPool, optional
    estimator : str, optional
        Default: allyscale's estimator rule.
    latent : bool
        Fit the invariance sequence and compare latent means (default True).
    level : float
    **invariance_kwargs
        Passed to :func:`allyscale.invariance` (``partial=``, ``policy=``, ...).

    Returns
    -------
    KnownGroupsResult

    Raises
    ------
    DataError
        The group column is missing or does not hold exactly two groups; the reference is not one.

    References
    ----------
    Cronbach, L. J., & Meehl, P. E. (1955). Construct validity in psychological tests.
    Psychological Bulletin, 52, 281-302.
    Meredith, W. (1993). Measurement invariance, factor analysis and factorial invariance.
    Psychometrika, 58, 525-543.
    Wu, H., & Estabrook, R. (2016). Identification of confirmatory factor analysis models of
    different levels of invariance for ordered categorical outcomes. Psychometrika, 81, 1014-1045.
    Rao, C. R. (1973). Linear statistical inference and its applications (2nd ed.). Wiley.

    Examples
    --------
    >>> res = al.known_groups(data, model, group="g", reference="other")  # doctest: +SKIP
    >>> res.observed[["g", "g_lower", "g_upper"]], res.latent, res.latent_refused  # doctest: +SKIP
    """
    _zq(level)
    if group not in data.columns:
        raise DataError(f"group column {group!r} is not a column of the data")
    labels = list(pd.unique(data[group].dropna()))
    if len(labels) != 2:
        raise DataError(
            f"group column {group!r} must hold exactly two groups for known-groups validity, found "
            f"{len(labels)}: {[str(v) for v in labels[:10]]}"
        )
    if reference is not None and reference not in labels:
        raise DataError(f"reference group {reference!r} is not a value of {group!r} ({labels})")
    ref = labels[0] if reference is None else reference
    foc = labels[1] if ref == labels[0] else labels[0]
    diag: dict[str, Any] = {"notes": []}
    d = data[data[group].notna()]
    if d[group].iloc[0] != ref:  # lavaan's first group is the reference
        d = pd.concat([d[d[group] == ref], d[d[group] == foc]])
    if len(d) < len(data):
        diag["notes"].append(f"{len(data) - len(d)} rows with a missing {group!r} left out")
    scales = _scales(model, None)
    scores = _scale_scores(d, scales, pool)
    rows = []
    for s in scales:
        x = scores.loc[d[group] == foc, s].dropna()
        y = scores.loc[d[group] == ref, s].dropna()
        rows.append({"scale": s, **hedges_g(x, y, level=level)})
    observed = (
        pd.DataFrame(rows)
        .set_index("scale")
        .rename(
            columns={
                "n1": "n_focal",
                "n2": "n_reference",
                "mean1": "mean_focal",
                "mean2": "mean_reference",
                "sd1": "sd_focal",
                "sd2": "sd_reference",
            }
        )
    )
    lat, refused, inv, est_name = None, None, None, None
    if latent:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            inv = _mod("allyscale.invariance").invariance(
                d, model, group=group, estimator=estimator, **invariance_kwargs
            )
        for w in caught:
            warnings.warn(w.message, w.category, stacklevel=2)
            diag.setdefault("warnings", []).append(f"{w.category.__name__}: {w.message}")
        est_name = str(inv.diagnostics.get("estimator", estimator))
        tab = inv.table
        dec = {lv: str(tab.loc[lv, "decision"]) for lv in tab.index}
        order = [lv for lv in tab.index if "(partial)" not in lv]
        upto = order[: order.index("scalar") + 1] if "scalar" in order else order
        ff = inv.first_failure()
        use = None
        if "scalar" not in order:
            refused = "the invariance sequence has no scalar level"
        elif ff is not None and ff in upto:
            refused = (
                f"{ff} invariance does not hold across {group!r} (decision: {dec.get(ff)}), so latent "
                "means are not comparable"
            )
            diag["decision_rule"] = inv.decision_rule()
        elif dec.get("scalar") == "supported":
            use = "scalar"
        elif dec.get("scalar (partial)") == "supported (partial)":
            use = "scalar (partial)"
            diag["notes"].append(
                f"partial scalar invariance: {int(tab.loc[use, 'released'])} constraint(s) "
                "released; the latent means rest on the invariant items"
            )
        else:
            refused = f"scalar invariance is {dec.get('scalar')!r} across {group!r}"
        if refused:
            warnings.warn(f"known_groups: latent means not compared: {refused}", StatisticalWarning, stacklevel=2)
        if use is not None:
            fit = inv.fits[use]
            diag["latent_level"] = use
            est = fit.estimates
            g2 = fit.group_labels.index(foc) + 1
            g1 = fit.group_labels.index(ref) + 1
            n1 = int((d[group] == ref).sum())
            n2 = int((d[group] == foc).sum())
            zq = _zq(level)
            lrows = []
            for f in scales:
                m = est[(est["op"] == "~1") & (est["lhs"] == f) & (est["group"] == g2)].iloc[0]
                m1 = est[(est["op"] == "~1") & (est["lhs"] == f) & (est["group"] == g1)].iloc[0]
                if float(m1["est"]) != 0.0:
                    raise SpecificationError(f"the reference group's latent mean of {f!r} is not fixed at 0")
                v1 = float(
                    est[(est["op"] == "~~") & (est["lhs"] == f) & (est["rhs"] == f) & (est["group"] == g1)]["est"].iloc[
                        0
                    ]
                )
                v2 = float(
                    est[(est["op"] == "~~") & (est["lhs"] == f) & (est["rhs"] == f) & (est["group"] == g2)]["est"].iloc[
                        0
                    ]
                )
                mu, se = float(m["est"]), float(m["se"])
                pooled = ((n1 - 1) * v1 + (n2 - 1) * v2) / (n1 + n2 - 2)
                dl = mu / math.sqrt(pooled)
                # delta method: d = mu / sqrt(pooled), pooled linear in the two latent variances
                w1, w2 = (n1 - 1) / (n1 + n2 - 2), (n2 - 1) / (n1 + n2 - 2)
                dse = _delta_se(
                    fit,
                    [(f, "~1", "", g2), (f, "~~", f, g1), (f, "~~", f, g2)],
                    [1 / math.sqrt(pooled), -dl * w1 / (2 * pooled), -dl * w2 / (2 * pooled)],
                )
                lrows.append(
                    {
                        "factor": f,
                        "mean_difference": mu,
                        "se": se,
                        "z": mu / se,
                        "pvalue": float(2 * stats.norm.sf(abs(mu / se))),
                        "ci_lower": mu - zq * se,
                        "ci_upper": mu + zq * se,
                        "var_reference": v1,
                        "var_focal": v2,
                        "d_latent": dl,
                        "d_latent_se": dse,
                        "d_latent_lower": dl - zq * dse,
                        "d_latent_upper": dl + zq * dse,
                    }
                )
            lat = pd.DataFrame(lrows).set_index("factor")
    return KnownGroupsResult(
        observed=observed,
        latent=lat,
        latent_refused=refused,
        groups=(ref, foc),
        invariance=inv,
        estimator=est_name,
        level=level,
        diagnostics=diag,
    )


# --------------------------------------------------------------------------- test-retest
_RXX = ("retest", "icc2", "icc3", "alpha")


@dataclass(frozen=True)
class TestRetestResult(_Tables):
    """Test–retest stability per scale, with the standard error of measurement and the RCI.

    Attributes
    ----------
    table : DataFrame
        Per scale: ``n, mean1, sd1, mean2, sd2, r`` (Pearson, wave 1 with wave 2),
        ``icc2, icc2_lower, icc2_upper`` (ICC(2,1), absolute agreement), ``icc3, icc3_lower,
        icc3_upper`` (ICC(3,1), consistency), ``alpha1`` (wave-1 raw alpha), ``rxx`` (the
        reliability used), ``sem``, ``s_diff``, ``rc_threshold`` (the smallest reliable
        change, ``z s_diff``), and the counts ``reliable_increase, reliable_decrease``;
        with ``latent=True`` also ``latent_stability`` (the factor's correlation with itself
        across waves) with its delta-method ``latent_stability_se`` and Wald interval
        ``latent_stability_lower, latent_stability_upper`` (as lavaan's ``standardizedSolution``),
        and ``latent_level`` (the invariance level of that model).
    change : DataFrame
        Per respondent and scale: ``id, scale, wave1, wave2, difference, rci, change``
        (``"reliable increase"``, ``"reliable decrease"`` or ``"no reliable change"``).
    icc : dict
        Scale → :class:`~allyscale.reliability.ICCResult`.
    diagnostics : dict
    invariance : InvarianceResult or None
        The longitudinal (paired) invariance sequence, with ``latent=True``.
    """

    __test__ = False  # not a pytest test class, despite its name

    table: pd.DataFrame
    change: pd.DataFrame
    icc: dict
    rxx: str
    level: float
    diagnostics: dict = field(default_factory=dict)
    invariance: Any = None

    @property
    def _title(self) -> str:  # type: ignore[override]
        return (
            f"Test-retest stability: N = {int(self.table['n'].max()) if len(self.table) else 0} matched "
            f"respondents, RCI with r_xx = {self.rxx} ({self.level:.0%})"
        )

    def _tables(self) -> dict[str, pd.DataFrame]:
        return {"Stability": self.table}

    def to_frame(self) -> pd.DataFrame:
        """The stability table (one row per scale)."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "table": self.table.to_dict("index"),
                "rxx": self.rxx,
                "level": self.level,
                "change": self.change.to_dict("records"),
                "icc": {k: v.to_dict() for k, v in self.icc.items()},
                "diagnostics": self.diagnostics,
            }
        )


def test_retest(
    wave1: pd.DataFrame,
    wave2: pd.DataFrame | None = None,
    *,
    pool: ItemPool | None = None,
    model: str | None = None,
    id: str = "id",
    wave: str | None = None,
    rxx: str = "retest",
    latent: bool = False,
    estimator: str | None = None,
    level: float = 0.95,
    **invariance_kwargs: Any,
) -> TestRetestResult:
    """Test–retest stability of each scale score: ICC(2,1), ICC(3,1), SEM and the reliable change index.

    The waves are matched by the respondent ``id`` (two frames, or one frame with a ``wave``
    column holding two values in time order). Each scale's score is the available-item mean of
    its items (from ``pool`` with reverse-keyed items reversed, or from ``model``'s ``=~``
    lines). Per scale:

    * ICC(2,1) and ICC(3,1) with their F-based intervals, as ``psych::ICC(cbind(t1, t2),
      lmer = FALSE)`` (:func:`allyscale.reliability.icc`; Shrout & Fleiss, 1979; McGraw &
      Wong, 1996);
    * the standard error of measurement ``SEM = s_1 sqrt(1 - r_xx)`` with ``s_1`` the
      wave-1 SD (N - 1) and ``r_xx`` by ``rxx``: ``"retest"`` the Pearson test–retest
      correlation (Jacobson & Truax, 1991), ``"icc2"``/``"icc3"`` the ICCs, ``"alpha"`` the
      wave-1 coefficient alpha;
    * ``S_diff = sqrt(2 SEM²)`` and each respondent's reliable change index
      ``RCI = (x_2 - x_1) / S_diff`` (Jacobson & Truax, 1991, eq. 3); ``|RCI| > z`` (1.96 at
      95%) is a reliable change.

    Parameters
    ----------
    wave1, wave2 : DataFrame
        The two waves' responses, each with the ``id`` column (``wave2=None`` with ``wave``).
    pool : ItemPool, optional
    model : str, optional
        Scales from the ``=~`` lines (when no pool).
    id : str
        Respondent id column.
    wave : str, optional
        Column with the wave in a single long frame.
    rxx : {"retest", "icc2", "icc3", "alpha"}
    latent : bool
        Also the latent stability correlations: the matched waves' items as one wide frame
        (``<item>_t1``, ``<item>_t2``) through the paired invariance sequence
        (:func:`allyscale.invariance` with ``pairs=("t1", "t2")``: each item's residuals
        correlated across waves, semTools' ``measEq.syntax(longFacNames=)``), and the
        correlation of each factor with itself across waves (``std.all``) in the highest
        level that holds (``table["latent_level"]``; partial levels count).
    estimator : str, optional
        For the latent model; default: allyscale's estimator rule.
    level : float
    **invariance_kwargs
        Passed to :func:`allyscale.invariance` (``partial=``, ``policy=``, ...).

    Returns
    -------
    TestRetestResult

    Raises
    ------
    DataError
        The id column is missing or has duplicates (naming the value); no respondent in both
        waves; an item is missing or not numeric.
    SpecificationError
        Neither pool nor model; an unknown ``rxx``; a ``wave`` column without two values.

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical approach to
    defining meaningful change in psychotherapy research. Journal of Consulting and Clinical
    Psychology, 59, 12-19.
    Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: Uses in assessing rater
    reliability. Psychological Bulletin, 86, 420-428.
    McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass correlation
    coefficients. Psychological Methods, 1, 30-46.

    Examples
    --------
    >>> res = al.test_retest(wave1, wave2, pool=pool, id="id", latent=True)  # doctest: +SKIP
    >>> res.table[["icc2", "icc3", "sem", "latent_stability"]]  # doctest: +SKIP
    """
    zq = _zq(level)
    if rxx not in _RXX:
        raise SpecificationError(f"unknown rxx {rxx!r}; use one of {list(_RXX)}")
    if wave2 is None:
        if wave is None:
            raise SpecificationError("give two frames (wave1, wave2) or one frame with a wave column (wave=)")
        if wave not in wave1.columns:
            raise DataError(f"wave column {wave!r} is not a column of the data")
        waves = list(pd.unique(wave1[wave].dropna()))
        if len(waves) != 2:
            raise SpecificationError(f"wave column {wave!r} must hold two waves, found {[str(w) for w in waves]}")
        waves = sorted(waves) if all(isinstance(w, (int, float, np.number)) for w in waves) else waves
        wave1, wave2 = wave1[wave1[wave] == waves[0]], wave1[wave1[wave] == waves[1]]
    scales = _scales(model, pool)
    frames = []
    for k, w in ((1, wave1), (2, wave2)):
        if not isinstance(w, pd.DataFrame):
            raise DataError(f"wave {k} must be a pandas DataFrame, not {type(w).__name__}")
        if id not in w.columns:
            raise DataError(f"id column {id!r} is not a column of wave {k}")
        ids = w[id]
        if ids.isna().any():
            row = int(np.flatnonzero(ids.isna().to_numpy())[0])
            raise DataError(f"wave {k}: id column {id!r} has a missing value in row {row}")
        dup = ids[ids.duplicated()]
        if len(dup):
            v = dup.iloc[0].item() if isinstance(dup.iloc[0], np.generic) else dup.iloc[0]
            raise DataError(f"wave {k}: id {v!r} occurs more than once in column {id!r}")
        s = _scale_scores(w, scales, pool)
        s.index = ids.to_numpy()
        frames.append((s, w.set_index(id)))
    (s1, w1), (s2, w2) = frames
    common = [i for i in s1.index if i in set(s2.index)]
    diag: dict[str, Any] = {"notes": []}
    if not common:
        raise DataError(f"no respondent id of column {id!r} is in both waves")
    unmatched = (len(s1) - len(common), len(s2) - len(common))
    if any(unmatched):
        msg = (
            f"test_retest: {unmatched[0]} respondent(s) of wave 1 and {unmatched[1]} of wave 2 have no match "
            f"in the other wave and are left out"
        )
        warnings.warn(msg, DataWarning, stacklevel=2)
        diag["unmatched"] = {"wave1": unmatched[0], "wave2": unmatched[1]}
        diag["notes"].append(msg)
    icc_fn = _mod("allyscale.reliability").icc
    rows, change, iccs = [], [], {}
    for sc, its in scales.items():
        pair = pd.DataFrame({"wave1": s1.loc[common, sc], "wave2": s2.loc[common, sc]})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ic = icc_fn(pair, ["wave1", "wave2"], level=level)
        for w in caught:
            warnings.warn(w.message, w.category, stacklevel=2)
            diag["notes"].append(f"{sc}: {w.message}")
        iccs[sc] = ic
        pc = pair.dropna()
        x1 = w1.loc[pc.index, its].astype(float)
        if pool is not None:
            x1 = reverse_score(x1, pool, present_only=True)
        r = float(np.corrcoef(pc["wave1"], pc["wave2"])[0, 1])
        t = ic.table
        rel = {
            "retest": r,
            "icc2": float(t.loc["ICC2", "icc"]),
            "icc3": float(t.loc["ICC3", "icc"]),
            "alpha": _raw_alpha(x1),
        }
        sd1 = float(pc["wave1"].std(ddof=1))
        rx = rel[rxx]
        if not 0 < rx < 1:
            raise DataError(f"scale {sc!r}: the reliability r_xx ({rxx}) is {rx:.3f}; the SEM needs 0 < r_xx < 1")
        sem = sd1 * math.sqrt(1 - rx)
        sdiff = math.sqrt(2) * sem
        diff = pc["wave2"] - pc["wave1"]
        rci = diff / sdiff
        cat = np.where(rci > zq, "reliable increase", np.where(rci < -zq, "reliable decrease", "no reliable change"))
        change.append(
            pd.DataFrame(
                {
                    "id": pc.index,
                    "scale": sc,
                    "wave1": pc["wave1"].to_numpy(),
                    "wave2": pc["wave2"].to_numpy(),
                    "difference": diff.to_numpy(),
                    "rci": rci.to_numpy(),
                    "change": cat,
                }
            )
        )
        rows.append(
            {
                "scale": sc,
                "n": len(pc),
                "mean1": float(pc["wave1"].mean()),
                "sd1": sd1,
                "mean2": float(pc["wave2"].mean()),
                "sd2": float(pc["wave2"].std(ddof=1)),
                "r": r,
                "icc2": rel["icc2"],
                "icc2_lower": float(t.loc["ICC2", "lower"]),
                "icc2_upper": float(t.loc["ICC2", "upper"]),
                "icc3": rel["icc3"],
                "icc3_lower": float(t.loc["ICC3", "lower"]),
                "icc3_upper": float(t.loc["ICC3", "upper"]),
                "alpha1": rel["alpha"],
                "rxx": rx,
                "sem": sem,
                "s_diff": sdiff,
                "rc_threshold": zq * sdiff,
                "reliable_increase": int((cat == "reliable increase").sum()),
                "reliable_decrease": int((cat == "reliable decrease").sum()),
            }
        )
    table = pd.DataFrame(rows).set_index("scale")
    inv = None
    if latent:
        if model is None and pool is None:  # pragma: no cover - _scales raised already
            raise SpecificationError("the latent stability needs a model or a pool")
        items = list(dict.fromkeys(i for its in scales.values() for i in its))
        wide = pd.concat([w1.loc[common, items].add_suffix("_t1"), w2.loc[common, items].add_suffix("_t2")], axis=1)
        if pool is not None:
            wide = reverse_score(wide.astype(float), pool, present_only=True, suffixes=("_t1", "_t2"))
        base = "\n".join(f"{f} =~ {' + '.join(its)}" for f, its in scales.items())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            inv = _mod("allyscale.invariance").invariance(
                wide.reset_index(drop=True), base, pairs=("t1", "t2"), estimator=estimator, **invariance_kwargs
            )
        for w in caught:
            warnings.warn(w.message, w.category, stacklevel=2)
            diag["notes"].append(f"{w.category.__name__}: {w.message}")
        lv = inv.highest_level() or "configural"
        fit = inv.fits[lv]
        est = fit.estimates
        stab, stab_se = {}, {}
        grp = int(est["group"].iloc[0]) if "group" in est.columns else 1
        for f in scales:
            a, b = f"{f}_t1", f"{f}_t2"
            hit = est[
                (est["op"] == "~~")
                & (((est["lhs"] == a) & (est["rhs"] == b)) | ((est["lhs"] == b) & (est["rhs"] == a)))
            ]
            if not len(hit):
                stab[f] = stab_se[f] = float("nan")
                continue
            stab[f] = r = float(hit["std_all"].iloc[0])
            va = float(est[(est["op"] == "~~") & (est["lhs"] == a) & (est["rhs"] == a)]["est"].iloc[0])
            vb = float(est[(est["op"] == "~~") & (est["lhs"] == b) & (est["rhs"] == b)]["est"].iloc[0])
            # r = c / sqrt(va vb): the delta-method SE of standardizedSolution's std.all
            stab_se[f] = _delta_se(
                fit,
                [(a, "~~", b, grp), (a, "~~", a, grp), (b, "~~", b, grp)],
                [1 / math.sqrt(va * vb), -r / (2 * va), -r / (2 * vb)],
            )
        table["latent_stability"] = pd.Series(stab)
        table["latent_stability_se"] = pd.Series(stab_se)
        table["latent_stability_lower"] = table["latent_stability"] - zq * table["latent_stability_se"]
        table["latent_stability_upper"] = table["latent_stability"] + zq * table["latent_stability_se"]
        table["latent_level"] = lv
        diag["latent"] = {
            "level": lv,
            "estimator": fit.estimator,
            "model": inv.models.get(lv),
            "invariance": inv.table["decision"].to_dict(),
        }
        if lv in ("configural", "thresholds"):
            diag["notes"].append(
                f"longitudinal invariance holds only at the {lv} level: the latent stabilities "
                "come from that model, in which the factors' metrics may differ across waves"
            )
    return TestRetestResult(
        table=table,
        change=pd.concat(change, ignore_index=True),
        icc=iccs,
        rxx=rxx,
        level=level,
        diagnostics=diag,
        invariance=inv,
    )


test_retest.__test__ = False  # a public function, not a pytest test
