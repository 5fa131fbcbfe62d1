"""Time per replication of the canonical allyship study and its projected duration on 2 cores.

    .venv/bin/python benchmarks/bench_montecarlo.py [--reps 2] [--estimator WLSMV|ML] [--workers 2]

Each replication of studies/allyship.yaml simulates one sample, fits the four competing
models and runs parallel analysis and MAP. The script times a few replications at every
sample size (in this process, BLAS pinned to one thread, as the workers run), projects the
full study (4 conditions x 500 replications) onto ``--workers`` cores, and then times a real
``run_study`` with ``--workers`` processes on a short version of the study to check the
projection (speed-up over one process). WLSMV is used when ``allyscale.cfa`` supports it,
else ML (reported). It also times one fit with default BLAS threading for the ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=2, help="replications timed per sample size")
    ap.add_argument("--estimator", default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--short-reps",
        type=int,
        default=None,
        help="replications per condition of the parallel check [default 4 x workers]",
    )
    args = ap.parse_args()

    from threadpoolctl import threadpool_limits

    import allyscale
    from allyscale.errors import SpecificationError
    from allyscale.montecarlo import load_study, replicate, run_study

    raw = load_study(ROOT / "studies" / "allyship.yaml").raw
    raw = {**raw, "pool": str(ROOT / "item_pools" / "allyship.yaml")}
    estimator = args.estimator or raw["analysis"]["estimator"]
    if estimator == "WLSMV":
        pm = load_study(raw).population_model({"n": 200})
        from allyscale.simulate import simulate

        try:
            allyscale.cfa(simulate(pm, 200, seed=1).iloc[:, :6], "f =~ " + " + ".join(pm.items[:6]), estimator="WLSMV")
        except SpecificationError as exc:
            print(f"WLSMV not available ({exc}); timing ML instead")
            estimator = "ML"
    raw["analysis"] = {**raw["analysis"], "estimator": estimator}
    spec = load_study(raw)
    print(
        f"study {spec.name}: {len(spec.condition_list)} conditions x {spec.reps} reps, models {list(spec.models)}, "
        f"estimator {estimator}, retention {list(spec.retention)}"
    )
    per_condition = []
    with threadpool_limits(1):
        replicate(spec, 0, 99_999)  # warm-up (imports, caches; a replication not timed below)
        for c, cond in enumerate(spec.condition_list):
            times, fit_times, parts = [], {}, {}
            for r in range(args.reps):
                out = replicate(spec, c, 10_000 + r)
                times.append(out["seconds"])
                for k, v in out["timing"].items():
                    parts.setdefault(k, []).append(v)
                for m, f in out["fits"].items():
                    fit_times.setdefault(m, []).append(f["seconds"])
                    if f.get("error"):
                        print(f"  {m}: {f['error']}")
            per_condition.append(np.mean(times))
            fits = ", ".join(f"{m} {np.mean(t):.2f}s" for m, t in fit_times.items())
            split = ", ".join(f"{k} {np.mean(v):.2f}s" for k, v in parts.items())
            print(f"n = {cond['n']:4d}: {np.mean(times):6.2f} s per replication ({split}; fits: {fits})")
    total_1 = sum(t * spec.reps for t in per_condition)
    proj = total_1 / args.workers
    print(
        f"projected canonical study: {total_1 / 60:.1f} min on 1 core, {proj / 60:.1f} min on {args.workers} cores "
        f"(target < 30 min): {'OK' if proj < 1800 else 'ABOVE TARGET'}"
    )
    # real parallel run of a short study: speed-up over the serial timing
    short = {**raw, "reps": args.short_reps or 4 * args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        rep = run_study(short, Path(tmp) / "bench.sqlite", workers=args.workers, progress=False)
        wall = time.perf_counter() - t0
    serial = sum(per_condition) * short["reps"]
    print(
        f"run_study with {args.workers} workers, {rep.ran} replications: {wall:.1f} s wall "
        f"(serial estimate {serial:.1f} s, speed-up {serial / wall:.2f}x, includes worker start-up)"
    )
    full = len(spec.condition_list) * spec.reps
    print(
        f"projected canonical study from this run: {full * wall / rep.ran / 60:.1f} min on {args.workers} "
        f"cores ({full} replications at {wall / rep.ran:.2f} s wall each; start-up included, so an upper "
        f"bound): {'OK' if full * wall / rep.ran < 1800 else 'ABOVE TARGET'}"
    )
    # BLAS threading effect on one fit of the true model
    from allyscale.simulate import simulate

    data = simulate(spec.population_model({"n": 500}), 500, seed=3)
    model = spec.models[spec.true_model]
    timings = {}
    for label, limit in (("1 thread", 1), ("default threads", None)):
        with threadpool_limits(limit):
            allyscale.cfa(data, model, estimator=estimator, std_lv=True)
            t0 = time.perf_counter()
            for _ in range(3):
                allyscale.cfa(data, model, estimator=estimator, std_lv=True)
            timings[label] = (time.perf_counter() - t0) / 3
    print(
        f"one {spec.true_model} fit (N = 500): "
        + ", ".join(f"{k} {v:.3f} s" for k, v in timings.items())
        + f"; default/1-thread ratio {timings['default threads'] / timings['1 thread']:.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
