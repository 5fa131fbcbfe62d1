"""Exploratory structural equation modelling (ESEM): lavaan 0.6.14's ``efa()`` blocks.

A model whose factors are written ``efa("e1")*f1 + efa("e1")*f2 =~ x1 + ... + x9`` has an
EFA block: every item of the block loads on every factor of the block. ``allyscale.cfa``
fits such a model as lavaan 0.6.14's ``cfa()`` does (Asparouhov & Muthén, 2009):

1. the unrotated model, identified by lavaan's echelon pattern (unit factor variances, zero
   covariances within the block, factor k's first k - 1 loadings zero; ``allyscale.syntax``),
   is estimated by the ordinary estimators (ML, MLR, WLSMV); its fit is the ESEM's fit;
2. each block is rotated (:mod:`allyscale._core.esem`; ``rotation=``, lavaan's
   ``rotation.args`` as ``rotation_args``);
3. standard errors of the rotated parameters by lavaan's default ``rotation.se = "bordered"``
   (the rotated model with the echelon zeros freed and the rotation's stationarity
   conditions as constraints), or ``"delta"`` (the delta method: a forward-difference
   Jacobian of the rotation, step 0.005, as lavaan).

Blocks can be mixed with ordinary CFA factors (set-ESEM) and several blocks can be used.
Bifactor-ESEM: ``rotation="bigeomin"`` or ``"biquartimin"`` (the first factor of the block
is the general factor), usually with ``rotation_args={"orthogonal": True}``; a bifactor
*target* rotation is ``rotation="target"`` with a target whose general column is unspecified
(NaN), lavaan's partially specified target. lavaan 0.6.14 has no "bitarget" rotation.

Functions here also build the tables a validation report needs: :func:`cross_loadings` and
:func:`compare_correlations` (CFA vs ESEM factor correlations), and the ESEM-based omega
(:func:`allyscale.reliability.omega_esem` reads the rotated solution).

References
----------
Asparouhov, T., & Muthén, B. (2009). Exploratory structural equation modeling. Structural
Equation Modeling, 16, 397-438.
Marsh, H. W., Morin, A. J. S., Parker, P. D., & Kaur, G. (2014). Exploratory structural
equation modeling: An integration of the best features of exploratory and confirmatory
factor analysis. Annual Review of Clinical Psychology, 10, 85-110.
Rosseel, Y. (2012). lavaan: An R package for structural equation modeling. Journal of
Statistical Software, 48(2), 1-36 (version 0.6.14 is the reference).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from allyscale._core import esem as _esem
from allyscale._core import ml as _ml
from allyscale._core.model import ModelSpec
from allyscale.errors import ConvergenceWarning, SpecificationError
from allyscale.results import Summary
from allyscale.sem import CFAResult, ordinal_model_of

__all__ = [
    "ROTATIONS",
    "rotation_options",
    "ESEMInfo",
    "ESEMResult",
    "factor_correlations",
    "omega_esem",
    "cross_loadings",
    "compare_correlations",
    "loadings",
]

#: rotation methods accepted by ``cfa(rotation=)`` (lavaan 0.6.14 names)
ROTATIONS = (
    "geomin",
    "oblimin",
    "quartimin",
    "target",
    "bigeomin",
    "biquartimin",
    "varimax",
    "quartimax",
    "orthomax",
    "none",
)

#: lavaan 0.6.14's ``rotation.args`` defaults, with Python names (dots become underscores)
DEFAULTS: dict[str, Any] = {
    "orthogonal": False,
    "row_weights": "default",
    "std_ov": True,
    "geomin_epsilon": 0.001,
    "orthomax_gamma": 1.0,
    "oblimin_gamma": 0.0,
    "target": None,
    "target_mask": None,
    "rstarts": 30,
    "algorithm": "gpa",
    "reflect": True,
    "order_lv_by": "index",
    "gpa_tol": 1e-5,
    "max_iter": 10000,
    "seed": 0,
}


def rotation_options(rotation: str | None, rotation_args: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated rotation options: lavaan 0.6.14's ``rotation`` and ``rotation.args`` (keys with dots
    or underscores: ``geomin.epsilon`` or ``geomin_epsilon``), plus ``seed`` for the random starts.

    As lavaan: varimax is orthogonal; a target with NaN cells is a partially specified target
    (``pst``, the NaN cells free); ``row_weights="default"`` is ``"none"`` (``"kaiser"`` for
    varimax). Raises :class:`SpecificationError` for an unknown method or key, or a missing target.
    """
    method = "geomin" if rotation is None else str(rotation).lower().replace("-", "")
    if method not in ROTATIONS:
        raise SpecificationError(f"unknown rotation {rotation!r}; expected one of {', '.join(ROTATIONS)}")
    opts = dict(DEFAULTS)
    for key, value in dict(rotation_args or {}).items():
        k = str(key).replace(".", "_")
        if k not in DEFAULTS:
            raise SpecificationError(f"unknown rotation_args key {key!r}; expected some of {', '.join(DEFAULTS)}")
        opts[k] = value
    if method in _esem.ORTHOGONAL_ONLY:
        opts["orthogonal"] = True
    opts["orthogonal"] = bool(opts["orthogonal"])
    rw = str(opts["row_weights"]).lower()
    if rw == "default":
        rw = "kaiser" if method == "varimax" else "none"
    if rw in ("cureton.mulaik", "cm"):
        rw = "cureton-mulaik"
    if rw not in ("none", "kaiser", "cureton-mulaik"):
        raise SpecificationError(f"rotation_args row_weights must be 'none', 'kaiser' or 'cureton-mulaik', got {rw!r}")
    opts["row_weights"] = rw
    if str(opts["algorithm"]).lower() != "gpa":
        raise SpecificationError("only the gradient projection algorithm (algorithm='gpa') is available")
    order = str(opts["order_lv_by"]).lower()
    if order not in ("index", "sumofsquares", "none"):
        raise SpecificationError(f"rotation_args order_lv_by must be 'index', 'sumofsquares' or 'none', got {order!r}")
    opts["order_lv_by"] = order
    if method == "target":
        if opts["target"] is None:
            raise SpecificationError(
                "rotation='target' needs rotation_args={'target': matrix} (items x factors; "
                "NaN cells are not specified)"
            )
        tgt = np.asarray(opts["target"], dtype=float)
        if tgt.ndim != 2:
            raise SpecificationError(f"the rotation target must be a matrix (items x factors), got shape {tgt.shape}")
        opts["target"] = tgt
        if np.isnan(tgt).any():
            method = "pst"
            opts["target_mask"] = (~np.isnan(tgt)).astype(float)
            opts["target"] = np.where(np.isnan(tgt), 0.0, tgt)
    if float(opts["geomin_epsilon"]) <= 0:
        raise SpecificationError("rotation_args geomin_epsilon must be positive")
    opts["rstarts"] = int(opts["rstarts"])
    opts["method"] = method
    return opts


