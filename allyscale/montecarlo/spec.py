"""Study specs: YAML → validated :class:`StudySpec` (see ``studies/README.md``)."""

from __future__ import annotations

import copy
import hashlib
import inspect
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from allyscale import _caches
from allyscale.errors import AllyscaleError, SpecificationError

#: fit measures stored for every model (lavaan names); missing ones are stored as NaN
FIT_MEASURES = (
    "npar",
    "chisq",
    "df",
    "pvalue",
    "cfi",
    "tli",
    "rmsea",
    "srmr",
    "aic",
    "bic",
    "chisq.scaled",
    "df.scaled",
    "pvalue.scaled",
    "cfi.scaled",
    "tli.scaled",
    "rmsea.scaled",
    "cfi.robust",
    "tli.robust",
    "rmsea.robust",
)

#: conventional rejection rules (Hu & Bentler, 1999; chi-square at alpha = .05): index -> (direction, value)
CUTOFFS = {"pvalue": ("<", 0.05), "cfi": ("<", 0.95), "tli": ("<", 0.95), "rmsea": (">", 0.06), "srmr": (">", 0.08)}

_BLAS_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "ALLYSCALE_KERNEL_THREADS",  # allyscale's own split kernels (allyscale._threads.kernel_threads)
)
_TOP_KEYS = {"name", "description", "population", "pool", "analysis", "conditions", "reps", "seed", "groups"}
_GROUP_KEYS = {"variable", "levels", "shares", "changes"}
_CHANGE_KEYS = {"threshold_shift"}
_ANALYSIS_KEYS = {
    "models",
    "true_model",
    "estimator",
    "retention",
    "retention_corr",
    "parallel_iter",
    "reliability",
    "true_factors",
    "interest",
    "fit_options",
    "correct_structures",
    "invariance",
}
_ESTIMATORS = {"ML", "MLR", "WLSMV"}
_RETENTION = {"parallel", "map"}
_STORE_VERSION = 2  # 2: spec hash over the resolved population, a checksum per payload


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
    groups : dict or None
        ``variable`` (the group column), ``levels``, ``shares`` (of N, summing to 1) and
        ``changes`` (level → population changes: ``threshold_shift``, item → shift of every
        threshold of that item in that group, e.g. the leniency of one form). Each
        replication simulates every group from its own population.
    invariance : bool
        Fit the invariance sequence of the true model across the groups every replication.
    correct_structures : tuple of str
        Models whose choice as the preferred structure counts as right (default: the true
        model): e.g. a second-order model as well as correlated factors when all factor
        correlations are equal.
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
    correct_structures: tuple = ()
    groups: dict | None = None
    invariance: bool = False
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def condition_list(self) -> list[dict]:
        """Every crossed condition, in a fixed order (the index is the seed's spawn key)."""
        keys = list(self.conditions)
        return [dict(zip(keys, vals)) for vals in itertools.product(*(self.conditions[k] for k in keys))]

    def hash(self) -> str:
        """SHA-256 of everything that defines the results except ``reps`` (so a study can be extended).

        It covers the spec and the resolved population of every condition (the pool's
        content, not just its path: response scale, reverse keys, items), so a store
        cannot mix replications of two different populations.
        """
        content = {k: v for k, v in self.to_dict().items() if k not in ("reps", "source")}
        content["resolved_population"] = _resolved_population(self)
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "population": self.population,
            "pool": self.pool,
            "population_options": self.population_options,
            "models": self.models,
            "true_model": self.true_model,
            "estimator": self.estimator,
            "retention": list(self.retention),
            "retention_corr": self.retention_corr,
            "parallel_iter": self.parallel_iter,
            "reliability": self.reliability,
            "true_factors": self.true_factors,
            "interest": list(self.interest),
            "fit_options": self.fit_options,
            "conditions": self.conditions,
            "reps": self.reps,
            "seed": self.seed,
            "source": self.source,
            **({"correct_structures": list(self.correct_structures)} if self.correct_structures else {}),
            **({"groups": self.groups, "invariance": self.invariance} if self.groups else {}),
        }

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


