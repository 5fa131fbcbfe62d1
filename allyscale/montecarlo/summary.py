"""Summaries of a results store (simsem / Mplus style), the Muthén & Muthén sample-size rule, plots."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allyscale.errors import StatisticalWarning
from allyscale.montecarlo.decisions import replication_decisions
from allyscale.montecarlo.spec import CUTOFFS, StudySpec
from allyscale.montecarlo.store import _cond_value, _open_store, export_study
from allyscale.results import Result, Summary, jsonable


def population_values(spec: StudySpec, condition: Mapping[str, Any]) -> dict[tuple[str, str, str], float]:
    """Population values of the true model's parameters in the ``std_lv`` metric.

    Latent variables are scaled to unit (residual) variance, as ``cfa(..., std_lv=True)``
    (lavaan ``std.lv = TRUE``) identifies them: an endogenous factor whose disturbance
    variance is ``d`` has its item loadings multiplied, and its regressions on other
    factors divided, by ``sqrt(d)``. Items are on the latent-response (unit variance)
    metric, the metric of standardized ordinal and standardized continuous data alike.
    """
    pm = spec.population_model(condition)
    m = pm.matrices
    lv, ov = m.lv, m.ov
    endo = np.abs(m.beta).sum(axis=1) > 0
    scale = np.where(endo, np.sqrt(np.clip(np.diag(m.psi), 1e-300, None)), 1.0)
    out: dict[tuple[str, str, str], float] = {}
    for j, f in enumerate(lv):
        for i, v in enumerate(ov):
            if m.lambda_[i, j] != 0:
                out[(f, "=~", v)] = float(m.lambda_[i, j] * scale[j])
        for k, g in enumerate(lv):
            if m.beta[k, j] != 0:  # g regressed on f, lavaan writes f =~ g
                out[(f, "=~", g)] = float(m.beta[k, j] * scale[j] / scale[k])
    for a in range(len(lv)):
        for b in range(a + 1, len(lv)):
            if not endo[a] and not endo[b]:
                out[(lv[a], "~~", lv[b])] = float(m.psi[a, b] / np.sqrt(m.psi[a, a] * m.psi[b, b]))
    for i, v in enumerate(ov):
        out[(v, "~~", v)] = float(m.theta[i, i])
    return out


@dataclass(frozen=True)
class StudySummary(Result):
    """Summaries of a Monte Carlo study (simsem / Mplus style).

    Attributes
    ----------
    models : DataFrame
        Per condition × model: replications, convergence and proper-solution rates,
        mean fit measures, rejection rates at the Hu & Bentler (1999) cutoffs (among
        converged replications).
    selection : DataFrame
        Per condition: how often each model is the preferred structure by the fit policy's
        rule (:func:`allyscale.fitpolicy.choose_structure`), and ``preferred_right``, the
        share where it is one of ``correct_structures`` (default: the true model).
    pairs : DataFrame
        Per condition × competitor: how often the true model wins the nested difference test
        (``true_wins_diff``: a competitor nested in the true model is rejected, or the true
        model nested in the competitor is not; NaN for non-nested pairs), BIC (strictly lower;
        ties in ``ties_bic``) and the policy's CFI version (strictly higher; ties apart).
    retention : DataFrame
        Per condition × rule: proportion choosing the true number of factors, mean choice.
    parameters : DataFrame
        Per condition × true-model parameter: population value, mean estimate, relative
        bias, SD, mean SE, SE bias, 95% coverage, power (p < .05).
    sample_size : DataFrame
        Per combination of the non-``n`` conditions: the smallest N meeting Muthén &
        Muthén (2002) criteria, or NaN: ``|relative bias|`` < .10 for every parameter; ``|SE bias|``
        < .10 and coverage within .91-.98 unless violated beyond z Monte Carlo standard
        errors, z Bonferroni-adjusted over the condition's parameters (Muthén & Muthén judged
        10,000 replications; with a few hundred the raw rates of 100 parameters would fail by
        chance); for the parameters of interest
        ``|SE bias|`` < .05 (likewise) and power >= .80.
    reliability : DataFrame
        Mean reliability coefficients per condition and factor.
    answer : dict
        ``{"n_min", "reason"}``: the smallest N studied from which every larger N also meets
        the decisions that matter — the true model accepted by the fit policy in >= 80% of
        replications, the preferred structure right in >= 80%, every retention rule right in
        >= 80%, the Muthén & Muthén (2002) parameter criteria (power >= .80 for the parameters
        of interest) and, with groups, power >= .80 for each invariance step with a
        non-invariant population — or ``n_min`` None and why. With other conditions than
        ``n``: ``per_setting`` holds one answer each.
    invariance : DataFrame
        With groups: per condition × invariance level, the share of replications in which the
        level is rejected (``rejected``; power when the population is non-invariant at that
        level, a false-alarm rate otherwise).
    diagnostics : dict
        ``non_converged`` / ``improper`` / ``failed``: counts per "condition/model" where
        any fit did not converge, was improper (Heywood) or failed; ``incomplete``: the
        stored replications are fewer than the spec asks (an interrupted study).
    """

    models: pd.DataFrame
    selection: pd.DataFrame
    retention: pd.DataFrame
    parameters: pd.DataFrame
    sample_size: pd.DataFrame
    reliability: pd.DataFrame
    spec: dict = field(repr=False)
    diagnostics: dict = field(default_factory=dict)
    pairs: pd.DataFrame = field(default_factory=pd.DataFrame)
    answer: dict = field(default_factory=dict)
    invariance: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> Summary:
        """The answer, then the models, preferred structure, pairs, invariance, retention, minimum sample size
        and the worst parameter criteria per condition."""
        head = f"Monte Carlo study {self.spec.get('name')!r}"
        if self.spec.get("models"):
            head += f": estimator {self.spec.get('estimator')}, true model {self.spec.get('true_model')}"
        out = Summary(head)
        if self.answer:
            out.text("Answer: " + str(self.answer.get("reason", "")), strong=True)
        for title, df in (
            ("Models", self.models),
            ("Preferred structure", self.selection),
            ("True model against each competitor", self.pairs),
            ("Invariance", self.invariance),
            ("Retention", self.retention),
            ("Minimum sample size (Muthén & Muthén, 2002)", self.sample_size),
        ):
            if len(df):
                out.table(df, title=title, index=False)
        if len(self.parameters):
            agg = self.parameters.groupby("condition").agg(
                n=("n", "first"),
                max_abs_rel_bias=("rel_bias", lambda s: s.abs().max()),
                max_abs_se_bias=("se_bias", lambda s: s.abs().max()),
                min_coverage=("coverage", "min"),
                max_coverage=("coverage", "max"),
                min_power=("power", "min"),
            )
            out.table(agg, title="Parameters (worst case per condition)", index=True)
        if not out.blocks:
            out.text("No replication is stored.")
        return out

    def to_frame(self) -> pd.DataFrame:
        """Per condition × model: replications, convergence, mean fit and rejection rates (empty without
        models; :attr:`retention` then holds the study's results)."""
        return self.models

    def to_dict(self) -> dict:
        return jsonable(
            {
                "spec": self.spec,
                "answer": self.answer,
                "models": self.models,
                "selection": self.selection,
                "pairs": self.pairs,
                "invariance": self.invariance,
                "retention": self.retention,
                "parameters": self.parameters,
                "sample_size": self.sample_size,
                "reliability": self.reliability,
                "diagnostics": self.diagnostics,
            }
        )

    def plots(self) -> dict[str, Any]:
        """Matplotlib figures: ``power`` (power per parameter over N) and ``acceptance``
        (proportion of converged fits *not* rejected by each cutoff over N, per model)."""
        # object API (no pyplot state, no backend change); legends outside the axes, never over the lines
        from allyscale.report.figures import acceptance_curves, power_curves

        figs = {}
        if len(self.parameters):
            figs["power"] = power_curves(self.parameters)
        if len(self.models) and any(c.startswith("reject_") for c in self.models.columns):
            figs["acceptance"] = acceptance_curves(self.models)
        return figs

    def save(self, out: str | Path, *, inputs=()) -> list[Path]:
        """Write the tables (spreadsheet-safe CSV), summary.json, summary.txt and the plots (PNG + SVG) into ``out``.

        The folder appears complete or not at all (``allyscale._files.publish_folder``): files of an
        earlier summary there are replaced, other files are kept; ``inputs`` (e.g. the results store) are
        never written over.
        """
        from allyscale._files import publish_folder, spreadsheet_safe

        names: list[str] = []

        def fill(folder: Path) -> None:
            for name in SUMMARY_TABLES:
                spreadsheet_safe(getattr(self, name)).to_csv(folder / f"{name}.csv", index=False)
                names.append(f"{name}.csv")
            (folder / "summary.json").write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
            (folder / "summary.txt").write_text(str(self.summary()) + "\n", encoding="utf-8")
            names.extend(["summary.json", "summary.txt"])
            for name, fig in self.plots().items():
                for ext in ("png", "svg"):
                    fig.savefig(folder / f"{name}.{ext}", dpi=120)
                    names.append(f"{name}.{ext}")

        folder = publish_folder(out, fill, owned=SUMMARY_ENTRIES, inputs=inputs)
        return [Path(folder) / n for n in names]


#: the tables a summary writes, and every entry ``save`` owns in its folder (replaced as a whole by each save)
SUMMARY_TABLES = ("models", "selection", "pairs", "invariance", "retention", "parameters", "sample_size", "reliability")
SUMMARY_ENTRIES = (
    *(f"{t}.csv" for t in SUMMARY_TABLES),
    "summary.json",
    "summary.txt",
    *(f"{p}.{e}" for p in ("power", "acceptance", "convergence", "coverage", "bias") for e in ("png", "svg")),
)


def _reject(df: pd.DataFrame, index: str) -> pd.Series:
    direction, cut = CUTOFFS[index]
    x = df[index]
    return (x < cut) if direction == "<" else (x > cut)


def summarize_study(store: str | Path, *, alpha: float = 0.05) -> StudySummary:
    """Summarise a results store.

    Conventions: every rate is over the converged replications of the condition × model
    (non-converged fits never contribute fit statistics) except the convergence rate;
    rates of proper solutions are over converged fits. Parameter summaries use the
    true model's converged, proper replications. Relative bias = (mean est − θ) / θ
    (for θ = 0 the raw bias); SE bias = (mean SE − SD(est)) / SD(est) with SD using
    N − 1; coverage = share of Wald intervals ``est ± z(.975)·SE`` containing θ; power =
    share with p < ``alpha`` (for θ ≠ 0; for θ = 0 it is the type-I error rate).
    For WLSMV the robust ``.scaled`` chi-square p-value is used when present.

    References
    ----------
    Muthén & Muthén (2002); Hu & Bentler (1999); Pornprasertmanit et al. (2021, simsem).
    """
    from scipy.stats import norm

    tables = export_study(store)
    db, spec = _open_store(store)
    db.close()
    reps = tables["reps"]
    cond_cols = list(spec.conditions)
    models_rows, sel_rows, ret_rows, par_rows, rel_rows, pair_rows = [], [], [], [], [], []
    conds = spec.condition_list
    decisions: dict[tuple[int, int], dict] = {}
    if len(reps) and spec.models:
        from allyscale.fitpolicy import index_key, test_statistic

        fits = reps[reps["model"].notna()].copy()
        tests = tables.get("tests")
        tests = tests if tests is not None else pd.DataFrame(columns=["condition", "rep", "model0", "model1"])
        by_rep = {k: g for k, g in tests.groupby(["condition", "rep"])} if len(tests) else {}
        for (c, r), g in fits.groupby(["condition", "rep"], sort=True):
            t = by_rep.get((c, r))
            decisions[(c, r)] = replication_decisions(
                {row["model"]: row for row in g.to_dict("records")},
                [] if t is None else t.to_dict("records"),
                estimator=spec.estimator,
            )
        acc = pd.DataFrame(
            [
                {"condition": c, "rep": r, "model": m, "accepted": a}
                for (c, r), d in decisions.items()
                for m, a in d["accepted"].items()
            ]
        )
        test_name = test_statistic({}, spec.estimator)
        pcol = "pvalue.scaled" if test_name["name"] == "chisq.scaled" else "pvalue"
        for (c, model), g in fits.groupby(["condition", "model"], sort=True):
            conv = g[g["converged"] == True]  # noqa: E712 - object column of bools / None
            a = acc[(acc["condition"] == c) & (acc["model"] == model)]["accepted"]
            row = {
                "condition": c,
                **{k: _cond_value(conds[c][k]) for k in cond_cols},
                "model": model,
                "replications": len(g),
                "failed": int(g["error"].notna().sum()),
                "converged": float(len(conv) / len(g)),
                "proper": float(conv["proper"].astype(bool).mean()) if len(conv) else np.nan,
                # the fit policy's verdict, over every replication (a non-converged or inadmissible fit
                # is not accepted)
                "accepted": float(a.astype(bool).mean()) if len(a) else np.nan,
            }
            versions = {k: {"key": index_key(k, spec.estimator)} for k in ("cfi", "tli", "rmsea", "srmr")}
            for k in ("chisq", "df", "srmr"):
                row[f"mean_{k}"] = float(conv[k].mean()) if len(conv) else np.nan
            if pcol != "pvalue":
                row[f"mean_{test_name['name']}"] = float(conv[test_name["name"]].mean()) if len(conv) else np.nan
            for k in ("cfi", "tli", "rmsea"):
                key = versions[k]["key"]
                row[f"mean_{key}"] = float(conv[key].mean()) if len(conv) and key in conv else np.nan
            # rejection rates among converged fits: the policy's test and Hu & Bentler's cutoffs applied to the
            # policy's index version (for reference)
            row[f"reject_{pcol}"] = float((conv[pcol] < alpha).mean()) if len(conv) else np.nan
            for k, (direction, cut) in CUTOFFS.items():
                if k == "pvalue":
                    continue
                key = versions[k]["key"] if k in versions else k
                x = conv[key] if key in conv else pd.Series(np.nan, index=conv.index)
                row[f"reject_{key}"] = (
                    float(((x < cut) if direction == "<" else (x > cut)).mean()) if len(conv) else np.nan
                )
            models_rows.append(row)
        # model selection: the preferred structure per replication, and pairwise comparisons with the true model
        true = spec.true_model
        correct = set(spec.correct_structures or ([true] if true else []))
        pref = pd.DataFrame(
            [{"condition": c, "rep": r, "preferred": d["preferred"]} for (c, r), d in decisions.items()]
        )
        for c, g in pref.groupby("condition", sort=True):
            row = {
                "condition": c,
                **{k: _cond_value(conds[c][k]) for k in cond_cols},
                "replications": len(g),
                "correct_structures": ", ".join(sorted(correct)),
                "preferred_right": float(g["preferred"].isin(correct).mean()) if correct else np.nan,
                "none_admissible": float(g["preferred"].isna().mean()),
            }
            for m in spec.models:
                row[f"preferred_{m}"] = float((g["preferred"] == m).mean())
            sel_rows.append(row)
        if true is not None and len(spec.models) > 1:
            wide = fits.set_index(["condition", "rep", "model"])
            vcfi = index_key("cfi", spec.estimator)
            for c in sorted(fits["condition"].unique()):
                for other in spec.models:
                    if other == true:
                        continue
                    a = wide.xs((c, true), level=("condition", "model"))
                    b = wide.xs((c, other), level=("condition", "model"))
                    both = a.add_suffix("_t").join(b.add_suffix("_o"), how="inner")
                    both = both[(both["converged_t"] == True) & (both["converged_o"] == True)]  # noqa: E712
                    row = {
                        "condition": c,
                        **{k: _cond_value(conds[c][k]) for k in cond_cols},
                        "true_model": true,
                        "competitor": other,
                        "both_converged": len(both),
                    }
                    t = tests[(tests["condition"] == c)] if len(tests) else tests
                    sub = t[(t["model0"] == other) & (t["model1"] == true)] if len(t) else t
                    sup = t[(t["model0"] == true) & (t["model1"] == other)] if len(t) else t
                    if len(sub):  # the competitor is nested in the true model: the true model wins when it is rejected
                        row["nesting"] = f"{other} in {true}"
                        row["true_wins_diff"] = float((pd.to_numeric(sub["pvalue"], errors="coerce") < alpha).mean())
                    elif len(sup):  # the true model is nested in the competitor: wins when its extra parameters
                        row["nesting"] = f"{true} in {other}"  # are not needed
                        row["true_wins_diff"] = float((pd.to_numeric(sup["pvalue"], errors="coerce") >= alpha).mean())
                    else:
                        row["nesting"] = "not nested"
                        row["true_wins_diff"] = np.nan
                    if len(both) and both["bic_t"].notna().all() and both["bic_o"].notna().all():
                        row["true_wins_bic"] = float((both["bic_t"] < both["bic_o"]).mean())
                        row["ties_bic"] = float((both["bic_t"] == both["bic_o"]).mean())
                    else:
                        row["true_wins_bic"] = row["ties_bic"] = np.nan
                    ct, co = both.get(f"{vcfi}_t"), both.get(f"{vcfi}_o")
                    if len(both) and ct is not None and co is not None:
                        row[f"true_wins_{vcfi}"] = float((ct > co).mean())  # ties are not wins
                        row[f"ties_{vcfi}"] = float((ct == co).mean())
                    pair_rows.append(row)
    # retention
    true_k = spec.true_factors
    if spec.retention:
        if true_k is None:
            pm = spec.population_model(conds[0])
            lam = pm.matrices.lambda_
            true_k = int((np.abs(lam).sum(axis=0) > 0).sum())
        per_rep = reps.drop_duplicates(["condition", "rep"])
        for c, g in per_rep.groupby("condition"):
            for rule in spec.retention:
                col = f"n_factors_{rule}"
                x = pd.to_numeric(g[col], errors="coerce")
                ret_rows.append(
                    {
                        "condition": c,
                        **{k: _cond_value(conds[c][k]) for k in cond_cols},
                        "rule": rule,
                        "true_factors": true_k,
                        "correct": float((x == true_k).mean()),
                        "mean_factors": float(x.mean()),
                        "failed": int(x.isna().sum()),
                    }
                )
    # parameters
    est = tables["estimates"]
    if len(est) and spec.true_model is not None:
        z = norm.ppf(1 - alpha / 2)
        ok = reps[
            (reps["model"] == spec.true_model)
            & (reps["converged"] == True)  # noqa: E712
            & (reps["proper"] == True)  # noqa: E712 - an object column: True, False or missing
        ][["condition", "rep"]]
        e = est[est["model"] == spec.true_model].merge(ok, on=["condition", "rep"])
        for c, g in e.groupby("condition"):
            truth = population_values(spec, conds[c])
            for (lhs, op, rhs), h in g.groupby(["lhs", "op", "rhs"], sort=False):
                theta = truth.get((lhs, op, rhs), truth.get((rhs, op, lhs)) if op == "~~" else None)
                se = pd.to_numeric(h["se"], errors="coerce")
                if theta is None or se.isna().all() or (se == 0).all():
                    continue  # fixed parameter or no population value
                x = pd.to_numeric(h["est"], errors="coerce")
                sd = float(x.std(ddof=1)) if len(x) > 1 else np.nan
                mse = float(se.mean())
                cover = float(((x - z * se <= theta) & (theta <= x + z * se)).mean())
                pv = pd.to_numeric(h["pvalue"], errors="coerce") if "pvalue" in h else 2 * norm.sf(np.abs(x / se))
                par_rows.append(
                    {
                        "condition": c,
                        **{k: _cond_value(conds[c][k]) for k in cond_cols},
                        "parameter": f"{lhs}{op}{rhs}",
                        "lhs": lhs,
                        "op": op,
                        "rhs": rhs,
                        "replications": len(h),
                        "population": theta,
                        "mean_est": float(x.mean()),
                        "rel_bias": float((x.mean() - theta) / theta) if theta != 0 else float(x.mean() - theta),
                        "sd": sd,
                        "mean_se": mse,
                        "se_bias": (mse - sd) / sd if sd and sd > 0 else np.nan,
                        "coverage": cover,
                        "power": float((pv < alpha).mean()),
                    }
                )
    parameters = pd.DataFrame(par_rows)
    sample_size = _muthen_n(parameters, spec) if len(parameters) else pd.DataFrame()
    rel = tables["reliability"]
    if len(rel):
        num = [
            c
            for c in rel.columns
            if c not in ("condition", "rep", "model", *cond_cols) and pd.api.types.is_numeric_dtype(rel[c])
        ]
        keys = [c for c in rel.columns if c not in num and c not in ("rep",)]
        rel_tab = rel.groupby(keys, dropna=False)[num].mean().reset_index()
    else:
        rel_tab = pd.DataFrame(rel_rows)
    diagnostics: dict[str, Any] = {}
    models_df = pd.DataFrame(models_rows)
    if len(models_df):
        label = models_df["condition"].astype(str) + "/" + models_df["model"]
        conv_n = (models_df["converged"] * models_df["replications"]).round().astype(int)
        for key, counts in (
            ("non_converged", models_df["replications"] - conv_n),
            ("improper", (conv_n * (1 - models_df["proper"].fillna(1))).round().astype(int)),
            ("failed", models_df["failed"]),
        ):
            bad = {lab: int(c) for lab, c in zip(label, counts) if c > 0}
            if bad:
                diagnostics[key] = bad
    stored = reps.drop_duplicates(["condition", "rep"]).shape[0] if len(reps) else 0
    if stored < spec.reps * len(conds):
        diagnostics["incomplete"] = {"stored": int(stored), "planned": spec.reps * len(conds)}
    if diagnostics:
        warnings.warn(
            "Monte Carlo summary: "
            + "; ".join(f"{k}: {v}" for k, v in diagnostics.items())
            + " (rates are over converged fits; see the models table)",
            StatisticalWarning,
            stacklevel=2,
        )
    sel_df, ret_df, inv_df = pd.DataFrame(sel_rows), pd.DataFrame(ret_rows), _invariance_table(tables, spec, alpha)
    answer = _answer(spec, models_df, sel_df, ret_df, parameters, inv_df)
    if spec.reps < 50:
        msg = (
            f"{spec.reps} replications per condition: coverage moves in steps of 1/{spec.reps} and rates of .80 "
            f"carry a standard error of about {math.sqrt(0.16 / spec.reps):.2f}; Muthén & Muthén's coverage rule "
            "(.91-.98) and the .80 criteria need at least 50 (better 500)"
        )
        diagnostics["too_few_replications"] = msg
        answer["warning"] = msg
        warnings.warn("Monte Carlo summary: " + msg, StatisticalWarning, stacklevel=2)
    return StudySummary(
        models_df,
        sel_df,
        ret_df,
        parameters,
        sample_size,
        rel_tab,
        spec.to_dict(),
        diagnostics,
        pairs=pd.DataFrame(pair_rows),
        answer=answer,
        invariance=inv_df,
    )


def _invariance_table(tables: dict, spec: StudySpec, alpha: float) -> pd.DataFrame:
    """Per condition × level: the share of replications rejecting the level (groups studies)."""
    inv = tables.get("invariance")
    if inv is None or not len(inv):
        return pd.DataFrame()
    cond_cols = list(spec.conditions)
    reps_per = inv.groupby("condition")["rep"].nunique()
    failed = inv[inv["level"].isna()].groupby("condition")["rep"].nunique() if "level" in inv else pd.Series()
    rows = []
    for (c, level), g in inv[inv["level"].notna()].groupby(["condition", "level"], sort=False):
        held = g["held"]
        decided = held.notna()
        rows.append(
            {
                "condition": c,
                **{k: g[k].iloc[0] for k in cond_cols if k in g},
                "level": level,
                "replications": int(reps_per[c]),
                "failed": int(failed.get(c, 0)),
                "decided": int(decided.sum()),
                # among the replications where the level was tested (earlier levels held)
                "rejected": float((held[decided] == False).mean()) if decided.any() else np.nan,  # noqa: E712
                # over every replication: a failed or untested sequence did not detect anything
                "rejected_of_all": float((held == False).sum() / reps_per[c]),  # noqa: E712
                "population_noninvariant": bool(g["population_noninvariant"].iloc[0]),
            }
        )
    return pd.DataFrame(rows)


#: the rate every decision must reach for an N to count as sufficient
ANSWER_RATE = 0.80


def _answer(
    spec: StudySpec,
    models: pd.DataFrame,
    selection: pd.DataFrame,
    retention: pd.DataFrame,
    parameters: pd.DataFrame,
    invariance: pd.DataFrame,
) -> dict[str, Any]:
    """The smallest N from which every larger N studied meets every decision criterion (see StudySummary)."""
    others = [k for k in spec.conditions if k != "n"]
    grid = sorted(spec.conditions["n"])
    conds = spec.condition_list

    def setting(c: int) -> tuple:
        return tuple(_cond_value(conds[c][k]) for k in others)

    checks: dict[tuple, dict[int, list[tuple[str, float, bool]]]] = {}

    def add(c: int, label: str, value: float) -> None:
        n = int(conds[c]["n"])
        ok = bool(np.isfinite(value) and value >= ANSWER_RATE)
        checks.setdefault(setting(c), {}).setdefault(n, []).append((label, value, ok))

    # with groups whose populations differ, the pooled single-group fit is misspecified by design: its verdict is
    # not a criterion (the invariance steps are)
    mixture = spec.groups is not None and any(v for ch in spec.groups["changes"].values() for v in ch.values())
    if len(models) and spec.true_model is not None and not mixture:
        for _, r in models[models["model"] == spec.true_model].iterrows():
            add(int(r["condition"]), f"true model ({spec.true_model}) accepted", r["accepted"])
    if len(selection) and len(spec.models) > 1:
        for _, r in selection.iterrows():
            add(int(r["condition"]), "preferred structure right", r["preferred_right"])
    if len(retention):
        for _, r in retention.iterrows():
            add(int(r["condition"]), f"retention by {r['rule']} right", r["correct"])
    if len(parameters):
        p = _parameter_ok(parameters, spec)
        for c, g in p.groupby("condition"):
            add(int(c), "parameter criteria (Muthén & Muthén, 2002)", 1.0 if g["ok"].all() else 0.0)
            if not g["ok"].all():
                checks[setting(int(c))][int(conds[int(c)]["n"])][-1] = (
                    "parameter criteria (Muthén & Muthén, 2002; failing: "
                    + ", ".join(g.loc[~g["ok"], "parameter"].tolist()[:3])
                    + ")",
                    0.0,
                    False,
                )
    if len(invariance):
        for _, r in invariance[invariance["population_noninvariant"]].iterrows():
            add(
                int(r["condition"]),
                f"power to reject {r['level']} invariance (of all replications)",
                r["rejected_of_all"],
            )
    answers = []
    for key in sorted(checks, key=str):
        by_n = checks[key]
        n_min = None
        for n in reversed(grid):
            if n in by_n and all(ok for _, _, ok in by_n[n]):
                n_min = n
            else:
                break
        if n_min is not None:
            crit = "; ".join(f"{lab} {val:.2f}" for lab, val, _ in by_n[n_min])
            reason = (
                f"N = {n_min} is the smallest sample size studied from which every larger one meets every "
                f"criterion (rates >= {ANSWER_RATE:.2f}): at N = {n_min}, {crit}."
                + (
                    " It is the smallest N in the study's grid: smaller samples were not studied and may suffice too."
                    if n_min == grid[0]
                    else ""
                )
            )
        else:
            top = max(by_n)
            fails = "; ".join(f"{lab} {val:.2f}" for lab, val, ok in by_n[top] if not ok)
            reason = (
                f"No sample size studied is sufficient: even at the largest, N = {top}, the criteria not met "
                f"(rates >= {ANSWER_RATE:.2f} needed) are: {fails}."
            )
        criteria = {
            str(n): [{"criterion": lab, "rate": val, "met": ok} for lab, val, ok in by_n[n]] for n in sorted(by_n)
        }
        answers.append({**dict(zip(others, key)), "n_min": n_min, "reason": reason, "criteria": criteria})
    if not answers:
        return {"n_min": None, "reason": "the study has no decision to judge (no models, retention or parameters)"}
    if len(answers) == 1:
        return {"n_min": answers[0]["n_min"], "reason": answers[0]["reason"], "criteria": answers[0]["criteria"]}
    worst = [a["n_min"] for a in answers]
    n_all = None if any(v is None for v in worst) else max(worst)
    return {
        "n_min": n_all,
        "reason": (
            "In every setting studied: N = " + str(n_all)
            if n_all is not None
            else "Not every setting studied reaches a sufficient N"
        )
        + ". "
        + " ".join(f"[{', '.join(f'{k}={a[k]}' for k in others)}] {a['reason']}" for a in answers),
        "per_setting": answers,
    }


def _parameter_ok(parameters: pd.DataFrame, spec: StudySpec) -> pd.DataFrame:
    """The parameter table with ``interest`` and ``ok`` (the Muthén & Muthén, 2002, criteria) per row."""
    p = parameters.copy()
    if spec.interest:
        p["interest"] = p["parameter"].isin(spec.interest)
    else:
        p["interest"] = (p["population"] != 0) & ~((p["op"] == "~~") & (p["lhs"] == p["rhs"]))
    # Muthén & Muthén (2002) judged 10,000 replications; with R replications the estimates of SE bias and coverage
    # carry Monte Carlo error (the SD of R estimates has a relative standard error of about 1/sqrt(2(R - 1)); a
    # coverage rate c has sqrt(c(1 - c)/R)). A criterion fails only when it is violated beyond z Monte Carlo
    # standard errors, z Bonferroni-adjusted over the m parameters of a condition (family-wise one-sided .025),
    # so that a study of 100 parameters does not fail by chance alone; power >= .80 is judged as estimated.
    from scipy.stats import norm

    if "condition" in p:
        m = p.groupby("condition")["parameter"].transform("count").clip(lower=1).astype(float)
    else:
        m = pd.Series(float(max(len(p), 1)), index=p.index)
    z = norm.ppf(1 - 0.025 / m)
    # without a replication count (a table built by hand) the criteria are judged as estimated
    r = p["replications"].clip(lower=2).astype(float) if "replications" in p else pd.Series(np.inf, index=p.index)
    mc_se_bias = (p["se_bias"].abs() + 1) / np.sqrt(2 * (r - 1))
    cov = p["coverage"]
    mc_cov = np.sqrt(np.clip(cov * (1 - cov), 1 / r, None) / r)
    p["mc_se_se_bias"] = mc_se_bias
    p["mc_se_coverage"] = mc_cov
    se_ok = (p["se_bias"].abs() - z * mc_se_bias) < 0.10
    cov_ok = ((cov + z * mc_cov) >= 0.91) & ((cov - z * mc_cov) <= 0.98)
    ok_all = (p["rel_bias"].abs() < 0.10) & se_ok & cov_ok
    ok_int = (~p["interest"]) | (((p["se_bias"].abs() - z * mc_se_bias) < 0.05) & (p["power"] >= 0.80))
    p["ok"] = ok_all & ok_int
    return p


def _muthen_n(parameters: pd.DataFrame, spec: StudySpec) -> pd.DataFrame:
    """Smallest N per setting of the other conditions where, for every free parameter, ``|relative bias|`` and
    ``|SE bias|`` < .10, coverage in [.91, .98], and for the parameters of interest (default: every parameter
    with a non-zero population value that is not a residual variance) ``|SE bias|`` < .05 and power >= .80."""
    others = [k for k in spec.conditions if k != "n"]
    p = _parameter_ok(parameters, spec)
    rows = []
    groups = p.groupby(others, dropna=False) if others else [((), p)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        by_n = g.groupby("n")["ok"].all().sort_index()
        # the smallest N from which every larger N studied also meets the criteria
        n_min = np.nan
        for n in by_n.index[::-1]:
            if by_n[n]:
                n_min = n
            else:
                break
        worst = g.groupby("n").apply(lambda h: h.loc[~h["ok"], "parameter"].tolist()[:3], include_groups=False)
        rows.append(
            {**dict(zip(others, key)), "n_min": n_min, "failing_at_largest_n": worst.iloc[-1] if len(worst) else []}
        )
    return pd.DataFrame(rows)
