"""Bounds on inputs, checked before any work starts.

A hostile or mistyped input (a YAML alias bomb, ``reps: 1000000000``, ``--n 1e12``)
must fail at once with a message naming the limit, never hang or exhaust memory. The
limits are generous for real studies (the canonical allyship study uses 2,000
replications of 4 conditions with N <= 800 and 100 items) and are module constants a
user may raise deliberately (``allyscale.limits.MAX_REPS = ...``).
"""

from __future__ import annotations

from allyscale.errors import SpecificationError

__all__ = [
    "MAX_YAML_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "MAX_N",
    "MAX_CELLS",
    "MAX_REPS",
    "MAX_CONDITIONS",
    "MAX_REPLICATIONS",
    "check_n",
    "check_reps",
    "check_grid",
]

#: largest YAML file (pool or study) read, in bytes
MAX_YAML_BYTES = 10_000_000
#: deepest nesting of lists and mappings in a YAML file
MAX_YAML_DEPTH = 64
#: most values a YAML document may hold once its aliases are expanded
MAX_YAML_NODES = 1_000_000
#: most respondents simulated in one data set
MAX_N = 1_000_000
#: most responses (respondents x items) simulated in one data set
MAX_CELLS = 20_000_000
#: most replications per condition of a Monte Carlo study
MAX_REPS = 100_000
#: most crossed conditions of a Monte Carlo study
MAX_CONDITIONS = 10_000
#: most replications (conditions x reps) of a Monte Carlo study
MAX_REPLICATIONS = 10_000_000


def _num(n: int) -> str:
    """``n`` with thousands separators (a huge integer described by its number of digits)."""
    if n.bit_length() > 200:
        return f"an integer of about {int(n.bit_length() * 0.30103) + 1} digits"
    return f"{n:,}"


def check_n(n: int, n_items: int | None = None, *, what: str = "n") -> None:
    """Refuse a sample size above :data:`MAX_N` or a data set above :data:`MAX_CELLS` responses."""
    if n > MAX_N:
        raise SpecificationError(
            f"{what} = {_num(n)} respondents exceeds the limit of {MAX_N:,} (allyscale.limits.MAX_N)"
        )
    if n_items is not None and n * n_items > MAX_CELLS:
        raise SpecificationError(
            f"{what} = {n:,} respondents x {n_items} items = {n * n_items:,} responses exceeds "
            f"the limit of {MAX_CELLS:,} (allyscale.limits.MAX_CELLS)"
        )


def check_reps(reps: int, *, what: str = "reps") -> None:
    """Refuse more than :data:`MAX_REPS` replications."""
    if reps > MAX_REPS:
        raise SpecificationError(
            f"{what} = {_num(reps)} exceeds the limit of {MAX_REPS:,} replications per condition "
            "(allyscale.limits.MAX_REPS)"
        )


def check_grid(n_conditions: int, reps: int, *, where: str = "") -> None:
    """Refuse more than :data:`MAX_CONDITIONS` conditions or :data:`MAX_REPLICATIONS` replications in all."""
    pre = f"{where}: " if where else ""
    if n_conditions > MAX_CONDITIONS:
        raise SpecificationError(
            f"{pre}conditions cross to {n_conditions:,} conditions, above the limit of "
            f"{MAX_CONDITIONS:,} (allyscale.limits.MAX_CONDITIONS)"
        )
    if n_conditions * reps > MAX_REPLICATIONS:
        raise SpecificationError(
            f"{pre}{n_conditions:,} conditions x {reps:,} reps = {n_conditions * reps:,} "
            f"replications, above the limit of {MAX_REPLICATIONS:,} "
            "(allyscale.limits.MAX_REPLICATIONS)"
        )
