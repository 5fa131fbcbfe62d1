"""The report as a Word document (python-docx): APA-7 tables, editable text, embedded figures.

Every table of the report becomes an APA-7 table (American Psychological Association, 2020,
sections 7.8-7.21): the table number in bold, its title in italics on the next line,
horizontal rules only (above and below the header, below the last row), numbers
decimal-aligned with a decimal tab stop, the leading zero dropped where a value cannot
exceed 1 (:mod:`allyscale.report.apa`), and the note below the table beginning with an
italic *Note.* Tables with more than eight columns go on landscape pages (consecutive ones
sharing them); a table too wide even there is split into column groups that repeat the row
labels ("Table 7 (continued)"). Column widths follow their contents. The paragraphs of every
section are ordinary editable paragraphs; the flags of a section follow as a list. Figures are embedded as the PNG rendered from the same matplotlib figure as the SVG
of the HTML report (``Figure.png``), numbered and titled like tables.

References
----------
American Psychological Association. (2020). *Publication manual of the American Psychological
Association* (7th ed.).
"""

from __future__ import annotations

import io
from pathlib import Path

from allyscale.report.apa import APATable, apa_table

__all__ = ["write_docx", "report_docx", "write_summary", "frame_to_docx"]

_FONT = "Times New Roman"
_WIDE = 8  # tables with more columns than this go on a landscape page


