"""Report sections "Convergent, discriminant and criterion validity" and "Stability".

``criterion_section(...)`` turns the results of :func:`allyscale.latent_correlations`,
:func:`allyscale.known_groups` and :func:`allyscale.incremental_validity` into one report
:class:`~allyscale.report.document.Section` (with the table of expected patterns);
``stability_section(result)`` does the same for :func:`allyscale.test_retest`. Nothing is
computed here beyond formatting. ``validity_inputs`` checks ``validate()``'s inputs for these
sections (external measures as columns or items, expectations, a known-groups column, a
retest wave or a wave column) and ``add_to_sections`` is the pipeline's hook: it adds the
criterion section (``build``) and the stability section (``build_stability``) before the
conclusion when the inputs are given. The works these sections cite are in
:data:`allyscale.report.references.REFERENCES`.
"""

from __future__ import annotations

from allyscale.report.document import Section, Table

__all__ = [
    "criterion_section",
    "stability_section",
    "add_to_sections",
    "build",
    "build_stability",
    "validity_inputs",
    "SECTION_ID",
    "SECTION_TITLE",
    "STABILITY_ID",
    "STABILITY_TITLE",
]

SECTION_ID = "criterion-validity"
SECTION_TITLE = "Convergent, discriminant and criterion validity"
STABILITY_ID = "stability"
STABILITY_TITLE = "Stability"


def criterion_section(
    latent=None, known=None, incremental=None, *, section_id: str = SECTION_ID, title: str = SECTION_TITLE
) -> Section:
    """The criterion-validity section from whichever of the three results are given."""
    sec = Section(section_id, title)
    if latent is None and known is None and incremental is None:
        sec.status = "not run"
        sec.paragraphs.append("No external measures, known groups or criterion were given.")
        return sec
    if latent is not None:
        kinds = set(latent.correlations["kind"]) if len(latent.correlations) else set()
        text = []
        if "latent" in kinds:
            text.append(
                f"External measures given by their items were modelled as factors in one CFA with the "
                f"scale's factors ({latent.estimator}, unit factor variances), so the correlations are "
                "latent correlations with Wald intervals, as lavaan's parameterEstimates."
            )
        if "observed" in kinds:
            text.append(
                "Correlations with observed external scores were disattenuated for unreliability "
                "(Spearman, 1904): the scale's coefficient alpha and, where given, the external "
                "score's reliability."
            )
        sec.paragraphs.append(" ".join(text))
        sec.tables.append(
            Table(
                "criterion_correlations",
                "Correlations of the factors with external measures",
                latent.correlations,
                index=False,
                note=f"{latent.level:.0%} intervals (Campbell & Fiske, 1959).",
            )
        )
        if len(latent.expectations):
            e = latent.expectations
            sec.tables.append(
                Table(
                    "criterion_expectations",
                    "Expected patterns of convergent and discriminant correlations",
                    e,
                    index=False,
                    note="met: the estimate satisfies the expectation; ci_supports: the whole interval does.",
                )
            )
            unmet = [f"{r.factor}-{r.external} ({r.expected}, r = {r.r:.2f})" for r in e.itertuples() if not r.met]
            sec.numbers.update(expectations_met=int(e["met"].sum()), expectations=len(e))
            sec.paragraphs.append(f"{int(e['met'].sum())} of {len(e)} expectations were met.")
            if unmet:
                sec.flag("expectation(s) not met: " + "; ".join(unmet))
        for n in latent.diagnostics.get("notes", []):
            sec.paragraphs.append(str(n))
    if known is not None:
        ref, foc = known.groups
        sec.tables.append(
            Table(
                "known_groups_observed",
                f"Known groups: {foc} - {ref}, observed scores",
                known.observed,
                note="Hedges' g with its exact noncentral-t interval (Hedges, 1981; Steiger & Fouladi, 1997).",
            )
        )
        if known.latent is not None:
            sec.tables.append(
                Table(
                    "known_groups_latent",
                    f"Known groups: {foc} - {ref}, latent means",
                    known.latent,
                    note=f"Scalar model ({known.diagnostics.get('latent_level')}); "
                    "the reference group's latent mean is 0; d_latent: the "
                    "difference over the pooled latent SD, with a delta-method "
                    "interval (Rao, 1973).",
                )
            )
        else:
            sec.flag(f"latent means not compared: {known.latent_refused}")
    if incremental is not None:
        sec.paragraphs.append(incremental._title + ".")
        sec.tables.append(Table("incremental_steps", "Incremental validity: hierarchical steps", incremental.steps))
        sec.tables.append(
            Table(
                "incremental_coefficients",
                "Incremental validity: coefficients",
                incremental.coefficients,
                index=False,
                note="beta: standardized coefficients (Cohen et al., 2003).",
            )
        )
        sec.numbers["delta_r2"] = incremental.delta_r2
    return sec


