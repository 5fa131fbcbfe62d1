"""An item response theory view of an ordinal factor model.

A factor model for ordered items fitted by WLSMV (latent responses ``y* = Λη + ε`` cut at
thresholds ``τ``, delta parameterization: unit latent-response variances) is the same model
as a normal-ogive graded response model (Takane & de Leeuw, 1987). With standardized factors
an item ``j`` loading ``λ_j`` on one factor has

    P(X_j ≥ k | θ) = Φ(a_j (θ − b_jk)),   a_j = λ_j / sqrt(1 − λ_j²),   b_jk = τ_jk / λ_j,

and, in the slope–intercept form used by multidimensional IRT, ``d_jk = τ_jk / sqrt(1 − λ_j²)``
(psych's ``fa2irt`` "difficulty"), ``P(X_j ≥ k | θ) = Φ(a_j θ − d_jk)``. An item with
loadings on several factors has one slope per factor, ``a_jf = λ_jf / σ_j`` with ``σ_j² = 1 −
λ_j' Φ λ_j`` its residual variance; its locations ``b`` are then those for the other factors
held at 0.

The Fisher information of a graded item is ``I_j(θ) = Σ_k P_k'(θ)² / P_k(θ)`` over its
categories (Samejima, 1969), the test information of a factor is the sum over its items, the
conditional standard error of θ is ``1 / sqrt(I(θ))`` and the marginal reliability
``∫ I(θ) / (I(θ) + 1) φ(θ) dθ`` (Green, Bock, Humphreys, Linn & Reckase, 1984; mirt's
``marginal_rxx``).

References
----------
Takane, Y., & de Leeuw, J. (1987). On the relationship between item response theory and
factor analysis of discretized variables. Psychometrika, 52, 393-408.
Samejima, F. (1969). Estimation of latent ability using a response pattern of graded scores.
Psychometrika Monograph Supplement, 17.
Green, B. F., Bock, R. D., Humphreys, L. G., Linn, R. L., & Reckase, M. D. (1984). Technical
guidelines for assessing computerized adaptive tests. Journal of Educational Measurement, 21,
347-360.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from allyscale.errors import SpecificationError
from allyscale.results import Result, Summary, jsonable

__all__ = [
    "irt",
    "IRTResult",
    "category_probabilities",
    "item_information",
    "information_matrix",
    "marginal_reliability",
]

_SQRT2PI = np.sqrt(2.0 * np.pi)


def _phi(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / _SQRT2PI


def category_probabilities(a: float, b: Sequence[float] | np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Category probabilities of a normal-ogive graded item.

    Parameters
    ----------
    a : float
        Discrimination (slope on θ).
    b : sequence of float
        Increasing category locations ``b_1 < ... < b_(K-1)`` (NaN entries are ignored).
    theta : array of float

    Returns
    -------
    ndarray, ``len(theta) × K``
        ``P(X = k | θ) = Φ(a(θ − b_k)) − Φ(a(θ − b_(k+1)))`` with ``b_0 = −∞``, ``b_K = ∞``.
    """
    bk = np.asarray(b, dtype=float)
    bk = bk[~np.isnan(bk)]
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    star = ndtr(a * (theta[:, None] - bk[None, :]))
    upper = np.column_stack([np.ones(len(theta)), star])
    lower = np.column_stack([star, np.zeros(len(theta))])
    return upper - lower


