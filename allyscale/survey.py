"""Reading real survey exports: CSV/TSV, Excel, SPSS and Qualtrics, checked cell by cell.

:func:`read_responses` is what every ``allyscale`` command uses to read a data file. It
takes the file as the survey platform wrote it and returns one float column per item
(``NaN`` = missing), or stops with an error that names the file, the column, the row and
the value at fault. Nothing is guessed silently: every missing-value code, every invalid
cell set to missing and every dropped header row is counted in
``frame.attrs["read_report"]`` (a :class:`ReadReport`).

Formats, chosen by the file's suffix:

* ``.csv`` (comma) and ``.tsv``/``.tab``/``.txt`` (tab); Qualtrics CSV exports are
  recognised by their two extra header rows (question text, then ``{"ImportId": ...}``),
  which are dropped; the question texts are kept as variable labels;
* ``.xlsx`` (openpyxl; ``sheet`` picks a sheet, default the first);
* ``.sav`` (SPSS, read with pyreadstat): variable labels and value labels are kept as
  metadata; codes stay numeric; SPSS user-missing values become missing.

Row numbers in messages are data rows counted from 1, with the line (or spreadsheet row)
of the file in brackets, so a user can find the cell.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from allyscale._files import brief
from allyscale.errors import DataError, DataWarning
from allyscale.pool import ItemPool
from allyscale.results import Result, Summary, jsonable

__all__ = ["read_responses", "ReadReport", "parse_missing_codes", "QUALTRICS_METADATA"]

#: Columns of a Qualtrics export that describe the response, not an answer.
QUALTRICS_METADATA = (
    "StartDate",
    "EndDate",
    "Status",
    "IPAddress",
    "Progress",
    "Duration (in seconds)",
    "Finished",
    "RecordedDate",
    "ResponseId",
    "RecipientLastName",
    "RecipientFirstName",
    "RecipientEmail",
    "ExternalReference",
    "LocationLatitude",
    "LocationLongitude",
    "DistributionChannel",
    "UserLanguage",
)

_NA_STRINGS = {"", "NA", "N/A", "NaN", "nan", "NULL", "null", "."}
#: largest absolute value accepted as an answer when no response scale is known
MAX_ANSWER = 1e9
_SHOW = 5  # occurrences listed in an error message


@dataclass
class ReadReport(Result):
    """What :func:`read_responses` did to a file.

    Attributes
    ----------
    path, format : str
        The file and its detected format (``csv``, ``tsv``, ``qualtrics``, ``xlsx``, ``sav``).
    n_rows, n_items : int
    items : list of str
    header_rows_dropped : int
        Extra header rows removed (2 for a Qualtrics export).
    missing_codes : list of float
        The codes treated as missing.
    code_counts : dict
        ``{code: {item: cells}}`` for the codes found (items without any are left out).
    blank_cells : dict
        ``{item: cells}`` empty (or NA) in the file.
    invalid : list of dict
        Cells set to missing with ``invalid="missing"``: ``column, row, line, value, reason``.
    user_missing : dict
        ``{item: cells}`` SPSS user-missing values set to missing.
    variable_labels, value_labels : dict
        Question texts and value labels, where the format carries them.
    diagnostics : dict
        ``warnings``: the warnings the reading gave (invalid cells set to missing).
    """

    path: str
    format: str
    n_rows: int = 0
    n_items: int = 0
    items: list[str] = field(default_factory=list)
    header_rows_dropped: int = 0
    missing_codes: list[float] = field(default_factory=list)
    code_counts: dict[float, dict[str, int]] = field(default_factory=dict)
    blank_cells: dict[str, int] = field(default_factory=dict)
    invalid: list[dict[str, Any]] = field(default_factory=list)
    user_missing: dict[str, int] = field(default_factory=dict)
    variable_labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def n_coded_missing(self) -> int:
        """Cells turned into missing values by the missing-value codes."""
        return int(sum(sum(v.values()) for v in self.code_counts.values()))

    def summary(self) -> Summary:
        """A few lines for a terminal or a report."""
        out = Summary(f"{self.path}: {self.n_rows} rows, {self.n_items} items ({self.format})")
        lines = []
        if self.header_rows_dropped:
            lines.append(f"{self.header_rows_dropped} extra header rows dropped (question text and import ids)")
        for code, per in self.code_counts.items():
            lines.append(
                f"missing-value code {_fmt(code)}: {sum(per.values())} cell(s) set to missing in {len(per)} item(s)"
            )
        blanks = sum(self.blank_cells.values())
        if blanks:
            lines.append(f"{blanks} empty cell(s) in {len(self.blank_cells)} item(s)")
        if self.user_missing:
            lines.append(f"{sum(self.user_missing.values())} SPSS user-missing value(s) set to missing")
        if self.invalid:
            lines.append(
                f"{len(self.invalid)} invalid cell(s) set to missing: "
                + "; ".join(
                    f"{d['column']} row {d['row']} ({brief(d['value'])}, {d['reason']})" for d in self.invalid[:_SHOW]
                )
                + (" ..." if len(self.invalid) > _SHOW else "")
            )
        return out.text(*lines) if lines else out.text("Every cell was read as given.")

    def to_frame(self) -> pd.DataFrame:
        """One row per item: the cells that were empty, matched a missing-value code, were SPSS user-missing or
        were invalid (all set to missing)."""
        invalid: dict[str, int] = {}
        for d in self.invalid:
            invalid[d["column"]] = invalid.get(d["column"], 0) + 1
        return pd.DataFrame(
            {
                "item": list(self.items),
                "blank": [self.blank_cells.get(i, 0) for i in self.items],
                "coded_missing": [sum(per.get(i, 0) for per in self.code_counts.values()) for i in self.items],
                "user_missing": [self.user_missing.get(i, 0) for i in self.items],
                "invalid": [invalid.get(i, 0) for i in self.items],
            }
        )

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "path": self.path,
                "format": self.format,
                "n_rows": self.n_rows,
                "n_items": self.n_items,
                "header_rows_dropped": self.header_rows_dropped,
                "missing_codes": [_fmt(c) for c in self.missing_codes],
                "code_counts": {_fmt(c): dict(v) for c, v in self.code_counts.items()},
                "n_coded_missing": self.n_coded_missing,
                "blank_cells": dict(self.blank_cells),
                "user_missing": dict(self.user_missing),
                "invalid": list(self.invalid),
                "diagnostics": self.diagnostics,
            }
        )


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def parse_missing_codes(missing: str | float | Iterable[float] | None) -> list[float]:
    """``"-99,999"``, ``-99`` or ``[-99, 999]`` → ``[-99.0, 999.0]``.

    Raises
    ------
    DataError
        A code that is not a number.
    """
    if missing is None:
        return []
    parts: list[Any]
    if isinstance(missing, str):
        parts = [p.strip() for p in missing.split(",") if p.strip()]
    elif isinstance(missing, (int, float, np.integer, np.floating)):
        parts = [missing]
    else:
        parts = list(missing)
    codes = []
    for p in parts:
        try:
            codes.append(float(p))
        except (TypeError, ValueError):
            raise DataError(f"missing-value code {brief(p)} is not a number (give codes like -99,999)") from None
        if not np.isfinite(codes[-1]):
            raise DataError(f"missing-value code {brief(p)} is not a finite number (give codes like -99,999)")
    return codes


# ---------------------------------------------------------------------------- readers
def _read_text_table(path: Path, sep: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows as strings exactly as in the file (no type guessing, no renaming), and the
    line of the file where each row starts (blank lines are skipped)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    text = _decode(path, raw)
    rows, lines = [], []
    try:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
        start = 1
        for r in reader:
            if any(c.strip() for c in r):
                rows.append(r)
                lines.append(start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError(f"{path}: cannot parse as {'CSV' if sep == ',' else 'tab-separated text'} ({exc})") from None
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]
    width = len(header)
    hint = _delimiter_hint(rows[0], sep)
    if len(header) == 1 and hint:
        raise DataError(f"{path}: the header is one field {brief(rows[0][0])}{hint}")
    for r, ln in zip(body, lines[1:]):
        if len(r) > width and any(c.strip() for c in r[width:]):
            raise DataError(
                f"{path}: line {ln} has {len(r)} fields but the header has {width}" + (_delimiter_hint(r, sep) or "")
            )
        if len(r) < width:
            # a row cut short is as suspect as a long one: never padded silently
            raise DataError(
                f"{path}: line {ln} has {len(r)} field(s) but the header has {width} (a row cut short, "
                "or a line break inside an unquoted cell?)" + (_delimiter_hint(r, sep) or "")
            )
    body = [r[:width] for r in body]
    return header, body, lines[1:]


def _decode(path: Path, raw: bytes) -> str:
    """UTF-8 (with or without BOM), UTF-16 (BOM, or NULs between ASCII bytes) or Windows-1252."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ["utf-16"]
    elif len(raw) >= 4 and raw[1:20:2].count(0) > 5 and raw[0:20:2].count(0) == 0:
        encodings = ["utf-16-le"]
    elif len(raw) >= 4 and raw[0:20:2].count(0) > 5 and raw[1:20:2].count(0) == 0:
        encodings = ["utf-16-be"]
    else:
        encodings = ["utf-8-sig", "cp1252"]
    for enc in encodings:
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise DataError(f"{path}: not a text file in UTF-8, UTF-16 or Windows-1252 encoding")
    if "\x00" in text:
        raise DataError(f"{path}: not a text table (binary content); use .xlsx or .sav for those formats")
    return text.lstrip("\ufeff")


