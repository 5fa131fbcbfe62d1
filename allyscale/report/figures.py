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

__all__ = [
    "AllyscaleFigure",
    "new_figure",
    "scree_plot",
    "loadings_heatmap",
    "information_curves",
    "invariance_steps",
    "careless_screen",
    "power_curves",
    "acceptance_curves",
]


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
    ax.plot(
        x,
        ev["pc_simulated_q"].iloc[:k],
        "--",
        color="#1f4e79",
        alpha=0.6,
        label=f"components ({parallel.quantile:.0%} of simulated)",
    )
    ax.plot(
        x,
        ev["fa_simulated_q"].iloc[:k],
        "--",
        color="#2e7d32",
        alpha=0.6,
        label=f"factors ({parallel.quantile:.0%} of simulated)",
    )
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
                    ax.text(
                        j,
                        i,
                        f"{v:.2f}".replace("0.", "."),
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if abs(v) > 0.6 else "black",
                    )
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


_PALETTE = [
    "#1f4e79",
    "#c0504d",
    "#2e7d32",
    "#8064a2",
    "#f79646",
    "#4bacc6",
    "#7f6000",
    "#d4477d",
    "#5a5a5a",
    "#9bbb59",
    "#2c4d75",
    "#b65708",
]


def information_curves(irt_result, theta=None, *, ncols: int = 2) -> AllyscaleFigure:
    """Item information curves (thin lines) and the test information (thick) of each factor.

    One panel per factor of an :class:`allyscale.irt.IRTResult` (``al.irt(fit)`` of an
    ordinal WLSMV fit): the Fisher information of each graded item (Samejima, 1969) and their
    sum, the factor's test information, on the same axis; the right axis gives the conditional
    standard error ``1 / sqrt(I(θ))`` of the test-information curve. The most informative
    item of each factor is named at its peak.
    """
    info = irt_result.information(theta)
    factors = list(irt_result.factors)
    ncols = max(1, min(ncols, len(factors)))
    nrows = int(np.ceil(len(factors) / ncols))
    fig = new_figure(figsize=(3.4 * ncols, 2.6 * nrows + 0.3))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    th = info.index.to_numpy(dtype=float)
    for ax, f in zip(axes, factors):
        items = list(irt_result.factors[f])
        for item in items:
            ax.plot(th, info[item], lw=0.6, color="#7f9fbf", alpha=0.8)
        test = info[f].to_numpy(dtype=float)
        ax.plot(th, test, lw=2.0, color="black")
        if items:
            best = max(items, key=lambda i: float(info[i].max()))
            k = int(np.argmax(info[best].to_numpy()))
            ax.annotate(
                best,
                (th[k], float(info[best].iloc[k])),
                fontsize=6.5,
                xytext=(3, 3),
                textcoords="offset points",
                color="#1f4e79",
            )
        ax.set_title(f"{f} ({len(items)} items)", fontsize=9)
        ax.set_xlabel("θ", fontsize=8)
        ax.set_ylabel("information", fontsize=8)
        ax.set_ylim(bottom=0)
        ax.tick_params(labelsize=7)
        peak = float(np.nanmax(test)) if len(test) else 1.0
        se_ticks = [s for s in (0.2, 0.3, 0.5, 1.0) if 1 / s**2 <= peak * 1.05]
        sec = ax.secondary_yaxis(
            "right", functions=(lambda v: 1 / np.sqrt(np.maximum(v, 1e-12)), lambda s_: 1 / np.maximum(s_, 1e-12) ** 2)
        )
        sec.set_yticks(se_ticks)
        sec.set_ylabel("SE(θ) of the test", fontsize=7)
        sec.tick_params(labelsize=7)
    for ax in axes[len(factors) :]:
        ax.set_visible(False)
    from matplotlib.lines import Line2D

    fig.legend(
        [Line2D([], [], color="#7f9fbf", lw=0.8), Line2D([], [], color="black", lw=2.0)],
        ["item information", "test information (sum)"],
        loc="upper center",
        ncol=2,
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, 1.0),
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / (2.6 * nrows + 0.3)))
    return fig