def _crit_args(opts: dict[str, Any]) -> dict[str, Any]:
    return {
        "geomin_epsilon": float(opts["geomin_epsilon"]),
        "oblimin_gamma": float(opts["oblimin_gamma"]),
        "orthomax_gamma": float(opts["orthomax_gamma"]),
        "target": opts["target"],
        "target_mask": opts["target_mask"],
    }


@dataclass(frozen=True)
class ESEMInfo:
    """What the rotation did: ``method`` (lavaan's name; ``pst`` for a partially specified
    target), ``options`` (the rotation arguments used), ``blocks`` (block → its factors and
    items), ``H`` (per group, the full rotation matrix over the latent variables, lavaan's
    ``@H``), ``criterion`` (block → criterion value), ``converged`` (block → bool),
    ``unrotated`` (the unrotated estimates of every table row), ``se`` (``"bordered"`` or
    ``"delta"``)."""

    method: str
    options: dict[str, Any]
    blocks: dict[str, dict[str, list[str]]]
    H: list[np.ndarray] = field(repr=False)
    criterion: dict[str, float]
    converged: dict[str, bool]
    unrotated: np.ndarray = field(repr=False)
    se: str = "bordered"
    start_criteria: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def start_values(prep):
    """Start values of the unrotated EFA blocks, as lavaan 0.6.14 (``lav_start``): per block, an
    ML factor extraction of the block items' correlation matrix (Lawley & Maxwell, 1971;
    :func:`allyscale._core.extraction.ml`) rescaled to their variances and rotated to the
    echelon pattern (the orthogonal rotation making the first m rows lower triangular, lavaan's
    ``Lambda HEAD^-1 chol(HEAD HEAD')'``; columns with a positive diagonal), residual variances
    from the uniquenesses. Without them every
    factor of a block would start at the same first principal component. Returns the
    prepared input with the table's ``start`` column (and its :class:`ModelSpec`) set."""
    from allyscale._core import extraction

    pt = prep.partable.copy()
    ov, lv = list(prep.ov), list(prep.lv)
    start = pt["start"].to_numpy(dtype=float).copy()
    for g in range(prep.ngroups):
        y = prep.y[g]
        ok = ~np.isnan(y).any(axis=1)
        s = np.cov(y[ok], rowvar=False, bias=True)
        for b in _blocks(pt, ov, lv, g):
            m = len(b.lv_idx)
            sb = s[np.ix_(b.ov_idx, b.ov_idx)]
            sd = np.sqrt(np.diag(sb))
            if len(b.ov_idx) <= m:
                continue
            try:
                ex = extraction.ml(sb / np.outer(sd, sd), m)
            except (np.linalg.LinAlgError, ValueError):
                continue
            lam = ex.loadings * sd[:, None]
            if m > 1:  # the orthogonal rotation making the first m rows lower triangular (QR of their transpose)
                q, _ = np.linalg.qr(lam[:m].T)
                lam = lam @ q
            lam = lam * np.where(np.diag(lam[:m]) < 0, -1.0, 1.0)[None, :]
            theta = ex.uniquenesses * sd**2
            grp = pt["group"].to_numpy() == g + 1
            for jj, f in enumerate(lv[i] for i in b.lv_idx):
                for ii, v in enumerate(ov[i] for i in b.ov_idx):
                    rows = np.flatnonzero(
                        grp & (pt["op"] == "=~").to_numpy() & (pt["lhs"] == f).to_numpy() & (pt["rhs"] == v).to_numpy()
                    )
                    start[rows] = lam[ii, jj] if np.isfinite(lam[ii, jj]) else 1.0
            if prep.estimator != "WLSMV":
                for ii, v in enumerate(ov[i] for i in b.ov_idx):
                    rows = np.flatnonzero(
                        grp & (pt["op"] == "~~").to_numpy() & (pt["lhs"] == v).to_numpy() & (pt["rhs"] == v).to_numpy()
                    )
                    start[rows] = theta[ii] if np.isfinite(theta[ii]) else 1.0
    free = pt["free"].to_numpy() > 0
    pt["start"] = np.where(free, start, pt["start"].to_numpy(dtype=float))
    spec = ModelSpec.from_partable(pt, ov, lv, meanstructure=prep.spec.meanstructure)
    return replace(prep, partable=pt, spec=spec)


