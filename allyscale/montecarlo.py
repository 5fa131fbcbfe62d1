"""Monte Carlo studies: study spec → independent replications → SQLite store → summary.

A study (YAML, documented in ``studies/README.md``) names a population (lavaan syntax
with values, or an item pool plus population options), the analyses to run on every
simulated sample (CFA models, factor-retention rules, reliability) and the conditions to
cross (sample size and any population option). :func:`run_study` runs every condition ×
replication, in worker processes or on a Dask cluster, and writes each finished
replication to a SQLite store in its own transaction, so a study interrupted at any
point (even ``kill -9``) resumes with the same call and loses nothing.

Reproducibility: the random stream of a replication is
``numpy.random.SeedSequence(seed, spawn_key=(condition, rep))`` and nothing else; no
fit is warm-started from another, so results do not depend on the number of workers,
the engine, the number of replications or interruptions.

The summaries follow the simsem / Mplus Monte Carlo tradition (Pornprasertmanit et al.,
2021; Muthén & Muthén, 2002): convergence and proper-solution rates, fit-index means and
rejection rates at the Hu & Bentler (1999) cutoffs, model selection, retention accuracy,
and per-parameter relative bias, SE bias, 95% coverage and power.

References
----------
Hu, L., & Bentler, P. M. (1999). Cutoff criteria for fit indexes in covariance structure
analysis. *Structural Equation Modeling, 6*(1), 1–55.
Muthén, L. K., & Muthén, B. O. (2002). How to use a Monte Carlo study to decide on sample
size and determine power. *Structural Equation Modeling, 9*(4), 599–620.
Pornprasertmanit, S., Miller, P., Schoemann, A., & Jorgensen, T. D. (2021). simsem: SIMulated
Structural Equation Modeling. R package.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import inspect
import itertools
import json
import math
import os
import sqlite3
import time
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allyscale.errors import AllyscaleError, SpecificationError

__all__ = ["StudySpec", "load_study", "run_study", "export_study", "summarize_study", "StudySummary",
           "replicate", "FIT_MEASURES", "CUTOFFS"]

#: fit measures stored for every model (lavaan names); missing ones are stored as NaN
FIT_MEASURES = ("chisq", "df", "pvalue", "cfi", "tli", "rmsea", "srmr", "aic", "bic",
                "chisq.scaled", "df.scaled", "pvalue.scaled", "cfi.scaled", "tli.scaled", "rmsea.scaled",
                "cfi.robust", "tli.robust", "rmsea.robust")

#: conventional rejection rules (Hu & Bentler, 1999; chi-square at alpha = .05): index -> (direction, value)
CUTOFFS = {"pvalue": ("<", 0.05), "cfi": ("<", 0.95), "tli": ("<", 0.95), "rmsea": (">", 0.06), "srmr": (">", 0.08)}

_BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_TOP_KEYS = {"name", "description", "population", "pool", "analysis", "conditions", "reps", "seed"}
_ANALYSIS_KEYS = {"models", "true_model", "estimator", "retention", "retention_corr", "parallel_iter", "reliability",
                  "true_factors", "interest", "fit_options"}
_ESTIMATORS = {"ML", "MLR", "WLSMV"}
_RETENTION = {"parallel", "map"}
_STORE_VERSION = 1


# ---------------------------------------------------------------------------- spec
@dataclass(frozen=True)
class StudySpec:
    """A validated Monte Carlo study.

    Attributes
    ----------
    population : str or None
        lavaan syntax with population values (as ``lavaan::simulateData``), or None when
        the population is built from ``pool``.
    pool : str or None
        Path of an item pool (resolved against the study file's folder).
    population_options : dict
        Keyword arguments of ``PopulationModel.from_pool`` / ``from_lavaan`` fixed for
        every condition (``categories``, ``thresholds``, ``structure``, ``loadings``, ...).
    models : dict
        Analysis model name → lavaan syntax.
    true_model : str or None
        The model that matches the population (parameter recovery, model selection).
    estimator : str
    retention : tuple of str
        ``parallel`` and/or ``map``.
    retention_corr : str
        Correlations used by the retention rules (``pearson`` or ``polychoric``).
    parallel_iter : int
        Simulated data sets of parallel analysis (default 20, ``psych::fa.parallel``'s ``n.iter``).
    reliability : bool
    true_factors : int or None
        Number of factors retention should find.
    interest : tuple of str
        Parameters of interest (``"f1=~a1"``) for the Muthén & Muthén (2002) sample-size rule.
    fit_options : dict
        Extra keyword arguments for ``cfa``.
    conditions : dict
        Condition name (``n`` or a population option) → list of values; crossed in order.
    reps : int
    seed : int
    """

    population: str | None
    pool: str | None
    population_options: dict
    models: dict
    true_model: str | None
    estimator: str
    retention: tuple
    retention_corr: str
    parallel_iter: int
    reliability: bool
    true_factors: int | None
    interest: tuple
    fit_options: dict
    conditions: dict
    reps: int
    seed: int
    name: str = "study"
    source: str = "<dict>"
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def condition_list(self) -> list[dict]:
        """Every crossed condition, in a fixed order (the index is the seed's spawn key)."""
        keys = list(self.conditions)
        return [dict(zip(keys, vals)) for vals in itertools.product(*(self.conditions[k] for k in keys))]

    def hash(self) -> str:
        """SHA-256 of everything that defines the results except ``reps`` (so a study can be extended)."""
        content = {k: v for k, v in self.to_dict().items() if k not in ("reps", "source")}
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "population": self.population, "pool": self.pool,
                "population_options": self.population_options, "models": self.models,
                "true_model": self.true_model, "estimator": self.estimator, "retention": list(self.retention),
                "retention_corr": self.retention_corr, "parallel_iter": self.parallel_iter,
                "reliability": self.reliability,
                "true_factors": self.true_factors, "interest": list(self.interest), "fit_options": self.fit_options,
                "conditions": self.conditions, "reps": self.reps, "seed": self.seed, "source": self.source}

    def population_model(self, condition: Mapping[str, Any]):
        """The population model of one condition."""
        from allyscale.simulate import PopulationModel

        opts = dict(self.population_options)
        opts.update({k: v for k, v in condition.items() if k != "n"})
        opts = {k: _tuplify(k, v) for k, v in opts.items()}
        if self.pool is not None:
            return PopulationModel.from_pool(_load_pool_cached(self.pool), **opts)
        return PopulationModel.from_lavaan(self.population, **opts)


def _tuplify(key: str, value: Any) -> Any:
    """YAML has no tuples: a two-element list for ``loadings`` / ``general_loadings`` is a (low, high) range,
    and ``"a,b"`` keys of cross_loadings / residual_corr / factor_corr are pairs."""
    if key in ("loadings", "general_loadings") and isinstance(value, list) and len(value) == 2:
        return (float(value[0]), float(value[1]))
    if key in ("cross_loadings", "residual_corr", "factor_corr") and isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            parts = tuple(s.strip() for s in str(k).split(","))
            if len(parts) != 2:
                raise SpecificationError(f"{key}: key {k!r} must name a pair as 'a, b'")
            out[parts] = float(v)
        return out
    return value


_POOL_CACHE: dict[str, Any] = {}


def _load_pool_cached(path: str):
    from allyscale.pool import load_pool

    if path not in _POOL_CACHE:
        _POOL_CACHE[path] = load_pool(path)
    return _POOL_CACHE[path]


def _population_keywords() -> set[str]:
    from allyscale.simulate import PopulationModel

    names = set()
    for builder in (PopulationModel.from_pool, PopulationModel.from_lavaan):
        names |= {p for p in inspect.signature(builder).parameters if p not in ("cls", "pool", "syntax")}
    return names


def load_study(source: str | Path | Mapping) -> StudySpec:
    """Read and validate a study spec (a YAML file, YAML text or a mapping).

    Parameters
    ----------
    source : path, str or mapping
        A ``.yaml`` file, YAML text, or the already-parsed mapping. Relative ``pool:``
        paths are resolved against the file's folder (else the working directory).

    Returns
    -------
    StudySpec

    Raises
    ------
    SpecificationError
        Unknown or missing keys, wrong types, unknown population options, a model or
        structure that cannot be built — the message names the key at fault.
    """
    import yaml

    base = Path.cwd()
    where = "<dict>"
    if isinstance(source, Mapping):
        raw = copy.deepcopy(dict(source))
    else:
        text = str(source)
        p = Path(text)
        if "\n" not in text and p.suffix in (".yaml", ".yml"):
            if not p.is_file():
                raise SpecificationError(f"study file {text!r} does not exist")
            text, base, where = p.read_text(encoding="utf-8"), p.resolve().parent, str(p)
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SpecificationError(f"{where}: not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise SpecificationError(f"{where}: a study is a YAML mapping with keys population/pool, analysis, "
                                     "conditions, reps, seed")
    pop_keys = _population_keywords()
    unknown = sorted(set(raw) - _TOP_KEYS - pop_keys)
    if unknown:
        raise SpecificationError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)} and the "
                                 f"population options {sorted(pop_keys)}")
    population, pool = raw.get("population"), raw.get("pool")
    if (population is None) == (pool is None):
        raise SpecificationError(f"{where}: give exactly one of 'population' (lavaan syntax) or 'pool' (pool file)")
    if population is not None and not isinstance(population, str):
        raise SpecificationError(f"{where}: 'population' must be lavaan syntax text")
    if pool is not None:
        if not isinstance(pool, str):
            raise SpecificationError(f"{where}: 'pool' must be the path of an item pool file")
        pool_path = Path(pool) if Path(pool).is_absolute() else base / pool
        if not pool_path.is_file():
            raise SpecificationError(f"{where}: pool file {str(pool_path)!r} (key 'pool') does not exist")
        pool = str(pool_path)
    options = {k: raw[k] for k in raw if k in pop_keys}
    for k in ("pool", "syntax"):
        options.pop(k, None)
    # conditions
    conds = raw.get("conditions", {"n": [500]})
    if not isinstance(conds, dict) or not conds:
        raise SpecificationError(f"{where}: 'conditions' must be a mapping such as {{n: [200, 500]}}")
    conditions: dict[str, list] = {}
    for k, v in conds.items():
        if k != "n" and k not in pop_keys:
            raise SpecificationError(f"{where}: conditions.{k}: not 'n' nor a population option "
                                     f"({sorted(pop_keys)})")
        vals = v if isinstance(v, list) else [v]
        if not vals:
            raise SpecificationError(f"{where}: conditions.{k} is an empty list")
        conditions[str(k)] = vals
    if "n" not in conditions:
        raise SpecificationError(f"{where}: conditions.n (the sample sizes) is required")
    for n in conditions["n"]:
        if not isinstance(n, int) or isinstance(n, bool) or n < 2:
            raise SpecificationError(f"{where}: conditions.n: {n!r} is not a sample size (integer >= 2)")
    overlap = sorted(set(conditions) & set(options))
    if overlap:
        raise SpecificationError(f"{where}: {overlap} given both as a fixed option and as a condition")
    reps, seed = raw.get("reps", 100), raw.get("seed")
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        raise SpecificationError(f"{where}: 'reps' must be a positive integer, got {reps!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SpecificationError(f"{where}: 'seed' (a non-negative integer) is required, got {seed!r}")
    # analysis
    an = raw.get("analysis", {}) or {}
    if not isinstance(an, dict):
        raise SpecificationError(f"{where}: 'analysis' must be a mapping")
    bad = sorted(set(an) - _ANALYSIS_KEYS)
    if bad:
        raise SpecificationError(f"{where}: unknown key(s) analysis.{bad}; allowed: {sorted(_ANALYSIS_KEYS)}")
    models = _models(an.get("models", {}), pool, where)
    estimator = str(an.get("estimator", "ML")).upper()
    if estimator not in _ESTIMATORS:
        raise SpecificationError(f"{where}: analysis.estimator {estimator!r} is not one of {sorted(_ESTIMATORS)}")
    retention = an.get("retention", [])
    retention = [retention] if isinstance(retention, str) else list(retention or [])
    for r in retention:
        if r not in _RETENTION:
            raise SpecificationError(f"{where}: analysis.retention: {r!r} is not one of {sorted(_RETENTION)}")
    retention_corr = str(an.get("retention_corr", "pearson"))
    if retention_corr not in ("pearson", "polychoric"):
        raise SpecificationError(f"{where}: analysis.retention_corr must be pearson or polychoric")
    parallel_iter = an.get("parallel_iter", 20)
    if not isinstance(parallel_iter, int) or isinstance(parallel_iter, bool) or parallel_iter < 1:
        raise SpecificationError(f"{where}: analysis.parallel_iter must be a positive integer, got {parallel_iter!r}")
    true_model = an.get("true_model")
    if true_model is None and models:
        structure = options.get("structure", "correlated")
        true_model = structure if (pool is not None and structure in models) else next(iter(models))
    if true_model is not None and true_model not in models:
        raise SpecificationError(f"{where}: analysis.true_model {true_model!r} is not one of the models "
                                 f"{list(models)}")
    fit_options = an.get("fit_options", {}) or {}
    if not isinstance(fit_options, dict):
        raise SpecificationError(f"{where}: analysis.fit_options must be a mapping of cfa() keywords")
    interest = an.get("interest", []) or []
    interest = [interest] if isinstance(interest, str) else [str(x).replace(" ", "") for x in interest]
    reliability = bool(an.get("reliability", False))
    if not models and not retention:
        raise SpecificationError(f"{where}: analysis has nothing to do: give analysis.models and/or "
                                 "analysis.retention")
    if reliability and not models:
        raise SpecificationError(f"{where}: analysis.reliability needs analysis.models (it uses the true model)")
    spec = StudySpec(population=population, pool=pool, population_options=options, models=models,
                     true_model=true_model, estimator=estimator, retention=tuple(retention),
                     retention_corr=retention_corr, parallel_iter=parallel_iter, reliability=reliability,
                     true_factors=an.get("true_factors"), interest=tuple(interest), fit_options=fit_options,
                     conditions=conditions, reps=reps, seed=seed, name=str(raw.get("name", "study")),
                     source=where, raw=raw)
    # build every population once so impossible values fail now, naming the condition
    for i, cond in enumerate(spec.condition_list):
        try:
            spec.population_model(cond)
        except (AllyscaleError, TypeError, ValueError) as exc:
            raise SpecificationError(f"{where}: condition {i} {cond}: {exc}") from None
    return spec


def _models(models: Any, pool: str | None, where: str) -> dict[str, str]:
    if isinstance(models, (list, tuple)):
        if pool is None:
            raise SpecificationError(f"{where}: analysis.models as a list of structure names needs 'pool'")
        models = {m: m for m in models}
    if not isinstance(models, dict):
        raise SpecificationError(f"{where}: analysis.models must map model names to lavaan syntax "
                                 "(or to pool structure names)")
    out = {}
    for name, value in models.items():
        if not isinstance(value, str) or not value.strip():
            raise SpecificationError(f"{where}: analysis.models.{name} must be lavaan syntax or a structure name")
        if "=~" in value:
            from allyscale.syntax import parse_model

            try:
                parse_model(value)
            except AllyscaleError as exc:
                raise SpecificationError(f"{where}: analysis.models.{name}: {exc}") from None
            out[str(name)] = value
        else:
            if pool is None:
                raise SpecificationError(f"{where}: analysis.models.{name}: {value!r} is neither lavaan syntax nor "
                                         "usable as a structure name without 'pool'")
            try:
                out[str(name)] = _load_pool_cached(pool).model_syntax(value.strip())
            except AllyscaleError as exc:
                raise SpecificationError(f"{where}: analysis.models.{name}: {exc}") from None
    return out


# ---------------------------------------------------------------------- one replication
def _cfa_function():
    try:
        module = importlib.import_module("allyscale.cfa")
    except ModuleNotFoundError:
        raise SpecificationError("this study fits CFA models but allyscale.cfa is not available in this "
                                 "installation; remove analysis.models or install a version with cfa()") from None
    return module.cfa


def _reliability_function():
    try:
        module = importlib.import_module("allyscale.reliability")
    except ModuleNotFoundError:
        raise SpecificationError("analysis.reliability is true but allyscale.reliability is not available in this "
                                 "installation") from None
    return module.reliability


def replication_seed(seed: int, condition: int, rep: int) -> np.random.SeedSequence:
    """The seed sequence of one replication: a function of (seed, condition, rep) alone."""
    return np.random.SeedSequence(seed, spawn_key=(condition, rep))


def _scalar(x: Any) -> Any:
    if x is None:
        return None
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    return x


def _fit_model(cfa, data: pd.DataFrame, syntax: str, estimator: str, options: dict) -> tuple[dict, Any]:
    t0 = time.perf_counter()
    rec: dict[str, Any] = {"converged": False, "proper": None, "error": None}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = cfa(data, syntax, estimator=estimator, **{"std_lv": True, **options})
        except (AllyscaleError, np.linalg.LinAlgError, ValueError, FloatingPointError, ArithmeticError) as exc:
            rec["error"] = f"{type(exc).__name__}: {exc}"
            rec["seconds"] = time.perf_counter() - t0
            return rec, None
    rec["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught})[:5]
    rec["converged"] = bool(getattr(res, "converged", False))
    fm = res.fit_measures
    fm = dict(fm.items()) if hasattr(fm, "items") else dict(fm)
    rec["measures"] = {k: _scalar(fm.get(k)) for k in FIT_MEASURES if k in fm}
    est = res.estimates
    cols = [c for c in ("lhs", "op", "rhs", "est", "se", "pvalue", "std_all") if c in est.columns]
    rows = est[cols]
    rec["estimates"] = [{c: _scalar(v) for c, v in zip(cols, r)} for r in rows.itertuples(index=False)]
    diag = getattr(res, "diagnostics", {}) or {}
    rec["proper"] = _proper(rows) and not diag.get("heywood") and not diag.get("nonpd_latent")
    if diag.get("heywood"):
        rec["heywood"] = [str(v) for v in diag["heywood"]]
    rec["seconds"] = time.perf_counter() - t0
    return rec, res


def _proper(est: pd.DataFrame) -> bool:
    """No Heywood case: no negative variance estimate and no standardized loading beyond ±1."""
    var = est[(est["op"] == "~~") & (est["lhs"] == est["rhs"])]
    if (pd.to_numeric(var["est"], errors="coerce") < 0).any():
        return False
    if "std_all" in est.columns:
        lam = pd.to_numeric(est.loc[est["op"] == "=~", "std_all"], errors="coerce")
        if (lam.abs() > 1).any():
            return False
    return True


def replicate(spec: StudySpec | dict, condition: int, rep: int) -> dict:
    """Run one replication (pure: its result depends on (spec, condition, rep) only).

    Returns a JSON-serialisable payload with the per-model fits, the retention
    decisions, reliability, timing and any error. Analysis failures are recorded in the
    payload, never raised, so a failed replication is stored as such.
    """
    from allyscale.simulate import simulate

    if isinstance(spec, dict):
        spec = load_study(spec)
    t0 = time.perf_counter()
    cond = spec.condition_list[condition]
    ss = replication_seed(spec.seed, condition, rep)
    data_seq, pa_seq = ss.spawn(2)
    out: dict[str, Any] = {"condition": condition, "rep": rep, "fits": {}, "retention": {}, "reliability": [],
                           "error": None}
    try:
        pm = spec.population_model(cond)
        data = simulate(pm, int(cond["n"]), rng=np.random.default_rng(data_seq))
        if spec.pool is not None:
            from allyscale.scoring import reverse_score

            data = reverse_score(data, _load_pool_cached(spec.pool))
    except AllyscaleError as exc:
        out["error"] = f"simulation: {type(exc).__name__}: {exc}"
        out["seconds"] = time.perf_counter() - t0
        return out
    for rule in spec.retention:
        from allyscale import retention

        try:
            if rule == "parallel":
                pa_seed = int(pa_seq.generate_state(1)[0])
                out["retention"]["parallel"] = int(retention.parallel_analysis(
                    data, seed=pa_seed, corr=spec.retention_corr, n_iter=spec.parallel_iter).n_factors)
            else:
                out["retention"]["map"] = int(retention.map_test(data, corr=spec.retention_corr).n_factors)
        except (AllyscaleError, np.linalg.LinAlgError, ValueError) as exc:
            out["retention"][rule] = None
            out.setdefault("retention_errors", {})[rule] = f"{type(exc).__name__}: {exc}"
    true_fit = None
    if spec.models:
        cfa = _cfa_function()
        for name, syntax in spec.models.items():
            out["fits"][name], res = _fit_model(cfa, data, syntax, spec.estimator, spec.fit_options)
            if name == spec.true_model:
                true_fit = res
    if spec.reliability:
        rel = _reliability_function()
        if true_fit is None or not out["fits"][spec.true_model]["converged"]:
            out["reliability_error"] = "the true model did not converge; no reliability computed"
        else:
            try:
                table = rel(data, spec.models[spec.true_model], estimator=spec.estimator, fit=true_fit)
                table = table.rename_axis("factor").reset_index()
                out["reliability"] = [{str(k): _scalar(v) for k, v in row.items()}
                                      for row in table.to_dict("records")]
            except (AllyscaleError, np.linalg.LinAlgError, ValueError) as exc:
                out["reliability_error"] = f"{type(exc).__name__}: {exc}"
    out["seconds"] = time.perf_counter() - t0
    return out


# ----------------------------------------------------------------------------- store
class _Store:
    """The SQLite results store (WAL; written by the parent process only)."""

    def __init__(self, path: str | Path, spec: StudySpec | None = None):
        self.path = str(path)
        exists = Path(self.path).exists()
        if spec is None and not exists:
            raise SpecificationError(f"results store {self.path!r} does not exist")
        self.con = sqlite3.connect(self.path, timeout=30)
        try:
            self.con.execute("PRAGMA journal_mode=WAL")
            self.con.execute("PRAGMA synchronous=NORMAL")
            tables = {r[0] for r in self.con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        except sqlite3.DatabaseError as exc:
            raise SpecificationError(f"{self.path!r} is not an allyscale results store: {exc}") from None
        if spec is None:
            if "meta" not in tables:
                raise SpecificationError(f"{self.path!r} is not an allyscale results store (no 'meta' table)")
            return
        if "meta" in tables:
            stored = self.meta().get("spec_hash")
            if stored is None:
                raise SpecificationError(f"{self.path!r} is not an allyscale results store")
            if stored != spec.hash():
                raise SpecificationError(
                    f"results store {self.path!r} belongs to a different study spec (hash {stored[:12]} vs "
                    f"{spec.hash()[:12]}); use a new --store or the original spec (only 'reps' may change)")
            with self.con:
                self.con.execute("UPDATE meta SET value=? WHERE key='spec'", (json.dumps(spec.to_dict()),))
            return
        if tables:
            raise SpecificationError(f"{self.path!r} is an SQLite file but not an allyscale results store")
        with self.con:
            self.con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self.con.execute("CREATE TABLE results (condition INTEGER NOT NULL, rep INTEGER NOT NULL, "
                             "payload TEXT NOT NULL, PRIMARY KEY (condition, rep))")
            self.con.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("spec_hash", spec.hash()), ("spec", json.dumps(spec.to_dict())),
                ("store_version", str(_STORE_VERSION))])

    def meta(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT key, value FROM meta"))

    def spec_dict(self) -> dict:
        return json.loads(self.meta()["spec"])

    def done(self) -> set[tuple[int, int]]:
        return {(c, r) for c, r in self.con.execute("SELECT condition, rep FROM results")}

    def write(self, payload: dict) -> None:
        with self.con:  # one transaction per replication
            self.con.execute("INSERT OR IGNORE INTO results VALUES (?, ?, ?)",
                             (payload["condition"], payload["rep"], json.dumps(payload, allow_nan=False)))

    def payloads(self) -> Iterable[dict]:
        for (text,) in self.con.execute("SELECT payload FROM results ORDER BY condition, rep"):
            yield json.loads(text)

    def close(self) -> None:
        self.con.close()


# ---------------------------------------------------------------------------- runner
_LIMITER = None


def _worker_init() -> None:
    """Pin BLAS/OpenMP to one thread in a worker (small fits are many times slower with more)."""
    global _LIMITER
    for var in _BLAS_ENV:
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    _LIMITER = threadpool_limits(1)


_SPEC_CACHE: dict[str, StudySpec] = {}


def _worker_run(spec_dict: dict, condition: int, rep: int) -> dict:
    if _LIMITER is None:
        _worker_init()
    key = json.dumps(spec_dict, sort_keys=True, default=str)
    if key not in _SPEC_CACHE:
        _SPEC_CACHE[key] = load_study(spec_dict)
    return replicate(_SPEC_CACHE[key], condition, rep)


@dataclass(frozen=True)
class RunReport:
    """What :func:`run_study` did."""

    store: str
    total: int
    already_done: int
    ran: int
    seconds: float
    engine: str
    workers: int

    def summary(self) -> str:
        per = self.seconds / self.ran if self.ran else float("nan")
        return (f"{self.store}: {self.already_done + self.ran}/{self.total} replications stored "
                f"({self.ran} run now on {self.engine} with {self.workers} worker(s), {self.seconds:.1f} s, "
                f"{per:.3f} s per replication)")

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def run_study(study: StudySpec | str | Path | Mapping, store: str | Path, *, workers: int = 1,
              dask: str | None = None, progress: bool = True, reps: int | None = None) -> RunReport:
    """Run (or resume) a Monte Carlo study, storing each replication as it finishes.

    Parameters
    ----------
    study : StudySpec, path, YAML text or mapping
    store : path
        SQLite results store; created if missing. An existing store must belong to the
        same spec (everything except ``reps``); finished replications are not re-run.
    workers : int
        Number of worker processes (1: run in this process). With ``dask="local"`` the
        number of Dask workers.
    dask : str, optional
        ``"local"`` starts a ``distributed.LocalCluster``; any other value is the address
        of an existing scheduler to join.
    progress : bool
        Show a tqdm progress bar with ETA.
    reps : int, optional
        Override the spec's number of replications (e.g. to extend a study).

    Returns
    -------
    RunReport

    Raises
    ------
    SpecificationError
        Invalid spec, a store of another study, an analysis not available.
    """
    spec = study if isinstance(study, StudySpec) else load_study(study)
    if reps is not None:
        spec = load_study({**spec.raw, "reps": reps, "pool": spec.pool} if spec.pool else {**spec.raw, "reps": reps})
    if workers < 1:
        raise SpecificationError(f"workers must be at least 1, got {workers}")
    if spec.models:
        _cfa_function()
    if spec.reliability:
        _reliability_function()
    db = _Store(store, spec)
    t0 = time.perf_counter()
    try:
        done = db.done()
        todo = [(c, r) for r in range(spec.reps) for c in range(len(spec.condition_list)) if (c, r) not in done]
        total = spec.reps * len(spec.condition_list)
        already = total - len(todo)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=already, unit="rep", desc=spec.name, dynamic_ncols=True)
        spec_dict = {**spec.raw, "pool": spec.pool} if spec.pool else dict(spec.raw)
        spec_dict["reps"] = spec.reps
        engine = "process" if workers > 1 else "serial"

        def store_one(payload: dict) -> None:
            db.write(payload)
            if bar is not None:
                bar.update(1)

        if dask is not None:
            engine = "dask"
            _run_dask(spec_dict, todo, dask, workers, store_one)
        elif workers == 1:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):
                for c, r in todo:
                    store_one(replicate(spec, c, r))
        else:
            _run_processes(spec_dict, todo, workers, store_one)
        if bar is not None:
            bar.close()
        return RunReport(db.path, total, already, len(todo), time.perf_counter() - t0, engine, workers)
    finally:
        db.close()


