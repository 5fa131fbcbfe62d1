"""Measurement invariance across groups or across the two forms of paired data, and partial invariance.

Groups (``group=``)
-------------------
Each level is a multi-group :func:`allyscale.cfa.cfa` fit with lavaan's ``group.equal``
(Meredith, 1993; Vandenberg & Lance, 2000): configural (same pattern, everything free),
metric (``"loadings"``), scalar (``"loadings", "intercepts"``; latent means free in every
group but the first), strict (``+ "residuals"``).

Ordered items (``estimator="WLSMV"``, delta parameterization) follow Wu & Estabrook
(2016) (:data:`ORDINAL_LEVELS`, ``cfa(id_cat="Wu.Estabrook.2016")``, as semTools'
``measEq.syntax``): configural; thresholds equal (item intercepts and scale factors free in
every group but the first); + loadings (metric); + intercepts (scalar; the latent means
become free instead). Strict invariance (equal residual variances) cannot be tested in the
delta parameterization (residual variances are not parameters there; semTools refuses it
too): the table has a "strict" row without fit values and says so.

Pairs (``pairs=("self", "informant")``)
---------------------------------------
The same targets rated under two forms are repeated measures, not independent groups:
both forms' items are in one single-group model, each form with its own factors (``A_self``,
``A_informant``, all factors correlated), the same item's residuals correlated across forms,
as semTools' ``measEq.syntax(longFacNames=, longIndNames=, ID.fac="std.lv",
ID.cat="Wu.Estabrook.2016")`` (Liu et al., 2017): the first form's factors have variance 1
and mean 0 throughout; equal loadings free the second form's factor variances, equal
intercepts its factor means. Ordered items: configural (intercepts 0, scale factors 1);
thresholds (equal; the second form's intercepts and scale factors free); + loadings; +
intercepts (0 in both forms). Continuous items: configural, metric, scalar, strict (equal
residual variances). ``model`` names the base items; the data hold ``<item><sep><form>``.

Decisions
---------
Every level is judged against the previous accepted level by
:func:`allyscale.fitpolicy.invariance_decision` (the project's fit-evaluation policy: the
scaled Δχ² test under the default "exact" rule, ΔCFI/ΔRMSEA reported with their cutoffs).
After a level fails, later levels read "not interpretable" (fitted, not judged) or, when a
partial search failed, "not tested".

Partial invariance (``partial=True``)
-------------------------------------
When a level fails, the equality constraints that level added are tested one item at a
time by score (Lagrange multiplier) tests, as lavaan's ``lavTestScore``
(:func:`score_tests`): for item ``j`` the joint test of releasing its constraints of that
level (its loading, intercept or residual variance in every later group/form; for
thresholds, the largest univariate test among its thresholds). The rule: release the item
with the largest statistic while that statistic is significant at ``alpha / m`` (Bonferroni
over the ``m`` items that level constrains), refit, repeat; then judge the partially
invariant model by the fit policy. Released constraints stay released at later levels. For
ordered items a released item keeps thresholds of its own in the second form, with its
intercept and scale factor fixed as in the configural model (the item is identified by its
own thresholds). Across groups, thresholds cannot be released (the multi-group engine frees
every later group's scale factors once thresholds are equal, which would leave a released item
unidentified): a failed thresholds level across groups ends the sequence, with a note. The
error rates of this rule are in ``docs/paired_design.md`` (``studies/paired_partial.py``).

References
----------
Meredith, W. (1993). Measurement invariance, factor analysis and factorial invariance.
Psychometrika, 58, 525-543.
Byrne, B. M., Shavelson, R. J., & Muthén, B. (1989). Testing for the equivalence of factor
covariance and mean structures: the issue of partial measurement invariance. Psychological
Bulletin, 105, 456-466.
Cheung, G. W., & Rensvold, R. B. (2002). Evaluating goodness-of-fit indexes for testing
measurement invariance. Structural Equation Modeling, 9, 233-255.
Chen, F. F. (2007). Sensitivity of goodness of fit indexes to lack of measurement
invariance. Structural Equation Modeling, 14, 464-504.
Wu, H., & Estabrook, R. (2016). Identification of confirmatory factor analysis models of
different levels of invariance for ordered categorical outcomes. Psychometrika, 81, 1014-1045.
Liu, Y., Millsap, R. E., West, S. G., Tein, J.-Y., Tanaka, R., & Grimm, K. J. (2017). Testing
measurement invariance in longitudinal data with ordered-categorical measures.
Psychological Methods, 22, 486-506.
Sörbom, D. (1989). Model modification. Psychometrika, 54, 371-384.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import chi2

from allyscale._threads import blas_limited
from allyscale.cfa import CFAResult, cfa
from allyscale.errors import DataError, SpecificationError
from allyscale.results import Result, Summary, jsonable

__all__ = ["invariance", "InvarianceResult", "score_tests", "paired_syntax", "LEVELS", "ORDINAL_LEVELS"]

LEVELS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "metric": ("loadings",),
    "scalar": ("loadings", "intercepts"),
    "strict": ("loadings", "intercepts", "residuals"),
}

#: The sequence for ordered items (WLSMV, delta parameterization; Wu & Estabrook, 2016).
ORDINAL_LEVELS: dict[str, tuple[str, ...]] = {
    "configural": (),
    "thresholds": ("thresholds",),
    "metric": ("thresholds", "loadings"),
    "scalar": ("thresholds", "loadings", "intercepts"),
}

_NO_STRICT = (
    "strict invariance (equal residual variances) is not testable for ordered items in the delta "
    "parameterization, where residual variances are not parameters (Wu & Estabrook, 2016)"
)

TABLE_COLUMNS = ["chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr"]
_KIND_OP = {"loadings": "=~", "thresholds": "|", "intercepts": "~1", "residuals": "~~"}


# --------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InvarianceResult(Result):
    """An invariance sequence: fit, difference tests, decisions and released constraints.

    Attributes
    ----------
    table : DataFrame
        Indexed by level (a partially invariant level adds a row ``"<level> (partial)"``):
        ``chisq, df, pvalue, cfi, tli, rmsea, srmr`` (MLR also ``chisq.scaled, cfi.robust,
        rmsea.robust``; WLSMV ``chisq.scaled, cfi.scaled, tli.scaled, rmsea.scaled``), then
        ``delta_chisq, delta_df, delta_pvalue`` (the scaled difference test against the
        previous accepted level), ``delta_cfi, delta_rmsea`` (in the policy's index
        version), ``decision`` (``""`` for the configural level, ``"supported"``,
        ``"not supported"``, ``"supported (partial)"``, ``"not interpretable"`` after a
        failed level, ``"not tested"``, ``"not testable"``, ``"undecided"``), ``basis``,
        ``released`` (number of released constraints) and ``converged``.
    fits : dict
        Level (table index) → :class:`~allyscale.cfa.CFAResult`.
    tests : DataFrame
        One row per judged level: ``level, against`` and the full output of
        :func:`allyscale.fitpolicy.invariance_decision` (``held, basis, chisq_diff,
        df_diff, pvalue, delta_cfi, delta_rmsea``, cutoff flags, ``rule``).
    released : DataFrame
        One row per released equality constraint: ``level, step, item, lhs, op, rhs,
        group`` (the freed parameter: its group, or its form for pairs), ``X2, df,
        pvalue`` (the score test that released it).
    score_tests : dict
        Level → the score-test table of the first search step (:func:`score_tests`).
    diagnostics : dict
        ``design`` (``"groups"``/``"pairs"``), ``estimator``, ``policy``, ``note``,
        ``collapsed`` (categories merged first, if any), warnings of the fits.
    models : dict
        Level → lavaan syntax of each paired model (pairs only).
    """

    table: pd.DataFrame
    fits: dict[str, CFAResult] = field(repr=False)
    tests: pd.DataFrame
    released: pd.DataFrame
    score_tests: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def note(self) -> str:
        return str(self.diagnostics.get("note", ""))

    def to_frame(self) -> pd.DataFrame:
        """The level table (a copy)."""
        return self.table.copy()

    def highest_level(self) -> str | None:
        """The highest level that holds (``"scalar (partial)"`` counts), or None."""
        held = [
            lv for lv in self.table.index if str(self.table.loc[lv, "decision"]) in ("supported", "supported (partial)")
        ]
        return held[-1] if held else ("configural" if len(self.table) else None)

    def first_failure(self) -> str | None:
        """The first level that does not hold (and has no partially invariant version that does)."""
        idx = list(self.table.index)
        for lv in idx:
            dec = str(self.table.loc[lv, "decision"])
            if dec in ("not supported", "undecided"):
                part = f"{lv} (partial)"
                if part in idx and str(self.table.loc[part, "decision"]) == "supported (partial)":
                    continue
                return lv.replace(" (partial)", "")
        return None

    def decision_rule(self) -> str:
        """One sentence: how the levels were judged (the fit policy)."""
        rule = (self.diagnostics.get("policy") or {}).get("rule", "exact")
        a = f"{(self.diagnostics.get('policy') or {}).get('alpha', 0.05):g}".lstrip("0")
        if rule == "hu_bentler":
            return (
                "each level is judged against the previous accepted one by ΔCFI ≥ −.01 (Cheung & Rensvold, 2002) "
                "and ΔRMSEA ≤ .015 (Chen, 2007), with the scaled Δχ² test reported"
            )
        return (
            f"each level is judged against the previous accepted one by the scaled Δχ² test at α = {a} (the "
            "project's fit policy), with ΔCFI (cutoff −.01; Cheung & Rensvold, 2002) and ΔRMSEA (cutoff .015; "
            "Chen, 2007) reported beside it"
        )

    def statement(self, what: str) -> str:
        """A one-sentence conclusion, e.g. ``statement("across form")``."""
        held = [
            lv for lv in self.table.index if str(self.table.loc[lv, "decision"]) in ("supported", "supported (partial)")
        ]
        failed = self.first_failure()
        n_rel = len(self.released)
        top = held[-1] if held else "configural"
        part = (
            (
                f" (partial: {n_rel} equality constraint{'s' if n_rel != 1 else ''} released for item(s) "
                f"{', '.join(dict.fromkeys(self.released['item']))})"
            )
            if n_rel and top.endswith("(partial)")
            else ""
        )
        top = top.replace(" (partial)", "")
        if failed is None:
            return f"Invariance {what}: supported up to {top} invariance{part}."
        levels = [
            str(lv).replace(" (partial)", "")
            for lv in self.table.index
            if str(self.table.loc[lv, "decision"]) != "not testable"
        ]
        later = "" if levels and levels[-1] == failed else ", so later levels are not interpretable"
        if not held:
            return (
                f"Invariance {what}: only the configural model was fitted as a baseline; {failed} invariance is "
                f"not supported{later}."
            )
        return (
            f"Invariance {what}: supported up to {top} invariance{part}; {failed} invariance is not supported{later}."
        )

    def summary(self) -> Summary:
        """The level table (fit, difference tests, decisions), released constraints and the note."""
        d = self.diagnostics
        what = (
            f"across the forms {' / '.join(d.get('pairs', []))} (paired design)"
            if d.get("design") == "pairs"
            else f"across {d.get('group')!r}"
        )
        out = Summary(f"Measurement invariance {what}, {d.get('estimator')}")
        out.text(self.decision_rule()[:1].upper() + self.decision_rule()[1:] + ".")
        cols = [c for c in self.table.columns if c not in ("converged", "basis")]
        out.table(self.table[cols], title="Invariance levels", digits=4)
        if len(self.released):
            out.table(self.released, title="Released equality constraints (partial invariance)", index=False)
        if self.note:
            out.text("Note: " + self.note)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable ``table`` (records with ``level``), ``tests``, ``released``,
        ``diagnostics``; NaN becomes ``None``."""
        t = self.table.reset_index().rename(columns={"index": "level"})
        return jsonable(
            {
                "table": t,
                "tests": self.tests,
                "released": self.released,
                "diagnostics": {k: v for k, v in self.diagnostics.items() if k != "collapsed_table"},
            }
        )


