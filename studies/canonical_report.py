"""The canonical allyship study, run in full and published: how many respondents, which structure, what power.

Runs (or resumes) ``studies/allyship.yaml`` into a results store, summarises it with allyscale's fit policy and
writes ``docs/canonical_study.md`` with its tables, plus ``docs/canonical/`` (the summary's CSV tables,
``summary.json`` and the acceptance / power figures as PNG and SVG).

Usage::

    python studies/canonical_report.py [--store out/canonical/allyship.sqlite] [--workers 2]

(``make canonical`` runs it.) The store is resumable: an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import allyscale as al  # noqa: E402
from allyscale.montecarlo.store import export_study  # noqa: E402

SPEC = ROOT / "studies" / "allyship.yaml"


def _md(df: pd.DataFrame, digits: int = 2) -> str:
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return "" if not np.isfinite(v) else f"{v:.{digits}f}"
        return str(v)

    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


FORMS = ROOT / "studies" / "forms_invariance.yaml"


def _forms_section(store: Path, workers: int) -> str:
    """Power to detect a lenient informant form (``studies/forms_invariance.yaml``), and false alarms."""
    al.run_study(FORMS, store, workers=workers, progress=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = al.summarize_study(store)
    inv = f.invariance[
        ["n", "level", "replications", "failed", "decided", "rejected", "rejected_of_all", "population_noninvariant"]
    ]
    out = ROOT / "docs" / "canonical" / "forms_invariance.csv"
    inv.to_csv(out, index=False)
    spec = al.load_study(FORMS)
    return f"""
## With what power across forms? (`studies/forms_invariance.yaml`)

