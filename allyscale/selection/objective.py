"""The objective a short-form search maximises, and the evaluation of one candidate.

A candidate (one item set per factor) is fitted as a correlated-factors WLSMV model on the
calibration sample, from the polychoric statistics of the whole pool computed once
(:meth:`PolychoricResult.subset` and ``cfa(polychoric=)``: each candidate's correlations,
thresholds and asymptotic covariance are sub-blocks of the pool's). Five components, each in
[0, 1], are combined as a weighted mean ``Σ w_c s_c / Σ w_c``:

``fit``
    The project's fit-evaluation policy (:func:`allyscale.fitpolicy.evaluate_fit`; by default
    the scaled-shifted χ² test of exact fit at α = .05) decides acceptance; the score is
    ``0.5·[accepted] + 0.5 / (1 + max(0, z) / 2)`` with ``z = (T − df) / sqrt(2 df)`` the
    standardized excess of the judged statistic ``T`` over its expectation under exact fit, so
    that the search is guided among rejected candidates too (no fit cutoff of its own).
``reliability``
    Per factor ω of the latent responses, ``(Σλ)² / ((Σλ)² + Σ(1 − λ²))`` with standardized
    loadings (McDonald, 1999); the score is the mean over factors of ``ω − 2·max(0, target − ω)``
    (a factor below ``omega_target`` costs three times what it gains above it).
``information``
    Per factor the mean over a grid on ``theta_range`` of ``I(θ) / (I(θ) + 1)``, the
    reliability of θ at each point (the graded-response information of the factor's items,
    :mod:`allyscale.irt`); averaged over factors.
``invariance``
    With ``group``: per factor ``exp(−max_j DIF_j / dif_scale)`` over its selected items, where
    ``DIF_j`` is the item's differential-functioning index of :func:`allyscale.shorten.item_statistics`
    (threshold and slope differences between groups after linking the factor's metric);
    averaged over factors. Weight 0 without a group.
``method``
    With a method factor of the reverse-keyed items (:func:`allyscale.selection.itemstats.method_loadings`):
    per factor ``exp(−max_j m_j / method_scale)`` over its selected items, with ``m_j`` the
    item's absolute method loading where its z value reaches 1.96 and 0 otherwise (sampling
    noise is not penalised); averaged over factors. A reverse-keyed item's method variance is
    invisible to a model with only one such item, so it is judged from the whole pool's model.
``coverage``
    Per factor the normalized entropy of the selected items' facet counts (1 when the items are
    spread evenly over the facets); averaged over factors. The hard floor is ``min_per_facet``.

A candidate that does not converge or has a Heywood case scores 0 (counted in the result's
``diagnostics``).

References
----------
Leite, W. L., Huang, I.-C., & Marcoulides, G. A. (2008). Item selection for the development of
short forms of scales using an ant colony optimization algorithm. Multivariate Behavioral
Research, 43, 411-431.
Olaru, G., Schroeders, U., Hartung, J., & Wilhelm, O. (2019). Ant colony optimization and local
weighted structural equation modeling. European Journal of Psychological Assessment, 35, 1-13.
McDonald, R. P. (1999). Test theory: A unified treatment. Erlbaum.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from allyscale.errors import AllyscaleError, AllyscaleWarning, HeywoodWarning, SpecificationError

__all__ = ["Objective", "Evaluation", "evaluate_candidate", "model_syntax", "latent_omega"]

COMPONENTS = ("fit", "reliability", "information", "invariance", "method", "coverage")
DEFAULT_WEIGHTS = {
    "fit": 1.0,
    "reliability": 1.0,
    "information": 1.0,
    "invariance": 2.0,
    "method": 1.0,
    "coverage": 0.25,
}


@dataclass(frozen=True)
class Objective:
    """The configurable objective of :func:`allyscale.shorten`.

    Parameters
    ----------
    weights : mapping component → float
        Weights of ``fit``, ``reliability``, ``information``, ``invariance``, ``method``,
        ``coverage`` (default 1, 1, 1, 2, 1, 0.25; ``invariance`` counts only with a group,
        ``method`` only when a method factor of the reverse-keyed items could be estimated).
    omega_target : float
        ω each factor should reach (default .80); also a target checked on the holdout.
    theta_range : (float, float)
        Range of θ over which information counts (default −2 to 2).
    dif_scale : float
        DIF index at which the invariance score of a factor falls to 1/e (default .2: a threshold
        shift of .2 latent-response SD, or a loading difference of .2).
    method_scale : float
        Method loading at which the method score of a factor falls to 1/e (default .25).
    fit_policy : FitPolicy, optional
        The fit-evaluation policy (default :data:`allyscale.fitpolicy.DEFAULT_POLICY`).
    """

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    omega_target: float = 0.80
    theta_range: tuple[float, float] = (-2.0, 2.0)
    dif_scale: float = 0.2
    method_scale: float = 0.25
    fit_policy: Any = None

    def __post_init__(self) -> None:
        unknown = [k for k in self.weights if k not in COMPONENTS]
        if unknown:
            raise SpecificationError(
                f"objective weights: unknown component(s) {', '.join(map(str, unknown))}; "
                f"components: {', '.join(COMPONENTS)}"
            )
        bad = {
            k: v for k, v in self.weights.items() if not (isinstance(v, (int, float)) and v >= 0 and math.isfinite(v))
        }
        if bad:
            raise SpecificationError(f"objective weights must be finite and >= 0, got {bad}")
        if not 0 < self.omega_target < 1:
            raise SpecificationError(f"omega_target must be in (0, 1), got {self.omega_target!r}")
        lo, hi = self.theta_range
        if not lo < hi:
            raise SpecificationError(f"theta_range must be (low, high) with low < high, got {self.theta_range!r}")
        if not self.dif_scale > 0 or not self.method_scale > 0:
            raise SpecificationError(
                f"dif_scale and method_scale must be > 0, got {self.dif_scale!r}, {self.method_scale!r}"
            )

    def weight(self, component: str, *, grouped: bool, method: bool = False) -> float:
        w = float(self.weights.get(component, DEFAULT_WEIGHTS[component]))
        if component == "invariance" and not grouped:
            return 0.0
        if component == "method" and not method:
            return 0.0
        return w

    def to_dict(self) -> dict[str, Any]:
        policy = self.fit_policy.to_dict() if self.fit_policy is not None else None
        return {
            "weights": {c: float(self.weights.get(c, w)) for c, w in DEFAULT_WEIGHTS.items()},
            "omega_target": self.omega_target,
            "theta_range": list(self.theta_range),
            "dif_scale": self.dif_scale,
            "method_scale": self.method_scale,
            "fit_policy": policy,
        }


@dataclass
class Evaluation:
    """One evaluated candidate (picklable: it crosses process boundaries)."""

    selection: dict[str, tuple[str, ...]]
    objective: float
    components: dict[str, float]
    accepted: bool | None
    statistic: dict[str, float]
    omega: dict[str, float]
    converged: bool
    problems: list[str] = field(default_factory=list)


def model_syntax(selection: Mapping[str, Sequence[str]]) -> str:
    """Correlated-factors lavaan syntax of a selection."""
    return "\n".join(f"{f} =~ " + " + ".join(items) for f, items in selection.items())


def latent_omega(lam: np.ndarray) -> float:
    """ω of standardized loadings on one factor: ``(Σλ)² / ((Σλ)² + Σ(1 − λ²))``."""
    s = float(np.sum(lam)) ** 2
    return s / (s + float(np.sum(1.0 - lam**2)))


def _entropy_evenness(counts: Sequence[int]) -> float:
    counts = np.asarray([c for c in counts], dtype=float)
    if len(counts) <= 1:
        return 1.0
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(len(counts)))


def _standardized(fit, items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Standardized loadings (each item on its one factor) and thresholds, in ``items`` order."""
    est = fit.estimates
    op = est["op"].to_numpy()
    pos = {i: k for k, i in enumerate(items)}
    load = op == "=~"
    lam = np.zeros(len(items))
    idx = np.array([pos[i] for i in est["rhs"].to_numpy()[load]])
    lam[idx] = est["std_all"].to_numpy()[load]
    th = op == "|"
    rows = np.array([pos[i] for i in est["lhs"].to_numpy()[th]])
    cols = np.array([int(t[1:]) - 1 for t in est["rhs"].to_numpy()[th]])
    tau = np.full((len(items), int(cols.max()) + 1), np.nan)
    tau[rows, cols] = est["std_all"].to_numpy()[th]
    return lam, tau


