"""The paired self-informant design: paired column names, sparse categories, scaled WLSMV fits.

The pairs themselves are simulated by :func:`allyscale.simulate_pairs` (in :mod:`allyscale.simulate`, re-exported
here with :func:`paired_columns` and :data:`FORMS`).

In Hinger et al.'s (2023) model allyship is conferred by people of color, not claimed: a
study of the measure collects *pairs*, the same White target rated by themself (self-report
form) and by one or more people of color who know them (informant form). The same item is
then answered twice about one person, so the two forms' answers are not independent groups
but repeated measures of one target, and their analysis is a single-group model with both
forms' items (as longitudinal invariance; :func:`allyscale.invariance` with ``pairs=``).

Data layout
-----------
*Wide* (one informant): one row per target, a ``target`` id column and every item under
both forms, ``<item><sep><form>`` (``tr_emp1_self``, ``tr_emp1_informant``).
*Long* (several informants): one row per target-informant pair, ``target`` and
``informant`` (1..K) columns, the target's self-report repeated on each of its rows.
Analyses of long data treat targets as clusters (cluster-robust standard errors, as
lavaan's ``cluster =``; :func:`allyscale.mtmm`).

References
----------
Hinger, C. L., et al. (2023). Defining racial allies. Journal of Counseling Psychology, 70, 631-644.
Eid, M., Lischetzke, T., Nussbeck, F. W., & Trierweiler, L. I. (2003). Separating trait effects
from trait-specific method effects in multitrait-multimethod models. Psychological Methods, 8, 38-60.
Kenny, D. A., Kashy, D. A., & Cook, W. L. (2006). Dyadic data analysis. Guilford.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allyscale.errors import DataError, SpecificationError
from allyscale.results import Result, Summary, jsonable
from allyscale.simulate import FORMS, paired_columns, simulate_pairs  # the paired design is simulated there

__all__ = ["simulate_pairs", "paired_columns", "collapse_categories", "CollapseResult", "fit_wlsmv_scaled", "FORMS"]


# ------------------------------------------------------------------------- sparse categories
@dataclass(frozen=True)
class CollapseResult(Result):
    """Collapsed data and what was merged.

    Attributes
    ----------
    data : DataFrame
        A copy of the data with the item columns recoded (other columns untouched).
    table : DataFrame
        One row per merged category: ``item, from, to, count`` (``count``: the smallest
        count of ``from`` in any group or form) and ``groups`` (where it was sparse).
    diagnostics : dict
        ``min_count``, ``items_changed``.
    """

    data: pd.DataFrame = field(repr=False)
    table: pd.DataFrame
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> Summary:
        """What was merged: one row per merged category."""
        out = Summary("Sparse categories")
        if self.table.empty:
            return out.text(
                f"No category was collapsed (every category has at least {self.diagnostics['min_count']} answers)."
            )
        out.text(
            f"Collapsed {len(self.table)} sparse categor{'y' if len(self.table) == 1 else 'ies'} of "
            f"{self.diagnostics['items_changed']} item(s) (minimum count {self.diagnostics['min_count']})."
        )
        return out.table(self.table, title="Merged categories", index=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per merged category: ``item, from, to, count, groups``."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        return jsonable({"table": self.table, "diagnostics": self.diagnostics})


def collapse_categories(
    data: pd.DataFrame,
    *,
    items: Sequence[str] | None = None,
    group: str | None = None,
    pairs: Sequence[str] | None = None,
    sep: str = "_",
    min_count: int = 1,
) -> CollapseResult:
    """Merge sparse response categories so that every group (or form) observes the same ones.

    Ordered-item invariance compares thresholds, which exist only between categories that
    are observed in every group; lavaan refuses items whose categories differ. This merges,
    per item, every category that has fewer than ``min_count`` answers in some group (or in
    one of the two forms of a paired item) into its neighbour towards the middle of the
    scale (the lowest into the next higher, the highest into the next lower; an inner
    category into the adjacent one with more answers), repeating until no sparse category
    is left. The same recoding is applied in every group and to both forms of an item, so
    the recoded item means the same thing everywhere. Nothing is done silently: the result
    holds the table of merges, and analyses record it.

    Parameters
    ----------
    data : DataFrame
    items : sequence of str, optional
        Item columns (paired data: base item ids); default every numeric column with at
        most 11 distinct answers except ``group`` (paired data: every
        ``<item><sep><form>`` pair found).
    group : str, optional
        Group column: categories must be observed in every group.
    pairs : (str, str), optional
        Form names of paired data (``<item><sep><form>`` columns): the two columns of an
        item are recoded alike.
    sep : str
    min_count : int
        Smallest acceptable count of a category in every group/form (default 1: just
        observed).

    Returns
    -------
    CollapseResult

    Raises
    ------
    DataError
        Columns not in the data, non-integer answers, an item left with a single category.
    SpecificationError
        ``min_count`` below 1, both ``group`` and ``pairs``.

    References
    ----------
    Rutkowski, L., Svetina, D., & Liaw, Y.-L. (2019). Collapsing categorical variables and
    measurement invariance. Structural Equation Modeling, 26, 790-802.
    """
    if not isinstance(min_count, (int, np.integer)) or min_count < 1:
        raise SpecificationError(f"min_count must be a positive integer, got {min_count!r}")
    if group is not None and pairs is not None:
        raise SpecificationError("give group or pairs, not both")
    if group is not None and group not in data.columns:
        raise DataError(f"group column {group!r} is not in the data")
    if pairs is not None:
        forms = tuple(pairs)
        if items is None:
            suffix = f"{sep}{forms[0]}"
            items = [
                c[: -len(suffix)]
                for c in data.columns
                if c.endswith(suffix) and f"{c[: -len(suffix)]}{sep}{forms[1]}" in data.columns
            ]
        cols = paired_columns(data, items, forms, sep)
        units = {i: [(c, None) for c in cs] for i, cs in cols.items()}
    else:
        if items is None:  # Likert-like columns: numeric, at most 11 distinct answers (not an id or a score)
            items = [
                c
                for c in data.columns
                if c != group and pd.api.types.is_numeric_dtype(data[c]) and data[c].dropna().nunique() <= 11
            ]
        absent = [i for i in items if i not in data.columns]
        if absent:
            raise DataError(f"item column(s) not in the data: {', '.join(absent)}")
        labels = list(pd.unique(data[group].dropna())) if group is not None else [None]
        units = {i: [(i, lab) for lab in labels] for i in items}
    out = data.copy()
    out.attrs = {}
    rows = []
    changed = set()
    for item, parts in units.items():
        cols_used = sorted({c for c, _ in parts})
        for c in cols_used:
            v = pd.to_numeric(out[c], errors="coerce")
            bad = (v.isna() & out[c].notna()) | (v.notna() & (v != np.round(v)))
            if bad.any():
                where = bad.index[bad.to_numpy()][0]
                raise DataError(
                    f"item {c!r} has a non-integer answer {out[c][where]!r} in row {where!r}; categories "
                    "can only be collapsed for ordered integer answers"
                )
        while True:
            counts = []
            for c, lab in parts:
                col = pd.to_numeric(out[c], errors="coerce")
                if lab is not None:
                    col = col[out[group] == lab]
                counts.append(col.value_counts())
            cats = sorted(set().union(*[set(ct.index) for ct in counts]))
            if len(cats) < 2:
                raise DataError(f"item {item!r} has fewer than two categories left after collapsing")
            table = pd.DataFrame({k: ct.reindex(cats, fill_value=0) for k, ct in enumerate(counts)})
            low = table.min(axis=1)
            sparse = [c for c in cats if low[c] < min_count]
            if not sparse:
                break
            # the sparsest category first (ties: the most extreme)
            cat = min(sparse, key=lambda c: (low[c], -abs(cats.index(c) - (len(cats) - 1) / 2)))
            pos = cats.index(cat)
            if len(cats) == 2:
                raise DataError(
                    f"item {item!r}: category {cat:g} has fewer than {min_count} answers in some "
                    "group/form and merging it would leave a single category"
                )
            if pos == 0:
                to = cats[1]
            elif pos == len(cats) - 1:
                to = cats[-2]
            else:
                below, above = cats[pos - 1], cats[pos + 1]
                to = below if table.sum(axis=1)[below] >= table.sum(axis=1)[above] else above
            where = [
                str(lab) if lab is not None else c for (c, lab), n_ in zip(parts, table.loc[cat]) if n_ < min_count
            ]
            for c in cols_used:
                col = pd.to_numeric(out[c], errors="coerce")
                out[c] = col.where(col != cat, to).astype(out[c].dtype if out[c].dtype.kind in "iuf" else float)
            rows.append({"item": item, "from": cat, "to": to, "count": int(low[cat]), "groups": ", ".join(where)})
            changed.add(item)
    table = pd.DataFrame(rows, columns=["item", "from", "to", "count", "groups"])
    return CollapseResult(out, table, {"min_count": int(min_count), "items_changed": len(changed)})


# ------------------------------------------------------------------------- WLSMV with scale factors
def fit_wlsmv_scaled(data: pd.DataFrame, syntax: str, *, free_scales: Sequence[str] = ()):
    """Single-group WLSMV (delta parameterization) with free latent-response scale factors.

    The paired ordinal invariance models (both forms' items in one group) need what lavaan's
    ``~*~`` operator gives: with thresholds equal across forms, the informant items'
    intercepts and scale factors are free (Wu & Estabrook, 2016). ``syntax`` is lavaan syntax
    with every threshold written out (``x | a*t1 + b*t2``) and the intercepts, latent means
    and variances explicit; ``free_scales`` names the items whose scale factor
    ``x ~*~ x`` is free (1 for the others). Identification: ``std.lv`` (factor variances 1
    unless freed in the syntax).

    The implied statistics are lavaan's for the delta parameterization: thresholds
    ``delta_j (tau_jk - nu_j - (Lambda alpha)_j)`` and polychoric correlations
    ``delta_i delta_j (Lambda Phi Lambda' + Theta)_ij`` with residual variances
    ``1 / delta_j^2 - (Lambda Phi Lambda')_jj``. The parameter table (with the ``~*~`` rows)
    is estimated by the WLSMV engine's general (several-group) estimator with one group:
    DWLS, the robust covariance, the scaled-shifted test (lavaan 0.6.14: ``N - 1``). The
    robust (catML) CFI/TLI/RMSEA are NaN when a scale factor is free, as lavaan's, and the
    reason is recorded in ``diagnostics``.

    Returns
    -------
    CFAResult
        As :func:`allyscale.cfa` with ``estimator="WLSMV"``; its estimates include the
        ``~*~`` rows. :func:`allyscale.cfa`'s ``difference_test`` accepts it.

    Raises
    ------
    DataError, SpecificationError
        As :func:`allyscale.cfa`; a scale factor for an item not in the model; categories
        the syntax's thresholds do not match.
    """
    from dataclasses import replace

    from allyscale._core import wlsmv as _w
    from allyscale.cfa import _build, _prepare
    from allyscale.sem import append_rows, ordinal_model_of
    from allyscale.syntax import model_variables, parse_model

    ov0, lv0 = model_variables(parse_model(syntax))
    items = [v for v in ov0 if v not in lv0]
    prep = _prepare(
        data,
        syntax,
        estimator="WLSMV",
        group=None,
        group_equal=None,
        missing="listwise",
        ordered=items,
        std_lv=True,
        meanstructure=True,
    )
    ov, lv = prep.ov, prep.lv
    bad = [v for v in free_scales if v not in ov]
    if bad:
        raise SpecificationError(f"scale factors for item(s) not in the model: {bad}")
    pt = prep.partable.copy()
    nxt = int(pt["free"].max())
    rows = []
    for v in ov:
        free = v in free_scales
        if free:
            nxt += 1
        rows.append(
            {
                "lhs": v,
                "op": "~*~",
                "rhs": v,
                "user": 0,
                "group": 1,
                "free": nxt if free else 0,
                "ustart": np.nan if free else 1.0,
                "label": "",
                "kind": "scale",
            }
        )
    pt = append_rows(pt, rows)
    pt.attrs.update(prep.partable.attrs)
    # threshold rows in the order of the sample statistics (item order, t1, t2, ...)
    op, lhs, rhs = pt["op"].to_numpy(), pt["lhs"].to_numpy(), pt["rhs"].to_numpy()
    th = np.flatnonzero(op == "|")
    order = sorted(th, key=lambda r: (ov.index(lhs[r]), int(rhs[r][1:])))
    idx = np.arange(len(pt))
    idx[th] = order
    pt = pt.iloc[idx].reset_index(drop=True)
    pt.attrs.update(prep.partable.attrs)
    pt["id"] = np.arange(1, len(pt) + 1)
    pt["plabel"] = [f".p{i}." for i in pt["id"]]
    y = prep.y[0]
    stats = prep.wls_stats[0] if getattr(prep, "wls_stats", None) else _w.sample_statistics(y)
    op, lhs, rhs = pt["op"].to_numpy(), pt["lhs"].to_numpy(), pt["rhs"].to_numpy()
    th = np.flatnonzero(op == "|")
    for j, v in enumerate(ov):
        have = [int(r[1:]) for r in rhs[th][lhs[th] == v]]
        want = list(range(1, int(stats["n_cat"][j])))
        if have != want:
            raise DataError(
                f"item {v!r} has {int(stats['n_cat'][j])} observed categories but the model gives "
                f"thresholds {have}; collapse categories (allyscale.collapse_categories)"
            )
    om = ordinal_model_of(pt, ov, lv)
    spec = om.spec
    # thresholds, intercepts, means and scale factors enter the implied statistics (not separable)
    est = _w.estimate([y], [stats], om)
    est.diagnostics["scale_factors_free"] = list(free_scales)
    est.prepared = replace(prep, partable=pt, spec=spec, ordered=list(ov), meanstructure=True)
    return _build(prep, est)
