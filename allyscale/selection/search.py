"""Search methods for short forms: ant-colony optimisation, simulated annealing, exhaustive search.

All three work on feasible selections only (:mod:`allyscale.selection.constraints`), draw every
random number from one ``numpy.random.Generator`` seeded by the caller (a run is reproducible
from its seed, with any number of worker processes: candidates are generated in the parent
and results are used in submission order), evaluate candidates through an :class:`Evaluator`
(which fits each distinct candidate once, shows a tqdm progress bar and stops at
``max_evaluations``) and record a trace: one row per iteration with the best objective so far.

Ant-colony optimisation follows Leite, Huang & Marcoulides (2008) and the MAX–MIN ant system
used by Olaru et al. (2019) and the R package stuart (Schultze, 2017): each item carries a
pheromone level; in every iteration ``ants`` ants each draw a feasible short form with item
probabilities proportional to pheromone^``alpha``; pheromones evaporate by ``evaporation``
and the iteration's best ant (and, every other iteration, the best so far) deposits its
objective on its items; pheromones stay within ``[tau_min, tau_max]`` so that no item is ever
excluded for good. The run stops when the best short form has not improved for ``patience``
iterations and the colony has converged (the iteration-best ant equals the best so far), or
at ``max_iterations`` / ``max_evaluations``.

Simulated annealing (Kirkpatrick, Gelatt & Vecchi, 1983; for short forms Raborn, Leite &
Marcoulides, 2020) starts from a random feasible short form and proposes exchanges of one kept
item for one dropped item of the same factor; a worse proposal is accepted with probability
``exp(Δ / T)``, the temperature falling geometrically from ``t0``; it stops when no
improvement has been seen for ``patience`` × (number of factors) proposals, or at the limits.

Exhaustive search fits every feasible short form (when their number is at most
``exhaustive_limit``) and is the exact optimum of the objective on the calibration data.

References
----------
Leite, W. L., Huang, I.-C., & Marcoulides, G. A. (2008). Multivariate Behavioral Research, 43, 411-431.
Olaru, G., Schroeders, U., Hartung, J., & Wilhelm, O. (2019). European Journal of Psychological
Assessment, 35, 1-13.
Schultze, M. (2017). stuart: Subtests using algorithmic rummaging techniques (R package).
Stützle, T., & Hoos, H. H. (2000). MAX–MIN ant system. Future Generation Computer Systems, 16, 889-914.
Kirkpatrick, S., Gelatt, C. D., & Vecchi, M. P. (1983). Optimization by simulated annealing.
Science, 220, 671-680.
Raborn, A. W., Leite, W. L., & Marcoulides, K. M. (2020). A comparison of metaheuristic
optimization algorithms for scale short-form development. Educational and Psychological
Measurement, 80, 910-931.
"""

from __future__ import annotations

import itertools
import math
import multiprocessing as mp
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allyscale.errors import SpecificationError
from allyscale.selection.constraints import Constraints
from allyscale.selection.objective import Evaluation

__all__ = ["Evaluator", "SearchOutcome", "aco", "annealing", "exhaustive", "METHODS"]

METHODS = ("aco", "sa", "exhaustive", "auto")

# state shared with forked worker processes (set in the parent before the pool starts)
_WORKER: dict[str, Any] = {}


def _work(selection):
    return _WORKER["fn"](selection)


def _key(selection: Mapping[str, Sequence[str]]) -> tuple:
    return tuple((f, tuple(sorted(v))) for f, v in sorted(selection.items()))