def invariance_steps(table: pd.DataFrame, *, title: str = "") -> AllyscaleFigure:
    """Change in fit at each step of an invariance sequence, with the reference cutoffs.

    ``table`` is an invariance table (``InvarianceResult.table``: one row per level, columns
    ``delta_cfi``, ``delta_rmsea``, ``delta_pvalue``, ``decision``). Two panels: ΔCFI with
    the −.01 reference (Cheung & Rensvold, 2002) and ΔRMSEA with the .015 reference (Chen,
    2007); each step's point is marked by its decision (filled: held, open: did not), and the
    scaled difference test's p value is written below the step.
    """
    steps = table.dropna(subset=[c for c in ("delta_cfi", "delta_rmsea") if c in table.columns], how="all")
    levels = [str(i) for i in steps.index]
    x = np.arange(len(levels))
    fig = new_figure(figsize=(6.5, 3.0))
    axes = fig.subplots(1, 2)
    decision = steps["decision"].astype(str) if "decision" in steps else pd.Series("", index=steps.index)
    held = (
        decision.str.contains("support|hold|partial", case=False).to_numpy()
        & ~decision.str.contains("not ", case=False).to_numpy()
    )
    for ax, col, ref, label in ((axes[0], "delta_cfi", -0.01, "ΔCFI"), (axes[1], "delta_rmsea", 0.015, "ΔRMSEA")):
        if col not in steps:
            ax.set_visible(False)
            continue
        y = steps[col].to_numpy(dtype=float)
        ax.axhline(0, color="#999999", lw=0.6)
        ax.axhline(ref, color="#c0504d", lw=0.9, ls="--")
        ax.text(
            1.0,
            ref,
            f" {ref:+.3f}".replace("0.", "."),
            transform=ax.get_yaxis_transform(),
            fontsize=7,
            color="#c0504d",
            va="center",
            ha="left",
            clip_on=False,
        )
        ax.plot(x, y, color="#1f4e79", lw=0.8)
        ax.scatter(x[held], y[held], color="#1f4e79", zorder=3, s=22, label="held")
        ax.scatter(x[~held], y[~held], facecolor="white", edgecolor="#1f4e79", zorder=3, s=22, label="did not hold")
        ax.set_xticks(x, levels, fontsize=7, rotation=20, ha="right")
        ax.set_xlim(-0.5, len(levels) - 0.5)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        span = max(abs(ref) * 1.6, float(np.nanmax(np.abs(y))) * 1.25 if np.isfinite(y).any() else 0.0)
        ax.set_ylim(-span, span)
        if "delta_pvalue" in steps:
            for xi, p in zip(x, steps["delta_pvalue"].to_numpy(dtype=float)):
                if np.isfinite(p):
                    ax.annotate(
                        "p <.001" if p < 0.001 else f"p {p:.3f}".replace("0.", "."),
                        (xi, -span),
                        xytext=(0, 3),
                        textcoords="offset points",
                        fontsize=6,
                        ha="center",
                        color="#555555",
                    )
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=9, y=0.91)
    fig.tight_layout(rect=(0, 0, 0.97, 0.9))
    return fig