def _blocks(pt: pd.DataFrame, ov: list[str], lv: list[str], g: int) -> list[_esem.Block]:
    """lavaan's ``ov.efa.idx``/``lv.efa.idx``: items and factors of each block, in order of appearance."""
    out = []
    rows = pt[(pt["op"] == "=~") & (pt["group"] == g + 1) & (pt["efa"] != "")]
    for name in pd.unique(rows["efa"]):
        r = rows[rows["efa"] == name]
        out.append(
            _esem.Block(
                str(name),
                np.array([ov.index(v) for v in pd.unique(r["rhs"])], dtype=int),
                np.array([lv.index(f) for f in pd.unique(r["lhs"])], dtype=int),
            )
        )
    return out


def rotated_table(pt: pd.DataFrame, group_equal: Sequence[str] = ()) -> pd.DataFrame:
    """lavaan's ``PT.new``: the echelon zeros and within-block covariances (``user`` 7 and 77)
    freed, the free parameters renumbered in table order. Rows sharing a free index within a
    group keep sharing it; across groups (``group_equal``) each group gets its own parameter,
    since each group's block is rotated separately, and the equalities are kept as linear
    constraints for the bordered standard errors (lavaan's ``ceq`` rows):
    ``attrs["rotation_equalities"]``, pairs of 1-based free indices. With equal loadings
    lavaan also ties the echelon zeros across groups (its ``==`` rows cover every loading of
    the class), so the later groups' freed echelon rows (``user = 77``) are paired with the
    first group's (``user = 7``) too."""
    out = pt.copy()
    user = out["user"].to_numpy()
    free = out["free"].to_numpy(dtype=int)
    group = out["group"].to_numpy(dtype=int) if "group" in out else np.ones(len(out), dtype=int)
    freed = np.isin(user, (7, 77))
    new = np.zeros(len(out), dtype=int)
    seen: dict[tuple[int, int], int] = {}
    first: dict[int, int] = {}
    pairs: list[tuple[int, int]] = []
    k = 0
    for i in range(len(out)):
        if freed[i]:
            k += 1
            new[i] = k
        elif free[i] > 0:
            key = (int(free[i]), int(group[i]))
            if key in seen:
                new[i] = seen[key]
            else:
                k += 1
                seen[key] = new[i] = k
                if free[i] in first:
                    pairs.append((first[free[i]], k))
                else:
                    first[free[i]] = k
    if "loadings" in group_equal:
        op, lhs, rhs = out["op"].to_numpy(), out["lhs"].to_numpy(), out["rhs"].to_numpy()
        first_echelon = {
            (lhs[i], rhs[i]): new[i] for i in range(len(out)) if freed[i] and op[i] == "=~" and group[i] == 1
        }
        for i in range(len(out)):
            if freed[i] and op[i] == "=~" and group[i] > 1 and (lhs[i], rhs[i]) in first_echelon:
                pairs.append((int(first_echelon[(lhs[i], rhs[i])]), int(new[i])))
    out["free"] = new
    out.loc[freed, "ustart"] = np.nan
    out.attrs.update(pt.attrs)
    out.attrs["rotation_equalities"] = pairs
    return out