# --------------------------------------------------------------------------------------
# paired models
# --------------------------------------------------------------------------------------
def _base_structure(model: str) -> tuple[list[str], dict[str, list[str]], list[str]]:
    from allyscale.syntax import parse_model

    stmts = parse_model(model)
    other = [s for s in stmts if s.op != "=~"]
    if other:
        s = other[0]
        raise SpecificationError(
            f"paired invariance takes a measurement model written with '=~' only; line {s.line} "
            f"has {s.lhs} {s.op} {s.rhs}"
        )
    loads: dict[str, list[str]] = {}
    for s in stmts:
        if s.modifier.fixed or s.modifier.label or s.modifier.free:
            raise SpecificationError(
                f"paired invariance builds its own constraints; remove the modifier on line "
                f"{s.line} ({s.lhs} =~ {s.rhs})"
            )
        loads.setdefault(s.lhs, []).append(s.rhs)
    factors = list(loads)
    higher = [f for f in factors if any(i in factors for i in loads[f])]
    if higher:
        raise SpecificationError(
            f"paired invariance supports first-order factors only; {higher[0]!r} is measured by factors"
        )
    items: list[str] = []
    for f in factors:
        items += [i for i in loads[f] if i not in items]
    return factors, loads, items


def paired_syntax(
    model: str,
    equal: Sequence[str],
    *,
    forms: Sequence[str] = ("self", "informant"),
    sep: str = "_",
    ordered: bool = False,
    n_cat: Mapping[str, int] | None = None,
    released: Sequence[tuple[str, str]] = (),
) -> tuple[str, list[str]]:
    """lavaan syntax of a paired (repeated-measures) invariance model, as semTools' ``measEq.syntax``.

    Parameters
    ----------
    model : str
        Base measurement model (``=~`` only) naming the base items.
    equal : sequence of str
        Constrained parameter kinds: ``"thresholds"``, ``"loadings"``, ``"intercepts"``,
        ``"residuals"`` (``measEq.syntax(long.equal=)``).
    forms, sep
        Column ``<item><sep><form>``; factor ``<factor><sep><form>``.
    ordered : bool
        Ordered items (delta parameterization, Wu & Estabrook, 2016 identification); then
        ``n_cat`` gives each base item's number of categories (or each column's, which the
        configural model allows to differ between forms).
    released : sequence of (kind, item)
        Constraints left free in the second form (partial invariance): ``("loadings",
        item)``, ``("thresholds", item)``, ``("intercepts", item)``, ``("residuals", item)``.

    Returns
    -------
    syntax : str
        Parseable by :func:`allyscale.syntax.parse_model`; identification ``std.lv``.
    free_scales : list of str
        Ordered items whose latent-response scale factor is free (``x ~*~ x``, the second
        form's items once thresholds are equal), to pass to
        :func:`allyscale.pairs.fit_wlsmv_scaled`.
    """
    factors, loads, items = _base_structure(model)
    a, b = forms
    eq = set(equal)
    rel = {(k, i) for k, i in released}

    def col(i, form):
        return f"{i}{sep}{form}"

    def fac(f, form):
        return f"{f}{sep}{form}"

    lines = []
    for form in forms:
        for f in factors:
            terms = []
            for i in loads[f]:
                shared = "loadings" in eq and ("loadings", i) not in rel
                lab = f"lam.{f}.{i}" if shared else f"lam.{f}.{i}.{form}"
                terms.append(f"{lab}*{col(i, form)}")
            lines.append(f"{fac(f, form)} =~ " + " + ".join(terms))
    free_scales = []
    for i in items:
        th_eq = "thresholds" in eq and ("thresholds", i) not in rel
        for form in forms:
            if ordered:
                cats = n_cat or {}
                k = int(cats[col(i, form)] if col(i, form) in cats else cats[i])
                lab = (lambda t, i=i: f"thr.{i}.{t}") if th_eq else (lambda t, i=i, form=form: f"thr.{i}.{form}.{t}")
                lines.append(f"{col(i, form)} | " + " + ".join(f"{lab(t)}*t{t}" for t in range(1, k)))
                if form == b and th_eq and ("intercepts" not in eq or ("intercepts", i) in rel):
                    lines.append(f"{col(i, form)} ~ nu.{i}.{form}*1")
                else:
                    lines.append(f"{col(i, form)} ~ 0*1")
                if form == b and th_eq:
                    free_scales.append(col(i, form))
            else:
                shared = "intercepts" in eq and ("intercepts", i) not in rel
                lines.append(f"{col(i, form)} ~ {'nu.' + i if shared else f'nu.{i}.{form}'}*1")
                shared = "residuals" in eq and ("residuals", i) not in rel
                lines.append(f"{col(i, form)} ~~ {'theta.' + i if shared else f'theta.{i}.{form}'}*{col(i, form)}")
        lines.append(f"{col(i, a)} ~~ {col(i, b)}")
    for f in factors:
        lines.append(f"{fac(f, a)} ~ 0*1")
        lines.append(f"{fac(f, b)} ~ {'NA' if 'intercepts' in eq else '0'}*1")
        lines.append(f"{fac(f, a)} ~~ 1*{fac(f, a)}")
        lines.append(f"{fac(f, b)} ~~ {'NA' if 'loadings' in eq else '1'}*{fac(f, b)}")
    return "\n".join(lines) + "\n", free_scales


