"""Recovery of latent correlations, latent d and stabilities on simulated validation studies.

    .venv/bin/python studies/validity_recovery.py [--reps 500] [--n 500] [--workers 1]

Each replication simulates one study with :func:`allyscale.simulate_study`: two allyship
factors (four five-category items each, loadings .75 to .60, correlating .5), two external
measures given by their items (``arbi``: three items, loadings .75 to .65, correlating .6
and .4 with the factors, convergent; ``sdes``: correlating .2 and .1, discriminant), two
known groups of equal size whose latent means differ by d = .5 on both factors, and a
retest wave of the same respondents with stabilities .8 and .6 and item residuals
correlated .2 across the waves. The analyses are those a validation article reports:
``latent_correlations`` (WLSMV, one CFA with the external factors), ``known_groups``
(invariance sequence, latent d only after scalar invariance holds) and
``test_retest(latent=True)`` (longitudinal invariance, stability correlation); the last two
with ``collapse=True`` (a category no respondent of one group or wave chose is merged with
its neighbour, as ordinal invariance models need the same categories throughout).

The correlations and stabilities are estimated on both groups together, so their
population values are those of the pooled population (``truth["correlations_pooled"]``,
``truth["stability_pooled"]``: the group difference adds ``π(1-π)d²`` to the covariances);
the latent d is the within-group value .5.

Writes studies/validity_recovery.csv (one row per replication and parameter) and the table
into docs/validity.md between the "recovery" markers.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import allyscale as al
from allyscale.errors import AllyscaleError
from allyscale.simulate import ExternalSpec, GroupSpec, RetestSpec

ROOT = Path(__file__).resolve().parent.parent
POP = "ally_a =~ .75*a1 + .7*a2 + .65*a3 + .6*a4\nally_b =~ .75*b1 + .7*b2 + .65*b3 + .6*b4\nally_a ~~ .5*ally_b\n"
MODEL = "ally_a =~ a1 + a2 + a3 + a4\nally_b =~ b1 + b2 + b3 + b4"
EXTERNAL = {"arbi": ["arbi1", "arbi2", "arbi3"], "sdes": ["sdes1", "sdes2", "sdes3"]}
FACTORS = ("ally_a", "ally_b")
Z = 1.959963984540054


def population() -> al.PopulationModel:
    return al.PopulationModel.from_lavaan(POP, categories=5).with_validity(
        external=[
            ExternalSpec("arbi", {"ally_a": 0.6, "ally_b": 0.4}, items=3, loadings=(0.65, 0.75)),
            ExternalSpec("sdes", {"ally_a": 0.2, "ally_b": 0.1}, items=3, loadings=(0.65, 0.75)),
        ],
        groups=GroupSpec({"ally_a": 0.5, "ally_b": 0.5}),
        retest=RetestSpec({"ally_a": 0.8, "ally_b": 0.6}, residual_corr=0.2),
    )


def replicate(rep: int, seed: np.random.SeedSequence, n: int) -> list[dict]:
    """One simulated study through the three analyses: one row per estimated parameter."""
    study = al.simulate_study(population(), n, rng=np.random.default_rng(seed))
    truth = study.truth
    rows: list[dict] = []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lc = al.latent_correlations(study.data, MODEL, EXTERNAL)
        # a category unobserved in one group or wave (rare at N = 500) is merged with its neighbour
        kg = al.known_groups(study.data, MODEL, group="group", collapse=True)
        try:
            rt = al.test_retest(study.data, study.retest, model=MODEL, latent=True, collapse=True)
        except AllyscaleError as exc:  # counted as a failed replication of the stability
            rt = exc
    secs = time.perf_counter() - t0
    c = lc.correlations.set_index(["factor", "external"])
    for f in FACTORS:
        for e in EXTERNAL:
            r = c.loc[(f, e)]
            rows.append(
                {
                    "quantity": "latent correlation",
                    "parameter": f"{f} ~~ {e}",
                    "truth": truth["correlations_pooled"][e][f],
                    "est": r["r"],
                    "se": r["se"],
                    "lower": r["ci_lower"],
                    "upper": r["ci_upper"],
                    "level": "",
                    "used": True,
                }
            )
    for f in FACTORS:
        if kg.latent is not None:
            r = kg.latent.loc[f]
            rows.append(
                {
                    "quantity": "latent d (known groups)",
                    "parameter": f,
                    "truth": truth["latent_d"][f],
                    "est": r["d_latent"],
                    "se": r["d_latent_se"],
                    "lower": r["d_latent_lower"],
                    "upper": r["d_latent_upper"],
                    "level": kg.diagnostics.get("latent_level", ""),
                    "used": True,
                }
            )
        else:
            rows.append(
                {
                    "quantity": "latent d (known groups)",
                    "parameter": f,
                    "truth": truth["latent_d"][f],
                    "est": np.nan,
                    "se": np.nan,
                    "lower": np.nan,
                    "upper": np.nan,
                    "level": "refused",
                    "used": False,
                }
            )
    for f in FACTORS:
        if isinstance(rt, Exception):
            rows.append(
                {
                    "quantity": "latent stability",
                    "parameter": f,
                    "truth": truth["stability_pooled"][f],
                    "est": np.nan,
                    "se": np.nan,
                    "lower": np.nan,
                    "upper": np.nan,
                    "level": f"failed: {rt}",
                    "used": False,
                }
            )
            continue
        r = rt.table.loc[f]
        rows.append(
            {
                "quantity": "latent stability",
                "parameter": f,
                "truth": truth["stability_pooled"][f],
                "est": r["latent_stability"],
                "se": r["latent_stability_se"],
                "lower": r["latent_stability_lower"],
                "upper": r["latent_stability_upper"],
                "level": r["latent_level"],
                "used": True,
            }
        )
    for row in rows:
        row.update(rep=rep, n=n, seconds=secs)
    return rows


def run(reps: int, n: int, seed: int = 2026, workers: int = 1) -> pd.DataFrame:
    seeds = np.random.SeedSequence(seed).spawn(reps)
    jobs = [(r, s, n) for r, s in enumerate(seeds)]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as ex:
            out = list(ex.map(replicate, *zip(*jobs)))
    else:
        out = [replicate(*j) for j in jobs]
    return pd.DataFrame([row for rows in out for row in rows])


def summarize(res: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: truth, mean estimate, relative bias, SD, mean SE, 95% coverage (with its MC interval)."""
    out = []
    for (q, p), g in res.groupby(["quantity", "parameter"], sort=False):
        u = g[g["used"]]
        k = len(u)
        cover = float(((u["lower"] <= u["truth"]) & (u["truth"] <= u["upper"])).mean())
        mc = Z * math.sqrt(0.95 * 0.05 / k)
        out.append(
            {
                "quantity": q,
                "parameter": p,
                "replications": k,
                "of": len(g),
                "truth": g["truth"].iloc[0],
                "mean": u["est"].mean(),
                "relative_bias": u["est"].mean() / g["truth"].iloc[0] - 1,
                "mc_se_bias": u["est"].std(ddof=1) / math.sqrt(k) / abs(g["truth"].iloc[0]),
                "sd": u["est"].std(ddof=1),
                "mean_se": u["se"].mean(),
                "coverage": cover,
                "coverage_mc": mc,
                # power at this N: the share of all replications whose interval excludes 0
                "power": float(((g["lower"] > 0) | (g["upper"] < 0)).sum() / len(g)),
            }
        )
    return pd.DataFrame(out)


