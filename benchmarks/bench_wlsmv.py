"""WLSMV timings: sim60 (60 items, 5 categories, N = 500) against lavaan, a 100-item pool model,
and the pool's two-group (self / informant) invariance sequence.

Warm process, best of 3; every timed fit starts from the raw data (the cache of sample
statistics that competing models on one data set share is cleared first), so the times
include the polychorics and their asymptotic covariance. lavaan's time for sim60 is reference.json["cfa_wlsmv"]["seconds"]
(measured by the R script on a shared 2-core machine).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

import allyscale as al
from _timing import best_of

HERE = Path(__file__).resolve().parent
SIM60 = HERE.parent / "tests" / "reference" / "sim60"


def cold_fit(data, model):
    from allyscale._core import wlsmv

    if wlsmv._CACHE is not None:
        wlsmv._CACHE.clear()
    return al.cfa(data, model, estimator="WLSMV")


def main() -> None:
    threadpool_limits(1)
    warnings.simplefilter("ignore")
    ref = json.loads((SIM60 / "reference.json").read_text())
    data = pd.read_csv(SIM60 / "data.csv")
    model = (SIM60 / "model.lav").read_text()
    t = best_of(lambda: cold_fit(data, model))
    lav = ref["cfa_wlsmv"]["seconds"]
    print(f"WLSMV sim60 (60 items, 6 factors, N = 500): {t:.2f} s; lavaan {lav:.1f} s -> {lav / t:.0f}x faster "
          "(target >= 20x)")
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
