"""The reproduction kit of a report: ``reproduce.R`` refits every model of the report in lavaan.

A reviewer who uses lavaan should not have to retype a model to check it. The report folder
holds ``data.csv`` (the data the confirmatory models were fitted to: complete rows as
analysed, reverse-keyed items already reversed, respondents excluded by ``exclude=`` already
removed, the CFA half with ``split_half``) and ``reproduce.R``, which refits with
lavaan 0.6.14 (and semTools' ``measEq.syntax`` for ordered items across groups):

* every competing model of the table "Fit of the competing models" (or the one
  hypothesised model), with the report's estimator and, for WLSMV, every item ``ordered``;
* every level of the measurement-invariance sequence across the report's group (ML/MLR:
  ``group.equal``; WLSMV: delta parameterization with Wu & Estabrook's (2016) identification,
  ``ID.cat = "Wu.Estabrook.2016"``),

and prints the same fit measures (lavaan's names) next to the values of ``results.json``.
``Rscript reproduce.R out.csv`` also writes them as a long table (``table, row, measure,
value``) for a machine comparison (``tests/test_reproduce.py`` does this).

Not refitted (listed in the script's header): the exploratory analyses, reliability and
validity coefficients, the paired self-informant models, and invariance after ``collapse=``.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["reproduce_script", "reproduce_targets", "DATA_FILE", "SCRIPT_FILE"]

DATA_FILE = "data.csv"
SCRIPT_FILE = "reproduce.R"

#: measures lavaan's fitMeasures() knows by the name allyscale reports
_LAVAAN_MEASURES = {
    "npar",
    "chisq",
    "df",
    "pvalue",
    "chisq.scaled",
    "df.scaled",
    "pvalue.scaled",
    "chisq.scaling.factor",
    "cfi",
    "tli",
    "rmsea",
    "rmsea.ci.lower",
    "rmsea.ci.upper",
    "srmr",
    "cfi.scaled",
    "tli.scaled",
    "rmsea.scaled",
    "cfi.robust",
    "tli.robust",
    "rmsea.robust",
    "aic",
    "bic",
    "logl",
}


def _r_str(text: str) -> str:
    """An R string literal (JSON escaping is valid R escaping for these characters)."""
    return json.dumps(str(text), ensure_ascii=False)


def _r_chr(values) -> str:
    return "c(" + ", ".join(_r_str(v) for v in values) + ")"


def _table(report, section: str, name: str):
    try:
        sec = report.section(section)
    except KeyError:
        return None
    if sec.status == "failed":
        return None
    return next((t.data for t in sec.tables if t.name == name), None)


def reproduce_targets(report) -> list[dict[str, Any]]:
    """The fit measures ``reproduce.R`` recomputes: ``table``, ``row``, ``measure``, ``value``.

    Taken from the report's tables (``cfa_comparison``, ``invariance_fit``) and the main
    model's ``numbers["fit"]``; only measures lavaan's ``fitMeasures`` has under the same name.
    """
    out: list[dict[str, Any]] = []

    def add(table: str, frame, rows) -> None:
        for row in rows:
            for col in frame.columns:
                if col in _LAVAAN_MEASURES:
                    v = frame.at[row, col]
                    try:
                        v = float(v)
                    except (TypeError, ValueError):
                        continue
                    if v == v:
                        out.append({"table": table, "row": str(row), "measure": str(col), "value": v})

    comp = _table(report, "cfa", "cfa_comparison")
    if comp is not None:
        add("cfa_comparison", comp, comp.index)
    try:
        fit = report.section("cfa").numbers.get("fit") or {}
    except KeyError:
        fit = {}
    main = report.meta.get("main_model")
    for k, v in fit.items():
        if k in _LAVAAN_MEASURES and isinstance(v, (int, float)) and v == v:
            out.append({"table": "main_fit", "row": str(main), "measure": k, "value": float(v)})
    inv = _table(report, "invariance", "invariance_fit")
    if inv is not None and not _collapsed(report):
        add("invariance_fit", inv, [r for r in inv.index if r != "strict" or report.meta.get("estimator") != "WLSMV"])
    return out


def _collapsed(report) -> bool:
    return _table(report, "invariance", "invariance_collapsed") is not None


def reproduce_script(report) -> str:
    """The text of ``reproduce.R`` for ``report`` (a :class:`~allyscale.report.bundle.ValidationReport`)."""
    meta = report.meta
    est = str(meta.get("estimator", "ML")).upper()
    items = list(meta.get("items", []))
    models: dict[str, str] = dict(meta.get("models", {}))
    group = meta.get("group")
    main = meta.get("main_model")
    comp = _table(report, "cfa", "cfa_comparison")
    fitted = list(comp.index) if comp is not None else [main]
    fitted = [m for m in fitted if m in models]
    inv = _table(report, "invariance", "invariance_fit")
    targets = reproduce_targets(report)
    ordinal = est == "WLSMV"
    L: list[str] = []
    a = L.append
    a("# reproduce.R: refit every model of this report with lavaan and print the same fit measures.")
    a(f"# Written by allyscale {meta.get('software', {}).get('allyscale', '')} for {meta.get('source', 'data')}.")
    a("# Run from anywhere:  Rscript reproduce.R            (prints allyscale's and lavaan's values side by side)")
    a("#                     Rscript reproduce.R fits.csv   (also writes them as a table)")
    a("# Checked with R 4.x, lavaan 0.6.14 and semTools 0.5.6 (ordered items across groups only).")
    a(
        f"# data.csv: the {meta.get('analysed_data', {}).get('rows', '')} rows the confirmatory models were fitted to "
        "(reverse-keyed items already reversed; excluded respondents removed)."
    )
    a("# Not refitted here: exploratory analyses, reliability and validity coefficients, paired self-informant")
    a(
        "# models"
        + (", and invariance (sparse categories were merged first: see the report)" if _collapsed(report) else "")
        + "."
    )
    a("")
    a("suppressPackageStartupMessages(library(lavaan))")
    a("args <- commandArgs(trailingOnly = FALSE)")
    a('here <- dirname(normalizePath(sub("^--file=", "", args[grep("^--file=", args)][1])))')
    a("if (is.na(here)) here <- getwd()")
    a("out_csv <- commandArgs(trailingOnly = TRUE)[1]")
    a(f"d <- read.csv(file.path(here, {_r_str('data.csv')}), check.names = FALSE, stringsAsFactors = FALSE)")
    a(f"items <- {_r_chr(items)}")
    a(f"estimator <- {_r_str(est)}")
    a(f"ordered <- {'items' if ordinal else 'NULL'}")
    a("")
    a("models <- list(")
    a(",\n".join(f"  {_r_str(name)} = {_r_str(models[name])}" for name in fitted))
    a(")")
    a("")
    a(
        "targets <- read.csv(text = "
        + _r_str(
            "table,row,measure,value\n"
            + "".join(f"{t['table']},{t['row']},{t['measure']},{t['value']!r}\n" for t in targets)
        )
        + ", stringsAsFactors = FALSE)"
    )
    a("results <- data.frame(table = character(), row = character(), measure = character(), allyscale = numeric(),")
    a("                      lavaan = numeric(), stringsAsFactors = FALSE)")
    a("record <- function(table, row, fit) {")
    a("  want <- targets[targets$table == table & targets$row == row, ]")
    a("  if (!nrow(want)) return(invisible())")
    a("  fm <- fitMeasures(fit)")
    a("  got <- unname(fm[want$measure])")
    a("  results <<- rbind(results, data.frame(table = table, row = row, measure = want$measure,")
    a("                                        allyscale = want$value, lavaan = got, stringsAsFactors = FALSE))")
    a("}")
    a("")
    a("# ---- the competing models (the same estimator, ordered items, listwise deletion)")
    a("fits <- list()")
    a("for (name in names(models)) {")
    a("  fits[[name]] <- cfa(models[[name]], data = d, estimator = estimator, ordered = ordered)")
    a('  record("cfa_comparison", name, fits[[name]])')
    a("}")
    a(f'record("main_fit", {_r_str(main)}, fits[[{_r_str(main)}]])')
    if group and inv is not None and not _collapsed(report):
        from allyscale.invariance import LEVELS, ORDINAL_LEVELS

        levels = ORDINAL_LEVELS if ordinal else LEVELS
        a("")
        a(f"# ---- measurement invariance across {group}")
        a(f"group <- {_r_str(group)}")
        a(f"inv_model <- {_r_str(models[main])}")
        if ordinal:
            a("suppressPackageStartupMessages(library(semTools))")
        for level, equal in levels.items():
            if level not in inv.index:
                continue
            if ordinal:
                equal_r = _r_chr(equal) if equal else '""'
                a(
                    f"fit_{level} <- measEq.syntax(configural.model = inv_model, data = d, ordered = items, "
                    'parameterization = "delta", ID.fac = "std.lv", ID.cat = "Wu.Estabrook.2016", group = group, '
                    f"group.equal = {equal_r}, return.fit = TRUE)"
                )
            else:
                a(
                    f"fit_{level} <- cfa(inv_model, data = d, estimator = estimator, group = group"
                    + (f", group.equal = {_r_chr(equal)}" if equal else "")
                    + ")"
                )
            a(f'record("invariance_fit", {_r_str(level)}, fit_{level})')
    a("")
    a("results$rel_diff <- abs(results$lavaan - results$allyscale) / pmax(abs(results$allyscale), 1e-8)")
    a("options(width = 160)")
    a("for (tab in unique(results$table)) {")
    a('  cat("\\n==", tab, "==\\n")')
    a("  print(results[results$table == tab, -1], row.names = FALSE, digits = 10)")
    a("}")
    a(
        'cat(sprintf("\\nlargest relative difference: %.3g (%d values)\\n", max(results$rel_diff, na.rm = TRUE), '
        "nrow(results)))"
    )
    a("if (!is.na(out_csv)) write.csv(results, out_csv, row.names = FALSE)")
    return "\n".join(L) + "\n"
