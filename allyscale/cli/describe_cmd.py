"""``allyscale describe``: a first summary of response data."""

from __future__ import annotations

import json

import click
import pandas as pd

from allyscale._files import atomic_write_text, check_output_path
from allyscale.cli._read import data_options, read_data
from allyscale.descriptives import describe_items
from allyscale.pool import load_pool
from allyscale.report.document import jsonable
from allyscale.scoring import reverse_score, scale_scores


@click.command("describe")
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False))
@click.option("--pool", "pool_path", type=click.Path(dir_okay=False), help="Item pool YAML.")
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False),
    help="Write the item table (and scale scores with a pool) as JSON.",
)
@data_options
def describe_command(
    data_path: str, pool_path: str | None, json_out: str | None, missing_codes: str | None, invalid: str
) -> None:
    """Item descriptives and scale-score summary of DATA."""
    if json_out:
        check_output_path(json_out, [data_path, pool_path])
    pool = load_pool(pool_path) if pool_path else None
    data = read_data(data_path, pool, missing=missing_codes, invalid=invalid)
    table = describe_items(data, pool)
    click.echo(
        f"{data_path}: {len(data)} respondents, {table.shape[0]} items, {int(table['missing'].sum())} missing responses"
    )
    with pd.option_context("display.width", 120, "display.max_rows", 500):
        click.echo(table.round(3).to_string())
        if pool is not None:
            scores = scale_scores(reverse_score(data[pool.item_ids].astype(float), pool), pool)
            click.echo("\nScale scores (item means, reverse-keyed items reversed):")
            click.echo(scores.describe().T[["mean", "std", "min", "max"]].round(3).to_string())
            click.echo("\nCorrelations of scale scores:")
            click.echo(scores.corr().round(2).to_string())
    if json_out:
        payload = {"n": len(data), "items": table}
        if pool is not None:
            payload["scale_score_correlations"] = scores.corr()
        atomic_write_text(json_out, json.dumps(jsonable(payload), indent=2), [data_path, pool_path])


def register(main: click.Group) -> None:
    main.add_command(describe_command)
