"""Error rates of the rule that refuses identical or linearly dependent items (``linear_dependencies``).

The analysis commands stop, naming the items, when an item column is a copy of another or an
exact weighted sum of others (the covariance matrix is then singular and no factor analysis
can use it). This study measures, on data with a known truth, how often the rule fires:

* clean Likert data (no dependence): false refusals;
* one copied column, one item equal to the sum of two others: detections (should be all);
* one near-copy (a copy with 5% of its answers changed): not a dependence, must not fire.

Population: the 18-item mini pool (two correlated factors, loadings .55-.80, 5 categories),
``allyscale.simulate``; 200 replications per cell. Run: ``python studies/robustness_dependence.py``
(about a minute); the table goes to ``docs/robustness.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allyscale import load_pool, simulate
from allyscale.survey import linear_dependencies

REPS = 200
NS = (20, 50, 200, 1000)


def main() -> pd.DataFrame:
    pool = load_pool("tests/data/mini_pool.yaml")
    items = pool.item_ids
    rows = []
    for n in NS:
        counts = {"clean": 0, "copied": 0, "sum_of_two": 0, "near_copy": 0}
        for rep in range(REPS):
            seed = np.random.SeedSequence([n, rep])
            data = simulate(pool, n, seed=seed).astype(float)
            rng = np.random.default_rng(seed.spawn(1)[0])
            counts["clean"] += bool(linear_dependencies(data, items))
            counts["copied"] += bool(linear_dependencies(data.assign(a2=data["a1"]), items))
            counts["sum_of_two"] += bool(linear_dependencies(data.assign(b3=data["b1"] + data["b2"]), items))
            near = data["a1"].copy()
            k = max(1, int(round(0.05 * n)))
            idx = rng.choice(n, size=k, replace=False)
            near.iloc[idx] = np.where(near.iloc[idx] < 5, near.iloc[idx] + 1, near.iloc[idx] - 1)
            counts["near_copy"] += bool(linear_dependencies(data.assign(a2=near), items))
        rows.append({"n": n, **{k: v / REPS for k, v in counts.items()}})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    table = main()
    print(f"share of {REPS} replications in which the rule refused the data")
    print("| " + " | ".join(table.columns) + " |")
    print("|" + "---|" * len(table.columns))
    for row in table.itertuples(index=False):
        print("| " + " | ".join([f"{row[0]:d}"] + [f"{v:.3f}" for v in row[1:]]) + " |")
