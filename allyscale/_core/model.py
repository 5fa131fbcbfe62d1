"""Parameter table → model matrices, implied moments and their analytic derivatives.

A :class:`ModelSpec` maps the free parameters of a lavaanify() parameter table onto the
LISREL "all-y" matrices of every group (Lambda, Theta, Psi, B, and with a mean
structure nu and alpha):

    Sigma = Lambda A Psi A' Lambda' + Theta,   A = (I - B)^-1
    mu    = nu + Lambda A alpha

Parameters that share a label (equality constraints, ``group.equal``) share one entry of
the free-parameter vector. Derivatives of Sigma and mu with respect to every free
parameter are computed in closed form (no numerical differentiation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from allyscale.errors import SpecificationError


class _Row(NamedTuple):
    lhs: str
    op: str
    rhs: str
    group: int


def table_columns(pt: Any) -> dict[str, list]:
    """The columns of a parameter table as lists, from a pandas DataFrame (``.columns``, ``.tolist()``) or a
    mapping of column name → sequence; the core never needs pandas itself."""
    if isinstance(pt, dict):
        return {k: list(v) for k, v in pt.items()}
    return {str(c): pt[c].tolist() for c in pt.columns}


__all__ = ["ModelSpec", "GroupMatrices", "vech_indices"]


def vech_indices(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of vech (lower triangle incl. diagonal, column by column, as lavaan)."""
    rows, cols = [], []
    for j in range(p):
        for i in range(j, p):
            rows.append(i)
            cols.append(j)
    return np.array(rows, dtype=int), np.array(cols, dtype=int)


@dataclass
class GroupMatrices:
    """Model matrices of one group (LISREL all-y notation, lavaan's names in brackets):
    ``lam`` (lambda), ``theta``, ``psi``, ``beta``, ``nu``, ``alpha``."""

    lam: np.ndarray
    theta: np.ndarray
    psi: np.ndarray
    beta: np.ndarray
    nu: np.ndarray
    alpha: np.ndarray

    @property
    def A(self) -> np.ndarray:
        """``(I - B)^-1`` (the identity itself when there is no regression among the factors)."""
        eye = np.eye(self.beta.shape[0])
        if not self.beta.any():
            return eye
        return np.linalg.inv(eye - self.beta)

    def sigma(self) -> np.ndarray:
        a = self.A
        lam_a = self.lam @ a
        return lam_a @ self.psi @ lam_a.T + self.theta

    def mu(self) -> np.ndarray:
        return self.nu + self.lam @ (self.A @ self.alpha)

    def latent_cov(self) -> np.ndarray:
        a = self.A
        return a @ self.psi @ a.T


