"""``allyscale screen``: missing data, Little's MCAR test and careless responding in a data file."""

from __future__ import annotations

import json

import click
import pandas as pd

from allyscale._files import _real, atomic_write_text, check_output_path, write_csv
from allyscale.cli._read import data_options, read_data, split_items
from allyscale.errors import DataError
from allyscale.pool import load_pool
from allyscale.report.document import jsonable


@click.command("screen")
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False))
@click.option(
    "--pool",
    "pool_path",
    type=click.Path(dir_okay=False),
    help="Item pool: its items, reverse keys, factors (even-odd index) and attention checks.",
)
@click.option("--items", help="Comma-separated item columns (without a pool; default every numeric column).")
@click.option(
    "--exclude",
    help="'flagged', or comma-separated rules (attention, longstring, irv, mahalanobis, "
    "even_odd, missing) whose respondents are left out of --out.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False),
    help="Write the kept respondents as CSV (all of them unless --exclude).",
)
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    help="Write the screening (per-item missing, flagged respondents, MCAR test) as JSON.",
)
@data_options
def screen_command(data_path, pool_path, items, exclude, out_path, json_out, missing_codes, invalid) -> None:
    """Screen DATA: missing data per item and person, Little's MCAR test, careless responding.

    Flagged respondents are listed; they are removed (from --out) only with --exclude.
    """
    from allyscale.quality import screen

    pool = load_pool(pool_path) if pool_path else None
    for target in (out_path, json_out):
        if target:
            check_output_path(target, [data_path, pool_path])
    if out_path and json_out and _real(out_path) == _real(json_out):
        raise DataError(f"--out and --json are the same file ({out_path}); give two files")
    chosen = split_items(items)
    data = read_data(
        data_path,
        None if chosen else pool,
        items=chosen,
        missing=missing_codes,
        invalid=invalid,
        items_from="the --items",
    )
    rules = None
    if exclude:
        rules = "flagged" if exclude.strip() == "flagged" else [r.strip() for r in exclude.split(",") if r.strip()]
    result = screen(data, None if chosen else pool, items=chosen, exclude=rules)
    click.echo(str(result.summary()))
    if len(result.flagged):
        with pd.option_context("display.width", 160, "display.max_rows", 200):
            click.echo("\nFlagged respondents:")
            click.echo(result.flagged.head(100).round(3).to_string())
            if len(result.flagged) > 100:
                click.echo(f"... and {len(result.flagged) - 100} more (see --json)")
    if out_path:
        kept = result.data
        write_csv(out_path, kept, inputs=[data_path, pool_path])
        click.echo(f"{out_path}: {len(kept)} respondents written ({len(result.excluded)} excluded)")
    if json_out:
        payload = {"read": data.attrs["read_report"].to_dict(), **result.to_dict()}
        atomic_write_text(json_out, json.dumps(jsonable(payload), indent=2), [data_path, pool_path])


def register(main: click.Group) -> None:
    main.add_command(screen_command)