def _delimiter_hint(fields: Sequence[str], sep: str) -> str:
    """A hint, for a line that does not fit the header, that it holds another delimiter."""
    joined = sep.join(fields)
    for other, name in ((";", "semicolons"), ("\t", "tabs"), (",", "commas")):
        if other != sep and joined.count(other) >= 1:
            return (
                f"; the line holds {joined.count(other)} {name}: is the file {name[:-1]}-separated? "
                f"(save it {'with commas as .csv' if other != ',' else 'as .csv'}, or tab-separated as .tsv)"
            )
    return ""


def _is_qualtrics(body: list[list[str]]) -> bool:
    if len(body) < 2:
        return False
    return any(c.strip().startswith("{") and "ImportId" in c for c in body[1])


def _name_unnamed(header: Sequence[str]) -> list[str]:
    """Unnamed columns (e.g. trailing empty spreadsheet columns) are kept as ``unnamed_<k>``
    (``k``: 1-based position); they cannot be items."""
    return [h if str(h).strip() else f"unnamed_{k}" for k, h in enumerate(header, start=1)]


def _check_header(path: Path, header: Sequence[str]) -> None:
    """Duplicate column names are errors naming them."""
    seen: dict[str, int] = {}
    dups = []
    for h in header:
        h = str(h)
        seen[h] = seen.get(h, 0) + 1
        if seen[h] == 2:
            dups.append(h)
    if dups:
        raise DataError(
            f"{path}: duplicate column name(s) {', '.join(brief(d) for d in dups[:_SHOW])}: each item "
            "must appear once (rename or delete the copies)"
        )


