"""``allyscale efa``: exploratory factor analysis from the command line."""

from __future__ import annotations

import json

import click
import pandas as pd

from allyscale._files import atomic_write_text, check_output_path
from allyscale.cli._read import data_options, read_data, split_items
from allyscale.efa import METHODS, ROTATIONS, efa
from allyscale.pool import load_pool
from allyscale.report.document import jsonable


@click.command("efa")
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False))
@click.option("--factors", "n_factors", type=click.IntRange(min=1), required=True, help="Number of factors.")
@click.option("--method", type=click.Choice(METHODS), default="minres", show_default=True)
@click.option("--rotation", type=click.Choice(ROTATIONS), default="oblimin", show_default=True)
@click.option("--corr", type=click.Choice(["pearson", "polychoric"]), default="pearson", show_default=True)
@click.option(
    "--pool",
    "pool_path",
    type=click.Path(dir_okay=False),
    help="Item pool: analyse its items, match factors to its structure (and target it with --rotation target).",
)
@click.option("--items", help="Comma-separated item columns (default: the pool's items, else all numeric columns).")
@click.option(
    "--seed", type=click.IntRange(min=0), default=1, show_default=True, help="Seed of the rotation's random starts."
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write loadings, phi, fit and diagnostics.")
@data_options
def efa_command(
    data_path, n_factors, method, rotation, corr, pool_path, items, seed, json_out, missing_codes, invalid
) -> None:
    """Exploratory factor analysis of DATA (as psych::fa)."""
    if json_out:
        check_output_path(json_out, [data_path, pool_path])
    pool = load_pool(pool_path) if pool_path else None
    chosen = split_items(items)
    data = read_data(
        data_path,
        None if chosen else pool,
        items=chosen,
        missing=missing_codes,
        invalid=invalid,
        items_from="the --items",
        analysed=True,
    )
    if chosen:
        cols = chosen
    elif pool is not None:
        cols = pool.item_ids
    else:
        cols = list(data.select_dtypes("number").columns)
    result = efa(data, n_factors, method=method, rotation=rotation, corr=corr, items=cols, pool=pool, seed=seed)
    with pd.option_context("display.width", 160, "display.max_rows", 500, "display.max_columns", 50):
        click.echo(str(result.summary()))
    if json_out:
        atomic_write_text(json_out, json.dumps(jsonable(result.to_dict()), indent=2), [data_path, pool_path])
    failed = [k for k in ("extraction_converged", "rotation_converged") if result.diagnostics.get(k) is False]
    if failed:
        click.echo(
            f"error: the {' and the '.join(k.split('_')[0] for k in failed)} did not converge (exit 1)", err=True
        )
        raise SystemExit(1)


def register(main: click.Group) -> None:
    main.add_command(efa_command)