def _paired_categories(data: pd.DataFrame, cols: Mapping[str, tuple[str, str]]) -> dict[str, int]:
    """Categories per base item; both forms must observe the same ones (thresholds are compared)."""
    out, differ = {}, []
    for i, (ca, cb) in cols.items():
        va, vb = set(pd.unique(data[ca].dropna())), set(pd.unique(data[cb].dropna()))
        if va != vb:
            fmt = lambda vals: "{" + ", ".join(f"{float(v):g}" for v in sorted(vals)) + "}"
            differ.append(f"{i} ({ca}: {fmt(va)}, {cb}: {fmt(vb)})")
        out[i] = len(va | vb)
    if differ:
        raise DataError(
            f"item(s) do not have the same observed categories in both forms, so their thresholds cannot "
            f"be compared: {'; '.join(differ[:6])}"
            + (" ..." if len(differ) > 6 else "")
            + ". Merge sparse categories first: allyscale.collapse_categories(data, pairs=...) or "
            "invariance(..., collapse=True) (--collapse)"
        )
    return out


# --------------------------------------------------------------------------------------
# score tests (lavTestScore)
# --------------------------------------------------------------------------------------
def _constraints(pt: pd.DataFrame) -> list[tuple[int, int]]:
    """Equality constraints of a table: (first row, later row) of every shared free index."""
    free = pt["free"].to_numpy(dtype=int)
    first: dict[int, int] = {}
    out = []
    for r, f in enumerate(free):
        if f <= 0:
            continue
        if f in first:
            out.append((first[f], r))
        else:
            first[f] = r
    return out


def _untied(pt: pd.DataFrame, add: Sequence[int] = ()):
    """The table with every free row (and the fixed rows ``add``) a parameter of its own."""
    free = pt["free"].to_numpy(dtype=int)
    rows = np.union1d(np.flatnonzero(free > 0), np.asarray(list(add), dtype=int))
    pt_u = pt.copy()
    new = np.zeros(len(pt), dtype=int)
    new[rows] = np.arange(1, rows.size + 1)
    pt_u["free"] = new
    return pt_u, rows


