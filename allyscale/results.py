"""The results contract: one base for every public result and one printer for its summary.

Every result object that a public function returns implements :class:`Result`:

- ``summary()`` returns a :class:`Summary` — a title followed by blocks of text, key–value facts and tables —
  which one printer renders as plain text (``str(summary)``), HTML (``summary.as_html()``, also what Jupyter shows)
  and LaTeX (``summary.as_latex()``, booktabs tables);
- ``to_frame()`` returns the result's main table as a tidy :class:`pandas.DataFrame`;
- ``to_dict()`` returns plain JSON values (NaN and infinities become ``None``; see :func:`jsonable`);
- ``diagnostics`` is a dict (convergence, warnings, dropped rows, ...; empty when there is nothing to report).

User text (item names, group labels, factor names, messages) is escaped in one place, this printer: HTML with
:func:`html.escape`, LaTeX with :func:`latex_escape`. The design follows statsmodels' ``Summary``: the result
only collects, the printer formats.
"""

from __future__ import annotations

import html
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Result", "Summary", "jsonable", "latex_escape", "format_value", "TABLE_CSS"]

# The report's APA table style (the rules of table.apa in allyscale/report/templates/report.html.j2), so a result
# shown in Jupyter looks like its table in the report.
TABLE_CSS = (
    ".allyscale-summary{font-family:'Times New Roman',Times,Georgia,serif;color:#111;line-height:1.45;"
    "max-width:62rem}"
    ".allyscale-summary h4{margin:.4em 0 .2em;font-size:1.1rem}"
    ".allyscale-summary h5{margin:.8em 0 .2em;font-size:.95rem;font-style:italic;font-weight:normal}"
    ".allyscale-summary p{margin:.2em 0}"
    ".allyscale-summary table.apa{border-collapse:collapse;margin:.6rem 0 .3rem;font-size:.9rem}"
    ".allyscale-summary table.apa thead th{border-top:2px solid #111;border-bottom:1px solid #111;"
    "padding:.2rem .6rem;text-align:center;font-weight:normal}"
    ".allyscale-summary table.apa tbody td{padding:.15rem .6rem;text-align:right;white-space:nowrap}"
    ".allyscale-summary table.apa tbody td.text{text-align:left;white-space:normal}"
    ".allyscale-summary table.apa tbody tr:last-child td{border-bottom:2px solid #111}"
    ".allyscale-summary .note{font-size:.85rem;margin-top:0}"
)

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SYMBOLS = {
    "−": "$-$",
    "–": "--",
    "—": "---",
    "χ²": r"$\chi^2$",
    "χ": r"$\chi$",
    "²": r"\textsuperscript{2}",
    "≥": r"$\geq$",
    "≤": r"$\leq$",
    "α": r"$\alpha$",
    "Δ": r"$\Delta$",
    "ω": r"$\omega$",
    "∞": r"$\infty$",
    "±": r"$\pm$",
    "×": r"$\times$",
    "≈": r"$\approx$",
    "ψ": r"$\psi$",
    "λ": r"$\lambda$",
    "φ": r"$\phi$",
    "θ": r"$\theta$",
    "κ": r"$\kappa$",
    "ρ": r"$\rho$",
    "σ": r"$\sigma$",
    "μ": r"$\mu$",
    "β": r"$\beta$",
    "ζ": r"$\zeta$",
    "τ": r"$\tau$",
    "η": r"$\eta$",
    "ε": r"$\varepsilon$",
    "“": "``",
    "”": "''",
    "‘": "`",
    "’": "'",
    "…": r"\ldots{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "\u00a0": "~",
}
_LATEX_TOKEN = re.compile("|".join(re.escape(k) for k in sorted([*_SPECIAL, *_SYMBOLS], key=len, reverse=True)))


