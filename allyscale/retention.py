"""How many factors: parallel analysis, Velicer's MAP, scree data and the empirical Kaiser criterion."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allyscale._core import extraction as _ex
from allyscale._threads import blas_limited
from allyscale.efa import EXTRACTORS, correlation_input
from allyscale.errors import SpecificationError
from allyscale.results import Result, Summary, jsonable

__all__ = ["parallel_analysis", "map_test", "scree", "ekc", "ParallelResult", "MAPResult", "EKCResult"]


@dataclass(frozen=True)
class ParallelResult(Result):
    """Parallel analysis (Horn, 1965) as ``psych::fa.parallel(fa = "both")``.

    ``eigenvalues`` has columns ``pc_observed``, ``fa_observed``, ``pc_simulated_mean``,
    ``fa_simulated_mean``, ``pc_simulated_q``, ``fa_simulated_q`` (the ``quantile``).
    ``n_factors`` / ``n_components``: the number of observed eigenvalues that exceed the
    simulated quantile before the first one that does not (psych's rule with quant = .95).
    """

    n_factors: int
    n_components: int
    eigenvalues: pd.DataFrame
    quantile: float
    n_iter: int
    seed: int | None
    corr: str
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The decision and the first 15 observed and simulated eigenvalues."""
        return Summary(
            f"Parallel analysis ({self.corr} correlations, {self.n_iter} simulated data sets, "
            f"{self.quantile:.0%} quantile): {self.n_factors} factors, {self.n_components} components"
        ).table(self.eigenvalues.head(15), title="Eigenvalues (first 15)")

    def to_frame(self) -> pd.DataFrame:
        """Observed and simulated eigenvalues, one row per position."""
        return self.eigenvalues

    def to_dict(self) -> dict:
        return jsonable(
            {
                "n_factors": self.n_factors,
                "n_components": self.n_components,
                "quantile": self.quantile,
                "n_iter": self.n_iter,
                "seed": self.seed,
                "corr": self.corr,
                "eigenvalues": self.eigenvalues.to_dict(orient="list"),
                "diagnostics": self.diagnostics,
            }
        )


@dataclass(frozen=True)
class MAPResult(Result):
    """Velicer's (1976) minimum average partial test; ``values`` indexed by number of components."""

    n_factors: int
    values: pd.Series
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The minimum and the average squared partial correlation by number of components."""
        return Summary(
            f"Velicer's MAP: minimum at {self.n_factors} (average squared partial {self.values.min():.4f})"
        ).table(self.to_frame(), title="Average squared partials", digits=5)

    def to_frame(self) -> pd.DataFrame:
        """One row per number of components: ``map``."""
        return self.values.rename_axis("components").to_frame("map")

    def to_dict(self) -> dict:
        return jsonable(
            {
                "n_factors": self.n_factors,
                "values": {int(str(k)): float(v) for k, v in self.values.items()},
                "diagnostics": self.diagnostics,
            }
        )


@dataclass(frozen=True)
class EKCResult(Result):
    """Empirical Kaiser criterion (Braeken & van Assen, 2017): reference eigenvalues and decision."""

    n_factors: int
    eigenvalues: pd.DataFrame
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The decision and the first 15 observed and reference eigenvalues."""
        return Summary(f"Empirical Kaiser criterion: {self.n_factors} factors").table(
            self.eigenvalues.head(15), title="Eigenvalues (first 15)"
        )

    def to_frame(self) -> pd.DataFrame:
        """Observed and reference eigenvalues."""
        return self.eigenvalues

    def to_dict(self) -> dict:
        return jsonable(
            {
                "n_factors": self.n_factors,
                "eigenvalues": self.eigenvalues.to_dict(orient="list"),
                "diagnostics": self.diagnostics,
            }
        )


_SIM_TOL = {"minres": {"tol": 1e-9}, "ml": {"tol": 1e-9}}


def _first_not_above(observed: np.ndarray, reference: np.ndarray) -> int:
    below = np.flatnonzero(~(observed > reference))
    return int(below[0]) if below.size else len(observed)


@blas_limited
def parallel_analysis(
    data: pd.DataFrame,
    *,
    seed: int | None = 1,
    n_iter: int = 100,
    corr: str = "pearson",
    quantile: float = 0.95,
    method: str = "minres",
) -> ParallelResult:
    """Parallel analysis with simulated normal data, as ``psych::fa.parallel``.

    Observed component eigenvalues are those of R; observed factor eigenvalues are
    psych's: the eigenvalues of R with the communalities of a one-factor ``method``
    solution on the diagonal (``fa(R, 1)$values``). Each simulated data set is N × p
    standard normal with Pearson correlations, reduced in the same way. psych also
    resamples the observed data; allyscale uses the simulated (normal) reference only,
    which is what psych's decision compares with.

    Parameters
    ----------
    data : DataFrame
    seed : int, optional
        The simulated eigenvalues (and so possibly the decision) depend on it.
    n_iter : int
        Number of simulated data sets (psych's n.iter; 100 recommended).
    corr : {"pearson", "polychoric"}
        Correlations of the observed data; simulated data are normal either way.
    quantile : float
        Quantile of the simulated eigenvalues used for the decision (.95 as psych and
        EFAtools; Glorfeld, 1995).
    method : {"minres", "ml", "pa"}
        Extraction for the factor eigenvalues.
    """
    if not 0 < quantile < 1:
        raise SpecificationError(f"quantile must be in (0, 1), got {quantile}")
    if n_iter < 1:
        raise SpecificationError(f"n_iter must be at least 1, got {n_iter}")
    r_df, n_obs, _ = correlation_input(data, corr)
    r = r_df.to_numpy(dtype=float)
    p = r.shape[0]
    extractor = EXTRACTORS[method]
    pc_obs = np.sort(np.linalg.eigvalsh(r))[::-1]
    fa_obs = _ex.reduced_eigenvalues(r, extractor(r, 1).loadings)
    rng = np.random.default_rng(seed)
    pc_sim = np.empty((n_iter, p))
    fa_sim = np.empty((n_iter, p))
    for it in range(n_iter):
        z = rng.standard_normal((n_obs, p))
        c = np.asarray(np.corrcoef(z, rowvar=False))
        pc_sim[it] = np.sort(np.linalg.eigvalsh(c))[::-1]
        # simulated eigenvalues need ~1e-8 precision, not the 1e-14 the observed solution gets
        fa_sim[it] = _ex.reduced_eigenvalues(c, extractor(c, 1, **_SIM_TOL.get(method, {})).loadings)
    table = pd.DataFrame(
        {
            "pc_observed": pc_obs,
            "fa_observed": fa_obs,
            "pc_simulated_mean": pc_sim.mean(axis=0),
            "fa_simulated_mean": fa_sim.mean(axis=0),
            "pc_simulated_q": np.quantile(pc_sim, quantile, axis=0),
            "fa_simulated_q": np.quantile(fa_sim, quantile, axis=0),
        },
        index=pd.RangeIndex(1, p + 1, name="number"),
    )
    return ParallelResult(
        _first_not_above(fa_obs, table["fa_simulated_q"].to_numpy()),
        _first_not_above(pc_obs, table["pc_simulated_q"].to_numpy()),
        table,
        quantile,
        n_iter,
        seed,
        corr,
    )


@blas_limited
def map_test(data: pd.DataFrame, *, max_factors: int = 10, corr: str = "pearson") -> MAPResult:
    """Velicer's MAP test exactly as ``psych::VSS(x, n)$map``.

    For m = 1..min(n, p - 1): partial the first m principal components out of R and
    average the squared off-diagonal partial correlations, ``sum(r*^2) / (p (p - 1))``.
    The number of factors is the m with the smallest value.
    """
    r_df, _, _ = correlation_input(data, corr)
    r = r_df.to_numpy(dtype=float)
    p = r.shape[0]
    vals, vecs = np.linalg.eigh(r)
    vals, vecs = vals[::-1], vecs[:, ::-1]
    comp = vecs * np.sqrt(np.maximum(vals, 0))
    n1 = min(max_factors, p - 1)
    out = np.full(max_factors, np.nan)
    for m in range(1, n1 + 1):
        c = r - comp[:, :m] @ comp[:, :m].T
        d = 1 / np.sqrt(np.diag(c))
        rs = c * np.outer(d, d)
        np.fill_diagonal(rs, 0)
        out[m - 1] = (rs**2).sum() / (p * (p - 1))
    values = pd.Series(out, index=pd.RangeIndex(1, max_factors + 1, name="factors"), name="map")
    return MAPResult(int(values.idxmin()), values)


def scree(data: pd.DataFrame, *, corr: str = "pearson") -> pd.Series:
    """Eigenvalues of the correlation matrix (for a scree plot), indexed 1..p."""
    r_df, _, _ = correlation_input(data, corr)
    vals = np.sort(np.linalg.eigvalsh(r_df.to_numpy(dtype=float)))[::-1]
    return pd.Series(vals, index=pd.RangeIndex(1, len(vals) + 1, name="number"), name="eigenvalue")


def ekc(data: pd.DataFrame, *, corr: str = "pearson") -> EKCResult:
    """Empirical Kaiser criterion (Braeken & van Assen, 2017).

    Reference eigenvalues ``l_j = max(((p - sum_{i<j} lambda_i) / (p - j + 1)) (1 + sqrt(p/n))^2, 1)``;
    retain factors while the observed eigenvalue exceeds its reference.
    """
    r_df, n_obs, _ = correlation_input(data, corr)
    vals = np.sort(np.linalg.eigvalsh(r_df.to_numpy(dtype=float)))[::-1]
    p = len(vals)
    cum = np.concatenate([[0.0], np.cumsum(vals)[:-1]])
    ref = np.maximum((p - cum) / (p - np.arange(p)) * (1 + np.sqrt(p / n_obs)) ** 2, 1.0)
    table = pd.DataFrame({"observed": vals, "reference": ref}, index=pd.RangeIndex(1, p + 1, name="number"))
    return EKCResult(_first_not_above(vals, ref), table)
