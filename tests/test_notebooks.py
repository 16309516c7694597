"""Every notebook executes top to bottom (nbclient), no output carries a secret, and the saved
notebook keeps readable outputs: every cell that ends in an expression shows it, and every
HoloViews/Panel output holds data (a "Run all" then save must not come out empty)."""

from __future__ import annotations

import ast
import json
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat is a test dependency")
nbclient = pytest.importorskip("nbclient", reason="nbclient is a test dependency")

from dashboard.simulator.server import _demo_credentials  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# a column with at least one value in a Bokeh document's ColumnDataSource
_FILLED_COLUMN = re.compile(r'"entries":\[\["\w+",(\{"type":"ndarray"|\[[^\]])')


def _kernel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The kernel imports this checkout's ``dashboard`` (not an installed copy), collects for
    20 s instead of minutes, and runs the notebooks' stop cells."""
    path = os.environ.get("PYTHONPATH")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + (os.pathsep + path if path else ""))
    monkeypatch.setenv("DASHBOARD_NOTEBOOK_SECONDS", "20")
    monkeypatch.setenv("DASHBOARD_NOTEBOOK_CLEANUP", "1")


def _shows_its_value(source: str) -> bool:
    """Does the cell end in an expression Jupyter displays (not a print, not an awaited close)?"""
    tree = compile(source, "<cell>", "exec", ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr) or isinstance(last.value, ast.Await):
        return False
    call = last.value
    return not (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "print")


def _unreadable(saved: dict) -> list[str]:
    """The cells of a saved notebook whose outputs a reader would find missing or empty."""
    problems = []
    for n, cell in enumerate(saved["cells"]):
        if cell["cell_type"] != "code":
            continue
        outputs = cell.get("outputs", [])
        results = [o for o in outputs if o["output_type"] == "execute_result"]
        shown = [o for o in outputs if o["output_type"] in ("execute_result", "display_data")]
        if _shows_its_value("".join(cell["source"])) and not any(
                any("".join(v) if isinstance(v, list) else v for v in o["data"].values())
                for o in shown):
            problems.append(f"cell {n}: no value shown")
        for o in results:
            html = "".join(o["data"].get("text/html", ""))
            if "ColumnDataSource" in html and not _FILLED_COLUMN.search(html):
                problems.append(f"cell {n}: a plot without data")
    return problems


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    """The notebook runs without an error cell, never prints the simulator's demo secret, and
    once saved keeps its outputs readable."""
    _kernel_env(monkeypatch)
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    text = nbformat.writes(nb)
    key, secret, _ = _demo_credentials(1)
    assert secret not in text and key not in text
    errors = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors == []
    saved = tmp_path / path.name
    nbformat.write(nb, saved)
    assert _unreadable(json.loads(saved.read_text())) == []


def test_there_is_a_notebook():
    """The quickstart and the research notebook are where the README says they are."""
    names = {p.name for p in NOTEBOOKS}
    assert {"01_quickstart.ipynb", "02_order_book_research.ipynb"} <= names


def test_the_readability_check_finds_an_empty_output():
    """The saved-notebook check itself fails a cell that shows nothing and a plot with no data."""
    empty_plot = '{"name":"ColumnDataSource","data":{"type":"map","entries":[["x",[]]]}}'
    saved = {"cells": [
        {"cell_type": "code", "source": ["df"], "outputs": []},
        {"cell_type": "code", "source": ["fig"], "outputs": [
            {"output_type": "execute_result", "data": {"text/html": empty_plot}}]},
        {"cell_type": "code", "source": ["print(1)"], "outputs": []},
    ]}
    assert _unreadable(saved) == ["cell 0: no value shown", "cell 1: a plot without data"]
