"""Scoring of item responses with a pool: reverse keying and scale scores."""

from __future__ import annotations

import pandas as pd

from allyscale.errors import DataError
from allyscale.pool import ItemPool

__all__ = ["reverse_score", "scale_scores"]


def reverse_score(
    data: pd.DataFrame, pool: ItemPool, *, present_only: bool = False, suffixes: tuple[str, ...] = ("",)
) -> pd.DataFrame:
    """Return a copy with the pool's reverse-keyed items reversed (``min + max - x``).

    The one place allyscale reverse-scores. Columns that are not reverse-keyed items are
    returned unchanged; the caller's frame is never modified.

    Parameters
    ----------
    present_only : bool
        Reverse only the reverse-keyed items that are columns of ``data`` (an analysis of a
        subset of the pool); by default every reverse-keyed item must be present.
    suffixes : tuple of str
        Column-name suffixes of wide data (e.g. ``("_t1", "_t2")`` for two waves): item
        ``i`` is reversed in every column ``i + suffix``.

    Raises
    ------
    DataError
        A reverse-keyed item of the pool is missing from ``data`` (unless ``present_only``).
    """
    wanted = [item + sfx for item in pool.reverse_items for sfx in suffixes]
    missing = [c for c in wanted if c not in data.columns]
    if missing and not present_only:
        raise DataError(f"reverse-keyed item(s) missing from the data: {missing}")
    out = data.copy()
    done = [c for c in wanted if c in data.columns]
    for col in done:
        out[col] = pool.scale.reverse(out[col])
    out.attrs = dict(data.attrs)
    out.attrs["reverse_scored"] = done
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