_POOL_CACHE: dict[tuple, Any] = {}
_caches.register(
    "study_pools",
    "item pools read by Monte Carlo specs (re-read when the file changes)",
    lambda: len(_POOL_CACHE),
    _POOL_CACHE.clear,
)


def _load_pool_cached(path: str):
    """The pool at ``path``, read again whenever the file changed (a stale copy would give a wrong study)."""
    from allyscale.pool import load_pool

    try:
        st = Path(path).stat()
        key = (path, st.st_mtime_ns, st.st_size)
    except OSError:
        key = (path, None, None)
    if key not in _POOL_CACHE:
        for old in [k for k in _POOL_CACHE if k[0] == path]:
            del _POOL_CACHE[old]
        _POOL_CACHE[key] = load_pool(path)
    return _POOL_CACHE[key]


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
        raw = _read_yaml(text, where)
        if not isinstance(raw, dict):
            raise SpecificationError(
                f"{where}: a study is a YAML mapping with keys population/pool, analysis, conditions, reps, seed"
            )
    pop_keys = _population_keywords()
    unknown = sorted(set(raw) - _TOP_KEYS - pop_keys)
    if unknown:
        raise SpecificationError(
            f"{where}: unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)} and the "
            f"population options {sorted(pop_keys)}"
        )
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
            raise SpecificationError(f"{where}: conditions.{k}: not 'n' nor a population option ({sorted(pop_keys)})")
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
        raise SpecificationError(f"{where}: analysis.true_model {true_model!r} is not one of the models {list(models)}")
    fit_options = an.get("fit_options", {}) or {}
    if not isinstance(fit_options, dict):
        raise SpecificationError(f"{where}: analysis.fit_options must be a mapping of cfa() keywords")
    correct = an.get("correct_structures", []) or []
    correct = [correct] if isinstance(correct, str) else list(correct)
    unknown = [m for m in correct if m not in models]
    if unknown:
        raise SpecificationError(
            f"{where}: analysis.correct_structures {unknown} are not among the models {list(models)}"
        )
    interest = an.get("interest", []) or []
    interest = [interest] if isinstance(interest, str) else [str(x).replace(" ", "") for x in interest]
    reliability = bool(an.get("reliability", False))
    if not models and not retention:
        raise SpecificationError(f"{where}: analysis has nothing to do: give analysis.models and/or analysis.retention")
    if reliability and not models:
        raise SpecificationError(f"{where}: analysis.reliability needs analysis.models (it uses the true model)")
    spec = StudySpec(
        population=population,
        pool=pool,
        population_options=options,
        models=models,
        true_model=true_model,
        estimator=estimator,
        retention=tuple(retention),
        retention_corr=retention_corr,
        parallel_iter=parallel_iter,
        reliability=reliability,
        true_factors=an.get("true_factors"),
        interest=tuple(interest),
        fit_options=fit_options,
        conditions=conditions,
        reps=reps,
        seed=seed,
        name=str(raw.get("name", "study")),
        source=where,
        raw=raw,
        correct_structures=tuple(correct),
        groups=_groups(raw.get("groups"), where),
        invariance=bool(an.get("invariance", False)),
    )
    if spec.invariance and (spec.groups is None or spec.true_model is None):
        raise SpecificationError(f"{where}: analysis.invariance needs 'groups' and a true model (analysis.models)")
    _check_bounds(spec, where)
    _check_population_values(spec, where)
    _check_analysis_values(spec, where)
    # build every population once so impossible values fail now, naming the condition
    for i, cond in enumerate(spec.condition_list):
        try:
            spec.population_model(cond)
            if spec.groups is not None:
                group_populations(spec, cond)
        except (AllyscaleError, TypeError, ValueError) as exc:
            raise SpecificationError(f"{where}: condition {i} {cond}: {exc}") from None
    return spec


