"""The process-wide caches allyscale keeps, in one visible registry.

Each cache holds values that depend on their key only (a model syntax, a data set's bytes, a file's contents and
modification time), so a hit returns exactly what a fresh computation would. They exist for speed where the
same work repeats — ``compare``, invariance sequences, Monte Carlo replications, item-selection searches:

==================  ==============================================  ======================================
name                holds                                           keyed by
==================  ==============================================  ======================================
``partables``       parsed model syntax → parameter table, spec      syntax, observed variables, options
``wlsmv_stats``     polychorics, thresholds, their asymptotic cov.   the data's bytes (last 4 data sets)
``polychorics``     ``al.polychoric`` results (warnings repeated)    the data's bytes and options (last 4)
``study_pools``     item pools read by Monte Carlo specs             path, size, modification time
``worker_specs``    study specs in worker processes                  the spec's JSON
``cvr_critical``    Lawshe CVR critical values                       number of raters, alpha
==================  ==============================================  ======================================

:func:`caches` lists them with their current sizes and :func:`clear_caches` empties all of them
(``allyscale.clear_caches()``), e.g. to measure cold timings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["register", "caches", "clear_caches"]

_REGISTRY: dict[str, tuple[str, Callable[[], int], Callable[[], None]]] = {}


def register(name: str, holds: str, size: Callable[[], int], clear: Callable[[], None]) -> None:
    """Make a cache visible: its name, what it holds, how to measure and how to empty it."""
    _REGISTRY[name] = (holds, size, clear)


def caches() -> dict[str, dict[str, Any]]:
    """Every registered cache (of the modules imported so far): ``{name: {"holds": ..., "size": n}}``."""
    return {name: {"holds": holds, "size": int(size())} for name, (holds, size, _) in _REGISTRY.items()}


def clear_caches() -> None:
    """Empty every registered cache."""
    for _, _, clear in _REGISTRY.values():
        clear()
