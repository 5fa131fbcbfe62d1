"""``allyscale.validate``: the analyses a scale-development article reports, in one call.

The pipeline only orchestrates: each section calls allyscale's public functions and
turns their results into tables; nothing is computed in templates or in the CLI. A
section whose analysis fails is kept in the report with its error (status ``failed``),
never dropped; warnings raised by an analysis (non-convergence, Heywood cases,
smoothing) become the section's flags.
"""

from __future__ import annotations

import platform
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allyscale import __version__
from allyscale._threads import blas_limited
from allyscale.errors import AllyscaleError, AllyscaleWarning, DataError, SpecificationError
from allyscale.estimator_rule import default_estimator
from allyscale.pool import ItemPool
from allyscale.report.bundle import ValidationReport
from allyscale.report.document import Section, Table
from allyscale.syntax import factor_items, model_variables, parse_model

__all__ = ["validate", "Context"]


@dataclass
class Context:
    """What every section sees: the data, the items, the models and the options."""

    data: pd.DataFrame
    items: list[str]
    pool: ItemPool | None
    models: dict[str, str]
    main_model: str
    estimator: str
    ordinal: bool
    group: str | None
    split_half: bool
    seed: int
    source: str
    external: list[str] = field(default_factory=list)
    reverse: list[str] = field(default_factory=list)
    scale: tuple[float, float] | None = None
    results: dict = field(default_factory=dict)

    @property
    def scored(self) -> pd.DataFrame:
        """Item responses with reverse-keyed items reversed (when a pool says which)."""
        if "scored" not in self.results:
            from allyscale.scoring import reverse_score

            items = self.data[self.items].astype(float)
            if self.pool is not None:
                items = reverse_score(items, self.pool)
            if self.reverse:
                lo, hi = self.scale if self.scale else (np.nanmin(items.to_numpy()), np.nanmax(items.to_numpy()))
                for item in self.reverse:
                    items[item] = lo + hi - items[item]
            self.results["scored"] = items
        return self.results["scored"]

    @property
    def analysis_data(self) -> pd.DataFrame:
        """Reverse-keyed items reversed (so every loading is expected positive), other columns kept."""
        if "analysis_data" not in self.results:
            frame = self.data.copy()
            frame[self.items] = self.scored
            self.results["analysis_data"] = frame
        return self.results["analysis_data"]

    @property
    def factors(self) -> dict[str, list[str]]:
        """Factor → items of the main model (first-order factors measured by items)."""
        return _model_factors(self.models[self.main_model])


def _model_factors(model: str) -> dict[str, list[str]]:
    """Factor → items of lavaan syntax (first-order factors measured by items)."""
    return factor_items(model)


