"""Factorability: Kaiser-Meyer-Olkin measure of sampling adequacy and Bartlett's sphericity test."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import chi2

from allyscale.efa import correlation_input
from allyscale.errors import DataError
from allyscale.results import Result, Summary, jsonable

__all__ = ["kmo", "bartlett", "KMOResult", "BartlettResult"]


@dataclass(frozen=True)
class KMOResult(Result):
    """``overall`` MSA and per-item ``items`` (Series), with Kaiser's (1974) verbal labels."""

    overall: float
    items: pd.Series

    @staticmethod
    def label(value: float) -> str:
        """Kaiser (1974): marvelous .90+, meritorious .80s, middling .70s, mediocre .60s, miserable .50s."""
        for cut, name in (
            (0.9, "marvelous"),
            (0.8, "meritorious"),
            (0.7, "middling"),
            (0.6, "mediocre"),
            (0.5, "miserable"),
        ):
            if value >= cut:
                return name
        return "unacceptable"

    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """Overall MSA with Kaiser's label, the items below .60 and the per-item MSA."""
        out = Summary(f"KMO = {self.overall:.3f} ({self.label(self.overall)})")
        low = self.items[self.items < 0.6]
        if len(low):
            out.text(f"items below .60: {', '.join(f'{i} ({v:.2f})' for i, v in low.items())}")
        return out.table(self.to_frame(), title="Measure of sampling adequacy per item")

    def to_frame(self) -> pd.DataFrame:
        """One row per item: ``msa``."""
        return self.items.rename_axis("item").to_frame("msa")

    def to_dict(self) -> dict:
        return jsonable({"overall": self.overall, "items": self.items.to_dict(), "diagnostics": self.diagnostics})


@dataclass(frozen=True)
class BartlettResult(Result):
    chisq: float
    df: int
    pvalue: float
    n: int
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The test in one line."""
        return Summary(
            f"Bartlett's test of sphericity: chi2({self.df}) = {self.chisq:.2f}, p = {self.pvalue:.3g}, N = {self.n}"
        ).facts({"chisq": self.chisq, "df": self.df, "pvalue": self.pvalue, "n": self.n}, digits=4)

    def to_frame(self) -> pd.DataFrame:
        """One row: ``chisq, df, pvalue, n``."""
        return pd.DataFrame([{"chisq": self.chisq, "df": self.df, "pvalue": self.pvalue, "n": self.n}])

    def to_dict(self) -> dict:
        return jsonable(
            {"chisq": self.chisq, "df": self.df, "pvalue": self.pvalue, "n": self.n, "diagnostics": self.diagnostics}
        )


def kmo(data: pd.DataFrame, *, corr: str = "pearson", n: int | None = None) -> KMOResult:
    """Kaiser-Meyer-Olkin measure of sampling adequacy, as ``psych::KMO`` (Kaiser, 1970).

    ``MSA = sum r_ij^2 / (sum r_ij^2 + sum q_ij^2)`` over i != j, with ``q`` the
    anti-image (partial) correlations from ``R^-1`` rescaled to unit diagonal;
    ``MSA_i`` the same sums over column i.

    Raises
    ------
    DataError
        A singular correlation matrix (the anti-image is undefined).
    """
    r_df, _, _ = correlation_input(
        data, corr, n=n if n is not None else (len(data) if data.shape[0] != data.shape[1] else None)
    )
    r = r_df.to_numpy(dtype=float)
    try:
        q = np.linalg.inv(r)
    except np.linalg.LinAlgError:
        raise DataError("the correlation matrix is singular: KMO is undefined (collinear items)") from None
    d = 1 / np.sqrt(np.diag(q))
    q = q * np.outer(d, d)
    np.fill_diagonal(q, 0)
    r0 = r.copy()
    np.fill_diagonal(r0, 0)
    r2, q2 = (r0**2), (q**2)
    overall = float(r2.sum() / (r2.sum() + q2.sum()))
    items = pd.Series(r2.sum(axis=0) / (r2.sum(axis=0) + q2.sum(axis=0)), index=r_df.columns, name="MSA")
    return KMOResult(overall, items)


def bartlett(data: pd.DataFrame, *, corr: str = "pearson", n: int | None = None) -> BartlettResult:
    """Bartlett's (1951) test that the correlation matrix is an identity, as ``psych::cortest.bartlett``.

    ``chi2 = -((n - 1) - (2p + 5) / 6) log|R|`` with ``p (p - 1) / 2`` degrees of freedom.
    """
    is_corr = data.shape[0] == data.shape[1] and list(data.index) == list(data.columns)
    r_df, n_obs, _ = correlation_input(data, corr, n=n if is_corr else None)
    r = r_df.to_numpy(dtype=float)
    p = r.shape[0]
    sign, logdet = np.linalg.slogdet(r)
    if sign <= 0:
        raise DataError("the correlation matrix is not positive definite: Bartlett's test is undefined")
    stat = float(-((n_obs - 1) - (2 * p + 5) / 6) * logdet)
    df = p * (p - 1) // 2
    return BartlettResult(stat, df, float(chi2.sf(stat, df)), n_obs)
