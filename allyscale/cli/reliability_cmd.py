"""``allyscale reliability``: alpha, composite reliability, AVE, HTMT and Fornell-Larcker from the command line."""

from __future__ import annotations

import json

import click
import pandas as pd

from allyscale._files import atomic_write_text, check_output_path
from allyscale.cli._read import data_options, read_data, read_model
from allyscale.errors import SpecificationError
from allyscale.pool import load_pool
from allyscale.report.document import jsonable



@click.command("reliability")
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False))
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="lavaan model file (default with --pool: the pool's correlated-factors model).")
@click.option("--estimator", type=click.Choice(["ML", "MLR", "WLSMV"], case_sensitive=False), default=None,
              help="CFA estimator behind omega and AVE (WLSMV: categorical omega). Default: allyscale's rule "
                   "(WLSMV for items with at most 7 integer categories, else ML).")
@click.option("--pool", "pool_path", type=click.Path(dir_okay=False),
              help="Item pool: its reverse-keyed items are reverse-scored first.")
@click.option("--ordinal-alpha", is_flag=True, help="Alpha on polychoric correlations (Zumbo et al., 2007).")
@click.option("--omega-factors", type=click.IntRange(min=2),
              help="Also report Schmid-Leiman omega (psych::omega) with this many group factors.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False),
              help="Write the reliability table, HTMT and Fornell-Larcker table as JSON.")
@data_options
def reliability_command(data_path, model_path, estimator, pool_path, ordinal_alpha, omega_factors,
                        json_out, missing_codes, invalid) -> None:
    """Reliability (alpha, omega as semTools::compRelSEM, AVE) and discriminant validity of DATA."""
    inputs = [data_path, pool_path, model_path]
    if json_out:
        check_output_path(json_out, inputs)
    pool = load_pool(pool_path) if pool_path else None
    if model_path:
        model = read_model(model_path)
    elif pool is not None:
        model = pool.model_syntax("correlated")
    else:
        raise SpecificationError("give --model (a lavaan model file) or --pool")
    data = read_data(data_path, pool, model=model, missing=missing_codes, invalid=invalid, analysed=True)
    import allyscale.reliability  # noqa: F401  (the package attribute is the function)
    from allyscale.cfa import cfa

    import allyscale.reliability as mod
    from allyscale.validity import fornell_larcker, htmt

    from allyscale.scoring import reverse_score

    scored = reverse_score(data, pool, present_only=True) if pool is not None else data.copy()
    from allyscale.fitpolicy import resolve_estimator

    est = resolve_estimator(estimator, scored, model)
    items = list(dict.fromkeys(i for its in mod._factor_items(model).values() for i in its))
    fit = cfa(scored, model, estimator=est, **({"ordered": items} if est == "WLSMV" else {}))
    table = mod.reliability(scored, model, estimator=est, ordinal_alpha=ordinal_alpha, fit=fit).table
    ht = htmt(scored, model)
    fl = fornell_larcker(scored, model, estimator=est, fit=fit)
    om = mod.omega(scored[items], omega_factors) if omega_factors else None
    with pd.option_context("display.width", 160, "display.max_rows", 500, "display.max_columns", 50):
        click.echo(f"Reliability ({est}; omega as semTools::compRelSEM, AVE as semTools::AVE)")
        click.echo(table.round(4).to_string())
        if not fit.converged:
            click.echo("WARNING: the CFA did not converge; omega and AVE are not trustworthy")
        click.echo("\nHTMT (HTMT2, geometric means)")
        click.echo(ht.round(3).to_string())
        click.echo("\n" + str(fl.summary()))
        if om is not None:
            click.echo("\n" + str(om.summary()))
    if json_out:
        payload = {"estimator": est, "converged": fit.converged, "reliability": table,
                   "diagnostics": table.attrs.get("diagnostics", {}), "htmt": ht, "fornell_larcker": fl.to_dict(),
                   "omega": None if om is None else om.to_dict()}
        atomic_write_text(json_out, json.dumps(jsonable(payload), indent=2), inputs)
    if not fit.converged:
        click.echo("error: the CFA behind omega and AVE did not converge (exit 1)", err=True)
        raise SystemExit(1)


def register(main: click.Group) -> None:
    main.add_command(reliability_command)
