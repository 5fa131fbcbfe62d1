"""Figures: built with matplotlib's object API, no global backend or pyplot state touched, displayable in Jupyter."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import nbformat

# Run in a fresh interpreter with a non-Agg backend chosen by the user: importing allyscale and building every
# figure (report figures and the Monte Carlo summary's plots) must leave that backend and pyplot's registry alone.
_SCRIPT = textwrap.dedent("""
    import matplotlib
    matplotlib.use("svg")
    before = matplotlib.get_backend()
    import numpy as np, pandas as pd
    import allyscale as al
    from allyscale.report import figures
    from allyscale.report.document import figure_to_svg
    from allyscale.montecarlo.summary import StudySummary
    pool = al.load_pool("item_pools/allyship.yaml")
    data = al.simulate(pool, 150, seed=1)
    pa = al.parallel_analysis(data[pool.item_ids[:12]], seed=1, n_iter=5)
    figs = [figures.scree_plot(pa),
            figures.loadings_heatmap(pd.DataFrame([[.7, .1], [.2, .6]], index=["a", "b"], columns=["F1", "F2"]))]
    svg = figure_to_svg(figures.scree_plot(pa))
    summ = StudySummary.__new__(StudySummary)
    object.__setattr__(summ, "parameters", pd.DataFrame({"parameter": ["l1", "l1", "l2", "l2"], "n": [200, 400, 200, 400],
                                    "power": [.5, .9, .4, .8]}))
    object.__setattr__(summ, "models", pd.DataFrame({"model": ["m", "m"], "n": [200, 400], "reject_cfi": [.3, .1],
                                                     "reject_rmsea": [.2, .05]}))
    mc = summ.plots()
    figs += list(mc.values())
    import matplotlib.pyplot as plt
    png = figs[0]._repr_png_()
    print(before, matplotlib.get_backend(), len(figs), len(mc), svg.startswith("<svg"), png[:8] == b"\\x89PNG\\r\\n\\x1a\\n",
          plt.get_fignums() == [], all(isinstance(f, matplotlib.figure.Figure) for f in figs))
""")


def test_importing_allyscale_and_building_figures_leaves_the_backend_alone():
    from conftest import ROOT

    out = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    before, after, n_figs, n_mc, svg_ok, png_ok, no_pyplot, all_figures = out.stdout.split()
    assert before == "svg" and after == "svg"
    assert (n_figs, n_mc) == ("4", "2")
    assert svg_ok == png_ok == no_pyplot == all_figures == "True"


def test_report_module_does_not_import_pyplot():
    from conftest import ROOT

    code = (
        "import sys, allyscale.report.figures, allyscale.montecarlo.summary; print('matplotlib.pyplot' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_notebook_inline_plots_survive_and_allyscale_figures_display(tmp_path):
    """The issue's symptom: after allyscale's figures module is imported, inline plots vanished."""
    from conftest import ROOT
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "%matplotlib inline\nimport matplotlib.pyplot as plt\nimport allyscale as al\n"
            "from allyscale.report.figures import scree_plot, loadings_heatmap\n"
            "import pandas as pd"
        ),
        nbformat.v4.new_code_cell("loadings_heatmap(pd.DataFrame([[.7, .1], [.2, .6]], columns=['F1', 'F2']))"),
        nbformat.v4.new_code_cell("plt.plot([1, 2, 3]);"),
    ]
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()

    def images(cell):
        return [o for o in cell.outputs if "image/png" in o.get("data", {})]

    assert len(images(nb.cells[1])) == 1  # the returned allyscale figure is shown once
    assert len(images(nb.cells[2])) == 1  # and the user's own pyplot figure still appears


# ----------------------------------------------------------------------------- path diagram and report figures
def _estimates_100_items():
    """A parameter table shaped like the allyship pool's correlated model: 6 factors, 100 items."""
    import numpy as np
    import pandas as pd

    sizes = {"trust": 25, "action": 20, "awareness": 15, "knowledge": 15, "accountability": 15, "communication": 10}
    rows = []
    rng = np.random.default_rng(1)
    for f, k in sizes.items():
        for j in range(k):
            lam = rng.uniform(0.45, 0.85)
            rows.append((f, "=~", f"{f[:2]}_it{j + 1:02d}", lam, 0.05, lam))
            rows.append(
                (f"{f[:2]}_it{j + 1:02d}",) * 1 + ("~~", f"{f[:2]}_it{j + 1:02d}", 1 - lam**2, 0.05, 1 - lam**2)
            )
    names = list(sizes)
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            rows.append((names[a], "~~", names[b], 0.5, 0.03, 0.5))
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est", "se", "std_all"]), sizes


