"""Path diagrams of fitted factor models, drawn with matplotlib (no graphviz needed).

A diagram has a structural panel and one panel per first-order factor. The structural
panel shows the factors as ellipses: correlated factors joined by double-headed arcs
labelled with their standardized correlations (a heat map of the correlations when a
model has more than eight factors), second-order factors above the factors they load on
(arrows labelled with the standardized second-order loadings, the factors'
standardized disturbances beside them), and a bifactor model's general factor above
the group factors. Each factor panel shows the factor, its items as boxes and the
standardized loadings on the arrows; to the right of each item its loading on a general
(bifactor) factor, when there is one, and its standardized residual variance. Numbers
are lavaan's ``std.all`` (Rosseel, 2012), drawn as the report's tables write them.

The conventions are those of path diagrams since Wright (1921) and of semPlot (Epskamp,
2015): latent variables in ellipses, observed variables in rectangles, one-headed
arrows for loadings, two-headed arcs for covariances.

Item labels are drawn at :data:`LABEL_PT` points and never overlap (one row per item,
:data:`ROW_IN` inches apart), so a 100-item model is legible in the 200-dpi PNG at 100%:
one panel per factor, two panels a row, the panels spread over as many figures as a
page needs (:func:`path_diagram_parts`).

References
----------
Epskamp, S. (2015). semPlot: Unified visualizations of structural equation models.
*Structural Equation Modeling, 22*(3), 474-483.
Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. *Journal of
Statistical Software, 48*(2), 1-36.
Wright, S. (1921). Correlation and causation. *Journal of Agricultural Research, 20*, 557-585.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from matplotlib.patches import Ellipse, FancyArrowPatch, Rectangle

from allyscale.report.figures import AllyscaleFigure, new_figure

__all__ = ["path_diagram", "path_diagram_parts", "ModelStructure", "model_structure", "LABEL_PT", "ROW_IN"]

#: font size of item and factor labels (points)
LABEL_PT = 8.0
#: font size of the numbers on arrows (points)
NUMBER_PT = 7.0
#: vertical distance between two items of a panel (inches)
ROW_IN = 0.2
#: width of a factor panel (inches); two panels a row
PANEL_IN = 3.25
#: the structural panel's height (inches)
STRUCTURE_IN = 2.3
_MAX_ARCS = 8  # more factors than this: correlations as a heat map
_COLOR = "#1f3a5f"


def _num(value: float) -> str:
    """A standardized value as the report writes it: two decimals, no leading zero, minus sign."""
    if value is None or not np.isfinite(value):
        return ""
    text = f"{value:.2f}"
    text = text.replace("0.", ".", 1) if abs(value) < 1 else text
    return text.replace("-", "−")


@dataclass
class ModelStructure:
    """What a path diagram draws, read from a parameter table (lavaan's columns ``lhs, op, rhs, std_all``)."""

    panels: dict[str, list[str]]  # first-order (group) factor -> its items
    loadings: dict[tuple[str, str], float]  # (factor, item or factor) -> std_all
    higher: dict[str, list[str]] = field(default_factory=dict)  # second-order factor -> first-order factors
    general: list[str] = field(default_factory=list)  # bifactor general factors (load on items of many factors)
    correlations: dict[tuple[str, str], float] = field(default_factory=dict)  # latent pairs, std_all
    residuals: dict[str, float] = field(default_factory=dict)  # item or factor -> standardized (residual) variance

    @property
    def first_order(self) -> list[str]:
        return list(self.panels)


def model_structure(estimates: pd.DataFrame) -> ModelStructure:
    """Read factors, items, loadings, correlations and residual variances from a parameter table."""
    est = estimates
    for col in ("lhs", "op", "rhs", "std_all"):
        if col not in est.columns:
            raise ValueError(f"the parameter table has no {col!r} column (need lhs, op, rhs, std_all)")
    load = est[est["op"] == "=~"]
    latent = list(dict.fromkeys(load["lhs"]))
    lat = set(latent)
    loadings = {(a, b): float(v) for a, b, v in zip(load["lhs"], load["rhs"], load["std_all"])}
    items_of: dict[str, list[str]] = {}
    higher: dict[str, list[str]] = {}
    for a, b in zip(load["lhs"], load["rhs"]):
        (higher if b in lat else items_of).setdefault(a, []).append(b)
    factors_of: dict[str, list[str]] = {}
    for f, its in items_of.items():
        for i in its:
            factors_of.setdefault(i, []).append(f)
    general = []
    for f, its in items_of.items():
        others = {g for i in its for g in factors_of[i] if g != f}
        shared = sum(len(factors_of[i]) > 1 for i in its)
        if len(items_of) > 2 and len(others) >= 2 and shared >= 0.8 * len(its):
            general.append(f)
    panels = {f: its for f, its in items_of.items() if f not in general}
    lonely = [i for f in general for i in items_of[f] if all(g in general for g in factors_of[i])]
    if lonely:  # items measured by the general factor only get a panel of their own
        panels[general[0]] = list(dict.fromkeys(lonely))
    cov = est[est["op"] == "~~"]
    fixed_zero = (
        (cov["est"] == 0) & (cov["se"].isna() | (cov["se"] == 0))
        if {"est", "se"} <= set(cov.columns)
        else pd.Series(False, index=cov.index)
    )
    correlations = {
        (a, b): float(v)
        for a, b, v, z in zip(cov["lhs"], cov["rhs"], cov["std_all"], fixed_zero)
        if a != b and a in lat and b in lat and not z
    }  # orthogonal factors: no arc
    residuals = {a: float(v) for a, b, v in zip(cov["lhs"], cov["rhs"], cov["std_all"]) if a == b}
    return ModelStructure(
        panels=panels, loadings=loadings, higher=higher, general=general, correlations=correlations, residuals=residuals
    )


def _structure_of(model) -> ModelStructure:
    if isinstance(model, ModelStructure):
        return model
    est = getattr(model, "estimates", model)
    if not isinstance(est, pd.DataFrame):
        raise TypeError("path_diagram needs a fitted model (CFAResult), its estimates table or a ModelStructure")
    return model_structure(est)


def _panel_height(n_items: int) -> float:
    return 0.55 + ROW_IN * max(n_items, 3)


def _ellipse(
    ax, x: float, y: float, name: str, *, size: float = LABEL_PT, min_width: float = 0.7, max_width: float = 1.5
):
    """A latent variable; a long name in a narrow place gets a smaller font (down to 6 pt)."""
    need = 0.0125 * 0.62 * len(name)  # inches per point of font size (DejaVu Sans: .6 em a character)
    size = max(6.0, min(size, (max_width - 0.18) / max(need, 1e-9)))
    width = min(max_width, max(min_width, need * size + 0.22))
    ax.add_patch(Ellipse((x, y), width, 0.36, facecolor="white", edgecolor=_COLOR, lw=1.0, zorder=3))
    ax.text(x, y, name, ha="center", va="center", fontsize=size, zorder=4, gid="factor-label")
    return width


def _arrow(ax, start, end, *, style: str = "-|>", dashed: bool = False, rad: float = 0.0, color: str = _COLOR):
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=7,
            lw=0.7,
            color=color,
            linestyle="--" if dashed else "-",
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=0,
            shrinkB=0,
            zorder=2,
        )
    )