def _read_sav(path: Path) -> tuple[pd.DataFrame, dict, dict, dict[str, np.ndarray]]:
    import pyreadstat

    try:
        frame, meta = pyreadstat.read_sav(str(path), user_missing=True, apply_value_formats=False)
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except Exception as exc:
        raise DataError(f"{path}: cannot read as an SPSS .sav file ({exc})") from None
    var_labels = {k: v for k, v in zip(meta.column_names, meta.column_labels or []) if v}
    value_labels = {k: dict(v) for k, v in (meta.variable_value_labels or {}).items()}
    # user-missing values (discrete values and ranges declared in SPSS)
    user_missing: dict[str, np.ndarray] = {}
    for col in frame.columns:
        vals = meta.missing_user_values.get(col, []) if meta.missing_user_values else []
        ranges = meta.missing_ranges.get(col, []) if meta.missing_ranges else []
        if not vals and not ranges:
            continue
        x = pd.to_numeric(frame[col], errors="coerce")
        mask = np.array(x.isin([v for v in vals if isinstance(v, (int, float))]), dtype=bool)
        for r in ranges:
            lo, hi = cast(dict, r).get("lo"), cast(dict, r).get("hi")  # pyreadstat: {"lo": ..., "hi": ...}
            if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
                mask |= ((x >= lo) & (x <= hi)).to_numpy()
        if mask.any():
            user_missing[col] = mask
    return frame, var_labels, value_labels, user_missing


