"""Short-form selection: constraints, objective, search methods and item statistics.

The public entry is :func:`allyscale.shorten`; this package holds its parts, one
responsibility per module.
"""

from allyscale.selection.constraints import Constraints, FactorRule
from allyscale.selection.objective import Evaluation, Objective

__all__ = ["Constraints", "FactorRule", "Evaluation", "Objective"]
