"""The fit-evaluation policy: how allyscale judges a fitted model, one rule for every output.

Every verdict allyscale prints — "the model fits", "this structure is preferred", "scalar
invariance holds", "N = 500 is enough" — comes from this module, so the report, ``compare``,
``dfi``, the command line and the Monte Carlo summary cannot disagree.

The rule (policy ``"exact"``, the default)
------------------------------------------
* **Test statistic.** ML: the likelihood-ratio χ² (``chisq``, ``pvalue``). MLR: the
  Yuan–Bentler scaled χ² (``chisq.scaled``, ``pvalue.scaled``). WLSMV: the mean-and-variance
  adjusted (scaled-and-shifted) χ² (``chisq.scaled``, ``pvalue.scaled``), as Mplus reports it.
  The statistic named here is the one printed in every output.
* **Verdict.** A model is *accepted* when its solution is admissible (converged, no Heywood
  case, positive-definite latent covariance matrix) and the test does not reject exact fit at
  α = .05. This is the only rule whose error rates hold for ordered items and 100-item models:
  the calibration study (``studies/calibrate_verdicts.py``, table in ``docs/verdicts.md``)
  shows that it accepts the true model in about 95% of samples at N = 250–800 and rejects a
  model missing ten cross-loadings of .3 in every sample, while Hu and Bentler's (1999)
  cutoffs accept that misspecified model every time (their CFI/RMSEA cutoffs were derived for
  ML with continuous data and small models; Marsh, Hau & Wen, 2004; Xia & Yang, 2019).
* **Approximate fit** is reported beside the verdict, never instead of it: CFI, TLI, RMSEA
  and SRMR in one fixed version per estimator — ML: the standard indices; MLR: lavaan
  0.6.14's ``.robust`` indices (Brosseau-Liard & Savalei, 2014); WLSMV: the ``.scaled``
  indices (the version of Mplus and of McNeish's (2023) ordinal dynamic cutoffs). When the
  chosen version is NaN (e.g. ``cfi.robust`` with FIML, or non-convergence of a baseline),
  the output says so and names the version used instead.

Other policies (``FitPolicy(rule=...)``)
----------------------------------------
``"hu_bentler"``: accepted when CFI and TLI ≥ .95, RMSEA ≤ .06 and SRMR ≤ .08 (all four), with
the limits above stated in every statement. ``"dynamic"``: accepted when the indices meet the
level-1 dynamic cutoffs of :func:`allyscale.dfi` for the fitted model (McNeish & Wolf, 2023),
given as ``evaluate_fit(fit, dfi=result)``.

Model choice
------------
:func:`choose_structure` prefers a structure by a rule that respects nesting (Δχ² tests only
between nested pairs; parsimony among models that are not significantly worse; a stated
criterion for non-nested survivors). Invariance levels are decided by
:func:`invariance_decision` with the same test and α.

References
----------
Hu, L., & Bentler, P. M. (1999). Cutoff criteria for fit indexes in covariance structure
analysis. *Structural Equation Modeling, 6*, 1–55.
Marsh, H. W., Hau, K.-T., & Wen, Z. (2004). In search of golden rules. *Structural Equation
Modeling, 11*, 320–341.
Xia, Y., & Yang, Y. (2019). RMSEA, CFI, and TLI in structural equation modeling with ordered
categorical data. *Behavior Research Methods, 51*, 409–428.
Asparouhov, T., & Muthén, B. (2010). Simple second order chi-square correction. Mplus note.
Bentler, P. M., & Satorra, A. (2010). Testing model nesting and equivalence. *Psychological
Methods, 15*, 111–123.
Cheung, G. W., & Rensvold, R. B. (2002); Chen, F. F. (2007): ΔCFI and ΔRMSEA for invariance.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allyscale.errors import SpecificationError
from allyscale.estimator_rule import ORDINAL_MAX_CATEGORIES, default_estimator, estimator_note, resolve_estimator
from allyscale.results import Result, Summary, jsonable

__all__ = [
    "FitPolicy",
    "FitVerdict",
    "StructureChoice",
    "DEFAULT_POLICY",
    "POOL_NESTING",
    "ORDINAL_MAX_CATEGORIES",
    "evaluate_fit",
    "evaluate_measures",
    "test_statistic",
    "approximate_indices",
    "index_key",
    "invariance_decision",
    "choose_structure",
    "default_estimator",
    "resolve_estimator",
    "estimator_note",
    "pool_nested",
    "nested_by_net",
]

HU_BENTLER: dict[str, tuple[str, float]] = {
    "cfi": (">=", 0.95),
    "tli": (">=", 0.95),
    "rmsea": ("<=", 0.06),
    "srmr": ("<=", 0.08),
}
#: invariance: ΔCFI >= -.01 (Cheung & Rensvold, 2002), ΔRMSEA <= .015 (Chen, 2007)
DELTA_CUTOFFS: dict[str, tuple[str, float]] = {"cfi": (">=", -0.01), "rmsea": ("<=", 0.015)}
#: index version judged/reported per estimator (the suffix of the lavaan name)
INDEX_VERSION = {"ML": "", "MLR": ".robust", "WLSMV": ".scaled"}
_FALLBACK = {".robust": ".scaled", ".scaled": ""}
_RULES = ("exact", "hu_bentler", "dynamic")

#: nesting among the pool's structures: (restricted, general). Boundary nestings (one factor in
#: correlated factors: correlations of 1; correlated factors in facets: facet correlations of 1
#: within a factor) make the Δχ² test conservative, which favours the simpler model.
POOL_NESTING: frozenset[tuple[str, str]] = frozenset(
    {
        ("one_factor", "second_order"),
        ("one_factor", "correlated"),
        ("one_factor", "bifactor"),
        ("one_factor", "facets"),
        ("second_order", "correlated"),
        ("second_order", "bifactor"),
        ("second_order", "facets"),
        ("correlated", "facets"),
        # ESEM (one EFA block, m factors) contains every m-factor independent-clusters CFA (cross-loadings
        # at zero) and their restrictions; bifactor-ESEM (m + 1 factors) contains the m-factor EFA (a zero
        # general column) and the bifactor CFA (any m-factor loading matrix rotates to lavaan's echelon pattern)
        ("one_factor", "esem"),
        ("second_order", "esem"),
        ("correlated", "esem"),
        ("one_factor", "bifactor_esem"),
        ("second_order", "bifactor_esem"),
        ("correlated", "bifactor_esem"),
        ("bifactor", "bifactor_esem"),
        ("esem", "bifactor_esem"),
    }
)


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "p = NA"
    return "p < .001" if p < 0.001 else f"p = {p:.3f}".replace("0.", ".", 1)


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("nan")
    return v


@dataclass(frozen=True)
class FitPolicy:
    """A fit-evaluation rule.

    Parameters
    ----------
    rule : {"exact", "hu_bentler", "dynamic"}
        See the module docstring. Default ``"exact"``.
    alpha : float
        Level of the χ² tests (verdict, difference tests, invariance). Default .05.
    """

    rule: str = "exact"
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if self.rule not in _RULES:
            raise SpecificationError(f"unknown fit policy rule {self.rule!r}; choose one of {', '.join(_RULES)}")
        if not 0 < self.alpha < 1:
            raise SpecificationError(f"alpha must be in (0, 1), got {self.alpha!r}")

    def describe(self, estimator: str | None = None) -> str:
        """One sentence stating the rule (for reports and JSON)."""
        test = _test_label(estimator) if estimator else "the χ² test (scaled for MLR and WLSMV)"
        a = f"{self.alpha:g}".lstrip("0") or "0"
        if self.rule == "exact":
            return (
                f"a model is accepted when its solution is admissible and {test} does not reject exact fit at "
                f"α = {a}; CFI, TLI, RMSEA and SRMR are reported for approximate fit but do not decide"
            )
        if self.rule == "hu_bentler":
            return (
                "a model is accepted when its solution is admissible and CFI ≥ .95, TLI ≥ .95, RMSEA ≤ .06 and "
                "SRMR ≤ .08 (Hu & Bentler, 1999; derived for ML with continuous data and small models, they are "
                "lenient for ordered items and large models)"
            )
        return (
            "a model is accepted when its solution is admissible and its fit indices meet the level-1 dynamic "
            "cutoffs derived for this model and sample size (McNeish & Wolf, 2023)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "alpha": self.alpha, "description": self.describe()}


DEFAULT_POLICY = FitPolicy()


def _test_label(estimator: str | None) -> str:
    est = (estimator or "ML").upper()
    if est == "WLSMV":
        return "the mean-and-variance adjusted (scaled-shifted) χ² test"
    if est == "MLR":
        return "the Yuan–Bentler scaled χ² test"
    return "the likelihood-ratio χ² test"


# --------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------
def test_statistic(fit: Any, estimator: str | None = None) -> dict[str, Any]:
    """The test statistic the policy judges and every output prints.

    Parameters
    ----------
    fit : CFAResult or mapping of lavaan fit measures
    estimator : str, optional
        Needed when ``fit`` is a mapping.

    Returns
    -------
    dict
        ``name`` (lavaan key of the statistic), ``chisq``, ``df``, ``pvalue``, ``label``
        (e.g. "scaled-shifted χ²"), ``estimator``.
    """
    measures, est = _measures(fit, estimator)
    if est in ("MLR", "WLSMV"):
        name, p = "chisq.scaled", "pvalue.scaled"
        df = _num(measures.get("df.scaled", measures.get("df")))
        label = "scaled-shifted χ²" if est == "WLSMV" else "Yuan–Bentler scaled χ²"
    else:
        name, p, df, label = "chisq", "pvalue", _num(measures.get("df")), "χ²"
    return {
        "name": name,
        "chisq": _num(measures.get(name)),
        "df": df,
        "pvalue": _num(measures.get(p)),
        "label": label,
        "estimator": est,
    }


def approximate_indices(fit: Any, estimator: str | None = None) -> dict[str, dict[str, Any]]:
    """CFI, TLI, RMSEA and SRMR in the policy's version for the estimator.

    Returns
    -------
    dict
        index → ``{"key", "value", "cutoff", "meets", "note"}``; ``note`` says when the
        estimator's version is NaN and which version is given instead.
    """
    measures, est = _measures(fit, estimator)
    out: dict[str, dict[str, Any]] = {}
    for index, (op, cut) in HU_BENTLER.items():
        suffix = "" if index == "srmr" else INDEX_VERSION.get(est, "")
        key, note = index + suffix, ""
        value = _num(measures.get(key))
        while not np.isfinite(value) and suffix in _FALLBACK:
            fallback = index + _FALLBACK[suffix]
            fv = _num(measures.get(fallback))
            note = f"{key} is not available (NaN); {fallback} is given instead"
            key, suffix, value = fallback, _FALLBACK[suffix], fv
        meets = bool(value >= cut) if op == ">=" else bool(value <= cut)
        out[index] = {
            "key": key,
            "value": value,
            "cutoff": f"{op} {cut:g}",
            "meets": meets if np.isfinite(value) else False,
            "note": note,
        }
    return out


def index_key(index: str, estimator: str) -> str:
    """The lavaan name of ``index`` ("cfi", "tli", "rmsea", "srmr") in the policy's version for ``estimator``."""
    return index if index == "srmr" else index + INDEX_VERSION.get(str(estimator).upper(), "")


