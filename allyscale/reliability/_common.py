"""Helpers shared by the reliability coefficients: item selection, SMCs, the alpha kernel, JSON values."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allyscale.errors import DataError, SpecificationError
from allyscale.results import jsonable
from allyscale.scoring import reverse_score

if TYPE_CHECKING:  # pragma: no cover
    from allyscale.pool import ItemPool


# --------------------------------------------------------------------------- helpers
def _jsonable(value: Any) -> Any:
    """JSON values with DataFrames as ``{row: {column: value}}`` (the shape of this module's ``to_dict``)."""
    return jsonable(value, frames="index")


def _select_items(data: pd.DataFrame, items: list[str] | None, pool: ItemPool | None) -> tuple[pd.DataFrame, list]:
    """Item columns (reverse-scored with a pool) as a float frame; the reversed items' names."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if items is None:
        items = list(pool.item_ids) if pool is not None else list(data.columns)
    items = list(items)
    missing = [i for i in items if i not in data.columns]
    if missing:
        raise DataError(f"item(s) {missing} are not columns of the data")
    if len(items) < 2:
        raise SpecificationError(f"a reliability coefficient needs at least two items, got {items}")
    x = data[items].copy()
    x.attrs = {}
    for col, dtype in zip(items, x.dtypes):  # the dtypes at once (column access copies metadata)
        if not pd.api.types.is_numeric_dtype(dtype):
            raise DataError(f"item {col!r} is not numeric (dtype {dtype})")
    x = x.astype(float)
    reversed_: list[str] = []
    if pool is not None:
        x = reverse_score(x, pool, present_only=True)
        reversed_ = list(x.attrs.pop("reverse_scored"))
    values = x[items].to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: NaN, constant below
        varies = (
            np.nanmax(values, axis=0) > np.nanmin(values, axis=0)
            if len(values)  # two or more values
            else np.zeros(len(items), dtype=bool)
        )
    if not varies.all():
        raise DataError(f"item {items[int(np.flatnonzero(~varies)[0])]!r} is constant; reliability is undefined")
    return x, reversed_


def smc(r: np.ndarray) -> np.ndarray:
    """Squared multiple correlations ``1 - 1 / diag(R^+)`` (pseudo-inverse), as ``psych::smc``."""
    inv = np.linalg.pinv(r)
    return 1.0 - 1.0 / np.diag(inv)


def _alpha_core(c: np.ndarray) -> dict[str, float]:
    """psych's ``alpha.1``: raw alpha, standardized alpha, G6(smc), average r, S/N, Q."""
    n = c.shape[0]
    d = np.sqrt(np.diag(c))
    r = c / np.outer(d, d)
    sum_c, tr_c, sum_r = c.sum(), np.trace(c), r.sum()
    raw = (1 - tr_c / sum_c) * n / (n - 1)
    std = (1 - n / sum_r) * n / (n - 1)
    g6 = 1 - (n - smc(r).sum()) / sum_r
    av_r = (sum_r - n) / (n * (n - 1))
    q = (2 * n**2 / ((n - 1) ** 2 * sum_c**3)) * (sum_c * (np.trace(c @ c) + tr_c**2) - 2 * tr_c * (c @ c).sum())
    off = r[~np.eye(n, dtype=bool)]
    return {
        "raw_alpha": raw,
        "std_alpha": std,
        "G6": g6,
        "average_r": av_r,
        "s_n": n * av_r / (1 - av_r),
        "Q": q,
        "var_r": float(np.var(off, ddof=1)) if off.size > 1 else np.nan,
        "median_r": float(np.median(off)),
    }
