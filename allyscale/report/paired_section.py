"""Report section "Paired self-informant design": agreement, method effects, paired invariance.

``validate(data, pool=..., pairs=True, target_id="target")`` (``allyscale validate --pairs
--target-id target``) reads paired data (``<item>_<form>`` columns for the pool's two forms,
one row per target, or one row per target-informant pair): the other sections analyse the
reference (self-report) form, one row per target; this section compares the forms with
:func:`allyscale.mtmm` (CT-C(M-1), latent self-informant correlations; cluster-robust with
several informants) and :func:`allyscale.invariance` (``pairs=``, ``partial=True``).
Nothing is computed here beyond calling those functions and formatting their results.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from allyscale.errors import DataError, SpecificationError
from allyscale.report.document import Section, Table

__all__ = ["prepare", "add_to_sections", "build", "SECTION_ID", "SECTION_TITLE"]

SECTION_ID = "paired"
SECTION_TITLE = "Paired self-informant design"


def _forms(pool, pairs) -> tuple[str, str]:
    from allyscale.pairs import FORMS

    if isinstance(pairs, (tuple, list)):
        if len(pairs) != 2:
            raise SpecificationError(f"pairs must name two forms, got {pairs!r}")
        return str(pairs[0]), str(pairs[1])
    if pool is not None and len(pool.forms) >= 2:
        return tuple(list(pool.forms)[:2])  # type: ignore[return-value]
    return FORMS


def paired_items(pool, items: Sequence[str], pairs=True, sep: str = "_") -> list[str]:
    """The column names of paired data for ``items`` under the two forms."""
    a, b = _forms(pool, pairs)
    return [f"{i}{sep}{f}" for f in (a, b) for i in items]


def prepare(
    data: pd.DataFrame,
    pool,
    items: Sequence[str],
    pairs,
    target_id: str | None,
    *,
    sep: str = "_",
    source: str = "data",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The reference form's data (base item names, one row per target) and what the section needs.

    Raises
    ------
    DataError
        No target id column, paired columns missing (all listed), a target whose
        self-report differs between its rows (long data).
    """
    from allyscale.pairs import paired_columns

    forms = _forms(pool, pairs)
    if not target_id:
        raise DataError(f"{source}: paired data need the target id column (--target-id)")
    if target_id not in data.columns:
        raise DataError(f"{source}: target id column {target_id!r} is not in the data")
    cols = paired_columns(data, items, forms, sep)
    ref_cols = [c[0] for c in cols.values()]
    long = bool(data[target_id].duplicated().any())
    if long:
        first = data.drop_duplicates(subset=[target_id])
        check = data[[target_id] + ref_cols].merge(first[[target_id] + ref_cols], on=target_id, suffixes=("", "_1"))
        a = check[ref_cols].to_numpy(dtype=float)
        b = check[[c + "_1" for c in ref_cols]].to_numpy(dtype=float)
        differ = ~((a == b) | (np.isnan(a) & np.isnan(b)))
        if differ.any():
            row = int(np.flatnonzero(differ.any(axis=1))[0])
            raise DataError(
                f"{source}: target {check[target_id].iloc[row]!r} has different self-reports on its rows; "
                "long paired data repeat the target's self-report on every informant's row"
            )
        base = first
    else:
        base = data
    other_items = [c for pair in cols.values() for c in pair]
    keep = [c for c in base.columns if c not in other_items]
    ref_items = pd.DataFrame({item: base[ca].to_numpy() for item, (ca, _) in cols.items()})
    reference = pd.concat([base[keep].reset_index(drop=True), ref_items], axis=1)
    reference.attrs = {}
    info = {
        "data": data,
        "forms": forms,
        "sep": sep,
        "target_id": target_id,
        "long": long,
        "n_targets": int(data[target_id].nunique()),
        "n_rows": int(len(data)),
    }
    return reference, info


def add_to_sections(sections: list, ctx, info: dict[str, Any]) -> list:
    """The pipeline's sections with this one before the conclusion."""
    ctx.results["pairs"] = info
    out = list(sections)
    at = next((k for k, s in enumerate(out) if s[0] == "conclusion"), len(out))
    out.insert(at, (SECTION_ID, SECTION_TITLE, build))
    return out


