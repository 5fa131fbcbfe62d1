"""APA-7 cell text shared by the DOCX and LaTeX writers.

One table, one set of strings: :func:`apa_table` turns a report :class:`Table` into the
header and the rows as text, the same way for Word and LaTeX. Numbers are formatted as
in the HTML report (:func:`allyscale.report.render.format_cell`: a true minus sign,
``digits`` decimals, counts without decimals); the leading zero is dropped where a value
cannot exceed 1 (APA 7, section 6.36: p values, correlations, proportions, reliability
coefficients, CFI), by column name, and only when every value of the column is within
[-1, 1]; p values below .001 are written ``<.001``. A tuple (a factor pair, an item pair) is written ``a–b``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allyscale.report.document import Table
from allyscale.report.render import format_cell

__all__ = ["APATable", "apa_table", "bounded_column", "pair_text"]

#: columns whose values cannot exceed 1 in absolute value (matched on the lower-cased name)
_BOUNDED_NAMES = {
    "alpha",
    "omega",
    "omega_h",
    "omega_t",
    "ave",
    "msa",
    "congruence",
    "floor",
    "ceiling",
    "r_drop",
    "r",
    "p",
    "percent_p",
    "ecv",
    "i-cvi",
    "s-cvi",
    "kappa",
    "icc",
    "proportion",
    "power",
    "acceptance",
    "rejection",
}
_BOUNDED_PATTERN = re.compile(r"(^|[._ ])(pvalue|p_value|cfi|cfi\.scaled|cfi\.robust)($|[._ ])|^p$|^p[._]")
#: tables every numeric cell of which is bounded by 1 (correlation and congruence matrices)
_BOUNDED_TABLES = {"efa_phi", "efa_congruence", "kmo_items", "polychoric"}
_PVALUE = re.compile(r"(^|[._ ])(pvalue|p_value)($|[._ ])|^p$|^p[._]")
_NUMBER = re.compile(r"^(−?)0(\.\d+)$")


def pair_text(value) -> str:
    """``("trust", "action")`` → ``"trust–action"``; anything else as ``str``."""
    if isinstance(value, tuple):
        return "–".join(pair_text(v) for v in value)
    return str(value)


def bounded_column(table: Table, column) -> bool:
    """True when ``column`` of ``table`` holds values that cannot exceed 1 (leading zeros dropped)."""
    name = str(column).strip().lower()
    if not (table.name in _BOUNDED_TABLES or name in _BOUNDED_NAMES or _BOUNDED_PATTERN.search(name)):
        return False
    values = pd.to_numeric(table.data[column], errors="coerce") if column in table.data.columns else pd.Series([])
    if isinstance(values, pd.DataFrame):  # duplicate column names
        return False
    if values.dtype == bool or not len(values.dropna()):
        return False
    finite = values.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    return bool(finite.size) and bool(np.all(np.abs(finite) <= 1))


def _cell(value, digits: int, bounded: bool, pvalue: bool = False) -> tuple[str, bool]:
    """(text, numeric) for one cell; a p value below .001 is written "<.001" (APA 7, section 6.44)."""
    if isinstance(value, tuple):
        return pair_text(value), False
    if pvalue and isinstance(value, (float, np.floating, int, np.integer)) and 0 <= float(value) < 0.001:
        return "<.001", True
    text, is_text = format_cell(value, digits)
    if bounded and not is_text:
        m = _NUMBER.match(text)
        if m:
            text = m.group(1) + m.group(2)
    return text, not is_text and text != ""


@dataclass
class APATable:
    """A table as text: ``header`` (index header first when ``index``), ``rows`` of strings,
    ``numeric[j]`` true when column ``j`` holds numbers (decimal-aligned)."""

    number: int
    title: str
    note: str
    header: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    name: str


def apa_table(table: Table, number: int) -> APATable:
    """The strings of ``table`` as an APA table numbered ``number``."""
    df = table.data
    bounded = [bounded_column(table, c) for c in df.columns]
    pcols = [b and bool(_PVALUE.search(str(c).strip().lower())) for b, c in zip(bounded, df.columns)]
    header = [pair_text(c) for c in df.columns]
    rows: list[list[str]] = []
    numeric_cols = [True] * len(df.columns)
    any_value = [False] * len(df.columns)
    for label, row in zip(df.index, df.itertuples(index=False)):
        cells = []
        for j, v in enumerate(row):
            text, numeric = _cell(v, table.digits, bounded[j], pcols[j])
            if text:
                any_value[j] = True
                numeric_cols[j] &= numeric
            cells.append(text)
        if table.index:
            cells.insert(0, pair_text(label))
        rows.append(cells)
    numeric_cols = [n and a for n, a in zip(numeric_cols, any_value)]
    if table.index:
        names = [n for n in df.index.names if n is not None]
        header.insert(
            0,
            "–".join(map(str, names)) if isinstance(df.index, pd.MultiIndex) else pair_text(names[0]) if names else "",
        )
        numeric_cols.insert(0, False)
    return APATable(
        number=number,
        title=table.caption,
        note=table.note,
        header=header,
        rows=rows,
        numeric=numeric_cols,
        name=table.name,
    )
