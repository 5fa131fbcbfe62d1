"""The estimator rule: which estimator allyscale uses when none is given, at every entry point.

One rule (:func:`default_estimator`) for ``cfa``, ``compare``, ``reliability``, validity, invariance, the report
and the command line; :mod:`allyscale.fitpolicy` re-exports it beside the fit-evaluation policy.

References
----------
Rhemtulla, M., Brosseau-Liard, P. E., & Savalei, V. (2012). When can categorical variables be treated as
continuous? *Psychological Methods, 17*, 354–373.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ORDINAL_MAX_CATEGORIES", "default_estimator", "estimator_note", "resolve_estimator"]

#: items with integer answers and at most this many distinct values are analysed as ordered
ORDINAL_MAX_CATEGORIES = 7


def default_estimator(data: pd.DataFrame, items: Sequence[str]) -> str:
    """The estimator allyscale uses when none is given, at every entry point.

    Items whose observed values are all integers with at most
    :data:`ORDINAL_MAX_CATEGORIES` (7) distinct values are ordered categorical: ``"WLSMV"``
    (DWLS on polychoric correlations; Rhemtulla, Brosseau-Liard & Savalei, 2012, show that
    with fewer than five categories ML is biased, and WLSMV stays accurate up to seven).
    Otherwise ``"ML"``.
    """
    arr = data.loc[:, list(items)].to_numpy(dtype=float)
    for j in range(arr.shape[1]):
        col = arr[:, j]
        col = col[~np.isnan(col)]
        if not col.size or not np.all(col == np.round(col)) or len(np.unique(col)) > ORDINAL_MAX_CATEGORIES:
            return "ML"
    return "WLSMV"


def estimator_note(estimator: str, chosen_by_rule: bool) -> str:
    """The sentence outputs print about the estimator."""
    if not chosen_by_rule:
        return f"estimator {estimator} (as requested)"
    if estimator == "WLSMV":
        return (
            "estimator WLSMV (allyscale's rule: items with integer answers and at most "
            f"{ORDINAL_MAX_CATEGORIES} categories are analysed as ordered)"
        )
    return (
        f"estimator ML (allyscale's rule: items with more than {ORDINAL_MAX_CATEGORIES} categories or "
        "non-integer values are analysed as continuous)"
    )


def resolve_estimator(estimator: str | None, data: pd.DataFrame | None, model: str | None, *, fit: Any = None) -> str:
    """``estimator`` as given, else the fitted model's, else :func:`default_estimator` on the model's items."""
    if estimator is not None:
        return str(estimator).upper()
    if fit is not None:
        return str(fit.estimator).upper()
    if data is None or model is None:
        return "ML"
    from allyscale.syntax import lavaanify, parse_model

    ov = [v for v in lavaanify(parse_model(model)).attrs["observed"] if v in data.columns]
    if not ov or any(not pd.api.types.is_numeric_dtype(data[v]) for v in ov):
        return "ML"
    return default_estimator(data, ov)