def _value_label(ax, x: float, y: float, text: str, *, size: float = NUMBER_PT, color: str = "black", gid=None):
    ax.text(
        x,
        y,
        text,
        ha="center",
        va="center",
        fontsize=size,
        color=color,
        zorder=5,
        gid=gid,
        bbox={"boxstyle": "square,pad=0.08", "facecolor": "white", "edgecolor": "none"},
    )


def _draw_panel(ax, s: ModelStructure, factor: str, x0: float, top: float, span: tuple[int, int] | None = None) -> None:
    """One factor (or the items ``span`` of it): ellipse on the left, its items in boxes on the right."""
    items = s.panels[factor] if span is None else s.panels[factor][span[0] : span[1]]
    n = len(items)
    rows_top = top - 0.45
    ys = [rows_top - ROW_IN * k for k in range(n)]
    fy = (ys[0] + ys[-1]) / 2
    fx = x0 + 0.55
    _ellipse(ax, fx, fy, factor, min_width=0.9, max_width=1.05)
    if span is not None:
        ax.text(
            fx,
            fy - 0.3,
            f"items {span[0] + 1}–{span[0] + n} of {len(s.panels[factor])}",
            ha="center",
            va="center",
            fontsize=NUMBER_PT,
            style="italic",
        )
    box_w = max(0.55, 0.0125 * LABEL_PT * 0.62 * max(len(i) for i in items) + 0.14)
    bx = x0 + 1.55
    general = [g for g in s.general if any((g, i) in s.loadings for i in items)]
    # the numbers in columns right of the boxes: loading, general-factor loading, residual variance
    lam_x = bx + box_w + 0.25
    gen_x = lam_x + 0.42
    res_x = (gen_x if general else lam_x) + 0.42
    head_y = top - 0.22
    ax.text(lam_x, head_y, "λ", ha="center", va="center", fontsize=NUMBER_PT, style="italic")
    if general:
        ax.text(gen_x, head_y, general[0], ha="center", va="center", fontsize=NUMBER_PT - 0.5, style="italic")
    if any(i in s.residuals for i in items):
        ax.text(res_x, head_y, "θ", ha="center", va="center", fontsize=NUMBER_PT, style="italic")
    start = (fx + 0.45, fy)
    for item, y in zip(items, ys):
        ax.add_patch(Rectangle((bx, y - 0.075), box_w, 0.15, facecolor="white", edgecolor=_COLOR, lw=0.7, zorder=3))
        ax.text(bx + box_w / 2, y, item, ha="center", va="center", fontsize=LABEL_PT, zorder=4, gid="item-label")
        _arrow(ax, start, (bx, y))
        _value_label(ax, lam_x, y, _num(s.loadings.get((factor, item), np.nan)), gid="loading")
        if general:
            _value_label(ax, gen_x, y, _num(s.loadings.get((general[0], item), np.nan)), color="#444444")
        if item in s.residuals:
            _value_label(ax, res_x, y, _num(s.residuals[item]), color="#666666")


