"""Dynamic fit index cutoffs (McNeish & Wolf, 2023).

Fixed cutoffs (CFI ≥ .95, RMSEA ≤ .06, SRMR ≤ .08; Hu & Bentler, 1999) were derived for
one model family; dynamic fit index (DFI) cutoffs are derived for the user's own model,
sample size and estimator by simulation:

1. the user's model is fitted; its standardized solution (``std_all``: loadings, factor
   and residual correlations, and for ordinal indicators the thresholds) becomes the
   population;
2. *level-k* misspecified populations add k omitted paths, chosen as in the ``dynamic``
   R package (Wolf & McNeish, 2023; functions ``cfaHB``/``cfaOne``/``catHB``/``catOne``):

   * multi-factor models (F factors, levels 1..F−1): cross-loadings. Candidate items load
     on one factor only and have no residual correlation; from each factor the item
     with the smallest ``|loading|`` is taken, factors with more than two items first, then
     ascending ``|loading|``, keeping F−1 items. Each item cross-loads on the factor, among
     those correlated with its own, with the highest coefficient H (Hancock & Mueller,
     2001), never using the same factor pair twice. The magnitude is
     ``min(|λ|, .95 (sqrt(λ²φ² + 1 − λ²) − |λφ|))`` (λ the item's loading, φ the factor
     correlation; rounded to 4 decimals), the largest that keeps the item's variance
     below one. Level k adds the first k, ordered by priority, ``|loading|`` and −H;
   * one-factor models (levels 1..3): residual correlations of .3 between pairs of
     candidate items taken in ascending ``|loading|`` (items 1–2, 3–4, ...); with m pairs
     available level 3 uses m, level 2 ⌊2m/3⌋, level 1 ⌊m/3⌋ (4 items: one level of one
     pair; 5 items: levels of one and two pairs);
3. ``reps`` samples of size ``min(N, 2000)`` are drawn from the correct and from each
   misspecified population (latent responses standardized; ordinal items cut at the
   fitted thresholds) and the user's model is fitted to each (``std_lv = TRUE``);
4. the cutoff of level k for SRMR and RMSEA is the smallest quantile q_p of the
   misspecified distribution, p = .05, .06, ..., 1, that is not below the 95th
   percentile of the correct-model distribution; for CFI the largest quantile q_{1−p}
   not above the correct model's 5th percentile. Its *power* is 1 − p (.95 when the 95%
   rule holds: 95% of misspecified samples rejected, at most 5% of correct ones); a
   cutoff with power below .50 is reported as ``NONE``, as ``dynamic`` does.

The indices are ``srmr``, ``rmsea``, ``cfi`` for ML, their ``.robust`` versions for MLR
and ``.scaled`` versions for WLSMV, as in ``dynamic``. Random streams are
``SeedSequence(seed, spawn_key=(level, rep))``; results do not depend on ``workers``.
Quantiles use numpy's default (linear, R's type 7). ``dynamic`` draws jitter for ties in
H at random; allyscale breaks ties by factor order.

References
----------
McNeish, D., & Wolf, M. G. (2023). Dynamic fit index cutoffs for confirmatory factor
analysis models. *Psychological Methods, 28*(1), 61–88.
McNeish, D. (2023). Dynamic fit index cutoffs for factor analysis with Likert, ordinal,
or binary responses. *American Psychologist*.
Wolf, M. G., & McNeish, D. (2023). dynamic: An R package for deriving dynamic fit index
cutoffs for factor analysis. *Multivariate Behavioral Research, 58*(1), 189–194.
Hancock, G. R., & Mueller, R. O. (2001). Rethinking construct reliability within latent
variable systems. In *Structural equation modeling: Present and future* (pp. 195–216).
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allyscale._threads import blas_limited
from allyscale.errors import AllyscaleError, SpecificationError, StatisticalWarning
from allyscale.fitpolicy import INDEX_VERSION
from allyscale.results import Result, Summary, jsonable

__all__ = ["dfi", "DFIResult", "misspecifications", "solution_from_syntax"]

# the indices judged are the fit policy's versions (allyscale.fitpolicy.INDEX_VERSION), as in ``dynamic``:
# ML standard, MLR .robust, WLSMV .scaled - the same CFI the report and the Monte Carlo summary use
_INDICES = {est: ("srmr", f"rmsea{v}", f"cfi{v}") for est, v in INDEX_VERSION.items()}


@dataclass(frozen=True)
class DFIResult(Result):
    """Dynamic fit index cutoffs.

    Attributes
    ----------
    cutoffs : DataFrame
        One row per level (``level-0`` = the correct model's 95th / 5th percentile, then
        ``level-1`` ...): ``srmr``, ``srmr_power``, ``rmsea``, ``rmsea_power``, ``cfi``,
        ``cfi_power``; a cutoff is NaN (printed ``NONE``) when its power is below .50.
    misspecifications : dict
        Level → the lavaan statements added to the population.
    fitted : dict
        The user's fit measures (the three indices).
    simulated : DataFrame
        Every simulated fit: ``level``, ``rep``, the three indices, ``converged``.
    estimator, n, reps, seed
    diagnostics : dict
        Non-converged replications per level (excluded), notes.
    """

    cutoffs: pd.DataFrame
    misspecifications: dict
    fitted: dict
    simulated: pd.DataFrame = field(repr=False)
    estimator: str = "ML"
    n: int = 0
    reps: int = 0
    seed: int = 1
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The user's fit, the cutoff of each level with its power (``NONE`` below .50 power), the
        misspecifications."""
        cols = list(self.cutoffs.columns)
        out = Summary(
            f"Dynamic fit index cutoffs (McNeish & Wolf, 2023); estimator {self.estimator}, N = {self.n}, "
            f"{self.reps} replications per level"
        )
        out.text("Your model: " + ", ".join(f"{k} = {v:.3f}" for k, v in self.fitted.items() if v is not None))
        table = self.cutoffs.copy()
        for c in cols:
            if not c.endswith("_power"):
                table[c] = [("NONE" if (isinstance(v, float) and math.isnan(v)) else f"{v:.3f}") for v in table[c]]
            else:
                table[c] = [f"{v:.0%}" for v in table[c]]
        out.table(
            table,
            title="Cutoffs",
            note="Level-0: the correct model's 95th (SRMR, RMSEA) / 5th (CFI) percentile. A level-k cutoff "
            "rejects the stated share of level-k misspecified models and at most 5% of correct ones.",
        )
        return out.text(*(f"{lvl}: " + "; ".join(stmts) for lvl, stmts in self.misspecifications.items()))

    def to_frame(self) -> pd.DataFrame:
        """One row per level: the three cutoffs and their power (a cutoff is NaN when its power is below .50)."""
        return self.cutoffs

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "cutoffs": self.cutoffs.to_dict(orient="index"),
                "misspecifications": self.misspecifications,
                "fitted": self.fitted,
                "estimator": self.estimator,
                "n": self.n,
                "reps": self.reps,
                "seed": self.seed,
                "diagnostics": self.diagnostics,
            }
        )


