"""From pool to measure: short forms by constrained search, confirmed on a holdout.

``shorten(data, pool=..., items_per_factor=...)`` reduces an item pool to a short form that
keeps the pool's structure (one correlated factor per category), reliability, invariance
across groups and content coverage (every facet), by ant-colony optimisation, simulated
annealing or exhaustive search (:mod:`allyscale.selection.search`) over the selections that
meet the constraints (:mod:`allyscale.selection.constraints`), scored by a documented,
configurable objective (:mod:`allyscale.selection.objective`).

Honest selection: the search sees only a calibration sample; the chosen short form and the
full pool are then fitted on the holdout (the rest of the data, or a second data set), and
both are reported, because a searched model's fit on the data it was searched on is
optimistic (MacCallum, Roznowski & Necowitz, 1992).

Speed: the polychoric correlations, thresholds and their asymptotic covariance are computed
once for the whole pool on the calibration sample; each candidate is fitted from their
sub-blocks (``cfa(polychoric=PolychoricResult.subset(items))``), which equal a fresh
computation on the candidate's items (two-step estimation: each statistic depends on its own
item or pair only).

References
----------
Leite, W. L., Huang, I.-C., & Marcoulides, G. A. (2008). Multivariate Behavioral Research, 43, 411-431.
Olaru, G., Schroeders, U., Hartung, J., & Wilhelm, O. (2019). European Journal of Psychological
Assessment, 35, 1-13.
Smith, G. T., McCarthy, D. M., & Anderson, K. G. (2000). On the sins of short-form development.
Psychological Assessment, 12, 102-111.
Levy, P. (1967). The correction for spurious correlation in the evaluation of short-form tests.
Journal of Clinical Psychology, 23, 84-86.
MacCallum, R. C., Roznowski, M., & Necowitz, L. B. (1992). Model modifications in covariance
structure analysis: The problem of capitalization on chance. Psychological Bulletin, 111, 490-504.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allyscale.errors import AllyscaleWarning, DataError, DataWarning, PoolError, SpecificationError
from allyscale.pool import ItemPool
from allyscale.results import Result, Summary, jsonable
from allyscale.selection.constraints import Constraints
from allyscale.selection.objective import Evaluation, Objective, evaluate_candidate, latent_omega, model_syntax
from allyscale.selection.search import METHODS, Evaluator, aco, annealing, exhaustive

__all__ = ["shorten", "ShortFormResult", "item_statistics", "Objective", "short_pool_yaml"]


# --------------------------------------------------------------------------------------
# input
# --------------------------------------------------------------------------------------
def _check_data(data: pd.DataFrame, pool: ItemPool, group: str | None, what: str = "data") -> pd.DataFrame:
    if not isinstance(pool, ItemPool):
        raise SpecificationError(f"pool must be an ItemPool (allyscale.load_pool), got {type(pool).__name__}")
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame, got {type(data).__name__}")
    missing = [i for i in pool.item_ids if i not in data.columns]
    if missing:
        raise DataError(
            f"{what}: item(s) of the pool missing from the data: {', '.join(missing[:20])}"
            + (f" (+{len(missing) - 20} more)" if len(missing) > 20 else "")
        )
    if group is not None:
        if group not in data.columns:
            raise DataError(f"{what}: group column {group!r} is not in the data")
        if data[group].isna().any():
            row = data.index[data[group].isna().to_numpy()][0]
            raise DataError(f"{what}: group column {group!r} is missing at row {row}")
        if data[group].nunique() < 2:
            raise DataError(f"{what}: group column {group!r} has a single group")
    return data


def _scored(data: pd.DataFrame, pool: ItemPool, group: str | None, what: str, diagnostics: dict) -> pd.DataFrame:
    from allyscale.scoring import reverse_score

    cols = pool.item_ids + ([group] if group else [])
    frame = data[cols].copy()
    for i in pool.item_ids:
        col = pd.to_numeric(frame[i], errors="coerce")
        bad = col.isna() & frame[i].notna()
        if bad.any():
            row = frame.index[bad.to_numpy()][0]
            raise DataError(f"{what}: item {i!r} has a non-numeric value {frame.at[row, i]!r} at row {row}")
        frame[i] = col
    incomplete = frame[pool.item_ids].isna().any(axis=1)
    if incomplete.any():
        n = int(incomplete.sum())
        msg = (
            f"{what}: {n} respondent(s) with missing item responses dropped (WLSMV from the pool's "
            "polychoric statistics needs complete cases)"
        )
        warnings.warn(msg, DataWarning, stacklevel=3)
        diagnostics.setdefault("dropped_rows", {})[what] = n
        frame = frame.loc[~incomplete]
    frame[pool.item_ids] = reverse_score(frame[pool.item_ids], pool)
    return frame


def _split(
    frame: pd.DataFrame, holdout, group: str | None, rng: np.random.Generator, pool: ItemPool, diagnostics: dict
) -> tuple[pd.DataFrame, pd.DataFrame | None, str]:
    if holdout is None:
        return frame, None, "none"
    if isinstance(holdout, pd.DataFrame):
        _check_data(holdout, pool, group, "holdout")
        return frame, _scored(holdout, pool, group, "holdout", diagnostics), "second data set"
    if isinstance(holdout, bool) or not isinstance(holdout, (float, int)) or not 0 < holdout < 1:
        raise SpecificationError(f"holdout must be a fraction in (0, 1), a DataFrame or None, got {holdout!r}")
    strata = (
        [frame.index[(frame[group] == g).to_numpy()] for g in dict.fromkeys(frame[group])] if group else [frame.index]
    )
    hold_idx = []
    for idx in strata:
        perm = rng.permutation(len(idx))
        hold_idx.extend(idx[perm[: int(round(holdout * len(idx)))]])
    hold = frame.loc[frame.index.isin(hold_idx)]
    cal = frame.loc[~frame.index.isin(hold_idx)]
    return (
        cal,
        hold,
        f"random split ({1 - holdout:.0%} calibration, {holdout:.0%} holdout"
        + (f", stratified by {group})" if group else ")"),
    )


# --------------------------------------------------------------------------------------
# item statistics
# --------------------------------------------------------------------------------------
def item_statistics(
    data: pd.DataFrame, *, pool: ItemPool, group: str | None = None, theta_range: tuple[float, float] = (-2.0, 2.0)
) -> dict[str, pd.DataFrame]:
    """Item statistics for selection, one table per factor.

    Loading and communality (correlated-factors WLSMV), the largest EFA cross-loading,
    corrected item–rest correlation, α and ω if deleted, mean information over
    ``theta_range``, with ``group`` the item's DIF index, and flags; see
    :mod:`allyscale.selection.itemstats` for each column's definition.

    Parameters
    ----------
    data : DataFrame
        Responses as answered (reverse-keyed items are reversed here).
    pool : ItemPool
    group : str, optional
        Column defining groups (DIF columns).
    theta_range : (float, float)

    Returns
    -------
    dict
        Factor id → DataFrame indexed by item.
    """
    from allyscale.polychoric import polychoric
    from allyscale.selection.itemstats import compute_item_statistics

    _check_data(data, pool, group)
    frame = _scored(data, pool, group, "data", {})
    poly = polychoric(frame[pool.item_ids])
    return compute_item_statistics(
        frame, pool, poly=poly, factors=pool.factor_items(), group=group, theta_range=theta_range
    )


# --------------------------------------------------------------------------------------
# confirmation
# --------------------------------------------------------------------------------------
def _confirm(frame: pd.DataFrame, selection: Mapping[str, Sequence[str]], objective: Objective) -> dict[str, Any]:
    """WLSMV fit, verdict, ω and marginal reliability of a form on one sample."""
    from allyscale.cfa import cfa
    from allyscale.fitpolicy import evaluate_fit
    from allyscale.irt import irt

    items = [i for v in selection.values() for i in v]
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllyscaleWarning)
        fit = cfa(frame, model_syntax(selection), estimator="WLSMV", ordered=items)
    problems += [f"{w.category.__name__}: {w.message}" for w in caught if issubclass(w.category, AllyscaleWarning)]
    verdict = evaluate_fit(fit, policy=objective.fit_policy)
    est = fit.estimates
    lam = {f: est[(est["op"] == "=~") & (est["lhs"] == f)].set_index("rhs")["std_all"] for f in selection}
    omega = {f: latent_omega(lam[f].loc[list(v)].to_numpy(float)) for f, v in selection.items()}
    try:
        rel = irt(fit).marginal_reliability().to_dict()
    except SpecificationError as exc:
        rel = {f: float("nan") for f in selection}
        problems.append(str(exc))
    fm = fit.fit_measures
    measures = {
        k: float(fm.get(k, float("nan")))
        for k in ("chisq.scaled", "df.scaled", "pvalue.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled", "srmr")
    }
    return {
        "fit": fit,
        "verdict": verdict,
        "omega": omega,
        "marginal_reliability": rel,
        "measures": measures,
        "problems": problems,
        "n": int(len(frame)),
    }


def _sum_scores(frame: pd.DataFrame, items: Sequence[str]) -> np.ndarray:
    return frame[list(items)].to_numpy(dtype=float).sum(axis=1)


def _part_whole(frame: pd.DataFrame, short: Sequence[str], full: Sequence[str]) -> dict[str, float]:
    """Short–full correlations: raw, corrected for the error the two share, and with the rest.

    ``corrected = (cov(S, F) − σ_S²(1 − α_S)) / (σ_S σ_F)``: the short form's error variance
    (estimated by coefficient α) appears in both scores and inflates their covariance; it is
    removed (the idea of Levy, 1967). ``with_rest`` correlates S with the full form's other items.
    """
    from allyscale.selection.itemstats import _alpha

    s = _sum_scores(frame, short)
    f = _sum_scores(frame, full)
    rest = [i for i in full if i not in short]
    c = np.cov(s, f)
    a_s = _alpha(frame[list(short)].to_numpy(dtype=float))
    corrected = (c[0, 1] - c[0, 0] * (1 - a_s)) / math.sqrt(c[0, 0] * c[1, 1])
    with_rest = float(np.corrcoef(s, _sum_scores(frame, rest))[0, 1]) if len(rest) >= 1 else float("nan")
    return {
        "r": float(c[0, 1] / math.sqrt(c[0, 0] * c[1, 1])),
        "r_corrected": float(corrected),
        "r_with_rest": with_rest,
        "alpha_short": a_s,
    }


# --------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------
@dataclass
class ShortFormResult(Result):
    """A short form, how it was found, and how it holds up on the holdout.

    Attributes
    ----------
    selection : dict
        Factor → kept items (pool order).
    items : DataFrame
        One row per pool item: ``factor, facet, reverse, kept, reason``.
    item_statistics : dict
        Factor → the item-statistics table of the calibration sample.
    comparison : DataFrame
        Short vs full form on the calibration and holdout samples: the judged test statistic,
        df, p, the policy's verdict, CFI/RMSEA (scaled) and SRMR, and per factor ω and marginal
        reliability.
    targets : DataFrame
        Each target set in the call (fit by the policy; ω ≥ ``omega_target`` per factor): the
        calibration and holdout values and whether the holdout meets it.
    part_whole : DataFrame
        Per factor the short–full score correlation: raw, corrected for shared error, with the rest.
    coverage : DataFrame
        Per facet: items in the pool and in the short form.
    information : DataFrame
        Test information over θ (index) of each factor, columns ``short.<factor>`` and
        ``full.<factor>`` (graded-response view of the confirmation-sample fits).
    invariance : DataFrame or None
        With ``group``: the short form's ordinal invariance sequence on the confirmation sample
        (:func:`allyscale.invariance`, decisions by the fit policy).
    trace : DataFrame
        One row per iteration: ``iteration, evaluations, best, iteration_best, iteration_mean, accepted_share``.
    best : Evaluation
        The chosen candidate's evaluation on the calibration sample (objective and components).
    diagnostics : dict
        ``method``, ``stopped`` (converged, max_evaluations, ...), ``evaluations`` (distinct
        candidates fitted), ``requests``, ``seconds``, ``search_seconds`` (wall), ``search_cpu_seconds`` (CPU time of
        the search, workers included), ``evaluations_per_second`` (wall),
        ``space_size``, ``failed_candidates``, ``split``, ``n_calibration``, ``n_holdout``,
        ``dropped_rows``, ``problems``.
    """

    pool: ItemPool
    selection: dict[str, tuple[str, ...]]
    items: pd.DataFrame
    item_statistics: dict[str, pd.DataFrame]
    comparison: pd.DataFrame
    targets: pd.DataFrame
    part_whole: pd.DataFrame
    coverage: pd.DataFrame
    trace: pd.DataFrame
    best: Evaluation
    objective: Objective
    constraints: dict
    information: pd.DataFrame | None = None
    invariance: pd.DataFrame | None = None
    diagnostics: dict = field(default_factory=dict)

    @property
    def kept(self) -> list[str]:
        return [i for v in self.selection.values() for i in v]

    @property
    def dropped(self) -> list[str]:
        return [i for i in self.pool.item_ids if i not in set(self.kept)]

    @property
    def unmet_targets(self) -> list[str]:
        return [str(t) for t, ok in zip(self.targets["target"], self.targets["met"]) if ok is False or ok == 0]

    @property
    def model_syntax(self) -> str:
        return model_syntax(self.selection)

    def to_pool_yaml(self) -> str:
        """The short form as pool YAML (same ids, texts and forms; ``allyscale pool check`` accepts it)."""
        return short_pool_yaml(self.pool, self.kept, note=self._note())

    def save_pool(self, path: str | Path, *, inputs: Sequence[str | Path | None] = ()) -> Path:
        """Write :meth:`to_pool_yaml` atomically (never over an input)."""
        from allyscale._files import atomic_write_text

        return atomic_write_text(path, self.to_pool_yaml(), inputs=[*inputs, self.pool.path])

    def _note(self) -> str:
        d = self.diagnostics
        return (
            f"Short form of {self.pool.id}: {len(self.kept)} of {len(self.pool.item_ids)} items, selected by "
            f"{d.get('method')} (seed {d.get('seed')}) on a calibration sample of N = {d.get('n_calibration')}; "
            f"holdout N = {d.get('n_holdout')}."
        )

    # ------------------------------------------------------------------ figures
    def plot_trace(self):
        """The search trace: best objective so far and each iteration's best and mean, by evaluations.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from matplotlib.figure import Figure

        tr = self.trace
        fig = Figure(figsize=(6.5, 3.8))
        ax = fig.subplots()
        ax.plot(tr["evaluations"], tr["best"], color="#1f4e79", lw=2, label="best so far")
        ax.plot(tr["evaluations"], tr["iteration_best"], color="#2e7d32", lw=0.8, alpha=0.8, label="iteration best")
        ax.plot(tr["evaluations"], tr["iteration_mean"], color="grey", lw=0.8, alpha=0.8, label="iteration mean")
        ax.set_xlabel("candidate short forms fitted")
        ax.set_ylabel("objective")
        ax.set_title(
            f"Search trace ({self.diagnostics.get('method')}, stopped: {self.diagnostics.get('stopped')})", fontsize=10
        )
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        return fig

    def plot_information(self):
        """Test information per factor, short form against the full pool. Returns a ``matplotlib.figure.Figure``."""
        from matplotlib.figure import Figure

        info = self.information
        factors = list(self.selection)
        ncol = min(3, len(factors))
        nrow = int(np.ceil(len(factors) / ncol))
        fig = Figure(figsize=(4.0 * ncol, 3.0 * nrow))
        axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
        full = self.pool.factor_items()
        for ax, f in zip(axes, factors):
            if f"full.{f}" in info:
                ax.plot(info.index, info[f"full.{f}"], color="grey", label=f"full pool ({len(full[f])} items)")
            if f"short.{f}" in info:
                ax.plot(
                    info.index,
                    info[f"short.{f}"],
                    color="#1f4e79",
                    lw=2,
                    label=f"short form ({len(self.selection[f])} items)",
                )
            ax.set_title(str(f), fontsize=9)
            ax.set_xlabel("θ")
            ax.set_ylabel("test information")
            ax.legend(frameon=False, fontsize=7)
        for ax in axes[len(factors) :]:
            ax.set_visible(False)
        fig.tight_layout()
        return fig

    # ------------------------------------------------------------------ output
    def summary(self) -> Summary:
        """The search, the kept items, short vs full form, the targets, the short-full correlations and every
        pool item with the reason it was kept or dropped."""
        d = self.diagnostics
        out = Summary(
            f"Short form: {len(self.kept)} of {len(self.pool.item_ids)} items "
            f"({', '.join(f'{f} {len(v)}' for f, v in self.selection.items())})"
        )
        out.text(
            f"search: {d['method']}, {d['evaluations']} candidate fits in {d['seconds']:.1f} s "
            f"({d['evaluations_per_second']:.1f}/s), stopped: {d['stopped']}; objective "
            f"{self.best.objective:.4f} on the calibration sample (N = {d['n_calibration']})",
            f"split: {d['split']}",
        )
        out.text(*(f"{f}: {', '.join(v)}" for f, v in self.selection.items()))
        if self.unmet_targets:
            out.text("NOT REACHED: " + "; ".join(self.unmet_targets), strong=True)
        out.table(self.comparison, title="Short vs full form")
        out.table(self.targets, title="Targets", index=False)
        out.table(self.part_whole, title="Short-full correlations")
        return out.table(self.items, title="Items")

    def to_frame(self) -> pd.DataFrame:
        """One row per pool item: ``factor, facet, reverse, kept, reason``."""
        return self.items

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "selection": {f: list(v) for f, v in self.selection.items()},
                "kept": self.kept,
                "dropped": self.dropped,
                "items": self.items.reset_index().to_dict("records"),
                "comparison": {str(k): v for k, v in self.comparison.to_dict("index").items()},
                "targets": self.targets.to_dict("records"),
                "unmet_targets": self.unmet_targets,
                "part_whole": self.part_whole.to_dict("index"),
                "coverage": self.coverage.reset_index().to_dict("records"),
                "trace": self.trace.to_dict("records"),
                "invariance": None if self.invariance is None else self.invariance.reset_index().to_dict("records"),
                "best": {
                    "objective": self.best.objective,
                    "components": self.best.components,
                    "statistic": self.best.statistic,
                    "omega": self.best.omega,
                },
                "item_statistics": {f: t.reset_index().to_dict("records") for f, t in self.item_statistics.items()},
                "objective": self.objective.to_dict(),
                "constraints": self.constraints,
                "diagnostics": self.diagnostics,
            }
        )


