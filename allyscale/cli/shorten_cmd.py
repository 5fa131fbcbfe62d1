"""``allyscale shorten``: select a short form of a pool and write it as pool YAML."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from allyscale._files import atomic_write_text, check_output_path
from allyscale.cli._read import data_options, read_data, split_items
from allyscale.errors import DataError
from allyscale.pool import load_pool
from allyscale.report.document import jsonable


def _items_per_factor(text: str):
    """``5`` or ``trust=5,action=4,...``."""
    text = text.strip()
    if "=" not in text:
        try:
            return int(text)
        except ValueError:
            raise DataError(f"--items-per-factor: expected a number or FACTOR=K,..., got {text!r}") from None
    out = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, _, k = part.partition("=")
        try:
            out[name.strip()] = int(k)
        except ValueError:
            raise DataError(f"--items-per-factor: {part.strip()!r} is not FACTOR=K with a whole number K") from None
    return out


def _reverse(text: str | None):
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise DataError(f"--reverse-keyed: expected MIN or MIN,MAX (whole numbers), got {text!r}") from None
    if len(nums) == 1:
        return nums[0]
    if len(nums) == 2:
        return (nums[0], nums[1])
    raise DataError(f"--reverse-keyed: expected MIN or MIN,MAX, got {text!r}")


@click.command("shorten")
@click.argument("data_path", metavar="DATA", type=click.Path(dir_okay=False))
@click.option("--pool", "pool_path", required=True, type=click.Path(dir_okay=False), help="Item pool YAML.")
@click.option("--items-per-factor", required=True, help="Items to keep per factor: K, or FACTOR=K,FACTOR=K,...")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Short-form pool YAML to write (accepted by 'allyscale pool check').",
)
@click.option("--group", help="Group column (e.g. form): penalise items that function differently across groups.")
@click.option("--min-per-facet", type=int, default=1, show_default=True, help="Items kept from every facet.")
@click.option(
    "--method",
    type=click.Choice(["aco", "sa", "exhaustive", "auto"]),
    default="aco",
    show_default=True,
    help="Ant-colony optimisation, simulated annealing, exhaustive search, or auto (exhaustive when small).",
)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--force-in", help="Comma-separated items that must be kept.")
@click.option("--force-out", help="Comma-separated items that must be dropped.")
@click.option("--reverse-keyed", help="Reverse-keyed items per factor: MIN, or MIN,MAX.")
@click.option("--omega-target", type=float, default=0.80, show_default=True, help="ω each factor should reach.")
@click.option(
    "--holdout",
    default="0.5",
    show_default=True,
    help="Fraction held out for confirmation, a second data file, or 'none'.",
)
@click.option("--max-evaluations", type=int, default=3000, show_default=True, help="Most candidate fits.")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes for candidate fits.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False),
    help="Also write a report folder with the 'From N to k items' section.",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the whole result as JSON.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@data_options
def shorten_command(
    data_path,
    pool_path,
    items_per_factor,
    out_path,
    group,
    min_per_facet,
    method,
    seed,
    force_in,
    force_out,
    reverse_keyed,
    omega_target,
    holdout,
    max_evaluations,
    workers,
    report_dir,
    json_out,
    quiet,
    missing_codes,
    invalid,
) -> None:
    """Select a short form of the pool on DATA and write it as pool YAML.

    The search runs on a calibration sample; fit and reliability are confirmed on the
    holdout. Exits 0 when a short form was written (unreached targets are listed as
    warnings), 2 on bad input.
    """
    from allyscale.shorten import Objective, shorten

    hold_path = None
    if holdout.strip().lower() == "none":
        hold = None
    else:
        try:
            hold = float(holdout)
        except ValueError:
            hold_path = holdout
            hold = None
    inputs = [data_path, pool_path, hold_path]
    check_output_path(out_path, inputs)  # before the work: a bad output path fails at once
    if json_out:
        check_output_path(json_out, inputs)
    if Path(out_path).suffix.lower() not in (".yaml", ".yml"):
        raise DataError(f"{out_path}: the short form is pool YAML; give a .yaml or .yml file name")
    pool = load_pool(pool_path)
    data = read_data(data_path, pool, missing=missing_codes, invalid=invalid)
    if hold_path is not None:
        if not Path(hold_path).is_file():
            raise DataError(f"--holdout: {hold_path!r} is neither a fraction, 'none', nor an existing data file")
        hold = read_data(hold_path, pool, missing=missing_codes, invalid=invalid)
    result = shorten(
        data,
        pool=pool,
        items_per_factor=_items_per_factor(items_per_factor),
        min_per_facet=min_per_facet,
        group=group,
        method=method,
        seed=seed,
        force_in=split_items(force_in) or (),
        force_out=split_items(force_out) or (),
        reverse_keyed=_reverse(reverse_keyed),
        objective=Objective(omega_target=omega_target),
        holdout=hold,
        max_evaluations=max_evaluations,
        workers=workers,
        progress=not quiet,
    )
    result.save_pool(out_path, inputs=inputs)
    with pd.option_context("display.width", 200, "display.max_columns", 60, "display.max_rows", 200):
        click.echo(str(result.summary()))
    click.echo(f"short form: {out_path}")
    if report_dir:
        from allyscale.report.shortform_section import shortform_report

        html = shortform_report(result, source=Path(data_path).name).save(report_dir, inputs=inputs)
        click.echo(f"report: {html}")
    if json_out:
        atomic_write_text(json_out, json.dumps(jsonable(result.to_dict()), indent=2), inputs)
    for t in result.unmet_targets:
        click.echo(f"warning: target not reached on the {result.diagnostics['confirmed_on']} sample: {t}", err=True)


def register(main: click.Group) -> None:
    main.add_command(shorten_command)