def _measures(fit: Any, estimator: str | None) -> tuple[Mapping[str, Any], str]:
    if hasattr(fit, "fit_measures"):
        return fit.fit_measures, str(estimator or fit.estimator).upper()
    if isinstance(fit, Mapping):
        if estimator is None:
            raise SpecificationError("give the estimator when judging a mapping of fit measures")
        return fit, str(estimator).upper()
    raise SpecificationError(f"cannot judge the fit of a {type(fit).__name__}")


def _admissible(fit: Any) -> tuple[bool, str]:
    if not getattr(fit, "converged", True):
        return False, "the estimation did not converge"
    diag = getattr(fit, "diagnostics", {}) or {}
    if diag.get("heywood"):
        return False, "inadmissible solution (Heywood case: " + "; ".join(map(str, diag["heywood"][:3])) + ")"
    if diag.get("nonpd_latent"):
        return False, "inadmissible solution (the latent covariance matrix is not positive definite)"
    est = getattr(fit, "estimates", None)
    if est is not None and "std_all" in est.columns:
        lam = pd.to_numeric(est.loc[est["op"] == "=~", "std_all"], errors="coerce")
        if (lam.abs() > 1 + 1e-8).any():
            return False, "inadmissible solution (a standardized loading beyond ±1)"
    return True, ""


