"""The import graph follows the layering in ARCHITECTURE.md: no module imports a layer above its own (or a module
listed after it in its own layer), and there is no import cycle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "allyscale"
#: export methods of results that may call the outputs layer when called (ARCHITECTURE.md, "One exception")
EXPORTS = {"to_docx", "save", "plots"}


def _layers() -> dict[str, tuple[int, int]]:
    """Top-level module name → (layer rank, position within the layer)."""
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "ARCHITECTURE.md has no ```layers block"
    rank: dict[str, tuple[int, int]] = {}
    for i, line in enumerate(l for l in block.group(1).splitlines() if l.strip()):
        _, names = line.split(":", 1)
        for j, name in enumerate(names.split()):
            assert name not in rank, f"{name} listed twice in ARCHITECTURE.md"
            rank[name] = (i, j)
    return rank


def _unit(module: str) -> str:
    """The layering unit of a dotted module name: ``allyscale.report.docx`` → ``report``; the package → ``allyscale``."""
    parts = module.split(".")
    return "allyscale" if len(parts) == 1 else parts[1]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[str, str | None, bool]]:
    """(imported module, enclosing function or None, under TYPE_CHECKING) for every allyscale import in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, str | None, bool]] = []

    def visit(node: ast.AST, func: str | None, typing_only: bool) -> None:
        for child in ast.iter_child_nodes(node):
            f = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else func
            t = typing_only or (isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test))
            if isinstance(child, ast.ImportFrom) and child.module and child.module.startswith("allyscale"):
                if child.module == "allyscale":  # from allyscale import limits → the submodule when it is one
                    for alias in child.names:
                        sub = PACKAGE / f"{alias.name}.py"
                        out.append(
                            (
                                f"allyscale.{alias.name}"
                                if sub.exists() or (PACKAGE / alias.name).is_dir()
                                else "allyscale",
                                f,
                                t,
                            )
                        )
                else:
                    out.append((child.module, f, t))
            elif isinstance(child, ast.Import):
                out.extend((a.name, f, t) for a in child.names if a.name.startswith("allyscale"))
            visit(child, f, t)

    visit(tree, None, False)
    return out


def _graph():
    return {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_module_has_a_layer():
    rank = _layers()
    units = {_unit(m) for m in _graph()}
    assert sorted(units - set(rank)) == [], "modules missing from ARCHITECTURE.md's layers"
    assert sorted(set(rank) - units) == [], "ARCHITECTURE.md lists modules that do not exist"


def test_no_module_imports_a_layer_above_its_own():
    rank = _layers()
    bad = []
    for module, imports in _graph().items():
        here = rank[_unit(module)]
        for target, func, typing_only in imports:
            there = rank[_unit(target)]
            if _unit(target) == _unit(module) or typing_only:
                continue
            if there > here and not (func in EXPORTS and _unit(target) == "report"):
                bad.append(f"{module} imports {target}" + (f" (in {func})" if func else ""))
    assert bad == [], "\n".join(bad)


def test_no_import_cycle():
    graph = {
        m: {
            t
            for t, func, typing_only in imps
            if not typing_only and t != m and not (func in EXPORTS and _unit(t) == "report")
        }
        for m, imps in _graph().items()
    }
    # resolve imports of a package to its __init__ module name
    modules = set(graph)
    graph = {m: {t if t in modules else t.rsplit(".", 1)[0] for t in ts} & modules for m, ts in graph.items()}
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t) :] + [t])
            elif t not in state:
                dfs(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_core_is_numpy_and_scipy_only():
    import sys

    allowed = {"numpy", "scipy", *sys.stdlib_module_names}
    bad = []
    for path in (PACKAGE / "_core").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [
                    f"{node.module}.{a.name}" if node.module == "allyscale" else node.module or "" for a in node.names
                ]
                if isinstance(node, ast.ImportFrom) and node.level == 0
                else []
            )
            for name in names:
                top = name.split(".")[0]
                if top not in allowed and not name.startswith(
                    ("allyscale._core", "allyscale.errors", "allyscale._caches")
                ):
                    bad.append(f"{path.name} imports {name}")
    assert bad == [], "\n".join(bad)
