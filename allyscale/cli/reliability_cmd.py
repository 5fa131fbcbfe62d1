"""``allyscale reliability``: alpha, composite reliability, AVE, HTMT and Fornell-Larcker from the command line."""

from __future__ import annotations

import json

import click
import pandas as pd

from allyscale._files import atomic_write_text, check_output_path
from allyscale.cli._read import data_options, read_data, read_model
from allyscale.errors import SpecificationError
from allyscale.pool import load_pool


@click.command("reliability")
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False))
@click.option(
    "--model",
    "model_path",
    type=click.Path(dir_okay=False),
    help="lavaan model file (default with --pool: the pool's correlated-factors model).",
)
@click.option(
    "--estimator",
    type=click.Choice(["ML", "MLR", "WLSMV"], case_sensitive=False),
    default=None,
    help="CFA estimator behind omega and AVE (WLSMV: categorical omega). Default: allyscale's rule "
    "(WLSMV for items with at most 7 integer categories, else ML).",
)
@click.option(
    "--pool",
    "pool_path",
    type=click.Path(dir_okay=False),
    help="Item pool: its reverse-keyed items are reverse-scored first.",
)
@click.option("--ordinal-alpha", is_flag=True, help="Alpha on polychoric correlations (Zumbo et al., 2007).")
@click.option(
    "--omega-factors",
    type=click.IntRange(min=2),
    help="Group factors of Schmid-Leiman omega (psych::omega). Default, as the report: the number of "
    "factors of the model when there are at least three.",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    help="Write the reliability table, HTMT and Fornell-Larcker table as JSON.",
)
@data_options
def reliability_command(
    data_path, model_path, estimator, pool_path, ordinal_alpha, omega_factors, json_out, missing_codes, invalid
) -> None:
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
    from allyscale.validity import scale_reliability

    res = scale_reliability(
        data,
        model,
        estimator=estimator,
        pool=pool,
        ordinal_alpha=ordinal_alpha,
        omega_factors=omega_factors if omega_factors else "auto",
    )
    fit = res.fit
    with pd.option_context("display.width", 160, "display.max_rows", 500, "display.max_columns", 50):
        click.echo(str(res.reliability.summary()))
        click.echo("\nHTMT (HTMT2, geometric means" + ("; polychoric" if res.estimator == "WLSMV" else "") + ")")
        click.echo(res.htmt.round(3).to_string())
        click.echo("\n" + str(res.fornell_larcker.summary()))
        if res.omega is not None:
            click.echo("\n" + str(res.omega.summary()))
    if json_out:
        atomic_write_text(json_out, json.dumps(res.to_dict(), indent=2), inputs)
    if not fit.converged:
        click.echo("error: the CFA behind omega and AVE did not converge (exit 1)", err=True)
        raise SystemExit(1)


def register(main: click.Group) -> None:
    main.add_command(reliability_command)