def _section(section_id: str, title: str, build: Callable[[Context, Section], None], ctx: Context) -> Section:
    """Run one section builder, turning warnings into flags and errors into a failed section."""
    sec = Section(section_id, title)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllyscaleWarning)
        try:
            build(ctx, sec)
        except AllyscaleError as exc:
            sec.fail(f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            sec.fail(f"internal error in this analysis ({type(exc).__name__}: {exc})")
    for w in caught:
        if issubclass(w.category, AllyscaleWarning):
            msg = f"{w.category.__name__}: {w.message}"
            if msg not in sec.flags:
                sec.flag(msg)
    return sec


# --------------------------------------------------------------------------- sections
def _sample_section(ctx: Context, sec: Section) -> None:
    items = ctx.data[ctx.items]
    n = len(items)
    miss = items.isna()
    complete = int((~miss.any(axis=1)).sum())
    per_item = pd.DataFrame({"missing": miss.sum(), "percent": 100 * miss.mean()}).rename_axis("item")
    per_person = miss.sum(axis=1)
    sec.paragraphs.append(
        f"{n} respondents answered {len(ctx.items)} items; {complete} ({100 * complete / max(n, 1):.1f}%) answered "
        f"every item. {int(miss.to_numpy().sum())} responses ({100 * miss.to_numpy().mean():.2f}%) are missing; "
        f"the most incomplete respondent skipped {int(per_person.max()) if n else 0} items."
        + (
            f" Groups ({ctx.group}): "
            + ", ".join(f"{k} {v}" for k, v in ctx.data[ctx.group].value_counts(dropna=False).items())
            + "."
            if ctx.group
            else ""
        )
    )
    if miss.to_numpy().any():
        sec.tables.append(
            Table("missing_items", "Missing responses per item (items with any)", per_item[per_item["missing"] > 0])
        )
        sec.paragraphs.append(
            "Confirmatory models, reliability and validity use complete cases (listwise deletion); "
            "each analysis reports how many rows it dropped."
        )
    rep = ctx.results.get("read_report")
    if rep is not None:
        bits = [f"Read from {rep.format} file {rep.path}"]
        if rep.header_rows_dropped:
            bits.append(f"{rep.header_rows_dropped} extra header rows (question text, import ids) were dropped")
        for code, per in rep.code_counts.items():
            bits.append(f"missing-value code {code:g} turned {sum(per.values())} responses into missing values")
        if rep.user_missing:
            bits.append(f"{sum(rep.user_missing.values())} SPSS user-missing values were set to missing")
        if rep.invalid:
            bits.append(
                f"{len(rep.invalid)} invalid answers (not a number or off the response scale) were set to missing"
            )
            sec.flag(f"{len(rep.invalid)} invalid answer(s) set to missing when reading the file")
            sec.tables.append(
                Table("invalid_cells", "Invalid answers set to missing", pd.DataFrame(rep.invalid).head(50))
            )
        sec.paragraphs.append("; ".join(bits) + ".")
        sec.numbers.update(coded_missing=rep.n_coded_missing, invalid_cells=len(rep.invalid))
    screening = ctx.results.get("screen")
    if screening is None:
        from allyscale.quality import screen

        # screen what is analysed: the pool's reverse-keyed items and ``reverse`` are reverse-scored inside
        screening = screen(
            ctx.data,
            ctx.pool,
            items=None if ctx.pool is not None else ctx.items,
            factors=None if ctx.pool is not None else ctx.factors,
            reverse=ctx.reverse,
            scale=ctx.scale,
            id_column=(ctx.results.get("pairs") or {}).get("target_id"),
        )
    m = screening.mcar
    if np.isfinite(m.get("chisq", np.nan)):
        sec.paragraphs.append(
            f"Little's (1988) MCAR test: chi2({m['df']}) = {m['chisq']:.2f}, p = {m['pvalue']:.4f} "
            f"({m['patterns']} missing-data patterns)"
            + (": the data are unlikely to be missing completely at random." if m["pvalue"] < 0.05 else ".")
        )
        sec.numbers.update(mcar_chisq=m["chisq"], mcar_df=m["df"], mcar_p=m["pvalue"])
    counts = screening.counts
    checks = screening.diagnostics["settings"]["attention_checks"]
    if checks:
        sec.paragraphs.append(
            f"{counts['attention']} respondent(s) failed at least one attention check ({', '.join(checks)})."
        )
        sec.numbers["attention_check_failures"] = counts["attention"]
    for note in screening.diagnostics.get("notes", []):
        sec.paragraphs.append(f"Note: {note}.")
    sec.paragraphs.append(
        f"Careless-responding screens: longstring {counts['longstring']} (the same answer to at least half of the "
        f"items in a row; Johnson, 2005), no response variability {counts['irv']} (Dunn et al., 2018), multivariate "
        f"outliers {counts['mahalanobis']} (Mahalanobis p < .001 against the exact in-sample reference; Meade & "
        f"Craig, 2012), odd and even halves of the factors contradicting each other beyond chance (even-odd "
        f"consistency; Curran, 2016) {counts['even_odd']}, more than half of the items unanswered {counts['missing']}"
        + (
            f" (after reverse-scoring {', '.join(screening.diagnostics['settings']['reverse_scored'])})"
            if screening.diagnostics["settings"].get("reverse_scored")
            else ""
        )
        + ". "
        + (
            f"{len(screening.excluded)} flagged respondent(s) were excluded before the analyses "
            f"({', '.join(screening.diagnostics['settings']['exclude'])})."
            if screening.excluded
            else "Flagged respondents are listed and kept in the analyses."
        )
    )
    flagged = screening.flagged
    if len(flagged):
        id_col = screening.diagnostics["settings"].get("id_column")
        sec.tables.append(
            Table(
                "careless_flags",
                f"All {len(flagged)} respondents flagged by the screening rules",
                flagged,
                note="row: data row counted from 1"
                + (f"; id: the data's {id_col} column" if id_col else "")
                + ". Every flagged respondent is listed here, in results.json and in "
                "tables/careless_flags.csv.",
            )
        )
        sec.flag(f"{len(flagged)} respondent(s) flagged by screening rules")
    sec.numbers["careless_flagged"] = int(len(flagged))
    from allyscale.report.document import Figure, figure_to_svg
    from allyscale.report.figures import careless_screen

    sec.figures.append(
        Figure(
            "careless_screen",
            "Careless-responding screen: the distribution of each index, its "
            "cutoff (dashed) and the flagged respondents (red).",
            figure_to_svg(careless_screen(screening)),
        )
    )
    sec.numbers["excluded"] = len(screening.excluded)
    sec.numbers.update({f"flagged_{k}": v for k, v in counts.items()})
    if complete < n / 2:
        sec.flag(f"fewer than half of the respondents ({complete} of {n}) answered every item")
    sec.numbers.update(n=n, complete=complete, missing_responses=int(miss.to_numpy().sum()))


def _items_section(ctx: Context, sec: Section) -> None:
    from allyscale.descriptives import describe_items

    source = ctx.analysis_data if ctx.reverse and ctx.pool is None else ctx.data
    table = describe_items(source, ctx.pool, items=ctx.items, groups=None if ctx.pool else dict(ctx.factors))
    sec.paragraphs.append(
        f"{len(ctx.items)} items. Means, standard deviations, skew and excess kurtosis (psych's type 3), the "
        "proportions at the lowest (floor) and highest (ceiling) response, and the corrected item-total "
        "correlation with the other items of the same factor"
        + (" after reverse-scoring reverse-keyed items." if ctx.pool is not None and ctx.pool.reverse_items else ".")
        + (
            f" Items reverse-scored as declared: {', '.join(ctx.reverse)} (their statistics refer to the reversed "
            "scores)."
            if ctx.reverse and ctx.pool is None
            else ""
        )
    )
    sec.tables.append(
        Table(
            "item_descriptives",
            "Item descriptive statistics",
            table,
            note="r_drop: corrected item-total correlation within the item's factor.",
        )
    )
    low = table.index[table["r_drop"] < 0.30].tolist()
    if low:
        sec.flag(f"{len(low)} item(s) with corrected item-total r < .30: {', '.join(low)}")
    skewed = table.index[table["skew"].abs() > 2].tolist()
    if skewed:
        sec.flag(f"{len(skewed)} item(s) with |skew| > 2: {', '.join(skewed)}")
    sec.numbers["n_low_r_drop"] = len(low)


def _item_list_section(ctx: Context, sec: Section) -> None:
    if ctx.pool is None:
        # question texts (Qualtrics) and variable labels (SPSS) kept by read_responses
        report = ctx.results.get("read_report")
        labels = {
            **(getattr(report, "variable_labels", None) or {}),
            **(ctx.data.attrs.get("variable_labels") or {}),
            **(ctx.data.attrs.get("labels") or {}),
        }
        rows = [
            {
                "item": i,
                "factor": next((f for f, its in ctx.factors.items() if i in its), ""),
                "text": labels.get(i, ""),
            }
            for i in ctx.items
        ]
        sec.paragraphs.append("Items as named in the data file; texts are the file's question labels where present.")
    else:
        rows = [
            {
                "item": it.id,
                "factor": it.factor,
                "facet": it.facet or "",
                "reverse": it.reverse,
                "text": it.text,
                "informant text": it.informant_text or "",
            }
            for it in ctx.pool.items
            if it.id in ctx.items
        ]
        sec.paragraphs.append(
            f"Item pool: {ctx.pool.name}" + (f" (version {ctx.pool.version})" if ctx.pool.version else "") + "."
        )
    table = pd.DataFrame(rows).set_index("item")
    sec.tables.append(Table("items", "Items and their wording", table))


def _corr_kind(ctx: Context) -> str:
    return "polychoric" if ctx.ordinal else "pearson"


def _efa_data(ctx: Context) -> pd.DataFrame:
    """Items for the exploratory analyses: one random half with ``split_half`` (seeded)."""
    if "efa_rows" not in ctx.results:
        rows = ctx.data.index
        if ctx.split_half:
            rng = np.random.default_rng(ctx.seed)
            perm = rng.permutation(len(rows))
            ctx.results["efa_rows"] = rows[np.sort(perm[: len(rows) // 2])]
            ctx.results["cfa_rows"] = rows[np.sort(perm[len(rows) // 2 :])]
        else:
            ctx.results["efa_rows"] = rows
            ctx.results["cfa_rows"] = rows
    items = ctx.analysis_data.loc[ctx.results["efa_rows"], ctx.items]
    return items.dropna() if items.isna().any().any() and not ctx.ordinal else items


def _cfa_data(ctx: Context) -> pd.DataFrame:
    _efa_data(ctx)  # fixes the split
    return ctx.analysis_data.loc[ctx.results["cfa_rows"]]


def _factorability_section(ctx: Context, sec: Section) -> None:
    from allyscale.factorability import bartlett, kmo

    data = _efa_data(ctx)
    k = kmo(data)
    b = bartlett(data)
    sec.paragraphs.append(
        f"Kaiser-Meyer-Olkin measure of sampling adequacy: {k.overall:.3f} ({k.label(k.overall)}; Kaiser, 1974). "
        f"Bartlett's test of sphericity: χ²({b.df}) = {b.chisq:.2f}, p {'< .001' if b.pvalue < 0.001 else f'= {b.pvalue:.3f}'}."
    )
    table = k.items.to_frame("MSA")
    sec.tables.append(
        Table(
            "kmo_items", "Item measures of sampling adequacy (KMO)", table, note="Pearson correlations, as psych::KMO."
        )
    )
    low = table.index[table["MSA"] < 0.6].tolist()
    if k.overall < 0.6:
        sec.flag(f"overall KMO {k.overall:.2f} < .60: the items may not be factorable")
    if low:
        sec.flag(f"items with MSA < .60: {', '.join(low)}")
    sec.numbers.update(kmo=k.overall, bartlett_chisq=b.chisq, bartlett_df=b.df, bartlett_p=b.pvalue)


def _retention_section(ctx: Context, sec: Section) -> None:
    from allyscale.report.document import Figure, figure_to_svg
    from allyscale.report.figures import scree_plot
    from allyscale.retention import map_test, parallel_analysis

    data = _efa_data(ctx)
    corr = _corr_kind(ctx)
    pa = parallel_analysis(data, seed=ctx.seed, n_iter=100, corr=corr)
    mp = map_test(data, corr=corr)
    hyp = len(ctx.factors)
    ctx.results["n_factors"] = {"parallel": pa.n_factors, "map": mp.n_factors, "hypothesised": hyp}
    sec.paragraphs.append(
        f"Parallel analysis ({corr} correlations; 100 simulated data sets, 95th percentile; Horn, 1965) suggests "
        f"{pa.n_factors} factors and {pa.n_components} components; Velicer's (1976) MAP test suggests "
        f"{mp.n_factors}. The hypothesised model has {hyp} first-order factors."
    )
    sec.tables.append(
        Table(
            "retention",
            "Number of factors suggested by each criterion",
            pd.DataFrame(
                {"factors": [pa.n_factors, pa.n_components, mp.n_factors, hyp]},
                index=pd.Index(
                    ["parallel analysis (factors)", "parallel analysis (components)", "MAP", "hypothesised"],
                    name="criterion",
                ),
            ),
        )
    )
    sec.tables.append(
        Table("parallel_eigenvalues", "Observed and simulated eigenvalues (first 15)", pa.eigenvalues.head(15))
    )
    sec.figures.append(
        Figure("scree", "Scree plot with parallel-analysis reference eigenvalues.", figure_to_svg(scree_plot(pa)))
    )
    if pa.n_factors != hyp or mp.n_factors != hyp:
        sec.flag(
            f"retention criteria ({pa.n_factors} by parallel analysis, {mp.n_factors} by MAP) differ from the "
            f"hypothesised {hyp} factors"
        )
    sec.numbers.update(ctx.results["n_factors"])


def _efa_section(ctx: Context, sec: Section) -> None:
    from allyscale.efa import efa
    from allyscale.report.document import Figure, figure_to_svg
    from allyscale.report.figures import loadings_heatmap

    data = _efa_data(ctx)
    k = len(ctx.factors)
    corr = _corr_kind(ctx)
    pool_ok = ctx.pool is not None and ctx.main_model == "correlated" and k == len(ctx.pool.factors)
    res = efa(
        data,
        k,
        method="minres",
        rotation="oblimin",
        corr=corr,
        pool=ctx.pool if pool_ok else None,
        seed=ctx.seed,
        reverse_scored=True,
    )
    ctx.results["efa"] = res
    half = " on a random half of the sample" if ctx.split_half else ""
    sec.paragraphs.append(
        f"Exploratory factor analysis{half} (N = {res.n}): {k} factors, minimum-residual extraction, oblimin "
        f"rotation (GPArotation conventions, {res.diagnostics.get('starts', 1)} starts), {corr} correlations. "
        f"RMSR = {res.fit['rms']:.3f}, TLI = {res.fit['tli']:.3f}, RMSEA = {res.fit['rmsea']:.3f}."
    )
    sec.tables.append(
        Table(
            "efa_loadings",
            "Pattern matrix (oblimin)",
            res.loadings,
            note="Factors matched to the hypothesised factors by Tucker congruence."
            if pool_ok
            else "Factors ordered by variance accounted for (psych's convention).",
        )
    )
    sec.tables.append(Table("efa_phi", "Factor correlations", res.phi))
    if res.target_congruence is not None:
        sec.tables.append(
            Table(
                "efa_congruence",
                "Tucker congruence with the hypothesised structure",
                res.target_congruence,
                note="Values >= .95 indicate equality, .85-.94 fair similarity (Lorenzo-Seva & ten Berge, 2006).",
            )
        )
        low = res.target_congruence.index[res.target_congruence["congruence"] < 0.85].tolist()
        if low:
            sec.flag(f"factors with congruence < .85 to their hypothesised factor: {', '.join(map(str, low))}")
    if not res.item_flags.empty:
        sec.tables.append(
            Table(
                "efa_item_flags",
                "Items flagged in the EFA",
                res.item_flags,
                note="Rules: primary loading < .40, cross-loading >= .30, primary minus largest "
                "secondary < .15, communality < .30.",
            )
        )
        sec.flag(f"{len(res.item_flags)} item(s) flagged for revision (see the table)")
    if res.diagnostics.get("local_optima", 1) > 1:
        sec.flag(f"the rotation found {res.diagnostics['local_optima']} distinct local optima; the best is reported")
    sec.figures.append(Figure("efa_heatmap", "Pattern-matrix heat map.", figure_to_svg(loadings_heatmap(res.loadings))))
    sec.numbers.update(
        rms=res.fit["rms"],
        tli=res.fit["tli"],
        rmsea=res.fit["rmsea"],
        n=res.n,
        flagged_items=res.item_flags.index.tolist(),
    )


def _facet_separability(fit) -> str:
    """Why a facets model's latent matrix is not positive definite: facet pairs correlating >= .95."""
    est = fit.estimates
    latent = set(est.loc[est["op"] == "=~", "lhs"])
    cov = est[(est["op"] == "~~") & (est["lhs"] != est["rhs"]) & est["lhs"].isin(latent) & est["rhs"].isin(latent)]
    high = cov[cov["std_all"].abs() >= 0.95]
    if not len(high):
        return ""
    pairs = ", ".join(f"{a}–{b} ({r:.2f})" for a, b, r in zip(high["lhs"], high["rhs"], high["std_all"]))
    return f"facet pairs correlating .95 or more: {pairs}"


def _cfa_section(ctx: Context, sec: Section) -> None:
    from allyscale.cfa import cfa
    from allyscale.comparison import compare
    from allyscale.fitpolicy import DEFAULT_POLICY, evaluate_fit

    data = _cfa_data(ctx)
    n_models = len(ctx.models)
    policy = DEFAULT_POLICY
    half = " (the other random half)" if ctx.split_half else ""
    if n_models > 1:
        cmp_res = compare(data, dict(ctx.models), pool=ctx.pool, estimator=ctx.estimator, policy=policy)
        ctx.results["compare"] = cmp_res
        fits = cmp_res.fits
        test_cols = (
            ["chisq.scaled", "df.scaled", "pvalue.scaled"] if ctx.estimator != "ML" else ["chisq", "df", "pvalue"]
        )
        version = {"ML": "", "MLR": ".robust", "WLSMV": ".scaled"}[ctx.estimator]
        idx_cols = [f"cfi{version}", f"tli{version}", f"rmsea{version}", "srmr"]
        cols = [
            c
            for c in ["npar", *test_cols, *idx_cols, "aic", "bic", "admissible", "accepted"]
            if c in cmp_res.table.columns
        ]
        test_name = (
            "scaled-shifted χ²"
            if ctx.estimator == "WLSMV"
            else ("Yuan–Bentler scaled χ²" if ctx.estimator == "MLR" else "χ²")
        )
        sec.tables.append(
            Table(
                "cfa_comparison",
                "Fit of the competing models",
                cmp_res.table[cols],
                note=f"Test statistic: the {test_name}. accepted: the fit policy's verdict (admissible solution and "
                "exact fit not rejected at α = .05). Indices for reference (Hu & Bentler, 1999, suggest CFI and "
                "TLI ≥ .95, RMSEA ≤ .06, SRMR ≤ .08; derived for ML with continuous data and small models, these "
                "cutoffs are lenient for ordered items and large models; Xia & Yang, 2019).",
            )
        )
        if not cmp_res.tests.empty:
            sec.tables.append(
                Table(
                    "cfa_difference_tests",
                    "Difference tests of nested models",
                    cmp_res.tests,
                    index=False,
                    note="Only nested pairs are tested (model0 is nested in model1); "
                    + (
                        "WLSMV: lavaan's satorra.2000 scaled-shifted difference test."
                        if ctx.estimator == "WLSMV"
                        else "MLR: Satorra–Bentler (2001) scaled difference."
                        if ctx.estimator == "MLR"
                        else "ML: likelihood-ratio test."
                    ),
                )
            )
        choice = cmp_res.choice
        sec.tables.append(
            Table(
                "cfa_structure_choice",
                "Choice of the preferred structure",
                choice.table[["admissible", "accepted", "npar", "status"]],
                note="Rule: a model that a model nesting it fits significantly better is dropped; of "
                "nested models not significantly different the simpler is kept; non-nested "
                "survivors are ranked by the fit verdict, then parsimony (BIC for ML/MLR).",
            )
        )
        sec.paragraphs.append(f"Preferred structure{half}: {choice.reason}")
        ctx.results["preferred"] = choice
        main_fit = fits.get(ctx.main_model)
        if main_fit is None:
            raise AllyscaleError(f"the main model {ctx.main_model!r} could not be fitted")
        for name, fit in fits.items():
            if name == "facets" and fit.diagnostics.get("nonpd_latent"):
                why = _facet_separability(fit)
                msg = (
                    "the facets model has no admissible solution: its latent correlation matrix is not positive "
                    "definite, i.e. facets of one category are not separable" + (f" ({why})" if why else "")
                )
                sec.paragraphs.append(_sentence(msg))
                sec.flag(msg)
    else:
        main_fit = cfa(data, ctx.models[ctx.main_model], estimator=ctx.estimator)
    ctx.results["main_fit"] = main_fit
    fm = main_fit.fit_measures
    verdict = evaluate_fit(main_fit, model=ctx.main_model, policy=policy)
    ctx.results["fit_verdict"] = verdict
    sec.paragraphs.append(
        f"Confirmatory factor analysis{half}, N = {main_fit.ntotal}, estimator {ctx.estimator}. Fit policy: "
        f"{policy.describe(ctx.estimator)}. {verdict.statement}"
    )
    if not main_fit.converged:
        sec.fail("the main model did not converge: its fit statistics are not trustworthy")
    est = main_fit.estimates
    load = (
        est[est["op"] == "=~"][["lhs", "rhs", "est", "se", "std_all"]]
        .rename(columns={"lhs": "factor", "rhs": "indicator"})
        .set_index("indicator")
    )
    sec.tables.append(Table("cfa_loadings", f"Standardized loadings of the {ctx.main_model} model", load))
    latent = set(est.loc[est["op"] == "=~", "lhs"])
    lv = est[(est["op"] == "~~") & (est["lhs"] != est["rhs"]) & est["lhs"].isin(latent)]
    if len(lv):
        fc = lv[["lhs", "rhs", "std_all", "se"]].copy()
        fc.insert(0, "pair", [f"{a}–{b}" for a, b in zip(fc["lhs"], fc["rhs"])])
        sec.tables.append(
            Table(
                "cfa_factor_correlations",
                "Factor correlations (standardized)",
                fc.drop(columns=["lhs", "rhs"]).set_index("pair"),
            )
        )
    low = load.index[load["std_all"].abs() < 0.40].tolist()
    if low:
        sec.flag(f"standardized loadings below .40: {', '.join(low)}")
    heywood = main_fit.diagnostics.get("heywood") or []
    if heywood:
        sec.flag(f"Heywood case(s): {heywood}")
    sec.numbers.update(main_model=ctx.main_model, fit={k: fm.get(k) for k in fm}, verdict=verdict.to_dict())
    _add_path_diagram(ctx, sec, main_fit)
    if ctx.estimator == "WLSMV" and main_fit.converged:  # the graded-response view of the ordinal model
        from allyscale.irt import irt
        from allyscale.report.document import Figure, figure_to_svg
        from allyscale.report.figures import information_curves

        sec.figures.append(
            Figure(
                "information_curves",
                f"Item and test information of the {ctx.main_model} "
                "model's factors (normal-ogive graded response model equivalent to the WLSMV "
                "fit; Takane & de Leeuw, 1987).",
                figure_to_svg(information_curves(irt(main_fit))),
            )
        )


def _add_path_diagram(ctx: Context, sec: Section, main_fit) -> None:
    """The path diagram of the preferred structure (the main model when none is preferred)."""
    from allyscale.report.diagram import model_structure, path_diagram_parts
    from allyscale.report.document import Figure, figure_to_svg

    choice = ctx.results.get("preferred")
    fits = getattr(ctx.results.get("compare"), "fits", {}) or {}
    name = choice.preferred if choice is not None and choice.preferred in fits else ctx.main_model
    fit = fits.get(name, main_fit)
    structure = model_structure(fit.estimates)
    parts = path_diagram_parts(structure)
    why = "preferred structure" if choice is not None and choice.preferred == name else "hypothesised model"
    shown = (
        ["loadings (λ)"]
        + (["residual variances (θ)"] if structure.residuals else [])
        + (["factor correlations"] if structure.correlations else [])
        + (["second-order loadings and disturbances (ζ)"] if structure.higher else [])
        + (["general-factor loadings"] if structure.general else [])
    )
    for k, fig in enumerate(parts, 1):
        part = f" (part {k} of {len(parts)})" if len(parts) > 1 else ""
        sec.figures.append(
            Figure(
                "path_diagram" + (f"_{k}" if k > 1 else ""),
                f"Path diagram of the {name} model, the {why}{part}: standardized (std.all) "
                + ", ".join(shown[:-1])
                + (" and " if len(shown) > 1 else "")
                + shown[-1]
                + ".",
                figure_to_svg(fig),
            )
        )


def _reliability_section(ctx: Context, sec: Section) -> None:
    from allyscale.validity import scale_reliability

    data = _cfa_data(ctx)
    model = ctx.models[ctx.main_model]
    # the same analyses as `allyscale reliability`: one function, one set of options
    res = scale_reliability(data, model, estimator=ctx.estimator, fit=ctx.results.get("main_fit"), omega_factors="auto")
    rel = res.reliability.table
    ctx.results["reliability"] = rel
    sec.tables.append(
        Table(
            "reliability",
            "Reliability of the subscales and the total score",
            rel,
            note="alpha: Cronbach (1951), psych::alpha; omega: composite reliability as "
            "semTools::compRelSEM (categorical omega, Green & Yang 2009, for ordered items); "
            "AVE: average variance extracted (Fornell & Larcker, 1981).",
        )
    )
    if res.omega is not None:
        om = res.omega
        ctx.results["omega"] = om
        sec.paragraphs.append(
            f"Schmid-Leiman omega ({om.n_factors} group factors; psych::omega): omega-hierarchical = "
            f"{om.omega_h:.3f}, omega-total = {om.omega_t:.3f}, explained common variance of the general factor = "
            f"{om.ecv:.3f}."
        )
        sec.numbers.update(omega_h=om.omega_h, omega_t=om.omega_t, ecv=om.ecv)
    ht = res.htmt
    sec.tables.append(
        Table(
            "htmt",
            "Heterotrait-monotrait ratios (HTMT2)",
            ht,
            note="semTools::htmt defaults (geometric means; Roemer et al., 2021). Values < .85 "
            "support discriminant validity (Henseler et al., 2015).",
        )
    )
    sec.tables.append(
        Table(
            "fornell_larcker",
            "Fornell-Larcker criterion",
            res.fornell_larcker.table,
            note="Diagonal: square root of AVE; off-diagonal: factor correlations.",
        )
    )
    if ctx.external:
        from allyscale.validity import external_correlations

        ext = external_correlations(data, ctx.external, scales=dict(ctx.factors))
        sec.tables.append(
            Table(
                "external_correlations",
                "Correlations of scale scores with external measures",
                ext,
                index=False,
                note="Scale scores are item means (reverse-keyed items reversed); 95% Fisher-z intervals.",
            )
        )
        sec.numbers["external"] = ext
    low_rel = rel.index[(rel["omega"] < 0.70) | (rel["alpha"] < 0.70)].tolist()
    if low_rel:
        sec.flag(f"reliability below .70 for: {', '.join(map(str, low_rel))}")
    low_ave = rel.index[rel["ave"] < 0.50].dropna().tolist() if "ave" in rel else []
    if low_ave:
        sec.flag(f"AVE below .50 for: {', '.join(map(str, low_ave))}")
    iu = np.triu_indices(len(ht), 1)
    high = [(ht.index[i], ht.columns[j]) for i, j in zip(*iu) if ht.iat[i, j] >= 0.85]
    if high:
        sec.flag(f"HTMT >= .85 for: {', '.join(f'{a}–{b}' for a, b in high)}")
    sec.numbers.update(reliability=rel, htmt=ht)


def _invariance_section(ctx: Context, sec: Section) -> None:
    from allyscale.invariance import invariance

    if ctx.group is None:
        sec.status = "not run"
        sec.paragraphs.append("No grouping column was given (use --group), so measurement invariance was not tested.")
        return
    data = _cfa_data(ctx)
    est = ctx.estimator
    res = invariance(
        data, ctx.models[ctx.main_model], group=ctx.group, estimator=est, collapse=ctx.results.get("collapse", False)
    )
    table = res.table
    ctx.results["invariance"] = res
    groups = ", ".join(map(str, pd.unique(data[ctx.group].dropna())))
    if est == "WLSMV":
        sec.paragraphs.append(
            f"Measurement invariance across {ctx.group!r} (groups: {groups}) for ordered items, WLSMV with the "
            "delta parameterization and the identification of Wu and Estabrook (2016): configural, thresholds "
            "(thresholds equal; item intercepts and scale factors free in every group but the first), metric "
            "(+ loadings) and scalar (+ intercepts; latent means free instead) models; "
            + res.decision_rule()
            + "; difference tests as lavaan's satorra.2000. "
            + _sentence(res.note)
        )
    else:
        sec.paragraphs.append(
            f"Measurement invariance across {ctx.group!r} (groups: {groups}), estimator {est}: configural, metric "
            "(loadings equal), scalar (+ intercepts) and strict (+ residual variances) models; "
            + res.decision_rule()
            + "."
        )
    # decisions first, in a table narrow enough for a 1280-px screen and a printed page; the fit of each
    # level in a second table
    first = [
        c
        for c in (
            "decision",
            "delta_chisq",
            "delta_df",
            "delta_pvalue",
            "delta_cfi",
            "delta_rmsea",
            "released",
            "basis",
        )
        if c in table.columns
    ]
    rest = [c for c in table.columns if c not in first and c != "converged"]
    sec.tables.append(
        Table(
            "invariance",
            f"Measurement invariance across {ctx.group}: decisions",
            table[first],
            note="delta_chisq, delta_df, delta_pvalue: the scaled difference test against the "
            "previous level that held; delta_cfi, delta_rmsea: changes in the policy's index "
            "version (for reference: ΔCFI ≥ −.01, Cheung & Rensvold, 2002; ΔRMSEA ≤ .015, "
            "Chen, 2007).",
        )
    )
    sec.tables.append(Table("invariance_fit", f"Fit of each invariance model across {ctx.group}", table[rest]))
    if res.diagnostics.get("collapsed"):
        sec.tables.append(
            Table(
                "invariance_collapsed",
                "Sparse categories merged before the invariance models",
                pd.DataFrame(res.diagnostics["collapsed"]),
                index=False,
            )
        )
    from allyscale.report.document import Figure, figure_to_svg
    from allyscale.report.figures import invariance_steps

    sec.figures.append(
        Figure(
            "invariance_steps",
            f"Change in fit at each step of the invariance sequence across "
            f"{ctx.group}, with the reference changes (dashed) and the difference test's p value.",
            figure_to_svg(invariance_steps(table)),
        )
    )
    failed = res.first_failure()
    if failed:
        sec.flag(f"{failed} invariance does not hold; later levels are not interpretable")
    sec.numbers.update(invariance=table)


def _sentence(text: str) -> str:
    """``text`` with its first letter upper-case and a final full stop (names keep their case)."""
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if not text or text.endswith(".") else ".")


def _conclusion_section(ctx: Context, sec: Section) -> None:
    verdict = ctx.results.get("fit_verdict")
    lines = []
    if verdict is not None:
        lines.append("Fit: " + verdict.statement)
    choice = ctx.results.get("preferred")
    if choice is not None:
        if choice.preferred is None:
            lines.append("Structure: no competing model has an admissible solution, so no structure is preferred.")
        else:
            lines.append(
                f"Structure: the preferred structure is {choice.preferred}. {choice.reason}"
                + (
                    ""
                    if choice.preferred == ctx.main_model
                    else f" The loadings, reliability and invariance analyses in this report use the "
                    f"{ctx.main_model} model."
                )
            )
    nf = ctx.results.get("n_factors")
    if nf:
        lines.append(
            f"Retention: parallel analysis suggests {nf['parallel']} and MAP {nf['map']} factors against "
            f"the hypothesised {nf['hypothesised']}."
        )
    efa_res = ctx.results.get("efa")
    if efa_res is not None and efa_res.target_congruence is not None:
        lines.append(
            f"Exploratory recovery: Tucker congruence with the hypothesised factors ranges "
            f"{efa_res.target_congruence['congruence'].min():.2f}-"
            f"{efa_res.target_congruence['congruence'].max():.2f}; {len(efa_res.item_flags)} item(s) "
            "flagged for revision."
        )
    rel = ctx.results.get("reliability")
    if rel is not None:
        sub = rel.drop(index="total", errors="ignore")
        lines.append(
            f"Reliability: subscale omega {sub['omega'].min():.2f}-{sub['omega'].max():.2f} "
            f"(criterion .70; Nunnally & Bernstein, 1994)"
            + (f"; total-score omega {rel.loc['total', 'omega']:.2f}" if "total" in rel.index else "")
            + "."
        )
    inv = ctx.results.get("invariance")
    if inv is not None:
        lines.append(inv.statement(f"across {ctx.group}"))
    paired = ctx.results.get("paired_invariance")
    if paired is not None:
        forms = ctx.results["pairs"]["forms"]
        lines.append(paired.statement(f"across the {forms[0]} and {forms[1]} forms (paired)"))
    failed = [s for s in ctx.results.get("failed_sections", [])]
    if failed:
        lines.append(f"Analyses that failed and are not part of this conclusion: {', '.join(failed)}.")
    if not lines:
        sec.status = "not run"
        lines.append("No analysis produced results to conclude from.")
    sec.paragraphs.extend(lines)


def _methods_section(ctx: Context, sec: Section) -> None:
    import scipy

    n = len(ctx.data)
    sec.paragraphs.append(
        f"Analyses used allyscale {__version__} (Python {platform.python_version()}, NumPy {np.__version__}, "
        f"SciPy {scipy.__version__}, pandas {pd.__version__}), whose estimators are checked against lavaan 0.6.14 "
        "(Rosseel, 2012), psych 2.2.9 (Revelle, 2022) and semTools 0.5.6 (Jorgensen et al., 2022). "
        f"The data ({ctx.source}) had N = {n} respondents and {len(ctx.items)} items"
        + (" treated as ordinal" if ctx.ordinal else "")
        + ". "
        "Factorability was assessed with the KMO measure (Kaiser, 1974) and Bartlett's test; the number of factors "
        "with parallel analysis (Horn, 1965) and Velicer's (1976) MAP; exploratory factor analysis used minimum-"
        "residual extraction with oblimin rotation. Confirmatory models were estimated with "
        f"{ctx.estimator}"
        + (
            " (ordered items: DWLS on polychoric correlations, the scaled-shifted test of Asparouhov & Muthén, 2010)"
            if ctx.estimator == "WLSMV"
            else ""
        )
        + " and judged by the exact-fit test at α = .05 (an admissible solution whose scaled χ² test does not reject "
        "is accepted; a calibration study shows Hu and Bentler's (1999) cutoffs accept misspecified models of this "
        "size; Xia & Yang, 2019); nested structures were compared by difference tests (Satorra, 2000; Satorra & "
        "Bentler, 2001), non-nested ones by the fit verdict and parsimony; reliability with coefficient alpha, composite "
        "reliability (omega) and omega-hierarchical (McDonald, 1999; Zinbarg et al., 2005); discriminant validity "
        "with HTMT (Henseler et al., 2015) and the Fornell-Larcker (1981) criterion"
        + (
            f"; measurement invariance across {ctx.group} following Cheung and Rensvold (2002) and Chen (2007)"
            if ctx.group
            else ""
        )
        + "."
    )
    # the reference list is added by validate() once every section is written (see _add_references)


def _add_references(sections: list[Section], pool: ItemPool | None) -> None:
    """The methods section's reference list: exactly the works the report's text cites."""
    from allyscale.report.references import missing, reference_list

    texts = [
        t
        for sec in sections
        for t in [*sec.paragraphs, *(tab.note or "" for tab in sec.tables), *(fig.caption for fig in sec.figures)]
    ]
    extra = [pool.source] if pool is not None and pool.source else []
    refs = reference_list(texts, extra)
    methods = next((sec for sec in sections if sec.id == "methods"), None)
    if methods is None:
        return
    methods.tables.append(Table("references", "References", pd.DataFrame({"reference": refs}), index=False))
    lost = missing(texts, extra)
    if lost:
        methods.flag("cited without a reference entry: " + ", ".join(f"{a} ({y})" for a, y in lost))


VALIDATE_SECTIONS: list[tuple[str, str, Callable[[Context, Section], None]]] = [
    ("sample", "Sample and missing data", _sample_section),
    ("items", "Item analysis", _items_section),
    ("factorability", "Factorability", _factorability_section),
    ("retention", "Number of factors", _retention_section),
    ("efa", "Exploratory factor analysis", _efa_section),
    ("cfa", "Confirmatory factor analysis and competing models", _cfa_section),
    ("reliability", "Reliability and validity", _reliability_section),
    ("invariance", "Measurement invariance", _invariance_section),
    ("conclusion", "Conclusion", _conclusion_section),
    ("methods", "Methods and references", _methods_section),
    ("item-list", "Item wording", _item_list_section),
]


# ------------------------------------------------------------------------------ entry
@blas_limited
def validate(
    data: pd.DataFrame,
    *,
    pool: ItemPool | None = None,
    model: str | None = None,
    group: str | None = None,
    estimator: str | None = None,
    split_half: bool = False,
    seed: int = 1,
    source: str = "data",
    external: list[str] | None = None,
    reverse: list[str] | None = None,
    scale: tuple[float, float] | None = None,
    exclude: str | list[str] | None = None,
    content_ratings=None,
    shorten: int | dict | None = None,
    pairs: bool | tuple[str, str] = False,
    target_id: str | None = None,
    collapse: bool | int = False,
    expect: dict | None = None,
    reliability: dict | None = None,
    known_groups: str | None = None,
    reference=None,
    retest: pd.DataFrame | None = None,
    wave: str | None = None,
    retest_id: str | None = None,
    retest_latent: bool = True,
    criterion: str | None = None,
    criterion_latent: bool = False,
    esem: bool = False,
) -> ValidationReport:
    """Run the validation pipeline of a scale-development article.

    Parameters
    ----------
    data : DataFrame
        Responses as answered (reverse-keyed items not yet reversed); extra columns
        (group, external scores) allowed.
    pool : ItemPool, optional
        The item pool: its five competing structures are compared and its wording is
        listed. Give ``pool`` or ``model`` (or both: the model then is the main model).
    model : str, optional
        lavaan syntax of the hypothesised model.
    group : str, optional
        Column defining groups for measurement invariance.
    estimator : {"ML", "MLR", "WLSMV"}, optional
        Default: WLSMV when every item has at most 10 integer categories, else ML.
    split_half : bool
        Run the EFA on one random half and the CFA on the other (seeded).
    seed : int
        Seed for parallel analysis and the split.
    source : str
        Name of the data source, for the report.
    external : list of str or mapping, optional
        External measures for convergent/discriminant validity: a column (an observed score),
        ``"NAME=ITEM,ITEM,..."`` or ``"NAME=PREFIX*"`` (a factor of those items in one CFA with
        the main model), or a mapping name → column / items. Adds the section "Convergent,
        discriminant and criterion validity" (:func:`allyscale.latent_correlations`).
    expect : mapping, optional
        Expected patterns (``{"arbi": "> .50", "sdes": "|r| < .30"}``), marked met or not.
    reliability : mapping, optional
        Reliabilities of observed external scores (for the disattenuation).
    known_groups : str, optional
        Column with two groups that should differ (:func:`allyscale.known_groups`), with
        ``reference`` the reference group (default the first).
    retest : DataFrame, optional
        A retest wave of the same respondents (matched by ``retest_id``, default ``"id"``; with
        ``pairs`` the targets' self-report, matched by ``target_id``): adds the section
        "Stability" (:func:`allyscale.test_retest`; the latent stability unless
        ``retest_latent=False``). Or ``wave``: a column of ``data`` with the two waves.
    criterion : str, optional
        An outcome column: incremental validity of the main model's scale scores beyond the
        external measures (:func:`allyscale.incremental_validity`).
    criterion_latent : bool
        With ``criterion``: the latent-variable version (``latent=True``): the criterion
        regressed on the external measures' factors and the main model's factors in one SEM,
        the increment tested by the chi-square difference against the model without the
        scale's paths. Every external measure must then be given by its items.
    reverse : list of str, optional
        Reverse-keyed items to reverse-score before the analyses (``min + max - x``), for
        data analysed with a model file; a pool's reverse-keyed items are always reversed.
    scale : (min, max), optional
        Response scale for ``reverse``; default the observed range of the items.
    exclude : "flagged" or list of rule names, optional
        Remove respondents flagged by these screening rules (:func:`allyscale.screen`)
        before every analysis; the report lists who was removed. By default flagged
        respondents are listed and kept.
    content_ratings : rating file path(s), RatingSet or ContentValidityResult, optional
        A panel's content-validity ratings (:func:`allyscale.content_validity`): adds a
        first section with the indices, decisions and coverage.
    shorten : int or dict, optional
        Add the section "From N to k items": a short form by :func:`allyscale.shorten` with
        this many items per factor, or a dict of its options (``items_per_factor`` required;
        ``group`` and ``seed`` default to the report's). Needs a pool.
    pairs : bool or (str, str)
        Paired self-informant data (``<item>_<form>`` columns for the pool's two forms, or
        the two forms given): the other sections analyse the first (reference) form, one row
        per target, and the section "Paired self-informant design" compares the forms
        (agreement, CT-C(M-1) method effects, paired invariance with partial release).
    target_id : str, optional
        The target id column of paired data (needed with ``pairs``).
    collapse : bool or int
        Merge sparse categories (fewer than ``collapse`` answers, ``True``: none) before the
        ordinal invariance models, with a table of what was merged
        (:func:`allyscale.collapse_categories`).
    esem : bool
        Add the pool's ESEM and bifactor-ESEM structures (target-rotated towards its pattern)
        to the competing models, and the section "Exploratory structural equation models"
        (fit, cross-loadings, CFA against ESEM factor correlations, ESEM omega). Needs a pool.

    Returns
    -------
    ValidationReport
        ``.save(out_dir)`` writes report.html, results.json and tables/*.csv.

    Raises
    ------
    SpecificationError
        Neither pool nor model, an unknown estimator, or a group column absent.
    DataError
        Items of the pool or model missing from the data.
    """
    if pool is None and model is None:
        raise SpecificationError("validate needs a pool or a model")
    if esem and pool is None:
        raise SpecificationError("esem=True needs an item pool (its hypothesised pattern is the rotation target)")
    if pool is not None:
        models = pool.all_model_syntax(esem=esem)
        main = "correlated"
        if model is not None:
            models = {"hypothesised": model, **models}
            main = "hypothesised"
    else:
        models = {"hypothesised": model}
        main = "hypothesised"
    items: list[str] = []
    for syntax in models.values():
        ov, lv = model_variables(parse_model(syntax))
        items += [v for v in ov if v not in lv and v not in items]
    paired_info = None
    if pairs:
        from allyscale.report.paired_section import prepare

        data, paired_info = prepare(data, pool, items, pairs, target_id, source=source)
    elif target_id is not None:
        raise SpecificationError("target_id= is for paired data (pairs=True)")
    missing = [i for i in items if i not in data.columns]
    if missing:
        raise DataError(f"{source}: item(s) of the model missing from the data: {missing[:20]}")
    if group is not None and group not in data.columns:
        raise DataError(f"{source}: group column {group!r} is not in the data")
    from allyscale.report.validity_section import validity_inputs

    data, validity_info = validity_inputs(
        data,
        items=items,
        external=external,
        expect=expect,
        reliability=reliability,
        known_groups=known_groups,
        reference=reference,
        retest=retest,
        wave=wave,
        retest_id=retest_id or (target_id if paired_info is not None else None),
        retest_latent=retest_latent,
        criterion=criterion,
        criterion_latent=criterion_latent,
        source=source,
    )
    unknown = [i for i in reverse or [] if i not in items]
    if unknown:
        raise DataError(f"{source}: reverse-keyed item(s) not in the model: {unknown}")
    # allyscale's estimator rule, as every entry point (per item: integer answers, at most 7 categories)
    ordinal = (
        bool(items)
        and all(pd.api.types.is_numeric_dtype(data[i]) for i in items)
        and default_estimator(data, items) == "WLSMV"
    )
    by_rule = estimator is None
    if by_rule:
        estimator = "WLSMV" if ordinal else "ML"
    estimator = estimator.upper()
    if estimator not in ("ML", "MLR", "WLSMV"):
        raise SpecificationError(f"unknown estimator {estimator!r}; use ML, MLR or WLSMV")
    read_report = data.attrs.get("read_report")
    screening = None
    if exclude:
        from allyscale.quality import screen

        factors = _model_factors(models[main]) if pool is None else None
        screening = screen(
            data,
            pool,
            items=None if pool is not None else items,
            factors=factors,
            exclude=exclude,
            reverse=list(reverse or []),
            scale=scale,
            id_column=target_id if paired_info is not None else None,
        )  # flags by target id
        data = screening.data
    ctx = Context(
        data=data,
        items=items,
        pool=pool,
        models=models,
        main_model=main,
        estimator=estimator,
        ordinal=ordinal,
        group=group,
        split_half=split_half,
        seed=seed,
        source=source,
        external=list(validity_info["observed"]),
        reverse=list(reverse or []),
        scale=scale,
    )
    if read_report is not None:
        ctx.results["read_report"] = read_report
    if screening is not None:
        ctx.results["screen"] = screening
    ctx.results["collapse"] = collapse
    ctx.results["validity"] = validity_info
    sections = []
    section_list = list(VALIDATE_SECTIONS)
    if paired_info is not None:  # the paired design comes before the conclusion
        from allyscale.report.paired_section import add_to_sections as add_paired

        section_list = add_paired(section_list, ctx, paired_info)
    if content_ratings is not None:  # the panel's judgement comes before the data
        from allyscale.report.content_section import build_content_section

        ctx.results["content_ratings"] = content_ratings
        section_list.insert(0, ("content", "Content validity", build_content_section))
    from allyscale.report.validity_section import add_to_sections as add_validity  # with external= scores

    section_list = add_validity(section_list, ctx)
    from allyscale.report.esem_section import add_to_sections as add_esem  # after the confirmatory models

    section_list = add_esem(section_list, ctx, esem)
    if shorten is not None:  # the short form comes last before the conclusion, after every validation section
        from allyscale.report.shortform_section import add_to_sections

        section_list = add_to_sections(section_list, ctx, shorten)
    for sid, title, build in section_list:
        sec = _section(sid, title, build, ctx)
        if sec.status == "failed":
            ctx.results.setdefault("failed_sections", []).append(title)
        sections.append(sec)
    _add_references(sections, pool)
    scale = pool.name if pool is not None else "the hypothesised model"
    meta = {
        "source": source,
        "n": int(len(data)),
        "items": items,
        "estimator": estimator,
        "ordinal": ordinal,
        "group": group,
        "split_half": split_half,
        "seed": seed,
        "models": models,
        "main_model": main,
        "reverse_scored": (pool.reverse_items if pool is not None else []) + list(reverse or []),
        "software": {
            "allyscale": __version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
    }
    from allyscale.fitpolicy import DEFAULT_POLICY, estimator_note

    verdict = ctx.results.get("fit_verdict")
    choice = ctx.results.get("preferred")
    meta["estimator_rule"] = estimator_note(estimator, by_rule)
    meta["verdict"] = {
        "fit": None
        if verdict is None
        else {
            k: v
            for k, v in verdict.to_dict().items()
            if k in ("model", "accepted", "basis", "policy", "statistics", "statement")
        },
        "preferred_structure": None if choice is None else {"model": choice.preferred, "reason": choice.reason},
        "policy": DEFAULT_POLICY.to_dict(),
    }
    analysed = _cfa_data(ctx)[items + ([group] if group else [])]  # saved as data.csv for reproduce.R
    meta["analysed_data"] = {"file": "data.csv", "rows": int(len(analysed)), "columns": list(analysed.columns)}
    return ValidationReport(
        sections,
        title=f"Psychometric validation of {scale}",
        subtitle=f"Data: {source} (N = {len(data)}, {len(items)} items); {meta['estimator_rule']}",
        meta=meta,
        data=analysed,
        short_form=ctx.results.get("short_form"),
    )
