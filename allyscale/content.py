"""Content validity before data: rating sheets for expert and community panels, and their indices.

A panel (for the allyship measure: people of color and allyship researchers) judges each
item before any respondent sees it. Two tasks are supported:

* **relevance**: each rater rates every item's relevance to its subcategory on a 4-point
  scale (1 not relevant ... 4 highly relevant; Lynn, 1986; Davis, 1992) and, optionally,
  whether it is essential (Lawshe's 1975 three-point rating: 1 not necessary, 2 useful but
  not essential, 3 essential);
* **sort**: each rater assigns every item (in a shuffled order, without its subcategory)
  to one of the pool's subcategories or to "none" (Anderson & Gerbing, 1991).

From the returned sheets :func:`content_validity` computes, per item, the I-CVI, the
modified kappa* (Polit, Beck & Owen, 2007), Lawshe's CVR with its exact critical value
(Ayre & Scally, 2014), Aiken's V with its score confidence interval (Aiken, 1985;
Penfield & Giacobbi, 2004), the proportion of substantive agreement and the substantive
validity coefficient with their binomial tests (Anderson & Gerbing, 1991; Howard &
Melloy, 2016); per scale S-CVI/Ave and S-CVI/UA (Polit & Beck, 2006); the confusion
matrix of intended and assigned subcategories; Fleiss' (1971) kappa and Krippendorff's
alpha for rater agreement; a keep / revise / drop decision per item by documented
cutoffs (:data:`DEFAULT_CUTOFFS`) and each subcategory's coverage after dropping.

References
----------
Aiken, L. R. (1985). Three coefficients for analyzing the reliability and validity of
ratings. Educational and Psychological Measurement, 45, 131-142.
Anderson, J. C., & Gerbing, D. W. (1991). Predicting the performance of measures in a
confirmatory factor analysis with a pretest assessment of their substantive validities.
Journal of Applied Psychology, 76, 732-740.
Ayre, C., & Scally, A. J. (2014). Critical values for Lawshe's content validity ratio:
Revisiting the original methods of calculation. Measurement and Evaluation in Counseling
and Development, 47, 79-86.
Cicchetti, D. V., & Sparrow, S. A. (1981). Developing criteria for establishing interrater
reliability of specific items. American Journal of Mental Deficiency, 86, 127-137.
Fleiss, J. L. (1971). Measuring nominal scale agreement among many raters. Psychological
Bulletin, 76, 378-382.
Fleiss, J. L., Nee, J. C. M., & Landis, J. R. (1979). Large sample variance of kappa in the
case of different sets of raters. Psychological Bulletin, 86, 974-977.
Howard, M. C., & Melloy, R. C. (2016). Evaluating item-sort task methods: The presentation
of a new statistical significance formula and methodological best practices. Journal of
Business and Psychology, 31, 173-186.
Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for
Communication, University of Pennsylvania.
Lawshe, C. H. (1975). A quantitative approach to content validity. Personnel Psychology,
28, 563-575.
Lynn, M. R. (1986). Determination and quantification of content validity. Nursing
Research, 35, 382-385.
Penfield, R. D., & Giacobbi, P. R. (2004). Applying a score confidence interval to Aiken's
item content-relevance index. Measurement in Physical Education and Exercise Science, 8,
213-225.
Polit, D. F., & Beck, C. T. (2006). The content validity index: Are you sure you know what's
being reported? Research in Nursing & Health, 29, 489-497.
Polit, D. F., Beck, C. T., & Owen, S. V. (2007). Is the CVI an acceptable indicator of content
validity? Appraisal and recommendations. Research in Nursing & Health, 30, 459-467.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import bdtrc, comb, ndtri
from scipy.stats import binom, norm

from allyscale import _caches
from allyscale.errors import DataError, PoolError, SpecificationError
from allyscale.pool import ItemPool
from allyscale.results import Result, Summary, jsonable

__all__ = [
    "TASKS",
    "RELEVANCE_SCALE",
    "ESSENTIAL_SCALE",
    "DEFAULT_CUTOFFS",
    "rating_sheet",
    "write_sheet",
    "read_ratings",
    "RatingSet",
    "content_validity",
    "ContentValidityResult",
    "i_cvi",
    "modified_kappa",
    "kappa_label",
    "cvr",
    "cvr_critical",
    "cvr_critical_table",
    "aiken_v",
    "aiken_v_pvalue",
    "substantive_validity",
    "fleiss_kappa",
    "krippendorff_alpha",
    "revised_pool_yaml",
]

TASKS = ("relevance", "sort")
#: Lynn's (1986) four-point relevance scale.
RELEVANCE_SCALE = {1: "not relevant", 2: "somewhat relevant", 3: "quite relevant", 4: "highly relevant"}
#: Lawshe's (1975) three-point rating.
ESSENTIAL_SCALE = {1: "not necessary", 2: "useful, but not essential", 3: "essential"}
NONE_CATEGORY = "none"

#: Cutoffs of the keep / revise / drop decision (see :func:`content_validity`).
DEFAULT_CUTOFFS: dict[str, float] = {
    "kappa_keep": 0.74,  # k* > .74 "excellent" -> keep (Polit, Beck & Owen, 2007; Cicchetti & Sparrow, 1981)
    "kappa_drop": 0.40,  # k* < .40 "poor" -> drop; in between "fair"/"good" -> revise
    "alpha": 0.05,  # CVR critical value and the sort-task binomial test, one-tailed
    "min_items": 3,  # a subcategory left with fewer items than this has a coverage gap
}

_SHEET_TEXT_COLUMNS = ("order", "subcategory_label", "self_text", "informant_text", "text", "comment", "factor")
_RATING_COLUMNS = ("relevance", "essential", "subcategory")


# =============================================================================== indices
def i_cvi(n_relevant: Any, n_raters: Any) -> np.ndarray:
    """Item-level content validity index: the proportion of raters giving a 3 or 4 (Lynn, 1986)."""
    a, n = np.asarray(n_relevant, dtype=float), np.asarray(n_raters, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, a / n, np.nan)


def modified_kappa(n_relevant: Any, n_raters: Any) -> np.ndarray:
    """Modified kappa* of an I-CVI, adjusted for chance agreement (Polit, Beck & Owen, 2007).

    ``pc = C(N, A) 0.5^N`` is the probability that ``A`` of ``N`` raters agree that the item
    is relevant by chance, and ``k* = (I-CVI - pc) / (1 - pc)``.
    """
    a, n = np.asarray(n_relevant, dtype=float), np.asarray(n_raters, dtype=float)
    pc = comb(n, a) * 0.5**n
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (i_cvi(a, n) - pc) / (1 - pc), np.nan)


def kappa_label(k: float) -> str:
    """Polit, Beck & Owen's (2007) evaluation of kappa*, after Cicchetti & Sparrow (1981)."""
    if not np.isfinite(k):
        return ""
    if k > 0.74:
        return "excellent"
    if k >= 0.60:
        return "good"
    if k >= 0.40:
        return "fair"
    return "poor"


def cvr(n_essential: Any, n_raters: Any) -> np.ndarray:
    """Lawshe's (1975) content validity ratio ``(ne - N/2) / (N/2)``."""
    ne, n = np.asarray(n_essential, dtype=float), np.asarray(n_raters, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, (ne - n / 2) / (n / 2), np.nan)


def _binom_sf(k: int, n: int, p: float) -> float:
    """P(X > k) for X ~ Binomial(n, p) (scipy.special.bdtrc; 1 for k < 0)."""
    return 1.0 if k < 0 else float(bdtrc(k, n, p))


@lru_cache(maxsize=256)  # registered in allyscale._caches as "cvr_critical" (below the function)
def cvr_critical(n_raters: int, alpha: float = 0.05) -> tuple[int, float]:
    """Exact critical number of "essential" ratings and critical CVR (Ayre & Scally, 2014).

    The smallest ``ne`` with a one-tailed exact binomial probability
    ``P(X >= ne | N, 1/2) < alpha``; the critical CVR is ``(ne - N/2) / (N/2)``. When even
    unanimity is not significant (``N < 5`` at ``alpha = .05``), ``ne`` is ``N + 1`` and
    the critical CVR is NaN: no panel of that size can show significant agreement.
    """
    n = int(n_raters)
    if n < 1:
        raise SpecificationError(f"a CVR critical value needs at least one rater, got {n}")
    for ne in range(n + 1):
        if _binom_sf(ne - 1, n, 0.5) < alpha:
            return ne, float((ne - n / 2) / (n / 2))
    return n + 1, float("nan")