def _fill(spec_new: ModelSpec, pt_old: pd.DataFrame, x_old: np.ndarray, mats) -> np.ndarray:
    """The free-parameter vector of the rotated table: matrix cells from the rotated matrices,
    other free rows (thresholds, scale factors) carried over from the unrotated fit."""
    pt_new = spec_new.partable
    x = np.zeros(spec_new.n_free)
    f_old = pt_old["free"].to_numpy(dtype=int)
    f_new = pt_new["free"].to_numpy(dtype=int)
    both = (f_old > 0) & (f_new > 0)
    x[f_new[both] - 1] = x_old[f_old[both] - 1]
    for k, g, name, i, j in spec_new.entries:
        m = getattr(mats[g], name)
        x[k] = m[i] if m.ndim == 1 else m[i, j]
    return x


def _rotate(
    spec: ModelSpec,
    x: np.ndarray,
    blocks_g: list[list[_esem.Block]],
    opts: dict[str, Any],
    init: list[np.ndarray] | None = None,
):
    """Rotate every block of every group; returns rotated matrices, ``H`` per group and the
    per-block results (lavaan's ``lav_model_efa_rotate_x``)."""
    mats = spec.matrices(x)
    rng = np.random.default_rng(opts["seed"])
    hs, results = [], []
    for g, gm in enumerate(mats):
        m = gm.lam.shape[1]
        H = np.eye(m)
        res_g = []
        for b in blocks_g[g]:
            if len(b.lv_idx) < 2 or not len(b.ov_idx):
                res_g.append(None)
                continue
            A = gm.lam[np.ix_(b.ov_idx, b.lv_idx)]
            ov_var = None
            if opts["std_ov"]:
                ov_var = np.einsum("ij,ij->i", A, A) + np.diag(gm.theta)[b.ov_idx]
            start = None if init is None else init[g][np.ix_(b.lv_idx, b.lv_idx)]
            r = _esem.rotate_block(
                A,
                opts["method"],
                orthogonal=opts["orthogonal"],
                ov_var=ov_var,
                row_weights=opts["row_weights"],
                rstarts=opts["rstarts"],
                rng=rng,
                init=start,
                reflect=bool(opts["reflect"]) and start is None,
                order_by=opts["order_lv_by"] if start is None else "none",
                gpa_tol=float(opts["gpa_tol"]),
                max_iter=int(opts["max_iter"]),
                **_crit_args(opts),
            )
            H[np.ix_(b.lv_idx, b.lv_idx)] = r.rot
            res_g.append(r)
        hs.append(H)
        results.append(res_g)
        gm.lam = np.linalg.solve(H, gm.lam.T).T
        gm.psi = H.T @ gm.psi @ H
        gm.beta = H.T @ np.linalg.solve(H, gm.beta.T).T
        gm.alpha = H.T @ gm.alpha
    return mats, hs, results


def _constraint_jacobian(spec_new: ModelSpec, x: np.ndarray, blocks_g, opts: dict[str, Any]) -> np.ndarray:
    """Jacobian of the stacked stationarity conditions (:func:`allyscale._core.esem.border_constraints`)
    with respect to the rotated model's free parameters, by central differences with one
    Richardson extrapolation step (lavaan: ``numDeriv::jacobian(method = "Richardson")``).
    Only the parameters of Lambda, Theta and Psi cells can move the conditions."""
    crit = _crit_args(opts)

    def c(xv):
        out = []
        for g, gm in enumerate(spec_new.matrices(xv)):
            out.append(
                _esem.border_constraints(
                    gm.lam,
                    gm.theta,
                    gm.psi,
                    blocks_g[g],
                    opts["method"],
                    orthogonal=opts["orthogonal"],
                    std_ov=bool(opts["std_ov"]),
                    row_weights=opts["row_weights"],
                    **crit,
                )
            )
        return np.concatenate(out)

    c0 = c(x)
    jac = np.zeros((c0.size, spec_new.n_free))
    movers = sorted({k for k, g, name, i, j in spec_new.entries if name in ("lam", "theta", "psi")})
    for k in movers:
        h = 1e-4 * max(abs(x[k]), 1.0)
        d = []
        for hh in (h, h / 2):
            xp, xm = x.copy(), x.copy()
            xp[k] += hh
            xm[k] -= hh
            d.append((c(xp) - c(xm)) / (2 * hh))
        jac[:, k] = (4 * d[1] - d[0]) / 3
    return jac


