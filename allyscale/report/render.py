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

__all__ = ["render_html", "format_cell"]

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


def _table_context(t: Table, number: int) -> dict:
    df = t.data
    rows = []
    for label, row in zip(df.index, df.itertuples(index=False)):
        cells = []
        for v in row:
            text, is_text = format_cell(v, t.digits)
            cells.append({"value": text, "text": is_text})
        rows.append({"label": str(label), "cells": cells})
    return {
        "name": t.name, "caption": t.caption, "note": t.note, "number": number, "index": t.index,
        "index_name": str(df.index.name or ""), "columns": [str(c) for c in df.columns], "rows": rows,
    }


def render_html(sections: list[Section], *, title: str, subtitle: str = "") -> str:
    """Render sections into a complete HTML document (string)."""
    tn = fn = 0
    ctx_sections = []
    for s in sections:
        tables, figures = [], []
        for t in s.tables:
            tn += 1
            tables.append(_table_context(t, tn))
        for f in s.figures:
            fn += 1
            figures.append({"name": f.name, "caption": f.caption, "svg": f.svg, "number": fn})
        ctx_sections.append({"id": s.id, "title": s.title, "status": s.status, "flags": s.flags,
                             "paragraphs": s.paragraphs, "tables": tables, "figures": figures})
    meta = {"title": title, "subtitle": subtitle, "version": __version__,
            "generated": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    return _ENV.get_template("report.html.j2").render(sections=ctx_sections, meta=meta)
