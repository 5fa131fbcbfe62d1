"""``allyscale validate``: data → the whole validation → report.html, results.json, tables/*.csv."""

from __future__ import annotations

import glob
import math
import time
from pathlib import Path

import click

from allyscale._files import brief, check_output_folder
from allyscale.cli._read import data_options, model_items, read_data, read_model, split_items
from allyscale.errors import DataError
from allyscale.pool import load_pool
from allyscale.report import validate


def _expand(patterns: tuple[str, ...]) -> list[Path]:
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if any(ch in pattern for ch in "*?[") else [pattern]
        if not matches:
            raise DataError(f"{pattern}: no file matches")
        files += [Path(m) for m in matches]
    return files


def _report_folders(files: list[Path], out: Path) -> dict[Path, Path]:
    """One report folder per data file: OUT itself for one file, else OUT/<name>.

    Files of the same name in different folders (``ga/data.csv``, ``gb/data.csv``) get
    folders named after as much of their path as tells them apart (``ga_data``,
    ``gb_data``); the same file given twice is an error.
    """
    seen: dict[Path, Path] = {}
    for f in files:
        real = f.resolve()
        if real in seen:
            raise DataError(f"{f}: given twice (also as {seen[real]})")
        seen[real] = f
    if len(files) == 1:
        return {files[0]: out}
    parts = {f: f.resolve().with_suffix("").parts for f in files}
    if len(set(parts.values())) < len(parts):  # data.csv and data.tsv in one folder: keep the suffix
        parts = {f: (*p[:-1], f"{p[-1]}_{f.suffix.lstrip('.')}") for f, p in parts.items()}
    names: dict[Path, str] = {}
    for f in files:
        depth = 1
        while any(g != f and parts[g][-depth:] == parts[f][-depth:] for g in files):
            depth += 1
        names[f] = "_".join(parts[f][-depth:]).lstrip("/") or f.stem
    return {f: out / names[f] for f in files}


def _shorten_options(pool, k, group, method, max_evaluations, workers, seed) -> dict | None:
    """``--shorten K`` and its companions as ``validate(shorten=...)`` options, checked before any analysis."""
    given = {"--shorten-group": group, "--shorten-seed": seed}
    if k is None:
        extra = [name for name, v in given.items() if v is not None]
        if extra:
            raise DataError(f"{extra[0]} is for the short form; give --shorten K as well")
        return None
    if pool is None:
        raise DataError("--shorten needs --pool (a short form keeps the pool's factors and facets)")
    text = k.strip()
    per: int | dict[str, int]
    try:
        if "=" in text:
            per = {}
            for part in (p for p in text.split(",") if p.strip()):
                name, _, n = part.partition("=")
                per[name.strip()] = int(n)
        else:
            per = int(text)
    except ValueError:
        raise DataError(f"--shorten: expected items per factor K or FACTOR=K,..., got {brief(k)}") from None
    from allyscale.errors import SpecificationError
    from allyscale.selection.constraints import Constraints

    try:  # impossible requests (more items than a factor has, unknown factors) fail now, not after the analyses
        Constraints.build(pool, per)
    except SpecificationError as exc:
        raise DataError(f"--shorten {brief(k)}: {exc}") from None
    if group is not None and group in pool.item_ids:
        raise DataError(f"--shorten-group {group}: is an item; the group column must be another column")
    opts: dict = {"items_per_factor": per, "method": method, "max_evaluations": max_evaluations, "workers": workers}
    if group is not None:
        opts["group"] = group
    if seed is not None:
        opts["seed"] = seed
    return opts