class Evaluator:
    """Evaluates candidates once each, in batches, optionally in worker processes.

    Parameters
    ----------
    fn : callable selection → Evaluation
    max_evaluations : int
        Stop evaluating after this many distinct candidates (later requests get ``None``).
    workers : int
        Worker processes (1: in this process). Workers are forked (Linux) and inherit the
        shared statistics without copying.
    progress : bool
        Show a tqdm progress bar (on standard error).
    """

    def __init__(
        self,
        fn: Callable,
        *,
        max_evaluations: int,
        workers: int = 1,
        progress: bool = True,
        desc: str = "short form search",
    ):
        self.fn = fn
        self.max_evaluations = int(max_evaluations)
        self.cache: dict[tuple, Evaluation] = {}
        self.order: list[Evaluation] = []
        self.requests = 0
        self._pool = None
        if workers > 1:
            if "fork" not in mp.get_all_start_methods():
                raise SpecificationError("workers > 1 needs the 'fork' start method (Linux, macOS)")
            _WORKER["fn"] = fn
            from allyscale._threads import set_kernel_threads

            # the workers are the parallelism: one thread each for the large split kernels
            self._pool = mp.get_context("fork").Pool(workers, initializer=set_kernel_threads, initargs=(1,))
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=self.max_evaluations, desc=desc, unit="fit", disable=not progress, file=sys.stderr, leave=False
        )

    @property
    def n_evaluations(self) -> int:
        return len(self.order)

    @property
    def exhausted(self) -> bool:
        return self.n_evaluations >= self.max_evaluations

    def evaluate(self, selections: list[Mapping[str, Sequence[str]]]) -> list[Evaluation | None]:
        self.requests += len(selections)
        todo: list[tuple] = []
        keys = [_key(s) for s in selections]
        for k, s in zip(keys, selections):
            if k not in self.cache and k not in [t[0] for t in todo]:
                if self.n_evaluations + len(todo) >= self.max_evaluations:
                    continue
                todo.append((k, {f: tuple(v) for f, v in s.items()}))
        if todo:
            if self._pool is not None:
                results = self._pool.map(_work, [s for _, s in todo], chunksize=1)
            else:
                results = [self.fn(s) for _, s in todo]
            for (k, _), r in zip(todo, results):
                self.cache[k] = r
                self.order.append(r)
            self.bar.update(len(todo))
        return [self.cache.get(k) for k in keys]

    def close(self) -> None:
        self.bar.close()
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
            _WORKER.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._pool is not None and exc[0] is not None:
            self._pool.terminate()
            self._pool = None
            _WORKER.clear()
        self.close()


@dataclass
class SearchOutcome:
    """What a search returns: the best evaluation, the trace and how it ended."""

    best: Evaluation
    trace: pd.DataFrame
    stopped: str
    iterations: int
    settings: dict = field(default_factory=dict)


def _better(a: Evaluation | None, b: Evaluation | None) -> bool:
    return a is not None and (b is None or a.objective > b.objective)


def aco(
    constraints: Constraints,
    evaluator: Evaluator,
    rng: np.random.Generator,
    *,
    ants: int = 20,
    evaporation: float = 0.1,
    alpha: float = 1.0,
    tau_min: float = 0.1,
    tau_max: float = 10.0,
    max_iterations: int = 200,
    patience: int = 15,
) -> SearchOutcome:
    """MAX–MIN ant-colony optimisation (see the module docstring)."""
    if ants < 1 or not 0 < evaporation < 1 or not 0 < tau_min < tau_max:
        raise SpecificationError("ACO needs ants >= 1, 0 < evaporation < 1 and 0 < tau_min < tau_max")
    items = [i for r in constraints.rules for i in r.items]
    tau = {i: tau_max for i in items}
    best: Evaluation | None = None
    rows = []
    stale = 0
    stopped = "max_iterations"
    it = 0
    for it in range(1, max_iterations + 1):
        weights = {i: tau[i] ** alpha for i in items}
        batch = [constraints.sample(rng, weights) for _ in range(ants)]
        results = [r for r in evaluator.evaluate(batch) if r is not None]
        if not results:
            stopped = "max_evaluations"
            it -= 1
            break
        it_best = max(results, key=lambda r: r.objective)
        improved = _better(it_best, best) and (best is None or it_best.objective > best.objective + 1e-12)
        if improved:
            best = it_best
            stale = 0
        else:
            stale += 1
        for i in items:
            tau[i] *= 1.0 - evaporation
        depositor = best if it % 2 == 0 else it_best
        for v in depositor.selection.values():
            for i in v:
                tau[i] += depositor.objective * tau_max * evaporation
        for i in items:
            tau[i] = min(tau_max, max(tau_min, tau[i]))
        rows.append(
            {
                "iteration": it,
                "evaluations": evaluator.n_evaluations,
                "best": best.objective,
                "iteration_best": it_best.objective,
                "iteration_mean": float(np.mean([r.objective for r in results])),
                "accepted_share": float(np.mean([bool(r.accepted) for r in results])),
            }
        )
        if stale >= patience and _key(it_best.selection) == _key(best.selection):
            stopped = "converged"
            break
        if stale >= 3 * patience:
            stopped = "no improvement"
            break
        if evaluator.exhausted:
            stopped = "max_evaluations"
            break
    if best is None:
        raise SpecificationError("the search evaluated no candidate (max_evaluations too small?)")
    return SearchOutcome(
        best,
        pd.DataFrame(rows),
        stopped,
        it,
        {
            "method": "aco",
            "ants": ants,
            "evaporation": evaporation,
            "alpha": alpha,
            "tau_min": tau_min,
            "tau_max": tau_max,
            "max_iterations": max_iterations,
            "patience": patience,
        },
    )