def table(s: pd.DataFrame, n: int, reps: int, seconds: float) -> str:
    lines = [
        f"N = {n}, {reps} replications (seed 2026, `SeedSequence.spawn`), WLSMV; "
        f"{seconds:.1f} s per replication for the three analyses.",
        "",
        "| quantity | parameter | replications | population | mean estimate | relative bias (MC SE) "
        "| SD of estimates | mean SE | 95% coverage | power (interval excludes 0) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in s.itertuples():
        used = f"{r.replications}" if r.replications == r.of else f"{r.replications} of {r.of}"
        lines.append(
            f"| {r.quantity} | {r.parameter} | {used} | {r.truth:.3f} | {r.mean:.3f} "
            f"| {r.relative_bias:+.1%} ({r.mc_se_bias:.1%}) | {r.sd:.3f} | {r.mean_se:.3f} "
            f"| {r.coverage:.3f} | {r.power:.2f} |"
        )
    mc = s["coverage_mc"].max()
    lines += ["", f"A true coverage of .95 is estimated within ±{mc:.3f} (95%) by this many replications."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument(
        "--from-csv",
        action="store_true",
        help="Rewrite the table from studies/validity_recovery.csv without simulating.",
    )
    args = ap.parse_args()
    t0 = time.perf_counter()
    csv = ROOT / "studies" / "validity_recovery.csv"
    if args.from_csv:
        res = pd.read_csv(csv, keep_default_na=False, na_values=[""])
        res["used"] = res["used"].astype(str) == "True"
        args.reps, args.n = int(res["rep"].nunique()), int(res["n"].iloc[0])
    else:
        res = run(args.reps, args.n, args.seed, args.workers)
        res.to_csv(csv, index=False)
    s = summarize(res)
    secs = float(res.groupby("rep")["seconds"].first().mean())
    md = table(s, args.n, args.reps, secs)
    levels = res[res["quantity"] == "latent stability"].groupby("rep")["level"].first().value_counts()
    refused = int((~res[res["quantity"].str.startswith("latent d")].groupby("rep")["used"].first()).sum())
    md += (
        f"\n\nLatent means were compared in {args.reps - refused} of {args.reps} replications (refused in "
        f"{refused}: a level of the invariance sequence was rejected in a population that is invariant). "
        "The stability came from the longitudinal model at the level "
        + ", ".join(f"{lv} ({k})" for lv, k in levels.items())
        + "."
    )
    print(md)
    print(f"total {time.perf_counter() - t0:.0f} s")
    doc = ROOT / "docs" / "validity.md"
    text = doc.read_text(encoding="utf-8")
    start, end = "<!-- recovery:start -->", "<!-- recovery:end -->"
    a, b = text.index(start) + len(start), text.index(end)
    doc.write_text(text[:a] + "\n" + md + "\n" + text[b:], encoding="utf-8")


if __name__ == "__main__":
    main()
