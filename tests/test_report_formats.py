"""Report formats: DOCX (APA-7 tables, editable text, embedded figures) and LaTeX (booktabs tables + include).

The DOCX is converted to PDF with LibreOffice (``libreoffice --headless --convert-to pdf``) and rasterised with
poppler's ``pdftoppm`` when both are installed (Debian: ``libreoffice-writer-nogui poppler-utils``); the LaTeX is
compiled with ``pdflatex`` when installed (Debian: ``texlive-latex-base texlive-latex-recommended``), otherwise
checked for syntax.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile

import numpy as np
import pandas as pd
import pytest
from conftest import libreoffice_pdf

import allyscale as al
from allyscale.report.apa import apa_table, bounded_column
from allyscale.report.document import Section, Table
from allyscale.report.latex import latex_escape, table_latex

LIBREOFFICE = shutil.which("libreoffice") or shutil.which("soffice")
PDFTOPPM = shutil.which("pdftoppm")
PDFLATEX = shutil.which("pdflatex")


@pytest.fixture(scope="module")
def saved(mini_pool, tmp_path_factory):
    pm = al.PopulationModel.from_pool(mini_pool, structure="correlated")
    data = al.simulate(pm, n=300, seed=3)
    data["form"] = np.where(np.arange(len(data)) % 2 == 0, "self", "informant")
    report = al.validate(data, pool=mini_pool, group="form")
    out = tmp_path_factory.mktemp("formats") / "report"
    report.save(out, formats=("html", "docx", "tex"))
    return report, out


# ----------------------------------------------------------------------------- APA cells
def test_leading_zero_dropped_only_where_a_value_cannot_exceed_1():
    df = pd.DataFrame(
        {
            "pvalue": [0.0123, 0.0004],
            "cfi": [0.951, 0.9],
            "tli": [1.012, 0.9],
            "chisq": [0.5, 12.25],
            "omega": [0.81, 0.7],
            "std_all": [0.75, -0.4],
        },
        index=pd.Index(["m1", "m2"], name="model"),
    )
    t = apa_table(Table("fit", "Fit", df), 1)
    assert t.header == ["model", "pvalue", "cfi", "tli", "chisq", "omega", "std_all"]
    assert t.rows[0] == ["m1", ".012", ".951", "1.012", "0.500", ".810", "0.750"]
    assert t.rows[1][6] == "−0.400" and t.rows[1][1] == "<.001"  # a loading can exceed 1 (Heywood): keeps its zero
    assert t.numeric == [False, True, True, True, True, True, True]
    # a 'bounded' column holding a value above 1 keeps its zeros
    assert not bounded_column(Table("x", "x", pd.DataFrame({"omega": [0.5, 1.2]})), "omega")


def test_pairs_are_written_with_an_en_dash_not_as_tuples():
    df = pd.DataFrame({"r": [0.5]}, index=pd.Index([("trust", "action")], name="pair", tupleize_cols=False))
    t = apa_table(Table("pairs", "Pairs", df), 1)
    assert t.rows[0][0] == "trust–action" and t.header[0] == "pair"
    multi = pd.DataFrame({"r": [0.5]}, index=pd.MultiIndex.from_tuples([("trust", "action")], names=["f1", "f2"]))
    t = apa_table(Table("pairs", "Pairs", multi), 1)
    assert t.rows[0][0] == "trust–action" and t.header[0] == "f1–f2"
    cells = pd.DataFrame({"pair": [("a", "b")], "r": [0.25]})
    assert apa_table(Table("p", "P", cells, index=False), 2).rows[0] == ["a–b", ".250"]


def test_latex_escapes_text_and_uses_booktabs():
    assert (
        latex_escape("50% & $x_1 #{}~^\\")
        == r"50\% \& \$x\_1 \#\{\}\textasciitilde{}\textasciicircum{}\textbackslash{}"
    )
    assert latex_escape("χ²(3) ≥ −1 – α") == r"$\chi^2$(3) $\geq$ $-$1 -- $\alpha$"
    df = pd.DataFrame({"pvalue": [0.01], "text": ["=HYPERLINK(x) & 100%"]}, index=pd.Index(["a_1"], name="item"))
    tex = table_latex(apa_table(Table("t", "A caption_with & specials", df, note="p < .05"), 1))
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex and "|" not in tex
    assert r"\caption{A caption\_with \& specials}" in tex and r"\textit{Note.} p \textless{} .05" in tex
    assert r"a\_1 & .010 & =HYPERLINK(x) \& 100\% \\" in tex


# ----------------------------------------------------------------------------- DOCX
def test_docx_has_every_table_paragraph_and_figure(saved):
    import docx

    report, out = saved
    doc = docx.Document(str(out / "report.docx"))
    tables = [t for s in report.sections for t in s.tables]
    figures = [f for s in report.sections for f in s.figures]
    text = [p.text for p in doc.paragraphs]
    labels = [p for p in text if re.fullmatch(r"Table \d+( \(continued\))?", p)]
    assert len(doc.tables) == len(labels)  # one Word table per label (a table too wide is split, continued)
    assert [x for x in labels if "continued" not in x] == [f"Table {i}" for i in range(1, len(tables) + 1)]
    for i, t in enumerate(tables, 1):
        k = text.index(f"Table {i}")
        assert text[k + 1] == t.caption  # the title on the line after the number
        title = next(p for p in doc.paragraphs[k + 1 : k + 2])
        assert all(r.italic for r in title.runs)
    for i, f in enumerate(figures, 1):
        assert f"Figure {i}" in text and f.caption in text
    assert len(doc.inline_shapes) == len(figures) and all(f.png for f in figures)
    for s in report.sections:  # the paragraphs as editable text
        for para in s.paragraphs:
            assert para in text
    notes = [p for p in doc.paragraphs if p.runs and p.runs[0].text == "Note."]
    assert len(notes) == sum(bool(t.note) for t in tables) and all(p.runs[0].italic for p in notes)
    # horizontal rules only: no vertical borders anywhere, and the header row ruled above and below
    xml = zipfile.ZipFile(out / "report.docx").read("word/document.xml").decode()
    assert not re.search(r'<w:(left|right|insideV) w:val="single"', xml)
    first = doc.tables[0]
    head_xml = first.rows[0].cells[1]._tc.xml
    assert 'w:top w:val="single"' in head_xml and 'w:bottom w:val="single"' in head_xml
    # cells as the report shows them, leading zeros dropped for p values and CFI
    comp = next(t for t in tables if t.name == "cfa_comparison")
    dt = doc.tables[labels.index(f"Table {tables.index(comp) + 1}")]
    header = [c.text for c in dt.rows[0].cells]
    row = [c.text.strip() for c in dt.rows[2].cells]
    cfi = row[header.index("cfi.scaled")]
    assert cfi == f"{comp.data['cfi.scaled'].iloc[1]:.3f}".lstrip("0")
    # decimal tab stops align the numbers
    assert re.search(r'<w:tab [^>]*w:val="decimal"', xml)
    # elements in the order the schema requires (Word refuses a file whose tcPr is out of order)
    assert not re.search(r"<w:vAlign[^>]*/>\s*<w:tcBorders", xml)
    assert not re.search(r"<w:tblLook[^>]*/>\s*<w:tblBorders", xml)


@pytest.mark.skipif(
    LIBREOFFICE is None or PDFTOPPM is None,
    reason="LibreOffice and/or poppler's pdftoppm are not installed (Debian: apt-get install "
    "libreoffice-writer-nogui poppler-utils)",
)
def test_docx_opens_in_libreoffice_and_renders_pages(saved, tmp_path):
    report, out = saved
    pdf = libreoffice_pdf(out / "report.docx", tmp_path)
    subprocess.run([PDFTOPPM, "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=300)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 5
    from PIL import Image

    with Image.open(pages[0]) as im:  # a page with ink on it, not a blank sheet
        gray = np.asarray(im.convert("L"))
    assert (gray < 128).mean() > 0.005
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        n_tables = sum(len(s.tables) for s in report.sections)
        n_figures = sum(len(s.figures) for s in report.sections)
        for i in range(1, n_tables + 1):
            assert f"Table {i}\n" in text
        for i in range(1, n_figures + 1):
            assert f"Figure {i}\n" in text
        # nothing is cut at the page edge: every word lies inside its page, with a margin of at least 0.25 in
        bbox = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        for page in re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', bbox, re.S):
            width, height = float(page[0]), float(page[1])
            for x0, y0, x1, y1, word in re.findall(
                r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page[2]
            ):
                assert float(x0) >= 18 and float(x1) <= width - 18, f"{word!r} runs off the page"
                assert float(y0) >= 18 and float(y1) <= height - 18, f"{word!r} runs off the page"


# ----------------------------------------------------------------------------- LaTeX
def _check_tex(source: str, where: str) -> None:
    """Balanced braces and environments, no stray specials (a syntax check without a TeX engine)."""
    body = re.sub(r"(?<!\\)%.*", "", source)  # comments
    stripped = re.sub(r"\\[\\{}&%$#_]", "", body)
    depth = 0
    for ch in stripped:
        depth += ch == "{"
        depth -= ch == "}"
        assert depth >= 0, f"{where}: unbalanced }}"
    assert depth == 0, f"{where}: unbalanced {{"
    stack = []
    for kind, env in re.findall(r"\\(begin|end)\{([^}]*)\}", body):
        if kind == "begin":
            stack.append(env)
        else:
            assert stack and stack.pop() == env, f"{where}: \\end{{{env}}} does not close its \\begin"
    assert not stack, f"{where}: unclosed {stack}"
    text = re.sub(r"\\(label|ref|input|includegraphics(\[[^]]*\])?)\{[^}]*\}", "", stripped)  # names, not text
    text = re.sub(r"\$[^$]*\$", "", text.replace(r"\textasciitilde{}", "").replace("~", ""))
    assert not re.search(r"(?<!\\)[#_^]", text), f"{where}: unescaped special"
    assert stripped.count("$") % 2 == 0, f"{where}: unbalanced $"


def test_latex_folder_tables_and_include(saved):
    report, out = saved
    tex = out / "tex"
    tables = [t for s in report.sections for t in s.tables]
    assert sorted(p.stem for p in (tex / "tables").glob("*.tex")) == sorted(t.name for t in tables)
    main = (tex / "report.tex").read_text()
    for t in tables:
        assert f"\\input{{tables/{t.name}}}" in main
        src = (tex / "tables" / f"{t.name}.tex").read_text()
        assert r"\toprule" in src and r"\bottomrule" in src and f"\\label{{tab:{t.name}}}" in src
        _check_tex(src, t.name)
    for s in report.sections:
        for f in s.figures:
            assert (tex / "figures" / f"{f.name}.png").is_file()
            assert f"figures/{f.name}.png" in main
    _check_tex(main, "report.tex")
    _check_tex((tex / "main.tex").read_text(), "main.tex")


@pytest.mark.skipif(
    PDFLATEX is None,
    reason="pdflatex is not installed (Debian: apt-get install texlive-latex-base "
    "texlive-latex-recommended); the syntax check above still runs",
)
def test_latex_compiles(saved, tmp_path):
    _, out = saved
    work = tmp_path / "tex"
    shutil.copytree(out / "tex", work)
    for _ in range(2):  # longtable needs two passes for its column widths
        done = subprocess.run(
            [PDFLATEX, "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
            cwd=work,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout[-3000:]
    assert (work / "main.pdf").stat().st_size > 10_000


# ----------------------------------------------------------------------------- save(formats=) and the CLI
def test_unknown_format_is_refused(tmp_path):
    rep = al.report.bundle.ValidationReport([Section("s", "S")], title="t")
    with pytest.raises(ValueError, match="unknown report format"):
        rep.save(tmp_path / "r", formats=("html", "odt"))
    assert not (tmp_path / "r").exists()


def test_cli_formats(tmp_path):
    from click.testing import CliRunner
    from conftest import MINI_POOL

    from allyscale.cli import main

    pool = al.load_pool(MINI_POOL)
    data = al.simulate(al.PopulationModel.from_pool(pool, structure="correlated"), n=200, seed=4)
    csv = tmp_path / "d.csv"
    data.to_csv(csv, index=False)
    runner = CliRunner()
    res = runner.invoke(
        main,
        ["validate", str(csv), "--pool", str(MINI_POOL), "--out", str(tmp_path / "rep"), "--formats", "html,docx,tex"],
    )
    assert res.exit_code == 0, res.output
    for name in ("report.html", "report.docx", "tex/report.tex", "tex/main.tex", "data.csv", "reproduce.R"):
        assert (tmp_path / "rep" / name).is_file(), name
    # a later html-only save removes the stale docx and tex folder (the folder holds only this run's files)
    res = runner.invoke(main, ["validate", str(csv), "--pool", str(MINI_POOL), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0 and not (tmp_path / "rep" / "report.docx").exists()
    assert not (tmp_path / "rep" / "tex").exists()
    res = runner.invoke(
        main, ["validate", str(csv), "--pool", str(MINI_POOL), "--out", str(tmp_path / "r2"), "--formats", "html,odt"]
    )
    assert res.exit_code == 2 and "--formats" in res.output and not (tmp_path / "r2").exists()


# ----------------------------------------------------------------------------- readable rows
def test_factor_pairs_with_dashes_and_flags_by_id(saved, mini_pool):
    import docx

    report, out = saved
    fc = next(t for s in report.sections for t in s.tables if t.name == "cfa_factor_correlations")
    assert all(re.fullmatch(r"\w+–\w+", str(i)) for i in fc.data.index)
    doc = docx.Document(str(out / "report.docx"))
    cells = [c.text for t in doc.tables for row in t.rows for c in row.cells]
    assert not [c for c in cells if re.match(r"^\(['\"]", c)]  # no Python tuples anywhere
    # paired data: the careless-responding flags name the target by its id
    pm = al.PopulationModel.from_pool(mini_pool, structure="correlated")
    pairs = al.simulate_pairs(pm, 200, seed=1)
    pairs["target"] = [f"T{i:03d}" for i in range(len(pairs))]
    pairs.loc[pairs.index[[3, 7]], [f"{i}_self" for i in mini_pool.item_ids]] = 3  # two straight-liners
    rep = al.validate(pairs, pool=mini_pool, pairs=True, target_id="target")
    flags = next(t for t in rep.section("sample").tables if t.name == "careless_flags")
    assert {"T003", "T007"} <= set(flags.data["id"])
    assert list(flags.data["id"]) == [f"T{r - 1:03d}" for r in flags.data["row"]]
    assert "id: the data's target column" in flags.note


def test_frame_to_docx_writes_one_apa_table(tmp_path):
    import docx

    from allyscale.report.docx import frame_to_docx

    df = pd.DataFrame({"cfi": [0.951, 0.9], "chisq": [12.25, 30.5]}, index=pd.Index(["m1", "m2"], name="model"))
    path = frame_to_docx(df, tmp_path / "t.docx", title="Fit of two models", note="ML.", number=3)
    doc = docx.Document(str(path))
    text = [p.text for p in doc.paragraphs]
    assert text[:2] == ["Table 3", "Fit of two models"] and "Note. ML." in text
    assert [c.text.strip() for c in doc.tables[0].rows[1].cells] == ["m1", ".951", "12.250"]


def test_a_table_too_wide_for_a_landscape_line_is_split_with_its_row_labels(tmp_path):
    import docx

    from allyscale.report.docx import frame_to_docx

    cols = {f"statistic_{k:02d}": np.linspace(1000, 2000, 3) + k for k in range(24)}
    df = pd.DataFrame(cols, index=pd.Index(["configural", "metric", "scalar"], name="level"))
    doc = docx.Document(str(frame_to_docx(df, tmp_path / "w.docx", title="Wide", note="n")))
    text = [p.text for p in doc.paragraphs]
    assert text.count("Table 1") == 1 and text.count("Table 1 (continued)") == len(doc.tables) - 1 >= 1
    shown = []
    for t in doc.tables:
        assert [r.cells[0].text for r in t.rows] == ["level", "configural", "metric", "scalar"]
        shown += [c.text for c in t.rows[0].cells[1:]]
    assert shown == list(cols)  # every column once, in order
    assert text.count("Note. n") == 1


def test_consecutive_wide_tables_share_landscape_pages(tmp_path):
    import docx

    from allyscale.report.bundle import ValidationReport
    from allyscale.report.docx import write_docx

    wide = pd.DataFrame(np.ones((2, 10)), columns=[f"c{k}" for k in range(10)])
    rep = ValidationReport(
        [
            Section(
                "s",
                "S",
                paragraphs=["text"],
                tables=[
                    Table("w1", "Wide 1", wide),
                    Table("w2", "Wide 2", wide),
                    Table("n", "Narrow", wide.iloc[:, :2]),
                ],
            )
        ],
        title="t",
    )
    doc = docx.Document(str(write_docx(rep, tmp_path / "r.docx")))
    orientation = ["landscape" if s.page_width > s.page_height else "portrait" for s in doc.sections]
    assert orientation == ["portrait", "landscape", "portrait"]  # no empty portrait page between w1 and w2
