"""Running a study: serial, local worker processes or Dask; resumable."""

from __future__ import annotations

import itertools
import json
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from allyscale import _caches
from allyscale.errors import SpecificationError
from allyscale.montecarlo.replicate import _cfa_function, _reliability_function, replicate
from allyscale.montecarlo.spec import _BLAS_ENV, StudySpec, _load_pool_cached, load_study
from allyscale.montecarlo.store import _Store
from allyscale.results import Result, Summary, jsonable

_LIMITER = None


def _worker_init(parent: int | None = None) -> None:
    """Pin BLAS/OpenMP to one thread in a worker (small fits are many times slower with more).

    ``parent`` is the process id of the run that started the worker, passed in rather
    than read here: a run killed while its workers were still starting has already
    left them to another parent by the time this runs.
    """
    global _LIMITER
    for var in _BLAS_ENV:
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    _LIMITER = threadpool_limits(1)
    _exit_with_parent(parent)


def _exit_with_parent(parent: int | None = None) -> None:
    """End this worker when the process that started it is gone.

    A study stopped with ``kill -9`` cannot shut its pool down; without this its workers
    (and with them multiprocessing's resource tracker, which waits for every worker)
    would wait for work forever. Checked at once, then by a daemon thread every second.
    """
    import threading
    import time

    if parent is None:
        parent = os.getppid()
    if os.getppid() != parent:
        os._exit(0)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="allyscale-parent-watch", daemon=True).start()


_SPEC_CACHE: dict[str, StudySpec] = {}
_caches.register("worker_specs", "study specs in worker processes", lambda: len(_SPEC_CACHE), _SPEC_CACHE.clear)


def _worker_run(spec_dict: dict, condition: int, rep: int) -> dict:
    if _LIMITER is None:
        _worker_init()
    key = json.dumps(spec_dict, sort_keys=True, default=str)
    if key not in _SPEC_CACHE:
        _SPEC_CACHE[key] = load_study(spec_dict)
    return replicate(_SPEC_CACHE[key], condition, rep)


@dataclass(frozen=True)
class RunReport(Result):
    """What :func:`run_study` did.

    ``diagnostics`` counts, among the replications run now, ``failed_replications`` (the
    simulation failed; stored with its error) and ``nonconverged_fits`` (model fits that did
    not converge), with ``errors``: the first few distinct error messages.
    """

    store: str
    total: int
    already_done: int
    ran: int
    seconds: float
    engine: str
    workers: int
    diagnostics: dict = field(default_factory=dict)

    def summary(self) -> Summary:
        """Replications stored, run now, the time taken and the failures of this run."""
        per = self.seconds / self.ran if self.ran else float("nan")
        out = Summary("Monte Carlo study run")
        out.text(
            f"{self.store}: {self.already_done + self.ran}/{self.total} replications stored "
            f"({self.ran} run now on {self.engine} with {self.workers} worker(s), {self.seconds:.1f} s, "
            f"{per:.3f} s per replication)"
        )
        d = self.diagnostics
        if d.get("failed_replications") or d.get("nonconverged_fits"):
            out.text(
                f"{d.get('failed_replications', 0)} replication(s) failed and "
                f"{d.get('nonconverged_fits', 0)} model fit(s) did not converge in this run",
                strong=True,
            )
            out.text(*d.get("errors", []))
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row: the run's counts, time, engine and workers."""
        return pd.DataFrame(
            [{k: getattr(self, k) for k in ("store", "total", "already_done", "ran", "seconds", "engine", "workers")}]
        )

    def to_dict(self) -> dict:
        return jsonable(dict(self.__dict__))


def run_study(
    study: StudySpec | str | Path | Mapping,
    store: str | Path,
    *,
    workers: int = 1,
    dask: str | None = None,
    progress: bool = True,
    reps: int | None = None,
) -> RunReport:
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
    _refuse_input_as_store(store, spec)
    if spec.models:
        _probe_estimator(spec)
    if spec.reliability:
        _reliability_function()
    db = _Store(store, spec)
    t0 = time.perf_counter()
    try:
        done = db.done()
        n_cond = len(spec.condition_list)
        total = spec.reps * n_cond
        already = sum(1 for c, r in done if c < n_cond and r < spec.reps)
        n_todo = total - already
        # lazily: a list of every (condition, rep) pair of a large study would be built before any work
        todo = ((c, r) for r in range(spec.reps) for c in range(n_cond) if (c, r) not in done)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=already, unit="rep", desc=spec.name, dynamic_ncols=True)
        spec_dict = {**spec.raw, "pool": spec.pool} if spec.pool else dict(spec.raw)
        spec_dict["reps"] = spec.reps
        engine = "process" if workers > 1 else "serial"

        diagnostics: dict = {"failed_replications": 0, "nonconverged_fits": 0, "errors": []}

        def store_one(payload: dict) -> None:
            db.write(payload)
            fits = payload.get("fits") or {}
            diagnostics["nonconverged_fits"] += sum(1 for f in fits.values() if not f.get("converged", True))
            errors = [payload.get("error")] + [f.get("error") for f in fits.values()]
            if payload.get("error"):
                diagnostics["failed_replications"] += 1
            for e in errors:
                if e and e not in diagnostics["errors"] and len(diagnostics["errors"]) < 5:
                    diagnostics["errors"].append(e)
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
        return RunReport(db.path, total, already, n_todo, time.perf_counter() - t0, engine, workers, diagnostics)
    finally:
        db.close()


def _refuse_input_as_store(store: str | Path, spec: StudySpec) -> None:
    """The store is written: it may not be the study file or its pool (nor a sidecar of either)."""
    from allyscale._files import _protected, _real

    inputs = [p for p in (spec.source, spec.pool) if p and not str(p).startswith("<")]
    hit = _protected(inputs).get(_real(store))
    if hit is not None:
        raise SpecificationError(f"--store {store}: is {hit}; give a new file for the results (e.g. study.sqlite)")


def _probe_estimator(spec: StudySpec) -> None:
    """Fail before anything runs when the estimator is not available (rather than record N failed fits)."""
    from allyscale.simulate import simulate

    cfa = _cfa_function()
    cond = spec.condition_list[0]
    data = simulate(spec.population_model(cond), int(cond["n"]), seed=0)
    if spec.pool is not None:
        from allyscale.scoring import reverse_score

        data = reverse_score(data, _load_pool_cached(spec.pool))
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")
        try:
            cfa(
                data,
                spec.models[spec.true_model or next(iter(spec.models))],
                estimator=spec.estimator,
                **{"std_lv": True, **spec.fit_options},
            )
        except SpecificationError as exc:
            raise SpecificationError(f"analysis.estimator {spec.estimator} / fit_options: {exc}") from None


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
    with (
        _BlasEnv(),
        ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
        ) as pool,
    ):
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
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        else:
            try:
                client = Client(address, timeout="20s")
            except OSError as exc:
                raise SpecificationError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
    try:
        client.run(_worker_init)
        futures = [
            client.submit(_worker_run, spec_dict, c, r, pure=False, key=f"allyscale-rep-{c}-{r}-{i}")
            for i, (c, r) in enumerate(todo)
        ]
        for fut in as_completed(futures):
            store_one(fut.result())
            fut.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
