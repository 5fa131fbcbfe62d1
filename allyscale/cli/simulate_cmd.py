"""``allyscale simulate``: population model → simulated responses (+ a sidecar)."""

from __future__ import annotations

import math
from pathlib import Path

import click

from allyscale import __version__, limits
from allyscale._files import atomic_write_text, brief, check_output_path, write_csv
from allyscale.errors import DataError
from allyscale.pool import load_pool
from allyscale.simulate import PopulationModel, _dumps_sidecar, simulate


def _floats(text: str | None, name: str):
    if text is None:
        return None
    try:
        vals = [float(x) for x in text.split(",")]
    except ValueError:
        raise DataError(f"--{name}: expected numbers separated by commas, got {brief(text)}") from None
    bad = [v for v in vals if not math.isfinite(v)]
    if bad:
        raise DataError(f"--{name}: {bad[0]} is not a finite number (in {brief(text)})")
    return vals[0] if len(vals) == 1 else tuple(vals)


@click.command("simulate")
@click.option("--pool", "pool_path", type=click.Path(dir_okay=False), help="Item pool YAML.")
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False),
    help="Population model in lavaan syntax with values (instead of --pool).",
)
@click.option("--n", "n", type=click.IntRange(min=1), help="Number of respondents (or --dyads).")
@click.option(
    "--dyads",
    type=click.IntRange(min=2),
    help="Paired design: number of targets, each rated by themself and by --informants informants "
    "(columns <item>_<form> for the pool's two forms and a 'target' id).",
)
@click.option(
    "--informants",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Informants per target (several: one row per target-informant pair, with an 'informant' column).",
)
@click.option(
    "--self-other-corr",
    type=float,
    default=0.5,
    show_default=True,
    help="Latent correlation of self-report and informant report (every factor).",
)
@click.option(
    "--leniency",
    help="Leniency of the informant form: a shift for every item, or ITEM=SHIFT,... "
    "(latent SD units; items listed only are non-invariant).",
)
@click.option(
    "--pair-residual-corr",
    type=float,
    default=0.2,
    show_default=True,
    help="Correlation of an item's residuals across forms (item-specific variance of the target).",
)
@click.option(
    "--form-method-loading",
    type=float,
    default=0.0,
    show_default=True,
    help="Loading of a form-wide method factor on every item of each rating (e.g. self-enhancement, halo).",
)
@click.option("--seed", type=click.IntRange(min=0), required=True, help="Random seed (same seed, same data).")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True, help="Output CSV.")
@click.option(
    "--structure",
    type=click.Choice(["correlated", "second_order", "bifactor"]),
    default="correlated",
    show_default=True,
)
@click.option("--loadings", help="One loading, or LOW,HIGH spread within each factor [default .55,.80].")
@click.option("--factor-corr", type=float, help="Factor correlation (correlated structure) [default .5].")
@click.option("--second-order", type=float, help="Second-order loading [default .75].")
@click.option("--general-loading", type=float, help="General-factor loading (bifactor) [default .5].")
@click.option("--categories", type=click.IntRange(min=2), help="Response categories [default: the pool's scale].")
@click.option(
    "--thresholds",
    default="symmetric",
    show_default=True,
    help="symmetric, skewed, uniform, or comma-separated values.",
)
@click.option("--facet-residual-corr", type=float, default=0.0, show_default=True)
@click.option(
    "--method-loading",
    type=float,
    default=0.0,
    show_default=True,
    help="Loading of reverse-keyed items on a method factor.",
)
@click.option("--careless", type=float, default=0.0, show_default=True, help="Proportion of careless respondents.")
@click.option("--missing", type=float, default=0.0, show_default=True, help="Proportion of missing responses.")
@click.option("--mechanism", type=click.Choice(["MCAR", "MAR"]), default="MCAR", show_default=True)
@click.option(
    "--external",
    "externals",
    multiple=True,
    metavar="NAME=R|NAME=VAR:R,...",
    help="An external measure (repeatable) whose true score correlates R with the general factor "
    "(second-order/bifactor) or every factor, or R with each named latent variable.",
)
@click.option(
    "--external-items",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Items per external measure (columns NAME1..NAMEk); 0: one observed score column NAME.",
)
@click.option(
    "--external-loading",
    default="0.7",
    show_default=True,
    help="Loading of the external measures' items: one value or LOW,HIGH.",
)
@click.option(
    "--external-reliability",
    type=float,
    default=0.8,
    show_default=True,
    help="Reliability of an external observed score (--external-items 0).",
)
@click.option(
    "--outcome",
    metavar="VAR:W,...",
    help="A continuous outcome column 'outcome' with standardized "
    "weights on latent variables (factors, external measures).",
)
@click.option(
    "--group-shift",
    metavar="D|VAR:D,...",
    help="Known groups: a 'group' column (reference/focal, equal halves) whose focal group's latent means "
    "are higher by D (latent SD) on the general factor or every factor, or on the named ones.",
)
@click.option(
    "--retest",
    metavar="S|FACTOR:S,...",
    help="A retest wave of the same respondents (stability S per factor), written to OUT_retest.csv with "
    "an 'id' column in both files (with --dyads: the targets' self-report, by 'target').",
)
@click.option(
    "--retest-residual-corr",
    type=float,
    default=0.0,
    show_default=True,
    help="Correlation of each item's residuals across the waves.",
)
@click.option(
    "--forms",
    is_flag=True,
    help="Add a 'form' column splitting the respondents equally over the pool's forms (in their order; "
    "one population, so the forms are invariant by construction).",
)
def simulate_command(
    pool_path,
    model_path,
    n,
    seed,
    out,
    structure,
    loadings,
    factor_corr,
    second_order,
    general_loading,
    categories,
    thresholds,
    facet_residual_corr,
    method_loading,
    careless,
    missing,
    mechanism,
    forms,
    dyads=None,
    informants=1,
    self_other_corr=0.5,
    leniency=None,
    pair_residual_corr=0.2,
    form_method_loading=0.0,
    externals=(),
    external_items=4,
    external_loading="0.7",
    external_reliability=0.8,
    outcome=None,
    group_shift=None,
    retest=None,
    retest_residual_corr=0.0,
) -> None:
    """Simulate Likert responses and write them to OUT with a population sidecar.

    The sidecar OUT.population.json holds the population model (lavaan syntax with
    values), the options, the seed and the rows of careless respondents.
    """
    if bool(pool_path) == bool(model_path):
        raise DataError("give exactly one of --pool or --model")
    if (n is None) == (dyads is None):
        raise DataError("give exactly one of --n (respondents) or --dyads (targets of the paired design)")
    if dyads is not None and forms:
        raise DataError("--forms splits independent respondents; --dyads simulates pairs: give one of them")
    if informants != 1 and dyads is None:
        raise DataError("--informants needs --dyads")
    inputs = [pool_path, model_path]
    out_path = check_output_path(out, inputs)
    sidecar = out_path.with_name(out_path.stem + ".population.json")
    try:
        check_output_path(sidecar, inputs)
    except DataError:
        raise DataError(
            f"--out {out}: its sidecar {sidecar} would overwrite an input file "
            f"({pool_path or model_path}); choose another output name"
        ) from None
    rows, what = (n, "--n") if dyads is None else (dyads * informants, "--dyads x --informants")
    limits.check_n(rows, what=what)
    if thresholds in ("symmetric", "skewed", "uniform"):
        th = thresholds
    else:
        vals = _floats(thresholds, "thresholds")
        th = list(vals) if isinstance(vals, tuple) else [vals]
        if any(b <= a for a, b in zip(th, th[1:])):
            raise DataError(f"--thresholds: {thresholds} are not in increasing order")
    common = dict(categories=categories, thresholds=th, careless=careless, missing=missing, missing_mechanism=mechanism)
    if pool_path:
        pool = load_pool(pool_path)
        opts = dict(
            structure=structure, facet_residual_corr=facet_residual_corr, method_loading=method_loading, **common
        )
        for key, val in (
            ("loadings", _floats(loadings, "loadings")),
            ("factor_corr", factor_corr),
            ("second_order", second_order),
            ("general_loadings", general_loading),
        ):
            if val is not None:
                opts[key] = val
        pm = PopulationModel.from_pool(pool, **opts)
    else:
        try:
            syntax = Path(model_path).read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"{model_path}: cannot read the model file ({exc})") from None
        pm = PopulationModel.from_lavaan(syntax, **common)
    pm = _with_validity(
        pm,
        pool if pool_path else None,
        structure,
        externals,
        external_items,
        external_loading,
        external_reliability,
        outcome,
        group_shift,
        retest,
        retest_residual_corr,
    )
    if pm.validity is not None and forms:
        raise DataError(
            "--forms splits respondents over forms; it is not combined with --external, --outcome, "
            "--group-shift or --retest"
        )
    if forms and not (pool_path and pool.forms):
        raise DataError(
            "--forms needs a pool that declares forms (" + (f"{pool_path} has none)" if pool_path else "give --pool)")
        )
    limits.check_n(rows, len(pm.items) * (1 if dyads is None else 2), what=what)
    retest_path = out_path.with_name(out_path.stem + "_retest" + out_path.suffix)
    if pm.validity is not None and pm.validity.retest is not None:
        try:
            check_output_path(retest_path, inputs)
        except DataError:
            raise DataError(f"--out {out}: its retest file {retest_path} would overwrite an input file") from None
    if dyads is not None:
        _write_pairs(
            pm,
            pool if pool_path else None,
            out_path,
            dyads,
            informants,
            seed,
            self_other_corr,
            leniency,
            pair_residual_corr,
            inputs,
            form_method_loading,
            retest_path,
        )
        return
    if pm.validity is not None:
        from allyscale.simulate import simulate_study

        study = simulate_study(pm, n, seed=seed)
        data = study.data
        if study.retest is not None:
            write_csv(retest_path, study.retest, inputs=inputs)
            click.echo(f"wrote {retest_path} (retest wave: {n} respondents matched by {pm.validity.retest.id!r})")
    else:
        data = simulate(pm, n=n, seed=seed)
    if forms:
        names = list(pool.forms)
        data["form"] = [names[i * len(names) // n] for i in range(n)]
    write_csv(out_path, data, inputs=inputs)
    atomic_write_text(sidecar, _dumps_sidecar(pm, n, seed, data, __version__), inputs)
    extra = [str(c) for c in data.columns if c not in set(pm.items) and c != "form"]
    click.echo(
        f"wrote {out_path} ({n} respondents x {len(pm.items)} items"
        + (
            f" + {len(extra)} columns ({', '.join(extra[:6])}" + (", ..." if len(extra) > 6 else "") + ")"
            if extra
            else ""
        )
        + (f", {data.attrs['n_missing']} missing responses" if data.attrs.get("n_missing") else "")
        + (f", {len(data.attrs['careless_rows'])} careless" if data.attrs.get("careless_rows") else "")
        + (f", forms {' / '.join(pool.forms)}" if forms else "")
        + f") and {sidecar}"
    )


def _leniency(text: str | None):
    if not text:
        return 0.0
    if "=" not in text:
        try:
            return float(text)
        except ValueError:
            raise DataError(f"--leniency: expected a number or ITEM=SHIFT,...; got {text!r}") from None
    out = {}
    for part in text.split(","):
        item, _, val = part.partition("=")
        try:
            out[item.strip()] = float(val)
        except ValueError:
            raise DataError(f"--leniency: {part!r} is not ITEM=SHIFT") from None
    return out


def _write_pairs(
    pm,
    pool,
    out_path,
    dyads,
    informants,
    seed,
    self_other_corr,
    leniency,
    residual_corr,
    inputs=(),
    method_loading=0.0,
    retest_path=None,
) -> None:
    import json

    from allyscale.simulate import FORMS, _simulate_pairs

    forms = tuple(pool.forms)[:2] if pool is not None and len(pool.forms) >= 2 else FORMS
    data, wave2 = _simulate_pairs(
        pm,
        dyads,
        informants,
        seed=seed,
        self_other_corr=self_other_corr,
        leniency=_leniency(leniency),
        lenient_form=forms[1],
        forms=forms,
        residual_corr=residual_corr,
        method_loading=method_loading,
    )
    if wave2 is not None:
        write_csv(retest_path, wave2, inputs=inputs)
        click.echo(f"wrote {retest_path} (retest wave: the {dyads} targets' self-report, matched by 'target')")
    side = json.loads(_dumps_sidecar(pm, len(data), seed, data, __version__))
    side["pairs"] = data.attrs["design"]
    sidecar = out_path.with_name(out_path.stem + ".population.json")
    write_csv(out_path, data, inputs=inputs)
    atomic_write_text(sidecar, json.dumps(side, indent=2), inputs)
    click.echo(
        f"wrote {out_path} ({dyads} targets x {informants} informant(s), {len(pm.items)} items under the forms "
        f"{' / '.join(forms)}) and {sidecar}"
    )


def _latent_values(text: str | None, option: str, default_vars: list[str]):
    """``R`` (every default variable) or ``VAR:R,...`` → {variable: value}; None when not given."""
    if text is None:
        return None
    text = text.strip()
    if ":" not in text:
        val = _floats(text, option)
        if isinstance(val, tuple):
            raise DataError(f"--{option}: one value or VAR:VALUE,...; got {brief(text)}")
        return {v: val for v in default_vars}
    out = {}
    for part in text.split(","):
        var, _, val = part.partition(":")
        if not var.strip() or not val.strip():
            raise DataError(f"--{option}: {brief(part)} is not VAR:VALUE")
        out[var.strip()] = _floats(val, option)
        if isinstance(out[var.strip()], tuple):
            raise DataError(f"--{option}: {brief(part)} is not VAR:VALUE")
    return out


def _with_validity(
    pm, pool, structure, externals, items, loading, reliability, outcome, group_shift, retest, retest_residual_corr
):
    """The population model with the validity design the options ask for (unchanged without them)."""
    from allyscale.simulate import ExternalSpec, GroupSpec, OutcomeSpec, RetestSpec, ValiditySpec

    if not (externals or outcome or group_shift or retest):
        if retest_residual_corr:
            raise DataError("--retest-residual-corr needs --retest")
        return pm
    loaded = [
        f for j, f in enumerate(pm.matrices.lv) if (pm.matrices.lambda_[:, j] != 0).any() and f != "method_reverse"
    ]
    general = pool.general_id if pool is not None and structure in ("second_order", "bifactor") else None
    default = [general] if general else loaded
    ext = []
    for spec in externals:
        name, eq, corr = spec.partition("=")
        if not eq or not name.strip():
            raise DataError(f"--external: expected NAME=R or NAME=VAR:R,...; got {brief(spec)}")
        ext.append(
            ExternalSpec(
                name.strip(),
                _latent_values(corr, "external", default),
                items=items,
                loadings=_floats(loading, "external-loading"),
                reliability=reliability,
            )
        )
    stab = None
    if retest is not None:
        vals = _latent_values(retest, "retest", ["*"])
        stab = vals["*"] if set(vals) == {"*"} else vals
    spec = ValiditySpec(
        external=tuple(ext),
        outcome=OutcomeSpec(_latent_values(outcome, "outcome", default)) if outcome else None,
        groups=GroupSpec(_latent_values(group_shift, "group-shift", default)) if group_shift else None,
        retest=RetestSpec(stab, residual_corr=retest_residual_corr) if stab is not None else None,
    )
    return pm.with_validity(spec)


def register(main: click.Group) -> None:
    main.add_command(simulate_command)
