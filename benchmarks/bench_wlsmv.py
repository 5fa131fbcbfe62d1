"""WLSMV timings: sim60 (60 items, 5 categories, N = 500) against lavaan, a 100-item pool model,
and the pool's two-group (self / informant) invariance sequence.

Warm process, best of 3; every timed fit starts from the raw data (the cache of sample
statistics that competing models on one data set share is cleared first), so the times
include the polychorics and their asymptotic covariance. lavaan's time for sim60 is reference.json["cfa_wlsmv"]["seconds"]
(measured by the R script on a shared 2-core machine); with ``--lavaan`` lavaan 0.6.14 fits
sim60 in the same run (``bench_engine.R``, one BLAS thread) and the ratio uses that time. The
load average is printed with the timings (other processes on the machine slow both down).

    python benchmarks/bench_wlsmv.py [--lavaan] [--sim60-only]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import pandas as pd
from _timing import best_of
from threadpoolctl import threadpool_limits

import allyscale as al

HERE = Path(__file__).resolve().parent
SIM60 = HERE.parent / "tests" / "reference" / "sim60"


def cold_fit(data, model):
    from allyscale._core import wlsmv

    if wlsmv._CACHE is not None:
        wlsmv._CACHE.clear()
    return al.cfa(data, model, estimator="WLSMV")


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def lavaan_sim60() -> tuple[float, float, float] | None:
    """lavaan's wall-clock and CPU seconds and chisq.scaled for sim60 (``bench_engine.R``), or None."""
    if not shutil.which("Rscript"):
        return None
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    r = subprocess.run(
        ["Rscript", str(HERE / "bench_engine.R"), str(SIM60 / "data.csv"), str(SIM60 / "model.lav")],
        capture_output=True,
        text=True,
        env=env,
    )
    line = [x for x in r.stdout.splitlines() if x.startswith("lavaan ")]
    if not line:
        print("lavaan failed: " + (r.stderr or r.stdout)[-300:])
        return None
    parts = line[-1].split()
    blas = [x[5:].strip() for x in r.stdout.splitlines() if x.startswith("blas ")]
    print(f"  R's BLAS: {blas[-1] if blas else 'unknown'}")
    return float(parts[3]), float(parts[7]), float(parts[5])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lavaan", action="store_true", help="time lavaan on sim60 in this run")
    ap.add_argument("--sim60-only", action="store_true")
    args = ap.parse_args()
    threadpool_limits(1)
    warnings.simplefilter("ignore")
    ref = json.loads((SIM60 / "reference.json").read_text())
    data = pd.read_csv(SIM60 / "data.csv")
    model = (SIM60 / "model.lav").read_text()
    t = best_of(lambda: cold_fit(data, model))
    c0 = time.process_time()
    fit = cold_fit(data, model)
    cpu = time.process_time() - c0
    print(f"WLSMV sim60 (60 items, 6 factors, N = 500): {t:.3f} s (best of 3), CPU {cpu:.3f} s; {_load()}")
    measured = lavaan_sim60() if args.lavaan else None
    if measured is not None:
        lav, lav_cpu, lav_chisq = measured
        print(
            f"  lavaan in this run: {lav:.1f} s (CPU {lav_cpu:.1f} s) -> {lav / t:.0f}x faster (CPU "
            f"{lav_cpu / cpu:.0f}x); chisq.scaled {fit.fit_measures['chisq.scaled']:.4f} vs lavaan {lav_chisq:.4f}; "
            f"{_load()}"
        )
    else:
        lav = ref["cfa_wlsmv"]["seconds"]
        print(f"  lavaan {lav:.1f} s (stored reference time) -> {lav / t:.0f}x faster")
    if args.sim60_only:
        return
    pool = al.load_pool(HERE.parent / "item_pools" / "allyship.yaml")
    pm = al.PopulationModel.from_pool(pool, categories=5)
    big = al.reverse_score(al.simulate(pm, n=500, seed=1), pool)
    syntax = pool.model_syntax("correlated")
    t100 = best_of(lambda: cold_fit(big, syntax), repeats=1)
    print(f"WLSMV 100 items, 6 factors, N = 500: {t100:.2f} s (target < 10 s; lavaan about 16 minutes here)")
    # ordinal invariance of the pool across forms: two groups of 400, Wu & Estabrook (2016) sequence
    two = al.simulate(pm, n=800, seed=2)
    two["form"] = ["self"] * 400 + ["informant"] * 400
    t_cfg = best_of(lambda: al.cfa(two, syntax, estimator="WLSMV", group="form"), repeats=1)
    print(f"WLSMV 100 items, 2 groups x 400, configural: {t_cfg:.2f} s")
    t_inv = best_of(lambda: al.invariance(two, syntax, group="form", estimator="WLSMV"), repeats=1)
    print(f"ordinal invariance table (4 fits, 3 difference tests), same data: {t_inv:.2f} s")


if __name__ == "__main__":
    main()
