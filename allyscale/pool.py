"""Item pools: load and validate a YAML pool, derive lavaan syntax for competing structures.

A pool declares a response scale, optional forms (self-report / informant), an optional
core category (a general factor), factors, optional facets within factors, items, and
optional attention-check items. The format is documented in ``docs/pool-format.md`` and
exemplified by ``item_pools/allyship.yaml``.

YAML is read with a safe loader: tags such as ``!!python/object`` are rejected, never
executed; duplicate mapping keys are an error, not silently overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:
    import pandas as pd

from allyscale._files import brief
from allyscale.errors import PoolError
from allyscale.readability import WORD as _WORD
from allyscale.readability import Finding, flesch_kincaid_grade

__all__ = [
    "ResponseScale",
    "Item",
    "Facet",
    "Factor",
    "AttentionCheck",
    "ItemPool",
    "Finding",
    "load_pool",
    "parse_pool",
    "STRUCTURES",
    "ESEM_STRUCTURES",
    "ALL_STRUCTURES",
]

STRUCTURES = ("one_factor", "correlated", "second_order", "bifactor", "facets")
#: exploratory SEM structures (lavaan efa() blocks, fitted with a target rotation; see ItemPool.esem_rotation)
ESEM_STRUCTURES = ("esem", "bifactor_esem")
ALL_STRUCTURES = STRUCTURES + ESEM_STRUCTURES

_TOP_KEYS = {
    "name",
    "id",
    "version",
    "description",
    "source",
    "response_scale",
    "forms",
    "core",
    "factors",
    "attention_checks",
    "references",
    "notes",
}
_SCALE_KEYS = {"min", "max", "labels"}
_FORM_KEYS = {"label", "instructions"}
_CORE_KEYS = {"id", "label", "description"}
_FACTOR_KEYS = {"id", "label", "description", "facets", "items"}
_FACET_KEYS = {"id", "label", "description", "items"}
_ITEM_KEYS = {"id", "text", "informant_text", "reverse", "aspect", "notes", "keep"}
_CHECK_KEYS = {"id", "text", "informant_text", "expected"}
_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
#: largest absolute value of a response-scale point
_MAX_SCALE_POINT = 1000


@dataclass(frozen=True)
class ResponseScale:
    """Integer response scale ``min..max`` with optional labels for each point."""

    min: int
    max: int
    labels: dict[int, str] = field(default_factory=dict)

    @property
    def n_categories(self) -> int:
        return self.max - self.min + 1

    @property
    def values(self) -> list[int]:
        return list(range(self.min, self.max + 1))

    def reverse(self, value):
        """Reverse-score a value (or array) on this scale: ``min + max - value``."""
        return self.min + self.max - value


@dataclass(frozen=True)
class Item:
    """One item. ``factor`` and ``facet`` are ids (``facet`` is None when the pool has none)."""

    id: str
    text: str
    factor: str
    facet: str | None = None
    informant_text: str | None = None
    reverse: bool = False
    aspect: str | None = None
    notes: str | None = None
    keep: tuple[tuple[str, str], ...] = ()  # (wording rule, reason): a reviewed flag the pool keeps


@dataclass(frozen=True)
class Facet:
    id: str
    label: str
    items: tuple[Item, ...]
    description: str = ""


@dataclass(frozen=True)
class Factor:
    id: str
    label: str
    facets: tuple[Facet, ...]
    items: tuple[Item, ...]
    description: str = ""


@dataclass(frozen=True)
class AttentionCheck:
    id: str
    text: str
    expected: int
    informant_text: str | None = None


@dataclass(frozen=True)
class ItemPool:
    """A validated item pool.

    Attributes
    ----------
    name, id, version, description, source : str
    scale : ResponseScale
    factors : tuple of Factor
        Each with ``.id``, ``.label``, ``.facets`` (possibly empty) and ``.items``.
    items : tuple of Item
        All items, flat, in pool order.
    core : dict or None
        The general factor (``id``, ``label``, ``description``) if declared.
    forms : dict
        Form id → ``{"label", "instructions"}``.
    attention_checks : tuple of AttentionCheck
    path : pathlib.Path or None
    """

    name: str
    scale: ResponseScale
    factors: tuple[Factor, ...]
    id: str = "pool"
    version: str = ""
    description: str = ""
    source: str = ""
    core: dict | None = None
    forms: dict = field(default_factory=dict)
    attention_checks: tuple[AttentionCheck, ...] = ()
    path: Path | None = None

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(it for f in self.factors for it in f.items)

    @property
    def item_ids(self) -> list[str]:
        return [it.id for it in self.items]

    @property
    def facets(self) -> tuple[Facet, ...]:
        return tuple(fc for f in self.factors for fc in f.facets)

    @property
    def reverse_items(self) -> list[str]:
        return [it.id for it in self.items if it.reverse]

    @property
    def general_id(self) -> str:
        """Name of the general factor in derived models: the core category's id, else ``general``."""
        return self.core["id"] if self.core else "general"

    def item(self, item_id: str) -> Item:
        for it in self.items:
            if it.id == item_id:
                return it
        raise KeyError(item_id)

    def factor_items(self) -> dict[str, list[str]]:
        """Factor id → item ids."""
        return {f.id: [it.id for it in f.items] for f in self.factors}

    def facet_items(self) -> dict[str, list[str]]:
        """Facet id → item ids (empty when the pool has no facets)."""
        return {fc.id: [it.id for it in fc.items] for fc in self.facets}

    # ------------------------------------------------------------------ models
    def model_syntax(self, structure: str = "correlated") -> str:
        """lavaan syntax of one of the competing structures.

        Parameters
        ----------
        structure : {"one_factor", "correlated", "second_order", "bifactor", "facets", "esem", "bifactor_esem"}
            ``one_factor``: every item on one general factor. ``correlated``: one factor
            per category, factors correlated. ``second_order``: the correlated factors
            as indicators of a general factor (the core category). ``bifactor``: a
            general factor on every item plus one specific factor per category, all
            factors orthogonal. ``facets``: one correlated factor per facet.
            ``esem``: one EFA block (lavaan's ``efa("esem")*``) with one factor per
            category on every item (exploratory SEM; Asparouhov & Muthén, 2009).
            ``bifactor_esem``: one EFA block with the general factor first and one
            factor per category (bifactor-ESEM; Morin, Arens & Marsh, 2016). Both are
            meant to be fitted with :meth:`esem_rotation` (the pool's target).

        Returns
        -------
        str
            lavaan syntax (marker-variable identification is left to the estimator's
            defaults; bifactor orthogonality is written explicitly as ``0*``).

        Raises
        ------
        PoolError
            Unknown structure, a structure needing more factors than the pool has, or
            ``facets`` on a pool without facets.
        """
        if structure not in ALL_STRUCTURES:
            raise PoolError(f"unknown structure {structure!r}; choose one of {', '.join(ALL_STRUCTURES)}")
        g = self.general_id
        lines: list[str] = []
        if structure == "one_factor":
            lines.append(_measure(g, self.item_ids))
        elif structure == "correlated":
            lines += [_measure(f.id, [it.id for it in f.items]) for f in self.factors]
        elif structure == "second_order":
            if len(self.factors) < 3:
                raise PoolError("a second-order model needs at least three first-order factors")
            lines += [_measure(f.id, [it.id for it in f.items]) for f in self.factors]
            lines.append(_measure(g, [f.id for f in self.factors]))
        elif structure == "bifactor":
            if len(self.factors) < 2:
                raise PoolError("a bifactor model needs at least two specific factors")
            lines.append(_measure(g, self.item_ids))
            lines += [_measure(f.id, [it.id for it in f.items]) for f in self.factors]
            names = [g] + [f.id for f in self.factors]
            for i, a in enumerate(names):
                for b in names[i + 1 :]:
                    lines.append(f"{a} ~~ 0*{b}")
        elif structure == "facets":
            if not self.facets:
                raise PoolError(f"pool {self.name!r} has no facets; the 'facets' structure needs them")
            lines += [_measure(fc.id, [it.id for it in fc.items]) for fc in self.facets]
        elif structure in ESEM_STRUCTURES:
            if len(self.factors) < 2:
                raise PoolError(f"an {structure} model needs at least two factors")
            block = "esem" if structure == "esem" else "bifactor_esem"
            names = ([] if structure == "esem" else [g]) + [f.id for f in self.factors]
            lines.append(" + ".join(f'efa("{block}")*{f}' for f in names) + " =~ " + " + ".join(self.item_ids))
        return "\n".join(lines) + "\n"

    def esem_target(self, structure: str = "esem") -> pd.DataFrame:
        """The pool's hypothesised pattern as a partially specified rotation target (Browne, 2001):
        items x factors of :meth:`model_syntax` ``structure`` (``"esem"`` or ``"bifactor_esem"``),
        NaN (unspecified, free) for an item's own category (and the general factor), 0 for every
        cross-loading, as in target-rotated ESEM (Asparouhov & Muthén, 2009; Marsh et al., 2014)."""
        import numpy as np
        import pandas as pd

        if structure not in ESEM_STRUCTURES:
            raise PoolError(f"esem_target needs one of {', '.join(ESEM_STRUCTURES)}, got {structure!r}")
        cols = ([] if structure == "esem" else [self.general_id]) + [f.id for f in self.factors]
        out = pd.DataFrame(0.0, index=list(self.item_ids), columns=cols)
        for f in self.factors:
            out.loc[[it.id for it in f.items], f.id] = np.nan
        if structure == "bifactor_esem":
            out[self.general_id] = np.nan
        return out

    def esem_rotation(self, structure: str = "esem") -> dict:
        """``cfa()`` keywords for an ESEM structure of the pool: ``rotation="target"`` with
        :meth:`esem_target`; orthogonal for ``bifactor_esem`` (Morin, Arens & Marsh, 2016)."""
        target = self.esem_target(structure).to_numpy()
        args: dict = {"target": target}
        if structure == "bifactor_esem":
            args["orthogonal"] = True
        return {"rotation": "target", "rotation_args": args}

    def all_model_syntax(self, *, esem: bool = False) -> dict[str, str]:
        """Every structure this pool supports, name → syntax (with ``esem=True`` also
        :data:`ESEM_STRUCTURES`)."""
        out = {}
        for s in ALL_STRUCTURES if esem else STRUCTURES:
            if s in ESEM_STRUCTURES and len(self.factors) < 2:
                continue
            if s == "facets" and not self.facets:
                continue
            if s == "second_order" and len(self.factors) < 3:
                continue
            if s in ("bifactor", "second_order") and len(self.factors) < 2:
                continue
            out[s] = self.model_syntax(s)
        return out

    # ----------------------------------------------------------- item writing
    def check(self, *, max_words: int = 20, max_grade: float = 10.0) -> list[Finding]:
        """Review both forms' wording (see :func:`allyscale.wording.review_wording`)."""
        from allyscale.wording import review_wording

        return review_wording(self, max_words=max_words, max_grade=max_grade)