def _rule(cell, *, top: bool = False, bottom: bool = False) -> None:
    """Horizontal rules on a cell (single 0.75 pt lines); no vertical lines anywhere."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tc_pr = cell._tc.get_or_add_tcPr()
    borders = tc_pr.find(qn("w:tcBorders"))
    if borders is None:  # schema order (ECMA-376 CT_TcPr): tcW, gridSpan, vMerge, tcBorders, ..., vAlign
        borders = OxmlElement("w:tcBorders")
        after = [tc_pr.find(qn(f"w:{tag}")) for tag in ("tcW", "gridSpan", "hMerge", "vMerge")]
        after = [el for el in after if el is not None]
        tc_pr.insert(tc_pr.index(after[-1]) + 1 if after else 0, borders)
    for side, on in (("top", top), ("bottom", bottom), ("left", False), ("right", False)):
        el = borders.find(qn(f"w:{side}"))
        if el is None:
            el = OxmlElement(f"w:{side}")
            borders.append(el)
        el.set(qn("w:val"), "single" if on else "nil")
        if on:
            el.set(qn("w:sz"), "6")
            el.set(qn("w:space"), "0")
            el.set(qn("w:color"), "000000")


def _no_table_borders(table) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:val"), "nil")
        borders.append(el)
    # schema order (CT_TblPr): ..., tblInd, tblBorders, shd, tblLayout, tblCellMar, tblLook, ...
    later = [
        el
        for el in tbl_pr
        if el.tag
        in {qn(f"w:{t}") for t in ("shd", "tblLayout", "tblCellMar", "tblLook", "tblCaption", "tblDescription")}
    ]
    if later:
        later[0].addprevious(borders)
    else:
        tbl_pr.append(borders)


def _repeat_header(row) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    tr_pr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    tr_pr.append(el)


def _table_style(document, size):
    """A paragraph style for table cells (the cell text's size, no spacing), made once per document and size."""
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt

    name = f"APA Table {size.pt:g}"
    try:
        return document.styles[name]
    except KeyError:
        style = document.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = document.styles["Normal"]
    style.font.size = size
    style.paragraph_format.space_before = style.paragraph_format.space_after = Pt(0)
    style.paragraph_format.line_spacing = 1.0
    return style


def _cell_text(cell, text: str, *, numeric: bool, size, bold: bool = False) -> None:
    from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_TAB_ALIGNMENT
    from docx.shared import Pt

    cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.BOTTOM
    p = cell.paragraphs[0]
    p.style = _table_style(cell.part.document, size)
    pf = p.paragraph_format
    pf.space_before = pf.space_after = Pt(1)
    pf.line_spacing = 1.0
    if numeric and text:
        # decimal alignment: a decimal tab stop in the middle of the cell
        width = cell.width or Pt(50)
        pf.tab_stops.add_tab_stop(int(width * 0.55), WD_TAB_ALIGNMENT.DECIMAL)
        text = "\t" + text
    elif numeric or bold:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run(text)
    run.font.size = size
    run.bold = False


_EM_PER_CHAR = 0.5  # Times New Roman: digits .5 em, lower-case letters .4-.5 em
_PAD_CHARS = 3.0  # cell margins (0.08 in each side) and a little air, in characters
_ZWSP = "\u200b"


def _column_needs(t: APATable) -> list[float]:
    """Characters each column needs on one line: its longest header word (a zero-width space
    separates words too), its widest number, its text cells up to 24 characters (they wrap)."""
    need = []
    for j, head in enumerate(t.header):
        widths = [max([len(w) for w in head.replace(_ZWSP, " ").split()] or [1])]
        for row in t.rows:
            cell = row[j]
            if t.numeric[j]:
                widths.append(len(cell))
            else:
                words = [len(w) for w in cell.split()] or [0]
                widths.append(max(max(words), min(len(cell), 24)))
        need.append(max(widths) + _PAD_CHARS)
    return need


def _fit_line(t: APATable, usable_pt: float) -> tuple[APATable, float, list[float]]:
    """Font size (pt), header and column shares of a table so that its columns fit the line.

    The size is the default for the table's width (10 pt; 9 pt above six columns, 8 pt above
    ten), lowered to no less than 8 pt when the columns do not fit; if they still do not, header
    names break after an underscore or a dot (a zero-width space there), never in mid-word.
    Each column's share of the line is proportional to what it needs (:func:`_column_needs`).
    """
    import dataclasses
    import re

    def fits(table: APATable, pt: float) -> bool:
        return sum(_column_needs(table)) * _EM_PER_CHAR * pt <= usable_pt

    size = 8.0 if len(t.header) > 10 else 9.0 if len(t.header) > 6 else 10.0
    while size > 8.0 and not fits(t, size):
        size -= 1.0
    if not fits(t, size):
        t = dataclasses.replace(t, header=[re.sub(r"([_.])(?=\w)", "\\1" + _ZWSP, h) for h in t.header])
    need = _column_needs(t)
    return t, size, [w / sum(need) for w in need]


def _split_columns(t: APATable, usable_pt: float, index: bool) -> list[APATable]:
    """A table too wide for the line even at 8 pt, split into column groups that fit, each repeating
    the row labels (``index``: the first column holds them); the note stays with the last group."""
    import dataclasses

    need = _column_needs(t)
    capacity = usable_pt / (_EM_PER_CHAR * 8.0)  # characters a line holds at 8 pt
    if sum(need) <= capacity:
        return [t]
    lead = [0] if index else []
    lead_need = sum(need[j] for j in lead)
    groups: list[list[int]] = [[]]
    used = lead_need
    for j in range(len(lead), len(t.header)):
        if groups[-1] and used + need[j] > capacity:
            groups.append([])
            used = lead_need
        groups[-1].append(j)
        used += need[j]
    parts = []
    for k, g in enumerate(groups):
        cols = lead + g
        parts.append(
            dataclasses.replace(
                t,
                header=[t.header[j] for j in cols],
                rows=[[row[j] for j in cols] for row in t.rows],
                numeric=[t.numeric[j] for j in cols],
                note=t.note if k == len(groups) - 1 else "",
            )
        )
    return parts


def _orient(doc, landscape: bool) -> None:
    """Continue on landscape (or portrait) pages: a new section only where the orientation changes, so
    consecutive wide tables share landscape pages and no empty page is left between them."""
    from docx.enum.section import WD_ORIENT, WD_SECTION

    sec = doc.sections[-1]
    if (sec.page_width > sec.page_height) == landscape:
        return
    sec = doc.add_section(WD_SECTION.NEW_PAGE)
    sec.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    if (sec.page_width > sec.page_height) != landscape:
        sec.page_width, sec.page_height = sec.page_height, sec.page_width


def _add_table(doc, t: APATable, *, index: bool = True) -> None:
    """One APA table; on landscape pages when it has more than eight columns, and split into column
    groups ("Table 7 (continued)") when it does not fit even there."""
    _orient(doc, len(t.header) > _WIDE)
    usable = doc.sections[-1].page_width - doc.sections[-1].left_margin - doc.sections[-1].right_margin
    for k, part in enumerate(_split_columns(t, usable / 12700, index)):  # EMU per point
        _add_table_part(doc, part, usable, continued=k > 0)


def _add_table_part(doc, t: APATable, usable: int, *, continued: bool = False) -> None:
    from docx.shared import Pt

    label = doc.add_paragraph()
    label.paragraph_format.keep_with_next = True
    label.paragraph_format.space_after = Pt(0)
    label.add_run(f"Table {t.number}" + (" (continued)" if continued else "")).bold = True
    title = doc.add_paragraph()
    title.paragraph_format.keep_with_next = True
    title.add_run(t.title).italic = True
    table = doc.add_table(rows=1 + len(t.rows), cols=len(t.header))
    table.autofit = True
    _no_table_borders(table)
    t, points, share = _fit_line(t, usable / 12700)  # EMU per point
    size = Pt(points)
    for j, col in enumerate(table.columns):
        col.width = int(usable * share[j])  # the table grid, which LibreOffice follows
        for cell in col.cells:
            cell.width = int(usable * share[j])
    head = table.rows[0]
    _repeat_header(head)
    for j, text in enumerate(t.header):
        cell = head.cells[j]
        _cell_text(cell, text, numeric=False, size=size, bold=True)
        if t.numeric[j]:
            from docx.enum.text import WD_ALIGN_PARAGRAPH

            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.CENTER
        _rule(cell, top=True, bottom=True)
    last = len(t.rows)
    for i, row in enumerate(t.rows, 1):
        for j, text in enumerate(row):
            cell = table.rows[i].cells[j]
            _cell_text(cell, text, numeric=t.numeric[j], size=size)
            _rule(cell, bottom=i == last)
    if t.note:
        note = doc.add_paragraph()
        note.paragraph_format.space_before = Pt(4)
        lead = note.add_run("Note.")
        lead.italic = True
        lead.font.size = Pt(10)
        note.add_run(" " + t.note).font.size = Pt(10)
    else:
        doc.add_paragraph()


def _add_figure(doc, number: int, fig) -> None:
    from docx.shared import Inches, Pt

    _orient(doc, False)

    label = doc.add_paragraph()
    label.paragraph_format.keep_with_next = True
    label.paragraph_format.space_after = Pt(0)
    label.add_run(f"Figure {number}").bold = True
    title = doc.add_paragraph()
    title.paragraph_format.keep_with_next = True
    title.add_run(fig.caption).italic = True
    if fig.png:
        from PIL import Image

        with Image.open(io.BytesIO(fig.png)) as im:
            w, h = im.size
        width = 6.0
        if h / w * width > 8.0:  # a tall heat map: fit the page height
            width = 8.0 * w / h
        doc.add_picture(io.BytesIO(fig.png), width=Inches(width))
    else:
        doc.add_paragraph(f"(The figure is in report.html and figures/{fig.name}.svg.)")


def report_docx(report):
    """The report as a :class:`docx.document.Document` (python-docx)."""
    try:
        import docx
    except ImportError as exc:  # pragma: no cover - python-docx is a dependency
        raise ImportError("DOCX output needs python-docx: pip install python-docx") from exc
    from docx.shared import Pt

    doc = docx.Document()
    normal = doc.styles["Normal"]
    normal.font.name = _FONT
    normal.font.size = Pt(12)
    doc.core_properties.title = report.title
    doc.add_heading(report.title, level=0)
    if report.subtitle:
        doc.add_paragraph(report.subtitle)
    tn = fn = 0
    for s in report.sections:
        _orient(doc, False)  # text on portrait pages
        doc.add_heading(s.title, level=1)
        if s.status != "ok":
            doc.add_paragraph().add_run(f"Status: {s.status}").italic = True
        for text in s.paragraphs:
            doc.add_paragraph(text)
        for flag in s.flags:
            doc.add_paragraph(flag, style="List Bullet")
        for t in s.tables:
            tn += 1
            _add_table(doc, apa_table(t, tn), index=t.index)
        for f in s.figures:
            fn += 1
            _add_figure(doc, fn, f)
    return doc


def write_docx(report, path: str | Path) -> Path:
    """Write ``report`` as a DOCX file at ``path`` (inside a staging folder or through an atomic writer)."""
    path = Path(path)
    report_docx(report).save(str(path))
    return path


def write_summary(summary, path: str | Path) -> Path:
    """Write one result's :class:`allyscale.results.Summary` as a DOCX file: its title, its paragraphs as
    editable text and each of its tables as an APA-7 table (``Result.to_docx``)."""
    import docx
    from docx.shared import Pt

    from allyscale.report.document import Table

    doc = docx.Document()
    normal = doc.styles["Normal"]
    normal.font.name = _FONT
    normal.font.size = Pt(12)
    doc.add_heading(summary.title, level=1)
    number = 0
    for block in summary.blocks:
        if hasattr(block, "lines"):
            for line in block.lines:
                doc.add_paragraph(line)
            continue
        number += 1
        table = Table(
            name=f"table{number}",
            caption=block.title or summary.title,
            data=block.frame,
            note=block.note or "",
            digits=block.digits,
            index=block.index,
        )
        _add_table(doc, apa_table(table, number), index=table.index)
    from allyscale._files import atomic_write

    return atomic_write(path, lambda tmp: doc.save(str(tmp)))


def frame_to_docx(
    frame, path: str | Path, *, title: str, note: str = "", number: int = 1, digits: int = 3, index: bool = True
) -> Path:
    """One DataFrame as a Word document holding one APA-7 table (number, italic title, horizontal rules,
    decimal-aligned numbers, leading zeros dropped where a value cannot exceed 1, the note below).

    Parameters
    ----------
    frame : DataFrame
    path : path
        The .docx file to write (atomically: complete or not at all).
    title : str
        The table's title.
    note : str
        The table's note (after an italic *Note.*).
    number : int
        The table's number.
    digits : int
        Decimals of non-integer numbers.
    index : bool
        Write the frame's index as the first column.

    Returns
    -------
    Path
    """
    import docx
    from docx.shared import Pt

    from allyscale._files import atomic_write
    from allyscale.report.document import Table

    doc = docx.Document()
    doc.styles["Normal"].font.name = _FONT
    doc.styles["Normal"].font.size = Pt(12)
    table = Table(name="table", caption=title, data=frame, note=note, digits=digits, index=index)
    _add_table(doc, apa_table(table, number), index=index)
    return atomic_write(path, lambda tmp: doc.save(str(tmp)))