# --------------------------------------------------------------------------------------
# pool YAML of a short form
# --------------------------------------------------------------------------------------
def short_pool_yaml(pool: ItemPool, keep: Sequence[str], *, note: str = "") -> str:
    """Pool YAML with only the items in ``keep`` (ids, texts, informant texts, keys unchanged).

    Starts from the pool's own file when it has one (so every key it holds is kept), else from
    the :class:`ItemPool`; facets left without items are dropped; the pool id gets ``_short``.
    The text is checked with :func:`allyscale.pool.parse_pool` before it is returned.
    """
    import yaml

    from allyscale.pool import parse_pool

    keep = set(keep)
    unknown = sorted(keep - set(pool.item_ids))
    if unknown:
        raise PoolError(f"items not in the pool: {', '.join(unknown)}")
    raw = None
    if pool.path is not None and Path(pool.path).is_file():
        from allyscale._yaml import load_yaml

        raw = load_yaml(Path(pool.path).read_text(encoding="utf-8"), str(pool.path), PoolError)
    if raw is None:
        raw = _pool_dict(pool)
    raw = dict(raw)
    raw["id"] = f"{raw.get('id') or pool.id}_short"
    raw["name"] = f"{raw.get('name') or pool.name} (short form)"
    if note:
        prior = raw.get("notes")
        raw["notes"] = note if not prior else f"{note}\n{prior}" if isinstance(prior, str) else prior
    factors = []
    for rf in raw["factors"]:
        rf = dict(rf)
        if rf.get("facets"):
            facets = []
            for rc in rf["facets"]:
                rc = dict(rc)
                rc["items"] = [it for it in rc.get("items") or [] if it.get("id") in keep]
                if rc["items"]:
                    facets.append(rc)
            rf["facets"] = facets
            if not facets:
                continue
        else:
            rf["items"] = [it for it in rf.get("items") or [] if it.get("id") in keep]
            if not rf["items"]:
                continue
        factors.append(rf)
    raw["factors"] = factors
    header = f"# {note}\n" if note else ""
    text = header + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True, width=110)
    parse_pool(text, source="<short form>")
    return text


