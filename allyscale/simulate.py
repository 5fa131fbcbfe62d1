"""Population models and simulated Likert responses.

A :class:`PopulationModel` is a factor model for the *latent responses* ``y*`` of the
items (multivariate normal), thresholds that cut each ``y*`` into ordered categories,
and the contaminations real data have: reverse-keyed items answered in reverse, a
method factor, correlated residuals, careless responders and missing values.

The model is held in the *scored* (keyed) direction: a high ``y*`` means more of the
construct for every item. Respondents answer reverse-keyed items in reverse, so the
simulated responses to those items are ``min + max - scored``. :meth:`implied_corr`
returns correlations of the latent responses *as answered* by default (reverse-keyed
items correlate negatively with the others), which is what a polychoric correlation of
the raw data estimates; ``implied_corr(scored=True)`` gives the keyed direction.

Data generation is owned code (numpy): ``y* = chol(Sigma) z`` with ``z`` standard
normal from :func:`numpy.random.default_rng` seeded by the caller, then thresholds,
exactly as ``lavaan::simulateData`` cuts normal data at the model's thresholds.

A validation study around the items — external measures correlated with the factors, an
outcome, known groups and a retest wave — is added by :meth:`PopulationModel.with_validity`
(:class:`ExternalSpec`, :class:`OutcomeSpec`, :class:`GroupSpec`, :class:`RetestSpec`) and
simulated by :func:`simulate_study`, which also returns the population values the analyses
estimate. A model without such a design simulates the same data as before for every seed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from allyscale._core.lisrel import Matrices, implied_cov, latent_cov
from allyscale.errors import DataError, ModelSyntaxError, SpecificationError
from allyscale.pool import ItemPool
from allyscale.syntax import model_variables, parse_model

__all__ = [
    "PopulationModel",
    "simulate",
    "threshold_pattern",
    "ExternalSpec",
    "OutcomeSpec",
    "GroupSpec",
    "RetestSpec",
    "ValiditySpec",
    "SimulatedStudy",
    "simulate_study",
    "validity_design",
    "simulate_pairs",
    "paired_columns",
    "FORMS",
]

_SYMMETRIC_SPAN = 1.5


def threshold_pattern(kind: str | Sequence[float], categories: int, *, skew: float = 0.75) -> np.ndarray:
    """Thresholds (K-1 values) of a named pattern on the standard normal scale.

    Parameters
    ----------
    kind : {"symmetric", "skewed", "uniform"} or sequence of float
        ``symmetric``: evenly spaced from -1.5 to 1.5 (a bell-shaped, symmetric
        distribution of responses). ``skewed``: the symmetric thresholds shifted down
        by ``skew`` (most respondents agree: negative skew, as for socially desirable
        attributes). ``uniform``: normal quantiles at ``k/K`` (equally frequent
        categories). A sequence gives the thresholds explicitly (strictly increasing).
    categories : int
        Number of response categories K (>= 2).
    skew : float
        Shift used by ``skewed``.
    """
    if categories < 2:
        raise SpecificationError(f"categories must be at least 2, got {categories}")
    if isinstance(kind, str):
        if kind == "symmetric":
            return np.linspace(-_SYMMETRIC_SPAN, _SYMMETRIC_SPAN, categories - 1) if categories > 2 else np.zeros(1)
        if kind == "skewed":
            base = np.linspace(-_SYMMETRIC_SPAN, _SYMMETRIC_SPAN, categories - 1) if categories > 2 else np.zeros(1)
            return base - skew
        if kind == "uniform":
            from scipy.stats import norm

            return norm.ppf(np.arange(1, categories) / categories)
        raise SpecificationError(f"unknown threshold pattern {kind!r}; use symmetric, skewed, uniform or a list")
    th = np.asarray(kind, dtype=float)
    if th.shape != (categories - 1,):
        raise SpecificationError(
            f"explicit thresholds need {categories - 1} values for {categories} categories, got {th.size}"
        )
    if np.any(np.diff(th) <= 0):
        raise SpecificationError(f"thresholds must be strictly increasing, got {list(th)}")
    return th


def _spread(value: float | tuple[float, float], n: int) -> np.ndarray:
    """A float → n copies; a (low, high) pair → n values evenly spaced from high to low."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        lo, hi = float(value[0]), float(value[1])
        return np.linspace(hi, lo, n) if n > 1 else np.array([(lo + hi) / 2])
    return np.full(n, float(value))


