"""Time alpha, omega (Schmid-Leiman), HTMT, ICC and the reliability table on sim60 against psych/semTools.

Run: .venv/bin/python benchmarks/bench_reliability.py [repeats]
R's times are in tests/reference/reliability/reference.json (``seconds``; psych 2.2.9, semTools 0.5.6,
measured by make_reliability.R on a shared machine: indicative only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from _timing import best_of as _best_of
from threadpoolctl import threadpool_limits

import allyscale

ROOT = Path(__file__).resolve().parents[1]


def best_of(fn, repeats: int) -> float:
    return _best_of(fn, repeats, warmup=False)


def main(repeats: int = 3) -> None:
    sim = ROOT / "tests" / "reference" / "sim60"
    relref = ROOT / "tests" / "reference" / "reliability"
    data = pd.read_csv(sim / "data.csv")
    model = (sim / "model.lav").read_text()
    items = [c for c in data.columns if c.startswith("i")]
    retest = pd.read_csv(relref / "retest.csv")
    r_sec = json.loads((relref / "reference.json").read_text())["seconds"]
    cases = {
        "alpha60": (lambda: allyscale.alpha(data, items=items), r_sec["alpha60"]),
        "omega6": (lambda: allyscale.omega(data[items], 6), r_sec["omega6"]),
        "htmt": (lambda: allyscale.htmt(data, model), r_sec["htmt"]),
        "icc": (lambda: allyscale.icc(retest), r_sec["icc"]),
        "reliability_ml": (lambda: allyscale.reliability(data, model), None),
    }
    print(f"{'case':<16}{'allyscale s':>14}{'R s':>10}{'R / allyscale':>16}")
    with threadpool_limits(1):
        for name, (fn, r) in cases.items():
            t = best_of(fn, repeats)
            ratio = f"{r / t:16.2f}" if r else f"{'-':>16}"
            print(f"{name:<16}{t:14.3f}{(r if r is not None else float('nan')):10.3f}{ratio}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3)
