"""The SEM engine at large N and p: WLSMV against lavaan 0.6.14, measured in the same run.

Cases (five-point items, six correlated factors, data from ``_ordinal_data.ordinal_data``):
WLSMV with p = 60 at N = 10,000 and 50,000; p = 20 at N = 50,000; p = 200 at N = 2,000; p = 60
at N = 10,000 with 10% of the responses missing (``missing="pairwise"``); and ML with p = 60 at
N = 50,000. Each allyscale fit runs
in a fresh process (one BLAS thread): the wall-clock and CPU time of ``cfa()`` itself (sample
statistics included) and the process's peak resident memory. lavaan fits the same file in the same run
(``bench_engine.R``, ``system.time`` of ``cfa()``: elapsed and user + system CPU; at most ``LAVAAN_TIMEOUT`` seconds); cases
where lavaan is not run or does not finish say so.
The chi-square statistics of both are printed as a check. Usage:
``python benchmarks/bench_engine.py [--no-lavaan] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAVAAN_TIMEOUT = 1200  # seconds per lavaan fit
CASES = [  # (label, n, p, missing, run lavaan, estimator)
    ("p=60, N=10,000", 10_000, 60, 0.0, True, "WLSMV"),
    ("p=60, N=50,000", 50_000, 60, 0.0, True, "WLSMV"),
    ("p=20, N=50,000", 50_000, 20, 0.0, True, "WLSMV"),
    ("p=200, N=2,000", 2_000, 200, 0.0, False, "WLSMV"),  # lavaan needs about 16 min at p = 100 already
    ("p=60, N=10,000, 10% missing (pairwise)", 10_000, 60, 0.1, True, "WLSMV"),
    ("p=60, N=50,000 (ML)", 50_000, 60, 0.0, True, "ML"),
]

CHILD = r"""
import json, resource, sys, time, warnings
sys.path.insert(0, {here!r})
warnings.simplefilter("ignore")
import pandas as pd
import allyscale as al
d = pd.read_csv({csv!r})
model = open({lav!r}).read()
al.cfa(d.iloc[:3000], model, estimator={est!r}, missing={missing!r})  # warm-up (imports, syntax cache)
from allyscale._core import wlsmv
if wlsmv._CACHE is not None:
    wlsmv._CACHE.clear()
t0, c0 = time.perf_counter(), time.process_time()
fit = al.cfa(d, model, estimator={est!r}, missing={missing!r})
t, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({{"seconds": t, "cpu_seconds": cpu, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "chisq_scaled": fit.fit_measures.get("chisq.scaled", fit.fit_measures["chisq"]),
                  "converged": fit.converged,
                  "form": fit.diagnostics.get("gamma_form")}}))
"""


def _blas(stdout: str) -> str:
    """The BLAS library R used (``bench_engine.R``'s last line)."""
    line = [x for x in stdout.splitlines() if x.startswith("blas ")]
    return line[-1][5:].strip() if line else "unknown"


def run_case(n: int, p: int, missing: float, lavaan: bool, tmp: Path, estimator: str = "WLSMV") -> dict:
    sys.path.insert(0, str(HERE))
    from _ordinal_data import ordinal_data

    data, model = ordinal_data(n, p, missing=missing, seed=n + p + (0 if estimator == "WLSMV" else 1))
    csv, lav = tmp / f"d{n}_{p}.csv", tmp / f"m{n}_{p}.lav"
    data.to_csv(csv, index=False)
    lav.write_text(model)
    miss = "pairwise" if missing else "listwise"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    code = CHILD.format(here=str(HERE.parent), csv=str(csv), lav=str(lav), missing=miss, est=estimator)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res["lavaan_seconds"] = None
    if lavaan and shutil.which("Rscript"):
        try:
            r = subprocess.run(
                ["Rscript", str(HERE / "bench_engine.R"), str(csv), str(lav), miss, estimator],
                capture_output=True,
                text=True,
                env=env,
                timeout=LAVAAN_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            res["lavaan_error"] = f"lavaan did not finish within {LAVAAN_TIMEOUT} s"
            return res
        line = [x for x in r.stdout.splitlines() if x.startswith("lavaan ")]
        res["lavaan_blas"] = _blas(r.stdout)
        if line:
            parts = line[-1].split()
            res["lavaan_version"], res["lavaan_seconds"], res["lavaan_chisq_scaled"] = (
                parts[1],
                float(parts[3]),
                float(parts[5]),
            )
            if len(parts) >= 8:
                res["lavaan_cpu_seconds"] = float(parts[7])
        else:
            res["lavaan_error"] = (r.stderr or r.stdout)[-300:]
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--no-lavaan", action="store_true")
    ap.add_argument("--json")
    ap.add_argument("--only", help="substring of the case labels to run")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, n, p, missing, lavaan, estimator in CASES:
            if args.only and args.only not in label:
                continue
            res = run_case(n, p, missing, lavaan and not args.no_lavaan, Path(tmp), estimator)
            results[label] = res
            lav = res.get("lavaan_seconds")
            ratio = (
                f"lavaan {lav:.1f} s (R's BLAS: {res.get('lavaan_blas', 'unknown')}) -> {lav / res['seconds']:.1f}x"
                if lav
                else res.get("lavaan_error", "lavaan not run")
            )
            check = (
                f"; chisq.scaled {res['chisq_scaled']:.4f} vs lavaan {res['lavaan_chisq_scaled']:.4f}" if lav else ""
            )
            cpu = (
                (
                    f" (CPU {res['cpu_seconds']:.2f} s vs lavaan {res['lavaan_cpu_seconds']:.1f} s -> "
                    f"{res['lavaan_cpu_seconds'] / res['cpu_seconds']:.1f}x)"
                )
                if "lavaan_cpu_seconds" in res
                else ""
            )
            print(
                f"{label if estimator != 'WLSMV' else 'WLSMV ' + label}: {res['seconds']:.2f} s, peak memory {res['peak_mb']:.0f} MB ({res['form']}); "
                f"{ratio}{cpu}{check}",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
