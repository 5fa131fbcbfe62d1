"""``allyscale cfa`` and ``allyscale compare``: confirmatory factor analysis from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from allyscale._files import atomic_write_text, check_output_path
from allyscale.cfa import ESTIMATORS, cfa
from allyscale.cli._read import data_options, model_items, read_data, read_model
from allyscale.comparison import compare
from allyscale.errors import DataError
from allyscale.pool import load_pool
from allyscale.report.document import jsonable

_estimator = click.option(
    "--estimator",
    type=click.Choice(ESTIMATORS, case_sensitive=False),
    default=None,
    help="ML, MLR (robust) or WLSMV (ordinal items). Default: allyscale's rule "
    "(WLSMV when every item has integer answers with at most 7 categories, else ML).",
)


@click.command("cfa")
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False))
@click.option(
    "--model", "model_path", required=True, type=click.Path(dir_okay=False), help="lavaan model syntax file (.lav)."
)
@_estimator
@click.option("--group", help="Group column (multi-group model).")
@click.option("--fiml", is_flag=True, help="Full-information ML for missing values (ML/MLR); default listwise.")
@click.option("--std-lv", is_flag=True, help="Identify factors by unit variance instead of a unit first loading.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write fit_measures and estimates as JSON.")
@data_options
def cfa_command(data_path, model_path, estimator, group, fiml, std_lv, json_out, missing_codes, invalid) -> None:
    """Confirmatory factor analysis of DATA (as lavaan::cfa)."""
    inputs = [data_path, model_path]
    if json_out:
        check_output_path(json_out, inputs)  # before the work: a bad --json fails at once
    model = read_model(model_path)
    if group and group in model_items(model):
        raise DataError(f"--group {group}: is an item of the model; the group column must be another column")
    data = read_data(data_path, model=model, missing=missing_codes, invalid=invalid, analysed=True)
    result = cfa(
        data,
        model,
        estimator=estimator.upper() if estimator else None,
        group=group,
        missing="fiml" if fiml else "listwise",
        std_lv=std_lv,
    )
    with pd.option_context("display.width", 160, "display.max_rows", 1000, "display.max_columns", 50):
        click.echo(str(result.summary()))
    if json_out:
        atomic_write_text(json_out, json.dumps(jsonable(result.to_dict()), indent=2), inputs)
    if not result.converged:
        click.echo("error: the model did not converge; its fit measures are not reported (exit 1)", err=True)
        raise SystemExit(1)


@click.command("compare")
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False))
@click.option("--pool", "pool_path", type=click.Path(dir_okay=False), help="Item pool: fit all of its structures.")
@click.option(
    "--model",
    "model_paths",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="lavaan model file; repeat for each model (named after the file).",
)
@_estimator
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the table and the tests as JSON.")
@data_options
def compare_command(data_path, pool_path, model_paths, estimator, json_out, missing_codes, invalid) -> None:
    """Compare competing factor models fitted to DATA (fit side by side, difference tests)."""
    if bool(pool_path) == bool(model_paths):
        raise DataError("give either --pool or at least two --model files")
    inputs = [data_path, pool_path, *model_paths]
    if json_out:
        check_output_path(json_out, inputs)
    pool = load_pool(pool_path) if pool_path else None
    if pool is not None:
        data = read_data(data_path, pool, missing=missing_codes, invalid=invalid, analysed=True)
        result = compare(data, pool=pool, estimator=estimator.upper() if estimator else None)
    else:
        models = {}
        for p in model_paths:
            name = Path(p).stem
            if name in models:
                name = p
            models[name] = read_model(p)
        items = list(dict.fromkeys(i for m in models.values() for i in model_items(m)))
        data = read_data(
            data_path, items=items, missing=missing_codes, invalid=invalid, items_from="the models'", analysed=True
        )
        result = compare(data, models, estimator=estimator.upper() if estimator else None)
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        click.echo(str(result.summary()))
    if json_out:
        atomic_write_text(json_out, json.dumps(jsonable(result.to_dict()), indent=2), inputs)
    failed = [name for name, fit in result.fits.items() if not fit.converged]
    if failed:
        click.echo(f"error: model(s) {', '.join(failed)} did not converge (exit 1)", err=True)
        raise SystemExit(1)


def register(main: click.Group) -> None:
    main.add_command(cfa_command)
    main.add_command(compare_command)
