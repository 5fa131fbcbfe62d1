"""Which item sets a short form may be: items per factor, facets covered, forced items, reverse keying.

Every constraint concerns one factor at a time, so a short form is feasible when each
factor's selection is; the samplers and neighbourhood moves of the search methods only ever
produce feasible selections, and :meth:`Constraints.check` says precisely why a requested
set of constraints cannot be met.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from allyscale.errors import SpecificationError
from allyscale.pool import ItemPool

__all__ = ["Constraints", "FactorRule"]


@dataclass(frozen=True)
class FactorRule:
    """The constraints on one factor's selection."""

    factor: str
    items: tuple[str, ...]  # eligible items (pool order), forced-out removed
    k: int  # items to select
    facets: dict[str, tuple[str, ...]]  # facet → its eligible items
    min_per_facet: int
    forced: tuple[str, ...]
    reverse: frozenset[str]  # reverse-keyed items among the eligible
    reverse_range: tuple[int, int]  # (min, max) reverse-keyed items in the selection

    def feasible(self, chosen: Iterable[str]) -> bool:
        chosen = set(chosen)
        if len(chosen) != self.k or not chosen <= set(self.items) or not set(self.forced) <= chosen:
            return False
        for members in self.facets.values():
            if len(chosen.intersection(members)) < min(self.min_per_facet, len(members)):
                return False
        nrev = len(chosen & self.reverse)
        return self.reverse_range[0] <= nrev <= self.reverse_range[1]

    def sample(self, rng: np.random.Generator, weights: Mapping[str, float], *, tries: int = 200) -> tuple[str, ...]:
        """One feasible selection, items drawn with probability proportional to ``weights``."""
        for _ in range(tries):
            chosen = list(self.forced)
            ok = True
            for facet in rng.permutation(list(self.facets)):
                members = self.facets[facet]
                need = min(self.min_per_facet, len(members)) - len(set(chosen).intersection(members))
                for _ in range(max(0, need)):
                    pick = self._draw(rng, weights, [i for i in members if i not in chosen], chosen)
                    if pick is None:
                        ok = False
                        break
                    chosen.append(pick)
                if not ok:
                    break
            while ok and len(chosen) < self.k:
                pick = self._draw(rng, weights, [i for i in self.items if i not in chosen], chosen)
                if pick is None:
                    ok = False
                    break
                chosen.append(pick)
            if ok and self.feasible(chosen):
                return tuple(i for i in self.items if i in chosen)
        raise SpecificationError(
            f"factor {self.factor!r}: no selection meeting the constraints was found in "
            f"{tries} draws; relax items_per_factor, min_per_facet, reverse_keyed or the "
            "forced items"
        )

    def _draw(self, rng, weights, candidates, chosen) -> str | None:
        nrev = len(self.reverse.intersection(chosen))
        slots = self.k - len(chosen)
        if nrev >= self.reverse_range[1]:
            candidates = [i for i in candidates if i not in self.reverse]
        elif self.reverse_range[0] - nrev >= slots:
            candidates = [i for i in candidates if i in self.reverse]
        if not candidates:
            return None
        w = np.array([weights.get(i, 1.0) for i in candidates], dtype=float)
        w = w / w.sum()
        return candidates[int(rng.choice(len(candidates), p=w))]

    def combinations(self) -> Iterable[tuple[str, ...]]:
        """Every feasible selection (pool order)."""
        free = [i for i in self.items if i not in self.forced]
        for extra in itertools.combinations(free, self.k - len(self.forced)):
            chosen = set(self.forced) | set(extra)
            if self.feasible(chosen):
                yield tuple(i for i in self.items if i in chosen)

    def n_combinations(self) -> int:
        """Upper bound on the number of selections: C(eligible − forced, k − forced)."""
        return math.comb(len(self.items) - len(self.forced), self.k - len(self.forced))

    def swaps(self, chosen: Sequence[str]) -> list[tuple[str, str]]:
        """Feasible (out, in) exchanges of one selected item for one unselected item."""
        out = []
        inside = set(chosen)
        for a in chosen:
            if a in self.forced:
                continue
            for b in self.items:
                if b in inside:
                    continue
                trial = (inside - {a}) | {b}
                if self.feasible(trial):
                    out.append((a, b))
        return out