# --------------------------------------------------------------------------------------
# the verdict on one model
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FitVerdict(Result):
    """The policy's verdict on one fitted model.

    Attributes
    ----------
    model : str
    accepted : bool
    basis : str
        Why, in one phrase ("exact fit not rejected", "exact fit rejected", "inadmissible
        solution (...)", ...).
    statistics : dict
        ``test`` (:func:`test_statistic`), ``indices`` (:func:`approximate_indices`),
        ``admissible``, ``hu_bentler_met`` (how many of the four cutoffs are met).
    policy : dict
    statement : str
        The sentence a report prints.
    """

    model: str
    accepted: bool
    basis: str
    statistics: dict
    policy: dict
    statement: str

    diagnostics: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "model": self.model,
                "accepted": self.accepted,
                "basis": self.basis,
                "policy": self.policy,
                "statistics": self.statistics,
                "statement": self.statement,
                "diagnostics": self.diagnostics,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """The approximate fit indices beside their cutoffs (``index, value, cutoff, meets, note``)."""
        rows = [
            {
                "index": k,
                "value": v.get("value"),
                "cutoff": v.get("cutoff"),
                "meets": v.get("meets"),
                "note": v.get("note", ""),
            }
            for k, v in self.statistics.get("indices", {}).items()
        ]
        return pd.DataFrame(rows, columns=["index", "value", "cutoff", "meets", "note"])

    def summary(self) -> Summary:
        """The verdict, the test it rests on and the approximate indices beside their cutoffs."""
        out = Summary(f"Fit verdict for {self.model}: {'accepted' if self.accepted else 'not accepted'}")
        out.text(self.statement)
        test = self.statistics.get("test") or {}
        if test:
            out.facts(
                {k: test[k] for k in ("chisq", "df", "pvalue") if k in test},
                title=f"Test of exact fit ({test.get('label', test.get('name', ''))}, {test.get('estimator', '')})",
                digits=4,
            )
        return out.table(self.to_frame(), title="Approximate fit indices (described, not decisive)", index=False)