def _score_pieces(fit: CFAResult, add: Sequence[int] = ()):
    """Gradient (lavaan's ``gradient.logl`` up to sign) and expected information per case in the
    untied parameter space, the map K0 from the fitted (tied) parameters, and the rows."""
    from allyscale._core.model import ModelSpec

    prep, est = fit._prep, fit._est
    pt = prep.partable
    pt_u, rows = _untied(pt, add)
    free = pt["free"].to_numpy(dtype=int)
    x = est.x
    ustart = pt["ustart"].to_numpy(dtype=float)
    xu = np.where(free[rows] > 0, x[np.maximum(free[rows], 1) - 1], ustart[rows])
    K = rows.size
    k0 = np.zeros((K, est.x.size))
    tied = np.flatnonzero(free[rows] > 0)
    k0[tied, free[rows][tied] - 1] = 1.0
    ov, lv = prep.ov, prep.lv
    n_tot = float(prep.n_total)
    if prep.estimator == "WLSMV":
        inter = est.internals
        s_all = np.asarray(inter["s"], dtype=float)
        w_all = np.asarray(inter["w"], dtype=float)  # stacked, weighted by N_g / N
        G = prep.ngroups
        spec = ModelSpec.from_partable(pt_u, ov, lv, meanstructure=True)
        op, lhs, rhs = pt_u["op"].to_numpy(), pt_u["lhs"].to_numpy(), pt_u["rhs"].to_numpy()
        grp = pt_u["group"].to_numpy(dtype=int) - 1
        fr = pt_u["free"].to_numpy(dtype=int)
        us = pt_u["ustart"].to_numpy(dtype=float)
        th_rows, th_items = [], []
        for g in range(G):
            r = [i for i in np.flatnonzero((op == "|") & (grp == g))]
            r = np.array(sorted(r, key=lambda i: (ov.index(lhs[i]), int(rhs[i][1:]))), dtype=int)
            th_rows.append(r)
            th_items.append(np.array([ov.index(v) for v in lhs[r]], dtype=int))
        p = len(ov)
        iu = np.triu_indices(p, 1)

        def implied(xv):
            out = []
            for g, gm in enumerate(spec.matrices(xv)):
                d = spec.scale(xv, g)
                sig = gm.sigma()
                shift = gm.lam @ (gm.A @ gm.alpha) + gm.nu
                r, items = th_rows[g], th_items[g]
                tau = np.where(fr[r] > 0, xv[np.maximum(fr[r] - 1, 0)], us[r])
                out.append(np.concatenate([d[items] * (tau - shift[items]), d[iu[0]] * d[iu[1]] * sig[iu]]))
            return np.concatenate(out)

        base = implied(xu)
        if base.shape != s_all.shape:
            raise SpecificationError("score tests: the model's statistics do not match the fitted ones")
        jac = _untied_jacobian(pt_u, spec, ov, lv, G, xu, base, implied)
        # lavaan's DWLS gradient weights group g by (N_g - 1) / N, its information by N_g / N
        ns_g = np.array([y.shape[0] for y in prep.y], dtype=float)
        corr = np.repeat((ns_g - 1) / ns_g, base.size // G)
        grad = -np.asarray(jac.T @ (w_all * corr * (s_all - base))).ravel()
        if hasattr(jac, "multiply"):
            info = np.asarray((jac.T @ jac.multiply(w_all[:, None])).todense())
        else:
            info = (jac.T * w_all) @ jac
    else:
        spec = ModelSpec.from_partable(pt_u, ov, lv, meanstructure=prep.meanstructure)
        mats = spec.matrices(xu)
        # every untied parameter fills one cell: dSigma_k = a_k b_k' + b_k a_k' (ModelSpec.lowrank), so the
        # information 0.5 tr(S dSigma_k S dSigma_l) = (Gab o Gab')_kl + (Gaa o Gbb)_kl with G.. = (a|b) S (a|b)'
        lowrank = spec.lowrank(mats)
        derivs = spec.derivatives(mats) if any(lr is None for lr in lowrank) else None
        implied = spec.implied(xu)
        ns = np.array([y.shape[0] for y in prep.y], dtype=float)
        fg = ns / ns.sum()
        grad = np.zeros(K)
        info = np.zeros((K, K))
        for g, ((sig, mu), (s, mean)) in enumerate(zip(implied, est.sample)):
            si = np.linalg.inv(sig)
            has_mean = prep.meanstructure and mean is not None
            dmean = mean - mu if has_mean else None
            s_tot = s + np.outer(dmean, dmean) if has_mean else s
            gmat = si @ (sig - s_tot) @ si
            if lowrank[g] is not None:
                a, b, dm = lowrank[g]
                sa, sb = a @ si, b @ si
                gaa, gab, gbb = sa @ a.T, sa @ b.T, sb @ b.T
                info += fg[g] * (gab * gab.T + gaa * gbb)
                grad += fg[g] * np.einsum("kp,kp->k", b @ gmat, a)
            else:
                ds, dm = derivs[g]
                a_ = np.einsum("ij,kjl->kil", si, ds)  # Sigma^-1 dSigma_k
                info += fg[g] * 0.5 * np.einsum("kij,lji->kl", a_, a_)
                grad += fg[g] * 0.5 * np.einsum("ij,kji->k", gmat, ds)
            if has_mean:
                info += fg[g] * (dm @ si @ dm.T)
                grad -= fg[g] * (dm @ (si @ dmean))
    return grad, info, k0, rows, n_tot, pt


def _untied_jacobian(pt_u, spec, ov, lv, G, xu, base, implied):
    """Jacobian of the implied statistics in the untied parameters: the WLSMV engine's sparse
    analytic one when it is available (checked against ``base``), else central differences."""
    try:
        from scipy import sparse

        from allyscale._core import wlsmv as _w

        op, lhs = pt_u["op"].to_numpy(), pt_u["lhs"].to_numpy()
        free = pt_u["free"].to_numpy(dtype=int)
        pos = {v: i for i, v in enumerate(ov)}
        spec_ml = type(spec).from_partable(pt_u, ov, lv, meanstructure=False)
        om = _w.OrdinalModel(
            spec=spec,
            spec_ml=spec_ml,
            free=free,
            is_th=op == "|",
            group=pt_u["group"].to_numpy(dtype=int) - 1,
            item=np.array([pos.get(v, -1) for v in lhs], dtype=int),
            ustart=pt_u["ustart"].to_numpy(dtype=float),
            alpha_free=np.flatnonzero((op == "~1") & np.isin(lhs, lv) & (free > 0)),
        )
        val, jac = _w._GroupsModel(om, G)(xu, True)
        if np.allclose(val, base, rtol=0, atol=1e-10):
            return sparse.csr_array(jac)
    except (AttributeError, TypeError, ValueError, ImportError):  # the engine's internals changed: differences
        pass
    K = xu.size
    jac = np.zeros((base.size, K))
    for j in range(K):
        h = 1e-6 * max(1.0, abs(xu[j]))
        xp, xm = xu.copy(), xu.copy()
        xp[j] += h
        xm[j] -= h
        jac[:, j] = (implied(xp) - implied(xm)) / (2 * h)
    return jac


def score_tests(
    fit: CFAResult,
    *,
    release: Sequence[Sequence[int]] | None = None,
    add: Sequence[int] | None = None,
    forms: Sequence[str] | None = None,
    sep: str = "_",
) -> pd.DataFrame:
    """Score (Lagrange multiplier) tests of releasing equality constraints, as lavaan's ``lavTestScore``.

    Every parameter that shares a label (or a ``group.equal`` constraint) with an earlier
    one is an equality constraint ``first == later``. With ``g`` the gradient of the fit
    function and ``I`` the expected information per case, both in the untied parameter
    space and at the constrained estimates, and ``K0`` the map from the fitted parameters to
    the untied ones, the statistic for releasing the constraints whose later parameters are
    the columns ``V`` is ``N (V'g)' S^-1 (V'g)`` with ``S = V'IV - V'IK0 (K0'IK0)^-1 K0'IV``
    (Sörbom, 1989), which equals lavaan's ``N g' [Z1^+]_11 g`` from the augmented
    information when the released model is identified (NaN otherwise). ML/MLR: lavaan's
    ``gradient.logl`` and ``information = "expected"`` (with MLR lavaan too falls back to
    the ordinary score test); WLSMV: the DWLS gradient ``-Delta' W (s - sigma)`` and
    information ``Delta' W Delta``, group-weighted by ``N_g / N``.

    Parameters
    ----------
    fit : CFAResult
        A model with equality constraints.
    release : sequence of sequences of int, optional
        Sets of constraint numbers (0-based, in the table's order) to test jointly; by
        default each constraint alone (lavaan's univariate tests).
    add : sequence of int, optional
        Rows of the fit's parameter table (``fit._prep.partable``) holding fixed
        parameters to test for freeing, as ``lavTestScore(add=)``; each is tested alone
        (after the constraints) and numbered ``"add<row>"``; e.g. the second form's item
        intercepts fixed at 0 in an ordinal scalar model.
    forms, sep : optional
        For paired models: strip ``<sep><form>`` to name the base item.

    Returns
    -------
    DataFrame
        One row per test: ``constraint`` (number or tuple), ``lhs, op, rhs, group`` of the
        later (freed) parameter, ``first`` (the parameter it equals, as text), ``kind``
        (loadings, thresholds, intercepts, residuals, ...), ``item``, ``X2, df, pvalue``.

    Raises
    ------
    SpecificationError
        A model without equality constraints, or one that did not converge (as lavaan).

    References
    ----------
    Sörbom, D. (1989). Model modification. Psychometrika, 54, 371-384.
    Rosseel, Y. (2012). lavaan. Journal of Statistical Software, 48(2) (``lavTestScore``).
    """
    if not fit.converged:
        raise SpecificationError("score tests need a converged model (as lavaan's lavTestScore)")
    add = [int(r) for r in (add or [])]
    grad, info, k0, rows, n_tot, pt = _score_pieces(fit, add)
    cons = _constraints(pt)
    if not cons and not add:
        raise SpecificationError("the model has no equality constraints to release")
    pos = {r: i for i, r in enumerate(rows)}
    m_red = k0.T @ info @ k0
    try:
        m_inv = np.linalg.inv(m_red)
    except np.linalg.LinAlgError:
        m_inv = np.linalg.pinv(m_red)
    ik0 = info @ k0
    sets = [[c] for c in range(len(cons))] if release is None else [list(s) for s in release]
    sets += [[f"add{r}"] for r in add]
    lat = set(fit._prep.lv)
    out = []
    for s in sets:
        v = np.zeros((rows.size, len(s)))
        for j, c in enumerate(s):
            target = int(c[3:]) if isinstance(c, str) else cons[c][1]
            v[pos[target], j] = 1.0
        vg = v.T @ grad
        smat = v.T @ info @ v - (v.T @ ik0) @ m_inv @ (ik0.T @ v)
        try:
            ev = np.linalg.eigvalsh(smat)
            stat = float(n_tot * vg @ np.linalg.solve(smat, vg)) if ev.min() > 1e-10 * max(1.0, ev.max()) else np.nan
        except np.linalg.LinAlgError:
            stat = np.nan
        if isinstance(s[0], str):
            row = pt.iloc[int(s[0][3:])]
            first_text = f"{row['ustart']:g} (fixed)"
        else:
            r0, r1 = cons[s[0]]
            row = pt.iloc[r1]
            first = pt.iloc[r0]
            first_text = f"{first['lhs']} {first['op']} {first['rhs']}".strip() + (
                f" (group {int(first['group'])})" if int(pt["group"].max()) > 1 else ""
            )
        kind = _kind(row["op"], row["lhs"], row["rhs"], lat)
        out.append(
            {
                "constraint": s[0] if len(s) == 1 else tuple(s),
                "lhs": row["lhs"],
                "op": row["op"],
                "rhs": row["rhs"],
                "group": int(row["group"]),
                "first": first_text,
                "kind": kind,
                "item": _item_of(row, lat, forms, sep),
                "X2": stat,
                "df": len(s),
                "pvalue": float(chi2.sf(stat, len(s))) if np.isfinite(stat) else np.nan,
            }
        )
    table = pd.DataFrame(out)
    undefined = table.loc[table["X2"].isna(), "constraint"].tolist()
    if undefined:
        import warnings

        from allyscale.errors import StatisticalWarning

        warnings.warn(
            f"{len(undefined)} score test(s) are undefined (NaN): releasing those constraints leaves the "
            f"model unidentified (constraint(s) {undefined[:5]})",
            StatisticalWarning,
            stacklevel=2,
        )
    return table


def _kind(op: str, lhs: str, rhs: str, latent: set) -> str:
    """The ``group.equal`` class of a parameter (lavaan's names, as the parameter table uses), ``scales`` for
    the scale factors of ordered items, else the operator."""
    from allyscale.syntax import _equal_class

    if op == "~*~":
        return "scales"
    return _equal_class({"op": op, "lhs": lhs, "rhs": rhs}, list(latent)) or op


def _item_of(row, latent: set, forms, sep) -> str:
    name = row["rhs"] if row["op"] == "=~" else row["lhs"]
    if name in latent:
        return ""
    for f in forms or ():
        if name.endswith(f"{sep}{f}"):
            return name[: -len(sep + f)]
    return name


# --------------------------------------------------------------------------------------
# the sequence
# --------------------------------------------------------------------------------------


def _delta_columns(dec: dict) -> dict:
    """The table's difference columns from a :func:`_decide` result."""
    return {
        "delta_chisq": dec["chisq_diff"],
        "delta_df": dec["df_diff"],
        "delta_pvalue": dec["pvalue"],
        "delta_cfi": dec["delta_cfi"],
        "delta_rmsea": dec["delta_rmsea"],
        "basis": dec["basis"],
    }


def _decide(restricted: CFAResult, free: CFAResult, policy) -> dict[str, Any]:
    from allyscale.fitpolicy import invariance_decision

    return invariance_decision(restricted, free, policy=policy)


def _row(fit: CFAResult, robust: bool, ordinal: bool) -> dict[str, Any]:
    fm = fit.fit_measures
    row = {k: fm.get(k, np.nan) for k in TABLE_COLUMNS}
    if robust:
        row.update({k: fm.get(k, np.nan) for k in ("chisq.scaled", "cfi.robust", "rmsea.robust")})
    if ordinal:
        row.update({k: fm.get(k, np.nan) for k in ("chisq.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled")})
    return row


def _empty(decision: str, like: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: np.nan for k in like},
        "delta_chisq": np.nan,
        "delta_df": np.nan,
        "delta_pvalue": np.nan,
        "delta_cfi": np.nan,
        "delta_rmsea": np.nan,
        "decision": decision,
        "basis": "",
        "released": 0,
        "converged": np.nan,
    }