def annealing(
    constraints: Constraints,
    evaluator: Evaluator,
    rng: np.random.Generator,
    *,
    t0: float = 0.02,
    cooling: float = 0.97,
    steps_per_temperature: int = 10,
    max_iterations: int = 200,
    patience: int = 15,
) -> SearchOutcome:
    """Simulated annealing over feasible single-item exchanges (see the module docstring)."""
    if not t0 > 0 or not 0 < cooling < 1:
        raise SpecificationError("simulated annealing needs t0 > 0 and 0 < cooling < 1")
    current = evaluator.evaluate([constraints.sample(rng)])[0]
    if current is None:
        raise SpecificationError("the search evaluated no candidate (max_evaluations too small?)")
    best = current
    temp = t0
    rows = []
    stale = 0
    stopped = "max_iterations"
    limit = patience * max(1, len(constraints.rules))
    it = 0
    for it in range(1, max_iterations + 1):
        accepted_moves = 0
        for _ in range(steps_per_temperature):
            rule = constraints.rules[int(rng.integers(len(constraints.rules)))]
            moves = rule.swaps(current.selection[rule.factor])
            if not moves:
                continue
            out, inn = moves[int(rng.integers(len(moves)))]
            sel = dict(current.selection)
            sel[rule.factor] = tuple(i for i in rule.items if i in (set(sel[rule.factor]) - {out}) | {inn})
            cand = evaluator.evaluate([sel])[0]
            if cand is None:
                break
            delta = cand.objective - current.objective
            if delta >= 0 or rng.random() < math.exp(delta / temp):
                current = cand
                accepted_moves += 1
            if cand.objective > best.objective + 1e-12:
                best = cand
                stale = 0
            else:
                stale += 1
        rows.append(
            {
                "iteration": it,
                "evaluations": evaluator.n_evaluations,
                "best": best.objective,
                "iteration_best": current.objective,
                "iteration_mean": current.objective,
                "accepted_share": accepted_moves / steps_per_temperature,
                "temperature": temp,
            }
        )
        temp *= cooling
        if stale >= limit:
            stopped = "converged"
            break
        if evaluator.exhausted:
            stopped = "max_evaluations"
            break
    return SearchOutcome(
        best,
        pd.DataFrame(rows),
        stopped,
        it,
        {
            "method": "sa",
            "t0": t0,
            "cooling": cooling,
            "steps_per_temperature": steps_per_temperature,
            "max_iterations": max_iterations,
            "patience": patience,
        },
    )


def exhaustive(constraints: Constraints, evaluator: Evaluator, *, limit: int, batch: int = 50) -> SearchOutcome:
    """Every feasible short form (at most ``limit``); the exact optimum of the objective."""
    per_factor = [list(r.combinations()) for r in constraints.rules]
    total = math.prod(len(c) for c in per_factor)
    if total > limit:
        raise SpecificationError(
            f"exhaustive search: {total:,} feasible short forms, more than exhaustive_limit="
            f"{limit:,}; use method='aco' or 'sa', or raise the limit"
        )
    if total > evaluator.max_evaluations:
        raise SpecificationError(
            f"exhaustive search needs {total:,} evaluations, more than max_evaluations={evaluator.max_evaluations:,}"
        )
    best: Evaluation | None = None
    rows = []
    combos = itertools.product(*per_factor)
    factors = constraints.factors
    it = 0
    while True:
        chunk = list(itertools.islice(combos, batch))
        if not chunk:
            break
        it += 1
        results = evaluator.evaluate([dict(zip(factors, c)) for c in chunk])
        for r in results:
            if _better(r, best):
                best = r
        rows.append(
            {
                "iteration": it,
                "evaluations": evaluator.n_evaluations,
                "best": best.objective,
                "iteration_best": max(r.objective for r in results if r is not None),
                "iteration_mean": float(np.mean([r.objective for r in results if r is not None])),
                "accepted_share": float(np.mean([bool(r.accepted) for r in results if r is not None])),
            }
        )
    return SearchOutcome(best, pd.DataFrame(rows), "complete", it, {"method": "exhaustive", "space": total})
