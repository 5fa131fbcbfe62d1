"""Error rates of the short-form decision rules on populations with known bad items.

A 24-item pool (three factors, two facets each, four items per facet, one reverse-keyed item
per facet, 5-point scale, self-report and informant forms) is simulated with these known
defects:

* ``a2`` a low loading (.30; the others .60-.80);
* ``b2`` a cross-loading of .45 on factor C (own loading .60);
* ``c6`` thresholds shifted by +0.8 in the informant form (differential item functioning);
* the six reverse-keyed items (``a1, a5, b1, b5, c1, c5``) load .50 on a method factor
  orthogonal to the traits.

Each replication draws 500 self-report and 500 informant respondents, and ``allyscale.shorten``
selects 4 items per factor with at least one per facet (ACO, ``group="form"``, half the sample
for calibration, half for the holdout). Recorded per replication: whether every known-bad
item was excluded (and each one separately), whether every facet is covered, the holdout
verdict and ω, and the item-statistics flags (how often each bad item gets its flag, how often
a good item gets any flag).

Run: ``python studies/shorten_error_rates.py [--reps 50] [--workers 2] [--out docs/short_forms_rates.csv]``
(about 20 s per replication per core); the table goes to ``docs/short_forms.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

POOL_YAML = """
name: Known-defect test pool
id: defects
response_scale: {min: 1, max: 5}
forms:
  self: {label: Self-report}
  informant: {label: Informant report}
factors:
"""
BAD = {"a2": "low loading", "b2": "cross-loading", "c6": "DIF"}
REVERSE = ["a1", "a5", "b1", "b5", "c1", "c5"]
GOOD_LOADINGS = [0.80, 0.75, 0.70, 0.65, 0.78, 0.72, 0.68, 0.62]


def pool_text() -> str:
    lines = [POOL_YAML.strip("\n")]
    for f in "abc":
        lines.append(f"  - id: f{f}\n    label: Factor {f.upper()}\n    facets:")
        for h in (1, 2):
            lines.append(f"      - id: f{f}{h}\n        label: Facet {f.upper()}{h}\n        items:")
            for k in range(4):
                n = (h - 1) * 4 + k + 1
                item = f"{f}{n}"
                rev = item in REVERSE
                lines.append(
                    f'          - {{id: {item}, text: "Statement {item}.", informant_text: "This person '
                    f'{item}.", reverse: {str(rev).lower()}}}'
                )
    return "\n".join(lines) + "\n"


def population(pool, *, dif: bool):
    import allyscale as al

    loadings = {}
    for f in "abc":
        for n in range(1, 9):
            loadings[f"{f}{n}"] = GOOD_LOADINGS[n - 1]
    loadings["a2"] = 0.30
    loadings["b2"] = 0.60
    th = {"c6": list(np.array([-1.5, -0.5, 0.5, 1.5]) + 0.8)} if dif else "symmetric"
    return al.PopulationModel.from_pool(
        pool, loadings=loadings, factor_corr=0.4, thresholds=th, cross_loadings={("b2", "fc"): 0.45}, method_loading=0.5
    )


def replicate(rep: int, pool_path: str, max_evaluations: int = 400) -> dict:
    import allyscale as al

    warnings.simplefilter("ignore")
    pool = al.load_pool(pool_path)
    d1 = al.simulate(population(pool, dif=False), n=500, seed=10_000 + rep)
    d2 = al.simulate(population(pool, dif=True), n=500, seed=20_000 + rep)
    d1["form"], d2["form"] = "self", "informant"
    data = pd.concat([d1, d2], ignore_index=True)
    t0 = time.perf_counter()
    r = al.shorten(
        data,
        pool=pool,
        items_per_factor=4,
        min_per_facet=1,
        group="form",
        method="aco",
        seed=rep,
        progress=False,
        max_evaluations=max_evaluations,
        search_options={"ants": 10, "patience": 5, "max_iterations": 60},
    )
    kept = set(r.kept)
    bad = list(BAD) + REVERSE
    out = {
        "rep": rep,
        "seconds": time.perf_counter() - t0,
        "evaluations": r.diagnostics["evaluations"],
        "stopped": r.diagnostics["stopped"],
        "kept": " ".join(r.kept),
        "all_bad_excluded": not (kept & set(bad)),
        "facets_covered": bool((r.coverage["kept"] >= 1).all()),
        "holdout_accepted": bool(r.comparison.loc["short / holdout", "accepted"]),
        "holdout_omega_min": float(min(r.comparison.loc["short / holdout", [f"omega.f{f}" for f in "abc"]])),
    }
    for item in bad:
        out[f"excluded.{item}"] = item not in kept
    flags = pd.concat(r.item_statistics.values())["flags"]
    for item, rule in BAD.items():
        out[f"flagged.{item}"] = rule in flags[item]
    out["flagged.method"] = float(np.mean(["method factor" in flags[i] for i in REVERSE]))
    good = [i for i in pool.item_ids if i not in bad]
    out["good_flagged_any"] = float(np.mean([bool(flags[i]) for i in good]))
    out["good_flagged_rules"] = float(
        np.mean([any(x in flags[i] for x in ("low loading", "cross-loading", "DIF", "method factor")) for i in good])
    )
    out["good_kept_share"] = len(kept & set(good)) / len(kept)
    return out


def _run(args):
    return replicate(*args)


def run(reps: int, workers: int = 1, max_evaluations: int = 400, log: str | None = None) -> pd.DataFrame:
    """``reps`` replications (in ``workers`` processes); each finished row is appended to ``log`` (CSV)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "defects.yaml"
        path.write_text(pool_text(), encoding="utf-8")
        jobs = [(rep, str(path), max_evaluations) for rep in range(1, reps + 1)]
        pool = mp.get_context("fork").Pool(workers) if workers > 1 else None
        try:
            results = pool.imap_unordered(_run, jobs) if pool is not None else map(_run, jobs)
            for row in results:
                rows.append(row)
                if log:
                    pd.DataFrame([row]).to_csv(log, mode="a", header=len(rows) == 1, index=False)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    return pd.DataFrame(rows).sort_values("rep").reset_index(drop=True)