@blas_limited
def invariance(
    data: pd.DataFrame,
    model: str,
    *,
    group: str | None = None,
    pairs: Sequence[str] | None = None,
    sep: str = "_",
    estimator: str | None = None,
    levels: Mapping[str, Sequence[str]] | None = None,
    partial: bool = False,
    alpha: float = 0.05,
    policy=None,
    collapse: bool | int = False,
    **kwargs,
) -> InvarianceResult:
    """Fit the invariance sequence across groups or paired forms; decide each level; optionally free
    non-invariant constraints (partial invariance).

    Parameters
    ----------
    data : DataFrame
    model : str
        lavaan syntax of the (configural) model; with ``pairs`` the base model naming the
        base items (``=~`` statements only).
    group : str, optional
        Group column (multi-group invariance).
    pairs : (str, str), optional
        The two forms of paired data (columns ``<item><sep><form>``); the first is the
        reference form. Give ``group`` or ``pairs``.
    sep : str
        Separator of item and form in paired column names.
    estimator : {"ML", "MLR", "WLSMV"}, optional
        WLSMV: ordered items, :data:`ORDINAL_LEVELS` (Wu & Estabrook, 2016). Default:
        allyscale's estimator rule (WLSMV for items with at most 7 integer categories).
    levels : mapping, optional
        Level name → equality kinds (groups only); default :data:`LEVELS` /
        :data:`ORDINAL_LEVELS`.
    partial : bool
        Search for partial invariance when a level fails (see the module docstring).
    alpha : float
        Family-wise level of the score tests of one search step (Bonferroni over items).
    policy : FitPolicy, optional
        The fit-evaluation policy (default :data:`allyscale.fitpolicy.DEFAULT_POLICY`).
    collapse : bool or int
        Ordered items: merge categories not observed (``True``) or observed fewer than
        ``collapse`` times in some group/form first (:func:`allyscale.collapse_categories`);
        what was merged is in ``diagnostics["collapsed"]``. Default: refuse items whose
        categories differ, with an error that says how to collapse.
    **kwargs
        Passed to :func:`allyscale.cfa` (groups: ``id_cat``, ``missing``, ...).

    Returns
    -------
    InvarianceResult

    Raises
    ------
    DataError
        Missing columns, a group column with one group, items whose categories differ
        across groups/forms (ordered items, without ``collapse``).
    SpecificationError
        Neither or both of ``group`` and ``pairs``; an unsupported model for pairs.

    References
    ----------
    Wu & Estabrook (2016); Liu et al. (2017); Cheung & Rensvold (2002); Chen (2007);
    Byrne, Shavelson & Muthén (1989).
    """
    from allyscale.fitpolicy import DEFAULT_POLICY

    if (group is None) == (pairs is None):
        raise SpecificationError("give group= (independent groups) or pairs= (the two forms of paired data)")
    if not 0 < alpha < 1:
        raise SpecificationError(f"alpha must be in (0, 1), got {alpha!r}")
    policy = policy or DEFAULT_POLICY
    if estimator is None:  # allyscale's estimator rule, on the analysed columns (both forms for pairs)
        from allyscale.fitpolicy import default_estimator, resolve_estimator

        if pairs is None:
            estimator = resolve_estimator(None, data, model)
        else:
            cols = [
                c
                for c in data.columns
                if any(str(c).endswith(f"{sep}{f}") for f in pairs) and pd.api.types.is_numeric_dtype(data[c])
            ]
            estimator = default_estimator(data, cols) if cols else "ML"
    est = str(estimator).upper()
    ordinal = est == "WLSMV"
    robust = est == "MLR"
    diagnostics: dict[str, Any] = {
        "estimator": est,
        "policy": policy.to_dict() if hasattr(policy, "to_dict") else str(policy),
        "partial": bool(partial),
        "alpha": alpha,
    }
    notes = []
    if pairs is not None:
        if levels is not None:
            raise SpecificationError("levels= is for groups; paired invariance uses the measEq.syntax sequence")
        pairs = tuple(str(f) for f in pairs)
        factors, loads, items = _base_structure(model)
        from allyscale.pairs import paired_columns

        cols = paired_columns(data, items, pairs, sep)
        diagnostics.update(design="pairs", pairs=list(pairs), sep=sep)
        work = data
        if ordinal and collapse:
            from allyscale.pairs import collapse_categories

            res = collapse_categories(
                data, items=items, pairs=pairs, sep=sep, min_count=1 if collapse is True else int(collapse)
            )
            work = res.data
            diagnostics["collapsed"] = res.table.to_dict("records")
            if len(res.table):
                notes.append(
                    f"{len(res.table)} sparse categor{'y was' if len(res.table) == 1 else 'ies were'} merged "
                    "before the analysis (diagnostics['collapsed'])"
                )
        n_cat = _paired_categories(work, cols) if ordinal else None
        seq = dict(ORDINAL_LEVELS if ordinal else LEVELS)
        if kwargs:
            raise SpecificationError(f"options {sorted(kwargs)} are not used by paired invariance")

        def fit_level(name, released):
            syntax, free_scales = paired_syntax(
                model, seq[name], forms=pairs, sep=sep, ordered=ordinal, n_cat=n_cat, released=released
            )
            if ordinal:
                from allyscale.pairs import fit_wlsmv_scaled

                return fit_wlsmv_scaled(work, syntax, free_scales=free_scales), syntax
            return cfa(work, syntax, estimator=est, std_lv=True, meanstructure=True), syntax
    else:
        diagnostics.update(design="groups", group=group)
        work = data
        if group not in data.columns:
            raise DataError(f"group column {group!r} is not in the data")
        if ordinal and collapse:
            from allyscale.pairs import collapse_categories
            from allyscale.syntax import model_variables, parse_model

            ov, lv = model_variables(parse_model(model))
            res = collapse_categories(
                data,
                items=[v for v in ov if v not in lv],
                group=group,
                min_count=1 if collapse is True else int(collapse),
            )
            work = res.data
            diagnostics["collapsed"] = res.table.to_dict("records")
            if len(res.table):
                notes.append(
                    f"{len(res.table)} sparse categor{'y was' if len(res.table) == 1 else 'ies were'} merged "
                    "before the analysis (diagnostics['collapsed'])"
                )
        default_levels = levels is None
        seq = dict(levels or (ORDINAL_LEVELS if ordinal else LEVELS))
        if ordinal:
            kwargs.setdefault("id_cat", "Wu.Estabrook.2016")

        def fit_level(name, released):
            if not released:
                return cfa(
                    work, model, estimator=est, group=group, group_equal=list(seq[name]) or None, **kwargs
                ), model
            return _fit_group_partial(work, model, est, group, list(seq[name]), released, kwargs)

    fits: dict[str, CFAResult] = {}
    models: dict[str, str] = {}
    rows: dict[str, dict[str, Any]] = {}
    tests, released_rows, scores = [], [], {}
    released: list[tuple[str, str]] = []
    prev_name, failed, stop = None, None, False
    for name in seq:
        if stop:
            rows[name] = _empty("not tested", _row(next(iter(fits.values())), robust, ordinal))
            continue
        fit, syntax = fit_level(name, released)
        fits[name], models[name] = fit, syntax
        row = _row(fit, robust, ordinal)
        row.update(
            delta_chisq=np.nan,
            delta_df=np.nan,
            delta_pvalue=np.nan,
            delta_cfi=np.nan,
            delta_rmsea=np.nan,
            decision="",
            basis="",
            released=len(released_rows),
        )
        if prev_name is not None:
            dec = _decide(fit, fits[prev_name], policy)
            tests.append({"level": name, "against": prev_name, **dec})
            row.update(_delta_columns(dec))
            if failed is not None:
                row["decision"] = "not interpretable"
            elif dec["held"] is None:
                row["decision"] = "undecided"
                failed = name
            elif dec["held"]:
                row["decision"] = "supported"
            else:
                row["decision"] = "not supported"
                if not partial:
                    failed = name
        row["converged"] = fit.converged
        rows[name] = row
        if prev_name is not None and row["decision"] == "not supported" and partial:
            kind = _level_kind(seq, name, prev_name)
            if pairs is None and kind == "thresholds":
                kind = None  # a released item's scale factor cannot be fixed in the multi-group engine
            res = _partial_search(
                fit,
                fits[prev_name],
                name,
                kind,
                released,
                fit_level,
                alpha,
                policy,
                pairs if pairs is not None else None,
                sep,
                scores,
                notes,
            )
            if res is None:
                failed = name
                stop = True
                notes.append(
                    f"{name} invariance does not hold and no constraint could be released"
                    if kind
                    else f"no partial search is available for the {name} level"
                )
            else:
                pfit, psyntax, new_rel, new_rows, dec = res
                released = new_rel
                released_rows.extend(new_rows)
                pname = f"{name} (partial)"
                fits[pname], models[pname] = pfit, psyntax
                prow = _row(pfit, robust, ordinal)
                tests.append({"level": pname, "against": prev_name, **dec})
                prow.update(
                    **_delta_columns(dec),
                    released=len(released_rows),
                    converged=pfit.converged,
                    decision="supported (partial)" if dec["held"] else "not supported",
                )
                rows[pname] = prow
                if dec["held"]:
                    name = pname
                else:
                    failed = pname
                    stop = True
            if stop:
                prev_name = name
                continue
        if row["decision"] in ("", "supported") or (name.endswith("(partial)")):
            prev_name = name
        elif not partial:
            prev_name = name  # later levels are fitted and compared, but not interpretable
    index = list(rows)
    if ordinal and (pairs is not None or default_levels):
        rows["strict"] = _empty("not testable", _row(next(iter(fits.values())), robust, ordinal))
        index.append("strict")
        notes.insert(0, _NO_STRICT)
    table = pd.DataFrame([rows[k] for k in index], index=index)
    # after a failed level nothing later may read "supported"
    seen_fail = False
    for lv in table.index:
        dec = table.loc[lv, "decision"]
        if seen_fail and dec in ("supported", "supported (partial)"):
            table.loc[lv, "decision"] = "not interpretable"
        if dec in ("not supported", "undecided") and not (partial and f"{lv} (partial)" in table.index):
            seen_fail = True
    rel = pd.DataFrame(
        released_rows, columns=["level", "step", "item", "lhs", "op", "rhs", "group", "X2", "df", "pvalue"]
    )
    diagnostics["note"] = "; ".join(notes)
    diagnostics["converged"] = all(f.converged for f in fits.values())
    diagnostics["fit_diagnostics"] = {
        k: {
            kk: vv
            for kk, vv in f.diagnostics.items()
            if kk in ("converged", "heywood", "robust_indices", "dropped_rows")
        }
        for k, f in fits.items()
    }
    return InvarianceResult(table, fits, pd.DataFrame(tests), rel, scores, diagnostics, models)


