"""Exceptions and warnings raised by allyscale.

Every error a user can trigger with bad input derives from :class:`AllyscaleError`;
the command-line interface prints its message as ``error: ...`` and exits non-zero.
Every statistical problem that does not stop an analysis (non-convergence, Heywood
cases, smoothing of a non-positive-definite matrix, dropped rows) is a subclass of
:class:`AllyscaleWarning` and is also recorded on the result's ``diagnostics``.
"""

from __future__ import annotations

__all__ = [
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


class AllyscaleError(Exception):
    """Base class of every error caused by input the user can fix."""


class PoolError(AllyscaleError, ValueError):
    """An item pool file is malformed (unknown key, duplicate id, bad scale, unsafe YAML)."""


class ModelSyntaxError(AllyscaleError, ValueError):
    """A lavaan model string cannot be parsed or names something inconsistent."""


class DataError(AllyscaleError, ValueError):
    """Response data are unusable as given (missing column, value off the scale, ...)."""


class SpecificationError(AllyscaleError, ValueError):
    """An analysis was asked for something impossible (unknown estimator, too few cases, ...)."""


class EstimationError(AllyscaleError, RuntimeError):
    """An estimation failed in a way that leaves no usable result."""


class AllyscaleWarning(UserWarning):
    """Base class of allyscale's warnings."""


class ConvergenceWarning(AllyscaleWarning):
    """An iterative procedure stopped before meeting its convergence criterion."""


class HeywoodWarning(AllyscaleWarning):
    """A variance estimate is negative or a communality exceeds one."""


class NotPositiveDefiniteWarning(AllyscaleWarning):
    """A matrix that should be positive definite is not (and may have been smoothed)."""


class DataWarning(AllyscaleWarning):
    """Something was done to the data (rows dropped, values set to missing, ...)."""


class StatisticalWarning(AllyscaleWarning):
    """A statistic may be untrustworthy (small sample, sparse table, ...)."""