The self-report and informant forms, as independent groups of equal size: three five-item factors of the
allyship structure, the informant form answering four items more leniently (every threshold shifted by −0.5:
a violation of scalar invariance, which Wu and Estabrook's sequence detects at the scalar step).
{spec.reps} replications per N; each step is decided by the fit policy (scaled difference test at .05).
`rejected`: share of the replications that tested the step (earlier steps held) in which it was rejected —
power where `population_noninvariant` is true, a false-alarm rate otherwise; `rejected_of_all`: the same over
every replication (the power the study's answer uses). `failed`: replications where a category was empty in
one group (the sequence cannot compare thresholds; nothing is collapsed silently).

{_md(inv)}

Answer of that study: {f.answer.get("reason", "")}
"""


def _run_timed(store: Path, workers: int) -> dict:
    """Run (or resume) the study; when this call ran replications, record its wall-clock time, worker count and
    the load average before and after in ``<store>.timing.json`` (a resumed or complete store keeps the timing
    of the run that did the work, marked ``partial`` when that run was itself a resumption)."""
    import json
    import os

    sidecar = store.with_name(store.name + ".timing.json")
    existed = store.exists()
    done_before = len(export_study(store)["reps"].drop_duplicates(["condition", "rep"])) if existed else 0
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    al.run_study(SPEC, store, workers=workers, progress=True)
    wall = time.perf_counter() - t0
    load1 = os.getloadavg()
    done = len(export_study(store)["reps"].drop_duplicates(["condition", "rep"]))
    if done > done_before:
        timing = {
            "wall_seconds": wall,
            "workers": workers,
            "cores": os.cpu_count(),
            "replications": done - done_before,
            "partial": done_before > 0,
            "load_before": load0,
            "load_after": load1,
        }
        sidecar.write_text(json.dumps(timing, indent=2), encoding="utf-8")
        return timing
    return json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.exists() else {}


def _timing_sentence(t: dict) -> str:
    if not t:
        return "The run that filled this store was not timed."
    part = " (a resumed run: the replications it added)" if t.get("partial") else ""
    return (
        f"Measured end to end: {t['replications']} replications in {t['wall_seconds'] / 60:.1f} minutes of wall-clock "
        f"time{part} with {t['workers']} worker processes on {t['cores']} cores, load average "
        f"{t['load_before'][0]:.1f} before and {t['load_after'][0]:.1f} after (1-minute)."
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=ROOT / "out" / "canonical" / "allyship.sqlite")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    args.store.parent.mkdir(parents=True, exist_ok=True)
    timing = _run_timed(args.store, args.workers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = al.summarize_study(args.store)
    out = ROOT / "docs" / "canonical"
    out.mkdir(parents=True, exist_ok=True)
    s.save(out)
    reps = export_study(args.store)["reps"]
    per_rep = reps.drop_duplicates(["condition", "rep"])
    cpu = float(per_rep["rep_seconds"].sum())
    spec = al.load_study(SPEC)
    models = s.models[
        [
            "n",
            "model",
            "replications",
            "converged",
            "proper",
            "accepted",
            "mean_chisq.scaled",
            "mean_cfi.scaled",
            "mean_rmsea.scaled",
            "mean_srmr",
        ]
    ].copy()
    models["model"] = pd.Categorical(models["model"], list(spec.models))
    models = models.sort_values(["n", "model"])
    sel_cols = ["n", "preferred_right", *[f"preferred_{m}" for m in spec.models], "none_admissible"]
    sel = s.selection[[c for c in sel_cols if c in s.selection.columns]]
    ret = s.retention[["n", "rule", "correct", "mean_factors"]] if len(s.retention) else pd.DataFrame()
    par = s.parameters
    worst = (
        par.groupby("n")
        .agg(
            parameters=("parameter", "count"),
            max_abs_rel_bias=("rel_bias", lambda x: x.abs().max()),
            max_abs_se_bias=("se_bias", lambda x: x.abs().max()),
            min_coverage=("coverage", "min"),
            max_coverage=("coverage", "max"),
            min_power=("power", "min"),
        )
        .reset_index()
    )
    lam = par[par["op"] == "=~"]
    lam_power = lam.groupby("n")["power"].min().rename("min_power_loadings")
    fc = par[(par["op"] == "~~") & (par["lhs"] != par["rhs"])]
    fc_power = fc.groupby("n")["power"].min().rename("min_power_factor_correlations")
    worst = worst.merge(lam_power, on="n", how="left").merge(fc_power, on="n", how="left")
    rel = s.reliability
    rel_tab = pd.DataFrame()
    if len(rel) and "omega" in rel.columns:
        rel_tab = rel.pivot_table(index="factor", columns="n", values="omega").reset_index()
        rel_tab.columns = [str(c) if c == "factor" else f"omega N={c}" for c in rel_tab.columns]
    answer = s.answer
    crit = answer.get("criteria", {})
    crit_rows = [
        {"n": int(n), "criterion": c["criterion"], "rate": c["rate"], "met": "yes" if c["met"] else "no"}
        for n, cs in crit.items()
        for c in cs
    ]
    crit_tab = pd.DataFrame(crit_rows)
    n_min = answer.get("n_min")
    grid = sorted(spec.conditions["n"])
    headline = (
        "**no sample size studied is enough**"
        if n_min is None
        else f"**{n_min} respondents are enough**" + (" (the smallest N studied)" if n_min == grid[0] else "")
    )
    text = f"""# The canonical allyship study: how many respondents does the measure need?

`studies/allyship.yaml`, run in full with `make canonical` (`python studies/canonical_report.py`): the
100-item allyship pool (six factors, twenty facets), five-point responses, a population with the
hypothesised six correlated factors (loadings .55–.80, all factor correlations .5, so that a second-order
model under *committing fully to allyship* is exact too). Every replication fits the one-factor,
correlated-factors, second-order and bifactor structures by WLSMV, judges them by allyscale's fit policy
(`allyscale.fitpolicy`; its error rates are in `docs/verdicts.md`), runs parallel analysis and MAP, and
computes reliability. {spec.reps} replications at each of N = {", ".join(map(str, spec.conditions["n"]))}.

## Answer

{headline}. {answer.get("reason", "")}

{("Note: " + answer["warning"]) if answer.get("warning") else ""}

### Every criterion at every N

{_md(crit_tab) if len(crit_tab) else "(none)"}

## Which structure?

Share of replications in which each structure is preferred (`preferred_right`: second-order or correlated
factors, the structures the population satisfies exactly; the rule prefers the simpler when both fit).

{_md(sel)}

## Does the hypothesised model fit?

Per N and model: convergence, admissible solutions (among converged), the share *accepted* by the fit
policy (scaled-shifted χ² not rejecting exact fit at .05, admissible solution), and mean scaled indices.

{_md(models)}

## Number of factors

{_md(ret) if len(ret) else "(not run)"}

## Parameters: bias, coverage and power (true model, Muthén & Muthén, 2002)

{_md(worst, 3)}

## Reliability (mean categorical omega per subscale)

{_md(rel_tab) if len(rel_tab) else "(not run)"}

## Cost

{len(per_rep)} replications; the workers' time adds up to {cpu / 60:.1f} minutes ({cpu / max(len(per_rep), 1):.2f} s
per replication on average). {_timing_sentence(timing)} Figures: `docs/canonical/acceptance.png`,
`docs/canonical/power.png`; every table as CSV in `docs/canonical/`.
"""
    if caught:
        text += "\nWarnings of the summary: " + "; ".join(sorted({str(w.message) for w in caught})) + "\n"
    text += _forms_section(args.store.parent / "forms_invariance.sqlite", args.workers)
    (ROOT / "docs" / "canonical_study.md").write_text(text, encoding="utf-8")
    print(text)
    print(_timing_sentence(timing))


if __name__ == "__main__":
    main()
