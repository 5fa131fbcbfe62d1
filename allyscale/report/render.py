"""Render report sections to one self-contained HTML file (Jinja2, autoescaped).

Every text that comes from data, a pool or a model is escaped by the template engine;
the only unescaped content is the SVG of figures, which allyscale draws itself with
text converted to paths. No external scripts, fonts, styles or images are referenced.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import jinja2
import numpy as np
import pandas as pd

from allyscale import __version__
from allyscale.report.document import Section, Table

__all__ = ["render_html", "format_cell", "column_groups"]

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("allyscale.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def format_cell(value: Any, digits: int = 3) -> tuple[str, bool]:
    """Format one cell; returns (text, is_text_column_value)."""
    if value is None or value is pd.NA:
        return "", False
    if isinstance(value, (bool, np.bool_)):
        return ("yes" if value else "no"), False
    if isinstance(value, (int, np.integer)):
        return f"{int(value):d}", False
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "", False
        if math.isinf(v):
            return "∞" if v > 0 else "−∞", False
        if v.is_integer() and abs(v) >= 2:
            return f"{int(v):d}".replace("-", "−"), False  # counts (npar, df, N) stored as floats
        text = f"{v:.{digits}f}"
        if float(text) == 0:
            text = f"{0:.{digits}f}"  # no "-0.000"
        return text.replace("-", "−"), False
    return str(value), True


#: widest table (in em of the table's font) shown in one piece: the report column at 1280 px (62rem of
#: body text, tables at .9rem) and a portrait US Letter page in print (7.2 in of 7.5-pt type)
TABLE_BUDGET_EM = 64.0
_EM_PER_CHAR = 0.5  # Times: digits are .5 em, lower-case letters .4-.5 em, capitals up to .72 em
_PAD_EM = 1.4  # cell padding (.6rem each side) and rules
_TEXT_CELL_CHARS = 24  # a text column wraps; it is given at least this many characters a line


def _column_em(header: str, cells: list[tuple[str, bool]]) -> float:
    """Estimated width of one column (em): its longest header word, its widest (unwrapped) number."""
    words = [len(w) for w in str(header).split()] or [0]
    widths = [max(words)]
    for text, is_text in cells:
        if is_text:
            longest = max((len(w) for w in text.split()), default=0)
            widths.append(max(longest, min(len(text), _TEXT_CELL_CHARS)))
        else:
            widths.append(len(text))
    return _EM_PER_CHAR * max(widths) + _PAD_EM


def column_groups(index_em: float, column_em: list[float], budget: float = TABLE_BUDGET_EM) -> list[list[int]]:
    """Split columns into consecutive groups whose width, with the index column repeated, fits ``budget``.

    A single column wider than the budget gets a group of its own (its text wraps).
    """
    groups: list[list[int]] = [[]]
    used = index_em
    for j, w in enumerate(column_em):
        if groups[-1] and used + w > budget:
            groups.append([])
            used = index_em
        groups[-1].append(j)
        used += w
    return groups


def _table_context(t: Table, number: int) -> list[dict]:
    """The template context of one table: one part, or several when its columns are too wide for the page.

    A wide table is split into column groups (the row labels repeated in each), numbered as one
    table ("Table 7", "Table 7 (continued)"), so that no table needs horizontal scrolling at
    1280 px and none is cut at the edge of a printed page.
    """
    df = t.data
    formatted = [[format_cell(v, t.digits) for v in row] for row in df.itertuples(index=False)]
    labels = [str(label) for label in df.index]
    columns = [str(c) for c in df.columns]
    index_name = str(df.index.name or "")
    index_em = _column_em(index_name, [(x, True) for x in labels]) if t.index else 0.0
    widths = [_column_em(c, [row[j] for row in formatted]) for j, c in enumerate(columns)]
    groups = column_groups(index_em, widths) if columns else [[]]
    parts = []
    for k, group in enumerate(groups):
        rows = [
            {"label": label, "cells": [{"value": cells[j][0], "text": cells[j][1]} for j in group]}
            for label, cells in zip(labels, formatted)
        ]
        parts.append(
            {
                "name": t.name,
                "caption": t.caption,
                "note": t.note if k == len(groups) - 1 else "",
                "number": number,
                "index": t.index,
                "index_name": index_name,
                "columns": [columns[j] for j in group],
                "rows": rows,
                "part": k + 1,
                "parts": len(groups),
                "id": f"table-{t.name}" + (f"-{k + 1}" if k else ""),
            }
        )
    return parts


def render_html(sections: list[Section], *, title: str, subtitle: str = "") -> str:
    """Render sections into a complete HTML document (string)."""
    tn = fn = 0
    ctx_sections = []
    for s in sections:
        tables, figures = [], []
        for t in s.tables:
            tn += 1
            tables.extend(_table_context(t, tn))
        for f in s.figures:
            fn += 1
            figures.append({"name": f.name, "caption": f.caption, "svg": f.svg, "number": fn})
        ctx_sections.append(
            {
                "id": s.id,
                "title": s.title,
                "status": s.status,
                "flags": s.flags,
                "paragraphs": s.paragraphs,
                "tables": tables,
                "figures": figures,
            }
        )
    meta = {
        "title": title,
        "subtitle": subtitle,
        "version": __version__,
        "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
    return _ENV.get_template("report.html.j2").render(sections=ctx_sections, meta=meta)