def _bread_meat(prep, est, spec_new: ModelSpec, x_new: np.ndarray, pt_new: pd.DataFrame):
    """The rotated model's information ``B`` and, for robust standard errors, ``M`` and the
    divisor: ML ``(I_expected, None, 1)``; MLR ``(I_observed, sum of score products, 1)``;
    WLSMV ``(D'WD, D'W Gamma W D, N - G)`` (lavaan's ``robust.sem``; ``D`` the Jacobian of every
    group's thresholds and polychorics, scale factors and means included; several groups: the
    blocks of each group weighted by ``N_g / N``, as :func:`allyscale._core.wlsmv.estimate`)."""
    if prep.estimator in ("ML", "MLR"):
        data = [_ml.GroupData.from_array(y) for y in prep.y]
        if prep.estimator == "ML" and prep.missing != "fiml":
            info = _ml.deviance(spec_new, data, x_new, need_grad=False, need_info=True)[2]
            return info, None, 1.0
        info = _ml.observed_information(spec_new, data, x_new)
        if prep.estimator == "ML":
            return info, None, 1.0
        scores = _ml.casewise_scores(spec_new, data, x_new)
        return info, sum(sc.T @ sc for sc in scores), 1.0
    from scipy import sparse

    from allyscale._core import wlsmv as _wlsmv

    # the rotated model's implied statistics of every group (thresholds, scale factors and means
    # included: lavaan's delta parameterization) and their sparse Jacobian
    om = ordinal_model_of(pt_new, list(spec_new.ov), list(spec_new.lv), spec=spec_new)
    G = prep.ngroups
    model = om.groups_model(G)
    jac_all = sparse.csr_array(model(x_new)[1])
    k = spec_new.n_free
    stats_g = []
    for g in range(G):
        stats = prep.wls_stats[g] if prep.wls_stats else _wlsmv.sample_statistics(prep.y[g])
        if "acov" not in stats:
            stats = _wlsmv.finish_statistics(stats)
        stats_g.append(stats)
    ns = np.array([float(st["n"]) for st in stats_g])
    bread = np.zeros((k, k))
    meat = np.zeros((k, k))
    q_g = model.q_g
    for g, stats in enumerate(stats_g):
        jac = sparse.csr_array(jac_all[g * q_g : (g + 1) * q_g])
        w = stats["w"]
        if w.size != jac.shape[0]:
            raise SpecificationError("the rotated model's statistics do not match the sample statistics")
        fg = ns[g] / ns.sum()  # lavaan: group g weighted by N_g / N
        bread += fg * np.asarray((jac.T @ jac.multiply(w[:, None])).toarray())
        a = sparse.csc_array(jac.multiply(w[:, None]))
        used = np.flatnonzero(np.diff(a.indptr))
        meat[np.ix_(used, used)] += fg * stats["acov"].products(a[:, used], w)[0]
    return bread, meat, float(ns.sum() - G)


def _vcov_bordered(prep, est, spec_new, x_new, pt_new, blocks_g, opts):
    bread, meat, div = _bread_meat(prep, est, spec_new, x_new, pt_new)
    # as lavaan's lav_model_efa_rotate_border_x: a block gives its stationarity conditions only in the
    # groups where it carries the echelon zeros (user 7); with equal loadings the later groups' blocks
    # are tied to the first group's by the equality constraints instead
    rows = pt_new[(pt_new["op"] == "=~") & (pt_new["user"] == 7)]
    marked = {(int(g), str(e)) for g, e in zip(rows["group"], rows["efa"])}
    border_g = [[b for b in bs if (g + 1, b.name) in marked] for g, bs in enumerate(blocks_g)]
    jac = _constraint_jacobian(spec_new, x_new, border_g, opts)
    equal = pt_new.attrs.get("rotation_equalities") or []
    if equal:  # group_equal: each group's parameters tied by linear constraints (lavaan's ceq rows)
        ceq = np.zeros((len(equal), spec_new.n_free))
        for r, (a, b) in enumerate(equal):
            ceq[r, a - 1], ceq[r, b - 1] = 1.0, -1.0
        jac = np.vstack([jac, ceq])
    binv = _esem.constrained_inverse(bread, jac)
    if meat is None:
        return binv / div
    return binv @ meat @ binv / div


def _vcov_delta(prep, est, spec, spec_new, pt, blocks_g, opts, hs):
    """lavaan's ``rotation.se = "delta"``: ``J V J'`` with ``J`` the forward-difference Jacobian
    (step 0.005, lavaan's ``numDeriv`` ``method = "simple"``) of the rotated parameters with
    respect to the unrotated ones, each rotation started from the final one."""
    x = est.x
    base = _fill(spec_new, pt, x, _rotate(spec, x, blocks_g, opts, init=hs)[0])
    jac = np.zeros((spec_new.n_free, spec.n_free))
    for k in range(spec.n_free):
        xp = x.copy()
        xp[k] += 0.005
        jac[:, k] = (_fill(spec_new, pt, xp, _rotate(spec, xp, blocks_g, opts, init=hs)[0]) - base) / 0.005
    v = est.vcov
    ev, evec = np.linalg.eigh((v + v.T) / 2)
    v = (evec * np.maximum(ev, 1e-10)) @ evec.T  # lavaan: lav_matrix_symmetric_force_pd(tol = 1e-10)
    return jac @ v @ jac.T


