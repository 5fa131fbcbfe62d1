"""Error rates of the content-validity decisions on simulated panels with known relevant and irrelevant items.

Every replication draws a truth for each of the 100 allyship items: **relevant** (written
well for its subcategory), **marginal** (partly relevant: should be revised) or
**irrelevant** (belongs elsewhere: should be dropped), 60 / 20 / 20 items. A panel of N
raters then rates them as :func:`allyscale.content_validity` expects, and the shipped rules
(``allyscale.content.DEFAULT_CUTOFFS``) decide; the table counts how often each truth
ends as keep, revise or drop.

Rater model (per rater a leniency b ~ N(0, 0.5) on the logit scale, so raters differ):

* relevance: P(rating 3 or 4) = logistic(logit(p) + b) with p = .92 / .65 / .20 for
  relevant / marginal / irrelevant items; a relevant rating is 4 with probability .6, a
  not-relevant one 1 with probability .4;
* essential (Lawshe): P(3 = essential) = logistic(logit(q) + b), q = .85 / .45 / .10; else
  1 or 2 at random;
* sort (21 choices: 20 subcategories and "none"): a relevant item goes to its subcategory
  with probability .85, a marginal one .50 (else mostly to a sibling subcategory of the same
  category), an irrelevant one .15 (and .65 to the subcategory it really belongs to).

The same simulated ratings are analysed with each task alone and with all three, through
the public entry point (``content_validity`` on an in-memory ``RatingSet``); two published
alternatives (see :func:`alternatives`) are applied to the same indices for comparison.

Run: ``nice -n 10 python studies/content_panels.py [--reps 40]``; writes
``studies/content_panels_results.csv`` and prints the Markdown table used in
``docs/content_validity.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from allyscale import load_pool
from allyscale.content import RatingSet, content_validity

ROOT = Path(__file__).resolve().parents[1]
TRUTHS = ("relevant", "marginal", "irrelevant")
P_REL = {"relevant": 0.92, "marginal": 0.65, "irrelevant": 0.20}
P_ESS = {"relevant": 0.85, "marginal": 0.45, "irrelevant": 0.10}
P_SORT = {"relevant": 0.85, "marginal": 0.50, "irrelevant": 0.15}
CONFIGS = {
    "relevance": ("relevance",),
    "relevance + essential": ("relevance", "essential"),
    "sort": ("sort",),
    "all three": ("relevance", "essential", "sort"),
}


def _logistic(x):
    return 1 / (1 + np.exp(-x))


def simulate_panel(pool, n_raters: int, rng: np.random.Generator):
    items = pool.item_ids
    k = len(items)
    truth = np.array(["relevant"] * 60 + ["marginal"] * 20 + ["irrelevant"] * 20)
    rng.shuffle(truth)
    b = rng.normal(0, 0.5, n_raters)
    logit = lambda p: np.log(p / (1 - p))
    p_rel = _logistic(np.array([logit(P_REL[t]) for t in truth])[:, None] + b[None, :])
    relevant = rng.random((k, n_raters)) < p_rel
    rel = np.where(
        relevant, np.where(rng.random((k, n_raters)) < 0.6, 4, 3), np.where(rng.random((k, n_raters)) < 0.4, 1, 2)
    )
    p_ess = _logistic(np.array([logit(P_ESS[t]) for t in truth])[:, None] + b[None, :])
    ess = np.where(rng.random((k, n_raters)) < p_ess, 3, rng.integers(1, 3, (k, n_raters)))
    facets = [fc.id for fc in pool.facets]
    fac_of = {it.id: it.facet for it in pool.items}
    siblings = {fc.id: [o.id for o in f.facets if o.id != fc.id] for f in pool.factors for fc in f.facets}
    srt = np.empty((k, n_raters), dtype=object)
    for i, iid in enumerate(items):
        own = fac_of[iid]
        t = truth[i]
        if t == "irrelevant":
            home = rng.choice([f for f in facets if f != own])
            probs = {own: P_SORT[t], home: 0.65}
        elif t == "marginal":
            sib = rng.choice(siblings[own]) if siblings[own] else rng.choice([f for f in facets if f != own])
            probs = {own: P_SORT[t], sib: 0.35}
        else:
            probs = {own: P_SORT[t]}
        rest = [f for f in facets + ["none"] if f not in probs]
        left = 1 - sum(probs.values())
        choices = list(probs) + rest
        p = np.array(list(probs.values()) + [left / len(rest)] * len(rest))
        srt[i] = rng.choice(choices, size=n_raters, p=p)
    raters = [f"r{j}" for j in range(n_raters)]
    index = pd.MultiIndex.from_tuples([(iid, "item") for iid in items], names=["item", "form"])
    frames = {
        "relevance": pd.DataFrame(rel.astype(float), index=index, columns=raters),
        "essential": pd.DataFrame(ess.astype(float), index=index, columns=raters),
        "sort": pd.DataFrame(srt, index=index, columns=raters),
    }
    return truth, frames


def alternatives(items: pd.DataFrame, tasks: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Published alternatives to the shipped rules, applied to the same indices.

    * relevance, Zamanzadeh et al. (2015): I-CVI > .79 keep, .70-.79 revise, < .70 drop;
    * sort, Howard & Melloy (2016): keep when nc exceeds chance among all m choices (``p_hm < .05``),
      drop when csv < 0, else revise.
    """
    out = {}
    if tasks == ("relevance",):
        icvi = items["i_cvi"].to_numpy()
        out["relevance (I-CVI .79/.70; Zamanzadeh et al., 2015)"] = np.where(
            icvi > 0.79, "keep", np.where(icvi < 0.70, "drop", "revise")
        )
    if tasks == ("sort",):
        csv, p = items["csv"].to_numpy(), items["p_hm"].to_numpy()
        out["sort (p_hm; Howard & Melloy, 2016)"] = np.where(csv < 0, "drop", np.where(p < 0.05, "keep", "revise"))
    return out


