"""The package's shape (docs/architecture in docs/reference.md, The Python API): no module
over 500 lines, no function over 80, no import cycle between modules (imports inside
functions count), and the layers import downwards only: theory imports neither simulate nor
compare, simulate does not import compare."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("theory", "simulate", "compare")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out["twostep." + ".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The package modules ``name`` imports (``from . import x`` counts as importing x)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                base += "." + node.module if node.module else ""
            else:
                base = node.module or ""
            subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in MODULES]
            found.update(subs if len(subs) == len(node.names) else [base, *subs])
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_the_modules_are_found():
    assert len(MODULES) > 60 and "twostep.compare.science.claims.guard" in MODULES


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_and_function_sizes(name):
    path = MODULES[name]
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} is over 500 lines"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.relative_to(ROOT)}: functions over 80 lines: {long}"


def test_no_import_cycle():
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"


def test_the_cycle_finder_finds_a_planted_cycle():
    # the check above could pass by finding nothing: plant config -> predict (predict imports
    # config) and see it fail
    planted = {**GRAPH, "twostep.theory.config": GRAPH["twostep.theory.config"]
               | {"twostep.theory.predict"}}
    globals()["GRAPH"], saved = planted, GRAPH
    try:
        with pytest.raises(AssertionError, match="import cycles"):
            test_no_import_cycle()
    finally:
        globals()["GRAPH"] = saved


@pytest.mark.parametrize("lower,upper", [("theory", "simulate"), ("theory", "compare"),
                                         ("simulate", "compare")])
def test_layers_import_downwards(lower, upper):
    wrong = sorted(f"{m} -> {d}" for m, deps in GRAPH.items()
                   if m.startswith(f"twostep.{lower}") for d in deps
                   if d.startswith(f"twostep.{upper}"))
    assert not wrong, wrong