def evaluate_fit(fit: Any, *, model: str = "model", policy: FitPolicy | None = None, dfi: Any = None) -> FitVerdict:
    """Judge one fitted model by the fit-evaluation policy.

    Parameters
    ----------
    fit : CFAResult
    model : str
        The model's name, for the statement.
    policy : FitPolicy, optional
        Default :data:`DEFAULT_POLICY` (exact-fit test at α = .05).
    dfi : DFIResult, optional
        Dynamic cutoffs for ``policy.rule == "dynamic"``.

    Returns
    -------
    FitVerdict
    """
    admissible, why = _admissible(fit)
    return _verdict(
        fit.fit_measures,
        fit.estimator,
        model=model,
        policy=policy,
        admissible=admissible,
        inadmissible_reason=why,
        dfi=dfi,
    )


def evaluate_measures(
    measures: Mapping[str, Any],
    estimator: str,
    *,
    model: str = "model",
    admissible: bool = True,
    converged: bool = True,
    policy: FitPolicy | None = None,
) -> FitVerdict:
    """:func:`evaluate_fit` from stored fit measures (Monte Carlo replications)."""
    why = (
        ""
        if admissible and converged
        else ("the estimation did not converge" if not converged else "inadmissible solution")
    )
    return _verdict(
        measures, estimator, model=model, policy=policy, admissible=admissible and converged, inadmissible_reason=why
    )


