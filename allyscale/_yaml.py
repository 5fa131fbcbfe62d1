"""Reading YAML (pools and study specs) safely and within bounds.

One reader for every YAML file allyscale takes: PyYAML's safe loader (no tag ever
runs code), duplicate keys refused, and before anything is built the file's size, its
nesting depth and the number of values it holds once its aliases are expanded are
checked against :mod:`allyscale.limits` — a "billion laughs" alias bomb or a
100,000-deep list fails at once with a message that names the limit.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from allyscale import limits
from allyscale._files import brief

__all__ = ["load_yaml"]


_MAX_NUMBER_CHARS = 100
_NUMERIC = re.compile(r"^[-+]?[0-9_.,:eExXoObB+-]+$")


class _Refused(Exception):
    """A YAML document that is refused (message without the file name)."""


_BASE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when present (about 10x faster)


class _StrictSafeLoader(_BASE):
    """SafeLoader that rejects duplicate mapping keys."""


def _construct_mapping(loader: _StrictSafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hash(key)
        except TypeError:
            raise _Refused(f"a mapping key at line {key_node.start_mark.line + 1} is not text or a number") from None
        if key in seen:
            raise _Refused(
                f"duplicate key {brief(key)} at line {key_node.start_mark.line + 1} (first at line {seen[key]})"
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictSafeLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _check_bounds(text: str) -> None:
    """Depth and alias-expanded size from the event stream (the parser is not recursive)."""
    sizes: dict[str, int] = {}  # anchor -> values it expands to
    stack: list[list] = [[0, None]]  # [count, anchor] per open collection
    try:
        _walk(text, sizes, stack)
    except yaml.YAMLError as exc:
        if "nesting depth" not in str(exc):  # libyaml stops at 1,000 levels on its own
            raise
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise _Refused(
            f"nesting deeper than {limits.MAX_YAML_DEPTH} levels{line} (allyscale.limits.MAX_YAML_DEPTH)"
        ) from None


def _walk(text: str, sizes: dict, stack: list) -> None:
    for event in yaml.parse(text, Loader=_BASE):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            stack.append([1, event.anchor])
            if len(stack) - 1 > limits.MAX_YAML_DEPTH:
                raise _Refused(
                    f"nesting deeper than {limits.MAX_YAML_DEPTH} levels at line "
                    f"{event.start_mark.line + 1} (allyscale.limits.MAX_YAML_DEPTH)"
                )
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            count, anchor = stack.pop()
            if anchor is not None:
                sizes[anchor] = count
            stack[-1][0] += count
        elif isinstance(event, yaml.ScalarEvent):
            if event.implicit[0] and len(event.value) > _MAX_NUMBER_CHARS and _NUMERIC.match(event.value):
                raise _Refused(
                    f"a number of {len(event.value):,} characters at line {event.start_mark.line + 1} "
                    f"(numbers are at most {_MAX_NUMBER_CHARS} characters)"
                )
            if event.anchor is not None:
                sizes[event.anchor] = 1
            stack[-1][0] += 1
        elif isinstance(event, yaml.AliasEvent):
            if any(a == event.anchor for _, a in stack):
                raise _Refused(
                    f"a recursive alias *{event.anchor} at line {event.start_mark.line + 1} (a value "
                    "that contains itself)"
                )
            stack[-1][0] += sizes.get(event.anchor, 1)
        else:
            continue
        total = sum(c for c, _ in stack)
        if total > limits.MAX_YAML_NODES:
            raise _Refused(
                f"more than {limits.MAX_YAML_NODES:,} values once its aliases are expanded (at line "
                f"{event.start_mark.line + 1}; allyscale.limits.MAX_YAML_NODES)"
            )


def load_yaml(text: str, source: str, error: type[Exception]) -> Any:
    """Parse YAML ``text`` from ``source``; every problem raises ``error`` naming ``source``.

    Raises
    ------
    error
        Too large, too deep, too many values after alias expansion, a duplicate key, an
        unsafe or unknown tag, or invalid YAML; the message names the file, the line and
        the limit.
    """
    if len(text) > limits.MAX_YAML_BYTES:
        raise error(
            f"{source}: {len(text):,} characters, above the limit of {limits.MAX_YAML_BYTES:,} for a YAML "
            "file (allyscale.limits.MAX_YAML_BYTES)"
        )
    try:
        _check_bounds(text)
        return yaml.load(text, Loader=_StrictSafeLoader)
    except _Refused as exc:
        raise error(f"{source}: {exc}") from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise error(
            f"{source}: unsafe or unsupported YAML tag{where} ({exc.problem}); "
            "only plain mappings, lists, strings and numbers are allowed"
        ) from None
    except yaml.YAMLError as exc:
        raise error(f"{source}: invalid YAML: {exc}") from None
    except ValueError as exc:  # e.g. an integer PyYAML cannot convert
        raise error(f"{source}: a value cannot be read ({brief(str(exc), 120)})") from None
    except RecursionError:
        raise error(f"{source}: nested too deeply to read (allyscale.limits.MAX_YAML_DEPTH)") from None