def rotate_fit(prep, est, rotation: str | None, rotation_args: Mapping[str, Any] | None, rotation_se: str):
    """Rotate a fitted model with EFA blocks: ``(prepared, estimation, ESEMInfo)`` of the rotated
    solution (the prepared input holds lavaan's ``PT.new`` table, the estimation its parameters
    and covariance). Called by :func:`allyscale.cfa.cfa`."""
    opts = rotation_options(rotation, rotation_args)
    if est.prepared is not None:
        prep = est.prepared
    spec, pt = prep.spec, prep.partable
    ov, lv = list(spec.ov), list(spec.lv)
    blocks_g = [_blocks(pt, ov, lv, g) for g in range(prep.ngroups)]
    names = {b.name: {"factors": [lv[i] for i in b.lv_idx], "items": [ov[i] for i in b.ov_idx]} for b in blocks_g[0]}
    if opts["target"] is not None:
        for b in blocks_g[0]:
            shape = (len(b.ov_idx), len(b.lv_idx))
            if opts["target"].shape != shape:
                raise SpecificationError(
                    f"the rotation target is {opts['target'].shape[0]} x "
                    f"{opts['target'].shape[1]} but EFA block {b.name!r} has {shape[0]} items "
                    f"and {shape[1]} factors"
                )
    unrotated = spec.estimates(est.x)
    if opts["method"] == "none":
        return prep, est, ESEMInfo("none", opts, names, [np.eye(len(lv))], {}, {}, unrotated, "none")
    mats, hs, results = _rotate(spec, est.x, blocks_g, opts)
    pt_new = rotated_table(pt, prep.group_equal)
    spec_new = ModelSpec.from_partable(pt_new, ov, lv, meanstructure=spec.meanstructure)
    x_new = _fill(spec_new, pt, est.x, mats)

    def per_block(attr):  # block -> value (several groups: "block (group label)")
        out = {}
        for g, (bs, rs) in enumerate(zip(blocks_g, results)):
            for b, r in zip(bs, rs):
                if r is not None:
                    key = b.name if prep.ngroups == 1 else f"{b.name} ({prep.group_labels[g]})"
                    out[key] = getattr(r, attr)
        return out

    crit, conv, starts = per_block("value"), per_block("converged"), per_block("start_values")
    bad = [n for n, ok in conv.items() if not ok]
    diagnostics = dict(est.diagnostics)
    if bad:
        warnings.warn(
            f"the {opts['method']} rotation of EFA block(s) {bad} did not converge in {opts['max_iter']} iterations",
            ConvergenceWarning,
            stacklevel=4,
        )
        diagnostics["rotation_converged"] = False
    vcov = None
    if est.vcov is not None and est.converged:
        try:
            if rotation_se == "delta":
                vcov = _vcov_delta(prep, est, spec, spec_new, pt, blocks_g, opts, hs)
            else:
                vcov = _vcov_bordered(prep, est, spec_new, x_new, pt_new, blocks_g, opts)
        except np.linalg.LinAlgError:
            diagnostics["rotation_se"] = "the bordered information matrix is singular: no standard errors"
            vcov = None
    diagnostics["rotation"] = {"method": opts["method"], "criterion": crit, "converged": conv}
    prep_new = replace(prep, partable=pt_new, spec=spec_new)
    est_new = replace(est, x=x_new, vcov=vcov, diagnostics=diagnostics, prepared=prep_new, spec=spec_new)
    info = ESEMInfo(
        opts["method"],
        {k: v for k, v in opts.items() if k != "method"},
        names,
        hs,
        crit,
        conv,
        unrotated,
        rotation_se,
        starts,
    )
    return prep_new, est_new, info


@dataclass(frozen=True)
class ESEMResult(CFAResult):
    """A fitted model with EFA blocks: a :class:`~allyscale.cfa.CFAResult` whose ``estimates``
    hold the rotated solution (lavaan's rows: ``f =~ x`` for every item and factor of a block,
    standard errors by ``rotation.se``) and whose ``fit_measures`` are the model's (rotation
    does not change the implied moments), with ``rotation`` (:class:`ESEMInfo`)."""

    rotation: ESEMInfo | None = None

    def loadings(self, *, standardized: bool = True, block: str | None = None) -> pd.DataFrame:
        """The loading matrix (items x factors); see :func:`loadings`."""
        return loadings(self, standardized=standardized, block=block)

    def factor_correlations(self) -> pd.DataFrame:
        """The factor correlation matrix of the rotated solution."""
        return factor_correlations(self)

    def modification_indices(self, *, minimum: float = 0.0) -> pd.DataFrame:
        """Not available for models with EFA blocks (their rotated table is not identified without
        the rotation's constraints, which the score tests here do not include)."""
        raise SpecificationError("modification indices are not available for models with EFA blocks")

    def summary(self) -> Summary:
        """The CFA summary with the rotation, its standard errors, the blocks and the rotated loading matrix."""
        out = super().summary()
        info = self.rotation
        if info is not None:
            out.title = "Exploratory SEM: " + out.title
            out.lead(
                f"rotation {info.method}"
                + (" (orthogonal)" if info.options["orthogonal"] else " (oblique)")
                + f", standard errors {info.se}; blocks: "
                + "; ".join(f"{b}: {', '.join(v['factors'])}" for b, v in info.blocks.items())
            )
            out.table(self.loadings(), title="Rotated standardized loadings")
        return out


