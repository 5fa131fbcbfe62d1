"""Intraclass correlations as psych::ICC (Shrout & Fleiss, 1979; McGraw & Wong, 1996)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from scipy import stats

from allyscale.errors import DataError, DataWarning, SpecificationError
from allyscale.results import Result, Summary

if TYPE_CHECKING:  # pragma: no cover
    pass

from allyscale.reliability._common import _jsonable


# --------------------------------------------------------------------------- ICC
@dataclass(frozen=True)
class ICCResult(Result):
    """Intraclass correlations as ``psych::ICC(x, lmer = FALSE)``.

    ``table``: rows ``ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k`` with ``icc, F, df1, df2, p,
    lower, upper``; ``anova``: the two-way mean squares (``MSB, MSJ, MSE, MSW``).
    """

    table: pd.DataFrame
    anova: dict
    n_obs: int
    n_occasions: int
    level: float
    diagnostics: dict = field(default_factory=dict)

    @property
    def agreement(self) -> float:
        """ICC(2,1): absolute agreement of single scores (two-way random effects)."""
        return float(self.table.loc["ICC2", "icc"])

    @property
    def consistency(self) -> float:
        """ICC(3,1): consistency of single scores (two-way mixed effects)."""
        return float(self.table.loc["ICC3", "icc"])

    def summary(self) -> Summary:
        """The six intraclass correlations with F tests and intervals."""
        return Summary(
            f"Intraclass correlations: N = {self.n_obs}, {self.n_occasions} occasions/raters, {self.level:.0%} CIs"
        ).table(self.table, title="ICC", digits=4)

    def to_frame(self) -> pd.DataFrame:
        """Rows ICC1 ... ICC3k."""
        return self.table

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "table": self.table,
                "anova": self.anova,
                "n_obs": self.n_obs,
                "n_occasions": self.n_occasions,
                "level": self.level,
                "diagnostics": self.diagnostics,
            }
        )


def icc(data: pd.DataFrame, columns: list[str] | None = None, *, level: float = 0.95) -> ICCResult:
    """Intraclass correlations for test–retest (or inter-rater) data, as ``psych::ICC(x, lmer = FALSE)``.

    Rows are persons, ``columns`` the occasions (e.g. a scale score at time 1 and time 2).
    From the two-way ANOVA without interaction (mean squares for persons ``MSB``,
    occasions ``MSJ``, residual ``MSE``, within persons ``MSW``; ``n`` persons, ``k``
    occasions), following Shrout & Fleiss (1979) and McGraw & Wong (1996):

    * ``ICC1 = (MSB - MSW) / (MSB + (k-1) MSW)`` (one-way random);
    * ``ICC2 = (MSB - MSE) / (MSB + (k-1) MSE + k (MSJ - MSE) / n)`` — ICC(2,1), absolute
      agreement, two-way random effects; its interval uses Satterthwaite's df (McGraw & Wong);
    * ``ICC3 = (MSB - MSE) / (MSB + (k-1) MSE)`` — ICC(3,1), consistency, two-way mixed;
    * ``ICC1k, ICC2k, ICC3k``: the same for the mean of the k occasions;
    * F tests ``MSB/MSW`` and ``MSB/MSE`` and F-based intervals exactly as psych.

    psych's default ``lmer = TRUE`` estimates the variance components by REML; with
    complete data and non-negative components ICC2, ICC3 and their intervals coincide,
    while ICC1 uses the ANOVA ``MSW`` here (``lmer = FALSE``). Rows with a missing value
    are dropped (listwise) with a :class:`DataWarning`.

    Parameters
    ----------
    data : DataFrame
        One row per person.
    columns : list of str, optional
        The occasions (default: every column), e.g. ``["time1", "time2"]``.
    level : float
        Confidence level (psych's ``alpha = 1 - level``).

    Returns
    -------
    ICCResult
        ``.agreement`` is ICC(2,1), ``.consistency`` ICC(3,1).

    Raises
    ------
    DataError
        Missing or non-numeric columns; fewer than two occasions or complete rows.

    References
    ----------
    Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: Uses in assessing rater
    reliability. Psychological Bulletin, 86, 420-428.
    McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass
    correlation coefficients. Psychological Methods, 1, 30-46.
    """
    if not 0 < level < 1:
        raise SpecificationError(f"level must be between 0 and 1, got {level}")
    cols = list(data.columns) if columns is None else list(columns)
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise DataError(f"column(s) {missing} are not in the data")
    if len(cols) < 2:
        raise DataError(f"an ICC needs at least two occasions (columns), got {cols}")
    for c in cols:
        if not pd.api.types.is_numeric_dtype(data[c]):
            raise DataError(f"column {c!r} is not numeric (dtype {data[c].dtype})")
    x = data[cols].astype(float)
    diag: dict[str, Any] = {}
    xc = x.dropna()
    if len(xc) < len(x):
        warnings.warn(
            f"icc: {len(x) - len(xc)} rows with a missing value dropped (listwise)", DataWarning, stacklevel=2
        )
        diag["dropped_rows"] = len(x) - len(xc)
    y = xc.to_numpy()
    n, k = y.shape
    if n < 2:
        raise DataError(f"an ICC needs at least two complete rows, got {n}")
    grand = y.mean()
    ssb = k * ((y.mean(axis=1) - grand) ** 2).sum()
    ssj = n * ((y.mean(axis=0) - grand) ** 2).sum()
    sse = ((y - grand) ** 2).sum() - ssb - ssj
    dfb, dfj, dfe = n - 1, k - 1, (n - 1) * (k - 1)
    msb, msj, mse = ssb / dfb, ssj / dfj, sse / dfe
    msw = (ssj + sse) / (dfj + dfe)
    icc1 = (msb - msw) / (msb + (k - 1) * msw)
    icc2 = (msb - mse) / (msb + (k - 1) * mse + k * (msj - mse) / n)
    icc3 = (msb - mse) / (msb + (k - 1) * mse)
    icc1k = (msb - msw) / msb
    icc2k = (msb - mse) / (msb + (msj - mse) / n)
    icc3k = (msb - mse) / msb
    f11, df11n, df11d = msb / msw, n - 1, n * (k - 1)
    f21, df21n, df21d = msb / mse, n - 1, (n - 1) * (k - 1)
    p11, p21 = stats.f.sf(f11, df11n, df11d), stats.f.sf(f21, df21n, df21d)
    q = 1 - (1 - level) / 2
    f1l, f1u = f11 / stats.f.ppf(q, df11n, df11d), f11 * stats.f.ppf(q, df11d, df11n)
    f3l, f3u = f21 / stats.f.ppf(q, df21n, df21d), f21 * stats.f.ppf(q, df21d, df21n)
    fj = msj / mse
    vn = (k - 1) * (n - 1) * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    vd = (n - 1) * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
    v = vn / vd
    fu, fl = stats.f.ppf(q, n - 1, v), stats.f.ppf(q, v, n - 1)
    l2 = n * (msb - fu * mse) / (fu * (k * msj + (k * n - k - n) * mse) + n * msb)
    u2 = n * (fl * msb - mse) / (k * msj + (k * n - k - n) * mse + n * fl * msb)
    rows = {
        "ICC1": [icc1, f11, df11n, df11d, p11, (f1l - 1) / (f1l + k - 1), (f1u - 1) / (f1u + k - 1)],
        "ICC2": [icc2, f21, df21n, df21d, p21, l2, u2],
        "ICC3": [icc3, f21, df21n, df21d, p21, (f3l - 1) / (f3l + k - 1), (f3u - 1) / (f3u + k - 1)],
        "ICC1k": [icc1k, f11, df11n, df11d, p11, 1 - 1 / f1l, 1 - 1 / f1u],
        "ICC2k": [icc2k, f21, df21n, df21d, p21, l2 * k / (1 + l2 * (k - 1)), u2 * k / (1 + u2 * (k - 1))],
        "ICC3k": [icc3k, f21, df21n, df21d, p21, 1 - 1 / f3l, 1 - 1 / f3u],
    }
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["icc", "F", "df1", "df2", "p", "lower", "upper"])
    return ICCResult(
        table=table,
        anova={"MSB": msb, "MSJ": msj, "MSE": mse, "MSW": msw},
        n_obs=n,
        n_occasions=k,
        level=level,
        diagnostics=diag,
    )