class _BlasEnv:
    """Set the BLAS thread variables while worker processes start (they inherit the environment)."""

    def __enter__(self):
        self.saved = {v: os.environ.get(v) for v in _BLAS_ENV}
        for v in _BLAS_ENV:
            os.environ[v] = "1"

    def __exit__(self, *exc):
        for v, old in self.saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _run_processes(spec_dict: dict, todo: list, workers: int, store_one) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    ctx = multiprocessing.get_context("spawn")
    with _BlasEnv(), ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
        it = iter(todo)
        pending = set()
        for job in itertools.islice(it, 4 * workers):
            pending.add(pool.submit(_worker_run, spec_dict, *job))
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in finished:
                store_one(fut.result())
                nxt = next(it, None)
                if nxt is not None:
                    pending.add(pool.submit(_worker_run, spec_dict, *nxt))


def _run_dask(spec_dict: dict, todo: list, address: str, workers: int, store_one) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ModuleNotFoundError:
        raise SpecificationError("--dask needs the 'distributed' package (pip install 'dask[distributed]')") from None
    cluster = None
    with _BlasEnv():
        if address == "local":
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
        else:
            try:
                client = Client(address, timeout="20s")
            except OSError as exc:
                raise SpecificationError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
    try:
        client.run(_worker_init)
        futures = [client.submit(_worker_run, spec_dict, c, r, pure=False, key=f"allyscale-rep-{c}-{r}-{i}")
                   for i, (c, r) in enumerate(todo)]
        for fut in as_completed(futures):
            store_one(fut.result())
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------------- export
def _open_store(store: str | Path) -> tuple[_Store, StudySpec]:
    db = _Store(store)
    spec_dict = db.spec_dict()
    raw = {k: v for k, v in spec_dict.items() if k not in ("source",)}
    # rebuild the spec from its stored normalised form
    spec = StudySpec(population=raw["population"], pool=raw["pool"], population_options=raw["population_options"],
                     models=raw["models"], true_model=raw["true_model"], estimator=raw["estimator"],
                     retention=tuple(raw["retention"]), retention_corr=raw["retention_corr"],
                     parallel_iter=raw.get("parallel_iter", 20),
                     reliability=raw["reliability"], true_factors=raw["true_factors"],
                     interest=tuple(raw["interest"]), fit_options=raw["fit_options"],
                     conditions=raw["conditions"], reps=raw["reps"], seed=raw["seed"], name=raw["name"],
                     source=spec_dict.get("source", "<store>"))
    return db, spec


