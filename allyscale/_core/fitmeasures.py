"""The one fit-measure builder: every index of a fit computed once, here, from what the
estimator hands over (numpy only; one function per index in :mod:`allyscale._core.fitindices`).

Conventions as lavaan 0.6.14's ``fitMeasures()``:

* N is the total sample size for ML/MLR, ``N - G`` for categorical data (WLSMV);
* ``.scaled`` indices use the scaled test (for the scaled-and-shifted WLSMV test, its
  statistic in every formula; for MLR, lavaan's ``rmsea.scaled`` from the trace);
* ``.robust`` indices: with ``robust`` pieces (lavaan's ``XX3, df3, c.hat3, XX3.scaled,
  XX3.null, df3.null, c.hat3.null``: the catML pieces for categorical data, Savalei 2021; the
  FIML-corrected pieces with missing data, Zhang & Savalei 2023) CFI/TLI use
  ``XX3 - c.hat3 df`` against the null's, RMSEA ``XX3`` with ``c.hat3`` and its interval
  ``XX3.scaled`` with ``N / c.hat3``; otherwise (MLR, complete data) the scaling factors of
  the model and baseline tests (Brosseau-Liard & Savalei, 2014; Brosseau-Liard, Savalei &
  Li, 2012).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from allyscale._core import fitindices as fi
from allyscale._core.estimation import Tests

__all__ = ["ORDER", "build"]

ORDER = [
    "npar",
    "fmin",
    "chisq",
    "df",
    "pvalue",
    "chisq.scaled",
    "df.scaled",
    "pvalue.scaled",
    "chisq.scaling.factor",
    "baseline.chisq",
    "baseline.df",
    "baseline.pvalue",
    "baseline.chisq.scaled",
    "baseline.df.scaled",
    "baseline.pvalue.scaled",
    "baseline.chisq.scaling.factor",
    "cfi",
    "tli",
    "cfi.scaled",
    "tli.scaled",
    "cfi.robust",
    "tli.robust",
    "logl",
    "unrestricted.logl",
    "aic",
    "bic",
    "ntotal",
    "bic2",
    "rmsea",
    "rmsea.ci.lower",
    "rmsea.ci.upper",
    "rmsea.pvalue",
    "rmsea.scaled",
    "rmsea.ci.lower.scaled",
    "rmsea.ci.upper.scaled",
    "rmsea.pvalue.scaled",
    "rmsea.robust",
    "rmsea.ci.lower.robust",
    "rmsea.ci.upper.robust",
    "rmsea.pvalue.robust",
    "srmr",
]


def _rmsea_set(out: dict, suffix: str, stat: float, df: float, n: float, g: int, c: float = 1.0) -> None:
    out["rmsea" + suffix] = fi.rmsea(stat, df, n, g, c=c) if np.isfinite(stat) else np.nan
    if np.isfinite(stat) and np.isfinite(df):
        out["rmsea.ci.lower" + suffix], out["rmsea.ci.upper" + suffix] = fi.rmsea_ci(stat, df, n, g)
        out["rmsea.pvalue" + suffix] = fi.rmsea_pvalue(stat, df, n, g)
    else:
        out["rmsea.ci.lower" + suffix] = out["rmsea.ci.upper" + suffix] = out["rmsea.pvalue" + suffix] = np.nan


def build(
    *,
    npar: int,
    n: int,
    ngroups: int,
    fmin: float,
    test: Tests,
    baseline: Tests,
    scaled_test: str | None,
    logl: float | None,
    categorical: bool,
    robust: dict[str, Any] | None,
    sample: list,
    implied: list,
    weights: list[float],
    extra: dict[str, float] | None = None,
) -> dict[str, float]:
    """lavaan's fit measures of one estimation (see the module docstring)."""
    g = ngroups
    n_fit = n - g if categorical else n
    std = test["standard"]
    x2, df = std["stat"], std["df"]
    b = baseline["standard"]
    x2b, dfb = b["stat"], b["df"]
    fm: dict[str, float] = {
        "npar": float(npar),
        "fmin": fmin,
        "chisq": x2,
        "df": df,
        "pvalue": std["pvalue"],
        "baseline.chisq": x2b,
        "baseline.df": dfb,
        "baseline.pvalue": b["pvalue"],
        "cfi": fi.cfi(x2, df, x2b, dfb),
        "tli": fi.tli(x2, df, x2b, dfb),
    }
    if logl is not None:
        fm["logl"] = logl
        fm["aic"] = fi.aic(logl, npar)
        fm["bic"] = fi.bic(logl, npar, n)
        fm["bic2"] = fi.bic(logl, npar, (n + 2) / 24)
    fm["ntotal"] = float(n)
    _rmsea_set(fm, "", x2, df, n_fit, g)
    sc = test.get(scaled_test) if scaled_test else None
    if sc is not None and scaled_test is not None:
        bsc: dict[str, Any] = dict(baseline.get(scaled_test) or {})
        c, cb = sc.get("scaling_factor", np.nan), bsc.get("scaling_factor", np.nan)
        fm.update(
            {
                "chisq.scaled": sc["stat"],
                "df.scaled": sc["df"],
                "pvalue.scaled": sc["pvalue"],
                "chisq.scaling.factor": c,
                "baseline.chisq.scaled": bsc.get("stat", np.nan),
                "baseline.df.scaled": bsc.get("df", np.nan),
                "baseline.pvalue.scaled": bsc.get("pvalue", np.nan),
                "baseline.chisq.scaling.factor": cb,
            }
        )
        fm["cfi.scaled"] = fi.cfi(sc["stat"], sc["df"], bsc.get("stat", np.nan), bsc.get("df", np.nan))
        fm["tli.scaled"] = fi.tli(sc["stat"], sc["df"], bsc.get("stat", np.nan), bsc.get("df", np.nan))
        if categorical:
            if np.isfinite(sc["stat"]):
                _rmsea_set(fm, ".scaled", sc["stat"], df, n_fit, g)
        else:
            tr = sc.get("trace_ugamma", np.nan)
            fm["rmsea.scaled"] = fi.rmsea(x2, tr, n, g)
            lo, hi = fi.rmsea_ci(x2, tr, n, g) if np.isfinite(tr) else (np.nan, np.nan)
            fm["rmsea.ci.lower.scaled"], fm["rmsea.ci.upper.scaled"] = lo, hi
            fm["rmsea.pvalue.scaled"] = fi.rmsea_pvalue(x2, tr, n, g) if np.isfinite(tr) else np.nan
        if robust is not None:
            xx3, ch, xs = robust["XX3"], robust["c.hat3"], robust["XX3.scaled"]
            fm["cfi.robust"] = fi.cfi(xx3, df, robust["XX3.null"], robust["df3.null"], ch, robust["c.hat3.null"])
            fm["tli.robust"] = fi.tli(xx3, df, robust["XX3.null"], robust["df3.null"], ch, robust["c.hat3.null"])
            fm["rmsea.robust"] = fi.rmsea(xx3, df, n_fit, g, c=ch) if np.isfinite(xx3) else np.nan
            if np.isfinite(xs) and np.isfinite(ch) and ch > 0:
                fm["rmsea.ci.lower.robust"], fm["rmsea.ci.upper.robust"] = fi.rmsea_ci(xs, df, n_fit / ch, g)
                fm["rmsea.pvalue.robust"] = fi.rmsea_pvalue(xs, df, n_fit / ch, g)
            else:
                fm["rmsea.ci.lower.robust"] = fm["rmsea.ci.upper.robust"] = fm["rmsea.pvalue.robust"] = np.nan
        else:
            fm["cfi.robust"] = fi.cfi(x2, df, x2b, dfb, c, cb)
            fm["tli.robust"] = fi.tli(x2, df, x2b, dfb, c, cb)
            fm["rmsea.robust"] = fi.rmsea(x2, df, n, g, c)
    fm["srmr"] = fi.srmr_bentler(sample, implied, weights)
    if extra:
        fm.update(extra)
    return {k: float(fm[k]) for k in ORDER if k in fm} | {k: float(v) for k, v in fm.items() if k not in ORDER}