def _verdict(
    measures: Mapping[str, Any],
    estimator: str,
    *,
    model: str,
    policy: FitPolicy | None,
    admissible: bool,
    inadmissible_reason: str,
    dfi: Any = None,
) -> FitVerdict:
    policy = policy or DEFAULT_POLICY
    est = str(estimator).upper()
    test = test_statistic(measures, est)
    idx = approximate_indices(measures, est)
    n_hb = sum(v["meets"] for v in idx.values())
    stats: dict[str, Any] = {"test": test, "indices": idx, "admissible": admissible, "hu_bentler_met": n_hb}
    p, a = test["pvalue"], policy.alpha
    if not admissible:
        accepted, basis = False, inadmissible_reason
    elif policy.rule == "exact":
        if not np.isfinite(p):
            accepted, basis = False, "the test statistic is not available"
        else:
            accepted = bool(p >= a)
            basis = "exact fit not rejected" if accepted else "exact fit rejected"
    elif policy.rule == "hu_bentler":
        accepted = n_hb == 4
        basis = f"{n_hb} of 4 Hu and Bentler (1999) cutoffs met"
    else:
        if dfi is None:
            raise SpecificationError("the 'dynamic' fit policy needs dynamic cutoffs: evaluate_fit(fit, dfi=...)")
        accepted, basis, stats["dynamic"] = _dynamic(idx, dfi)
    chi = (
        f"{test['label']}({test['df']:.0f}) = {test['chisq']:.2f}, {_fmt_p(p)}"
        if np.isfinite(test["chisq"])
        else f"{test['label']} not available"
    )
    approx = "; ".join(f"{_index_label(v['key'])} = {v['value']:.3f}" for v in idx.values())
    notes = [v["note"] for v in idx.values() if v["note"]]
    verb = "is accepted" if accepted else "is not accepted"
    statement = f"The {model} model {verb} ({basis}): {chi}."
    statement += f" Approximate fit: {approx}"
    if policy.rule == "exact":
        statement += (
            f" ({n_hb} of 4 Hu and Bentler cutoffs met; reported for reference, they do not decide: "
            "they are lenient for ordered items and large models)."
        )
    else:
        statement += "."
    if notes:
        statement += " Note: " + "; ".join(notes) + "."
    return FitVerdict(
        model=model,
        accepted=bool(accepted),
        basis=basis,
        statistics=stats,
        policy={**policy.to_dict(), "description": policy.describe(est)},
        statement=statement,
    )


def _index_label(key: str) -> str:
    """``cfi.scaled`` -> ``CFI (scaled)``."""
    name, _, version = key.partition(".")
    return name.upper() + (f" ({version})" if version else "")


def _dynamic(idx: dict, dfi: Any) -> tuple[bool, str, dict]:
    table = dfi.cutoffs if hasattr(dfi, "cutoffs") else pd.DataFrame(dfi)
    row = table.iloc[0] if "level" not in table.columns else table[table["level"] == table["level"].min()].iloc[0]
    checks = {}
    for index in ("srmr", "rmsea", "cfi"):
        cut = _num(row.get(index, np.nan))
        value = idx[index]["value"]
        if not np.isfinite(cut):
            checks[index] = {"cutoff": None, "value": value, "meets": None}
            continue
        ok = value >= cut if index == "cfi" else value <= cut
        checks[index] = {"cutoff": cut, "value": value, "meets": bool(ok)}
    usable = [c for c in checks.values() if c["meets"] is not None]
    if not usable:
        return False, "no usable level-1 dynamic cutoff (all NONE)", checks
    ok = all(c["meets"] for c in usable)
    return ok, ("level-1 dynamic cutoffs met" if ok else "level-1 dynamic cutoffs not met"), checks


