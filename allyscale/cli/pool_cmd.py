"""``allyscale pool ...``: inspect and check item pools."""

from __future__ import annotations

import json
from collections import Counter

import click

from allyscale._files import atomic_write_text, check_output_path
from allyscale.pool import STRUCTURES, load_pool
from allyscale.wording import SOURCES


@click.group("pool")
def pool_group() -> None:
    """Inspect and check item pools."""


@pool_group.command("check")
@click.argument("pool_path", metavar="POOL", type=click.Path(dir_okay=False))
@click.option("--max-words", default=20, show_default=True, help="Longest acceptable item.")
@click.option("--max-grade", default=10.0, show_default=True, help="Highest acceptable Flesch-Kincaid grade.")
@click.option("--strict", is_flag=True, help="Exit 1 when any item-writing problem is flagged.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the findings as JSON.")
def check(pool_path: str, max_words: int, max_grade: float, strict: bool, json_out: str | None) -> None:
    """Validate POOL and flag item-writing problems.

    Validation errors (unknown keys, duplicate ids, empty factors, a bad response scale,
    unsafe YAML) exit 2. The wording of both forms is reviewed (allyscale.wording): long,
    hard-to-read, double-barreled, negated and double-negated items, absolutes, jargon,
    duplicates and near-duplicates within a facet, reverse-key balance per factor, and
    informant items about inner states; each flag gives its reason, and the rule's source
    is listed. Flags are for review; with --strict any error or warning exits 1 (notes and
    flags the pool keeps with a reason, "accepted", do not).
    """
    if json_out:
        check_output_path(json_out, [pool_path])
    pool = load_pool(pool_path)
    findings = pool.check(max_words=max_words, max_grade=max_grade)
    n_facets = len(pool.facets)
    click.echo(f"{pool_path}: {pool.name}")
    click.echo(
        f"  {len(pool.factors)} factors, {n_facets} facets, {len(pool.items)} items "
        f"({len(pool.reverse_items)} reverse-keyed), scale {pool.scale.min}-{pool.scale.max}"
        + (f", core '{pool.core['label']}'" if pool.core else "")
    )
    for f in pool.factors:
        click.echo(f"  {f.id:<16} {len(f.items):>3} items  {f.label}")
    structures = [s for s in STRUCTURES if s in pool.all_model_syntax()]
    click.echo(f"  model structures: {', '.join(structures)}")
    if findings:
        counts = Counter(f.rule for f in findings)
        severities = Counter(f.severity for f in findings)
        click.echo(
            f"\n{len(findings)} item-writing flag(s): "
            + ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items()))
            + " ("
            + ", ".join(f"{k} {severities[k]}" for k in ("error", "warning", "note", "accepted") if severities.get(k))
            + ")"
        )
        for f in findings:
            form = f" ({f.form})" if f.form else ""
            click.echo(f"  [{f.severity}] {f.item}{form}: {f.rule}: {f.message}")
        click.echo("\nrule sources:")
        for rule in sorted(counts):
            click.echo(f"  {rule}: {SOURCES.get(rule, '')}")
    else:
        click.echo("\nno item-writing problems flagged")
    if json_out:
        atomic_write_text(
            json_out,
            json.dumps(
                {
                    "pool": str(pool_path),
                    "name": pool.name,
                    "n_items": len(pool.items),
                    "findings": [f.__dict__ for f in findings],
                },
                indent=2,
            ),
            [pool_path],
        )
    if strict and any(f.severity in ("error", "warning") for f in findings):
        raise SystemExit(1)


@pool_group.command("syntax")
@click.argument("pool_path", metavar="POOL", type=click.Path(dir_okay=False))
@click.option("--structure", type=click.Choice(list(STRUCTURES)), default="correlated", show_default=True)
def syntax(pool_path: str, structure: str) -> None:
    """Print the lavaan syntax of one model structure of POOL."""
    click.echo(load_pool(pool_path).model_syntax(structure), nl=False)


def register(main: click.Group) -> None:
    main.add_command(pool_group)
