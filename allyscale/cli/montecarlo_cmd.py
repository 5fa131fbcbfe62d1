"""``allyscale montecarlo run|export|summarize`` and ``allyscale dfi``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from allyscale._files import _real, atomic_write_text, check_output_folder, check_output_path, write_csv
from allyscale.cli._read import data_options, read_data, read_model
from allyscale.errors import DataError


@click.group("montecarlo")
def montecarlo_group() -> None:
    """Monte Carlo studies: run a study spec, export replications, summarize."""


@montecarlo_group.command("run")
@click.argument("study", type=click.Path(dir_okay=False))
@click.option(
    "--store",
    required=True,
    type=click.Path(dir_okay=False),
    help="SQLite results store (created, or resumed if it exists).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes (or Dask workers with --dask local).",
)
@click.option(
    "--dask",
    "dask",
    default=None,
    metavar="ADDRESS|local",
    help="Run on Dask: 'local' starts a LocalCluster, else the scheduler address to join.",
)
@click.option("--reps", type=click.IntRange(min=1), default=None, help="Override the spec's replications.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def run_command(study, store, workers, dask, reps, no_progress) -> None:
    """Run (or resume) the study STUDY.yaml; every finished replication is stored at once."""
    from allyscale.montecarlo import run_study

    if not Path(study).is_file():
        raise DataError(f"{study}: study file not found")
    if Path(study).suffix.lower() not in (".yaml", ".yml"):
        raise DataError(f"{study}: a study spec is a .yaml (or .yml) file; see studies/README.md")
    if _real(store) == _real(study):
        raise DataError(f"--store {store}: is the study file; give a new file for the results (e.g. study.sqlite)")
    report = run_study(study, store, workers=workers, dask=dask, reps=reps, progress=not no_progress)
    click.echo(str(report.summary()))


@montecarlo_group.command("export")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV of replications (one row per condition x replication x model).",
)
@click.option(
    "--estimates",
    type=click.Path(dir_okay=False),
    default=None,
    help="CSV of parameter estimates (long format) [default: OUT with _estimates].",
)
def export_command(store, out, estimates) -> None:
    """Write the stored replications of STORE as CSV tables."""
    from allyscale.montecarlo import export_study

    if not Path(store).is_file():
        raise DataError(f"results store {store!r} does not exist")
    out_path = Path(out)
    est_path = Path(estimates) if estimates else out_path.with_name(out_path.stem + "_estimates.csv")
    rel_path = out_path.with_name(out_path.stem + "_reliability.csv")
    targets = [out_path, est_path, rel_path]
    for t in targets:  # every output checked before any is written
        check_output_path(t, [store])
    if len({_real(t) for t in targets}) < len(targets):
        raise DataError(f"--out {out} and --estimates {estimates}: the tables need different files")
    tables = export_study(store)
    write_csv(out_path, tables["reps"], inputs=[store])
    write_csv(est_path, tables["estimates"], inputs=[store])
    written = [out_path, est_path]
    if len(tables["reliability"]):
        write_csv(rel_path, tables["reliability"], inputs=[store])
        written.append(rel_path)
    click.echo(f"{len(tables['reps'])} rows -> " + ", ".join(str(p) for p in written))


@montecarlo_group.command("summarize")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None, help="Write the summary as JSON.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for tables (CSV), summary.txt/json and plots (PNG + SVG).",
)
def summarize_command(store, json_out, out_dir) -> None:
    """Summarize STORE: convergence, fit rejection rates, selection, retention, bias, coverage, power, N."""
    from allyscale.montecarlo import summarize_study

    if not Path(store).is_file():
        raise DataError(f"results store {store!r} does not exist")
    if json_out:
        check_output_path(json_out, [store])
    if out_dir:
        from allyscale.montecarlo.summary import SUMMARY_ENTRIES

        check_output_folder(out_dir, owned=SUMMARY_ENTRIES, inputs=[store, json_out])
    summary = summarize_study(store)
    click.echo(str(summary.summary()))
    if json_out:
        atomic_write_text(json_out, json.dumps(summary.to_dict(), indent=2), [store])
    if out_dir:
        summary.save(out_dir, inputs=[store, json_out])


@click.command("dfi")
@click.argument("data", type=click.Path(dir_okay=False))
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False), help="lavaan model file.")
@click.option(
    "--estimator",
    type=click.Choice(["ML", "MLR", "WLSMV"], case_sensitive=False),
    default=None,
    help="Default: allyscale's rule (WLSMV for items with at most 7 integer categories, else ML).",
)
@click.option("--reps", type=click.IntRange(min=20), default=500, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--json", "json_out", type=click.Path(dir_okay=False), default=None)
@data_options
def dfi_command(data, model_path, estimator, reps, seed, workers, json_out, missing_codes, invalid) -> None:
    """Dynamic fit index cutoffs (McNeish & Wolf, 2023) for MODEL fitted to DATA."""
    from allyscale import limits
    from allyscale.cfa import cfa
    from allyscale.dfi import dfi

    limits.check_reps(reps, what="--reps")

    if json_out:
        check_output_path(json_out, [data, model_path])
    model = read_model(model_path)
    frame = read_data(data, model=model, missing=missing_codes, invalid=invalid, analysed=True)
    fit = cfa(frame, model, estimator=estimator)
    result = dfi(fit, reps=reps, seed=seed, workers=workers)
    click.echo(str(result.summary()))
    if json_out:
        atomic_write_text(json_out, json.dumps(result.to_dict(), indent=2), [data, model_path])


def register(main: click.Group) -> None:
    main.add_command(montecarlo_group)
    main.add_command(dfi_command)