def _groups(raw: Any, where: str) -> dict | None:
    """The validated ``groups:`` block (see :class:`StudySpec`)."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SpecificationError(f"{where}: 'groups' must be a mapping with keys {sorted(_GROUP_KEYS)}")
    bad = sorted(set(raw) - _GROUP_KEYS)
    if bad:
        raise SpecificationError(f"{where}: unknown key(s) groups.{bad}; allowed: {sorted(_GROUP_KEYS)}")
    levels = raw.get("levels")
    if not isinstance(levels, list) or len(levels) < 2 or len({str(v) for v in levels}) != len(levels):
        raise SpecificationError(f"{where}: groups.levels must list at least two distinct group names")
    levels = [str(v) for v in levels]
    shares = raw.get("shares", [1 / len(levels)] * len(levels))
    if (
        not isinstance(shares, list)
        or len(shares) != len(levels)
        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in shares)
        or abs(sum(shares) - 1) > 1e-9
    ):
        raise SpecificationError(
            f"{where}: groups.shares must give one positive share per level, summing to 1 (got {shares!r})"
        )
    variable = str(raw.get("variable", "group"))
    changes = raw.get("changes", {}) or {}
    if not isinstance(changes, dict):
        raise SpecificationError(f"{where}: groups.changes must map a level to its population changes")
    out_changes: dict[str, dict] = {}
    for level, ch in changes.items():
        if str(level) not in levels:
            raise SpecificationError(f"{where}: groups.changes.{level}: not one of groups.levels {levels}")
        if not isinstance(ch, dict) or sorted(set(ch) - _CHANGE_KEYS):
            raise SpecificationError(f"{where}: groups.changes.{level}: allowed keys {sorted(_CHANGE_KEYS)}")
        shift = ch.get("threshold_shift", {}) or {}
        if not isinstance(shift, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in shift.values()
        ):
            raise SpecificationError(f"{where}: groups.changes.{level}.threshold_shift must map items to numbers")
        out_changes[str(level)] = {"threshold_shift": {str(k): float(v) for k, v in shift.items()}}
    return {"variable": variable, "levels": levels, "shares": [float(x) for x in shares], "changes": out_changes}


def group_populations(spec: StudySpec, condition: Mapping[str, Any]) -> list[tuple[str, int, Any]]:
    """(level, n, population) of every group of a groups study in one condition.

    Group sizes are ``round(share * n)`` with the rounding remainder given to the last group.
    A ``threshold_shift`` adds its value to every threshold of the item (in the scored
    direction): the item is answered more (positive shift: less) leniently in that group.
    """
    import dataclasses

    import numpy as np

    base = spec.population_model(condition)
    g = spec.groups
    n = int(condition["n"])
    sizes = [int(round(sh * n)) for sh in g["shares"][:-1]]
    sizes.append(n - sum(sizes))
    out = []
    for level, size in zip(g["levels"], sizes):
        pm = base
        shift = g["changes"].get(level, {}).get("threshold_shift", {})
        if shift:
            if base.thresholds is None:
                raise SpecificationError(
                    f"groups.changes.{level}.threshold_shift needs ordinal items (the population has no thresholds)"
                )
            th = np.array(base.thresholds, dtype=float, copy=True)
            for item, delta in shift.items():
                if item not in base.items:
                    raise SpecificationError(
                        f"groups.changes.{level}.threshold_shift: {item!r} is not an item of the population"
                    )
                th[base.items.index(item)] += delta
            pm = dataclasses.replace(base, thresholds=th)
        out.append((level, size, pm))
    return out


def _models(models: Any, pool: str | None, where: str) -> dict[str, str]:
    if isinstance(models, (list, tuple)):
        if pool is None:
            raise SpecificationError(f"{where}: analysis.models as a list of structure names needs 'pool'")
        models = {m: m for m in models}
    if not isinstance(models, dict):
        raise SpecificationError(
            f"{where}: analysis.models must map model names to lavaan syntax (or to pool structure names)"
        )
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
                raise SpecificationError(
                    f"{where}: analysis.models.{name}: {value!r} is neither lavaan syntax nor "
                    "usable as a structure name without 'pool'"
                )
            try:
                out[str(name)] = _load_pool_cached(pool).model_syntax(value.strip())
            except AllyscaleError as exc:
                raise SpecificationError(f"{where}: analysis.models.{name}: {exc}") from None
    return out


def _read_yaml(text: str, where: str) -> Any:
    """The study YAML, read by the bounded, duplicate-key-refusing reader pools use."""
    from allyscale._yaml import load_yaml

    return load_yaml(text, where, SpecificationError)


def _check_bounds(spec: StudySpec, where: str) -> None:
    """reps, sample sizes and the condition grid within :mod:`allyscale.limits`, before any work."""
    from allyscale import limits

    limits.check_reps(spec.reps, what=f"{where}: reps")
    for n in spec.conditions["n"]:
        limits.check_n(n, what=f"{where}: conditions.n")
    n_cond = 1
    for vals in spec.conditions.values():
        n_cond *= len(vals)
    limits.check_grid(n_cond, spec.reps, where=where)


def _check_population_values(spec: StudySpec, where: str) -> None:
    """Values the population builders would otherwise read loosely: ``categories`` and ``thresholds``."""
    from allyscale._files import brief

    def check(key: str, value: Any, label: str) -> None:
        if key == "categories" and value is not None:
            if not isinstance(value, int) or isinstance(value, bool) or not 2 <= value <= 11:
                raise SpecificationError(
                    f"{where}: {label}: {brief(value)} is not a number of response categories (an integer from 2 to 11)"
                )
        if key == "thresholds" and isinstance(value, list):
            try:
                vals = [float(v) for v in value]
            except (TypeError, ValueError):
                raise SpecificationError(f"{where}: {label}: thresholds must be numbers, got {brief(value)}") from None
            if any(b <= a for a, b in zip(vals, vals[1:])):
                raise SpecificationError(f"{where}: {label}: thresholds {brief(value)} are not in increasing order")

    for key, value in spec.population_options.items():
        check(key, value, key)
    for key, values in spec.conditions.items():
        for i, value in enumerate(values):
            check(key, value, f"conditions.{key}[{i}]")


def _resolved_population(spec: StudySpec) -> list:
    """The population of every condition as data (for the spec hash), with the pool's content."""
    out = []
    for cond in spec.condition_list:
        pm = spec.population_model(cond)
        out.append({"condition": {k: v for k, v in cond.items()}, "population": pm.to_dict()})
    if spec.pool is not None:
        pool = _load_pool_cached(spec.pool)
        out.append({"pool": _pool_content(pool)})
    return out


def _pool_content(pool: Any) -> dict:
    """What a pool holds (scale, items with their keys and texts, factors, facets, forms), path left out."""
    import dataclasses

    def plain(x: Any) -> Any:
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x) if f.name != "path"}
        if isinstance(x, Mapping):
            return {str(k): plain(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        return x

    return plain(pool)


def _check_analysis_values(spec: StudySpec, where: str) -> None:
    """``analysis.true_factors`` and ``analysis.fit_options`` checked before any replication runs."""
    from allyscale._files import brief

    tf = spec.true_factors
    if tf is not None and (not isinstance(tf, int) or isinstance(tf, bool) or tf < 1):
        raise SpecificationError(f"{where}: analysis.true_factors must be a positive integer, got {brief(tf)}")
    if spec.fit_options:
        from allyscale.cfa import cfa

        allowed = set(inspect.signature(cfa).parameters) - {"data", "model", "estimator"}
        unknown = sorted(map(str, set(spec.fit_options) - allowed))
        if unknown:
            raise SpecificationError(
                f"{where}: analysis.fit_options: unknown cfa() keyword(s) {brief(unknown)}; allowed: {sorted(allowed)}"
            )