def export_study(store: str | Path) -> dict[str, pd.DataFrame]:
    """The stored replications as tidy tables.

    Returns
    -------
    dict of DataFrame
        ``reps``: one row per condition × replication × model (``condition``, the
        condition columns such as ``n``, ``rep``, ``model``, ``converged``, ``proper``,
        every fit measure, ``seconds``, ``error``, and per replication the retention
        decisions ``n_factors_parallel`` / ``n_factors_map``, the replication's
        ``rep_seconds`` and ``rep_error``); a replication without models has one row with
        ``model`` empty. ``estimates``: long format, one row per condition ×
        replication × model × parameter (``lhs, op, rhs, est, se, pvalue, std_all``).
        ``reliability``: one row per condition × replication × factor of the true model.
    """
    db, spec = _open_store(store)
    try:
        conds = spec.condition_list
        rep_rows, est_rows, rel_rows = [], [], []
        for p in db.payloads():
            c, r = p["condition"], p["rep"]
            base = {"condition": c, **{k: _cond_value(v) for k, v in conds[c].items()}, "rep": r}
            ret = {f"n_factors_{k}": v for k, v in p.get("retention", {}).items()}
            tail = {"rep_seconds": p.get("seconds"), "rep_error": p.get("error")}
            if not p["fits"]:
                rep_rows.append({**base, "model": None, **ret, **tail})
            for name, f in p["fits"].items():
                row = {**base, "model": name, "converged": f.get("converged"), "proper": f.get("proper")}
                row.update({k: (f.get("measures") or {}).get(k) for k in FIT_MEASURES})
                row.update({"seconds": f.get("seconds"), "error": f.get("error"),
                            "warnings": "; ".join(f.get("warnings", [])) or None})
                rep_rows.append({**row, **ret, **tail})
                for e in f.get("estimates", []) or []:
                    est_rows.append({**base, "model": name, **e})
            for row in p.get("reliability", []):
                rel_rows.append({**base, "model": spec.true_model, **row})
        reps = pd.DataFrame(rep_rows)
        for col in FIT_MEASURES:
            if col in reps:
                reps[col] = pd.to_numeric(reps[col], errors="coerce").astype(float)
        return {"reps": reps, "estimates": pd.DataFrame(est_rows), "reliability": pd.DataFrame(rel_rows)}
    finally:
        db.close()


