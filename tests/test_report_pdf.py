"""The report on paper: report.html printed by headless Chromium, report.docx converted by LibreOffice.

Both PDFs are turned into page images (poppler's ``pdftoppm``) and text (``pdftotext``, with word boxes), and
checked for what a reader of the printed report needs: every table (by number and title) and every figure is
there, every column header of every table is on the page (a column pushed past the edge would be missing), every
word lies inside its page with a margin, and the right margin of every page image is blank. The tests are skipped,
with the reason, where Chromium, LibreOffice or poppler are not installed (Debian: ``chromium``,
``libreoffice-writer-nogui``, ``poppler-utils``).
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import libreoffice_pdf

import allyscale as al
from allyscale.errors import SpecificationError
from allyscale.report import pdf as report_pdf
from allyscale.report.render import column_groups

CHROMIUM = report_pdf.find_chromium()
LIBREOFFICE = shutil.which("libreoffice") or shutil.which("soffice")
PDFTOPPM = shutil.which("pdftoppm")
PDFTOTEXT = shutil.which("pdftotext")
POPPLER = pytest.mark.skipif(
    PDFTOPPM is None or PDFTOTEXT is None,
    reason="poppler's pdftoppm/pdftotext are not installed (Debian: apt-get install poppler-utils)",
)
NEEDS_CHROMIUM = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)"
)
NEEDS_LIBREOFFICE = pytest.mark.skipif(
    LIBREOFFICE is None, reason="LibreOffice is not installed (Debian: apt-get install libreoffice-writer-nogui)"
)


def _report(pool, n: int = 300, seed: int = 5, **kwargs):
    """A report with every kind of table: careless flags (13 columns), invariance across two forms, figures."""
    data = al.simulate(al.PopulationModel.from_pool(pool, structure="correlated"), n=n, seed=seed)
    data["form"] = np.where(np.arange(len(data)) % 2 == 0, "self", "informant")
    items = pool.item_ids
    data.loc[data.index[[4, 9]], items] = 3  # two straight-liners: the careless-responding table
    return al.validate(data, pool=pool, group="form", **kwargs)


@pytest.fixture(scope="module")
def printed(mini_pool, tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    report = _report(mini_pool)
    out = tmp_path_factory.mktemp("pdf") / "report"
    report.save(out, formats=("html", "docx", "pdf"))
    return report, out


# ----------------------------------------------------------------------------- what a printed page must show
def _words(pdf: Path) -> list[tuple[int, float, float, float, float, float, float, str]]:
    """(page, width, height, x0, y0, x1, y1, word) for every word of the PDF (``pdftotext -bbox``)."""
    bbox = subprocess.run(
        [PDFTOTEXT, "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    out = []
    for k, (w, h, body) in enumerate(
        re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', bbox, re.S), 1
    ):
        for x0, y0, x1, y1, word in re.findall(
            r'<word xMin="([\d.-]+)" yMin="([\d.-]+)" xMax="([\d.-]+)" '
            r'yMax="([\d.-]+)">([^<]*)</word>',
            body,
        ):
            word = html_lib.unescape(word).replace("\u200b", "")  # zero-width spaces (break points)
            if word:
                out.append((k, float(w), float(h), float(x0), float(y0), float(x1), float(y1), word))
    return out


def _on_page(name: str, tokens: set[str]) -> bool:
    """A header word is on a page whole, or broken only after ``_`` or ``.`` (never in mid-word)."""
    pieces = re.split(r"(?<=[_.])(?=\w)", name)
    reach = {0}  # how many pieces can be covered by consecutive words
    for i in range(len(pieces)):
        if i in reach:
            reach |= {j for j in range(i + 1, len(pieces) + 1) if "".join(pieces[i:j]) in tokens}
    return len(pieces) in reach


def check_printed(pdf: Path, report, tmp: Path, *, figure_label: str, dpi: int = 30) -> int:
    """Assert that the PDF of ``report`` shows every table and figure, uncut; returns the number of pages."""
    tables = [t for s in report.sections for t in s.tables]
    figures = [f for s in report.sections for f in s.figures]
    text = subprocess.run([PDFTOTEXT, str(pdf), "-"], capture_output=True, text=True, check=True, timeout=300).stdout
    flat = " ".join(text.split())
    for i, t in enumerate(tables, 1):
        assert f"Table {i}" in flat, f"Table {i} ({t.name}) is not in {pdf.name}"
        assert " ".join(t.caption.split()) in flat, f"the title of table {i} ({t.name}) is not in {pdf.name}"
    for i, f in enumerate(figures, 1):
        assert f"Figure {i}{figure_label}" in flat and " ".join(f.caption.split()) in flat, f.name
    words = _words(pdf)
    tokens = {w[-1] for w in words}
    for t in tables:  # a column pushed past the page edge would lose its header
        headers = [str(c) for c in t.data.columns] + ([str(t.data.index.name)] if t.index and t.data.index.name else [])
        lost = [h for h in headers for tok in h.split() if not _on_page(tok, tokens)]
        assert not lost, f"{pdf.name}: column header(s) {lost} of table {t.name} are not on any page"
    margin = 18.0  # 0.25 in
    for page, width, height, x0, y0, x1, y1, word in words:
        assert x0 >= margin and x1 <= width - margin, f"{pdf.name} p. {page}: {word!r} runs into the page edge"
        assert y0 >= margin and y1 <= height - margin, f"{pdf.name} p. {page}: {word!r} runs into the page edge"
    subprocess.run([PDFTOPPM, "-r", str(dpi), "-gray", "-png", str(pdf), str(tmp / pdf.stem)], check=True, timeout=300)
    pages = sorted(tmp.glob(f"{pdf.stem}-*.png"))
    assert len(pages) == max(w[0] for w in words) or len(pages) >= max(w[0] for w in words)
    from PIL import Image

    edge = int(round(0.25 * dpi))
    for png in pages:
        with Image.open(png) as im:
            gray = np.asarray(im.convert("L"))
        assert gray[:, -edge:].min() >= 200, f"{png.name}: ink in the right quarter inch of the page"
        assert gray[:, :edge].min() >= 200, f"{png.name}: ink in the left quarter inch of the page"
    with Image.open(pages[0]) as im:
        assert (np.asarray(im.convert("L")) < 128).mean() > 0.003  # the first page carries text
    return len(pages)


# ----------------------------------------------------------------------------- Chromium
@NEEDS_CHROMIUM
@POPPLER
def test_html_printed_by_chromium_shows_every_table_and_figure_uncut(printed, tmp_path):
    report, out = printed
    pdf = out / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    n_pages = check_printed(pdf, report, tmp_path, figure_label=".")
    info = (
        subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout if shutil.which("pdfinfo") else ""
    )
    if info:
        assert re.search(r"Pages:\s+(\d+)", info).group(1) == str(n_pages)
        assert "612 x 792 pts" in info  # US Letter, as the print style sheet asks
    text = subprocess.run([PDFTOTEXT, str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert f"1 / {n_pages}" in text and f"{n_pages} / {n_pages}" in text  # numbered pages


@NEEDS_CHROMIUM
@NEEDS_LIBREOFFICE
@POPPLER
def test_docx_converted_by_libreoffice_shows_every_table_and_figure_uncut(printed, tmp_path):
    report, out = printed
    pdf = libreoffice_pdf(out / "report.docx", tmp_path)
    check_printed(pdf, report, tmp_path, figure_label="")


def test_wide_tables_are_split_into_column_groups_that_fit():
    widths = [6.0] * 19
    groups = column_groups(5.0, widths, budget=64.0)
    assert [j for g in groups for j in g] == list(range(19))  # every column once, in order
    assert all(5.0 + sum(widths[j] for j in g) <= 64.0 for g in groups) and [len(g) for g in groups] == [9, 9, 1]
    assert column_groups(5.0, [80.0, 3.0], budget=64.0) == [[0], [1]]  # an over-wide column alone
    assert column_groups(5.0, [3.0] * 4, budget=64.0) == [[0, 1, 2, 3]]


@NEEDS_CHROMIUM
def test_split_table_keeps_its_number_rows_and_note(printed):
    report, out = printed
    page = (out / "report.html").read_text(encoding="utf-8")
    flags = next(t for t in report.section("sample").tables if t.name == "careless_flags")
    parts = re.findall(
        r'<table class="apa part" id="(table-careless_flags(?:-\d)?)" data-table="careless_flags">', page
    )
    assert parts[0] == "table-careless_flags" and len(parts) >= 2
    number = re.search(r'id="table-careless_flags".*?<b>Table (\d+)</b>', page, re.S).group(1)
    assert page.count(f"<b>Table {number} (continued)</b>") == len(parts) - 1
    shown = []
    for pid in parts:
        body = re.search(rf'id="{pid}".*?</table>', page, re.S).group(0)
        head = re.findall(r"<th>([^<]*)</th>", body.split("</thead>")[0])
        shown += head[1:]
        assert len(re.findall(r'<th scope="row">', body)) == len(flags.data)  # every row in every part
    assert shown == [str(c) for c in flags.data.columns]
    assert page.count(flags.note.split(".")[0]) == 1  # the note once, after the last part


# ----------------------------------------------------------------------------- 1280 px
_PROBE = (
    "<script>window.addEventListener('load',function(){var out=[];"
    "document.querySelectorAll('table.apa').forEach(function(t){var w=t.parentElement;"
    "out.push([t.id,Math.ceil(t.getBoundingClientRect().right),w.scrollWidth,w.clientWidth]);});"
    "document.body.setAttribute('data-probe',JSON.stringify(out));"
    "document.body.setAttribute('data-width',document.documentElement.clientWidth);});</script></body>"
)


def tables_needing_scroll(html_file: Path, tmp: Path) -> tuple[int, list]:
    """Tables of the page that scroll sideways (or reach past the window) at a 1280-px window (Chromium)."""
    page = tmp / "probe.html"
    page.write_text(html_file.read_text(encoding="utf-8").replace("</body>", _PROBE), encoding="utf-8")
    profile = tempfile.mkdtemp()
    try:
        dom = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        ).stdout
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    probe = json.loads(html_lib.unescape(re.search(r'data-probe="([^"]*)"', dom).group(1)))
    width = int(re.search(r'data-width="(\d+)"', dom).group(1))
    return width, [(tid, right, sw, cw) for tid, right, sw, cw in probe if sw > cw or right > width]


@NEEDS_CHROMIUM
def test_no_table_scrolls_sideways_at_1280px(printed, tmp_path):
    report, out = printed
    width, wide = tables_needing_scroll(out / "report.html", tmp_path)
    assert width >= 1200
    assert not wide, f"tables scrolling at 1280 px: {wide}"


# ----------------------------------------------------------------------------- without Chromium
def test_pdf_without_chromium_is_refused_before_anything_is_written(monkeypatch, tmp_path, mini_pool):
    monkeypatch.setenv("ALLYSCALE_CHROMIUM", str(tmp_path / "no-such-browser"))
    assert report_pdf.find_chromium() is None
    rep = al.report.bundle.ValidationReport([al.report.document.Section("s", "S")], title="t")
    with pytest.raises(SpecificationError, match="apt-get install chromium"):
        rep.save(tmp_path / "r", formats=("html", "pdf"))
    assert not (tmp_path / "r").exists()

    from click.testing import CliRunner
    from conftest import MINI_POOL

    from allyscale.cli import main

    csv = tmp_path / "d.csv"
    al.simulate(al.PopulationModel.from_pool(mini_pool, structure="correlated"), n=100, seed=1).to_csv(csv, index=False)
    res = CliRunner().invoke(
        main, ["validate", str(csv), "--pool", str(MINI_POOL), "--out", str(tmp_path / "r2"), "--formats", "html,pdf"]
    )
    assert res.exit_code == 2, res.output
    assert "Chromium" in res.output and "apt-get install chromium" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "r2").exists()


def test_a_failed_print_is_an_error_not_a_missing_file(tmp_path):
    fake = tmp_path / "fake-chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    fake.chmod(0o755)
    html = tmp_path / "r.html"
    html.write_text("<html><body>x</body></html>")
    with pytest.raises(ChildProcessError, match=r"exit status 3.*cannot open display"):
        report_pdf.html_to_pdf(html, tmp_path / "r.pdf", chromium=str(fake))


# ----------------------------------------------------------------------------- the demo report (make demo), slow
@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    """The report ``make demo`` makes: the allyship pool (100 items), 400 simulated self/informant pairs, WLSMV."""
    from click.testing import CliRunner
    from conftest import ROOT

    from allyscale.cli import main

    tmp = tmp_path_factory.mktemp("demo")
    pool = str(ROOT / "item_pools" / "allyship.yaml")
    runner = CliRunner()
    res = runner.invoke(
        main,
        [
            "simulate",
            "--pool",
            pool,
            "--dyads",
            "400",
            "--seed",
            "2023",
            "--structure",
            "second_order",
            "--thresholds",
            "skewed",
            "--self-other-corr",
            "0.5",
            "--leniency",
            "tr_emp1=0.5,ac_shr2=0.5,aw_slf4=0.5,ab_col5=0.5",
            "--out",
            str(tmp / "allyship_pairs.csv"),
        ],
    )
    assert res.exit_code == 0, res.output
    formats = "html,docx" + (",pdf" if CHROMIUM else "")
    res = runner.invoke(
        main,
        [
            "validate",
            str(tmp / "allyship_pairs.csv"),
            "--pool",
            pool,
            "--pairs",
            "--target-id",
            "target",
            "--collapse",
            "--formats",
            formats,
            "--out",
            str(tmp / "report"),
        ],
    )
    assert res.exit_code in (0, 1), res.output  # 1: some analysis failed (the report says which)
    return tmp / "report"


def _demo_sections(out: Path):
    """Tables and figures of the saved demo report, as check_printed needs them (from results.json)."""
    from types import SimpleNamespace

    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))["sections"]
    page = (out / "report.html").read_text(encoding="utf-8")
    sections = []
    for sec in saved.values():
        tables = [
            SimpleNamespace(
                name=name,
                caption=t["caption"],
                index=True,
                data=pd.DataFrame(columns=t["columns"], index=pd.Index([], name=None)),
            )
            for name, t in sec["tables"].items()
        ]
        sections.append(SimpleNamespace(tables=tables, figures=[]))
    # figures: from the HTML (results.json keeps numbers, not pictures)
    for number, caption in re.findall(r"<figcaption><b>Figure (\d+)\.</b> ([^<]*)</figcaption>", page):
        sections[-1].figures.append(SimpleNamespace(caption=html_lib.unescape(caption)))
    return SimpleNamespace(sections=sections)


@pytest.mark.slow
@NEEDS_CHROMIUM
@POPPLER
def test_demo_report_prints_uncut(demo_report, tmp_path):
    """The 100-item paired demo: every table and figure in report.pdf (Chromium) and in the DOCX printed by
    LibreOffice, no column off a page, no table scrolling sideways at 1280 px."""
    out = demo_report
    report = _demo_sections(out)
    assert sum(len(s.figures) for s in report.sections) >= 6  # screen, scree, heat map, path diagram(s), ...
    check_printed(out / "report.pdf", report, tmp_path, figure_label=".")
    width, wide = tables_needing_scroll(out / "report.html", tmp_path)
    assert width >= 1200 and not wide, f"tables scrolling at 1280 px: {wide}"
    if LIBREOFFICE is not None:
        lo = tmp_path / "lo"
        lo.mkdir()
        done = subprocess.run(
            [
                LIBREOFFICE,
                "--headless",
                f"-env:UserInstallation=file://{tmp_path}/profile",
                "--convert-to",
                "pdf",
                "--outdir",
                str(lo),
                str(out / "report.docx"),
            ],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0 and (lo / "report.pdf").is_file(), done.stderr[-2000:]
        figures = [f for s in report.sections for f in s.figures]
        for s in report.sections:
            s.figures = []
        report.sections[-1].figures = figures
        check_printed(lo / "report.pdf", report, lo, figure_label="")


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("Rscript") is None,
    reason="Rscript is not installed (R with lavaan 0.6.14 and semTools runs reproduce.R; CI has no R)",
)
def test_demo_reproduce_r_matches_the_reports_fit_measures(demo_report, tmp_path):
    """reproduce.R, run with lavaan 0.6.14 on the demo report's data.csv, gets the report's fit measures to 1e-6.

    Long: lavaan fits each of the five 100-item WLSMV models in about 16 minutes of one core
    (benchmarks/bench_wlsmv.py), so this test takes one and a half hours or more.
    """
    out = demo_report
    version = subprocess.run(
        ["Rscript", "-e", "cat(as.character(packageVersion('lavaan')))"], capture_output=True, text=True, timeout=120
    ).stdout.strip()
    if version != "0.6.14":
        pytest.skip(f"lavaan {version or 'missing'} is installed; the reference is lavaan 0.6.14")
    fits = tmp_path / "fits.csv"
    done = subprocess.run(
        ["Rscript", str(out / "reproduce.R"), str(fits)], capture_output=True, text=True, timeout=6 * 3600, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    res = pd.read_csv(fits)
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))
    comp = saved["sections"]["cfa"]["tables"]["cfa_comparison"]
    models = set(comp["index"])
    assert set(res.loc[res["table"] == "cfa_comparison", "row"]) == models  # every model of the report refitted
    assert {"chisq.scaled", "cfi.scaled", "rmsea.scaled", "srmr"} <= set(res["measure"])
    np.testing.assert_allclose(res["lavaan"], res["allyscale"], rtol=1e-6, atol=1e-10)


@pytest.mark.slow
def test_demo_tables_write_pairs_with_dashes_and_flags_by_id(demo_report):
    """Every table of the demo: no Python tuple in any cell or label, factor pairs as 'a–b', flags by target id."""
    out = demo_report
    saved = json.loads((out / "results.json").read_text(encoding="utf-8"))["sections"]
    page = (out / "report.html").read_text(encoding="utf-8")
    tuple_like = re.compile(r"^\(\s*['\"].*['\"]\s*\)$")
    for sec in saved.values():
        for name, t in sec["tables"].items():
            cells = [str(c) for row in t["data"] for c in row] + [str(i) for i in t["index"]] + t["columns"]
            assert not [c for c in cells if tuple_like.match(c)], name
    assert not re.search(r"<t[hd][^>]*>\(&#39;", page)
    fc = saved["cfa"]["tables"].get("cfa_factor_correlations")
    if fc is not None:
        assert fc["index"] and all(re.fullmatch(r"[\w.]+–[\w.]+", i) for i in fc["index"])
    flags = saved["sample"]["tables"].get("careless_flags")
    if flags is not None:
        data = pd.read_csv(out.parent / "allyship_pairs.csv")
        ids = set(data["target"].astype(str))
        col = flags["columns"].index("id")
        assert all(str(row[col]) in ids for row in flags["data"])