def _measure(factor: str, indicators: Iterable[str]) -> str:
    return f"{factor} =~ " + " + ".join(indicators)


# ---------------------------------------------------------------------- loading
def load_pool(path: str | Path) -> ItemPool:
    """Load and validate an item pool YAML file.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    ItemPool

    Raises
    ------
    PoolError
        The message names the file and the offending id or key: unreadable file,
        unsafe or invalid YAML, unknown keys, duplicate ids, empty factors or facets,
        a bad response scale.

    Examples
    --------
    >>> pool = load_pool("item_pools/allyship.yaml")  # doctest: +SKIP
    >>> [f.id for f in pool.factors]  # doctest: +SKIP
    ['trust', 'action', 'awareness', 'knowledge', 'accountability', 'communication']
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PoolError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PoolError(f"{path}: cannot read the file ({exc})") from None
    return parse_pool(text, source=str(path), path=path)


def parse_pool(text: str, *, source: str = "<string>", path: Path | None = None) -> ItemPool:
    """Validate pool YAML given as a string (see :func:`load_pool`)."""
    from allyscale._yaml import load_yaml

    data = load_yaml(text, source, PoolError)
    return _build(data, source, path)


def _keys(obj: Any, allowed: set[str], where: str, source: str) -> dict:
    if not isinstance(obj, dict):
        raise PoolError(f"{source}: {where} must be a mapping, got {type(obj).__name__}")
    unknown = sorted(set(map(str, obj)) - allowed)
    if unknown:
        raise PoolError(f"{source}: unknown key(s) {brief(unknown, 200)} in {where}; allowed: {sorted(allowed)}")
    return obj


@overload
def _text(obj: dict, key: str, where: str, source: str, required: Literal[True] = ...) -> str: ...
@overload
def _text(obj: dict, key: str, where: str, source: str, required: bool) -> str | None: ...


def _text(obj: dict, key: str, where: str, source: str, required: bool = True) -> str | None:
    val = obj.get(key)
    if val is None:
        if required:
            raise PoolError(f"{source}: {where} has no {key!r}")
        return None
    if not isinstance(val, str) or not val.strip():
        raise PoolError(f"{source}: {key!r} of {where} must be non-empty text")
    return val.strip()


def _ident(obj: dict, where: str, source: str) -> str:
    val = obj.get("id")
    if not isinstance(val, str) or not _ID.match(val):
        raise PoolError(
            f"{source}: {where} has a missing or invalid id {brief(val)} "
            "(letters, digits and underscores, starting with a letter)"
        )
    return val


def _scale(obj: Any, source: str) -> ResponseScale:
    if obj is None:
        raise PoolError(f"{source}: no 'response_scale' (e.g. min: 1, max: 6, labels: {{1: Strongly disagree, ...}})")
    obj = _keys(obj, _SCALE_KEYS, "response_scale", source)
    lo, hi = obj.get("min"), obj.get("max")
    if not isinstance(lo, int) or not isinstance(hi, int) or isinstance(lo, bool) or isinstance(hi, bool):
        raise PoolError(f"{source}: response_scale min and max must be integers, got min={brief(lo)}, max={brief(hi)}")
    for key, val in (("min", lo), ("max", hi)):
        if abs(val) > _MAX_SCALE_POINT:
            raise PoolError(
                f"{source}: bad response scale: {key} = {brief(val)} is outside -{_MAX_SCALE_POINT}..{_MAX_SCALE_POINT}"
            )
    if hi - lo < 1:
        raise PoolError(f"{source}: bad response scale: max ({hi}) must exceed min ({lo})")
    if hi - lo + 1 > 11:
        raise PoolError(f"{source}: bad response scale: {hi - lo + 1} points (at most 11 are supported)")
    labels_raw = obj.get("labels") or {}
    if not isinstance(labels_raw, dict):
        raise PoolError(f"{source}: response_scale labels must map scale points to text")
    labels: dict[int, str] = {}
    for k, v in labels_raw.items():
        if not isinstance(k, int) or not lo <= k <= hi:
            raise PoolError(f"{source}: bad response scale: label key {brief(k)} is not a point of {lo}..{hi}")
        if not isinstance(v, str):
            raise PoolError(f"{source}: bad response scale: label of point {k} must be text")
        labels[k] = v
    return ResponseScale(lo, hi, labels)


def _items(raw: Any, factor: str, facet: str | None, where: str, source: str) -> list[Item]:
    if not isinstance(raw, list) or not raw:
        raise PoolError(f"{source}: {where} has no items")
    out = []
    for i, it in enumerate(raw):
        w = f"{where}.items[{i}]"
        if isinstance(it, dict) and isinstance(it.get("id"), str):
            w = f"item {brief(it['id'])} ({w})"
        it = _keys(it, _ITEM_KEYS, w, source)
        iid = _ident(it, w, source)
        rev = it.get("reverse", False)
        if not isinstance(rev, bool):
            raise PoolError(f"{source}: 'reverse' of item {iid!r} must be true or false, got {brief(rev)}")
        out.append(
            Item(
                id=iid,
                text=_text(it, "text", f"item {iid!r}", source),
                factor=factor,
                facet=facet,
                informant_text=_text(it, "informant_text", f"item {iid!r}", source, required=False),
                reverse=rev,
                aspect=_text(it, "aspect", f"item {iid!r}", source, required=False),
                notes=_text(it, "notes", f"item {iid!r}", source, required=False),
                keep=_keep(it.get("keep"), iid, source),
            )
        )
    return out


def _keep(raw: Any, iid: str, source: str) -> tuple[tuple[str, str], ...]:
    """An item's ``keep: {rule: reason}``: wording flags reviewed and kept, each with its reason."""
    if raw is None:
        return ()
    if not isinstance(raw, dict) or not raw:
        raise PoolError(
            f"{source}: 'keep' of item {iid!r} must map wording rules to reasons, "
            'e.g. keep: {inner_state: "why the wording stays"}'
        )
    from allyscale.wording import RULES

    out = []
    for rule, reason in raw.items():
        if rule not in RULES:
            raise PoolError(f"{source}: 'keep' of item {iid!r}: unknown wording rule {rule!r}; known: {list(RULES)}")
        if not isinstance(reason, str) or not reason.strip():
            raise PoolError(f"{source}: 'keep' of item {iid!r}: the reason for keeping {rule!r} must be non-empty text")
        out.append((str(rule), reason.strip()))
    return tuple(out)