@dataclass(frozen=True)
class PopulationModel:
    """A population factor model for item responses.

    Build one with :meth:`from_pool` or :meth:`from_lavaan`. Attributes are read-only;
    use :meth:`with_options` to derive a variant (e.g. another loading size).

    Attributes
    ----------
    matrices : Matrices
        Lambda, Theta, Psi, B of the latent responses in the scored direction.
    items : list of str
    reverse : numpy.ndarray of bool
        Which items respondents answer in reverse.
    thresholds : numpy.ndarray or None
        items x (K-1) thresholds in the scored direction; None for continuous data.
    scale_min : int
        Lowest response value (responses are ``scale_min .. scale_min + K - 1``).
    careless : float
        Proportion of careless respondents.
    careless_style : {"random", "longstring"}
    missing : dict
        ``{"mechanism": "none" | "MCAR" | "MAR", "rate": float, "cause": item or None}``.
    options : dict
        The options that built the model (written to the simulation sidecar).
    validity : ValiditySpec or None
        External measures, an outcome, known groups and a retest wave simulated with the
        items (:meth:`with_validity`, :func:`simulate_study`); None: the items only.
    """

    matrices: Matrices
    items: list[str]
    reverse: np.ndarray
    thresholds: np.ndarray | None
    scale_min: int = 1
    careless: float = 0.0
    careless_style: str = "random"
    missing: dict = field(default_factory=lambda: {"mechanism": "none", "rate": 0.0, "cause": None})
    options: dict = field(default_factory=dict)
    validity: ValiditySpec | None = None

    # ------------------------------------------------------------------ builders
    @classmethod
    def from_pool(
        cls,
        pool: ItemPool,
        *,
        structure: str = "correlated",
        loadings: float | tuple[float, float] | Mapping[str, float] = (0.55, 0.80),
        factor_corr: float | Mapping[tuple[str, str], float] | np.ndarray = 0.5,
        second_order: float | Mapping[str, float] = 0.75,
        general_loadings: float | tuple[float, float] | Mapping[str, float] = 0.5,
        categories: int | None = None,
        thresholds: str | Sequence[float] | Mapping[str, Sequence[float]] = "symmetric",
        skew: float = 0.75,
        cross_loadings: Mapping[tuple[str, str], float] | None = None,
        residual_corr: Mapping[tuple[str, str], float] | None = None,
        facet_residual_corr: float = 0.0,
        method_loading: float = 0.0,
        careless: float = 0.0,
        careless_style: str = "random",
        missing: float = 0.0,
        missing_mechanism: str = "MCAR",
        missing_cause: str | None = None,
    ) -> PopulationModel:
        """A population model shaped like an item pool.

        Parameters
        ----------
        pool : ItemPool
        structure : {"correlated", "second_order", "bifactor"}
            How the factors relate. ``correlated``: factor correlations
            ``factor_corr``. ``second_order``: the factors load ``second_order`` on
            the pool's general factor (core category), so they correlate
            ``g_i * g_j``. ``bifactor``: a general factor loading ``general_loadings``
            on every item, orthogonal to the specific factors (which are orthogonal).
        loadings : float, (low, high) or mapping item → loading
            Standardized loadings on the item's own factor. Default (0.55, 0.80):
            within each factor, loadings evenly spaced from .80 down to .55 — the range
            typical of retained Likert items in published scale development.
        factor_corr : float, mapping (factor, factor) → r, or matrix
            Factor correlations for ``correlated`` (default .5).
        second_order : float or mapping factor → loading
            Second-order loadings for ``second_order`` (default .75).
        general_loadings : float, (low, high) or mapping item → loading
            General-factor loadings for ``bifactor`` (default .5).
        categories : int, optional
            Number of response categories; default the pool's response scale.
        thresholds : "symmetric", "skewed", "uniform", list, or mapping item → list
            See :func:`threshold_pattern`. A mapping gives item-specific thresholds
            (items not named use ``"symmetric"``).
        skew : float
            Shift of the ``skewed`` pattern.
        cross_loadings : mapping (item, factor) → loading, optional
            Secondary loadings (standardized).
        residual_corr : mapping (item, item) → r, optional
            Correlations between residuals (correlation metric).
        facet_residual_corr : float
            Residual correlation between items of the same facet (facet-specific
            variance beyond the factor); default 0.
        method_loading : float
            Loading of the reverse-keyed items on an orthogonal method factor (the
            variance reverse wording shares beyond the trait); default 0.
        careless : float
            Proportion of respondents who answer carelessly; default 0.
        careless_style : {"random", "longstring"}
            ``random``: uniformly random answers; ``longstring``: one answer repeated.
        missing : float
            Proportion of missing item responses; default 0.
        missing_mechanism : {"MCAR", "MAR"}
            ``MCAR``: each response missing with probability ``missing``. ``MAR``: the
            probability rises linearly with the rank of a fully observed cause item
            (``missing_cause``, default the first item), from 0 to ``2 * missing``.
        missing_cause : str, optional

        Returns
        -------
        PopulationModel

        Raises
        ------
        SpecificationError
            Impossible values: a communality of 1 or more, a non-positive-definite
            factor correlation matrix, unknown items or factors, rates outside [0, 1).
        """
        items = pool.item_ids
        k = categories or pool.scale.n_categories
        lam_own = _own_loadings(pool, loadings)
        lv = _pool_latents(pool, structure, method_loading)
        lam = _pool_lambda(pool, lv, lam_own, structure, general_loadings, cross_loadings, method_loading)
        psi, beta = _pool_factor_cov(pool, lv, structure, factor_corr, second_order)
        mats = Matrices(items, lv, lam, np.zeros((len(items), len(items))), psi, beta)
        mats.theta = _pool_residuals(pool, mats, facet_residual_corr, residual_corr)
        th = _item_thresholds(items, thresholds, k, skew)
        options = {
            "source": "pool",
            "pool": pool.id,
            "structure": structure,
            "loadings": _jsonable(loadings),
            "factor_corr": _jsonable(factor_corr),
            "second_order": _jsonable(second_order),
            "general_loadings": _jsonable(general_loadings),
            "categories": k,
            "thresholds": _jsonable(thresholds),
            "skew": skew,
            "cross_loadings": _jsonable(cross_loadings),
            "residual_corr": _jsonable(residual_corr),
            "facet_residual_corr": facet_residual_corr,
            "method_loading": method_loading,
            "careless": careless,
            "careless_style": careless_style,
            "missing": missing,
            "missing_mechanism": missing_mechanism,
            "missing_cause": missing_cause,
        }
        rev = np.array([pool.item(i).reverse for i in items])
        return cls._validated(
            mats,
            items,
            rev,
            th,
            pool.scale.min,
            careless,
            careless_style,
            missing,
            missing_mechanism,
            missing_cause,
            options,
        )

    @classmethod
    def from_lavaan(
        cls,
        syntax: str,
        *,
        categories: int | None = None,
        thresholds: str | Sequence[float] | Mapping[str, Sequence[float]] = "symmetric",
        skew: float = 0.75,
        standardized: bool = True,
        scale_min: int = 1,
        careless: float = 0.0,
        careless_style: str = "random",
        missing: float = 0.0,
        missing_mechanism: str = "MCAR",
        missing_cause: str | None = None,
    ) -> PopulationModel:
        """A population model from lavaan syntax with values, as for ``lavaan::simulateData``.

        Every loading, regression and covariance must carry a value (``0.7*x1``);
        latent variances not given are 1 (lavaan's ``std.lv = TRUE`` default of
        ``simulateData``), latent covariances not given are 0. Thresholds may be
        written in the syntax (``x1 | -1.3*t1 + -0.4*t2 + 0.5*t3 + 1.4*t4``); items
        without them are cut at the ``thresholds`` pattern with ``categories``
        categories, and with neither the data are continuous.

        Parameters
        ----------
        syntax : str
        categories : int, optional
        thresholds, skew
            As in :meth:`from_pool`.
        standardized : bool
            True (default): residual variances not given are ``1 - communality`` so
            latent responses have unit variance (``simulateData(standardized = TRUE)``).
            False: they are 1, as ``simulateData``'s default.
        scale_min : int
            Value of the lowest category (default 1).
        careless, careless_style, missing, missing_mechanism, missing_cause
            As in :meth:`from_pool`.

        Raises
        ------
        ModelSyntaxError
            A loading without a value, an unsupported operator, or no latent variable.
        """
        stmts = parse_model(syntax)
        ov, lv = model_variables(stmts)
        ov = [v for v in ov if v not in lv]
        p, m = len(ov), len(lv)
        lam, beta, psi, theta = np.zeros((p, m)), np.zeros((m, m)), np.eye(m), np.zeros((p, p))
        theta_given = np.zeros(p, dtype=bool)
        th_given: dict[str, dict[int, float]] = {}
        for s in stmts:
            fixed, _, _, _ = s.modifier.for_group(0)
            if s.op == "|":
                if fixed is None:
                    raise ModelSyntaxError(f"line {s.line}: threshold {s.lhs} | {s.rhs} needs a value")
                th_given.setdefault(s.lhs, {})[int(s.rhs[1:])] = fixed
                continue
            if s.op == "~1":
                if fixed not in (None, 0.0):
                    raise ModelSyntaxError(
                        f"line {s.line}: non-zero intercepts/means are not supported in population models"
                    )
                continue
            if fixed is None:
                raise ModelSyntaxError(
                    f"line {s.line}: {s.lhs} {s.op} {s.rhs} has no value; a population "
                    f"model needs one (e.g. 0.7*{s.rhs})"
                )
            if s.op == "=~":
                if s.rhs in lv:
                    beta[lv.index(s.rhs), lv.index(s.lhs)] = fixed
                else:
                    lam[ov.index(s.rhs), lv.index(s.lhs)] = fixed
            elif s.op == "~":
                if s.lhs not in lv or s.rhs not in lv:
                    raise ModelSyntaxError(f"line {s.line}: only regressions among latent variables are supported")
                beta[lv.index(s.lhs), lv.index(s.rhs)] = fixed
            elif s.op == "~~":
                if s.lhs in lv and s.rhs in lv:
                    i, j = lv.index(s.lhs), lv.index(s.rhs)
                    psi[i, j] = psi[j, i] = fixed
                elif s.lhs in ov and s.rhs in ov:
                    i, j = ov.index(s.lhs), ov.index(s.rhs)
                    theta[i, j] = theta[j, i] = fixed
                    if i == j:
                        theta_given[i] = True
                else:
                    raise ModelSyntaxError(f"line {s.line}: covariance between a latent and an observed variable")
        endo = np.flatnonzero(np.abs(beta).sum(axis=1) > 0)
        mats = Matrices(ov, lv, lam, theta, psi, beta)
        if standardized:
            # endogenous latents: disturbance variance makes their total variance 1 unless given
            given_psi = {(s.lhs, s.rhs) for s in stmts if s.op == "~~" and s.lhs == s.rhs and s.lhs in lv}
            for i in endo:
                if (lv[i], lv[i]) not in given_psi:
                    psi[i, i] = 0.0
                    psi[i, i] = max(0.0, 1.0 - latent_cov(mats)[i, i])
            common = np.einsum("ij,jk,ik->i", lam, latent_cov(mats), lam)
            for i in np.flatnonzero(~theta_given):
                if common[i] >= 1:
                    raise SpecificationError(f"communality of {ov[i]!r} is {common[i]:.3f} >= 1")
                theta[i, i] = 1 - common[i]
        else:
            theta[np.flatnonzero(~theta_given), np.flatnonzero(~theta_given)] = 1.0
        if np.linalg.eigvalsh(implied_cov(mats)).min() <= 0:
            raise SpecificationError("the population covariance matrix is not positive definite")
        th = None
        if th_given or categories:
            rows = []
            ks = {len(v) + 1 for v in th_given.values()}
            k = categories or (max(ks) if ks else None)
            if len(ks) > 1 and categories is None:
                raise ModelSyntaxError(f"items have different numbers of thresholds {sorted(ks)}; give categories")
            base = threshold_pattern(thresholds if not isinstance(thresholds, Mapping) else "symmetric", k, skew=skew)
            for v in ov:
                if v in th_given:
                    vals = [th_given[v][j] for j in sorted(th_given[v])]
                    if sorted(th_given[v]) != list(range(1, len(vals) + 1)) or len(vals) != k - 1:
                        raise ModelSyntaxError(f"thresholds of {v!r} must be t1..t{k - 1}")
                    rows.append(threshold_pattern(vals, k))
                elif isinstance(thresholds, Mapping) and v in thresholds:
                    rows.append(threshold_pattern(thresholds[v], k))
                else:
                    rows.append(base)
            th = np.vstack(rows)
        options = {
            "source": "lavaan",
            "syntax": syntax,
            "categories": categories,
            "thresholds": _jsonable(thresholds),
            "skew": skew,
            "standardized": standardized,
            "careless": careless,
            "careless_style": careless_style,
            "missing": missing,
            "missing_mechanism": missing_mechanism,
            "missing_cause": missing_cause,
        }
        return cls._validated(
            mats,
            ov,
            np.zeros(p, dtype=bool),
            th,
            scale_min,
            careless,
            careless_style,
            missing,
            missing_mechanism,
            missing_cause,
            options,
        )

    @classmethod
    def _validated(
        cls, mats, items, rev, th, scale_min, careless, careless_style, missing, mechanism, cause, options
    ) -> PopulationModel:
        if not 0 <= careless < 1:
            raise SpecificationError(f"careless must be a proportion in [0, 1), got {careless}")
        if careless_style not in ("random", "longstring"):
            raise SpecificationError(f"careless_style must be 'random' or 'longstring', got {careless_style!r}")
        if not 0 <= missing < 1:
            raise SpecificationError(f"missing must be a proportion in [0, 1), got {missing}")
        mechanism = mechanism.upper()
        if mechanism not in ("MCAR", "MAR"):
            raise SpecificationError(f"missing_mechanism must be MCAR or MAR, got {mechanism!r}")
        if mechanism == "MAR" and missing >= 0.5:
            raise SpecificationError("MAR missingness rate must be below .5 (the top rank reaches twice the rate)")
        if cause is not None and cause not in items:
            raise SpecificationError(f"missing_cause {cause!r} is not an item of the model")
        miss = {
            "mechanism": "none" if missing == 0 else mechanism,
            "rate": float(missing),
            "cause": (cause or items[0]) if mechanism == "MAR" and missing else None,
        }
        return cls(
            mats,
            list(items),
            np.asarray(rev, dtype=bool),
            th,
            int(scale_min),
            float(careless),
            careless_style,
            miss,
            options,
        )

    # ----------------------------------------------------------------- queries
    @property
    def categories(self) -> int | None:
        return None if self.thresholds is None else self.thresholds.shape[1] + 1

    @property
    def factors(self) -> list[str]:
        return list(self.matrices.lv)

    def implied_corr(self, *, scored: bool = False) -> pd.DataFrame:
        """Correlation matrix of the items' latent responses.

        Parameters
        ----------
        scored : bool
            False (default): as answered — reverse-keyed items enter reversed, so this
            is what polychoric correlations of the raw responses estimate. True: in
            the keyed direction (after reverse scoring).
        """
        sigma = implied_cov(self.matrices)
        d = 1 / np.sqrt(np.diag(sigma))
        r = sigma * np.outer(d, d)
        if not scored:
            s = np.where(self.reverse, -1.0, 1.0)
            r = r * np.outer(s, s)
        np.fill_diagonal(r, 1.0)
        return pd.DataFrame(r, index=self.items, columns=self.items)

    def answered_thresholds(self) -> pd.DataFrame | None:
        """Thresholds of the latent responses as answered, standardized (items x t1..t(K-1))."""
        if self.thresholds is None:
            return None
        sd = np.sqrt(np.diag(implied_cov(self.matrices)))
        th = self.thresholds / sd[:, None]
        th = np.where(self.reverse[:, None], -th[:, ::-1], th)
        return pd.DataFrame(th, index=self.items, columns=[f"t{j + 1}" for j in range(th.shape[1])])

    def to_lavaan(self) -> str:
        """Population syntax with values, as answered (reverse-keyed items with negated
        loadings and reversed thresholds), readable by ``lavaan::simulateData`` and by
        :meth:`from_lavaan`. Careless responding and missingness are not expressible in
        lavaan syntax; they are recorded in :meth:`to_dict`."""
        mats = self.matrices
        s = np.where(self.reverse, -1.0, 1.0)
        lines = []
        for j, f in enumerate(mats.lv):
            terms = [f"{s[i] * mats.lambda_[i, j]:.6g}*{v}" for i, v in enumerate(mats.ov) if mats.lambda_[i, j] != 0]
            terms += [f"{mats.beta[k, j]:.6g}*{mats.lv[k]}" for k in range(len(mats.lv)) if mats.beta[k, j] != 0]
            if terms:
                lines.append(f"{f} =~ " + " + ".join(terms))
        for i, a in enumerate(mats.lv):
            for j in range(i, len(mats.lv)):
                lines.append(f"{a} ~~ {mats.psi[i, j]:.6g}*{mats.lv[j]}")
        for i, a in enumerate(mats.ov):
            for j in range(i, len(mats.ov)):
                if i == j or mats.theta[i, j] != 0:
                    lines.append(f"{a} ~~ {s[i] * s[j] * mats.theta[i, j]:.6g}*{mats.ov[j]}")
        if self.thresholds is not None:
            th = np.where(self.reverse[:, None], -self.thresholds[:, ::-1], self.thresholds)
            for i, v in enumerate(mats.ov):
                lines.append(f"{v} | " + " + ".join(f"{t:.6g}*t{k + 1}" for k, t in enumerate(th[i])))
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to reproduce the population (the simulation sidecar)."""
        return {
            "items": self.items,
            "reverse": [i for i, r in zip(self.items, self.reverse) if r],
            "categories": self.categories,
            "scale_min": self.scale_min,
            "careless": self.careless,
            "careless_style": self.careless_style,
            "missing": self.missing,
            "options": self.options,
            "population_syntax": self.to_lavaan(),
            **({} if self.validity is None else {"validity": validity_design(self).to_dict()}),
        }

    def with_options(self, **changes) -> PopulationModel:
        """A copy with contamination settings changed (careless, careless_style, missing)."""
        allowed = {"careless", "careless_style", "missing", "missing_mechanism", "missing_cause"}
        bad = set(changes) - allowed
        if bad:
            raise SpecificationError(
                f"with_options accepts {sorted(allowed)}; rebuild the model to change {sorted(bad)}"
            )
        miss = dict(self.missing)
        out = PopulationModel._validated(
            self.matrices,
            self.items,
            self.reverse,
            self.thresholds,
            self.scale_min,
            changes.get("careless", self.careless),
            changes.get("careless_style", self.careless_style),
            changes.get("missing", miss["rate"]),
            changes.get("missing_mechanism", miss["mechanism"] if miss["mechanism"] != "none" else "MCAR"),
            changes.get("missing_cause", miss["cause"]),
            {**self.options, **changes},
        )
        return replace(out, validity=self.validity)

    def with_validity(
        self,
        spec: ValiditySpec | None = None,
        *,
        external: Sequence[ExternalSpec] = (),
        outcome: OutcomeSpec | None = None,
        groups: GroupSpec | None = None,
        retest: RetestSpec | None = None,
    ) -> PopulationModel:
        """A copy that also simulates external measures, an outcome, known groups and a retest wave.

        Give a :class:`ValiditySpec` or its parts. The design is checked against the model at
        once (:func:`validity_design`): unknown factors, impossible correlations and name
        clashes raise :class:`SpecificationError`.

        Examples
        --------
        >>> pm = PopulationModel.from_pool(pool).with_validity(
        ...     external=[ExternalSpec("arbi", {"tr_emp": .6}), ExternalSpec("sds", {"tr_emp": .1}, items=0)],
        ...     retest=RetestSpec(stability=.8))  # doctest: +SKIP
        """
        if spec is None:
            spec = ValiditySpec(external=tuple(external), outcome=outcome, groups=groups, retest=retest)
        elif external or outcome or groups or retest:
            raise SpecificationError("give a ValiditySpec or its parts, not both")
        if not isinstance(spec, ValiditySpec):
            raise SpecificationError(f"spec must be a ValiditySpec, got {type(spec).__name__}")
        out = replace(self, validity=spec)
        validity_design(out)  # raises on an impossible design
        return out

    def __repr__(self) -> str:
        k = self.categories
        return (
            f"PopulationModel({len(self.items)} items, factors={self.factors}, "
            f"{'continuous' if k is None else f'{k} categories'}, reverse={int(self.reverse.sum())}, "
            f"careless={self.careless:g}, missing={self.missing['mechanism']}:{self.missing['rate']:g})"
        )


# ------------------------------------------------------------------ from_pool's parts
def _own_loadings(pool: ItemPool, loadings) -> np.ndarray:
    """Each item's standardized loading on its own factor (see :meth:`PopulationModel.from_pool`)."""
    items = pool.item_ids
    lam_own = np.zeros(len(items))
    if isinstance(loadings, Mapping):
        unknown = sorted(set(loadings) - set(items))
        if unknown:
            raise SpecificationError(f"loadings name items not in the pool: {unknown}")
        default = _spread((0.55, 0.80), 1)[0]
        return np.array([float(loadings.get(i, default)) for i in items])
    for f in pool.factors:
        idx = [items.index(it.id) for it in f.items]
        lam_own[idx] = _spread(loadings, len(idx))
    return lam_own


