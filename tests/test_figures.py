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

    code = "import sys, allyscale.report.figures, allyscale.montecarlo.summary; print('matplotlib.pyplot' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_notebook_inline_plots_survive_and_allyscale_figures_display(tmp_path):
    """The issue's symptom: after allyscale's figures module is imported, inline plots vanished."""
    from nbclient import NotebookClient

    from conftest import ROOT

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%matplotlib inline\nimport matplotlib.pyplot as plt\nimport allyscale as al\n"
                                  "from allyscale.report.figures import scree_plot, loadings_heatmap\n"
                                  "import pandas as pd"),
        nbformat.v4.new_code_cell("loadings_heatmap(pd.DataFrame([[.7, .1], [.2, .6]], columns=['F1', 'F2']))"),
        nbformat.v4.new_code_cell("plt.plot([1, 2, 3]);"),
    ]
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()

    def images(cell):
        return [o for o in cell.outputs if "image/png" in o.get("data", {})]

    assert len(images(nb.cells[1])) == 1  # the returned allyscale figure is shown once
    assert len(images(nb.cells[2])) == 1  # and the user's own pyplot figure still appears