def _build(data: Any, source: str, path: Path | None) -> ItemPool:
    data = _keys(data, _TOP_KEYS, "the pool (top level)", source)
    name = _text(data, "name", "the pool", source)
    scale = _scale(data.get("response_scale"), source)
    raw_factors = data.get("factors")
    if not isinstance(raw_factors, list) or not raw_factors:
        raise PoolError(f"{source}: 'factors' must be a non-empty list")
    factors: list[Factor] = []
    for fi, rf in enumerate(raw_factors):
        where = f"factors[{fi}]"
        rf = _keys(rf, _FACTOR_KEYS, where, source)
        fid = _ident(rf, where, source)
        where = f"factor {fid!r}"
        label = _text(rf, "label", where, source, required=False) or fid
        if "facets" in rf and "items" in rf:
            raise PoolError(f"{source}: {where} has both 'facets' and 'items'; put items inside facets")
        facets: list[Facet] = []
        if "facets" in rf:
            if not isinstance(rf["facets"], list) or not rf["facets"]:
                raise PoolError(f"{source}: {where} is empty: 'facets' has no entries")
            for ci, rc in enumerate(rf["facets"]):
                cw = f"{where}.facets[{ci}]"
                rc = _keys(rc, _FACET_KEYS, cw, source)
                cid = _ident(rc, cw, source)
                items = _items(rc.get("items"), fid, cid, f"facet {cid!r} of {where}", source)
                facets.append(
                    Facet(
                        cid,
                        _text(rc, "label", f"facet {cid!r}", source, required=False) or cid,
                        tuple(items),
                        _text(rc, "description", cw, source, required=False) or "",
                    )
                )
            items = [it for fc in facets for it in fc.items]
        else:
            if not rf.get("items"):
                raise PoolError(f"{source}: {where} is empty: it has no items (and no facets)")
            items = _items(rf.get("items"), fid, None, where, source)
        factors.append(
            Factor(
                fid, label, tuple(facets), tuple(items), _text(rf, "description", where, source, required=False) or ""
            )
        )
    has_facets = [bool(f.facets) for f in factors]
    if any(has_facets) and not all(has_facets):
        missing = [f.id for f in factors if not f.facets]
        raise PoolError(f"{source}: some factors have facets and others do not: {missing} have none")
    # ids unique across factors, facets, items, core and attention checks
    seen: dict[str, str] = {}

    def claim(ident: str, what: str) -> None:
        if ident in seen:
            raise PoolError(f"{source}: duplicate id {brief(ident)} ({seen[ident]} and {what})")
        seen[ident] = what

    for f in factors:
        claim(f.id, f"factor {f.id!r}")
    for f in factors:
        for fc in f.facets:
            claim(fc.id, f"facet {fc.id!r} of factor {f.id!r}")
    for f in factors:
        for it in f.items:
            claim(it.id, f"item in factor {f.id!r}")
    core = None
    if data.get("core") is not None:
        rc = _keys(data["core"], _CORE_KEYS, "core", source)
        core = {
            "id": _ident(rc, "core", source),
            "label": _text(rc, "label", "core", source, required=False) or rc["id"],
            "description": _text(rc, "description", "core", source, required=False) or "",
        }
        claim(core["id"], "the core category")
    forms: dict = {}
    if data.get("forms") is not None:
        if not isinstance(data["forms"], dict):
            raise PoolError(f"{source}: 'forms' must map form ids to label and instructions")
        for k, v in data["forms"].items():
            v = _keys(v, _FORM_KEYS, f"forms.{k}", source)
            forms[str(k)] = {"label": v.get("label", str(k)), "instructions": v.get("instructions", "")}
    checks: list[AttentionCheck] = []
    for ci, rc in enumerate(data.get("attention_checks") or []):
        w = f"attention_checks[{ci}]"
        rc = _keys(rc, _CHECK_KEYS, w, source)
        cid = _ident(rc, w, source)
        claim(cid, "an attention check")
        exp = rc.get("expected")
        if not isinstance(exp, int) or not scale.min <= exp <= scale.max:
            raise PoolError(
                f"{source}: attention check {cid!r}: 'expected' must be a point of the response "
                f"scale {scale.min}..{scale.max}, got {brief(exp)}"
            )
        checks.append(
            AttentionCheck(
                cid, _text(rc, "text", w, source), exp, _text(rc, "informant_text", w, source, required=False)
            )
        )
    version = data.get("version", "")
    return ItemPool(
        name=name,
        scale=scale,
        factors=tuple(factors),
        id=str(data.get("id") or (path.stem if path else "pool")),
        version=str(version) if version is not None else "",
        description=(data.get("description") or "").strip(),
        source=(data.get("source") or "").strip(),
        core=core,
        forms=forms,
        attention_checks=tuple(checks),
        path=path,
    )