def stability_section(result, *, section_id: str = STABILITY_ID, title: str = STABILITY_TITLE) -> Section:
    """The stability section of a :func:`allyscale.test_retest` result."""
    sec = Section(section_id, title)
    t = result.table
    sec.paragraphs.append(
        f"Test-retest stability of the scale scores ({int(t['n'].max())} respondents matched across the waves): "
        "ICC(2,1) (absolute agreement) and ICC(3,1) (consistency) as psych::ICC (Shrout & Fleiss, 1979; McGraw "
        f"& Wong, 1996); SEM and reliable change (Jacobson & Truax, 1991) with r_xx = {result.rxx}."
    )
    if "latent_stability" in t.columns:
        lv = str(t["latent_level"].iloc[0])
        sec.paragraphs.append(
            "The latent stability is each factor's correlation with itself across the waves in one model of both "
            "waves (each item's residuals correlated across waves), at the highest level of longitudinal "
            f"invariance that holds ({lv}), with a delta-method interval (Rao, 1973), as lavaan's "
            "standardizedSolution."
        )
    sec.tables.append(Table("stability", "Test-retest stability, SEM and reliable change", t))
    low = t.index[t["icc2"] < 0.70].tolist()
    if low:
        sec.flag(f"ICC(2,1) below .70 for: {', '.join(map(str, low))}")
    sec.numbers["stability"] = t
    return sec


def _parse_external(specs, columns: list[str], source: str) -> tuple[dict, list[str]]:
    """``validate(external=...)``: a column (an observed score), ``NAME=ITEM,ITEM,...`` or
    ``NAME=PREFIX*`` (a factor of those items), or a mapping name → column / items."""
    from allyscale.errors import DataError

    if isinstance(specs, dict):
        items = dict(specs)
    else:
        items = {}
        for spec in specs or []:
            spec = str(spec)
            if "=" not in spec:
                items[spec] = spec
                continue
            name, _, rhs = spec.partition("=")
            name = name.strip()
            parts = [x.strip() for x in rhs.split(",") if x.strip()]
            its: list[str] = []
            for part in parts:
                if part.endswith("*"):
                    hit = [c for c in columns if c.startswith(part[:-1])]
                    if not hit:
                        raise DataError(f"{source}: external measure {name!r}: no column matches {part!r}")
                    its += hit
                else:
                    its.append(part)
            if not name or not its:
                raise DataError(f"{source}: external measure {spec!r} is not NAME=ITEM,ITEM,... or NAME=PREFIX*")
            items[name] = its
    for name, spec in items.items():
        cols = [spec] if isinstance(spec, str) else list(spec)
        absent = [c for c in cols if c not in columns]
        if absent:
            raise DataError(f"{source}: external measure {name!r}: column(s) {absent[:10]} not in the data")
    observed = [c for c in items.values() if isinstance(c, str)]
    return items, observed