def _read_xlsx(path: Path, sheet: str | int | None) -> pd.DataFrame:
    try:
        frame = pd.read_excel(
            path, sheet_name=0 if sheet is None else sheet, header=None, dtype=object, engine="openpyxl"
        )
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from None
    except Exception as exc:
        raise DataError(f"{path}: cannot read as an Excel .xlsx workbook ({exc})") from None
    _refuse_uncomputed_formulas(path, sheet)
    frame = frame.dropna(how="all")
    if frame.empty:
        raise DataError(f"{path}: the sheet is empty")
    header = ["" if pd.isna(h) else str(h).strip() for h in frame.iloc[0].tolist()]
    body = frame.iloc[1:]
    body.columns = range(len(header))
    out = pd.DataFrame({i: body[i].to_numpy() for i in range(len(header))})
    out.columns = _name_unnamed(header)
    out.attrs["_first_line"] = int(frame.index[0]) + 2  # spreadsheet row of the first data row
    out.attrs["_rows"] = [int(i) + 1 for i in body.index]
    return out


def _refuse_uncomputed_formulas(path: Path, sheet: str | int | None) -> None:
    """A formula cell without a saved result would read as an empty (missing) answer: refuse it.

    Workbooks written by programs that do not compute formulas (scripts, some exports)
    store the formula only; spreadsheets store its last result too, which is what is read.
    """
    import openpyxl

    try:  # pandas has just read the workbook with openpyxl, so this opens; a failure is not passed over
        wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    except Exception as exc:
        raise DataError(f"{path}: cannot check the workbook for formula cells ({type(exc).__name__}: {exc})") from None
    try:
        ws = wb.worksheets[sheet] if isinstance(sheet, int) else (wb[sheet] if sheet else wb.worksheets[0])
        formulas = [(c.row, c.column) for row in ws.iter_rows() for c in row if getattr(c, "data_type", None) == "f"]
    finally:
        wb.close()
    if not formulas:
        return
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        ws = wb.worksheets[sheet] if isinstance(sheet, int) else (wb[sheet] if sheet else wb.worksheets[0])
        values = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row if hasattr(c, "column")}
        header = {c.column: c.value for c in next(ws.iter_rows(min_row=1, max_row=1), ()) if hasattr(c, "column")}
    finally:
        wb.close()
    empty = [(r, c) for r, c in formulas if values.get((r, c)) is None]
    if empty:
        from openpyxl.utils import get_column_letter

        shown = ", ".join(f"{get_column_letter(c)}{r} (column {brief(header.get(c))})" for r, c in empty[:_SHOW])
        raise DataError(
            f"{path}: {len(empty)} formula cell(s) without a saved value: {shown}"
            + (" ..." if len(empty) > _SHOW else "")
            + "; they would read as missing answers. Open the file in a spreadsheet and save it (which "
            "stores the results), or export the sheet as .csv"
        )


