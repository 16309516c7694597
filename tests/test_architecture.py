"""The layering rules of shared/ARCHITECTURE.md, checked on the import statements (AST)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "dashboard"

UI_LIBS = ("panel", "param", "holoviews", "bokeh", "hvplot")

# (package, prefixes it must never import)
RULES = [
    ("domain", ("dashboard.kucoin", "dashboard.simulator", "dashboard.hub", "dashboard.ui", "dashboard.config",
                "aiohttp", *UI_LIBS)),
    ("kucoin/protocol", ("dashboard.kucoin.client", "dashboard.simulator", "dashboard.hub", "dashboard.ui",
                         "aiohttp", "asyncio", *UI_LIBS)),
    ("kucoin", ("dashboard.simulator", "dashboard.hub", "dashboard.ui", *UI_LIBS)),
    ("simulator", ("dashboard.kucoin.client", "dashboard.hub", "dashboard.ui", *UI_LIBS)),
    ("recording", ("dashboard.simulator", "dashboard.hub", "dashboard.ui", "dashboard.config", *UI_LIBS)),
]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    package = ".".join(path.relative_to(PKG.parent).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.add(".".join([*base, node.module] if node.module else base))
            elif node.module:
                names.add(node.module)
    return names


@pytest.mark.parametrize(("package", "forbidden"), RULES, ids=[r[0] for r in RULES])
def test_layer_imports(package, forbidden):
    """Each layer imports only what is beneath it."""
    root = PKG / package
    files = list(root.rglob("*.py")) if root.exists() else []
    bad = [(str(f.relative_to(PKG)), name) for f in files for name in _imports(f)
           if any(name == p or name.startswith(p + ".") for p in forbidden)]
    assert bad == []


def test_rules_see_real_imports():
    """The checker itself finds imports (so an empty result above means something)."""
    names = _imports(PKG / "simulator" / "server.py")
    assert "dashboard.kucoin.protocol" in {n.rsplit(".", 1)[0] for n in names} or any(
        n.startswith("dashboard.kucoin.protocol") for n in names)
    assert any(n.startswith("dashboard.simulator") for n in names)