@dataclass(frozen=True)
class Constraints:
    """The constraints of a short-form search, one :class:`FactorRule` per factor."""

    rules: tuple[FactorRule, ...]

    @classmethod
    def build(
        cls,
        pool: ItemPool,
        items_per_factor: int | Mapping[str, int],
        *,
        min_per_facet: int = 1,
        force_in: Sequence[str] = (),
        force_out: Sequence[str] = (),
        reverse_keyed: int | tuple[int, int] | None = None,
        available: Sequence[str] | None = None,
    ) -> Constraints:
        """Validate the requested constraints against the pool.

        Parameters
        ----------
        pool : ItemPool
        items_per_factor : int or mapping factor → int
            Items to keep per factor (a mapping must name every factor).
        min_per_facet : int
            At least this many items from every facet (or all of a facet's items when it has fewer).
        force_in, force_out : sequence of str
            Items that must be kept / must be dropped.
        reverse_keyed : int, (min, max) or None
            Reverse-keyed items per factor: at least ``int``, or between ``min`` and ``max``
            (None: no constraint).
        available : sequence of str, optional
            Items present in the data (default every pool item).

        Raises
        ------
        SpecificationError
            Unknown factors or items, an item both forced in and out, a factor that cannot meet
            its constraints (naming the factor and the constraint).
        """
        ids = set(pool.item_ids)
        factors = [f.id for f in pool.factors]
        for name, seq in (("force_in", force_in), ("force_out", force_out)):
            unknown = [i for i in seq if i not in ids]
            if unknown:
                raise SpecificationError(f"{name}: item(s) not in the pool: {', '.join(unknown)}")
        both = sorted(set(force_in) & set(force_out))
        if both:
            raise SpecificationError(f"item(s) both forced in and forced out: {', '.join(both)}")
        if isinstance(items_per_factor, Mapping):
            unknown = [f for f in items_per_factor if f not in factors]
            if unknown:
                raise SpecificationError(
                    f"items_per_factor: unknown factor(s) {', '.join(map(str, unknown))}; factors: {', '.join(factors)}"
                )
            missing = [f for f in factors if f not in items_per_factor]
            if missing:
                raise SpecificationError(f"items_per_factor: no number for factor(s) {', '.join(missing)}")
            ks = {f: items_per_factor[f] for f in factors}
        else:
            ks = {f: items_per_factor for f in factors}
        for f, k in ks.items():
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
                raise SpecificationError(f"items_per_factor for {f!r} must be an integer of at least 2, got {k!r}")
        if isinstance(min_per_facet, bool) or not isinstance(min_per_facet, (int, np.integer)) or min_per_facet < 0:
            raise SpecificationError(f"min_per_facet must be a non-negative integer, got {min_per_facet!r}")
        if reverse_keyed is None:
            rng_rev = None
        elif isinstance(reverse_keyed, (int, np.integer)) and not isinstance(reverse_keyed, bool):
            rng_rev = (int(reverse_keyed), 10**6)
        elif isinstance(reverse_keyed, (tuple, list)) and len(reverse_keyed) == 2:
            rng_rev = (int(reverse_keyed[0]), int(reverse_keyed[1]))
            if rng_rev[0] > rng_rev[1] or rng_rev[0] < 0:
                raise SpecificationError(f"reverse_keyed=(min, max) needs 0 <= min <= max, got {reverse_keyed!r}")
        else:
            raise SpecificationError(f"reverse_keyed must be None, an int or (min, max), got {reverse_keyed!r}")
        avail = ids if available is None else set(available)
        rules = []
        for f in pool.factors:
            k = int(ks[f.id])
            eligible = tuple(it.id for it in f.items if it.id not in force_out and it.id in avail)
            forced = tuple(i for i in eligible if i in force_in)
            absent = [i for i in force_in if pool.item(i).factor == f.id and i not in avail]
            if absent:
                raise SpecificationError(f"force_in: item(s) not in the data: {', '.join(absent)}")
            facets = {fc.id: tuple(it.id for it in fc.items if it.id in eligible) for fc in f.facets}
            rev = frozenset(i for i in eligible if pool.item(i).reverse)
            rr = (0, k) if rng_rev is None else (min(rng_rev[0], k), min(rng_rev[1], k))
            where = f"factor {f.id!r}"
            if k > len(eligible):
                raise SpecificationError(f"{where}: {k} items asked for, only {len(eligible)} eligible")
            if len(forced) > k:
                raise SpecificationError(f"{where}: {len(forced)} items forced in, more than the {k} to keep")
            need = sum(min(min_per_facet, len(m)) for m in facets.values())
            empty = [fc for fc, m in facets.items() if not m and min_per_facet > 0]
            if empty:
                raise SpecificationError(
                    f"{where}: facet(s) {', '.join(empty)} have no eligible item "
                    "(all forced out or absent from the data)"
                )
            if need > k:
                raise SpecificationError(
                    f"{where}: min_per_facet={min_per_facet} over {len(facets)} facets needs "
                    f"{need} items, more than the {k} to keep"
                )
            if rr[0] > len(rev):
                raise SpecificationError(
                    f"{where}: at least {rr[0]} reverse-keyed item(s) asked for, the factor has {len(rev)} eligible"
                )
            if k - rr[1] > len(eligible) - len(rev):
                raise SpecificationError(
                    f"{where}: at most {rr[1]} reverse-keyed item(s) leaves too few forward-keyed items for {k}"
                )
            rules.append(
                FactorRule(
                    factor=f.id,
                    items=eligible,
                    k=k,
                    facets=facets,
                    min_per_facet=int(min_per_facet),
                    forced=forced,
                    reverse=rev,
                    reverse_range=rr,
                )
            )
        return cls(tuple(rules))

    @property
    def factors(self) -> list[str]:
        return [r.factor for r in self.rules]

    def rule(self, factor: str) -> FactorRule:
        for r in self.rules:
            if r.factor == factor:
                return r
        raise KeyError(factor)

    def feasible(self, selection: Mapping[str, Sequence[str]]) -> bool:
        return all(r.feasible(selection.get(r.factor, ())) for r in self.rules)

    def sample(self, rng: np.random.Generator, weights: Mapping[str, float] | None = None) -> dict[str, tuple]:
        weights = weights or {}
        return {r.factor: r.sample(rng, weights) for r in self.rules}

    def space_size(self) -> int:
        """Upper bound on the number of feasible short forms (product over factors)."""
        out = 1
        for r in self.rules:
            out *= r.n_combinations()
        return out

    def describe(self) -> dict:
        return {
            r.factor: {
                "k": r.k,
                "eligible": len(r.items),
                "facets": len(r.facets),
                "min_per_facet": r.min_per_facet,
                "forced_in": list(r.forced),
                "reverse_keyed": list(r.reverse_range),
            }
            for r in self.rules
        }
