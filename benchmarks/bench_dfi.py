"""Time of ``allyscale.dfi`` with WLSMV on the 100-item allyship pool (six correlated factors).

    .venv/bin/python benchmarks/bench_dfi.py [--n 500] [--reps 20] [--full] [--workers 2] [--profile out.prof]
                                             [--breakdown]

The user's model is the pool's ``correlated`` structure fitted with WLSMV to a simulated
sample of ``--n`` cases (seed 2024). Without ``--full`` the script times ``--reps``
replications of every level in this process (BLAS pinned to one thread, as the workers run;
with ``--breakdown`` also the CPU seconds per replication in the engine's main steps: sample
statistics, polychorics, the N x N Gram matrix, the iterations, the start values, the whole
estimation) and projects ``dfi``'s default 500 replications per level onto ``--workers`` cores
(CPU seconds per replication x replications / workers). With ``--full`` it runs
``dfi(fit, workers=--workers)`` with its defaults and prints the wall-clock time. The load
average is printed with every timing (other processes on the machine slow it down).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _time_parts() -> dict[str, float]:
    """Wrap the engine's main steps so that each adds its CPU seconds to the returned dict
    (nested steps are counted in their callers too: polychorics within sample statistics, the
    Gram matrix and the iterations within estimation)."""
    import importlib

    wlsmv = importlib.import_module("allyscale._core.wlsmv")
    wlsstats = importlib.import_module("allyscale._core.wlsstats")
    polychoric = importlib.import_module("allyscale._core.polychoric")
    parts: dict[str, float] = {}
    steps = (
        (wlsmv, "sample_statistics", "sample statistics"),
        (polychoric, "polychoric_pairs", "polychorics"),
        (wlsstats, "_all_rows", "influence matrix"),
        (wlsmv, "estimate", "estimation"),
        (wlsstats.ACov, "gram", "Gram matrix"),
        (wlsmv, "_gauss_newton", "iterations"),
        (wlsmv, "_start", "start values"),
    )
    for owner, name, label in steps:
        func = getattr(owner, name)
        parts[label] = 0.0

        def timed(*a, _f=func, _label=label, **k):
            c = time.process_time()
            try:
                return _f(*a, **k)
            finally:
                parts[_label] += time.process_time() - c

        setattr(owner, name, timed)
    return parts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--reps", type=int, default=20, help="replications timed per level (projection)")
    ap.add_argument("--full", action="store_true", help="run dfi with its default replications")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--profile", help="write a cProfile of the timed replications here")
    ap.add_argument("--breakdown", action="store_true", help="CPU seconds per replication in the main steps")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    warnings.simplefilter("ignore")
    import importlib

    from threadpoolctl import threadpool_limits

    import allyscale as al
    from allyscale.simulate import simulate

    dfi_mod = importlib.import_module("allyscale.dfi")
    pool = al.load_pool(ROOT / "item_pools" / "allyship.yaml")
    model = pool.model_syntax("correlated")
    data = simulate(pool, args.n, seed=2024)
    fit = al.cfa(data[pool.item_ids], model, estimator="WLSMV")
    print(
        f"user's model: {len(pool.item_ids)} items, {fit.fit_measures['df']:.0f} df, N = {args.n}; "
        f"converged {fit.converged}"
    )
    if args.full:
        t0, c0 = time.perf_counter(), time.process_time()
        res = dfi_mod.dfi(fit, workers=args.workers)
        wall = time.perf_counter() - t0
        n_fits = len(res.simulated)
        print(
            f"dfi(WLSMV, {len(res.misspecifications) + 1} levels x {res.reps} reps = {n_fits} fits, "
            f"workers={args.workers}): {wall:.1f} s wall ({_load()})"
        )
        print(res.cutoffs.to_string())
        return
    sol = dfi_mod._std_solution(fit)
    levels = dfi_mod.misspecifications(sol)
    pops = [dfi_mod._population_syntax(sol, [])] + [dfi_mod._population_syntax(sol, s) for s in levels.values()]
    n_sim = min(args.n, 2000)
    jobs = [(lv, r, pops[lv], fit.model, n_sim, "WLSMV", 1, True) for lv in range(len(pops)) for r in range(args.reps)]
    parts = _time_parts() if args.breakdown else None
    with threadpool_limits(1):
        dfi_mod._one(jobs[0])  # warm-up (imports, parsed populations)
        if parts is not None:
            parts.update(dict.fromkeys(parts, 0.0))
        prof = None
        if args.profile:
            import cProfile

            prof = cProfile.Profile()
            prof.enable()
        t0, c0 = time.perf_counter(), time.process_time()
        for job in jobs:
            dfi_mod._one(job)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if prof is not None:
            prof.disable()
            prof.dump_stats(args.profile)
    per = cpu / len(jobs)
    total = per * len(pops) * 500
    print(
        f"{len(jobs)} replications ({len(pops)} levels x {args.reps}): {cpu / len(jobs):.3f} CPU-s "
        f"({wall / len(jobs):.3f} s wall) per replication ({_load()})"
    )
    if parts is not None:
        print("CPU-s per replication: " + ", ".join(f"{k} {v / len(jobs):.4f}" for k, v in parts.items()))
    print(
        f"projected dfi with 500 replications per level: {total:.0f} CPU-s, {total / args.workers:.0f} s "
        f"on {args.workers} workers"
    )


if __name__ == "__main__":
    main()