# --------------------------------------------------------------------------------------
# invariance
# --------------------------------------------------------------------------------------
def invariance_decision(
    restricted: Any, free: Any, *, policy: FitPolicy | None = None, test: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Does the more restricted invariance model hold against the less restricted one?

    The scaled Δχ² test (lavTestLRT: ML LRT, MLR Satorra–Bentler 2001, WLSMV satorra.2000)
    decides under the ``"exact"`` policy (held when p ≥ α); ΔCFI ≥ −.01 (Cheung & Rensvold,
    2002) and ΔRMSEA ≤ .015 (Chen, 2007), in the policy's index version, decide under
    ``"hu_bentler"`` and are reported under both.

    Parameters
    ----------
    restricted, free : CFAResult
        Nested fits to the same data (``restricted`` has more degrees of freedom).
    test : mapping, optional
        A difference test already computed (``chisq_diff``, ``df_diff``, ``pvalue``).

    Returns
    -------
    dict
        ``held`` (bool, or None when it cannot be decided), ``basis``, ``chisq_diff``,
        ``df_diff``, ``pvalue``, ``delta_cfi``, ``delta_rmsea``, ``cfi_key``,
        ``rmsea_key``, ``delta_cfi_ok``, ``delta_rmsea_ok``, ``rule``.
    """
    from allyscale.cfa import difference_test

    policy = policy or DEFAULT_POLICY
    d = dict(test) if test is not None else difference_test(restricted, free)
    ir, i_f = approximate_indices(restricted), approximate_indices(free)
    dcfi = ir["cfi"]["value"] - i_f["cfi"]["value"]
    drmsea = ir["rmsea"]["value"] - i_f["rmsea"]["value"]
    cfi_ok = bool(dcfi >= DELTA_CUTOFFS["cfi"][1]) if np.isfinite(dcfi) else None
    rmsea_ok = bool(drmsea <= DELTA_CUTOFFS["rmsea"][1]) if np.isfinite(drmsea) else None
    p = _num(d.get("pvalue"))
    out = {
        "chisq_diff": _num(d.get("chisq_diff")),
        "df_diff": _num(d.get("df_diff")),
        "pvalue": p,
        "delta_cfi": dcfi,
        "delta_rmsea": drmsea,
        "cfi_key": ir["cfi"]["key"],
        "rmsea_key": ir["rmsea"]["key"],
        "delta_cfi_ok": cfi_ok,
        "delta_rmsea_ok": rmsea_ok,
        "rule": policy.rule,
    }
    adm_r, why_r = _admissible(restricted)
    if not getattr(restricted, "converged", True) or not getattr(free, "converged", True):
        out.update(held=None, basis="a model did not converge")
    elif policy.rule == "hu_bentler":
        if cfi_ok is None or rmsea_ok is None:
            out.update(held=None, basis="ΔCFI or ΔRMSEA not available")
        else:
            out.update(
                held=cfi_ok and rmsea_ok,
                basis="ΔCFI ≥ −.01 and ΔRMSEA ≤ .015" if cfi_ok and rmsea_ok else "ΔCFI < −.01 or ΔRMSEA > .015",
            )
    else:
        if not np.isfinite(p):
            out.update(held=None, basis="the difference test is not available")
        else:
            held = bool(p >= policy.alpha)
            out.update(
                held=held,
                basis=f"scaled Δχ²({out['df_diff']:.0f}) = {out['chisq_diff']:.2f}, {_fmt_p(p)}"
                + (" (not significant)" if held else " (significant)"),
            )
    if not adm_r:
        out["note"] = why_r
    return out


# --------------------------------------------------------------------------------------
# choosing a structure
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StructureChoice(Result):
    """The preferred structure among competing models, and why.

    Attributes
    ----------
    preferred : str or None
        None when no model is admissible.
    reason : str
        The rule's steps, in a sentence or two (printed by the report's Conclusion).
    table : DataFrame
        One row per model: ``admissible``, ``accepted``, ``npar``, ``rejected_against``
        (models nesting it that fit significantly better), ``simpler_equivalent`` (a nested
        model not significantly worse), ``status`` (``preferred``, ``candidate``,
        ``not admissible: ...``, ``worse than X``, ``X is simpler``).
    tests : DataFrame
        The nested difference tests used (``restricted``, ``general``, ``chisq_diff``,
        ``df_diff``, ``pvalue``).
    """

    preferred: str | None
    reason: str
    table: pd.DataFrame
    tests: pd.DataFrame

    diagnostics: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "preferred": self.preferred,
                "reason": self.reason,
                "table": self.table.reset_index(),
                "tests": self.tests,
                "diagnostics": self.diagnostics,
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per model: admissible, accepted, npar, status."""
        return self.table

    def summary(self) -> Summary:
        """The preferred structure, the rule's reason and the table behind it."""
        out = Summary(f"Preferred structure: {self.preferred if self.preferred is not None else 'none'}")
        out.text(self.reason).table(self.table, title="Competing models")
        if len(self.tests):
            out.table(self.tests, title="Difference tests of nested pairs", digits=4, index=False)
        return out


