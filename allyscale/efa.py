"""Exploratory factor analysis: ``allyscale.efa``, Schmid-Leiman, congruence, item flags.

allyscale owns its EFA code (numpy/scipy), checked against ``psych::fa`` and
GPArotation. factor_analyzer is not used: its latest release (0.5.1) fails on
scikit-learn >= 1.8 (``check_array() got an unexpected keyword argument
'force_all_finite'``) and has no target rotation, polychoric input, parallel analysis or
MAP; pinning scikit-learn below 1.8 for it would break users' current stacks.

Conventions follow psych 2.2.9 so that numbers agree with ``fa()``: extraction as in
:mod:`allyscale._core.extraction`; rotation as GPArotation (oblimin, geomin, target) or
psych (promax via Kaiser normalisation, varimax as ``stats::varimax``); after rotation
each factor is signed so its loadings sum to a positive number and factors are ordered
by the variance they account for (``diag(Phi L'L)``), as psych does. Rotations start
from the identity (psych's start) and from ``n_starts`` random orthonormal matrices;
the best criterion wins and distinct local optima are reported in ``diagnostics``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.stats import chi2

from allyscale._core import extraction as _ex
from allyscale._core import rotation as _rot
from allyscale._threads import blas_limited
from allyscale.errors import ConvergenceWarning, DataError, HeywoodWarning, SpecificationError
from allyscale.pool import ItemPool
from allyscale.results import Result, Summary, jsonable

__all__ = [
    "efa",
    "EFAResult",
    "schmid_leiman",
    "SchmidLeiman",
    "congruence",
    "correlation_input",
    "METHODS",
    "ROTATIONS",
]

METHODS = ("minres", "ml", "pa")
ROTATIONS = ("oblimin", "geomin", "promax", "varimax", "target", "none")
#: extraction method → its function (psych's fm = "minres", "ml", "pa")
EXTRACTORS: dict[str, Callable[..., _ex.Extraction]] = {"minres": _ex.minres, "ml": _ex.ml, "pa": _ex.pa}
CORRS = ("pearson", "polychoric")
FLAG_RULES = {"low_primary": 0.40, "cross_loading": 0.30, "small_gap": 0.15, "low_communality": 0.30}


def correlation_input(
    data: pd.DataFrame, corr: str = "pearson", *, items: list[str] | None = None, n: int | None = None
) -> tuple[pd.DataFrame, int, dict]:
    """Correlation matrix for factor analysis from data (or pass a correlation matrix with ``n``).

    Returns ``(R, n, diagnostics)``. Pearson correlations use pairwise-complete cases
    (psych's ``use = "pairwise"``); ``corr="polychoric"`` uses :func:`allyscale.polychoric`.

    Raises
    ------
    DataError
        Missing items, non-numeric or constant items, too few cases.
    SpecificationError
        Unknown ``corr``.
    """
    if corr not in CORRS:
        raise SpecificationError(f"unknown correlation type {corr!r}; use one of {', '.join(CORRS)}")
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(data).__name__}")
    is_corr = (
        data.shape[0] == data.shape[1]
        and list(data.index) == list(data.columns)
        and np.allclose(np.diag(data.to_numpy(dtype=float)), 1.0)
    )
    if is_corr:
        if n is None:
            raise SpecificationError("a correlation matrix was given: pass the number of cases as n=")
        r = data.astype(float)
        if items is not None:
            r = r.loc[items, items]
        return r, int(n), {}
    items = list(data.columns) if items is None else list(items)
    missing = [i for i in items if i not in data.columns]
    if missing:
        raise DataError(f"item(s) not in the data: {missing}")
    x = data[items]
    x.attrs = {}  # a new frame: metadata is not needed (pandas deep-copies it on every column access)
    bad = [c for c in items if not pd.api.types.is_numeric_dtype(x[c])]
    if bad:
        raise DataError(f"non-numeric item column(s): {bad}")
    const = [c for c in items if x[c].nunique(dropna=True) < 2]
    if const:
        raise DataError(f"constant item(s) (a single observed value): {const}")
    if corr == "polychoric":
        from allyscale.polychoric import polychoric

        pc = polychoric(x)
        return pc.corr, len(x), {"polychoric": pc.diagnostics}
    r = x.astype(float).corr(min_periods=2)
    if r.isna().to_numpy().any():
        i, j = np.argwhere(r.isna().to_numpy())[0]
        raise DataError(f"items {items[i]!r} and {items[j]!r} have too few cases in common for a correlation")
    return r, len(x), {}


@dataclass(frozen=True)
class EFAResult(Result):
    """An exploratory factor solution.

    Attributes
    ----------
    loadings : DataFrame
        Items × factors pattern matrix (rotated).
    phi : DataFrame
        Factor correlations (identity for orthogonal rotations).
    structure : DataFrame
        Structure matrix ``loadings @ phi``.
    communalities, uniquenesses : Series
        ``h2`` of the unrotated solution and ``1 - h2``.
    eigenvalues : Series
        Eigenvalues of the correlation matrix (``psych::fa()$e.values``).
    fit : dict
        psych's ``fa.stats``: ``objective``, ``chisq`` (Bartlett-corrected), ``df``,
        ``pvalue``, ``tli``, ``rmsea``, ``bic``, ``rms`` (root mean square residual),
        ``crms``, ``null_chisq``, ``null_df``.
    diagnostics : dict
        Extraction convergence and iterations, rotation convergence, criterion, the
        number of distinct local optima across starts, Heywood cases.
    item_flags : DataFrame
        Items with a low primary loading, a cross-loading, a small gap or a low
        communality; each flag names its rule (see :data:`FLAG_RULES`).
    target_congruence : DataFrame or None
        With a hypothesised structure: Tucker congruence of each factor with its
        matched hypothesised factor.
    """

    loadings: pd.DataFrame
    phi: pd.DataFrame
    structure: pd.DataFrame
    communalities: pd.Series
    uniquenesses: pd.Series
    eigenvalues: pd.Series
    method: str
    rotation: str
    corr: str
    n: int
    fit: dict
    diagnostics: dict
    item_flags: pd.DataFrame
    target_congruence: pd.DataFrame | None = None
    correlation: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def n_factors(self) -> int:
        return self.loadings.shape[1]

    def summary(self) -> Summary:
        """Pattern matrix, factor correlations, fit and item flags."""
        f = self.fit
        out = Summary(
            f"EFA: {self.n_factors} factors, {self.method} extraction, {self.rotation} rotation, "
            f"{self.corr} correlations, N = {self.n}"
        )
        d = self.diagnostics
        if d.get("heywood"):
            out.text(f"Heywood cases: {d['heywood']}", strong=True)
        if d.get("local_optima", 1) > 1:
            out.text(
                f"rotation: {d['local_optima']} distinct local optima across {d['starts']} starts; "
                "the best criterion is reported"
            )
        out.text(
            f"chi2({f['df']}) = {f['chisq']:.2f}, p = {f['pvalue']:.4g}; RMSEA = {f['rmsea']:.3f}; "
            f"TLI = {f['tli']:.3f}; RMSR = {f['rms']:.3f}; BIC = {f['bic']:.1f}"
        )
        out.table(self.to_frame(), title="Pattern matrix").table(self.phi, title="Factor correlations")
        if not self.item_flags.empty:
            out.table(self.item_flags, title="Item flags")
        return out

    def to_frame(self) -> pd.DataFrame:
        """The pattern matrix with communalities (``h2``) and uniquenesses (``u2``)."""
        return self.loadings.assign(h2=self.communalities, u2=self.uniquenesses)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "method": self.method,
                "rotation": self.rotation,
                "corr": self.corr,
                "n": self.n,
                "loadings": self.loadings,
                "phi": self.phi,
                "communalities": self.communalities,
                "fit": self.fit,
                "diagnostics": self.diagnostics,
                "item_flags": self.item_flags,
                "target_congruence": self.target_congruence,
            },
            frames="index",
        )


def congruence(a: np.ndarray | pd.DataFrame, b: np.ndarray | pd.DataFrame) -> pd.DataFrame | np.ndarray:
    """Tucker's congruence coefficients between the columns of two loading matrices (Tucker, 1951).

    ``phi_ij = sum_k a_ki b_kj / sqrt(sum a_ki^2 sum b_kj^2)`` (as ``psych::factor.congruence``).
    """
    A = np.asarray(a, dtype=float)
    B = np.asarray(b, dtype=float)
    num = A.T @ B
    den = np.sqrt(np.outer((A**2).sum(axis=0), (B**2).sum(axis=0)))
    out = num / den
    if isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame):
        return pd.DataFrame(out, index=a.columns, columns=b.columns)
    return out


def _fa_stats(r: np.ndarray, load: np.ndarray, phi: np.ndarray, n_obs: int) -> dict:
    """psych's ``fa.stats``: objective, Bartlett-corrected chi-square, TLI, RMSEA, BIC, RMSR."""
    from allyscale.polychoric import smooth_corr

    p, k = load.shape
    model = load @ phi @ load.T
    resid = r - model
    np.fill_diagonal(resid, 0)
    rstar_off = float((resid**2).sum())
    dof = p * (p - 1) / 2 - p * k + k * (k - 1) / 2
    np.fill_diagonal(model, np.diag(r))
    model_s = smooth_corr(model) if np.linalg.eigvalsh(model).min() < np.finfo(float).eps else model
    r_s = smooth_corr(r) if np.linalg.eigvalsh(r).min() < np.finfo(float).eps else r
    mir = np.linalg.solve(model_s, r_s)
    objective = float(np.trace(mir) - np.linalg.slogdet(mir)[1] - p)
    stat = max(objective * ((n_obs - 1) - (2 * p + 5) / 6 - (2 * k) / 3), 0.0)
    pval = float(chi2.sf(stat, dof)) if dof > 0 else np.nan
    f0 = float(np.trace(r_s) - np.linalg.slogdet(r_s)[1] - p)
    mm = objective / dof if dof > 0 else np.nan
    m0 = f0 * 2 / (p * (p - 1))
    nm = (n_obs - 1) - (2 * p + 5) / 6 - (2 * k) / 3
    tli = (m0 - mm) / (m0 - 1 / nm) if dof > 0 else np.nan
    rmsea = float(np.sqrt(max(stat / (dof * n_obs) - 1 / (n_obs - 1), 0))) if dof > 0 else np.nan
    return {
        "objective": objective,
        "chisq": stat,
        "df": dof,
        "pvalue": pval,
        "tli": tli,
        "rmsea": rmsea,
        "bic": stat - dof * np.log(n_obs) if dof > 0 else np.nan,
        "rms": float(np.sqrt(rstar_off / (p * (p - 1)))),
        "crms": float(np.sqrt(rstar_off / (2 * dof))) if dof > 0 else np.nan,
        "null_chisq": f0 * ((n_obs - 1) - (2 * p + 5) / 6),
        "null_df": p * (p - 1) / 2,
    }


def _rotate(
    A: np.ndarray, rotation: str, target_matrix: np.ndarray | None, n_starts: int, seed: int | None, eps: float
) -> tuple[_rot.Rotation, dict]:
    k = A.shape[1]
    info: dict = {"starts": 1, "local_optima": 1}
    if rotation == "none" or k == 1:
        return _rot.Rotation(A.copy(), np.eye(k), np.eye(k), np.nan, True, 0), info
    if rotation == "varimax":
        return _rot.varimax(A), info
    if rotation == "promax":
        return _rot.promax(A), info
    if rotation == "target":
        if target_matrix is None:
            raise SpecificationError("rotation='target' needs a target matrix or a pool")
        vgq = _rot.target(target_matrix)
    else:
        criteria = {"oblimin": _rot.oblimin(0.0), "geomin": _rot.geomin(0.01)}
        if rotation not in criteria:
            raise SpecificationError(f"unknown rotation {rotation!r}; use {', '.join(ROTATIONS)}")
        vgq = criteria[rotation]
    rng = np.random.default_rng(seed)
    starts = [np.eye(k)] + [_rot.random_orthonormal(k, rng) for _ in range(n_starts)]
    fits = [_rot.gpf_oblique(A, vgq, T0, eps=eps) for T0 in starts]
    crit = np.array([f.criterion for f in fits])
    best = int(np.argmin(crit))
    distinct = np.unique(np.round(crit[np.isfinite(crit)], 6))
    info.update(
        starts=len(starts),
        local_optima=int(distinct.size),
        criteria=sorted(float(c) for c in distinct)[:10],
        identity_start_best=bool(abs(crit[0] - crit[best]) < 1e-6),
    )
    return fits[best], info


def _pool_target(
    pool: ItemPool, items: list[str], reverse_scored: bool = False
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Partially specified target (NaN = free, 0 elsewhere) and the signed hypothesis (+1/-1/0)."""
    groups = pool.factor_items()
    facs = list(groups)
    tgt = np.zeros((len(items), len(facs)))
    hyp = np.zeros((len(items), len(facs)))
    for j, f in enumerate(facs):
        for it in groups[f]:
            if it in items:
                tgt[items.index(it), j] = np.nan  # hypothesised loading: free (partially specified target)
                hyp[items.index(it), j] = 1.0 if reverse_scored or not pool.item(it).reverse else -1.0
    return tgt, hyp, facs


def _flags(load: pd.DataFrame, h2: pd.Series) -> pd.DataFrame:
    rows = []
    absl = load.abs()
    for item in load.index:
        vals = absl.loc[item].sort_values(ascending=False)
        primary, second = float(vals.iloc[0]), float(vals.iloc[1]) if len(vals) > 1 else 0.0
        rules = []
        if primary < FLAG_RULES["low_primary"]:
            rules.append(f"primary loading {primary:.3f} < .40")
        if len(vals) > 1 and second >= FLAG_RULES["cross_loading"]:
            rules.append(f"cross-loading {second:.3f} >= .30 on {vals.index[1]}")
        if len(vals) > 1 and primary - second < FLAG_RULES["small_gap"]:
            rules.append(f"gap {primary - second:.3f} < .15")
        if h2[item] < FLAG_RULES["low_communality"]:
            rules.append(f"communality {h2[item]:.3f} < .30")
        if rules:
            rows.append(
                {"item": item, "primary_factor": vals.index[0], "primary_loading": primary, "flags": "; ".join(rules)}
            )
    if not rows:
        return pd.DataFrame(columns=["primary_factor", "primary_loading", "flags"]).rename_axis("item")
    return pd.DataFrame(rows).set_index("item")


@blas_limited
def efa(
    data: pd.DataFrame,
    n_factors: int,
    *,
    method: str = "minres",
    rotation: str = "oblimin",
    corr: str = "pearson",
    items: list[str] | None = None,
    n: int | None = None,
    target: pd.DataFrame | np.ndarray | None = None,
    pool: ItemPool | None = None,
    n_starts: int = 10,
    seed: int | None = 1,
    eps: float = 1e-5,
    reverse_scored: bool = False,
) -> EFAResult:
    """Exploratory factor analysis as ``psych::fa``.

    Parameters
    ----------
    data : DataFrame
        Item responses (or a correlation matrix with ``n``).
    n_factors : int
    method : {"minres", "ml", "pa"}
    rotation : {"oblimin", "geomin", "promax", "varimax", "target", "none"}
        ``target`` rotates obliquely toward ``target`` (NaN = unspecified) or, with a
        ``pool``, toward the pool's hypothesised structure (each item free on its
        factor, 0 elsewhere).
    corr : {"pearson", "polychoric"}
    items : list of str, optional
    n : int, optional
        Number of cases when ``data`` is a correlation matrix.
    target : DataFrame or array, optional
    pool : ItemPool, optional
        Hypothesised structure: factors are matched to the pool's factors (Hungarian
        assignment on ``|congruence|``), renamed after them, and their congruence reported.
        The hypothesis expects negative loadings for reverse-keyed items (data as
        answered) unless ``reverse_scored=True``.
    n_starts : int
        Random starts of the rotation in addition to the identity.
    seed : int, optional
    eps : float
        Rotation convergence criterion (GPArotation's default 1e-5).
    reverse_scored : bool
        Whether reverse-keyed items of ``pool`` were already reversed in ``data``.

    Returns
    -------
    EFAResult

    Raises
    ------
    SpecificationError
        Unknown method/rotation/corr, ``n_factors`` out of range (degrees of freedom
        below zero), a target of the wrong shape.
    DataError
        Missing, non-numeric or constant items; fewer cases than items for ML.

    References
    ----------
    Revelle, W. (2022). psych: Procedures for psychological, psychometric, and personality
    research (2.2.9). Bernaards & Jennrich (2005).
    """
    if method not in METHODS:
        raise SpecificationError(f"unknown extraction method {method!r}; use one of {', '.join(METHODS)}")
    if rotation not in ROTATIONS:
        raise SpecificationError(f"unknown rotation {rotation!r}; use one of {', '.join(ROTATIONS)}")
    r_df, n_obs, corr_diag = correlation_input(data, corr, items=items, n=n)
    names = list(r_df.columns)
    p = len(names)
    if not isinstance(n_factors, (int, np.integer)) or n_factors < 1:
        raise SpecificationError(f"n_factors must be a positive integer, got {n_factors!r}")
    dof = p * (p - 1) / 2 - p * n_factors + n_factors * (n_factors - 1) / 2
    if n_factors >= p or dof < 0:
        raise SpecificationError(f"{n_factors} factors are too many for {p} items (degrees of freedom {dof:g} < 0)")
    if method == "ml" and n_obs <= p:
        raise DataError(f"ML factor analysis needs more cases ({n_obs}) than items ({p})")
    r = r_df.to_numpy(dtype=float)
    if np.linalg.eigvalsh(r).min() <= 0:
        raise DataError(
            "the correlation matrix is not positive definite (collinear items or too few cases); "
            "drop redundant items or use more cases"
        )
    extractor = EXTRACTORS[method]
    ext = extractor(r, n_factors)
    diagnostics: dict[str, Any] = {
        "extraction_converged": ext.converged,
        "extraction_iterations": ext.iterations,
        "extraction_message": ext.message,
        **corr_diag,
    }
    if not ext.converged:
        warnings.warn(f"{method} extraction did not converge ({ext.message})", ConvergenceWarning, stacklevel=2)
    A = ext.loadings
    h2 = (A**2).sum(axis=1)
    heywood = [names[i] for i in np.flatnonzero(h2 >= 1)]
    diagnostics["heywood"] = heywood
    if heywood:
        warnings.warn(f"Heywood case(s): communality >= 1 for {heywood}", HeywoodWarning, stacklevel=2)
    target_matrix = None
    hyp_names = None
    if rotation == "target":
        if target is None and pool is None:
            raise SpecificationError("rotation='target' needs a target matrix or a pool")
        if target is not None:
            target_matrix = np.asarray(target, dtype=float)
            hyp_names = list(target.columns) if isinstance(target, pd.DataFrame) else None
        elif pool is not None:
            target_matrix, _, hyp_names = _pool_target(pool, names, reverse_scored)
        if target_matrix is None or target_matrix.shape != (p, n_factors):
            shape = (0, 0) if target_matrix is None else target_matrix.shape
            raise SpecificationError(f"the target must be {p} items x {n_factors} factors, got {shape[0]} x {shape[1]}")
    rot, rot_info = _rotate(A, rotation, target_matrix, n_starts, seed, eps)
    diagnostics.update(
        {
            "rotation_converged": rot.converged,
            "rotation_iterations": rot.iterations,
            "rotation_criterion": rot.criterion,
            **rot_info,
        }
    )
    if not rot.converged:
        warnings.warn(
            f"{rotation} rotation did not converge in {rot.iterations} iterations", ConvergenceWarning, stacklevel=2
        )
    L, phi = rot.loadings, rot.phi
    sign = np.sign(L.sum(axis=0))
    sign[sign == 0] = 1
    L, phi = L * sign, phi * np.outer(sign, sign)
    if rotation != "target":  # a target rotation's columns follow the target's
        order = np.argsort(-np.diag(phi @ L.T @ L), kind="stable")
        L, phi = L[:, order], phi[np.ix_(order, order)]
    prefix = {"minres": "MR", "ml": "ML", "pa": "PA"}[method]
    cols = [f"{prefix}{j + 1}" for j in range(n_factors)]
    tc = None
    if pool is not None or rotation == "target":
        if pool is not None:
            _, hyp, hyp_names = _pool_target(pool, names, reverse_scored)
        else:
            tm = cast(np.ndarray, target_matrix)  # rotation == "target" without a pool: the given target
            hyp = np.where(np.isnan(tm), 1.0, tm)
        if hyp.shape[1] == n_factors:
            cong = congruence(L, hyp)
            rows, assign = linear_sum_assignment(-np.abs(cong))
            perm = np.empty(n_factors, dtype=int)
            perm[assign] = rows
            L, phi = L[:, perm], phi[np.ix_(perm, perm)]
            flip = np.sign(np.diag(congruence(L, hyp)))
            flip[flip == 0] = 1
            L, phi = L * flip, phi * np.outer(flip, flip)
            cols = list(hyp_names) if hyp_names else cols
            tc = pd.DataFrame({"congruence": np.diag(congruence(L, hyp))}, index=cols)
    load_df = pd.DataFrame(L, index=names, columns=cols)
    phi_df = pd.DataFrame(phi, index=cols, columns=cols)
    h2_s = pd.Series(h2, index=names, name="h2")
    fit = _fa_stats(r, L, phi, n_obs)
    return EFAResult(
        loadings=load_df,
        phi=phi_df,
        structure=load_df @ phi_df,
        communalities=h2_s,
        uniquenesses=pd.Series(1 - h2, index=names, name="u2"),
        eigenvalues=pd.Series(np.sort(np.linalg.eigvalsh(r))[::-1], index=range(1, p + 1), name="eigenvalue"),
        method=method,
        rotation=rotation,
        corr=corr,
        n=n_obs,
        fit=fit,
        diagnostics=diagnostics,
        item_flags=_flags(load_df, h2_s),
        target_congruence=tc,
        correlation=r_df,
    )


@dataclass(frozen=True)
class SchmidLeiman(Result):
    """A Schmid-Leiman solution: general and group loadings with h2, u2.

    ``loadings`` has a column ``g`` and one column per group factor; ``h2 = g^2 + sum
    of squared group loadings``; ``u2 = 1 - h2``; ``p2 = g^2 / h2``. ``gamma`` are the
    loadings of the first-order factors on g.
    """

    loadings: pd.DataFrame
    h2: pd.Series
    u2: pd.Series
    p2: pd.Series
    gamma: pd.Series
    phi: pd.DataFrame

    def table(self) -> pd.DataFrame:
        """General and group loadings with h2, u2 and p2, one row per item (as psych prints it)."""
        return self.loadings.assign(h2=self.h2, u2=self.u2, p2=self.p2)

    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """General and group loadings with h2, u2 and p2."""
        out = Summary("Schmid-Leiman solution")
        out.text(
            "Loadings of the first-order factors on g: " + ", ".join(f"{k} {v:.2f}" for k, v in self.gamma.items())
        )
        return out.table(self.table(), title="Loadings")

    def to_frame(self) -> pd.DataFrame:
        """:meth:`table`."""
        return self.table()

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {"loadings": self.table(), "gamma": self.gamma, "phi": self.phi, "diagnostics": self.diagnostics},
            frames="index",
        )


def schmid_leiman(
    oblique: EFAResult | pd.DataFrame, phi: pd.DataFrame | None = None, *, method: str = "minres"
) -> SchmidLeiman:
    """Schmid-Leiman orthogonalisation (Schmid & Leiman, 1957) as ``psych::schmid``.

    The factor correlations are factored with one factor (``method``, psych's default
    minres); with two factors psych's ``option = "equal"`` is used (both first-order
    factors load ``sqrt(phi_12)`` on g). General loadings are ``L gamma``, group
    loadings ``L diag(sqrt(1 - gamma^2))``.

    Parameters
    ----------
    oblique : EFAResult or DataFrame
        An oblique solution (its ``loadings`` and ``phi``), or pattern loadings with ``phi``.
    phi : DataFrame, optional
    """
    if isinstance(oblique, EFAResult):
        L, phi = oblique.loadings, oblique.phi
    else:
        if phi is None:
            raise SpecificationError("schmid_leiman needs the factor correlations (phi)")
        L = oblique
    k = L.shape[1]
    if k < 2:
        raise SpecificationError("a Schmid-Leiman transformation needs at least two factors")
    ph = phi.to_numpy(dtype=float)
    if k == 2:
        gamma = np.full(2, np.sqrt(max(ph[0, 1], 0.0)))
    else:
        ext = EXTRACTORS[method](ph, 1)
        gamma = ext.loadings[:, 0]
    Lm = L.to_numpy(dtype=float)
    g = Lm @ gamma
    groups = Lm * np.sqrt(np.clip(1 - gamma**2, 0, None))
    out = pd.DataFrame(np.column_stack([g, groups]), index=L.index, columns=["g", *L.columns])
    h2 = (out**2).sum(axis=1)
    return SchmidLeiman(
        out,
        h2.rename("h2"),
        (1 - h2).rename("u2"),
        (out["g"] ** 2 / h2).rename("p2"),
        pd.Series(gamma, index=L.columns, name="gamma"),
        phi,
    )


from allyscale._callable import make_callable  # noqa: E402 - after the function it makes the module call

make_callable(__name__, efa)