def _cond_value(v: Any) -> Any:
    return v if isinstance(v, (int, float, str, bool)) or v is None else json.dumps(v)


# ---------------------------------------------------------------------------- summary
def population_values(spec: StudySpec, condition: Mapping[str, Any]) -> dict[tuple[str, str, str], float]:
    """Population values of the true model's parameters in the ``std_lv`` metric.

    Latent variables are scaled to unit (residual) variance, as ``cfa(..., std_lv=True)``
    (lavaan ``std.lv = TRUE``) identifies them: an endogenous factor whose disturbance
    variance is ``d`` has its item loadings multiplied, and its regressions on other
    factors divided, by ``sqrt(d)``. Items are on the latent-response (unit variance)
    metric, the metric of standardized ordinal and standardized continuous data alike.
    """
    pm = spec.population_model(condition)
    m = pm.matrices
    lv, ov = m.lv, m.ov
    endo = np.abs(m.beta).sum(axis=1) > 0
    scale = np.where(endo, np.sqrt(np.clip(np.diag(m.psi), 1e-300, None)), 1.0)
    out: dict[tuple[str, str, str], float] = {}
    for j, f in enumerate(lv):
        for i, v in enumerate(ov):
            if m.lambda_[i, j] != 0:
                out[(f, "=~", v)] = float(m.lambda_[i, j] * scale[j])
        for k, g in enumerate(lv):
            if m.beta[k, j] != 0:  # g regressed on f, lavaan writes f =~ g
                out[(f, "=~", g)] = float(m.beta[k, j] * scale[j] / scale[k])
    for a in range(len(lv)):
        for b in range(a + 1, len(lv)):
            if not endo[a] and not endo[b]:
                out[(lv[a], "~~", lv[b])] = float(m.psi[a, b] / np.sqrt(m.psi[a, a] * m.psi[b, b]))
    for i, v in enumerate(ov):
        out[(v, "~~", v)] = float(m.theta[i, i])
    return out