def validity_inputs(
    data,
    *,
    items: list[str],
    external=None,
    expect=None,
    reliability=None,
    known_groups=None,
    reference=None,
    retest=None,
    wave=None,
    retest_id=None,
    retest_latent: bool = True,
    criterion=None,
    criterion_latent: bool = False,
    source: str = "data",
):
    """Check the validate() inputs of these sections; split a wave column into the two waves.

    Returns the (wave-1) data and the dict the section builders read from
    ``ctx.results["validity"]``.

    Raises
    ------
    DataError
        A column that is not in the data, a wave column without two waves, a retest wave
        without the id column or the items, a known-groups column without two groups.
    """
    import pandas as pd

    from allyscale.errors import DataError

    ext, observed = _parse_external(external, list(data.columns), source)
    if expect and not ext:
        raise DataError("expectations (--expect) need external measures (--external)")
    if known_groups is not None:
        if known_groups not in data.columns:
            raise DataError(f"{source}: known-groups column {known_groups!r} is not in the data")
        if known_groups in items:
            raise DataError(f"{source}: known-groups column {known_groups!r} is an item")
    if criterion is not None:
        if criterion not in data.columns:
            raise DataError(f"{source}: criterion column {criterion!r} is not in the data")
        if (
            criterion in items
            or criterion in ext
            or any(criterion in (c if isinstance(c, list) else [c]) for c in ext.values())
        ):
            raise DataError(f"{source}: criterion column {criterion!r} is an item or an external measure")
    if criterion_latent:
        if criterion is None:
            raise DataError("the latent incremental validity (--criterion-latent) needs a criterion (--criterion)")
        if not ext:
            raise DataError("the latent incremental validity (--criterion-latent) needs external measures (--external)")
        single = [k for k, s in ext.items() if isinstance(s, str)]
        if single:
            raise DataError(
                f"the latent incremental validity (--criterion-latent) needs every external measure as a factor of "
                f"its items (NAME=ITEMS); {single[0]!r} is a single column"
            )
    if wave is not None:
        if retest is not None:
            raise DataError("give a retest file or a wave column, not both")
        if wave not in data.columns:
            raise DataError(f"{source}: wave column {wave!r} is not in the data")
        waves = list(pd.unique(data[wave].dropna()))
        if len(waves) != 2:
            raise DataError(f"{source}: wave column {wave!r} must hold two waves, found {[str(w) for w in waves[:10]]}")
        if all(isinstance(w, (int, float)) or hasattr(w, "dtype") for w in waves):
            waves = sorted(waves)
        retest = data[data[wave] == waves[1]].reset_index(drop=True)
        data = data[data[wave] == waves[0]].reset_index(drop=True)
    if retest is not None:
        rid = retest_id or "id"
        for k, frame in ((1, data), (2, retest)):
            if rid not in frame.columns:
                raise DataError(f"{source}: the retest needs the respondent id column {rid!r} in wave {k} (--id)")
        absent = [i for i in items if i not in retest.columns]
        if absent:
            raise DataError(f"retest wave: item(s) {absent[:20]} are not in the data")
    info = {
        "external": ext,
        "observed": observed,
        "expect": dict(expect or {}) or None,
        "reliability": dict(reliability or {}) or None,
        "known_groups": known_groups,
        "reference": reference,
        "retest": retest,
        "id": (retest_id or "id") if retest is not None else None,
        "retest_latent": bool(retest_latent),
        "wave": wave,
        "criterion": criterion,
        "criterion_latent": bool(criterion_latent),
    }
    return data, info


def add_to_sections(sections: list, ctx) -> list:
    """The pipeline's sections with the criterion and stability sections before the conclusion, when
    external measures, known groups or a retest wave are given."""
    v = ctx.results.get("validity") or {} if hasattr(ctx, "results") else {}
    out = list(sections)
    at = next((k for k, s in enumerate(out) if s[0] == "conclusion"), len(out))
    if getattr(ctx, "external", None) or v.get("external") or v.get("known_groups") or v.get("criterion"):
        out.insert(at, (SECTION_ID, SECTION_TITLE, build))
        at += 1
    if v.get("retest") is not None:
        out.insert(at, (STABILITY_ID, STABILITY_TITLE, build_stability))
    return out