def _pool_dict(pool: ItemPool) -> dict:
    def item(it):
        d = {"id": it.id, "text": it.text}
        if it.informant_text:
            d["informant_text"] = it.informant_text
        if it.aspect:
            d["aspect"] = it.aspect
        d["reverse"] = bool(it.reverse)
        return d

    out: dict[str, Any] = {"name": pool.name, "id": pool.id}
    for key in ("version", "description", "source"):
        if getattr(pool, key):
            out[key] = getattr(pool, key)
    out["response_scale"] = {"min": pool.scale.min, "max": pool.scale.max}
    if pool.scale.labels:
        out["response_scale"]["labels"] = dict(pool.scale.labels)
    if pool.forms:
        out["forms"] = pool.forms
    if pool.core:
        out["core"] = dict(pool.core)
    factors = []
    for f in pool.factors:
        rf: dict[str, Any] = {"id": f.id, "label": f.label}
        if f.description:
            rf["description"] = f.description
        if f.facets:
            rf["facets"] = [
                {
                    "id": fc.id,
                    "label": fc.label,
                    **({"description": fc.description} if fc.description else {}),
                    "items": [item(it) for it in fc.items],
                }
                for fc in f.facets
            ]
        else:
            rf["items"] = [item(it) for it in f.items]
        factors.append(rf)
    out["factors"] = factors
    if pool.attention_checks:
        out["attention_checks"] = [
            {
                "id": c.id,
                "text": c.text,
                "expected": c.expected,
                **({"informant_text": c.informant_text} if c.informant_text else {}),
            }
            for c in pool.attention_checks
        ]
    return out


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished child processes (the search's workers)."""
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# --------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------
def shorten(
    data: pd.DataFrame,
    *,
    pool: ItemPool,
    items_per_factor: int | Mapping[str, int],
    min_per_facet: int = 1,
    group: str | None = None,
    method: str = "aco",
    seed: int | None = None,
    force_in: Sequence[str] = (),
    force_out: Sequence[str] = (),
    reverse_keyed: int | tuple[int, int] | None = None,
    objective: Objective | Mapping | None = None,
    holdout: float | pd.DataFrame | None = 0.5,
    max_evaluations: int = 3000,
    workers: int = 1,
    progress: bool = True,
    exhaustive_limit: int = 20000,
    search_options: Mapping[str, Any] | None = None,
) -> ShortFormResult:
    """Select a short form of an item pool.

    Parameters
    ----------
    data : DataFrame
        Responses as answered (the pool's reverse-keyed items are reversed here), one column per
        pool item (plus ``group``). Respondents with a missing item response are dropped (a
        :class:`DataWarning`, recorded in ``diagnostics``).
    pool : ItemPool
    items_per_factor : int or mapping factor → int
        Items to keep per factor.
    min_per_facet : int
        At least this many items from every facet (default 1: every facet covered).
    group : str, optional
        Column defining groups (e.g. the pool's forms): the objective then penalises items with
        differential functioning, and the holdout split is stratified by group.
    method : {"aco", "sa", "exhaustive", "auto"}
        Ant-colony optimisation (default), simulated annealing, exhaustive search (when the
        feasible short forms number at most ``exhaustive_limit``), or ``auto``: exhaustive when
        the space is that small, else ACO (the method used is in ``diagnostics["method"]``).
    seed : int, optional
        Seeds the split and the search: the same seed gives the same short form.
    force_in, force_out : sequence of str
        Items that must be kept / dropped.
    reverse_keyed : int, (min, max) or None
        Reverse-keyed items per factor (at least ``int``, or between ``min`` and ``max``).
    objective : Objective or mapping, optional
        Weights and targets (:class:`allyscale.selection.objective.Objective`); a mapping is
        passed to ``Objective(**mapping)``.
    holdout : float, DataFrame or None
        Fraction of the data held out for confirmation (default .5), a second data set, or None
        (no confirmation: the report says the fit is optimistic).
    max_evaluations : int
        Most distinct candidates fitted (default 3000).
    workers : int
        Worker processes for candidate fits (default 1).
    progress : bool
        Show a progress bar.
    exhaustive_limit : int
        Largest space searched exhaustively.
    search_options : mapping, optional
        Options of the method: for ACO ``ants, evaporation, alpha, tau_min, tau_max,
        max_iterations, patience``; for SA ``t0, cooling, steps_per_temperature, max_iterations,
        patience`` (:mod:`allyscale.selection.search`).

    Returns
    -------
    ShortFormResult

    Raises
    ------
    DataError
        Items missing from the data, non-numeric responses, a bad group column.
    SpecificationError
        Impossible constraints (naming the factor and the constraint), an unknown method or
        option, a bad holdout.

    References
    ----------
    Leite, Huang & Marcoulides (2008); Olaru et al. (2019); Smith, McCarthy & Anderson (2000).

    Examples
    --------
    >>> short = al.shorten(data, pool=pool, items_per_factor=5, group="form", seed=1)  # doctest: +SKIP
    >>> short.save_pool("short.yaml")  # doctest: +SKIP
    """
    from allyscale.polychoric import polychoric
    from allyscale.selection.itemstats import compute_item_statistics, dif_index, method_loadings

    t_start = time.perf_counter()
    _check_data(data, pool, group)
    if method not in METHODS:
        raise SpecificationError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    if isinstance(objective, Mapping):
        objective = Objective(**objective)
    objective = objective or Objective()
    if not isinstance(objective, Objective):
        raise SpecificationError(f"objective must be an Objective or a mapping, got {type(objective).__name__}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise SpecificationError(f"workers must be a positive integer, got {workers!r}")
    if isinstance(max_evaluations, bool) or not isinstance(max_evaluations, int) or max_evaluations < 1:
        raise SpecificationError(f"max_evaluations must be a positive integer, got {max_evaluations!r}")
    options = dict(search_options or {})
    constraints = Constraints.build(
        pool,
        items_per_factor,
        min_per_facet=min_per_facet,
        force_in=force_in,
        force_out=force_out,
        reverse_keyed=reverse_keyed,
    )
    diagnostics: dict[str, Any] = {"seed": seed}
    rng = np.random.default_rng(seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllyscaleWarning)
        frame = _scored(data, pool, group, "data", diagnostics)
        cal, hold, split = _split(frame, holdout, group, rng, pool, diagnostics)
        items = pool.item_ids
        poly = polychoric(cal[items])
        factors = pool.factor_items()
        dif = dif_index(cal, factors, group) if group else None
        method_df = method_loadings(cal, pool, factors, poly)
        stats = compute_item_statistics(
            cal,
            pool,
            poly=poly,
            factors=factors,
            group=group,
            theta_range=objective.theta_range,
            dif=dif,
            method=method_df,
        )
    if method_df is None:
        diagnostics["method_factor"] = (
            "not estimated: fewer than three reverse-keyed items"
            if len(pool.reverse_items) < 3
            else "not estimated: the method-factor model did not converge or was "
            "inadmissible; the method component does not count"
        )
    method_eff = (
        None
        if method_df is None
        else {
            i: (abs(m) if abs(z) >= 1.96 else 0.0)
            for i, m, z in zip(method_df.index, method_df["method_loading"], method_df["method_z"])
        }
    )
    setup_problems = [f"{w.category.__name__}: {w.message}" for w in caught if issubclass(w.category, AllyscaleWarning)]
    for w in caught:  # re-emit what the user should see
        if issubclass(w.category, AllyscaleWarning):
            warnings.warn(str(w.message), w.category, stacklevel=2)
    facets = {f.id: {fc.id: [it.id for it in fc.items] for fc in f.facets} for f in pool.factors}
    fn = partial(
        evaluate_candidate,
        data=cal[items],
        poly=poly,
        objective=objective,
        facets=facets,
        dif=None if dif is None else dif["dif"].to_dict(),
        grouped=group is not None,
        method=method_eff,
    )
    space = constraints.space_size()
    used = method
    if method == "auto":
        used = "exhaustive" if space <= exhaustive_limit else "aco"
    known = {
        "aco": {"ants", "evaporation", "alpha", "tau_min", "tau_max", "max_iterations", "patience"},
        "sa": {"t0", "cooling", "steps_per_temperature", "max_iterations", "patience"},
        "exhaustive": {"batch"},
    }[used]
    unknown = sorted(set(options) - known)
    if unknown:
        raise SpecificationError(
            f"search_options: unknown option(s) {', '.join(unknown)} for method {used!r}; "
            f"known: {', '.join(sorted(known))}"
        )
    t_search = time.perf_counter()
    cpu0 = _cpu_seconds()
    with Evaluator(
        fn, max_evaluations=max_evaluations, workers=workers, progress=progress, desc=f"short form ({used})"
    ) as ev:
        if used == "aco":
            outcome = aco(constraints, ev, rng, **options)
        elif used == "sa":
            outcome = annealing(constraints, ev, rng, **options)
        else:
            outcome = exhaustive(constraints, ev, limit=exhaustive_limit, **options)
        n_eval, n_req = ev.n_evaluations, ev.requests
        failed = sum(1 for r in ev.order if not r.converged or r.objective == 0.0)
    search_seconds = time.perf_counter() - t_search
    search_cpu = _cpu_seconds() - cpu0
    best = outcome.best
    selection = {f: tuple(i for i in pool.factor_items()[f] if i in best.selection[f]) for f in constraints.factors}
    # confirmation on calibration and holdout, short and full
    full = {f: tuple(v) for f, v in factors.items()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllyscaleWarning)
        results = {
            ("short", "calibration"): _confirm(cal, selection, objective),
            ("full", "calibration"): _confirm(cal, full, objective),
        }
        if hold is not None:
            results[("short", "holdout")] = _confirm(hold, selection, objective)
            results[("full", "holdout")] = _confirm(hold, full, objective)
    rows = {}
    for (form, sample), r in results.items():
        test = r["verdict"].statistics["test"]
        row = {
            "N": r["n"],
            "items": sum(len(v) for v in (selection if form == "short" else full).values()),
            "chisq": test["chisq"],
            "df": test["df"],
            "pvalue": test["pvalue"],
            "accepted": bool(r["verdict"].accepted),
            "cfi.scaled": r["measures"]["cfi.scaled"],
            "rmsea.scaled": r["measures"]["rmsea.scaled"],
            "srmr": r["measures"]["srmr"],
        }
        row.update({f"omega.{f}": r["omega"][f] for f in selection})
        row.update({f"rxx.{f}": r["marginal_reliability"].get(f, float("nan")) for f in selection})
        rows[f"{form} / {sample}"] = row
    comparison = pd.DataFrame.from_dict(rows, orient="index")
    confirm_sample = "holdout" if hold is not None else "calibration"
    target_rows = []
    rc, rh = results[("short", "calibration")], results.get(("short", "holdout"))
    target_rows.append(
        {
            "target": "model fit accepted by the fit policy",
            "required": "accepted",
            "calibration": float(rc["verdict"].accepted),
            "holdout": float(rh["verdict"].accepted) if rh else float("nan"),
            "met": bool((rh or rc)["verdict"].accepted),
        }
    )
    for f in selection:
        target_rows.append(
            {
                "target": f"omega({f}) >= {objective.omega_target:.2f}",
                "required": f">= {objective.omega_target:.2f}",
                "calibration": rc["omega"][f],
                "holdout": rh["omega"][f] if rh else float("nan"),
                "met": bool((rh or rc)["omega"][f] >= objective.omega_target),
            }
        )
    inv_table = None
    if group is not None:
        from allyscale.errors import AllyscaleError
        from allyscale.invariance import invariance

        conf = hold if hold is not None else cal
        with warnings.catch_warnings(record=True) as inv_caught:
            warnings.simplefilter("always", AllyscaleWarning)
            try:
                # categories unobserved in a group are merged first (recorded), as thresholds must match
                inv = invariance(
                    conf,
                    model_syntax(selection),
                    group=group,
                    estimator="WLSMV",
                    policy=objective.fit_policy,
                    collapse=True,
                )
            except AllyscaleError as exc:
                inv = None
                diagnostics.setdefault("invariance_error", f"{type(exc).__name__}: {exc}")
        diagnostics["invariance_warnings"] = [
            f"{w.category.__name__}: {w.message}" for w in inv_caught if issubclass(w.category, AllyscaleWarning)
        ]
        if inv is None:
            target_rows.append(
                {
                    "target": f"invariance across {group}: every testable level supported",
                    "required": "supported",
                    "calibration": float("nan"),
                    "holdout": float("nan"),
                    "met": False,
                }
            )
        else:
            if inv.diagnostics.get("collapsed"):
                diagnostics["invariance_collapsed"] = inv.diagnostics["collapsed"]
            keep = [
                c
                for c in (
                    "chisq.scaled",
                    "df",
                    "cfi.scaled",
                    "rmsea.scaled",
                    "delta_chisq",
                    "delta_df",
                    "delta_pvalue",
                    "decision",
                    "basis",
                )
                if c in inv.table.columns
            ]
            inv_table = inv.table[keep].copy()
            judged = [d for d in inv.table["decision"] if d not in ("", "not testable", "not tested")]
            target_rows.append(
                {
                    "target": f"invariance across {group}: every testable level supported",
                    "required": "supported",
                    "calibration": float("nan"),
                    "holdout": float(all(str(d).startswith("supported") for d in judged))
                    if hold is not None
                    else float("nan"),
                    "met": bool(judged) and all(str(d).startswith("supported") for d in judged),
                }
            )
    targets = pd.DataFrame(target_rows)
    conf_frame = hold if hold is not None else cal
    part_whole = pd.DataFrame({f: _part_whole(conf_frame, selection[f], full[f]) for f in selection}).T
    part_whole.index.name = "factor"
    cov_rows = []
    for f in pool.factors:
        for fc in f.facets:
            ids = [it.id for it in fc.items]
            cov_rows.append(
                {
                    "factor": f.id,
                    "facet": fc.id,
                    "label": fc.label,
                    "pool_items": len(ids),
                    "kept": sum(i in selection[f.id] for i in ids),
                    "kept_items": ", ".join(i for i in ids if i in selection[f.id]),
                }
            )
    coverage = (
        pd.DataFrame(cov_rows).set_index("facet")
        if cov_rows
        else pd.DataFrame(columns=["factor", "label", "pool_items", "kept", "kept_items"])
    )
    item_rows = []
    kept_set = {i for v in selection.values() for i in v}
    for it in pool.items:
        st = stats[it.factor].loc[it.id]
        if it.id in kept_set:
            reason = "forced in" if it.id in force_in else "selected"
        elif it.id in force_out:
            reason = "forced out"
        elif st["flags"]:
            reason = f"not selected; flagged: {st['flags']}"
        else:
            reason = "not selected (the kept items scored higher on the objective)"
        item_rows.append(
            {
                "item": it.id,
                "factor": it.factor,
                "facet": it.facet,
                "reverse": it.reverse,
                "kept": it.id in kept_set,
                "loading": float(st["loading"]),
                "reason": reason,
            }
        )
    items_table = pd.DataFrame(item_rows).set_index("item")
    from allyscale.irt import irt

    theta = np.round(np.linspace(-3.0, 3.0, 61), 10)
    info_cols = {}
    for form in ("short", "full"):
        try:
            inf = irt(results[(form, confirm_sample)]["fit"]).information(theta)
        except SpecificationError as exc:  # a Heywood case: no finite discrimination
            results[(form, confirm_sample)]["problems"].append(f"information not available: {exc}")
            continue
        for f in selection:
            info_cols[f"{form}.{f}"] = inf[f]
    information = pd.DataFrame(info_cols, index=pd.Index(theta, name="theta"))
    problems = setup_problems + [
        f"{form} / {sample}: {p}" for (form, sample), r in results.items() for p in r["problems"]
    ]
    for w in caught:
        if issubclass(w.category, AllyscaleWarning):
            warnings.warn(str(w.message), w.category, stacklevel=2)
    diagnostics.update(
        {
            "method": used,
            "method_requested": method,
            "stopped": outcome.stopped,
            "iterations": outcome.iterations,
            "evaluations": n_eval,
            "requests": n_req,
            "seconds": time.perf_counter() - t_start,
            "search_seconds": search_seconds,
            "search_cpu_seconds": search_cpu,
            "evaluations_per_second": n_eval / search_seconds if search_seconds else 0.0,
            "space_size": space,
            "failed_candidates": failed,
            "split": split,
            "confirmed_on": confirm_sample,
            "n_calibration": int(len(cal)),
            "n_holdout": int(len(hold)) if hold is not None else 0,
            "workers": workers,
            "group": group,
            "search_settings": outcome.settings,
            "problems": problems,
        }
    )
    return ShortFormResult(
        pool=pool,
        selection=selection,
        items=items_table,
        item_statistics=stats,
        comparison=comparison,
        targets=targets,
        part_whole=part_whole,
        coverage=coverage,
        trace=outcome.trace,
        best=best,
        objective=objective,
        constraints=constraints.describe(),
        information=information,
        invariance=inv_table,
        diagnostics=diagnostics,
    )


from allyscale._callable import make_callable  # noqa: E402 - after the function it makes the module call

make_callable(__name__, shorten)