def build_result(prep, est, rotation, rotation_args, rotation_se) -> ESEMResult:
    """The :class:`ESEMResult` of a fitted model with EFA blocks (called by ``allyscale.cfa.cfa``):
    fit measures, R² and warnings from the unrotated solution, estimates from the rotated one."""
    from allyscale.sem import _build

    unrot = _build(prep, est)
    prep_new, est_new, info = rotate_fit(prep, est, rotation, rotation_args, rotation_se)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the unrotated build has reported them (same implied moments)
        rot = _build(prep_new, est_new)
    diagnostics = dict(unrot.diagnostics)
    diagnostics.update({k: v for k, v in est_new.diagnostics.items() if k.startswith("rotation")})
    values = {f.name: getattr(rot, f.name) for f in fields(CFAResult)}
    values.update(fit_measures=unrot.fit_measures, diagnostics=diagnostics, r2=unrot.r2)
    return ESEMResult(**values, rotation=info)


# --------------------------------------------------------------------------------------
# tables for reports
# --------------------------------------------------------------------------------------
def loadings(fit, *, standardized: bool = True, block: str | None = None) -> pd.DataFrame:
    """The loading matrix of a fitted model (items x factors), ``std_all`` by default.

    Parameters
    ----------
    fit : CFAResult
    standardized : bool
        ``std_all`` (default) or the raw estimates.
    block : str, optional
        Only the factors of this EFA block.
    """
    est = fit.estimates
    rows = est[est["op"] == "=~"]
    if block is not None:
        info = getattr(fit, "rotation", None)
        if info is None or block not in info.blocks:
            raise SpecificationError(f"no EFA block {block!r} in this fit")
        rows = rows[rows["lhs"].isin(info.blocks[block]["factors"])]
    col = "std_all" if standardized else "est"
    tab = rows.pivot_table(index="rhs", columns="lhs", values=col, sort=False)
    items = list(pd.unique(rows["rhs"]))
    factors = list(pd.unique(rows["lhs"]))
    return tab.reindex(index=items, columns=factors).fillna(0.0)


def cross_loadings(fit, pattern: Mapping[str, Sequence[str]] | None = None, *, threshold: float = 0.3) -> pd.DataFrame:
    """Cross-loadings table of an ESEM (standardized, ``std_all``).

    For every item: its intended factor (from ``pattern``, factor → items, e.g. the item pool's
    hypothesised structure; without it the factor of its largest absolute loading), the
    primary (intended) loading, the largest absolute cross-loading and its factor, and
    whether any cross-loading reaches ``threshold`` in absolute value (the convention ``|λ|`` ≥ .30
    of Marsh et al., 2014, is a reporting convention, not a decision rule).

    Returns
    -------
    DataFrame
        ``item, factor, primary, max_cross, cross_factor, n_cross, flagged``.
    """
    L = loadings(fit)
    intended: dict[str, str] = {}
    if pattern is not None:
        for f, items in pattern.items():
            for i in items:
                intended[i] = f
    rows = []
    for item, row in L.iterrows():
        f = intended.get(item)
        if f is None or f not in row.index:
            f = row.abs().idxmax()
        cross = row.drop(f)
        cf = cross.abs().idxmax() if len(cross) else None
        rows.append(
            {
                "item": item,
                "factor": f,
                "primary": float(row[f]),
                "max_cross": float(cross[cf]) if cf is not None else np.nan,
                "cross_factor": cf,
                "n_cross": int((cross.abs() >= threshold).sum()),
                "flagged": bool((cross.abs() >= threshold).any()),
            }
        )
    return pd.DataFrame(rows)


def factor_correlations(fit) -> pd.DataFrame:
    """Standardized factor correlation matrix of a fitted model (``std_all`` of ``~~`` rows)."""
    est = fit.estimates
    lv = list(fit._prep.lv)
    out = pd.DataFrame(np.eye(len(lv)), index=lv, columns=lv)
    rows = est[(est["op"] == "~~") & est["lhs"].isin(lv) & est["rhs"].isin(lv) & (est["lhs"] != est["rhs"])]
    for r in rows.itertuples(index=False):
        out.loc[r.lhs, r.rhs] = out.loc[r.rhs, r.lhs] = r.std_all
    return out