def _reversed(ctx, data: pd.DataFrame, forms, sep) -> pd.DataFrame:
    """Both forms' reverse-keyed items reverse-scored (the pool's scale), so loadings are positive."""
    rev = list(ctx.pool.reverse_items) if ctx.pool is not None else list(ctx.reverse)
    if not rev:
        return data
    if ctx.pool is not None:
        lo, hi = ctx.pool.scale.min, ctx.pool.scale.max
    elif ctx.scale:
        lo, hi = ctx.scale
    else:
        cols = [f"{i}{sep}{f}" for i in rev for f in forms]
        lo, hi = np.nanmin(data[cols].to_numpy(dtype=float)), np.nanmax(data[cols].to_numpy(dtype=float))
    out = data.copy()
    for i in rev:
        for f in forms:
            c = f"{i}{sep}{f}"
            if c in out.columns:
                out[c] = lo + hi - out[c]
    return out


def build(ctx, sec: Section) -> None:
    """Pipeline builder (registered by ``validate(pairs=...)``)."""
    from allyscale.invariance import invariance
    from allyscale.mtmm import mtmm

    info = ctx.results.get("pairs")
    if not info:
        sec.status = "not run"
        sec.paragraphs.append("The data are not paired (use --pairs --target-id ID for self-informant pairs).")
        return
    forms, sep, target = info["forms"], info["sep"], info["target_id"]
    model = ctx.models[ctx.main_model]
    data = _reversed(ctx, info["data"], forms, sep)
    est = ctx.estimator
    collapse = ctx.results.get("collapse", False)
    merged = None
    if collapse and est == "WLSMV":  # both forms must observe the same categories to compare thresholds
        from allyscale.invariance import _base_structure
        from allyscale.pairs import collapse_categories

        res_c = collapse_categories(
            data,
            items=_base_structure(model)[2],
            pairs=forms,
            sep=sep,
            min_count=1 if collapse is True else int(collapse),
        )
        data, merged = res_c.data, res_c.table
    sec.paragraphs.append(
        f"{info['n_targets']} targets were rated under the {forms[0]} form (the reference method) and the "
        f"{forms[1]} form"
        + (
            f" ({info['n_rows']} target-informant pairs: several informants per target)"
            if info["long"]
            else " (one informant each)"
        )
        + ". The other sections analyse the reference form; this section compares the two forms as repeated "
        "measures of the same targets, not as independent groups."
    )
    # agreement and method effects
    if info["long"]:
        m_est = "MLR" if est != "ML" else "ML"
        res = mtmm(data, model, forms=forms, reference=forms[0], sep=sep, estimator=m_est, cluster=target)
        how = (
            f"{m_est} with standard errors and test robust to the clustering of informants within targets "
            "(lavaan's cluster =)"
            + (
                "; the WLSMV estimator has no cluster-robust variant, so the ordered items "
                "are treated as continuous here"
                if est == "WLSMV"
                else ""
            )
        )
    else:
        res = mtmm(data, model, forms=forms, reference=forms[0], sep=sep, estimator=est)
        how = est
    ctx.results["mtmm"] = res
    sec.paragraphs.append(
        "Self-other agreement and method effects: a correlated-trait-correlated-method-minus-one model "
        f"(CT-C(M-1); Eid et al., 2003) with the {forms[0]} form as the reference method, estimated by {how}. "
        f"Consistency is the share of an {forms[1]} indicator's true-score variance shared with the "
        f"{forms[0]} form; method specificity the rest. The latent {forms[0]}-{forms[1]} correlations come from "
        "the correlated-trait model (both forms' factors, each item's residuals correlated across forms)."
    )
    from allyscale.fitpolicy import evaluate_fit

    verdict = evaluate_fit(res.fit, model="CT-C(M-1)")
    sec.paragraphs.append("CT-C(M-1) fit: " + verdict.statement)
    if not verdict.accepted:
        sec.flag(
            f"the CT-C(M-1) model is not accepted by the fit policy ({verdict.basis}); its coefficients "
            "describe a model that does not fit exactly"
        )
    sec.tables.append(
        Table(
            "paired_agreement",
            f"Agreement of the {forms[0]} and {forms[1]} forms by factor",
            res.factors,
            note="consistency, method_specificity: of the informant scale score (sums "
            "of loadings; Eid et al., 2003); self_other_r: latent correlation with its 95% Wald "
            "interval.",
        )
    )
    items = res.items[res.items["form"] == forms[1]].drop(columns=["form"])
    sec.tables.append(
        Table(
            "paired_method_effects", f"Consistency and method specificity of the {forms[1]} items", items, index=False
        )
    )
    if not res.diagnostics["converged"]:
        sec.flag("the CT-C(M-1) or agreement model did not converge")
    if res.diagnostics["heywood"]:
        sec.flag("Heywood case(s) in the CT-C(M-1)/agreement models: " + "; ".join(res.diagnostics["heywood"][:5]))
    # paired invariance (one informant per target)
    wide = data.drop_duplicates(subset=[target]) if info["long"] else data
    inv = invariance(wide, model, pairs=forms, sep=sep, estimator=est, partial=True)
    ctx.results["paired_invariance"] = inv
    levels = (
        "configural, thresholds (equal; the second form's intercepts and scale factors free), metric and scalar"
        " (Wu & Estabrook, 2016)"
        if est == "WLSMV"
        else "configural, metric, scalar and strict"
    )
    sec.paragraphs.append(
        f"Paired measurement invariance ({levels}): both forms' items in one model, each item's residuals "
        "correlated across forms, as semTools' measEq.syntax with longFacNames and lavaan"
        + ("; with several informants the first informant of each target is used" if info["long"] else "")
        + f"; {inv.decision_rule()}. When a level fails, constraints are released one item at a time by score "
        "tests (lavTestScore) while the largest is significant at .05 / m (Bonferroni over the m items of "
        "the level); the partially invariant model is then judged by the same rule. "
        + (inv.note[:1].upper() + inv.note[1:] + "." if inv.note else "")
    )
    cols = [c for c in inv.table.columns if c not in ("converged",)]
    sec.tables.append(
        Table(
            "paired_invariance", f"Measurement invariance across the {forms[0]} and {forms[1]} forms", inv.table[cols]
        )
    )
    if len(inv.released):
        sec.tables.append(
            Table(
                "paired_released",
                "Released equality constraints (partial invariance)",
                inv.released,
                index=False,
                note="X2, df, pvalue: the score test that released the constraint.",
            )
        )
    if merged is not None and len(merged):
        sec.tables.append(
            Table(
                "paired_collapsed",
                "Sparse categories merged in both forms before this section's models (--collapse)",
                merged,
                index=False,
                note="count: the smallest count of the merged category in either form.",
            )
        )
        sec.paragraphs.append(
            f"{len(merged)} sparse categor{'y was' if len(merged) == 1 else 'ies were'} merged "
            "into a neighbouring category, identically in both forms, so that both forms observe "
            "the same categories (see the table)."
        )
    from allyscale.report.document import Figure, figure_to_svg
    from allyscale.report.figures import invariance_steps

    sec.figures.append(
        Figure(
            "paired_invariance_steps",
            f"Change in fit at each step of the paired invariance "
            f"sequence across the {forms[0]} and {forms[1]} forms, with the reference changes "
            "(dashed) and the difference test's p value.",
            figure_to_svg(invariance_steps(inv.table)),
        )
    )
    failed = inv.first_failure()
    if failed:
        sec.flag(f"{failed} invariance across the forms does not hold; later levels are not interpretable")
    if len(inv.released):
        sec.flag(
            f"partial invariance: {len(inv.released)} constraint(s) released for item(s) "
            f"{', '.join(dict.fromkeys(inv.released['item']))}"
        )
    sec.numbers.update(
        mtmm=res.to_dict(),
        paired_invariance=inv.table,
        released=inv.released.to_dict("records"),
        statement=inv.statement("across the forms"),
    )