def test_path_diagram_of_100_items_is_legible_at_100_percent():
    """Every item label is drawn at >= 8 pt, i.e. >= 22 px high in the report's 200-dpi PNG (readable at 100%),
    inside its figure, and no two labels (items, loadings) overlap."""
    import io

    from PIL import Image

    from allyscale.report.diagram import LABEL_PT, path_diagram_parts
    from allyscale.report.document import Figure, figure_to_svg

    est, sizes = _estimates_100_items()
    parts = path_diagram_parts(est)
    assert 1 < len(parts) <= 4
    seen = []
    for fig in parts:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        ax = fig.axes[0]
        labels = [t for t in ax.texts if t.get_gid() == "item-label"]
        numbers = [t for t in ax.texts if t.get_gid() in ("loading", "correlation")]
        seen += [t.get_text() for t in labels]
        assert all(t.get_fontsize() >= 8.0 == LABEL_PT for t in labels)
        boxes = [t.get_window_extent(renderer) for t in labels + numbers]
        fw, fh = fig.bbox.width, fig.bbox.height
        for b in boxes:
            assert b.x0 >= 0 and b.y0 >= 0 and b.x1 <= fw and b.y1 <= fh
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                assert not boxes[i].overlaps(boxes[j]), (labels + numbers)[i].get_text()
        # the PNG the report embeds: 200 dpi, so an 8-pt label is 8 / 72 * 200 = 22 px high
        svg = figure_to_svg(fig)
        png = Figure("d", "d", svg).png
        with Image.open(io.BytesIO(png)) as im:
            dpi = im.info.get("dpi", (72, 72))[0]
            width_px = im.size[0]
        assert round(dpi) == 200
        assert width_px / 200 >= fig.get_size_inches()[0] * 0.9  # not shrunk
        assert LABEL_PT / 72 * dpi >= 20
    assert sorted(seen) == sorted(f"{f[:2]}_it{j + 1:02d}" for f, k in sizes.items() for j in range(k))  # all 100


def test_path_diagram_reads_second_order_and_bifactor_structure():
    import pandas as pd

    from allyscale.report.diagram import model_structure

    rows = [
        ("g", "=~", "f1", 1, 0.1, 0.7),
        ("g", "=~", "f2", 1, 0.1, 0.6),
        ("f1", "=~", "a", 1, 0.1, 0.8),
        ("f1", "=~", "b", 1, 0.1, 0.7),
        ("f2", "=~", "c", 1, 0.1, 0.6),
        ("f2", "=~", "d", 1, 0.1, 0.5),
        ("f1", "~~", "f1", 0.51, 0.1, 0.51),
    ]
    s = model_structure(pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est", "se", "std_all"]))
    assert s.higher == {"g": ["f1", "f2"]} and list(s.panels) == ["f1", "f2"] and s.residuals["f1"] == 0.51
    items = [f"i{k}" for k in range(9)]
    rows = [("G", "=~", i, 1, 0.1, 0.5) for i in items]
    rows += [(f"s{k // 3}", "=~", i, 1, 0.1, 0.4) for k, i in enumerate(items)]
    rows += [("G", "~~", "s0", 0, float("nan"), 0.0)]  # orthogonal: fixed, no arc
    s = model_structure(pd.DataFrame(rows, columns=["lhs", "op", "rhs", "est", "se", "std_all"]))
    assert s.general == ["G"] and list(s.panels) == ["s0", "s1", "s2"] and s.correlations == {}


def test_monte_carlo_legends_do_not_cover_the_lines():
    import pandas as pd

    from allyscale.report.figures import acceptance_curves, power_curves

    par = pd.DataFrame(
        [
            {"parameter": f"f =~ x{k}", "n": n, "power": min(1, 0.3 + n / 1000 + k / 50)}
            for k in range(10)
            for n in (200, 400, 800)
        ]
    )
    mod = pd.DataFrame(
        [
            {"model": m, "n": n, "reject_chisq": r, "reject_cfi": r / 2}
            for m, r in (("true", 0.05), ("misspecified", 0.7))
            for n in (200, 400, 800)
        ]
    )
    for fig in (power_curves(par), acceptance_curves(mod)):
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None]
        assert len(legends) == 1
        box = legends[0].get_window_extent(renderer)
        for ax in fig.axes:
            assert not box.overlaps(ax.get_window_extent(renderer))  # outside every panel, so off every line
            assert box.x1 <= fig.bbox.width
    big = pd.DataFrame([{"parameter": f"f =~ x{k}", "n": n, "power": 0.5} for k in range(40) for n in (200, 400)])
    labels = power_curves(big).axes[0].get_legend_handles_labels()[1]
    assert labels == ["loadings (40; median, range)"]
