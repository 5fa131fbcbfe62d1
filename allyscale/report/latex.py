"""The report as LaTeX: one ``booktabs`` table per file and the text as an include.

``write_latex(report, folder)`` writes

* ``tables/<name>.tex`` — every report table: ``\\toprule``/``\\midrule``/``\\bottomrule``
  only (no vertical rules), the caption above the table (APA 7; the ``apa7`` class and
  ``article`` alike), ``\\label{tab:<name>}``, the note below starting with an italic
  *Note.*; tables of more than 25 rows as a ``longtable`` (header repeated on each page),
  long text columns as ragged ``p{}`` columns; the cells are the same strings as the DOCX
  tables (:mod:`allyscale.report.apa`: leading zeros dropped where a value cannot exceed 1);
* ``figures/<name>.png`` and ``figures/<name>.svg``;
* ``report.tex`` — the sections as ``\\section``, their paragraphs and flags as text, each
  table and figure where it belongs (``\\input{tables/<name>}``): ``\\input{report}`` it in
  a manuscript;
* ``main.tex`` — a minimal document that compiles ``report.tex`` on its own, listing the
  packages it needs (booktabs, longtable, array, graphicx).

Every text from data, a pool or a model is escaped (``& % $ # _ { } ~ ^ \\``); the
symbols the report uses (−, –, χ², ≥, α, Δ, ω, …) become LaTeX commands.
"""

from __future__ import annotations

import re
from pathlib import Path

from allyscale.report.apa import APATable, apa_table

__all__ = ["write_latex", "latex_escape", "table_latex", "PREAMBLE"]

