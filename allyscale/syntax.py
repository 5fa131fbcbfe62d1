"""lavaan model syntax → parameter table.

allyscale keeps one source of truth for a model, as lavaan does: the model string is
parsed into *statements* (:func:`parse_model`), and :func:`lavaanify` expands them with
the defaults of ``lavaan::cfa()`` (or of ``lavaan::simulateData()``) into a *parameter
table*, a :class:`pandas.DataFrame` with one row per parameter and the columns of
lavaan's ``parTable()``: ``lhs, op, rhs, user, group, free, ustart, label, plabel``
(``free`` numbers the free parameters from 1; ``ustart`` holds a fixed value or a
user-given start value, NaN otherwise).

This module is owned code. semopy parses a similar syntax, but it has no thresholds
(``|``), no ``c()`` group modifiers, and no lavaan defaults (marker loadings,
``std.lv``, automatic covariances), which the estimators here rely on.

Supported: ``=~`` (loadings; a latent on the right makes a higher-order factor),
``~~`` (variances and covariances), ``~`` (regressions), ``~ 1`` (intercepts),
``|`` (thresholds ``x | t1 + t2``), modifiers ``0.7*x`` (fixed), ``NA*x`` (free),
``a*x`` and ``label("a")*x`` (labels; equal labels mean equal parameters),
``start(0.5)*x``, ``c(...)*x`` (one modifier per group), comments (``#``, ``!``),
statements separated by new lines or ``;``, and continuation lines. Defined
parameters (``:=``) and constraints (``==``, ``<``, ``>``) are recognised and
rejected with a clear error.

References
----------
Rosseel, Y. (2012). lavaan: An R package for structural equation modeling.
Journal of Statistical Software, 48(2), 1-36.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from allyscale._files import brief
from allyscale.errors import ModelSyntaxError

__all__ = ["Modifier", "Statement", "parse_model", "lavaanify", "model_variables", "factor_items"]

_OPERATORS = ("=~", "~~", "~*~", "<~", ":=", "==", "~", "|", "<", ">")
_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class Modifier:
    """What a term's pre-multipliers say about its parameter (one entry per group when from ``c()``)."""

    fixed: tuple[float | None, ...] = ()
    free: tuple[bool, ...] = ()
    label: tuple[str | None, ...] = ()
    start: tuple[float | None, ...] = ()

    def for_group(self, g: int) -> tuple[float | None, bool, str | None, float | None]:
        """Return ``(fixed, forced_free, label, start)`` for group index ``g``."""

        def pick(seq, default):
            if not seq:
                return default
            if len(seq) == 1:
                return seq[0]
            return seq[g]

        return pick(self.fixed, None), pick(self.free, False), pick(self.label, None), pick(self.start, None)

    @property
    def n_values(self) -> int:
        return max(len(self.fixed), len(self.free), len(self.label), len(self.start), 1)


@dataclass(frozen=True)
class Statement:
    """One parsed relation: ``lhs op rhs`` with its modifier and source line."""

    lhs: str
    op: str
    rhs: str
    modifier: Modifier = field(default_factory=Modifier)
    line: int = 0
    #: the element as written, without spaces (``"x1~~0.5*x1"``), for messages
    text: str = field(default="", compare=False)
    #: the EFA block of a factor (``efa("e1")*f1 =~ ...``; lavaan's ``efa`` column), "" otherwise
    efa: str = ""