def choose_structure(
    models: Mapping[str, Mapping[str, Any]],
    nesting: Iterable[tuple[str, str]],
    tests: Mapping[tuple[str, str], float],
    *,
    estimator: str,
    policy: FitPolicy | None = None,
    test_rows: pd.DataFrame | None = None,
) -> StructureChoice:
    """Prefer one structure by a rule that respects nesting.

    1. Only admissible models compete (converged, no Heywood case, positive-definite latent
       covariance matrix); an inadmissible model is reported with its reason (for a facets
       model a non-positive-definite latent matrix means facets of one factor are not
       separable).
    2. A model is *dropped* when a model nesting it fits significantly better (Δχ² test of the
       nested pair at α: ML LRT, MLR Satorra–Bentler 2001, WLSMV satorra.2000 / DIFFTEST).
       Non-nested pairs are never χ²-tested.
    3. *Parsimony*: of a nested pair that both survive, the simpler (nested) one is kept, as
       the general model's extra parameters did not improve fit significantly.
    4. If several non-nested models remain: models accepted by the fit policy before those not
       accepted; then, for ML/MLR, the lowest BIC; for WLSMV (no likelihood), the fewest free
       parameters, then the largest p-value of the policy's test statistic.

    Parameters
    ----------
    models : mapping name → dict
        Per model: ``admissible`` (bool), ``reason`` (str, why not admissible), ``accepted``
        (bool, the fit policy's verdict), ``npar``, ``bic``, ``pvalue`` (policy's test).
    nesting : iterable of (restricted, general)
    tests : mapping (restricted, general) → p-value of the difference test
    estimator : str

    Returns
    -------
    StructureChoice
    """
    policy = policy or DEFAULT_POLICY
    alpha = policy.alpha
    names = list(models)
    nest = {(a, b) for a, b in nesting if a in models and b in models}
    adm = {m: bool(models[m].get("admissible", True)) for m in names}
    rows: dict[str, dict[str, Any]] = {
        m: {
            "admissible": adm[m],
            "accepted": bool(models[m].get("accepted", False)),
            "npar": _num(models[m].get("npar")),
            "rejected_against": [],
            "simpler_equivalent": [],
            "status": "",
        }
        for m in names
    }
    for m in names:
        if not adm[m]:
            rows[m]["status"] = "not admissible: " + str(models[m].get("reason") or "inadmissible solution")
    alive = {m for m in names if adm[m]}
    for a, b in sorted(nest):
        if a in alive and b in alive:
            p = _num(tests.get((a, b), np.nan))
            if np.isfinite(p) and p < alpha:
                rows[a]["rejected_against"].append(b)
    dropped = {m for m in alive if rows[m]["rejected_against"]}
    for m in dropped:
        rows[m]["status"] = "fits significantly worse than " + ", ".join(rows[m]["rejected_against"])
    survivors = alive - dropped
    # a nested pair with an untestable difference (NaN) keeps both: no evidence either way, parsimony decides
    simpler = set()
    for a, b in nest:
        if a in survivors and b in survivors:
            rows[b]["simpler_equivalent"].append(a)
            simpler.add(b)
    for m in simpler:
        rows[m]["status"] = "not significantly better than the simpler " + ", ".join(rows[m]["simpler_equivalent"])
    final = sorted(survivors - simpler, key=names.index)
    steps = []
    if not alive:
        reason = "no model has an admissible solution"
        preferred = None
    elif len(final) == 1:
        preferred = final[0]
    else:

        def key(m: str):
            acc = 0 if rows[m]["accepted"] else 1
            if str(estimator).upper() in ("ML", "MLR") and np.isfinite(_num(models[m].get("bic"))):
                return (acc, _num(models[m]["bic"]), 0.0)
            p = _num(models[m].get("pvalue"))
            return (acc, rows[m]["npar"], -(p if np.isfinite(p) else -1.0))

        final.sort(key=key)
        preferred = final[0]
        crit = (
            "lowest BIC"
            if str(estimator).upper() in ("ML", "MLR")
            else "fewest free parameters (no likelihood with WLSMV)"
        )
        steps.append(
            f"of the non-nested models left ({', '.join(final)}), {preferred} is preferred by the fit "
            f"policy's verdict, then the {crit}"
        )
    if preferred is not None:
        rows[preferred]["status"] = "preferred"
        for m in final:
            if m != preferred:
                rows[m]["status"] = f"not nested with {preferred}; ranked lower (verdict, then parsimony/BIC)"
        bits = []
        if dropped:
            bits.append(
                ", ".join(sorted(dropped, key=names.index)) + " fit significantly worse than a model nesting them"
            )
        if simpler:
            bits.append(
                ", ".join(sorted(simpler, key=names.index)) + " did not fit significantly better than "
                "a simpler nested model"
            )
        inad = [m for m in names if not adm[m]]
        if inad:
            bits.append(", ".join(inad) + " had no admissible solution")
        a = f"{alpha:g}".lstrip("0")
        reason = (
            f"{preferred} is preferred: "
            + ("; ".join(bits + steps) if bits or steps else "it is the only model left")
            + f" (nested Δχ² tests at α = {a}; non-nested pairs are not χ²-tested)."
        )
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    for col in ("rejected_against", "simpler_equivalent"):
        table[col] = table[col].map(lambda v: ", ".join(v))
    if test_rows is None:
        test_rows = pd.DataFrame(
            [{"restricted": a, "general": b, "pvalue": _num(tests.get((a, b)))} for a, b in sorted(nest)],
            columns=["restricted", "general", "pvalue"],
        )
    return StructureChoice(preferred, reason, table, test_rows)