def table(res: pd.DataFrame) -> pd.DataFrame:
    """The rates reported in docs/short_forms.md."""
    rows = [("all known-bad items excluded", res["all_bad_excluded"].mean())]
    for item, rule in BAD.items():
        rows.append((f"{item} ({rule}) excluded", res[f"excluded.{item}"].mean()))
    rows.append(
        ("each method-factor item excluded (mean over the 6)", np.mean([res[f"excluded.{i}"].mean() for i in REVERSE]))
    )
    rows.append(("worst method-factor item excluded", min(res[f"excluded.{i}"].mean() for i in REVERSE)))
    rows.append(("every facet covered", res["facets_covered"].mean()))
    rows.append(("holdout fit accepted (fit policy)", res["holdout_accepted"].mean()))
    for item, rule in BAD.items():
        rows.append((f"flag '{rule}' on {item} (sensitivity)", res[f"flagged.{item}"].mean()))
    rows.append(("flag 'method factor' on the reverse-keyed items (sensitivity)", res["flagged.method"].mean()))
    rows.append(
        (
            "good items given a low-loading/cross-loading/DIF/method flag (false positives)",
            res["good_flagged_rules"].mean(),
        )
    )
    rows.append(("good items given any flag, incl. 'alpha rises'", res["good_flagged_any"].mean()))
    return pd.DataFrame(rows, columns=["rate", "value"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-evaluations", type=int, default=400)
    parser.add_argument("--out", default=None, help="CSV of the replications")
    args = parser.parse_args()
    t0 = time.perf_counter()
    if args.out and Path(args.out).exists():
        Path(args.out).unlink()
    res = run(args.reps, args.workers, args.max_evaluations, log=args.out)
    tab = table(res)
    print(
        f"{args.reps} replications in {time.perf_counter() - t0:.0f} s "
        f"(median {res['seconds'].median():.1f} s, {res['evaluations'].median():.0f} candidate fits each)"
    )
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    sys.exit(main())