def item_information(a: float, b: Sequence[float] | np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Fisher information of a normal-ogive graded item at ``theta``.

    ``I(θ) = Σ_k (P*_k' − P*_(k+1)')² / P_k`` with ``P*_k = Φ(a(θ − b_k))`` and
    ``P*_k' = a φ(a(θ − b_k))`` (Samejima, 1969). Categories whose probability underflows to
    zero contribute nothing (their limit).
    """
    bk = np.asarray(b, dtype=float)
    bk = bk[~np.isnan(bk)]
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    z = a * (theta[:, None] - bk[None, :])
    star = ndtr(z)
    dstar = a * _phi(z)
    n = len(theta)
    p = np.column_stack([np.ones(n), star]) - np.column_stack([star, np.zeros(n)])
    dp = np.column_stack([np.zeros(n), dstar]) - np.column_stack([dstar, np.zeros(n)])
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, dp * dp / np.where(p > 0, p, 1.0), 0.0)
    return terms.sum(axis=1)


def information_matrix(a: np.ndarray, b: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Information of many graded items at once: ``len(theta) × items``.

    ``a`` holds the items' discriminations, ``b`` their locations (items × (K−1), NaN where
    an item has fewer categories); the same values as :func:`item_information` item by item.
    """
    a = np.asarray(a, dtype=float)
    b = np.where(np.isnan(np.asarray(b, dtype=float)), np.inf, np.asarray(b, dtype=float))
    theta = np.atleast_1d(np.asarray(theta, dtype=float))
    z = a[:, None, None] * (theta[None, :, None] - b[:, None, :])  # items × θ × (K−1)
    star = ndtr(z)
    dstar = np.where(np.isfinite(z), a[:, None, None] * _phi(np.where(np.isfinite(z), z, 0.0)), 0.0)
    shape = star.shape[:2] + (1,)
    p = np.concatenate([np.ones(shape), star], axis=2) - np.concatenate([star, np.zeros(shape)], axis=2)
    dp = np.concatenate([np.zeros(shape), dstar], axis=2) - np.concatenate([dstar, np.zeros(shape)], axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, dp * dp / np.where(p > 0, p, 1.0), 0.0)
    return terms.sum(axis=2).T


def marginal_reliability(
    a: Sequence[float], b: Sequence[Sequence[float] | np.ndarray], *, n_points: int = 121
) -> float:
    """Marginal reliability ``∫ I(θ) / (I(θ) + 1) φ(θ) dθ`` of items on one standard-normal θ.

    Gauss–Hermite quadrature with ``n_points`` nodes (Green et al., 1984; mirt's ``marginal_rxx``).
    """
    x, w = np.polynomial.hermite_e.hermegauss(n_points)
    w = w / w.sum()
    info = np.zeros(len(x))
    for aj, bj in zip(a, b):
        info += item_information(aj, bj, x)
    return float(np.sum(w * info / (info + 1.0)))


@dataclass(frozen=True)
class IRTResult(Result):
    """The normal-ogive graded response model equivalent of an ordinal factor model.

    Attributes
    ----------
    parameters : DataFrame
        One row per item: ``item, factor, a, b1..b(K-1)`` (discrimination on the item's
        factor and category locations on that factor's standardized θ), then the loading
        ``lambda``, the slope–intercept form ``d1..d(K-1)`` and, when some item loads on
        several factors, one slope column ``a_<factor>`` per factor.
    factors : dict
        Factor → its items.
    diagnostics : dict
        ``group`` (the group used in a multi-group fit), ``multidimensional`` (items with
        several loadings), ``heywood`` (items with a communality of 1 or more, left out).
    """

    parameters: pd.DataFrame
    factors: dict[str, list[str]]
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def items(self) -> list[str]:
        return list(self.parameters["item"])

    def _b(self, row: pd.Series) -> np.ndarray:
        cols = [c for c in self.parameters.columns if c.startswith("b") and c[1:].isdigit()]
        return row[cols].to_numpy(dtype=float)

    def probabilities(self, item: str, theta: Sequence[float]) -> pd.DataFrame:
        """Category probabilities of one item over ``theta`` (rows θ, columns categories 1..K)."""
        row = self._row(item)
        th = np.asarray(theta, dtype=float)
        p = category_probabilities(float(row["a"]), self._b(row), th)
        return pd.DataFrame(p, index=pd.Index(th, name="theta"), columns=[f"cat{k + 1}" for k in range(p.shape[1])])

    def _row(self, item: str) -> pd.Series:
        hit = self.parameters[self.parameters["item"] == item]
        if hit.empty:
            raise SpecificationError(f"item {item!r} is not in the IRT model (items: {', '.join(self.items)})")
        return hit.iloc[0]

    def information(self, theta: Sequence[float] | None = None) -> pd.DataFrame:
        """Item and test information over ``theta``.

        Parameters
        ----------
        theta : sequence of float, optional
            Default ``-4, -3.9, ..., 4``.

        Returns
        -------
        DataFrame
            Index ``theta``; one column per item (its information on its factor's θ) and one per
            factor (the test information of that factor's items, their sum).
        """
        th = np.round(np.arange(-4.0, 4.0001, 0.1), 10) if theta is None else np.asarray(theta, dtype=float)
        bcols = [c for c in self.parameters.columns if c.startswith("b") and c[1:].isdigit()]
        mat = information_matrix(self.parameters["a"].to_numpy(float), self.parameters[bcols].to_numpy(float), th)
        out = {item: mat[:, j] for j, item in enumerate(self.parameters["item"])}
        for f, items in self.factors.items():
            out[f] = np.sum([out[i] for i in items], axis=0) if items else np.zeros(len(th))
        return pd.DataFrame(out, index=pd.Index(th, name="theta"))

    def standard_error(self, theta: Sequence[float] | None = None) -> pd.DataFrame:
        """Conditional standard error ``1 / sqrt(I(θ))`` of each factor's θ (rows θ, columns factors)."""
        info = self.information(theta)[list(self.factors)]
        with np.errstate(divide="ignore"):
            return 1.0 / np.sqrt(info)

    def marginal_reliability(self) -> pd.Series:
        """Marginal reliability of each factor's items (:func:`marginal_reliability`)."""
        out = {}
        for f, items in self.factors.items():
            rows = [self._row(i) for i in items]
            out[f] = marginal_reliability([float(r["a"]) for r in rows], [self._b(r) for r in rows])
        return pd.Series(out, name="marginal_reliability")

    # ------------------------------------------------------------------ figures
    def plot_information(self, theta: Sequence[float] | None = None, *, factor: str | None = None):
        """Item information curves (thin) and test information (thick, right axis) per factor.

        Returns
        -------
        matplotlib.figure.Figure
            One panel per factor (or only ``factor``).
        """
        from matplotlib.figure import Figure

        info = self.information(theta)
        factors = [factor] if factor is not None else list(self.factors)
        unknown = [f for f in factors if f not in self.factors]
        if unknown:
            raise SpecificationError(f"unknown factor {unknown[0]!r}; factors: {', '.join(self.factors)}")
        ncol = min(3, len(factors))
        nrow = int(np.ceil(len(factors) / ncol))
        fig = Figure(figsize=(4.2 * ncol, 3.2 * nrow))
        axes = np.atleast_1d(fig.subplots(nrow, ncol, squeeze=False)).ravel()
        for ax, f in zip(axes, factors):
            for item in self.factors[f]:
                ax.plot(info.index, info[item], lw=0.8, alpha=0.7)
            ax.set_title(f"{f}: item information", fontsize=9)
            ax.set_xlabel("θ")
            ax.set_ylabel("item information")
            ax2 = ax.twinx()
            ax2.plot(info.index, info[f], color="black", lw=2.0, label="test information")
            ax2.set_ylabel("test information")
            ax2.set_ylim(bottom=0)
        for ax in axes[len(factors) :]:
            ax.set_visible(False)
        fig.tight_layout()
        return fig

    def plot_standard_error(self, theta: Sequence[float] | None = None):
        """Conditional standard error of θ per factor. Returns a ``matplotlib.figure.Figure``."""
        from matplotlib.figure import Figure

        se = self.standard_error(theta)
        fig = Figure(figsize=(6.5, 4))
        ax = fig.subplots()
        for f in se.columns:
            ax.plot(se.index, se[f], label=str(f))
        ax.set_xlabel("θ")
        ax.set_ylabel("standard error of θ")
        ax.set_ylim(0, min(2.0, float(np.nanmax(se.to_numpy())) * 1.05))
        ax.legend(frameon=False, fontsize=8)
        fig.tight_layout()
        return fig

    # ------------------------------------------------------------------ output
    def summary(self) -> Summary:
        """The item parameters and each factor's marginal reliability."""
        out = Summary(
            f"Graded response model (normal ogive) equivalent of the factor model: {len(self.parameters)} "
            f"items, {len(self.factors)} factor(s)"
        )
        if self.diagnostics.get("group") is not None:
            out.text(f"group: {self.diagnostics['group']}")
        if self.diagnostics.get("multidimensional"):
            out.text(
                "items with several loadings (b for the other factors at 0): "
                + ", ".join(self.diagnostics["multidimensional"])
            )
        out.table(self.parameters, title="Item parameters", index=False)
        return out.facts({str(k): v for k, v in self.marginal_reliability().items()}, title="Marginal reliability")

    def to_frame(self) -> pd.DataFrame:
        """One row per item: discrimination, category locations, loading and intercepts."""
        return self.parameters

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "parameters": self.parameters,
                "factors": self.factors,
                "marginal_reliability": self.marginal_reliability().to_dict(),
                "diagnostics": self.diagnostics,
            }
        )