@dataclass
class ModelSpec:
    """Free parameters and where they live.

    Attributes
    ----------
    partable : DataFrame
        The parameter table (lavaanify output).
    delta : list of (group, item index, table row)
        Residual variances of ordered items under the delta parameterization (lavaanify
        ``kind == "delta_resid"``): not free, set to ``1 - (Lambda Phi Lambda')_ii`` so that
        the implied (latent-response) variances are 1; their derivatives vanish on the diagonal.
    ov, lv : list of str
        Observed and latent variables (matrix order).
    ngroups : int
    meanstructure : bool
    n_free : int
    entries : list of (free_index, group, matrix, row, col)
        Every matrix cell that a free parameter fills (symmetric cells listed once, with
        row <= col, and mirrored when filled).
    """

    partable: Any  # the parameter table: any column mapping (a pandas DataFrame, or a dict of lists)
    ov: list[str]
    lv: list[str]
    ngroups: int
    meanstructure: bool
    n_free: int
    entries: list[tuple[int, int, str, int, int]] = field(default_factory=list)
    fixed: list[tuple[int, str, int, int, float]] = field(default_factory=list)
    delta: list[tuple[int, int, int]] = field(default_factory=list)  # (group, ov index, table row)
    scales: dict[tuple[int, int], tuple[int, float]] = field(default_factory=dict)  # (g, ov) -> (free idx | -1, value)
    # the table's rows as dicts, filled by ml.start_values on first use (refits of one model reuse them)
    start_records: list[dict] | None = field(default=None, repr=False, compare=False)
    # index arrays of matrices(): per group and matrix, the fixed cells and the free cells (built on first use)
    fill_plan: list | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_partable(cls, pt: Any, ov: list[str], lv: list[str], *, meanstructure: bool) -> ModelSpec:
        """Build from a parameter table (columns ``lhs, op, rhs, group, free, ustart``; ``free``
        numbers the free parameters from 1, equal numbers = equality constraints) and the
        observed (data order) and latent variable lists. Rows with other operators
        (thresholds, ``==``, ...) are ignored here.

        Raises
        ------
        SpecificationError
            A regression with an observed variable as outcome.
        """
        cols = table_columns(pt)
        n_rows = len(cols["op"])
        kinds = cols.get("kind", [""] * n_rows)
        ngroups = int(max(cols["group"]))
        entries: list[tuple[int, int, str, int, int]] = []
        fixed: list[tuple[int, str, int, int, float]] = []
        delta: list[tuple[int, int, int]] = []
        for pos, (lhs, op, rhs, group, free_k, ustart, kind) in enumerate(
            zip(cols["lhs"], cols["op"], cols["rhs"], cols["group"], cols["free"], cols["ustart"], kinds)
        ):
            g = int(group) - 1
            where: tuple[str, int, int]
            if op == "=~":
                if rhs in lv:
                    where = ("beta", lv.index(rhs), lv.index(lhs))
                else:
                    where = ("lam", ov.index(rhs), lv.index(lhs))
            elif op == "~":
                if lhs in lv:
                    where = ("beta", lv.index(lhs), lv.index(rhs))
                else:
                    raise SpecificationError(
                        f"regression of the observed variable {lhs!r} is not supported "
                        "(factor models only: '~' between factors)"
                    )
            elif op == "~~":
                if lhs in lv:
                    i, j = sorted((lv.index(lhs), lv.index(rhs)))
                    where = ("psi", i, j)
                else:
                    i, j = sorted((ov.index(lhs), ov.index(rhs)))
                    where = ("theta", i, j)
            elif op == "~1":
                if not meanstructure:
                    continue
                where = ("alpha", lv.index(lhs), 0) if lhs in lv else ("nu", ov.index(lhs), 0)
            else:
                continue
            if free_k > 0:
                entries.append((int(free_k) - 1, g, *where))
            elif kind == "delta_resid" and where[0] == "theta":
                delta.append((g, where[1], pos))
            elif not np.isnan(ustart):
                fixed.append((g, *where, float(ustart)))
        n_free = int(max(cols["free"]))
        scales: dict[tuple[int, int], tuple[int, float]] = {}
        for lhs, op, group, free_k, ustart in zip(cols["lhs"], cols["op"], cols["group"], cols["free"], cols["ustart"]):
            if op == "~*~":
                scales[(int(group) - 1, ov.index(lhs))] = (
                    int(free_k) - 1 if free_k > 0 else -1,
                    float(ustart) if ustart == ustart else 1.0,
                )
        return cls(pt, list(ov), list(lv), ngroups, meanstructure, n_free, entries, fixed, delta, scales)

    def scale(self, x: np.ndarray, g: int) -> np.ndarray:
        """The latent-response scale factors ``delta`` of group ``g`` (``~*~``; 1 without them)."""
        out = np.ones(len(self.ov))
        for (gg, i), (k, value) in self.scales.items():
            if gg == g:
                out[i] = x[k] if k >= 0 else value
        return out

    _NAMES = ("lam", "theta", "psi", "beta", "nu", "alpha")

    def _plan(self) -> list:
        """Per group, per matrix: (fixed rows, cols, values, free rows, cols, parameter) arrays."""
        if self.fill_plan is None:
            plan = []
            for g in range(self.ngroups):
                per = {}
                for name in self._NAMES:
                    fx = [(i, j, v) for gg, nm, i, j, v in self.fixed if gg == g and nm == name]
                    fr = [(i, j, k) for k, gg, nm, i, j in self.entries if gg == g and nm == name]
                    per[name] = (
                        np.array([f[0] for f in fx], dtype=int),
                        np.array([f[1] for f in fx], dtype=int),
                        np.array([f[2] for f in fx], dtype=float),
                        np.array([f[0] for f in fr], dtype=int),
                        np.array([f[1] for f in fr], dtype=int),
                        np.array([f[2] for f in fr], dtype=int),
                    )
                plan.append(per)
            self.fill_plan = plan
        return self.fill_plan

    def matrices(self, x: np.ndarray) -> list[GroupMatrices]:
        """Per group: the model matrices filled with the fixed values and ``x`` (free cells
        after fixed ones, symmetric matrices mirrored), by index arrays built once."""
        p, m = len(self.ov), len(self.lv)
        x = np.asarray(x, dtype=float)
        mats = []
        for per in self._plan():
            arrs = {
                "lam": np.zeros((p, m)),
                "theta": np.zeros((p, p)),
                "psi": np.zeros((m, m)),
                "beta": np.zeros((m, m)),
                "nu": np.zeros(p),
                "alpha": np.zeros(m),
            }
            for name, (fi, fj, fv, ei, ej, ek) in per.items():
                a = arrs[name]
                if a.ndim == 1:
                    a[fi] = fv
                    a[ei] = x[ek]
                    continue
                a[fi, fj] = fv
                if name in ("theta", "psi"):
                    a[fj, fi] = fv
                a[ei, ej] = x[ek]
                if name in ("theta", "psi"):
                    a[ej, ei] = x[ek]
            mats.append(GroupMatrices(arrs["lam"], arrs["theta"], arrs["psi"], arrs["beta"], arrs["nu"], arrs["alpha"]))
        if self.delta:
            # delta parameterization (ordered items): the residual variance makes Sigma_ii = 1
            common, scale = {}, {}
            for g, i, _ in self.delta:
                if g not in common:
                    gm = mats[g]
                    common[g] = np.einsum("ij,jk,ik->i", gm.lam, gm.latent_cov(), gm.lam)
                    scale[g] = self.scale(x, g)
                mats[g].theta[i, i] = (1.0 if (g, i) not in self.scales else 1.0 / scale[g][i] ** 2) - common[g][i]
        return mats

    @staticmethod
    def _set(gm: GroupMatrices, name: str, i: int, j: int, value: float) -> None:
        if name == "lam":
            gm.lam[i, j] = value
        elif name == "beta":
            gm.beta[i, j] = value
        elif name == "theta":
            gm.theta[i, j] = gm.theta[j, i] = value
        elif name == "psi":
            gm.psi[i, j] = gm.psi[j, i] = value
        elif name == "nu":
            gm.nu[i] = value
        elif name == "alpha":
            gm.alpha[i] = value

    def derivatives(self, mats: list[GroupMatrices]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per group: dSigma (q, p, p) and dmu (q, p) with respect to the free parameters
        (analytic: ``dSigma/dLambda_ij = E_ij Phi Lambda' + Lambda Phi E_ji`` with
        ``Phi = A Psi A'``, ``dSigma/dPsi_ij = Lambda A (E_ij + E_ji) A' Lambda'`` (once on the
        diagonal), ``dSigma/dB_ij = Lambda A E_ij A Psi A' Lambda' + transpose``, Theta cells 1)."""
        p = len(self.ov)
        q = self.n_free
        out = []
        cache = []
        for gm in mats:
            a = gm.A
            lam_a = gm.lam @ a
            phi = a @ gm.psi @ a.T
            a_alpha = a @ gm.alpha
            cache.append((a, lam_a, phi, a_alpha))
            out.append((np.zeros((q, p, p)), np.zeros((q, p))))
        for k, g, name, i, j in self.entries:
            gm = mats[g]
            a, lam_a, phi, a_alpha = cache[g]
            ds, dm = out[g]
            if name == "lam":
                # dSigma = E_ij Phi Lambda' + Lambda Phi E_ji
                row = phi[j] @ gm.lam.T  # (p,)
                d = np.zeros((p, p))
                d[i] += row
                d[:, i] += row
                ds[k] += d
                dm[k, i] += a_alpha[j]
            elif name == "theta":
                ds[k, i, j] += 1.0
                if i != j:
                    ds[k, j, i] += 1.0
            elif name == "psi":
                u, v = lam_a[:, i], lam_a[:, j]
                d = np.outer(u, v)
                ds[k] += d + d.T if i != j else d
            elif name == "beta":
                # dA = A E_ij A ; dSigma = Lambda dA Psi A' Lambda' + transpose
                la_i = lam_a[:, i]
                w = a[j] @ gm.psi @ a.T @ gm.lam.T  # row j of A Psi A' Lambda'
                d = np.outer(la_i, w)
                ds[k] += d + d.T
                dm[k] += la_i * a_alpha[j]
            elif name == "nu":
                dm[k, i] += 1.0
            elif name == "alpha":
                dm[k] += lam_a[:, i]
        for g, i, _ in self.delta:
            out[g][0][:, i, i] = 0.0  # Sigma_ii is held at 1
        return out

    # -- convenience API (the estimator contract) ----------------------------------------
    def implied(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per group: model-implied covariance matrix Sigma (p, p) and mean vector mu (p,).

        With latent-response scale factors (``~*~``, ordered items in several groups) Sigma is
        that of the scaled responses, ``D Sigma D``: the implied polychoric correlations."""
        out = []
        for g, gm in enumerate(self.matrices(x)):
            sig = gm.sigma()
            if self.scales:
                d = self.scale(x, g)
                sig = sig * np.outer(d, d)
            out.append((sig, gm.mu()))
        return out

    def dsigma(self, x: np.ndarray) -> list[np.ndarray]:
        """Per group: the Jacobian of vech(Sigma) (lavaan's column-wise lower triangle incl.
        the diagonal) with respect to the free parameters, shape (p(p+1)/2, n_free).
        Parameters that share a label appear once (their contributions are summed)."""
        r, c = vech_indices(len(self.ov))
        return [ds[:, r, c].T.copy() for ds, _ in self.derivatives(self.matrices(x))]

    def dmu(self, x: np.ndarray) -> list[np.ndarray]:
        """Per group: the Jacobian of mu with respect to the free parameters, (p, n_free)."""
        return [dm.T.copy() for _, dm in self.derivatives(self.matrices(x))]

    def standardized(self, x: np.ndarray) -> np.ndarray:
        """lavaan's ``std.all`` for every row of the parameter table, in its order.

        Loadings ``lambda * sd(eta) / sd(y)``, regressions ``b * sd(x) / sd(y)``,
        variances divided by the model-implied total variance (of Sigma for observed and
        of ``(I - B)^-1 Psi (I - B)^-T`` for latent variables), covariances divided by the
        product of the two *residual* standard deviations (sqrt of Theta or Psi diagonals,
        so a residual covariance becomes a residual correlation, as lavaan), intercepts and
        means divided by the total standard deviation, thresholds by the latent-response
        standard deviation, scale factors multiplied by it. Other operators give NaN.
        """
        mats = self.matrices(x)
        sd_ov, sd_lv = [], []
        for gm in mats:
            sd_ov.append(np.sqrt(np.clip(np.diag(gm.sigma()), 0, None)))
            sd_lv.append(np.sqrt(np.clip(np.diag(gm.latent_cov()), 0, None)))
        est = self.estimates(x)
        out = np.full(len(table_columns(self.partable)["op"]), np.nan)
        ov, lv = self.ov, self.lv

        def sd(g, name):
            return sd_lv[g][lv.index(name)] if name in lv else sd_ov[g][ov.index(name)]

        with np.errstate(divide="ignore", invalid="ignore"):
            cols = table_columns(self.partable)
            for i, row in enumerate(_Row(*r) for r in zip(cols["lhs"], cols["op"], cols["rhs"], cols["group"])):
                g = int(row.group) - 1
                if row.op == "=~":
                    out[i] = est[i] * sd(g, row.lhs) / sd(g, row.rhs)
                elif row.op == "~":
                    out[i] = est[i] * sd(g, row.rhs) / sd(g, row.lhs)
                elif row.op == "~~" and row.lhs != row.rhs:
                    # covariances of residuals (or of latent disturbances) become correlations of
                    # those residuals, as lavaan: divide by the residual standard deviations
                    gm = mats[g]
                    if row.lhs in lv:
                        a, b = lv.index(row.lhs), lv.index(row.rhs)
                        out[i] = est[i] / np.sqrt(gm.psi[a, a] * gm.psi[b, b])
                    else:
                        a, b = ov.index(row.lhs), ov.index(row.rhs)
                        out[i] = est[i] / np.sqrt(gm.theta[a, a] * gm.theta[b, b])
                elif row.op == "~~":
                    out[i] = est[i] / (sd(g, row.lhs) * sd(g, row.rhs))
                elif row.op in ("~1", "|"):  # thresholds: on the latent-response scale
                    out[i] = est[i] / sd(g, row.lhs)
                elif row.op == "~*~":  # scale factor times sd(y*): 1, as lavaan
                    out[i] = est[i] * sd(g, row.lhs)
        return out

    def estimates(self, x: np.ndarray) -> np.ndarray:
        """The value of every parameter-table row (free ones from ``x``, fixed ones from
        ``ustart``; rows the model matrices do not hold, e.g. thresholds, are NaN unless free)."""
        cols = table_columns(self.partable)
        free = np.asarray(cols["free"])
        ustart = np.asarray(cols["ustart"], dtype=float)
        out = np.where(free > 0, x[np.maximum(free, 1) - 1], ustart)
        if self.delta:
            mats = self.matrices(x)
            for g, i, pos in self.delta:
                out[pos] = mats[g].theta[i, i]
        ops = np.asarray(cols["op"], dtype=object)
        if not self.meanstructure:
            out = np.where(ops == "~1", np.nan, out)
        return out.astype(float)

    def lowrank(self, mats: list[GroupMatrices]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
        """Per group: ``(a, b, dmu)`` with ``dSigma_k = a_k b_k' + b_k a_k'`` (rows of the
        (n_free, p) arrays ``a`` and ``b``) and ``dmu`` (n_free, p); ``None`` for a group in
        which one free parameter fills several cells (then use :meth:`derivatives`).

        Every single cell of Lambda, Theta, Psi or B moves Sigma by a symmetric rank-2 term,
        which makes the gradient, the expected information and casewise scores cost
        O(q p^2) instead of O(q p^3).
        """
        p = len(self.ov)
        q = self.n_free
        out: list[tuple[np.ndarray, np.ndarray, np.ndarray] | None] = []
        counts: dict[tuple[int, int], int] = {}
        for k, g, *_ in self.entries:
            counts[(g, k)] = counts.get((g, k), 0) + 1
        delta_groups = {g for g, _, _ in self.delta}
        for g, gm in enumerate(mats):
            if g in delta_groups or any(c > 1 for (gg, _), c in counts.items() if gg == g):
                out.append(None)
                continue
            a_mat = gm.A
            lam_a = gm.lam @ a_mat
            phi = a_mat @ gm.psi @ a_mat.T
            a_alpha = a_mat @ gm.alpha
            lam_phi = gm.lam @ phi  # (p, m): column j = Lambda phi_j
            a = np.zeros((q, p))
            b = np.zeros((q, p))
            dm = np.zeros((q, p))
            for k, gg, name, i, j in self.entries:
                if gg != g:
                    continue
                if name == "lam":
                    a[k, i] = 1.0
                    b[k] = lam_phi[:, j]
                    dm[k, i] = a_alpha[j]
                elif name == "theta":
                    a[k, i] = 1.0
                    b[k, j] = 0.5 if i == j else 1.0
                elif name == "psi":
                    a[k] = lam_a[:, i]
                    b[k] = lam_a[:, j] * (0.5 if i == j else 1.0)
                elif name == "beta":
                    a[k] = lam_a[:, i]
                    b[k] = gm.lam @ (a_mat @ gm.psi @ a_mat.T)[:, j]
                    dm[k] = lam_a[:, i] * a_alpha[j]
                elif name == "nu":
                    dm[k, i] = 1.0
                elif name == "alpha":
                    dm[k] = lam_a[:, i]
            out.append((a, b, dm))
        return out
