"""allyscale: develop and validate psychological measurement scales.

Item pools → simulated or real Likert responses → EFA/CFA → reliability and validity →
Monte Carlo studies → psychometric reports, numerically matched to lavaan, psych and
semTools.

The public API is imported lazily (``allyscale.cfa`` loads the CFA module on first use),
so ``import allyscale`` stays fast for the command line and for worker processes. Where a
function shares its module's name (``cfa``, ``efa``, ``reliability``, ...), ``allyscale.cfa``
is the module, and calling it calls the function (:mod:`allyscale._callable`).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_API: dict[str, str] = {
    # foundation
    "load_pool": "allyscale.pool",
    "ItemPool": "allyscale.pool",
    "STRUCTURES": "allyscale.pool",
    "ESEM_STRUCTURES": "allyscale.pool",
    "cross_loadings": "allyscale.esem",
    "compare_correlations": "allyscale.esem",
    "omega_esem": "allyscale.esem",
    "ESEMResult": "allyscale.esem",
    "PopulationModel": "allyscale.simulate",
    "simulate": "allyscale.simulate",
    "simulate_study": "allyscale.simulate",
    "SimulatedStudy": "allyscale.simulate",
    "ValiditySpec": "allyscale.simulate",
    "ExternalSpec": "allyscale.simulate",
    "OutcomeSpec": "allyscale.simulate",
    "GroupSpec": "allyscale.simulate",
    "RetestSpec": "allyscale.simulate",
    "parse_model": "allyscale.syntax",
    "lavaanify": "allyscale.syntax",
    "reverse_score": "allyscale.scoring",
    "scale_scores": "allyscale.scoring",
    "describe_items": "allyscale.descriptives",
    "careless_indices": "allyscale.descriptives",
    "read_responses": "allyscale.survey",
    "ReadReport": "allyscale.survey",
    "screen": "allyscale.quality",
    "littles_mcar": "allyscale.quality",
    "ScreenResult": "allyscale.quality",
    # ordinal correlations and exploratory analysis
    "polychoric": "allyscale.polychoric",
    "kmo": "allyscale.factorability",
    "bartlett": "allyscale.factorability",
    "parallel_analysis": "allyscale.retention",
    "map_test": "allyscale.retention",
    "efa": "allyscale.efa",
    "schmid_leiman": "allyscale.efa",
    "congruence": "allyscale.efa",
    # confirmatory analysis
    "cfa": "allyscale.cfa",
    "compare": "allyscale.comparison",
    "CompareResult": "allyscale.comparison",
    "invariance": "allyscale.invariance",
    "InvarianceResult": "allyscale.invariance",
    "score_tests": "allyscale.invariance",
    "simulate_pairs": "allyscale.simulate",
    "collapse_categories": "allyscale.pairs",
    "mtmm": "allyscale.mtmm",
    # reliability and validity
    "alpha": "allyscale.reliability",
    "omega": "allyscale.reliability",
    "reliability": "allyscale.reliability",
    "htmt": "allyscale.validity",
    "ave": "allyscale.validity",
    "fornell_larcker": "allyscale.validity",
    "factor_correlations": "allyscale.validity",
    "external_correlations": "allyscale.validity",
    "scale_reliability": "allyscale.validity",
    "split_half": "allyscale.reliability",
    "icc": "allyscale.reliability",
    "latent_correlations": "allyscale.validity_ext",
    "incremental_validity": "allyscale.validity_ext",
    "known_groups": "allyscale.validity_ext",
    "test_retest": "allyscale.validity_ext",
    # Monte Carlo
    "load_study": "allyscale.montecarlo",
    "run_study": "allyscale.montecarlo",
    "summarize_study": "allyscale.montecarlo",
    "dfi": "allyscale.dfi",
    # content validity before data
    "content_validity": "allyscale.content",
    "read_ratings": "allyscale.content",
    "write_sheet": "allyscale.content",
    "rating_sheet": "allyscale.content",
    "review_wording": "allyscale.wording",
    # item response theory and short forms
    "irt": "allyscale.irt",
    "IRTResult": "allyscale.irt",
    "shorten": "allyscale.shorten",
    "ShortFormResult": "allyscale.shorten",
    "item_statistics": "allyscale.shorten",
    # reports
    "validate": "allyscale.report",
    # the process-wide caches (allyscale/_caches.py)
    "caches": "allyscale._caches",
    "clear_caches": "allyscale._caches",
}

_ERRORS = [
    "AllyscaleError",
    "PoolError",
    "ModelSyntaxError",
    "DataError",
    "SpecificationError",
    "EstimationError",
    "AllyscaleWarning",
    "ConvergenceWarning",
    "HeywoodWarning",
    "NotPositiveDefiniteWarning",
    "DataWarning",
    "StatisticalWarning",
]
for _name in _ERRORS:
    _API[_name] = "allyscale.errors"

__all__ = ["__version__", *_API]  # noqa: PLE0604 - the names of _API (all strings)


def __getattr__(name: str) -> Any:
    module_name = _API.get(name)
    if module_name is None:
        raise AttributeError(f"module 'allyscale' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    # a function that shares its module's name is reached through the (callable) module: allyscale/_callable.py
    value = module if module_name == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
