"""Reliability: coefficient alpha, the omega family, composite reliability, split-half and ICC.

Every coefficient reproduces a named R reference (psych 2.2.9, semTools 0.5.6) and states
its formula and conventions in its docstring:

* :func:`alpha` — ``psych::alpha(x, check.keys = FALSE)`` (Cronbach, 1951; Guttman, 1945),
  with Feldt (1987) and bootstrap intervals; ordinal alpha (Zumbo et al., 2007) on request.
* :func:`omega` — ``psych::omega(x, nfactors)`` (Schmid–Leiman omega-hierarchical and
  omega-total; McDonald, 1999; Revelle & Zinbarg, 2009), or from a fitted bifactor /
  second-order CFA: omega_h, omega_hs, H, ECV, PUC (Rodriguez, Reise & Haviland, 2016).
* :func:`reliability` — per factor ``alpha``, ``omega`` as ``semTools::compRelSEM`` (its
  defaults ``obs.var = TRUE``, ``tau.eq = FALSE``; categorical omega of Green & Yang, 2009
  for ordered indicators) and ``ave`` as ``semTools::AVE``.
* :func:`split_half`, :func:`icc` — Spearman–Brown split halves; ``psych::ICC`` (Shrout &
  Fleiss, 1979; McGraw & Wong, 1996).

Numbers are computed here with numpy/scipy (no R-package port exists in Python);
:mod:`allyscale.efa` supplies the exploratory solution behind :func:`omega` and
:mod:`allyscale.cfa` the confirmatory one behind :func:`reliability`.
"""

from __future__ import annotations

from allyscale._callable import make_callable
from allyscale.reliability._alpha import AlphaResult, SplitHalfResult, alpha, split_half
from allyscale.reliability._common import _jsonable as _jsonable  # re-exported for allyscale.validity
from allyscale.reliability._common import _select_items as _select_items
from allyscale.reliability._common import smc
from allyscale.reliability._composite import (
    ReliabilityResult,
    average_variance_extracted,
    categorical_omega,
    composite_reliability,
    reliability,
)
from allyscale.reliability._composite import (
    _factor_items as _factor_items,  # re-exported for allyscale.validity and the command line
)
from allyscale.reliability._composite import (
    _model_parts as _model_parts,
)
from allyscale.reliability._icc import ICCResult, icc
from allyscale.reliability._omega import BifactorResult, OmegaResult, bifactor_indices, omega, omega_from_schmid

__all__ = [
    "AlphaResult",
    "OmegaResult",
    "BifactorResult",
    "SplitHalfResult",
    "ICCResult",
    "ReliabilityResult",
    "alpha",
    "omega",
    "bifactor_indices",
    "reliability",
    "split_half",
    "icc",
    "composite_reliability",
    "categorical_omega",
    "average_variance_extracted",
    "omega_from_schmid",
    "smc",
]
make_callable(__name__, reliability)
