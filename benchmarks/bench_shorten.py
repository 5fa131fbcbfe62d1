"""Short-form search speed: a 30-item six-factor short form of the allyship pool by ACO.

Target (issue 17): N = 800, 30 items with at least one item from each of the 20 facets, ant-colony
optimisation, >= 2,000 WLSMV candidate evaluations in <= 5 minutes on 2 cores.

The search runs on all 800 respondents (a second simulated sample of 800 is the holdout). It is
run to exactly ``EVALUATIONS`` distinct candidate fits (early stopping off), with two worker
processes. Printed: the number of candidate fits, fits per second, the search and total times,
the search's CPU time (load-independent: on a shared machine the wall time depends on the
other jobs, so the CPU time divided by the number of workers is also given),
peak memory, and lavaan 0.6.14's time for one candidate fit on the same data (the chosen short
form; Rscript, best of 3, in the same run) with the projected time of the same search in lavaan.

Run: ``python benchmarks/bench_shorten.py [--evaluations N] [--workers W]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

from threadpoolctl import threadpool_limits

import allyscale as al
from allyscale.selection.objective import model_syntax

HERE = Path(__file__).resolve().parent
POOL = HERE.parent / "item_pools" / "allyship.yaml"
K = {"trust": 7, "action": 6, "awareness": 6, "knowledge": 4, "accountability": 4, "communication": 3}  # 30 items

R_SCRIPT = r"""
suppressMessages(library(lavaan))
cat("lavaan", as.character(packageVersion("lavaan")), "\n")
d <- read.csv("data.csv")
model <- paste(readLines("model.lav"), collapse = "\n")
items <- names(d)
t <- replicate(3, system.time(cfa(model, data = d, ordered = items, estimator = "WLSMV")))
cat("seconds", min(t["elapsed", ]), "\n")
cat("cpu", min(t["user.self", ] + t["sys.self", ]), "\n")
"""


def lavaan_seconds(data, selection) -> tuple[float, float] | None:
    """lavaan's wall and CPU time for one WLSMV fit of the chosen candidate on the search's data (None without R)."""
    if shutil.which("Rscript") is None:
        return None
    items = [i for v in selection.values() for i in v]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data[items].to_csv(tmp / "data.csv", index=False)
        (tmp / "model.lav").write_text(model_syntax(selection))
        (tmp / "run.R").write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", "run.R"], cwd=tmp, capture_output=True, text=True, timeout=600)
    got = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        if key in ("seconds", "cpu"):
            got[key] = float(value)
        if key == "lavaan":
            print(f"  ({line.strip()})")
    if len(got) == 2:
        return got["seconds"], got["cpu"]
    print("  lavaan timing failed:", out.stderr[-500:])
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--evaluations", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    threadpool_limits(1)
    warnings.simplefilter("ignore")
    pool = al.load_pool(POOL)
    pm = al.PopulationModel.from_pool(pool, structure="second_order", thresholds="skewed")
    data = al.simulate(pm, n=800, seed=2023)
    holdout = al.simulate(pm, n=800, seed=2024)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    result = al.shorten(
        data,
        pool=pool,
        items_per_factor=K,
        min_per_facet=1,
        method="aco",
        seed=args.seed,
        holdout=holdout,
        max_evaluations=args.evaluations,
        workers=args.workers,
        progress=False,
        search_options={"ants": 20, "patience": 10**6, "max_iterations": 10**6},
    )
    total = time.perf_counter() - t0
    d = result.diagnostics
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    print(
        f"Short form of the allyship pool: {len(result.kept)} items ({', '.join(f'{f} {k}' for f, k in K.items())}), "
        f"every facet covered; N = {d['n_calibration']} (search), holdout N = {d['n_holdout']}"
    )
    print(
        f"ACO, {args.workers} worker(s): {d['evaluations']} WLSMV candidate fits in {d['search_seconds']:.1f} s "
        f"= {d['evaluations_per_second']:.1f} fits/s wall (target >= 2,000 fits in <= 300 s on 2 cores: "
        f"{'met' if d['evaluations'] >= 2000 and d['search_seconds'] <= 300 else 'not met'} in wall time here)"
    )
    cpu = d["search_cpu_seconds"]
    print(
        f"  CPU time of the search (workers included): {cpu:.1f} s = {d['evaluations'] / cpu:.1f} fits per CPU-second; "
        f"on {args.workers} otherwise idle cores the search would take about {cpu / args.workers:.0f} s "
        f"(load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on {os.cpu_count()} cores): "
        f"target {'met' if d['evaluations'] >= 2000 and cpu / args.workers <= 300 else 'not met'} by CPU time"
    )
    print(
        f"total with shared statistics, item statistics and confirmation: {total:.1f} s; "
        f"peak memory {peak / 1024:.0f} MiB (largest process)"
    )
    print(
        f"objective {result.best.objective:.4f}; holdout: "
        + result.comparison.loc["short / holdout", ["chisq", "df", "pvalue", "cfi.scaled", "rmsea.scaled"]]
        .round(3)
        .to_string()
        .replace("\n", ", ")
    )
    lav = lavaan_seconds(al.reverse_score(data, pool), result.selection)  # the search's data (all 800)
    if lav is not None:
        lav_wall, lav_cpu = lav
        per_cpu = cpu / max(1, d["evaluations"])
        print(
            f"lavaan 0.6.14, one candidate fit (30 items, N = 800, WLSMV): {lav_wall:.2f} s wall, {lav_cpu:.2f} s "
            f"CPU; allyscale {per_cpu:.3f} CPU-s per candidate ({lav_cpu / per_cpu:.0f}x less CPU); the same "
            f"{d['evaluations']} fits in lavaan: about {d['evaluations'] * lav_cpu / 60:.0f} CPU-minutes"
        )


if __name__ == "__main__":
    main()
