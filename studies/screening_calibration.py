"""Error rates of the careless-responding screens on simulated data whose careless respondents are known.

For each population, sample size and careless style, ``REPS`` data sets are simulated and screened with
:func:`allyscale.screen` at its default cutoffs. Reported per rule: the share of attentive respondents it flags
(false-positive rate), the share of careless respondents it flags (recall); and for the screen as a whole (a
respondent flagged by any rule): precision and recall, as the mean over replications and the worst replication.

Populations
-----------
* ``allyship``: the allyship pool (100 six-point items, 6 correlated factors, r = .5, 20 reverse-keyed items),
  ``PopulationModel.from_pool`` defaults;
* ``allyship-2nd``: the same pool, second-order structure;
* ``bfi-like``: a model-file case shaped like psych's bfi: 5 factors x 5 six-point items, loadings .65 (items 1
  and 4 of each factor negatively keyed, reverse-scored with ``reverse=``), factor correlations .2.

Careless styles (``PopulationModel(careless=0.05, careless_style=...)``; ``df.attrs["careless_rows"]`` marks them):
``random`` (uniform random answers) and ``longstring`` (one answer repeated on every item, as answered).

Also measured, to justify two choices: the even-odd rule used before (Spearman-Brown index below 0), the
chi-square reference for Mahalanobis D2 instead of the exact Beta reference, and longstring computed after
reverse scoring instead of on the answers as given.

Run: ``OMP_NUM_THREADS=1 python studies/screening_calibration.py [--reps 50]`` (about 5 minutes on one core).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from scipy.stats import chi2

import allyscale as al
from allyscale.descriptives import careless_indices
from allyscale.quality import RULES, screen

NS = (250, 500, 800)
STYLES = ("none", "random", "longstring")


def bfi_like(careless: float, style: str) -> tuple[al.PopulationModel, dict, list[str]]:
    lines = [f"{f} =~ " + " + ".join(f"{'-' if j in (1, 4) else ''}0.65*{f}{j}" for j in range(1, 6)) for f in "ABCDE"]
    lines += [f"{a} ~~ 0.2*{b}" for i, a in enumerate("ABCDE") for b in "ABCDE"[i + 1 :]]
    pm = al.PopulationModel.from_lavaan("\n".join(lines), categories=6, careless=careless, careless_style=style)
    factors = {f: [f"{f}{j}" for j in range(1, 6)] for f in "ABCDE"}
    return pm, factors, [f"{f}{j}" for f in "ABCDE" for j in (1, 4)]


def one(pop: str, n: int, style: str, seed: int, pool) -> dict:
    careless = 0.0 if style == "none" else 0.05
    kw = dict(careless=careless, careless_style="random" if style == "none" else style)
    if pop == "bfi-like":
        pm, factors, rev = bfi_like(kw["careless"], kw["careless_style"])
        data = al.simulate(pm, n, seed=seed)
        items = [i for its in factors.values() for i in its]
        res = screen(data, items=items, factors=factors, reverse=rev, scale=(1, 6))
        old = screen(data, items=items, factors=factors, reverse=rev, scale=(1, 6), even_odd_cutoff=0.0)
        scored = data[items].astype(float)
        scored[rev] = 7 - scored[rev]
    else:
        structure = "second_order" if pop == "allyship-2nd" else "correlated"
        data = al.simulate(al.PopulationModel.from_pool(pool, structure=structure, **kw), n, seed=seed)
        items = pool.item_ids
        res = screen(data, pool)
        old = screen(data, pool, even_odd_cutoff=0.0)
        from allyscale.scoring import reverse_score

        scored = reverse_score(data[items].astype(float), pool)
    truth = np.zeros(n, dtype=bool)
    truth[data.attrs["careless_rows"]] = True
    flags = res.persons["flags"].to_numpy()
    hits = {r: np.array([r in f.split(";") for f in flags]) for r in RULES}
    hits["any"] = flags != ""
    hits["even_odd < 0 (old rule)"] = np.array(["even_odd" in f.split(";") for f in old.persons["flags"]])
    p = len(items)
    hits["mahalanobis, chi-square reference"] = chi2.sf(res.persons["d2"].to_numpy(), p) < 0.001
    ls_scored = careless_indices(scored, items)["longstring"].to_numpy()
    hits["longstring after reverse scoring"] = ls_scored >= 0.5 * p
    row = {"pop": pop, "n": n, "style": style, "seed": seed, "n_careless": int(truth.sum())}
    for r, h in hits.items():
        row[f"fp:{r}"] = h[~truth].mean()
        row[f"rec:{r}"] = h[truth].mean() if truth.any() else np.nan
    any_ = hits["any"]
    row["precision"] = (any_ & truth).sum() / any_.sum() if any_.sum() else np.nan
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--pops", default="allyship,allyship-2nd,bfi-like")
    ap.add_argument("--csv", default=None, help="also write every replication's rates to this CSV")
    args = ap.parse_args()
    pool = al.load_pool("item_pools/allyship.yaml")
    rows = []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for pi, pop in enumerate(args.pops.split(",")):
            for n in NS:
                for si, style in enumerate(STYLES):
                    for rep in range(args.reps):
                        seed = 1_000_000 * (pi + 1) + 10_000 * n + 1_000 * si + rep
                        rows.append(one(pop, n, style, seed, pool))
            print(f"# {pop} done after {time.perf_counter() - t0:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    if args.csv:
        df.to_csv(args.csv, index=False)
    rules = [*RULES, "any"]
    print(f"\n{args.reps} replications per cell; default rules of allyscale.screen\n")
    print(
        "False-positive rate on attentive respondents (0% careless), mean over replications; "
        "max over replications in brackets\n"
    )
    print("| population | N | " + " | ".join(rules) + " |")
    print("|---|---|" + "---|" * len(rules))
    for (pop, n), g in df[df["style"] == "none"].groupby(["pop", "n"], sort=False):
        cells = [f"{g[f'fp:{r}'].mean():.4f} ({g[f'fp:{r}'].max():.4f})" for r in rules]
        print(f"| {pop} | {n} | " + " | ".join(cells) + " |")
    print(
        "\nCareless respondents (5%): recall of each rule, and of the whole screen (any rule) with its precision; "
        "mean over replications, worst replication in brackets\n"
    )
    print(
        "| population | style | N | " + " | ".join(RULES) + " | recall (any) | precision (any) | "
        "attentive flagged (any) |"
    )
    print("|---|---|---|" + "---|" * (len(RULES) + 3))
    for (pop, style, n), g in df[df["style"] != "none"].groupby(["pop", "style", "n"], sort=False):
        cells = [f"{g[f'rec:{r}'].mean():.3f}" for r in RULES]
        cells += [
            f"{g['rec:any'].mean():.3f} ({g['rec:any'].min():.3f})",
            f"{g['precision'].mean():.3f} ({g['precision'].min():.3f})",
            f"{g['fp:any'].mean():.4f}",
        ]
        print(f"| {pop} | {style} | {n} | " + " | ".join(cells) + " |")
    print("\nAlternatives not chosen (same data): false-positive rate on attentive respondents, and recall\n")
    alts = ["even_odd < 0 (old rule)", "mahalanobis, chi-square reference", "longstring after reverse scoring"]
    print(
        "| population | N | "
        + " | ".join(f"{a}: FP | {a}: recall random | {a}: recall longstring" for a in alts)
        + " |"
    )
    print("|---|---|" + "---|" * (3 * len(alts)))
    for (pop, n), g in df.groupby(["pop", "n"], sort=False):
        cells = []
        for a in alts:
            cells += [
                f"{g[g['style'] == 'none'][f'fp:{a}'].mean():.4f}",
                f"{g[g['style'] == 'random'][f'rec:{a}'].mean():.3f}",
                f"{g[g['style'] == 'longstring'][f'rec:{a}'].mean():.3f}",
            ]
        print(f"| {pop} | {n} | " + " | ".join(cells) + " |")
    print(f"\n# {len(df)} screened data sets in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