# ----------------------------------------------------------------- item writing
_NEGATIONS = re.compile(r"\b(not|never|no|none|nobody|nothing|neither|nor|cannot)\b|n't\b", re.I)
_CONJ = re.compile(r"\b(and/or|and|or)\b", re.I)


def _tokens(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


def check_items(pool: ItemPool, *, max_words: int = 20, max_grade: float = 10.0) -> list[Finding]:
    """Flag item-writing problems in a pool.

    Rules (each finding names its rule): ``long`` (more than ``max_words`` words),
    ``double_barreled`` ("and", "or", "and/or" joining content), ``negation`` (a
    negation word; reverse-keyed items should state the opposite behaviour
    positively), ``double_negative`` (two or more negations), ``duplicate`` (identical
    wording, or word-set Jaccard similarity >= .8 with another item), ``readability``
    (Flesch–Kincaid grade above ``max_grade``), ``no_informant`` (pool declares an
    informant form but the item has no informant wording), ``few_items`` (a facet with
    fewer than 3 items or a factor with fewer than 3), ``no_reverse`` (a factor
    without a reverse-keyed item).

    The conjunction rule is a screen: "and"/"or" can be harmless ("friends and
    family"), so findings are warnings for a writer to review, not errors.
    """
    findings: list[Finding] = []
    wants_informant = "informant" in pool.forms
    texts: list[tuple[str, str, str]] = []
    for it in pool.items:
        for form, text in (("self", it.text), ("informant", it.informant_text)):
            if text is None:
                if form == "informant" and wants_informant:
                    findings.append(Finding(it.id, "no_informant", "no informant wording", "error"))
                continue
            tag = "" if form == "self" else " (informant wording)"
            n_words = len(_WORD.findall(text))
            if n_words > max_words:
                findings.append(Finding(it.id, "long", f"{n_words} words{tag}; keep items to {max_words} or fewer"))
            conj = _CONJ.findall(text)
            if conj:
                findings.append(
                    Finding(
                        it.id,
                        "double_barreled",
                        f"contains {', '.join(repr(c.lower()) for c in conj)}{tag}: check that it asks one thing",
                    )
                )
            negs = _NEGATIONS.findall(text)
            n_neg = len(_NEGATIONS.findall(text))
            if n_neg >= 2:
                findings.append(Finding(it.id, "double_negative", f"{n_neg} negations{tag}", "error"))
            elif negs:
                findings.append(Finding(it.id, "negation", f"contains a negation{tag}; state it positively"))
            grade = flesch_kincaid_grade(text)
            if grade > max_grade:
                findings.append(
                    Finding(it.id, "readability", f"Flesch-Kincaid grade {grade:.1f}{tag} (target <= {max_grade:g})")
                )
            if form == "self":
                texts.append((it.id, text.strip().lower(), text))
    for i, (a, ta, _) in enumerate(texts):
        toks_a = _tokens(ta)
        for b, tb, _ in texts[i + 1 :]:
            if ta == tb:
                findings.append(Finding(b, "duplicate", f"same wording as {a}", "error"))
                continue
            toks_b = _tokens(tb)
            jac = len(toks_a & toks_b) / max(1, len(toks_a | toks_b))
            if jac >= 0.8:
                findings.append(Finding(b, "duplicate", f"near-duplicate of {a} (word overlap {jac:.2f})"))
    for f in pool.factors:
        if len(f.items) < 3:
            findings.append(Finding(f.id, "few_items", f"factor {f.id!r} has {len(f.items)} item(s); 3+ needed"))
        for fc in f.facets:
            if len(fc.items) < 3:
                findings.append(Finding(fc.id, "few_items", f"facet {fc.id!r} has {len(fc.items)} item(s)"))
        if not any(it.reverse for it in f.items):
            findings.append(Finding(f.id, "no_reverse", f"factor {f.id!r} has no reverse-keyed item"))
    return findings