@dataclass(frozen=True)
class StudySummary:
    """Summaries of a Monte Carlo study (simsem / Mplus style).

    Attributes
    ----------
    models : DataFrame
        Per condition × model: replications, convergence and proper-solution rates,
        mean fit measures, rejection rates at the Hu & Bentler (1999) cutoffs (among
        converged replications).
    selection : DataFrame
        Per condition × competitor: how often the true model beats it by chi-square
        difference (competitor rejected at .05, ML/MLR naive difference, needs more df),
        BIC (lower) and CFI (higher).
    retention : DataFrame
        Per condition × rule: proportion choosing the true number of factors, mean choice.
    parameters : DataFrame
        Per condition × true-model parameter: population value, mean estimate, relative
        bias, SD, mean SE, SE bias, 95% coverage, power (p < .05).
    sample_size : DataFrame
        Per combination of the non-``n`` conditions: the smallest N meeting Muthén &
        Muthén (2002) criteria, or NaN.
    reliability : DataFrame
        Mean reliability coefficients per condition and factor.
    """

    models: pd.DataFrame
    selection: pd.DataFrame
    retention: pd.DataFrame
    parameters: pd.DataFrame
    sample_size: pd.DataFrame
    reliability: pd.DataFrame
    spec: dict = field(repr=False)

    def summary(self) -> str:
        parts = [f"Monte Carlo study {self.spec.get('name')!r}: estimator {self.spec.get('estimator')}, "
                 f"true model {self.spec.get('true_model')}"]
        for title, df in (("Models", self.models), ("Model selection", self.selection),
                          ("Retention", self.retention), ("Minimum sample size (Muthén & Muthén, 2002)",
                                                          self.sample_size)):
            if len(df):
                parts += ["", title, df.to_string(index=False, float_format=lambda x: f"{x:.3f}")]
        if len(self.parameters):
            agg = self.parameters.groupby("condition").agg(
                n=("n", "first"), max_abs_rel_bias=("rel_bias", lambda s: s.abs().max()),
                max_abs_se_bias=("se_bias", lambda s: s.abs().max()),
                min_coverage=("coverage", "min"), max_coverage=("coverage", "max"), min_power=("power", "min"))
            parts += ["", "Parameters (worst case per condition)", agg.to_string(float_format=lambda x: f"{x:.3f}")]
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        html = [f"<h4>Monte Carlo study {self.spec.get('name')}</h4>"]
        for title, df in (("Models", self.models), ("Model selection", self.selection),
                          ("Retention", self.retention), ("Parameters", self.parameters),
                          ("Minimum sample size", self.sample_size)):
            if len(df):
                html += [f"<h5>{title}</h5>", df.to_html(index=False, float_format=lambda x: f"{x:.3f}")]
        return "\n".join(html)

    def to_dict(self) -> dict:
        def rec(df):
            return json.loads(df.to_json(orient="records"))

        return {"spec": self.spec, "models": rec(self.models), "selection": rec(self.selection),
                "retention": rec(self.retention), "parameters": rec(self.parameters),
                "sample_size": rec(self.sample_size), "reliability": rec(self.reliability)}

    def plots(self) -> dict[str, Any]:
        """Matplotlib figures: ``power`` (power per parameter over N) and ``acceptance``
        (proportion of converged fits *not* rejected by each cutoff over N, per model)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt

        figs = {}
        if len(self.parameters):
            fig, ax = plt.subplots(figsize=(6, 4))
            for label, g in self.parameters.groupby("parameter"):
                g = g.groupby("n")["power"].mean()
                ax.plot(g.index, g.to_numpy(), marker="o", lw=1, alpha=0.6, label=label)
            ax.axhline(0.8, color="k", ls="--", lw=1)
            ax.set(xlabel="N", ylabel="power (p < .05)", ylim=(0, 1.02), title="Power by sample size")
            if self.parameters["parameter"].nunique() <= 12:
                ax.legend(fontsize=7)
            figs["power"] = fig
        if len(self.models):
            cols = [c for c in self.models.columns if c.startswith("reject_")]
            fig, axes = plt.subplots(1, max(len(cols), 1), figsize=(3 * max(len(cols), 1), 3.2), sharey=True,
                                     squeeze=False)
            for ax, col in zip(axes[0], cols):
                for model, g in self.models.groupby("model"):
                    g = g.groupby("n")[col].mean()
                    ax.plot(g.index, 1 - g.to_numpy(), marker="o", label=model)
                ax.set(xlabel="N", title=col.replace("reject_", "accept: "), ylim=(-0.02, 1.02))
            axes[0][0].set_ylabel("proportion accepted")
            axes[0][-1].legend(fontsize=7)
            fig.tight_layout()
            figs["acceptance"] = fig
        return figs

    def save(self, out: str | Path) -> list[Path]:
        """Write tables (CSV), summary.json, summary.txt and the plots (PNG + SVG) into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name in ("models", "selection", "retention", "parameters", "sample_size", "reliability"):
            path = out / f"{name}.csv"
            getattr(self, name).to_csv(path, index=False)
            written.append(path)
        (out / "summary.json").write_text(json.dumps(self.to_dict(), indent=2), encoding="utf-8")
        (out / "summary.txt").write_text(self.summary() + "\n", encoding="utf-8")
        written += [out / "summary.json", out / "summary.txt"]
        import matplotlib.pyplot as plt

        for name, fig in self.plots().items():
            for ext in ("png", "svg"):
                fig.savefig(out / f"{name}.{ext}", dpi=120)
                written.append(out / f"{name}.{ext}")
            plt.close(fig)
        return written


