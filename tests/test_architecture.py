"""The layering rules of docs/architecture.md, checked on the import statements (AST).

Every import counts, including those under ``if TYPE_CHECKING:`` and inside functions: a type-only
edge is still a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "dashboard"

UI_LIBS = ("panel", "param", "holoviews", "bokeh", "hvplot")
ADAPTERS = ("dashboard.kucoin", "dashboard.simulator", "dashboard.recording", "dashboard.config")

# (package or module under dashboard/, prefixes it must never import)
RULES = [
    ("aio.py", ("dashboard.",)),
    ("domain", ("dashboard.kucoin", "dashboard.simulator", "dashboard.hub", "dashboard.ui",
                "dashboard.config", "dashboard.recording", "aiohttp", *UI_LIBS)),
    ("kucoin/protocol", ("dashboard.kucoin.client", "dashboard.kucoin.common",
                         "dashboard.simulator", "dashboard.hub", "dashboard.ui",
                         "dashboard.recording", "aiohttp", "asyncio", *UI_LIBS)),
    ("kucoin/common", ("dashboard.kucoin.client", "dashboard.kucoin.futures",
                       "dashboard.simulator", "dashboard.hub", "dashboard.ui",
                       "dashboard.recording", "dashboard.config", *UI_LIBS)),
    ("kucoin", ("dashboard.simulator", "dashboard.hub", "dashboard.ui", "dashboard.recording",
                "dashboard.config", *UI_LIBS)),
    ("simulator", ("dashboard.kucoin.client", "dashboard.kucoin.common", "dashboard.hub",
                   "dashboard.ui", "dashboard.recording", "dashboard.config", *UI_LIBS)),
    ("recording", ("dashboard.simulator", "dashboard.hub", "dashboard.ui", "dashboard.config",
                   *UI_LIBS)),
    ("hub.py", (*ADAPTERS, "dashboard.ui", *UI_LIBS)),
    ("market_view.py", (*ADAPTERS, "dashboard.hub", "dashboard.ui", *UI_LIBS)),
    ("ui", ADAPTERS),
    # the research cores; api.py and views.py have their own rules below (OWN_RULE)
    ("research", (*ADAPTERS, "dashboard.runtime", "dashboard.research.api",
                  "dashboard.research.views", "dashboard.hub", "dashboard.ui", *UI_LIBS)),
    # the notebook facade builds a feed (runtime, config, kucoin, simulator, recording) and draws
    # with holoviews, but is no part of the served app
    ("research/api.py", ("dashboard.hub", "dashboard.ui", "panel", "param", "bokeh")),
    ("research/views.py", (*ADAPTERS, "dashboard.runtime", "dashboard.research.api",
                           "dashboard.hub", "dashboard.ui", "panel", "param", "bokeh")),
    # the venue builder shared by app.py and research/api.py
    ("runtime.py", ("dashboard.hub", "dashboard.ui", "dashboard.research", *UI_LIBS)),
]
# files a package's rule leaves to their own, wider rule
OWN_RULE = {"research": ("research/api.py", "research/views.py")}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    rel = Path(*name.split("."))
    return (ROOT / rel).with_suffix(".py").exists() or (ROOT / rel / "__init__.py").exists()


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` is ``a.b`` when ``b`` is a module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            subs = [f"{module}.{a.name}" for a in node.names if _is_module(f"{module}.{a.name}")]
            names.update(subs)
            if len(subs) < len(node.names):
                names.add(module)
    return names


def _files(target: str) -> list[Path]:
    root = PKG / target
    if root.suffix == ".py":
        return [root] if root.exists() else []
    own = {PKG / rel for rel in OWN_RULE.get(target, ())}
    return sorted(f for f in root.rglob("*.py") if f not in own) if root.exists() else []


def _graph() -> dict[str, set[str]]:
    files = [*PKG.rglob("*.py"), ROOT / "app.py"]
    modules = {_module_name(f): f for f in files}
    return {name: {i for i in _imports(f) if i in modules and i != name}
            for name, f in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@pytest.mark.parametrize(("target", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_layer_imports(target, forbidden):
    """Each layer imports only what is beneath it."""
    files = _files(target)
    assert files, f"no module at dashboard/{target}: the rule checks nothing"
    bad = [(str(f.relative_to(PKG)), name) for f in files for name in _imports(f)
           if any(name == p.rstrip(".") or name.startswith(p.rstrip(".") + ".") for p in forbidden)]
    assert bad == []


def test_the_facade_is_imported_by_no_module_of_the_app():
    """Only app.py and research/api.py build a venue; nothing in dashboard/ imports the notebook
    facade (the package exports it lazily, without an import statement)."""
    graph = _graph()
    builders = {m for m, deps in graph.items() if "dashboard.runtime" in deps}
    facade_users = {m for m, deps in graph.items() if "dashboard.research.api" in deps}
    assert builders == {"app", "dashboard.research.api"}
    assert facade_users == set()


def test_nothing_imports_a_main_module():
    """A ``__main__`` module is a command line, never a library."""
    bad = [(m, i) for m, deps in _graph().items() for i in deps if i.endswith(".__main__")]
    assert bad == []


def test_no_import_cycles():
    """The import graph of dashboard/ and app.py has no cycle, TYPE_CHECKING edges included."""
    assert _cycles(_graph()) == []


def test_cycle_finder_finds_a_cycle():
    """The cycle finder itself works (so an empty result above means something)."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [{"a", "b", "c"}]


def test_rules_see_real_imports():
    """The checker finds imports, ``from package import module`` and relative ones included."""
    names = _imports(PKG / "simulator" / "server.py")
    assert any(n.startswith("dashboard.kucoin.protocol") for n in names)
    assert any(n.startswith("dashboard.simulator.") for n in names)
    assert "dashboard.kucoin.client.parse" in _imports(PKG / "kucoin" / "client" / "rest.py")
