"""What every estimator hands to the result builder (numpy only; see ``allyscale.cfa``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np

__all__ = ["Estimation", "Internals", "TestStatistic", "Tests"]


class _TestRequired(TypedDict):
    stat: float
    df: float
    pvalue: float


class TestStatistic(_TestRequired, total=False):
    """One test of lavaan's ``@test`` list: the statistic, its degrees of freedom and p value;
    a robust test adds its ``scaling_factor``, ``shift`` (0 unless scaled-and-shifted) and
    ``trace_ugamma``."""

    scaling_factor: float
    shift: float
    trace_ugamma: float


#: the tests of a model by name (``"standard"``, ``"scaled.shifted"``, ``"yuan.bentler.mplus"``)
Tests = dict[str, TestStatistic]


@dataclass
class Estimation:
    """The output of one estimator for a list of groups (one group = a list of one).

    ``x`` free parameters, ``vcov`` their covariance (``None`` if not available), ``test``
    lavaan's ``@test`` list (``{"standard": {"stat", "df", "pvalue"}, <scaled name>: {...,
    "scaling_factor", "shift", "trace_ugamma"}}``), ``baseline`` the same for the
    independence model, ``sample`` the per-group moments the residuals and SRMR use
    (covariances for ML, correlations for WLSMV), ``logl`` (``None`` when not a likelihood),
    ``extra`` fit-measure inputs the estimator alone can compute (merged by the fit-measure
    builder), ``robust`` lavaan's pieces of the ``.robust`` indices when they are not the
    scaling factors' (``XX3, df3, c.hat3, XX3.scaled, XX3.null, df3.null, c.hat3.null``),
    ``internals`` estimator-specific arrays (picklable), ``spec`` the model the
    estimates belong to when the estimator extends the prepared one (WLSMV's thresholds).
    """

    x: np.ndarray
    vcov: np.ndarray | None
    converged: bool
    iterations: int
    fmin: float
    test: Tests
    baseline: Tests
    sample: list[tuple[np.ndarray, np.ndarray | None]]
    logl: float | None = None
    extra: dict[str, float] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    scaled_test: str | None = None  # key of ``test`` holding the robust test, if any
    information: np.ndarray | None = None  # per-case information used for modification indices
    internals: dict[str, Any] = field(default_factory=dict)
    robust: dict[str, Any] | None = None  # lavaan's XX3/c.hat3 pieces of the .robust indices (catML, FIML-C)
    spec: Any = None  # the estimator's ModelSpec when it differs from the prepared one
    prepared: Any = None  # the prepared input the result describes (set by the public layer)


class Internals(dict):
    """A dict whose callable values are computed on first access (the dense Jacobian of a
    100-item model is large and most fits never need it). Pickles without the callables
    that were never evaluated (a dense ``jac`` is rebuilt from ``jac_sparse``)."""

    def __getitem__(self, key):
        if key == "jac" and not super().__contains__("jac") and super().__contains__("jac_sparse"):
            value = super().__getitem__("jac_sparse").toarray()
            self["jac"] = value
            return value
        value = super().__getitem__(key)
        if callable(value):
            value = value()
            self[key] = value
        return value

    def __contains__(self, key):
        return super().__contains__(key) or (key == "jac" and super().__contains__("jac_sparse"))

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __reduce__(self):
        return (Internals, ({k: v for k, v in dict.items(self) if not callable(v)},))
