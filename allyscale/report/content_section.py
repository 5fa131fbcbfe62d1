"""The content-validity section of a report: panel indices, decisions, coverage and the revised pool.

Used by ``allyscale content analyze --out DIR`` (a report of its own) and by
:func:`allyscale.validate` when ``content_ratings=`` is given (a section before the
analyses of response data). Nothing is computed here that :func:`allyscale.content_validity`
did not compute; this module only lays the results out as tables and sentences.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from allyscale.report.bundle import ValidationReport
from allyscale.report.document import Section, Table

if TYPE_CHECKING:
    from allyscale.content import ContentValidityResult

__all__ = ["fill_content_section", "build_content_section", "content_report", "ContentReport"]

#: Krippendorff (2004): alpha >= .800 for reliable data, >= .667 for tentative conclusions.
KRIPPENDORFF_TENTATIVE = 0.667


def fill_content_section(res: ContentValidityResult, sec: Section) -> None:
    """Lay out a :class:`~allyscale.content.ContentValidityResult` in a report section."""
    d = res.diagnostics
    cut = d["cutoffs"]
    raters = d.get("raters", [])
    files = sorted(set(d.get("sources", {}).values()))
    tasks = d.get("tasks", [])
    sec.paragraphs.append(
        f"{len(raters)} rater(s) judged the items of {res.pool.name} before data collection"
        + (f" ({len(files)} file(s))" if files else "")
        + ": "
        + ", ".join(
            {
                "relevance": "relevance to the item's subcategory (1-4; Lynn, 1986)",
                "essential": "whether the item is essential (Lawshe, 1975)",
                "sort": "an item sort into the pool's subcategories (Anderson & Gerbing, 1991)",
            }[t]
            for t in tasks
        )
        + "."
    )
    for form, s in res.scale.items():
        which = "" if form == "item" else f" ({form} wording)"
        sec.paragraphs.append(
            f"Relevance{which}: S-CVI/Ave = {s['s_cvi_ave']:.3f} and S-CVI/UA = {s['s_cvi_ua']:.3f} over "
            f"{s['n_items']} items (Polit & Beck, 2006, suggest S-CVI/Ave of .90 or more); mean kappa* = "
            f"{s['mean_kappa']:.3f}. I-CVI is the share of raters giving 3 or 4; kappa* adjusts it for chance "
            "agreement (Polit, Beck & Owen, 2007); Aiken's V uses the whole scale, with its score interval "
            "(Penfield & Giacobbi, 2004)."
        )
        if s["s_cvi_ave"] < 0.90:
            sec.flag(f"S-CVI/Ave{which} {s['s_cvi_ave']:.2f} is below .90")
    for _, row in res.agreement.iterrows():
        if (
            str(row["index"]).startswith("Krippendorff")
            and np.isfinite(row["value"])
            and row["value"] < KRIPPENDORFF_TENTATIVE
        ):
            sec.flag(f"rater agreement on the {row['task']} task is low ({row['index']} = {row['value']:.2f} < .667)")
    counts = res.decisions["decision"].value_counts()
    sec.paragraphs.append(
        f"Decisions: {int(counts.get('keep', 0))} item(s) kept, {int(counts.get('revise', 0))} to revise, "
        f"{int(counts.get('drop', 0))} to drop. Rules: kappa* > {cut['kappa_keep']:.2f} keeps an item, kappa* < "
        f"{cut['kappa_drop']:.2f} drops it, in between it is revised (Polit, Beck & Owen, 2007, after Cicchetti & "
        "Sparrow, 1981); a CVR below its exact critical value (Ayre & Scally, 2014; one-tailed alpha = "
        f"{cut['alpha']:g}) allows at best revision; in the sort task an item is kept when a significant "
        "majority put it in its subcategory (binomial p < alpha), dropped when another subcategory was chosen more "
        "often (csv < 0), else revised. The worse of an item's decisions wins. Error rates of these rules on "
        "simulated panels are in docs/content_validity.md."
    )
    drop, revise = res.dropped, res.revise
    if drop:
        sec.flag(f"{len(drop)} item(s) to drop: {', '.join(drop)}")
    if revise:
        sec.flag(f"{len(revise)} item(s) to revise: {', '.join(revise)}")
    gaps = res.coverage.index[res.coverage["gap"]].tolist()
    if gaps:
        sec.flag(f"subcategories left with fewer than {cut['min_items']} items after dropping: {', '.join(gaps)}")
    for note in d.get("notes", []):
        sec.paragraphs.append(f"Note: {note}.")
    decisions = res.decisions.copy()
    texts = {it.id: it for it in res.pool.items}
    decisions["text"] = [texts[i].text for i in decisions.index]
    if any(it.informant_text for it in res.pool.items):
        decisions["informant text"] = [texts[i].informant_text or "" for i in decisions.index]
    sec.tables.append(
        Table(
            "content_decisions",
            "Content-validity decision per item",
            decisions,
            note="keep / revise / drop by the rules above; the reason quotes the deciding index.",
        )
    )
    cols = [
        c
        for c in [
            "item",
            "form",
            "facet",
            "n_raters",
            "n_relevant",
            "i_cvi",
            "pc",
            "kappa",
            "kappa_label",
            "aiken_v",
            "aiken_lower",
            "aiken_upper",
            "aiken_p",
            "n_essential",
            "cvr",
            "cvr_critical",
            "cvr_significant",
            "n_sorted",
            "nc",
            "no",
            "most_other",
            "n_none",
            "psa",
            "csv",
            "p_ag",
            "p_hm",
            "psa_factor",
            "decision",
        ]
        if c in res.items.columns
    ]
    per_item = res.items[cols].copy()
    units = [i if f == "item" else f"{i} ({f})" for i, f in zip(res.items["item"], res.items["form"])]
    per_item.index = pd.Index(units, name="unit")
    sec.tables.append(
        Table(
            "content_items",
            "Content-validity indices per item",
            per_item.drop(columns="item"),
            note="I-CVI (Lynn, 1986); pc, kappa* (Polit, Beck & Owen, 2007); Aiken's V with "
            f"{100 * d['conf_level']:.0f}% score interval and exact right-tail p (Aiken, 1985; "
            "Penfield & Giacobbi, 2004); CVR (Lawshe, 1975) with the exact critical value "
            "(Ayre & Scally, 2014); psa, csv (Anderson & Gerbing, 1991) with binomial p for "
            "two choices (p_ag) and for all choices offered (p_hm; Howard & Melloy, 2016); "
            "psa_factor: share sorted into any subcategory of the item's factor.",
        )
    )
    sec.tables.append(
        Table(
            "content_coverage",
            "Coverage of each subcategory after dropping",
            res.coverage,
            note=f"retained = keep + revise (and items nobody rated); gap: fewer than {cut['min_items']} retained.",
        )
    )
    agreement = res.agreement.copy()
    agreement.index = pd.Index([f"{t}: {i}" for t, i in zip(agreement["task"], agreement["index"])], name="statistic")
    sec.tables.append(
        Table(
            "content_agreement",
            "Rater agreement",
            agreement.drop(columns=["task", "index"]),
            note="Fleiss (1971) kappa with its z under chance agreement (Fleiss, Nee & Landis, 1979); "
            "Krippendorff's (2011) alpha (>= .800 reliable, >= .667 tentative). High prevalence "
            "of 'relevant' ratings lowers kappa even when raters agree (Feinstein & Cicchetti, "
            "1990).",
        )
    )
    if res.confusion is not None:
        sec.tables.append(
            Table(
                "content_confusion",
                "Item sort: intended (rows) by assigned (columns) subcategory",
                res.confusion,
                digits=0,
            )
        )
    if res.cvr_table is not None:
        sec.tables.append(
            Table(
                "cvr_critical",
                "Exact critical values of Lawshe's CVR (Ayre & Scally, 2014)",
                res.cvr_table,
                note=f"one-tailed alpha = {cut['alpha']:g}",
            )
        )
    comments = d.get("comments")
    if isinstance(comments, pd.DataFrame) and len(comments):
        sec.tables.append(
            Table(
                "content_comments",
                "Raters' comments",
                comments.set_index(pd.RangeIndex(1, len(comments) + 1, name="comment_no")),
            )
        )
    sec.numbers.update(
        n_raters=len(raters),
        scale=res.scale,
        decisions={k: int(counts.get(k, 0)) for k in ("keep", "revise", "drop")},
        dropped=drop,
        revise=revise,
        coverage_gaps=gaps,
        agreement={f"{r['task']}: {r['index']}": r["value"] for _, r in res.agreement.iterrows()},
        cutoffs=cut,
    )


def build_content_section(ctx, sec: Section) -> None:
    """Section builder of :func:`allyscale.validate` (``content_ratings=``)."""
    from allyscale.content import ContentValidityResult, content_validity
    from allyscale.errors import SpecificationError

    ratings = ctx.results.get("content_ratings")
    if isinstance(ratings, ContentValidityResult):
        res = ratings
    else:
        if ctx.pool is None:
            raise SpecificationError("content-validity ratings need the item pool (pool=)")
        res = content_validity(ratings, ctx.pool)
    ctx.results["content_validity"] = res
    fill_content_section(res, sec)


@dataclass
class ContentReport(ValidationReport):
    """A report of a content review; ``save`` also writes ``revised_pool.yaml``."""

    revised_pool: str = ""

    def save(self, out_dir: str | Path, *, inputs: Iterable[str | Path | None] = ()) -> Path:
        """Write report.html, results.json, tables/*.csv and revised_pool.yaml: all of them or none.

        The folder is staged and swapped in with one rename, as :meth:`ValidationReport.save`
        does; ``inputs`` (the rating files and the pool) are never written over.
        """
        import json

        from allyscale._files import publish_folder, spreadsheet_safe
        from allyscale.report.bundle import REPORT_ENTRIES

        def fill(staging: Path) -> None:
            (staging / "tables").mkdir()
            (staging / "report.html").write_text(self.html(), encoding="utf-8")
            (staging / "results.json").write_text(
                json.dumps(self.to_dict(), indent=2, allow_nan=False), encoding="utf-8"
            )
            for name, df in self.tables().items():
                spreadsheet_safe(df).to_csv(staging / "tables" / f"{name}.csv")
            (staging / "revised_pool.yaml").write_text(self.revised_pool, encoding="utf-8")

        publish_folder(Path(out_dir), fill, owned=(*REPORT_ENTRIES, "revised_pool.yaml"), inputs=inputs)
        return Path(out_dir) / "report.html"


def content_report(res: ContentValidityResult) -> ContentReport:
    """A stand-alone report of a content review (report.html, results.json, tables/*.csv, revised_pool.yaml)."""
    sec = Section("content", "Content validity")
    fill_content_section(res, sec)
    revised = res.revised_pool_yaml()  # made before anything is written
    refs = Section("references", "References")
    refs.tables.append(Table("references", "References", pd.DataFrame({"reference": REFERENCES}), index=False))
    meta = {
        "pool": res.pool.name,
        "raters": res.diagnostics.get("raters", []),
        "sources": res.diagnostics.get("sources", {}),
        "cutoffs": res.diagnostics.get("cutoffs", {}),
    }
    return ContentReport(
        [sec, refs],
        title=f"Content validity of {res.pool.name}",
        subtitle=f"{len(res.diagnostics.get('raters', []))} rater(s), {len(res.decisions)} items",
        meta=meta,
        revised_pool=revised,
    )


REFERENCES = [
    "Aiken, L. R. (1985). Three coefficients for analyzing the reliability and validity of ratings. Educational and "
    "Psychological Measurement, 45, 131-142.",
    "Anderson, J. C., & Gerbing, D. W. (1991). Predicting the performance of measures in a confirmatory factor "
    "analysis with a pretest assessment of their substantive validities. Journal of Applied Psychology, 76, 732-740.",
    "Ayre, C., & Scally, A. J. (2014). Critical values for Lawshe's content validity ratio. Measurement and "
    "Evaluation in Counseling and Development, 47, 79-86.",
    "Cicchetti, D. V., & Sparrow, S. A. (1981). Developing criteria for establishing interrater reliability of "
    "specific items. American Journal of Mental Deficiency, 86, 127-137.",
    "Feinstein, A. R., & Cicchetti, D. V. (1990). High agreement but low kappa: I. The problems of two paradoxes. "
    "Journal of Clinical Epidemiology, 43, 543-549.",
    "Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological Bulletin, 76, 378-382.",
    "Howard, M. C., & Melloy, R. C. (2016). Evaluating item-sort task methods. Journal of Business and Psychology, "
    "31, 173-186.",
    "Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. University of Pennsylvania.",
    "Lawshe, C. H. (1975). A quantitative approach to content validity. Personnel Psychology, 28, 563-575.",
    "Lynn, M. R. (1986). Determination and quantification of content validity. Nursing Research, 35, 382-385.",
    "Penfield, R. D., & Giacobbi, P. R. (2004). Applying a score confidence interval to Aiken's item "
    "content-relevance index. Measurement in Physical Education and Exercise Science, 8, 213-225.",
    "Polit, D. F., & Beck, C. T. (2006). The content validity index: Are you sure you know what's being reported? "
    "Research in Nursing & Health, 29, 489-497.",
    "Polit, D. F., Beck, C. T., & Owen, S. V. (2007). Is the CVI an acceptable indicator of content validity? "
    "Research in Nursing & Health, 30, 459-467.",
]
