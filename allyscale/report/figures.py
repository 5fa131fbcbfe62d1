"""Figures for reports and notebooks: matplotlib figures returned to the caller.

Every function returns a :class:`matplotlib.figure.Figure` (the notebook shows it; the
report embeds it as SVG through :func:`allyscale.report.document.figure_to_svg`).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["scree_plot", "loadings_heatmap"]


def scree_plot(parallel) -> "plt.Figure":
    """Observed eigenvalues against parallel-analysis references (a ``ParallelResult``)."""
    ev = parallel.eigenvalues
    k = min(len(ev), 20)
    fig, ax = plt.subplots(figsize=(6.5, 4))
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


def loadings_heatmap(loadings: pd.DataFrame, *, title: str = "Pattern matrix") -> "plt.Figure":
    """Heat map of a loading matrix (items × factors), values printed in cells."""
    p, k = loadings.shape
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * k, 1.0 + 0.22 * p))
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