def compare_correlations(cfa_fit, esem_fit, *, mapping: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Factor correlations of a CFA next to those of an ESEM of the same factors.

    Independent-clusters CFA forces cross-loadings to zero, which inflates the factor
    correlations when items are not pure (Asparouhov & Muthén, 2009; Marsh et al., 2014);
    this table shows each pair's CFA and ESEM correlation and their difference.

    Parameters
    ----------
    cfa_fit, esem_fit : CFAResult
    mapping : dict, optional
        ESEM factor name → CFA factor name when they differ.

    Returns
    -------
    DataFrame
        ``factor1, factor2, cfa, esem, difference`` (``cfa - esem``), with the mean absolute
        difference in ``attrs["mean_abs_difference"]``.
    """
    rc = factor_correlations(cfa_fit)
    re_ = factor_correlations(esem_fit)
    mapping = dict(mapping or {})
    names = [f for f in re_.index if mapping.get(f, f) in rc.index]
    if len(names) < 2:
        raise SpecificationError("the two fits share fewer than two factors (give mapping=ESEM name -> CFA name)")
    rows = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            c = float(rc.loc[mapping.get(a, a), mapping.get(b, b)])
            e = float(re_.loc[a, b])
            rows.append(
                {"factor1": mapping.get(a, a), "factor2": mapping.get(b, b), "cfa": c, "esem": e, "difference": c - e}
            )
    out = pd.DataFrame(rows)
    out.attrs["mean_abs_difference"] = float(out["difference"].abs().mean())
    return out


def omega_esem(fit, pattern: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Model-based omega of each factor of an ESEM (or any fitted factor model), from its
    standardized (``std_all``) rotated solution.

    For factor f with items I (its intended items from ``pattern``, factor → items; by default
    the items whose largest absolute loading is on f):

    * ``omega``: ``(sum_I |lambda_if|)^2 / ((sum_I |lambda_if|)^2 + sum_I theta_i)``, the ESEM
      composite reliability of Morin, Arens & Marsh (2016, eq. 1; McDonald, 1970), with
      ``theta`` the standardized residual variances (cross-loadings are not counted as
      error: they are part of the items' explained variance);
    * ``omega_model``: the share of the variance of the unit-weighted sum of I that f alone
      explains, ``(sum_I |lambda_if|)^2 / s' Sigma_II s`` (``s`` the loadings' signs, so that
      reverse-keyed items enter reversed; ``Sigma`` the model-implied
      correlation matrix; cross-loadings and the other factors count as not-f variance;
      Bentler, 2009; for the general factor of a bifactor-ESEM over all items this is
      omega-hierarchical, Rodriguez, Reise & Haviland, 2016).

    With WLSMV the solution is on the latent-response scale (polychoric correlations), so
    these are latent-response reliabilities, not of the observed sum score (see
    ``reliability()``'s categorical omega for that).

    Returns
    -------
    DataFrame
        ``factor, n_items, omega, omega_model`` with ``attrs["source"]`` naming the solution
        (rotation, estimator) the values come from.
    """
    L = loadings(fit)
    est = fit.estimates
    theta = {
        r.lhs: r.std_all for r in est[(est["op"] == "~~") & (est["lhs"] == est["rhs"])].itertuples() if r.lhs in L.index
    }
    implied = fit._prep.spec.implied(fit._est.x)[0][0]
    ov = list(fit._prep.ov)
    sd = np.sqrt(np.diag(implied))
    corr = pd.DataFrame(implied / np.outer(sd, sd), index=ov, columns=ov)
    groups: dict[str, list[str]] = {}
    if pattern is not None:
        groups = {f: [i for i in items if i in L.index] for f, items in pattern.items() if f in L.columns}
    else:
        for item, row in L.iterrows():
            groups.setdefault(row.abs().idxmax(), []).append(item)
    rows = []
    for f in L.columns:
        items = groups.get(f, [])
        if not items:
            continue
        lam = L.loc[items, f].to_numpy()
        sign = np.where(lam < 0, -1.0, 1.0)  # reverse-keyed items enter reversed
        s = float(np.abs(lam).sum())
        err = float(sum(theta[i] for i in items))
        total = float(sign @ corr.loc[items, items].to_numpy() @ sign)
        rows.append({"factor": f, "n_items": len(items), "omega": s * s / (s * s + err), "omega_model": s * s / total})
    out = pd.DataFrame(rows)
    info = getattr(fit, "rotation", None)
    how = f"{info.method} rotation" if info is not None else "confirmatory solution"
    out.attrs["source"] = (
        f"standardized {how} of the {fit.estimator} fit (omega: Morin et al., 2016; "
        "omega_model: share of the item sum's implied variance due to the factor)"
    )
    return out