#: what report.tex needs in the preamble (main.tex has it)
PREAMBLE = (
    "\\usepackage[T1]{fontenc}\n\\usepackage[utf8]{inputenc}\n\\usepackage{booktabs}\n"
    "\\usepackage{longtable}\n\\usepackage{array}\n\\usepackage{graphicx}\n\\usepackage{amssymb}\n"
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
_TOKEN = re.compile("|".join(re.escape(k) for k in sorted([*_SPECIAL, *_SYMBOLS], key=len, reverse=True)))
_LONG = 25  # rows: a longtable beyond this (a float of more rows may not fit a page)


def latex_escape(text: str) -> str:
    """``text`` safe in LaTeX's text mode (specials escaped, the report's symbols as commands)."""
    return _TOKEN.sub(lambda m: _SPECIAL.get(m.group(0)) or _SYMBOLS[m.group(0)], str(text))


def _colspec(t: APATable) -> str:
    """r for numbers, l for short text, ragged p{} columns sharing what the other columns leave of the line."""
    longest = [max([len(t.header[j])] + [len(r[j]) for r in t.rows]) for j in range(len(t.header))]
    wrap = [not n and w > 40 for n, w in zip(t.numeric, longest)]
    # about 0.012 of the line per character of a small-type column, plus its separation
    others = sum(0.012 * w + 0.03 for w, wr in zip(longest, wrap) if not wr)
    share = max(0.15, (0.97 - others) / max(sum(wrap), 1))
    return "".join(
        r">{\raggedright\arraybackslash}p{%.3f\linewidth}" % share if w else "r" if n else "l"
        for n, w in zip(t.numeric, wrap)
    )


def table_latex(t: APATable) -> str:
    """One APA table as LaTeX (booktabs; ``longtable`` beyond 25 rows; a float wider than the text
    block is scaled down to its width)."""
    head = (
        " & ".join(
            r"\multicolumn{1}{c}{%s}" % latex_escape(h) if t.numeric[j] else latex_escape(h)
            for j, h in enumerate(t.header)
        )
        + r" \\"
    )
    body = "\n".join(" & ".join(latex_escape(c) for c in row) + r" \\" for row in t.rows)
    note = (r"\par\smallskip{\small\textit{Note.} " + latex_escape(t.note) + "}\n") if t.note else ""
    size = r"\footnotesize" if len(t.header) > 8 else r"\small"
    label = f"tab:{t.name}"
    if len(t.rows) > _LONG:
        narrow = "\\setlength{\\tabcolsep}{3pt}\n" if len(t.header) > 8 else ""  # a longtable cannot be scaled
        return (
            f"% Table {t.number}: {t.name}\n{{{size}\n{narrow}\\begin{{longtable}}{{{_colspec(t)}}}\n"
            f"\\caption{{{latex_escape(t.title)}}}\\label{{{label}}}\\\\\n\\toprule\n{head}\n\\midrule\n"
            f"\\endfirsthead\n\\toprule\n{head}\n\\midrule\n\\endhead\n\\bottomrule\n\\endlastfoot\n"
            f"{body}\n\\end{{longtable}}\n}}\n"
            + (f"{{\\small\\textit{{Note.}} {latex_escape(t.note)}}}\n" if t.note else "")
        )
    return (
        f"% Table {t.number}: {t.name}\n\\begin{{table}}[htbp]\n\\centering\n{size}\n"
        f"\\caption{{{latex_escape(t.title)}}}\\label{{{label}}}\n"
        "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%\n"
        f"\\begin{{tabular}}{{{_colspec(t)}}}\n\\toprule\n{head}\n\\midrule\n{body}\n\\bottomrule\n"
        f"\\end{{tabular}}}}\n{note}\\end{{table}}\n"
    )


def _figure_latex(fig, number: int) -> str:
    return (
        f"% Figure {number}: {fig.name}\n\\begin{{figure}}[htbp]\n\\centering\n"
        f"\\caption{{{latex_escape(fig.caption)}}}\\label{{fig:{fig.name}}}\n"
        f"\\includegraphics[width=\\linewidth,height=0.8\\textheight,keepaspectratio]{{figures/{fig.name}.png}}\n"
        "\\end{figure}\n"
    )


def write_latex(report, folder: str | Path) -> Path:
    """Write ``report`` as LaTeX into ``folder`` (created; inside a report's staging folder)."""
    folder = Path(folder)
    (folder / "tables").mkdir(parents=True)
    lines = [f"% {report.title}: generated by allyscale; \\input{{report}} this file (preamble: see main.tex)", ""]
    tn = fn = 0
    figures_written = False
    for s in report.sections:
        lines.append(f"\\section{{{latex_escape(s.title)}}}\\label{{sec:{s.id}}}")
        if s.status != "ok":
            lines.append(f"\\textit{{Status: {latex_escape(s.status)}}}\n")
        for text in s.paragraphs:
            lines += [latex_escape(text), ""]
        if s.flags:
            lines.append("\\begin{itemize}")
            lines += [f"\\item {latex_escape(f)}" for f in s.flags]
            lines += ["\\end{itemize}", ""]
        for t in s.tables:
            tn += 1
            (folder / "tables" / f"{t.name}.tex").write_text(table_latex(apa_table(t, tn)), encoding="utf-8")
            lines += [f"\\input{{tables/{t.name}}}", ""]
        for f in s.figures:
            fn += 1
            if not figures_written:
                (folder / "figures").mkdir()
                figures_written = True
            (folder / "figures" / f"{f.name}.svg").write_text(f.svg, encoding="utf-8")
            if f.png:
                (folder / "figures" / f"{f.name}.png").write_bytes(f.png)
                lines += [_figure_latex(f, fn), ""]
    (folder / "report.tex").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "main.tex").write_text(
        "\\documentclass[11pt]{article}\n" + PREAMBLE + "\\usepackage[margin=2.5cm]{geometry}\n"
        f"\\title{{{latex_escape(report.title)}}}\n\\date{{}}\n\\begin{{document}}\n\\maketitle\n"
        + (f"{latex_escape(report.subtitle)}\n\n" if report.subtitle else "")
        + "\\input{report}\n\\end{document}\n",
        encoding="utf-8",
    )
    return folder / "report.tex"