# ------------------------------------------------------------------ the population
def _std_solution(res) -> dict:
    est = res.estimates
    if "group" in est.columns and est["group"].nunique() > 1:
        raise SpecificationError("dfi: multiple-group models are not supported (fit one group)")
    # dynamic rounds the standardized solution to four decimals (cfa_lavmod); so does allyscale
    std = est["std_all"].where(est["std_all"].notna(), est["est"]).astype(float).round(4)
    lam = {(r.lhs, r.rhs): float(s) for r, s in zip(est.itertuples(), std) if r.op == "=~"}
    latent = list(dict.fromkeys(lhs for lhs, _ in lam))
    if any(rhs in latent for _, rhs in lam):
        raise SpecificationError(
            "dfi: higher-order models are not supported by the dynamic cutoffs of "
            "McNeish & Wolf (2023); fit a first-order model"
        )
    if est["op"].eq("~").any():
        raise SpecificationError("dfi: structural regressions are not supported; dynamic cutoffs are for CFA models")
    fcor, rcor, th = {}, {}, {}
    for r, s in zip(est.itertuples(), std):
        if r.op == "~~" and r.lhs != r.rhs:
            (fcor if r.lhs in latent else rcor)[(r.lhs, r.rhs)] = float(s)
        elif r.op == "|":
            th.setdefault(r.lhs, []).append(float(s))
    return {"lambda": lam, "latent": latent, "fcor": fcor, "rcor": rcor, "thresholds": th}