def from_standardized(
    loadings: pd.DataFrame, thresholds: pd.DataFrame, *, factor_corr: pd.DataFrame | None = None
) -> IRTResult:
    """The graded response model of standardized loadings and thresholds.

    Parameters
    ----------
    loadings : DataFrame
        Items × factors, standardized (latent responses and factors of unit variance).
    thresholds : DataFrame
        Items × ``t1..t(K-1)`` in the latent-response metric (NaN where an item has fewer).
    factor_corr : DataFrame, optional
        Factor correlations (needed only for items with several loadings; default identity).

    Returns
    -------
    IRTResult

    Raises
    ------
    SpecificationError
        An item without a loading, or a communality of 1 or more (no residual variance: the
        item's discrimination is infinite).
    """
    lam = loadings.to_numpy(dtype=float)
    factors_ = list(loadings.columns)
    phi = np.eye(len(factors_)) if factor_corr is None else factor_corr.loc[factors_, factors_].to_numpy(dtype=float)
    tau = thresholds.loc[loadings.index].to_numpy(dtype=float)
    rows = []
    multi = []
    members: dict[str, list[str]] = {f: [] for f in factors_}
    for i, item in enumerate(loadings.index):
        nz = np.flatnonzero(lam[i] != 0)
        if nz.size == 0:
            raise SpecificationError(f"item {item!r} has no loading")
        comm = float(lam[i] @ phi @ lam[i])
        if comm >= 1.0:
            raise SpecificationError(
                f"item {item!r} has a communality of {comm:.3f} (>= 1, a Heywood case): "
                "its IRT discrimination is infinite"
            )
        sigma = np.sqrt(1.0 - comm)
        main = int(nz[np.argmax(np.abs(lam[i, nz]))])
        if nz.size > 1:
            multi.append(str(item))
        f = factors_[main]
        members[f].append(str(item))
        a = lam[i, main] / sigma
        d = tau[i] / sigma
        row = {"item": str(item), "factor": f, "a": a}
        row.update({f"b{k + 1}": d[k] / a for k in range(len(d))})
        row["lambda"] = lam[i, main]
        row.update({f"d{k + 1}": d[k] for k in range(len(d))})
        if nz.size > 1 or any(np.count_nonzero(r) > 1 for r in lam):
            row.update({f"a_{g}": lam[i, j] / sigma for j, g in enumerate(factors_)})
        rows.append(row)
    params = pd.DataFrame(rows)
    return IRTResult(
        parameters=params, factors={f: v for f, v in members.items() if v}, diagnostics={"multidimensional": multi}
    )


