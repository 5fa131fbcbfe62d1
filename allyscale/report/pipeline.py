"""``allyscale.validate``: the analyses a scale-development article reports, in one call.

The pipeline only orchestrates: each section calls allyscale's public functions and
turns their results into tables; nothing is computed in templates or in the CLI. A
section whose analysis fails is kept in the report with its error (status ``failed``),
never dropped; warnings raised by an analysis (non-convergence, Heywood cases,
smoothing) become the section's flags.
"""

from __future__ import annotations

import platform
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from allyscale import __version__
from allyscale.errors import AllyscaleError, AllyscaleWarning, DataError, SpecificationError
from allyscale.pool import ItemPool
from allyscale.report.bundle import ValidationReport
from allyscale.report.document import Section, Table
from allyscale.syntax import model_variables, parse_model

__all__ = ["validate", "Context"]

ORDINAL_MAX_CATEGORIES = 10


@dataclass
class Context:
    """What every section sees: the data, the items, the models and the options."""

    data: pd.DataFrame
    items: list[str]
    pool: ItemPool | None
    models: dict[str, str]
    main_model: str
    estimator: str
    ordinal: bool
    group: str | None
    split_half: bool
    seed: int
    source: str
    external: list[str] = field(default_factory=list)
    results: dict = field(default_factory=dict)

    @property
    def scored(self) -> pd.DataFrame:
        """Item responses with reverse-keyed items reversed (when a pool says which)."""
        if "scored" not in self.results:
            from allyscale.scoring import reverse_score

            items = self.data[self.items].astype(float)
            self.results["scored"] = reverse_score(items, self.pool) if self.pool is not None else items
        return self.results["scored"]

    @property
    def factors(self) -> dict[str, list[str]]:
        """Factor → items of the main model (first-order factors measured by items)."""
        stmts = parse_model(self.models[self.main_model])
        _, latent = model_variables(stmts)
        out: dict[str, list[str]] = {}
        for s in stmts:
            if s.op == "=~" and s.rhs not in latent:
                out.setdefault(s.lhs, []).append(s.rhs)
        return out


def _is_ordinal(values: pd.DataFrame) -> bool:
    arr = values.to_numpy(dtype=float)
    arr = arr[~np.isnan(arr)]
    return bool(arr.size) and np.all(arr == np.round(arr)) and len(np.unique(arr)) <= ORDINAL_MAX_CATEGORIES