def solution_from_syntax(syntax: str) -> dict:
    """A standardized solution written as lavaan syntax with values (``dynamic``'s manual entry).

    Loadings, factor correlations (``f1 ~~ .3*f2``), residual correlations
    (``y1 ~~ .2*y2``) and thresholds (``y1 | -1*t1 + 1*t2``) are read; variances are ignored.
    """
    from allyscale.syntax import parse_model

    lam, fcor, rcor, th = {}, {}, {}, {}
    stmts = parse_model(syntax)
    latent = list(dict.fromkeys(s.lhs for s in stmts if s.op == "=~"))
    for s in stmts:
        value = s.modifier.for_group(0)[0]
        if s.op in ("=~", "~~", "|") and value is None and not (s.op == "~~" and s.lhs == s.rhs):
            raise SpecificationError(f"line {s.line}: {s.lhs} {s.op} {s.rhs} needs a standardized value")
        if s.op == "=~":
            lam[(s.lhs, s.rhs)] = float(value)
        elif s.op == "~~" and s.lhs != s.rhs:
            (fcor if s.lhs in latent else rcor)[(s.lhs, s.rhs)] = float(value)
        elif s.op == "|":
            th.setdefault(s.lhs, []).append(float(value))
    return {"lambda": lam, "latent": latent, "fcor": fcor, "rcor": rcor, "thresholds": th}


def _coef_h(loadings: list[float]) -> float:
    s = sum(l**2 / (1 - l**2) for l in loadings)
    return 1 / (1 + 1 / s) if s > 0 else 0.0