# ---------------------------------------------------------------------------- main entry
def read_responses(
    path: str | Path,
    pool: ItemPool | None = None,
    *,
    items: Sequence[str] | None = None,
    missing: str | float | Iterable[float] | None = None,
    invalid: str = "error",
    sheet: str | int | None = None,
    scale: tuple[int, int] | None = None,
    items_from: str | None = None,
) -> pd.DataFrame:
    """Read a survey export and check every item cell.

    Parameters
    ----------
    path : str or Path
        ``.csv``, ``.tsv``/``.tab``/``.txt``, ``.xlsx`` or ``.sav``; Qualtrics CSV exports
        are detected by their extra header rows.
    pool : ItemPool, optional
        The item columns are the pool's items (and its attention checks, when present),
        checked against the pool's response scale.
    items : list of str, optional
        Item columns when there is no pool (default: every column whose cells are all
        numeric or empty). Checked against ``scale`` when given.
    missing : "-99,999", number or list of numbers, optional
        Codes that mean "no answer" in the item columns; counted per code and item.
    invalid : {"error", "missing"}
        A non-numeric cell, a value off the response scale or a non-integer answer stops
        the reading with an error naming the column, row(s) and value(s) ("error"), or is
        set to missing, warned about and listed in the report ("missing").
    sheet : str or int, optional
        Worksheet of an Excel file.
    scale : (min, max), optional
        Response scale for ``items`` without a pool.
    items_from : str, optional
        Where ``items`` come from, for messages (e.g. ``"the model's"``).

    Returns
    -------
    DataFrame
        Item columns as float (``NaN`` = missing), other columns as text (numbers where
        every cell is numeric); index ``0..n-1``. ``attrs``: ``read_report``
        (:class:`ReadReport`), ``variable_labels``, ``value_labels``, ``format``.
        Reverse-keyed items are *not* reversed here (:func:`allyscale.reverse_score` does).

    Raises
    ------
    DataError
        Unreadable, empty or unknown file; duplicate columns; items missing from the file;
        invalid cells (with ``invalid="error"``); an item with no answer at all.
    """
    if invalid not in ("error", "missing"):
        raise DataError(f"invalid={invalid!r}: use 'error' or 'missing'")
    path = Path(path)
    suffix = path.suffix.lower()
    codes = parse_missing_codes(missing)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a data file")
    var_labels: dict[str, str] = {}
    value_labels: dict[str, dict] = {}
    user_missing: dict[str, np.ndarray] = {}
    header_dropped = 0
    line_of = None  # data row (0-based) -> line/row of the file
    if suffix in (".csv", ".tsv", ".tab", ".txt"):
        sep = "," if suffix == ".csv" else "\t"
        header, body, lines = _read_text_table(path, sep)
        header = _name_unnamed(header)
        _check_header(path, header)
        fmt = "csv" if sep == "," else "tsv"
        if _is_qualtrics(body):
            fmt = "qualtrics"
            var_labels = {h: t.strip() for h, t in zip(header, body[0]) if t.strip() and t.strip() != h}
            body, lines = body[2:], lines[2:]
            header_dropped = 2
        frame = pd.DataFrame(body, columns=header, dtype=object) if body else pd.DataFrame(columns=header)
        line_of = lambda i: f"line {lines[i]}"
    elif suffix == ".xlsx":
        frame = _read_xlsx(path, sheet)
        _check_header(path, list(frame.columns))
        rows = frame.attrs.pop("_rows")
        frame.attrs.pop("_first_line", None)
        fmt = "xlsx"
        line_of = lambda i: f"sheet row {rows[i]}"
    elif suffix == ".sav":
        frame, var_labels, value_labels, user_missing = _read_sav(path)
        fmt = "sav"
        line_of = lambda i: f"case {i + 1}"
    elif suffix in (".xls",):
        raise DataError(f"{path}: the old Excel .xls format is not supported; save the sheet as .xlsx or .csv")
    else:
        raise DataError(f"{path}: unknown file type {suffix or '(no suffix)'!r}; use .csv, .tsv, .xlsx or .sav")
    frame = frame.reset_index(drop=True)
    if len(frame) == 0:
        raise DataError(f"{path}: no data rows (only a header)")
    # ---- which columns are items
    lo = hi = None
    if pool is not None:
        wanted = list(pool.item_ids)
        lo, hi = pool.scale.min, pool.scale.max
        checks = [c.id for c in pool.attention_checks if c.id in frame.columns]
    elif items is not None:
        wanted = list(items)
        checks = []
        if scale is not None:
            lo, hi = scale
    else:
        wanted = [c for c in frame.columns if c and c not in QUALTRICS_METADATA and _numeric_column(frame[c], codes)]
        checks = []
        if scale is not None:
            lo, hi = scale
    absent = [i for i in wanted if i not in frame.columns]
    if absent:
        what = "the pool's" if pool is not None else (items_from or "the requested")
        raise DataError(
            f"{path}: {len(absent)} of {what} items are not columns of the file: "
            f"{', '.join(absent[:20])}"
            + (f" (and {len(absent) - 20} more)" if len(absent) > 20 else "")
            + f"; the file has {len(frame.columns)} columns"
        )
    if not wanted:
        raise DataError(f"{path}: no item columns (no column holds only numbers)")
    report = ReadReport(
        str(path),
        fmt,
        n_rows=len(frame),
        n_items=len(wanted),
        items=list(wanted),
        header_rows_dropped=header_dropped,
        missing_codes=codes,
        variable_labels=var_labels,
        value_labels=value_labels,
    )
    out = frame.copy()
    out.attrs = {}
    problems: list[dict[str, Any]] = []
    for col in wanted + checks:
        raw = frame[col]
        values, blank, bad = _to_numbers(raw)
        if col in user_missing:
            um = user_missing[col] & ~np.isnan(values)
            if um.any():
                report.user_missing[col] = int(um.sum())
                values[um] = np.nan
        if blank.any():
            report.blank_cells[col] = int(blank.sum())
        for code in codes:
            hit = values == code
            if hit.any():
                report.code_counts.setdefault(code, {})[col] = int(hit.sum())
                values[hit] = np.nan
        reasons = {}
        for i in np.flatnonzero(bad):
            reasons[i] = ("not a number", raw.iloc[i])
        for i in np.flatnonzero(~np.isfinite(values) & ~np.isnan(values)):
            reasons[i] = ("not a finite number", raw.iloc[i])
        if lo is None:
            for i in np.flatnonzero(np.isfinite(values) & (np.abs(values) > MAX_ANSWER)):
                reasons[i] = (f"too large to be an answer (|value| > {MAX_ANSWER:g})", raw.iloc[i])
        if lo is not None:
            ok = ~np.isnan(values)
            off = ok & ((values < lo) | (values > hi))
            frac = ok & ~off & (values != np.round(values))
            for i in np.flatnonzero(off):
                reasons[i] = (f"outside the response scale {lo}-{hi}", raw.iloc[i])
            for i in np.flatnonzero(frac):
                reasons[i] = (f"not a point of the response scale {lo}-{hi}", raw.iloc[i])
        for i in sorted(reasons):
            reason, value = reasons[i]
            problems.append(
                {"column": col, "row": int(i) + 1, "line": line_of(int(i)), "value": _show(value), "reason": reason}
            )
            values[i] = np.nan
        out[col] = values
    if problems:
        if invalid == "error":
            raise DataError(_invalid_message(path, problems))
        report.invalid = problems
        msg = (
            f"{path}: {len(problems)} invalid cell(s) set to missing (first: column "
            f"{brief(problems[0]['column'])}, row {problems[0]['row']} [{problems[0]['line']}], value "
            f"{brief(problems[0]['value'])})"
        )
        report.diagnostics.setdefault("warnings", []).append(msg)
        warnings.warn(msg, DataWarning, stacklevel=2)
    empty = [c for c in wanted if out[c].isna().all()]
    if empty:
        raise DataError(f"{path}: item column(s) with no answer at all: {', '.join(empty[:20])}")
    for col in out.columns:
        if col in wanted or col in checks:
            continue
        conv = pd.to_numeric(out[col], errors="coerce")
        if conv.notna().sum() == out[col].map(lambda v: not _blank(v)).sum():
            out[col] = conv
    out.attrs = {
        "read_report": report,
        "variable_labels": var_labels,
        "value_labels": value_labels,
        "format": fmt,
        "source": str(path),
    }
    return out


def _blank(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and np.isnan(v):
        return True
    return isinstance(v, str) and v.strip() in _NA_STRINGS


def _show(v: Any) -> Any:
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    return v if not isinstance(v, str) else v.strip()


def _to_numbers(raw: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Float values, blank mask and not-a-number mask of one column."""
    if pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw):
        values = raw.to_numpy(dtype=float, na_value=np.nan).copy()
        return values, np.isnan(values), np.zeros(len(raw), dtype=bool)
    objs = raw.tolist()
    blank = np.array([_blank(v) for v in objs], dtype=bool)
    conv = pd.to_numeric(
        pd.Series([None if b else (v.strip() if isinstance(v, str) else v) for v, b in zip(objs, blank)], dtype=object),
        errors="coerce",
    )
    values = conv.to_numpy(dtype=float, na_value=np.nan).copy()
    bad = np.isnan(values) & ~blank
    return values, blank, bad


def _numeric_column(col: pd.Series, codes: list[float]) -> bool:
    values, blank, bad = _to_numbers(col)
    return not bad.any() and not blank.all()


def _invalid_message(path: Path, problems: list[dict[str, Any]]) -> str:
    by_col: dict[str, list[dict]] = {}
    for p in problems:
        by_col.setdefault(p["column"], []).append(p)
    parts = []
    for col, ps in list(by_col.items())[:_SHOW]:
        shown = ", ".join(f"row {p['row']} [{p['line']}] = {brief(p['value'])}" for p in ps[:_SHOW])
        more = f" and {len(ps) - _SHOW} more" if len(ps) > _SHOW else ""
        parts.append(f"column {brief(col)}: {ps[0]['reason']}: {shown}{more}")
    more_cols = f"; and {len(by_col) - _SHOW} more column(s)" if len(by_col) > _SHOW else ""
    return (
        f"{path}: {len(problems)} invalid cell(s) in item columns — "
        + "; ".join(parts)
        + more_cols
        + " (fix the file, declare the code with --missing, or use --invalid missing to treat them as missing)"
    )


def labels_json(frame: pd.DataFrame) -> str:
    """The variable and value labels a reader kept, as JSON (for a report's appendix)."""
    return json.dumps(
        {
            "variable_labels": frame.attrs.get("variable_labels", {}),
            "value_labels": {
                k: {str(a): b for a, b in v.items()} for k, v in frame.attrs.get("value_labels", {}).items()
            },
        },
        indent=2,
    )


def linear_dependencies(frame: pd.DataFrame, items: Sequence[str], *, tol: float = 1e-9) -> list[str]:
    """Describe item columns that are copies or exact linear combinations of others.

    Such items make the covariance (and correlation) matrix singular, so no factor
    analysis can use them. Computed on the complete cases, when there are more of them
    than items (with fewer the matrix is singular whatever the items, and the analyses
    report too few cases); constant items are left to the analyses (which name them).

    Returns
    -------
    list of str
        One sentence per problem, naming the items (empty when there is none).
    """
    cols = [c for c in items if c in frame.columns]
    x = frame[cols].apply(pd.to_numeric, errors="coerce").dropna()
    if len(x) <= len(cols):
        return []  # with no more cases than items the matrix is singular anyway: the analyses say so
    sd = x.std(ddof=0)
    cols = [c for c in cols if sd[c] > 0]
    x = x[cols]
    out: list[str] = []
    seen: dict[bytes, str] = {}
    dup_of: dict[str, str] = {}
    for c in cols:
        key = np.ascontiguousarray(x[c].to_numpy(float)).tobytes()
        if key in seen:
            dup_of[c] = seen[key]
        else:
            seen[key] = c
    groups: dict[str, list[str]] = {}
    for c, first in dup_of.items():
        groups.setdefault(first, [first]).append(c)
    for g in groups.values():
        out.append(f"items {', '.join(g)} are identical in all {len(x)} complete rows (a copied column?)")
    rest = [c for c in cols if c not in dup_of]
    if len(rest) >= 2 and len(x) > len(rest):
        z = ((x[rest] - x[rest].mean()) / x[rest].std(ddof=0)).to_numpy(float)
        vals, vecs = np.linalg.eigh(z.T @ z / len(z))
        for k in np.flatnonzero(vals < tol * max(vals.max(), 1.0)):
            v = vecs[:, k]
            involved = [rest[j] for j in np.flatnonzero(np.abs(v) > 0.05 * np.abs(v).max())]
            out.append(
                f"items {', '.join(involved)} are linearly dependent (one is an exact weighted sum of the "
                "others in every complete row)"
            )
    return out
