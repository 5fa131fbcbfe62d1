"""Figures for reports and notebooks: matplotlib figures returned to the caller.

Every figure is built with matplotlib's object API (:class:`matplotlib.figure.Figure`
and an Agg canvas of its own): nothing here touches pyplot's figure registry or the
active backend, so a notebook's own ``%matplotlib inline`` (or any other backend) keeps
working after allyscale is imported. The figures are :class:`AllyscaleFigure` objects,
ordinary matplotlib figures that also display themselves in Jupyter (``_repr_png_``);
the report embeds them as SVG through :func:`allyscale.report.document.figure_to_svg`.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["AllyscaleFigure", "new_figure", "scree_plot", "loadings_heatmap"]


class AllyscaleFigure(Figure):
    """A :class:`matplotlib.figure.Figure` that displays itself in Jupyter.

    A figure made with the object API is not registered with pyplot, so a notebook's
    inline backend does not show it at the end of a cell; ``_repr_png_`` lets IPython
    display it as the value of a cell (``scree_plot(pa)``, without a trailing ``;``).
    When IPython has a formatter registered for matplotlib figures (the inline backend
    is active), that formatter is used instead and the output is the same.
    """

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100, bbox_inches="tight")
        return buf.getvalue()


def new_figure(**kwargs: Any) -> AllyscaleFigure:
    """An :class:`AllyscaleFigure` with its own Agg canvas (no pyplot, no backend change)."""
    fig = AllyscaleFigure(**kwargs)
    FigureCanvasAgg(fig)
    return fig


def scree_plot(parallel) -> AllyscaleFigure:
    """Observed eigenvalues against parallel-analysis references (a ``ParallelResult``)."""
    ev = parallel.eigenvalues
    k = min(len(ev), 20)
    fig = new_figure(figsize=(6.5, 4))
    ax = fig.add_subplot()
    x = np.arange(1, k + 1)
    ax.plot(x, ev["pc_observed"].iloc[:k], "o-", color="#1f4e79", label="components (observed)")
    ax.plot(x, ev["fa_observed"].iloc[:k], "^-", color="#2e7d32", label="factors (observed)")
    ax.plot(x, ev["pc_simulated_q"].iloc[:k], "--", color="#1f4e79", alpha=0.6,
            label=f"components ({parallel.quantile:.0%} of simulated)")
    ax.plot(x, ev["fa_simulated_q"].iloc[:k], "--", color="#2e7d32", alpha=0.6,
            label=f"factors ({parallel.quantile:.0%} of simulated)")
    ax.axhline(1.0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("Number")
    ax.set_ylabel("Eigenvalue")
    ax.set_title(f"Scree and parallel analysis: {parallel.n_factors} factors, {parallel.n_components} components")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def loadings_heatmap(loadings: pd.DataFrame, *, title: str = "Pattern matrix") -> AllyscaleFigure:
    """Heat map of a loading matrix (items × factors), values printed in cells."""
    p, k = loadings.shape
    fig = new_figure(figsize=(1.2 + 0.9 * k, 1.0 + 0.22 * p))
    ax = fig.add_subplot()
    im = ax.imshow(loadings.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
    ax.set_xticks(range(k), [str(c) for c in loadings.columns], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(p), [str(i) for i in loadings.index], fontsize=7)
    if p * k <= 1500:
        for i in range(p):
            for j in range(k):
                v = loadings.iat[i, j]
                if abs(v) >= 0.2:
                    ax.text(j, i, f"{v:.2f}".replace("0.", "."), ha="center", va="center", fontsize=6,
                            color="white" if abs(v) > 0.6 else "black")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig
