"""``allyscale content ...``: rating sheets for expert and community panels, and their content-validity indices."""

from __future__ import annotations

import json

import click

from allyscale.errors import DataError
from allyscale.pool import load_pool


@click.group("content")
def content_group() -> None:
    """Content validity before data: rating sheets and panel indices."""


@content_group.command("sheet")
@click.option("--pool", "pool_path", required=True, type=click.Path(dir_okay=False), help="Item pool YAML.")
@click.option(
    "--task",
    type=click.Choice(["relevance", "sort"]),
    default="relevance",
    show_default=True,
    help="relevance: rate each item's relevance (1-4) and whether it is essential (1-3); sort: assign "
    "each item, in a shuffled order, to one subcategory or 'none'.",
)
@click.option(
    "--form",
    type=click.Choice(["self", "informant", "both", "each"]),
    default="self",
    show_default=True,
    help="Which wording(s) the sheet shows: both = the two wordings in one row; each = one row per "
    "wording (a form column), so the forms are rated and analysed separately.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the shuffled order (sort task).")
@click.option("--rater", help="Pre-fill the rater column (one sheet per rater).")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Sheet to write: .xlsx (with instructions and drop-down lists) or .csv.",
)
def sheet(pool_path: str, task: str, form: str, seed: int, rater: str | None, out_path: str) -> None:
    """Write a rating sheet of the pool for a panel: one row per item, one column per rating."""
    from allyscale.content import write_sheet

    pool = load_pool(pool_path)
    path = write_sheet(out_path, pool, task, form=form, seed=seed, rater=rater, inputs=[pool_path])
    click.echo(
        f"{path}: {task} sheet, {len(pool.items)} items ({'every' if form == 'each' else form} wording)"
        + (f", order shuffled with seed {seed}" if task == "sort" else "")
    )


@content_group.command("analyze")
@click.argument("ratings", metavar="RATINGS...", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--pool", "pool_path", required=True, type=click.Path(dir_okay=False), help="Item pool YAML.")
@click.option(
    "--task",
    type=click.Choice(["relevance", "sort"]),
    help="What a file with one column per rater holds (not needed for returned sheets).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="content",
    show_default=True,
    help="Output folder: report.html, results.json, tables/*.csv, revised_pool.yaml.",
)
@click.option(
    "--cutoff",
    "cutoffs",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a decision cutoff (repeatable): kappa_keep (.74), kappa_drop (.40), alpha (.05), min_items (3).",
)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the indices as JSON.")
def analyze(
    ratings: tuple[str, ...],
    pool_path: str,
    task: str | None,
    out_dir: str,
    cutoffs: tuple[str, ...],
    json_out: str | None,
) -> None:
    """Content-validity indices, decisions and coverage from returned rating sheets (RATINGS...).

    I-CVI, S-CVI/Ave, S-CVI/UA, kappa*, Lawshe's CVR with exact critical values, Aiken's V
    with its score interval; for sort tasks psa, csv with binomial tests and the
    confusion matrix; Fleiss' kappa and Krippendorff's alpha. Bad rating files (unknown
    item, rating off the scale, a rater with no ratings, duplicate raters) exit 2 and
    nothing is written.
    """
    from allyscale._files import atomic_write_text, check_output_folder, check_output_path
    from allyscale.content import content_validity
    from allyscale.report.bundle import REPORT_ENTRIES
    from allyscale.report.content_section import content_report

    overrides: dict[str, float] = {}
    for text in cutoffs:
        name, sep, value = text.partition("=")
        try:
            overrides[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise DataError(f"--cutoff: expected NAME=VALUE (e.g. kappa_keep=0.78), got {text!r}")
    inputs = [*ratings, pool_path]
    pool = load_pool(pool_path)
    out = check_output_folder(out_dir, owned=(*REPORT_ENTRIES, "revised_pool.yaml"), inputs=inputs)
    if json_out:
        check_output_path(json_out, inputs)
    res = content_validity(list(ratings), pool, task=task, cutoffs=overrides or None)
    report = content_report(res)
    html = report.save(out, inputs=inputs)
    if json_out:
        atomic_write_text(json_out, json.dumps(res.to_dict(), indent=2, allow_nan=False), inputs)
    click.echo(str(res.summary()))
    click.echo(f"\n{html}; revised pool: {out / 'revised_pool.yaml'}")


def register(main: click.Group) -> None:
    main.add_command(content_group)
