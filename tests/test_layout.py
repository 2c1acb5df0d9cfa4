"""The shape of ``src/``: no import cycles, no module over 600 lines, one package per source.

Imports are read with :mod:`ast` from every module, at module level and inside functions and
``TYPE_CHECKING`` blocks alike: a cycle that only a lazy import hides is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 600


def _modules() -> dict[str, tuple[Path, bool]]:
    out: dict[str, tuple[Path, bool]] = {}
    for path in sorted((SRC / "nameplate").rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if "spack-nameplate" in parts:  # loaded by Spack itself, never imported by nameplate
            continue
        is_pkg = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_pkg else parts)
        out[name] = (path, is_pkg)
    return out


def _resolve(module: str, is_pkg: bool, level: int, name: str | None) -> str:
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def import_graph() -> dict[str, set[str]]:
    """Module → the project modules it imports (a ``from pkg import mod`` counts as ``mod``)."""
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, (path, is_pkg) in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = (
                    _resolve(module, is_pkg, node.level, node.module)
                    if node.level
                    else node.module or ""
                )
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else base)
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != module:
                    graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _cycle_path(graph: dict[str, set[str]], component: list[str]) -> str:
    """One concrete cycle through a component, for the failure message."""
    members = set(component)
    start = component[0]
    path = [start]
    seen = {start}
    node = start
    while True:
        nxt = sorted(t for t in graph[node] if t in members)
        back = [t for t in nxt if t == start]
        if back and len(path) > 1:
            return " -> ".join([*path, start])
        step = next((t for t in nxt if t not in seen), None)
        if step is None:
            return " -> ".join([*path, nxt[0] if nxt else "?"])
        path.append(step)
        seen.add(step)
        node = step


def test_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert _cycle_path(graph, ["a", "b", "c"]) == "a -> b -> c -> a"


def test_no_import_cycles() -> None:
    graph = import_graph()
    assert len(graph) > 50
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(_cycle_path(graph, c) for c in found)


def test_no_module_over_600_lines() -> None:
    too_big = {
        str(p.relative_to(SRC)): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_big, f"modules over {MAX_LINES} lines (split along their seams): {too_big}"


@pytest.mark.parametrize("kind", ["spack", "easybuild", "image", "binary"])
def test_each_source_exposes_the_protocol_and_nothing_else(kind: str) -> None:
    from nameplate import sources

    module = sources.load_source(kind)
    assert set(module.__all__) >= {"KIND", "CAPABILITIES", "detect", "extract_all"}
    assert kind == module.KIND
    if module.__name__.endswith(kind) and hasattr(module, "__path__"):  # a package
        assert sorted(module.__all__) == ["CAPABILITIES", "KIND", "detect", "extract_all"]


def test_sources_are_packages_without_family_prefixes() -> None:
    root = SRC / "nameplate" / "sources"
    flat = sorted(p.name for p in root.glob("*.py"))
    assert flat == ["__init__.py", "_common.py", "binary.py"]
    for pkg in ("spack", "easybuild", "image"):
        names = [p.stem for p in (root / pkg).glob("*.py")]
        prefixed = [n for n in names if n.startswith(("_spack", "_eb", "_ec", "_image", f"{pkg}_"))]
        assert not prefixed, f"{pkg}: {prefixed}"
