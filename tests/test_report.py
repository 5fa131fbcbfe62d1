"""The report: self-contained, escaped, rendered by a real browser."""

import json
import re
import shutil
import subprocess
import tempfile
import textwrap

import pandas as pd
import pytest
from conftest import MINI_POOL

import allyscale as al
from allyscale.pool import parse_pool

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
]


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    pool = al.load_pool(MINI_POOL)
    data = al.simulate(pool, n=300, seed=1)
    report = al.validate(data, pool=pool, source="simulated")
    out = tmp_path_factory.mktemp("report")
    report.save(out)
    return out, report


def test_outputs_written(report_dir):
    out, report = report_dir
    html = (out / "report.html").read_text()
    results = json.loads((out / "results.json").read_text())
    assert set(results["sections"]) == {s.id for s in report.sections}
    for name, df in report.tables().items():
        saved = pd.read_csv(out / "tables" / f"{name}.csv", index_col=list(range(df.index.nlevels)))
        assert saved.shape == df.shape, name
    # self-contained: no external scripts, styles, fonts or images
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"url\((?!#)", html) and "@import" not in html  # only in-document references
    assert not re.search(r"(src|href)=[\"'](https?:|//)", html)


def test_every_number_in_results_json(report_dir):
    out, report = report_dir
    results = json.loads((out / "results.json").read_text())
    desc = report.section("items").tables[0].data
    saved = results["sections"]["items"]["tables"]["item_descriptives"]
    assert saved["index"] == list(desc.index)
    col = saved["columns"].index("mean")
    assert [row[col] for row in saved["data"]] == pytest.approx(desc["mean"].tolist())


def test_text_from_the_pool_is_escaped(tmp_path):
    pool = parse_pool(
        textwrap.dedent("""
    name: "Scale <b>bold</b>"
    response_scale: {min: 1, max: 5}
    factors:
      - id: f1
        items:
          - {id: x1, text: "I listen <script>alert('x')</script> well."}
          - {id: x2, text: "I ask & wait."}
          - {id: x3, text: "I help."}
    """)
    )
    data = al.simulate(pool, n=100, seed=3)
    html = al.validate(data, pool=pool).html()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "I ask &amp; wait." in html
    assert "<b>bold</b>" not in html


def _chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.fail(
            "headless Chromium is required for the report rendering test: install the Debian package "
            "'chromium' (make test does this when run as root)"
        )
    return exe


def test_report_renders_in_headless_chromium(report_dir):
    out, report = report_dir
    exe = _chromium()
    profile = tempfile.mkdtemp()
    shot = out / "shot.png"
    dom = subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", (out / "report.html").as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    for s in report.sections:
        assert f'id="{s.id}"' in dom.stdout
    assert dom.stdout.count("<table") == sum(len(s.tables) for s in report.sections)
    console = [
        line for line in dom.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line or "net::ERR" in line
    ]
    assert console == []
    subprocess.run(
        [
            exe,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            (out / "report.html").as_uri(),
        ],
        capture_output=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 10_000
    shutil.rmtree(profile, ignore_errors=True)


def test_validate_real_data_with_model_and_group(tmp_path):
    """psych::bfi (2,800 x 25, public): every section of the report is filled."""
    from click.testing import CliRunner
    from conftest import REFERENCE

    from allyscale.cli import main

    bfi = REFERENCE / "bfi"
    out = tmp_path / "bfi"
    result = CliRunner().invoke(
        main,
        [
            "validate",
            str(bfi / "data.csv"),
            "--model",
            str(bfi / "model.lav"),
            "--group",
            "gender",
            "--estimator",
            "MLR",
            "--reverse",
            "A1,C4,C5,E1,E2,O2,O5",
            "--scale",
            "1,6",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    statuses = {sid: sec["status"] for sid, sec in results["sections"].items()}
    assert all(status in ("ok", "warning") for status in statuses.values()), statuses
    for sid, sec in results["sections"].items():
        assert sec["tables"] or sec["paragraphs"], sid
    inv = results["sections"]["invariance"]["tables"]["invariance"]
    assert inv["index"] == ["configural", "metric", "scalar", "strict"]
    rel = results["sections"]["reliability"]["tables"]["reliability"]
    omega_col = rel["columns"].index("omega")
    assert all(0.5 < row[omega_col] < 1 for row in rel["data"])
    assert results["meta"]["reverse_scored"] == ["A1", "C4", "C5", "E1", "E2", "O2", "O5"]
    sample = results["sections"]["sample"]["numbers"]
    assert sample["n"] == 2800 and sample["complete"] == 2436  # lavaan's complete-case N in make_bfi.R


@pytest.fixture(scope="module")
def two_forms_report(tmp_path_factory):
    """validate on the mini pool with two forms of 300 (ordinal invariance by WLSMV): the report folder."""
    from click.testing import CliRunner

    from allyscale.cli import main

    tmp = tmp_path_factory.mktemp("two_forms")
    pool = al.load_pool(MINI_POOL)
    data = al.simulate(pool, 600, seed=21)
    data["form"] = ["self"] * 300 + ["informant"] * 300
    data.to_csv(tmp / "two.csv", index=False)
    out = tmp / "report"
    result = CliRunner().invoke(
        main,
        [
            "validate",
            str(tmp / "two.csv"),
            "--pool",
            str(MINI_POOL),
            "--group",
            "form",
            "--estimator",
            "WLSMV",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_ordinal_invariance_section_uses_the_wu_estabrook_sequence(two_forms_report):
    out = two_forms_report
    sec = json.loads((out / "results.json").read_text())["sections"]["invariance"]
    table = sec["tables"]["invariance"]
    assert table["index"] == ["configural", "thresholds", "metric", "scalar", "strict"]
    decision = table["columns"].index("decision")
    assert table["data"][-1][decision] == "not testable"
    text = " ".join(sec["paragraphs"])
    assert "Wu and Estabrook (2016)" in text and "(Wu & Estabrook, 2016)." in text and "MLR" not in text
    conclusion = " ".join(json.loads((out / "results.json").read_text())["sections"]["conclusion"]["paragraphs"])
    assert "strict invariance" not in conclusion and "Invariance across form" in conclusion


def test_invariance_decisions_fit_a_1280px_screen(two_forms_report, tmp_path):
    """The invariance decision table is readable at 1280 px: its right edge is inside the window (Chromium)."""
    out = two_forms_report
    sec = json.loads((out / "results.json").read_text())["sections"]["invariance"]
    cols = sec["tables"]["invariance"]["columns"]
    assert cols[0] == "decision" and "delta_pvalue" in cols and "delta_chisq" in cols
    html = (out / "report.html").read_text(encoding="utf-8")
    probe = (
        "<script>window.addEventListener('load',function(){var t=document.getElementById('table-invariance');"
        "var r=t.getBoundingClientRect();document.body.setAttribute('data-right',Math.ceil(r.right));"
        "document.body.setAttribute('data-width',window.innerWidth);});</script></body>"
    )
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe), encoding="utf-8")
    exe = _chromium()
    profile = tempfile.mkdtemp()
    dom = subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,900", "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    shutil.rmtree(profile, ignore_errors=True)
    right = int(re.search(r'data-right="(\d+)"', dom.stdout).group(1))
    width = int(re.search(r'data-width="(\d+)"', dom.stdout).group(1))
    assert width >= 1200 and right <= width, (right, width)
