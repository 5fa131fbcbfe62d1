"""Report section "From N to k items": a short form, why each item was kept or dropped, and how it holds up.

``shortform_section(result)`` turns a :class:`allyscale.shorten.ShortFormResult` into a
report :class:`~allyscale.report.document.Section` (tables, the search-trace figure, the
information curves of the short form against the full pool); ``build`` is the builder that
``allyscale.validate(shorten=...)`` registers. Nothing is computed here beyond formatting.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from allyscale.report.document import Figure, Section, Table, figure_to_svg

__all__ = [
    "shortform_section",
    "build",
    "SECTION_ID",
    "SECTION_TITLE",
    "shortform_report",
    "options_from",
    "add_to_sections",
]

SECTION_ID = "short-form"
SECTION_TITLE = "From pool to measure: a short form"


def shortform_section(result, *, section_id: str = SECTION_ID, title: str | None = None) -> Section:
    """The report section of a short form."""
    n_full, n_short = len(result.pool.item_ids), len(result.kept)
    sec = Section(section_id, title or f"From {n_full} to {n_short} items: the short form")
    d = result.diagnostics
    how = {"aco": "ant-colony optimisation", "sa": "simulated annealing"}.get(d["method"], "exhaustive search")
    sec.paragraphs.append(
        f"The short form keeps {n_short} of the pool's {n_full} items "
        f"({', '.join(f'{f}: {len(v)}' for f, v in result.selection.items())}), selected by "
        f"{how} (seed {d.get('seed')}) among the selections that meet the constraints, with "
        f"{d['evaluations']} candidate WLSMV fits in {d['search_seconds']:.1f} s (stopped: {d['stopped']}). "
        f"The search saw only the calibration sample (N = {d['n_calibration']}; {d['split']}); "
        + (
            f"fit and reliability are confirmed on the holdout (N = {d['n_holdout']}), because a searched model's "
            "fit on its own data is optimistic."
            if d["n_holdout"]
            else "no holdout was given, so the fit shown is that of the data the search optimised, which is optimistic."
        )
    )
    conf = d["confirmed_on"]
    said = []
    for form, label in (("short", "the short form"), ("full", "the full pool")):
        r = result.comparison.loc[f"{form} / {conf}"]
        om = [float(r[f"omega.{f}"]) for f in result.selection]
        said.append(
            f"{label} χ²({r['df']:.0f}) = {r['chisq']:.1f}, p = {r['pvalue']:.3f} "
            f"({'accepted' if r['accepted'] else 'not accepted'} by the fit policy), CFI = "
            f"{r['cfi.scaled']:.3f}, RMSEA = {r['rmsea.scaled']:.3f}, SRMR = {r['srmr']:.3f}, "
            f"ω {min(om):.2f}–{max(om):.2f} across the factors"
        )
    sec.paragraphs.append(
        f"On the {conf} sample (N = {int(result.comparison.loc[f'short / {conf}', 'N'])}): " + "; ".join(said) + "."
    )
    w = dict(result.objective.to_dict()["weights"])
    if not d.get("group"):
        w.pop("invariance", None)  # counts only with a group
    if d.get("method_factor"):
        w.pop("method", None)  # no method factor could be estimated (reason in diagnostics)
    sec.paragraphs.append(
        "Objective (weighted mean of components in [0, 1]): "
        + ", ".join(f"{c} × {v:g}" for c, v in w.items())
        + f"; ω target {result.objective.omega_target:.2f}; information over θ in "
        f"[{result.objective.theta_range[0]:g}, {result.objective.theta_range[1]:g}]. The fit component uses the "
        "project's fit policy (scaled-shifted χ² test of exact fit)."
    )
    if d.get("invariance_error"):
        sec.flag(
            f"the invariance of the short form across {d.get('group')} could not be tested: {d['invariance_error']}"
        )
    if d.get("invariance_collapsed"):
        merged = sorted({str(r.get("item")) for r in d["invariance_collapsed"] if isinstance(r, Mapping)})
        sec.paragraphs.append(
            "For the invariance test, response categories not observed in every group were "
            f"merged first (items {', '.join(merged)}; see results.json)."
        )
    unmet = result.unmet_targets
    if unmet:
        sec.flag("target(s) not reached on the " + d["confirmed_on"] + " sample: " + "; ".join(unmet))
    sec.numbers.update(
        {
            "n_pool": n_full,
            "n_short": n_short,
            "evaluations": d["evaluations"],
            "objective": result.best.objective,
            "stopped": d["stopped"],
            "method": d["method"],
            "unmet_targets": unmet,
        }
    )
    for form in ("short", "full"):  # the confirmation sample's fit and reliability, for results.json
        row = result.comparison.loc[f"{form} / {conf}"]
        sec.numbers[f"{form}_{conf}"] = {
            "N": int(row["N"]),
            "items": int(row["items"]),
            "chisq": float(row["chisq"]),
            "df": float(row["df"]),
            "pvalue": float(row["pvalue"]),
            "accepted": bool(row["accepted"]),
            "cfi.scaled": float(row["cfi.scaled"]),
            "rmsea.scaled": float(row["rmsea.scaled"]),
            "srmr": float(row["srmr"]),
            "omega": {f: float(row[f"omega.{f}"]) for f in result.selection},
            "rxx": {f: float(row[f"rxx.{f}"]) for f in result.selection},
        }
    sec.tables.append(
        Table(
            "shortform_comparison",
            "Short form and full pool on the calibration and holdout samples",
            result.comparison,
            note="chisq/df/pvalue: the scaled-shifted χ² test the fit policy judges; "
            "omega: ω of the latent responses; rxx: marginal reliability of θ (IRT view).",
        )
    )
    sec.tables.append(Table("shortform_targets", "Targets set for the short form", result.targets, index=False))
    if result.invariance is not None:
        sec.tables.append(
            Table(
                "shortform_invariance",
                f"Invariance of the short form across {d.get('group')} ({d['confirmed_on']} sample)",
                result.invariance,
                note="Ordinal invariance sequence (Wu & Estabrook, 2016); decisions by the fit policy.",
            )
        )
    sec.tables.append(
        Table(
            "shortform_part_whole",
            "Short- and full-form scale scores (confirmation sample)",
            result.part_whole,
            note="r_corrected removes the short form's error variance (σ²(1 − α)) that both "
            "scores share (after Levy, 1967); r_with_rest correlates the short form with "
            "the pool's other items of the factor.",
        )
    )
    if len(result.coverage):
        sec.tables.append(Table("shortform_coverage", "Coverage of every subcategory (facet)", result.coverage))
    sec.tables.append(Table("shortform_items", "Items kept and dropped, with the reason", result.items, digits=2))
    for f, table in result.item_statistics.items():
        sec.tables.append(
            Table(f"shortform_itemstats_{f}", f"Item statistics for selection: {f} (calibration)", table, digits=3)
        )
    fig = result.plot_trace()
    sec.figures.append(
        Figure("shortform_trace", "Search trace: objective of the best short form so far", figure_to_svg(fig))
    )
    if result.information is not None and len(result.information.columns):
        sec.figures.append(
            Figure(
                "shortform_information",
                f"Test information per factor: short form and full pool ({d['confirmed_on']} sample)",
                figure_to_svg(result.plot_information()),
            )
        )
    return sec


def options_from(shorten) -> dict[str, Any]:
    """``validate(shorten=)``: an int (items per factor), or a mapping of :func:`allyscale.shorten` options."""
    from allyscale.errors import SpecificationError

    if isinstance(shorten, bool):
        raise SpecificationError("shorten= takes items per factor (an int or a mapping), or a mapping of options")
    if isinstance(shorten, int):
        return {"items_per_factor": shorten}
    if isinstance(shorten, Mapping):
        opts = dict(shorten)
        if "items_per_factor" not in opts:
            raise SpecificationError("shorten= as a mapping needs 'items_per_factor'")
        if "data" in opts or "pool" in opts:
            raise SpecificationError("shorten= options cannot set data or pool (the report's are used)")
        return opts
    raise SpecificationError(f"shorten= takes an int or a mapping of options, got {type(shorten).__name__}")


def add_to_sections(sections: list, ctx, shorten) -> list:
    """The pipeline's sections with this one before the conclusion, when a short form is requested."""
    if shorten is None:
        return list(sections)
    ctx.results["shorten_options"] = options_from(shorten)
    out = list(sections)
    at = next((k for k, s in enumerate(out) if s[0] == "conclusion"), len(out))
    out.insert(at, (SECTION_ID, SECTION_TITLE, build))
    return out