def _level_kind(seq, name, prev) -> str | None:
    new = [k for k in seq[name.replace(" (partial)", "")] if k not in seq[prev.replace(" (partial)", "")]]
    kinds = [k for k in new if k in _KIND_OP]
    return kinds[0] if len(kinds) == 1 else None


def _partial_search(fit, base, name, kind, released, fit_level, alpha, policy, forms, sep, scores, notes):
    """Release one item's constraints at a time (see the module docstring)."""
    if kind is None:
        return None
    rel = list(released)
    new_rows = []
    current = fit
    step = 0
    while True:
        if not current.converged:
            notes.append(f"a {name} model did not converge during the partial search; the search stopped")
            break
        tab = score_tests(current, forms=forms, sep=sep, add=_fixed_candidates(current, kind, forms, sep))
        done = {i for k, i in rel if k == kind}
        cand = tab[(tab["kind"] == kind) & ~tab["item"].isin(done) & (tab["item"] != "")]
        if step == 0:
            scores[name] = tab
        if cand.empty:
            break
        by_item = cand.groupby("item", sort=False)
        if kind == "thresholds":
            # the largest univariate test of each item: with the item's intercept and scale factor free, releasing
            # one threshold frees the item (its K - 1 equal thresholds impose K - 3 constraints; all of them at once
            # is not identified)
            best = cand.loc[by_item["X2"].idxmax().dropna()]
            stat_rows = {r.item: (r.X2, r.df, r.pvalue) for r in best.itertuples()}
            m_now = cand["item"].nunique()
        elif (by_item.size() > 1).any():
            sets = [list(g["constraint"]) for _, g in by_item]
            if any(isinstance(c, str) for st in sets for c in st):
                raise SpecificationError("joint release of fixed parameters across several groups is not available")
            joint = score_tests(current, release=sets, forms=forms, sep=sep)
            stat_rows = {i: (r.X2, r.df, r.pvalue) for i, r in zip([k for k, _ in by_item], joint.itertuples())}
            m_now = len(sets)
        else:
            stat_rows = {r.item: (r.X2, r.df, r.pvalue) for r in cand.itertuples()}
            m_now = len(cand)
        if step == 0:
            m = m_now
        ok = {i: v for i, v in stat_rows.items() if np.isfinite(v[0])}
        if not ok:
            break
        item, (x2, df, pv) = max(ok.items(), key=lambda kv: kv[1][0])
        if not pv < alpha / m:
            break
        step += 1
        for r in cand[cand["item"] == item].itertuples():
            new_rows.append(
                {
                    "level": name,
                    "step": step,
                    "item": item,
                    "lhs": r.lhs,
                    "op": r.op,
                    "rhs": r.rhs,
                    "group": (current.group_labels[r.group - 1] if current.group_labels else r.group)
                    if forms is None
                    else forms[1],
                    "X2": x2,
                    "df": df,
                    "pvalue": pv,
                }
            )
        rel.append((kind, item))
        current, syntax = fit_level(name, rel)
    if step == 0:
        return None
    dec = _decide(current, base, policy)
    return current, syntax, rel, new_rows, dec


