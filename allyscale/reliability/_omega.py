"""The omega family: Schmid-Leiman omega (psych::omega) and model-based bifactor indices (omega_h, H, ECV, PUC)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from allyscale._threads import blas_limited
from allyscale.errors import SpecificationError, StatisticalWarning
from allyscale.results import Result, Summary

if TYPE_CHECKING:  # pragma: no cover
    from allyscale.cfa import CFAResult
    from allyscale.pool import ItemPool

from allyscale.reliability._common import _jsonable, _select_items, smc


# --------------------------------------------------------------------------- omega (EFA, Schmid-Leiman)
@dataclass(frozen=True)
class OmegaResult(Result):
    """Omega coefficients from a Schmid–Leiman solution, as ``psych::omega``.

    Attributes
    ----------
    omega_h, omega_t, alpha, g6, ecv, omega_lim : float
        Omega-hierarchical, omega-total, alpha and lambda-6 of the whole set, explained
        common variance of g, and ``omega_h / omega_t`` (psych's ``omega.lim``).
    groups : DataFrame
        psych's ``omega.group``: rows ``g`` and each group factor; columns ``total``
        (omega of the subscale), ``general`` (omega_h of the subscale) and ``group``
        (omega of the group factor alone), plus ``n_items``.
    loadings : DataFrame
        The Schmid–Leiman loadings (``g``, group factors) with ``h2, u2, p2``, items
        reverse-signed when their g loading is negative (psych's ``flip``).
    assignment : Series
        Item → group factor with its largest absolute group loading.
    """

    omega_h: float
    omega_t: float
    alpha: float
    g6: float
    ecv: float
    omega_lim: float
    groups: pd.DataFrame
    loadings: pd.DataFrame
    assignment: pd.Series
    n_factors: int
    diagnostics: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "value": {
                    "omega_h": self.omega_h,
                    "omega_t": self.omega_t,
                    "alpha": self.alpha,
                    "G6": self.g6,
                    "ECV": self.ecv,
                    "omega_lim": self.omega_lim,
                }
            }
        )

    def summary(self) -> Summary:
        """Omega coefficients, omega by group and the Schmid-Leiman loadings."""
        e = self.diagnostics.get("efa", {})
        out = Summary(f"Omega (Schmid-Leiman, {self.n_factors} group factors)")
        if e.get("extraction_converged") is False or e.get("rotation_converged") is False:
            out.text("WARNING: the exploratory solution did not converge; omega is not trustworthy", strong=True)
        if e.get("heywood"):
            out.text(f"Heywood case(s): {e['heywood']}", strong=True)
        return (
            out.table(self.table(), title="Coefficients", digits=4)
            .table(self.groups, title="Omega by group")
            .table(self.loadings, title="Schmid-Leiman loadings")
        )

    def to_frame(self) -> pd.DataFrame:
        """The coefficients (omega_h, omega_t, alpha, G6, ECV, omega_lim)."""
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "omega_h": self.omega_h,
                "omega_t": self.omega_t,
                "alpha": self.alpha,
                "g6": self.g6,
                "ecv": self.ecv,
                "omega_lim": self.omega_lim,
                "groups": self.groups,
                "loadings": self.loadings,
                "assignment": self.assignment,
                "n_factors": self.n_factors,
                "diagnostics": self.diagnostics,
            }
        )


def omega_from_schmid(
    r: np.ndarray, sl: np.ndarray, h2: np.ndarray, names: list[str], group_names: list[str]
) -> dict[str, Any]:
    """psych's ``omegah`` arithmetic on a correlation matrix and Schmid–Leiman loadings.

    ``sl`` is items × (1 + k) (g first), ``h2`` the communalities of the extraction
    (psych's ``u2 = 1 - h2`` uses these, not the Schmid–Leiman sums of squares).
    Items with a negative g loading are reverse-signed in ``r`` and ``sl`` first.
    ``omega_h = (sum g)^2 / sum(R)``, ``omega_t = (sum(R) - sum(u2)) / sum(R)``;
    group rows as ``psych::omega``'s ``omega.group``.
    """
    sl = np.array(sl, dtype=float)
    r = np.array(r, dtype=float)
    k = sl.shape[1] - 1
    key = np.sign(sl[:, 0])
    key[key == 0] = 1
    r = r * np.outer(key, key)
    sl = sl * key[:, None]
    vt = r.sum()
    n = r.shape[0]
    u2 = np.diag(r) - h2
    gsq = sl[:, 0].sum() ** 2
    om_tot = (vt - u2.sum()) / vt
    alpha_ = (vt - np.trace(r)) / vt * n / (n - 1)
    g6 = (vt + smc(r).sum() - np.trace(r)) / vt
    ev = (sl**2).sum(axis=0)
    sub = np.argmax(np.abs(sl[:, 1:]), axis=1)
    rows = {"total": [om_tot], "general": [gsq / vt], "group": [np.nan], "n_items": [n]}
    grs = 0.0
    for j in range(k):
        idx = np.flatnonzero(sub == j)
        if idx.size == 0:
            for c in ("total", "general", "group"):
                rows[c].append(np.nan)
            rows["n_items"].append(0)
            continue
        vgr = r[np.ix_(idx, idx)].sum()
        gr = sl[idx, j + 1].sum()
        gg = sl[idx, 0].sum()
        grs += gr**2
        rows["total"].append((gr**2 + gg**2) / vgr)
        rows["general"].append(gg**2 / vgr)
        rows["group"].append(gr**2 / vgr)
        rows["n_items"].append(int(idx.size))
    rows["group"][0] = grs / vt
    groups = pd.DataFrame(rows, index=["g", *group_names])
    return {
        "omega_h": gsq / vt,
        "omega_t": om_tot,
        "alpha": alpha_,
        "g6": g6,
        "ecv": ev[0] / ev.sum(),
        "omega_lim": gsq / (vt - u2.sum()),
        "groups": groups,
        "key": key,
        "sl": sl,
        "assignment": pd.Series([group_names[j] for j in sub], index=names, name="group"),
    }


@blas_limited
def omega(
    data: pd.DataFrame | CFAResult,
    n_factors: int | None = None,
    *,
    items: list[str] | None = None,
    pool: ItemPool | None = None,
    method: str = "minres",
    rotation: str = "oblimin",
    corr: str = "pearson",
    general: str | None = None,
    n_starts: int = 10,
    seed: int | None = 1,
) -> OmegaResult | BifactorResult:
    """Omega-hierarchical and omega-total, as ``psych::omega(x, nfactors = n_factors)``.

    With a DataFrame: an exploratory ``n_factors`` solution (``method``/``rotation``,
    psych's defaults minres/oblimin, :func:`allyscale.efa`) is orthogonalised by
    Schmid–Leiman (:func:`allyscale.schmid_leiman`; the factor correlations are factored
    by minres, psych's ``option = "equal"`` for two factors). Then, with ``R`` the
    correlation matrix (items whose g loading is negative reverse-signed, psych's
    ``flip = TRUE``), ``V = sum(R)``, ``g`` the general loadings and ``u2 = 1 - h2`` the
    uniquenesses of the extraction:

    * ``omega_h = (sum g)^2 / V`` (McDonald, 1999; Zinbarg et al., 2005);
    * ``omega_t = (V - sum u2) / V``; ``ECV = sum g^2 / sum of all squared SL loadings``;
    * each item is assigned to the group factor on which it has its largest absolute
      loading; per group ``omega`` of the subscale ``((sum g)^2 + (sum s)^2) / V_sub``,
      omega_h of the subscale ``(sum g)^2 / V_sub`` and the group factor's own
      ``(sum s)^2 / V_sub`` (psych's ``omega.group``).

    With a fitted :class:`allyscale.cfa.CFAResult` (bifactor or second-order model):
    model-based indices from its standardized solution, see :func:`bifactor_indices`.

    Parameters
    ----------
    data : DataFrame or CFAResult
    n_factors : int, optional
        Number of group factors of the exploratory solution. Default: the pool's number of
        factors when ``pool`` is given (the hypothesised structure), else psych's default 3.
    items : list of str, optional
    pool : ItemPool, optional
        Reverse-keyed items are reverse-scored first.
    method, rotation, corr : str
        Passed to :func:`allyscale.efa` (``corr="polychoric"`` is psych's ``poly = TRUE``).
    general : str, optional
        Name of the general factor of a bifactor CFA (default: the factor loading on most items).
    n_starts, seed : int
        Random starts (and their seed) of the oblique rotation, passed to :func:`allyscale.efa`;
        psych rotates once from the varimax solution, the extra starts guard against a local optimum.

    Returns
    -------
    OmegaResult or BifactorResult

    Raises
    ------
    SpecificationError
        Fewer than two factors, a CFA without a general or second-order factor.

    References
    ----------
    McDonald, R. P. (1999). Test theory: A unified treatment. Erlbaum.
    Schmid, J., & Leiman, J. M. (1957). The development of hierarchical factor solutions.
    Psychometrika, 22, 53-61.
    Zinbarg, R. E., Revelle, W., Yovel, I., & Li, W. (2005). Cronbach's alpha, Revelle's
    beta, and McDonald's omega_h. Psychometrika, 70, 123-133.
    Revelle, W., & Zinbarg, R. E. (2009). Coefficients alpha, beta, omega, and the glb.
    Psychometrika, 74, 145-154.
    """
    from allyscale.cfa import CFAResult as _CFA

    if isinstance(data, _CFA):
        return _omega_from_cfa(data, general=general)
    if n_factors is None:
        n_factors = len(pool.factors) if pool is not None else 3
    if n_factors < 2:
        raise SpecificationError(f"omega needs at least two group factors (n_factors >= 2), got {n_factors}")
    from allyscale.efa import efa, schmid_leiman

    x, reversed_ = _select_items(data, items, pool)
    names = list(x.columns)
    fa = efa(x, n_factors, method=method, rotation=rotation, corr=corr, n_starts=n_starts, seed=seed)
    if fa.correlation is not None:
        r = fa.correlation.loc[names, names].to_numpy(dtype=float)
    elif corr == "pearson":
        r = x.corr().to_numpy(dtype=float)
    else:  # pragma: no cover - efa always returns its correlation matrix
        raise SpecificationError("the exploratory solution did not return its correlation matrix")
    sl = schmid_leiman(fa, method=method)
    lo = sl.loadings.loc[names]
    slm = lo.to_numpy(dtype=float)
    if sl.gamma.sum() < 0:  # psych's one-factor fa of Phi returns positive loadings
        slm[:, 0] = -slm[:, 0]
    h2 = fa.communalities.loc[names].to_numpy(dtype=float)
    res = omega_from_schmid(r, slm, h2, names, list(lo.columns[1:]))
    load = pd.DataFrame(res["sl"], index=names, columns=lo.columns)
    load["h2"] = h2
    load["u2"] = 1 - h2
    load["p2"] = load["g"] ** 2 / h2
    diag = {
        "efa": fa.diagnostics,
        "reversed": reversed_,
        "flipped": [n for n, k in zip(names, res["key"]) if k < 0],
        "corr": corr,
        "method": method,
        "rotation": rotation,
    }
    if (h2 > 1).any():
        diag["heywood"] = [n for n, v in zip(names, h2) if v > 1]
    return OmegaResult(
        omega_h=res["omega_h"],
        omega_t=res["omega_t"],
        alpha=res["alpha"],
        g6=res["g6"],
        ecv=res["ecv"],
        omega_lim=res["omega_lim"],
        groups=res["groups"],
        loadings=load,
        assignment=res["assignment"],
        n_factors=n_factors,
        diagnostics=diag,
    )


# --------------------------------------------------------------------------- model-based (bifactor)
@dataclass(frozen=True)
class BifactorResult(Result):
    """Model-based indices of a bifactor (or Schmid–Leiman-transformed second-order) model.

    Attributes
    ----------
    omega, omega_h, ecv, puc : float
    factors : DataFrame
        Per factor (general first): ``omega`` (omega of the subscale; total for g),
        ``omega_h`` (omega_h for g, omega_hs for group factors), ``H`` (construct
        replicability), ``ecv`` (share of common variance; for a group factor, its share
        within its own items: ``ECV_SS``), ``n_items``.
    loadings : DataFrame
        Standardized loadings used (general and group factors) with ``theta``.
    """

    omega: float
    omega_h: float
    ecv: float
    puc: float
    factors: pd.DataFrame
    loadings: pd.DataFrame
    general: str
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """The model-based indices and the per-factor table."""
        out = Summary(f"Model-based indices (general factor {self.general!r})")
        out.text(f"omega = {self.omega:.4f}, omega_h = {self.omega_h:.4f}, ECV = {self.ecv:.4f}, PUC = {self.puc:.4f}")
        return out.table(self.factors, title="Factors", digits=4)

    def to_frame(self) -> pd.DataFrame:
        """Per factor: omega, omega_h, H, ECV, number of items."""
        return self.factors

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(
            {
                "omega": self.omega,
                "omega_h": self.omega_h,
                "ecv": self.ecv,
                "puc": self.puc,
                "general": self.general,
                "factors": self.factors,
                "loadings": self.loadings,
                "diagnostics": self.diagnostics,
            }
        )


def bifactor_indices(loadings: pd.DataFrame, general: str, *, theta: pd.Series | None = None) -> BifactorResult:
    """omega, omega_h, omega_hs, H, ECV and PUC from standardized bifactor loadings.

    Conventions (Rodriguez, Reise & Haviland, 2016; the formulas of their Table 1 and of
    the ``BifactorIndicesCalculator`` R package): loadings are completely standardized
    and factors orthogonal; ``theta_i = 1 - h2_i`` unless given; the variance of a unit-
    weighted sum is model-implied, ``V = (sum g)^2 + sum_k (sum s_k)^2 + sum theta``.

    * ``omega = (V - sum theta) / V``, ``omega_h = (sum g)^2 / V``;
    * for group factor ``k`` with its items ``I_k`` (non-zero loading):
      ``omega_k = ((sum_{I_k} g)^2 + (sum s_k)^2) / V_k``, ``omega_hs = (sum s_k)^2 / V_k``;
    * ``H = 1 / (1 + 1 / sum(l^2 / (1 - l^2)))`` (Hancock & Mueller, 2001);
    * ``ECV = sum g^2 / (sum g^2 + sum s^2)``; for group k, ``sum_{I_k} s_k^2 / (sum_{I_k} g^2 + sum s_k^2)``;
    * ``PUC = 1 - sum_k C(n_k, 2) / C(n, 2)`` (Reise, Scheines, Widaman & Haviland, 2013).

    Parameters
    ----------
    loadings : DataFrame
        Items × factors, standardized, zero (or NaN) where an item does not load.
    general : str
        Column of the general factor.
    theta : Series, optional
        Standardized residual variances (default ``1 - h2``).

    Raises
    ------
    SpecificationError
        ``general`` is not a column, or an item does not load on it.

    References
    ----------
    Hancock, G. R., & Mueller, R. O. (2001). Rethinking construct reliability within latent
    variable systems. In R. Cudeck et al. (Eds.), Structural equation modeling: Present and
    future (pp. 195-216). Scientific Software International.
    Reise, S. P., Scheines, R., Widaman, K. F., & Haviland, M. G. (2013). Multidimensionality
    and structural coefficient bias in structural equation modeling. Educational and
    Psychological Measurement, 73, 5-26.
    Rodriguez, A., Reise, S. P., & Haviland, M. G. (2016). Evaluating bifactor models:
    Calculating and interpreting statistical indices. Psychological Methods, 21, 137-150.
    """
    if general not in loadings.columns:
        raise SpecificationError(
            f"general factor {general!r} is not a column of the loadings ({list(loadings.columns)})"
        )
    lam = loadings.fillna(0.0).astype(float)
    g = lam[general]
    if (g == 0).any():
        raise SpecificationError(f"item(s) {list(g.index[g == 0])} do not load on the general factor {general!r}")
    groups = [c for c in lam.columns if c != general]
    h2 = (lam**2).sum(axis=1)
    th = (1 - h2) if theta is None else theta.loc[lam.index].astype(float)
    v = g.sum() ** 2 + sum(lam[k].sum() ** 2 for k in groups) + th.sum()
    ssg = (g**2).sum()
    sss = sum((lam[k] ** 2).sum() for k in groups)

    def _h(l: pd.Series) -> float:
        l = l[l != 0]
        s = (l**2 / (1 - l**2)).sum()
        return float(1 / (1 + 1 / s))

    rows = {
        general: {
            "omega": (v - th.sum()) / v,
            "omega_h": g.sum() ** 2 / v,
            "H": _h(g),
            "ecv": ssg / (ssg + sss),
            "n_items": len(g),
        }
    }
    n = len(g)
    pairs = 0
    for k in groups:
        idx = lam.index[lam[k] != 0]
        sk, gk = lam.loc[idx, k], g.loc[idx]
        vk = gk.sum() ** 2 + sk.sum() ** 2 + th.loc[idx].sum()
        rows[k] = {
            "omega": (gk.sum() ** 2 + sk.sum() ** 2) / vk if len(idx) else np.nan,
            "omega_h": sk.sum() ** 2 / vk if len(idx) else np.nan,
            "H": _h(sk) if len(idx) else np.nan,
            "ecv": (sk**2).sum() / ((gk**2).sum() + (sk**2).sum()) if len(idx) else np.nan,
            "n_items": len(idx),
        }
        pairs += len(idx) * (len(idx) - 1) / 2
    puc = 1 - pairs / (n * (n - 1) / 2)
    factors = pd.DataFrame.from_dict(rows, orient="index")
    out = lam.copy()
    out["theta"] = th
    diag: dict[str, Any] = {}
    if (th < 0).any():
        warnings.warn(
            f"negative standardized residual variances for {list(th.index[th < 0])}", StatisticalWarning, stacklevel=2
        )
        diag["negative_theta"] = list(th.index[th < 0])
    return BifactorResult(
        omega=float(factors.loc[general, "omega"]),
        omega_h=float(factors.loc[general, "omega_h"]),
        ecv=float(ssg / (ssg + sss)),
        puc=float(puc),
        factors=factors,
        loadings=out,
        general=general,
        diagnostics=diag,
    )


def _omega_from_cfa(fit: CFAResult, *, general: str | None) -> BifactorResult:
    """Bifactor indices from a CFA: a bifactor model directly, a second-order model through
    its Schmid–Leiman form (item on g: ``l_ik * gamma_k``; on group k: ``l_ik sqrt(1 - gamma_k^2)``)."""
    if not fit.converged:
        raise SpecificationError("the CFA did not converge; model-based omega would describe a non-solution")
    est = fit.estimates
    if "group" in est.columns:
        raise SpecificationError("model-based omega is available for single-group models")
    load = est[est["op"] == "=~"]
    latent = list(dict.fromkeys(load["lhs"]))
    items = [i for i in dict.fromkeys(load["rhs"]) if i not in latent]
    second = [f for f in latent if set(load.loc[load["lhs"] == f, "rhs"]) <= set(latent)]
    if second:
        g = general or second[0]
        first = list(load.loc[load["lhs"] == g, "rhs"])
        gamma = load[(load["lhs"] == g)].set_index("rhs")["std_all"]
        lam = pd.DataFrame(0.0, index=items, columns=[g, *first])
        for _, row in load[load["lhs"].isin(first)].iterrows():
            gm = float(gamma[row["lhs"]])
            lam.loc[row["rhs"], g] += row["std_all"] * gm
            lam.loc[row["rhs"], row["lhs"]] = row["std_all"] * math.sqrt(max(1 - gm**2, 0.0))
        theta = None
    else:
        lam = (
            load.pivot_table(index="rhs", columns="lhs", values="std_all", aggfunc="sum")
            .reindex(index=items, columns=latent)
            .fillna(0.0)
        )
        g = general or max(latent, key=lambda f: (lam[f] != 0).sum())
        if (lam[g] != 0).sum() < len(items):
            raise SpecificationError(
                f"factor {g!r} does not load on every item: not a bifactor model "
                "(give general= or fit a bifactor / second-order model)"
            )
        cov = est[(est["op"] == "~~") & est["lhs"].isin(latent) & est["rhs"].isin(latent) & (est["lhs"] != est["rhs"])]
        if (cov["std_all"].abs() > 1e-8).any():
            raise SpecificationError("the factors of a bifactor model must be orthogonal (fix their covariances to 0)")
        res = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"]) & est["lhs"].isin(items)].set_index("lhs")
        theta = res["std_all"].reindex(items)
    return bifactor_indices(lam, g, theta=theta)
