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
analysis. *Structural Equation Modeling, 6* (1), 1–55.
Muthén, L. K., & Muthén, B. O. (2002). How to use a Monte Carlo study to decide on sample
size and determine power. *Structural Equation Modeling, 9* (4), 599–620.
Pornprasertmanit, S., Miller, P., Schoemann, A., & Jorgensen, T. D. (2021). simsem: SIMulated
Structural Equation Modeling. R package.
"""

from __future__ import annotations

from allyscale.montecarlo.replicate import replicate, replication_seed
from allyscale.montecarlo.runner import RunReport, run_study
from allyscale.montecarlo.spec import CUTOFFS, FIT_MEASURES, StudySpec, load_study
from allyscale.montecarlo.store import export_study
from allyscale.montecarlo.summary import StudySummary, population_values, summarize_study

__all__ = [
    "StudySpec",
    "load_study",
    "run_study",
    "RunReport",
    "export_study",
    "summarize_study",
    "StudySummary",
    "replicate",
    "replication_seed",
    "population_values",
    "FIT_MEASURES",
    "CUTOFFS",
]