def _fixed_candidates(fit: CFAResult, kind: str, forms, sep) -> list[int]:
    """Fixed parameters a level's release frees: the intercepts of ordered items, fixed at 0 in
    the second form (pairs) or the later groups once intercepts are equal (Wu & Estabrook, 2016)."""
    if kind != "intercepts" or fit.estimator != "WLSMV":
        return []
    pt = fit._prep.partable
    ov = set(fit._prep.ov)
    op, lhs = pt["op"].to_numpy(), pt["lhs"].to_numpy()
    free, grp = pt["free"].to_numpy(dtype=int), pt["group"].to_numpy(dtype=int)
    mask = (op == "~1") & np.isin(lhs, list(ov)) & (free == 0)
    if forms is not None:
        mask &= np.array([str(v).endswith(f"{sep}{forms[1]}") for v in lhs])
    else:
        mask &= grp > 1
    return np.flatnonzero(mask).tolist()


def _fit_group_partial(data, model, est, group, group_equal, released, kwargs):
    """A multi-group fit with ``group_equal`` except the released parameters, which get a free
    parameter of their own in every later group (lavaan's ``group.partial``)."""
    from dataclasses import replace

    from allyscale._core.model import ModelSpec
    from allyscale.cfa import _ESTIMATORS, _build, _prepare

    allowed = {"missing", "ordered", "std_lv", "meanstructure", "id_cat"}
    bad = set(kwargs) - allowed
    if bad:
        raise SpecificationError(f"options {sorted(bad)} are not available with partial invariance across groups")
    # the released constraints are written into the syntax as a comment, so that cached tables differ
    tag = model + "\n# partial: " + "; ".join(f"{k} {i}" for k, i in released) + "\n"
    prep = _prepare(
        data,
        tag,
        estimator=est,
        group=group,
        group_equal=group_equal,
        missing=kwargs.get("missing", "listwise"),
        ordered=kwargs.get("ordered"),
        std_lv=kwargs.get("std_lv", False),
        meanstructure=kwargs.get("meanstructure"),
        id_cat=kwargs.get("id_cat", "lavaan"),
    )
    pt = prep.partable.copy()
    pt.attrs.update(prep.partable.attrs)
    lat = set(prep.lv)
    op, lhs, rhs = pt["op"].to_numpy(), pt["lhs"].to_numpy(), pt["rhs"].to_numpy()
    grp = pt["group"].to_numpy(dtype=int)
    free = pt["free"].to_numpy(dtype=int).copy()
    labels = pt["label"].to_numpy(dtype=object).copy()
    ustart = pt["ustart"].to_numpy(dtype=float).copy()
    mark = np.zeros(len(pt), dtype=bool)
    for kind, item in released:
        sel = (op == _KIND_OP[kind]) & (grp > 1)
        if kind == "loadings":
            sel &= rhs == item
        elif kind == "residuals":
            sel &= (lhs == item) & (rhs == item)
        else:
            sel &= lhs == item
        if kind == "intercepts" and est == "WLSMV":
            sel &= ~np.isin(lhs, list(lat))  # ordered items: intercepts fixed at 0 become free
        mark |= sel
    out, seen, nxt = np.zeros(len(pt), dtype=int), {}, 0
    for r in range(len(pt)):
        if mark[r] or free[r] > 0:
            if mark[r] or free[r] not in seen:
                nxt += 1
                if not mark[r]:
                    seen[free[r]] = nxt
                out[r] = nxt
            else:
                out[r] = seen[free[r]]
    pt["free"] = out
    labels[mark] = ""
    ustart[mark & (free == 0)] = np.nan
    pt["label"] = labels
    pt["ustart"] = ustart
    spec = ModelSpec.from_partable(pt, prep.ov, prep.lv, meanstructure=prep.meanstructure)
    prep2 = replace(prep, partable=pt, spec=spec)
    return _build(prep2, _ESTIMATORS[prep2.estimator](prep2)), tag


from allyscale._callable import make_callable  # noqa: E402 - after the function it makes the module call

make_callable(__name__, invariance)
