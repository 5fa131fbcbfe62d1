"""How every CLI command reads its inputs: response files and model files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import click
import pandas as pd

from allyscale.errors import DataError
from allyscale.pool import ItemPool


def data_options(command: Callable) -> Callable:
    """Add ``--missing CODES`` and ``--invalid error|missing`` (passed as ``missing_codes``, ``invalid``)."""
    command = click.option(
        "--invalid",
        type=click.Choice(["error", "missing"]),
        default="error",
        show_default=True,
        help="Non-numeric or out-of-scale answers: stop with an error naming them, or treat them "
        "as missing (reported).",
    )(command)
    command = click.option(
        "--missing",
        "missing_codes",
        metavar="CODES",
        help="Missing-value codes of the file, comma-separated (e.g. -99,999); counted and reported.",
    )(command)
    return command


def split_items(text: str | None, option: str = "--items") -> list[str] | None:
    """The item ids of an ``--items a,b,c`` option (``None`` when not given); a repeated id is an error."""
    if not text:
        return None
    items = [c.strip() for c in text.split(",") if c.strip()]
    seen: set[str] = set()
    for item in items:
        if item in seen:
            raise DataError(f"{option}: item {item!r} is given twice")
        seen.add(item)
    return items


def read_data(
    path: str,
    pool: ItemPool | None = None,
    *,
    items: Sequence[str] | None = None,
    model: str | None = None,
    missing: str | None = None,
    invalid: str = "error",
    items_from: str | None = None,
    quiet: bool = False,
    analysed: bool = False,
) -> pd.DataFrame:
    """Read a response file with :func:`allyscale.read_responses`; say on stderr what was recoded.

    ``.csv``, ``.tsv``, ``.xlsx``, ``.sav`` and Qualtrics exports; the pool's items (or
    the given ones, or without either the observed variables of ``model``) are checked
    cell by cell. With ``analysed`` (the commands that factor-analyse the items), items
    that are copies or exact linear combinations of others are an error naming them. Missing-value codes, invalid cells set to missing and dropped header
    rows are summarised on stderr (and kept in ``frame.attrs["read_report"]``).
    """
    from allyscale.survey import read_responses

    if pool is None and items is None and model is not None:
        items, items_from = model_items(model), "the model's"

    frame = read_responses(path, pool, items=items, missing=missing, invalid=invalid, items_from=items_from)
    report = frame.attrs["read_report"]
    if not quiet and (report.code_counts or report.invalid or report.header_rows_dropped or report.user_missing):
        click.echo(report.summary(), err=True)
    if analysed:
        from allyscale.survey import linear_dependencies

        problems = linear_dependencies(frame, report.items)
        if problems:
            raise DataError(
                f"{path}: " + "; ".join(problems) + ": no factor analysis can use them (their "
                "covariance matrix is singular); drop the redundant item(s)"
            )
    return frame


def model_items(model: str) -> list[str]:
    """The observed variables of lavaan syntax (the columns a model needs)."""
    from allyscale.syntax import model_variables, parse_model

    ov, lv = model_variables(parse_model(model))
    return [v for v in ov if v not in lv]


def read_model(path: str) -> str:
    """Read a lavaan model file, with an error naming the file when it cannot be read."""
    from allyscale.errors import ModelSyntaxError
    from allyscale.syntax import parse_model

    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: model file not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a folder, not a model file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the model file ({exc})") from None
    try:
        parse_model(text)
    except ModelSyntaxError as exc:
        raise ModelSyntaxError(f"{path}: {exc}") from None
    return text