def misspecifications(solution: dict) -> dict[str, list[str]]:
    """The lavaan statements of each misspecification level (see the module notes).

    Parameters
    ----------
    solution : dict
        ``lambda`` {(factor, item): loading}, ``latent`` factor names, ``fcor``
        {(f, g): r}, ``rcor`` {(item, item): r}.

    Raises
    ------
    SpecificationError
        Too few candidate items for the levels, or a just-identified model.
    """
    lam, latent = solution["lambda"], solution["latent"]
    items_of = {f: [i for (g, i) in lam if g == f] for f in latent}
    n_loads = pd.Series([i for (_, i) in lam]).value_counts()
    in_rcor = {x for pair in solution["rcor"] for x in pair}
    solo = [(f, i, lam[(f, i)]) for (f, i) in lam if n_loads[i] == 1 and i not in in_rcor]
    if len(latent) == 1:
        cand = sorted(solo, key=lambda t: abs(t[2]))
        m = len(cand)
        if m < 4:
            raise SpecificationError(
                "dfi: a one-factor model needs at least four items without residual "
                "correlations to build misspecifications"
            )
        chosen = cand[:2] if m == 4 else cand[:4] if m == 5 else cand[: (m // 2) * 2]
        pairs = [f"{chosen[k + 1][1]} ~~ 0.3*{chosen[k][1]}" for k in range(0, len(chosen), 2)]
        if m == 4:
            levels = [1]
        elif m == 5:
            levels = [1, 2]
        else:
            l3 = m // 2
            levels = [l3 // 3, (2 * l3) // 3, l3]
        return {f"level-{k + 1}": pairs[:x] for k, x in enumerate(levels)}
    nf = len(latent)
    h = {f: _coef_h([lam[(f, i)] for i in items_of[f]]) for f in latent}
    prio = {f: ("Three" if len(items_of[f]) > 2 and any(t[0] == f for t in solo) else "Two") for f in latent}
    lowest = []
    for f in latent:
        fs = [t for t in solo if t[0] == f]
        if fs:
            lowest.append(min(fs, key=lambda t: abs(t[2])))
    lowest.sort(key=lambda t: (prio[t[0]], abs(t[2])))
    crosses = lowest[: nf - 1]
    if len(crosses) < nf - 1:
        raise SpecificationError(
            "dfi: there are not enough items loading on a single factor (without residual "
            "correlations) to build all misspecification levels"
        )
    corr = {}
    for (a, b), r in solution["fcor"].items():
        corr[(a, b)] = corr[(b, a)] = r
    used: set[frozenset] = set()
    rows = []
    for f, item, load in sorted(crosses, key=lambda t: abs(t[2])):
        options = [(g, corr[(f, g)]) for g in latent if g != f and (f, g) in corr and frozenset((f, g)) not in used]
        if not options:
            continue
        best = max(options, key=lambda o: (h[o[0]], -latent.index(o[0])))
        used.add(frozenset((f, best[0])))
        phi = best[1]
        max_allow = round((math.sqrt(load**2 * phi**2 + 1 - load**2) - abs(load * phi)) * 0.95, 4)
        rows.append((prio[f], load, -h[best[0]], f"{best[0]} =~ {min(abs(load), abs(max_allow)):.4f}*{item}"))
    if len(rows) < nf - 1:
        raise SpecificationError(
            "dfi: the factors are not correlated in the fitted model, so cross-loadings "
            "cannot be placed as dynamic does"
        )
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    stmts = [r[3] for r in rows]
    return {f"level-{k}": stmts[:k] for k in range(1, len(stmts) + 1)}


def _population_syntax(solution: dict, extra: list[str]) -> str:
    """Standardized population syntax: loadings, factor correlations, residual correlations (as covariances
    scaled by the residual standard deviations of the misspecified population), thresholds."""
    lam = dict(solution["lambda"])
    for s in extra:
        if "=~" in s:
            f, rest = (x.strip() for x in s.split("=~"))
            val, item = rest.split("*")
            lam[(f, item.strip())] = float(val)
    latent = solution["latent"]
    items = list(dict.fromkeys(i for (_, i) in lam))
    lines = [f"{f} =~ " + " + ".join(f"{v:.10g}*{i}" for (g, i), v in lam.items() if g == f) for f in latent]
    phi = np.eye(len(latent))
    for (a, b), r in solution["fcor"].items():
        phi[latent.index(a), latent.index(b)] = phi[latent.index(b), latent.index(a)] = r
        lines.append(f"{a} ~~ {r:.10g}*{b}")
    lmat = np.zeros((len(items), len(latent)))
    for (f, i), v in lam.items():
        lmat[items.index(i), latent.index(f)] = v
    resid = 1 - np.einsum("ij,jk,ik->i", lmat, phi, lmat)
    bad = [items[k] for k in np.flatnonzero(resid <= 0)]
    if bad:
        raise SpecificationError(
            f"dfi: standardized loadings give a communality >= 1 for {bad} (Heywood case); "
            "dynamic cutoffs need a proper solution"
        )
    rcor = dict(solution["rcor"])
    for s in extra:
        if "~~" in s:
            a, rest = (x.strip() for x in s.split("~~"))
            val, b = rest.split("*")
            rcor[(a, b.strip())] = float(val)
    for k, i in enumerate(items):
        lines.append(f"{i} ~~ {resid[k]:.10g}*{i}")
    for (a, b), r in rcor.items():
        lines.append(f"{a} ~~ {r * math.sqrt(resid[items.index(a)] * resid[items.index(b)]):.10g}*{b}")
    for i, ths in solution["thresholds"].items():
        lines.append(f"{i} | " + " + ".join(f"{t:.10g}*t{k + 1}" for k, t in enumerate(ths)))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ simulation
_POPULATIONS: dict[str, Any] = {}


def _population(pop_syntax: str):
    """The population model of a syntax, parsed once per process (every replication of a level shares it)."""
    pm = _POPULATIONS.get(pop_syntax)
    if pm is None:
        from allyscale.simulate import PopulationModel

        if len(_POPULATIONS) > 16:
            _POPULATIONS.clear()
        pm = _POPULATIONS[pop_syntax] = PopulationModel.from_lavaan(pop_syntax, standardized=True, scale_min=0)
    return pm


def _one(job: tuple) -> dict:
    """Simulate one sample from a population and fit the user's model (pure function of the job).

    Only the fit measures are computed (``allyscale.cfa._fit_indices``: no estimates table,
    and WLSMV's catML pieces only when a ``.robust`` index is judged)."""
    from allyscale.cfa import _fit_indices
    from allyscale.simulate import simulate

    level, rep, pop_syntax, model, n, estimator, seed, ordinal = job
    ss = np.random.SeedSequence(seed, spawn_key=(level, rep))
    data = simulate(_population(pop_syntax), n, rng=np.random.default_rng(ss))
    out = {"level": level, "rep": rep}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            converged, fm = _fit_indices(
                data,
                model,
                estimator=estimator,
                std_lv=True,
                robust=any(k.endswith(".robust") for k in _INDICES[estimator]),
            )
        except (AllyscaleError, np.linalg.LinAlgError, ValueError, ArithmeticError) as exc:
            return {**out, "converged": False, "error": f"{type(exc).__name__}: {exc}"}
    out["converged"] = converged
    for k in _INDICES[estimator]:
        v = fm.get(k)
        out[k] = float(v) if v is not None else float("nan")
    return out


def _init_worker() -> None:
    from allyscale.montecarlo.runner import _worker_init

    _worker_init()


def _cutoff(mis: np.ndarray, true: np.ndarray, index: str) -> tuple[float, float]:
    power = np.round(np.arange(0.95, -0.001, -0.01), 2)
    if index.startswith("cfi"):
        t = np.quantile(true, 0.05)
        q = np.quantile(mis, power)  # CFI: misspecified quantiles .95 .. 0
        ok = q <= t
    else:
        t = np.quantile(true, 0.95)
        q = np.quantile(mis, 1 - power)  # SRMR / RMSEA: quantiles .05 .. 1
        ok = q >= t
    if not ok.any():
        return float("nan"), 0.0
    k = int(np.argmax(ok))
    if power[k] < 0.50:
        return float("nan"), float(power[k])
    return float(q[k]), float(power[k])


@blas_limited
def dfi(
    cfa_result, *, reps: int = 500, seed: int = 1, workers: int = 1, n: int | None = None, progress: bool = False
) -> DFIResult:
    """Dynamic fit index cutoffs for a fitted CFA model (McNeish & Wolf, 2023).

    Parameters
    ----------
    cfa_result : CFAResult
        The user's fitted model (from :func:`allyscale.cfa`); its estimator (ML, MLR,
        WLSMV) and N are used.
    reps : int
        Samples per population (500 as ``dynamic``; fewer gives rougher cutoffs).
    seed : int
    workers : int
        Worker processes (BLAS pinned to one thread each).
    n : int, optional
        Sample size of the simulated samples (default the fitted N, capped at 2000 as in
        ``dynamic``).
    progress : bool

    Returns
    -------
    DFIResult

    Raises
    ------
    SpecificationError
        Multiple-group, higher-order or structural models; a non-converged or improper
        fitted model; too few items to misspecify.

    Notes
    -----
    Simulation and fitting use allyscale's own :func:`~allyscale.simulate.simulate` and
    :func:`~allyscale.cfa.cfa`; the cutoffs therefore differ from ``dynamic``'s by Monte
    Carlo error (``dynamic`` uses R's random streams and ``simstandard``).
    """
    if not getattr(cfa_result, "converged", False):
        raise SpecificationError("dfi: the fitted model did not converge; dynamic cutoffs need a converged fit")
    if reps < 20:
        raise SpecificationError(f"dfi: reps must be at least 20 (500 recommended), got {reps}")
    estimator = str(cfa_result.estimator).upper()
    if estimator not in _INDICES:
        raise SpecificationError(f"dfi: estimator {estimator!r} is not supported (ML, MLR, WLSMV)")
    sol = _std_solution(cfa_result)
    ordinal = bool(sol["thresholds"])
    levels = misspecifications(sol)
    n_sim = int(min(n or _ntotal(cfa_result), 2000))
    model = cfa_result.model
    pops = [_population_syntax(sol, [])] + [_population_syntax(sol, s) for s in levels.values()]
    jobs = [(lv, r, pops[lv], model, n_sim, estimator, seed, ordinal) for lv in range(len(pops)) for r in range(reps)]
    t0 = time.perf_counter()
    rows = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), unit="fit", desc="dfi")
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from allyscale.montecarlo.runner import _BlasEnv

        with (
            _BlasEnv(),
            ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
            ) as pool,
        ):
            for row in pool.map(_one, jobs, chunksize=max(1, len(jobs) // (workers * 20))):
                rows.append(row)
                if bar is not None:
                    bar.update(1)
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            for job in jobs:
                rows.append(_one(job))
                if bar is not None:
                    bar.update(1)
    if bar is not None:
        bar.close()
    sim = pd.DataFrame(rows)
    idx = _INDICES[estimator]
    ok = sim[sim["converged"]]
    dropped = {
        (f"level-{lv}" if lv else "level-0"): int((~sim.loc[sim["level"] == lv, "converged"]).sum())
        for lv in range(len(pops))
    }
    if any(dropped.values()):
        warnings.warn(f"dfi: non-converged simulated fits excluded: {dropped}", StatisticalWarning, stacklevel=2)
    true = ok[ok["level"] == 0]
    if len(true) < 20:
        raise SpecificationError("dfi: fewer than 20 correct-model replications converged")
    table = {"level-0": {}}
    for k in idx:
        table["level-0"][_name(k)] = float(np.quantile(true[k], 0.05 if k.startswith("cfi") else 0.95))
        table["level-0"][_name(k) + "_power"] = 0.95
    for lv in range(1, len(pops)):
        mis = ok[ok["level"] == lv]
        table[f"level-{lv}"] = {}
        for k in idx:
            cut, power = _cutoff(mis[k].to_numpy(), true[k].to_numpy(), k)
            table[f"level-{lv}"][_name(k)] = cut
            table[f"level-{lv}"][_name(k) + "_power"] = power
    cutoffs = pd.DataFrame(table).T[["srmr", "srmr_power", "rmsea", "rmsea_power", "cfi", "cfi_power"]]
    fm = cfa_result.fit_measures
    fitted = {_name(k): (float(fm[k]) if fm.get(k) is not None else None) for k in idx}
    diag = {
        "non_converged": dropped,
        "seconds": time.perf_counter() - t0,
        "n_simulated": n_sim,
        "indices": list(idx),
        "ordinal": ordinal,
    }
    return DFIResult(cutoffs, levels, fitted, sim, estimator, _ntotal(cfa_result), reps, seed, diag)


def _name(index: str) -> str:
    return index.split(".")[0]


def _ntotal(res) -> int:
    n = getattr(res, "ntotal", None)
    if n is None:
        n = getattr(res, "n", None)
    if n is None:
        n = res.fit_measures.get("ntotal")
    return int(n)


from allyscale._callable import make_callable  # noqa: E402 - after the function it makes the module call

make_callable(__name__, dfi)