def latex_escape(text: Any) -> str:
    """``text`` safe in LaTeX's text mode: the specials (``&``, ``%``, ``_``, ``#``, braces, ...) escaped and the
    symbols of allyscale's outputs (χ², ≥, α, ω, λ, dashes, quotes, ...) as LaTeX commands that pdflatex sets."""
    return _LATEX_TOKEN.sub(lambda m: _SPECIAL.get(m.group(0)) or _SYMBOLS[m.group(0)], str(text))


def jsonable(value: Any, *, frames: str = "records") -> Any:
    """Plain JSON values: numpy scalars and arrays to Python, NaN/±inf to ``None``, tuples to lists, containers
    recursively, Series to dicts, DataFrames to records (``frames="records"``) or to ``{row: {column: value}}``
    (``frames="index"``); keys become strings."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, frames=frames) for k, v in value.items()}
    if isinstance(value, Result):
        return jsonable(value.to_dict(), frames=frames)
    if isinstance(value, pd.DataFrame):
        if frames == "index":
            return {str(k): jsonable(v, frames=frames) for k, v in value.to_dict(orient="index").items()}
        return [jsonable(r, frames=frames) for r in value.to_dict("records")]
    if isinstance(value, pd.Series):
        return {str(k): jsonable(v, frames=frames) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [jsonable(v, frames=frames) for v in value.tolist()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, frames=frames) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is None or isinstance(value, str):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    return str(value)


def format_value(value: Any, digits: int = 3) -> str:
    """One cell as the printer shows it: floats with ``digits`` decimals, NaN as ``NA``, booleans as yes/no."""
    if value is None or value is pd.NA:
        return "NA"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            return "NA"
        if math.isinf(f):
            return "inf" if f > 0 else "-inf"
        if f.is_integer() and abs(f) >= 10**digits:
            return f"{f:.0f}"
        return f"{f:.{digits}f}"
    if isinstance(value, tuple):
        return "–".join(str(v) for v in value)
    return str(value)


def _numeric(column: pd.Series) -> bool:
    """A column of numbers (not booleans): right-aligned by the printer."""
    if pd.api.types.is_bool_dtype(column):
        return False
    if pd.api.types.is_numeric_dtype(column):
        return True
    values = [v for v in column if v is not None and v is not pd.NA]
    return bool(values) and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_)) for v in values
    )


def _counts(column: pd.Series) -> bool:
    """A float column every finite value of which is a whole number (df, npar, N): printed without decimals."""
    if not pd.api.types.is_float_dtype(column):
        return False
    values = column.to_numpy(dtype=float)
    values = values[np.isfinite(values)]
    return bool(values.size) and bool(np.all(values == np.round(values))) and bool(np.any(np.abs(values) > 1))


@dataclass(frozen=True)
class _Text:
    lines: tuple[str, ...]
    strong: bool = False


@dataclass(frozen=True)
class _Table:
    frame: pd.DataFrame
    title: str | None
    note: str | None
    digits: int
    index: bool


@dataclass
class Summary:
    """A result's summary: a title and blocks (text, facts, tables), rendered by one printer.

    Build it with :meth:`text`, :meth:`facts` and :meth:`table` (each returns the summary, so calls chain).
    ``str(summary)`` is the text form; ``summary.as_html()`` (what Jupyter shows) and ``summary.as_latex()`` the
    others. ``"word" in summary`` searches the text form.
    """

    title: str
    blocks: list[_Text | _Table] = field(default_factory=list)

    def text(self, *lines: str, strong: bool = False) -> Summary:
        """Add paragraphs (one per line; empty lines are dropped)."""
        kept = tuple(str(line) for line in lines if line is not None and str(line) != "")
        if kept:
            self.blocks.append(_Text(kept, strong))
        return self

    def lead(self, *lines: str) -> Summary:
        """Put paragraphs before every other block (a subclass adding to its parent's summary)."""
        kept = tuple(str(line) for line in lines if line)
        if kept:
            self.blocks.insert(0, _Text(kept))
        return self

    def facts(self, mapping: Mapping[str, Any], *, title: str | None = None, digits: int = 3) -> Summary:
        """Add a two-column table of named values (e.g. fit measures)."""
        frame = pd.DataFrame(
            {"value": pd.Series(list(mapping.values()), index=[str(k) for k in mapping], dtype=object)}
        )
        return self.table(frame, title=title, digits=digits, index=True)

    def table(
        self,
        frame: pd.DataFrame | pd.Series,
        *,
        title: str | None = None,
        note: str | None = None,
        digits: int = 3,
        index: bool | None = None,
    ) -> Summary:
        """Add a table. ``index`` defaults to showing the index unless it is the default RangeIndex."""
        if isinstance(frame, pd.Series):
            frame = frame.to_frame(frame.name if frame.name is not None else "value")
        if index is None:
            index = not isinstance(frame.index, pd.RangeIndex)
        self.blocks.append(_Table(frame, title, note, digits, bool(index)))
        return self

    # ---- rendering -------------------------------------------------------------------------------------------
    def _cells(self, block: _Table) -> tuple[list[str], list[list[str]], list[bool]]:
        frame = block.frame
        header = [str(c) if not isinstance(c, tuple) else "–".join(map(str, c)) for c in frame.columns]
        counts = [_counts(frame.iloc[:, j]) for j in range(frame.shape[1])]
        rows = [
            [
                format_value(int(v), block.digits)
                if c and isinstance(v, (float, np.floating)) and math.isfinite(v)
                else format_value(v, block.digits)
                for v, c in zip(row, counts)
            ]
            for row in frame.itertuples(index=False, name=None)
        ]
        numeric = [_numeric(frame.iloc[:, j]) for j in range(frame.shape[1])]
        if block.index:
            name = frame.index.name if frame.index.name is not None else ""
            header = [str(name)] + header
            rows = [[format_value(k, block.digits)] + r for k, r in zip(frame.index, rows)]
            numeric = [False] + numeric
        return header, rows, numeric

    def as_text(self) -> str:
        """Plain text: the title, paragraphs and aligned tables."""
        out = [self.title, "=" * min(len(self.title), 100)]
        for block in self.blocks:
            out.append("")
            if isinstance(block, _Text):
                out.extend(block.lines)
                continue
            if block.title:
                out.append(block.title + ":")
            header, rows, numeric = self._cells(block)
            if not rows:
                out.append("(none)")
            else:
                widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(header)]
                fmt = [(str.rjust if num else str.ljust) for num in numeric]
                out.append("  ".join(f(h, w) for f, h, w in zip(fmt, header, widths)).rstrip())
                out.extend("  ".join(f(c, w) for f, c, w in zip(fmt, r, widths)).rstrip() for r in rows)
            if block.note:
                out.append("Note. " + block.note)
        return "\n".join(out)

    def as_html(self) -> str:
        """HTML with the report's table style; every piece of text escaped."""
        esc = html.escape
        out = [f'<div class="allyscale-summary"><style>{TABLE_CSS}</style><h4>{esc(self.title)}</h4>']
        for block in self.blocks:
            if isinstance(block, _Text):
                for line in block.lines:
                    out.append(f"<p><strong>{esc(line)}</strong></p>" if block.strong else f"<p>{esc(line)}</p>")
                continue
            if block.title:
                out.append(f"<h5>{esc(block.title)}</h5>")
            header, rows, numeric = self._cells(block)
            head = "".join(f"<th>{esc(h)}</th>" for h in header)
            body = "".join(
                "<tr>"
                + "".join(
                    f"<td>{esc(c)}</td>" if num else f'<td class="text">{esc(c)}</td>' for c, num in zip(r, numeric)
                )
                + "</tr>"
                for r in rows
            )
            out.append(f'<table class="apa"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')
            if block.note:
                out.append(f'<p class="note"><em>Note.</em> {esc(block.note)}</p>')
        out.append("</div>")
        return "".join(out)

    def as_latex(self) -> str:
        """LaTeX: paragraphs and ``booktabs`` tables (apa7-class compatible); every piece of text escaped."""
        out = [f"\\paragraph{{{latex_escape(self.title)}}}"]
        for block in self.blocks:
            if isinstance(block, _Text):
                for line in block.lines:
                    out.append((f"\\textbf{{{latex_escape(line)}}}" if block.strong else latex_escape(line)) + "\n")
                continue
            header, rows, numeric = self._cells(block)
            spec = "".join("r" if num else "l" for num in numeric)
            out.append("\\begin{table}[htbp]\n\\centering")
            if block.title:
                out.append(f"\\caption{{{latex_escape(block.title)}}}")
            out.append(f"\\begin{{tabular}}{{{spec}}}\n\\toprule")
            out.append(" & ".join(latex_escape(h) for h in header) + r" \\" + "\n\\midrule")
            out.extend(" & ".join(latex_escape(c) for c in r) + r" \\" for r in rows)
            out.append("\\bottomrule\n\\end{tabular}")
            if block.note:
                out.append(f"\\par\\smallskip{{\\small\\textit{{Note.}} {latex_escape(block.note)}}}")
            out.append("\\end{table}")
        return "\n".join(out) + "\n"

    def tables(self) -> list[tuple[str | None, pd.DataFrame, str | None]]:
        """The summary's tables as ``(title, frame, note)``."""
        return [(b.title, b.frame, b.note) for b in self.blocks if isinstance(b, _Table)]

    def __str__(self) -> str:
        return self.as_text()

    def __contains__(self, text: str) -> bool:
        return text in self.as_text()

    def _repr_html_(self) -> str:
        return self.as_html()

    def to_dict(self) -> dict[str, Any]:
        """The summary's content as JSON values (title, paragraphs, tables as records)."""
        blocks: list[dict[str, Any]] = []
        for b in self.blocks:
            if isinstance(b, _Text):
                blocks.append({"text": list(b.lines)})
            else:
                frame = b.frame.reset_index() if b.index else b.frame
                blocks.append({"table": b.title, "note": b.note, "rows": jsonable(frame)})
        return {"title": self.title, "blocks": blocks}


