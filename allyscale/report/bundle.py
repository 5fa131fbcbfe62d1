"""A finished validation: sections + everything needed to write report.html, results.json, tables/*.csv."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from allyscale._files import publish_folder, spreadsheet_safe, write_csv
from allyscale.report.document import Section, jsonable
from allyscale.report.render import render_html
from allyscale.results import Result, Summary

__all__ = ["ValidationReport"]

#: what a report folder holds (replaced as a whole by each save)
REPORT_ENTRIES = (
    "report.html",
    "results.json",
    "tables",
    "data.csv",
    "reproduce.R",
    "report.docx",
    "tex",
    "figures",
    "report.pdf",
    "short_form.yaml",
)
#: the formats ``save(formats=)`` writes (html always comes with results.json, tables/, data.csv, reproduce.R)
FORMATS = ("html", "docx", "tex", "pdf")


@dataclass
class ValidationReport(Result):
    """The result of :func:`allyscale.validate`.

    Attributes
    ----------
    sections : list of Section
        In report order. Each has ``status`` (ok, warning, failed, not run), ``flags``,
        ``tables`` and ``numbers``.
    title, subtitle : str
    meta : dict
        Input description (source, N, items, estimator, group, seed, software versions).
    data : DataFrame or None
        The data the confirmatory models were fitted to (items as analysed, group column),
        saved as ``data.csv`` for ``reproduce.R``.
    diagnostics : dict
        ``failed``: the ids of the sections whose analysis failed; ``flags``: section id → its flags
        (warnings and errors), for the sections that have any.
    short_form : ShortFormResult or None
        The short form of the section "From N to k items" (``validate(shorten=...)``), saved as
        ``short_form.yaml`` (pool YAML, accepted by ``allyscale pool check``).
    """

    sections: list[Section]
    title: str
    subtitle: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    data: Any = field(default=None, repr=False)
    diagnostics: dict[str, Any] = field(default_factory=dict, repr=False)
    short_form: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.diagnostics:
            self.diagnostics = {"failed": self.failed, "flags": {s.id: list(s.flags) for s in self.sections if s.flags}}

    @property
    def failed(self) -> list[str]:
        """Ids of sections whose analysis failed."""
        return [s.id for s in self.sections if s.status == "failed"]

    def section(self, section_id: str) -> Section:
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(section_id)

    def tables(self) -> dict:
        return {t.name: t.data for s in self.sections for t in s.tables}

    def to_dict(self) -> dict[str, Any]:
        """Every number of the report: section numbers and every table, JSON-ready."""
        return jsonable(
            {
                "verdict": self.meta.get("verdict"),
                "meta": self.meta,
                "sections": {
                    s.id: {
                        "title": s.title,
                        "status": s.status,
                        "flags": s.flags,
                        "numbers": s.numbers,
                        "paragraphs": s.paragraphs,
                        "tables": {
                            t.name: {
                                "caption": t.caption,
                                "note": t.note,
                                "columns": [str(c) for c in t.data.columns],
                                "index": [str(i) for i in t.data.index],
                                "data": t.data.to_dict(orient="split")["data"],
                            }
                            for t in s.tables
                        },
                        "figures": {f.name: {"caption": f.caption, "file": f"figures/{f.name}.svg"} for f in s.figures},
                    }
                    for s in self.sections
                },
            }
        )

    def html(self) -> str:
        return render_html(self.sections, title=self.title, subtitle=self.subtitle)

    def summary(self) -> Summary:
        """The title, the subtitle and each section's status with its flags (the full report: :meth:`html`)."""
        out = Summary(self.title).text(self.subtitle)
        for i, s in enumerate(self.sections, 1):
            out.text(f"{i}. {s.title} [{s.status}]", *(f"! {f}" for f in s.flags))
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per section: ``id, title, status, flags`` (joined by ``; ``) and ``tables`` (their number)."""
        return pd.DataFrame(
            [
                {"id": s.id, "title": s.title, "status": s.status, "flags": "; ".join(s.flags), "tables": len(s.tables)}
                for s in self.sections
            ],
            columns=["id", "title", "status", "flags", "tables"],
        )

    def save(
        self, out_dir: str | Path, *, inputs: Iterable[str | Path | None] = (), formats: Iterable[str] = ("html",)
    ) -> Path:
        """Write ``report.html``, ``results.json`` and ``tables/*.csv`` into ``out_dir``.

        Also ``data.csv`` (the analysed data) and ``reproduce.R`` (lavaan calls refitting
        every model of the report; :mod:`allyscale.report.reproduce`), ``figures/*.svg``
        and ``figures/*.png``; with ``formats`` containing ``"docx"`` the report as
        ``report.docx`` (APA-7 tables, :mod:`allyscale.report.docx`), with ``"tex"`` a
        ``tex/`` folder of booktabs tables and a text include (:mod:`allyscale.report.latex`),
        with ``"pdf"`` ``report.pdf``, report.html printed by headless Chromium
        (:mod:`allyscale.report.pdf`; :class:`~allyscale.errors.SpecificationError` before
        anything is written when Chromium is not installed). A report with a short form
        (``validate(shorten=...)``) also holds ``short_form.yaml``, the short form as pool YAML.

        The folder is staged beside ``out_dir`` and swapped in with one atomic rename
        (:func:`allyscale._files.publish_folder`): it appears complete or not at all, an
        interrupted save leaves the previous report as it was, and no table of an
        earlier report survives (``tables/`` holds this report's tables only). Files in
        ``out_dir`` that allyscale did not write are kept untouched. The tables are
        spreadsheet-safe CSV (text cells starting with ``= + - @``, tab or carriage
        return get a leading ``'``). ``inputs`` (the data, pool and model files) are
        never written over.
        """
        out = Path(out_dir)
        formats = [str(f).strip().lower() for f in ([formats] if isinstance(formats, str) else formats)]
        unknown = [f for f in formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown report format(s) {unknown}; use {', '.join(FORMATS)}")
        chromium = None
        if "pdf" in formats:
            from allyscale.report.pdf import require_chromium

            chromium = require_chromium()  # before anything is written

        def fill(staging: Path) -> None:
            from allyscale.report.reproduce import DATA_FILE, SCRIPT_FILE, reproduce_script

            (staging / "tables").mkdir()
            if self.data is not None:
                write_csv(staging / DATA_FILE, self.data, index=False)
                (staging / SCRIPT_FILE).write_text(reproduce_script(self), encoding="utf-8")
            figures = [f for s in self.sections for f in s.figures]
            if figures:
                (staging / "figures").mkdir()
                for f in figures:
                    (staging / "figures" / f"{f.name}.svg").write_text(f.svg, encoding="utf-8")
                    if f.png:
                        (staging / "figures" / f"{f.name}.png").write_bytes(f.png)
            if "docx" in formats:
                from allyscale.report.docx import write_docx

                write_docx(self, staging / "report.docx")
            if "tex" in formats:
                from allyscale.report.latex import write_latex

                write_latex(self, staging / "tex")
            if self.short_form is not None:
                (staging / "short_form.yaml").write_text(self.short_form.to_pool_yaml(), encoding="utf-8")
            (staging / "report.html").write_text(self.html(), encoding="utf-8")
            if "pdf" in formats:
                from allyscale.report.pdf import html_to_pdf

                html_to_pdf(staging / "report.html", staging / "report.pdf", chromium=chromium)
            (staging / "results.json").write_text(
                json.dumps(self.to_dict(), indent=2, allow_nan=False), encoding="utf-8"
            )
            for name, df in self.tables().items():
                spreadsheet_safe(df).to_csv(staging / "tables" / f"{name}.csv")

        publish_folder(out, fill, owned=REPORT_ENTRIES, inputs=inputs)
        return out / "report.html"