def careless_screen(screen_result) -> AllyscaleFigure:
    """The careless-responding screen: each index's distribution with its cutoff and the flagged respondents.

    Four panels for an :class:`allyscale.quality.ScreenResult`: the longest string of identical
    answers (Johnson, 2005) with the cutoff at the screen's share of the items; the
    intra-individual response variability (Dunn et al., 2018); the squared Mahalanobis distance
    against its exact in-sample reference quantiles (Meade & Craig, 2012) with the α cutoff;
    the even-odd consistency correlation (Curran, 2016). Respondents flagged by any rule are
    drawn in red.
    """
    persons = screen_result.persons
    settings = screen_result.diagnostics.get("settings", {})
    flagged = persons["flags"].astype(str).str.len() > 0
    fig = new_figure(figsize=(6.5, 4.6))
    axes = fig.subplots(2, 2).ravel()
    red, blue = "#c0504d", "#7f9fbf"

    def hist(ax, values, title, xlabel, cutoff=None):
        v = pd.to_numeric(values, errors="coerce")
        if not v.notna().any():
            ax.text(
                0.5,
                0.5,
                "not computed for these data",
                ha="center",
                va="center",
                fontsize=7,
                transform=ax.transAxes,
                style="italic",
            )
            ax.set_title(title, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            return
        ok = v[~flagged].dropna()
        bad = v[flagged].dropna()
        bins = np.histogram_bin_edges(v.dropna(), bins=30) if v.notna().any() else 10
        ax.hist([ok, bad], bins=bins, stacked=True, color=[blue, red], label=["not flagged", "flagged"])
        if cutoff is not None and np.isfinite(cutoff):
            ax.axvline(cutoff, color=red, ls="--", lw=0.9)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel(xlabel, fontsize=7)
        ax.set_ylabel("respondents", fontsize=7)
        ax.tick_params(labelsize=7)

    n_items = len(screen_result.items)
    share = settings.get("longstring_share")
    hist(
        axes[0],
        persons["longstring"],
        "Longstring (Johnson, 2005)",
        "longest run of one answer",
        share * n_items if share else None,
    )
    hist(axes[1], persons["irv"], "Response variability (Dunn et al., 2018)", "IRV (SD of a person's answers)")
    d2 = pd.to_numeric(persons["d2"], errors="coerce")
    p = pd.to_numeric(persons["d2_p"], errors="coerce")
    ax = axes[2]
    ok = d2.notna() & p.notna()
    if ok.any():
        order = np.argsort(-p[ok].to_numpy())  # smallest p = largest distance last
        ax.scatter(
            np.arange(ok.sum()), d2[ok].to_numpy()[order], s=5, c=np.where(flagged[ok].to_numpy()[order], red, blue)
        )
        alpha = settings.get("alpha")
        if alpha:
            sig = d2[ok][p[ok] < alpha]
            if len(sig):
                ax.axhline(float(sig.min()), color=red, ls="--", lw=0.9)
    ax.set_title(f"Mahalanobis distance (Meade & Craig, 2012; p < {settings.get('alpha', 0.001):g})", fontsize=8)
    ax.set_xlabel("respondents ordered by distance", fontsize=7)
    ax.set_ylabel("D²", fontsize=7)
    ax.tick_params(labelsize=7)
    hist(axes[3], persons["even_odd_r"], "Even-odd consistency (Curran, 2016)", "odd-even half correlation")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, fontsize=7, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return fig


def _outside_legend(ax, fig, n: int) -> None:
    """A legend right of the axes, never over the lines."""
    if n:
        ax.legend(
            loc="upper left",
            bbox_to_anchor=(1.02, 1.0),
            borderaxespad=0,
            fontsize=7,
            frameon=False,
            ncol=1 if n <= 14 else 2,
        )


def power_curves(parameters: pd.DataFrame, *, target: float = 0.8, max_labels: int = 24) -> AllyscaleFigure:
    """Power by sample size, one line per parameter, the legend outside the axes (Muthén & Muthén, 2002).

    ``parameters`` has columns ``parameter``, ``n`` and ``power`` (a Monte Carlo study's
    parameter table, ``StudySummary.parameters``). With more than ``max_labels``
    parameters, the lines are grouped by parameter type (the operator in ``lhs op rhs``)
    and the band between the lowest and the highest power of each type is drawn.
    """
    fig = new_figure(figsize=(6.5, 3.6))
    ax = fig.add_subplot()
    groups = list(parameters.groupby("parameter", sort=False))
    if len(groups) <= max_labels:
        for k, (label, g) in enumerate(groups):
            g = g.groupby("n")["power"].mean()
            ax.plot(
                g.index,
                g.to_numpy(),
                marker="o",
                ms=3,
                lw=1,
                color=_PALETTE[k % len(_PALETTE)],
                ls=("-", "--", ":")[(k // len(_PALETTE)) % 3],
                label=str(label),
            )
    else:
        kind = (
            parameters["op"].astype(str)
            if "op" in parameters
            else parameters["parameter"].astype(str).str.extract(r"(=~|~~|~1|~|\|)", expand=False).fillna("other")
        )
        names = {"=~": "loadings", "~~": "(co)variances", "~1": "means", "~": "regressions", "|": "thresholds"}
        for k, (key, g) in enumerate(parameters.assign(kind=kind).groupby("kind", sort=False)):
            by = g.groupby("n")["power"]
            lo, hi, mid = by.min(), by.max(), by.median()
            color = _PALETTE[k % len(_PALETTE)]
            ax.fill_between(lo.index, lo.to_numpy(), hi.to_numpy(), color=color, alpha=0.2)
            ax.plot(
                mid.index,
                mid.to_numpy(),
                marker="o",
                ms=3,
                color=color,
                label=f"{names.get(key, key)} ({g['parameter'].nunique()}; median, range)",
            )
    ax.axhline(target, color="black", ls="--", lw=0.8)
    ax.set(xlabel="N", ylabel="power (p < .05)", ylim=(0, 1.02), title="Power by sample size")
    _outside_legend(ax, fig, len(ax.get_legend_handles_labels()[0]))
    fig.tight_layout()
    return fig


def acceptance_curves(models: pd.DataFrame) -> AllyscaleFigure:
    """Proportion of converged fits accepted (not rejected) by each criterion over N, per model.

    ``models`` has columns ``model``, ``n`` and ``reject_<criterion>`` (``StudySummary.models``):
    one panel per criterion, one line per model, the legend outside the panels.
    """
    cols = [c for c in models.columns if c.startswith("reject_")]
    fig = new_figure(figsize=(min(2.4 * max(len(cols), 1) + 1.8, 9.0), 3.2))
    axes = fig.subplots(1, max(len(cols), 1), sharey=True, squeeze=False)[0]
    for ax, col in zip(axes, cols):
        for k, (model, g) in enumerate(models.groupby("model", sort=False)):
            g = g.groupby("n")[col].mean()
            ax.plot(g.index, 1 - g.to_numpy(), marker="o", ms=3, color=_PALETTE[k % len(_PALETTE)], label=str(model))
        ax.set(xlabel="N", ylim=(-0.02, 1.02))
        ax.set_title(col.replace("reject_", "accepted by "), fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("proportion accepted")
    _outside_legend(axes[-1], fig, len(axes[-1].get_legend_handles_labels()[0]))
    fig.tight_layout()
    return fig
