"""``allyscale montecarlo run|export|summarize`` and ``allyscale dfi``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from allyscale.cli._read import data_options, read_data, read_model
from allyscale.errors import DataError


@click.group("montecarlo")
def montecarlo_group() -> None:
    """Monte Carlo studies: run a study spec, export replications, summarize."""


@montecarlo_group.command("run")
@click.argument("study", type=click.Path(dir_okay=False))
@click.option("--store", required=True, type=click.Path(dir_okay=False),
              help="SQLite results store (created, or resumed if it exists).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Worker processes (or Dask workers with --dask local).")
@click.option("--dask", "dask", default=None, metavar="ADDRESS|local",
              help="Run on Dask: 'local' starts a LocalCluster, else the scheduler address to join.")
@click.option("--reps", type=click.IntRange(min=1), default=None, help="Override the spec's replications.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def run_command(study, store, workers, dask, reps, no_progress) -> None:
    """Run (or resume) the study STUDY.yaml; every finished replication is stored at once."""
    from allyscale.montecarlo import run_study

    report = run_study(study, store, workers=workers, dask=dask, reps=reps, progress=not no_progress)
    click.echo(report.summary())


@montecarlo_group.command("export")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="CSV of replications (one row per condition x replication x model).")
@click.option("--estimates", type=click.Path(dir_okay=False), default=None,
              help="CSV of parameter estimates (long format) [default: OUT with _estimates].")
def export_command(store, out, estimates) -> None:
    """Write the stored replications of STORE as CSV tables."""
    from allyscale.montecarlo import export_study

    if not Path(store).is_file():
        raise DataError(f"results store {store!r} does not exist")
    tables = export_study(store)
    out_path = Path(out)
    tables["reps"].to_csv(out_path, index=False)
    est_path = Path(estimates) if estimates else out_path.with_name(out_path.stem + "_estimates.csv")
    tables["estimates"].to_csv(est_path, index=False)
    written = [out_path, est_path]
    if len(tables["reliability"]):
        rel_path = out_path.with_name(out_path.stem + "_reliability.csv")
        tables["reliability"].to_csv(rel_path, index=False)
        written.append(rel_path)
    click.echo(f"{len(tables['reps'])} rows -> " + ", ".join(str(p) for p in written))


@montecarlo_group.command("summarize")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the summary as JSON.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for tables (CSV), summary.txt/json and plots (PNG + SVG).")
def summarize_command(store, json_out, out_dir) -> None:
    """Summarize STORE: convergence, fit rejection rates, selection, retention, bias, coverage, power, N."""
    from allyscale.montecarlo import summarize_study

    if not Path(store).is_file():
        raise DataError(f"results store {store!r} does not exist")
    summary = summarize_study(store)
    click.echo(summary.summary())
    if json_out:
        Path(json_out).write_text(json.dumps(summary.to_dict(), indent=2), encoding="utf-8")
    if out_dir:
        summary.save(out_dir)


@click.command("dfi")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False), help="lavaan model file.")
@click.option("--estimator", type=click.Choice(["ML", "MLR", "WLSMV"], case_sensitive=False), default="ML",
              show_default=True)
@click.option("--reps", type=click.IntRange(min=20), default=500, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None)
@data_options
def dfi_command(data, model_path, estimator, reps, seed, workers, json_out, missing_codes, invalid) -> None:
    """Dynamic fit index cutoffs (McNeish & Wolf, 2023) for MODEL fitted to DATA."""
    from allyscale._files import atomic_write_text, check_output_path
    from allyscale.cfa import cfa
    from allyscale.dfi import dfi

    model = read_model(model_path)
    if json_out:
        check_output_path(json_out, [data, model_path])
    frame = read_data(data, model=model, missing=missing_codes, invalid=invalid)
    fit = cfa(frame, model, estimator=estimator)
    result = dfi(fit, reps=reps, seed=seed, workers=workers)
    click.echo(result.summary())
    if json_out:
        atomic_write_text(check_output_path(json_out, [data, model_path]), json.dumps(result.to_dict(), indent=2))


def register(main: click.Group) -> None:
    main.add_command(montecarlo_group)
    main.add_command(dfi_command)