def pool_nested(a: str, b: str) -> bool | None:
    """Is pool structure ``a`` nested in ``b``? None when either is not a pool structure name."""
    from allyscale.pool import ALL_STRUCTURES

    if a not in ALL_STRUCTURES or b not in ALL_STRUCTURES:
        return None
    return (a, b) in POOL_NESTING


def nested_by_net(restricted: Any, general_syntax: str, *, tol: float = 1e-6) -> bool:
    """Nesting and equivalence test (NET; Bentler & Satorra, 2010), as ``semTools::net``.

    ``restricted`` (a fitted model) is nested in the model ``general_syntax`` when the general
    model reproduces the restricted model's implied covariance (or, for WLSMV, correlation)
    matrix exactly: the general model is fitted by ML to a synthetic sample whose covariance
    matrix equals that implied matrix, and nesting holds when the minimum of its fit function
    is below ``tol`` and it has fewer degrees of freedom. Single group models only.
    """
    from allyscale.cfa import cfa

    if restricted.ngroups != 1:
        raise SpecificationError("nested_by_net supports single-group models only")
    implied = restricted._prep.spec.implied(restricted._est.x)[0][0]
    ov = list(restricted._prep.ov)
    sigma = np.asarray(implied, dtype=float)
    n = max(10 * len(ov), 1000)
    rng = np.random.default_rng(0)
    z = rng.standard_normal((n, len(ov)))
    z -= z.mean(axis=0)
    q, _ = np.linalg.qr(z)
    x = q * math.sqrt(n) @ np.linalg.cholesky(sigma).T
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = cfa(pd.DataFrame(x, columns=ov), general_syntax, estimator="ML")
    fm = fit.fit_measures
    return bool(fit.converged and fm["df"] < restricted.fit_measures["df"] and fm["chisq"] / n < tol)