def _pool_latents(pool: ItemPool, structure: str, method_loading: float) -> list[str]:
    """The latent variables of a pool-shaped population: factors, the general factor, the method factor."""
    if structure not in ("correlated", "second_order", "bifactor"):
        raise SpecificationError(
            f"unknown population structure {structure!r}; use correlated, second_order or bifactor"
        )
    lv = [f.id for f in pool.factors]
    if structure == "second_order":
        lv.append(pool.general_id)
    if structure == "bifactor":
        lv.insert(0, pool.general_id)
    if method_loading and any(pool.reverse_items):
        lv.append("method_reverse")
    return lv


def _pool_lambda(
    pool: ItemPool,
    lv: list[str],
    lam_own: np.ndarray,
    structure: str,
    general_loadings,
    cross_loadings,
    method_loading: float,
) -> np.ndarray:
    """Λ: own loadings, the bifactor's general loadings, cross-loadings and the method factor's loadings."""
    items = pool.item_ids
    f_ids = [f.id for f in pool.factors]
    factor_of = {it.id: it.factor for it in pool.items}
    p = len(items)
    lam = np.zeros((p, len(lv)))
    for i, it in enumerate(items):
        lam[i, lv.index(factor_of[it])] = lam_own[i]
    if structure == "bifactor":
        if isinstance(general_loadings, Mapping):
            g = np.array([float(general_loadings.get(i, 0.5)) for i in items])
        else:
            g = _spread(general_loadings, p)
        lam[:, 0] = g
    for (it, f), val in (cross_loadings or {}).items():
        if it not in items:
            raise SpecificationError(f"cross_loadings: item {it!r} is not in the pool")
        if f not in f_ids:
            raise SpecificationError(f"cross_loadings: factor {f!r} is not in the pool")
        lam[items.index(it), lv.index(f)] = float(val)
    if "method_reverse" in lv:
        for it in pool.reverse_items:
            lam[items.index(it), lv.index("method_reverse")] = float(method_loading)
    return lam