_caches.register(
    "cvr_critical",
    "Lawshe CVR critical values (Ayre & Scally, 2014)",
    lambda: cvr_critical.cache_info().currsize,
    cvr_critical.cache_clear,
)


def cvr_critical_table(n_min: int = 5, n_max: int = 40, alpha: float = 0.05) -> pd.DataFrame:
    """Ayre & Scally's (2014) table: per panel size the exact ``ne`` and CVR critical and its probability."""
    rows = []
    for n in range(n_min, n_max + 1):
        ne, crit = cvr_critical(n, alpha)
        rows.append(
            {
                "N": n,
                "ne_critical": ne,
                "cvr_critical": crit,
                "p_exact": float(binom.sf(ne - 1, n, 0.5)) if ne <= n else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("N")


def aiken_v(ratings: Any, lo: int, hi: int, conf_level: float = 0.95) -> tuple[float, float, float]:
    """Aiken's (1985) V with the score confidence interval of Penfield & Giacobbi (2004).

    ``V = sum(r - lo) / (n k)`` with ``k = hi - lo``; the interval is Wilson's score interval
    for a proportion of ``n k`` trials::

        L, U = (2nkV + z^2 -/+ z sqrt(4nkV(1 - V) + z^2)) / (2(nk + z^2))

    Missing ratings (NaN) are left out. Returns ``(V, lower, upper)`` (NaN with no rating).
    """
    r = np.asarray(ratings, dtype=float)
    r = r[~np.isnan(r)]
    n, k = len(r), hi - lo
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    v = float((r - lo).sum() / (n * k))
    z = float(ndtri(1 - (1 - conf_level) / 2))
    nk = n * k
    root = z * math.sqrt(max(4 * nk * v * (1 - v) + z * z, 0.0))
    den = 2 * (nk + z * z)
    return v, (2 * nk * v + z * z - root) / den, (2 * nk * v + z * z + root) / den


def aiken_v_pvalue(ratings: Any, lo: int, hi: int) -> float:
    """Exact right-tail probability of Aiken's V under uniformly random ratings (Aiken, 1985).

    Each rating is uniform on ``lo..hi`` under the null; the sum ``S = sum(r - lo)`` has the
    ``n``-fold convolution of that distribution, and ``p = P(S >= s)``.
    """
    r = np.asarray(ratings, dtype=float)
    r = r[~np.isnan(r)]
    n, c = len(r), hi - lo + 1
    if n == 0:
        return float("nan")
    s = int(round((r - lo).sum()))
    dist = np.array([1.0])
    one = np.full(c, 1.0 / c)
    for _ in range(n):
        dist = np.convolve(dist, one)
    return float(dist[s:].sum())


def substantive_validity(
    assigned: Sequence[str], intended: str, n_choices: int, others: Iterable[str] = ()
) -> dict[str, Any]:
    """Anderson & Gerbing's (1991) psa and csv of one item from its sort-task assignments.

    ``psa = nc / N`` (the proportion of raters assigning the item to its intended construct);
    ``csv = (nc - no) / N`` with ``no`` the highest number of assignments to any *other*
    construct ("none" is not a construct and never counts as ``no``). Two one-tailed exact
    binomial tests of ``nc``: ``p_ag = P(X >= nc | N, 1/2)``, the test for two assignment
    choices that Anderson & Gerbing's critical values rest on, and ``p_hm = P(X >= nc | N,
    1/m)`` with ``m`` the number of choices offered (Howard & Melloy, 2016).
    """
    from collections import Counter

    values = [a for a in assigned if a is not None and not (isinstance(a, float) and math.isnan(a))]
    n = len(values)
    counts = Counter(values)
    nc = int(counts.get(intended, 0))
    other = {k: v for k, v in counts.items() if k not in (intended, NONE_CATEGORY)}
    no = max(other.values()) if other else 0
    # the most-chosen other construct; ties go to the first in sorted order, so the result is reproducible
    top_other = min(k for k, v in other.items() if v == no) if other and no > 0 else ""
    out = {
        "n_sorted": n,
        "nc": nc,
        "no": no,
        "most_other": top_other,
        "n_none": int(counts.get(NONE_CATEGORY, 0)),
        "psa": nc / n if n else float("nan"),
        "csv": (nc - no) / n if n else float("nan"),
        "p_ag": _binom_sf(nc - 1, n, 0.5) if n else float("nan"),
        "p_hm": _binom_sf(nc - 1, n, 1.0 / n_choices) if n else float("nan"),
    }
    return out


def fleiss_kappa(counts: Any) -> dict[str, float]:
    """Fleiss' (1971) kappa from a subjects x categories table of counts.

    Every subject must have the same number of ratings ``n`` (>= 2). Returns ``kappa``,
    its standard error under the null of chance agreement (Fleiss, Nee & Landis, 1979),
    ``z`` and the two-sided ``p`` as R's ``irr::kappam.fleiss`` reports them, ``p_o``
    (observed agreement) and ``p_e`` (chance agreement).
    """
    x = np.asarray(counts, dtype=float)
    if x.ndim != 2 or x.shape[0] < 1:
        raise SpecificationError("Fleiss' kappa needs a subjects x categories table of counts")
    n_i = x.sum(axis=1)
    if not np.all(n_i == n_i[0]) or n_i[0] < 2:
        raise SpecificationError("Fleiss' kappa needs the same number (>= 2) of ratings for every subject")
    n_sub, n = x.shape[0], n_i[0]
    p_j = x.sum(axis=0) / (n_sub * n)
    p_i = ((x * x).sum(axis=1) - n) / (n * (n - 1))
    p_o, p_e = float(p_i.mean()), float((p_j**2).sum())
    kappa = (p_o - p_e) / (1 - p_e) if p_e < 1 else float("nan")
    pq = p_j * (1 - p_j)
    s = pq.sum()
    se = math.sqrt(2 / (n_sub * n * (n - 1)) * (s**2 - (pq * (1 - 2 * p_j)).sum())) / s if s > 0 else float("nan")
    z = kappa / se if se and np.isfinite(se) and se > 0 else float("nan")
    return {
        "kappa": float(kappa),
        "se0": float(se),
        "z": float(z),
        "p": float(2 * norm.sf(abs(z))) if np.isfinite(z) else float("nan"),
        "p_o": p_o,
        "p_e": p_e,
        "subjects": int(n_sub),
        "raters": int(n),
    }


def krippendorff_alpha(units: Any, level: str = "nominal", values: Sequence[Any] | None = None) -> float:
    """Krippendorff's alpha for a units x raters table with missing values (Krippendorff, 2011).

    ``alpha = 1 - (n - 1) sum_ck o_ck d_ck / sum_ck n_c n_k d_ck`` from the coincidence
    matrix ``o`` of pairable values (units with fewer than two values are left out), with
    the nominal, ordinal, interval or ratio difference ``d``. ``values`` orders the
    categories for the ordinal metric (default: sorted).

    Parameters
    ----------
    units : 2-D array-like (units x raters), None/NaN for missing.
    level : {"nominal", "ordinal", "interval", "ratio"}
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise SpecificationError(f"unknown level {level!r}; use nominal, ordinal, interval or ratio")
    frame = pd.DataFrame(units)
    cells = [
        [v for v in row if v is not None and not (isinstance(v, float) and math.isnan(v))]
        for row in frame.itertuples(index=False)
    ]
    cells = [c for c in cells if len(c) >= 2]
    if not cells:
        return float("nan")
    cats = list(values) if values is not None else sorted({v for c in cells for v in c})
    index = {v: i for i, v in enumerate(cats)}
    m = len(cats)
    o = np.zeros((m, m))
    for c in cells:
        idx = [index[v] for v in c]
        cnt = np.bincount(idx, minlength=m).astype(float)
        mu = len(c)
        o += (np.outer(cnt, cnt) - np.diag(cnt)) / (mu - 1)
    n_c = o.sum(axis=1)
    n = n_c.sum()
    if level == "nominal":
        d = 1.0 - np.eye(m)
    elif level == "ordinal":
        cum = np.cumsum(n_c)
        d = np.zeros((m, m))
        for a in range(m):
            for b in range(m):
                lo, hi = min(a, b), max(a, b)
                d[a, b] = (cum[hi] - (cum[lo - 1] if lo > 0 else 0.0) - (n_c[a] + n_c[b]) / 2) ** 2
    else:
        v = np.asarray(cats, dtype=float)
        diff = v[:, None] - v[None, :]
        d = diff**2 if level == "interval" else (diff / (v[:, None] + v[None, :])) ** 2
        d = np.nan_to_num(d)
    d_o = (o * d).sum()
    d_e = (np.outer(n_c, n_c) * d).sum()
    if d_e == 0:
        return float("nan")
    return float(1 - (n - 1) * d_o / d_e)


# =============================================================================== sheets
def _facet_choices(pool: ItemPool) -> list[tuple[str, str]]:
    """(id, label) of every assignable category: the pool's facets, else its factors."""
    if pool.facets:
        return [(fc.id, fc.label) for fc in pool.facets]
    return [(f.id, f.label) for f in pool.factors]


def _intended(pool: ItemPool) -> dict[str, str]:
    return {it.id: (it.facet if pool.facets else it.factor) for it in pool.items}


def sheet_instructions(pool: ItemPool, task: str, form: str) -> list[str]:
    """The instructions printed on a rating sheet."""
    if task not in TASKS:
        raise SpecificationError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    lines = [
        f"Content review of {pool.name}" + (f" (version {pool.version})" if pool.version else "") + ".",
        "Write your rater id (a name or code, the same on every row) in the 'rater' column. "
        "Do not change the 'item' column or the order of the rows.",
    ]
    which = {
        "self": "the self-report wording",
        "informant": "the informant wording",
        "both": "the self-report and the informant wording",
        "each": "one wording (the 'form' column says which: self-report or informant)",
    }[form]
    if task == "relevance":
        unit = "subcategory" if pool.facets else "factor"
        lines += [
            f"Each row shows {which} of one item and the {unit} it was written for.",
            "relevance: how relevant is the item to its "
            + unit
            + "? "
            + "; ".join(f"{k} = {v}" for k, v in RELEVANCE_SCALE.items())
            + " (Lynn, 1986).",
            "essential (optional): is the skill or knowledge the item measures "
            + "; ".join(f"{k} = {v}" for k, v in ESSENTIAL_SCALE.items())
            + " (Lawshe, 1975).",
            "comment (optional): how would you reword the item?",
        ]
    else:
        lines += [
            f"Each row shows {which} of one item, in a random order. Read the definitions on the "
            "'Subcategories' list and write in the 'subcategory' column the one subcategory the item "
            "belongs to (its id or its name), or 'none' when it fits none of them.",
            "comment (optional): why, or how would you reword the item?",
        ]
    return lines


def rating_sheet(
    pool: ItemPool, task: str = "relevance", *, form: str = "self", seed: int = 1, rater: str | None = None
) -> pd.DataFrame:
    """The rating sheet of a pool: one row per item, one column per rating.

    Parameters
    ----------
    pool : ItemPool
    task : {"relevance", "sort"}
        ``relevance``: columns ``relevance`` (1-4) and ``essential`` (1-3), with the item's
        subcategory shown, items in pool order. ``sort``: column ``subcategory``, items in
        an order shuffled with ``seed`` and without their subcategory.
    form : {"self", "informant", "both", "each"}
        Which wording(s) to show: ``both`` puts the two wordings of an item in one row
        (one rating for the item); ``each`` gives every wording its own row, with a
        ``form`` column, so the two forms are rated, and analysed, separately.
    seed : int
        Seed of the shuffled order of the sort task.
    rater : str, optional
        Pre-fill the ``rater`` column.

    Returns
    -------
    DataFrame
        Columns ``rater, item, order, [factor, subcategory_label], self_text and/or
        informant_text, <rating columns>, comment``.
    """
    if task not in TASKS:
        raise SpecificationError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    if form not in ("self", "informant", "both", "each"):
        raise SpecificationError(f"unknown form {form!r}; use self, informant, both or each")
    items = list(pool.items)
    if form in ("informant", "both", "each"):
        missing = [it.id for it in items if not it.informant_text]
        if missing:
            raise PoolError(f"{pool.path or pool.name}: item(s) without informant wording: {missing[:10]}")
    units = [(it, f) for it in items for f in (("self", "informant") if form == "each" else (form,))]
    if task == "sort":
        order = np.random.default_rng(seed).permutation(len(units))
        units = [units[i] for i in order]
    labels = dict(_facet_choices(pool))
    factor_labels = {f.id: f.label for f in pool.factors}
    rows = []
    for k, (it, f) in enumerate(units, 1):
        row: dict[str, Any] = {"rater": rater or "", "item": it.id, "order": k}
        if form == "each":
            row["form"] = f
        if task == "relevance":
            row["factor"] = factor_labels[it.factor]
            row["subcategory_label"] = labels[_intended(pool)[it.id]]
        if form == "each":
            row["text"] = it.text if f == "self" else it.informant_text
        if form in ("self", "both"):
            row["self_text"] = it.text
        if form in ("informant", "both"):
            row["informant_text"] = it.informant_text
        if task == "relevance":
            row["relevance"] = ""
            row["essential"] = ""
        else:
            row["subcategory"] = ""
        row["comment"] = ""
        rows.append(row)
    return pd.DataFrame(rows)


_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def _safe_cell(value: Any) -> Any:
    """One spreadsheet-safe cell, by the shared rule of :func:`allyscale._files.spreadsheet_safe`."""
    from allyscale._files import spreadsheet_safe

    return spreadsheet_safe(pd.DataFrame({"v": [value]}))["v"].iloc[0] if isinstance(value, str) else value


def write_sheet(
    path: str | Path,
    pool: ItemPool,
    task: str = "relevance",
    *,
    form: str = "self",
    seed: int = 1,
    rater: str | None = None,
    inputs: Sequence[str | Path] = (),
) -> Path:
    """Write a rating sheet as ``.xlsx`` (sheets Ratings, Instructions, Subcategories) or ``.csv``.

    The CSV starts with the instructions as ``#`` comment lines, then the ratings table,
    every text cell made spreadsheet-safe. The Excel workbook offers drop-down lists for
    the rating columns. Written atomically; never over an input file.
    """
    from allyscale._files import atomic_write, check_output_path, spreadsheet_safe

    path = check_output_path(path, inputs)
    suffix = path.suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise DataError(f"{path}: a rating sheet is written as .xlsx or .csv, not {suffix or 'no extension'!r}")
    sheet = spreadsheet_safe(rating_sheet(pool, task, form=form, seed=seed, rater=rater))
    instructions = sheet_instructions(pool, task, form)
    choices = _facet_choices(pool)
    descriptions = (
        {fc.id: fc.description for fc in pool.facets} if pool.facets else {f.id: f.description for f in pool.factors}
    )
    if suffix == ".csv":
        buf = io.StringIO()
        for line in instructions:
            buf.write("# " + line.replace("\n", " ") + "\n")
        if task == "sort":
            buf.write(
                "# Subcategories: "
                + "; ".join(f"{i} = {lab}" for i, lab in choices)
                + f"; {NONE_CATEGORY} = fits none of them\n"
            )
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(sheet.columns)
        for row in sheet.itertuples(index=False):
            writer.writerow(list(row))
        text = buf.getvalue()
        atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))
        return path

    def write_xlsx(target: Path) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font
        from openpyxl.worksheet.datavalidation import DataValidation

        wb = Workbook()
        ws = wb.active
        ws.title = "Ratings"
        ws.append(list(sheet.columns))
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in sheet.itertuples(index=False):
            ws.append(list(row))
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text, never a formula
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        widths = {
            "rater": 12,
            "item": 12,
            "order": 7,
            "form": 10,
            "text": 60,
            "factor": 22,
            "subcategory_label": 26,
            "self_text": 60,
            "informant_text": 60,
            "relevance": 11,
            "essential": 11,
            "subcategory": 26,
            "comment": 40,
        }
        from openpyxl.utils import get_column_letter

        cols = list(sheet.columns)
        for j, name in enumerate(cols, 1):
            ws.column_dimensions[get_column_letter(j)].width = widths.get(name, 14)
        last = len(sheet) + 1
        ws.freeze_panes = "C2"
        sub = wb.create_sheet("Subcategories")
        sub.append(["id", "label", "definition"])
        for cid, lab in choices:
            sub.append([cid, _safe_cell(lab), _safe_cell(descriptions.get(cid, ""))])
        sub.append([NONE_CATEGORY, "fits none of the subcategories", ""])
        for row in sub.iter_rows(min_row=2):
            for cell in row:
                cell.data_type = "s"
        if task == "relevance":
            for name, scale in (("relevance", RELEVANCE_SCALE), ("essential", ESSENTIAL_SCALE)):
                col = get_column_letter(cols.index(name) + 1)
                dv = DataValidation(type="list", formula1='"' + ",".join(map(str, scale)) + '"', allow_blank=True)
                dv.add(f"{col}2:{col}{last}")
                ws.add_data_validation(dv)
        else:
            col = get_column_letter(cols.index("subcategory") + 1)
            dv = DataValidation(type="list", formula1=f"=Subcategories!$A$2:$A${len(choices) + 2}", allow_blank=True)
            dv.add(f"{col}2:{col}{last}")
            ws.add_data_validation(dv)
        ins = wb.create_sheet("Instructions")
        for line in instructions:
            ins.append([_safe_cell(line)])
        ins.column_dimensions["A"].width = 120
        wb.save(target)

    atomic_write(path, write_xlsx)
    return path


