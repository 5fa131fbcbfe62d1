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
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from allyscale._core.lisrel import Matrices, implied_cov, latent_cov
from allyscale.errors import ModelSyntaxError, SpecificationError
from allyscale.pool import ItemPool
from allyscale.syntax import model_variables, parse_model

__all__ = ["PopulationModel", "simulate", "threshold_pattern"]

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
        raise SpecificationError(f"explicit thresholds need {categories - 1} values for {categories} categories, "
                                 f"got {th.size}")
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
    ) -> "PopulationModel":
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
        p = len(items)
        f_ids = [f.id for f in pool.factors]
        k = categories or pool.scale.n_categories
        factor_of = {it.id: it.factor for it in pool.items}
        # own loadings
        lam_own = np.zeros(p)
        if isinstance(loadings, Mapping):
            unknown = sorted(set(loadings) - set(items))
            if unknown:
                raise SpecificationError(f"loadings name items not in the pool: {unknown}")
            default = _spread((0.55, 0.80), 1)[0]
            lam_own = np.array([float(loadings.get(i, default)) for i in items])
        else:
            for f in pool.factors:
                idx = [items.index(it.id) for it in f.items]
                lam_own[idx] = _spread(loadings, len(idx))
        if structure not in ("correlated", "second_order", "bifactor"):
            raise SpecificationError(f"unknown population structure {structure!r}; "
                                     "use correlated, second_order or bifactor")
        lv = list(f_ids)
        if structure == "second_order":
            lv.append(pool.general_id)
        if structure == "bifactor":
            lv.insert(0, pool.general_id)
        if method_loading and any(pool.reverse_items):
            lv.append("method_reverse")
        m = len(lv)
        lam = np.zeros((p, m))
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
        mats = Matrices(items, lv, lam, np.zeros((p, p)), psi, beta)
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
        mats.theta = theta
        if np.linalg.eigvalsh(implied_cov(mats)).min() <= 0:
            raise SpecificationError("the implied item correlation matrix is not positive definite "
                                     "(residual correlations too large?)")
        th = _item_thresholds(items, thresholds, k, skew)
        options = {
            "source": "pool", "pool": pool.id, "structure": structure, "loadings": _jsonable(loadings),
            "factor_corr": _jsonable(factor_corr), "second_order": _jsonable(second_order),
            "general_loadings": _jsonable(general_loadings), "categories": k, "thresholds": _jsonable(thresholds),
            "skew": skew, "cross_loadings": _jsonable(cross_loadings), "residual_corr": _jsonable(residual_corr),
            "facet_residual_corr": facet_residual_corr, "method_loading": method_loading, "careless": careless,
            "careless_style": careless_style, "missing": missing, "missing_mechanism": missing_mechanism,
            "missing_cause": missing_cause,
        }
        rev = np.array([pool.item(i).reverse for i in items])
        return cls._validated(mats, items, rev, th, pool.scale.min, careless, careless_style,
                              missing, missing_mechanism, missing_cause, options)

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
    ) -> "PopulationModel":
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
                    raise ModelSyntaxError(f"line {s.line}: non-zero intercepts/means are not supported in "
                                           "population models")
                continue
            if fixed is None:
                raise ModelSyntaxError(f"line {s.line}: {s.lhs} {s.op} {s.rhs} has no value; a population "
                                       f"model needs one (e.g. 0.7*{s.rhs})")
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
        options = {"source": "lavaan", "syntax": syntax, "categories": categories, "thresholds": _jsonable(thresholds),
                   "skew": skew, "standardized": standardized, "careless": careless,
                   "careless_style": careless_style, "missing": missing, "missing_mechanism": missing_mechanism,
                   "missing_cause": missing_cause}
        return cls._validated(mats, ov, np.zeros(p, dtype=bool), th, scale_min, careless, careless_style,
                              missing, missing_mechanism, missing_cause, options)

    @classmethod
    def _validated(cls, mats, items, rev, th, scale_min, careless, careless_style, missing, mechanism, cause,
                   options) -> "PopulationModel":
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
        miss = {"mechanism": "none" if missing == 0 else mechanism, "rate": float(missing),
                "cause": (cause or items[0]) if mechanism == "MAR" and missing else None}
        return cls(mats, list(items), np.asarray(rev, dtype=bool), th, int(scale_min), float(careless),
                   careless_style, miss, options)

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
        }

    def with_options(self, **changes) -> "PopulationModel":
        """A copy with contamination settings changed (careless, careless_style, missing)."""
        allowed = {"careless", "careless_style", "missing", "missing_mechanism", "missing_cause"}
        bad = set(changes) - allowed
        if bad:
            raise SpecificationError(f"with_options accepts {sorted(allowed)}; rebuild the model to change {sorted(bad)}")
        miss = dict(self.missing)
        out = PopulationModel._validated(
            self.matrices, self.items, self.reverse, self.thresholds, self.scale_min,
            changes.get("careless", self.careless), changes.get("careless_style", self.careless_style),
            changes.get("missing", miss["rate"]),
            changes.get("missing_mechanism", miss["mechanism"] if miss["mechanism"] != "none" else "MCAR"),
            changes.get("missing_cause", miss["cause"]), {**self.options, **changes})
        return out

    def __repr__(self) -> str:
        k = self.categories
        return (f"PopulationModel({len(self.items)} items, factors={self.factors}, "
                f"{'continuous' if k is None else f'{k} categories'}, reverse={int(self.reverse.sum())}, "
                f"careless={self.careless:g}, missing={self.missing['mechanism']}:{self.missing['rate']:g})")


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


def simulate(model: PopulationModel | ItemPool, n: int, *, seed: int | np.random.SeedSequence | None = None,
             rng: np.random.Generator | None = None, **population_options) -> pd.DataFrame:
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
        raise SpecificationError(f"population options {sorted(population_options)} apply only to a pool; "
                                 "build the PopulationModel with them instead")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
        raise SpecificationError(f"n must be a positive integer, got {n!r}")
    from allyscale.limits import check_n

    check_n(int(n), len(model.items))  # before any memory is taken
    if rng is not None and seed is not None:
        raise SpecificationError("give seed or rng, not both")
    gen = rng if rng is not None else np.random.default_rng(seed)
    sigma = implied_cov(model.matrices)
    chol = np.linalg.cholesky(sigma)
    ystar = gen.standard_normal((n, len(model.items))) @ chol.T
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
    df.attrs["seed"] = seed if isinstance(seed, (int, type(None))) else str(seed)
    return df


def _dumps_sidecar(model: PopulationModel, n: int, seed, data: pd.DataFrame, version: str) -> str:
    return json.dumps({
        "allyscale": version,
        "n": n,
        "seed": seed,
        "careless_rows": data.attrs.get("careless_rows", []),
        "n_missing": data.attrs.get("n_missing", 0),
        "population": model.to_dict(),
    }, indent=2)

