"""The decisions of one replication, by the fit-evaluation policy (:mod:`allyscale.fitpolicy`).

The Monte Carlo summary and the calibration study (``studies/calibrate_verdicts.py``) judge
each replication with these functions, so a study's acceptance and model-choice rates are
the error rates of exactly the verdicts that ``validate`` and ``compare`` print.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from allyscale.fitpolicy import DEFAULT_POLICY, FitPolicy, choose_structure, evaluate_measures, test_statistic

__all__ = ["replication_decisions"]


def _num(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _flag(x: Any, *, default: bool) -> bool:
    """A stored boolean (bool, numpy bool, None or NaN from a table) as a bool."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return default
    return bool(x)


def replication_decisions(
    fits: Mapping[str, Mapping[str, Any]],
    tests: Iterable[Mapping[str, Any]],
    *,
    estimator: str,
    policy: FitPolicy | None = None,
) -> dict[str, Any]:
    """Verdict per model and the preferred structure of one replication.

    Parameters
    ----------
    fits : mapping model → dict
        ``measures`` (lavaan fit measures; or the measures at the top level, as in an exported
        row), ``converged`` and ``proper`` (admissible solution).
    tests : iterable of dict
        Difference tests of the nested pairs (``model0`` nested in ``model1``, ``pvalue``).
    estimator : str
    policy : FitPolicy, optional

    Returns
    -------
    dict
        ``accepted`` (model → bool), ``preferred`` (model or None).
    """
    policy = policy or DEFAULT_POLICY
    accepted, summary = {}, {}
    for name, f in fits.items():
        measures = f.get("measures") if isinstance(f.get("measures"), Mapping) else f
        converged = _flag(f.get("converged"), default=False)
        admissible = converged and _flag(f.get("proper"), default=True)
        v = evaluate_measures(
            measures or {}, estimator, model=name, admissible=admissible, converged=converged, policy=policy
        )
        accepted[name] = v.accepted
        summary[name] = {
            "admissible": admissible,
            "accepted": v.accepted,
            "npar": _num((measures or {}).get("npar")),
            "bic": _num((measures or {}).get("bic")),
            "pvalue": test_statistic(measures or {}, estimator)["pvalue"],
            "reason": v.basis,
        }
    pairs, pvals = set(), {}
    for t in tests:
        a, b = t.get("model0"), t.get("model1")
        if a in fits and b in fits:
            pairs.add((a, b))
            pvals[(a, b)] = _num(t.get("pvalue"))
    npar_missing = all(not np.isfinite(s["npar"]) for s in summary.values())
    if npar_missing:  # stored measures without npar: order by df instead (more df = fewer parameters)
        for name, f in fits.items():
            measures = f.get("measures") if isinstance(f.get("measures"), Mapping) else f
            summary[name]["npar"] = -_num((measures or {}).get("df"))
    choice = choose_structure(summary, pairs, pvals, estimator=estimator, policy=policy)
    return {"accepted": accepted, "preferred": choice.preferred}
