"""The parts of a report: sections with paragraphs, tables, figures and flags.

A report is data first: every number shown in the HTML is a cell of a table (or a value
in a section's ``numbers``) that also goes to ``results.json`` and ``tables/*.csv``.
Nothing is computed while rendering.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Table", "Figure", "Section", "figure_to_svg"]


@dataclass
class Table:
    """A captioned table. ``name`` is the CSV file name (``tables/<name>.csv``)."""

    name: str
    caption: str
    data: pd.DataFrame
    note: str = ""
    digits: int = 3
    index: bool = True


@dataclass
class Figure:
    """A captioned figure held as inline SVG text (and, when drawn by :func:`figure_to_svg`
    in this process, as a PNG for the DOCX report: ``png``)."""

    name: str
    caption: str
    svg: str
    png: bytes = b""

    def __post_init__(self) -> None:
        if not self.png:
            self.png = _PNG_OF_SVG.pop(hashlib.sha1(self.svg.encode("utf-8")).hexdigest(), b"")


@dataclass
class Section:
    """One section of the report.

    ``status`` is ``"ok"``, ``"warning"`` (the analysis ran but something needs the
    reader's attention: see ``flags``), ``"failed"`` (the analysis could not run: the
    error is in ``flags``) or ``"not run"`` (not applicable; ``paragraphs`` say why).
    """

    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"

    def flag(self, message: str) -> None:
        self.flags.append(message)
        if self.status == "ok":
            self.status = "warning"

    def fail(self, message: str) -> None:
        self.flags.append(message)
        self.status = "failed"


_SVG_HEAD = re.compile(r"^.*?(<svg)", re.S)
#: PNG renderings of the SVG texts figure_to_svg returned, until a Figure takes its own (bounded)
_PNG_OF_SVG: dict[str, bytes] = {}


def figure_to_svg(fig) -> str:
    """Render a matplotlib figure to standalone SVG text (text drawn as paths: no fonts, no scripts).

    The same figure is also rendered as a 200-dpi PNG, which the :class:`Figure` made from
    the returned SVG picks up (``Figure.png``, embedded in the DOCX report).
    """
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", bbox_inches="tight")
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=200, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    svg = _SVG_HEAD.sub(r"\1", buf.getvalue(), count=1)
    while len(_PNG_OF_SVG) >= 32:  # figures drawn but never put in a Figure
        _PNG_OF_SVG.pop(next(iter(_PNG_OF_SVG)))
    _PNG_OF_SVG[hashlib.sha1(svg.encode("utf-8")).hexdigest()] = png.getvalue()
    return svg


def jsonable(value: Any) -> Any:
    """Plain JSON types, DataFrames as ``{row: {column: value}}`` (:func:`allyscale.results.jsonable`)."""
    from allyscale.results import jsonable as _jsonable

    return _jsonable(value, frames="index")