def build(ctx, sec: Section) -> None:
    """Pipeline builder: run :func:`allyscale.shorten` with the options given to ``validate(shorten=...)``."""
    opts: Mapping[str, Any] | None = ctx.results.get("shorten_options")
    if not opts:
        sec.status = "not run"
        sec.paragraphs.append("No short form was requested (validate(shorten=...)).")
        return
    if ctx.pool is None:
        sec.status = "not run"
        sec.paragraphs.append("A short form needs an item pool (its factors, facets and wording).")
        return
    from allyscale.shorten import shorten

    opts = dict(opts)
    opts.setdefault("group", ctx.group)
    opts.setdefault("seed", ctx.seed)
    opts.setdefault("progress", False)
    result = shorten(ctx.data, pool=ctx.pool, **opts)
    ctx.results["short_form"] = result
    done = shortform_section(result, section_id=sec.id)
    sec.title = done.title
    pairs = ctx.results.get("pairs")
    if pairs is not None:  # the report's data: one row per target, the reference form's answers
        d = result.diagnostics
        sec.paragraphs.append(
            f"The data are paired ({pairs['n_targets']} targets, each rated on the {pairs['forms'][0]} and the "
            f"{pairs['forms'][1]} form): the short form was searched on the {pairs['forms'][0]} responses of the "
            f"calibration targets only (N = {d['n_calibration']}), and its fit and reliability were confirmed on "
            f"the {pairs['forms'][0]} responses of the other, holdout targets (N = {d['n_holdout']}); no target's "
            f"answers informed both the search and the confirmation. The {pairs['forms'][1]} reports did not enter "
            "the search, and the forms are not treated as independent groups (they rate the same targets)."
        )
        sec.numbers["paired"] = {"search_form": pairs["forms"][0], "n_targets": pairs["n_targets"]}
    sec.paragraphs += done.paragraphs
    sec.paragraphs.append(
        "The short form is saved with the report as short_form.yaml (pool YAML: the kept items "
        "with their wording on every form)."
    )
    sec.tables += done.tables
    sec.figures += done.figures
    sec.numbers.update(done.numbers)
    for f in done.flags:
        sec.flag(f)


def shortform_report(result, *, source: str = "data"):
    """A report (``ValidationReport``) holding only the short-form section, for ``allyscale shorten --report``."""
    from allyscale.report.bundle import ValidationReport

    sec = shortform_section(result)
    return ValidationReport(
        [sec],
        title=f"Short form of {result.pool.name}",
        subtitle=f"Data: {source}; {len(result.kept)} of {len(result.pool.item_ids)} items",
        meta={"source": source, "short_form": result.to_dict()},
        short_form=result,
    )