def run(reps: int, sizes=(5, 8, 12, 20), seed: int = 2026) -> pd.DataFrame:
    pool = load_pool(ROOT / "item_pools" / "allyship.yaml")
    rng = np.random.default_rng(seed)
    rows = []
    for n in sizes:
        for rep in range(reps):
            truth, frames = simulate_panel(pool, n, rng)
            for name, tasks in CONFIGS.items():
                rs = RatingSet(**{t: frames[t] for t in tasks}, sources={c: "sim" for c in frames["relevance"]})
                res = content_validity(rs, pool)
                decided = {name: res.decisions.reindex(pool.item_ids)["decision"].to_numpy()}
                decided.update(alternatives(res.items.set_index("item").reindex(pool.item_ids), tasks))
                for rules, dec in decided.items():
                    for t in TRUTHS:
                        m = truth == t
                        for d in ("keep", "revise", "drop"):
                            rows.append(
                                {
                                    "raters": n,
                                    "rules": rules,
                                    "truth": t,
                                    "decision": d,
                                    "rep": rep,
                                    "count": int((dec[m] == d).sum()),
                                    "of": int(m.sum()),
                                }
                            )
    return pd.DataFrame(rows)


def table(raw: pd.DataFrame) -> pd.DataFrame:
    agg = raw.groupby(["rules", "raters", "truth", "decision"])[["count", "of"]].sum()
    agg["rate"] = agg["count"] / agg["of"]
    wide = agg["rate"].unstack("decision")[["keep", "revise", "drop"]]
    return wide


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=40)
    args = ap.parse_args()
    t0 = time.perf_counter()
    raw = run(args.reps)
    out = ROOT / "studies" / "content_panels_results.csv"
    tab = table(raw)
    tab.to_csv(out)
    print(f"{args.reps} replications x 100 items per panel size, {time.perf_counter() - t0:.0f} s; wrote {out}\n")
    lines = ["| rules | raters | truth | keep | revise | drop |", "|---|---:|---|---:|---:|---:|"]
    for (rules, n, truth), r in tab.iterrows():
        lines.append(f"| {rules} | {n} | {truth} | {r['keep']:.3f} | {r['revise']:.3f} | {r['drop']:.3f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
