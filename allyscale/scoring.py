"""Scoring of item responses with a pool: reverse keying and scale scores."""

from __future__ import annotations

import pandas as pd

from allyscale.errors import DataError
from allyscale.pool import ItemPool

__all__ = ["reverse_score", "scale_scores"]


def reverse_score(data: pd.DataFrame, pool: ItemPool) -> pd.DataFrame:
    """Return a copy with the pool's reverse-keyed items reversed (``min + max - x``).

    Columns that are not reverse-keyed items are returned unchanged; the caller's frame
    is never modified.

    Raises
    ------
    DataError
        A reverse-keyed item of the pool is missing from ``data``.
    """
    missing = [i for i in pool.reverse_items if i not in data.columns]
    if missing:
        raise DataError(f"reverse-keyed item(s) missing from the data: {missing}")
    out = data.copy()
    for item in pool.reverse_items:
        out[item] = pool.scale.reverse(out[item])
    out.attrs = dict(data.attrs)
    out.attrs["reverse_scored"] = list(pool.reverse_items)
    return out


def scale_scores(scored: pd.DataFrame, pool: ItemPool, *, by: str = "factor") -> pd.DataFrame:
    """Mean of the (already reverse-scored) items of each factor or facet, plus the total.

    Means use the items a respondent answered (available-item mean).
    """
    groups = pool.factor_items() if by == "factor" else pool.facet_items()
    if not groups:
        raise DataError(f"the pool has no {by}s")
    cols = {g: scored[items].mean(axis=1) for g, items in groups.items()}
    cols["total"] = scored[pool.item_ids].mean(axis=1)
    return pd.DataFrame(cols)