# =============================================================================== reading
@dataclass
class RatingSet:
    """Returned rating sheets, checked against the pool.

    Attributes
    ----------
    relevance, essential, sort : DataFrame or None
        Units x raters. The index is ``(item, form)`` (``form`` is ``"item"`` when the
        sheets did not say which wording was rated); values are integers (relevance,
        essential) or category ids (sort), NaN/None where a rater gave no rating.
    sources : dict
        Rater -> file it came from.
    comments : DataFrame
        ``rater, item, form, comment`` of every non-empty comment.
    notes : list of str
    """

    relevance: pd.DataFrame | None = None
    essential: pd.DataFrame | None = None
    sort: pd.DataFrame | None = None
    sources: dict[str, str] = field(default_factory=dict)
    comments: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["rater", "item", "form", "comment"]))
    notes: list[str] = field(default_factory=list)

    @property
    def raters(self) -> list[str]:
        return list(self.sources)


def _read_table(path: Path) -> tuple[pd.DataFrame, int]:
    """The ratings table of a file and the line (row) number of its header."""
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not a rating file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            with pd.ExcelFile(path, engine="openpyxl") as xl:
                name = "Ratings" if "Ratings" in xl.sheet_names else xl.sheet_names[0]
                frame = pd.read_excel(xl, sheet_name=name, dtype=object)
                header = (
                    list(pd.read_excel(xl, sheet_name=name, header=None, nrows=1).iloc[0]) if len(frame.columns) else []
                )
        except Exception as exc:
            raise DataError(f"{path}: cannot read the workbook ({type(exc).__name__}: {exc})") from None
        _no_duplicate_columns(path, header)
        return frame, 1
    if suffix in (".csv", ".tsv", ".txt"):
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: cannot read the file ({exc})") from None
        lines = text.splitlines(keepends=True)
        skip = 0
        while skip < len(lines) and (lines[skip].startswith("#") or not lines[skip].strip()):
            skip += 1
        body = "".join(lines[skip:])
        if not body.strip():
            raise DataError(f"{path}: no ratings table (the file is empty or has only comment lines)")
        sep = "\t" if suffix == ".tsv" else ","
        _no_duplicate_columns(path, next(csv.reader(io.StringIO(body), delimiter=sep), []))
        try:
            frame = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False, sep=sep)
        except pd.errors.ParserError as exc:
            raise DataError(f"{path}: cannot parse the table ({exc})") from None
        return frame, skip + 1
    raise DataError(f"{path}: rating files are .xlsx or .csv (or .tsv), not {suffix or 'no extension'!r}")