class Result(ABC):
    """Base of every public result: ``summary()``, ``to_frame()``, ``to_dict()``, ``diagnostics``.

    Subclasses implement the three abstract methods (a class that leaves one out cannot be instantiated) and carry
    a ``diagnostics`` dict; the text, HTML, LaTeX and Word forms come from here, so every result looks the same in
    a terminal, in Jupyter, in LaTeX and in Word.
    """

    diagnostics: dict[str, Any]

    @abstractmethod
    def summary(self) -> Summary:
        """The result as a :class:`Summary` (title, paragraphs, tables)."""

    @abstractmethod
    def to_frame(self) -> pd.DataFrame:
        """The result's main table."""

    @abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (:func:`jsonable`)."""

    def __str__(self) -> str:
        return self.summary().as_text()

    def _repr_html_(self) -> str:
        return self.summary().as_html()

    def to_latex(self) -> str:
        """The summary as LaTeX (booktabs tables; needs ``\\usepackage{booktabs}``)."""
        return self.summary().as_latex()

    def to_docx(self, path: Any) -> Any:
        """Write the summary to a Word document at ``path`` (APA-style tables: horizontal rules only, italic
        titles, notes); returns the path. Uses python-docx."""
        from allyscale.report.docx import write_summary  # the outputs layer writes Word (ARCHITECTURE.md)

        return write_summary(self.summary(), path)


def frame_records(frame: pd.DataFrame, *, index: str | None = None) -> list[dict[str, Any]]:
    """``frame`` as JSON records, with its index as column ``index`` when given."""
    if index is not None:
        frame = frame.reset_index().rename(columns={"index": index})
    return jsonable(frame)


def join_names(names: Iterable[Any], sep: str = ", ") -> str:
    """Names joined for a sentence."""
    return sep.join(str(n) for n in names)


def pairs_label(pair: Sequence[Any]) -> str:
    """A factor pair written ``trust–action``, not as a Python tuple."""
    return "–".join(str(p) for p in pair)