def _strip_comments(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw
        quote = None
        for i, ch in enumerate(raw):
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "\"'":
                quote = ch
            elif ch in "#!":
                line = raw[:i]
                break
        for part in line.split(";"):
            if part.strip():
                out.append((lineno, part.strip()))
    return out


def _join_continuations(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join lines that end or begin with ``+`` (or end with an operator) into one statement."""
    joined: list[tuple[int, str]] = []
    for lineno, line in lines:
        if joined and (
            joined[-1][1].endswith(("+", "*"))
            or any(joined[-1][1].endswith(op) for op in _OPERATORS)
            or line.startswith(("+", "*"))
        ):
            joined[-1] = (joined[-1][0], joined[-1][1] + " " + line)
        else:
            joined.append((lineno, line))
    return joined


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and quotes."""
    parts: list[str] = []
    cur: list[str] = []
    depth, quote = 0, None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append("".join(cur))
            cur = []
            i += len(sep)
            continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _find_operator(stmt: str, lineno: int) -> tuple[str, int]:
    depth, quote = 0, None
    for i, ch in enumerate(stmt):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            for op in _OPERATORS:
                if stmt.startswith(op, i):
                    return op, i
    raise ModelSyntaxError(f"line {lineno}: no operator (=~, ~~, ~, |) in {brief(stmt, 200)}")


def _parse_value(tok: str, lineno: int, context: str) -> tuple[float | None, bool, str | None, float | None]:
    """One modifier value → (fixed, forced_free, label, start)."""
    tok = tok.strip()
    if tok in ("NA", "na"):
        return None, True, None, None
    if _NUMBER.match(tok):
        return float(tok), False, None, None
    m = re.match(r"^start\((.*)\)$", tok)
    if m:
        val = m.group(1).strip()
        if not _NUMBER.match(val):
            raise ModelSyntaxError(f"line {lineno}: start() needs a number, got {brief(val)} in {brief(context, 200)}")
        return None, False, None, float(val)
    m = re.match(r"^(label|equal)\((.*)\)$", tok)
    if m:
        return None, False, m.group(2).strip().strip("\"'"), None
    if _NAME.match(tok):
        return None, False, tok, None
    raise ModelSyntaxError(f"line {lineno}: cannot read modifier {brief(tok)} in {brief(context, 200)}")


def _parse_modifiers(mods: list[str], lineno: int, context: str) -> Modifier:
    fixed: list = []
    free: list = []
    label: list = []
    start: list = []
    for mod in mods:
        mod = mod.strip()
        m = re.match(r"^c\((.*)\)$", mod)
        values = [v for v in _split_top(m.group(1), ",")] if m else [mod]
        parsed = [_parse_value(v, lineno, context) for v in values]
        f, fr, lab, st = zip(*parsed)
        if any(v is not None for v in f) or any(fr):
            fixed, free = list(f), list(fr)
        if any(v is not None for v in lab):
            label = list(lab)
        if any(v is not None for v in st):
            start = list(st)
    lengths = {len(x) for x in (fixed, free, label, start) if len(x) > 1}
    if len(lengths) > 1:
        raise ModelSyntaxError(f"line {lineno}: c() modifiers of different lengths in {brief(context, 200)}")
    n = max(len(fixed), len(label), 1)
    pick = lambda seq, g: seq[g] if len(seq) > 1 else (seq[0] if seq else None)
    if any(pick(fixed, g) is not None and pick(label, g) is not None for g in range(n)):
        # lavaan 0.6.14 keeps the label and drops the value of "0.5*a*x" (the parameter is then free):
        # refused rather than followed silently either way
        raise ModelSyntaxError(
            f"line {lineno}: a term gives both a fixed value and a label in {brief(context, 200)}; "
            "lavaan keeps only the label (the parameter is then free, the value ignored): "
            "write 0.5*x to fix it, or a*x to label it (equal labels, equal parameters)"
        )
    return Modifier(tuple(fixed), tuple(free), tuple(label), tuple(start))


def parse_model(model: str) -> list[Statement]:
    """Parse lavaan model syntax into statements.

    Parameters
    ----------
    model : str
        lavaan model syntax.

    Returns
    -------
    list of Statement
        One per ``lhs op rhs`` relation, in the order written.

    Raises
    ------
    ModelSyntaxError
        With the line number and the text at fault.

    Examples
    --------
    >>> [s.rhs for s in parse_model("f =~ x1 + 0.7*x2")]
    ['x1', 'x2']
    """
    if not isinstance(model, str) or not model.strip():
        raise ModelSyntaxError("the model syntax is empty")
    statements: list[Statement] = []
    for lineno, stmt in _join_continuations(_strip_comments(model)):
        op, pos = _find_operator(stmt, lineno)
        lhs_text, rhs_text = stmt[:pos].strip(), stmt[pos + len(op) :].strip()
        if op in (":=", "==", "<", ">"):
            raise ModelSyntaxError(
                f"line {lineno}: {op!r} (defined parameters and constraints) is not supported: {brief(stmt, 200)}"
            )
        if op in ("~*~", "<~"):
            raise ModelSyntaxError(f"line {lineno}: operator {op!r} is not supported: {brief(stmt, 200)}")
        lhs_names, lhs_efa = _lhs_terms(lhs_text, op, lineno, stmt)
        for name in lhs_names:
            if not _NAME.match(name):
                raise ModelSyntaxError(
                    f"line {lineno}: {brief(name)} is not a valid variable name in {brief(stmt, 200)}"
                )
        if not rhs_text:
            raise ModelSyntaxError(f"line {lineno}: nothing on the right of {op!r} in {brief(stmt, 200)}")
        terms = []
        for term in _split_top(rhs_text, "+"):
            term = term.strip()
            if not term:
                raise ModelSyntaxError(f"line {lineno}: empty term in {brief(stmt, 200)}")
            pieces = [p.strip() for p in _split_top(term, "*")]
            var, mods = pieces[-1], pieces[:-1]
            this_op = op
            if op == "~" and var == "1":
                this_op, var = "~1", ""
            elif not _NAME.match(var):
                raise ModelSyntaxError(
                    f"line {lineno}: {brief(var)} is not a valid variable name in {brief(stmt, 200)}"
                )
            if op == "|" and not re.match(r"^t\d+$", var):
                raise ModelSyntaxError(
                    f"line {lineno}: thresholds are written t1, t2, ...; got {brief(var)} in {brief(stmt, 200)}"
                )
            terms.append((this_op, var, _parse_modifiers(mods, lineno, stmt), term))
        for lhs in lhs_names:  # lavaan's order: every term of the first name, then of the next
            for this_op, var, modifier, term in terms:
                if op == "=~" and var == lhs:
                    # lavaan: "latent variable `f' can not be measured by itself"
                    raise ModelSyntaxError(f"line {lineno}: latent variable `{lhs}' can not be measured by itself")
                text = f"{lhs}{op}{term}".replace(" ", "")
                statements.append(Statement(lhs, this_op, var, modifier, lineno, text, lhs_efa.get(lhs, "")))
    _refuse_duplicates(statements)
    return statements


def _lhs_terms(lhs_text: str, op: str, lineno: int, stmt: str) -> tuple[list[str], dict[str, str]]:
    """The names on the left of an operator and their ``efa("block")`` modifiers (lavaan's only
    left-hand-side modifier; allowed on ``=~``)."""
    names, blocks = [], {}
    for term in _split_top(lhs_text, "+"):
        pieces = [p.strip() for p in _split_top(term.strip(), "*")]
        name, mods = pieces[-1], pieces[:-1]
        for mod in mods:
            m = re.match(r"^efa\((.*)\)$", mod)
            if m is None or op != "=~":
                raise ModelSyntaxError(
                    f"line {lineno}: {brief(mod)} cannot modify the left-hand side "
                    f'{brief(name)} in {brief(stmt, 200)} (only efa("block") before =~)'
                )
            block = m.group(1).strip().strip("\"'")
            if not block:
                raise ModelSyntaxError(f"line {lineno}: efa() needs a block name in {brief(stmt, 200)}")
            blocks[name] = block
        names.append(name)
    return names, blocks


def _refuse_duplicates(statements: list[Statement]) -> None:
    """lavaan's rule: every model element once (``a ~~ b`` and ``b ~~ a`` are the same element).

    lavaan (``lavParseModelString``) stops with "duplicate model element in: ..."; a
    second statement is never silently dropped or allowed to override the first.
    """
    seen: dict[tuple[str, str, str], Statement] = {}
    for st in statements:
        key = (st.lhs, st.op, st.rhs)
        if st.op == "~~":
            key = (min(st.lhs, st.rhs), "~~", max(st.lhs, st.rhs))
        if key in seen:
            first = seen[key]
            raise ModelSyntaxError(
                f"line {st.line}: duplicate model element in: {st.text or key} "
                f"(specified twice: first at line {first.line} as {first.text or key})"
            )
        seen[key] = st


def model_variables(statements: list[Statement]) -> tuple[list[str], list[str]]:
    """Return ``(observed, latent)`` variable names in order of first appearance."""
    latent: list[str] = []
    for s in statements:
        if s.op == "=~" and s.lhs not in latent:
            latent.append(s.lhs)
    observed: list[str] = []
    for s in statements:
        names = [s.lhs] if s.op in ("|", "~1") else [s.lhs, s.rhs]
        if s.op == "=~":
            names = [s.rhs]
        for name in names:
            if name and name not in latent and name not in observed:
                observed.append(name)
    return observed, latent


def _ov_order(statements: list[Statement], latent: list[str]) -> list[str]:
    """Observed variables in lavaan's order: indicators first (by factor), then the rest."""
    ov: list[str] = []
    for s in statements:
        if s.op == "=~" and s.rhs not in latent and s.rhs not in ov:
            ov.append(s.rhs)
    for s in statements:
        for name in (s.lhs, s.rhs):
            if name and name not in latent and name not in ov and s.op != "|":
                ov.append(name)
        if s.op == "|" and s.lhs not in ov:
            ov.append(s.lhs)
    return ov


class _Names(list):
    """A list of variable names kept in a table's ``attrs``; read-only by convention.

    pandas deep-copies ``attrs`` into every frame and column derived from a table; these
    lists are never modified, so the copy shares them (a 100-item model's table is read
    column by column many times per fit).
    """

    def __deepcopy__(self, memo):
        return self


def lavaanify(
    model: str | list[Statement],
    *,
    ngroups: int = 1,
    ordered: list[str] | tuple[str, ...] = (),
    std_lv: bool = False,
    meanstructure: bool = False,
    auto_fix_first: bool | None = None,
    auto_fix_single: bool = True,
    orthogonal: bool = False,
    group_equal: tuple[str, ...] | list[str] = (),
    parameterization: str = "delta",
    orthogonal_efa: bool = False,
) -> pd.DataFrame:
    """Expand a model into a full parameter table with ``lavaan::cfa()`` defaults.

    Parameters
    ----------
    model : str or list of Statement
        lavaan syntax, or statements from :func:`parse_model`.
    ngroups : int
        Number of groups; every parameter gets one row per group.
    ordered : sequence of str
        Observed variables treated as ordinal (adds thresholds; with the delta
        parameterization their residual variances are fixed, not free, and their
        intercepts are fixed to zero).
    std_lv : bool
        Identify factors by fixing their variances to 1 (loadings all free) instead
        of fixing the first loading to 1 (lavaan's ``std.lv``).
    meanstructure : bool
        Add observed intercepts and latent means (free intercepts, latent means fixed
        to zero in group 1; free in later groups when intercepts are held equal).
    auto_fix_first : bool, optional
        Fix the first loading of each factor to 1; default ``not std_lv``.
    auto_fix_single : bool
        As lavaan's ``auto.fix.single`` (on in ``cfa()``): the residual variance of the
        only indicator of a factor (an indicator of no other factor) is fixed to 0, unless
        the syntax gives it. Without this such a model is not identified.
    orthogonal : bool
        Fix covariances between exogenous factors to zero (lavaan's ``orthogonal``).
    group_equal : sequence of str
        Any of ``"loadings"``, ``"intercepts"``, ``"thresholds"``, ``"residuals"``,
        ``"means"``, ``"lv.variances"``, ``"lv.covariances"``: these parameters get
        the same label in every group, as ``group.equal`` does in lavaan.
    parameterization : {"delta", "theta"}
        For ordered indicators: ``"delta"`` fixes their residual variances (to
        ``1 - communality``, recorded as NaN ``ustart`` and ``free = 0``); only
        ``"delta"`` is supported.
    orthogonal_efa : bool
        Fix the covariances among the factors of EFA blocks to zero (lavaan's
        ``orthogonal.efa``, set by an orthogonal rotation).

    Returns
    -------
    pandas.DataFrame
        Columns ``id, lhs, op, rhs, user, group, free, ustart, label, plabel, start``
        in lavaan's row order (user rows first, then automatic ones).

    Notes
    -----
    Labels follow lavaan (``lavaanify``): rows sharing a label are one parameter; when
    one of them is fixed (a value, or the automatically fixed first loading) all of
    them are fixed to that value (``f =~ a*x1 + a*x2`` fixes both loadings to 1).
    Fixed rows of one label with different values are refused (lavaan warns that only
    the first value is used). A cycle among latent variables (``f1 =~ f2`` with
    ``f2 =~ f1``, or ``f1 ~ f2`` with ``f2 ~ f1``) is refused: lavaan accepts the
    syntax, but its estimation of such a nonrecursive model fails or is not
    identified (``tests/reference/syntax_rules``), and allyscale's estimators fit
    recursive models only.

    EFA blocks (``efa("e1")*f1 + efa("e1")*f2 =~ x1 + ...``; exploratory SEM) are
    identified as lavaan 0.6.14's ``auto.efa`` (``lav_partable_efa_constraints``): the
    factors of a block have unit variances and no marker loading; within a block of m
    factors the covariances are fixed to zero and factor k (k = 2..m) has its first k - 1
    loadings fixed to zero (the echelon pattern); these rows get ``user = 7`` (they are
    freed again, with the rotation's constraints, for the rotated solution's standard
    errors). The table then has an ``efa`` column (the block of each loading, "" elsewhere).

    Raises
    ------
    ModelSyntaxError
        Unparseable syntax, a ``c()`` modifier of the wrong length, a factor with
        no indicators, a duplicate element, a factor measured by itself, a cycle,
        contradictory modifiers, or an EFA block whose factor has too few indicators
        for the echelon pattern.
    """
    statements = parse_model(model) if isinstance(model, str) else list(model)
    if parameterization != "delta":
        raise ModelSyntaxError(f"parameterization {parameterization!r} is not supported; use 'delta'")
    observed, latent = model_variables(statements)
    if not latent:
        raise ModelSyntaxError("the model defines no latent variable (no '=~' statement)")
    ov = _ov_order(statements, latent)
    ordered = [o for o in ordered if o in ov]
    unknown_ordered = [o for o in ordered if o not in ov]
    if unknown_ordered:
        raise ModelSyntaxError(f"ordered variables not in the model: {unknown_ordered}")
    if auto_fix_first is None:
        auto_fix_first = not std_lv
    for s in statements:
        n = s.modifier.n_values
        if n > 1 and n != ngroups:
            raise ModelSyntaxError(
                f"line {s.line}: c() has {n} values but there are {ngroups} group(s): {s.lhs} {s.op} {s.rhs}"
            )
    # indicators and endogenous latents
    indicators: dict[str, list[str]] = {f: [] for f in latent}
    for s in statements:
        if s.op == "=~":
            indicators[s.lhs].append(s.rhs)
    empty = [f for f, ind in indicators.items() if not ind]
    if empty:
        raise ModelSyntaxError(f"factor(s) without indicators: {empty}")
    _refuse_cycles(statements, latent)
    single = _single_indicators(statements) if auto_fix_single else set()
    lv_endog = {s.rhs for s in statements if s.op == "=~" and s.rhs in latent}
    lv_endog |= {s.lhs for s in statements if s.op == "~" and s.lhs in latent}
    lv_exo = [f for f in latent if f not in lv_endog]
    group_equal = tuple(group_equal)
    known_eq = {
        "loadings",
        "intercepts",
        "thresholds",
        "residuals",
        "means",
        "lv.variances",
        "lv.covariances",
        "residual.covariances",
        "regressions",
    }
    bad = [g for g in group_equal if g not in known_eq]
    if bad:
        raise ModelSyntaxError(f"unknown group_equal value(s) {bad}; expected some of {sorted(known_eq)}")

    efa_of = _efa_blocks(statements)
    rows: list[dict] = []

    def add(lhs, op, rhs, g, user, fixed=None, free_forced=False, label=None, start=None, kind=None, efa=""):
        rows.append(
            dict(
                lhs=lhs,
                op=op,
                rhs=rhs,
                user=user,
                group=g + 1,
                fixed=fixed,
                free_forced=free_forced,
                label=label or "",
                start=start,
                kind=kind,
                efa=efa,
            )
        )

    for g in range(ngroups):
        present: set[tuple[str, str, str]] = set()
        first_done: set[str] = set()
        for s in statements:
            fixed, forced, label, start = s.modifier.for_group(g)
            lhs, rhs = s.lhs, s.rhs
            if s.op == "~~" and (rhs, "~~", lhs) in present:
                continue
            key = (lhs, s.op, rhs)
            if key in present:
                raise ModelSyntaxError(f"line {s.line}: parameter {lhs} {s.op} {rhs} is specified twice")
            present.add(key)
            if s.op == "=~" and lhs not in first_done:
                first_done.add(lhs)
                if auto_fix_first and fixed is None and not forced and lhs not in efa_of:
                    fixed = 1.0
            add(lhs, s.op, rhs, g, 1, fixed, forced, label, start, efa=efa_of.get(lhs, "") if s.op == "=~" else "")
        # residual variances of observed variables
        for v in ov:
            if (v, "~~", v) not in present:
                if v in ordered:
                    add(v, "~~", v, g, 0, None, kind="delta_resid")
                else:
                    add(v, "~~", v, g, 0, 0.0 if v in single else None, kind="single" if v in single else None)
                present.add((v, "~~", v))
        # latent variances
        for f in latent:
            if (f, "~~", f) not in present:
                if f in single:
                    add(f, "~~", f, g, 0, 0.0, kind="single")
                else:
                    add(f, "~~", f, g, 0, 1.0 if (std_lv or f in efa_of) else None)
                present.add((f, "~~", f))
        # covariances among exogenous latents
        for i, a in enumerate(lv_exo):
            for b in lv_exo[i + 1 :]:
                if (a, "~~", b) in present or (b, "~~", a) in present:
                    continue
                if a in efa_of and b in efa_of and (orthogonal_efa or efa_of[a] == efa_of[b]):
                    # lavaan: orthogonal.efa fixes them (user 0); within a block they are fixed for
                    # the unrotated (echelon) solution (user 7)
                    add(a, "~~", b, g, 0 if orthogonal_efa else 7, 0.0)
                else:
                    add(a, "~~", b, g, 0, 0.0 if orthogonal else None)
                present.update({(a, "~~", b), (b, "~~", a)})
        # thresholds
        for v in ordered:
            user_th = [r for r in rows if r["group"] == g + 1 and r["lhs"] == v and r["op"] == "|"]
            if not user_th:
                add(v, "|", "t*", g, 0, kind="auto_thresholds")
        # intercepts / means
        if meanstructure or ordered:
            for v in ov:
                if (v, "~1", "") not in present:
                    if v in ordered:
                        add(v, "~1", "", g, 0, 0.0)
                    else:
                        add(v, "~1", "", g, 0)
            for f in latent:
                if (f, "~1", "") not in present:
                    free_mean = g > 0 and ("intercepts" in group_equal or "thresholds" in group_equal)
                    add(f, "~1", "", g, 0, None if free_mean else 0.0)
    _echelon(rows, efa_of, ngroups, group_equal)
    _free_later_efa_groups(rows, efa_of, group_equal)
    table = pd.DataFrame(rows)
    # std_lv: loadings free; latent variances fixed at 1 (only for factors that have loadings)
    if std_lv:
        mask = (
            (table.op == "~~")
            & (table.lhs == table.rhs)
            & table.lhs.isin(latent)
            & (table.user == 0)
            & (table.kind != "single")
        )
        table.loc[mask, "fixed"] = 1.0
        if (
            "loadings" in group_equal and "lv.variances" not in group_equal
        ):  # as lavaan: equal loadings identify the later groups' variances
            table.loc[mask & (table.group > 1), "fixed"] = None
        # endogenous latent residual variances are fixed to 1 only if exogenous; lavaan fixes all lv variances
    _refuse_single_ordinal(table, single, ordered)
    table.attrs["ordered"] = _Names(ordered)
    table.attrs["observed"] = _Names(ov)
    table.attrs["latent"] = _Names(latent)
    table.attrs["ngroups"] = ngroups
    table.attrs["efa"] = dict(efa_of)
    if orthogonal_efa:
        table.attrs["orthogonal_efa"] = True
    return _finalise(table, group_equal, ordered, latent)


def _efa_blocks(statements: list[Statement]) -> dict[str, str]:
    """Factor → its EFA block (``efa("block")*f =~``); a factor belongs to one block only."""
    out: dict[str, str] = {}
    for s in statements:
        if s.op == "=~" and s.efa:
            if out.get(s.lhs, s.efa) != s.efa:
                raise ModelSyntaxError(
                    f"line {s.line}: factor {s.lhs!r} is in two EFA blocks ({out[s.lhs]!r} and {s.efa!r})"
                )
            out[s.lhs] = s.efa
    plain = {s.lhs for s in statements if s.op == "=~" and not s.efa}
    both = sorted(plain & set(out))
    if both:
        raise ModelSyntaxError(
            f"factor(s) {both} have loadings both inside and outside an efa() block; write "
            'efa("block")* before every =~ statement of an EFA factor'
        )
    return out


def _echelon(rows: list[dict], efa_of: dict[str, str], ngroups: int, group_equal) -> None:
    """lavaan's identification of the unrotated EFA blocks: in a block of m factors, factor k
    (k = 2..m, in order of appearance) has its first k - 1 loadings fixed to zero (``user = 7``)."""
    if not efa_of:
        return
    blocks: dict[str, list[str]] = {}
    for f, b in efa_of.items():
        blocks.setdefault(b, []).append(f)
    for g in range(1, ngroups + 1):
        for b, factors in blocks.items():
            if len(factors) < 2:
                continue
            for k, f in enumerate(factors):
                load = [r for r in rows if r["group"] == g and r["op"] == "=~" and r["lhs"] == f]
                if len(load) < k:
                    raise ModelSyntaxError(
                        f"efa factor {f!r} (block {b!r}) has not enough indicators for the echelon pattern ({k} needed)"
                    )
                for r in load[:k]:
                    if r["fixed"] is not None or r["free_forced"] or r["label"]:
                        raise ModelSyntaxError(
                            f"the loading {f} =~ {r['rhs']} of EFA block {b!r} is fixed, "
                            "freed or labelled in the syntax; loadings of an EFA block take "
                            "no modifiers"
                        )
                    r["fixed"], r["user"] = 0.0, 7


def _free_later_efa_groups(rows: list[dict], efa_of: dict[str, str], group_equal) -> None:
    """With loadings equal across groups, lavaan 0.6.14 identifies the later groups' EFA factors
    by the first group's: their variances are free (unless ``lv.variances`` are equal too) and
    their within-block covariances free (``user = 77``, unless ``lv.covariances`` are equal);
    their echelon zeros stay fixed but are marked ``user = 77`` (tied to the first group's by
    the equal loadings, not identifying the block: no rotation conditions of their own)."""
    if not efa_of or "loadings" not in group_equal:
        return
    for r in rows:
        if r["group"] > 1 and r["op"] == "=~" and r["user"] == 7:
            r["user"] = 77
            continue
        if r["group"] == 1 or r["op"] != "~~" or r["lhs"] not in efa_of or r["rhs"] not in efa_of:
            continue
        if efa_of[r["lhs"]] != efa_of[r["rhs"]]:
            continue
        if r["lhs"] == r["rhs"] and r["user"] == 0 and "lv.variances" not in group_equal:
            r["fixed"] = None
        elif r["lhs"] != r["rhs"] and r["user"] == 7 and "lv.covariances" not in group_equal:
            r["fixed"], r["user"] = None, 77


def _single_indicators(statements: list[Statement]) -> set[str]:
    """Indicators that are the only indicator of their factor and indicate no other (lavaan's rule)."""
    loadings = [s for s in statements if s.op == "=~"]
    per_factor: dict[str, list[str]] = {}
    for s in loadings:
        per_factor.setdefault(s.lhs, []).append(s.rhs)
    uses: dict[str, int] = {}
    for s in loadings:
        uses[s.rhs] = uses.get(s.rhs, 0) + 1
    return {ind[0] for f, ind in per_factor.items() if len(ind) == 1 and ind[0] != f and uses[ind[0]] == 1}


def _refuse_single_ordinal(table: pd.DataFrame, single: set[str], ordered: list[str]) -> None:
    """A factor whose only indicator is ordinal is identified only with its loading and variance fixed.

    With the delta parameterization an ordinal indicator has no residual variance to fix
    (``auto.fix.single`` does nothing for it), so a free loading or a free factor variance
    is not identified: lavaan 0.6.14 fits it but cannot compute standard errors (it warns
    that the information matrix could not be inverted). Refused, with the fix.
    """
    for v in sorted(set(ordered) & single):
        load = table[(table.op == "=~") & (table.rhs == v) & (table.group == 1)].iloc[0]
        var = table[(table.op == "~~") & (table.lhs == load["lhs"]) & (table.rhs == load["lhs"]) & (table.group == 1)]
        free = [r for r in (load, *[row for _, row in var.iterrows()]) if r["fixed"] is None or pd.isna(r["fixed"])]
        if free:
            f = load["lhs"]
            raise ModelSyntaxError(
                f"factor {f!r} has one indicator, {v!r}, which is ordinal: with the delta parameterization its "
                f"loading and the factor's variance cannot both be estimated (lavaan cannot compute standard errors "
                f"for it); fix both, e.g. {f} =~ 1*{v} and {f} ~~ 1*{f}, or leave {v} out of the factor model"
            )


def _refuse_cycles(statements: list[Statement], latent: list[str]) -> None:
    """Refuse a cycle among latent variables (``f1 =~ f2``, ``f2 =~ f1``; or regressions)."""
    edges: dict[str, set[str]] = {f: set() for f in latent}
    how: dict[tuple[str, str], Statement] = {}
    for s in statements:
        if s.op == "=~" and s.rhs in edges:
            edges[s.lhs].add(s.rhs)  # the indicator depends on the factor
            how.setdefault((s.lhs, s.rhs), s)
        elif s.op == "~" and s.lhs in edges and s.rhs in edges:
            edges[s.rhs].add(s.lhs)
            how.setdefault((s.rhs, s.lhs), s)
    state: dict[str, int] = {}
    for root in latent:
        if state.get(root):
            continue
        stack = [(root, iter(sorted(edges[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                cycle = path[path.index(child) :] + [child]
                shown = ", ".join(how[(a, b)].text or f"{a}->{b}" for a, b in zip(cycle, cycle[1:]))
                raise ModelSyntaxError(
                    f"the latent variables {' -> '.join(cycle)} form a cycle ({shown}); allyscale fits recursive "
                    "models only (lavaan accepts this syntax but cannot estimate the nonrecursive model: its "
                    "estimation fails or the model is not identified)"
                )
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append((child, iter(sorted(edges[child]))))


def _equal_class(row: dict, latent: list[str]) -> str | None:
    op, lhs, rhs = row["op"], row["lhs"], row["rhs"]
    if op == "=~":
        return "loadings"
    if op == "|":
        return "thresholds"
    if op == "~1":
        return "means" if lhs in latent else "intercepts"
    if op == "~":
        return "regressions"
    if op == "~~":
        if lhs in latent:
            return "lv.variances" if lhs == rhs else "lv.covariances"
        return "residuals" if lhs == rhs else "residual.covariances"
    return None


def _fix_shared_labels(rows: list[dict]) -> None:
    """lavaan's rule for a label shared by fixed and free rows: all are fixed to the fixed value."""
    groups: dict[str, list[dict]] = {}
    for r in rows:
        if r["label"]:
            groups.setdefault(r["label"], []).append(r)
    for label, members in groups.items():
        fixed = [r for r in members if not r["is_free"]]
        if len(members) < 2 or not fixed:
            continue
        values = {float(r["ustart"]) for r in fixed}
        if len(values) > 1:
            shown = ", ".join(f"{r['lhs']} {r['op']} {r['rhs']} = {r['ustart']:g}" for r in fixed)
            raise ModelSyntaxError(
                f"label {label!r}: equality constraints involve fixed parameters with different values ({shown})"
            )
        value = values.pop()
        for r in members:
            r["is_free"] = False
            r["ustart"] = value


def _finalise(table: pd.DataFrame, group_equal, ordered, latent) -> pd.DataFrame:
    """Number the free parameters, apply labels and group equality, as lavaan's ``lavaanify``."""
    rows = table.to_dict("records")
    for i, r in enumerate(rows, start=1):
        r["id"] = i
        r["plabel"] = f".p{i}."
        fixed = r["fixed"]
        r["is_free"] = (fixed is None or (isinstance(fixed, float) and np.isnan(fixed))) and r["kind"] != "delta_resid"
        start = r["start"]
        r["ustart"] = (
            float(fixed)
            if not r["is_free"] and fixed is not None and not pd.isna(fixed)
            else (float(start) if start is not None and not pd.isna(start) else np.nan)
        )
        r["start"] = float(start) if start is not None and not pd.isna(start) else np.nan
        r["kind"] = r["kind"] if isinstance(r["kind"], str) else ""
    ngroups = max(r["group"] for r in rows)
    if group_equal and ngroups > 1:
        first = {(r["lhs"], r["op"], r["rhs"]): r for r in rows if r["group"] == 1}
        for r in rows:
            if r["group"] == 1 or r["label"] or not r["is_free"]:
                continue
            if _equal_class(r, latent) in group_equal:
                ref = first.get((r["lhs"], r["op"], r["rhs"]))
                if ref is not None and ref["is_free"]:
                    r["label"] = ref["label"] or ref["plabel"]
                    ref["label"] = r["label"]
    _fix_shared_labels(rows)
    number = 0
    by_label: dict[str, int] = {}
    for r in rows:
        r["free"] = 0
        if not r["is_free"]:
            continue
        lab = r["label"]
        if lab and lab in by_label:
            r["free"] = by_label[lab]
            continue
        number += 1
        r["free"] = number
        if lab:
            by_label[lab] = number
    for r in rows:
        if r["kind"] == "single":
            r["kind"] = ""
    cols = ["id", "lhs", "op", "rhs", "user", "group", "free", "ustart", "label", "plabel", "start", "kind"]
    if any(r.get("efa") for r in rows):
        cols.append("efa")
    out = pd.DataFrame([{c: r[c] for c in cols} for r in rows], columns=cols)
    out.attrs.update(table.attrs)
    return out


def factor_items(model: str | list[Statement]) -> dict[str, list[str]]:
    """Factor → its observed indicators, in order of first appearance, each once.

    The one "factor → items" of a model: factors measured only by other factors (a second-order
    ``g``) are left out; an item loading on two factors is listed under both.
    """
    stmts = parse_model(model) if isinstance(model, str) else model
    _, latent = model_variables(stmts)
    out: dict[str, list[str]] = {}
    for s in stmts:
        if s.op == "=~" and s.rhs not in latent:
            items = out.setdefault(s.lhs, [])
            if s.rhs not in items:
                items.append(s.rhs)
    return out