def _no_duplicate_columns(path: Path, header: Sequence[Any]) -> None:
    names = [str(h).strip() for h in header if not _blank(h)]
    dup = sorted({h for h in names if names.count(h) > 1})
    if dup:
        raise DataError(f"{path}: duplicate column(s) {dup} (the same rater twice?): give each column its own name")


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def _unquote(v: Any) -> Any:
    if isinstance(v, str):
        v = v.strip()
        if v.startswith("'") and v[1:2] in _DANGEROUS:
            v = v[1:]
    return v


def _as_int(v: Any, what: str, where: str, lo: int, hi: int) -> int:
    v = _unquote(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {what} rating {v!r} is not a number on the scale {lo}-{hi}") from None
    if not f.is_integer() or not lo <= f <= hi:
        raise DataError(f"{where}: {what} rating {v!r} is off the scale {lo}-{hi}")
    return int(f)


def read_ratings(
    paths: str | Path | Sequence[str | Path],
    pool: ItemPool,
    *,
    task: str | None = None,
    relevance_scale: tuple[int, int] = (1, 4),
    essential_scale: tuple[int, int] = (1, 3),
) -> RatingSet:
    """Read returned rating sheets (``.xlsx``/``.csv``) and check them against the pool.

    Layouts:

    * **sheet / long**: columns ``item`` and one or more of ``relevance``, ``essential``,
      ``subcategory`` (as :func:`write_sheet` writes them), with the rater in a ``rater``
      column (several raters may share a file, one row per rater and item) or, when that
      column is absent or empty, the file name;
    * **wide**: an ``item`` column and one column per rater (``task=`` says what the
      values are: relevance ratings or subcategories).

    An optional ``form`` column (``self``/``informant``) says which wording was rated.

    Raises
    ------
    DataError
        Naming the file, line, rater and item: an unknown item id, a rating off its
        scale or not a number, an unknown subcategory, an item rated twice by a rater, a
        rater with no ratings, the same rater in two files or twice in a wide file.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise DataError("no rating file given")
    if task is not None and task not in TASKS:
        raise SpecificationError(f"unknown task {task!r}; use one of {', '.join(TASKS)}")
    valid_items = set(pool.item_ids)
    choices = _facet_choices(pool)
    by_key = {cid.lower(): cid for cid, _ in choices}
    by_key.update({lab.strip().lower(): cid for cid, lab in choices})
    by_key[NONE_CATEGORY] = NONE_CATEGORY
    records: dict[str, list[tuple[str, str, str, Any]]] = {"relevance": [], "essential": [], "sort": []}
    comments: list[dict[str, str]] = []
    sources: dict[str, str] = {}
    seen: dict[tuple[str, str, str, str], int] = {}
    task_files: dict[tuple[str, str], str] = {}
    notes: list[str] = []
    for path in paths:
        frame, header_line = _read_table(path)
        frame.columns = [str(c).strip() for c in frame.columns]
        lower = {c.lower(): c for c in frame.columns}
        dup_cols = [c for c in frame.columns if list(frame.columns).count(c) > 1]
        if dup_cols:
            raise DataError(f"{path}: duplicate column(s) {sorted(set(dup_cols))} (duplicate raters?)")
        if "item" not in lower:
            raise DataError(f"{path}: no 'item' column (columns: {list(frame.columns)[:12]})")
        item_col = lower["item"]
        form_col = lower.get("form")
        rating_cols = {name: lower[name] for name in _RATING_COLUMNS if name in lower}
        file_raters: set[str] = set()
        if rating_cols:
            layout = "long"
            rater_col = lower.get("rater")
            named = rater_col is not None and frame[rater_col].map(lambda v: not _blank(v)).any()
            if rater_col is not None and named and frame[rater_col].map(_blank).any():
                values = {str(_unquote(v)) for v in frame[rater_col] if not _blank(v)}
                if len(values) == 1:
                    frame[rater_col] = next(iter(values))  # one rater who wrote the id once
                else:
                    bad = int(np.flatnonzero(frame[rater_col].map(_blank).to_numpy())[0])
                    raise DataError(
                        f"{path}: line {header_line + 1 + bad}: no rater id in a file with several "
                        f"raters ({sorted(values)[:5]})"
                    )
            cells = []
            for i, row in enumerate(frame.itertuples(index=False)):
                rec = dict(zip(frame.columns, row))
                rater = str(_unquote(rec[rater_col])) if named else path.stem
                cells.append((i, rater, rec))
            if not named:
                notes.append(f"{path}: no rater id given; the ratings are rater {path.stem!r} (the file name)")
        else:
            layout = "wide"
            if task is None:
                raise DataError(
                    f"{path}: no rating column (relevance, essential or subcategory); for a file with "
                    "one column per rater say which task it holds (task='relevance' or 'sort', "
                    "--task on the command line)"
                )
            skip = {item_col.lower(), "form", "rater", *_SHEET_TEXT_COLUMNS, "subcategory_label"}
            rater_cols = [c for c in frame.columns if c.lower() not in skip and not c.lower().startswith("unnamed")]
            if not rater_cols:
                raise DataError(f"{path}: no rater columns besides {item_col!r}")
            cells = []
            for i, row in enumerate(frame.itertuples(index=False)):
                rec = dict(zip(frame.columns, row))
                for rc in rater_cols:
                    key = "relevance" if task == "relevance" else "subcategory"
                    cells.append(
                        (
                            i,
                            rc,
                            {item_col: rec[item_col], key: rec[rc], **({form_col: rec[form_col]} if form_col else {})},
                        )
                    )
            rating_cols = {
                "relevance" if task == "relevance" else "subcategory": "relevance"
                if task == "relevance"
                else "subcategory"
            }
        counted: dict[str, int] = {}
        rater_keys: dict[str, set[str]] = {}  # the tasks each rater of this file gave ratings of
        for _, rater, rec in cells:
            for name, col in rating_cols.items():
                if not _blank(rec.get(col)):
                    rater_keys.setdefault(rater, set()).add("sort" if name == "subcategory" else name)
        for i, rater, rec in cells:
            line = header_line + 1 + i
            item = _unquote(rec.get(item_col))
            if _blank(item):
                if all(_blank(rec.get(c)) for c in rating_cols.values()):
                    continue  # an empty row
                raise DataError(f"{path}: line {line}: rater {rater!r}: a rating without an item id")
            item = str(item)
            if rater not in file_raters:
                # a rater may do both tasks in two files, but each task's ratings belong in one file
                file_keys = rater_keys.get(rater, set())
                for key in [k for k in ("relevance", "essential", "sort") if k in file_keys]:
                    other = task_files.get((rater, key))
                    if other is not None and other != str(path):
                        raise DataError(
                            f"duplicate rater {rater!r}: {key} ratings in {other} and in {path} (each "
                            "rater's ratings of a task belong in one file; rename one of them if they "
                            "are different people)"
                        )
                    task_files[(rater, key)] = str(path)
                if rater in sources and str(path) not in sources[rater].split("; "):
                    sources[rater] += f"; {path}"
                sources.setdefault(rater, str(path))
                file_raters.add(rater)
            counted.setdefault(rater, 0)
            if item not in valid_items:
                raise DataError(
                    f"{path}: line {line}: rater {rater!r}: unknown item id {item!r} (not an item of "
                    f"pool {pool.name!r})"
                )
            form = (
                str(_unquote(rec.get(form_col))).strip().lower()
                if form_col and not _blank(rec.get(form_col))
                else "item"
            )
            if form not in ("item", "self", "informant"):
                raise DataError(
                    f"{path}: line {line}: rater {rater!r}, item {item!r}: form {form!r} is not 'self' or 'informant'"
                )
            if form == "informant" and not pool.item(item).informant_text:
                raise DataError(
                    f"{path}: line {line}: rater {rater!r}, item {item!r}: rated in the informant form, "
                    "but the pool has no informant wording for this item"
                )
            where = f"{path}: line {line}: rater {rater!r}, item {item!r}"
            for name, col in rating_cols.items():
                v = rec.get(col)
                if _blank(v):
                    continue
                key = "sort" if name == "subcategory" else name
                k = (key, rater, item, form)
                if k in seen:
                    raise DataError(f"{where}: rated twice by this rater (lines {seen[k]} and {line})")
                seen[k] = line
                if name == "relevance":
                    val: Any = _as_int(v, "relevance", where, *relevance_scale)
                elif name == "essential":
                    val = _as_int(v, "essential", where, *essential_scale)
                else:
                    raw = str(_unquote(v)).strip()
                    val = by_key.get(raw.lower())
                    if val is None:
                        raise DataError(
                            f"{where}: subcategory {raw!r} is not a subcategory of the pool (use an id "
                            f"or a name from the Subcategories list, or '{NONE_CATEGORY}')"
                        )
                records[key].append((rater, item, form, val))
                counted[rater] += 1
            com = rec.get(lower.get("comment", "comment"))
            if layout == "long" and not _blank(com):
                comments.append({"rater": rater, "item": item, "form": form, "comment": str(_unquote(com))})
        for rater, n in counted.items():
            if n == 0:
                raise DataError(f"{path}: rater {rater!r} gave no ratings (every rating cell is empty)")
        if not counted:
            raise DataError(f"{path}: no ratings (the table has no rows)")
    out = RatingSet(sources=sources, notes=notes)
    for key, recs in records.items():
        if not recs:
            continue
        df = pd.DataFrame(recs, columns=["rater", "item", "form", "value"])
        wide = df.pivot(index=["item", "form"], columns="rater", values="value")
        order = {iid: k for k, iid in enumerate(pool.item_ids)}
        wide = wide.reindex(sorted(wide.index, key=lambda t: (order[t[0]], t[1])))
        wide = wide.reindex(columns=[r for r in sources if r in wide.columns])
        wide.columns.name = "rater"
        if key in ("relevance", "essential"):
            wide = wide.astype(float)
        setattr(out, key, wide)
    if comments:
        out.comments = pd.DataFrame(comments)
    if out.relevance is None and out.essential is None and out.sort is None:
        raise DataError(", ".join(map(str, paths)) + ": no ratings found")
    for key in ("relevance", "essential", "sort"):
        wide = getattr(out, key)
        if wide is None:
            continue
        unrated = [iid for iid in pool.item_ids if iid not in set(wide.index.get_level_values(0))]
        if unrated:
            out.notes.append(
                f"{key}: {len(unrated)} item(s) of the pool were not rated by anyone: "
                + ", ".join(unrated[:15])
                + (" ..." if len(unrated) > 15 else "")
            )
        partial = wide.isna().sum(axis=0)
        for rater, n in partial.items():
            if n:
                out.notes.append(
                    f"{key}: rater {rater!r} left {int(n)} of {len(wide)} rated item(s) blank; "
                    "indices use the raters who rated each item"
                )
    return out


# =============================================================================== analysis
_ORDER = {"keep": 0, "revise": 1, "drop": 2}


@dataclass
class ContentValidityResult(Result):
    """Content-validity indices, decisions and coverage (see :func:`content_validity`).

    Attributes
    ----------
    items : DataFrame
        One row per rated unit (item and form): ``item, form, factor, facet``; relevance:
        ``n_raters, n_relevant, i_cvi, pc, kappa, kappa_label, aiken_v, aiken_lower,
        aiken_upper, aiken_p, mean_relevance``; essential: ``n_essential_raters,
        n_essential, cvr, cvr_critical, cvr_significant``; sort: ``n_sorted, nc, no,
        most_other, n_none, psa, csv, p_ag, p_hm, psa_factor``; and ``decision``,
        ``reason``.
    decisions : DataFrame
        Per item (forms combined; the worse decision wins): ``decision, reason``.
    scale : dict
        ``s_cvi_ave``, ``s_cvi_ua``, ``n_items``, ``n_raters`` (per form when several).
    coverage : DataFrame
        Per subcategory: ``label, items, keep, revise, drop, retained, s_cvi_ave,
        s_cvi_ave_retained, gap``.
    confusion : DataFrame or None
        Intended (rows) x assigned (columns, plus ``none``) subcategory counts.
    agreement : DataFrame
        Rater agreement: Fleiss' kappa and Krippendorff's alpha for each task.
    cvr_table : DataFrame or None
        Ayre & Scally's critical values for the panel sizes seen.
    diagnostics : dict
        ``raters``, ``sources``, ``cutoffs``, ``notes``, ``comments``.
    """

    items: pd.DataFrame
    decisions: pd.DataFrame
    scale: dict[str, Any]
    coverage: pd.DataFrame
    confusion: pd.DataFrame | None
    agreement: pd.DataFrame
    pool: ItemPool
    cvr_table: pd.DataFrame | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)

    @property
    def dropped(self) -> list[str]:
        return self.decisions.index[self.decisions["decision"] == "drop"].tolist()

    @property
    def revise(self) -> list[str]:
        return self.decisions.index[self.decisions["decision"] == "revise"].tolist()

    @property
    def kept(self) -> list[str]:
        return self.decisions.index[self.decisions["decision"] == "keep"].tolist()

    def summary(self) -> Summary:
        """The panel, the scale indices, rater agreement, the decisions (with the reason for every item not
        kept), coverage gaps, notes and the coverage of each subcategory."""
        d = self.diagnostics
        out = Summary(
            f"Content validity of {self.pool.name}: {len(d.get('raters', []))} rater(s), "
            f"{len(self.decisions)} item(s) judged."
        )
        lines = []
        if d.get("raters"):
            lines.append("raters: " + ", ".join(map(str, d["raters"])))
        for key, s in self.scale.items():
            if isinstance(s, dict) and "s_cvi_ave" in s:
                which = "" if key == "item" else f" ({key} wording)"
                lines.append(
                    f"relevance{which}: S-CVI/Ave = {s['s_cvi_ave']:.3f}, S-CVI/UA = {s['s_cvi_ua']:.3f} "
                    f"({s['n_items']} items, {s['n_raters']} raters)"
                )
        for _, row in self.agreement.iterrows():
            lines.append(
                f"agreement: {row['task']}: {row['index']} = {row['value']:.3f}"
                if np.isfinite(row["value"])
                else f"agreement: {row['task']}: {row['index']} not computable"
            )
        counts = self.decisions["decision"].value_counts()
        lines.append("decisions: " + ", ".join(f"{k} {int(counts.get(k, 0))}" for k in _ORDER))
        gaps = self.coverage.index[self.coverage["gap"]].tolist()
        if gaps:
            lines.append(f"coverage gaps (fewer than {d['cutoffs']['min_items']} items retained): {', '.join(gaps)}")
        out.text(*lines)
        out.text(
            *(
                f"[{row['decision']}] {iid}: {row['reason']}"
                for iid, row in self.decisions[self.decisions["decision"] != "keep"].iterrows()
            )
        )
        out.text(*(f"note: {note}" for note in d.get("notes", [])))
        return out.table(self.coverage, title="Coverage")

    def to_frame(self) -> pd.DataFrame:
        """One row per rated unit (item and form): the indices, the decision and its reason."""
        return self.items

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "items": self.items.to_dict(orient="records"),
                "decisions": self.decisions.to_dict(orient="index"),
                "scale": self.scale,
                "coverage": self.coverage.to_dict(orient="index"),
                "confusion": self.confusion.to_dict(orient="index") if self.confusion is not None else None,
                "agreement": self.agreement.to_dict(orient="records"),
                "cvr_critical": self.cvr_table.to_dict(orient="index") if self.cvr_table is not None else None,
                "diagnostics": {k: v for k, v in self.diagnostics.items() if k != "comments"},
            }
        )

    def revised_pool_yaml(self) -> str:
        """The pool after the review, as YAML (see :func:`revised_pool_yaml`)."""
        return revised_pool_yaml(self.pool, self)

    def save(self, out_dir: str | Path) -> Path:
        """Write the content-validity report (``report.html``, ``results.json``, ``tables/*.csv``, ``revised_pool.yaml``)."""
        from allyscale.report.content_section import content_report

        return content_report(self).save(out_dir)


def _coerce_ratings(ratings: Any, pool: ItemPool, task: str | None, relevance_scale, essential_scale) -> RatingSet:
    if isinstance(ratings, RatingSet):
        return ratings
    if isinstance(ratings, (str, Path)) or (
        isinstance(ratings, (list, tuple)) and ratings and all(isinstance(p, (str, Path)) for p in ratings)
    ):
        return read_ratings(ratings, pool, task=task, relevance_scale=relevance_scale, essential_scale=essential_scale)
    if isinstance(ratings, pd.DataFrame):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "ratings.csv"
            ratings.to_csv(p, index=False)
            rs = read_ratings([p], pool, task=task, relevance_scale=relevance_scale, essential_scale=essential_scale)
        rs.sources = {r: "<DataFrame>" for r in rs.sources}
        rs.notes = [n.replace(str(p), "<DataFrame>") for n in rs.notes]
        return rs
    raise SpecificationError(
        f"ratings must be rating file path(s), a RatingSet or a DataFrame (got {type(ratings).__name__})"
    )


def content_validity(
    ratings: Any,
    pool: ItemPool,
    *,
    task: str | None = None,
    relevance_scale: tuple[int, int] = (1, 4),
    relevant_min: int = 3,
    essential_scale: tuple[int, int] = (1, 3),
    conf_level: float = 0.95,
    cutoffs: Mapping[str, float] | None = None,
) -> ContentValidityResult:
    """Content-validity indices of an item pool from expert or community panel ratings.

    Parameters
    ----------
    ratings : path(s), RatingSet or DataFrame
        Returned rating sheets (:func:`read_ratings` describes the layouts).
    pool : ItemPool
    task : {"relevance", "sort"}, optional
        Only needed for wide files (one column per rater).
    relevance_scale : (lo, hi)
        The relevance scale; ratings of ``relevant_min`` or more count as relevant
        (3 or 4 on Lynn's four-point scale).
    essential_scale : (lo, hi)
        Lawshe's scale; the top point counts as "essential".
    conf_level : float
        Confidence level of Aiken's V interval.
    cutoffs : mapping, optional
        Overrides of :data:`DEFAULT_CUTOFFS`.

    Notes
    -----
    Decisions, per rated unit, the worse of:

    * relevance: keep when kappa* > ``kappa_keep`` (.74, "excellent"); drop when kappa* <
      ``kappa_drop`` (.40, "poor"); otherwise revise (Polit, Beck & Owen, 2007);
    * essential ratings, when given: an item whose CVR is below the exact critical value
      (Ayre & Scally, 2014; one-tailed ``alpha``) is at best revised;
    * sort task: keep when a significant majority of raters put the item in its intended
      subcategory (Anderson & Gerbing's binomial test ``p_ag < alpha``); drop when another
      subcategory received more assignments than the intended one (csv < 0); otherwise
      revise.

    An item's decision combines its forms (the worse wins). A subcategory retaining
    (keep or revise) fewer than ``min_items`` items has a coverage gap. The error rates
    of these rules on simulated panels with known relevant and irrelevant items are in
    ``docs/content_validity.md`` (``studies/content_panels.py``).

    Returns
    -------
    ContentValidityResult

    Raises
    ------
    DataError
        A bad rating file (see :func:`read_ratings`).
    SpecificationError
        An unknown cutoff, a ``relevant_min`` off the relevance scale.

    Examples
    --------
    >>> pool = al.load_pool("item_pools/allyship.yaml")  # doctest: +SKIP
    >>> res = al.content_validity(["ana.xlsx", "ben.xlsx", "sort_wide.csv"], pool)  # doctest: +SKIP
    >>> res.decisions.query("decision != 'keep'")  # doctest: +SKIP
    >>> res.save("content/")  # report.html, results.json, tables/*.csv, revised_pool.yaml  # doctest: +SKIP
    """
    cut = dict(DEFAULT_CUTOFFS)
    if cutoffs:
        unknown = set(cutoffs) - set(cut)
        if unknown:
            raise SpecificationError(f"unknown cutoff(s) {sorted(unknown)}; known: {sorted(cut)}")
        cut.update(cutoffs)
    lo, hi = relevance_scale
    if not lo <= relevant_min <= hi:
        raise SpecificationError(f"relevant_min {relevant_min} is not on the relevance scale {lo}-{hi}")
    rs = _coerce_ratings(ratings, pool, task, relevance_scale, essential_scale)
    intended = _intended(pool)
    factor_of = {it.id: it.factor for it in pool.items}
    choices = _facet_choices(pool)
    choice_ids = [c for c, _ in choices]
    facet_factor = (
        {fc.id: f.id for f in pool.factors for fc in f.facets} if pool.facets else {f.id: f.id for f in pool.factors}
    )
    units = set()
    for wide in (rs.relevance, rs.essential, rs.sort):
        if wide is not None:
            units |= set(wide.index)
    order = {iid: k for k, iid in enumerate(pool.item_ids)}
    units = sorted(units, key=lambda t: (order[t[0]], t[1]))
    rows = []
    alpha = cut["alpha"]
    cvr_sizes: set[int] = set()
    for item, form in units:
        row: dict[str, Any] = {"item": item, "form": form, "factor": factor_of[item], "facet": intended[item]}
        reasons: list[tuple[str, str]] = []
        if rs.relevance is not None and (item, form) in rs.relevance.index:
            r = rs.relevance.loc[(item, form)].to_numpy(dtype=float)
            r = r[~np.isnan(r)]
            n, a = len(r), int((r >= relevant_min).sum())
            k = float(modified_kappa(a, n))
            v, vl, vu = aiken_v(r, lo, hi, conf_level)
            row.update(
                n_raters=n,
                n_relevant=a,
                i_cvi=float(i_cvi(a, n)),
                pc=float(comb(n, a) * 0.5**n),
                kappa=k,
                kappa_label=kappa_label(k),
                mean_relevance=float(r.mean()) if n else np.nan,
                aiken_v=v,
                aiken_lower=vl,
                aiken_upper=vu,
                aiken_p=aiken_v_pvalue(r, lo, hi),
            )
            text = f"I-CVI {a}/{n} = {row['i_cvi']:.2f}, kappa* {k:.2f} ({kappa_label(k)})"
            if k > cut["kappa_keep"]:
                reasons.append(("keep", text))
            elif k < cut["kappa_drop"]:
                reasons.append(("drop", text))
            else:
                reasons.append(("revise", text))
        if rs.essential is not None and (item, form) in rs.essential.index:
            e = rs.essential.loc[(item, form)].to_numpy(dtype=float)
            e = e[~np.isnan(e)]
            n, ne = len(e), int((e == essential_scale[1]).sum())
            ne_crit, crit = cvr_critical(n, alpha) if n else (0, np.nan)
            cvr_sizes.add(n)
            sig = bool(n and ne >= ne_crit)
            row.update(
                n_essential_raters=n, n_essential=ne, cvr=float(cvr(ne, n)), cvr_critical=crit, cvr_significant=sig
            )
            if not sig:
                reasons.append(
                    (
                        "revise",
                        f"CVR {float(cvr(ne, n)):.2f} below the critical "
                        + (f"{crit:.2f}" if np.isfinite(crit) else "value (none exists)")
                        + f" for {n} raters ({ne} rated it essential)",
                    )
                )
        if rs.sort is not None and (item, form) in rs.sort.index:
            assigned = [a for a in rs.sort.loc[(item, form)].tolist() if not _blank(a)]
            sv = substantive_validity(assigned, intended[item], len(choice_ids) + 1)
            in_factor = sum(1 for a in assigned if a != NONE_CATEGORY and facet_factor.get(a) == factor_of[item])
            sv["psa_factor"] = in_factor / len(assigned) if assigned else np.nan
            row.update(sv)
            text = (
                f"sorted to its subcategory by {sv['nc']}/{sv['n_sorted']} (psa {sv['psa']:.2f}, csv "
                f"{sv['csv']:.2f}, p = {sv['p_ag']:.3f})"
            )
            if sv["csv"] < 0:
                reasons.append(("drop", text + f"; more often to {sv['most_other']!r} ({sv['no']})"))
            elif sv["p_ag"] < alpha:
                reasons.append(("keep", text))
            else:
                reasons.append(
                    (
                        "revise",
                        text + ("; also " + repr(sv["most_other"]) + f" ({sv['no']})" if sv["most_other"] else ""),
                    )
                )
        decision = max((d for d, _ in reasons), key=_ORDER.get) if reasons else "keep"
        row["decision"] = decision
        row["reason"] = "; ".join(t for d, t in reasons if d == decision) if reasons else "no rating"
        rows.append(row)
    items = pd.DataFrame(rows)
    # per item, forms combined
    dec_rows = {}
    for item, grp in items.groupby("item", sort=False):
        worst = max(grp["decision"], key=_ORDER.get)
        why = "; ".join(
            (f"{f}: " if len(grp) > 1 else "") + r
            for f, d, r in zip(grp["form"], grp["decision"], grp["reason"])
            if d == worst
        )
        dec_rows[item] = {"facet": grp["facet"].iloc[0], "decision": worst, "reason": why}
    decisions = pd.DataFrame.from_dict(dec_rows, orient="index").rename_axis("item")
    # scale-level indices per form
    scale: dict[str, Any] = {}
    if rs.relevance is not None:
        rel = items.dropna(subset=["i_cvi"]) if "i_cvi" in items else items.iloc[0:0]
        for form, grp in rel.groupby("form", sort=False):
            scale[form] = {
                "s_cvi_ave": float(grp["i_cvi"].mean()),
                "s_cvi_ua": float((grp["i_cvi"] == 1).mean()),
                "n_items": int(len(grp)),
                "n_raters": int(rs.relevance.shape[1]),
                "mean_kappa": float(grp["kappa"].mean()),
            }
    # coverage per subcategory
    cov = []
    labels = dict(choices)
    # an item's I-CVI (the mean over its forms when both wordings were rated)
    icvi = items.groupby("item", sort=False)["i_cvi"].mean() if "i_cvi" in items else pd.Series(dtype=float)
    for cid in choice_ids:
        its = [it for it in pool.item_ids if intended[it] == cid]
        judged = decisions.reindex(its).dropna(subset=["decision"])
        counts = judged["decision"].value_counts()
        retained = [i for i in judged.index if judged.loc[i, "decision"] != "drop"]
        mean_all = float(icvi.reindex(its).mean()) if len(icvi) else np.nan
        mean_ret = float(icvi.reindex(retained).mean()) if len(icvi) and retained else np.nan
        n_ret = len(retained) + (len(its) - len(judged))  # unrated items stay
        cov.append(
            {
                "subcategory": cid,
                "label": labels[cid],
                "items": len(its),
                "rated": len(judged),
                "keep": int(counts.get("keep", 0)),
                "revise": int(counts.get("revise", 0)),
                "drop": int(counts.get("drop", 0)),
                "retained": n_ret,
                "s_cvi_ave": mean_all,
                "s_cvi_ave_retained": mean_ret,
                "gap": bool(n_ret < cut["min_items"]),
            }
        )
    coverage = pd.DataFrame(cov).set_index("subcategory")
    # confusion matrix and agreement
    confusion = None
    agreement_rows = []
    if rs.sort is not None:
        cols = choice_ids + [NONE_CATEGORY]
        pos = {c: k for k, c in enumerate(cols)}
        row_of = {c: k for k, c in enumerate(choice_ids)}
        counts = np.zeros((len(choice_ids), len(cols)), dtype=int)
        for (item, _form), row in zip(rs.sort.index, rs.sort.to_numpy(dtype=object)):
            for a in row:
                if not _blank(a):
                    counts[row_of[intended[item]], pos[a]] += 1
        conf = pd.DataFrame(
            counts, index=pd.Index(choice_ids, name="intended"), columns=pd.Index(cols, name="assigned")
        )
        confusion = conf
        agreement_rows += _agreement(rs.sort, "sort", "nominal", cols)
    if rs.relevance is not None:
        agreement_rows += _agreement(rs.relevance, "relevance", "ordinal", list(range(lo, hi + 1)))
        dich = rs.relevance.apply(lambda col: col.map(lambda v: np.nan if np.isnan(v) else float(v >= relevant_min)))
        agreement_rows += _agreement(
            dich, "relevance (relevant vs not)", "nominal", [0.0, 1.0], fleiss=True, kripp=False
        )
    agreement = pd.DataFrame(agreement_rows, columns=["task", "index", "value", "z", "p", "units", "raters", "note"])
    cvr_table = (
        cvr_critical_table(min(cvr_sizes), max(max(cvr_sizes), min(cvr_sizes)))
        if cvr_sizes and min(cvr_sizes) >= 1
        else None
    )
    diagnostics = {
        "raters": rs.raters,
        "sources": dict(rs.sources),
        "cutoffs": cut,
        "notes": list(rs.notes),
        "relevance_scale": list(relevance_scale),
        "relevant_min": relevant_min,
        "essential_scale": list(essential_scale),
        "conf_level": conf_level,
        "tasks": [k for k in ("relevance", "essential", "sort") if getattr(rs, k) is not None],
        "comments": rs.comments,
    }
    return ContentValidityResult(
        items=items,
        decisions=decisions,
        scale=scale,
        coverage=coverage,
        confusion=confusion,
        agreement=agreement,
        pool=pool,
        cvr_table=cvr_table,
        diagnostics=diagnostics,
    )


def _agreement(
    wide: pd.DataFrame, task: str, level: str, values: list, *, fleiss: bool = True, kripp: bool = True
) -> list[dict[str, Any]]:
    """Fleiss' kappa (complete units only) and Krippendorff's alpha (all pairable units) of a units x raters table."""
    out = []
    if kripp:
        a = krippendorff_alpha(wide.to_numpy(dtype=object), level=level, values=values)
        out.append(
            {
                "task": task,
                "index": f"Krippendorff's alpha ({level})",
                "value": a,
                "z": np.nan,
                "p": np.nan,
                "units": int((wide.notna().sum(axis=1) >= 2).sum()),
                "raters": int(wide.shape[1]),
                "note": "units with two or more ratings",
            }
        )
    if fleiss:
        complete = wide.dropna()
        note = (
            "" if len(complete) == len(wide) else f"{len(wide) - len(complete)} unit(s) with a missing rating left out"
        )
        if len(complete) and complete.shape[1] >= 2:
            counts = np.array([[sum(1 for v in row if v == c) for c in values] for row in complete.to_numpy(object)])
            fk = fleiss_kappa(counts)
            out.append(
                {
                    "task": task,
                    "index": "Fleiss' kappa",
                    "value": fk["kappa"],
                    "z": fk["z"],
                    "p": fk["p"],
                    "units": fk["subjects"],
                    "raters": fk["raters"],
                    "note": note,
                }
            )
        else:
            out.append(
                {
                    "task": task,
                    "index": "Fleiss' kappa",
                    "value": np.nan,
                    "z": np.nan,
                    "p": np.nan,
                    "units": int(len(complete)),
                    "raters": int(wide.shape[1]),
                    "note": "needs two or more raters who rated every unit",
                }
            )
    return out


# =============================================================================== revised pool
def _pool_to_dict(pool: ItemPool) -> dict[str, Any]:
    def item_dict(it) -> dict[str, Any]:
        d: dict[str, Any] = {"id": it.id, "text": it.text}
        if it.informant_text:
            d["informant_text"] = it.informant_text
        if it.aspect:
            d["aspect"] = it.aspect
        d["reverse"] = bool(it.reverse)
        notes = getattr(it, "notes", None)
        if notes:
            d["notes"] = notes
        keep = getattr(it, "keep", None)
        if keep:
            d["keep"] = dict(keep)
        return d

    out: dict[str, Any] = {"name": pool.name, "id": pool.id}
    if pool.version:
        out["version"] = pool.version
    if pool.description:
        out["description"] = pool.description
    if pool.source:
        out["source"] = pool.source
    out["response_scale"] = {
        "min": pool.scale.min,
        "max": pool.scale.max,
        **({"labels": dict(pool.scale.labels)} if pool.scale.labels else {}),
    }
    if pool.forms:
        out["forms"] = {k: {kk: vv for kk, vv in v.items() if vv} for k, v in pool.forms.items()}
    if pool.core:
        out["core"] = {k: v for k, v in pool.core.items() if v}
    factors = []
    for f in pool.factors:
        fd: dict[str, Any] = {"id": f.id, "label": f.label}
        if f.description:
            fd["description"] = f.description
        if f.facets:
            fd["facets"] = [
                {
                    "id": fc.id,
                    "label": fc.label,
                    **({"description": fc.description} if fc.description else {}),
                    "items": [item_dict(it) for it in fc.items],
                }
                for fc in f.facets
            ]
        else:
            fd["items"] = [item_dict(it) for it in f.items]
        factors.append(fd)
    out["factors"] = factors
    if pool.attention_checks:
        out["attention_checks"] = [
            {
                "id": c.id,
                "text": c.text,
                **({"informant_text": c.informant_text} if c.informant_text else {}),
                "expected": c.expected,
            }
            for c in pool.attention_checks
        ]
    return out


def revised_pool_yaml(pool: ItemPool, result: ContentValidityResult) -> str:
    """The pool after a content review, as YAML that :func:`allyscale.load_pool` reads.

    Items judged ``drop`` are removed, except where removing them would empty a
    subcategory or factor (then they stay, with a note saying so); items judged
    ``revise`` stay with a ``notes`` entry giving the reason. A leading comment and the
    top-level ``notes`` record the review (raters, counts, cutoffs).
    """
    import yaml

    data = _pool_to_dict(pool)
    dec = result.decisions
    kept_back: list[str] = []

    def review(items: list[dict]) -> list[dict]:
        survivors = [d for d in items if d["id"] not in dec.index or dec.loc[d["id"], "decision"] != "drop"]
        if not survivors:
            kept_back.extend(d["id"] for d in items)
            for d in items:
                d["notes"] = _join_note(
                    d.get("notes"),
                    "content review: drop ("
                    + str(dec.loc[d["id"], "reason"])
                    + "); kept because dropping it would empty its subcategory; rewrite it",
                )
            return items
        for d in survivors:
            if d["id"] in dec.index and dec.loc[d["id"], "decision"] == "revise":
                d["notes"] = _join_note(
                    d.get("notes"), "content review: revise (" + str(dec.loc[d["id"], "reason"]) + ")"
                )
        return survivors

    for f in data["factors"]:
        if "facets" in f:
            for fc in f["facets"]:
                fc["items"] = review(fc["items"])
        else:
            f["items"] = review(f["items"])
    counts = dec["decision"].value_counts()
    summary = (
        f"Content review by {len(result.diagnostics.get('raters', []))} rater(s): "
        f"{int(counts.get('keep', 0))} kept, {int(counts.get('revise', 0))} to revise, "
        f"{int(counts.get('drop', 0))} dropped"
        + (f" ({len(kept_back)} of them kept back so no subcategory is empty)" if kept_back else "")
        + ". Dropped: "
        + (", ".join(i for i in result.dropped if i not in kept_back) or "none")
        + "."
    )
    data["notes"] = summary
    header = "# " + pool.name + ": revised after a content review (allyscale content analyze).\n# " + summary + "\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)


def _join_note(old: str | None, new: str) -> str:
    return f"{old} | {new}" if old else new