def evaluate_candidate(
    selection: Mapping[str, Sequence[str]],
    *,
    data,
    poly,
    objective: Objective,
    facets: Mapping[str, Mapping[str, Sequence[str]]],
    dif: Mapping[str, float] | None,
    grouped: bool,
    method: Mapping[str, float] | None = None,
) -> Evaluation:
    """Fit one candidate on the calibration data and score it.

    Parameters
    ----------
    selection : mapping factor → items
    data : DataFrame
        The calibration sample (reverse-keyed items already reversed).
    poly : PolychoricResult
        Polychoric statistics of the whole pool on ``data`` (shared by every candidate).
    objective : Objective
    facets : mapping factor → (facet → items)
    dif : mapping item → DIF index, optional
    grouped : bool
        Whether the invariance component counts.
    method : mapping item → effective method loading, optional
        ``m_j`` of the method component (reverse-keyed items; None: the component does not count).
    """
    from allyscale.cfa import cfa
    from allyscale.fitpolicy import evaluate_fit
    from allyscale.irt import information_matrix

    selection = {f: tuple(v) for f, v in selection.items()}
    items = [i for v in selection.values() for i in v]
    problems: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllyscaleWarning)
        try:
            fit = cfa(data, model_syntax(selection), estimator="WLSMV", ordered=items, polychoric=poly.subset(items))
        except (AllyscaleError, np.linalg.LinAlgError) as exc:  # this candidate cannot be fitted: it scores 0
            return Evaluation(
                selection, 0.0, {c: 0.0 for c in COMPONENTS}, None, {}, {}, False, [f"{type(exc).__name__}: {exc}"]
            )
    for w in caught:
        if issubclass(w.category, AllyscaleWarning):
            problems.append(f"{w.category.__name__}: {w.message}")
    heywood = bool(fit.diagnostics.get("heywood")) or any(issubclass(w.category, HeywoodWarning) for w in caught)
    verdict = evaluate_fit(fit, policy=objective.fit_policy)
    test = verdict.statistics["test"]
    stat = {"chisq": float(test["chisq"]), "df": float(test["df"]), "pvalue": float(test["pvalue"])}
    for key in ("cfi.scaled", "rmsea.scaled", "srmr"):
        stat[key] = float(fit.fit_measures.get(key, float("nan")))
    if not fit.converged or heywood:
        return Evaluation(
            selection,
            0.0,
            {c: 0.0 for c in COMPONENTS},
            False,
            stat,
            {},
            fit.converged,
            problems or ["inadmissible solution"],
        )
    lam, tau = _standardized(fit, items)
    omega = {}
    start = 0
    for f, v in selection.items():
        omega[f] = latent_omega(lam[start : start + len(v)])
        start += len(v)
    grid = np.linspace(objective.theta_range[0], objective.theta_range[1], 21)
    if np.any(np.abs(lam) >= 1.0):
        return Evaluation(
            selection,
            0.0,
            {c: 0.0 for c in COMPONENTS},
            False,
            stat,
            omega,
            True,
            problems + ["a standardized loading of 1 or more"],
        )
    a = lam / np.sqrt(1.0 - lam**2)
    mat = information_matrix(a, tau / lam[:, None], grid)
    info = {}
    start = 0
    for f, v in selection.items():
        info[f] = mat[:, start : start + len(v)].sum(axis=1)
        start += len(v)
    comp: dict[str, float] = {}
    z = (stat["chisq"] - stat["df"]) / math.sqrt(2.0 * stat["df"]) if stat["df"] > 0 else 0.0
    comp["fit"] = 0.5 * float(verdict.accepted) + 0.5 / (1.0 + max(0.0, z) / 2.0)
    target = objective.omega_target
    comp["reliability"] = float(np.mean([w - 2.0 * max(0.0, target - w) for w in omega.values()]))
    comp["information"] = float(np.mean([np.mean(info[f] / (info[f] + 1.0)) for f in selection]))
    if grouped and dif:
        comp["invariance"] = float(
            np.mean([math.exp(-max(dif.get(i, 0.0) for i in v) / objective.dif_scale) for v in selection.values()])
        )
    else:
        comp["invariance"] = 0.0
    if method:
        comp["method"] = float(
            np.mean(
                [math.exp(-max(method.get(i, 0.0) for i in v) / objective.method_scale) for v in selection.values()]
            )
        )
    else:
        comp["method"] = 0.0
    cov = []
    for f, v in selection.items():
        fac = facets.get(f, {})
        if fac:
            cov.append(_entropy_evenness([len(set(v) & set(m)) for m in fac.values()]))
        else:
            cov.append(1.0)
    comp["coverage"] = float(np.mean(cov))
    weights = {c: objective.weight(c, grouped=grouped, method=bool(method)) for c in COMPONENTS}
    total = sum(weights.values())
    value = sum(weights[c] * comp[c] for c in COMPONENTS) / total if total > 0 else 0.0
    return Evaluation(selection, float(value), comp, bool(verdict.accepted), stat, omega, True, problems)
