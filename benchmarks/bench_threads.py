"""Library calls as fast as the command line: psych's bfi, ML with FIML, through the Python API.

The command line pins BLAS to one thread for the whole process; a Python session (a notebook) leaves BLAS at
its default, one thread per core. allyscale's entry points now limit BLAS themselves while they run
(``allyscale/_threads.py``). This script times ``al.cfa(bfi, five-factor model, estimator="ML",
missing="fiml")`` in fresh processes, each the way a user would run it:

* ``single-threaded``: ``OMP_NUM_THREADS=1`` etc. in the environment (what the command line does): the reference;
* ``python API``: no thread variables (BLAS at its default), allyscale's own limit active (the default);
* ``python API, no limit``: the same with ``ALLYSCALE_BLAS_THREADS=none`` (what the library did before);

first with nothing else started by this script, then with a competing CPU-bound process (a busy loop that the
script starts and stops itself). It prints every time, the medians and the ratio of each median to the
single-threaded median (target: the python API within 1.3x), and the machine's load average before each
block, since on a shared machine other users' processes are competing too.

It also measures what the limit costs on a tiny fit (6 items, N = 200), in one process: the time of entering
and leaving the limit (cached controller) against ``threadpoolctl.threadpool_limits(1)``, and the fit with and
without the limit.

Run: ``python benchmarks/bench_threads.py [--reps 3] [--reps-unlimited 1] [--competitors 1]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLAS_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "ALLYSCALE_BLAS_THREADS",
)

FIT = """
import time, warnings
import pandas as pd
import allyscale as al
warnings.simplefilter("ignore")
data = pd.read_csv("tests/reference/bfi/data.csv")
model = open("tests/reference/bfi/model.lav").read()
t0 = time.perf_counter()
fit = al.cfa(data, model, estimator="ML", missing="fiml")
elapsed = time.perf_counter() - t0
assert abs(fit.fit_measures["chisq"]) > 0
print(elapsed)
"""

BUSY = "while True:\n    pass\n"

TINY = """
import time, warnings
import numpy as np
import allyscale as al
from allyscale import _threads
from threadpoolctl import threadpool_limits, threadpool_info
warnings.simplefilter("ignore")
pool = al.load_pool("item_pools/allyship.yaml")
data = al.simulate(pool, 200, seed=1)
f = pool.factor_items()
a, b = list(f)[:2]
model = f"{a} =~ {' + '.join(f[a][:3])}\\n{b} =~ {' + '.join(f[b][:3])}"

def per_call(fn, k):
    fn()
    t0 = time.perf_counter()
    for _ in range(k):
        fn()
    return (time.perf_counter() - t0) / k

@_threads.blas_limited
def empty():
    return None

def fresh():
    with threadpool_limits(1):
        pass

print("BLAS libraries:", ", ".join(f"{i['internal_api']} ({i['num_threads']} threads)" for i in threadpool_info()))
print(f"enter+leave the limit (cached controller): {1e3 * per_call(empty, 2000):.3f} ms")
print(f"threadpoolctl.threadpool_limits(1) each time: {1e3 * per_call(fresh, 200):.3f} ms")
fit = lambda: al.cfa(data, model, estimator="ML")
_threads.set_blas_threads(1)
times_on = [per_call(fit, 20) for _ in range(5)]
_threads.set_blas_threads(None)
times_off = [per_call(fit, 20) for _ in range(5)]
print(f"tiny ML fit (6 items, N = 200), median of 5 x 20: limit on {1e3 * np.median(times_on):.2f} ms, "
      f"limit off {1e3 * np.median(times_off):.2f} ms")
"""


def run(code: str, env_changes: dict[str, str | None]) -> str:
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARS}
    env.update({k: v for k, v in env_changes.items() if v is not None})
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout


SINGLE = {v: "1" for v in BLAS_VARS if v != "ALLYSCALE_BLAS_THREADS"}
CONDITIONS = {
    "single-threaded": SINGLE,
    "python API": {},
    "python API, no limit": {"ALLYSCALE_BLAS_THREADS": "none"},
}


def block(label: str, reps: int, reps_unlimited: int) -> dict[str, float]:
    print(
        f"\n## {label}; load average before: {', '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} cores)",
        flush=True,
    )
    times: dict[str, list[float]] = {c: [] for c in CONDITIONS}
    for rep in range(reps):  # interleaved, so a change in other users' load hits every condition alike
        for cond, env in CONDITIONS.items():
            if cond == "python API, no limit" and rep >= reps_unlimited:
                continue
            times[cond].append(float(run(FIT, env).strip().splitlines()[-1]))
            print(f"   {cond}: {times[cond][-1]:.2f} s (load {os.getloadavg()[0]:.2f})", flush=True)
    med = {c: statistics.median(t) for c, t in times.items()}
    ref = med["single-threaded"]
    for cond, t in times.items():
        print(
            f"{cond:>22}: median {med[cond]:7.2f} s  ({med[cond] / ref:4.2f}x single-threaded)   "
            f"runs: {', '.join(f'{x:.2f}' for x in t)}",
            flush=True,
        )
    return med


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--competitors", type=int, default=1, help="CPU-bound processes started for the second block")
    ap.add_argument(
        "--reps-unlimited", type=int, default=None, help="runs of the slow 'no limit' condition (default --reps)"
    )
    args = ap.parse_args()
    print("psych's bfi (2,800 x 25, missing values), five-factor model, cfa(estimator='ML', missing='fiml')")
    print(run(TINY, {}).rstrip(), flush=True)
    unlimited = args.reps if args.reps_unlimited is None else args.reps_unlimited
    idle = block("nothing started by this script", args.reps, unlimited)
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(args.competitors)]
    try:
        time.sleep(1)
        loaded = block(
            f"with {args.competitors} competing CPU-bound process(es) started by this script", args.reps, unlimited
        )
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    print(
        "\nratio python API / single-threaded: "
        f"{idle['python API'] / idle['single-threaded']:.2f} (no competitor), "
        f"{loaded['python API'] / loaded['single-threaded']:.2f} (with competitor); target <= 1.30"
    )
    print(
        "ratio python API without the limit / single-threaded: "
        f"{idle['python API, no limit'] / idle['single-threaded']:.2f} (no competitor), "
        f"{loaded['python API, no limit'] / loaded['single-threaded']:.2f} (with competitor)"
    )


if __name__ == "__main__":
    main()