def build(ctx, sec: Section) -> None:
    """Pipeline builder: latent / disattenuated correlations with the external measures (and the
    expectations), known groups, from the main model's factors."""
    from allyscale.validity_ext import incremental_validity, known_groups, latent_correlations

    v = ctx.results.get("validity") or {}
    model = ctx.models[ctx.main_model]
    ext = v.get("external") or {c: c for c in ctx.external}
    res = kg = inc = None
    if ext:
        res = latent_correlations(
            ctx.analysis_data,
            model,
            ext,
            expect=v.get("expect"),
            reliability=v.get("reliability"),
            estimator=getattr(ctx, "estimator", None),
        )
        ctx.results["criterion_validity"] = res
    if v.get("known_groups"):
        kg = known_groups(
            ctx.analysis_data,
            model,
            group=v["known_groups"],
            reference=v.get("reference"),
            estimator=ctx.estimator,
            collapse=ctx.results.get("collapse") or False,
        )
        ctx.results["known_groups"] = kg
    if v.get("criterion"):
        # the scale scores beyond the external measures (their item means, or their observed scores)
        lat = {k: s for k, s in ext.items() if not isinstance(s, str)}
        joint = model.rstrip() + "".join(f"\n{k} =~ {' + '.join(s)}" for k, s in lat.items())
        factors = list(ctx.factors)
        inc = incremental_validity(
            ctx.analysis_data,
            outcome=v["criterion"],
            baseline=[k if k in lat else s for k, s in ext.items()],
            added=factors,
            model=joint,
            latent=bool(v.get("criterion_latent")),
        )
        ctx.results["incremental_validity"] = inc
    built = criterion_section(latent=res, known=kg, incremental=inc)
    sec.paragraphs += built.paragraphs
    sec.tables += built.tables
    sec.numbers.update(built.numbers)
    for f in built.flags:
        sec.flag(f)


def _scored_retest(ctx, frame):
    """The retest wave's items reverse-scored as the first wave's (``Context.scored``)."""
    import numpy as np

    from allyscale.scoring import reverse_score

    out = frame.copy()
    items = frame[ctx.items].astype(float)
    if ctx.pool is not None:
        items = reverse_score(items, ctx.pool)
    if ctx.reverse:
        if ctx.scale:
            lo, hi = ctx.scale
        else:
            first = ctx.data[ctx.items].astype(float).to_numpy()
            lo, hi = np.nanmin(first), np.nanmax(first)
        for item in ctx.reverse:
            items[item] = lo + hi - items[item]
    out[ctx.items] = items
    return out


def build_stability(ctx, sec: Section) -> None:
    """Pipeline builder: :func:`allyscale.test_retest` of the main model's scales across the two waves."""
    from allyscale.validity_ext import test_retest

    v = ctx.results["validity"]
    res = test_retest(
        ctx.analysis_data,
        _scored_retest(ctx, v["retest"]),
        model=ctx.models[ctx.main_model],
        id=v["id"],
        latent=v["retest_latent"],
        estimator=ctx.estimator,
        **({"collapse": ctx.results.get("collapse")} if v["retest_latent"] and ctx.results.get("collapse") else {}),
    )
    built = stability_section(res)
    sec.paragraphs += built.paragraphs
    sec.tables += built.tables
    sec.numbers.update(built.numbers)
    for f in built.flags:
        sec.flag(f)
    if not v["retest_latent"]:
        sec.paragraphs.append("The latent stability (longitudinal invariance across the waves) was not estimated.")
    ctx.results["retest"] = res
