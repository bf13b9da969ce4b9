"""The import layering of DESIGN.md, checked on the source with `ast`.

``cli -> search -> config -> families/<f> -> {families/base, workload, tech,
objective, errors}``: a module imports only modules of lower layers or of
its own package; nothing outside ``families/<name>/`` reaches inside it but
the registry (``codesign/families/__init__.py``); Optuna is imported only in
``search/``; and there is no import cycle (function-level imports included).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "codesign"

#: layer of each top-level unit (a module or a package), lowest first
LAYERS = {
    "errors": 0, "report": 0, "yamlio": 1, "procs": 0, "objective": 0,
    "tech": 1, "workload": 2,
    "families.base": 3, "families.<f>": 4, "families": 5,
    "config": 6, "search": 7, "cli": 8, "__init__": 9,
}


def _modules() -> dict[str, Path]:
    out = {}
    for p in ROOT.rglob("*.py"):
        rel = p.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """codesign modules imported anywhere in the file (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg[:len(pkg) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
                if not mod.startswith("codesign"):
                    if mod.split(".")[0] == "optuna":
                        found.add("<optuna>")
                    continue
                mod = mod[len("codesign."):] if mod != "codesign" else "__init__"
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES]
            found.update(subs or [mod])       # `from . import sub` imports the submodule, not a cycle
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "optuna":
                    found.add("<optuna>")
                elif a.name.startswith("codesign."):
                    found.add(a.name[len("codesign."):])
    found.discard(name)
    return found


def unit(name: str) -> str:
    """The layering unit of a module."""
    parts = name.split(".")
    if parts[0] == "families":
        if len(parts) == 1:
            return "families"
        return "families.base" if parts[1] == "base" else "families.<f>"
    return parts[0] if parts[0] in LAYERS else name


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_every_module_has_a_layer():
    assert all(unit(n) in LAYERS for n in MODULES), sorted(n for n in MODULES if unit(n) not in LAYERS)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_upward_import(name):
    for dep in GRAPH[name]:
        if dep == "<optuna>":
            assert name.startswith("search"), f"{name} imports optuna (only search/ may)"
            continue
        same = dep.split(".")[0] == name.split(".")[0] and unit(dep) == unit(name)
        if unit(name) == "families.<f>" and unit(dep) == "families.<f>":
            same = dep.split(".")[1] == name.split(".")[1]
            assert same, f"{name} reaches into another family: {dep}"
        assert same or LAYERS[unit(dep)] < LAYERS[unit(name)], f"{name} imports upward: {dep}"


def test_only_the_registry_reaches_into_a_family():
    for name, deps in GRAPH.items():
        if unit(name) in ("families.<f>", "families"):
            continue
        inside = [d for d in deps if unit(d) == "families.<f>"]
        assert not inside, f"{name} imports from inside a family: {inside}"


def test_no_import_cycle():
    state: dict[str, int] = {}

    def visit(n, stack):
        state[n] = 1
        for d in GRAPH.get(n, ()):
            if d not in GRAPH:
                continue
            if state.get(d) == 1:
                cyc = stack[stack.index(d):] + [d] if d in stack else [n, d]
                pytest.fail(f"import cycle: {' -> '.join(cyc)}")
            if not state.get(d):
                visit(d, stack + [d])
        state[n] = 2

    for n in sorted(GRAPH):
        if not state.get(n):
            visit(n, [n])


def test_no_module_over_400_lines():
    long = {n: len(p.read_text().splitlines()) for n, p in MODULES.items()}
    assert not {n: c for n, c in long.items() if c > 400}
