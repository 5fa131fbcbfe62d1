"""A finished validation: sections + everything needed to write report.html, results.json, tables/*.csv."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allyscale.errors import DataError
from allyscale.report.document import Section, jsonable
from allyscale.report.render import render_html

__all__ = ["ValidationReport"]


@dataclass
class ValidationReport:
    """The result of :func:`allyscale.validate`.

    Attributes
    ----------
    sections : list of Section
        In report order. Each has ``status`` (ok, warning, failed, not run), ``flags``,
        ``tables`` and ``numbers``.
    title, subtitle : str
    meta : dict
        Input description (source, N, items, estimator, group, seed, software versions).
    """

    sections: list[Section]
    title: str
    subtitle: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

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
        return jsonable({
            "meta": self.meta,
            "sections": {
                s.id: {"title": s.title, "status": s.status, "flags": s.flags, "numbers": s.numbers,
                       "paragraphs": s.paragraphs,
                       "tables": {t.name: {"caption": t.caption, "note": t.note,
                                           "columns": [str(c) for c in t.data.columns],
                                           "index": [str(i) for i in t.data.index],
                                           "data": t.data.to_dict(orient="split")["data"]}
                                  for t in s.tables}}
                for s in self.sections
            },
        })

    def html(self) -> str:
        return render_html(self.sections, title=self.title, subtitle=self.subtitle)

    def summary(self) -> str:
        lines = [self.title, self.subtitle, ""]
        for i, s in enumerate(self.sections, 1):
            lines.append(f"{i:>2}. {s.title} [{s.status}]")
            for f in s.flags:
                lines.append(f"      ! {f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return self.html()

    def save(self, out_dir: str | Path) -> Path:
        """Write ``report.html``, ``results.json`` and ``tables/*.csv`` into ``out_dir``.

        Files are written into a temporary folder next to ``out_dir`` and moved in one by
        one with atomic renames; files in ``out_dir`` that allyscale did not write are
        never touched or deleted.
        """
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise DataError(f"{out}: exists and is not a folder")
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".allyscale-", dir=out))
        try:
            (staging / "tables").mkdir()
            (staging / "report.html").write_text(self.html(), encoding="utf-8")
            (staging / "results.json").write_text(json.dumps(self.to_dict(), indent=2, allow_nan=False),
                                                  encoding="utf-8")
            for name, df in self.tables().items():
                df.to_csv(staging / "tables" / f"{name}.csv")
            (out / "tables").mkdir(exist_ok=True)
            for path in sorted(staging.rglob("*")):
                if path.is_file():
                    target = out / path.relative_to(staging)
                    path.replace(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return out / "report.html"