def _pool_factor_cov(
    pool: ItemPool, lv: list[str], structure: str, factor_corr, second_order
) -> tuple[np.ndarray, np.ndarray]:
    """Ψ and B: factor correlations (correlated) or second-order loadings with their disturbances."""
    m = len(lv)
    f_ids = [f.id for f in pool.factors]
    psi = np.eye(m)
    beta = np.zeros((m, m))
    nf = len(f_ids)
    if structure == "correlated":
        if isinstance(factor_corr, np.ndarray):
            phi = np.asarray(factor_corr, dtype=float)
            if phi.shape != (nf, nf):
                raise SpecificationError(f"factor_corr matrix must be {nf} x {nf}")
        else:
            phi = np.full((nf, nf), float(factor_corr) if not isinstance(factor_corr, Mapping) else 0.0)
            np.fill_diagonal(phi, 1.0)
            if isinstance(factor_corr, Mapping):
                for (a, b), r in factor_corr.items():
                    if a not in f_ids or b not in f_ids:
                        raise SpecificationError(f"factor_corr names unknown factor(s): {a!r}, {b!r}")
                    phi[f_ids.index(a), f_ids.index(b)] = phi[f_ids.index(b), f_ids.index(a)] = float(r)
        if np.linalg.eigvalsh(phi).min() <= 0:
            raise SpecificationError("factor_corr is not positive definite")
        psi[:nf, :nf] = phi
    elif structure == "second_order":
        gi = lv.index(pool.general_id)
        for f in f_ids:
            gam = float(second_order[f]) if isinstance(second_order, Mapping) else float(second_order)
            if not -1 < gam < 1:
                raise SpecificationError(f"second-order loading of {f!r} must be in (-1, 1), got {gam}")
            beta[lv.index(f), gi] = gam
            psi[lv.index(f), lv.index(f)] = 1 - gam**2
    return psi, beta


def _pool_residuals(pool: ItemPool, mats: Matrices, facet_residual_corr: float, residual_corr) -> np.ndarray:
    """Θ: residual variances ``1 - communality`` (unit-variance latent responses) and residual correlations."""
    items = pool.item_ids
    lam = mats.lambda_
    common = np.einsum("ij,jk,ik->i", lam, latent_cov(mats), lam)
    bad = [items[i] for i in np.flatnonzero(common >= 1)]
    if bad:
        raise SpecificationError(f"communality >= 1 (loadings too large) for item(s): {bad[:10]}")
    resid = 1 - common
    theta = np.diag(resid)
    if facet_residual_corr:
        for fc in pool.facets:
            idx = [items.index(it.id) for it in fc.items]
            for a in idx:
                for b in idx:
                    if a != b:
                        theta[a, b] = facet_residual_corr * np.sqrt(resid[a] * resid[b])
    for (a, b), r in (residual_corr or {}).items():
        if a not in items or b not in items:
            raise SpecificationError(f"residual_corr names unknown item(s): {a!r}, {b!r}")
        ia, ib = items.index(a), items.index(b)
        theta[ia, ib] = theta[ib, ia] = float(r) * np.sqrt(resid[ia] * resid[ib])
    implied = Matrices(mats.ov, mats.lv, lam, theta, mats.psi, mats.beta)
    if np.linalg.eigvalsh(implied_cov(implied)).min() <= 0:
        raise SpecificationError(
            "the implied item correlation matrix is not positive definite (residual correlations too large?)"
        )
    return theta


def _item_thresholds(items, thresholds, k, skew) -> np.ndarray:
    if isinstance(thresholds, Mapping):
        unknown = sorted(set(thresholds) - set(items))
        if unknown:
            raise SpecificationError(f"thresholds name items not in the pool: {unknown}")
        base = threshold_pattern("symmetric", k, skew=skew)
        return np.vstack([threshold_pattern(thresholds[i], k) if i in thresholds else base for i in items])
    return np.tile(threshold_pattern(thresholds, k, skew=skew), (len(items), 1))


