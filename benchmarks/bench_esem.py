"""ESEM timing: the 100-item, six-factor WLSMV ESEM of the allyship pool at N = 800 (one efa() block,
geomin and the pool's target rotation), against lavaan 0.6.14 on the same data and model.

The data are ``allyscale simulate --pool item_pools/allyship.yaml --n 800 --seed 2024 --structure
correlated`` (made if missing). Each timed fit starts from the raw data (the cache of sample
statistics is cleared), so the times include the polychorics, the unrotated fit, 30 random
rotation starts and the bordered standard errors. Warm process, best of 2. lavaan's time comes
from ``bench_esem_lavaan.R`` run in the same invocation with ``--lavaan`` (one BLAS thread; it
may take many minutes), or from a file of its output line (``--lavaan-file``). The load average
is printed with the timings (other processes slow both down); peak memory by ``tracemalloc``.

    python benchmarks/bench_esem.py [--data /tmp/h2/n800.csv] [--lavaan | --lavaan-file FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
import tracemalloc
import warnings
from pathlib import Path

import pandas as pd
from _timing import best_of
from threadpoolctl import threadpool_limits

import allyscale as al
from allyscale.pool import load_pool

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def cold_fit(data, model, **kw):
    from allyscale._core import wlsmv

    if wlsmv._CACHE is not None:
        wlsmv._CACHE.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return al.cfa(data, model, estimator="WLSMV", **kw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/h2/n800.csv")
    ap.add_argument("--lavaan", action="store_true", help="time lavaan on the same model (slow)")
    ap.add_argument("--lavaan-file", help="a file with bench_esem_lavaan.R's output line")
    args = ap.parse_args()
    pool = load_pool(ROOT / "item_pools" / "allyship.yaml")
    data_path = Path(args.data)
    if not data_path.exists():
        data_path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                str(ROOT / ".venv" / "bin" / "allyscale"),
                "simulate",
                "--pool",
                str(ROOT / "item_pools" / "allyship.yaml"),
                "--n",
                "800",
                "--seed",
                "2024",
                "--structure",
                "correlated",
                "--out",
                str(data_path),
            ],
            check=True,
        )
    data = pd.read_csv(data_path)
    model = pool.model_syntax("esem")
    model_file = data_path.with_suffix(".esem.lav")
    model_file.write_text(model)
    print(f"allyship ESEM: {len(pool.item_ids)} items, {len(pool.factors)} factors, N = {len(data)}")
    with threadpool_limits(2):
        t_geo = best_of(lambda: cold_fit(data, model), repeats=2)
        rot = pool.esem_rotation("esem")
        t_tgt = best_of(lambda: cold_fit(data, model, **rot), repeats=2)
        tracemalloc.start()
        fit = cold_fit(data, model)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    print(f"allyscale geomin: {t_geo:.2f} s; target: {t_tgt:.2f} s; peak traced memory {peak:.0f} MiB; {_load()}")
    print(
        f"  chisq.scaled {fit.fit_measures['chisq.scaled']:.6f}, df {fit.fit_measures['df']:.0f}, "
        f"converged {fit.converged}, rotation converged {fit.rotation.converged}"
    )
    line = None
    if args.lavaan_file and Path(args.lavaan_file).exists():
        line = [x for x in Path(args.lavaan_file).read_text().splitlines() if x.startswith("lavaan ")]
        line = line[-1] if line else None
    elif args.lavaan:
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        t0 = time.perf_counter()
        r = subprocess.run(
            ["Rscript", str(HERE / "bench_esem_lavaan.R"), str(data_path), str(model_file)],
            capture_output=True,
            text=True,
            env=env,
            timeout=1800,
        )
        print(f"  (lavaan process {time.perf_counter() - t0:.1f} s)")
        line = next((x for x in r.stdout.splitlines() if x.startswith("lavaan ")), None)
    if line:
        parts = line.split()
        sec, chisq = float(parts[3]), float(parts[5])
        print(f"lavaan {parts[1]}: {sec:.1f} s (chisq.scaled {chisq:.6f}); ratio lavaan / allyscale {sec / t_geo:.1f}")
    else:
        print("lavaan: not run (--lavaan or --lavaan-file)")


if __name__ == "__main__":
    main()