def irt(fit, *, group: Any = None) -> IRTResult:
    """The normal-ogive graded response model equivalent of a WLSMV fit of ordered items.

    Parameters
    ----------
    fit : CFAResult
        A converged ``cfa(..., estimator="WLSMV")`` fit (delta parameterization). Factors
        measured by items become θ dimensions, each standardized (a second-order model's
        first-order factors are standardized by their total variance).
    group : optional
        The group label to use in a multi-group fit (required there).

    Returns
    -------
    IRTResult
        ``.parameters`` (item, factor, a, b1..bk, ...), ``.information(theta)``,
        ``.standard_error(theta)``, ``.marginal_reliability()``, ``.plot_information()``.

    Raises
    ------
    SpecificationError
        Not a WLSMV fit, not converged, a multi-group fit without ``group``, an unknown group,
        a Heywood case.

    References
    ----------
    Takane & de Leeuw (1987); Samejima (1969); psych's ``fa2irt`` (Revelle).

    Examples
    --------
    >>> fit = al.cfa(data, model, estimator="WLSMV", ordered=items)  # doctest: +SKIP
    >>> al.irt(fit).parameters.head()  # doctest: +SKIP
    """
    if getattr(fit, "estimator", None) != "WLSMV":
        raise SpecificationError(
            f"irt() needs a WLSMV fit of ordered items, got estimator {getattr(fit, 'estimator', type(fit).__name__)!r}"
        )
    if not fit.converged:
        raise SpecificationError("irt() needs a converged fit; this WLSMV fit did not converge")
    est = fit.estimates
    if fit.ngroups > 1:
        if group is None:
            raise SpecificationError(f"a multi-group fit: pass group= one of {', '.join(map(str, fit.group_labels))}")
        labels = [str(g) for g in fit.group_labels]
        if str(group) not in labels:
            raise SpecificationError(f"unknown group {group!r}; groups: {', '.join(labels)}")
        est = (
            est[est["group"] == labels.index(str(group)) + 1]
            if est["group"].dtype != object
            else est[est["group"].astype(str) == str(group)]
        )
    elif group is not None:
        raise SpecificationError("group= is only for multi-group fits")
    lrows = est[est["op"] == "=~"]
    latent = set(lrows["lhs"])
    lrows = lrows[~lrows["rhs"].isin(latent)]
    factors_ = list(dict.fromkeys(lrows["lhs"]))
    items = list(dict.fromkeys(lrows["rhs"]))
    lam = pd.DataFrame(0.0, index=items, columns=factors_)
    for r in lrows.itertuples():
        lam.loc[r.rhs, r.lhs] = float(r.std_all)
    trows = est[est["op"] == "|"]
    missing = [i for i in items if i not in set(trows["lhs"])]
    if missing:
        raise SpecificationError(f"item(s) without thresholds (not ordered in the fit): {', '.join(missing)}")
    kmax = int(trows["rhs"].str[1:].astype(int).max())
    tau = pd.DataFrame(np.nan, index=items, columns=[f"t{k + 1}" for k in range(kmax)])
    for r in trows.itertuples():
        if r.lhs in tau.index:
            tau.loc[r.lhs, r.rhs] = float(r.std_all)
    crow = est[(est["op"] == "~~") & est["lhs"].isin(factors_) & est["rhs"].isin(factors_)]
    phi = pd.DataFrame(np.eye(len(factors_)), index=factors_, columns=factors_)
    for r in crow.itertuples():
        if r.lhs != r.rhs:
            phi.loc[r.lhs, r.rhs] = phi.loc[r.rhs, r.lhs] = float(r.std_all)
    result = from_standardized(lam, tau, factor_corr=phi)
    result.diagnostics["group"] = group
    return result


from allyscale._callable import make_callable  # noqa: E402 - after the function it makes the module call

make_callable(__name__, irt)