def _draw_structure(ax, s: ModelStructure, width: float, top: float, height: float) -> None:
    """Factors in a row (rows of at most eight), second-order or general factors above them,
    correlations as arcs (or as a heat map when there are more than eight factors)."""
    first = [f for f in s.first_order if f not in s.general]
    upper = list(s.higher) + [g for g in s.general if g not in s.higher]
    base_y = top - height + 0.55 if upper else top - height + 0.45
    per_row = min(len(first), _MAX_ARCS) or 1
    step = width / per_row
    size = LABEL_PT if step >= 0.95 else 6.5
    pos: dict[str, tuple[float, float]] = {}
    n_rows = -(-len(first) // per_row)
    for k, f in enumerate(first):
        row, col = divmod(k, per_row)
        pos[f] = (step * (col + 0.5), base_y + 0.45 * (n_rows - 1 - row))  # first factors on top
        _ellipse(ax, *pos[f], f, size=size, min_width=min(0.9, step * 0.92), max_width=step * 0.94)
        if f in s.residuals and any(f in fs for fs in s.higher.values()):  # a disturbance
            _value_label(
                ax,
                pos[f][0] + min(0.5, step * 0.45),
                pos[f][1] - 0.26,
                "ζ " + _num(s.residuals[f]),
                color="#666666",
                size=NUMBER_PT - 0.5,
            )
    uy = top - 0.35
    for k, g in enumerate(upper):
        gx = width * (k + 1) / (len(upper) + 1)
        _ellipse(ax, gx, uy, g, min_width=1.1)
        if g in s.higher:
            for f in s.higher[g]:
                if f in pos:
                    fx, fy = pos[f]
                    _arrow(ax, (gx, uy - 0.18), (fx, fy + 0.18))
                    t = 0.55
                    _value_label(
                        ax,
                        gx + t * (fx - gx),
                        uy - 0.18 + t * (fy + 0.18 - uy + 0.18),
                        _num(s.loadings.get((g, f), np.nan)),
                    )
        else:  # a general factor: it loads on the items (in the panels)
            n_items = sum(1 for (a, _b) in s.loadings if a == g)
            ax.text(
                gx,
                uy - 0.32,
                f"loads on all {n_items} items (column {g} in the panels)",
                ha="center",
                va="center",
                fontsize=NUMBER_PT,
                style="italic",
            )
    pairs = [(a, b, r) for (a, b), r in s.correlations.items() if a in pos and b in pos]
    if len(first) <= _MAX_ARCS:
        order = {f: k for k, f in enumerate(first)}
        spans = [abs(order[a] - order[b]) for a, b, _ in pairs]
        room = (top - 0.1) - (base_y + 0.18) if not upper else 0.5  # how high the widest arc may rise
        sign = 1 if not upper else -1
        rad = 2 * room / (max(spans, default=1) * step)  # arcs rise in proportion to their span
        for a, b, r in pairs:
            i, j = sorted((order[a], order[b]))
            (xa, ya), xb = pos[first[i]], pos[first[j]][0]
            y0 = ya + sign * 0.18
            ax.add_patch(
                FancyArrowPatch(
                    (xa, y0),
                    (xb, y0),
                    arrowstyle="<|-|>",
                    mutation_scale=6,
                    lw=0.6,
                    color="#7a7a7a",
                    zorder=1,
                    shrinkA=0,
                    shrinkB=0,
                    connectionstyle=f"arc3,rad={-sign * rad:.4f}",
                )
            )
            _value_label(ax, (xa + xb) / 2, y0 + sign * rad * (xb - xa) / 2, _num(r), gid="correlation")
    elif pairs:  # many factors: arcs would hide each other
        ax.text(
            width / 2,
            base_y - 0.35,
            f"{len(pairs)} factor correlations: see the factor-correlation table",
            ha="center",
            va="center",
            fontsize=NUMBER_PT,
            style="italic",
        )


def _panel_spec(s: ModelStructure, spec) -> tuple[str, tuple[int, int] | None, int]:
    """(factor, item span or None, number of items) of a panel given as a factor or (factor, start, stop)."""
    if isinstance(spec, tuple):
        f, a, b = spec
        return f, (a, min(b, len(s.panels[f]))), min(b, len(s.panels[f])) - a
    return spec, None, len(s.panels[spec])


def _layout(s: ModelStructure, factors: list, structure: bool) -> tuple[float, list]:
    """Figure height and (factor, span, x0, top) of each panel: two panels a row, rows as tall as their
    longer panel."""
    y = STRUCTURE_IN if structure else 0.0
    placed = []
    for k in range(0, len(factors), 2):
        row = [_panel_spec(s, f) for f in factors[k : k + 2]]
        h = max(_panel_height(n) for _, _, n in row)
        for c, (f, span, _n) in enumerate(row):
            placed.append((f, span, c * PANEL_IN, -y))
        y += h
    return y, placed


def path_diagram(
    model, *, factors: list[str] | None = None, structure: bool = True, title: str = ""
) -> AllyscaleFigure:
    """A path diagram of a fitted factor model (standardized solution).

    Parameters
    ----------
    model : CFAResult, DataFrame or ModelStructure
        A fit (its ``estimates``), a parameter table with ``lhs, op, rhs, std_all``, or a
        :class:`ModelStructure`.
    factors : list, optional
        The factors whose panels to draw (default: every first-order factor); an entry
        ``(factor, start, stop)`` draws the items ``start:stop`` of a factor.
    structure : bool
        Draw the structural panel (factors, correlations, higher-order or general factors).
    title : str
        A title above the diagram.

    Returns
    -------
    AllyscaleFigure
        ``PANEL_IN * 2`` inches wide; item labels at :data:`LABEL_PT` points.
    """
    s = _structure_of(model)
    factors = list(s.panels) if factors is None else list(factors)
    unknown = [f for f in factors if (f[0] if isinstance(f, tuple) else f) not in s.panels]
    if unknown:
        raise ValueError(f"no factor panel for {unknown}; the model's first-order factors are {list(s.panels)}")
    height, placed = _layout(s, factors, structure)
    width = 2 * PANEL_IN
    extra = 0.35 if title else 0.0
    fig = new_figure(figsize=(width, height + extra + 0.1))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(-height - 0.1, extra)
    ax.set_axis_off()
    if title:
        ax.text(0.1, extra / 2, title, ha="left", va="center", fontsize=LABEL_PT + 1.5, weight="bold")
    if structure:
        _draw_structure(ax, s, width, 0.0, STRUCTURE_IN)
        ax.plot([0.1, width - 0.1], [-STRUCTURE_IN + 0.05] * 2, color="#cccccc", lw=0.6)
    for f, span, x0, top in placed:
        _draw_panel(ax, s, f, x0, top, span)
    fig.label_pt = LABEL_PT  # for legibility checks: the item labels' size
    return fig


def path_diagram_parts(model, *, max_height: float = 9.0, title: str = "") -> list[AllyscaleFigure]:
    """The path diagram spread over figures at most ``max_height`` inches tall (a page each).

    The first figure has the structural panel; the factor panels follow, two a row, in
    model order; a factor with more items than a page holds is drawn in several panels
    (items 1-41, 42-82, ...). Each figure is a :func:`path_diagram` of some of the panels.
    """
    s = _structure_of(model)
    structure = len(s.panels) > 1 or bool(s.higher) or bool(s.general)  # one factor alone: panels only
    per_panel = max(3, int((max_height - 0.65) / ROW_IN))
    factors: list = []
    for f, its in s.panels.items():
        if len(its) <= per_panel:
            factors.append(f)
        else:
            factors += [(f, a, a + per_panel) for a in range(0, len(its), per_panel)]
    parts: list[list] = []
    used = STRUCTURE_IN if structure else 0.0
    current: list = []
    for k in range(0, len(factors), 2):
        row = factors[k : k + 2]
        h = max(_panel_height(_panel_spec(s, f)[2]) for f in row)
        if current and used + h > max_height:
            parts.append(current)
            current, used = [], 0.0
        current += row
        used += h
    parts.append(current)
    return [
        path_diagram(s, factors=p, structure=structure and k == 0, title=title if k == 0 else "")
        for k, p in enumerate(parts)
    ]