def _reject(df: pd.DataFrame, index: str) -> pd.Series:
    direction, cut = CUTOFFS[index]
    x = df[index]
    return (x < cut) if direction == "<" else (x > cut)


def summarize_study(store: str | Path, *, alpha: float = 0.05) -> StudySummary:
    """Summarise a results store.

    Conventions: every rate is over the converged replications of the condition × model
    (non-converged fits never contribute fit statistics) except the convergence rate;
    rates of proper solutions are over converged fits. Parameter summaries use the
    true model's converged, proper replications. Relative bias = (mean est − θ) / θ
    (for θ = 0 the raw bias); SE bias = (mean SE − SD(est)) / SD(est) with SD using
    N − 1; coverage = share of Wald intervals ``est ± z(.975)·SE`` containing θ; power =
    share with p < ``alpha`` (for θ ≠ 0; for θ = 0 it is the type-I error rate).
    For WLSMV the robust ``.scaled`` chi-square p-value is used when present.

    References
    ----------
    Muthén & Muthén (2002); Hu & Bentler (1999); Pornprasertmanit et al. (2021, simsem).
    """
    from scipy.stats import chi2, norm

    tables = export_study(store)
    db, spec = _open_store(store)
    db.close()
    reps = tables["reps"]
    cond_cols = list(spec.conditions)
    models_rows, sel_rows, ret_rows, par_rows, rel_rows = [], [], [], [], []
    conds = spec.condition_list
    if len(reps) and spec.models:
        fits = reps[reps["model"].notna()].copy()
        if "pvalue.scaled" in fits and fits["pvalue.scaled"].notna().any():
            fits["pvalue"] = fits["pvalue.scaled"].where(fits["pvalue.scaled"].notna(), fits["pvalue"])
        for (c, model), g in fits.groupby(["condition", "model"], sort=True):
            conv = g[g["converged"] == True]  # noqa: E712 - object column of bools / None
            row = {"condition": c, **{k: _cond_value(conds[c][k]) for k in cond_cols}, "model": model,
                   "replications": len(g), "failed": int(g["error"].notna().sum()),
                   "converged": float(len(conv) / len(g)),
                   "proper": float(conv["proper"].astype(bool).mean()) if len(conv) else np.nan}
            for k in ("chisq", "df", "cfi", "tli", "rmsea", "srmr"):
                row[f"mean_{k}"] = float(conv[k].mean()) if len(conv) else np.nan
            for k in CUTOFFS:
                row[f"reject_{k}"] = float(_reject(conv, k).mean()) if len(conv) else np.nan
            models_rows.append(row)
        # model selection
        true = spec.true_model
        if true is not None and len(spec.models) > 1:
            wide = fits.set_index(["condition", "rep", "model"])
            for c in sorted(fits["condition"].unique()):
                for other in spec.models:
                    if other == true:
                        continue
                    a = wide.xs((c, true), level=("condition", "model"))
                    b = wide.xs((c, other), level=("condition", "model"))
                    both = a.add_suffix("_t").join(b.add_suffix("_o"), how="inner")
                    both = both[(both["converged_t"] == True) & (both["converged_o"] == True)]  # noqa: E712
                    row = {"condition": c, **{k: _cond_value(conds[c][k]) for k in cond_cols},
                           "true_model": true, "competitor": other, "both_converged": len(both)}
                    ddf = both["df_o"] - both["df_t"]
                    if spec.estimator == "ML" and len(both) and (ddf > 0).all():
                        p = chi2.sf(both["chisq_o"] - both["chisq_t"], ddf)
                        row["true_wins_chisq_diff"] = float((p < alpha).mean())
                    else:
                        row["true_wins_chisq_diff"] = np.nan
                    row["true_wins_bic"] = (float((both["bic_t"] < both["bic_o"]).mean())
                                            if len(both) and both["bic_t"].notna().all() else np.nan)
                    row["true_wins_cfi"] = float((both["cfi_t"] >= both["cfi_o"]).mean()) if len(both) else np.nan
                    sel_rows.append(row)
    # retention
    true_k = spec.true_factors
    if spec.retention:
        if true_k is None:
            pm = spec.population_model(conds[0])
            lam = pm.matrices.lambda_
            true_k = int((np.abs(lam).sum(axis=0) > 0).sum())
        per_rep = reps.drop_duplicates(["condition", "rep"])
        for c, g in per_rep.groupby("condition"):
            for rule in spec.retention:
                col = f"n_factors_{rule}"
                x = pd.to_numeric(g[col], errors="coerce")
                ret_rows.append({"condition": c, **{k: _cond_value(conds[c][k]) for k in cond_cols}, "rule": rule,
                                 "true_factors": true_k, "correct": float((x == true_k).mean()),
                                 "mean_factors": float(x.mean()), "failed": int(x.isna().sum())})
    # parameters
    est = tables["estimates"]
    if len(est) and spec.true_model is not None:
        z = norm.ppf(1 - alpha / 2)
        ok = reps[(reps["model"] == spec.true_model) & (reps["converged"] == True)  # noqa: E712
                  & (reps["proper"] == True)][["condition", "rep"]]  # noqa: E712
        e = est[est["model"] == spec.true_model].merge(ok, on=["condition", "rep"])
        for c, g in e.groupby("condition"):
            truth = population_values(spec, conds[c])
            for (lhs, op, rhs), h in g.groupby(["lhs", "op", "rhs"], sort=False):
                theta = truth.get((lhs, op, rhs), truth.get((rhs, op, lhs)) if op == "~~" else None)
                se = pd.to_numeric(h["se"], errors="coerce")
                if theta is None or se.isna().all() or (se == 0).all():
                    continue  # fixed parameter or no population value
                x = pd.to_numeric(h["est"], errors="coerce")
                sd = float(x.std(ddof=1)) if len(x) > 1 else np.nan
                mse = float(se.mean())
                cover = float(((x - z * se <= theta) & (theta <= x + z * se)).mean())
                pv = pd.to_numeric(h["pvalue"], errors="coerce") if "pvalue" in h else 2 * norm.sf(np.abs(x / se))
                par_rows.append({
                    "condition": c, **{k: _cond_value(conds[c][k]) for k in cond_cols},
                    "parameter": f"{lhs}{op}{rhs}", "lhs": lhs, "op": op, "rhs": rhs, "replications": len(h),
                    "population": theta, "mean_est": float(x.mean()),
                    "rel_bias": float((x.mean() - theta) / theta) if theta != 0 else float(x.mean() - theta),
                    "sd": sd, "mean_se": mse, "se_bias": (mse - sd) / sd if sd and sd > 0 else np.nan,
                    "coverage": cover, "power": float((pv < alpha).mean())})
    parameters = pd.DataFrame(par_rows)
    sample_size = _muthen_n(parameters, spec) if len(parameters) else pd.DataFrame()
    rel = tables["reliability"]
    if len(rel):
        num = [c for c in rel.columns if c not in ("condition", "rep", "model", *cond_cols)
               and pd.api.types.is_numeric_dtype(rel[c])]
        keys = [c for c in rel.columns if c not in num and c not in ("rep",)]
        rel_tab = rel.groupby(keys, dropna=False)[num].mean().reset_index()
    else:
        rel_tab = pd.DataFrame(rel_rows)
    return StudySummary(pd.DataFrame(models_rows), pd.DataFrame(sel_rows), pd.DataFrame(ret_rows), parameters,
                        sample_size, rel_tab, spec.to_dict())