def _section(section_id: str, title: str, build: Callable[[Context, Section], None], ctx: Context) -> Section:
    """Run one section builder, turning warnings into flags and errors into a failed section."""
    sec = Section(section_id, title)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllyscaleWarning)
        try:
            build(ctx, sec)
        except AllyscaleError as exc:
            sec.fail(f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - reported in the section and by the CLI's exit code
            sec.fail(f"internal error in this analysis ({type(exc).__name__}: {exc})")
    for w in caught:
        if issubclass(w.category, AllyscaleWarning):
            msg = f"{w.category.__name__}: {w.message}"
            if msg not in sec.flags:
                sec.flag(msg)
    return sec


# --------------------------------------------------------------------------- sections
def _items_section(ctx: Context, sec: Section) -> None:
    from allyscale.descriptives import describe_items

    table = describe_items(ctx.data, ctx.pool, items=ctx.items)
    sec.paragraphs.append(
        f"{len(ctx.items)} items. Means, standard deviations, skew and excess kurtosis (psych's type 3), the "
        "proportions at the lowest (floor) and highest (ceiling) response, and the corrected item-total "
        "correlation with the other items of the same factor"
        + (" after reverse-scoring reverse-keyed items." if ctx.pool is not None and ctx.pool.reverse_items else ".")
    )
    sec.tables.append(Table("item_descriptives", "Item descriptive statistics", table,
                            note="r_drop: corrected item-total correlation within the item's factor."))
    low = table.index[table["r_drop"] < 0.30].tolist()
    if low:
        sec.flag(f"{len(low)} item(s) with corrected item-total r < .30: {', '.join(low)}")
    skewed = table.index[table["skew"].abs() > 2].tolist()
    if skewed:
        sec.flag(f"{len(skewed)} item(s) with |skew| > 2: {', '.join(skewed)}")
    sec.numbers["n_low_r_drop"] = len(low)


def _item_list_section(ctx: Context, sec: Section) -> None:
    if ctx.pool is None:
        labels = ctx.data.attrs.get("labels") or {}
        rows = [{"item": i, "factor": next((f for f, its in ctx.factors.items() if i in its), ""),
                 "text": labels.get(i, "")} for i in ctx.items]
        sec.paragraphs.append("Items as named in the data file; texts are the file's question labels where present.")
    else:
        rows = [{"item": it.id, "factor": it.factor, "facet": it.facet or "", "reverse": it.reverse,
                 "text": it.text, "informant text": it.informant_text or ""} for it in ctx.pool.items
                if it.id in ctx.items]
        sec.paragraphs.append(f"Item pool: {ctx.pool.name}"
                              + (f" (version {ctx.pool.version})" if ctx.pool.version else "") + ".")
    table = pd.DataFrame(rows).set_index("item")
    sec.tables.append(Table("items", "Items and their wording", table))


VALIDATE_SECTIONS: list[tuple[str, str, Callable[[Context, Section], None]]] = [
    ("items", "Item analysis", _items_section),
    ("item-list", "Item wording", _item_list_section),
]


# ------------------------------------------------------------------------------ entry
def validate(
    data: pd.DataFrame,
    *,
    pool: ItemPool | None = None,
    model: str | None = None,
    group: str | None = None,
    estimator: str | None = None,
    split_half: bool = False,
    seed: int = 1,
    source: str = "data",
    external: list[str] | None = None,
) -> ValidationReport:
    """Run the validation pipeline of a scale-development article.

    Parameters
    ----------
    data : DataFrame
        Responses as answered (reverse-keyed items not yet reversed); extra columns
        (group, external scores) allowed.
    pool : ItemPool, optional
        The item pool: its five competing structures are compared and its wording is
        listed. Give ``pool`` or ``model`` (or both: the model then is the main model).
    model : str, optional
        lavaan syntax of the hypothesised model.
    group : str, optional
        Column defining groups for measurement invariance.
    estimator : {"ML", "MLR", "WLSMV"}, optional
        Default: WLSMV when every item has at most 10 integer categories, else ML.
    split_half : bool
        Run the EFA on one random half and the CFA on the other (seeded).
    seed : int
        Seed for parallel analysis and the split.
    source : str
        Name of the data source, for the report.
    external : list of str, optional
        Columns with external scores for convergent/discriminant validity.

    Returns
    -------
    ValidationReport
        ``.save(out_dir)`` writes report.html, results.json and tables/*.csv.

    Raises
    ------
    SpecificationError
        Neither pool nor model, an unknown estimator, or a group column absent.
    DataError
        Items of the pool or model missing from the data.
    """
    if pool is None and model is None:
        raise SpecificationError("validate needs a pool or a model")
    if pool is not None:
        models = pool.all_model_syntax()
        main = "correlated"
        if model is not None:
            models = {"hypothesised": model, **models}
            main = "hypothesised"
    else:
        models = {"hypothesised": model}
        main = "hypothesised"
    items: list[str] = []
    for syntax in models.values():
        ov, lv = model_variables(parse_model(syntax))
        items += [v for v in ov if v not in lv and v not in items]
    missing = [i for i in items if i not in data.columns]
    if missing:
        raise DataError(f"{source}: item(s) of the model missing from the data: {missing[:20]}")
    if group is not None and group not in data.columns:
        raise DataError(f"{source}: group column {group!r} is not in the data")
    for col in external or []:
        if col not in data.columns:
            raise DataError(f"{source}: external score column {col!r} is not in the data")
    ordinal = _is_ordinal(data[items])
    if estimator is None:
        estimator = "WLSMV" if ordinal else "ML"
    estimator = estimator.upper()
    if estimator not in ("ML", "MLR", "WLSMV"):
        raise SpecificationError(f"unknown estimator {estimator!r}; use ML, MLR or WLSMV")
    ctx = Context(data=data, items=items, pool=pool, models=models, main_model=main, estimator=estimator,
                  ordinal=ordinal, group=group, split_half=split_half, seed=seed, source=source,
                  external=list(external or []))
    sections = [_section(sid, title, build, ctx) for sid, title, build in VALIDATE_SECTIONS]
    scale = pool.name if pool is not None else "the hypothesised model"
    meta = {
        "source": source, "n": int(len(data)), "items": items, "estimator": estimator, "ordinal": ordinal,
        "group": group, "split_half": split_half, "seed": seed, "models": models, "main_model": main,
        "software": {"allyscale": __version__, "python": platform.python_version(), "numpy": np.__version__,
                     "pandas": pd.__version__},
    }
    return ValidationReport(sections, title=f"Psychometric validation of {scale}",
                            subtitle=f"Data: {source} (N = {len(data)}, {len(items)} items); estimator {estimator}",
                            meta=meta)