@click.command("validate")
@click.argument("data_paths", metavar="DATA...", nargs=-1, required=True)
@click.option("--pool", "pool_path", type=click.Path(dir_okay=False), help="Item pool YAML.")
@click.option("--model", "model_path", type=click.Path(dir_okay=False), help="lavaan model file.")
@click.option("--group", help="Column defining groups (measurement invariance).")
@click.option(
    "--estimator",
    type=click.Choice(["ML", "MLR", "WLSMV"], case_sensitive=False),
    help="Default: WLSMV for Likert items (<= 10 categories), else ML.",
)
@click.option("--split-half", is_flag=True, help="EFA on one random half, CFA on the other.")
@click.option(
    "--external",
    multiple=True,
    help="External measure (repeatable): a column with its score, or NAME=ITEM,ITEM,... / NAME=PREFIX* "
    "for its items (a factor in one CFA with the scale's factors).",
)
@click.option(
    "--expect",
    "expects",
    multiple=True,
    metavar="NAME=PATTERN",
    help="Expected correlation of the factors with an external measure (repeatable), e.g. "
    "'arbi=> .50' or 'sdes=|r| < .30'; marked met or not in the report.",
)
@click.option("--known-groups", "known_groups", help="Column with two groups that should differ (known groups).")
@click.option(
    "--criterion",
    help="Outcome column: incremental validity of the scale scores beyond the --external "
    "measures (hierarchical regression).",
)
@click.option(
    "--criterion-latent/--no-criterion-latent",
    "criterion_latent",
    default=False,
    show_default=True,
    help="With --criterion: the latent version (the criterion on the external measures' and the scale's "
    "factors in one SEM, chi-square difference test); every --external must be NAME=ITEMS.",
)
@click.option(
    "--retest",
    "retest_path",
    type=click.Path(dir_okay=False),
    help="Retest wave of the same respondents (matched by --id; with --pairs the targets' self-report, "
    "matched by --target-id): adds the section 'Stability'.",
)
@click.option("--wave", help="Column with two waves in DATA (instead of --retest; the first wave is validated).")
@click.option("--id", "retest_id", help="Respondent id column matching the waves [default: id].")
@click.option(
    "--retest-latent/--no-retest-latent",
    default=True,
    show_default=True,
    help="Also the latent stability across the waves (longitudinal invariance sequence).",
)
@click.option("--reverse", help="Comma-separated reverse-keyed items to reverse-score (with a model file).")
@click.option("--scale", help="Response scale MIN,MAX for --reverse (default: the observed range).")
@click.option("--seed", type=click.IntRange(min=0), default=1, show_default=True)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="validation",
    show_default=True,
    help="Output folder (one subfolder per file when several files are given, named after the file; "
    "files of the same name get their folders' names too).",
)
@click.option(
    "--exclude",
    help="Drop respondents flagged by these screening rules before the analyses: 'flagged' "
    "or a comma-separated list of attention, longstring, irv, mahalanobis, even_odd, "
    "missing (default: flag and keep everyone).",
)
@click.option(
    "--pairs",
    is_flag=True,
    help="Paired self-informant data: <item>_<form> columns for the pool's two forms (one row per target, "
    "or per target-informant pair); adds the section 'Paired self-informant design'.",
)
@click.option("--target-id", help="Target id column of paired data (with --pairs).")
@click.option(
    "--collapse",
    type=click.IntRange(min=1),
    is_flag=False,
    flag_value=1,
    default=None,
    help="Merge response categories observed fewer than N times (default 1: not observed) in some group "
    "or form before the ordinal invariance models; the merges are listed in the report.",
)
@click.option(
    "--content-ratings",
    "content_ratings",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Returned content-validity rating sheet (repeatable): adds the content-validity section first.",
)
@click.option(
    "--formats",
    "formats",
    default="html",
    show_default=True,
    help="Comma-separated report formats: html (always written, with results.json, tables/, data.csv and "
    "reproduce.R), docx (report.docx, APA-7 tables), tex (tex/: booktabs tables and report.tex), "
    "pdf (report.pdf: report.html printed by headless Chromium, which must be installed).",
)
@click.option(
    "--shorten",
    "shorten_k",
    metavar="K",
    help="Items per factor of a short form (K, or FACTOR=K,FACTOR=K,...): adds the section 'From pool to "
    "measure: a short form' (searched on a calibration half, confirmed on the holdout half; with "
    "--pairs on the targets' self-reports, split by target). Needs --pool.",
)
@click.option(
    "--shorten-group",
    help="Group column for the short form: items that function differently across "
    "its groups are penalised, the split is stratified and the short form's "
    "invariance is tested [default: --group].",
)
@click.option(
    "--shorten-method",
    type=click.Choice(["aco", "sa", "exhaustive", "auto"]),
    default="aco",
    show_default=True,
    help="Search of the short form (ant-colony optimisation, simulated annealing, exhaustive, or auto).",
)
@click.option(
    "--shorten-max-evaluations",
    type=click.IntRange(min=1),
    default=3000,
    show_default=True,
    help="Most candidate short forms fitted.",
)
@click.option(
    "--shorten-workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes for the short form's candidate fits.",
)
@click.option(
    "--shorten-seed", type=click.IntRange(min=0), help="Seed of the short form's split and search [default: --seed]."
)
@click.option(
    "--esem",
    is_flag=True,
    help="Add the pool's ESEM and bifactor-ESEM structures (target-rotated towards its pattern) to the "
    "competing models and the section 'Exploratory structural equation models'. Needs --pool.",
)
@data_options
def validate_command(
    data_paths,
    pool_path,
    model_path,
    group,
    estimator,
    split_half,
    external,
    reverse,
    scale,
    seed,
    out_dir,
    exclude,
    missing_codes,
    invalid,
    pairs=False,
    target_id=None,
    collapse=None,
    content_ratings=(),
    formats="html",
    expects=(),
    known_groups=None,
    retest_path=None,
    wave=None,
    retest_id=None,
    retest_latent=True,
    criterion=None,
    criterion_latent=False,
    shorten_k=None,
    shorten_group=None,
    shorten_method="aco",
    shorten_max_evaluations=3000,
    shorten_workers=1,
    shorten_seed=None,
    esem=False,
) -> None:
    """Validate a scale on DATA (one or more files, or a glob) and write a report.

    Writes OUT/report.html, OUT/results.json, OUT/tables/*.csv, OUT/data.csv and
    OUT/reproduce.R (with --formats docx,tex,pdf also OUT/report.docx, OUT/tex/ and OUT/report.pdf). Exits 1 when any
    analysis failed (the report still shows which and why), 2 on bad input.
    """
    if not pool_path and not model_path:
        raise DataError("give --pool or --model")
    from allyscale.report.bundle import FORMATS

    wanted = [f.strip().lower() for f in (formats or "html").split(",") if f.strip()]
    bad = [f for f in wanted if f not in FORMATS]
    if bad:
        raise DataError(f"--formats: unknown format {brief(bad[0])}; choose from {', '.join(FORMATS)}")
    if "pdf" in wanted:  # before any analysis: exit 2 naming what to install
        from allyscale.report.pdf import require_chromium

        require_chromium()
    if pairs and not target_id:
        raise DataError("--pairs needs --target-id (the column naming the rated target)")
    if target_id and not pairs:
        raise DataError("--target-id is for paired data (--pairs)")
    pool = load_pool(pool_path) if pool_path else None
    model = read_model(model_path) if model_path else None
    shorten = _shorten_options(
        pool, shorten_k, shorten_group, shorten_method, shorten_max_evaluations, shorten_workers, shorten_seed
    )
    if group and ((pool is not None and group in pool.item_ids) or (model is not None and group in model_items(model))):
        raise DataError(f"--group {group}: is an item; the group column must be another column")
    reverse_items = split_items(reverse, "--reverse") or []
    scale_range = None
    if scale:
        try:
            lo, hi = (float(v) for v in scale.split(","))
        except ValueError:
            raise DataError(f"--scale: expected MIN,MAX, got {brief(scale)}") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi) or max(abs(lo), abs(hi)) > 1000:
            raise DataError(f"--scale: {brief(scale)} is not a response scale (finite MIN < MAX, within -1000..1000)")
        scale_range = (lo, hi)
    rules = None
    if exclude:
        rules = "flagged" if exclude.strip() == "flagged" else [r.strip() for r in exclude.split(",") if r.strip()]
    files = _expand(data_paths)
    targets = _report_folders(files, Path(out_dir))
    if content_ratings and pool is None:
        raise DataError("--content-ratings needs --pool (ratings name the pool's items and subcategories)")
    if esem and pool is None:
        raise DataError("--esem needs --pool (the pool's hypothesised pattern is the rotation target)")
    if retest_path and wave:
        raise DataError("give --retest FILE or --wave COLUMN, not both")
    if retest_path and len(files) > 1:
        raise DataError("--retest is the second wave of one data file; give one DATA file")
    expect = {}
    for e in expects:
        name, eq, pattern = e.partition("=")
        if not eq or not name.strip() or not pattern.strip():
            raise DataError(f"--expect: expected NAME=PATTERN (e.g. 'arbi=> .50'), got {brief(e)}")
        expect[name.strip()] = pattern.strip()
    inputs = [*files, pool_path, model_path, *content_ratings, *([retest_path] if retest_path else [])]
    from allyscale.report.bundle import REPORT_ENTRIES

    for target in targets.values():  # before any analysis: a bad --out fails at once
        check_output_folder(target, owned=REPORT_ENTRIES, inputs=inputs)
    failed_any = False
    for path in files:
        start = time.perf_counter()
        if pairs:
            from allyscale.report.paired_section import paired_items

            base = pool.item_ids if pool is not None else model_items(model)
            data = read_data(
                str(path),
                None,
                items=paired_items(pool, base),
                missing=missing_codes,
                invalid=invalid,
                items_from="the paired",
                analysed=True,
            )
        else:
            data = read_data(str(path), pool, model=model, missing=missing_codes, invalid=invalid, analysed=True)
        if shorten is not None and shorten.get("group") is not None and shorten["group"] not in data.columns:
            raise DataError(f"--shorten-group {shorten['group']}: {path.name} has no such column")
        retest = None
        if retest_path:
            retest = read_data(
                str(retest_path), pool, model=model, missing=missing_codes, invalid=invalid, analysed=True
            )
        report = validate(
            data,
            pool=pool,
            model=model,
            group=group,
            estimator=estimator,
            split_half=split_half,
            seed=seed,
            source=path.name,
            external=list(external),
            reverse=reverse_items,
            scale=scale_range,
            exclude=rules,
            pairs=pairs,
            target_id=target_id,
            collapse=collapse or False,
            content_ratings=list(content_ratings) if content_ratings else None,
            expect=expect or None,
            known_groups=known_groups,
            retest=retest,
            wave=wave,
            retest_id=retest_id,
            retest_latent=retest_latent,
            criterion=criterion,
            criterion_latent=criterion_latent,
            shorten=shorten,
            esem=esem,
        )
        html = report.save(targets[path], inputs=inputs, formats=wanted)
        took = time.perf_counter() - start
        status = "with failed analyses: " + ", ".join(report.failed) if report.failed else "ok"
        click.echo(f"{path}: {html} ({took:.1f} s, {status})")
        for s in report.sections:
            for f in s.flags:
                click.echo(f"  [{s.id}] {f}")
        failed_any |= bool(report.failed)
    if failed_any:
        raise SystemExit(1)


def register(main: click.Group) -> None:
    main.add_command(validate_command)