def _jsonable(x):
    if x is None or isinstance(x, (int, float, str, bool)):
        return x
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, Mapping):
        return {("~".join(k) if isinstance(k, tuple) else str(k)): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return str(x)


def simulate(
    model: PopulationModel | ItemPool,
    n: int,
    *,
    seed: int | np.random.SeedSequence | None = None,
    rng: np.random.Generator | None = None,
    **population_options,
) -> pd.DataFrame:
    """Simulate item responses from a population model.

    Parameters
    ----------
    model : PopulationModel or ItemPool
        A pool is turned into ``PopulationModel.from_pool(pool, **population_options)``.
    n : int
        Number of respondents.
    seed : int or SeedSequence, optional
        Seed of :func:`numpy.random.default_rng`; the same seed gives identical data.
    rng : numpy.random.Generator, optional
        A generator to draw from instead of ``seed`` (for callers managing streams).

    Returns
    -------
    pandas.DataFrame
        One column per item (the model's item ids), one row per respondent; integer
        responses as respondents give them (reverse-keyed items answered in reverse),
        dtype ``int64``, or pandas ``Int64`` when values are missing; float for a
        continuous model. ``df.attrs`` holds ``careless_rows`` (row positions of the
        careless respondents), ``n_missing`` and ``seed``.

    Raises
    ------
    SpecificationError
        ``n`` below 1, or both ``seed`` and ``rng`` given.

    Examples
    --------
    >>> from allyscale import load_pool, simulate
    >>> df = simulate(load_pool("item_pools/allyship.yaml"), n=300, seed=1)  # doctest: +SKIP
    """
    if isinstance(model, ItemPool):
        model = PopulationModel.from_pool(model, **population_options)
    elif population_options:
        raise SpecificationError(
            f"population options {sorted(population_options)} apply only to a pool; "
            "build the PopulationModel with them instead"
        )
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise SpecificationError(f"n must be a positive integer, got {n!r}")
    from allyscale.limits import check_n

    check_n(int(n), len(model.items))  # before any memory is taken
    if rng is not None and seed is not None:
        raise SpecificationError("give seed or rng, not both")
    gen = rng if rng is not None else np.random.default_rng(seed)
    if model.validity is not None:
        if model.validity.retest is not None:
            raise SpecificationError(
                "the population has a retest wave, which is a second frame: use simulate_study(model, n) for both waves"
            )
        return _with_seed(simulate_study(model, n, rng=gen).data, seed)
    sigma = implied_cov(model.matrices)
    chol = np.linalg.cholesky(sigma)
    ystar = gen.standard_normal((n, len(model.items))) @ chol.T
    df = _respond(model, ystar, gen)
    df.attrs["seed"] = seed if isinstance(seed, (int, type(None))) else str(seed)
    return df


def _with_seed(df: pd.DataFrame, seed) -> pd.DataFrame:
    df.attrs["seed"] = seed if isinstance(seed, (int, type(None))) else str(seed)
    return df


def _respond(model: PopulationModel, ystar: np.ndarray, gen: np.random.Generator) -> pd.DataFrame:
    """Latent responses (scored direction) → responses as answered: thresholds, reverse keying,
    careless respondents and missing values, drawn from ``gen`` in that order."""
    n = ystar.shape[0]
    th = model.thresholds
    p = len(model.items)
    if th is None:
        s = np.where(model.reverse, -1.0, 1.0)
        values = ystar * s
        df = pd.DataFrame(values, columns=model.items)
    else:
        k = th.shape[1] + 1
        scored = (ystar[:, :, None] > th[None, :, :]).sum(axis=2)  # 0..K-1
        answered = np.where(model.reverse[None, :], k - 1 - scored, scored)
        n_careless = int(round(model.careless * n))
        careless_rows = np.sort(gen.choice(n, size=n_careless, replace=False)) if n_careless else np.array([], int)
        if n_careless:
            if model.careless_style == "random":
                answered[careless_rows] = gen.integers(0, k, size=(n_careless, p))
            else:
                answered[careless_rows] = gen.integers(0, k, size=(n_careless, 1))
        values = answered + model.scale_min
        df = pd.DataFrame(values.astype(np.int64), columns=model.items)
        df.attrs["careless_rows"] = careless_rows.tolist()
    if th is None:
        df.attrs["careless_rows"] = []
    miss = model.missing
    mask = np.zeros((n, p), dtype=bool)
    if miss["mechanism"] == "MCAR":
        mask = gen.random((n, p)) < miss["rate"]
    elif miss["mechanism"] == "MAR":
        ci = model.items.index(miss["cause"])
        ranks = pd.Series(df.iloc[:, ci]).rank(method="average").to_numpy()
        prob = 2 * miss["rate"] * (ranks - 1) / max(n - 1, 1)
        mask = gen.random((n, p)) < prob[:, None]
        mask[:, ci] = False
    if mask.any():
        df = df.astype("Int64" if th is not None else float).mask(mask)
    df.attrs["n_missing"] = int(mask.sum())
    return df


def _dumps_sidecar(model: PopulationModel, n: int, seed, data: pd.DataFrame, version: str) -> str:
    return json.dumps(
        {
            "allyscale": version,
            "n": n,
            "seed": seed,
            "careless_rows": data.attrs.get("careless_rows", []),
            "n_missing": data.attrs.get("n_missing", 0),
            "population": model.to_dict(),
        },
        indent=2,
    )


# =========================================================================== validity designs
def _check_name(name: Any, what: str) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise SpecificationError(f"{what} must be a non-empty name without surrounding spaces, got {name!r}")


def _is_count(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@dataclass(frozen=True)
class ExternalSpec:
    """An external measure simulated with the scale's items.

    Its true score ``E`` has unit variance and correlates ``corr[v]`` with each named latent
    variable ``v`` (a factor of the population model or an external measure listed before
    it). With the latent variables it does not name, ``E`` correlates as the named ones
    imply: ``E`` relates to them only through the named ones, ``cov(E, .) = Σ_{.n} Σ_nn⁻¹ c``
    (the regression of ``E`` on the named variables), so the joint covariance matrix is
    positive definite whenever ``c' Σ_nn⁻¹ c < 1``.

    Parameters
    ----------
    name : str
        The measure's name: a factor name for its items, or the column of its score.
    corr : mapping latent variable → r
        Population correlations of the true score (e.g. ``{"tr_emp": .6}``).
    items : int
        ``>= 2``: ordinal (or, for a continuous population, continuous) items
        ``<name>1 .. <name>k`` with latent responses ``lambda_j E + sqrt(1 - lambda_j²) e_j``,
        cut at ``thresholds`` into the population's categories. ``0``: one observed score
        ``name = sqrt(rel) E + sqrt(1 - rel) e`` (continuous, unit variance) whose
        reliability is ``reliability`` (Lord & Novick, 1968).
    loadings : float or (low, high)
        Standardized loadings of its items (a pair: evenly spaced from high to low).
    reliability : float
        Reliability of the observed score (``items=0``), in (0, 1].
    thresholds : "symmetric", "skewed", "uniform" or list
        Threshold pattern of its items (:func:`threshold_pattern`).
    """

    name: str
    corr: Mapping[str, float]
    items: int = 4
    loadings: float | tuple[float, float] = 0.7
    reliability: float = 0.8
    thresholds: str | Sequence[float] = "symmetric"

    def __post_init__(self) -> None:
        _check_name(self.name, "an external measure's name")
        if not isinstance(self.corr, Mapping) or not self.corr:
            raise SpecificationError(f"external measure {self.name!r}: corr must name at least one latent variable")
        for v, r in self.corr.items():
            if not -1 < float(r) < 1:
                raise SpecificationError(
                    f"external measure {self.name!r}: correlation with {v!r} must lie in (-1, 1), got {r}"
                )
        if not _is_count(self.items) or self.items < 0 or self.items == 1:
            raise SpecificationError(
                f"external measure {self.name!r}: items must be 0 (an observed score) or at least 2, got {self.items!r}"
            )
        lam = _spread(self.loadings, max(int(self.items), 1))
        if np.any((lam <= 0) | (lam >= 1)):
            raise SpecificationError(
                f"external measure {self.name!r}: loadings must lie in (0, 1), got {self.loadings}"
            )
        if not 0 < float(self.reliability) <= 1:
            raise SpecificationError(
                f"external measure {self.name!r}: reliability must lie in (0, 1], got {self.reliability}"
            )

    @property
    def columns(self) -> list[str]:
        """The data columns of the measure: its items, or its score."""
        return [f"{self.name}{j}" for j in range(1, int(self.items) + 1)] if self.items else [self.name]


@dataclass(frozen=True)
class OutcomeSpec:
    """A continuous criterion ``Y = w' eta + sqrt(1 - R²) e`` (unit variance).

    ``weights`` are standardized regression weights on latent variables (the population
    model's factors and external measures); ``R² = w' Σ w`` must be below 1.
    """

    weights: Mapping[str, float]
    name: str = "outcome"

    def __post_init__(self) -> None:
        _check_name(self.name, "the outcome's name")
        if not isinstance(self.weights, Mapping) or not self.weights:
            raise SpecificationError("the outcome needs weights on at least one latent variable")


@dataclass(frozen=True)
class GroupSpec:
    """Known groups: the focal group's latent means differ by ``shift`` (latent SD units).

    Latent variables that ``shift`` does not name differ as the named ones imply (the
    regression rule of :class:`ExternalSpec`: ``Σ_{.n} Σ_nn⁻¹ d``); within each group every
    latent variable keeps unit variance, so a shift is the latent d. The groups are the
    first ``n - round(focal n)`` rows (``labels[0]``, the reference) and the rest; the
    measurement model is the same in both (scalar invariance holds).
    """

    shift: Mapping[str, float]
    column: str = "group"
    labels: tuple[str, str] = ("reference", "focal")
    focal: float = 0.5

    def __post_init__(self) -> None:
        _check_name(self.column, "the group column")
        if not isinstance(self.shift, Mapping) or not self.shift:
            raise SpecificationError("known groups need a shift of at least one latent variable")
        labels = tuple(str(v) for v in self.labels)
        if len(labels) != 2 or labels[0] == labels[1]:
            raise SpecificationError(f"groups need two different labels, got {self.labels!r}")
        object.__setattr__(self, "labels", labels)
        if not 0 < float(self.focal) < 1:
            raise SpecificationError(f"the focal group's share must lie in (0, 1), got {self.focal}")


@dataclass(frozen=True)
class RetestSpec:
    """A second wave of the same respondents (matched by an id column).

    Wave-2 factors ``eta_2 = mu + S (eta_1 - mu) + u`` with ``S = diag(stability)`` and
    innovations ``u ~ N(0, Φ - S Φ S)``, so every factor keeps its covariance matrix ``Φ``
    (and its group means) at wave 2 and correlates ``stability[f]`` with itself across the
    waves; the measurement model is the same at both waves (longitudinal invariance). Item
    residuals correlate ``residual_corr`` across waves (item-specific variance). Unnamed
    latent variables take the mean of the named stabilities.
    """

    stability: float | Mapping[str, float] = 0.8
    residual_corr: float = 0.0
    id: str = "id"

    def __post_init__(self) -> None:
        _check_name(self.id, "the id column")
        vals = self.stability.values() if isinstance(self.stability, Mapping) else [self.stability]
        if isinstance(self.stability, Mapping) and not self.stability:
            raise SpecificationError("stability names no latent variable")
        for v in vals:
            if not 0 <= float(v) < 1:
                raise SpecificationError(f"a stability must lie in [0, 1), got {v}")
        if not 0 <= float(self.residual_corr) < 1:
            raise SpecificationError(f"residual_corr must lie in [0, 1), got {self.residual_corr}")


@dataclass(frozen=True)
class ValiditySpec:
    """What is simulated with the items: external measures, an outcome, known groups, a retest wave."""

    external: tuple[ExternalSpec, ...] = ()
    outcome: OutcomeSpec | None = None
    groups: GroupSpec | None = None
    retest: RetestSpec | None = None

    def __post_init__(self) -> None:
        ext = tuple(self.external)
        for e in ext:
            if not isinstance(e, ExternalSpec):
                raise SpecificationError(f"external measures must be ExternalSpec, got {type(e).__name__}")
        object.__setattr__(self, "external", ext)
        for name, value, cls in (
            ("outcome", self.outcome, OutcomeSpec),
            ("groups", self.groups, GroupSpec),
            ("retest", self.retest, RetestSpec),
        ):
            if value is not None and not isinstance(value, cls):
                raise SpecificationError(f"{name} must be a {cls.__name__}, got {type(value).__name__}")


@dataclass(frozen=True)
class ValidityDesign:
    """A :class:`ValiditySpec` resolved against a population model (see :func:`validity_design`).

    Attributes
    ----------
    names : list of str
        The latent variables: the model's factors, then the external measures.
    sigma : ndarray
        Their covariance (correlation) matrix.
    shift : ndarray
        The focal group's latent mean differences (zeros without groups).
    stability : ndarray
        Per factor of the model (ones' place: no retest → NaN).
    outcome_r2 : float or None
    """

    spec: ValiditySpec
    names: list[str]
    n_factors: int
    sigma: np.ndarray
    shift: np.ndarray
    stability: np.ndarray
    innovation_chol: np.ndarray | None
    weights: np.ndarray | None
    outcome_r2: float | None

    @property
    def factors(self) -> list[str]:
        return self.names[: self.n_factors]

    def focal_rows(self, n: int) -> np.ndarray:
        """Which of ``n`` rows belong to the focal group (the last ``round(focal n)``)."""
        mask = np.zeros(n, dtype=bool)
        g = self.spec.groups
        if g is not None:
            k = int(round(float(g.focal) * n))
            if k < 1 or k > n - 1:
                raise SpecificationError(f"n = {n} leaves a group of known groups empty (focal share {g.focal})")
            mask[n - k :] = True
        return mask

    def truth(self) -> dict[str, Any]:
        """The population values the analyses estimate."""
        m = self.n_factors
        ext = [e.name for e in self.spec.external]
        out: dict[str, Any] = {
            "correlations": {
                e: {f: float(self.sigma[self.names.index(e), i]) for i, f in enumerate(self.factors)} for e in ext
            },
            "external_correlations": {
                a: {b: float(self.sigma[self.names.index(a), self.names.index(b)]) for b in ext} for a in ext
            },
        }
        if self.spec.groups is not None:
            out["latent_d"] = {v: float(d) for v, d in zip(self.names, self.shift)}
            # the groups pooled: Σ + π(1 - π) δδ', as correlations (what a one-group analysis estimates)
            pi = float(self.spec.groups.focal)
            pooled = self.sigma + pi * (1 - pi) * np.outer(self.shift, self.shift)
            sd = np.sqrt(np.diag(pooled))
            pooled = pooled / np.outer(sd, sd)
            out["correlations_pooled"] = {
                e: {f: float(pooled[self.names.index(e), i]) for i, f in enumerate(self.factors)} for e in ext
            }
        if self.spec.retest is not None:
            out["stability"] = {f: float(s) for f, s in zip(self.names[:m], self.stability)}
            if self.spec.groups is not None:  # over both groups the mean difference adds to both waves
                v = float(self.spec.groups.focal) * (1 - float(self.spec.groups.focal)) * self.shift[:m] ** 2
                out["stability_pooled"] = {
                    f: float((s + x) / (1 + x)) for f, s, x in zip(self.names[:m], self.stability, v)
                }
        if self.weights is not None:
            cov = self.sigma @ self.weights
            out["outcome"] = {
                "r2": float(self.outcome_r2),
                "corr": {v: float(c) for v, c in zip(self.names, cov)},
                "weights": {v: float(w) for v, w in zip(self.names, self.weights) if w},
            }
        return out

    def to_dict(self) -> dict[str, Any]:
        """The specification and its population values (for a simulation sidecar)."""
        s = self.spec
        spec = {
            "external": [
                {
                    "name": e.name,
                    "corr": dict(e.corr),
                    "items": int(e.items),
                    "loadings": _jsonable(e.loadings),
                    "reliability": float(e.reliability),
                    "thresholds": _jsonable(e.thresholds),
                    "columns": e.columns,
                }
                for e in s.external
            ],
            "outcome": None if s.outcome is None else {"name": s.outcome.name, "weights": dict(s.outcome.weights)},
            "groups": None
            if s.groups is None
            else {
                "column": s.groups.column,
                "labels": list(s.groups.labels),
                "focal": float(s.groups.focal),
                "shift": dict(s.groups.shift),
            },
            "retest": None
            if s.retest is None
            else {
                "stability": _jsonable(s.retest.stability),
                "residual_corr": float(s.retest.residual_corr),
                "id": s.retest.id,
            },
        }
        return _jsonable({"spec": spec, "truth": self.truth()})


def _implied_by(sigma: np.ndarray, named: list[int], values: np.ndarray, what: str) -> np.ndarray:
    """``Σ_{.n} Σ_nn⁻¹ v``: what values on the named variables imply for all of them."""
    try:
        return sigma[:, named] @ np.linalg.solve(sigma[np.ix_(named, named)], values)
    except np.linalg.LinAlgError:
        raise SpecificationError(f"{what}: the named latent variables are linearly dependent") from None


def validity_design(model: PopulationModel) -> ValidityDesign:
    """Resolve a model's :class:`ValiditySpec`: the joint covariance matrix of the factors and the
    external measures, the group shift, the stabilities and the outcome's weights.

    Raises
    ------
    SpecificationError
        No validity spec; an unknown latent variable; an impossible correlation (the true
        score's residual variance ``1 - c' Σ_nn⁻¹ c`` not positive), an outcome with
        ``R² >= 1``, stabilities whose innovation covariance ``Φ - S Φ S`` is not positive
        definite; two columns of the same name.
    """
    spec = model.validity
    if spec is None:
        raise SpecificationError("the population model has no validity spec (use with_validity)")
    factors = list(model.matrices.lv)
    phi = latent_cov(model.matrices)
    if np.linalg.eigvalsh(phi).min() <= 1e-10:
        raise SpecificationError("the factors' covariance matrix is singular; external measures cannot be added")
    names = list(factors)
    sigma = phi.copy()
    for e in spec.external:
        if e.name in names:
            raise SpecificationError(
                f"external measure {e.name!r} has the name of a latent variable already defined ({names})"
            )
        unknown = [v for v in e.corr if v not in names]
        if unknown:
            raise SpecificationError(
                f"external measure {e.name!r}: corr names {unknown}, not factors of the model "
                f"or earlier external measures ({names})"
            )
        if e.items and model.categories is not None:
            threshold_pattern(e.thresholds, model.categories)  # checked now, used when drawing
        named = [names.index(v) for v in e.corr]
        c = np.array([float(e.corr[v]) for v in e.corr])
        w = np.linalg.solve(sigma[np.ix_(named, named)], c)
        resid = 1 - float(c @ w)
        if resid <= 1e-8:
            raise SpecificationError(
                f"external measure {e.name!r}: the correlations {dict(e.corr)} are impossible "
                f"together with the correlations of {[names[i] for i in named]} (the true "
                f"score's residual variance would be {resid:.3g})"
            )
        cov = _implied_by(sigma, named, c, f"external measure {e.name!r}")
        sigma = np.block([[sigma, cov[:, None]], [cov[None, :], np.ones((1, 1))]])
        names.append(e.name)
    shift = np.zeros(len(names))
    if spec.groups is not None:
        unknown = [v for v in spec.groups.shift if v not in names]
        if unknown:
            raise SpecificationError(f"groups: shift names {unknown}, not latent variables ({names})")
        named = [names.index(v) for v in spec.groups.shift]
        shift = _implied_by(sigma, named, np.array([float(v) for v in spec.groups.shift.values()]), "groups")
    m = len(factors)
    stab = np.full(m, np.nan)
    chol_u = None
    if spec.retest is not None:
        st = spec.retest.stability
        if isinstance(st, Mapping):
            unknown = [v for v in st if v not in factors]
            if unknown:
                raise SpecificationError(f"retest: stability names {unknown}, not factors of the model ({factors})")
            default = float(np.mean([float(v) for v in st.values()]))
            stab = np.array([float(st.get(f, default)) for f in factors])
        else:
            stab = np.full(m, float(st))
        innov = phi - np.diag(stab) @ phi @ np.diag(stab)
        if np.linalg.eigvalsh(innov).min() <= 1e-10:
            raise SpecificationError(
                f"retest: the stabilities {dict(zip(factors, stab.round(3).tolist()))} leave "
                "no positive-definite innovation covariance (Φ - SΦS); make them more alike "
                "across correlated factors"
            )
        chol_u = np.linalg.cholesky(innov)
    weights, r2 = None, None
    if spec.outcome is not None:
        unknown = [v for v in spec.outcome.weights if v not in names]
        if unknown:
            raise SpecificationError(f"outcome: weights name {unknown}, not latent variables ({names})")
        weights = np.array([float(spec.outcome.weights.get(v, 0.0)) for v in names])
        r2 = float(weights @ sigma @ weights)
        if not r2 < 1:
            raise SpecificationError(f"outcome: the weights explain R² = {r2:.3f} >= 1 of its variance")
    cols = list(model.items)
    for e in spec.external:
        cols += e.columns
    cols += [
        x
        for x in (
            spec.outcome.name if spec.outcome else None,
            spec.groups.column if spec.groups else None,
            spec.retest.id if spec.retest else None,
        )
        if x
    ]
    seen: set[str] = set()
    for c in cols:
        if c in seen:
            raise SpecificationError(
                f"the simulated data would have two columns named {c!r}; rename the "
                "external measure, outcome, group or id column"
            )
        seen.add(c)
    return ValidityDesign(spec, names, m, sigma, shift, stab, chol_u, weights, r2)


def _validity_draws(
    design: ValidityDesign, model: PopulationModel, eta: np.ndarray, gen: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Given unshifted factor scores ``eta ~ N(0, Φ)``: the shifted scores, the focal rows and
    the columns of the external measures, the outcome and the group (drawn from ``gen``)."""
    n, m = eta.shape
    spec = design.spec
    focal = design.focal_rows(n)
    sig = design.sigma
    q = len(sig) - m
    ext = np.zeros((n, q))
    if q:
        b = np.linalg.solve(sig[:m, :m], sig[:m, m:]).T  # q x m
        r = sig[m:, m:] - b @ sig[:m, m:]
        ext = eta @ b.T + gen.standard_normal((n, q)) @ np.linalg.cholesky(r).T
    lat = np.column_stack([eta, ext]) + np.outer(focal, design.shift)
    cols: dict[str, Any] = {}
    k = model.categories
    for j, e in enumerate(spec.external):
        true = lat[:, m + j]
        if e.items:
            lam = _spread(e.loadings, int(e.items))
            ys = true[:, None] * lam + gen.standard_normal((n, int(e.items))) * np.sqrt(1 - lam**2)
            if k is None:
                vals = ys
            else:
                th = threshold_pattern(e.thresholds, k)
                vals = (ys[:, :, None] > th[None, None, :]).sum(axis=2) + model.scale_min
            for c, v in zip(e.columns, vals.T):
                cols[c] = v
        else:
            rel = float(e.reliability)
            cols[e.name] = np.sqrt(rel) * true + np.sqrt(1 - rel) * gen.standard_normal(n)
    if spec.outcome is not None:
        cols[spec.outcome.name] = lat @ design.weights + np.sqrt(1 - design.outcome_r2) * gen.standard_normal(n)
    if spec.groups is not None:
        cols[spec.groups.column] = np.where(focal, spec.groups.labels[1], spec.groups.labels[0])
    return lat[:, :m], focal, pd.DataFrame(cols)


def _wave2_factors(design: ValidityDesign, eta: np.ndarray, focal: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Wave-2 factor scores ``mu + S (eta - mu) + u`` (see :class:`RetestSpec`)."""
    n, m = eta.shape
    mu = np.outer(focal, design.shift[:m])
    return mu + (eta - mu) * design.stability + gen.standard_normal((n, m)) @ design.innovation_chol.T


@dataclass(frozen=True)
class SimulatedStudy:
    """Data of a simulated validation study and the population values behind them.

    Attributes
    ----------
    data : DataFrame
        Wave 1: (the id column with a retest,) the items, the external measures' items or
        scores, the outcome and the group column.
    retest : DataFrame or None
        Wave 2: the id column and the items (the same respondents, the same order).
    truth : dict
        :meth:`ValidityDesign.truth`: latent correlations with the external measures
        (within groups; ``correlations_pooled`` over both groups), latent d of the groups,
        stabilities, the outcome's R².
    """

    data: pd.DataFrame
    retest: pd.DataFrame | None
    truth: dict


def _factor_chols(model: PopulationModel) -> tuple[np.ndarray, np.ndarray]:
    phi = latent_cov(model.matrices)
    try:
        return np.linalg.cholesky(phi), np.linalg.cholesky(model.matrices.theta)
    except np.linalg.LinAlgError:
        raise SpecificationError(
            "the factor or residual covariance matrix is not positive definite; the "
            "study cannot be simulated from factor scores"
        ) from None


def simulate_study(
    model: PopulationModel,
    n: int,
    *,
    seed: int | np.random.SeedSequence | None = None,
    rng: np.random.Generator | None = None,
    pairs: Mapping[str, Any] | None = None,
) -> SimulatedStudy:
    """Simulate a validation study: items with external measures, an outcome, known groups and a retest.

    The factor scores are drawn first, ``eta ~ N(0, Φ)``; the external measures' true scores
    given them, ``E | eta ~ N(B eta, Σ_EE - B Σ_ηE)`` with ``B = Σ_Eη Φ⁻¹``; the focal group's
    latent variables are shifted; the items' latent responses are ``Λ eta + e`` with
    ``e ~ N(0, Θ)`` and are cut, reverse-keyed and contaminated as by :func:`simulate`. The
    retest wave draws wave-2 factors (:class:`RetestSpec`) and residuals correlated
    ``residual_corr`` with wave 1's, through the same measurement model.

    Parameters
    ----------
    model : PopulationModel
        With a validity spec (:meth:`PopulationModel.with_validity`).
    n : int
        Respondents (or targets, with ``pairs``).
    seed, rng
        As in :func:`simulate`.
    pairs : mapping, optional
        Simulate a self-informant design instead (the options of
        :func:`allyscale.simulate_pairs`): the external measures, outcome and groups belong to
        the targets (their self-reported or observed scores), the retest wave is the targets'
        self-report at wave 2 (the paired design's item-specific residual correlation
        carries into it; ``RetestSpec.residual_corr`` must be 0).

    Returns
    -------
    SimulatedStudy

    Raises
    ------
    SpecificationError
        A model without a validity spec; bad ``n``; both ``seed`` and ``rng``.

    References
    ----------
    Cronbach, L. J., & Meehl, P. E. (1955). Construct validity in psychological tests.
    Psychological Bulletin, 52, 281-302.
    Lord, F. M., & Novick, M. R. (1968). Statistical theories of mental test scores. Addison-Wesley.

    Examples
    --------
    >>> pm = PopulationModel.from_pool(pool).with_validity(external=[ExternalSpec("arbi", {"tr_emp": .6})],
    ...                                                     retest=RetestSpec(.8))  # doctest: +SKIP
    >>> study = simulate_study(pm, 500, seed=1)  # doctest: +SKIP
    >>> study.data, study.retest, study.truth["stability"]  # doctest: +SKIP
    """
    if not isinstance(model, PopulationModel):
        raise SpecificationError(f"model must be a PopulationModel, got {type(model).__name__}")
    design = validity_design(model)
    if pairs is not None:
        if rng is not None:
            raise SpecificationError("the paired design is seeded by seed=, not rng=")
        data, wave2 = _simulate_pairs(model, n, seed=seed, **dict(pairs))
        return SimulatedStudy(data, wave2, design.truth())
    if not _is_count(n) or n < 2:
        raise SpecificationError(f"n must be an integer >= 2, got {n!r}")
    from allyscale.limits import check_n

    check_n(int(n), len(model.items))
    if rng is not None and seed is not None:
        raise SpecificationError("give seed or rng, not both")
    gen = rng if rng is not None else np.random.default_rng(seed)
    chol_phi, chol_theta = _factor_chols(model)
    lam = model.matrices.lambda_
    p = len(model.items)
    eta0 = gen.standard_normal((n, len(chol_phi))) @ chol_phi.T
    eta, focal, extra = _validity_draws(design, model, eta0, gen)
    e1 = gen.standard_normal((n, p)) @ chol_theta.T
    wave1 = _respond(model, eta @ lam.T + e1, gen)
    rt = design.spec.retest
    wave2 = None
    if rt is not None:
        eta2 = _wave2_factors(design, eta, focal, gen)
        rc = float(rt.residual_corr)
        e2 = rc * e1 + np.sqrt(1 - rc**2) * (gen.standard_normal((n, p)) @ chol_theta.T)
        wave2 = _respond(model, eta2 @ lam.T + e2, gen)
        ids = np.arange(1, n + 1)
        wave2.insert(0, rt.id, ids)
        wave1.insert(0, rt.id, ids)
    attrs = dict(wave1.attrs)
    data = pd.concat([wave1, extra], axis=1)
    data.attrs = {**attrs, "seed": seed if isinstance(seed, (int, type(None))) else str(seed)}
    return SimulatedStudy(data, wave2, design.truth())


# =========================================================================== the paired self-informant design
#: The default pair of forms (the allyship pool's form ids).
FORMS: tuple[str, str] = ("self", "informant")


def _per_factor(
    value: float | Mapping[str, float], factors: Sequence[str], name: str, low: float = -1.0, high: float = 1.0
) -> np.ndarray:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(factors))
        if unknown:
            raise SpecificationError(f"{name} names factor(s) not in the population model: {unknown}")
        missing = [f for f in factors if f not in value]
        if missing:
            raise SpecificationError(f"{name} gives no value for factor(s) {missing}")
        out = np.array([float(value[f]) for f in factors])
    else:
        out = np.full(len(factors), float(value))
    bad = [(f, v) for f, v in zip(factors, out) if not low <= v <= high]
    if bad:
        raise SpecificationError(f"{name} must lie in [{low}, {high}]; got {bad[0][1]} for {bad[0][0]!r}")
    return out


def simulate_pairs(
    population,
    n_targets: int,
    informants: int = 1,
    *,
    seed: int | np.random.SeedSequence | None = None,
    self_other_corr: float | Mapping[str, float] = 0.5,
    method_loading: float = 0.0,
    residual_corr: float = 0.0,
    leniency: float | Mapping[str, float] = 0.0,
    lenient_form: str = "informant",
    forms: Sequence[str] = FORMS,
    sep: str = "_",
    target: str = "target",
    **population_options,
) -> pd.DataFrame:
    """Simulate a self-informant study: each target rated by themself and ``informants`` others.

    The generating model, for factor ``f`` of the population model and item ``i``:

    * target traits ``T ~ N(0, Phi)`` (the population's factor covariance matrix); the
      self-report's factors are ``eta_self = T``;
    * informant ``k``'s factors ``eta_k = r_f T_f + sqrt(1 - r_f^2) M_kf`` with
      informant-specific parts ``M_k ~ N(0, Phi)`` independent of ``T``: the latent
      self-other correlation of factor ``f`` is ``r_f`` (``self_other_corr``), two
      informants of one target correlate ``r_f^2`` (the trait-specific method effect of
      the correlated-trait-correlated-method-minus-one model, Eid et al., 2003);
    * latent responses ``y*_i = lambda_i' eta + e_i + m G`` with the population's loadings
      and residual variances, residuals of the same item correlated ``residual_corr``
      across forms and informants (item-specific variance a target carries into every
      rating), and a form-wide method factor ``G`` (one per rating, loading
      ``method_loading``; e.g. self-enhancement, halo), rescaled so that every latent
      response keeps its population variance;
    * responses: the population's thresholds, shifted down by ``leniency`` (in latent
      standard deviations) for the items of ``lenient_form``; a shift on some items only
      makes those items non-invariant across forms (their intercepts/thresholds differ),
      the same shift on every item is a difference in latent means.

    Reverse-keyed items are answered in reverse in both forms, as :func:`allyscale.simulate`.

    Parameters
    ----------
    population : PopulationModel or ItemPool
        A pool is turned into ``PopulationModel.from_pool(pool, **population_options)``.
        Careless responding and missing values of the population model are not simulated
        here (a :class:`SpecificationError` says so).
    n_targets : int
        Number of targets (rated persons).
    informants : int
        Informants per target. One: wide data, one row per target. Several: long data,
        one row per target-informant pair with an ``informant`` column (1..K) and the
        target's self-report repeated on each row.
    seed : int or SeedSequence, optional
        Seed of :func:`numpy.random.default_rng`; the same seed gives identical data.
    self_other_corr : float or mapping factor → r
        Latent correlation of self-report and informant report per factor (default .5).
    method_loading : float
        Loading of a form-wide method factor, in ``[0, 1)``.
    residual_corr : float
        Correlation of an item's residuals across forms and informants, in ``[0, 1)``.
    leniency : float or mapping item → shift
        Downward shift of the thresholds (continuous items: upward shift of the mean) of
        ``lenient_form``, in latent standard deviations.
    lenient_form : str
        The form whose ratings are lenient (one of ``forms``).
    forms : (str, str)
        Form names: the reference (self-report) form first.
    sep : str
        Separator of item id and form in the column names.
    target : str
        Name of the target id column.

    Returns
    -------
    DataFrame
        Wide or long, as above; integer responses (float for a continuous population).
        ``attrs``: ``design`` (the options, for a sidecar), ``seed``.

    Raises
    ------
    SpecificationError
        Bad counts, correlations out of range, unknown items or factors, both forms equal,
        a population with careless responding or missingness.

    References
    ----------
    Eid et al. (2003); Kenny, Kashy & Cook (2006).

    Examples
    --------
    >>> import allyscale as al
    >>> pm = al.PopulationModel.from_pool(al.load_pool("item_pools/allyship.yaml"))  # doctest: +SKIP
    >>> pairs = al.simulate_pairs(pm, 300, seed=1, leniency={"tr_emp1": 0.5})  # doctest: +SKIP
    """
    if isinstance(population, ItemPool):
        population = PopulationModel.from_pool(population, **population_options)
        population_options = {}
    if (
        isinstance(population, PopulationModel)
        and population.validity is not None
        and population.validity.retest is not None
    ):
        raise SpecificationError(
            "the population has a retest wave, which is a second frame: use "
            "allyscale.simulate_study(population, n_targets, pairs={...})"
        )
    return _simulate_pairs(
        population,
        n_targets,
        informants,
        seed=seed,
        self_other_corr=self_other_corr,
        method_loading=method_loading,
        residual_corr=residual_corr,
        leniency=leniency,
        lenient_form=lenient_form,
        forms=forms,
        sep=sep,
        target=target,
        **population_options,
    )[0]


def _simulate_pairs(
    population,
    n_targets: int,
    informants: int = 1,
    *,
    seed: int | np.random.SeedSequence | None = None,
    self_other_corr: float | Mapping[str, float] = 0.5,
    method_loading: float = 0.0,
    residual_corr: float = 0.0,
    leniency: float | Mapping[str, float] = 0.0,
    lenient_form: str = "informant",
    forms: Sequence[str] = FORMS,
    sep: str = "_",
    target: str = "target",
    **population_options,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """:func:`simulate_pairs` and, with a population's validity spec, the targets' external
    measures, outcome and groups (columns of the paired data) and their wave-2 self-report
    (the second frame, or None)."""
    if isinstance(population, ItemPool):
        population = PopulationModel.from_pool(population, **population_options)
    elif population_options:
        raise SpecificationError(f"population options {sorted(population_options)} apply only to a pool")
    if not isinstance(population, PopulationModel):
        raise SpecificationError(f"population must be a PopulationModel or ItemPool, got {type(population).__name__}")
    for name, value, low in (("n_targets", n_targets, 2), ("informants", informants, 1)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise SpecificationError(f"{name} must be an integer >= {low}, got {value!r}")
    forms = tuple(str(f) for f in forms)
    if len(forms) != 2 or forms[0] == forms[1] or not all(forms):
        raise SpecificationError(f"forms must be two different names, got {forms!r}")
    if lenient_form not in forms:
        raise SpecificationError(f"lenient_form {lenient_form!r} is not one of the forms {forms}")
    if not 0 <= method_loading < 1:
        raise SpecificationError(f"method_loading must lie in [0, 1), got {method_loading}")
    if not 0 <= residual_corr < 1:
        raise SpecificationError(f"residual_corr must lie in [0, 1), got {residual_corr}")
    if population.careless or population.missing.get("rate"):
        raise SpecificationError(
            "simulate_pairs does not simulate careless responding or missing values; build the "
            "population model without them"
        )
    mats = population.matrices
    items, factors = list(population.items), list(mats.lv)
    loading = [f for j, f in enumerate(factors) if np.any(mats.lambda_[:, j] != 0)]
    if isinstance(self_other_corr, Mapping):  # factors without items (a second-order factor) may be left out
        self_other_corr = {**{f: 0.5 for f in factors if f not in loading}, **self_other_corr}
    r = _per_factor(self_other_corr, factors, "self_other_corr")
    p, m = len(items), len(factors)
    if isinstance(leniency, Mapping):
        unknown = sorted(set(leniency) - set(items))
        if unknown:
            raise SpecificationError(f"leniency names item(s) not in the population model: {unknown}")
        shift = np.array([float(leniency.get(i, 0.0)) for i in items])
    else:
        shift = np.full(p, float(leniency))
    gen = np.random.default_rng(seed)
    # the factors' total covariance (second-order factors enter through B): y* = Lambda eta with
    # eta ~ N(0, (I - B)^-1 Psi (I - B)^-T)
    phi = latent_cov(mats)
    lam = mats.lambda_
    chol_phi = np.linalg.cholesky(phi + 1e-12 * np.eye(m))
    theta = mats.theta
    sigma = implied_cov(mats)
    chol_theta = np.linalg.cholesky(theta + 1e-12 * np.eye(p))
    scale = np.sqrt(np.diag(sigma) / (np.diag(sigma) + method_loading**2))
    n, k = int(n_targets), int(informants)
    t = gen.standard_normal((n, m)) @ chol_phi.T
    design = None
    if population.validity is not None:  # the targets' external measures, outcome and groups
        design = validity_design(population)
        if design.spec.retest is not None and design.spec.retest.residual_corr:
            raise SpecificationError(
                "in the paired design the item residuals carry into the retest by "
                "residual_corr of the pairs; give the RetestSpec residual_corr = 0"
            )
        t, focal, extra = _validity_draws(design, population, t, gen)
    shared = gen.standard_normal((n, p)) @ chol_theta.T  # item-specific part carried into every rating

    def rating(eta):
        own = gen.standard_normal((n, p)) @ chol_theta.T
        e = np.sqrt(residual_corr) * shared + np.sqrt(1 - residual_corr) * own
        g = gen.standard_normal((n, 1)) * method_loading
        return (eta @ lam.T + e + g) * scale

    ys = rating(t)
    yk = [rating(t * r + np.sqrt(1 - r**2) * (gen.standard_normal((n, m)) @ chol_phi.T)) for _ in range(k)]
    sd = np.sqrt(np.diag(sigma))

    def respond(y, lenient):
        s = shift if lenient else np.zeros(p)
        if population.thresholds is None:
            return np.where(population.reverse, -1.0, 1.0) * (y + s * sd)
        th = population.thresholds - (s * sd)[:, None]
        kc = th.shape[1] + 1
        scored = (y[:, :, None] > th[None, :, :]).sum(axis=2)
        answered = np.where(population.reverse[None, :], kc - 1 - scored, scored)
        return (answered + population.scale_min).astype(np.int64)

    self_resp = respond(ys, lenient_form == forms[0])
    inf_resp = [respond(y, lenient_form == forms[1]) for y in yk]
    cols_self = [f"{i}{sep}{forms[0]}" for i in items]
    cols_inf = [f"{i}{sep}{forms[1]}" for i in items]
    ids = np.arange(1, n + 1)
    if k == 1:
        out = pd.concat(
            [
                pd.DataFrame({target: ids}),
                pd.DataFrame(self_resp, columns=cols_self),
                pd.DataFrame(inf_resp[0], columns=cols_inf),
            ],
            axis=1,
        )
    else:
        parts = []
        for j, resp in enumerate(inf_resp, start=1):
            parts.append(
                pd.concat(
                    [
                        pd.DataFrame({target: ids, "informant": j}),
                        pd.DataFrame(self_resp, columns=cols_self),
                        pd.DataFrame(resp, columns=cols_inf),
                    ],
                    axis=1,
                )
            )
        out = pd.concat(parts, ignore_index=True).sort_values([target, "informant"], kind="stable")
        out = out.reset_index(drop=True)
    wave2 = None
    if design is not None:
        if design.spec.retest is not None:  # the targets' self-report at wave 2
            resp2 = respond(rating(_wave2_factors(design, t, focal, gen)), lenient_form == forms[0])
            wave2 = pd.concat([pd.DataFrame({target: ids}), pd.DataFrame(resp2, columns=items)], axis=1)
        extra.insert(0, target, ids)
        out = out.merge(extra, on=target, how="left", validate="many_to_one")
    out.attrs["seed"] = seed if isinstance(seed, (int, type(None))) else str(seed)
    out.attrs["design"] = {
        "n_targets": n,
        "informants": k,
        "forms": list(forms),
        "sep": sep,
        "target": target,
        "self_other_corr": dict(zip(factors, r.tolist())),
        "method_loading": float(method_loading),
        "residual_corr": float(residual_corr),
        "lenient_form": lenient_form,
        "leniency": {i: float(s) for i, s in zip(items, shift) if s != 0},
    }
    return out, wave2


# ------------------------------------------------------------------------- column names
def paired_columns(
    data: pd.DataFrame, items: Sequence[str], forms: Sequence[str] = FORMS, sep: str = "_"
) -> dict[str, tuple[str, str]]:
    """Map each base item to its two columns, ``{item: (item<sep>form1, item<sep>form2)}``.

    Raises
    ------
    DataError
        A column missing from the data (all missing columns are listed).
    SpecificationError
        Forms that are not two different names.
    """
    forms = tuple(forms)
    if len(forms) != 2 or forms[0] == forms[1]:
        raise SpecificationError(f"pairs must name two different forms, got {forms!r}")
    out = {i: (f"{i}{sep}{forms[0]}", f"{i}{sep}{forms[1]}") for i in items}
    absent = [c for pair in out.values() for c in pair if c not in data.columns]
    if absent:
        raise DataError(
            f"paired data need columns <item>{sep}<form> for forms {forms[0]!r} and {forms[1]!r}; "
            f"missing: {', '.join(absent[:12])}" + (f" (and {len(absent) - 12} more)" if len(absent) > 12 else "")
        )
    return out


from allyscale._callable import make_callable  # noqa: E402 - after the function it makes the module call

make_callable(__name__, simulate)
