"""Time ML and MLR fits of sim60 (60 items, 6 factors, N = 500) warm, against lavaan's seconds.

Run: .venv/bin/python benchmarks/bench_cfa.py [repeats]
lavaan's times are in tests/reference/sim60/reference.json (cfa_ml.seconds, cfa_mlr.seconds).
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


def main(repeats: int = 5) -> None:
    case = ROOT / "tests" / "reference" / "sim60"
    data = pd.read_csv(case / "data.csv")
    model = (case / "model.lav").read_text()
    ref = json.loads((case / "reference.json").read_text())
    hs = ROOT / "tests" / "reference" / "hs"
    hs_data, hs_model = pd.read_csv(hs / "data.csv"), (hs / "model.lav").read_text()
    with threadpool_limits(1):
        allyscale.cfa(data, model)  # warm up imports and caches
        rows = [
            ("sim60 ML", best_of(lambda: allyscale.cfa(data, model), repeats), ref["cfa_ml"]["seconds"]),
            (
                "sim60 MLR",
                best_of(lambda: allyscale.cfa(data, model, estimator="MLR"), repeats),
                ref["cfa_mlr"]["seconds"],
            ),
            ("hs ML", best_of(lambda: allyscale.cfa(hs_data, hs_model), repeats), None),
            (
                "hs invariance (4 fits)",
                best_of(lambda: allyscale.invariance(hs_data, hs_model, group="school"), max(1, repeats // 2)),
                None,
            ),
        ]
    print(f"{'fit':<26}{'allyscale s':>12}{'lavaan s':>10}{'ratio':>8}")
    for name, secs, lav in rows:
        ratio = f"{lav / secs:8.1f}" if lav else f"{'':>8}"
        print(f"{name:<26}{secs:12.3f}{(lav or float('nan')):10.3f}{ratio}")
    print("ratio = lavaan seconds / allyscale seconds (lavaan timed on a shared machine: indicative)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