def _muthen_n(parameters: pd.DataFrame, spec: StudySpec) -> pd.DataFrame:
    """Smallest N per setting of the other conditions where, for every free parameter, |relative bias| and
    |SE bias| < .10, coverage in [.91, .98], and for the parameters of interest (default: every parameter
    with a non-zero population value that is not a residual variance) |SE bias| < .05 and power >= .80."""
    others = [k for k in spec.conditions if k != "n"]
    p = parameters.copy()
    if spec.interest:
        p["interest"] = p["parameter"].isin(spec.interest)
    else:
        p["interest"] = (p["population"] != 0) & ~((p["op"] == "~~") & (p["lhs"] == p["rhs"]))
    ok_all = (p["rel_bias"].abs() < 0.10) & (p["se_bias"].abs() < 0.10) & p["coverage"].between(0.91, 0.98)
    ok_int = (~p["interest"]) | ((p["se_bias"].abs() < 0.05) & (p["power"] >= 0.80))
    p["ok"] = ok_all & ok_int
    rows = []
    groups = p.groupby(others, dropna=False) if others else [((), p)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        by_n = g.groupby("n")["ok"].all().sort_index()
        # the smallest N from which every larger N studied also meets the criteria
        n_min = np.nan
        for n in by_n.index[::-1]:
            if by_n[n]:
                n_min = n
            else:
                break
        worst = g.groupby("n").apply(lambda h: h.loc[~h["ok"], "parameter"].tolist()[:3], include_groups=False)
        rows.append({**dict(zip(others, key)), "n_min": n_min,
                     "failing_at_largest_n": worst.iloc[-1] if len(worst) else []})
    return pd.DataFrame(rows)
